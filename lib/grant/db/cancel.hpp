#pragma once

#include <grant/error.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace grant::db {

class Connection;

/// Work stopped by SIGINT or SIGTERM: what ran was cancelled on its server and rolled back.
/// Not a DbError, so that the handlers of database failures (retries, fallbacks) let it pass.
class Interrupted : public Error {
public:
  explicit Interrupted(std::string what, std::string where = {}, std::string hint = {})
      : Error(ErrorKind::interrupted, std::move(what), std::move(where), std::move(hint)) {}
};

/// Process-wide cancellation of what runs on the servers (Ctrl-C, SIGTERM). A statement
/// registers while it runs (Running); once cancellation is requested, every registered statement
/// gets a cancel request (PostgreSQL: the protocol's CancelRequest; SQLite: sqlite3_interrupt),
/// again while it keeps running, and every new statement or connection outside a Shield throws
/// Interrupted. The normal error paths then roll back and release locks, inside Shields.
namespace cancel {

/// The signal handler's whole job, async-signal-safe: records `signal` and wakes the thread of
/// start_watcher(), which calls request(). Returns how many signals came so far (1: the first).
int notify_from_signal(int signal) noexcept;

/// Starts the thread that turns notify_from_signal() into request(); call it before installing
/// the handler. Idempotent.
void start_watcher();

/// Requests cancellation (the first signal wins). Thread-safe; not for a signal handler.
void request(int signal) noexcept;

/// The signal that requested cancellation; 0 when none did.
int requested() noexcept;

/// "SIGINT", "SIGTERM", else "signal N".
std::string signal_name(int signal);

/// Throws Interrupted when cancellation was requested and the thread is not in a Shield;
/// `target` names what was refused ("orders/s1").
void check(std::string_view target);

/// Sleeps for `duration`, less when cancellation is requested meanwhile (then throws as check()).
void sleep_for(std::chrono::milliseconds duration, std::string_view target);

/// Makes one statement on `connection` cancellable for the scope (nothing inside a Shield).
/// Throws Interrupted, registering nothing, when cancellation was already requested.
class Running {
public:
  explicit Running(Connection& connection);
  ~Running();
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;

  struct Entry;

private:
  std::shared_ptr<Entry> m_entry;
};

/// Cleanup that must run after a cancellation (ROLLBACK, releasing a lock, reading what was
/// done): statements of this thread in its scope are neither refused nor cancelled.
class Shield {
public:
  Shield() noexcept;
  ~Shield();
  Shield(const Shield&) = delete;
  Shield& operator=(const Shield&) = delete;
};

bool shielded() noexcept;

} // namespace cancel

} // namespace grant::db
