#pragma once

#include <grant/db/connection.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace grant::migrate {

/// Keeps two grant runs on one target from interleaving, with the engine's lock
/// (db::Engine::migration_lock). PostgreSQL: a session advisory lock keyed by database +
/// tracking table. SQLite: flock() on `<file>.grant-lock`. Both vanish with the process that
/// held them, so a crash never leaves a stale lock.
class MigrationLock {
public:
  /// Called once when the lock is busy, with a description of who holds it.
  using OnWait = db::OnLockWait;

  virtual ~MigrationLock() = default;

  /// Waits up to `timeout` (zero: forever). Throws DbError when it runs out.
  static std::unique_ptr<MigrationLock> acquire(db::Connection& connection, const util::DatabaseUrl& url,
                                                const std::string& table, std::chrono::milliseconds timeout,
                                                const OnWait& on_wait);

protected:
  MigrationLock() = default;
};

} // namespace grant::migrate
