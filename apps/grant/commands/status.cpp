#include <grant/commands.hpp>
#include <grant/migrate/fleet_status.hpp>
#include <grant/migrate/runner.hpp>
#include <grant/migrate_output.hpp>
#include <grant/registry/registry.hpp>
#include <grant/rollout/rollout.hpp>
#include <grant/util/strings.hpp>

#include <iostream>

namespace grant::cli {

namespace {

struct StatusFlags {
  RunFlags run;
  bool exit_code = false;
};

constexpr std::size_t k_names_listed = 8; ///< a skew group of more shards prints as a count

std::string describe(const migrate::TargetStatus& status, const Context& context) {
  if (!status.reachable) {
    return context.paint(status.error_exit == 2 ? "REFUSED" : "UNREACHABLE", "31") + "  state unknown: " + status.error;
  }
  return std::to_string(status.plan.applied.size()) + " applied, " + std::to_string(status.plan.pending.size()) +
         " pending, " +
         (status.plan.current_version.empty() ? "no version applied" : "at " + status.plan.current_version);
}

void say_details(const migrate::TargetStatus& status, const Context& context, const std::string& indent) {
  if (status.in_doubt > 0) {
    context.say(indent + context.paint(std::to_string(status.in_doubt) + " in-doubt prepared transaction(s)", "33") +
                " left by an interrupted --atomic run: run `grant recover`");
  }
  for (const auto* migration : status.plan.pending) {
    context.say(indent + "pending  " + migration->display_name() + (migration->empty ? "  (empty)" : ""));
  }
}

void say_target(const migrate::TargetStatus& status, const Context& context, const std::string& indent) {
  context.say(indent + context.paint(status.target.label(), "1") + "  " + describe(status, context));
  say_details(status, context, indent + "    ");
}

// The config's rollout waves, when its rollout section sets any and they need no server (the
// size order asks each shard: `grant migrate --plan` says it then).
std::vector<rollout::Wave> configured_waves(const config::Config& config, registry::Registry& registry,
                                            const std::vector<migrate::Target>& targets) {
  const auto& settings = config.rollout;
  rollout::Options options;
  options.canary = settings.canary;
  options.waves = settings.waves;
  options.order = settings.order;
  if (!options.active() || options.order == "size") {
    return {};
  }
  try {
    return rollout::make_waves(registry, targets, options);
  } catch (const ConfigError&) {
    return {}; // `grant migrate` reports a rollout section that does not fit the shards
  }
}

std::string rollout_line(const rollout::Progress& progress) {
  std::string line = "rollout in progress: " + util::join(progress.ahead, " ") + " ahead at " + progress.newest + ", " +
                     std::to_string(progress.behind.size()) + " shard(s) behind";
  if (progress.waves > 0) {
    line += "; " + std::to_string(progress.waves_done) + " of " + std::to_string(progress.waves) +
            " wave(s) of the config's rollout done" + (progress.next.empty() ? "" : ", next " + progress.next);
  }
  return line;
}

nlohmann::json rollout_json(const rollout::Progress& progress) {
  return {{"newest", progress.newest},
          {"ahead", progress.ahead},
          {"behind", progress.behind},
          {"waves", progress.waves},
          {"waves_done", progress.waves_done},
          {"next", progress.next.empty() ? nlohmann::json(nullptr) : nlohmann::json(progress.next)}};
}

void say_database(const migrate::DatabaseSummary& summary, const Context& context,
                  const std::vector<rollout::Wave>& waves) {
  if (!summary.sharded) {
    for (const auto* target : summary.targets) {
      say_target(*target, context, "");
    }
  } else {
    const auto shards = std::to_string(summary.targets.size()) + " shards";
    std::string line = context.paint(summary.database, "1") + "  ";
    if (summary.all_agree()) {
      line += shards + " agree: " + describe(*summary.common, context);
    } else {
      line += shards + ": " + std::to_string(summary.agreeing) + " agree (" + describe(*summary.common, context) +
              "), " + std::to_string(summary.differing.size()) +
              (summary.differing.size() == 1 ? " differs" : " differ");
    }
    context.say(line);
    if (context.global.verbose > 0) {
      for (const auto* target : summary.targets) {
        say_target(*target, context, "    ");
      }
    } else {
      say_details(*summary.common, context, "    ");
      for (const auto* target : summary.differing) {
        say_target(*target, context, "    ");
      }
    }
  }
  if (!summary.version_skew.empty()) {
    std::string line = context.paint("version skew", "33") + " in " + summary.database + ":";
    std::string separator = " ";
    for (const auto& [version, shards] : migrate::skew_groups(summary.version_skew)) {
      line += separator + (version.empty() ? "none" : version) + " on " +
              (shards.size() > k_names_listed && context.global.verbose == 0 ? std::to_string(shards.size()) + " shards"
                                                                             : util::join(shards, " "));
      separator = "; ";
    }
    context.say(line);
    context.say("  " + rollout_line(rollout::progress_of(summary.database, summary.version_skew, waves)));
  }
  for (const auto* file : summary.empty) {
    context.say(context.paint("empty migration", "33") + " " + file->up.file.string() +
                ": migrate refuses it; write its up section or delete it");
  }
}

nlohmann::json pending_json(const std::vector<const migrate::Migration*>& pending) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto* migration : pending) {
    out.push_back({{"version", migration->version}, {"name", migration->name}, {"empty", migration->empty}});
  }
  return out;
}

nlohmann::json target_json(const migrate::TargetStatus& status) {
  nlohmann::json applied = nlohmann::json::array();
  for (const auto& row : status.plan.applied) {
    applied.push_back({{"version", row.version},
                       {"name", row.name},
                       {"applied_at", row.applied_at},
                       {"checksum", row.checksum ? nlohmann::json(*row.checksum) : nlohmann::json(nullptr)}});
  }
  nlohmann::json entry{{"target", status.target.label()},
                       {"database", status.target.database->name},
                       {"shard", status.target.endpoint.shard},
                       {"reachable", status.reachable},
                       {"state", status.reachable ? "known" : "unknown"},
                       {"current_version", status.plan.current_version},
                       {"applied", applied},
                       {"pending", pending_json(status.plan.pending)},
                       {"in_doubt", status.in_doubt}};
  if (!status.reachable) {
    // Nothing could be read there: what is applied or pending is unknown, not empty.
    for (const auto* key : {"current_version", "applied", "pending", "in_doubt"}) {
      entry[key] = nullptr;
    }
    entry["error"] = status.error;
  }
  return entry;
}

nlohmann::json database_json(const migrate::DatabaseSummary& summary, const std::vector<rollout::Wave>& waves) {
  const auto& common = *summary.common;
  nlohmann::json differing = nlohmann::json::array();
  for (const auto* target : summary.differing) {
    differing.push_back(target->target.label());
  }
  nlohmann::json empty = nlohmann::json::array();
  for (const auto* file : summary.empty) {
    empty.push_back({{"version", file->version}, {"name", file->name}, {"file", file->up.file.string()}});
  }
  return {
      {"database", summary.database},
      {"sharded", summary.sharded},
      {"targets", summary.targets.size()},
      {"agree", summary.all_agree()},
      {"agreeing", summary.agreeing},
      {"common", common.reachable ? nlohmann::json{{"reachable", true},
                                                   {"state", "known"},
                                                   {"current_version", common.plan.current_version},
                                                   {"applied", common.plan.applied.size()},
                                                   {"pending", pending_json(common.plan.pending)},
                                                   {"in_doubt", common.in_doubt}}
                                  : nlohmann::json{{"reachable", false},
                                                   {"state", "unknown"},
                                                   {"current_version", nullptr},
                                                   {"applied", nullptr},
                                                   {"pending", nullptr},
                                                   {"in_doubt", nullptr}}},
      {"differing", differing},
      {"version_skew", summary.version_skew.empty() ? nlohmann::json(nullptr) : nlohmann::json(summary.version_skew)},
      {"rollout", summary.version_skew.empty()
                      ? nlohmann::json(nullptr)
                      : rollout_json(rollout::progress_of(summary.database, summary.version_skew, waves))},
      {"empty_migrations", empty}};
}

void run_status(const StatusFlags& flags, Context& context) {
  auto work = load_workload(context, flags.run);
  migrate::RunOptions options;
  apply_run_flags(flags.run, options);
  registry::Registry registry(context.config());
  const auto statuses = migrate::status(registry, work, options);
  const auto summaries = migrate::summarize_fleet(statuses);
  const auto skew = migrate::version_skew(statuses);
  const auto waves =
      skew.empty() ? std::vector<rollout::Wave>{} : configured_waves(context.config(), registry, work.targets);
  std::size_t pending = 0;
  std::size_t in_doubt = 0;
  bool unreachable = false;
  for (const auto& status : statuses) {
    pending += status.plan.pending.size();
    in_doubt += status.in_doubt;
    unreachable = unreachable || !status.reachable;
  }
  if (context.global.json) {
    nlohmann::json targets = nlohmann::json::array();
    for (const auto& status : statuses) {
      targets.push_back(target_json(status));
    }
    nlohmann::json databases = nlohmann::json::array();
    for (const auto& summary : summaries) {
      databases.push_back(database_json(summary, waves));
    }
    nlohmann::json skew_json = nlohmann::json::object();
    for (const auto& [database, versions] : skew) {
      skew_json[database] = versions;
    }
    context.emit_json(
        {{"targets", targets}, {"databases", databases}, {"pending", pending}, {"version_skew", skew_json}});
  } else {
    for (const auto& summary : summaries) {
      say_database(summary, context, waves);
    }
  }
  if (unreachable) {
    int code = 0;
    for (const auto& status : statuses) {
      if (!status.reachable) {
        context.error(status.target.label() + ": " + status.error, {}, status.hint);
        code = std::max(code, status.error_exit == 0 ? 3 : status.error_exit);
      }
    }
    context.exit_code = code;
  } else if (flags.exit_code && (pending > 0 || !skew.empty() || in_doubt > 0)) {
    context.exit_code = 1;
  }
}

} // namespace

void setup_status(CLI::App& app, Context& context) {
  auto flags = std::make_shared<StatusFlags>();
  auto* command = app.add_subcommand(
      "status", "Applied and pending migrations per target; a sharded database is one line when its shards agree");
  add_target_flags(*command, flags->run);
  command->add_flag("--exit-code", flags->exit_code, "Exit 1 when anything is pending (a CI gate)");
  command->footer("Examples:\n  grant status\n  grant status --database orders --json\n  grant -v status   # every "
                  "shard of a sharded database\n  grant status --exit-code   # in CI");
  command->callback([flags, &context] { run_status(*flags, context); });
}

} // namespace grant::cli
