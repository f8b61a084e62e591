#include <grant/commands.hpp>
#include <grant/context.hpp>
#include <grant/flag_checks.hpp>
#include <grant/lint/fleet.hpp>
#include <grant/lint/output.hpp>
#include <grant/migrate/targets.hpp>
#include <grant/migrate_output.hpp>
#include <grant/registry/registry.hpp>
#include <grant/util/text.hpp>

#include <iostream>

namespace grant::cli {

namespace {

struct LintFlags {
  RunFlags run;
  bool connect = false;
  std::string fail_on; ///< empty: each database's lint.fail_on
  std::string format = "text";
  std::vector<std::string> files;
};

// The files named on the command line, each linted against its database, in the order given.
lint::Report lint_files(const LintFlags& flags, const config::Config& config, std::vector<std::string>& databases) {
  if (flags.run.databases.size() > 1) {
    throw ConfigError("name at most one --database with FILE arguments", "--database",
                      "each file is linted against one database's config");
  }
  const auto database = flags.run.databases.empty() ? std::nullopt : std::optional(flags.run.databases.front());
  std::vector<std::pair<const config::Database*, migrate::Migration>> read;
  for (const auto& file : flags.files) {
    const auto& owner = lint::database_of(config, file, database);
    read.emplace_back(&owner, lint::read_file(file));
    if (std::find(databases.begin(), databases.end(), owner.name) == databases.end()) {
      databases.push_back(owner.name);
    }
  }
  lint::Report report;
  for (const auto& name : databases) {
    std::vector<const migrate::Migration*> migrations;
    for (const auto& [owner, migration] : read) {
      if (owner->name == name) {
        migrations.push_back(&migration);
      }
    }
    lint::lint_migrations(*config.find(name), migrations, {}, report);
  }
  return report;
}

void run_lint(const LintFlags& flags, Context& context) {
  // Named files without --connect read no server: the URLs are not handed to libpq.
  const bool connects = flags.files.empty() || flags.connect;
  const auto& config = context.config(connects ? util::UrlCheck::full : util::UrlCheck::syntax);
  registry::Registry registry(config);
  lint::Report report;
  std::vector<migrate::Target> targets;
  if (flags.files.empty()) {
    const auto work = load_workload(context, flags.run);
    migrate::RunOptions options;
    apply_run_flags(flags.run, options);
    if (options.wait.count() > 0) {
      migrate::preflight(registry, work.targets, options, event_printer(context),
                         false); // read-only: a replica is fine
    }
    report = lint::lint_pending(registry, work, options, {});
    targets = work.targets;
  } else {
    std::vector<std::string> databases;
    report = lint_files(flags, config, databases);
    if (flags.connect) {
      targets = migrate::select_targets(config, databases, flags.run.shards);
    }
  }
  if (flags.connect) {
    lint::add_target_facts(registry, targets, report, flags.run.jobs);
  }
  const auto fail_on = flags.fail_on.empty() ? std::nullopt : std::optional(flags.fail_on);
  if (flags.format == "sarif") {
    context.emit_json(lint::to_sarif(report));
  } else if (context.global.json || flags.format == "json") {
    context.emit_json(lint::to_json(report, fail_on));
  } else if (flags.format == "github") {
    std::cout << util::printable(lint::to_github(report), "\n") << std::flush;
  } else if (!context.global.quiet) {
    std::cout << util::printable(lint::to_text(report, fail_on, context.color_stdout()), "\n\t", context.color_stdout())
              << std::flush;
  }
  context.exit_code = lint::fails(report, fail_on) ? 1 : 0;
}

} // namespace

void setup_lint(CLI::App& app, Context& context) {
  auto flags = std::make_shared<LintFlags>();
  auto* command = app.add_subcommand(
      "lint", "What pending migrations will lock, rewrite or break, before they run (PostgreSQL's own parser)");
  add_target_flags(*command, flags->run);
  // One value per --database / --shard, so that FILE arguments after them stay files.
  for (const char* name : {"--database", "--shard"}) {
    command->get_option(name)->expected(1)->allow_extra_args(false)->multi_option_policy(
        CLI::MultiOptionPolicy::TakeAll);
  }
  command->add_option("--wait", flags->run.wait_s, "Wait up to SECONDS for the servers to accept connections")
      ->check(whole_number(0, 86400));
  command->add_flag("--connect", flags->connect,
                    "Ask every target for each finding's table: size, rows, and the sessions the lock would wait "
                    "for (read-only)");
  command
      ->add_option("--fail-on", flags->fail_on,
                   "Exit 1 at this severity or above: error, warning or none "
                   "(default: lint.fail_on, error)")
      ->check(CLI::IsMember({"error", "warning", "none"}));
  command
      ->add_option("--format", flags->format,
                   "text (default), json, sarif (GitHub code scanning) or github "
                   "(workflow annotations)")
      ->check(CLI::IsMember({"text", "json", "sarif", "github"}));
  command->add_option("FILE", flags->files,
                      "Lint these files instead of the pending migrations (no server needed without --connect)");
  command->footer("Examples:\n"
                  "  grant lint                                  what is pending on every target\n"
                  "  grant lint --database orders --connect      with each shard's table sizes and blockers\n"
                  "  grant lint db/migrate/primary/2026*.sql     files, without a server\n"
                  "  grant lint --format sarif > lint.sarif      for GitHub code scanning\n"
                  "Silence one statement with a line above it: -- grant:lint ignore=RULE reason=\"...\"\n"
                  "Rules: docs/lint/. Exit codes: 0 clean, 1 a finding at --fail-on or above, 2 usage, config or a\n"
                  "file the parser rejects, 3 a database failed.");
  command->callback([flags, &context] { run_lint(*flags, context); });
}

} // namespace grant::cli
