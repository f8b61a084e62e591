#pragma once

#include <grant/registry/registry.hpp>
#include <grant/route/breaker.hpp>
#include <grant/route/health_source.hpp>
#include <grant/route/strategy.hpp>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace grant::route {

/// Why a replica does not take reads, and why a pick went to the writer (`none`: it did not).
enum class Fallback : std::uint8_t {
  none,
  no_replicas,     ///< the writer has no replicas configured
  unknown,         ///< not checked by the monitor yet (or not monitored)
  down,            ///< the monitor took it out
  not_in_recovery, ///< up, but the server is not a replica (promoted?)
  lagging,         ///< its lag is past the threshold
  lag_unknown,     ///< its lag could not be measured
  breaker_open,    ///< its circuit breaker is open
  mixed,           ///< the replicas were skipped for different reasons
};
inline constexpr std::size_t k_fallback_reasons = 9;

/// "none", "no_replicas", "unknown", "down", "not_in_recovery", "lagging", "lag_unknown",
/// "breaker_open", "mixed".
std::string_view fallback_name(Fallback reason);

/// Why `tracked` (empty: not in the monitor's state) takes no reads, from health alone
/// (health::takes_reads); `none` when it does.
Fallback skip_reason(const health::Tracked* tracked, std::optional<int> max_lag_ms = std::nullopt);

/// The balancer started or stopped sending reads to the writer, or changed its reason for it.
struct FallbackEvent {
  const std::string& database;
  const std::string& shard;
  Fallback reason = Fallback::none; ///< none: reads go to replicas again
  Fallback previous = Fallback::none;
};

struct BalancerOptions {
  std::optional<std::string> strategy; ///< default: the database's `balancer.strategy`
  std::optional<int> max_lag_ms;       ///< default: the database's `health.max_lag_ms`
  /// For the writer's and every replica's breaker; default: the database's `balancer.failure_threshold`
  /// and `balancer.cooldown_ms`.
  std::optional<BreakerOptions> breaker;
  /// Called when the reason for reading from the writer changes (not on every pick), on the
  /// picking thread, possibly from several threads at once: a log line, a metric.
  std::function<void(const FallbackEvent&)> on_fallback;
};

/// What one pick chose. Pointers into the balancer and its registry, valid as long as both.
struct Pick {
  registry::Pool* pool = nullptr;
  const registry::Endpoint* endpoint = nullptr;
  CircuitBreaker* breaker = nullptr;
  int replica = -1;                   ///< index in replicas(), -1: the writer
  Fallback fallback = Fallback::none; ///< why the writer serves the read
  bool is_writer() const { return replica < 0; }
};

/// Spreads the reads of one database (or one shard) over its replicas with the configured
/// strategy. A replica qualifies when the health source says it takes reads (up, in recovery, lag
/// known and within the threshold; health::takes_reads) and its circuit breaker is not open; an
/// open breaker whose cooldown has passed gets its one trial pick. When none qualifies the writer
/// serves, counted per reason. Without a health source only the breakers decide. Thread-safe;
/// pick() takes no lock and allocates nothing (the health verdict is cached per published state).
class Balancer {
public:
  /// Throws ConfigError for an unknown database, shard or strategy, or more than k_max_replicas.
  Balancer(registry::Registry& registry, const std::string& database, const std::string& shard = {},
           std::shared_ptr<HealthSource> health = {}, BalancerOptions options = {});
  ~Balancer();
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  Pick pick();
  /// pick() and a connection from its pool; the outcome of the connect counts on the picked
  /// endpoint's breaker (a full pool's checkout timeout does not). Throws DbError when the connect fails, or at once
  /// when the writer's breaker is open and the writer was the only choice. Report query failures on the pick's breaker
  /// (record_failure) yourself: only the caller knows which errors are the server's.
  registry::PooledConnection checkout(Pick* picked = nullptr);

  /// Picks that went to the writer for `reason` since construction.
  std::uint64_t fallbacks(Fallback reason) const;
  std::uint64_t fallbacks_total() const;
  /// The reason of the newest pick (none: a replica).
  Fallback current_fallback() const { return m_last.load(std::memory_order_relaxed); }

  const std::string& database() const { return m_database; }
  const std::string& shard() const { return m_shard; }
  std::string_view strategy() const { return m_strategy->name(); }
  std::size_t replica_count() const { return m_replicas.size(); }
  const registry::Endpoint& replica(std::size_t i) const { return m_replicas[i]->endpoint; }
  CircuitBreaker& breaker(std::size_t i) { return m_replicas[i]->breaker; }
  const registry::Endpoint& writer() const { return m_writer->endpoint; }
  CircuitBreaker& writer_breaker() { return m_writer->breaker; }

private:
  struct Member {
    Member(registry::Endpoint e, registry::Pool* p, BreakerOptions options)
        : endpoint(std::move(e)), pool(p), breaker(options) {}
    registry::Endpoint endpoint;
    registry::Pool* pool;
    CircuitBreaker breaker;
  };

  /// Low 32 bits: the replicas health lets through; bits 32..39: the Fallback when none.
  std::uint64_t verdict();
  void refresh(std::uint64_t version);
  Pick replica_pick(std::size_t i);
  Pick writer_pick(Fallback reason);
  void note(Fallback reason);

  std::string m_database;
  std::string m_shard;
  std::shared_ptr<HealthSource> m_health;
  BalancerOptions m_options;
  std::unique_ptr<Member> m_writer;
  std::vector<std::unique_ptr<Member>> m_replicas;
  std::unique_ptr<Strategy> m_strategy;
  ReplicaSet m_all = 0;

  std::atomic<std::uint64_t> m_verdict{0};
  std::atomic<std::uint64_t> m_seen_version{~std::uint64_t{0}};
  std::mutex m_refresh_mutex;
  std::atomic<Fallback> m_last{Fallback::none};
  std::array<std::atomic<std::uint64_t>, k_fallback_reasons> m_fallbacks{};
};

} // namespace grant::route
