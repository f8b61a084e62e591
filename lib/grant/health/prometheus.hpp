#pragma once

#include <grant/health/report.hpp>

#include <string>

namespace grant::health {

/// The report in Prometheus text exposition format (a node-exporter textfile collector reads
/// it as is): grant_health_up, _latency_seconds, _replication_lag_bytes / _seconds (only when
/// known; _replication_lag_unknown says when not), _role_mismatch, _connections_used / _max,
/// _connect_seconds, _query_seconds, _prepared_in_doubt, with labels database, shard, replica and role.
std::string to_prometheus(const Report& report);

} // namespace grant::health
