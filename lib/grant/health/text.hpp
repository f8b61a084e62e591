#pragma once

#include <grant/health/report.hpp>

#include <string>

namespace grant::health {

/// A table a person reads at a glance: one line per endpoint (status, role, latency, lag,
/// connections, server, what is wrong), then the overall status. `color` paints the statuses.
std::string to_text(const Report& report, bool color);

} // namespace grant::health
