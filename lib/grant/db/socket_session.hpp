#pragma once
// What the adapters that talk to a server over a socket share (postgres.cpp, mysql.cpp): a
// session given up for good once it broke, was interrupted or went silent; interrupt() from
// another thread; the look that tells an idle session is still there; a statement's reply bound.
// Internal to those adapters, not installed.

#include <grant/db/cancel.hpp>
#include <grant/db/connection.hpp>
#include <grant/db/watchdog.hpp>

#include <atomic>
#include <string>
#include <string_view>

#include <poll.h>
#include <sys/socket.h>

namespace grant::db {

class SocketSession : public Connection {
public:
  using Connection::Connection;

  void interrupt() noexcept override {
    m_interrupted = true; // whatever it was doing, the session is not handed out again
    if (const int socket = m_socket.load(); socket >= 0) {
      ::shutdown(socket, SHUT_RDWR); // the blocked read sees end of file: the client library reports the loss
    }
  }

  bool check_idle() noexcept override {
    if (!is_usable()) {
      return false;
    }
    // Between statements the server has nothing to say; a readable socket is a session the server
    // is closing (a restart's "terminating connection", then end of file) or has closed.
    pollfd waiting{m_socket.load(), POLLIN, 0};
    if (::poll(&waiting, 1, 0) != 0) {
      m_broken = true;
      return false;
    }
    return true;
  }

protected:
  /// Runs `body` (one statement's round trip) with the reply timeout armed and Ctrl-C able to
  /// cancel it. A session lost earlier is refused; one the watchdog gave up gets the error that
  /// says so.
  template <typename Body> void bounded(std::string_view sql, Body&& body) {
    if (m_broken || m_interrupted) {
      throw DbError("connection to " + target() + " was lost earlier", {target(), std::string(sql), {}, 0, true, 0},
                    "reconnect and retry");
    }
    const auto bound = reply_timeout();
    const cancel::Running running(*this);
    try {
      const Deadline deadline(bound, [this] {
        m_timed_out = true;
        interrupt();
      });
      body();
    } catch (const DbError&) {
      if (m_timed_out) {
        m_broken = true;
        throw DbError("no reply from " + target() + " within " + std::to_string(bound.count()) +
                          " ms; the session was given up (the server or the network went silent)",
                      {target(), std::string(sql), {}, 0, true, 0},
                      "check the server and the network path to it, then re-run");
      }
      throw;
    }
  }

  std::atomic<int> m_socket{-1}; ///< for interrupt() from another thread
  std::atomic<bool> m_interrupted{false};
  std::atomic<bool> m_timed_out{false}; ///< the reply timeout broke the session
  bool m_broken = false;
};

} // namespace grant::db
