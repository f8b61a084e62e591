#include <grant/health/report.hpp>

#include <grant/util/parallel_for.hpp>

#include <algorithm>
#include <cstdio>

namespace grant::health {

std::string_view status_name(Status status) {
  switch (status) {
  case Status::healthy:
    return "healthy";
  case Status::degraded:
    return "degraded";
  case Status::down:
    break;
  }
  return "down";
}

namespace {

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", seconds);
  return text;
}

} // namespace

void evaluate(EndpointHealth& endpoint) {
  const auto& probe = endpoint.probe;
  endpoint.reasons.clear();
  if (!probe.reachable || (probe.integrity_ok && !*probe.integrity_ok)) {
    endpoint.status = Status::down;
    if (probe.error) {
      endpoint.reasons.push_back(std::string(error_kind_name(probe.error->kind)) + ": " + probe.error->message);
    }
    return;
  }
  if (probe.role_mismatch) {
    endpoint.reasons.push_back(probe.endpoint.role == registry::Role::writing
                                   ? "configured as a writer but in recovery"
                                   : "configured as a replica but not in recovery");
  }
  if (endpoint.lag) {
    if (endpoint.lag->state == LagState::unknown) {
      endpoint.reasons.push_back("lag unknown");
    } else if (endpoint.lag->state == LagState::lagging) {
      endpoint.reasons.push_back("lag " + seconds_text(endpoint.lag->seconds.value_or(0)) + " over " +
                                 std::to_string(endpoint.max_lag_ms) + " ms");
    }
  }
  if (probe.connections && probe.connections->max > 0 && probe.connections->used * 10 > probe.connections->max * 9) {
    endpoint.reasons.push_back("connections " + std::to_string(probe.connections->used) + " of " +
                               std::to_string(probe.connections->max));
  }
  if (probe.prepared_in_doubt.value_or(0) > 0) {
    endpoint.reasons.push_back(std::to_string(*probe.prepared_in_doubt) +
                               " in-doubt prepared transaction(s): run `grant recover`");
  }
  if (probe.writable && !*probe.writable) {
    endpoint.reasons.push_back("file not writable");
  }
  endpoint.status = endpoint.reasons.empty() ? Status::healthy : Status::degraded;
}

std::vector<Target> targets_of(const std::vector<const config::Database*>& databases, const CheckOptions& options) {
  std::vector<Target> targets;
  for (const auto* database : databases) {
    if (!options.shards.empty() && database->is_sharded()) {
      registry::writers_of(*database, options.shards); // throws on an unknown shard name
    }
    for (auto& endpoint : registry::endpoints_of(*database)) {
      if (!options.shards.empty() && database->is_sharded() &&
          std::find(options.shards.begin(), options.shards.end(), endpoint.shard) == options.shards.end()) {
        continue;
      }
      targets.push_back({std::move(endpoint), options.timeout_ms.value_or(database->health.timeout_ms),
                         options.max_lag_ms.value_or(database->health.max_lag_ms)});
    }
  }
  return targets;
}

std::vector<Probe> probe_all(const std::vector<Target>& targets, int jobs,
                             const std::vector<std::shared_ptr<ProbeSession>>* sessions) {
  std::vector<Probe> probes(targets.size());
  util::parallel_for(targets.size(), jobs, [&](std::size_t i) {
    probes[i] = probe_within(targets[i].endpoint, std::chrono::milliseconds(targets[i].timeout_ms),
                             sessions ? sessions->at(i) : nullptr);
  });
  return probes;
}

Report check(const std::vector<Target>& targets, int jobs, const std::vector<std::shared_ptr<ProbeSession>>* sessions) {
  Report report;
  report.checked_at = std::chrono::system_clock::now();
  const auto probes = probe_all(targets, jobs, sessions);
  const auto writer_of = [&](const registry::Endpoint& replica) -> const Probe* {
    for (const auto& p : probes) {
      if (p.endpoint.role == registry::Role::writing && p.endpoint.database == replica.database &&
          p.endpoint.shard == replica.shard) {
        return &p;
      }
    }
    return nullptr;
  };
  for (std::size_t i = 0; i < targets.size(); ++i) {
    EndpointHealth entry;
    entry.max_lag_ms = targets[i].max_lag_ms;
    if (probes[i].endpoint.role == registry::Role::reading) {
      const auto* writer = writer_of(probes[i].endpoint);
      entry.lag = writer ? replica_lag(*writer, probes[i], entry.max_lag_ms) : Lag{};
    }
    entry.probe = probes[i];
    evaluate(entry);
    report.status = std::max(report.status, entry.status);
    report.endpoints.push_back(std::move(entry));
  }
  return report;
}

Report check(const std::vector<const config::Database*>& databases, const CheckOptions& options) {
  return check(targets_of(databases, options), options.jobs);
}

} // namespace grant::health
