// What PostgreSQL does its own way: catalogs, advisory locks, timeouts, WAL positions, 2PC.
#include <grant/db/engine.hpp>

#include <grant/db/cancel.hpp>
#include <grant/db/connection.hpp>
#include <grant/db/sqlstate.hpp>

#include <xxhash.h>

namespace grant::db {

namespace {

class AdvisoryLock final : public Lock {
public:
  AdvisoryLock(Connection& connection, std::string key) : m_connection(connection), m_key(std::move(key)) {}
  ~AdvisoryLock() override {
    const cancel::Shield cleanup; // released even after Ctrl-C
    try {
      if (m_connection.is_usable()) {
        m_connection.query("SELECT pg_advisory_unlock($1)", {m_key});
      }
    } catch (...) {
      // The session ending releases the lock anyway.
    }
  }

private:
  Connection& m_connection;
  std::string m_key;
};

// One round trip for everything the server can say about itself. The WAL position is the
// writer's current (write) one, or what a server in recovery has replayed; a writer's insert
// position besides, which is past its commits not yet written out.
constexpr std::string_view k_facts_sql =
    "SELECT current_setting('server_version'), pg_is_in_recovery(), "
    "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), "
    "current_setting('max_connections'), "
    "(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text, "
    "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, "
    "(CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_insert_lsn() END)::text";

// Size and row estimate of each named relation, in the order named; to_regclass() answers NULL
// for one that does not exist.
constexpr std::string_view k_relation_sql =
    "SELECT c.oid IS NOT NULL, pg_total_relation_size(c.oid), "
    "CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END, "
    "coalesce(c.reltuples > 0 OR pg_stat_get_live_tuples(c.oid) > 0, false) "
    "FROM unnest($1::text[]) WITH ORDINALITY AS n(name, ord) LEFT JOIN pg_class c ON c.oid = to_regclass(n.name) "
    "ORDER BY n.ord";

// Other sessions' granted locks on the named relations (for an index, on its table: what DROP
// INDEX and REINDEX wait for), with how old their transactions are.
constexpr std::string_view k_holders_sql =
    "SELECT n.ord, a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), l.mode, "
    "extract(epoch FROM now() - coalesce(a.xact_start, a.backend_start))::float8 "
    "FROM unnest($1::text[]) WITH ORDINALITY AS n(name, ord) "
    "JOIN pg_locks l ON l.locktype = 'relation' AND l.granted AND l.relation = coalesce("
    "(SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = to_regclass(n.name)), to_regclass(n.name)) "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.pid <> pg_backend_pid() ORDER BY n.ord, a.pid";

class PostgresEngine final : public Engine {
public:
  const EngineTraits& traits() const override { return postgres_traits(); }
  Dialect dialect() const override { return Dialect::postgres; }

  std::unique_ptr<Connection> connect(const util::DatabaseUrl& url, const ConnectOptions& options) const override {
    return connect_postgres(url, options);
  }

  std::string now_expression() const override { return "now()"; }
  std::string timestamp_type() const override { return "timestamptz"; }

  std::optional<std::string> current_schema(Connection& connection) const override {
    return connection.query("SELECT current_schema()", {}).scalar();
  }

  bool table_exists(Connection& connection, const std::string& quoted, const std::string& /*name*/) const override {
    return connection.query("SELECT to_regclass($1) IS NOT NULL", {quoted}).scalar() == Value{"t"};
  }

  std::vector<std::pair<std::string, std::string>> table_columns(Connection& connection,
                                                                 const std::string& table) const override {
    // format_type keeps the modifiers information_schema drops: varchar(20) is not varchar(40).
    const auto rows = connection.query("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                                       "attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                                       {quote_qualified(table)});
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& row : rows.rows) {
      out.emplace_back(row[0].value_or(""), row[1].value_or(""));
    }
    return out;
  }

  std::unique_ptr<Lock> migration_lock(Connection& connection, const util::DatabaseUrl& url, const std::string& table,
                                       std::chrono::milliseconds timeout, const OnLockWait& on_wait) const override;

  void set_section_limits(Connection& connection, std::optional<std::chrono::milliseconds> lock_timeout,
                          std::optional<std::chrono::milliseconds> statement_timeout, bool local) const override {
    if (!lock_timeout && !statement_timeout) {
      return;
    }
    const std::string is_local = local ? "true" : "false";
    std::string sql = "SELECT ";
    Params params;
    if (lock_timeout) {
      params.push_back(std::to_string(lock_timeout->count()));
      sql += "set_config('lock_timeout', $" + std::to_string(params.size()) + ", " + is_local + ")";
    }
    if (statement_timeout) {
      params.push_back(std::to_string(statement_timeout->count()));
      sql += std::string(params.size() > 1 ? ", " : "") + "set_config('statement_timeout', $" +
             std::to_string(params.size()) + ", " + is_local + ")";
    }
    connection.query(sql, params);
  }

  void pin_read_only(Connection& connection) const override {
    // Takes the transaction's snapshot: from here on PostgreSQL refuses to make it read-write.
    connection.query("SELECT 1");
  }

  std::optional<std::string> write_position(Connection& connection) const override {
    // The insert position, not pg_current_wal_lsn() (the write position, which lags behind a
    // commit under synchronous_commit = off), is past the commit.
    return connection.query("SELECT pg_current_wal_insert_lsn()::text").scalar();
  }

  std::optional<ReplayState> replay_state(Connection& connection,
                                          const std::optional<std::string>& position) const override {
    const auto row = position ? connection.query("SELECT pg_last_wal_replay_lsn()::text, "
                                                 "pg_last_wal_replay_lsn() >= $1::pg_lsn",
                                                 {*position})
                              : connection.query("SELECT pg_last_wal_replay_lsn()::text, false");
    if (!row.at(0, 0)) {
      return std::nullopt; // not in recovery
    }
    return ReplayState{*row.at(0, 0), row.at(0, 1) == Value{"t"}};
  }

  std::optional<BlockingSession> blocker_of(Connection& connection, int pid) const override {
    const auto rows = connection.query(
        "SELECT pid, application_name, usename, state, extract(epoch FROM now() - xact_start)::float8, "
        "left(regexp_replace(query, '\\s+', ' ', 'g'), 200) FROM pg_stat_activity "
        "WHERE pid = ANY(pg_blocking_pids($1::int)) ORDER BY xact_start LIMIT 1",
        {std::to_string(pid)});
    if (rows.empty()) {
      return std::nullopt;
    }
    const auto& row = rows.rows.front();
    return BlockingSession{.pid = std::stoi(row[0].value_or("0")),
                           .application = row[1].value_or(""),
                           .user = row[2].value_or(""),
                           .state = row[3].value_or(""),
                           .transaction_seconds = row[4] ? std::stod(*row[4]) : -1,
                           .query = row[5].value_or("")};
  }

  std::string end_session_statement(int pid) const override {
    return "SELECT pg_terminate_backend(" + std::to_string(pid) + ")";
  }

  std::string lock_view() const override { return "pg_locks"; }

  std::vector<InvalidIndex> invalid_indexes(Connection& connection) const override {
    std::vector<InvalidIndex> out;
    const auto rows = connection.query(
        "SELECT n.nspname, c.relname, t.relname, i.indexrelid::regclass::text || ' on ' || i.indrelid::regclass::text "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2");
    for (const auto& row : rows.rows) {
      out.push_back({row[0].value_or(""), row[1].value_or(""), row[2].value_or(""), row[3].value_or("?")});
    }
    return out;
  }

  void server_facts(Connection& connection, const util::DatabaseUrl& /*url*/, ServerFacts& out) const override {
    const auto facts = connection.query(k_facts_sql);
    const auto& row = facts.rows.at(0);
    out.server_version = "PostgreSQL " + row.at(0).value_or("?");
    out.in_recovery = row.at(1).value_or("f") == "t";
    out.connections_used = std::stoll(row.at(2).value_or("0"));
    out.connections_max = std::stoll(row.at(3).value_or("0"));
    out.wal_position = row.at(4);
    if (row.at(5)) {
      out.replay_age_seconds = std::stod(*row.at(5));
    }
    out.wal_insert_position = row.at(6);
  }

  std::optional<long long> database_bytes(Connection& connection, const util::DatabaseUrl& /*url*/) const override {
    const auto bytes = connection.query("SELECT pg_database_size(current_database())").scalar();
    return bytes ? std::optional<long long>(std::stoll(*bytes)) : std::nullopt;
  }

  std::vector<RelationFacts> relation_facts(Connection& connection,
                                            const std::vector<std::string>& names) const override {
    std::vector<std::optional<std::string>> quoted;
    std::vector<RelationFacts> out;
    for (const auto& name : names) {
      quoted.emplace_back(quote_qualified(name));
      RelationFacts facts;
      facts.name = name;
      out.push_back(std::move(facts));
    }
    const auto list = array_literal(quoted);
    const auto sizes = connection.query(k_relation_sql, {list});
    for (std::size_t i = 0; i < sizes.rows.size() && i < out.size(); ++i) {
      const auto& row = sizes.rows[i];
      out[i].exists = row.at(0).value_or("f") == "t";
      if (row.at(1)) {
        out[i].bytes = std::stoll(*row.at(1));
      }
      if (row.at(2)) {
        out[i].rows_estimate = std::stoll(*row.at(2));
      }
      out[i].has_rows = row.at(3).value_or("f") == "t";
    }
    for (const auto& row : connection.query(k_holders_sql, {list}).rows) {
      const auto index = std::stoul(row.at(0).value_or("1")) - 1;
      if (index < out.size()) {
        out[index].holders.push_back(LockHolder{.pid = std::stoi(row.at(1).value_or("0")),
                                                .application_name = row.at(2).value_or(""),
                                                .state = row.at(3).value_or(""),
                                                .mode = row.at(4).value_or(""),
                                                .age_seconds = std::stod(row.at(5).value_or("0"))});
      }
    }
    return out;
  }

  std::size_t count_prepared(Connection& connection, const std::string& prefix) const override {
    return std::stoul(connection
                          .query("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database() "
                                 "AND left(gid, length($1)) = $1",
                                 {prefix})
                          .scalar()
                          .value_or("0"));
  }
};

std::unique_ptr<Lock> PostgresEngine::migration_lock(Connection& connection, const util::DatabaseUrl& /*url*/,
                                                     const std::string& table, std::chrono::milliseconds timeout,
                                                     const OnLockWait& on_wait) const {
  const auto database = connection.query("SELECT current_database()", {}).scalar().value_or("");
  const std::string name = "grant:migrate:" + database + ":" + table;
  const auto key = static_cast<long long>(XXH64(name.data(), name.size(), 0));
  const std::string key_text = std::to_string(key);
  if (connection.query("SELECT pg_try_advisory_lock($1)", {key_text}).scalar() == Value{"t"}) {
    return std::make_unique<AdvisoryLock>(connection, key_text);
  }
  const auto unsigned_key = static_cast<unsigned long long>(key);
  const auto holders = connection.query(
      "SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), "
      "to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS') FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid "
      "AND l.objsubid = 1",
      {std::to_string(unsigned_key >> 32), std::to_string(unsigned_key & 0xffffffffULL)});
  std::string holder = "another session";
  if (!holders.empty()) {
    const auto& row = holders.rows.front();
    holder = "pid " + row[0].value_or("?") + " (" + row[1].value_or("") + " from " + row[2].value_or("?") +
             ", connected " + row[3].value_or("?") + ")";
  }
  if (on_wait) {
    on_wait(holder);
  }
  connection.execute("SET lock_timeout = " + std::to_string(timeout.count()));
  // The wait for the lock is as long as the caller allows (forever without a timeout).
  const auto reply = connection.reply_timeout();
  const ReplyTimeoutScope waiting(connection, timeout.count() > 0 && reply.count() > 0 ? timeout + reply
                                                                                       : std::chrono::milliseconds(0));
  try {
    connection.query("SELECT pg_advisory_lock($1)", {key_text});
  } catch (const DbError& error) {
    if (error.sqlstate() == sqlstate::k_lock_not_available) {
      throw DbError("timed out after " + std::to_string(timeout.count()) + " ms waiting for the migration lock of " +
                        connection.target() + ", held by " + holder,
                    error.details(), "wait for the other run to finish, or raise --lock-timeout");
    }
    throw;
  }
  connection.execute("RESET lock_timeout"); // back to what the URL or role set, not "no limit"
  return std::make_unique<AdvisoryLock>(connection, key_text);
}

} // namespace

const Engine& postgres_engine() {
  static const PostgresEngine k_engine;
  return k_engine;
}

} // namespace grant::db
