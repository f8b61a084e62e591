#include <grant/commands.hpp>
#include <grant/migrate_output.hpp>

#include <iostream>

namespace grant::cli {

namespace {

void run_validate(const RunFlags& flags, Context& context) {
  auto work = load_workload(context, flags);
  migrate::RunOptions options;
  apply_run_flags(flags, options);
  registry::Registry registry(context.config());
  const auto statuses = migrate::status(registry, work, options);
  nlohmann::json problems = nlohmann::json::array();
  bool unreachable = false;
  for (const auto& status : statuses) {
    const auto target = status.target.label();
    if (!status.reachable) {
      unreachable = true;
      problems.push_back({{"target", target}, {"kind", "unreachable"}, {"message", status.error}});
      continue;
    }
    for (const auto& drift : status.plan.drifted) {
      problems.push_back({{"target", target},
                          {"kind", "checksum_drift"},
                          {"version", drift.migration->version},
                          {"file", drift.migration->up.file.string()},
                          {"message", "applied migration " + drift.migration->display_name() +
                                          " was edited after it was applied (checksum " +
                                          drift.applied.checksum->substr(0, 12) + "… recorded, " +
                                          drift.migration->checksum.substr(0, 12) + "… now)"}});
    }
    for (const auto& row : status.plan.missing_files) {
      problems.push_back({{"target", target},
                          {"kind", "missing_file"},
                          {"version", row.version},
                          {"message", "version " + row.version + (row.name.empty() ? "" : "_" + row.name) +
                                          " is applied but no migration file has it"}});
    }
    for (const auto* migration : status.plan.out_of_order) {
      problems.push_back({{"target", target},
                          {"kind", "out_of_order"},
                          {"version", migration->version},
                          {"file", migration->up.file.string()},
                          {"message", "pending " + migration->display_name() + " is older than the newest applied " +
                                          status.plan.current_version}});
    }
  }
  if (context.global.json) {
    context.emit_json({{"ok", problems.empty()}, {"problems", problems}});
  } else if (problems.empty()) {
    context.say("ok: " + std::to_string(statuses.size()) + " targets match their migration files");
  } else {
    for (const auto& problem : problems) {
      context.say(problem["target"].get<std::string>() + ": " + context.paint(problem["kind"].get<std::string>(), "33") +
                  ": " + problem["message"].get<std::string>());
    }
  }
  if (unreachable) {
    context.exit_code = 3;
  } else if (!problems.empty()) {
    context.exit_code = 1;
  }
}

} // namespace

void setup_validate(CLI::App& app, Context& context) {
  auto flags = std::make_shared<RunFlags>();
  auto* command = app.add_subcommand("validate", "Report checksum drift, applied-but-missing files, out-of-order pending");
  add_target_flags(*command, *flags);
  command->footer("Examples:\n  grant validate\n  grant validate --database orders --json\n"
                  "Exit codes: 0 clean, 1 problems found, 2 config error, 3 unreachable target.");
  command->callback([flags, &context] { run_validate(*flags, context); });
}

} // namespace grant::cli
