#pragma once

#include <grant/route/strategy.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace grant::route {

/// The recent writes a Router remembers, one token per database/shard, so that a read after a
/// write sees it. A token holds the write's WAL position (lsn mode, when it could be read) and/or
/// the end of a time window (window mode, or lsn mode when the position is unknown). A read is
/// kept on the writer while the window is open, or while the replica it would go to has not
/// replayed the position. A token is dropped once its window has passed and every replica of the
/// balancer has been seen past its position. Thread-safe.
class RecentWrites {
public:
  using Clock = std::chrono::steady_clock;

  struct Token {
    std::optional<std::uint64_t> lsn;       ///< the writer's pg_current_wal_lsn() after the write
    std::optional<Clock::time_point> until; ///< window: reads stay on the writer before this
    ReplicaSet caught_up = 0;               ///< replicas seen past `lsn`
  };

  /// Records a write; `lsn` empty: unknown, the window applies. A later write replaces the
  /// position (WAL positions only grow) and restarts the window.
  void note(const std::string& key, std::optional<std::uint64_t> lsn, std::optional<Clock::time_point> until);
  /// The token for `key` at `now`, dropping it first when nothing is left to wait for (`all`:
  /// every replica of the balancer).
  std::optional<Token> current(const std::string& key, Clock::time_point now, ReplicaSet all);
  /// Replica `replica` has replayed the WAL up to `replayed`.
  void caught_up(const std::string& key, std::uint64_t replayed, std::size_t replica, ReplicaSet all);

  std::size_t size() const;

private:
  static bool settled(const Token& token, Clock::time_point now, ReplicaSet all);

  mutable std::mutex m_mutex;
  std::map<std::string, Token> m_tokens;
};

} // namespace grant::route
