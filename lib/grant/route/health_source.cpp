#include <grant/route/health_source.hpp>

namespace grant::route {

namespace {

class MonitorSource final : public HealthSource {
public:
  explicit MonitorSource(const health::Monitor& monitor) : m_monitor(monitor) {}
  std::uint64_t version() const noexcept override { return m_monitor.published(); }
  std::shared_ptr<const health::MonitorState> state() const override { return m_monitor.state(); }

private:
  const health::Monitor& m_monitor;
};

} // namespace

std::shared_ptr<HealthSource> from_monitor(const health::Monitor& monitor) {
  return std::make_shared<MonitorSource>(monitor);
}

ManualHealth::ManualHealth(health::MonitorState state)
    : m_state(std::make_shared<const health::MonitorState>(std::move(state))) {}

void ManualHealth::set(health::MonitorState state) {
  auto next = std::make_shared<const health::MonitorState>(std::move(state));
  {
    std::lock_guard lock(m_mutex);
    m_state = std::move(next);
  }
  m_version.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const health::MonitorState> ManualHealth::state() const {
  std::lock_guard lock(m_mutex);
  return m_state;
}

} // namespace grant::route
