// Running the waves: each through migrate::migrate on its targets, then the gates.
#include <grant/rollout/rollout.hpp>

#include <grant/db/cancel.hpp>
#include <grant/error.hpp>
#include <grant/migrate/runner.hpp>
#include <grant/migrate/targets.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <cstdio>
#include <thread>

namespace grant::rollout {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds k_gate_interval{1000};
constexpr std::chrono::milliseconds k_command_interval{5000};

// Progress goes where notes go; a dry run's stdout is a SQL script, so there it goes with the
// waits (stderr).
void say(const EventSink& events, const std::string& text, bool dry_run = false,
         migrate::Event::Kind kind = migrate::Event::Kind::note) {
  if (events) {
    events({dry_run ? migrate::Event::Kind::waiting_server : kind, "rollout", {}, 0, text});
  }
}

migrate::Workload subset(const migrate::Workload& work, const Wave& wave) {
  migrate::Workload out;
  out.targets = wave.targets;
  out.files = work.files;
  return out;
}

// True when nothing is pending (up to `to`) on any of the wave's targets; unreadable targets
// count as pending (the wave runs and reports them).
bool already_applied(registry::Registry& registry, const migrate::Workload& work, const migrate::RunOptions& options,
                     const std::optional<std::string>& to) {
  for (const auto& status : migrate::status(registry, work, options)) {
    if (!status.reachable) {
      return false;
    }
    for (const auto* migration : status.plan.pending) {
      if (!to || migrate::compare_versions(migration->version, *to) <= 0) {
        return false;
      }
    }
  }
  return true;
}

// Waits out the pause with the gates checked each second; passes once the pause is over and
// every gate passes, fails when a gate still fails gate_timeout after the pause, or at once
// when the operator's command fails after the pause.
std::vector<Verdict> await_gates(const Wave& wave, const std::vector<migrate::Target>& migrated, const Options& options,
                                 const EventSink& events, bool& passed) {
  const auto start = Clock::now();
  const auto pause_end = start + options.pause;
  const auto give_up = pause_end + options.gate_timeout;
  auto last_command = Clock::time_point{};
  std::optional<Verdict> command;
  std::string last_said;
  while (true) {
    db::cancel::check("rollout");
    std::vector<Verdict> verdicts;
    verdicts.push_back(
        {"applied", true, "every target of " + wave.label() + " applied cleanly", {{"targets", migrated.size()}}});
    verdicts.push_back(lag_gate(migrated, options.max_lag_ms));
    const bool paused = Clock::now() < pause_end;
    if (options.gate_command && (!paused || Clock::now() - last_command >= k_command_interval) && verdicts.back().ok) {
      command = command_gate(*options.gate_command, wave, options.gate_timeout);
      last_command = Clock::now();
    }
    if (command) {
      verdicts.push_back(*command);
    }
    std::string said;
    bool all_ok = true;
    for (const auto& verdict : verdicts) {
      all_ok = all_ok && verdict.ok;
      if (verdict.gate != "applied") {
        said += std::string(said.empty() ? "" : "; ") + verdict.gate + (verdict.ok ? " ok: " : " failing: ") +
                verdict.detail;
      }
    }
    if (said != last_said) {
      say(events, "gates after wave " + std::to_string(wave.number) + ": " + said, false,
          all_ok ? migrate::Event::Kind::note : migrate::Event::Kind::waiting_server);
      last_said = said;
    }
    const bool command_failed = command && !command->ok; // the operator's verdict: no waiting it out
    if (command_failed || (!paused && all_ok) || Clock::now() >= give_up) {
      passed = all_ok && !command_failed && Clock::now() >= pause_end;
      return verdicts;
    }
    const auto wait = std::min<Clock::duration>(k_gate_interval, give_up - Clock::now());
    db::cancel::sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(wait), "rollout");
  }
}

// The throttle inside a wave: after each migration on a target (and between the statements of
// a transaction=false section), its replicas back under --max-lag, bounded by the gate timeout.
std::function<void(const migrate::Target&)> throttle(const Options& options, const EventSink& events) {
  return [options, events](const migrate::Target& target) {
    const auto give_up = Clock::now() + options.gate_timeout;
    bool said = false;
    while (true) {
      const auto verdict = lag_gate({target}, options.max_lag_ms);
      if (verdict.ok) {
        if (said && events) {
          events({migrate::Event::Kind::note, target.label(), {}, 0, "replicas caught up: " + verdict.detail});
        }
        return;
      }
      if (Clock::now() >= give_up) {
        throw Error(ErrorKind::database,
                    target.label() + ": its replicas stayed past " + options.sources.max_lag + " for " +
                        std::to_string(options.gate_timeout.count() / 1000) + " s: " + verdict.detail,
                    target.label(), "check replication (is replay paused?), then re-run the same command to resume");
      }
      if (!said && events) {
        events({migrate::Event::Kind::waiting_server,
                target.label(),
                {},
                0,
                "throttled: waiting for its replicas: " + verdict.detail});
        said = true;
      }
      db::cancel::sleep_for(std::min(k_gate_interval, options.gate_timeout), target.label());
    }
  };
}

} // namespace

Result run(registry::Registry& registry, const migrate::Workload& work, const std::vector<Wave>& waves,
           const Options& options, migrate::MigrateOptions options_migrate, const EventSink& events) {
  if (options.max_lag_ms) {
    options_migrate.throttle = throttle(options, events);
  }
  Result result;
  std::vector<migrate::Target> migrated; // every target of the waves reached so far
  bool earlier_done = false;             // the wave before was completed by an earlier run
  for (const auto& wave : waves) {
    WaveResult outcome;
    outcome.wave = wave;
    const auto work_of_wave = subset(work, wave);
    if (already_applied(registry, work_of_wave, options_migrate, options_migrate.to)) {
      outcome.already_applied = true;
      say(events, wave.label() + ": already applied", options_migrate.dry_run);
      migrated.insert(migrated.end(), wave.targets.begin(), wave.targets.end());
      result.waves.push_back(std::move(outcome));
      earlier_done = true;
      continue;
    }
    if (earlier_done && !result.waves.empty() && !options_migrate.dry_run) {
      // Resuming: the waves before were applied by an earlier run; their gates hold first.
      bool passed = false;
      auto verdicts = await_gates(result.waves.back().wave, migrated, options, events, passed);
      result.waves.back().gates = std::move(verdicts);
      if (!passed) {
        result.stopped_at = result.waves.back().wave.number;
        result.stop_reason = "the gates after wave " + std::to_string(*result.stopped_at) + " failed";
        result.exit_code = 1;
        return result;
      }
    }
    earlier_done = false;
    say(events, wave.label() + (options_migrate.dry_run ? ": would apply" : ": applying"), options_migrate.dry_run);
    outcome.results = migrate::migrate(registry, work_of_wave, options_migrate, events);
    migrated.insert(migrated.end(), wave.targets.begin(), wave.targets.end());
    const int code = migrate::exit_code_of(outcome.results);
    const bool last = &wave == &waves.back();
    if (code != 0) {
      std::vector<std::string> failed;
      for (const auto& target : outcome.results) {
        if (!target.ok) {
          failed.push_back(target.target.label());
        }
      }
      result.stopped_at = wave.number;
      result.stop_reason = wave.label() + " failed on " + util::join(failed, ", ");
      result.exit_code = code;
      result.waves.push_back(std::move(outcome));
      return result;
    }
    if (!last && !options_migrate.dry_run) {
      bool passed = false;
      outcome.gates = await_gates(wave, migrated, options, events, passed);
      if (!passed) {
        result.stopped_at = wave.number;
        result.stop_reason = "the gates after wave " + std::to_string(wave.number) + " failed";
        result.exit_code = 1;
        result.waves.push_back(std::move(outcome));
        return result;
      }
    }
    result.waves.push_back(std::move(outcome));
  }
  result.completed = true;
  return result;
}

std::vector<PlannedWave> plan(registry::Registry& registry, const migrate::Workload& work,
                              const std::vector<Wave>& waves, const migrate::RunOptions& options,
                              const std::optional<std::string>& up_to) {
  std::vector<PlannedWave> out;
  for (const auto& wave : waves) {
    PlannedWave planned;
    planned.wave = wave;
    const auto work_of_wave = subset(work, wave); // the statuses point into its files
    for (const auto& status : migrate::status(registry, work_of_wave, options)) {
      if (!status.reachable) {
        planned.unreadable.push_back(status.target.label() + ": " + status.error);
        continue;
      }
      std::vector<std::string> names;
      for (const auto* migration : status.plan.pending) {
        if (!up_to || migrate::compare_versions(migration->version, *up_to) <= 0) {
          names.push_back(migration->display_name());
        }
      }
      planned.pending.emplace_back(status.target.label(), std::move(names));
    }
    out.push_back(std::move(planned));
  }
  return out;
}

Progress progress_of(const std::string& database, const std::map<std::string, std::string>& shard_versions,
                     const std::vector<Wave>& waves) {
  Progress out;
  for (const auto& [shard, version] : shard_versions) {
    if (migrate::compare_versions(version.empty() ? "0" : version, out.newest.empty() ? "0" : out.newest) > 0) {
      out.newest = version;
    }
  }
  for (const auto& [shard, version] : shard_versions) {
    (version == out.newest ? out.ahead : out.behind).push_back(shard);
  }
  bool all_done_so_far = true;
  for (const auto& wave : waves) {
    std::vector<std::string> shards;
    for (const auto& target : wave.targets) {
      if (target.database->name == database) {
        shards.push_back(target.endpoint.shard);
      }
    }
    if (shards.empty()) {
      continue;
    }
    ++out.waves;
    const bool done = std::all_of(shards.begin(), shards.end(), [&](const std::string& shard) {
      const auto found = shard_versions.find(shard);
      return found != shard_versions.end() && found->second == out.newest;
    });
    if (done && all_done_so_far) {
      ++out.waves_done;
    } else if (all_done_so_far) {
      all_done_so_far = false;
      out.next = wave.label();
    }
  }
  return out;
}

std::string describe_gates(const Options& options, const std::vector<migrate::Target>& targets) {
  std::string bound;
  if (options.max_lag_ms) {
    bound = std::to_string(*options.max_lag_ms) + " ms (" + options.sources.max_lag + ")";
  } else if (!targets.empty()) {
    bound = std::to_string(targets.front().database->health.max_lag_ms) + " ms (health.max_lag_ms)";
  }
  std::string out =
      "every target applied cleanly; every replica of the migrated shards within " + bound + " (unknown lag fails)";
  if (options.gate_command) {
    out += "; `" + *options.gate_command + "` exits 0";
  }
  if (options.pause.count() > 0) {
    char pause[32];
    std::snprintf(pause, sizeof pause, "%g s", static_cast<double>(options.pause.count()) / 1000.0);
    out += "; after a pause of " + std::string(pause);
  }
  return out + "; a failing gate stops the rollout after " + std::to_string(options.gate_timeout.count() / 1000) + " s";
}

} // namespace grant::rollout
