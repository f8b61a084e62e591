#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace grant::test {

/// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }
  std::filesystem::path operator/(const std::string& name) const { return m_path / name; }
  /// Writes `content` to a file below this folder, creating parent folders.
  std::filesystem::path write(const std::string& relative, const std::string& content) const;

private:
  std::filesystem::path m_path;
};

std::string read_file(const std::filesystem::path& path);

/// What a run of the built `grant` binary printed and returned.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs the built binary with `args` in `cwd`; `env` entries are added to (or, with a nullopt
/// value, removed from) the inherited environment.
RunResult run_grant(const std::vector<std::string>& args, const std::filesystem::path& cwd = {},
                    const std::map<std::string, std::optional<std::string>>& env = {},
                    const std::string& stdin_text = {});

/// Starts the built binary in the background (output discarded, or stdout and stderr appended to
/// `output` when given) and returns its pid.
int spawn_grant(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                const std::filesystem::path& output = {});
/// Waits up to `timeout` for `pid` to exit and reaps it: its exit code (128 + N when killed by
/// signal N), or empty when it is still running.
std::optional<int> wait_exit(int pid, std::chrono::milliseconds timeout);
/// The built binary running in the background (spawn_grant with `output`); SIGKILLed and reaped
/// on destruction unless it was stopped.
class BackgroundGrant {
public:
  BackgroundGrant(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                  const std::filesystem::path& output);
  ~BackgroundGrant();
  BackgroundGrant(const BackgroundGrant&) = delete;
  BackgroundGrant& operator=(const BackgroundGrant&) = delete;

  /// Sends `signal` and waits up to `timeout` for the exit code (128 + N when killed by signal
  /// N); empty when it is still running.
  std::optional<int> stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(10));

private:
  int m_pid = -1;
};

/// What a /bin/sh command printed (stdout and stderr together) and returned.
struct ShellResult {
  int exit_code = -1;
  std::string out;
};
/// Runs `command` with /bin/sh in `cwd`, the built grant first on PATH (so that scripts calling
/// `grant` get this build): for shell completion scripts and the CI action's scripts.
ShellResult run_shell(const std::string& command, const std::filesystem::path& cwd);

/// Sends SIGKILL to `pid` after `delay` unless it exits first, and reaps it; true when killed.
bool kill_after(int pid, std::chrono::microseconds delay);

/// A variable exported by tests/servers.sh; fails the test with a clear message when absent.
std::string server_env(const std::string& name);

/// The writer / replica / shard URLs from tests/servers.sh.
std::string writer_url();
std::string replica_url();
std::string shard_url(int index);
/// `url` with its database name replaced, e.g. for a per-test database.
std::string with_dbname(const std::string& url, const std::string& dbname);

/// True when `part` occurs in `text`: most assertions on messages read this way.
bool contains(const std::string& text, const std::string& part);

/// A TCP port on 127.0.0.1 where nothing listens (for "unreachable server" cases).
int closed_port();

/// Creates a fresh, empty database with a unique name on the server of `url` (PostgreSQL or MySQL)
/// and returns its URL.
/// Dropped at process exit is not attempted: the servers are thrown away after the run.
std::string fresh_database(const std::string& url, const std::string& prefix);

} // namespace grant::test
