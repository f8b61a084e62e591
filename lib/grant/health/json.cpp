#include <grant/health/json.hpp>

#include <cmath>
#include <cstdio>
#include <ctime>

namespace grant::health {

std::string iso8601_utc(std::chrono::system_clock::time_point time) {
  const auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(since_epoch.count() / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[80];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(since_epoch.count() % 1000));
  return text;
}

namespace {

// To `per_unit` steps per unit (100: hundredths). Dividing by the step count gives the double
// nearest the decimal (56.3), where multiplying by 0.01 would print 56.300000000000004.
// A name or text that may be missing: null when empty.
nlohmann::json optional_name(const std::string& name) {
  return name.empty() ? nlohmann::json(nullptr) : nlohmann::json(name);
}

double rounded(double value, double per_unit) {
  return std::round(value * per_unit) / per_unit;
}

nlohmann::json endpoint_json(const EndpointHealth& entry) {
  const auto& probe = entry.probe;
  const auto& endpoint = probe.endpoint;
  const auto optional = [](const auto& value) -> nlohmann::json {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  };
  nlohmann::json out{
      {"database", endpoint.database},
      {"shard", optional_name(endpoint.shard)},
      {"replica", optional_name(endpoint.replica)},
      {"role", endpoint.role == registry::Role::writing ? "writer" : "replica"},
      {"url", endpoint.url.redacted()},
      {"status", status_name(entry.status)},
      {"reachable", probe.reachable},
      {"error", probe.error
                    ? nlohmann::json{{"kind", error_kind_name(probe.error->kind)}, {"message", probe.error->message}}
                    : nlohmann::json(nullptr)},
      {"latency_ms", probe.reachable ? nlohmann::json(rounded(probe.latency_ms(), 100)) : nlohmann::json(nullptr)},
      {"server_version", optional_name(probe.server_version)},
      {"in_recovery", optional(probe.in_recovery)},
      {"role_mismatch", probe.role_mismatch},
      {"lag", nullptr},
      {"connections", probe.connections
                          ? nlohmann::json{{"used", probe.connections->used}, {"max", probe.connections->max}}
                          : nlohmann::json(nullptr)},
      {"prepared_in_doubt", optional(probe.prepared_in_doubt)},
      {"reasons", entry.reasons},
  };
  if (entry.lag) {
    out["lag"] = {
        {"state", lag_state_name(entry.lag->state)},
        {"bytes", optional(entry.lag->bytes)},
        {"seconds", entry.lag->seconds ? nlohmann::json(rounded(*entry.lag->seconds, 1000)) : nlohmann::json(nullptr)}};
    if (entry.lag->transactions) {
      out["lag"]["transactions"] = *entry.lag->transactions; // MariaDB only
    }
  }
  return out;
}

} // namespace

nlohmann::json to_json(const Report& report) {
  nlohmann::json endpoints = nlohmann::json::array();
  for (const auto& entry : report.endpoints) {
    endpoints.push_back(endpoint_json(entry));
  }
  return {{"status", status_name(report.status)},
          {"checked_at", iso8601_utc(report.checked_at)},
          {"endpoints", std::move(endpoints)}};
}

namespace {

// An endpoint the monitor has not checked yet: its names, and nothing it could not know.
nlohmann::json unchecked_json(const Target& target) {
  const auto& endpoint = target.endpoint;
  const bool replica = endpoint.role == registry::Role::reading;
  return {{"database", endpoint.database},
          {"shard", optional_name(endpoint.shard)},
          {"replica", optional_name(endpoint.replica)},
          {"role", replica ? "replica" : "writer"},
          {"url", endpoint.url.redacted()},
          {"reachable", false},
          {"error", nullptr},
          {"latency_ms", nullptr},
          {"server_version", nullptr},
          {"in_recovery", nullptr},
          {"role_mismatch", false},
          {"lag", replica ? nlohmann::json{{"state", "unknown"}, {"bytes", nullptr}, {"seconds", nullptr}}
                          : nlohmann::json(nullptr)},
          {"connections", nullptr},
          {"prepared_in_doubt", nullptr},
          {"reasons", {"not checked yet"}}};
}

} // namespace

nlohmann::json to_json(const MonitorState& state) {
  nlohmann::json endpoints = nlohmann::json::array();
  for (const auto& tracked : state.endpoints) {
    auto entry = tracked.latest ? endpoint_json(*tracked.latest) : unchecked_json(tracked.target);
    entry["status"] = shown_status(tracked);
    entry["monitor"] = {{"state", availability_name(tracked.availability)},
                        {"since", iso8601_utc(tracked.since)},
                        {"failures", tracked.failures},
                        {"successes", tracked.successes}};
    endpoints.push_back(std::move(entry));
  }
  return {{"status", state.status()},
          {"checked_at", state.checked_at ? nlohmann::json(iso8601_utc(*state.checked_at)) : nlohmann::json(nullptr)},
          {"rounds", state.rounds},
          {"endpoints", std::move(endpoints)}};
}

nlohmann::json to_json(const Transition& transition) {
  const auto& endpoint = transition.endpoint;
  return {{"at", iso8601_utc(transition.at)},
          {"database", endpoint.database},
          {"shard", optional_name(endpoint.shard)},
          {"replica", optional_name(endpoint.replica)},
          {"from", availability_name(transition.from)},
          {"to", availability_name(transition.to)},
          {"reasons", transition.reasons}};
}

nlohmann::json to_json(const Change& change) {
  const auto& endpoint = change.endpoint;
  return {{"at", iso8601_utc(change.at)},
          {"database", endpoint.database},
          {"shard", optional_name(endpoint.shard)},
          {"replica", optional_name(endpoint.replica)},
          {"from", change.from ? nlohmann::json(status_name(*change.from)) : nlohmann::json(nullptr)},
          {"to", status_name(change.to)},
          {"reasons", change.reasons}};
}

} // namespace grant::health
