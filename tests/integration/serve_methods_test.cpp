// serve::Server refuses every method but GET and HEAD with 405 and `Allow: GET, HEAD`, at once,
// whether the request carries a body or not, and the connection stays usable after a refusal.
// Raw requests over a socket: an HTTP client library would add the Content-Length that curl -X
// POST leaves out.
#include <grant/config/load.hpp>
#include <grant/health/monitor.hpp>
#include <grant/serve/server.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_serve_methods_test {

using namespace grant;

namespace {

class Running {
public:
  explicit Running(const health::Monitor& monitor) : m_server(monitor, {{"127.0.0.1", 0}, 2}) {
    m_port = m_server.bind();
    m_thread = std::thread([this] { m_server.run(); });
  }
  ~Running() {
    m_server.stop();
    m_thread.join();
  }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;
  int port() const { return m_port; }

private:
  serve::Server m_server;
  int m_port = 0;
  std::thread m_thread;
};

struct Answer {
  std::string head; ///< status line and headers
  std::string body;
};

// One connection: sends each request once the answer to the one before it is in (httplib does
// not take pipelined requests), and reads its answer (a body by its Content-Length; a HEAD answer
// has none) within 2 s. Fewer answers than requests when the server stops answering.
std::vector<Answer> exchange(int port, const std::vector<std::string>& requests, bool head = false) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  std::string received;
  const auto more = [&] {
    char buffer[4096];
    const auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      received.append(buffer, static_cast<std::size_t>(n));
    }
    return n > 0;
  };
  std::vector<Answer> answers;
  for (const auto& request : requests) {
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      break;
    }
    auto end = received.find("\r\n\r\n");
    while (end == std::string::npos && more()) {
      end = received.find("\r\n\r\n");
    }
    if (end == std::string::npos) {
      break;
    }
    Answer answer{received.substr(0, end + 2), {}};
    received.erase(0, end + 4);
    const auto at = answer.head.find("Content-Length: ");
    const auto length = at == std::string::npos || head ? 0 : std::stoul(answer.head.substr(at + 16));
    while (received.size() < length && more()) {
    }
    answer.body = received.substr(0, length);
    received.erase(0, length);
    answers.push_back(answer);
  }
  ::close(fd);
  return answers;
}

std::string status_line(const Answer& answer) {
  return answer.head.substr(0, answer.head.find("\r\n"));
}

} // namespace

TEST_CASE("serve: every method but GET and HEAD is 405 at once, with or without a body") {
  test::TempDir dir;
  const std::string json = R"({"databases": {"app": {"url": "sqlite3:app.sqlite3"}}})";
  const auto config = config::parse(json, dir.write("grant.json", json), config::process_env());
  health::Monitor monitor({&config.databases.front()}, {});
  const Running serve(monitor);

  const std::string body = R"({"x": 1})";
  const std::string length = "Content-Length: " + std::to_string(body.size()) + "\r\n";
  SUBCASE("each method, each way of sending a body or none") {
    for (const std::string method : {"POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND", "FOO"}) {
      for (const auto& [case_name, request] : std::vector<std::pair<std::string, std::string>>{
               {"no body", method + " /health HTTP/1.1\r\nHost: x\r\n\r\n"},
               {"Content-Length: 0", method + " /writer/app HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
               {"a body", method + " /health HTTP/1.1\r\nHost: x\r\n" + length + "\r\n" + body},
               {"a chunked body", method + " /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n" +
                                      body + "\r\n0\r\n\r\n"},
               {"a body over the limit",
                method + " /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + std::string(1000, 'x')}}) {
        const auto& what = case_name; // CAPTURE's lambda cannot name a structured binding under clang 14
        CAPTURE(method);
        CAPTURE(what);
        const auto start = std::chrono::steady_clock::now();
        const auto answers = exchange(serve.port(), {request});
        REQUIRE(answers.size() == 1);
        CHECK(status_line(answers[0]) == "HTTP/1.1 405 Method Not Allowed");
        CHECK(test::contains(answers[0].head, "\r\nAllow: GET, HEAD\r\n"));
        CHECK(answers[0].body == "{\"error\":\"grant serve is read-only: GET or HEAD only\"}\n");
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1)); // not after a read timeout
      }
    }
  }
  SUBCASE("a keep-alive connection answers the next request after a refused one") {
    for (const std::string& refused : std::vector<std::string>{
             "POST /health HTTP/1.1\r\nHost: x\r\n\r\n", "PUT /health HTTP/1.1\r\nHost: x\r\n" + length + "\r\n" + body,
             "DELETE /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
             "FOO /health HTTP/1.1\r\nHost: x\r\n\r\n"}) {
      CAPTURE(refused);
      const auto answers = exchange(serve.port(), {refused, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"});
      REQUIRE(answers.size() == 2);
      CHECK(status_line(answers[0]) == "HTTP/1.1 405 Method Not Allowed");
      CHECK(status_line(answers[1]) == "HTTP/1.1 404 Not Found");
    }
  }
  SUBCASE("GET and HEAD still answer") {
    const auto get = exchange(serve.port(), {"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"});
    REQUIRE(get.size() == 1);
    CHECK(status_line(get[0]) == "HTTP/1.1 404 Not Found");
    const auto head = exchange(serve.port(), {"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"}, true);
    REQUIRE(head.size() == 1);
    CHECK(status_line(head[0]) == "HTTP/1.1 503 Service Unavailable"); // nothing checked yet
  }
}

} // namespace grant_test_serve_methods_test
