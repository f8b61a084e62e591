#include <grant/commands.hpp>
#include <grant/migrate_output.hpp>

#include <grant/migrate/atomic.hpp>
#include <grant/migrate/runner.hpp>

namespace grant::cli {

namespace {

struct RecoverFlags {
  RunFlags run;
  bool commit = false;
  bool abort = false;
  bool force = false;
};

void run_recover(const RecoverFlags& flags, Context& context) {
  const auto targets = migrate::select_targets(context.config(), flags.run.databases, flags.run.shards);
  registry::Registry registry(context.config());
  migrate::RecoverOptions options;
  options.force_commit = flags.commit;
  options.force_abort = flags.abort;
  options.force = flags.force;
  options.dry_run = flags.run.dry_run;
  const auto items = migrate::recover(registry, targets, options);
  bool failed = false;
  if (context.global.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& item : items) {
      list.push_back({{"database", item.database},
                      {"target", item.target},
                      {"gid", item.gid},
                      {"prepared_at", item.prepared_at},
                      {"coordinator", item.coordinator},
                      {"decision", item.decision.empty() ? nlohmann::json(nullptr) : nlohmann::json(item.decision)},
                      {"action", item.action},
                      {"done", item.done},
                      {"error", item.error}});
      failed = failed || !item.error.empty();
    }
    context.emit_json({{"in_doubt", list}, {"dry_run", options.dry_run}});
  } else {
    if (items.empty()) {
      context.say("no in-doubt transactions");
    }
    for (const auto& item : items) {
      std::string line = item.target + "  " + item.gid + "  prepared " + item.prepared_at + "  decision " +
                         (item.decision.empty() ? "none recorded" : item.decision) + "  -> ";
      if (!item.error.empty()) {
        line += context.paint("FAILED", "31") + " " + item.error;
        failed = true;
      } else {
        line += options.dry_run ? "would " + item.action : (item.action == "commit" ? "committed" : "rolled back");
      }
      context.say(line);
    }
  }
  if (failed) {
    context.exit_code = 3;
  } else if (options.dry_run && !items.empty()) {
    context.exit_code = 1;
  }
}

} // namespace

void setup_recover(CLI::App& app, Context& context) {
  auto flags = std::make_shared<RecoverFlags>();
  auto* command = app.add_subcommand("recover", "List and resolve in-doubt prepared transactions left by --atomic");
  command->add_option("--database", flags->run.databases, "Only this database (repeatable)");
  command->add_option("--shard", flags->run.shards, "Only this shard (repeatable)");
  command->add_flag("--dry-run", flags->run.dry_run, "Only list them (exit 1 when any exist)");
  auto* commit =
      command->add_flag("--commit", flags->commit, "Commit those with no recorded decision too (records commit first)");
  command->add_flag("--abort", flags->abort, "Roll back those with no recorded decision (records abort first)")
      ->excludes(commit);
  command->add_flag("--force", flags->force,
                    "Let --commit/--abort go against a recorded decision (this splits the shards)");
  command->footer("Without --commit/--abort each transaction is committed when its run recorded the commit\n"
                  "decision, and rolled back only once an abort is settled on the coordinator (the shard named\n"
                  "in the transaction id), so all shards agree. When the coordinator cannot be reached\n"
                  "nothing is done and grant exits 3.\n"
                  "Examples:\n  grant recover --dry-run\n  grant recover --database orders\n"
                  "  grant recover --database orders --shard s2");
  command->callback([flags, &context] { run_recover(*flags, context); });
}

} // namespace grant::cli
