#include "support/serve_process.hpp"

#include <doctest/doctest.h>

#include <httplib.h>

#include <thread>

namespace grant::test {

namespace {

std::vector<std::string> serve_args(const TempDir& dir, const std::vector<std::string>& extra) {
  std::vector<std::string> out{
      "--config", (dir / "grant.json").string(), "serve", "--listen", "127.0.0.1:0", "--interval", "200"};
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

} // namespace

std::optional<std::string> wait_for(const std::filesystem::path& file, const std::regex& pattern,
                                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    std::smatch match;
    const auto text = std::filesystem::exists(file) ? read_file(file) : std::string();
    if (std::regex_search(text, match, pattern)) {
      return match.size() > 1 ? match[1].str() : match[0].str();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return std::nullopt;
}

ServeProcess::ServeProcess(const TempDir& dir, const std::vector<std::string>& extra)
    : m_output(dir / "serve.out"), m_process(serve_args(dir, extra), dir.path(), m_output) {
  const auto port = wait_for(m_output, std::regex(R"(http://127\.0\.0\.1:(\d+))"));
  REQUIRE_MESSAGE(port, "grant serve did not say where it listens: " << read_file(m_output));
  m_port = std::stoi(*port);
}

bool answers(int port, const std::string& path, int status) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  for (int i = 0; i < 200; ++i) {
    if (const auto result = client.Get(path.c_str()); result && result->status == status) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

} // namespace grant::test
