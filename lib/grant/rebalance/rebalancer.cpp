#include <grant/rebalance/rebalance.hpp>

#include <grant/rebalance/work.hpp>

namespace grant::rebalance {

struct Rebalancer::Impl {
  const config::Config& source;
  const config::Config& target;
  std::string database;
  Options options;

  Work work() const { return Work(source, target, database, options); }
};

Rebalancer::Rebalancer(const config::Config& source, const config::Config& target, const std::string& database,
                       Options options)
    : m_impl(std::make_unique<Impl>(Impl{source, target, database, std::move(options)})) {
  // Validates both configs now (shard key, tables, SQLite), before any connection.
  (void)m_impl->work();
}

Rebalancer::~Rebalancer() = default;

PlanReport Rebalancer::plan() {
  auto work = m_impl->work();
  return run_plan(work);
}

CopyReport Rebalancer::copy() {
  auto work = m_impl->work();
  return run_copy(work);
}

CutoverReport Rebalancer::cutover() {
  auto work = m_impl->work();
  return run_cutover(work);
}

CleanupReport Rebalancer::cleanup() {
  auto work = m_impl->work();
  return run_cleanup(work);
}

AbortReport Rebalancer::abort() {
  auto work = m_impl->work();
  return run_abort(work);
}

StatusReport Rebalancer::status() {
  auto work = m_impl->work();
  return run_status(work);
}

StatusReport run_status(Work& work) {
  work.fleet.prepare();
  StatusReport report;
  report.prepared_in_doubt = resolve_in_doubt(work, true);
  const auto states = read_states(work);
  const auto sources = work.fleet.sources();
  report.phase = Phase::cut_over;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const auto& node = work.fleet.node(sources[i]);
    ShardStatus shard;
    shard.shard = node.name;
    if (states[i]) {
      report.started = true;
      report.holder = states[i]->holder;
      report.started_at = states[i]->started_at;
      shard.phase = states[i]->phase;
      shard.pause_ms = states[i]->pause_ms;
      auto session = node.checkout();
      shard.backlog = std::stoull(
          session->query("SELECT count(*) FROM " + grant_table(node.schema, "changes")).scalar().value_or("0"));
      shard.rows_copied = std::stoull(
          session->query("SELECT COALESCE(sum(rows_copied), 0) FROM " + grant_table(node.schema, "progress"))
              .scalar()
              .value_or("0"));
    }
    report.phase = std::min(report.phase, shard.phase);
    report.shards.push_back(shard);
  }
  if (!report.started) {
    report.phase = Phase::none;
    if (const auto done = nothing_to_do(work)) {
      report.already = *done;
    }
  }
  return report;
}

} // namespace grant::rebalance
