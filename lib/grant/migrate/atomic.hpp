#pragma once

#include <grant/migrate/runner.hpp>

namespace grant::migrate {

/// --atomic: each version goes onto every shard of a database inside prepared transactions and
/// is committed on all only once all prepared; the commit decision is recorded on the first
/// shard (table grant_atomic_decisions) before any COMMIT PREPARED, so `recover` can finish a
/// run that died in between.
std::vector<TargetResult> migrate_atomic(registry::Registry& registry, const Workload& work,
                                         const MigrateOptions& options, const EventSink& events);

/// One in-doubt prepared transaction left by --atomic (or rebalance).
struct InDoubt {
  std::string database;
  std::string target;
  std::string gid;
  std::string prepared_at;
  std::string decision; ///< "commit" when recorded, else ""
  std::string action;   ///< "commit" or "rollback"
  bool done = false;
  std::string error;
};

struct RecoverOptions {
  bool force_commit = false;
  bool force_abort = false;
  bool dry_run = false;
};

/// Lists grant's prepared transactions on the targets and resolves them: commit where the
/// decision was recorded as commit, else roll back (or as forced).
std::vector<InDoubt> recover(registry::Registry& registry, const std::vector<Target>& targets,
                             const RecoverOptions& options);

/// Throws DbError when a crashed --atomic run left prepared transactions on this target: their
/// locks would make the run hang. Call it holding the migration lock, so a live run's brief
/// prepared state is never mistaken for one.
void refuse_in_doubt(db::Connection& connection, const Target& target);

/// grant's prepared transactions for this target's database waiting on its server.
std::size_t count_in_doubt(db::Connection& connection, const Target& target);

/// The test hook that kills the process at a named point of an atomic run
/// (GRANT_FAULT=after-prepare | after-decision): the only way to test recovery from a crash.
void fault_point(const char* name);

} // namespace grant::migrate
