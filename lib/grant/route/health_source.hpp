#pragma once

#include <grant/health/monitor.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace grant::route {

/// Where a balancer learns what the health monitor says. version() runs on every pick and must be
/// cheap (one atomic load); the balancer calls state() only when the version moved.
class HealthSource {
public:
  virtual ~HealthSource() = default;
  /// Changes whenever state() has something newer.
  virtual std::uint64_t version() const noexcept = 0;
  /// The newest state; never null.
  virtual std::shared_ptr<const health::MonitorState> state() const = 0;
};

/// A running (or manually checked) health::Monitor, which must outlive the source.
std::shared_ptr<HealthSource> from_monitor(const health::Monitor& monitor);

/// States set by hand: for tests, and for applications that run their own checks.
class ManualHealth final : public HealthSource {
public:
  explicit ManualHealth(health::MonitorState state = {});
  void set(health::MonitorState state);
  std::uint64_t version() const noexcept override { return m_version.load(std::memory_order_acquire); }
  std::shared_ptr<const health::MonitorState> state() const override;

private:
  mutable std::mutex m_mutex;
  std::shared_ptr<const health::MonitorState> m_state;
  std::atomic<std::uint64_t> m_version{0};
};

} // namespace grant::route
