#include <grant/migrate_output.hpp>

#include <grant/flag_checks.hpp>

#include <grant/migrate/runner.hpp>
#include <grant/util/strings.hpp>
#include <grant/util/text.hpp>
#include <grant/util/url.hpp>

#include <algorithm>
#include <iostream>
#include <mutex>

namespace grant::cli {

void add_target_flags(CLI::App& command, RunFlags& flags) {
  command.add_option("--database", flags.databases, "Only this database (repeatable; default: all)");
  command.add_option("--shard", flags.shards, "Only this shard (repeatable; default: all)");
  command.add_option("--jobs", flags.jobs, "Targets to work on at once (default: one per shard, up to 8)")
      ->check(whole_number(1, 256));
}

void add_run_flags(CLI::App& command, RunFlags& flags) {
  add_target_flags(command, flags);
  command.add_flag("--dry-run", flags.dry_run, "Print, per target, the SQL that would run; change nothing");
  command
      .add_option("--lock-timeout", flags.lock_timeout_s,
                  "How long to wait for another run's migration lock (seconds, or 500ms, 2min...; default: "
                  "forever); with --atomic, also the most each shard's locks wait on a silent shard's PREPARE, "
                  "decision or COMMIT PREPARED (default 5s)")
      ->transform(duration_seconds(1e6));
  command.add_option("--wait", flags.wait_s, "Wait up to SECONDS for the servers to accept connections")
      ->check(whole_number(0, 1000000));
}

void apply_run_flags(const RunFlags& flags, migrate::RunOptions& options) {
  options.dry_run = flags.dry_run;
  options.jobs = flags.jobs;
  options.lock_timeout = std::chrono::milliseconds(static_cast<long long>(std::max(0.0, flags.lock_timeout_s) * 1000));
  options.wait = std::chrono::seconds(flags.wait_s);
}

migrate::Workload load_workload(Context& context, const RunFlags& flags) {
  const auto& config = context.config();
  return migrate::prepare(migrate::select_targets(config, flags.databases, flags.shards));
}

migrate::EventSink event_printer(const Context& context) {
  auto mutex = std::make_shared<std::mutex>();
  const bool show = !context.global.quiet && !context.global.json;
  const int verbose = context.global.verbose;
  return [mutex, show, verbose, &context](const migrate::Event& event) {
    using Kind = migrate::Event::Kind;
    std::lock_guard guard(*mutex);
    switch (event.kind) {
    case Kind::waiting_server:
    case Kind::waiting_lock:
      if (!context.global.quiet) {
        std::cerr << util::printable(event.target + ": " + util::redact_secrets(event.text), "\n\t") << std::endl;
      }
      break;
    case Kind::applying:
    case Kind::reverting:
      if (show && verbose > 0) {
        std::cout << util::printable(event.target + ": " + (event.kind == Kind::applying ? "applying " : "reverting ") +
                                     event.migration)
                  << std::endl;
      }
      break;
    case Kind::applied:
    case Kind::reverted:
      if (show) {
        std::cout << util::printable(event.target + ": " + (event.kind == Kind::applied ? "applied " : "reverted ") +
                                     event.migration)
                  << " (" << event.ms << " ms)" << std::endl;
      }
      break;
    case Kind::failed:
    case Kind::note:
      if (show) {
        std::cout << util::printable(event.target + ": " + event.text, "\n\t") << std::endl;
      }
      break;
    }
  };
}

nlohmann::json results_json(const std::vector<migrate::TargetResult>& results, bool dry_run) {
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& result : results) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& step : result.steps) {
      nlohmann::json item{{"version", step.version}, {"name", step.name}, {"ms", step.ms}};
      if (dry_run) {
        item["sql"] = step.sql;
      }
      steps.push_back(item);
    }
    nlohmann::json entry{{"target", result.target.label()},
                         {"database", result.target.database->name},
                         {"shard", result.target.endpoint.shard},
                         {"url", result.target.endpoint.url.redacted()},
                         {"ok", result.ok},
                         {"steps", steps},
                         {"current_version", result.current_version}};
    if (!result.replicas.empty()) {
      nlohmann::json replicas = nlohmann::json::array();
      for (const auto& replica : result.replicas) {
        replicas.push_back(
            {{"replica", replica.replica},
             {"caught_up", replica.ok},
             {"ms", replica.ms},
             {"error", replica.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(replica.error)}});
      }
      entry["replicas"] = replicas;
    }
    if (!result.ok) {
      entry["error"] = {{"message", result.error}, {"where", result.where}, {"hint", result.hint}};
    }
    targets.push_back(entry);
  }
  return targets;
}

void say_results(const Context& context, const std::string& command, const std::vector<migrate::TargetResult>& results,
                 bool dry_run) {
  if (dry_run) {
    for (const auto& result : results) {
      context.say("-- " + result.target.label() + " (" + result.target.endpoint.url.redacted() + ")");
      if (result.steps.empty() && result.ok) {
        context.say("-- nothing to do");
      }
      for (const auto& step : result.steps) {
        context.say("-- " + step.version + "_" + step.name);
        context.say(step.sql);
      }
    }
  }
  const char* verb = command == "rollback"   ? "reverted"
                     : command == "baseline" ? "marked applied"
                     : command == "redo"     ? "redone"
                                             : "applied";
  for (const auto& result : results) {
    // A dry run's stdout is a SQL script that runs as printed: the summary rides in comments.
    std::string line = std::string(dry_run ? "--" : "") + "  " + result.target.label() + "  ";
    // redo's steps are the reverted migration and then the same one re-applied.
    const auto count = command == "redo" ? result.steps.size() / 2 : result.steps.size();
    if (result.ok) {
      line += context.paint("ok", "32") + "  " + std::to_string(count) + " " +
              (dry_run ? std::string("would be ") + verb : std::string(verb));
      line += result.current_version.empty() ? ", no version applied" : ", at " + result.current_version;
    } else if (result.exit_code == static_cast<int>(ErrorKind::interrupted)) {
      line += context.paint("INTERRUPTED", "31") + "  " + std::to_string(result.steps.size()) + " " + verb +
              " before the signal";
      line += result.current_version.empty() ? ", no version applied" : ", at " + result.current_version;
    } else if (result.exit_code == 2 && result.steps.empty()) {
      line += context.paint("REFUSED", "31") + "  nothing changed on this target";
    } else if (command == "redo" && result.steps.size() == 1) {
      line += context.paint("FAILED", "31") + "  " + result.steps.front().version + "_" + result.steps.front().name +
              " reverted, not applied again";
    } else {
      line += context.paint("FAILED", "31") + "  " + std::to_string(result.steps.size()) + " " + verb +
              " before the failure";
    }
    context.say(line);
    for (const auto& replica : result.replicas) {
      context.say("      " + replica.replica + "  " +
                  (replica.ok ? "replayed in " + std::to_string(replica.ms) + " ms" : context.paint("LATE", "31")));
    }
  }
}

void say_failures(const Context& context, const std::vector<migrate::TargetResult>& results, bool dry_run) {
  const int code = migrate::exit_code_of(results);
  for (const auto& result : results) {
    if (!result.ok) {
      context.error(result.error, result.where, result.hint);
    }
  }
  if (code == 2 && !dry_run) {
    // Exit 2 means "nothing was touched" for the refused targets only: say which others changed.
    std::vector<std::string> changed;
    std::vector<std::string> refused;
    for (const auto& result : results) {
      if (!result.steps.empty()) {
        changed.push_back(result.target.label());
      } else if (result.exit_code == 2) {
        refused.push_back(result.target.label());
      }
    }
    if (!changed.empty() && !refused.empty()) {
      context.warn("refused on " + util::join(refused, ", ") + " (nothing changed there), but " +
                   util::join(changed, ", ") + " did change in this run: see the summary above");
    }
  }
}

void report_results(Context& context, const std::string& command, const std::vector<migrate::TargetResult>& results,
                    bool dry_run) {
  const int code = migrate::exit_code_of(results);
  if (context.global.json) {
    context.emit_json(
        {{"command", command}, {"dry_run", dry_run}, {"ok", code == 0}, {"targets", results_json(results, dry_run)}});
  } else {
    say_results(context, command, results, dry_run);
  }
  say_failures(context, results, dry_run);
  context.exit_code = code;
}

} // namespace grant::cli
