#pragma once

#include <grant/migrate/targets.hpp>
#include <grant/migrate/tracking.hpp>
#include <grant/migrate/types.hpp>
#include <grant/registry/registry.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace grant::migrate {

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

} // namespace grant::migrate
