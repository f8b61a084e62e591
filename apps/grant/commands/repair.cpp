#include <grant/commands.hpp>
#include <grant/migrate_output.hpp>

#include <grant/migrate/repair.hpp>
#include <grant/migrate/runner.hpp>

#include <iostream>

namespace grant::cli {

namespace {

struct RepairFlags {
  RunFlags run;
  bool forget_missing = false;
};

std::string short_checksum(const std::string& checksum) {
  return checksum.empty() ? "unknown" : checksum.substr(0, 12) + "…";
}

std::string describe(const migrate::RepairStep& step) {
  using Action = migrate::RepairStep::Action;
  const auto migration = step.version + (step.name.empty() ? "" : "_" + step.name);
  switch (step.action) {
  case Action::update_checksum:
    return migration + ": checksum " + short_checksum(step.old_checksum) + " -> " + short_checksum(step.new_checksum);
  case Action::record_checksum:
    return migration + ": checksum unknown -> " + short_checksum(step.new_checksum);
  case Action::forget:
    return migration + ": row removed (no migration file has this version)";
  case Action::forget_dirty:
    return migration + ": failed run forgotten (it was dirty); `grant migrate` runs it again from the start";
  }
  return migration;
}

void print_json(Context& context, const std::vector<migrate::RepairResult>& results, bool dry_run, int code) {
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& result : results) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& step : result.steps) {
      steps.push_back(
          {{"action", migrate::action_name(step.action)},
           {"version", step.version},
           {"name", step.name},
           {"old_checksum", step.old_checksum.empty() ? nlohmann::json() : nlohmann::json(step.old_checksum)},
           {"new_checksum", step.new_checksum.empty() ? nlohmann::json() : nlohmann::json(step.new_checksum)},
           {"sql", step.sql}});
    }
    nlohmann::json entry{{"target", result.target.label()}, {"ok", result.ok}, {"steps", steps}};
    if (!result.ok) {
      entry["error"] = {{"message", result.error}, {"where", result.where}, {"hint", result.hint}};
    }
    targets.push_back(entry);
  }
  context.emit_json({{"command", "repair"}, {"dry_run", dry_run}, {"ok", code == 0}, {"targets", targets}});
}

void run_repair(const RepairFlags& flags, Context& context) {
  auto work = load_workload(context, flags.run);
  migrate::RepairOptions options;
  apply_run_flags(flags.run, options);
  options.forget_missing = flags.forget_missing;
  registry::Registry registry(context.config());
  const auto events = event_printer(context);
  migrate::preflight(registry, work.targets, options, events);
  const auto results = migrate::repair(registry, work, options, events);
  int code = 0;
  for (const auto& result : results) {
    code = std::max(code, result.exit_code);
  }
  if (context.global.json) {
    print_json(context, results, options.dry_run, code);
  } else {
    const std::string verb = options.dry_run ? "to repair" : "repaired";
    for (const auto& result : results) {
      const auto label = result.target.label();
      for (const auto& step : result.steps) {
        context.say(label + ": " + describe(step));
        if (options.dry_run) {
          context.say("    " + step.sql);
        }
      }
      if (!result.ok) {
        context.say("  " + label + "  " + context.paint("FAILED", "31") + "  nothing changed");
      } else {
        context.say("  " + label + "  " + context.paint("ok", "32") + "  " +
                    (result.steps.empty() ? std::string("nothing to repair")
                                          : std::to_string(result.steps.size()) + " row(s) " + verb));
      }
    }
  }
  for (const auto& result : results) {
    if (!result.ok) {
      context.error(result.error, result.where, result.hint);
    }
  }
  context.exit_code = code;
}

} // namespace

void setup_repair(CLI::App& app, Context& context) {
  auto flags = std::make_shared<RepairFlags>();
  auto* command = app.add_subcommand(
      "repair", "Record the current checksums of edited applied files and of adopted rows (Flyway's repair)");
  add_run_flags(*command, flags->run);
  command->add_flag("--forget-missing", flags->forget_missing,
                    "Also delete the tracking rows whose migration file is gone");
  command->footer("Examples:\n"
                  "  grant validate                          see what drifted first\n"
                  "  grant repair --dry-run                  show the rows it would change, change nothing\n"
                  "  grant repair --database primary         accept the edited files as they are now\n"
                  "  grant repair --forget-missing           also drop rows of deleted migration files\n"
                  "Only the tracking table changes (one transaction per target); no migration runs.\n"
                  "Flyway's flyway_schema_history is never changed: its versions get rows of grant's own.\n"
                  "Exit codes: 0 done, 2 usage/config error (nothing changed), 3 a database failed.");
  command->callback([flags, &context] { run_repair(*flags, context); });
}

} // namespace grant::cli
