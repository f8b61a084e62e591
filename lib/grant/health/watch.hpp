#pragma once

#include <grant/health/report.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <vector>

namespace grant::health {

/// An endpoint whose status changed between two reports (or was seen for the first time).
struct Change {
  std::chrono::system_clock::time_point at; ///< the newer report's checked_at
  registry::Endpoint endpoint;
  std::optional<Status> from; ///< empty the first time the endpoint is seen
  Status to = Status::down;
  std::vector<std::string> reasons; ///< why it is not healthy now
};

/// The changes from `before` (nullptr: nothing seen yet, every endpoint is new) to `after`,
/// in `after`'s endpoint order.
std::vector<Change> changes_between(const Report* before, const Report& after);

/// Checks the fleet every `interval` (measured from the start of one check to the next) and
/// calls `on_change` for every change, the first round included, until `stop` is set; a check
/// under way finishes first (each is bounded by its timeout).
void watch(const std::vector<const config::Database*>& databases, const CheckOptions& options,
           std::chrono::milliseconds interval, const std::atomic<bool>& stop,
           const std::function<void(const Change&)>& on_change);

} // namespace grant::health
