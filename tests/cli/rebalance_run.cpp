// The rebalance tests' run_binary (rebalance_rig.hpp): the built binary in a child process,
// its output to files, SIGKILLed on request or when it hangs.
#include "rebalance_rig.hpp"

namespace rb {

Outcome run_binary(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                   std::optional<std::chrono::microseconds> kill_at, std::chrono::seconds timeout) {
  static std::atomic<int> counter{0};
  const auto stem = cwd / (".run-" + std::to_string(counter++));
  const auto out_path = stem.string() + ".out";
  const auto err_path = stem.string() + ".err";
  std::vector<std::string> storage{GRANT_BINARY};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : storage) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  const auto started = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(null, 0);
    dup2(out, 1);
    dup2(err, 2);
    if (chdir(cwd.c_str()) != 0) {
      _exit(126);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  Outcome outcome;
  const auto kill_deadline = kill_at ? started + *kill_at : Clock::time_point::max();
  const auto hard_deadline = started + timeout;
  int status = 0;
  bool reaped = false;
  while (!reaped) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      break;
    }
    const auto now = Clock::now();
    if (now >= kill_deadline || now >= hard_deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      reaped = true;
      outcome.killed = now >= kill_deadline;
      if (!outcome.killed) {
        FAIL_CHECK("grant " << args.back() << " still running after " << timeout.count() << " s: killed");
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(kill_at ? 200 : 2000));
  }
  outcome.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (outcome.killed && !WIFSIGNALED(status)) {
    outcome.killed = false; // it exited on its own in the last instant
  }
  outcome.out = grant::test::read_file(out_path);
  outcome.err = grant::test::read_file(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return outcome;
}

} // namespace rb
