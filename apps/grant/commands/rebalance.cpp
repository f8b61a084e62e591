#include <grant/commands.hpp>
#include <grant/context.hpp>
#include <grant/flag_checks.hpp>

#include <grant/config/load.hpp>
#include <grant/error.hpp>
#include <grant/rebalance/rebalance.hpp>
#include <grant/rebalance_output.hpp>
#include <grant/util/text.hpp>

#include <chrono>
#include <iostream>
#include <sstream>

#include <unistd.h>

namespace grant::cli {

namespace {

struct RebalanceFlags {
  std::string database;
  std::string target;
  bool plan = false;
  bool cutover = false;
  bool cleanup = false;
  bool abort = false;
  bool status = false;
  std::size_t batch_size = 2000;
  std::uint64_t max_rows_per_sec = 0;
  int jobs = 0;
  double cutover_timeout_s = 5;
};

/// Progress on stderr: a line redrawn in place on a terminal, JSON lines with --json, nothing
/// otherwise (or with --quiet).
std::function<void(const rebalance::Progress&)> progress_printer(const Context& context) {
  if (context.global.quiet) {
    return {};
  }
  const bool json = context.global.json;
  if (!json && isatty(STDERR_FILENO) == 0) {
    return [](const rebalance::Progress& event) {
      if (!event.note.empty()) {
        std::cerr << util::printable("rebalance: " + event.shard + ": " + event.note, "\n\t") << "\n";
      }
    };
  }
  struct State {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last{};
  };
  auto state = std::make_shared<State>();
  return [state, json](const rebalance::Progress& event) {
    const auto now = std::chrono::steady_clock::now();
    if (event.note.empty() && now - state->last < std::chrono::milliseconds(json ? 1000 : 200)) {
      return;
    }
    state->last = now;
    const double seconds = std::chrono::duration<double>(now - state->start).count();
    const double rate = seconds > 0 ? static_cast<double>(event.rows) / seconds : 0;
    if (json) {
      nlohmann::json line{{"event", "progress"},
                          {"phase", event.phase},
                          {"table", event.table},
                          {"shard", event.shard},
                          {"rows", event.rows},
                          {"total", event.total},
                          {"rows_per_sec", static_cast<std::uint64_t>(rate)}};
      if (!event.note.empty()) {
        line["note"] = event.note;
      }
      std::cerr << util::json_text(line) << "\n";
      return;
    }
    std::cerr << "\r\033[K" << util::printable(progress_line(event, rate)) << std::flush;
    if (!event.note.empty()) {
      std::cerr << "\n";
    }
  };
}

void run_rebalance(const RebalanceFlags& flags, Context& context) {
  const int phases = int(flags.plan) + int(flags.cutover) + int(flags.cleanup) + int(flags.abort) + int(flags.status);
  if (phases > 1) {
    throw ConfigError("--plan, --cutover, --cleanup, --abort and --status exclude each other", "grant rebalance",
                      "run one phase at a time: see grant rebalance --help");
  }
  const auto& source = context.config();
  const auto target = config::load(std::filesystem::path(flags.target), config::process_env());
  if (flags.cutover_timeout_s < 0.1) {
    std::ostringstream given;
    given << flags.cutover_timeout_s;
    throw ConfigError("--cutover-timeout " + given.str() + " is too short: the write block needs at least 0.1 s",
                      "--cutover-timeout", "give the longest pause of writes you accept, e.g. --cutover-timeout 5");
  }
  rebalance::Options options;
  options.cutover_timeout = std::chrono::milliseconds(static_cast<long long>(flags.cutover_timeout_s * 1000));
  options.batch_size = flags.batch_size;
  options.max_rows_per_sec = flags.max_rows_per_sec;
  options.jobs = flags.jobs;
  options.on_progress = progress_printer(context);
  rebalance::Rebalancer rebalancer(source, target, flags.database, options);
  const bool terminal = !context.global.json && !context.global.quiet && isatty(STDERR_FILENO) != 0;
  const auto clear_line = [&] {
    if (terminal) {
      std::cerr << "\r\033[K" << std::flush;
    }
  };
  nlohmann::json document;
  if (flags.plan) {
    const auto report = rebalancer.plan();
    clear_line();
    document = plan_json(flags.database, report);
    if (!context.global.json) {
      print_plan(context, flags.database, report);
    }
    context.exit_code = report.unowned.empty() ? 0 : 1;
  } else if (flags.status) {
    const auto report = rebalancer.status();
    document = status_json(flags.database, report);
    if (!context.global.json) {
      print_status(context, flags.database, report);
    }
  } else if (flags.cutover) {
    const auto report = rebalancer.cutover();
    clear_line();
    document = cutover_json(flags.database, report);
    if (!context.global.json) {
      print_cutover(context, flags.database, report);
    }
  } else if (flags.cleanup) {
    const auto report = rebalancer.cleanup();
    clear_line();
    document = cleanup_json(flags.database, report);
    if (!context.global.json) {
      print_cleanup(context, flags.database, report);
    }
  } else if (flags.abort) {
    const auto report = rebalancer.abort();
    clear_line();
    document = abort_json(flags.database, report);
    if (!context.global.json) {
      print_abort(context, flags.database, report);
    }
  } else {
    const auto report = rebalancer.copy();
    clear_line();
    document = copy_json(flags.database, report);
    if (!context.global.json) {
      print_copy(context, flags.database, report);
    }
  }
  if (context.global.json) {
    context.emit_json(document);
  }
}

} // namespace

void setup_rebalance(CLI::App& app, Context& context) {
  auto flags = std::make_shared<RebalanceFlags>();
  auto* command = app.add_subcommand(
      "rebalance", "Move rows to the shards a new config gives them, in phases, while applications keep running");
  command->add_option("--database", flags->database, "The sharded database (from the config)")->required();
  command->add_option("--target", flags->target, "The config file with the database's new shards")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_flag("--plan", flags->plan,
                    "Show what would move (rows and bytes per table and shard pair); writes nothing");
  command->add_flag("--cutover", flags->cutover,
                    "Make the target authoritative: writes of moved keys on their old shards are refused from now on");
  command->add_flag("--cleanup", flags->cleanup,
                    "Once every application uses the target: delete moved rows from old shards, drop grant's objects");
  command->add_flag("--abort", flags->abort,
                    "Before cutover: remove the copies and grant's objects, as if never started");
  command->add_flag("--status", flags->status, "Show the phase, progress and backlog of each source shard");
  command->add_option("--batch-size", flags->batch_size, "Rows per page read and per write (default 2000)")
      ->check(whole_number(1, 100000));
  command->add_option("--max-rows-per-sec", flags->max_rows_per_sec, "Throttle the copy and cleanup (default: none)")
      ->check(whole_number(1, 1'000'000'000));
  command->add_option("--jobs", flags->jobs, "Source shards worked on at once (default: all)")
      ->check(whole_number(1, 256));
  command
      ->add_option("--cutover-timeout", flags->cutover_timeout_s,
                   "The longest a source shard's writes stay blocked, a silent server included (seconds, "
                   "or 500ms, 2s...; default 5s): the cutover's write block (past it that shard's cutover is "
                   "rolled back) and cleanup's trigger drop (given up, its lock released)")
      ->transform(duration_seconds(3600));
  command->footer(
      "Phases, in order (each resumes after a kill; re-run it):\n"
      "  grant rebalance --database orders --target new.json --plan      what would move\n"
      "  grant rebalance --database orders --target new.json             copy (old shards stay authoritative)\n"
      "  grant rebalance --database orders --target new.json --cutover   switch: the target config is authoritative\n"
      "  (deploy the target config to every application)\n"
      "  grant rebalance --database orders --target new.json --cleanup   delete moved rows from old shards\n"
      "  grant rebalance --database orders --target new.json --abort     before cutover: undo the copy\n"
      "\n"
      "Exit codes: 0 done, 1 (--plan) some rows would have no shard, 2 refused (phase order, another rebalance\n"
      "running, bad target): nothing touched, 3 a database failed (the message names the shard; re-run resumes).");
  command->callback([flags, &context] { run_rebalance(*flags, context); });
}

} // namespace grant::cli
