#pragma once

#include <grant/route/strategy.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace grant::route {

/// Where a writer's log stood after a write, as a sequence number per replication stream:
/// PostgreSQL's WAL position is one stream (key 0, the LSN); MariaDB's GTID position one per
/// replication domain (domain -> sequence number). A replica has a write when it is at or past
/// every stream's number.
using Position = std::map<std::uint64_t, std::uint64_t>;

/// A writer's or a replica's position as its engine prints it ("16/B374D848", "0-1-42,1-3-7");
/// nullopt when it is neither, or names no stream (a server without a binary log).
std::optional<Position> parse_position(std::string_view text);
/// True when `have` is at or past `wanted` in every stream `wanted` names.
bool reached(const Position& wanted, const Position& have);

/// The recent writes a Router remembers, one token per database/shard, so that a read after a
/// write sees it. A token holds the write's log position (lsn mode, when it could be read) and/or
/// the end of a time window (window mode, or lsn mode when the position is unknown). A read is
/// kept on the writer while the window is open, or while the replica it would go to has not
/// replayed the position. A token is dropped once its window has passed and every replica of the
/// balancer has been seen past its position. Thread-safe.
class RecentWrites {
public:
  using Clock = std::chrono::steady_clock;

  struct Token {
    std::optional<Position> position;       ///< the writer's position after the write(s)
    std::optional<Clock::time_point> until; ///< window: reads stay on the writer before this
    ReplicaSet caught_up = 0;               ///< replicas seen past `position`
  };

  /// Records a write; `position` empty: unknown, the window applies. The token's position becomes
  /// the later of the two in each stream (a write noted late never moves it back), and who had
  /// caught up is forgotten when it moved; the window restarts.
  void note(const std::string& key, std::optional<Position> position, std::optional<Clock::time_point> until);
  /// The token for `key` at `now`, dropping it first when nothing is left to wait for (`all`:
  /// every replica of the balancer).
  std::optional<Token> current(const std::string& key, Clock::time_point now, ReplicaSet all);
  /// Replica `replica` has replayed up to `replayed`.
  void caught_up(const std::string& key, const Position& replayed, std::size_t replica, ReplicaSet all);

  std::size_t size() const;

private:
  static bool settled(const Token& token, Clock::time_point now, ReplicaSet all);

  mutable std::mutex m_mutex;
  std::map<std::string, Token> m_tokens;
};

} // namespace grant::route
