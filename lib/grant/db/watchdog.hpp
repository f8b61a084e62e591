#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace grant::db {

/// One background thread that runs a callback once its deadline passes, unless it is disarmed
/// first: how a call blocked on a server that went silent is given up (the callback breaks the
/// session's socket). Started on first use.
class Watchdog {
public:
  using Id = std::uint64_t;

  static Watchdog& instance();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Runs `on_expiry` (which must be quick and must not throw) at `deadline`.
  Id arm(std::chrono::steady_clock::time_point deadline, std::function<void()> on_expiry);
  /// Once it returns, the callback of `id` is not running and never will.
  void disarm(Id id) noexcept;

private:
  Watchdog() = default;
  void loop();

  struct Entry {
    std::chrono::steady_clock::time_point deadline;
    std::function<void()> on_expiry;
  };
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::map<Id, Entry> m_entries;
  Id m_next = 1;
  bool m_stop = false;
  std::thread m_thread;
};

/// Arms the watchdog for the life of a scope; `timeout` zero arms nothing.
class Deadline {
public:
  Deadline(std::chrono::milliseconds timeout, std::function<void()> on_expiry);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

private:
  Watchdog::Id m_id = 0;
};

} // namespace grant::db
