// --cleanup (after cutover) and --abort (before it): the two ways a rebalance ends.
#include <grant/rebalance/work.hpp>

#include <grant/error.hpp>
#include <grant/rebalance/placement/placement.hpp>
#include <grant/util/parallel_for.hpp>

#include <numeric>

namespace grant::rebalance {

namespace {

/// Calls `page(rows)` for each primary-key page of `first` / `next` (the `next` query takes the
/// last row's `pk_columns` as parameters).
template <typename OnPage>
void for_each_page(db::Connection& connection, const std::string& first, const std::string& next,
                   const std::vector<std::size_t>& pk_columns, std::size_t batch, const OnPage& page) {
  db::Params last;
  for (;;) {
    auto rows = connection.query(last.empty() ? first : next, last);
    if (rows.empty()) {
      return;
    }
    last.clear();
    for (const auto index : pk_columns) {
      last.push_back(rows.rows.back()[index]);
    }
    const bool done = rows.size() < batch;
    page(rows);
    if (done) {
      return;
    }
  }
}

std::vector<std::size_t> leading(std::size_t count) {
  std::vector<std::size_t> out(count);
  std::iota(out.begin(), out.end(), 0);
  return out;
}

CleanupReport clean_source(Work& work, std::size_t source) {
  const auto& node = work.fleet.node(source);
  auto sessions = open_sessions(work, source);
  auto& from = *sessions.from;
  const auto place = placement::place_function(node.schema);
  const auto batch = std::max<std::size_t>(1, work.options.batch_size);
  const auto& tables = work.fleet.tables();
  CleanupReport report;
  shard::Key scratch;
  // Children first: delete the moved rows. Since cutover the fence has refused every write of a
  // key placed elsewhere, so each of them was copied and has not changed since. A row is deleted
  // only when the fence (the placement function in the database) agrees that it moved: a row the
  // fence let through may have been written after cutover, and stays.
  for (std::size_t t = tables.size(); t-- > 0;) {
    const auto& table = tables[t];
    const auto pk_columns = leading(table.pk().size());
    const auto fenced = table.fenced(place, node.name);
    for_each_page(from, table.select_keys_page(false, batch), table.select_keys_page(true, batch), pk_columns, batch,
                  [&](db::Rows& rows) {
                    std::vector<std::vector<db::Value>> pks;
                    for (const auto& row : rows.rows) {
                      const std::vector<db::Value> key(row.begin() + static_cast<long>(table.pk().size()), row.end());
                      const auto owners = work.fleet.owners(scratch, value_views(key));
                      if (owners.old_node == source && owners.new_node != source && owners.new_node != k_none) {
                        pks.emplace_back(row.begin(), row.begin() + static_cast<long>(table.pk().size()));
                      }
                    }
                    retry_batch(work, node, "deleting moved rows of " + table.name(),
                                [&] { delete_rows(table, from, pks, fenced, &report.rows_deleted); });
                    work.throttle(from, source, sessions.to, rows.size());
                    work.report("cleanup", table.name(), node.name, 0);
                  });
  }
  return report;
}

std::uint64_t remove_copies(Work& work, std::size_t target) {
  const auto& node = work.fleet.node(target);
  auto session = node.checkout();
  mark_session(*session);
  const auto batch = std::max<std::size_t>(1, work.options.batch_size);
  const auto& tables = work.fleet.tables();
  std::uint64_t deleted = 0;
  shard::Key scratch;
  for (std::size_t t = tables.size(); t-- > 0;) {
    const auto& table = tables[t];
    for_each_page(*session, table.select_keys_page(false, batch), table.select_keys_page(true, batch),
                  leading(table.pk().size()), batch, [&](db::Rows& rows) {
                    std::vector<std::vector<db::Value>> pks;
                    for (const auto& row : rows.rows) {
                      const std::vector<db::Value> key(row.begin() + static_cast<long>(table.pk().size()), row.end());
                      const auto owners = work.fleet.owners(scratch, value_views(key));
                      // A copy is a row that the current config places on another shard.
                      if (owners.old_node != target && owners.old_node != k_none) {
                        pks.emplace_back(row.begin(), row.begin() + static_cast<long>(table.pk().size()));
                      }
                    }
                    retry_batch(work, node, "removing copies from " + table.name(),
                                [&] { delete_rows(table, *session, pks, {}, &deleted); });
                    work.report("abort", table.name(), node.name, 0);
                  });
  }
  session->reset_session();
  return deleted;
}

/// The source shards' states, refusing a rebalance towards another target. Empty when the
/// phase has nothing to do: `already` says why (`done_outcome` is the outcome that means "this
/// phase has finished"; the other one is refused).
std::vector<std::optional<StateRow>> started_states(Work& work, const std::string& phase_flag,
                                                    const std::string& done_outcome, AlreadyDone& already) {
  auto states = read_states(work);
  const auto& database = work.fleet.source().name;
  if (std::none_of(states.begin(), states.end(), [](const auto& state) { return state.has_value(); })) {
    if (const auto found = nothing_to_do(work); found && (found->nothing_moves || found->outcome == done_outcome)) {
      already = *found;
      return {};
    } else if (found) {
      throw ConfigError("no rebalance of " + database + " is in progress: the last one towards this target was " +
                            (found->outcome == "aborted" ? "aborted" : "cleaned up") + " (" + found->finished_at + ")",
                        phase_flag,
                        found->outcome == "aborted"
                            ? "start it again with the copy: grant rebalance --database " + database +
                                  " --target <file>"
                            : "a rebalance cannot be undone after cutover: rebalance back with the old config as the "
                              "target if needed");
    }
    throw ConfigError("no rebalance of " + database + " is in progress (none was started, or it has ended)", phase_flag,
                      "start one with the copy: grant rebalance --database " + database + " --target <file>");
  }
  for (const auto& state : states) {
    if (state && state->target != work.fleet.digest()) {
      throw ConfigError("the rebalance of " + database + " in progress has another target", "--target",
                        "use the target file its copy was started with");
    }
  }
  return states;
}

} // namespace

CleanupReport run_cleanup(Work& work) {
  work.fleet.prepare();
  Lock lock(work);
  resolve_in_doubt(work, false);
  CleanupReport report;
  const auto states = started_states(work, "--cleanup", "cleaned_up", report.already);
  if (report.already.any()) {
    return report;
  }
  const auto sources = work.fleet.sources();
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (states[i] && states[i]->phase != Phase::cut_over) {
      throw ConfigError("shard " + work.fleet.node(sources[i]).name +
                            " is not cut over yet: cleanup would delete rows "
                            "that the current config still reads there",
                        "--cleanup",
                        "run grant rebalance --database " + work.fleet.source().name +
                            " --target <file> --cutover first, then switch applications to the target config");
    }
  }
  std::vector<CleanupReport> results(sources.size());
  util::parallel_for(sources.size(), work.jobs(sources.size()), [&](std::size_t i) {
    if (states[i]) {
      results[i] = clean_source(work, sources[i]);
    }
  });
  for (std::size_t i = 0; i < sources.size(); ++i) {
    report.rows_deleted += results[i].rows_deleted;
    report.rows_moved_late += results[i].rows_moved_late;
    report.rows_conflicting += results[i].rows_conflicting;
  }
  record_finished(work, "cleaned_up");
  for (std::size_t i = 0; i < sources.size(); ++i) {
    auto session = work.fleet.node(sources[i]).checkout();
    drop_objects(*session, work.fleet.node(sources[i]), work);
  }
  return report;
}

AbortReport run_abort(Work& work) {
  work.fleet.prepare();
  Lock lock(work);
  resolve_in_doubt(work, false);
  AbortReport report;
  const auto states = started_states(work, "--abort", "aborted", report.already);
  if (report.already.any()) {
    return report;
  }
  const auto sources = work.fleet.sources();
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (states[i] && states[i]->phase == Phase::cut_over) {
      throw ConfigError("shard " + work.fleet.node(sources[i]).name +
                            " is already cut over: the target config is authoritative for its moved keys",
                        "--abort",
                        "a rebalance cannot be undone after cutover: finish it with --cutover and --cleanup (then "
                        "rebalance back with the old config as the target if needed)");
    }
  }
  const auto targets = work.fleet.targets();
  std::vector<std::uint64_t> deleted(targets.size());
  util::parallel_for(targets.size(), work.jobs(targets.size()),
                     [&](std::size_t i) { deleted[i] = remove_copies(work, targets[i]); });
  report.rows_deleted = std::accumulate(deleted.begin(), deleted.end(), std::uint64_t{0});
  record_finished(work, "aborted");
  for (const auto index : sources) {
    auto session = work.fleet.node(index).checkout();
    drop_objects(*session, work.fleet.node(index), work);
  }
  return report;
}

} // namespace grant::rebalance
