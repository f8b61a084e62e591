#pragma once

#include <grant/db/engine.hpp>

#include <grant/db/connection.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace grant::migrate {

/// A session that held a lock a migration waited for (from pg_blocking_pids()).
struct Blocker : db::BlockingSession {
  std::string describe() const;
};

/// Watches one PostgreSQL session while a migration runs on it: once a statement has waited
/// `after`, a second session asks the server who blocks it, again every `after`, and keeps the
/// latest answer. Nothing is opened while statements finish quickly. Once the lock timeout
/// strikes, the blocker may already be gone from pg_locks; the watcher saw it while it held on.
class BlockerWatch {
public:
  BlockerWatch(util::DatabaseUrl url, std::string target, int pid, std::chrono::milliseconds after);
  ~BlockerWatch();
  BlockerWatch(const BlockerWatch&) = delete;
  BlockerWatch& operator=(const BlockerWatch&) = delete;

  /// A statement starts / has ended on the watched session.
  void statement_started();
  void statement_finished();
  std::optional<Blocker> last() const;

private:
  void loop();

  util::DatabaseUrl m_url;
  std::string m_target;
  int m_pid;
  std::chrono::milliseconds m_after;
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  bool m_running = false; ///< a statement is running
  std::uint64_t m_generation = 0;
  std::optional<Blocker> m_last;
  std::thread m_thread;
};

} // namespace grant::migrate
