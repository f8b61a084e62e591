#pragma once

#include <grant/context.hpp>

#include <grant/migrate/types.hpp>
#include <grant/registry/registry.hpp>

#include <CLI/CLI.hpp>

#include <memory>

namespace grant::cli {

/// Flags shared by the commands that change a schema.
struct RunFlags {
  bool dry_run = false;
  int jobs = 0;
  double lock_timeout_s = -1; ///< -1: not given
  int wait_s = 0;
  std::vector<std::string> databases;
  std::vector<std::string> shards;
};

void add_target_flags(CLI::App& command, RunFlags& flags);
void add_run_flags(CLI::App& command, RunFlags& flags);
void apply_run_flags(const RunFlags& flags, migrate::RunOptions& options);

/// Loads config + migration files for the selected targets; nothing is touched on failure.
migrate::Workload load_workload(Context& context, const RunFlags& flags);

/// Progress lines: applied/reverted on stdout (text mode), waits on stderr. Thread-safe.
migrate::EventSink event_printer(const Context& context);

/// The `targets` array of migrate's --json document.
nlohmann::json results_json(const std::vector<migrate::TargetResult>& results, bool dry_run);
/// The per-target summary lines (text mode).
void say_results(const Context& context, const std::string& command, const std::vector<migrate::TargetResult>& results,
                 bool dry_run);
/// Each failed target's error, and which targets changed when others were refused.
void say_failures(const Context& context, const std::vector<migrate::TargetResult>& results, bool dry_run);

/// Prints the per-target summary (or the JSON document) and sets the exit code.
void report_results(Context& context, const std::string& command, const std::vector<migrate::TargetResult>& results,
                    bool dry_run);

} // namespace grant::cli
