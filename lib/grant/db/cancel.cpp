#include <grant/db/cancel.hpp>

#include <grant/db/connection.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace grant::db::cancel {

struct Running::Entry {
  std::mutex mutex; ///< held while a cancel request is sent: ~Running waits for it
  Connection* connection = nullptr;
  int sent = 0;
  std::chrono::steady_clock::time_point last{};
};

namespace {

// A cancel request that reached the server before the statement did is lost: send another
// while the statement keeps running.
constexpr auto k_resend_after = std::chrono::seconds(1);
constexpr auto k_sweep_every = std::chrono::milliseconds(100);

std::atomic<int> g_signal{0};
std::atomic<int> g_signals_seen{0};
std::atomic<int> g_pipe_write{-1};
thread_local int t_shield = 0;

struct State {
  std::mutex mutex;
  std::condition_variable wake; ///< for sleep_for
  std::vector<std::shared_ptr<Running::Entry>> running;
  std::once_flag canceller;
  std::once_flag watcher;
};

// Never destroyed: the detached threads may still use it while the process exits.
State& state() {
  static auto* instance = new State;
  return *instance;
}

void sweep() {
  std::vector<std::shared_ptr<Running::Entry>> running;
  {
    std::lock_guard guard(state().mutex);
    running = state().running;
  }
  for (const auto& entry : running) {
    std::lock_guard guard(entry->mutex);
    const auto now = std::chrono::steady_clock::now();
    if (entry->connection != nullptr && (entry->sent == 0 || now - entry->last >= k_resend_after)) {
      entry->connection->cancel();
      ++entry->sent;
      entry->last = now;
    }
  }
}

void forget(Running::Entry& entry) {
  {
    std::lock_guard guard(state().mutex);
    auto& running = state().running;
    running.erase(
        std::remove_if(running.begin(), running.end(), [&](const auto& item) { return item.get() == &entry; }),
        running.end());
  }
  std::lock_guard guard(entry.mutex); // waits for a cancel request being sent to it
  entry.connection = nullptr;
}

[[noreturn]] void throw_interrupted(std::string_view target) {
  throw Interrupted("interrupted by " + signal_name(requested()) + ": not started on " + std::string(target),
                    std::string(target));
}

} // namespace

int notify_from_signal(int signal) noexcept {
  const int seen = ++g_signals_seen;
  if (const int fd = g_pipe_write.load(); fd >= 0) {
    const int saved = errno;
    const auto byte = static_cast<unsigned char>(signal);
    [[maybe_unused]] const auto written = ::write(fd, &byte, 1);
    errno = saved;
  }
  return seen;
}

void start_watcher() {
  std::call_once(state().watcher, [] {
    int fds[2] = {-1, -1};
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw Error(ErrorKind::database, "cannot create the pipe that carries signals to grant's watcher thread");
    }
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    g_pipe_write = fds[1];
    std::thread([read_end = fds[0]] {
      unsigned char byte = 0;
      while (true) {
        const auto got = ::read(read_end, &byte, 1);
        if (got == 1) {
          request(byte);
        } else if (got == 0 || errno != EINTR) {
          return;
        }
      }
    }).detach();
  });
}

void request(int signal) noexcept {
  int none = 0;
  if (!g_signal.compare_exchange_strong(none, signal)) {
    return;
  }
  try {
    { std::lock_guard guard(state().mutex); }
    state().wake.notify_all();
    std::call_once(state().canceller, [] {
      std::thread([] {
        while (true) {
          sweep();
          std::this_thread::sleep_for(k_sweep_every);
        }
      }).detach();
    });
  } catch (...) {
    // No thread to send cancel requests: new statements are still refused.
  }
}

int requested() noexcept {
  return g_signal.load();
}

std::string signal_name(int signal) {
  switch (signal) {
  case SIGINT:
    return "SIGINT";
  case SIGTERM:
    return "SIGTERM";
  default:
    return "signal " + std::to_string(signal);
  }
}

void check(std::string_view target) {
  if (requested() != 0 && !shielded()) {
    throw_interrupted(target);
  }
}

void sleep_for(std::chrono::milliseconds duration, std::string_view target) {
  if (shielded()) {
    std::this_thread::sleep_for(duration);
    return;
  }
  {
    std::unique_lock lock(state().mutex);
    state().wake.wait_for(lock, duration, [] { return requested() != 0; });
  }
  check(target);
}

Running::Running(Connection& connection) {
  if (shielded()) {
    return;
  }
  auto entry = std::make_shared<Entry>();
  entry->connection = &connection;
  {
    std::lock_guard guard(state().mutex);
    state().running.push_back(entry);
  }
  m_entry = std::move(entry);
  // After registering: a request from now on reaches this statement through the sweep.
  if (requested() != 0) {
    forget(*m_entry);
    m_entry.reset();
    throw_interrupted(connection.target());
  }
}

Running::~Running() {
  if (m_entry) {
    forget(*m_entry);
  }
}

Shield::Shield() noexcept {
  ++t_shield;
}

Shield::~Shield() {
  --t_shield;
}

bool shielded() noexcept {
  return t_shield > 0;
}

} // namespace grant::db::cancel
