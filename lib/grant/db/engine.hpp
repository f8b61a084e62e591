#pragma once

#include <grant/db/quoting.hpp>
#include <grant/util/url.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grant::db {

class Connection;
struct ConnectOptions;

/// What an engine can do; the library asks these instead of naming the engine.
struct EngineTraits {
  std::string_view name;              ///< "postgres", "sqlite": the config's and the docs' word
  std::string_view display_name;      ///< "PostgreSQL", "SQLite": in messages
  bool prepared_transactions = false; ///< PREPARE TRANSACTION: --atomic, across_shards, recover
  bool rebalance = false;             ///< triggers, PL/pgSQL placement and 2PC: rebalance's shards
  /// Lock and statement timeouts are server settings a migration section sets (lock_timeout=,
  /// statement_timeout=), and a blocked statement has a blocker grant can name.
  bool server_timeouts = false;
  /// A failed section run outside a transaction can leave INVALID indexes behind (CREATE INDEX
  /// CONCURRENTLY), which validate and the failure's hint report.
  bool invalid_indexes = false;
  /// A health probe may keep its session between probes (a SQLite handle would hide a deleted file).
  bool keeps_probe_session = false;
  /// Replicas follow the writer by a position that the writer and replicas report (PostgreSQL: the
  /// WAL LSN; MariaDB: the GTID position).
  bool replication = false;
  /// Tables live in schemas (`schema.table`; an unqualified name lands in the current schema).
  bool schemas = false;
  /// Migrations are PostgreSQL SQL: `grant lint` parses them with PostgreSQL's parser and knows
  /// the locks each statement takes.
  bool lint = false;
  /// DDL runs inside a transaction and rolls back with it. Without it (MySQL commits each DDL
  /// statement as it runs) a migration that fails half way leaves its first statements applied:
  /// grant records the version as dirty before running it and refuses to go on until `grant
  /// repair` or an edited file (migrate/apply.cpp).
  bool transactional_ddl = true;
};

/// A lock held for a migration run; released by its destructor or when the process ends.
class Lock {
public:
  virtual ~Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

protected:
  Lock() = default;
};
/// Called once when a lock is busy, with a description of who holds it.
using OnLockWait = std::function<void(const std::string& holder)>;

/// What a server says about itself in one look (health probes). Fields it cannot tell stay empty.
struct ServerFacts {
  std::string server_version;      ///< "PostgreSQL 16.4", "SQLite 3.45.1"
  std::optional<bool> in_recovery; ///< a replica
  std::optional<long long> connections_used;
  std::optional<long long> connections_max;
  std::optional<std::string> wal_position; ///< writer: its position; replica: what it replayed
  /// writer: where its next WAL record goes, past commits not yet written out (PostgreSQL's
  /// insert position; under synchronous_commit = off it runs ahead of wal_position)
  std::optional<std::string> wal_insert_position;
  std::optional<double> replay_age_seconds; ///< replica: age of the last replayed transaction
  /// replica: its own measure of how far behind it is, where the engine has no byte positions
  /// (MySQL: Seconds_Behind_Master, NULL while replication is stopped: then unset, unknown)
  std::optional<double> reported_lag_seconds;
  /// MariaDB's GTID position (util/gtid.hpp): writer: @@gtid_binlog_pos; replica: @@gtid_slave_pos
  std::optional<std::string> gtid_position;
  std::optional<bool> integrity_ok; ///< the engine checked its storage
  std::string integrity_error;      ///< when integrity_ok is false: what the check said
  std::optional<bool> writable;     ///< the storage (a file and its folder) is writable
};

/// A session holding a lock on a relation (`grant lint --connect`).
struct LockHolder {
  int pid = 0;
  std::string application_name;
  std::string state;      ///< "idle in transaction", "active", ...
  std::string mode;       ///< as the server names it ("AccessShareLock")
  double age_seconds = 0; ///< its transaction's age (its session's, outside a transaction)
};

/// What the catalogs say of one table or index, named as a migration writes it ("orders",
/// "billing.invoices"), unquoted.
struct RelationFacts {
  std::string name;
  bool exists = false;
  std::optional<long long> bytes;         ///< with its indexes and TOAST
  std::optional<long long> rows_estimate; ///< the planner's estimate; unknown before ANALYZE
  bool has_rows = false;                  ///< the statistics count live rows (or the estimate does)
  std::vector<LockHolder> holders;        ///< other sessions' granted locks on it (an index: on its table)
};

/// An index a failed `CREATE INDEX CONCURRENTLY` left INVALID: maintained on every write, never
/// used, and in the way of a re-run.
struct InvalidIndex {
  std::string schema;
  std::string index;
  std::string table;
  std::string display; ///< "index on table" as the server names them on this session (search_path)
};

/// The session a waiting statement is blocked behind (grant's lock watch while a migration runs).
struct BlockingSession {
  int pid = 0;
  std::string application;
  std::string user;
  std::string state;
  double transaction_seconds = -1; ///< how long its transaction has been open; -1 unknown
  std::string query;               ///< its current or last statement, shortened
};

/// How far a replica has replayed its writer's changes.
struct ReplayState {
  std::string replayed; ///< its position, as write_position() prints one
  bool reached = false; ///< at or past the position asked about
};

/// Everything that differs between database engines, behind one interface: one implementation
/// per adapter (postgres_engine.cpp, sqlite_engine.cpp) and one line in engine.cpp's registry.
class Engine {
public:
  virtual ~Engine() = default;

  virtual const EngineTraits& traits() const = 0;
  virtual Dialect dialect() const = 0;

  /// Opens a session (the adapter's factory).
  virtual std::unique_ptr<Connection> connect(const util::DatabaseUrl& url, const ConnectOptions& options) const = 0;

  // Quoting: the only way SQL text is built from names and values.
  virtual std::string quote_identifier(std::string_view name) const { return db::quote_identifier(dialect(), name); }
  virtual std::string quote_literal(std::string_view text) const { return db::quote_literal(dialect(), text); }
  std::string quote_qualified(std::string_view dotted_name) const;

  // The tracking table.
  /// SQL for "now" as the tracking table stores it.
  virtual std::string now_expression() const = 0;
  /// The column type of applied_at.
  virtual std::string timestamp_type() const = 0;
  /// SQL for `expression` without its leading zeros (versions compare as numbers: "001" is "1").
  virtual std::string without_leading_zeros(const std::string& expression) const {
    return "ltrim(" + expression + ", '0')";
  }
  /// The schema an unqualified name lands in on this session (nullopt: none exists). Asked only
  /// when traits().schemas.
  virtual std::optional<std::string> current_schema(Connection& connection) const;
  /// True when the table exists: `quoted` as resolve_table() gave it, `name` as configured.
  virtual bool table_exists(Connection& connection, const std::string& quoted, const std::string& name) const = 0;
  /// A table's columns (name, type with its modifiers) in order; empty when it does not exist.
  virtual std::vector<std::pair<std::string, std::string>> table_columns(Connection& connection,
                                                                         const std::string& table) const = 0;
  /// One statement that puts table `staged` in the place of `table` and moves `table` to `aside`,
  /// all at once (all quoted). Asked only where DDL is not transactional (traits().transactional_ddl
  /// false), so that a run killed half way leaves one of the two tables in place, never neither.
  virtual std::string swap_tables_sql(const std::string& table, const std::string& staged,
                                      const std::string& aside) const;

  // Locks and sessions.
  /// Takes the migration lock of `table` on this database, waiting up to `timeout` (zero:
  /// forever). Throws DbError when it runs out.
  virtual std::unique_ptr<Lock> migration_lock(Connection& connection, const util::DatabaseUrl& url,
                                               const std::string& table, std::chrono::milliseconds timeout,
                                               const OnLockWait& on_wait) const = 0;
  /// Bounds the following statements of a section (SET LOCAL when `local`, else SET); nothing
  /// where the engine has no such server settings.
  virtual void set_section_limits(Connection& connection, std::optional<std::chrono::milliseconds> lock_timeout,
                                  std::optional<std::chrono::milliseconds> statement_timeout, bool local) const;
  /// Called right after a read-only transaction began, so that the engine refuses writes from
  /// the first statement on.
  virtual void pin_read_only(Connection& connection) const;

  // Replication and health.
  /// The writer's replication position now (past its last commit), as the server prints it;
  /// nullopt for an engine without replication (traits().replication false).
  virtual std::optional<std::string> write_position(Connection& connection) const;
  /// One look at the server into `out`; `url` for engines whose storage is a file. What was
  /// learnt before a failure stays in `out`.
  virtual void server_facts(Connection& connection, const util::DatabaseUrl& url, ServerFacts& out) const = 0;
  /// grant's prepared transactions whose gid starts with `prefix` (0 without prepared transactions).
  virtual std::size_t count_prepared(Connection& connection, const std::string& prefix) const;
  /// The database's size on disk (a rollout's --order size); nullopt when the engine cannot tell.
  virtual std::optional<long long> database_bytes(Connection& connection, const util::DatabaseUrl& url) const;
  /// On a replica: what it has replayed, and whether that reaches `position` (a write_position()
  /// of its writer; nullopt: asked for the position only). nullopt when the server is no replica.
  /// Asked only when traits().replication.
  virtual std::optional<ReplayState> replay_state(Connection& connection,
                                                  const std::optional<std::string>& position) const;

  // Sessions and leftovers of failures.
  /// The session that blocks backend `pid`'s statement right now (the oldest transaction among
  /// them), asked from a second session; nullopt when none. Asked only when traits().server_timeouts.
  virtual std::optional<BlockingSession> blocker_of(Connection& connection, int pid) const;
  /// The statement an operator runs to end session `pid` (in hints); empty when the engine has none.
  virtual std::string end_session_statement(int pid) const;
  /// Where an operator looks for lock holders (in hints): "pg_locks".
  virtual std::string lock_view() const;
  /// Indexes left INVALID, outside the system schemas. Asked only when traits().invalid_indexes.
  virtual std::vector<InvalidIndex> invalid_indexes(Connection& connection) const;

  /// Size, rows and lock holders of each relation (read-only). Asked only when traits().lint.
  virtual std::vector<RelationFacts> relation_facts(Connection& connection,
                                                    const std::vector<std::string>& names) const;
};

/// The engine of a URL scheme, from the registry in engine.cpp (one line per engine).
const Engine& engine_for(util::UrlScheme scheme);
inline const Engine& engine_for(const util::DatabaseUrl& url) {
  return engine_for(url.scheme);
}
/// The engine of a dialect (for connections that only know their dialect).
const Engine& engine_for(Dialect dialect);
/// An engine's traits without the engine: what the library asks before it connects. (The grant
/// program loads the PostgreSQL adapter on first use of engine_for; traits_for never loads it.)
const EngineTraits& traits_for(util::UrlScheme scheme);
inline const EngineTraits& traits_for(const util::DatabaseUrl& url) {
  return traits_for(url.scheme);
}
const EngineTraits& traits_for(Dialect dialect);

/// PostgreSQL: postgres_traits.cpp, postgres_engine.cpp, and the adapter in postgres.cpp (the only
/// file with libpqxx). The last two, postgres_text.cpp and util/conninfo.cpp are the adapter's
/// module in the grant program (lib/CMakeLists.txt).
const EngineTraits& postgres_traits();
const Engine& postgres_engine();
std::unique_ptr<Connection> connect_postgres(const util::DatabaseUrl& url, const ConnectOptions& options);
/// MySQL and MariaDB: mysql_traits.cpp, mysql_engine.cpp, and the adapter in mysql.cpp (the only
/// file with MariaDB Connector/C); the last two are a module in the grant program.
const EngineTraits& mysql_traits();
const Engine& mysql_engine();
std::unique_ptr<Connection> connect_mysql(const util::DatabaseUrl& url, const ConnectOptions& options);
/// SQLite: sqlite_engine.cpp, and the adapter in sqlite.cpp (the only file with sqlite3.h).
const EngineTraits& sqlite_traits();
const Engine& sqlite_engine();
std::unique_ptr<Connection> connect_sqlite(const util::DatabaseUrl& url, const ConnectOptions& options);

} // namespace grant::db
