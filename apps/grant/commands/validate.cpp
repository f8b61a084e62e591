#include <grant/commands.hpp>
#include <grant/migrate_output.hpp>

#include <grant/migrate/validate.hpp>

namespace grant::cli {

namespace {

void run_validate(const RunFlags& flags, Context& context) {
  auto work = load_workload(context, flags);
  migrate::RunOptions options;
  apply_run_flags(flags, options);
  registry::Registry registry(context.config());
  const auto report = migrate::validate(registry, work, options);
  if (context.global.json) {
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& problem : report.problems) {
      nlohmann::json item{{"target", problem.target}, {"kind", problem.kind}, {"message", problem.message}};
      if (!problem.version.empty()) {
        item["version"] = problem.version;
      }
      if (!problem.file.empty()) {
        item["file"] = problem.file;
      }
      if (!problem.hint.empty()) {
        item["hint"] = problem.hint;
      }
      problems.push_back(item);
    }
    context.emit_json({{"ok", report.problems.empty()}, {"problems", problems}});
  } else if (report.problems.empty()) {
    context.say("ok: " + std::to_string(report.targets) + " targets match their migration files");
  } else {
    for (const auto& problem : report.problems) {
      context.say(problem.target + ": " + context.paint(problem.kind, "33") + ": " + problem.message);
      if (!problem.hint.empty()) {
        context.say("    hint: " + problem.hint);
      }
    }
  }
  context.exit_code = report.exit_code();
}

} // namespace

void setup_validate(CLI::App& app, Context& context) {
  auto flags = std::make_shared<RunFlags>();
  auto* command = app.add_subcommand(
      "validate", "Report checksum drift, applied-but-missing files, out-of-order pending, invalid indexes");
  add_target_flags(*command, *flags);
  command->footer("Examples:\n  grant validate\n  grant validate --database orders --json\n"
                  "Exit codes: 0 clean, 1 problems found, 2 config error, 3 unreachable target.");
  command->callback([flags, &context] { run_validate(*flags, context); });
}

} // namespace grant::cli
