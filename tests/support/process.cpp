#include "support/support.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace grant::test {

int spawn_grant(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                const std::filesystem::path& output) {
  std::vector<std::string> storage{GRANT_BINARY};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : storage) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  const std::string dir = cwd.string();
  const std::string out = output.empty() ? std::string("/dev/null") : output.string();
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_RDWR);
    const int sink = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(null, 0);
    dup2(sink, 1);
    dup2(sink, 2);
    if (!dir.empty() && chdir(dir.c_str()) != 0) {
      _exit(126);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

std::optional<int> wait_exit(int pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  do {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  } while (std::chrono::steady_clock::now() < deadline);
  return std::nullopt;
}

BackgroundGrant::BackgroundGrant(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                                 const std::filesystem::path& output)
    : m_pid(spawn_grant(args, cwd, output)) {}

BackgroundGrant::~BackgroundGrant() {
  if (m_pid > 0) {
    kill(m_pid, SIGKILL);
    wait_exit(m_pid, std::chrono::seconds(10));
  }
}

std::optional<int> BackgroundGrant::stop(int signal, std::chrono::milliseconds timeout) {
  kill(m_pid, signal);
  const auto code = wait_exit(m_pid, timeout);
  if (code) {
    m_pid = -1;
  }
  return code;
}

bool kill_after(int pid, std::chrono::microseconds delay) {
  const auto deadline = std::chrono::steady_clock::now() + delay;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return false; // finished first
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status);
}

ShellResult run_shell(const std::string& command, const std::filesystem::path& cwd) {
  const auto bin = std::filesystem::path(GRANT_BINARY).parent_path().string();
  const std::string full = "cd '" + cwd.string() + "' && PATH='" + bin + "':\"$PATH\" " + command + " 2>&1";
  ShellResult result;
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) {
    return result;
  }
  char buffer[4096];
  while (const auto n = fread(buffer, 1, sizeof buffer, pipe)) {
    result.out.append(buffer, n);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

} // namespace grant::test
