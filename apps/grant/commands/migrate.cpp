#include <grant/commands.hpp>
#include <grant/flag_checks.hpp>
#include <grant/migrate/runner.hpp>
#include <grant/migrate_output.hpp>

namespace grant::cli {

namespace {

struct MigrateFlags {
  RunFlags run;
  std::string to;
  bool atomic = false;
  bool allow_out_of_order = false;
  int wait_replicas_s = -1;
};

void run_migrate(const MigrateFlags& flags, Context& context) {
  auto work = load_workload(context, flags.run);
  migrate::MigrateOptions options;
  apply_run_flags(flags.run, options);
  if (!flags.to.empty()) {
    options.to = flags.to;
  }
  options.atomic = flags.atomic;
  if (flags.run.lock_timeout_s >= 0) {
    options.commit_timeout = options.lock_timeout;
  }
  options.allow_out_of_order = flags.allow_out_of_order;
  if (flags.wait_replicas_s >= 0) {
    options.wait_replicas = std::chrono::seconds(flags.wait_replicas_s);
  }
  registry::Registry registry(context.config());
  const auto events = event_printer(context);
  migrate::preflight(registry, work.targets, options, events);
  report_results(context, "migrate", migrate::migrate(registry, work, options, events), options.dry_run);
}

} // namespace

void setup_migrate(CLI::App& app, Context& context) {
  auto flags = std::make_shared<MigrateFlags>();
  auto* command = app.add_subcommand("migrate", "Apply pending migrations on every target (database x shard)");
  add_run_flags(*command, flags->run);
  command->add_option("--to", flags->to, "Apply up to and including this version");
  command->add_flag("--atomic", flags->atomic,
                    "Apply each version on all shards of a database with two-phase commit: all or none");
  command->add_flag("--allow-out-of-order", flags->allow_out_of_order,
                    "Apply pending migrations older than the newest applied one");
  command
      ->add_option("--wait-replicas", flags->wait_replicas_s,
                   "After migrating a target, wait up to SECONDS until each of its replicas has replayed the change")
      ->check(whole_number(0, 1000000));
  command->footer(
      "Examples:\n"
      "  grant migrate                              every database, every shard\n"
      "  grant migrate --database analytics         one database (e.g. a CI step)\n"
      "  grant migrate --database orders --atomic   all shards or none, per version\n"
      "  grant migrate --dry-run                    print the SQL, change nothing\n"
      "  grant migrate --wait 30                    wait for the servers to come up first\n"
      "  grant migrate --wait-replicas 60           return once every replica has replayed it\n"
      "Exit codes: 0 done, 2 usage/config/migration-file error or a refused target (nothing applied there;\n"
      "other targets may have been migrated: the summary lists each), 3 a database failed.");
  command->callback([flags, &context] { run_migrate(*flags, context); });
}

} // namespace grant::cli
