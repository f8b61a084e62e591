#include <grant/health/prometheus.hpp>

#include <grant/util/text.hpp>

#include <cstdio>
#include <functional>
#include <optional>

namespace grant::health {

namespace {

// The exposition format is UTF-8: invalid bytes become U+FFFD, as in every JSON grant writes.
std::string escape_label(const std::string& value) {
  std::string out;
  for (const char c : util::valid_utf8(value)) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string labels(const registry::Endpoint& endpoint) {
  return "{database=\"" + escape_label(endpoint.database) + "\",shard=\"" + escape_label(endpoint.shard) +
         "\",replica=\"" + escape_label(endpoint.replica) + "\",role=\"" +
         (endpoint.role == registry::Role::writing ? "writer" : "replica") + "\"}";
}

std::string number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

struct Metric {
  const char* name;
  const char* help;
  std::function<std::optional<double>(const EndpointHealth&)> value;
};

} // namespace

std::string to_prometheus(const Report& report) {
  const std::vector<Metric> metrics{
      {"grant_health_up", "1 when the endpoint answered its probe",
       [](const EndpointHealth& e) -> std::optional<double> { return e.probe.reachable ? 1 : 0; }},
      {"grant_health_healthy", "1 healthy, 0 degraded or down",
       [](const EndpointHealth& e) -> std::optional<double> { return e.status == Status::healthy ? 1 : 0; }},
      {"grant_health_latency_seconds", "connect and probe queries, in all",
       [](const EndpointHealth& e) -> std::optional<double> {
         return e.probe.reachable ? std::optional(e.probe.latency_ms() / 1000.0) : std::nullopt;
       }},
      {"grant_health_connect_seconds", "opening the session",
       [](const EndpointHealth& e) -> std::optional<double> {
         return e.probe.reachable ? std::optional(e.probe.connect_ms / 1000.0) : std::nullopt;
       }},
      {"grant_health_query_seconds", "the probe's statements once connected",
       [](const EndpointHealth& e) -> std::optional<double> {
         return e.probe.reachable ? std::optional(e.probe.query_ms / 1000.0) : std::nullopt;
       }},
      {"grant_health_replication_lag_bytes", "WAL bytes the replica has not replayed (absent when unknown)",
       [](const EndpointHealth& e) -> std::optional<double> {
         return e.lag && e.lag->bytes ? std::optional(static_cast<double>(*e.lag->bytes)) : std::nullopt;
       }},
      {"grant_health_replication_lag_transactions",
       "MariaDB: transactions of the writer's GTID position the replica has not replayed (absent elsewhere)",
       [](const EndpointHealth& e) -> std::optional<double> {
         return e.lag && e.lag->transactions ? std::optional(static_cast<double>(*e.lag->transactions)) : std::nullopt;
       }},
      {"grant_health_replication_lag_seconds",
       "age of the last replayed transaction while behind (absent when unknown)",
       [](const EndpointHealth& e) -> std::optional<double> { return e.lag ? e.lag->seconds : std::nullopt; }},
      {"grant_health_replication_lag_unknown", "1 when the lag cannot be known",
       [](const EndpointHealth& e) -> std::optional<double> {
         return e.lag ? std::optional<double>(e.lag->state == LagState::unknown ? 1 : 0) : std::nullopt;
       }},
      {"grant_health_role_mismatch", "1 for a writer in recovery or a replica that is not",
       [](const EndpointHealth& e) -> std::optional<double> {
         return e.probe.reachable ? std::optional<double>(e.probe.role_mismatch ? 1 : 0) : std::nullopt;
       }},
      {"grant_health_connections_used", "client sessions on the server",
       [](const EndpointHealth& e) -> std::optional<double> {
         return e.probe.connections ? std::optional(static_cast<double>(e.probe.connections->used)) : std::nullopt;
       }},
      {"grant_health_connections_max", "max_connections",
       [](const EndpointHealth& e) -> std::optional<double> {
         return e.probe.connections ? std::optional(static_cast<double>(e.probe.connections->max)) : std::nullopt;
       }},
      {"grant_health_prepared_in_doubt", "grant's prepared transactions waiting for `grant recover`",
       [](const EndpointHealth& e) -> std::optional<double> {
         return e.probe.prepared_in_doubt ? std::optional(static_cast<double>(*e.probe.prepared_in_doubt))
                                          : std::nullopt;
       }},
  };
  std::string out;
  for (const auto& metric : metrics) {
    out += std::string("# HELP ") + metric.name + " " + metric.help + "\n";
    out += std::string("# TYPE ") + metric.name + " gauge\n";
    for (const auto& entry : report.endpoints) {
      if (const auto value = metric.value(entry)) {
        out += metric.name + labels(entry.probe.endpoint) + " " + number(*value) + "\n";
      }
    }
  }
  return out;
}

std::string to_prometheus(const MonitorState& state) {
  Report report;
  for (const auto& tracked : state.endpoints) {
    if (tracked.latest) {
      report.endpoints.push_back(*tracked.latest);
    }
  }
  std::string out = to_prometheus(report);
  out += "# HELP grant_health_available 1 while the health monitor lets the endpoint take traffic\n";
  out += "# TYPE grant_health_available gauge\n";
  for (const auto& tracked : state.endpoints) {
    out += "grant_health_available" + labels(tracked.target.endpoint) + " " +
           (tracked.availability == Availability::up ? "1" : "0") + "\n";
  }
  out += "# HELP grant_health_monitor_rounds_total checks of the whole fleet completed\n";
  out += "# TYPE grant_health_monitor_rounds_total counter\n";
  out += "grant_health_monitor_rounds_total " + std::to_string(state.rounds) + "\n";
  return out;
}

} // namespace grant::health
