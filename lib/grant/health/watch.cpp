#include <grant/health/watch.hpp>

#include <algorithm>
#include <thread>

namespace grant::health {

std::vector<Change> changes_between(const Report* before, const Report& after) {
  std::vector<Change> out;
  for (const auto& entry : after.endpoints) {
    const auto label = entry.probe.endpoint.label();
    std::optional<Status> from;
    if (before) {
      for (const auto& old : before->endpoints) {
        if (old.probe.endpoint.label() == label) {
          from = old.status;
          break;
        }
      }
    }
    if (from == entry.status) {
      continue;
    }
    out.push_back({after.checked_at, entry.probe.endpoint, from, entry.status, entry.reasons});
  }
  return out;
}

void watch(const std::vector<const config::Database*>& databases, const CheckOptions& options,
           std::chrono::milliseconds interval, const std::atomic<bool>& stop,
           const std::function<void(const Change&)>& on_change) {
  std::optional<Report> last;
  while (!stop) {
    const auto next = std::chrono::steady_clock::now() + interval;
    auto report = check(databases, options);
    for (const auto& change : changes_between(last ? &*last : nullptr, report)) {
      on_change(change);
    }
    last = std::move(report);
    // Short naps so that `stop` ends the wait promptly.
    while (!stop && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::milliseconds(50), next - std::chrono::steady_clock::now()));
    }
  }
}

} // namespace grant::health
