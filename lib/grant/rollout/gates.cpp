// The gates between waves: replica lag by the health module (unknown fails), and an operator's
// command. Both bounded; Ctrl-C and SIGTERM stop a running command.
#include <grant/rollout/rollout.hpp>

#include <grant/db/cancel.hpp>
#include <grant/error.hpp>
#include <grant/health/report.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace grant::rollout {

namespace {

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", seconds);
  return text;
}

bool executable(const std::filesystem::path& path) {
  return ::access(path.c_str(), X_OK) == 0 && !std::filesystem::is_directory(path);
}

} // namespace

void check_command(const std::string& command, const std::string& source) {
  const auto trimmed = std::string(util::trim(command));
  if (trimmed.empty()) {
    throw ConfigError(source + " is empty", source, "give a command that exits 0 when the wave may go on");
  }
  const auto word = trimmed.substr(0, trimmed.find_first_of(" \t;|&"));
  static const std::set<std::string> k_builtins{"exit", "true", "false", "test", "[", ":", ".", "command", "!"};
  if (k_builtins.count(word) > 0 || word.find('=') != std::string::npos) {
    return;
  }
  if (word.find('/') != std::string::npos) {
    if (!executable(word)) {
      throw ConfigError(source + ": " + util::in_quotes(word) + " is not an executable file", source,
                        "check the path and its execute permission (chmod +x)");
    }
    return;
  }
  const char* path = std::getenv("PATH");
  for (const auto& folder : util::split(path == nullptr ? "/usr/bin:/bin" : path, ':')) {
    if (!folder.empty() && executable(std::filesystem::path(folder) / word)) {
      return;
    }
  }
  throw ConfigError(source + ": " + util::in_quotes(word) + " is not a command on PATH", source,
                    "give the command's full path, or install it");
}

Verdict lag_gate(const std::vector<migrate::Target>& targets, std::optional<int> max_lag_ms) {
  Verdict verdict{"replica_lag", true, {}, nlohmann::json::array()};
  std::map<const config::Database*, std::vector<std::string>> shards;
  for (const auto& target : targets) {
    shards[target.database].push_back(target.endpoint.shard);
  }
  std::vector<health::Target> probes;
  for (const auto& [database, names] : shards) {
    health::CheckOptions options;
    options.max_lag_ms = max_lag_ms;
    if (database->is_sharded()) {
      options.shards = names;
    }
    const auto selected = health::targets_of({database}, options);
    const bool has_replica = std::any_of(selected.begin(), selected.end(),
                                         [](const health::Target& t) { return !t.endpoint.replica.empty(); });
    if (has_replica) {
      probes.insert(probes.end(), selected.begin(), selected.end());
    }
  }
  if (probes.empty()) {
    verdict.detail = "no replicas to wait for";
    return verdict;
  }
  // Right after a wave, a writer under synchronous_commit = off may not have written out the
  // wave's last commits: its replicas then read as caught up with it while they lack them (and
  // a paused one would pass). Its WAL writer writes them within 3 x wal_writer_delay (600 ms by
  // default): look again until it has, for at most a second. Only a wait, never a verdict: a
  // writer idle at a page boundary reads the same, with nothing to write.
  auto report = health::check(probes);
  const auto unwritten = [](const health::Report& r) {
    return std::any_of(r.endpoints.begin(), r.endpoints.end(),
                       [](const health::EndpointHealth& e) { return e.lag && e.lag->writer_unwritten; });
  };
  for (int look = 0; look < 20 && unwritten(report); ++look) {
    db::cancel::sleep_for(std::chrono::milliseconds(50), "rollout");
    report = health::check(probes);
  }
  std::vector<std::string> late;
  std::size_t replicas = 0;
  for (const auto& endpoint : report.endpoints) {
    if (!endpoint.lag) {
      continue;
    }
    ++replicas;
    const auto& lag = *endpoint.lag;
    const auto label = endpoint.probe.endpoint.label();
    verdict.figures.push_back({{"replica", label},
                               {"state", health::lag_state_name(lag.state)},
                               {"bytes", lag.bytes ? nlohmann::json(*lag.bytes) : nlohmann::json(nullptr)},
                               {"seconds", lag.seconds ? nlohmann::json(*lag.seconds) : nlohmann::json(nullptr)},
                               {"max_lag_ms", endpoint.max_lag_ms}});
    if (lag.state == health::LagState::ok) {
      continue;
    }
    verdict.ok = false;
    late.push_back(lag.state == health::LagState::unknown
                       ? label + " lag unknown (" +
                             (endpoint.reasons.empty() ? std::string("not measured") : endpoint.reasons.front()) + ")"
                       : label + " lag " + (lag.seconds ? seconds_text(*lag.seconds) : std::string("?")) + " (" +
                             std::to_string(lag.bytes.value_or(0)) + " bytes) over " +
                             std::to_string(endpoint.max_lag_ms) + " ms");
  }
  verdict.detail = verdict.ok ? std::to_string(replicas) + " replica(s) within their bound" : util::join(late, "; ");
  return verdict;
}

Verdict command_gate(const std::string& command, const Wave& wave, std::chrono::milliseconds timeout) {
  Verdict verdict{"command", false, {}, {{"command", command}}};
  std::vector<std::string> labels;
  for (const auto& target : wave.targets) {
    labels.push_back(target.label());
  }
  std::vector<std::string> env_storage;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (text.rfind("GRANT_ROLLOUT_", 0) != 0) {
      env_storage.emplace_back(text);
    }
  }
  env_storage.push_back("GRANT_ROLLOUT_WAVE=" + std::to_string(wave.number));
  env_storage.push_back("GRANT_ROLLOUT_TARGETS=" + util::join(labels, " "));
  std::vector<char*> env;
  for (auto& entry : env_storage) {
    env.push_back(entry.data());
  }
  env.push_back(nullptr);
  std::string shell = "/bin/sh";
  std::string flag = "-c";
  std::string text = command;
  std::array<char*, 4> argv{shell.data(), flag.data(), text.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO); // stdout stays grant's (--json)
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, shell.c_str(), &actions, &attributes, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) {
    verdict.detail = "`" + command + "` could not start: " + std::strerror(spawned);
    return verdict;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    const auto done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      break;
    }
    const bool late = std::chrono::steady_clock::now() >= deadline;
    if (late || db::cancel::requested() != 0) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      if (!late) {
        db::cancel::check("--gate-cmd");
      }
      verdict.detail = "`" + command + "` ran past " + std::to_string(timeout.count()) + " ms and was killed";
      verdict.figures["timed_out"] = true;
      return verdict;
    }
    ::usleep(20'000);
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  verdict.ok = code == 0;
  verdict.figures["exit_code"] = code;
  verdict.detail = "`" + command + "` exited " + std::to_string(code);
  return verdict;
}

} // namespace grant::rollout
