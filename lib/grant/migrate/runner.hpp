#pragma once

#include <grant/migrate/tracking.hpp>
#include <grant/migrate/types.hpp>
#include <grant/registry/registry.hpp>

#include <chrono>
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
               const EventSink& events);

/// Applies pending migrations on every target, `jobs` at a time.
std::vector<TargetResult> migrate(registry::Registry& registry, const Workload& work, const MigrateOptions& options,
                                  const EventSink& events);
/// Reverts newest first; a missing down section stops a target before anything is reverted.
std::vector<TargetResult> rollback(registry::Registry& registry, const Workload& work, const RollbackOptions& options,
                                   const EventSink& events);
/// Rolls back the newest migration of each target and applies it again, holding the target's
/// migration lock once for both. Steps are the reverted migration, then the re-applied one.
std::vector<TargetResult> redo(registry::Registry& registry, const Workload& work, const RunOptions& options,
                               const EventSink& events);
/// Marks `version` and older as applied without running them, each target's rows in one
/// transaction. Throws ConfigError when a selected database has no file with that version.
std::vector<TargetResult> baseline(registry::Registry& registry, const Workload& work, const std::string& version,
                                   const RunOptions& options, const EventSink& events);

/// What a command does on one target, handed its connection and tracker.
using TargetBody = std::function<void(db::Connection&, Tracker&, TargetResult&)>;
/// Runs `body` on one target: connects, takes the migration lock (not for dry runs), refuses
/// in-doubt transactions, prepares the tracking table (converting golang-migrate's with `files`;
/// only when `creates` or a table exists), and records the outcome. With --dry-run, the
/// tracking-table SQL a real run would need is put before the first step's SQL.
TargetResult run_on_target(registry::Registry& registry, const Target& target, const std::vector<Migration>& files,
                           const RunOptions& options, const EventSink& events, const TargetBody& body,
                           bool creates = true);

std::vector<TargetStatus> status(registry::Registry& registry, const Workload& work, const RunOptions& options);

/// Runs `body` for each item on up to `jobs` threads; results keep the input order.
template <typename Item, typename Result>
std::vector<Result> fan_out(const std::vector<Item>& items, int jobs, const std::function<Result(const Item&)>& body);

/// The number of threads for `targets`: --jobs when given, else one per target up to 8.
int effective_jobs(int requested, std::size_t targets);

} // namespace grant::migrate

#include <grant/migrate/fan_out.ipp>
