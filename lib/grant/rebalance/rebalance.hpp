#pragma once

#include <grant/config/config.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace grant::rebalance {

/// Rows of one table that move from one shard to another.
struct Move {
  std::string table;
  std::string from;
  std::string to;
  std::uint64_t rows = 0;
  std::uint64_t bytes = 0;
};

/// Rows whose key no shard of the target owns: the target would lose them.
struct Unowned {
  std::string table;
  std::string shard;
  std::uint64_t rows = 0;
  std::vector<std::string> samples;
};

struct PlanReport {
  std::vector<Move> moves; ///< per table, per (from, to), in table then shard order
  std::vector<Unowned> unowned;
  std::uint64_t rows_scanned = 0;
  std::uint64_t rows_moving = 0;
  std::uint64_t bytes_moving = 0;
  double seconds = 0;
};

/// Where a source shard stands. A rebalance is "copying" from its first run until its copy has
/// caught up ("copied"), then each source shard is cut over on its own ("cut_over").
enum class Phase { none, copying, copied, cut_over };
std::string_view phase_name(Phase phase);

struct ShardStatus {
  std::string shard;
  Phase phase = Phase::none;
  std::uint64_t backlog = 0;     ///< captured changes not yet applied
  std::uint64_t rows_copied = 0; ///< by the copy so far, towards every target
  double pause_ms = 0;           ///< the cutover's write pause, once cut over
};

/// Set when a phase found nothing to do, so that automation may re-run any phase blindly.
struct AlreadyDone {
  bool finished = false;      ///< the rebalance towards this target has ended (see `outcome`)
  bool nothing_moves = false; ///< the target's shards and sharding are the current config's
  std::string outcome;        ///< "cleaned_up" or "aborted", when `finished`
  std::string finished_at;    ///< when it ended
  bool any() const { return finished || nothing_moves; }
};

struct StatusReport {
  Phase phase = Phase::none; ///< the least advanced source shard's phase
  bool started = false;
  std::string holder; ///< who started it: user@host pid N
  std::string started_at;
  std::vector<ShardStatus> shards; ///< the source shards whose rows move
  std::uint64_t prepared_in_doubt = 0;
  /// When none is in progress: whether one towards this target has ended, or it moves nothing.
  AlreadyDone already;
};

struct CopyReport {
  AlreadyDone already;
  std::uint64_t rows_copied = 0;
  std::uint64_t changes_applied = 0;
  std::uint64_t backlog = 0;
  double seconds = 0;
};

struct CutoverShard {
  std::string shard;
  double pause_ms = 0; ///< writes to the shard's tables were blocked this long
  std::uint64_t changes_applied = 0;
  bool already = false; ///< cut over by an earlier run
  std::string error;    ///< why this shard's cutover failed (the others' went on); empty: done
};

struct CutoverReport {
  AlreadyDone already;
  std::vector<CutoverShard> shards;
  double max_pause_ms = 0;
  std::uint64_t resolved_in_doubt = 0; ///< prepared transactions of an earlier run finished first
};

struct CleanupReport {
  AlreadyDone already;
  std::uint64_t rows_deleted = 0;     ///< moved rows removed from their old shards
  std::uint64_t rows_moved_late = 0;  ///< rows a stale application wrote on an old shard after cutover
  std::uint64_t rows_conflicting = 0; ///< of those, rows whose key already held a newer row on the new shard
};

struct AbortReport {
  AlreadyDone already;
  std::uint64_t rows_deleted = 0; ///< copies removed from the new shards
};

/// A progress event: work done in a phase so far.
struct Progress {
  std::string phase; ///< "plan", "copy", "apply", "cutover", "cleanup", "abort"
  std::string table;
  std::string shard;
  std::uint64_t rows = 0;  ///< rows done in this phase so far (all shards)
  std::uint64_t total = 0; ///< rows expected (an estimate; 0 when unknown)
  std::string note;        ///< e.g. "paused: replica orders/s1/r1 lags 7000 ms"
};

struct Options {
  std::size_t batch_size = 2000;      ///< rows per read page and per write statement
  std::uint64_t max_rows_per_sec = 0; ///< 0: unthrottled
  int jobs = 0;                       ///< source shards worked on at once; 0: all
  /// Copy: stop applying captured changes once fewer than this many are waiting.
  std::uint64_t backlog_target = 1000;
  /// Cutover: the longest a source shard's writes stay blocked, from the LOCK request to the
  /// release, stall or not. Every statement in that window waits at most the time left (and at
  /// most the pool's connect timeout); a participant silent for longer is given up, and what is
  /// not decided is rolled back at once.
  std::chrono::milliseconds cutover_timeout{5000};
  /// Called from worker threads (serialised by the caller's lock if it needs one).
  std::function<void(const Progress&)> on_progress;
};

/// Moves the rows of `database` whose shard changes under `target` (the same database in another
/// config), in phases, resumable after a kill at any instant. Refuses (ConfigError, nothing
/// touched) a target that changes the shard key or the sharded tables, SQLite shards, shards at
/// different migration versions, phases out of order, and a rebalance already held by another
/// process. Database failures are DbError naming the shard.
class Rebalancer {
public:
  Rebalancer(const config::Config& source, const config::Config& target, const std::string& database,
             Options options = {});
  ~Rebalancer();
  Rebalancer(const Rebalancer&) = delete;
  Rebalancer& operator=(const Rebalancer&) = delete;

  /// What would move; reads only.
  PlanReport plan();
  /// Installs change capture (first run), copies the moving rows, applies captured changes until
  /// the backlog is under Options::backlog_target. Re-running resumes from the checkpoints.
  CopyReport copy();
  /// Per source shard, in one two-phase commit with its targets: blocks writes, applies the last
  /// changes, installs the fence. Re-running finishes what an interrupted run left.
  CutoverReport cutover();
  /// After cutover: removes moved rows from their old shards, moves what stale applications wrote
  /// there since, and drops every object grant installed.
  CleanupReport cleanup();
  /// Before cutover: removes the copies and every object grant installed.
  AbortReport abort();
  StatusReport status();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// The SQLSTATE a fenced write fails with (an application may reload its config on it).
inline constexpr const char* k_fence_sqlstate = "GR001";

} // namespace grant::rebalance
