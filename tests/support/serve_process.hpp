#pragma once
// `grant serve` as the cli tests run it: a process on a free port, the port it printed, and
// polling what it answers.

#include "support/support.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace grant::test {

/// Polls `file` until `pattern` matches (up to `timeout`); the first capture, or the whole match.
std::optional<std::string> wait_for(const std::filesystem::path& file, const std::regex& pattern,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// A `grant serve` process (the config in `dir`, `--listen 127.0.0.1:0 --interval 200`, then
/// `extra`) on a free port, with the port it printed.
class ServeProcess {
public:
  ServeProcess(const TempDir& dir, const std::vector<std::string>& extra);

  int port() const { return m_port; }
  const std::filesystem::path& output() const { return m_output; }
  std::optional<int> stop(int signal) { return m_process.stop(signal); }

private:
  std::filesystem::path m_output;
  BackgroundGrant m_process;
  int m_port = 0;
};

/// Polls GET `path` on 127.0.0.1:`port` until it answers `status` (up to 10 s).
bool answers(int port, const std::string& path, int status);

} // namespace grant::test
