#include <grant/migrate/blockers.hpp>

#include <cstdio>

namespace grant::migrate {

std::string Blocker::describe() const {
  std::string out = "pid " + std::to_string(pid);
  if (!application.empty()) {
    out += " (" + application + ")";
  }
  if (!user.empty()) {
    out += " user " + user;
  }
  if (transaction_seconds >= 0) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", transaction_seconds);
    out += ", transaction open for " + std::string(seconds) + " s";
  }
  if (!state.empty()) {
    out += ", " + state;
  }
  if (!query.empty()) {
    out += ", query: " + query;
  }
  return out;
}

BlockerWatch::BlockerWatch(util::DatabaseUrl url, std::string target, int pid, std::chrono::milliseconds after)
    : m_url(std::move(url)), m_target(std::move(target)), m_pid(pid),
      m_after(std::max(after, std::chrono::milliseconds(5))), m_thread([this] { loop(); }) {}

BlockerWatch::~BlockerWatch() {
  {
    std::lock_guard guard(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  m_thread.join();
}

void BlockerWatch::statement_started() {
  {
    std::lock_guard guard(m_mutex);
    m_running = true;
    ++m_generation;
  }
  m_wake.notify_all();
}

void BlockerWatch::statement_finished() {
  std::lock_guard guard(m_mutex);
  m_running = false;
}

std::optional<Blocker> BlockerWatch::last() const {
  std::lock_guard guard(m_mutex);
  return m_last;
}

void BlockerWatch::loop() {
  std::unique_ptr<db::Connection> session;
  std::unique_lock lock(m_mutex);
  while (!m_stop) {
    m_wake.wait(lock, [&] { return m_stop || m_running; });
    const auto generation = m_generation;
    // Wait until this statement has run for `after`; a new statement restarts the clock.
    if (m_wake.wait_for(lock, m_after, [&] { return m_stop || !m_running || m_generation != generation; })) {
      continue;
    }
    lock.unlock();
    std::optional<Blocker> found;
    try {
      if (!session) {
        session = db::connect(m_url, {m_target + " (lock watch)", 2000, "grant lock watch"});
      }
      if (const auto session_found = session->engine().blocker_of(*session, m_pid)) {
        found = Blocker{*session_found};
      }
    } catch (const Error&) {
      session.reset(); // best effort: the migration's own error is what matters
    }
    lock.lock();
    if (found) {
      m_last = found;
    }
    // Look again after another `after` while the same statement still waits.
    m_wake.wait_for(lock, m_after, [&] { return m_stop || !m_running || m_generation != generation; });
  }
}

} // namespace grant::migrate
