#include <grant/health/lag.hpp>

#include <grant/util/gtid.hpp>

#include <algorithm>

namespace grant::health {

std::string_view lag_state_name(LagState state) {
  switch (state) {
  case LagState::ok:
    return "ok";
  case LagState::lagging:
    return "lagging";
  case LagState::unknown:
    break;
  }
  return "unknown";
}

Lag replica_lag(const Probe& writer, const Probe& replica, int max_lag_ms) {
  Lag lag;
  if (!writer.reachable || !replica.reachable) {
    return lag;
  }
  if (!writer.wal_lsn || !replica.wal_lsn) {
    // No byte positions (MySQL): the replica's own measure, unknown while it has none (its SQL
    // thread stopped); how many transactions it has still to replay, where GTIDs tell.
    if (writer.gtid_position && replica.gtid_position) {
      lag.transactions = util::gtid_transactions_behind(*writer.gtid_position, *replica.gtid_position);
    }
    if (replica.reported_lag_seconds) {
      lag.seconds = std::max(0.0, *replica.reported_lag_seconds);
      lag.state = *lag.seconds * 1000.0 > max_lag_ms ? LagState::lagging : LagState::ok;
    }
    return lag;
  }
  lag.bytes = *writer.wal_lsn > *replica.wal_lsn ? *writer.wal_lsn - *replica.wal_lsn : 0;
  if (*lag.bytes == 0) {
    lag.seconds = 0.0;
    lag.state = LagState::ok;
    lag.writer_unwritten = writer.wal_insert_lsn && *writer.wal_insert_lsn > *writer.wal_lsn;
    return lag;
  }
  if (!replica.replay_age_seconds) {
    return lag; // behind, but since when the replica cannot say
  }
  lag.seconds = std::max(0.0, *replica.replay_age_seconds);
  lag.state = *lag.seconds * 1000.0 > max_lag_ms ? LagState::lagging : LagState::ok;
  return lag;
}

} // namespace grant::health
