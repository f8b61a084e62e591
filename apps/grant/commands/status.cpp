#include <grant/commands.hpp>
#include <grant/migrate_output.hpp>

#include <iostream>
#include <map>

namespace grant::cli {

namespace {

struct StatusFlags {
  RunFlags run;
  bool exit_code = false;
};

/// Shards of one database that disagree on their newest applied version.
std::map<std::string, std::map<std::string, std::string>> version_skew(const std::vector<migrate::TargetStatus>& statuses) {
  std::map<std::string, std::map<std::string, std::string>> by_database;
  for (const auto& status : statuses) {
    if (status.target.database->is_sharded() && status.reachable) {
      by_database[status.target.database->name][status.target.endpoint.shard] = status.plan.current_version;
    }
  }
  std::map<std::string, std::map<std::string, std::string>> skewed;
  for (const auto& [database, versions] : by_database) {
    const auto& first = versions.begin()->second;
    for (const auto& [shard, version] : versions) {
      if (version != first) {
        skewed[database] = versions;
        break;
      }
    }
  }
  return skewed;
}

void run_status(const StatusFlags& flags, Context& context) {
  auto work = load_workload(context, flags.run);
  migrate::RunOptions options;
  apply_run_flags(flags.run, options);
  registry::Registry registry(context.config());
  const auto statuses = migrate::status(registry, work, options);
  const auto skew = version_skew(statuses);
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
      nlohmann::json applied = nlohmann::json::array();
      for (const auto& row : status.plan.applied) {
        applied.push_back({{"version", row.version}, {"name", row.name}, {"applied_at", row.applied_at},
                           {"checksum", row.checksum ? nlohmann::json(*row.checksum) : nlohmann::json(nullptr)}});
      }
      nlohmann::json pending_list = nlohmann::json::array();
      for (const auto* migration : status.plan.pending) {
        pending_list.push_back({{"version", migration->version}, {"name", migration->name}});
      }
      nlohmann::json entry{{"target", status.target.label()},
                           {"database", status.target.database->name},
                           {"shard", status.target.endpoint.shard},
                           {"reachable", status.reachable},
                           {"current_version", status.plan.current_version},
                           {"applied", applied},
                           {"pending", pending_list},
                           {"in_doubt", status.in_doubt}};
      if (!status.reachable) {
        entry["error"] = status.error;
      }
      targets.push_back(entry);
    }
    nlohmann::json skew_json = nlohmann::json::object();
    for (const auto& [database, versions] : skew) {
      skew_json[database] = versions;
    }
    context.emit_json({{"targets", targets}, {"pending", pending}, {"version_skew", skew_json}});
  } else {
    for (const auto& status : statuses) {
      std::string line = context.paint(status.target.label(), "1") + "  ";
      if (!status.reachable) {
        line += context.paint("UNREACHABLE", "31") + "  " + status.error;
      } else {
        line += std::to_string(status.plan.applied.size()) + " applied, " + std::to_string(status.plan.pending.size()) +
                " pending, " +
                (status.plan.current_version.empty() ? "no version applied" : "at " + status.plan.current_version);
      }
      context.say(line);
      if (status.in_doubt > 0) {
        context.say("    " + context.paint(std::to_string(status.in_doubt) + " in-doubt prepared transaction(s)", "33") +
                    " left by an interrupted --atomic run: run `grant recover`");
      }
      for (const auto* migration : status.plan.pending) {
        context.say("    pending  " + migration->display_name());
      }
    }
    for (const auto& [database, versions] : skew) {
      std::string line = context.paint("version skew", "33") + " in " + database + ":";
      for (const auto& [shard, version] : versions) {
        line += " " + shard + "=" + (version.empty() ? "none" : version);
      }
      context.say(line);
    }
  }
  if (unreachable) {
    for (const auto& status : statuses) {
      if (!status.reachable) {
        std::cerr << "grant: error: " << status.target.label() << ": " << status.error << '\n';
      }
    }
    context.exit_code = 3;
  } else if (flags.exit_code && (pending > 0 || !skew.empty() || in_doubt > 0)) {
    context.exit_code = 1;
  }
}

} // namespace

void setup_status(CLI::App& app, Context& context) {
  auto flags = std::make_shared<StatusFlags>();
  auto* command = app.add_subcommand("status", "Applied and pending migrations per target; version skew between shards");
  add_target_flags(*command, flags->run);
  command->add_flag("--exit-code", flags->exit_code, "Exit 1 when anything is pending (a CI gate)");
  command->footer("Examples:\n  grant status\n  grant status --database orders --json\n  grant status --exit-code   # in CI");
  command->callback([flags, &context] { run_status(*flags, context); });
}

} // namespace grant::cli
