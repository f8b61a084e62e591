// --plan: what would move, from a streamed scan of the shard keys (COPY), nothing written.
#include <grant/rebalance/work.hpp>

#include <grant/util/parallel_for.hpp>

#include <map>

namespace grant::rebalance {

namespace {

struct Scan {
  std::map<std::pair<std::size_t, std::size_t>, Move> moves; ///< (table, to node)
  std::map<std::size_t, Unowned> unowned;                    ///< by table
  std::uint64_t rows = 0;
};

Scan scan_source(Work& work, std::size_t source, std::uint64_t total) {
  const auto& node = work.fleet.node(source);
  auto session = node.checkout();
  Scan scan;
  shard::Key scratch;
  std::vector<std::string_view> parts;
  for (std::size_t t = 0; t < work.fleet.tables().size(); ++t) {
    const auto& table = work.fleet.tables()[t];
    std::string select = "SELECT ";
    for (const auto index : table.key()) {
      select += table.columns()[index].quoted + ", ";
    }
    select += "pg_column_size(t.*) FROM " + table.qualified() + " t";
    std::uint64_t since_report = 0;
    session->stream(select, [&](const db::RowView& row) {
      ++scan.rows;
      if (++since_report == 16384) {
        work.rows_done += since_report;
        since_report = 0;
        work.report("plan", table.name(), node.name, total);
      }
      parts.clear();
      for (std::size_t i = 0; i + 1 < row.fields.size(); ++i) {
        parts.push_back(row.nulls[i] ? std::string_view() : row.fields[i]);
      }
      const auto owners = work.fleet.owners(scratch, parts);
      if (owners.old_node != source) {
        return; // not this shard's row under the current config: rebalance leaves it (shard-check reports it)
      }
      if (owners.new_node == k_none) {
        auto& lost = scan.unowned[t];
        lost.table = table.name();
        lost.shard = node.name;
        if (lost.rows++ < 5) {
          lost.samples.push_back(scratch.to_display());
        }
        return;
      }
      if (owners.new_node == source) {
        return;
      }
      auto& move = scan.moves[{t, owners.new_node}];
      move.table = table.name();
      move.from = node.name;
      move.to = work.fleet.node(owners.new_node).name;
      ++move.rows;
      move.bytes += std::stoull(std::string(row.fields.back()));
    });
    work.rows_done += since_report;
  }
  return scan;
}

} // namespace

PlanReport run_plan(Work& work) {
  work.fleet.prepare();
  const auto sources = work.fleet.sources();
  const auto total = estimate_rows(work);
  std::vector<Scan> scans(sources.size());
  util::parallel_for(sources.size(), work.jobs(sources.size()),
                     [&](std::size_t i) { scans[i] = scan_source(work, sources[i], total); });
  PlanReport report;
  for (std::size_t t = 0; t < work.fleet.tables().size(); ++t) {
    for (auto& scan : scans) {
      for (auto& [where, move] : scan.moves) {
        if (where.first == t) {
          report.rows_moving += move.rows;
          report.bytes_moving += move.bytes;
          report.moves.push_back(move);
        }
      }
      if (const auto it = scan.unowned.find(t); it != scan.unowned.end()) {
        report.unowned.push_back(it->second);
      }
    }
  }
  for (const auto& scan : scans) {
    report.rows_scanned += scan.rows;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - work.started).count();
  return report;
}

} // namespace grant::rebalance
