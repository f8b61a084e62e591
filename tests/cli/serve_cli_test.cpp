// `grant serve` as a process: it listens, answers from its monitor, prints availability changes,
// stops cleanly on SIGTERM, and refuses bad listen addresses with exit 2.
#include "support/serve_process.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <regex>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_serve_cli_test {

namespace test = grant::test;
using test::answers;
using test::ServeProcess;
using test::wait_for;
using namespace std::chrono_literals;

namespace {

// Sends `request` as it is (what `curl -X POST URL` sends: no Content-Length, no body) and
// returns the answer (head and Content-Length bytes of body), or what came within 3 s.
std::string raw_exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  char buffer[4096];
  const auto complete = [&] {
    const auto end = answer.find("\r\n\r\n");
    const auto length = answer.find("Content-Length: ");
    return end != std::string::npos && length != std::string::npos &&
           answer.size() >= end + 4 + std::stoul(answer.substr(length + 16));
  };
  for (ssize_t n = 0; !complete() && (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) {
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

void write_config(const test::TempDir& dir) {
  dir.write("grant.json", R"({"databases": {"analytics": {"url": ")" + test::writer_url() +
                              R"(", "replicas": [{"name": "r1", "url": ")" + test::replica_url() +
                              R"("}, {"name": "gone", "url": "postgres://grant:Hidden-Pw-9@127.0.0.1:1/x"}]}}})");
}

} // namespace

TEST_CASE("cli::serve answers, prints changes and stops on SIGTERM with exit 0") {
  test::TempDir dir;
  write_config(dir);
  ServeProcess serve(dir, {});
  CHECK(answers(serve.port(), "/writer/analytics", 200));
  CHECK(answers(serve.port(), "/replica/analytics/r1", 200));
  CHECK(answers(serve.port(), "/replica/analytics/gone", 503));
  CHECK(answers(serve.port(), "/health", 503)); // "gone" is down
  CHECK(answers(serve.port(), "/nowhere", 404));
  CHECK(wait_for(serve.output(), std::regex("analytics/r1  unknown -> up")));
  CHECK(wait_for(serve.output(), std::regex("analytics/gone  unknown -> down: refused")));
  CHECK(serve.stop(SIGTERM) == 0);
  const auto text = test::read_file(serve.output());
  CHECK(test::contains(text, "grant serve: stopped"));
  CHECK_FALSE(test::contains(text, "Hidden-Pw-9"));
}

TEST_CASE("cli::serve --json prints JSON lines; SIGINT stops it too") {
  test::TempDir dir;
  write_config(dir);
  ServeProcess serve(dir, {"--json"});
  CHECK(wait_for(serve.output(), std::regex(R"("to":"down")")));
  CHECK(serve.stop(SIGINT) == 0);
  const auto text = test::read_file(serve.output());
  std::istringstream lines(text);
  std::string line;
  int parsed = 0;
  while (std::getline(lines, line)) {
    const auto doc = nlohmann::json::parse(line); // every line is one JSON document
    if (doc.contains("listening")) {
      CHECK(doc["endpoints"] == 3);
    }
    ++parsed;
  }
  CHECK(parsed >= 4); // listening + three transitions
}

TEST_CASE("cli::serve refuses what it cannot do with exit 2") {
  test::TempDir dir;
  write_config(dir);
  const auto run = [&](const std::vector<std::string>& args) {
    std::vector<std::string> all{"--config", (dir / "grant.json").string(), "serve"};
    all.insert(all.end(), args.begin(), args.end());
    return test::run_grant(all, dir.path());
  };
  auto result = run({"--listen", "localhost"});
  CHECK(result.exit_code == 2);
  CHECK(test::contains(result.err, "bad listen address 'localhost'"));
  CHECK(run({"--database", "nope"}).exit_code == 2);
  {
    // A second server on a taken port must fail, not share it (SO_REUSEPORT would let it).
    ServeProcess first(dir, {});
    const auto address = "127.0.0.1:" + std::to_string(first.port());
    const auto output = dir / "second.out";
    test::BackgroundGrant second({"--config", (dir / "grant.json").string(), "serve", "--listen", address}, dir.path(),
                                 output);
    const auto code = second.stop(0); // signal 0: nothing sent, only waited for
    CHECK(code == 2);
    CHECK(test::contains(test::read_file(output), "cannot listen on " + address));
  }
  result = run({"--help"});
  CHECK(result.exit_code == 0);
  CHECK(test::contains(result.out, "/replica/DB[/SHARD][/NAME]?lag=MS"));
  CHECK(test::contains(result.out, "Examples:"));
}

TEST_CASE("cli::serve answers 405 to every method but GET and HEAD, with a body or without") {
  test::TempDir dir;
  dir.write("grant.json", R"({"databases": {"app": {"url": "sqlite3:app.sqlite3"}}})");
  ServeProcess serve(dir, {});
  for (const std::string method : {"POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "BREW"}) {
    CAPTURE(method);
    for (const auto& request : {method + " /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                method + " /writer/app HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                         "Content-Length: 2\r\n\r\n{}"}) {
      const auto start = std::chrono::steady_clock::now();
      const auto answer = raw_exchange(serve.port(), request);
      CHECK(answer.substr(0, answer.find("\r\n")) == "HTTP/1.1 405 Method Not Allowed");
      CHECK(test::contains(answer, "\r\nAllow: GET, HEAD\r\n"));
      CHECK(test::contains(answer, "\r\n\r\n{\"error\":\"grant serve is read-only: GET or HEAD only\"}\n"));
      CHECK(std::chrono::steady_clock::now() - start < 2s); // answered, not timed out
    }
  }
  CHECK(answers(serve.port(), "/nowhere", 404));
  CHECK(serve.stop(SIGTERM) == 0);
}

} // namespace grant_test_serve_cli_test
