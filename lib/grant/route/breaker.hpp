#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>

namespace grant::route {

enum class BreakerState { closed, open, half_open };

/// "closed", "open", "half_open".
std::string_view breaker_state_name(BreakerState state);

struct BreakerOptions {
  int failure_threshold = 5;                ///< consecutive failures that open the breaker
  std::chrono::milliseconds cooldown{5000}; ///< open this long before one trial may go through
};

/// One endpoint's circuit breaker. Closed: everything goes through; `failure_threshold`
/// consecutive failures (connect or query, as the caller reports them) open it. Open: allow()
/// fails fast until the cooldown has passed, then lets exactly one trial through (half-open); the
/// trial's success closes the breaker, its failure opens it for another cooldown. A trial whose
/// outcome is never reported expires after one cooldown, so a lost caller cannot wedge it.
/// Thread-safe; closed() is one atomic load, for the balancer's hot path.
class CircuitBreaker {
public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  /// `clock` defaults to steady_clock; unit tests pass their own to step through the cooldown
  /// without sleeping (sleep-based timing flakes on a loaded CI machine).
  explicit CircuitBreaker(BreakerOptions options = {}, Clock clock = {});
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  /// True when a call may go to the endpoint now. Consumes the one trial when half-opening.
  bool allow();
  /// Whether allow() could say yes now without consuming anything: closed, or a trial is due.
  bool available() const;
  bool closed() const noexcept { return m_state.load(std::memory_order_acquire) == BreakerState::closed; }

  void record_success();
  void record_failure();

  BreakerState state() const noexcept { return m_state.load(std::memory_order_acquire); }
  int consecutive_failures() const;
  /// How many times it opened (from closed or after a failed trial).
  std::uint64_t opened() const;
  /// allow() calls refused while open.
  std::uint64_t rejected() const;
  const BreakerOptions& options() const { return m_options; }

private:
  std::chrono::steady_clock::time_point now() const;
  void open(std::chrono::steady_clock::time_point at); // under m_mutex

  BreakerOptions m_options;
  Clock m_clock;
  std::atomic<BreakerState> m_state{BreakerState::closed};
  mutable std::mutex m_mutex;
  std::atomic<int> m_failures{0}; ///< written under m_mutex; read without it by record_success
  /// Open: when the trial may go; half-open: when an unreported trial expires (steady_clock ticks,
  /// atomic so that a refusal while open takes no lock).
  std::atomic<std::chrono::steady_clock::rep> m_retry_at{0};
  std::uint64_t m_opened = 0;
  std::atomic<std::uint64_t> m_rejected{0};
};

} // namespace grant::route
