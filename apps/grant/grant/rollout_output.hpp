#pragma once

#include <grant/context.hpp>
#include <grant/rollout/rollout.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace grant::cli {

/// `grant migrate`'s rollout flags (unset ones fall back to the config's `rollout` section).
struct RolloutFlags {
  std::vector<std::string> canary;
  std::vector<std::string> waves;
  std::string order;
  double pause_s = -1;
  int max_lag_ms = -1;
  std::string gate_cmd;
  double gate_timeout_s = -1;
  bool plan = false;
};

void add_rollout_flags(CLI::App& command, RolloutFlags& flags);
/// The flags over the config's `rollout` section.
rollout::Options rollout_options(const RolloutFlags& flags, const config::RolloutSettings& settings);
/// --plan: the waves, what each would apply where, the gates.
void print_plan(Context& context, const std::vector<rollout::PlannedWave>& planned, const rollout::Options& options,
                const std::vector<migrate::Target>& targets);
/// The rollout's summary (or --json document), the resume command when it stopped; sets the exit code.
void report_rollout(Context& context, const rollout::Result& result, bool dry_run);

} // namespace grant::cli
