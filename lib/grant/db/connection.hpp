#pragma once

#include <grant/db/engine.hpp>
#include <grant/db/error.hpp>
#include <grant/db/quoting.hpp>
#include <grant/util/url.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grant::db {

/// A field as text; nullopt is SQL NULL.
using Value = std::optional<std::string>;
/// Positional parameters for `$1`, `$2`, ... in both dialects.
using Params = std::vector<Value>;

/// A fully read result.
struct Rows {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
  long long affected = 0;

  std::size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
  const Value& at(std::size_t row, std::size_t column) const { return rows.at(row).at(column); }
  /// The single value of a one-row, one-column result; throws if the shape differs.
  Value scalar() const;
};

/// How a column's values print as JSON and compare when results from several shards are merged.
enum class ValueType : std::uint8_t {
  text,    ///< anything else: printed as a string, compared byte by byte
  integer, ///< int2/int4/int8/oid; SQLite INTEGER
  number,  ///< numeric, real, double precision; SQLite REAL
  boolean, ///< PostgreSQL "t" / "f"
  json,    ///< json / jsonb: the server's text is the JSON value
};

/// A result column: its name and the type of its values.
struct Column {
  std::string name;
  ValueType type = ValueType::text;
};

/// One streamed row: fields are views valid only during the callback.
struct RowView {
  const std::vector<std::string_view>& fields;
  const std::vector<bool>& nulls;
  /// Per-field types where the dialect types values rather than columns (SQLite); nullptr when
  /// the columns' types hold for every row (PostgreSQL).
  const std::vector<ValueType>* types = nullptr;
};
using RowCallback = std::function<void(const RowView&)>;

/// Receives a streamed result: its columns once, then each row as it arrives.
class ResultSink {
public:
  virtual ~ResultSink() = default;
  virtual void columns(const std::vector<Column>& columns) = 0;
  virtual void row(const RowView& row) = 0;
  /// After the last row: the rows the statement changed (INSERT, UPDATE...), else the rows read.
  virtual void finished(long long affected) { (void)affected; }
};

struct StreamOptions {
  bool read_only = false;        ///< run inside a read-only transaction (one is opened if none is)
  std::size_t batch_rows = 5000; ///< PostgreSQL: rows fetched per round trip from the cursor
};

enum class Isolation { default_level, read_committed, repeatable_read, serializable };

struct TxOptions {
  Isolation isolation = Isolation::default_level;
  bool read_only = false;
};

struct ConnectOptions {
  std::string target;            ///< label used in errors: "orders/s1", "analytics/r1"
  int connect_timeout_ms = 5000; ///< libpq honours whole seconds, at least 2
  std::string application_name = "grant";
  bool sqlite_foreign_keys = false; ///< SQLite: PRAGMA foreign_keys = ON (config `sqlite.foreign_keys`)
};

/// One database session. Not thread-safe: one thread uses a connection at a time (the pool
/// hands each out to one owner). Every failure is a DbError naming the target and statement.
class Connection {
public:
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  virtual Dialect dialect() const = 0;
  /// What differs for this connection's engine: ask it instead of branching on the dialect.
  virtual const Engine& engine() const { return engine_for(dialect()); }
  const std::string& target() const { return m_target; }

  /// Runs a script of one or more statements without parameters.
  virtual void execute(std::string_view sql) = 0;
  /// Runs one statement with `$n` parameters and reads the whole result.
  virtual Rows query(std::string_view sql, const Params& params = {}) = 0;
  /// Streams the rows of a SELECT without holding them (PostgreSQL: COPY ... TO STDOUT).
  virtual void stream(std::string_view select_sql, const RowCallback& on_row) = 0;

  /// Runs one statement and streams its result, columns typed, into `sink`, never holding more
  /// than a batch: PostgreSQL reads a query (SELECT, VALUES, TABLE, WITH) through a cursor inside
  /// a transaction (the caller's, or one of its own), and runs anything else whole. An exception
  /// thrown by the sink stops the stream and propagates; the session stays usable.
  virtual void stream_result(std::string_view sql, ResultSink& sink, const StreamOptions& options = {}) = 0;
  /// Breaks the session from another thread, so that a call blocked on a server that went
  /// silent returns with a lost-connection DbError; the connection is unusable after it.
  /// Thread-safe and never throws. SQLite: interrupts the running statement.
  virtual void interrupt() noexcept = 0;
  /// Asks the server to stop the statement running now, from another thread (cancel::Running
  /// calls it on SIGINT/SIGTERM); the statement then fails and the session stays usable.
  /// PostgreSQL: a cancel request; SQLite: sqlite3_interrupt. Never throws.
  virtual void cancel() noexcept {}

  /// Bounds every following statement; zero removes the bound.
  virtual void set_statement_timeout(std::chrono::milliseconds timeout) = 0;
  /// The longest a call waits for the server's reply before it gives the session up as lost
  /// (as interrupt() does) and throws a lost-connection DbError saying so; zero: no bound. For
  /// a server or a network that goes silent without closing the connection, which neither
  /// statement_timeout (the server's) nor TCP notices. SQLite: ignored.
  void set_reply_timeout(std::chrono::milliseconds timeout) { m_reply_timeout = timeout; }
  std::chrono::milliseconds reply_timeout() const { return m_reply_timeout; }
  /// True for a PostgreSQL server in recovery (a replica); SQLite is never one.
  virtual bool in_recovery() = 0;
  /// Server name and version, for reports.
  virtual std::string server_version() = 0;
  /// Undoes what statements did to the session (SET ROLE, search_path, timeouts...): the
  /// session behaves as freshly connected. PostgreSQL: SET SESSION AUTHORIZATION DEFAULT;
  /// RESET ALL. Outside a transaction.
  void reset_session() {
    if (const auto sql = reset_session_sql(); !sql.empty()) {
      execute(sql);
    }
  }
  /// The statements reset_session() runs, to send along with others ("" when none are needed).
  virtual std::string reset_session_sql() const = 0;
  /// The server process of this session (PostgreSQL backend pid), 0 when there is none.
  virtual int session_pid() const noexcept { return 0; }
  /// False once the session is known to be broken; the pool then discards it.
  virtual bool is_usable() const noexcept = 0;
  /// For an idle session, without waiting: false when it is broken or the server has written to
  /// it meanwhile (the notice of a shutdown, the end of the connection), after which it is
  /// unusable. The pool asks before handing out an idle connection.
  virtual bool check_idle() noexcept { return is_usable(); }

  std::string quote_identifier(std::string_view name) const { return engine().quote_identifier(name); }
  std::string quote_qualified(std::string_view name) const { return engine().quote_qualified(name); }
  std::string quote_literal(std::string_view text) const { return engine().quote_literal(text); }

  /// Open transactions and savepoints (0 = autocommit). Managed by Transaction.
  int transaction_depth() const { return m_depth; }
  /// True once a COMMIT failed and the transaction could not be rolled back after it: the
  /// session's state is unknown, so the pool closes the connection instead of reusing it.
  bool is_abandoned() const noexcept { return m_abandoned; }

protected:
  explicit Connection(std::string target) : m_target(std::move(target)) {}

  /// BEGIN with the options, in the dialect's words.
  virtual std::string begin_statement(const TxOptions& options) const = 0;
  /// Opens the top-level transaction (Transaction's constructor). An adapter may hold the BEGIN
  /// back and send it with the next statement, one round trip fewer per transaction.
  virtual void begin_transaction(const TxOptions& options) { execute(begin_statement(options)); }
  /// Called after a top-level COMMIT or ROLLBACK, e.g. to reset read-only mode.
  virtual void after_transaction() {}

private:
  friend class Transaction;
  std::string m_target;
  int m_depth = 0;
  bool m_abandoned = false;
  std::chrono::milliseconds m_reply_timeout{0};
};

/// Sets a connection's reply timeout for a scope and puts the previous one back.
class ReplyTimeoutScope {
public:
  ReplyTimeoutScope(Connection& connection, std::chrono::milliseconds timeout)
      : m_connection(connection), m_previous(connection.reply_timeout()) {
    connection.set_reply_timeout(timeout);
  }
  ~ReplyTimeoutScope() { m_connection.set_reply_timeout(m_previous); }
  ReplyTimeoutScope(const ReplyTimeoutScope&) = delete;
  ReplyTimeoutScope& operator=(const ReplyTimeoutScope&) = delete;

private:
  Connection& m_connection;
  std::chrono::milliseconds m_previous;
};

/// A transaction, or a savepoint when one is already open on the connection. Rolls back in its
/// destructor unless committed, and never throws there (SQLiteCpp's Transaction).
class Transaction {
public:
  explicit Transaction(Connection& connection, const TxOptions& options = {});
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();
  void rollback();
  bool is_savepoint() const { return m_level > 1; }
  Connection& connection() { return m_connection; }

private:
  std::string savepoint_name() const;
  void after_failed_commit() noexcept;
  Connection& m_connection;
  int m_level;
  bool m_open = true;
};

/// The first word of a statement in lower case, past spaces, comments and opening parentheses
/// ("select" for "/* x */ (SELECT 1)"); empty when there is none.
std::string leading_keyword(std::string_view sql);

/// True for a statement that only yields rows and can be read through a cursor: SELECT, VALUES,
/// TABLE, and WITH (whose body may still write; the server says so).
bool is_query_statement(std::string_view sql);

/// Opens a connection for the URL's scheme. Throws DbError (unreachable, bad password) with the
/// URL redacted.
std::unique_ptr<Connection> connect(const util::DatabaseUrl& url, const ConnectOptions& options);

} // namespace grant::db
