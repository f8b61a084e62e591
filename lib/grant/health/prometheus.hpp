#pragma once

#include <grant/health/monitor.hpp>
#include <grant/health/report.hpp>

#include <string>

namespace grant::health {

/// The report in Prometheus text exposition format (a node-exporter textfile collector reads
/// it as is): grant_health_up, _latency_seconds, _replication_lag_bytes / _seconds (only when
/// known; _replication_lag_unknown says when not), _role_mismatch, _connections_used / _max,
/// _connect_seconds, _query_seconds, _prepared_in_doubt, with labels database, shard, replica and role.
std::string to_prometheus(const Report& report);

/// The monitor's newest checks as above, plus grant_health_available (1 while the monitor lets
/// the endpoint take traffic) for every endpoint, checked or not, and grant_health_monitor_rounds_total.
std::string to_prometheus(const MonitorState& state);

} // namespace grant::health
