#include <grant/rollout_output.hpp>

#include <grant/flag_checks.hpp>
#include <grant/migrate_output.hpp>
#include <grant/util/strings.hpp>

#include <map>

namespace grant::cli {

namespace {

// The command line as given, quoted for a shell where needed: what resumes the rollout.
std::string command_line(const std::vector<std::string>& argv) {
  std::string out = "grant";
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const auto& word = argv[i];
    const bool plain = !word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                               "0123456789-_./:=,%@+") == std::string::npos;
    if (plain) {
      out += " " + word;
    } else {
      std::string quoted = "'";
      for (const char c : word) {
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      }
      out += " " + quoted + "'";
    }
  }
  return out;
}

// `grant rollback` commands undoing what the stopped run applied, per database and shard.
std::vector<std::string> rollbacks(const rollout::Result& result) {
  std::vector<std::string> out;
  for (const auto& wave : result.waves) {
    for (const auto& target : wave.results) {
      if (target.steps.empty()) {
        continue;
      }
      std::string command = "grant rollback --database " + target.target.database->name;
      if (!target.target.endpoint.shard.empty()) {
        command += " --shard " + target.target.endpoint.shard;
      }
      out.push_back(command + " --steps " + std::to_string(target.steps.size()));
    }
  }
  return out;
}

nlohmann::json verdicts_json(const std::vector<rollout::Verdict>& verdicts) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& verdict : verdicts) {
    out.push_back(
        {{"gate", verdict.gate}, {"ok", verdict.ok}, {"detail", verdict.detail}, {"figures", verdict.figures}});
  }
  return out;
}

std::vector<std::string> labels(const rollout::Wave& wave) {
  std::vector<std::string> out;
  for (const auto& target : wave.targets) {
    out.push_back(target.label());
  }
  return out;
}

} // namespace

void add_rollout_flags(CLI::App& command, RolloutFlags& flags) {
  command.add_option("--canary", flags.canary, "Apply to these shards first (comma-separated), gate, then the rest")
      ->delimiter(',');
  command
      .add_option("--waves", flags.waves,
                  "Waves as running totals of each database's shards: counts or shares, e.g. 1,10%,50%,100%")
      ->delimiter(',');
  command
      .add_option("--order", flags.order,
                  "Shard order the waves take: config (default), name, or size (smallest first)")
      ->check(CLI::IsMember({"config", "name", "size"}));
  command
      .add_option("--pause", flags.pause_s,
                  "Wait this long between waves, the gates checked meanwhile (seconds, or 30s, 5min...)")
      ->transform(duration_seconds(86400));
  command
      .add_option("--max-lag", flags.max_lag_ms,
                  "Gate: every replica of the migrated shards within MS (default health.max_lag_ms; unknown "
                  "lag fails); also throttles inside a wave: after each migration, wait for the shard's replicas")
      ->check(whole_number(0, 86'400'000));
  command.add_option("--gate-cmd", flags.gate_cmd,
                     "Gate: this shell command must exit 0 between waves (GRANT_ROLLOUT_WAVE and "
                     "GRANT_ROLLOUT_TARGETS in its environment)");
  command
      .add_option("--gate-timeout", flags.gate_timeout_s,
                  "How long a gate may keep failing before the rollout stops (default 5min)")
      ->transform(duration_seconds(86400));
  command.add_flag("--plan", flags.plan, "Print the waves, what each would apply where and the gates; change nothing");
}

rollout::Options rollout_options(const RolloutFlags& flags, const config::RolloutSettings& settings) {
  rollout::Options out;
  out.canary = flags.canary.empty() ? settings.canary : flags.canary;
  out.canary_from_config = flags.canary.empty() && !settings.canary.empty();
  if (out.canary_from_config) {
    out.sources.canary = "rollout.canary";
  }
  if (flags.waves.empty() && !settings.waves.empty()) {
    out.sources.waves = "rollout.waves";
  }
  if (flags.gate_cmd.empty() && settings.gate_cmd) {
    out.sources.gate_command = "rollout.gate_cmd";
  }
  if (flags.max_lag_ms < 0 && settings.max_lag_ms) {
    out.sources.max_lag = "rollout.max_lag_ms";
  }
  out.waves = flags.waves.empty() ? settings.waves : flags.waves;
  out.order = flags.order.empty() ? settings.order : flags.order;
  out.pause =
      std::chrono::milliseconds(flags.pause_s >= 0 ? static_cast<long long>(flags.pause_s * 1000) : settings.pause_ms);
  if (flags.max_lag_ms >= 0) {
    out.max_lag_ms = flags.max_lag_ms;
  } else {
    out.max_lag_ms = settings.max_lag_ms;
  }
  if (!flags.gate_cmd.empty()) {
    out.gate_command = flags.gate_cmd;
  } else {
    out.gate_command = settings.gate_cmd;
  }
  out.gate_timeout = std::chrono::milliseconds(
      flags.gate_timeout_s >= 0 ? static_cast<long long>(flags.gate_timeout_s * 1000) : settings.gate_timeout_ms);
  return out;
}

void print_plan(Context& context, const std::vector<rollout::PlannedWave>& planned, const rollout::Options& options,
                const std::vector<migrate::Target>& targets) {
  const auto gates = rollout::describe_gates(options, targets);
  if (context.global.json) {
    nlohmann::json waves = nlohmann::json::array();
    for (const auto& wave : planned) {
      nlohmann::json pending = nlohmann::json::object();
      for (const auto& [target, names] : wave.pending) {
        pending[target] = names;
      }
      waves.push_back({{"wave", wave.wave.number},
                       {"targets", labels(wave.wave)},
                       {"pending", pending},
                       {"unreadable", wave.unreadable}});
    }
    context.emit_json({{"command", "migrate"}, {"plan", true}, {"waves", waves}, {"gates", gates}});
    return;
  }
  context.say("rollout plan (nothing is changed):");
  for (const auto& wave : planned) {
    context.say("wave " + std::to_string(wave.wave.number) + ": " + util::join(labels(wave.wave), ", "));
    for (const auto& [target, names] : wave.pending) {
      context.say("    " + target + ": " + (names.empty() ? "nothing pending" : util::join(names, ", ")));
    }
    for (const auto& unreadable : wave.unreadable) {
      context.say("    " + unreadable + " (state unknown)");
    }
    if (&wave != &planned.back()) {
      context.say("  then the gates: " + gates);
    }
  }
}

void report_rollout(Context& context, const rollout::Result& result, bool dry_run) {
  const auto resume = command_line(context.argv);
  const auto undo = rollbacks(result);
  if (context.global.json) {
    nlohmann::json waves = nlohmann::json::array();
    for (const auto& wave : result.waves) {
      waves.push_back({{"wave", wave.wave.number},
                       {"targets", labels(wave.wave)},
                       {"already_applied", wave.already_applied},
                       {"results", results_json(wave.results, dry_run)},
                       {"gates", verdicts_json(wave.gates)}});
    }
    context.emit_json(
        {{"command", "migrate"},
         {"dry_run", dry_run},
         {"ok", result.exit_code == 0},
         {"rollout",
          {{"waves", waves},
           {"completed", result.completed},
           {"stopped_at", result.stopped_at ? nlohmann::json(*result.stopped_at) : nlohmann::json(nullptr)},
           {"stop_reason", result.stop_reason},
           {"resume", result.completed ? nlohmann::json(nullptr) : nlohmann::json(resume)},
           {"rollback", undo}}}});
  } else {
    for (const auto& wave : result.waves) {
      if (!wave.results.empty()) {
        say_results(context, "migrate", wave.results, dry_run);
      }
    }
  }
  for (const auto& wave : result.waves) {
    say_failures(context, wave.results, dry_run);
  }
  if (result.completed) {
    std::size_t targets = 0;
    for (const auto& wave : result.waves) {
      targets += wave.wave.targets.size();
    }
    context.say(std::string(dry_run ? "-- " : "") + "rollout complete: " + std::to_string(result.waves.size()) +
                " wave(s), " + std::to_string(targets) + " target(s)");
  } else {
    std::string hint = "resume after fixing the cause: " + resume;
    if (!undo.empty()) {
      hint += "; or undo what this run applied: " + util::join(undo, "; ");
    }
    std::string gates;
    if (result.stopped_at) {
      for (const auto& wave : result.waves) {
        for (const auto& verdict : wave.gates) {
          if (!verdict.ok) {
            gates += " (" + verdict.gate + ": " + verdict.detail + ")";
          }
        }
      }
    }
    context.error("rollout stopped at wave " + std::to_string(result.stopped_at.value_or(0)) + ": " +
                      result.stop_reason + gates + "; later waves are untouched",
                  {}, hint);
  }
  context.exit_code = result.exit_code;
}

} // namespace grant::cli
