#include <grant/commands.hpp>
#include <grant/flag_checks.hpp>
#include <grant/migrate/runner.hpp>
#include <grant/migrate_output.hpp>

namespace grant::cli {

namespace {

struct RollbackFlags {
  RunFlags run;
  int steps = 1;
  std::string to;
  bool all = false;
};

migrate::RollbackOptions rollback_options(const RollbackFlags& flags) {
  migrate::RollbackOptions options;
  apply_run_flags(flags.run, options);
  options.steps = flags.steps;
  options.all = flags.all;
  if (!flags.to.empty()) {
    options.to = flags.to;
  }
  return options;
}

void run_rollback(const RollbackFlags& flags, Context& context) {
  auto work = load_workload(context, flags.run);
  const auto options = rollback_options(flags);
  registry::Registry registry(context.config());
  const auto events = event_printer(context);
  migrate::preflight(registry, work.targets, options, events);
  report_results(context, "rollback", migrate::rollback(registry, work, options, events), options.dry_run);
}

void run_redo(const RunFlags& flags, Context& context) {
  auto work = load_workload(context, flags);
  migrate::RunOptions options;
  apply_run_flags(flags, options);
  registry::Registry registry(context.config());
  const auto events = event_printer(context);
  migrate::preflight(registry, work.targets, options, events);
  report_results(context, "redo", migrate::redo(registry, work, options, events), options.dry_run);
}

} // namespace

void setup_rollback(CLI::App& app, Context& context) {
  auto flags = std::make_shared<RollbackFlags>();
  auto* command = app.add_subcommand("rollback", "Revert applied migrations, newest first");
  add_run_flags(*command, flags->run);
  auto* steps = command->add_option("--steps", flags->steps, "How many to revert per target (default 1)")
                    ->check(whole_number(1, 1000000));
  auto* to = command->add_option("--to", flags->to, "Revert everything newer than this version (it stays applied)")
                 ->excludes(steps);
  command->add_flag("--all", flags->all, "Revert every applied migration")->excludes(steps)->excludes(to);
  command->footer("Examples:\n  grant rollback --database primary\n  grant rollback --steps 3 --dry-run\n"
                  "  grant rollback --to 20240101120000\n"
                  "  grant rollback --all --database primary   back to an empty schema\n"
                  "A migration without a down section stops the rollback before anything is reverted.");
  command->callback([flags, &context] { run_rollback(*flags, context); });
}

void setup_redo(CLI::App& app, Context& context) {
  auto flags = std::make_shared<RunFlags>();
  auto* command = app.add_subcommand("redo", "Roll back the newest migration and apply it again");
  add_run_flags(*command, *flags);
  command->footer("Examples:\n  grant redo --database primary\n  grant redo --dry-run   the down SQL, then the up SQL\n"
                  "The rollback and the re-apply run under one migration lock: no other run can slip in between.");
  command->callback([flags, &context] { run_redo(*flags, context); });
}

} // namespace grant::cli
