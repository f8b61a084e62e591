#pragma once

// Which targets a migration command runs on and the checks before anything changes. The
// commands themselves (migrate, rollback, redo, baseline, status) are in runner.hpp.

#include <grant/migrate/types.hpp>
#include <grant/registry/registry.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace grant::migrate {

/// Targets for --database / --shard (both may be empty: everything). Throws ConfigError.
std::vector<Target> select_targets(const config::Config& config, const std::vector<std::string>& databases,
                                   const std::vector<std::string>& shards);

/// Loads every selected database's migrations (ConfigError for any broken file: nothing runs).
Workload prepare(const std::vector<Target>& targets);

/// Refuses a workload holding a migration with an empty up section (a freshly generated file),
/// up to `up_to` when given: ConfigError naming the file (exit 2). migrate calls it before it
/// touches anything; so must every command that applies (redo).
void refuse_empty_migrations(const Workload& work, const std::optional<std::string>& up_to = std::nullopt);

/// The highest exit code among results (0 when all ok).
int exit_code_of(const std::vector<TargetResult>& results);

/// Connects to every target (waiting up to options.wait for servers to come up) and refuses
/// servers in recovery, before anything changes. Throws.
void preflight(registry::Registry& registry, const std::vector<Target>& targets, const RunOptions& options,
               const EventSink& events, bool refuse_replicas = true);

/// Runs `body` for each item on up to `jobs` threads; results keep the input order.
template <typename Item, typename Result>
std::vector<Result> fan_out(const std::vector<Item>& items, int jobs, const std::function<Result(const Item&)>& body);

/// The number of threads for `targets`: --jobs when given, else one per target up to 8.
int effective_jobs(int requested, std::size_t targets);

} // namespace grant::migrate

#include <grant/migrate/fan_out.ipp>
