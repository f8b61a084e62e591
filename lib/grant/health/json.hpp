#pragma once

#include <grant/health/monitor.hpp>
#include <grant/health/report.hpp>
#include <grant/health/watch.hpp>

#include <nlohmann/json.hpp>

namespace grant::health {

/// The contract's document: {"status", "checked_at", "endpoints": [...]}, documented field by
/// field in docs/commands/health.md. Also the body of `grant serve`'s /health.
nlohmann::json to_json(const Report& report);

/// The monitor's view, the body of `grant serve`'s /health: the same document, each endpoint's
/// newest check with its shown status ("unknown" before the first check) and a "monitor" object
/// ({"state": "unknown"|"up"|"down", "since", "failures", "successes"}), plus "rounds".
nlohmann::json to_json(const MonitorState& state);

/// One availability change of the monitor: {"at", "database", "shard", "replica", "from", "to", "reasons"}.
nlohmann::json to_json(const Transition& transition);

/// One `--watch` change: {"at", "database", "shard", "replica", "from", "to", "reasons"}.
nlohmann::json to_json(const Change& change);

/// `time` as ISO 8601 UTC with milliseconds: "2026-12-01T11:42:07.315Z".
std::string iso8601_utc(std::chrono::system_clock::time_point time);

} // namespace grant::health
