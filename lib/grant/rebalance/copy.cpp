// The copy phase: change capture first, then the moving rows in primary-key pages (a checkpoint
// per table on the source after each page), then the captured changes until few are left.
#include <grant/rebalance/work.hpp>

#include <grant/error.hpp>
#include <grant/twophase/setup.hpp>
#include <grant/util/parallel_for.hpp>
#include <grant/util/strings.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <set>

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

struct Checkpoint {
  std::vector<db::Value> last_pk;
  bool done = false;
};

Checkpoint read_checkpoint(db::Connection& session, const Node& node, const TableSql& table) {
  const auto rows = session.query("SELECT array_to_json(last_pk)::text, done FROM " + grant_table(node.schema, "progress") +
                                      " WHERE table_name = $1",
                                  {table.name()});
  Checkpoint out;
  if (rows.empty()) {
    return out;
  }
  out.done = rows.rows[0][1].value_or("f") == "t";
  if (rows.rows[0][0]) {
    for (const auto& value : nlohmann::json::parse(*rows.rows[0][0])) {
      out.last_pk.emplace_back(value.get<std::string>());
    }
  }
  return out;
}

std::uint64_t copy_table(Work& work, std::size_t source, const TableSql& table, db::Connection& from,
                         const std::vector<db::Connection*>& to, std::uint64_t total) {
  const auto& node = work.fleet.node(source);
  auto checkpoint = read_checkpoint(from, node, table);
  if (checkpoint.done) {
    return 0;
  }
  const auto progress = grant_table(node.schema, "progress");
  const auto batch = std::max<std::size_t>(1, work.options.batch_size);
  const auto first_page = table.select_page(false, batch);
  const auto next_page = table.select_page(true, batch);
  shard::Key scratch;
  std::vector<std::string_view> parts;
  std::uint64_t copied = 0;
  for (;;) {
    const auto page = from.query(checkpoint.last_pk.empty() ? first_page : next_page, checkpoint.last_pk);
    std::map<std::size_t, std::vector<std::vector<db::Value>>> buckets;
    std::vector<std::pair<std::string, std::string>> fence;
    std::set<std::string> fenced;
    std::uint64_t moved = 0;
    for (const auto& row : page.rows) {
      parts.clear();
      for (const auto index : table.key()) {
        parts.push_back(row[index] ? std::string_view(*row[index]) : std::string_view());
      }
      const auto owners = work.fleet.owners(scratch, parts);
      if (owners.old_node != source || owners.new_node == source || owners.new_node == k_none) {
        continue;
      }
      buckets[owners.new_node].push_back(row);
      ++moved;
      if (auto literal = text_array_literal(parts); fenced.insert(literal).second) {
        fence.emplace_back(std::move(literal), work.fleet.node(owners.new_node).name);
      }
    }
    // The fence keys go first: a kill between them and the rows only re-copies the rows.
    add_fence_keys(from, node, fence);
    for (const auto& [target, rows] : buckets) {
      upsert_rows(table, *to.at(target), rows, true);
    }
    const bool done = page.size() < batch;
    if (!page.empty()) {
      checkpoint.last_pk.clear();
      for (const auto index : table.pk()) {
        checkpoint.last_pk.push_back(page.rows.back()[index]);
      }
    }
    std::vector<std::string_view> last;
    for (const auto& value : checkpoint.last_pk) {
      last.push_back(*value);
    }
    from.query("INSERT INTO " + progress +
                   " (table_name, last_pk, rows_copied, done) VALUES ($1, $2::text[], $3::bigint, $4::boolean) "
                   "ON CONFLICT (table_name) DO UPDATE SET last_pk = EXCLUDED.last_pk, "
                   "rows_copied = " +
                   progress + ".rows_copied + EXCLUDED.rows_copied, done = EXCLUDED.done",
               {table.name(), last.empty() ? db::Value() : db::Value(text_array_literal(last)), std::to_string(moved),
                done ? "true" : "false"});
    copied += moved;
    work.throttle(from, node, page.size());
    work.report("copy", table.name(), node.name, total);
    if (done) {
      return copied;
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
