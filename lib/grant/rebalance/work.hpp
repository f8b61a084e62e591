#pragma once

// Internal to rebalance/: what every phase shares, and the phases themselves (one file each).

#include <grant/rebalance/fleet.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

namespace grant::rebalance {

/// The row of grant_rebalance_state on a source shard.
struct StateRow {
  std::string target; ///< the target's digest
  Phase phase = Phase::none;
  std::string holder;
  std::string started_at;
  double pause_ms = 0;
};

/// One run of one phase over the fleet.
struct Work {
  Work(const config::Config& source, const config::Config& target, const std::string& database, Options opts)
      : fleet(source, target, database), options(std::move(opts)) {}

  Fleet fleet;
  Options options;
  std::mutex progress_mutex;
  std::atomic<std::uint64_t> rows_done{0};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  /// Reports progress (serialised) unless no callback was given.
  void report(const std::string& phase, const std::string& table, const std::string& shard, std::uint64_t total,
              const std::string& note = {});
  /// Counts `rows` done and sleeps as needed to keep under max_rows_per_sec (shared by every
  /// worker), and, checking about once a second, while a replica of the source or of a target
  /// (their writers' sessions, null where none) lags past the database's health.max_lag_ms.
  void throttle(db::Connection& source, std::size_t source_node, const std::vector<db::Connection*>& targets,
                std::uint64_t rows);
  int jobs(std::size_t count) const;

private:
  std::map<std::size_t, std::chrono::steady_clock::time_point> m_last_lag_check; ///< per source node
};

// state.cpp: grant's objects on a shard, the state rows and the lock.
Phase parse_phase(std::string_view text);
std::optional<StateRow> read_state(db::Connection& connection, const Node& node, const std::string& database);
/// The state of every source shard (nullopt where none is recorded).
std::vector<std::optional<StateRow>> read_states(Work& work);
/// Creates grant's tables, functions and capture triggers on a source shard and its state row, in
/// one transaction; a no-op where they exist.
void install_capture(db::Connection& connection, const Node& node, Work& work, const std::string& holder);
/// Creates (or replaces) on a source shard the target config's placement functions and the fence
/// functions that call them, outside any write block; the cutover attaches the fence triggers.
void install_fence(Work& work, std::size_t source);
/// A lock wait that timed out (55P03), a deadlock (40P01) or a serialization failure (40001):
/// the statement was rolled back, and another try may well succeed.
bool is_lock_conflict(const db::DbError& error);
/// How often a step that met a lock conflict is tried in all: applications that write without
/// pause meet grant's DDL lock again and again, and grant is the victim by design.
inline constexpr int k_lock_attempts = 8;
/// Waits before try `attempt` + 1: longer each time, with jitter so that grant and a writer that
/// collided do not meet again in step.
void back_off(int attempt);
/// Makes the session detect deadlocks sooner than applications do, so that grant is the one
/// aborted; a no-op where the role may not set deadlock_timeout.
void prefer_losing_deadlocks(db::Connection& connection);
/// Runs `body` in a transaction whose lock waits end after min(2 s, half of
/// Options::cutover_timeout) (applications' writes queue behind a waiting DDL lock); a timed-out
/// wait or a deadlock is tried again, up to k_lock_attempts times, saying so. Each statement waits
/// for its reply at most Options::cutover_timeout: a silent server is given up, its session ended
/// on the server through a fresh one (which frees the lock), and a database Error names the shard.
void with_short_locks(Work& work, db::Connection& connection, const Node& node, const std::string& what,
                      const std::function<void()>& body);
/// Runs one batch of the copy, the change applier or the cleanup: statements outside any
/// transaction of the caller, each idempotent, so a batch that met a row-level deadlock or a
/// serialization failure (grant is the victim by design) is simply sent again, up to
/// k_lock_attempts times with back_off(); then a database Error names the shard and the batch.
void retry_batch(Work& work, const Node& node, const std::string& what, const std::function<void()>& body);
void set_phase(db::Connection& connection, const Node& node, const std::string& database, Phase phase,
               std::optional<double> pause_ms = {});
/// Drops every object rebalance installed on a shard (idempotent).
void drop_objects(db::Connection& connection, const Node& node, Work& work);
/// The rows of the sharded tables on every source shard, from the planner's statistics.
std::uint64_t estimate_rows(Work& work);
/// Who runs this process: user@host pid N.
std::string holder_name();

/// A session-level advisory lock on the coordinator shard for one database's rebalance, held
/// while the object lives. Throws ConfigError naming the holder when another process has it.
class Lock {
public:
  explicit Lock(Work& work);
  ~Lock();
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

private:
  registry::PooledConnection m_session;
};

// finished.cpp: the record of how the last rebalance of a database ended, kept on every shard of
// both configs, so that re-running a phase that has finished can say so.
struct FinishedRow {
  std::string outcome; ///< "cleaned_up" or "aborted"
  std::string finished_at;
};
/// The coordinator's record, when it is about this source and this target.
std::optional<FinishedRow> read_finished(Work& work);
/// Records `outcome` for this source and target on every shard (replacing an older record).
void record_finished(Work& work, const std::string& outcome);
/// For a phase that finds no state row on any source shard: why there is nothing to do (the
/// target moves nothing, or the rebalance towards it has ended), or nullopt (none ever ran).
std::optional<AlreadyDone> nothing_to_do(Work& work);

// changes.cpp: applies captured changes from a source shard to the targets.
struct ApplyResult {
  std::uint64_t applied = 0;
  std::uint64_t remaining = 0; ///< changes still waiting (an estimate when not `until_empty`)
};
/// Reads up to `limit` captured changes of `source` (its session `from`), applies them on the
/// target sessions `to` (indexed by node; null for nodes not involved) and deletes the changes. The caller owns the
/// transactions: none is opened here.
ApplyResult apply_changes(Work& work, std::size_t source, db::Connection& from, const std::vector<db::Connection*>& to,
                          std::size_t limit);
/// A source shard's session and one to every target shard, all marked (mark_session); the
/// sessions go back to their pools reset.
struct Sessions {
  registry::PooledConnection from;
  std::vector<registry::PooledConnection> held;
  std::vector<db::Connection*> to; ///< by node; null for the source and for non-targets
  Sessions() = default;
  Sessions(Sessions&&) = default;
  Sessions& operator=(Sessions&&) = default;
  ~Sessions();
};
Sessions open_sessions(Work& work, std::size_t source);
/// What a catch-up did: the changes applied, those still waiting at its end, its apply rate,
/// and whether it ended because few changes wait (`converged`) or because the backlog stopped
/// shrinking (the applications add changes as fast as grant applies them, or faster).
struct CatchUp {
  std::uint64_t applied = 0;
  std::uint64_t remaining = 0;
  double per_second = 0;
  bool converged = true;
};
/// Applies captured changes of `source` in rounds until a round leaves fewer than
/// Options::backlog_target waiting, or until the backlog has not reached a new low for
/// k_catch_up_patience rounds in a row (it never ends otherwise under a writer faster than the
/// apply).
CatchUp catch_up(Work& work, std::size_t source, db::Connection& from, const std::vector<db::Connection*>& to);
constexpr int k_catch_up_patience = 8;
/// The cutover's statements outside its write block hold no lock the applications need, but a
/// server silent there would keep the run waiting until TCP gives up: each waits at most this.
constexpr std::chrono::milliseconds k_outside_block_reply{30000};
/// Writes `rows` (full rows of `table`) to `to` in one statement (unnest), replacing rows with the
/// same primary key (`replace`) or leaving them. `expect_new`: try a plain insert first, which is
/// cheaper when none of the rows is there yet (a duplicate falls back to the upsert).
void upsert_rows(const TableSql& table, db::Connection& to, const std::vector<std::vector<db::Value>>& rows,
                 bool replace, std::uint64_t* inserted = nullptr, bool expect_new = false);
/// Deletes the rows of `pks` from `on`, only those meeting `condition` when given (TableSql::fenced).
void delete_rows(const TableSql& table, db::Connection& on, const std::vector<std::vector<db::Value>>& pks,
                 const std::string& condition = {}, std::uint64_t* deleted = nullptr);
/// The values as views for key parsing; a NULL is a view with no data (no shard owns it).
std::vector<std::string_view> value_views(const std::vector<db::Value>& values);
/// A text[] literal for PostgreSQL: {"a","b"}.
std::string text_array_literal(const std::vector<std::string_view>& parts);
/// Sets grant.rebalance = 'apply' on a session: its writes are neither captured nor fenced.
void mark_session(db::Connection& connection);

// copy_table.cpp: one table of one source shard, resumed from its checkpoint; `ledger` is a
// second session to the source for the checkpoints. Returns the rows copied.
std::uint64_t copy_table(Work& work, std::size_t source, const TableSql& table, db::Connection& from,
                         db::Connection& ledger, const std::vector<db::Connection*>& to, std::uint64_t total);

// The phases.
PlanReport run_plan(Work& work);
CopyReport run_copy(Work& work);
CutoverReport run_cutover(Work& work);
CleanupReport run_cleanup(Work& work);
AbortReport run_abort(Work& work);
StatusReport run_status(Work& work);
/// Finishes the prepared transactions an interrupted cutover left, by their recorded decision.
std::uint64_t resolve_in_doubt(Work& work, bool dry_run);

} // namespace grant::rebalance
