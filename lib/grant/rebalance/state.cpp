#include <grant/rebalance/work.hpp>

#include <grant/db/cancel.hpp>
#include <grant/db/sqlstate.hpp>
#include <grant/error.hpp>
#include <grant/migrate/tracking.hpp>
#include <grant/rebalance/placement/placement.hpp>
#include <grant/shard/key.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <random>
#include <thread>

#include <unistd.h>

namespace grant::rebalance {

std::string_view phase_name(Phase phase) {
  switch (phase) {
  case Phase::none:
    return "none";
  case Phase::copying:
    return "copying";
  case Phase::copied:
    return "copied";
  case Phase::cut_over:
    return "cut_over";
  }
  return "none";
}

Phase parse_phase(std::string_view text) {
  for (const auto phase : {Phase::copying, Phase::copied, Phase::cut_over}) {
    if (phase_name(phase) == text) {
      return phase;
    }
  }
  return Phase::none;
}

std::string holder_name() {
  return migrate::current_user_at_host() + " pid " + std::to_string(getpid());
}

void Work::report(const std::string& phase, const std::string& table, const std::string& shard, std::uint64_t total,
                  const std::string& note) {
  if (!options.on_progress) {
    return;
  }
  std::lock_guard guard(progress_mutex);
  options.on_progress(Progress{phase, table, shard, rows_done.load(), total, note});
}

int Work::jobs(std::size_t count) const {
  return options.jobs > 0 ? options.jobs : static_cast<int>(std::max<std::size_t>(1, count));
}

void Work::throttle(db::Connection& source, std::size_t source_node, const std::vector<db::Connection*>& targets,
                    std::uint64_t rows) {
  rows_done += rows;
  if (options.max_rows_per_sec > 0) {
    // Every worker sleeps until the rows done so far fit the rate since the start.
    const auto due = started + std::chrono::microseconds(rows_done.load() * 1000000 / options.max_rows_per_sec);
    if (const auto now = std::chrono::steady_clock::now(); due > now) {
      db::cancel::sleep_for(std::chrono::ceil<std::chrono::milliseconds>(due - now), source.target());
    }
  }
  const auto max_lag = fleet.source().health.max_lag_ms;
  if (max_lag <= 0) {
    return;
  }
  {
    std::lock_guard guard(progress_mutex);
    auto& last = m_last_lag_check[source_node];
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(1)) {
      return;
    }
    last = now;
  }
  // A writer sees its replicas' replay lag: no session to a replica is needed.
  std::vector<std::pair<db::Connection*, std::size_t>> writers{{&source, source_node}};
  for (std::size_t n = 0; n < targets.size(); ++n) {
    if (targets[n] != nullptr) {
      writers.emplace_back(targets[n], n);
    }
  }
  for (const auto& [connection, index] : writers) {
    for (;;) {
      const auto lag_ms = std::stoll(
          connection
              ->query("SELECT COALESCE(max(extract(epoch FROM replay_lag) * 1000), 0)::bigint FROM pg_stat_replication")
              .scalar()
              .value_or("0"));
      if (lag_ms <= max_lag) {
        break;
      }
      report("copy", "", fleet.node(source_node).name, 0,
             "paused: a replica of " + fleet.node(index).label + " lags " + std::to_string(lag_ms) +
                 " ms (max_lag_ms " + std::to_string(max_lag) + ")");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

std::uint64_t estimate_rows(Work& work) {
  std::uint64_t total = 0;
  for (const auto index : work.fleet.sources()) {
    auto session = work.fleet.node(index).checkout();
    for (const auto& table : work.fleet.tables()) {
      const auto estimate = std::stoll(
          session->query("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1)", {table.qualified()})
              .scalar()
              .value_or("-1"));
      // Never analyzed (-1): such a table is young, and counting it is cheap enough.
      total += estimate >= 0
                   ? static_cast<std::uint64_t>(estimate)
                   : std::stoull(session->query("SELECT count(*) FROM " + table.qualified()).scalar().value_or("0"));
    }
  }
  return total;
}

std::optional<StateRow> read_state(db::Connection& connection, const Node& node, const std::string& database) {
  const auto table = grant_table(node.schema, "state");
  const auto exists = connection.query("SELECT to_regclass($1) IS NOT NULL", {table}).scalar();
  if (exists.value_or("f") != "t") {
    return std::nullopt;
  }
  const auto rows = connection.query("SELECT target, phase, COALESCE(holder, ''), started_at::text, "
                                     "COALESCE(pause_ms, 0) FROM " +
                                         table + " WHERE database = $1",
                                     {database});
  if (rows.empty()) {
    return std::nullopt;
  }
  const auto& row = rows.rows[0];
  return StateRow{*row[0], parse_phase(*row[1]), *row[2], *row[3], std::stod(*row[4])};
}

std::vector<std::optional<StateRow>> read_states(Work& work) {
  std::vector<std::optional<StateRow>> out;
  for (const auto index : work.fleet.sources()) {
    const auto& node = work.fleet.node(index);
    auto session = node.checkout();
    out.push_back(read_state(*session, node, work.fleet.source().name));
  }
  return out;
}

void install_capture(db::Connection& connection, const Node& node, Work& work, const std::string& holder) {
  const auto& s = node.schema;
  std::string sql = "CREATE TABLE IF NOT EXISTS " + grant_table(s, "state") +
                    " (database text PRIMARY KEY, target text NOT NULL, phase text NOT NULL, holder text, "
                    "started_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), "
                    "pause_ms double precision);\n"
                    "CREATE TABLE IF NOT EXISTS " +
                    grant_table(s, "progress") +
                    " (table_name text PRIMARY KEY, next_block bigint, rows_copied bigint NOT NULL DEFAULT 0, "
                    "done boolean NOT NULL DEFAULT false);\n"
                    "CREATE TABLE IF NOT EXISTS " +
                    grant_table(s, "changes") +
                    " (seq bigserial PRIMARY KEY, table_name text NOT NULL, pk text[] NOT NULL, key text[]);\n";
  for (const auto& table : work.fleet.tables()) {
    sql += table.capture_function(s) + ";\n";
  }
  with_short_locks(work, connection, node, "installing the capture triggers", [&] {
    connection.execute(sql);
    // A trigger in place stays: replacing it would take an ACCESS EXCLUSIVE lock, and readers
    // would queue behind it while it waits for the applications' transactions.
    for (const auto& table : work.fleet.tables()) {
      const auto present = connection
                               .query("SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2",
                                      {table.qualified(), std::string(k_prefix) + "_capture"})
                               .scalar();
      if (present.value_or("0") == "0") {
        connection.execute(table.create_capture_trigger(s));
      }
    }
    connection.query("INSERT INTO " + grant_table(s, "state") +
                         " (database, target, phase, holder) VALUES ($1, $2, 'copying', $3) ON CONFLICT (database) DO "
                         "NOTHING",
                     {work.fleet.source().name, work.fleet.digest(), holder});
  });
}

void install_fence(Work& work, std::size_t source) {
  const auto& node = work.fleet.node(source);
  auto session = node.checkout();
  const db::ReplyTimeoutScope bound(*session, k_outside_block_reply);
  const auto place = placement::place_function(node.schema);
  const auto place_int = placement::place_int_function(node.schema);
  std::string sql;
  for (const auto& table : work.fleet.tables()) {
    sql += table.fence_function(node.schema, place, place_int, node.name) + ";\n";
  }
  // Functions only: no lock on the applications' tables. A re-run replaces them (the lookup
  // table is read again), which is why the trigger attaches only in the cutover's transaction.
  with_short_locks(work, *session, node, "installing the fence's placement functions", [&] {
    placement::install(*session, node.schema, work.fleet.target(), work.fleet.target_loader());
    session->execute(sql);
  });
}

bool is_lock_conflict(const db::DbError& error) {
  using namespace db::sqlstate;
  return error.sqlstate() == k_lock_not_available || error.sqlstate() == k_deadlock_detected ||
         error.sqlstate() == k_serialization_failure;
}

void retry_batch(Work& work, const Node& node, const std::string& what, const std::function<void()>& body) {
  for (int attempt = 1;; ++attempt) {
    try {
      body();
      return;
    } catch (const db::DbError& error) {
      const bool transient = error.sqlstate() == db::sqlstate::k_deadlock_detected ||
                             error.sqlstate() == db::sqlstate::k_serialization_failure;
      if (!transient) {
        throw;
      }
      const auto kind =
          std::string(error.sqlstate() == db::sqlstate::k_deadlock_detected ? "a deadlock" : "a serialization failure");
      if (attempt == k_lock_attempts) {
        throw Error(ErrorKind::database,
                    node.label + ": " + what + " met " + kind + " " + std::to_string(attempt) +
                        " times in a row, giving up: " + error.what(),
                    error.where(),
                    "applications keep locking these rows in another order; re-run the phase (it resumes), "
                    "perhaps with a smaller --batch-size");
      }
      work.report("retry", "", node.name, 0,
                  what + " met " + kind + " (grant yields to applications); trying again (" + std::to_string(attempt) +
                      "/" + std::to_string(k_lock_attempts) + ")");
      back_off(attempt);
    }
  }
}

void back_off(int attempt) {
  thread_local std::minstd_rand random(std::random_device{}());
  const auto jitter = std::uniform_int_distribution<int>(0, 400)(random);
  std::this_thread::sleep_for(std::chrono::milliseconds(200 * std::min(attempt, 5) + jitter));
}

void prefer_losing_deadlocks(db::Connection& connection) {
  // The session that detects a deadlock is the one aborted: with a shorter wait than the
  // applications' (1 s by default) that is grant's, which tries again. Setting it needs a
  // superuser (or the grant of the setting); without it grant keeps the server's value.
  try {
    connection.execute("SET deadlock_timeout = '100ms'");
  } catch (const db::DbError&) {
  }
}

namespace {

/// Ends the server process of a session given up on, through a fresh session, so that the locks
/// its transaction holds go now rather than when TCP notices, minutes later. Waits until it is
/// gone; a server that does not answer that either is left to TCP.
void end_backend(const Node& node, int pid, std::chrono::milliseconds bound) {
  if (pid <= 0) {
    return;
  }
  try {
    auto fresh = node.checkout();
    const db::ReplyTimeoutScope scope(*fresh, bound);
    fresh->query("SELECT pg_terminate_backend(pid, $2::bigint) FROM pg_stat_activity WHERE pid = $1::int "
                 "AND pid <> pg_backend_pid()",
                 {std::to_string(pid), std::to_string(std::max<long long>(1, bound.count() / 2))});
  } catch (const Error&) {
  }
}

} // namespace

void with_short_locks(Work& work, db::Connection& connection, const Node& node, const std::string& what,
                      const std::function<void()>& body) {
  prefer_losing_deadlocks(connection);
  // The DDL's lock queues the applications' writes behind it from its request to the commit: the
  // wait for it gives up well within the bound, and a server that goes silent meanwhile is given
  // up once the bound has passed, its session ended on the server so that the lock goes too.
  const auto bound = std::max(std::chrono::milliseconds(100), work.options.cutover_timeout);
  const auto lock_wait = std::min(std::chrono::milliseconds(2000), bound / 2);
  const auto pid = connection.session_pid();
  for (int attempt = 1;; ++attempt) {
    try {
      const db::ReplyTimeoutScope scope(connection, bound);
      db::Transaction transaction(connection);
      connection.execute("SET LOCAL lock_timeout = " + std::to_string(lock_wait.count()));
      body();
      transaction.commit();
      return;
    } catch (const db::DbError& error) {
      if (error.connection_lost()) {
        end_backend(node, pid, bound);
        throw Error(ErrorKind::database,
                    node.label + ": " + what + " was given up: " + error.what() +
                        "; its session was ended on the server, which released its locks",
                    error.where(),
                    "re-run the same command once " + node.label +
                        " answers: it resumes; --cutover-timeout bounds how long grant holds a lock applications "
                        "need");
      }
      if (!is_lock_conflict(error) || attempt == k_lock_attempts) {
        throw;
      }
      work.report("lock", "", node.name, 0,
                  what +
                      (error.sqlstate() == db::sqlstate::k_lock_not_available
                           ? " waited " + std::to_string(lock_wait.count()) + " ms for a lock another session holds"
                       : error.sqlstate() == db::sqlstate::k_deadlock_detected ? " met a deadlock"
                                                                               : " met a serialization failure") +
                      "; trying again (" + std::to_string(attempt) + "/" + std::to_string(k_lock_attempts) + ")");
      back_off(attempt);
    }
  }
}

void set_phase(db::Connection& connection, const Node& node, const std::string& database, Phase phase,
               std::optional<double> pause_ms) {
  connection.query(
      "UPDATE " + grant_table(node.schema, "state") +
          " SET phase = $2, updated_at = now(), pause_ms = COALESCE($3::float8, pause_ms) "
          "WHERE database = $1",
      {database, std::string(phase_name(phase)), pause_ms ? db::Value(std::to_string(*pause_ms)) : db::Value()});
}

void drop_objects(db::Connection& connection, const Node& node, Work& work) {
  std::string sql;
  for (const auto& table : work.fleet.tables()) {
    sql += table.drop_objects(node.schema);
  }
  sql += placement::drop_sql(node.schema);
  // "fence": the keys table of grant before the fence followed the resolver.
  for (const auto* suffix : {"changes", "fence", "progress", "state"}) {
    sql += "DROP TABLE IF EXISTS " + grant_table(node.schema, suffix) + ";\n";
  }
  with_short_locks(work, connection, node, "dropping grant's triggers", [&] { connection.execute(sql); });
}

namespace {

// The advisory lock's two 32-bit halves, from the database name: stable across processes.
std::pair<std::uint32_t, std::uint32_t> lock_key(const std::string& database) {
  const auto id = shard::keyspace_id("grant rebalance " + database);
  return {static_cast<std::uint32_t>(id >> 32), static_cast<std::uint32_t>(id & 0xFFFFFFFF)};
}

} // namespace

Lock::Lock(Work& work) {
  const auto& node = work.fleet.node(work.fleet.coordinator());
  const auto& database = work.fleet.source().name;
  m_session = node.checkout();
  const auto [high, low] = lock_key(database);
  const auto key = std::to_string((static_cast<std::int64_t>(high) << 32) | low);
  m_session->execute("SET application_name = " + m_session->quote_literal("grant rebalance: " + holder_name()));
  const auto got = m_session->query("SELECT pg_try_advisory_lock($1::bigint)", {key}).scalar();
  if (got.value_or("f") == "t") {
    return;
  }
  const auto holder =
      m_session
          ->query("SELECT COALESCE(a.application_name, '') || ' (since ' || a.backend_start::text || ')' "
                  "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                  "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                  "AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.objsubid = 1 AND l.granted "
                  "LIMIT 1",
                  {std::to_string(high), std::to_string(low)})
          .rows;
  m_session.discard();
  const auto who = holder.empty() ? std::string("another process") : holder[0][0].value_or("another process");
  throw ConfigError("another rebalance of " + database + " is running: " + who, node.label,
                    "wait for it to finish, or stop it; one rebalance per database runs at a time");
}

Lock::~Lock() {
  if (m_session) {
    m_session.discard(); // closing the session frees the lock, whatever state it is in
  }
}

} // namespace grant::rebalance
