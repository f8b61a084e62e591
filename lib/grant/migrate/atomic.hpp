#pragma once

#include <grant/db/connection.hpp>
#include <grant/migrate/types.hpp>
#include <grant/registry/registry.hpp>

namespace grant::migrate {

/// --atomic: each version goes onto every shard of a database inside one distributed
/// transaction (twophase/): prepared on all in parallel, the commit decision recorded on the
/// first selected shard, then committed on all. A run that dies or loses a connection in
/// between leaves prepared transactions that `recover` finishes from the decision.
std::vector<TargetResult> migrate_atomic(registry::Registry& registry, const Workload& work,
                                         const MigrateOptions& options, const EventSink& events);

/// One in-doubt prepared transaction left by --atomic (or rebalance).
struct InDoubt {
  std::string database;
  std::string target;
  std::string gid;
  std::string prepared_at;
  std::string coordinator; ///< the endpoint that holds the decision
  std::string decision;    ///< "commit" or "abort" when recorded, else ""
  std::string action;      ///< "commit", "rollback", or "refuse"
  bool done = false;
  std::string error;
};

struct RecoverOptions {
  bool force_commit = false;
  bool force_abort = false;
  bool force = false; ///< let --commit / --abort go against the recorded decision (splits the shards)
  bool dry_run = false;
};

/// Lists grant's prepared transactions on the targets and resolves them without ever splitting
/// a fleet: commit where a commit decision is recorded, roll back only once an abort is settled
/// on the coordinator, refuse (item.error) when the coordinator cannot be reached or a forced
/// outcome goes against the recorded decision without `force`.
std::vector<InDoubt> recover(registry::Registry& registry, const std::vector<Target>& targets,
                             const RecoverOptions& options);

/// Throws DbError when a crashed --atomic run left prepared transactions on this target: their
/// locks would make the run hang. Call it holding the migration lock, so a live run's brief
/// prepared state is never mistaken for one.
void refuse_in_doubt(db::Connection& connection, const Target& target);

} // namespace grant::migrate
