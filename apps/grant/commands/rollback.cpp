#include <grant/commands.hpp>
#include <grant/migrate_output.hpp>

namespace grant::cli {

namespace {

struct RollbackFlags {
  RunFlags run;
  int steps = 1;
  std::string to;
};

migrate::RollbackOptions rollback_options(const RollbackFlags& flags) {
  migrate::RollbackOptions options;
  apply_run_flags(flags.run, options);
  options.steps = flags.steps;
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
  RollbackFlags rollback_flags;
  rollback_flags.run = flags;
  const auto rollback = rollback_options(rollback_flags);
  registry::Registry registry(context.config());
  const auto events = event_printer(context);
  migrate::preflight(registry, work.targets, rollback, events);
  auto results = migrate::rollback(registry, work, rollback, events);
  if (migrate::exit_code_of(results) != 0) {
    report_results(context, "redo", results, flags.dry_run);
    return;
  }
  if (flags.dry_run) {
    report_results(context, "redo", results, true);
    context.say("-- then the reverted migrations are applied again");
    return;
  }
  migrate::MigrateOptions again;
  apply_run_flags(flags, again);
  // Re-apply exactly what was reverted on each target: up to the version it reverted.
  for (auto& result : results) {
    if (result.steps.empty()) {
      continue;
    }
    again.to = result.steps.front().version;
    migrate::Workload one{{result.target}, {{result.target.database->name, work.files.at(result.target.database->name)}}};
    auto applied = migrate::migrate(registry, one, again, events).front();
    result.ok = applied.ok;
    result.error = applied.error;
    result.where = applied.where;
    result.hint = applied.hint;
    result.exit_code = applied.exit_code;
    result.current_version = applied.current_version;
  }
  report_results(context, "redo", results, false);
}

} // namespace

void setup_rollback(CLI::App& app, Context& context) {
  auto flags = std::make_shared<RollbackFlags>();
  auto* command = app.add_subcommand("rollback", "Revert applied migrations, newest first");
  add_run_flags(*command, flags->run);
  auto* steps = command->add_option("--steps", flags->steps, "How many to revert per target (default 1)")
                    ->check(CLI::PositiveNumber);
  command->add_option("--to", flags->to, "Revert everything newer than this version (it stays applied)")
      ->excludes(steps);
  command->footer("Examples:\n  grant rollback --database primary\n  grant rollback --steps 3 --dry-run\n"
                  "  grant rollback --to 20240101120000\n"
                  "A migration without a down section stops the rollback before anything is reverted.");
  command->callback([flags, &context] { run_rollback(*flags, context); });
}

void setup_redo(CLI::App& app, Context& context) {
  auto flags = std::make_shared<RunFlags>();
  auto* command = app.add_subcommand("redo", "Roll back the newest migration and apply it again");
  add_run_flags(*command, *flags);
  command->footer("Example:\n  grant redo --database primary");
  command->callback([flags, &context] { run_redo(*flags, context); });
}

} // namespace grant::cli
