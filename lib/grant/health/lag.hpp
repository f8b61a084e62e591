#pragma once

#include <grant/health/probe.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace grant::health {

enum class LagState { ok, lagging, unknown };

/// "ok", "lagging", "unknown".
std::string_view lag_state_name(LagState state);

/// How far a replica is behind its writer's current WAL position.
struct Lag {
  LagState state = LagState::unknown;
  std::optional<std::uint64_t> bytes; ///< empty when unknown, never a guessed 0
  std::optional<double> seconds;      ///< 0 when bytes is 0: an idle writer does not make a caught-up replica late
  /// MariaDB: transactions of the writer's GTID position the replica has not replayed (also while
  /// its SQL thread is stopped and the seconds are unknown); empty elsewhere.
  std::optional<std::uint64_t> transactions;
  /// The replica has replayed all the WAL its writer has written, but the writer holds WAL it
  /// has not written out yet (commits under synchronous_commit = off, written within
  /// 3 x wal_writer_delay): not late, and not caught up with the last commit either. The state
  /// stays ok (health and routing); the rollout's gate waits for it.
  bool writer_unwritten = false;
};

/// The lag of `replica` behind `writer`, from their probes: bytes = writer's pg_current_wal_lsn()
/// - replica's pg_last_wal_replay_lsn() (clamped at 0: the two are read concurrently); seconds
/// = the replica's now() - pg_last_xact_replay_timestamp() only when bytes > 0. Unknown when
/// either is unreachable or the replica has replayed nothing; lagging past `max_lag_ms`.
Lag replica_lag(const Probe& writer, const Probe& replica, int max_lag_ms);

} // namespace grant::health
