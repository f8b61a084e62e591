#pragma once

#include <grant/config/config.hpp>
#include <grant/migrate/migration_file.hpp>
#include <grant/migrate/plan.hpp>
#include <grant/migrate/tracking.hpp>
#include <grant/registry/registry.hpp>

#include <chrono>
#include <functional>
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

/// Targets for --database / --shard (both may be empty: everything). Throws ConfigError.
std::vector<Target> select_targets(const config::Config& config, const std::vector<std::string>& databases,
                                   const std::vector<std::string>& shards);

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
std::vector<TargetStatus> status(registry::Registry& registry, const Workload& work, const RunOptions& options);

/// Runs `body` for each item on up to `jobs` threads; results keep the input order.
template <typename Item, typename Result>
std::vector<Result> fan_out(const std::vector<Item>& items, int jobs, const std::function<Result(const Item&)>& body);

/// The number of threads for `targets`: --jobs when given, else one per target up to 8.
int effective_jobs(int requested, std::size_t targets);

} // namespace grant::migrate

#include <grant/migrate/fan_out.ipp>
