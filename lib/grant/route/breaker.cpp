#include <grant/route/breaker.hpp>

#include <algorithm>

#include <time.h>

namespace grant::route {

std::string_view breaker_state_name(BreakerState state) {
  switch (state) {
  case BreakerState::open:
    return "open";
  case BreakerState::half_open:
    return "half_open";
  case BreakerState::closed:
    break;
  }
  return "closed";
}

CircuitBreaker::CircuitBreaker(BreakerOptions options, Clock clock) : m_options(options), m_clock(std::move(clock)) {
  m_options.failure_threshold = std::max(1, m_options.failure_threshold);
}

std::chrono::steady_clock::time_point CircuitBreaker::now() const {
  if (m_clock) {
    return m_clock();
  }
  // The coarse monotonic clock: steady_clock's epoch (CLOCK_MONOTONIC) at a few milliseconds'
  // resolution, plenty for a cooldown, and much cheaper to read on a VM. The balancer reads it on
  // every pick while a breaker is open.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return std::chrono::steady_clock::time_point(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec)));
}

bool CircuitBreaker::allow() {
  if (closed()) {
    return true;
  }
  const auto at = now().time_since_epoch().count();
  if (at < m_retry_at.load(std::memory_order_acquire)) {
    m_rejected.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  std::lock_guard lock(m_mutex);
  switch (m_state.load(std::memory_order_relaxed)) {
  case BreakerState::closed:
    return true;
  case BreakerState::open:
  case BreakerState::half_open: // a trial already out; a new one only once it expired
    if (at >= m_retry_at.load(std::memory_order_relaxed)) {
      m_state.store(BreakerState::half_open, std::memory_order_release);
      m_retry_at.store(at + std::chrono::duration_cast<std::chrono::steady_clock::duration>(m_options.cooldown).count(),
                       std::memory_order_release);
      return true;
    }
    break;
  }
  m_rejected.fetch_add(1, std::memory_order_relaxed);
  return false;
}

bool CircuitBreaker::available() const {
  if (closed()) {
    return true;
  }
  return closed() || now().time_since_epoch().count() >= m_retry_at.load(std::memory_order_acquire);
}

void CircuitBreaker::record_success() {
  if (closed() && m_failures.load(std::memory_order_relaxed) == 0) {
    return; // the common case, on every successful call: no lock
  }
  std::lock_guard lock(m_mutex);
  m_failures.store(0, std::memory_order_relaxed);
  m_state.store(BreakerState::closed, std::memory_order_release);
}

void CircuitBreaker::record_failure() {
  const auto at = now();
  std::lock_guard lock(m_mutex);
  const int failures = m_failures.load(std::memory_order_relaxed) + 1;
  m_failures.store(failures, std::memory_order_relaxed);
  switch (m_state.load(std::memory_order_relaxed)) {
  case BreakerState::closed:
    if (failures >= m_options.failure_threshold) {
      open(at);
    }
    break;
  case BreakerState::half_open:
    open(at);
    break;
  case BreakerState::open:
    break; // a call let through before it opened came back failed: the cooldown stands
  }
}

void CircuitBreaker::open(std::chrono::steady_clock::time_point at) {
  m_retry_at.store((at + m_options.cooldown).time_since_epoch().count(), std::memory_order_release);
  m_state.store(BreakerState::open, std::memory_order_release);
  ++m_opened;
}

int CircuitBreaker::consecutive_failures() const {
  return m_failures.load(std::memory_order_relaxed);
}

std::uint64_t CircuitBreaker::opened() const {
  std::lock_guard lock(m_mutex);
  return m_opened;
}

std::uint64_t CircuitBreaker::rejected() const {
  return m_rejected.load(std::memory_order_relaxed);
}

} // namespace grant::route
