#pragma once

#include <grant/config/config.hpp>
#include <grant/health/lag.hpp>
#include <grant/health/probe.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grant::health {

enum class Status { healthy, degraded, down };

/// "healthy", "degraded", "down".
std::string_view status_name(Status status);

/// One endpoint's probe, its lag (replicas) and the verdict.
struct EndpointHealth {
  Probe probe;
  std::optional<Lag> lag; ///< replicas only
  int max_lag_ms = 0;     ///< the bound its lag was held to
  Status status = Status::down;
  std::vector<std::string> reasons; ///< why not healthy, in words ("lag 7.2 s over 5000 ms")
};

/// The whole fleet at one moment.
struct Report {
  Status status = Status::healthy; ///< the worst endpoint's
  std::chrono::system_clock::time_point checked_at;
  std::vector<EndpointHealth> endpoints; ///< per database in config order: writers, then replicas
};

struct CheckOptions {
  std::optional<int> timeout_ms;   ///< overrides each database's `health.timeout_ms`
  std::optional<int> max_lag_ms;   ///< overrides each database's `health.max_lag_ms`
  std::vector<std::string> shards; ///< only these shards (--shard); unknown names throw ConfigError
  int jobs = 32;                   ///< probes at once
};

/// The verdict on one endpoint: down when it did not answer (or a SQLite file fails its
/// quick_check); degraded for a role mismatch, lag over the bound or unknown, connections over
/// 90% of max_connections, in-doubt prepared transactions, a SQLite file that is not writable.
void evaluate(EndpointHealth& endpoint);

/// One endpoint to check and the bounds it is held to.
struct Target {
  registry::Endpoint endpoint;
  int timeout_ms = 2000;
  int max_lag_ms = 5000;
};

/// The endpoints `check` probes, in report order, with the options applied over each database's
/// `health` settings; an unknown shard name throws ConfigError.
std::vector<Target> targets_of(const std::vector<const config::Database*>& databases, const CheckOptions& options);

/// Probes `targets` in parallel (`jobs` at once) with probe_within, each bounded by its own
/// timeout; the probes in target order. `sessions`, when given, holds one kept session per target.
std::vector<Probe> probe_all(const std::vector<Target>& targets, int jobs = 32,
                             const std::vector<std::shared_ptr<ProbeSession>>* sessions = nullptr);

/// probe_all, then measures each replica against its writer's probe.
Report check(const std::vector<Target>& targets, int jobs = 32,
             const std::vector<std::shared_ptr<ProbeSession>>* sessions = nullptr);

/// check(targets_of(databases, options), options.jobs).
Report check(const std::vector<const config::Database*>& databases, const CheckOptions& options = {});

} // namespace grant::health
