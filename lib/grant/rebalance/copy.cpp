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
        throw ConfigError("shard " + node.name + " is new in the target, but its table " + table.name() +
                              " already holds rows",
                          node.label,
                          "a new shard starts empty: remove those rows (or the shard from the target) and run again");
      }
    }
  }
}

/// Queues rows for the change applier, as if an application had just written them.
void defer_rows(const TableSql& table, db::Connection& from, const Node& node,
                const std::vector<std::vector<db::Value>>& rows) {
  std::string pks = "{";
  std::string keys = "{";
  const auto literal = [](const std::vector<std::size_t>& columns, const std::vector<db::Value>& row) {
    std::vector<std::string_view> parts;
    for (const auto index : columns) {
      parts.push_back(row[index] ? std::string_view(*row[index]) : std::string_view());
    }
    std::string quoted = "\"";
    for (const char c : text_array_literal(parts)) {
      if (c == '"' || c == '\\') {
        quoted += '\\';
      }
      quoted += c;
    }
    return quoted + "\"";
  };
  for (const auto& row : rows) {
    pks += (pks.size() > 1 ? "," : "") + literal(table.pk(), row);
    keys += (keys.size() > 1 ? "," : "") + literal(table.key(), row);
  }
  from.query("INSERT INTO " + grant_table(node.schema, "changes") +
                 " (table_name, pk, key) SELECT $1, p::text[], k::text[] FROM unnest($2::text[], $3::text[]) AS u(p, k)",
             {table.name(), pks + "}", keys + "}"});
}

/// Where a table's copy stands: the next heap block to read.
struct Checkpoint {
  std::uint64_t next_block = 0;
  bool done = false;
};

Checkpoint read_checkpoint(db::Connection& session, const Node& node, const TableSql& table) {
  const auto rows = session.query("SELECT COALESCE(next_block, 0), done FROM " + grant_table(node.schema, "progress") +
                                      " WHERE table_name = $1",
                                  {table.name()});
  Checkpoint out;
  if (!rows.empty()) {
    out.next_block = std::stoull(rows.rows[0][0].value_or("0"));
    out.done = rows.rows[0][1].value_or("f") == "t";
  }
  return out;
}

/// The table's size in heap blocks now, and how many blocks hold about `batch` rows.
std::pair<std::uint64_t, std::uint64_t> table_blocks(db::Connection& session, const TableSql& table, std::size_t batch) {
  const auto row = session
                       .query("SELECT pg_relation_size(c.oid) / current_setting('block_size')::bigint, "
                              "GREATEST(c.reltuples, 0)::bigint, GREATEST(c.relpages, 0) FROM pg_class c "
                              "WHERE c.oid = to_regclass($1)",
                              {table.qualified()})
                       .rows.at(0);
  const auto blocks = std::stoull(row[0].value_or("0"));
  const auto tuples = std::stoull(row[1].value_or("0"));
  const auto pages = std::stoull(row[2].value_or("0"));
  const auto per_block = pages > 0 && tuples > 0 ? std::max<std::uint64_t>(1, tuples / pages) : 40;
  return {blocks, std::max<std::uint64_t>(1, batch / per_block)};
}

// The copy reads the heap in block ranges (a TID range scan, no index, no sort): first the
// shard keys and row ids, then the whole rows of the ones that move, by row id. A row that an
// application updates meanwhile may move to a block already read, or change between the two
// reads: the capture trigger (installed before the first read) has recorded it, and applying the
// captured changes copies it then. So the copy needs no snapshot, and each page commits alone.
std::uint64_t copy_table(Work& work, std::size_t source, const TableSql& table, db::Connection& from,
                         const std::vector<db::Connection*>& to, std::uint64_t total) {
  const auto& node = work.fleet.node(source);
  auto checkpoint = read_checkpoint(from, node, table);
  if (checkpoint.done) {
    return 0;
  }
  const auto progress = grant_table(node.schema, "progress");
  const auto [blocks, blocks_per_page] = table_blocks(from, table, std::max<std::size_t>(1, work.options.batch_size));
  const auto keys_sql = table.select_block_keys();
  const auto rows_sql = table.select_by_tids();
  shard::Key scratch;
  std::vector<std::string_view> parts;
  std::uint64_t copied = 0;
  while (checkpoint.next_block < blocks) {
    const auto end = std::min(blocks, checkpoint.next_block + blocks_per_page);
    const auto keys = from.query(keys_sql, {"(" + std::to_string(checkpoint.next_block) + ",0)",
                                            "(" + std::to_string(end) + ",0)"});
    std::string tids = "{";
    for (const auto& row : keys.rows) {
      parts.clear();
      for (std::size_t i = 1; i < row.size(); ++i) {
        parts.push_back(row[i] ? std::string_view(*row[i]) : std::string_view());
      }
      const auto owners = work.fleet.owners(scratch, parts);
      if (owners.old_node == source && owners.new_node != source && owners.new_node != k_none) {
        tids += (tids.size() > 1 ? ",\"" : "\"") + *row[0] + "\"";
      }
    }
    tids += "}";
    std::map<std::size_t, std::vector<std::vector<db::Value>>> buckets;
    std::uint64_t moved = 0;
    if (tids.size() > 2) {
      auto rows = from.query(rows_sql, {tids});
      for (auto& row : rows.rows) {
        parts.clear();
        for (const auto index : table.key()) {
          parts.push_back(row[index] ? std::string_view(*row[index]) : std::string_view());
        }
        const auto owners = work.fleet.owners(scratch, parts); // again: the row may have changed
        if (owners.old_node != source || owners.new_node == source || owners.new_node == k_none) {
          continue;
        }
        buckets[owners.new_node].push_back(std::move(row));
        ++moved;
      }
    }
    for (const auto& [target, rows] : buckets) {
      try {
        upsert_rows(table, *to.at(target), rows, true);
      } catch (const db::DbError& error) {
        if (error.sqlstate() != "23503") {
          throw;
        }
        // A parent row is not on the target yet: an application changed it during the copy and
        // its change waits in the backlog. These rows join the backlog behind it.
        defer_rows(table, from, node, rows);
      }
    }
    checkpoint.next_block = end;
    from.query("INSERT INTO " + progress +
                   " (table_name, next_block, rows_copied, done) VALUES ($1, $2::bigint, $3::bigint, false) "
                   "ON CONFLICT (table_name) DO UPDATE SET next_block = EXCLUDED.next_block, "
                   "rows_copied = " +
                   progress + ".rows_copied + EXCLUDED.rows_copied",
               {table.name(), std::to_string(end), std::to_string(moved)});
    copied += moved;
    work.throttle(from, source, to, keys.size());
    work.report("copy", table.name(), node.name, total);
  }
  from.query("INSERT INTO " + progress + " (table_name, next_block, done) VALUES ($1, $2::bigint, true) "
             "ON CONFLICT (table_name) DO UPDATE SET done = true",
             {table.name(), std::to_string(blocks)});
  return copied;
}

struct SourceCopy {
  std::uint64_t copied = 0;
  std::uint64_t applied = 0;
  std::uint64_t backlog = 0;
};

SourceCopy copy_source(Work& work, std::size_t source, std::uint64_t total) {
  const auto& node = work.fleet.node(source);
  auto from = node.checkout();
  mark_session(*from);
  std::vector<registry::PooledConnection> sessions;
  std::vector<db::Connection*> to(work.fleet.nodes().size(), nullptr);
  for (const auto index : work.fleet.targets()) {
    if (index != source) {
      sessions.push_back(work.fleet.node(index).checkout());
      mark_session(*sessions.back());
      to[index] = &*sessions.back();
    }
  }
  SourceCopy out;
  for (const auto& table : work.fleet.tables()) {
    out.copied += copy_table(work, source, table, *from, to, total);
  }
  // Catch up with what applications changed meanwhile, until few changes wait.
  const auto limit = std::max<std::size_t>(work.options.batch_size, work.options.backlog_target);
  for (;;) {
    const auto round = apply_changes(work, source, *from, to, limit);
    out.applied += round.applied;
    work.report("apply", "", node.name, 0);
    if (round.applied < work.options.backlog_target) {
      break;
    }
  }
  out.backlog = std::stoull(
      from->query("SELECT count(*) FROM " + grant_table(node.schema, "changes")).scalar().value_or("0"));
  for (auto& session : sessions) {
    session->reset_session();
  }
  from->reset_session();
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
    refuse_filled_new_shards(work);
    refuse_unowned(run_plan(work));
    work.rows_done = 0;
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
