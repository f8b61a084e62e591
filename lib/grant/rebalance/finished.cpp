// How the last rebalance of a database ended. Cleanup and abort drop everything grant installed
// for the run, and with it the state rows a re-run would read; one small table on every shard of
// both configs keeps the outcome instead, so that a phase re-run after the end says "already done"
// rather than "no rebalance in progress". It is written before grant's objects are dropped: a
// kill in between leaves the state rows, and the re-run does the phase again (it is idempotent).
#include <grant/rebalance/work.hpp>

#include <grant/util/parallel_for.hpp>

namespace grant::rebalance {

std::optional<FinishedRow> read_finished(Work& work) {
  const auto& node = work.fleet.node(work.fleet.coordinator());
  const auto table = grant_table(node.schema, "finished");
  auto session = node.checkout();
  if (session->query("SELECT to_regclass($1) IS NOT NULL", {table}).scalar().value_or("f") != "t") {
    return std::nullopt;
  }
  const auto rows = session->query("SELECT outcome, finished_at::text FROM " + table +
                                       " WHERE database = $1 AND source = $2 AND target = $3",
                                   {work.fleet.source().name, work.fleet.source_digest(), work.fleet.digest()});
  if (rows.empty()) {
    return std::nullopt;
  }
  return FinishedRow{rows.rows[0][0].value_or(""), rows.rows[0][1].value_or("")};
}

void record_finished(Work& work, const std::string& outcome) {
  const auto& nodes = work.fleet.nodes();
  util::parallel_for(nodes.size(), static_cast<int>(nodes.size()), [&](std::size_t n) {
    const auto& node = nodes[n];
    const auto table = grant_table(node.schema, "finished");
    auto session = node.checkout();
    session->execute("CREATE TABLE IF NOT EXISTS " + table +
                     " (database text PRIMARY KEY, source text NOT NULL, target text NOT NULL, outcome text NOT NULL, "
                     "finished_at timestamptz NOT NULL DEFAULT now())");
    session->query("INSERT INTO " + table +
                       " (database, source, target, outcome) VALUES ($1, $2, $3, $4) ON CONFLICT (database) DO UPDATE "
                       "SET source = EXCLUDED.source, target = EXCLUDED.target, outcome = EXCLUDED.outcome, "
                       "finished_at = now()",
                   {work.fleet.source().name, work.fleet.source_digest(), work.fleet.digest(), outcome});
  });
}

std::optional<AlreadyDone> nothing_to_do(Work& work) {
  AlreadyDone out;
  if (work.fleet.moves_nothing()) {
    out.nothing_moves = true;
    return out;
  }
  const auto row = read_finished(work);
  if (!row) {
    return std::nullopt;
  }
  out.finished = true;
  out.outcome = row->outcome;
  out.finished_at = row->finished_at;
  return out;
}

} // namespace grant::rebalance
