// Router::across_shards: application writes to several shards, all or none, over the one
// two-phase-commit coordinator (twophase/), set up as `migrate --atomic` sets it up.
#include <grant/route/router.hpp>

#include <grant/db/engine.hpp>
#include <grant/twophase/setup.hpp>
#include <grant/twophase/transaction.hpp>
#include <grant/util/parallel_for.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <deque>

namespace grant::route {

void Router::ensure_coordinator(db::Connection& connection, const registry::Endpoint& endpoint) {
  {
    std::lock_guard lock(m_mutex);
    if (m_coordinators_ready.count(endpoint.label()) != 0) {
      return;
    }
  }
  twophase::DecisionLog(connection).ensure();
  std::lock_guard lock(m_mutex);
  m_coordinators_ready.insert(endpoint.label());
}

void Router::across_shards(const std::string& database, const std::vector<std::string>& shards,
                           const std::function<void(const std::string& shard, db::Connection& connection)>& work,
                           const CrossShardOptions& options) {
  const auto& db = m_registry.database(database);
  if (!db.is_sharded()) {
    throw ConfigError("across_shards needs a sharded database; " + util::in_quotes(database) + " has one writer",
                      db.key_path, "use with_connection(database, Role::writing, {}, ...) and a db::Transaction");
  }
  if (preventing_writes()) {
    throw WriteRefused(database, "across_shards",
                       "a cross-shard transaction on " +
                           (shards.empty() ? std::string("every shard") : util::join(shards, ", ")));
  }
  const auto writers = registry::writers_of(db, shards); // unknown names: ConfigError
  for (const auto& writer : writers) {
    if (const auto& traits = db::traits_for(writer.url); !traits.prepared_transactions) {
      throw ConfigError("across_shards needs PostgreSQL (prepared transactions); " + writer.label() + " is " +
                            std::string(traits.display_name),
                        writer.label());
    }
  }
  std::size_t coordinator = 0;
  if (!options.coordinator.empty()) {
    const auto found = std::find_if(writers.begin(), writers.end(),
                                    [&](const registry::Endpoint& e) { return e.shard == options.coordinator; });
    if (found == writers.end()) {
      throw ConfigError("the coordinator " + util::in_quotes(options.coordinator) +
                            " of a cross-shard transaction on " + util::in_quotes(database) +
                            " is not one of its shards",
                        db.key_path, "name one of the shards the transaction writes to");
    }
    coordinator = static_cast<std::size_t>(found - writers.begin());
  }
  std::vector<registry::PooledConnection> connections(writers.size());
  util::parallel_for(writers.size(), options.jobs > 0 ? options.jobs : static_cast<int>(writers.size()),
                     [&](std::size_t i) {
                       connections[i] = m_registry.checkout(writers[i]);
                       bool ready = false;
                       {
                         std::lock_guard lock(m_mutex);
                         ready = m_prepared_checked.count(writers[i].label()) != 0;
                       }
                       if (!ready) {
                         twophase::require_prepared_transactions(*connections[i], writers[i].label(), "across_shards",
                                                                 "write to one shard at a time");
                       }
                     });
  // The coordinator's name rides in every transaction id, so `grant recover` finds the decision.
  ensure_coordinator(*connections[coordinator], writers[coordinator]);
  {
    std::lock_guard lock(m_mutex);
    for (const auto& writer : writers) {
      m_prepared_checked.insert(writer.label());
    }
  }
  twophase::DecisionLog log(*connections[coordinator]);
  std::vector<twophase::Participant> participants;
  for (std::size_t i = 0; i < writers.size(); ++i) {
    participants.push_back({writers[i].shard, &*connections[i]});
  }
  std::deque<registry::PooledConnection> spares;
  twophase::Options tx_options;
  tx_options.jobs = options.jobs;
  tx_options.reconnect = twophase::reconnect_through(m_registry, writers, coordinator, spares);
  std::exception_ptr failure;
  bool in_doubt = false;
  try {
    twophase::DistributedTransaction transaction(database, options.label, {writers[coordinator].shard, &log},
                                                 std::move(participants), std::move(tx_options));
    transaction.execute([&](std::size_t i, db::Connection& connection) { work(writers[i].shard, connection); });
  } catch (const twophase::InDoubtError&) {
    failure = std::current_exception();
    in_doubt = true;
  } catch (...) {
    failure = std::current_exception();
  }
  if (!failure || in_doubt) {
    // Committed (or committed on some): reads of those shards must see it.
    for (std::size_t i = 0; i < writers.size(); ++i) {
      auto& connection = connections[i];
      noted(balancer(database, writers[i].shard),
            !in_doubt && connection->is_usable() && connection->transaction_depth() == 0 ? &*connection : nullptr);
    }
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
}

} // namespace grant::route
