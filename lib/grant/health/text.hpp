#pragma once

#include <grant/health/report.hpp>
#include <grant/health/watch.hpp>

#include <string>

namespace grant::health {

/// A table a person reads at a glance: one line per endpoint (status, role, latency, lag,
/// connections, server, what is wrong), then the overall status. `color` paints the statuses.
std::string to_text(const Report& report, bool color);

/// One line for `--watch`: "2026-12-01T11:42:07.315Z  analytics/r1  healthy -> degraded  lag 9.6 s
/// over 500 ms" (without "from ->" the first time an endpoint is seen).
std::string to_text(const Change& change, bool color);

} // namespace grant::health
