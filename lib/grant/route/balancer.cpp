#include <grant/route/balancer.hpp>

#include <grant/db/error.hpp>
#include <grant/error.hpp>

#include <algorithm>

namespace grant::route {

namespace {

constexpr std::uint64_t k_mask = 0xffffffffULL;

std::uint64_t packed(ReplicaSet set, Fallback reason) {
  return std::uint64_t{set} | (static_cast<std::uint64_t>(reason) << 32);
}

} // namespace

std::string_view fallback_name(Fallback reason) {
  switch (reason) {
  case Fallback::none:
    return "none";
  case Fallback::no_replicas:
    return "no_replicas";
  case Fallback::unknown:
    return "unknown";
  case Fallback::down:
    return "down";
  case Fallback::not_in_recovery:
    return "not_in_recovery";
  case Fallback::lagging:
    return "lagging";
  case Fallback::lag_unknown:
    return "lag_unknown";
  case Fallback::breaker_open:
    return "breaker_open";
  case Fallback::mixed:
    return "mixed";
  }
  return "unknown";
}

Fallback skip_reason(const health::Tracked* tracked, std::optional<int> max_lag_ms) {
  if (tracked == nullptr) {
    return Fallback::unknown;
  }
  switch (health::read_verdict(*tracked, max_lag_ms)) {
  case health::ReadVerdict::takes:
    return Fallback::none;
  case health::ReadVerdict::unknown:
    return Fallback::unknown;
  case health::ReadVerdict::down:
    return Fallback::down;
  case health::ReadVerdict::not_in_recovery:
    return Fallback::not_in_recovery;
  case health::ReadVerdict::lag_unknown:
    return Fallback::lag_unknown;
  case health::ReadVerdict::lagging:
    break;
  }
  return Fallback::lagging;
}

Balancer::Balancer(registry::Registry& registry, const std::string& database, const std::string& shard,
                   std::shared_ptr<HealthSource> health, BalancerOptions options)
    : m_database(database), m_shard(shard), m_health(std::move(health)), m_options(std::move(options)) {
  const auto& db = registry.database(database);
  if (!m_options.breaker) {
    m_options.breaker =
        BreakerOptions{db.balancer.failure_threshold, std::chrono::milliseconds(db.balancer.cooldown_ms)};
  }
  const auto writers =
      registry::writers_of(db, shard.empty() ? std::vector<std::string>{} : std::vector<std::string>{shard});
  m_writer = std::make_unique<Member>(writers.front(), &registry.pool(writers.front()), *m_options.breaker);
  Replicas replicas;
  for (auto& endpoint : registry::endpoints_of(db)) {
    if (endpoint.role != registry::Role::reading || endpoint.shard != shard) {
      continue;
    }
    if (m_replicas.size() == k_max_replicas) {
      throw ConfigError("database " + m_writer->endpoint.label() + " has more than " + std::to_string(k_max_replicas) +
                            " replicas, the most a balancer spreads reads over",
                        db.key_path);
    }
    auto* pool = &registry.pool(endpoint);
    replicas.weights.push_back(static_cast<std::uint32_t>(std::max(1, endpoint.weight)));
    replicas.pools.push_back(pool);
    m_replicas.push_back(std::make_unique<Member>(std::move(endpoint), pool, *m_options.breaker));
    m_all |= ReplicaSet{1} << (m_replicas.size() - 1);
  }
  m_strategy = make_strategy(m_options.strategy.value_or(db.balancer.strategy), std::move(replicas),
                             db.key_path + ".balancer.strategy");
  m_verdict.store(packed(m_all, Fallback::none));
  if (m_health) {
    // The first verdict now, so that a pick that loses the race to refresh it (and uses the
    // previous one) never sees a verdict older than the state at construction.
    refresh(m_health->version());
  }
}

Balancer::~Balancer() = default;

std::uint64_t Balancer::verdict() {
  if (!m_health) {
    return m_all;
  }
  const auto version = m_health->version();
  if (version != m_seen_version.load(std::memory_order_acquire)) {
    refresh(version);
  }
  return m_verdict.load(std::memory_order_acquire);
}

void Balancer::refresh(std::uint64_t version) {
  // One thread recomputes per published state; the others keep using the previous verdict.
  std::unique_lock lock(m_refresh_mutex, std::try_to_lock);
  if (!lock.owns_lock() || m_seen_version.load(std::memory_order_relaxed) == version) {
    return;
  }
  const auto state = m_health->state();
  ReplicaSet usable = 0;
  std::optional<Fallback> common;
  for (std::size_t i = 0; i < m_replicas.size(); ++i) {
    const auto& endpoint = m_replicas[i]->endpoint;
    const auto reason =
        skip_reason(state->find(endpoint.database, endpoint.shard, endpoint.replica), m_options.max_lag_ms);
    if (reason == Fallback::none) {
      usable |= ReplicaSet{1} << i;
    } else {
      common = !common || *common == reason ? reason : Fallback::mixed;
    }
  }
  m_verdict.store(packed(usable, usable != 0 ? Fallback::none : common.value_or(Fallback::no_replicas)),
                  std::memory_order_release);
  m_seen_version.store(version, std::memory_order_release);
}

Pick Balancer::pick() {
  if (m_replicas.empty()) {
    return writer_pick(Fallback::no_replicas);
  }
  const auto bits = verdict();
  const auto healthy = static_cast<ReplicaSet>(bits & k_mask);
  if (healthy == 0) {
    return writer_pick(static_cast<Fallback>(bits >> 32));
  }
  ReplicaSet usable = 0;
  for (ReplicaSet rest = healthy; rest != 0; rest &= rest - 1) {
    const auto i = static_cast<std::size_t>(std::countr_zero(rest));
    if (m_replicas[i]->breaker.closed()) {
      usable |= ReplicaSet{1} << i;
    }
  }
  if (usable != healthy) {
    // A breaker past its cooldown gets its one trial now, ahead of the strategy.
    for (ReplicaSet rest = healthy & ~usable; rest != 0; rest &= rest - 1) {
      const auto i = static_cast<std::size_t>(std::countr_zero(rest));
      auto& breaker = m_replicas[i]->breaker;
      if (breaker.available() && breaker.allow()) {
        return replica_pick(i);
      }
    }
    if (usable == 0) {
      return writer_pick(Fallback::breaker_open);
    }
  }
  return replica_pick(m_strategy->choose(usable));
}

Pick Balancer::replica_pick(std::size_t i) {
  note(Fallback::none);
  auto& member = *m_replicas[i];
  return {member.pool, &member.endpoint, &member.breaker, static_cast<int>(i), Fallback::none};
}

Pick Balancer::writer_pick(Fallback reason) {
  m_fallbacks[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  note(reason);
  return {m_writer->pool, &m_writer->endpoint, &m_writer->breaker, -1, reason};
}

void Balancer::note(Fallback reason) {
  if (m_last.load(std::memory_order_relaxed) == reason) {
    return;
  }
  const auto previous = m_last.exchange(reason, std::memory_order_relaxed);
  if (previous != reason && m_options.on_fallback) {
    m_options.on_fallback(FallbackEvent{m_database, m_shard, reason, previous});
  }
}

registry::PooledConnection Balancer::checkout(Pick* picked) {
  auto choice = pick();
  if (picked != nullptr) {
    *picked = choice;
  }
  // A replica's breaker was consulted by pick(); the writer, the last resort, is asked here.
  if (choice.is_writer() && !choice.breaker->allow()) {
    throw db::DbError("circuit breaker of " + choice.endpoint->label() + " is open after " +
                          std::to_string(choice.breaker->consecutive_failures()) + " consecutive failures",
                      {choice.endpoint->label(), {}, {}, 0, false, 0},
                      "the next attempt goes through once the cooldown of " +
                          std::to_string(choice.breaker->options().cooldown.count()) + " ms has passed");
  }
  try {
    auto connection = choice.pool->checkout();
    choice.breaker->record_success();
    return connection;
  } catch (const db::DbError& error) {
    // A pool that is merely full (checkout timeout) says nothing about the endpoint.
    if (error.connection_lost()) {
      choice.breaker->record_failure();
    }
    throw;
  }
}

std::uint64_t Balancer::fallbacks(Fallback reason) const {
  return m_fallbacks[static_cast<std::size_t>(reason)].load(std::memory_order_relaxed);
}

std::uint64_t Balancer::fallbacks_total() const {
  std::uint64_t total = 0;
  for (const auto& counter : m_fallbacks) {
    total += counter.load(std::memory_order_relaxed);
  }
  return total;
}

} // namespace grant::route
