// What MySQL and MariaDB do differently (db/engine.hpp), over the adapter in mysql.cpp.
#include <grant/db/cancel.hpp>
#include <grant/db/connection.hpp>
#include <grant/util/gtid.hpp>
#include <grant/util/strings.hpp>

#include <xxhash.h>

#include <chrono>
#include <cstdio>

namespace grant::db {

namespace {

// GET_LOCK names are at most 64 characters: a longer one is shortened with its hash.
std::string lock_name(const std::string& database, const std::string& table) {
  std::string name = "grant:migrate:" + database + ":" + table;
  if (name.size() > 64) {
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(XXH64(name.data(), name.size(), 0)));
    name = name.substr(0, 47) + ":" + hash;
  }
  return name;
}

// A named lock held by a session (GET_LOCK): the server releases it when the session ends, so a
// killed grant cannot leave it behind.
class NamedLock final : public Lock {
public:
  NamedLock(Connection& connection, std::string name) : m_connection(connection), m_name(std::move(name)) {}
  ~NamedLock() override {
    if (!m_connection.is_usable()) {
      return; // the session is gone, and the lock with it
    }
    try {
      m_connection.query("SELECT RELEASE_LOCK($1)", {m_name});
    } catch (const Error&) {
      // A session that cannot release is broken; closing it releases the lock.
    }
  }
  NamedLock(const NamedLock&) = delete;
  NamedLock& operator=(const NamedLock&) = delete;

private:
  Connection& m_connection;
  std::string m_name;
};

std::optional<long long> as_number(const Value& value) {
  if (!value || value->empty()) {
    return std::nullopt;
  }
  return std::atoll(value->c_str());
}

class MysqlEngine final : public Engine {
public:
  const EngineTraits& traits() const override { return mysql_traits(); }
  Dialect dialect() const override { return Dialect::mysql; }

  std::unique_ptr<Connection> connect(const util::DatabaseUrl& url, const ConnectOptions& options) const override {
    return connect_mysql(url, options);
  }

  std::string now_expression() const override { return "CURRENT_TIMESTAMP(6)"; }
  std::string timestamp_type() const override { return "datetime(6)"; }
  std::string without_leading_zeros(const std::string& expression) const override {
    return "TRIM(LEADING '0' FROM " + expression + ")";
  }

  bool table_exists(Connection& connection, const std::string& /*quoted*/, const std::string& name) const override {
    return !connection
                .query("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = $1",
                       {name})
                .empty();
  }

  std::vector<std::pair<std::string, std::string>> table_columns(Connection& connection,
                                                                 const std::string& table) const override {
    const auto rows = connection.query("SELECT column_name, column_type FROM information_schema.columns "
                                       "WHERE table_schema = DATABASE() AND table_name = $1 ORDER BY ordinal_position",
                                       {table});
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& row : rows.rows) {
      out.emplace_back(row[0].value_or(""), row[1].value_or(""));
    }
    return out;
  }

  std::string swap_tables_sql(const std::string& table, const std::string& staged,
                              const std::string& aside) const override {
    return "RENAME TABLE " + table + " TO " + aside + ", " + staged + " TO " + table; // atomic in MySQL
  }

  std::unique_ptr<Lock> migration_lock(Connection& connection, const util::DatabaseUrl& /*url*/,
                                       const std::string& table, std::chrono::milliseconds timeout,
                                       const OnLockWait& on_wait) const override {
    const auto database = connection.query("SELECT DATABASE()", {}).scalar().value_or("");
    const auto name = lock_name(database, table);
    if (connection.query("SELECT GET_LOCK($1, 0)", {name}).scalar() == Value{"1"}) {
      return std::make_unique<NamedLock>(connection, name);
    }
    if (on_wait) {
      on_wait(holder_of(connection, name));
    }
    // One second at a time on the server, so that Ctrl-C (KILL QUERY) and the timeout are both
    // noticed within a second.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (connection.query("SELECT GET_LOCK($1, 1)", {name}).scalar() == Value{"1"}) {
        return std::make_unique<NamedLock>(connection, name);
      }
      if (timeout.count() > 0 && std::chrono::steady_clock::now() >= deadline) {
        throw DbError("timed out after " + std::to_string(timeout.count()) + " ms waiting for the migration lock " +
                          util::in_quotes(name) + ", held by " + holder_of(connection, name),
                      {connection.target(), {}, {}, 0, false, 0},
                      "another grant is migrating this database; wait for it, or end that session (KILL <id>) if "
                      "it is stuck");
      }
    }
  }

  void set_section_limits(Connection& connection, std::optional<std::chrono::milliseconds> lock_timeout,
                          std::optional<std::chrono::milliseconds> statement_timeout, bool /*local*/) const override {
    // MySQL counts lock waits in whole seconds (metadata locks: lock_wait_timeout; row locks:
    // innodb_lock_wait_timeout). The session reset after the section puts them back.
    if (lock_timeout && lock_timeout->count() > 0) {
      const auto seconds = std::to_string(std::max<long long>(1, (lock_timeout->count() + 999) / 1000));
      connection.execute("SET SESSION lock_wait_timeout = " + seconds + ", innodb_lock_wait_timeout = " + seconds);
    }
    if (statement_timeout) {
      connection.set_statement_timeout(*statement_timeout);
    }
  }

  void server_facts(Connection& connection, const util::DatabaseUrl& /*url*/, ServerFacts& out) const override {
    out.server_version = connection.server_version();
    const auto status = connection.query("SELECT @@max_connections, @@read_only");
    out.connections_max = as_number(status.at(0, 0));
    const auto used = connection.query("SHOW GLOBAL STATUS LIKE 'Threads_connected'");
    if (!used.empty()) {
      out.connections_used = as_number(used.at(0, 1));
    }
    Rows replica;
    try {
      replica = connection.query("SHOW REPLICA STATUS");
    } catch (const DbError& error) {
      if (error.connection_lost()) {
        throw;
      }
      out.in_recovery = status.at(0, 1) == Value{"1"}; // not allowed to look: read_only says it
      return;
    }
    out.in_recovery = !replica.empty();
    out.gtid_position = gtid_position(connection, !replica.empty());
    if (replica.empty()) {
      return;
    }
    // Seconds_Behind_Master (MariaDB) / Seconds_Behind_Source (MySQL 8): NULL while replication
    // is stopped or broken, and then the lag is unknown, never 0.
    for (std::size_t c = 0; c < replica.columns.size(); ++c) {
      const auto& column = replica.columns[c];
      if (column == "Seconds_Behind_Master" || column == "Seconds_Behind_Source") {
        if (const auto seconds = as_number(replica.at(0, c))) {
          out.reported_lag_seconds = static_cast<double>(*seconds);
        }
      }
    }
  }

  std::optional<std::string> write_position(Connection& connection) const override {
    // MariaDB's GTID position of the binary log, past the last commit. (MySQL 8 keeps GTID sets in
    // @@gtid_executed instead: not read here.)
    return connection.query("SELECT @@gtid_binlog_pos").scalar();
  }

  std::optional<ReplayState> replay_state(Connection& connection,
                                          const std::optional<std::string>& position) const override {
    if (connection.query("SHOW REPLICA STATUS").empty()) {
      return std::nullopt; // not a replica
    }
    const auto replayed = connection.query("SELECT @@gtid_slave_pos").scalar().value_or("");
    return ReplayState{replayed, position && util::gtid_position_reached(*position, replayed)};
  }

  std::optional<long long> database_bytes(Connection& connection, const util::DatabaseUrl& /*url*/) const override {
    return as_number(
        connection
            .query(
                "SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = DATABASE()")
            .scalar());
  }

  std::string end_session_statement(int pid) const override { return "KILL " + std::to_string(pid); }
  std::string lock_view() const override { return "information_schema.processlist"; }

private:
  // MariaDB's GTID position: the writer's binlog, or what a replica applied; nullopt where the
  // server has no such variable (MySQL 8 keeps GTID sets in @@gtid_executed: not read).
  static std::optional<std::string> gtid_position(Connection& connection, bool replica) {
    try {
      return connection.query(replica ? "SELECT @@gtid_slave_pos" : "SELECT @@gtid_binlog_pos").scalar();
    } catch (const DbError& error) {
      if (error.connection_lost()) {
        throw;
      }
      return std::nullopt;
    }
  }

  static std::string holder_of(Connection& connection, const std::string& name) {
    try {
      const auto id = connection.query("SELECT IS_USED_LOCK($1)", {name}).scalar();
      if (!id) {
        return "a session that has gone";
      }
      const auto rows =
          connection.query("SELECT user, host, time, command FROM information_schema.processlist WHERE id = $1", {*id});
      if (rows.empty()) {
        return "session " + *id;
      }
      const auto& row = rows.rows.front();
      return "session " + *id + " (" + row[0].value_or("?") + "@" + row[1].value_or("?") + ", " + row[3].value_or("?") +
             " for " + row[2].value_or("?") + " s)";
    } catch (const DbError& error) {
      if (error.connection_lost()) {
        throw;
      }
      return "another session";
    }
  }
};

} // namespace

const Engine& mysql_engine() {
  static const MysqlEngine k_engine;
  return k_engine;
}

} // namespace grant::db
