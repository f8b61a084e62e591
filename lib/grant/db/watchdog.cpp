#include <grant/db/watchdog.hpp>

namespace grant::db {

Watchdog& Watchdog::instance() {
  static Watchdog watchdog;
  return watchdog;
}

Watchdog::~Watchdog() {
  {
    std::lock_guard guard(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

Watchdog::Id Watchdog::arm(std::chrono::steady_clock::time_point deadline, std::function<void()> on_expiry) {
  Id id = 0;
  {
    std::lock_guard guard(m_mutex);
    if (!m_thread.joinable()) {
      m_thread = std::thread([this] { loop(); });
    }
    id = m_next++;
    m_entries.emplace(id, Entry{deadline, std::move(on_expiry)});
  }
  m_wake.notify_all();
  return id;
}

void Watchdog::disarm(Id id) noexcept {
  // Callbacks run under the mutex: taking it here waits for one that is running.
  std::lock_guard guard(m_mutex);
  m_entries.erase(id);
}

void Watchdog::loop() {
  std::unique_lock lock(m_mutex);
  while (!m_stop) {
    if (m_entries.empty()) {
      m_wake.wait(lock);
      continue;
    }
    auto first = m_entries.begin();
    for (auto entry = m_entries.begin(); entry != m_entries.end(); ++entry) {
      if (entry->second.deadline < first->second.deadline) {
        first = entry;
      }
    }
    // A copy: wait_until lets go of the mutex, and a disarm() meanwhile frees the entry (and
    // with it a deadline passed by reference; ThreadSanitizer found that use after free).
    const auto deadline = first->second.deadline;
    if (std::chrono::steady_clock::now() < deadline) {
      m_wake.wait_until(lock, deadline);
      continue;
    }
    const auto on_expiry = std::move(first->second.on_expiry);
    m_entries.erase(first);
    on_expiry();
  }
}

Deadline::Deadline(std::chrono::milliseconds timeout, std::function<void()> on_expiry) {
  if (timeout.count() > 0) {
    m_id = Watchdog::instance().arm(std::chrono::steady_clock::now() + timeout, std::move(on_expiry));
  }
}

Deadline::~Deadline() {
  if (m_id != 0) {
    Watchdog::instance().disarm(m_id);
  }
}

} // namespace grant::db
