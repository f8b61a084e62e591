#include <grant/signals.hpp>

#include <grant/db/cancel.hpp>

#include <csignal>
#include <iostream>
#include <string>

#include <unistd.h>

namespace grant::cli {

namespace {

// The handler only notifies db::cancel's watcher thread (async-signal-safe); a second signal
// exits at once, leaving each server to roll back when its connection drops.
void on_signal(int signal) {
  if (db::cancel::notify_from_signal(signal) > 1) {
    constexpr char k_now[] = "grant: second signal: exiting now; each server rolls back what was open when its "
                             "connection drops\n";
    [[maybe_unused]] const auto written = write(STDERR_FILENO, k_now, sizeof k_now - 1);
    _exit(128 + signal);
  }
  constexpr char k_first[] = "grant: interrupted: cancelling what runs on the servers and rolling back what a "
                             "transaction holds (again to exit at once)\n";
  [[maybe_unused]] const auto written = write(STDERR_FILENO, k_first, sizeof k_first - 1);
}

} // namespace

void cancel_on_signal() {
  db::cancel::start_watcher();
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int after_signal(int code, const CLI::App& app) {
  const int signal = db::cancel::requested();
  if (signal == 0) {
    return code;
  }
  std::string command;
  for (const auto* subcommand : app.get_subcommands()) {
    command = subcommand->get_name();
  }
  const bool reads = command == "query" || command == "shard-check";
  std::string next = reads ? "" : "; run the same command again to finish";
  if (command == "rebalance") {
    next = "; re-run the same phase to resume (the copy keeps its checkpoints)";
  }
  // MySQL commits DDL as it runs: what a cancelled migration leaves there is said above, per target.
  std::cerr << "grant: interrupted by " << db::cancel::signal_name(signal)
            << ": what was running was cancelled on its server and rolled back"
            << (reads ? ""
                      : " where it ran in a transaction (the lines above say what stays), and grant's locks were "
                        "released")
            << next << '\n'
            << std::flush;
  return 128 + signal;
}

} // namespace grant::cli
