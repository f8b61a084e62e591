#include <grant/commands.hpp>
#include <grant/migrate/runner.hpp>
#include <grant/migrate_output.hpp>

namespace grant::cli {

namespace {

struct BaselineFlags {
  RunFlags run;
  std::string version;
};

void run_baseline(const BaselineFlags& flags, Context& context) {
  auto work = load_workload(context, flags.run);
  migrate::RunOptions options;
  apply_run_flags(flags.run, options);
  registry::Registry registry(context.config());
  const auto events = event_printer(context);
  migrate::preflight(registry, work.targets, options, events);
  report_results(context, "baseline", migrate::baseline(registry, work, flags.version, options, events),
                 options.dry_run);
}

} // namespace

void setup_baseline(CLI::App& app, Context& context) {
  auto flags = std::make_shared<BaselineFlags>();
  auto* command = app.add_subcommand("baseline", "Mark VERSION and older as applied without running them");
  add_run_flags(*command, flags->run);
  command
      ->add_option("--version", flags->version,
                   "The newest version already present in the schema (a file must have it)")
      ->required();
  command->footer(
      "Example (adopting an existing database):\n  grant baseline --database analytics --version 20240101120000\n"
      "Every selected database must have a migration file with that version; its rows are written in one\n"
      "transaction per target. Exit codes: 0 done, 2 usage/config error (nothing marked), 3 a database failed.");
  command->callback([flags, &context] { run_baseline(*flags, context); });
}

} // namespace grant::cli
