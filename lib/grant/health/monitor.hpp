#pragma once

#include <grant/health/report.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

namespace grant::health {

/// Whether the monitor lets an endpoint take traffic. Every endpoint starts `unknown`, which
/// takes none.
enum class Availability { unknown, up, down };

/// "unknown", "up", "down".
std::string_view availability_name(Availability availability);

/// How many consecutive checks it takes to change an endpoint's availability
/// (`databases.X.health.fall` / `rise`).
struct Hysteresis {
  int fall = 3; ///< failed checks before an up endpoint goes down
  int rise = 2; ///< passed checks before a down endpoint comes back
};

/// A check passes when the endpoint answered (it may still be degraded).
bool passed(const EndpointHealth& check);

/// One endpoint's history as the monitor keeps it.
struct Tracked {
  Target target;
  Hysteresis hysteresis;
  Availability availability = Availability::unknown;
  std::chrono::system_clock::time_point since; ///< when availability last changed (start: the monitor's)
  std::optional<EndpointHealth> latest;        ///< the newest check; empty before the first
  std::optional<EndpointHealth> last_passed;   ///< the newest check that passed
  std::optional<std::chrono::system_clock::time_point> checked_at; ///< of `latest`
  int failures = 0;                                                ///< consecutive failed checks up to `latest`
  int successes = 0;                                               ///< consecutive passed checks up to `latest`
  /// Replicas: the lag of the newest check that could measure it, and how many checks since
  /// could not (the writer or the replica unreachable). Routing holds on to a measured lag for
  /// fewer than `fall` such checks, as it holds on to availability; reports show each check's own.
  std::optional<double> measured_lag_ms;
  int lag_unmeasured = 0;
};

/// Folds one check into an endpoint's history: unknown goes up on its first passed check and
/// down on its first failed one; up goes down after `fall` failures in a row; down comes back
/// after `rise` passes in a row. True when availability changed.
bool observe(Tracked& tracked, EndpointHealth check, std::chrono::system_clock::time_point at);

/// What a caller may send to the endpoint now, from the monitor's view (never a round trip).
/// Writes: up, and the server said it is not in recovery (SQLite: up and writable).
bool takes_writes(const Tracked& tracked);
/// Reads on a replica: up, in recovery, and its lag known and at most `max_lag_ms`
/// (default: the database's `health.max_lag_ms`). Unknown lag never qualifies: a lag measured
/// once stays known for fewer than `fall` checks that could not measure it, then it is unknown.
bool takes_reads(const Tracked& tracked, std::optional<int> max_lag_ms = std::nullopt);
/// Whether a replica takes reads and, when not, the first reason: the one decision behind
/// takes_reads, `grant serve`'s /replica answers and the balancer's fallback reasons.
enum class ReadVerdict : std::uint8_t {
  takes,
  unknown,         ///< not checked yet, or up without a passed check to go by
  down,            ///< the monitor took it out
  not_in_recovery, ///< it answers but is not a replica (a writer, or promoted)
  lag_unknown,     ///< its lag could not be measured
  lagging,         ///< its lag is past the bound
};
ReadVerdict read_verdict(const Tracked& tracked, std::optional<int> max_lag_ms = std::nullopt);
/// The lag in milliseconds routing uses (see takes_reads); empty when unknown (or not a replica).
std::optional<double> lag_ms(const Tracked& tracked);

/// The status shown for an endpoint: its newest check's, except that `unknown` (not checked yet)
/// and `down` (taken out) stand on their own, and an endpoint still up after a failed check is
/// degraded. Names: "healthy", "degraded", "down", "unknown".
std::string_view shown_status(const Tracked& tracked);

/// An endpoint's availability changed.
struct Transition {
  std::chrono::system_clock::time_point at;
  registry::Endpoint endpoint;
  Availability from = Availability::unknown;
  Availability to = Availability::unknown;
  std::vector<std::string> reasons; ///< of the check that made it change
};

/// The monitor's view at one moment. Immutable once published: readers share it freely.
struct MonitorState {
  std::uint64_t rounds = 0; ///< checks completed (0: nothing checked yet)
  std::chrono::system_clock::time_point started_at;
  std::optional<std::chrono::system_clock::time_point> checked_at; ///< start of the newest round
  std::vector<Tracked> endpoints;                                  ///< in report order

  /// Overall: "healthy" when every endpoint shows healthy, else the worst of down > unknown > degraded.
  std::string_view status() const;
  /// The endpoint by name; empty `replica` for a writer.
  const Tracked* find(std::string_view database, std::string_view shard, std::string_view replica) const;
};

struct MonitorOptions {
  std::chrono::milliseconds interval{1000}; ///< from the start of one round to the next
  int jobs = 32;                            ///< probes at once
  /// Called on the monitor's thread after each round, with the state just published.
  std::function<void(const MonitorState&)> on_round;
  /// Called on the monitor's thread for every availability change, before on_round.
  std::function<void(const Transition&)> on_transition;
};

/// Checks a set of endpoints in the background and keeps, thread-safely, what each can take.
/// The load balancer, `grant serve` and applications read state(); nothing they do reaches a
/// database. Each round is bounded by the endpoints' timeouts (see probe_within), and probes
/// each PostgreSQL endpoint through a session kept from the round before (see ProbeSession).
class Monitor {
public:
  /// Hysteresis per endpoint comes from its database's `health` settings.
  Monitor(const std::vector<const config::Database*>& databases, const CheckOptions& check,
          MonitorOptions options = {});
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  /// Starts the background rounds (the first at once). Idempotent.
  void start();
  /// Stops them; a round under way finishes first. Idempotent; the destructor calls it.
  void stop();
  /// Runs one round on the caller's thread (not while started).
  void check_now();

  /// The newest published state; never null.
  std::shared_ptr<const MonitorState> state() const;
  /// How many states have been published after the initial one: a lock-free way for a reader that
  /// caches what it derived from state() (the load balancer, on every pick) to see it is stale.
  std::uint64_t published() const noexcept { return m_published.load(std::memory_order_acquire); }

private:
  void run();
  void round();

  std::vector<Target> m_targets;
  std::vector<std::shared_ptr<ProbeSession>> m_sessions; ///< one kept probe session per target
  MonitorOptions m_options;
  mutable std::mutex m_state_mutex;
  std::shared_ptr<const MonitorState> m_state;
  std::atomic<std::uint64_t> m_published{0};
  std::mutex m_run_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  std::thread m_thread;
};

} // namespace grant::health
