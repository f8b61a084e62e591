#include <grant/serve/server.hpp>

#include <grant/error.hpp>
#include <grant/serve/http.hpp>

#include <algorithm>
#include <charconv>
#include <thread>

namespace grant::serve {

std::string ListenAddress::text() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

ListenAddress parse_listen(const std::string& text, const std::string& flag) {
  const auto bad = [&](const std::string& why) {
    return ConfigError("bad listen address '" + text + "': " + why, flag,
                       "write HOST:PORT, e.g. 127.0.0.1:8433, [::1]:8433 or 0.0.0.0:8433");
  };
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw bad("no host and port");
  }
  ListenAddress out;
  out.host = text.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  } else if (out.host.find(':') != std::string::npos) {
    throw bad("put an IPv6 host in brackets");
  }
  const auto port_text = text.substr(colon + 1);
  const auto* end = port_text.data() + port_text.size();
  const auto [ptr, error] = std::from_chars(port_text.data(), end, out.port);
  if (out.host.empty() || port_text.empty() || error != std::errc{} || ptr != end || out.port < 0 || out.port > 65535) {
    throw bad("the port must be a number from 0 to 65535");
  }
  return out;
}

namespace {

// Not the address: a Server made where a destroyed one was must not find that one's cache.
std::uint64_t next_server_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}

} // namespace

Server::Server(const health::Monitor& monitor, ServerOptions options)
    : m_monitor(monitor), m_options(std::move(options)), m_id(next_server_id()) {
  m_http = make_http_listener(
      [this](const std::string& path, std::optional<std::string_view> lag) { return view()->answer(path, lag); },
      m_options.threads);
}

Server::~Server() {
  stop();
}

int Server::bind() {
  const auto& listen = m_options.listen;
  const int port = m_http->bind(listen.host, listen.port);
  if (port <= 0) {
    throw ConfigError("cannot listen on " + listen.text() +
                          ": the port is in use or the host is not an address of this machine",
                      "--listen", "pick another with --listen HOST:PORT (port 0 picks a free one)");
  }
  return port;
}

void Server::run() {
  m_in_run = true;
  if (!m_stop_requested) {
    m_http->listen();
  }
  m_finished = true;
}

void Server::stop() {
  m_stop_requested = true;
  // listen_after_bind() ignores a stop() that comes before it is running: repeat until it returns.
  while (m_in_run && !m_finished) {
    m_http->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::shared_ptr<const View> Server::view() const {
  // The hot path takes no lock: each request thread keeps the view it used last and only asks
  // for a new one when the monitor has published since (once a round). Locks held by a thread
  // the scheduler preempts would otherwise stall every request behind it on a busy machine.
  struct Cached {
    std::uint64_t server = 0;
    std::uint64_t generation = 0;
    std::shared_ptr<const View> view;
  };
  thread_local Cached cached;
  const auto generation = m_monitor.published();
  if (cached.server == m_id && cached.generation == generation && cached.view) {
    return cached.view;
  }
  std::lock_guard lock(m_view_mutex);
  if (!m_view || m_view_generation != generation) {
    // state() may already be newer than `generation`; then the next request renders again.
    m_view = std::make_shared<View>(m_monitor.state());
    m_view_generation = generation;
  }
  cached = {m_id, m_view_generation, m_view};
  return m_view;
}

} // namespace grant::serve
