// --cutover: per source shard, one two-phase commit with every target shard. Writes to the
// source's tables are blocked (EXCLUSIVE: reads go on) only while the last captured changes are
// applied and the fence triggers installed.
#include <grant/rebalance/work.hpp>

#include <grant/db/sqlstate.hpp>
#include <grant/error.hpp>
#include <grant/twophase/decision_log.hpp>
#include <grant/twophase/recovery.hpp>
#include <grant/twophase/transaction.hpp>
#include <grant/util/parallel_for.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <limits>
#include <random>
#include <thread>

namespace grant::rebalance {

namespace {

constexpr const char* k_label = "rebalance";

/// The write block's bound on its sessions: before each step, every session's reply timeout
/// becomes the time left (at most `reply`); the previous timeouts come back at the end.
class BlockBound {
public:
  BlockBound(std::vector<db::Connection*> sessions, std::chrono::milliseconds reply,
             std::chrono::steady_clock::time_point deadline)
      : m_sessions(std::move(sessions)), m_reply(reply), m_deadline(deadline) {
    for (auto* session : m_sessions) {
      m_previous.push_back(session->reply_timeout());
    }
    refresh();
  }
  ~BlockBound() {
    for (std::size_t i = 0; i < m_sessions.size(); ++i) {
      m_sessions[i]->set_reply_timeout(m_previous[i]);
    }
  }
  BlockBound(const BlockBound&) = delete;
  BlockBound& operator=(const BlockBound&) = delete;

  void refresh() {
    const auto left =
        std::max(std::chrono::milliseconds(1),
                 std::chrono::ceil<std::chrono::milliseconds>(m_deadline - std::chrono::steady_clock::now()));
    for (auto* session : m_sessions) {
      session->set_reply_timeout(std::min(m_reply, left));
    }
  }

private:
  std::vector<db::Connection*> m_sessions;
  std::chrono::milliseconds m_reply;
  std::chrono::steady_clock::time_point m_deadline;
  std::vector<std::chrono::milliseconds> m_previous;
};

double since_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

/// Locks the tables (EXCLUSIVE: reads go on). First without waiting, in short tries: a wait
/// queues the applications' writes behind it, and while it holds one table and waits for the
/// next, an application transaction that holds the second and wants the first (an item insert
/// checking its order) deadlocks with it. Past half of `lock_wait`, a waiting LOCK (bounded by
/// the transaction's lock_timeout), so that a stream of overlapping transactions cannot starve
/// the cutover; a deadlock there is tried again by the caller.
void lock_tables(db::Connection& from, const std::string& tables, std::chrono::milliseconds lock_wait) {
  thread_local std::minstd_rand random(std::random_device{}());
  const auto until = std::chrono::steady_clock::now() + lock_wait / 2;
  while (std::chrono::steady_clock::now() < until) {
    from.execute("SAVEPOINT grant_rebalance_lock");
    try {
      from.execute("LOCK TABLE " + tables + " IN EXCLUSIVE MODE NOWAIT");
      from.execute("RELEASE SAVEPOINT grant_rebalance_lock");
      return;
    } catch (const db::DbError& error) {
      if (error.sqlstate() != db::sqlstate::k_lock_not_available) {
        throw;
      }
    }
    from.execute("ROLLBACK TO SAVEPOINT grant_rebalance_lock");
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + std::uniform_int_distribution<int>(0, 8)(random)));
  }
  from.execute("LOCK TABLE " + tables + " IN EXCLUSIVE MODE");
}

/// When the catch-up could not bring the backlog down (writers as fast as the apply), blocking
/// writes to apply the rest would pause them for about remaining / rate: refused, before any
/// lock, when that passes half of --cutover-timeout.
void refuse_long_block(const Work& work, const Node& node, const CatchUp& caught) {
  if (caught.converged) {
    return;
  }
  const auto bound_ms = static_cast<double>(work.options.cutover_timeout.count());
  const auto drain_ms = caught.per_second > 0 ? 1000.0 * static_cast<double>(caught.remaining) / caught.per_second
                                              : std::numeric_limits<double>::infinity();
  if (drain_ms <= bound_ms / 2) {
    return;
  }
  const auto& database = work.fleet.source().name;
  throw Error(ErrorKind::database,
              database + ": the applications on " + node.name + " add changes as fast as grant applies them (" +
                  std::to_string(caught.remaining) + " waiting, applied at " +
                  std::to_string(static_cast<std::uint64_t>(caught.per_second)) +
                  "/s): applying them under the write block would pause writes for about " +
                  std::to_string(static_cast<std::uint64_t>(std::min(drain_ms, 1e12))) +
                  " ms, more than half of --cutover-timeout (" + std::to_string(work.options.cutover_timeout.count()) +
                  " ms); no write was blocked and nothing was cut over",
              node.label,
              "cut over when the write rate is lower, or allow a longer pause with --cutover-timeout; "
              "re-running --cutover carries on from here");
}

CutoverShard cut_over(Work& work, std::size_t source) {
  const auto& node = work.fleet.node(source);
  const auto& database = work.fleet.source().name;
  auto sessions = open_sessions(work, source);
  auto& from = sessions.from;
  const auto& to = sessions.to;
  std::vector<std::size_t> members{source};
  for (std::size_t index = 0; index < to.size(); ++index) {
    if (to[index] != nullptr) {
      members.push_back(index);
    }
  }
  CutoverShard out;
  out.shard = node.name;
  std::deque<db::ReplyTimeoutScope> outside_block; // BlockBound sets shorter ones inside
  outside_block.emplace_back(*from, k_outside_block_reply);
  for (auto* session : to) {
    if (session != nullptr) {
      outside_block.emplace_back(*session, k_outside_block_reply);
    }
  }
  install_fence(work, source);
  // Catch up outside the write block, so that the block only covers the last few changes.
  const auto caught = catch_up(work, source, *from, to);
  out.changes_applied = caught.applied;
  refuse_long_block(work, node, caught);
  const auto limit = std::max<std::size_t>(work.options.batch_size, work.options.backlog_target);
  twophase::DecisionLog log(*from);
  log.ensure();
  std::deque<registry::PooledConnection> spares;
  std::string tables;
  for (const auto& table : work.fleet.tables()) {
    tables += (tables.empty() ? "" : ", ") + table.qualified();
  }
  std::string fence;
  for (const auto& table : work.fleet.tables()) {
    // No DROP first: it would take ACCESS EXCLUSIVE and stop the readers until the commit. A
    // fence exists only once a cutover committed, and then this shard is skipped.
    fence += table.create_fence_trigger(node.schema) + ";\n";
  }
  prefer_losing_deadlocks(*from);
  // The lock wait gives up (and is tried again) well within the write pause's bound.
  const auto lock_wait = std::min(std::chrono::milliseconds(2000), work.options.cutover_timeout / 2);
  const auto reply = std::chrono::milliseconds(work.fleet.source().pool.connect_timeout_ms);
  std::vector<db::Connection*> block_sessions{&*from};
  for (std::size_t m = 1; m < members.size(); ++m) {
    block_sessions.push_back(to[members[m]]);
  }
  // Writers queue behind the lock request as soon as it is made, so the pause counts from there.
  std::chrono::steady_clock::time_point blocked;
  for (int attempt = 1;; ++attempt) {
    std::vector<twophase::Participant> participants;
    participants.push_back({node.name, &*from});
    for (std::size_t m = 1; m < members.size(); ++m) {
      participants.push_back({work.fleet.node(members[m]).name, to[members[m]]});
    }
    twophase::Options options;
    options.reply_timeout = reply;
    options.reconnect = [&](std::size_t index) -> db::Connection* {
      const auto member = index == twophase::k_coordinator ? source : members.at(index);
      spares.push_back(work.fleet.node(member).checkout());
      return &*spares.back();
    };
    try {
      twophase::DistributedTransaction transaction(database, k_label, {node.name, &log}, std::move(participants),
                                                   std::move(options));
      transaction.begin();
      // Every participant's lock waits end too: the cutovers of two sources that exchange rows
      // run at once, and each may wait on a table the other has locked (a deadlock between
      // servers that neither detects); the loser backs off and tries again.
      from->execute("SET LOCAL lock_timeout = " + std::to_string(lock_wait.count()));
      blocked = std::chrono::steady_clock::now();
      // From the LOCK request on, every statement on every session waits at most the time left.
      const auto deadline = blocked + work.options.cutover_timeout;
      transaction.set_deadline(deadline);
      BlockBound bound(block_sessions, reply, deadline);
      for (std::size_t m = 1; m < block_sessions.size(); ++m) {
        block_sessions[m]->execute("SET LOCAL lock_timeout = " + std::to_string(lock_wait.count()));
      }
      lock_tables(*from, tables, lock_wait);
      for (;;) {
        bound.refresh();
        const auto round = apply_changes(work, source, *from, to, limit);
        out.changes_applied += round.applied;
        if (round.applied == 0) {
          break;
        }
      }
      bound.refresh();
      from->execute(fence);
      bound.refresh();
      set_phase(*from, node, database, Phase::cut_over, since_ms(blocked));
      transaction.commit();
      break;
    } catch (const twophase::InDoubtError& error) {
      throw Error(ErrorKind::database, error.what(), error.where(),
                  "the decision is recorded: re-run grant rebalance --database " + database +
                      " --target <file> --cutover, which finishes the prepared transactions first");
    } catch (const db::DbError& error) {
      if (error.connection_lost()) {
        // The transaction's end rolled back what was not decided, on every session at once.
        throw Error(ErrorKind::database,
                    database + ": the cutover of " + node.name + " was given up: " + error.what() +
                        "; its write block was released and nothing was cut over",
                    error.where(),
                    "re-run grant rebalance --database " + database +
                        " --target <file> --cutover once it answers (it rolls back what was left prepared); "
                        "--cutover-timeout sets the bound");
      }
      // A long transaction of an application holds a lock (or one waits for ours while holding
      // one we need): give the writers back their table and try again, rather than keep them
      // queued behind the block.
      if (!is_lock_conflict(error) || attempt == k_lock_attempts) {
        throw;
      }
      work.report("cutover", "", node.name, 0,
                  std::string(error.sqlstate() == db::sqlstate::k_deadlock_detected
                                  ? "the write block met a deadlock"
                                  : "the write block waited " + std::to_string(lock_wait.count()) +
                                        " ms for a lock held by another session") +
                      "; trying again (" + std::to_string(attempt) + "/" + std::to_string(k_lock_attempts) + ")");
      back_off(attempt);
    }
  }
  out.pause_ms = since_ms(blocked);
  // The pause as measured to the commit; a failure here leaves the estimate recorded above.
  try {
    from->reset_session();
    set_phase(*from, node, database, Phase::cut_over, out.pause_ms);
  } catch (const Error&) {
  }
  return out;
}

} // namespace

std::uint64_t resolve_in_doubt(Work& work, bool dry_run) {
  std::uint64_t found = 0;
  const auto& database = work.fleet.source().name;
  for (const auto& node : work.fleet.nodes()) {
    auto session = node.checkout();
    for (const auto& prepared : twophase::list_prepared(*session)) {
      const auto gid = twophase::parse_gid(prepared.gid);
      if (!gid || gid->scope != database || !util::starts_with(gid->txid, std::string(k_label) + "-")) {
        continue;
      }
      ++found;
      if (dry_run) {
        continue;
      }
      const auto coordinator = work.fleet.find(gid->coordinator);
      if (coordinator == k_none) {
        throw ConfigError("prepared transaction " + prepared.gid + " on " + node.label +
                              " names a coordinator shard in neither config",
                          node.label, "resolve it with grant recover --config <the config that has that shard>");
      }
      auto coordinator_session = work.fleet.node(coordinator).checkout();
      twophase::DecisionLog log(*coordinator_session);
      twophase::resolve(*session, *gid, log, twophase::Mode::by_decision, false, false);
    }
  }
  return found;
}

CutoverReport run_cutover(Work& work) {
  work.fleet.prepare();
  Lock lock(work);
  CutoverReport report;
  report.resolved_in_doubt = resolve_in_doubt(work, false);
  const auto states = read_states(work);
  const auto sources = work.fleet.sources();
  const auto& database = work.fleet.source().name;
  const auto copy_hint = "run the copy first: grant rebalance --database " + database + " --target <file>";
  bool any = false;
  for (std::size_t i = 0; i < states.size(); ++i) {
    const auto& node = work.fleet.node(sources[i]);
    if (!states[i]) {
      continue;
    }
    any = true;
    if (states[i]->target != work.fleet.digest()) {
      throw ConfigError("the rebalance of " + database + " in progress on " + node.name + " has another target",
                        "--target", "cut over with the target file its copy was started with");
    }
    if (states[i]->phase == Phase::copying) {
      throw ConfigError("the copy of " + node.name + " has not caught up yet", node.label,
                        "run the copy again (grant rebalance --database " + database +
                            " --target <file>); it resumes, then run --cutover");
    }
  }
  if (!any) {
    if (auto already = nothing_to_do(work); already && already->outcome != "aborted") {
      report.already = *already;
      return report;
    } else if (already) {
      throw ConfigError("no rebalance of " + database +
                            " is in progress: the last one towards this target was "
                            "aborted (" +
                            already->finished_at + ")",
                        "--cutover", copy_hint);
    }
    throw ConfigError("no rebalance of " + database + " is in progress: nothing to cut over", "--cutover", copy_hint);
  }
  if (std::any_of(states.begin(), states.end(), [](const auto& state) { return !state; })) {
    throw ConfigError("some source shards of " + database + " have no copy state", "--cutover", copy_hint);
  }
  // Each source shard is its own two-phase commit with its own write block and bound: they run
  // at once (up to --jobs), and one that fails leaves the others cut over or untouched.
  report.shards.resize(sources.size());
  std::vector<std::exception_ptr> failures(sources.size());
  util::parallel_for(sources.size(), work.jobs(sources.size()), [&](std::size_t i) {
    const auto& name = work.fleet.node(sources[i]).name;
    if (states[i]->phase == Phase::cut_over) {
      report.shards[i] = {name, states[i]->pause_ms, 0, true, {}};
      return;
    }
    try {
      report.shards[i] = cut_over(work, sources[i]);
    } catch (const std::exception& error) {
      failures[i] = std::current_exception();
      report.shards[i] = {name, 0, 0, false, error.what()};
    }
  });
  // Cutovers that lost to lock conflicts every time may have met each other (one writes the rows
  // moving to a shard whose own cutover holds its tables): once more, one at a time.
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (!failures[i]) {
      continue;
    }
    try {
      std::rethrow_exception(failures[i]);
    } catch (const db::DbError& error) {
      if (error.connection_lost() || !is_lock_conflict(error)) {
        continue;
      }
    } catch (...) {
      continue;
    }
    work.report("cutover", "", report.shards[i].shard, 0, "lock conflicts every time; trying once more on its own");
    try {
      report.shards[i] = cut_over(work, sources[i]);
      failures[i] = nullptr;
    } catch (const std::exception& error) {
      failures[i] = std::current_exception();
      report.shards[i].error = error.what();
    }
  }
  std::string failed;
  std::string done;
  std::size_t first = k_none;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const auto& shard = report.shards[i];
    report.max_pause_ms = std::max(report.max_pause_ms, shard.pause_ms);
    if (!failures[i]) {
      done += (done.empty() ? "" : ", ") + shard.shard;
      continue;
    }
    first = first == k_none ? i : first;
    failed += (failed.empty() ? "" : "; ") + std::string("the cutover of ") + database + "/" + shard.shard +
              " failed: " + shard.error;
  }
  if (first == k_none) {
    return report;
  }
  if (sources.size() == 1) {
    std::rethrow_exception(failures[first]);
  }
  const auto message = failed + (done.empty() ? "" : " (cut over: " + done + ")");
  try {
    std::rethrow_exception(failures[first]);
  } catch (const Error& error) {
    throw Error(error.kind(), message, error.where(), error.hint());
  } catch (...) {
    throw Error(ErrorKind::database, message, {},
                "re-run grant rebalance --database " + database +
                    " --target <file> --cutover: it finishes the shards not cut over yet");
  }
  return report;
}

} // namespace grant::rebalance
