#pragma once

#include <grant/health/monitor.hpp>
#include <grant/serve/view.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace grant::serve {

class HttpListener;

/// Where to listen: "127.0.0.1:8433", "[::1]:8433", "0.0.0.0:8433"; port 0 picks a free one.
struct ListenAddress {
  std::string host = "127.0.0.1";
  int port = 8433;

  /// "HOST:PORT" with brackets around an IPv6 host.
  std::string text() const;
};

/// Parses "HOST:PORT" ("[V6]:PORT" for IPv6); throws ConfigError naming `flag`.
ListenAddress parse_listen(const std::string& text, const std::string& flag = "--listen");

struct ServerOptions {
  ListenAddress listen;
  int threads = 8; ///< requests served at once (a keep-alive connection holds one while open)
};

/// The HTTP face of a health::Monitor (cpp-httplib underneath): GET and HEAD only, every answer
/// from the monitor's newest published state (see View), rendered at most once per round.
class Server {
public:
  Server(const health::Monitor& monitor, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds the listening socket and returns the port (the chosen one for port 0). Throws
  /// ConfigError when the address cannot be bound (in use, or not this machine's).
  int bind();
  /// Serves until stop(); returns at once if stop() came first.
  void run();
  /// Makes run() return once the requests under way are answered. Safe from any thread,
  /// before, during or after run().
  void stop();

  /// The view of the monitor's newest state (what a request would be answered from).
  std::shared_ptr<const View> view() const;

private:
  const health::Monitor& m_monitor;
  ServerOptions m_options;
  std::unique_ptr<HttpListener> m_http; ///< cpp-httplib behind serve/http.hpp
  mutable std::mutex m_view_mutex;
  mutable std::shared_ptr<const View> m_view;
  mutable std::uint64_t m_view_generation = 0; ///< the monitor's published() count m_view was made from
  std::uint64_t m_id;                          ///< unique per Server in the process (the per-thread cache's key)
  std::atomic<bool> m_stop_requested{false};
  std::atomic<bool> m_in_run{false};
  std::atomic<bool> m_finished{false};
};

} // namespace grant::serve
