// The copy phase: change capture first, then the moving rows in primary-key pages (a checkpoint
// per table on the source after each page), then the captured changes until few are left.
#include <grant/rebalance/work.hpp>

#include <grant/error.hpp>
#include <grant/twophase/setup.hpp>
#include <grant/util/parallel_for.hpp>
#include <grant/util/strings.hpp>

#include <map>

namespace grant::rebalance {

namespace {

void refuse_unowned(const PlanReport& plan) {
  if (plan.unowned.empty()) {
    return;
  }
  const auto& first = plan.unowned.front();
  std::uint64_t rows = 0;
  for (const auto& lost : plan.unowned) {
    rows += lost.rows;
  }
  throw ConfigError(std::to_string(rows) + " rows would have no shard under the target, e.g. " +
                        std::to_string(first.rows) + " rows of " + first.table + " on " + first.shard + " (keys " +
                        util::join(first.samples, ", ") + ")",
                    "--target", "give those keys an owner in the target (a range, a default shard), then run again");
}

void refuse_filled_new_shards(Work& work) {
  for (const auto index : work.fleet.targets()) {
    const auto& node = work.fleet.node(index);
    if (node.is_source()) {
      continue;
    }
    auto session = node.checkout();
    for (const auto& table : work.fleet.tables()) {
      if (session->query("SELECT EXISTS (SELECT 1 FROM " + table.qualified() + ")").scalar().value_or("f") == "t") {
        throw ConfigError(
            "shard " + node.name + " is new in the target, but its table " + table.name() + " already holds rows",
            node.label, "a new shard starts empty: remove those rows (or the shard from the target) and run again");
      }
    }
  }
}

struct SourceCopy {
  std::uint64_t copied = 0;
  std::uint64_t applied = 0;
  std::uint64_t backlog = 0;
};

SourceCopy copy_source(Work& work, std::size_t source, std::uint64_t total) {
  const auto& node = work.fleet.node(source);
  auto sessions = open_sessions(work, source);
  auto& from = *sessions.from;
  auto ledger = node.checkout();
  mark_session(*ledger);
  SourceCopy out;
  for (const auto& table : work.fleet.tables()) {
    out.copied += copy_table(work, source, table, from, *ledger, sessions.to, total);
  }
  // Catch up with what applications changed meanwhile, until few changes wait.
  out.applied = catch_up(work, source, from, sessions.to).applied;
  out.backlog =
      std::stoull(from.query("SELECT count(*) FROM " + grant_table(node.schema, "changes")).scalar().value_or("0"));
  ledger->reset_session();
  return out;
}

} // namespace

CopyReport run_copy(Work& work) {
  work.fleet.prepare();
  Lock lock(work);
  resolve_in_doubt(work, false);
  const auto states = read_states(work);
  const auto sources = work.fleet.sources();
  bool started = false;
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (!states[i]) {
      continue;
    }
    started = true;
    const auto& name = work.fleet.node(sources[i]).name;
    if (states[i]->target != work.fleet.digest()) {
      throw ConfigError("a rebalance of " + work.fleet.source().name + " towards another target is in progress (on " +
                            name + ", started " + states[i]->started_at + " by " + states[i]->holder + ")",
                        "--target", "finish it with its own target file, or undo it with --abort and that file");
    }
    if (states[i]->phase == Phase::cut_over) {
      throw ConfigError("shard " + name + " is already cut over: the copy is over", work.fleet.node(sources[i]).label,
                        "finish with --cutover (for the other shards), then --cleanup once applications use the "
                        "target config");
    }
  }
  for (const auto& node : work.fleet.nodes()) {
    auto session = node.checkout();
    twophase::require_prepared_transactions(*session, node.label, "rebalance --cutover",
                                            "use a server that allows them");
  }
  if (!started) {
    // Nothing to install when no key changes shard, nor once this very rebalance has ended.
    if (auto already = nothing_to_do(work); already && (already->nothing_moves || already->outcome == "cleaned_up")) {
      CopyReport report;
      report.already = *already;
      return report;
    }
    refuse_filled_new_shards(work);
    // hash and consistent_hash give every key a shard; the others may leave some without one,
    // which the plan's scan finds before anything is installed.
    const auto& type = work.fleet.target().sharding->resolver.type;
    if (type != "hash" && type != "consistent_hash") {
      refuse_unowned(run_plan(work));
      work.rows_done = 0;
    }
  }
  const auto holder = holder_name();
  for (const auto index : sources) {
    auto session = work.fleet.node(index).checkout();
    install_capture(*session, work.fleet.node(index), work, holder);
  }
  const auto total = estimate_rows(work);
  const auto started_at = std::chrono::steady_clock::now();
  work.started = started_at;
  std::vector<SourceCopy> results(sources.size());
  util::parallel_for(sources.size(), work.jobs(sources.size()),
                     [&](std::size_t i) { results[i] = copy_source(work, sources[i], total); });
  CopyReport report;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    auto session = work.fleet.node(sources[i]).checkout();
    set_phase(*session, work.fleet.node(sources[i]), work.fleet.source().name, Phase::copied);
    report.rows_copied += results[i].copied;
    report.changes_applied += results[i].applied;
    report.backlog += results[i].backlog;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
  return report;
}

} // namespace grant::rebalance
