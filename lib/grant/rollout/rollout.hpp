#pragma once
/// Rollouts: `grant migrate` in waves (a canary first, then counts or shares of each database's
/// shards), with gates between waves (every target applied cleanly, every replica of the migrated
/// shards within the lag bound, an operator's command) and replica-lag throttling inside a wave.
/// Progress lives in the tracking tables: a re-run skips the waves whose targets have nothing
/// pending and resumes at the first that has.

#include <grant/migrate/types.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace grant::registry {
class Registry;
}

namespace grant::rollout {

struct Options {
  std::vector<std::string> canary; ///< shard names, first wave of every selected database
  /// The canary came from the config's rollout section: an unsharded database then migrates in
  /// the first wave instead of being refused.
  bool canary_from_config = false;
  /// Where each setting came from, for messages: the flag, or the config key (`rollout.waves`).
  struct Sources {
    std::string canary = "--canary";
    std::string waves = "--waves";
    std::string gate_command = "--gate-cmd";
    std::string max_lag = "--max-lag";
  } sources;
  std::vector<std::string> waves;     ///< "1", "10%", "100%": cumulative counts or shares of each database's shards
  std::string order = "config";       ///< "config", "name" or "size" (smallest database first)
  std::chrono::milliseconds pause{0}; ///< between waves (gates keep being checked)
  std::optional<int> max_lag_ms;      ///< the lag gate's bound, and throttling inside a wave when set
  std::optional<std::string> gate_command;        ///< passes on exit 0 (run with /bin/sh -c)
  std::chrono::milliseconds gate_timeout{300000}; ///< how long a gate may keep failing before the rollout stops
  /// True when any rollout option is set (one wave of every target when only gates or the
  /// throttle are): a plain migrate otherwise.
  bool active() const { return !canary.empty() || !waves.empty() || max_lag_ms || gate_command || pause.count() > 0; }
};

/// One wave: the targets it migrates, across the selected databases.
struct Wave {
  int number = 1;
  std::vector<migrate::Target> targets;
  std::string label() const; ///< "wave 2 (orders/s1, orders/s2)"
};

/// The waves `options` make of `targets` (the selected writers, in config order). Throws
/// ConfigError (exit 2, nothing touched) for waves that do not add up or exceed a database's
/// shards, a canary naming an unknown shard or given for an unsharded database, an order that is
/// not config/name/size, a gate command that cannot run. `size` order asks each shard for its
/// database's size through `registry`.
std::vector<Wave> make_waves(registry::Registry& registry, const std::vector<migrate::Target>& targets,
                             const Options& options);

/// A gate's verdict, with its figures.
struct Verdict {
  std::string gate; ///< "applied", "replica_lag", "command"
  bool ok = false;
  std::string detail;     ///< in words, with the figures ("orders/s0/r1 lag 7.2 s over 2000 ms")
  nlohmann::json figures; ///< the same for --json
};

struct WaveResult {
  Wave wave;
  bool already_applied = false; ///< nothing was pending on its targets (an earlier run did it)
  std::vector<migrate::TargetResult> results;
  std::vector<Verdict> gates; ///< after the wave (none after the last)
};

struct Result {
  std::vector<WaveResult> waves; ///< the waves reached, in order
  bool completed = false;
  std::optional<int> stopped_at; ///< the wave that failed or whose gate failed
  std::string stop_reason;
  int exit_code = 0; ///< 0 done; 1 a gate failed; the migrate code (2, 3) when a target failed
};

/// Progress lines: a wave starts, a gate's verdict changes, a wait (migrate's Event, target =
/// "rollout" or the target it is about).
using EventSink = migrate::EventSink;

/// Runs the waves in order with `options_migrate` (its `throttle` is set here when max_lag_ms is).
/// Waves whose targets have nothing pending are reported as already applied; gates run after
/// each wave that applied something, and before the first wave this run applies after one an
/// earlier run completed.
Result run(registry::Registry& registry, const migrate::Workload& work, const std::vector<Wave>& waves,
           const Options& options, migrate::MigrateOptions options_migrate, const EventSink& events);

/// What each wave would apply where (read-only: the tracking tables, like `grant status`).
struct PlannedWave {
  Wave wave;
  std::vector<std::pair<std::string, std::vector<std::string>>> pending; ///< target label -> VERSION_name
  std::vector<std::string> unreadable;                                   ///< targets whose state is unknown
};
std::vector<PlannedWave> plan(registry::Registry& registry, const migrate::Workload& work,
                              const std::vector<Wave>& waves, const migrate::RunOptions& options,
                              const std::optional<std::string>& up_to);

/// The gates as text ("replicas within 2000 ms (health.max_lag_ms), then `./check.sh` exits 0").
std::string describe_gates(const Options& options, const std::vector<migrate::Target>& targets);

/// A rollout in progress on one sharded database, read from its shards' newest applied versions
/// (`grant status`). With the waves of the config's rollout section, how many are done.
struct Progress {
  std::string newest;              ///< the newest version any shard has
  std::vector<std::string> ahead;  ///< shards at it
  std::vector<std::string> behind; ///< the others
  int waves = 0;                   ///< the config's waves for this database (0: none known)
  int waves_done = 0;              ///< leading waves whose shards are all at `newest`
  std::string next;                ///< the first wave not done, as Wave::label() says it
};
/// `shard_versions`: shard -> newest applied version ("" for none), as version_skew gives it;
/// `waves`: the rollout's waves (any database's targets; only `database`'s count), may be empty.
Progress progress_of(const std::string& database, const std::map<std::string, std::string>& shard_versions,
                     const std::vector<Wave>& waves);

// Gates (gates.cpp), also used by the throttle.
/// Every replica of `targets` within `max_lag_ms` (or each database's health.max_lag_ms);
/// unknown lag fails. No replicas: passes.
Verdict lag_gate(const std::vector<migrate::Target>& targets, std::optional<int> max_lag_ms);
/// Runs the command (stdout to stderr), bounded by `timeout`; passes on exit 0.
Verdict command_gate(const std::string& command, const Wave& wave, std::chrono::milliseconds timeout);
/// Throws ConfigError (at `source`) when the command's first word is neither a shell builtin nor
/// an executable.
void check_command(const std::string& command, const std::string& source = "--gate-cmd");

} // namespace grant::rollout
