#pragma once

// The types migrate's commands, their output and the layers above share, without the orchestrator.
#include <grant/config/config.hpp>
#include <grant/migrate/migration_file.hpp>
#include <grant/migrate/plan.hpp>
#include <grant/registry/endpoint.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace grant::migrate {

/// One place migrations run: the writer of a database, or of one of its shards.
struct Target {
  const config::Database* database = nullptr;
  registry::Endpoint endpoint;
  std::string label() const { return endpoint.label(); }
};

/// Something worth telling the user while work goes on.
struct Event {
  enum class Kind { waiting_server, waiting_lock, applying, applied, reverting, reverted, failed, note };
  Kind kind = Kind::note;
  std::string target;
  std::string migration; ///< VERSION_name
  long long ms = 0;
  std::string text;
};
using EventSink = std::function<void(const Event&)>;

struct RunOptions {
  /// Called on a target's thread after each migration it applied (migrate, not --atomic), and between the statements of
  /// a transaction=false section (a rollout's replica-lag throttle); it may wait, or throw to
  /// stop the target there. Empty: nothing is called.
  std::function<void(const Target&)> throttle;
  bool dry_run = false;
  int jobs = 0; ///< 0: one per shard, bounded
  std::chrono::milliseconds lock_timeout{0};
  std::chrono::seconds wait{0}; ///< wait for servers to accept connections
};

/// --atomic's bound on a silent shard when --lock-timeout is not given.
inline constexpr std::chrono::milliseconds k_default_commit_timeout{5000};

struct MigrateOptions : RunOptions {
  std::optional<std::chrono::seconds> wait_replicas; ///< wait for replicas to replay the run
  std::optional<std::string> to;
  bool allow_out_of_order = false;
  bool atomic = false;
  /// --atomic: the most each reply to BEGIN, PREPARE, the decision and COMMIT / ROLLBACK
  /// PREPARED may take, so that a silent shard holds the others' locks no longer; 0: no bound.
  std::chrono::milliseconds commit_timeout{k_default_commit_timeout};
};

struct RollbackOptions : RunOptions {
  int steps = 1;
  std::optional<std::string> to;
  bool all = false; ///< every applied version (steps and to are ignored)
};

/// One migration applied, reverted or (dry run) planned on a target.
struct Step {
  std::string version;
  std::string name;
  long long ms = 0;
  std::string sql; ///< dry run: what would run
};

/// How a replica caught up with its writer after a run (--wait-replicas).
struct ReplicaCatchUp {
  std::string replica; ///< endpoint label, e.g. orders/s0/r1
  bool ok = false;
  long long ms = 0; ///< how long it took (or how long grant waited)
  std::string error;
};

struct TargetResult {
  Target target;
  bool ok = true;
  std::vector<Step> steps;
  std::string current_version;          ///< after the run
  std::vector<ReplicaCatchUp> replicas; ///< --wait-replicas
  std::string error;                    ///< what went wrong (redacted)
  std::string where;                    ///< file:line or target
  std::string hint;
  int exit_code = 0;
};

/// Migration files per database, loaded and checked before any target is touched.
struct Workload {
  std::vector<Target> targets;
  std::map<std::string, std::vector<Migration>> files; ///< by database name
};

/// A target's plan as read now (no writes: a missing table or SQLite file means nothing applied).
struct TargetStatus {
  Target target;
  bool reachable = true; ///< false: the target could not be read (see error, error_exit)
  std::string error;
  std::string hint;
  int error_exit = 0; ///< the exit code the error carries: 3 unreachable, 2 a table grant refuses (dirty)
  Plan plan;
  std::size_t in_doubt = 0; ///< prepared transactions an interrupted --atomic run left behind
};
} // namespace grant::migrate
