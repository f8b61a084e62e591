#include <grant/serve/http.hpp>

#include <httplib.h>

#include <charconv>
#include <string>
#include <utility>

namespace grant::serve {

namespace {

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

class HttplibListener final : public HttpListener {
public:
  HttplibListener(GetHandler handler, int threads) : m_handler(std::move(handler)) {
    m_http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    m_http.set_keep_alive_max_count(10'000);
    m_http.set_read_timeout(5, 0);
    m_http.set_write_timeout(5, 0);
    m_http.set_payload_max_length(k_max_body);
    m_http.set_tcp_nodelay(true);
    // cpp-httplib's default adds SO_REUSEPORT, which lets a second `grant serve` bind the same port
    // and take half the requests unnoticed. SO_REUSEADDR alone still allows a restart at once.
    m_http.set_socket_options([](socket_t socket) {
      int yes = 1;
      ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    m_http.Get(R"(/.*)", [this](const httplib::Request& request, httplib::Response& response) {
      std::optional<std::string_view> lag;
      const auto it = request.params.find("lag");
      if (it != request.params.end()) {
        lag = it->second;
      }
      auto answer = m_handler(request.path, lag);
      response.status = answer.status;
      response.set_header("Cache-Control", "no-store");
      response.set_content(std::move(answer.body), answer.content_type.c_str());
    });
    // Read-only: every method but GET and HEAD is refused for every path, with or without a body.
    m_http.set_pre_routing_handler(refuse_before_reading);
    m_http.Post(R"(/.*)", refuse);
    m_http.Put(R"(/.*)", refuse);
    m_http.Patch(R"(/.*)", refuse);
    m_http.Delete(R"(/.*)", refuse);
    m_http.Options(R"(/.*)", refuse);
    m_http.set_error_handler(httplib::Server::HandlerWithResponse(refuse_unknown_method));
  }

  int bind(const std::string& host, int port) override {
    if (port == 0) {
      return m_http.bind_to_any_port(host);
    }
    return m_http.bind_to_port(host, port) ? port : -1;
  }
  void listen() override { m_http.listen_after_bind(); }
  void stop() override { m_http.stop(); }

private:
  GetHandler m_handler;
  httplib::Server m_http;
};

} // namespace

std::unique_ptr<HttpListener> make_http_listener(GetHandler handler, int threads) {
  return std::make_unique<HttplibListener>(std::move(handler), threads);
}

} // namespace grant::serve
