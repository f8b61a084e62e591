#include <grant/commands.hpp>
#include <grant/flag_checks.hpp>
#include <grant/lint/fleet.hpp>
#include <grant/lint/output.hpp>
#include <grant/migrate/runner.hpp>
#include <grant/migrate_output.hpp>
#include <grant/registry/registry.hpp>
#include <grant/rollout_output.hpp>
#include <grant/util/text.hpp>

#include <iostream>

namespace grant::cli {

namespace {

struct MigrateFlags {
  RunFlags run;
  std::string to;
  bool atomic = false;
  bool allow_out_of_order = false;
  int wait_replicas_s = -1;
  bool no_lint = false;
  RolloutFlags rollout;
};

// What is about to be applied, linted first: findings on stderr, and a stop before anything is
// touched when one reaches lint.fail_on. A file PostgreSQL 15's parser rejects is left to the
// server (which may be newer), with a warning.
void lint_before(registry::Registry& registry, const migrate::Workload& work, const migrate::MigrateOptions& options,
                 const Context& context) {
  lint::Report report;
  try {
    report = lint::lint_pending(registry, work, options, {}, options.to);
  } catch (const lint::ParseError& error) {
    context.warn("not linted: " + std::string(error.what()) + " (" + error.where() + ")");
    return;
  }
  for (const auto& finding : report.findings) {
    if (!finding.silenced && (!context.global.quiet || lint::reaches(finding, "error"))) {
      std::cerr << util::printable(lint::display_path(finding.file) + ":" + std::to_string(finding.line) + ":" +
                                       std::to_string(finding.column) + ": " +
                                       std::string(lint::severity_name(finding.severity)) + " [" + finding.rule + "] " +
                                       finding.message + "\n    fix: " + finding.fix,
                                   "\n")
                << '\n';
    }
  }
  if (lint::fails(report)) {
    throw Error(ErrorKind::check,
                "lint stopped the run: a pending migration has a finding at lint.fail_on; nothing was applied",
                "grant lint",
                "fix the statement, silence it with a line above it: -- grant:lint ignore=RULE "
                "reason=\"...\", or run with --no-lint");
  }
}

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
  const auto rollout_options = cli::rollout_options(flags.rollout, context.config().rollout);
  const bool rollout = rollout_options.active() || flags.rollout.plan;
  if (rollout && options.atomic) {
    throw ConfigError("--atomic applies each version to every shard at once, and a rollout (--canary, --waves, "
                      "--max-lag, --gate-cmd, --pause, or the config's rollout section) applies it to some "
                      "shards first",
                      "--atomic", "choose one: waves for a gradual rollout, --atomic for all shards or none");
  }
  if (rollout && options.wait_replicas && rollout_options.max_lag_ms) {
    context.detail("--wait-replicas: the last wave still waits for every replica at the end");
  }
  std::vector<rollout::Wave> waves;
  if (rollout) {
    waves = rollout::make_waves(registry, work.targets, rollout_options); // exit 2 before anything is touched
  }
  migrate::preflight(registry, work.targets, options, events);
  if (flags.rollout.plan) {
    print_plan(context, rollout::plan(registry, work, waves, options, options.to), rollout_options, work.targets);
    return;
  }
  if (flags.no_lint) {
    context.warn("--no-lint: the pending migrations were not linted");
  } else {
    lint_before(registry, work, options, context);
  }
  if (rollout) {
    report_rollout(context, rollout::run(registry, work, waves, rollout_options, options, events), options.dry_run);
    return;
  }
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
  add_rollout_flags(*command, flags->rollout);
  command->add_flag("--no-lint", flags->no_lint,
                    "Apply without linting the pending migrations first (prints a warning)");
  command->footer(
      "Examples:\n"
      "  grant migrate                              every database, every shard\n"
      "  grant migrate --database analytics         one database (e.g. a CI step)\n"
      "  grant migrate --database orders --atomic   all shards or none, per version\n"
      "  grant migrate --dry-run                    print the SQL, change nothing\n"
      "  grant migrate --wait 30                    wait for the servers to come up first\n"
      "  grant migrate --wait-replicas 60           return once every replica has replayed it\n"
      "  grant migrate --database orders --canary s0 --max-lag 2000     s0 first, gate on its replicas, then the rest\n"
      "  grant migrate --database orders --waves 1,10%,100% --pause 5min --plan   print the waves, change nothing\n"
      "Exit codes: 0 done, 1 lint found a finding at lint.fail_on (nothing applied) or a rollout gate failed, 2 "
      "usage/config/migration-file error or a refused target (nothing applied there;\n"
      "other targets may have been migrated: the summary lists each), 3 a database failed.");
  command->callback([flags, &context] { run_migrate(*flags, context); });
}

} // namespace grant::cli
