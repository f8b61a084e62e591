#include <grant/serve/view.hpp>

#include <grant/health/json.hpp>
#include <grant/health/prometheus.hpp>
#include <grant/util/text.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <vector>

namespace grant::serve {

namespace {

using health::Tracked;

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    const auto part = path.substr(0, slash);
    if (!part.empty()) {
      out.push_back(part);
    }
    if (slash == std::string_view::npos) {
      break;
    }
    path.remove_prefix(slash + 1);
  }
  return out;
}

Answer json_answer(int status, const nlohmann::json& body) {
  return {status, "application/json", util::json_text(body) + "\n"};
}

Answer not_found(const std::string& what) {
  return json_answer(404, {{"error", what}});
}

std::string milliseconds_text(double ms) {
  return std::to_string(static_cast<long long>(std::llround(ms))) + " ms";
}

// Why `tracked` may not take the traffic asked for; empty when it may.
std::string why_not(const Tracked& tracked, bool writes, std::optional<int> max_lag_ms) {
  switch (tracked.availability) {
  case health::Availability::unknown:
    return "not checked yet";
  case health::Availability::down: {
    std::string reason = "down since " + health::iso8601_utc(tracked.since);
    if (tracked.latest && !tracked.latest->reasons.empty()) {
      reason += ": " + tracked.latest->reasons.front();
    }
    return reason;
  }
  case health::Availability::up:
    break;
  }
  if (writes) {
    return health::takes_writes(tracked) ? "" : "not writable (in recovery, or a read-only file)";
  }
  switch (health::read_verdict(tracked, max_lag_ms)) {
  case health::ReadVerdict::takes:
    return "";
  case health::ReadVerdict::unknown: // up, but no passed check to go by
  case health::ReadVerdict::down:
  case health::ReadVerdict::not_in_recovery:
    return "not in recovery: not a replica";
  case health::ReadVerdict::lag_unknown:
    return "lag unknown";
  case health::ReadVerdict::lagging:
    break;
  }
  return "lag " + milliseconds_text(health::lag_ms(tracked).value_or(0)) + " over " +
         std::to_string(max_lag_ms.value_or(tracked.target.max_lag_ms)) + " ms";
}

nlohmann::json endpoint_json(const Tracked& tracked, const std::string& reason) {
  const auto& endpoint = tracked.target.endpoint;
  const auto name = [](const std::string& value) {
    return value.empty() ? nlohmann::json(nullptr) : nlohmann::json(value);
  };
  const auto lag = health::lag_ms(tracked);
  return {{"database", endpoint.database},
          {"shard", name(endpoint.shard)},
          {"replica", name(endpoint.replica)},
          {"available", reason.empty()},
          {"state", health::availability_name(tracked.availability)},
          {"lag_ms", lag ? nlohmann::json(std::round(*lag)) : nlohmann::json(nullptr)},
          {"reason", reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(reason)}};
}

std::optional<int> parse_lag(std::string_view text) {
  int value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc{} || ptr != end || value < 0 || value > 86'400'000) {
    return std::nullopt;
  }
  return value;
}

} // namespace

View::View(std::shared_ptr<const health::MonitorState> state) : m_state(std::move(state)) {
  m_healthy = m_state->status() == "healthy";
  m_health_body = util::json_text(health::to_json(*m_state), 2) + "\n";
  m_metrics_body = health::to_prometheus(*m_state);
}

Answer View::answer(std::string_view path, std::optional<std::string_view> lag) const {
  const auto parts = segments(path);
  if (parts.size() == 1 && parts[0] == "health") {
    return {m_healthy ? 200 : 503, "application/json", m_health_body};
  }
  if (parts.size() == 1 && parts[0] == "metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", m_metrics_body};
  }
  if (parts.size() < 2 || (parts[0] != "writer" && parts[0] != "replica")) {
    return not_found("no such path: try /health, /metrics, /writer/DB[/SHARD] or /replica/DB[/SHARD][/NAME]");
  }
  const auto database = parts[1];
  bool known = false;
  bool sharded = false;
  for (const auto& tracked : m_state->endpoints) {
    if (tracked.target.endpoint.database == database) {
      known = true;
      sharded = sharded || !tracked.target.endpoint.shard.empty();
    }
  }
  if (!known) {
    return not_found("no database '" + std::string(database) + "' in the config");
  }
  std::optional<std::string_view> shard;
  std::optional<std::string_view> name;
  std::size_t next = 2;
  if (sharded && parts.size() > next) {
    shard = parts[next++];
  }
  if (parts[0] == "replica" && parts.size() > next) {
    name = parts[next++];
  }
  if (parts.size() > next) {
    return not_found("no such path: " + std::string(path));
  }
  if (parts[0] == "writer") {
    return writer(database, shard);
  }
  std::optional<int> max_lag_ms;
  if (lag) {
    max_lag_ms = parse_lag(*lag);
    if (!max_lag_ms) {
      return json_answer(400,
                         {{"error", "lag must be milliseconds from 0 to 86400000, got '" + std::string(*lag) + "'"}});
    }
  }
  return replica(database, shard, name, max_lag_ms);
}

Answer View::writer(std::string_view database, std::optional<std::string_view> shard) const {
  nlohmann::json endpoints = nlohmann::json::array();
  bool available = true;
  for (const auto& tracked : m_state->endpoints) {
    const auto& endpoint = tracked.target.endpoint;
    if (endpoint.database != database || endpoint.role != registry::Role::writing ||
        (shard && endpoint.shard != *shard)) {
      continue;
    }
    const auto reason = why_not(tracked, true, std::nullopt);
    available = available && reason.empty();
    endpoints.push_back(endpoint_json(tracked, reason));
  }
  if (endpoints.empty()) {
    return not_found("no shard '" + std::string(shard.value_or("")) + "' in database '" + std::string(database) + "'");
  }
  return json_answer(available ? 200 : 503, {{"available", available}, {"endpoints", std::move(endpoints)}});
}

Answer View::replica(std::string_view database, std::optional<std::string_view> shard,
                     std::optional<std::string_view> name, std::optional<int> max_lag_ms) const {
  // Per shard ("" when unsharded): does any candidate qualify?
  std::vector<std::pair<std::string, bool>> shards;
  nlohmann::json endpoints = nlohmann::json::array();
  bool shard_found = !shard;
  for (const auto& tracked : m_state->endpoints) {
    const auto& endpoint = tracked.target.endpoint;
    if (endpoint.database != database || (shard && endpoint.shard != *shard)) {
      continue;
    }
    shard_found = true;
    if (endpoint.role == registry::Role::writing) {
      shards.emplace_back(endpoint.shard, false); // writers come first, one per shard
      continue;
    }
    if (name && endpoint.replica != *name) {
      continue;
    }
    const auto reason = why_not(tracked, false, max_lag_ms);
    for (auto& [shard_name, any] : shards) {
      if (shard_name == endpoint.shard) {
        any = any || reason.empty();
      }
    }
    endpoints.push_back(endpoint_json(tracked, reason));
  }
  if (!shard_found) {
    return not_found("no shard '" + std::string(*shard) + "' in database '" + std::string(database) + "'");
  }
  if (name && endpoints.empty()) {
    return not_found("no replica '" + std::string(*name) + "' of " + std::string(database) +
                     (shard ? "/" + std::string(*shard) : std::string()));
  }
  bool available = !shards.empty();
  for (const auto& entry : shards) {
    available = available && entry.second;
  }
  nlohmann::json body{{"available", available}, {"endpoints", std::move(endpoints)}};
  if (body["endpoints"].empty()) {
    body["reason"] = "no replicas configured";
  }
  return json_answer(available ? 200 : 503, body);
}

} // namespace grant::serve
