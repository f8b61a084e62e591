#include <grant/serve/server.hpp>

#include <grant/error.hpp>

#include <httplib.h>

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

constexpr std::size_t k_max_body = 64 * 1024; // nothing here reads a body: a small bound

void refuse(const httplib::Request&, httplib::Response& response) {
  response.status = 405;
  response.set_header("Allow", "GET, HEAD");
  response.set_content("{\"error\":\"grant serve is read-only: GET or HEAD only\"}\n", "application/json");
}

bool is_read(const httplib::Request& request) {
  return request.method == "GET" || request.method == "HEAD";
}

// httplib reads the body of these methods before routing (one without Content-Length until the
// client closes, then answers 400); the others' bodies it leaves unread.
bool body_read_by_httplib(const httplib::Request& request) {
  return request.method == "POST" || request.method == "PUT" || request.method == "PATCH" || request.method == "DELETE";
}

// A refused request is answered before its body is waited for, unless httplib will read a body
// that is there anyway (so that the next request on the connection starts where it should).
httplib::Server::HandlerResponse refuse_before_reading(const httplib::Request& request, httplib::Response& response) {
  if (is_read(request)) {
    return httplib::Server::HandlerResponse::Unhandled;
  }
  const bool chunked = request.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
  const auto length_text = request.get_header_value("Content-Length");
  std::size_t length = 0;
  const bool number =
      std::from_chars(length_text.data(), length_text.data() + length_text.size(), length).ec == std::errc{};
  const bool body = chunked || (!length_text.empty() && (!number || length > 0));
  if (body && body_read_by_httplib(request) && (chunked || (number && length <= k_max_body))) {
    return httplib::Server::HandlerResponse::Unhandled;
  }
  refuse(request, response);
  if (body) {
    response.set_header("Connection", "close"); // its body stays unread
  }
  return httplib::Server::HandlerResponse::Handled;
}

// A method httplib does not know (FOO, PROPFIND) fails its request-line check with 400: it is
// still a method other than GET or HEAD.
httplib::Server::HandlerResponse refuse_unknown_method(const httplib::Request& request, httplib::Response& response) {
  const bool token = !request.method.empty() && std::all_of(request.method.begin(), request.method.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
  });
  if (response.status != 400 || !token || is_read(request) || !response.body.empty()) {
    return httplib::Server::HandlerResponse::Unhandled;
  }
  refuse(request, response);
  return httplib::Server::HandlerResponse::Handled;
}

} // namespace

Server::Server(const health::Monitor& monitor, ServerOptions options)
    : m_monitor(monitor), m_options(std::move(options)), m_http(std::make_unique<httplib::Server>()),
      m_id(next_server_id()) {
  const int threads = m_options.threads;
  m_http->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  m_http->set_keep_alive_max_count(10'000);
  m_http->set_read_timeout(5, 0);
  m_http->set_write_timeout(5, 0);
  m_http->set_payload_max_length(k_max_body);
  m_http->set_tcp_nodelay(true);
  // cpp-httplib's default adds SO_REUSEPORT, which lets a second `grant serve` bind the same port
  // and take half the requests unnoticed. SO_REUSEADDR alone still allows a restart at once.
  m_http->set_socket_options([](socket_t socket) {
    int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  m_http->Get(R"(/.*)", [this](const httplib::Request& request, httplib::Response& response) {
    std::optional<std::string_view> lag;
    const auto it = request.params.find("lag");
    if (it != request.params.end()) {
      lag = it->second;
    }
    auto answer = view()->answer(request.path, lag);
    response.status = answer.status;
    response.set_header("Cache-Control", "no-store");
    response.set_content(std::move(answer.body), answer.content_type.c_str());
  });
  // Read-only: every method but GET and HEAD is refused for every path, with or without a body.
  m_http->set_pre_routing_handler(refuse_before_reading);
  m_http->Post(R"(/.*)", refuse);
  m_http->Put(R"(/.*)", refuse);
  m_http->Patch(R"(/.*)", refuse);
  m_http->Delete(R"(/.*)", refuse);
  m_http->Options(R"(/.*)", refuse);
  m_http->set_error_handler(httplib::Server::HandlerWithResponse(refuse_unknown_method));
}

Server::~Server() {
  stop();
}

int Server::bind() {
  const auto& listen = m_options.listen;
  const int port = listen.port == 0 ? m_http->bind_to_any_port(listen.host)
                                    : (m_http->bind_to_port(listen.host, listen.port) ? listen.port : -1);
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
    m_http->listen_after_bind();
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
