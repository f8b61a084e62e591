#include <grant/route/router.hpp>

#include <grant/db/error.hpp>
#include <grant/lookup/table_loader.hpp>
#include <grant/util/strings.hpp>

namespace grant::route {

namespace {

thread_local int t_preventing_writes = 0;

std::string key_of(const std::string& database, const std::string& shard) {
  return shard.empty() ? database : database + "/" + shard;
}

bool lost(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const db::DbError& error) {
    return error.connection_lost();
  } catch (...) {
    return false;
  }
}

} // namespace

Router::Router(registry::Registry& registry, RouterOptions options)
    : m_registry(registry), m_options(std::move(options)) {
  if (!m_options.lookup_loader) {
    m_options.lookup_loader = lookup::table_loader(registry);
  }
}

Router::~Router() = default;

Balancer& Router::balancer(const std::string& database, const std::string& shard) {
  const auto key = key_of(database, shard);
  std::lock_guard lock(m_mutex);
  auto& slot = m_balancers[key];
  if (!slot) {
    const auto& db = m_registry.database(database); // ConfigError with a did-you-mean
    if (db.is_sharded() && shard.empty()) {
      m_balancers.erase(key);
      throw ConfigError("database " + util::in_quotes(database) + " is sharded: name the shard, or route by key",
                        db.key_path, "use with_key, or with_connection with one of its shards");
    }
    if (!db.is_sharded() && !shard.empty()) {
      m_balancers.erase(key);
      throw ConfigError("database " + util::in_quotes(database) + " is not sharded, so it has no shard " +
                            util::in_quotes(shard),
                        db.key_path, "pass an empty shard name");
    }
    try {
      slot = std::make_unique<Balancer>(m_registry, database, shard, m_options.health, m_options.balancer);
    } catch (...) {
      m_balancers.erase(key);
      throw;
    }
  }
  return *slot;
}

const std::string& Router::shard_for(const std::string& database, const shard::Key& key) {
  shard::Resolver* resolver = nullptr;
  {
    std::lock_guard lock(m_mutex);
    auto& slot = m_resolvers[database];
    if (!slot) {
      try {
        slot = shard::make_resolver(m_registry.database(database), m_options.lookup_loader);
      } catch (...) {
        m_resolvers.erase(database);
        throw;
      }
    }
    resolver = slot.get();
  }
  return resolver->resolve_name(key); // thread-safe; a lookup table loads once, here
}

config::ReadYourWrites Router::mode(const std::string& database) const {
  return m_options.read_your_writes.value_or(m_registry.database(database).routing.read_your_writes);
}

std::chrono::milliseconds Router::window(const std::string& database) const {
  return m_options.read_your_writes_window.value_or(
      std::chrono::milliseconds(m_registry.database(database).routing.read_your_writes_ms));
}

void Router::while_preventing_writes(const std::function<void()>& fn) {
  ++t_preventing_writes;
  try {
    fn();
  } catch (...) {
    --t_preventing_writes;
    throw;
  }
  --t_preventing_writes;
}

bool Router::preventing_writes() {
  return t_preventing_writes > 0;
}

void Router::run(const std::string& database, registry::Role role, const std::string& shard,
                 const std::function<void(Session&)>& fn) {
  auto& chosen = balancer(database, shard);
  if (role == registry::Role::writing) {
    run_writing(chosen, fn);
  } else {
    run_reading(chosen, fn);
  }
}

void Router::run_writing(Balancer& balancer, const std::function<void(Session&)>& fn) {
  auto connection = m_registry.writer(balancer.database(), balancer.shard()).checkout();
  const bool prevent = preventing_writes();
  std::exception_ptr failure;
  try {
    Session session(*connection, balancer.writer(), registry::Role::writing, prevent);
    fn(session);
    session.finish();
  } catch (...) {
    failure = std::current_exception();
  }
  if (!prevent) {
    // A failed scope may still have written (autocommitted statements before the failure).
    noted(balancer, connection->is_usable() && connection->transaction_depth() == 0 ? &*connection : nullptr);
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
}

void Router::run_reading(Balancer& balancer, const std::function<void(Session&)>& fn) {
  const auto key = key_of(balancer.database(), balancer.shard());
  const ReplicaSet all =
      balancer.replica_count() == 0 ? 0 : static_cast<ReplicaSet>((std::uint64_t{1} << balancer.replica_count()) - 1);
  const auto token = m_writes.current(key, RecentWrites::Clock::now(), all);
  registry::PooledConnection connection;
  Pick pick;
  bool kept = false;
  if (token && token->until && RecentWrites::Clock::now() < *token->until) {
    kept = true;
  } else {
    connection = balancer.checkout(&pick);
    if (token && token->position && !pick.is_writer()) {
      try {
        kept = !replayed(balancer, static_cast<std::size_t>(pick.replica), *token->position, *connection);
      } catch (const db::DbError& error) {
        if (error.connection_lost()) {
          pick.breaker->record_failure();
        }
        kept = true; // the writer has the write for certain
      }
    }
  }
  if (kept) {
    connection = {};
    connection = m_registry.writer(balancer.database(), balancer.shard()).checkout();
    m_kept_on_writer.fetch_add(1, std::memory_order_relaxed);
  }
  const auto& endpoint = kept || pick.is_writer() ? balancer.writer() : *pick.endpoint;
  std::exception_ptr failure;
  try {
    Session session(*connection, endpoint, registry::Role::reading, true, kept ? Fallback::none : pick.fallback, kept);
    fn(session);
    session.finish();
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    if (!kept && pick.breaker != nullptr && lost(failure)) {
      pick.breaker->record_failure();
    }
    std::rethrow_exception(failure);
  }
}

bool Router::replayed(Balancer& balancer, std::size_t index, const Position& wanted, db::Connection& connection) {
  const auto key = key_of(balancer.database(), balancer.shard());
  const ReplicaSet all = static_cast<ReplicaSet>((std::uint64_t{1} << balancer.replica_count()) - 1);
  const auto& replica = balancer.replica(index);
  if (m_options.health) {
    // The monitor's last look is a lower bound of the replica's position: free, and often enough.
    const auto state = m_options.health->state();
    const auto* tracked = state->find(replica.database, replica.shard, replica.replica);
    if (tracked != nullptr && tracked->last_passed) {
      const auto& probe = tracked->last_passed->probe;
      const auto seen = probe.wal_lsn         ? std::optional<Position>(Position{{0, *probe.wal_lsn}})
                        : probe.gtid_position ? parse_position(*probe.gtid_position)
                                              : std::nullopt;
      if (seen && reached(wanted, *seen)) {
        m_writes.caught_up(key, *seen, index, all);
        return true;
      }
    }
  }
  m_replay_checks.fetch_add(1, std::memory_order_relaxed);
  const auto state = connection.engine().replay_state(connection, std::nullopt);
  const auto position = state ? parse_position(state->replayed) : std::nullopt;
  if (!position || !reached(wanted, *position)) {
    return false;
  }
  m_writes.caught_up(key, *position, index, all);
  return true;
}

void Router::noted(Balancer& balancer, db::Connection* writer) {
  const auto mode = this->mode(balancer.database());
  if (mode == config::ReadYourWrites::off) {
    return;
  }
  m_writes_noted.fetch_add(1, std::memory_order_relaxed);
  std::optional<Position> position;
  // Inside an open transaction the position would be before its commit: the window stands in.
  if (mode == config::ReadYourWrites::lsn && writer != nullptr && writer->engine().traits().replication &&
      writer->transaction_depth() == 0) {
    try {
      // One query on the writer's session. PostgreSQL: the insert position, not
      // pg_current_wal_lsn() (the write position, which lags behind a commit under
      // synchronous_commit = off), is past the commit. MariaDB: @@gtid_binlog_pos (MySQL 8 has
      // no such variable: the query fails and the window applies).
      if (const auto text = writer->engine().write_position(*writer)) {
        position = parse_position(*text);
      }
    } catch (const db::DbError&) {
    }
  }
  std::optional<RecentWrites::Clock::time_point> until;
  if (!position) {
    until = RecentWrites::Clock::now() + window(balancer.database());
  }
  m_writes.note(key_of(balancer.database(), balancer.shard()), std::move(position), until);
}

void Router::note_write(const std::string& database, const std::string& shard, db::Connection* writer) {
  noted(balancer(database, shard), writer);
}

RouterStats Router::stats() const {
  return {m_writes_noted.load(std::memory_order_relaxed), m_kept_on_writer.load(std::memory_order_relaxed),
          m_replay_checks.load(std::memory_order_relaxed)};
}

} // namespace grant::route
