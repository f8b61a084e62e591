#pragma once

#include <grant/db/connection.hpp>
#include <grant/error.hpp>
#include <grant/route/statement.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace grant::route {

/// A statement a prevent-writes scope refused before it reached the server (exit 2: nothing was
/// touched). `keyword` is the reason (check_writes), or the statement that would have left the
/// scope's read-only transaction (leaves_read_only).
class WriteRefused : public Error {
public:
  WriteRefused(const std::string& target, std::string keyword, std::string statement);
  const std::string& keyword() const noexcept { return m_keyword; }
  const std::string& statement() const noexcept { return m_statement; }

private:
  std::string m_keyword;
  std::string m_statement;
};

/// What the write rule (PreventWrites::check) makes of a text.
struct WriteVerdict {
  /// Why it is refused, empty when it may run: check_writes' keyword, or leaves_read_only's when
  /// `leaves` (the statement would end or turn read-write the read-only transaction).
  std::string keyword;
  std::string statement; ///< the refused statement
  bool leaves = false;
  /// Allowed and holds COMMIT, END, ROLLBACK or ABORT: the read-only transaction restarts there.
  bool ends_transaction = false;
  bool refused() const { return !keyword.empty(); }
};

/// What the write rule does with COMMIT, END, ROLLBACK and ABORT.
enum class TransactionEnds {
  restart, ///< allowed: a prevent-writes scope restarts its read-only transaction at each
  refuse,  ///< refused like any statement that leaves read-only (one statement, no scope: grant query)
};

/// Rails' `while_preventing_writes` for one connection: every statement sent through the scope is
/// checked with check_writes and refused with WriteRefused before it reaches the server, and, as
/// defence in depth, the scope is one read-only transaction (BEGIN READ ONLY, then a first query
/// so that the transaction's snapshot is taken and SET TRANSACTION READ WRITE can no longer undo
/// it), so a write the text does not show (`SELECT f()` where f inserts, nextval()) is refused by
/// PostgreSQL with SQLSTATE 25006. BEGIN, COMMIT and ROLLBACK are allowed and stay read-only:
/// COMMIT, END, ROLLBACK and ABORT end the current read-only transaction and start the next one
/// (BEGIN inside it is a no-op with a server warning); PREPARE TRANSACTION and anything that would
/// make the transaction read-write are refused. Cost: the BEGIN, that first query and the final
/// ROLLBACK, three round trips per scope (and per COMMIT inside it). SQLite: `PRAGMA query_only`
/// stands for the read-only transaction.
class PreventWrites {
public:
  explicit PreventWrites(db::Connection& connection, db::Isolation isolation = db::Isolation::default_level);
  /// Rolls the read-only transaction back (it wrote nothing); never throws.
  ~PreventWrites();
  PreventWrites(const PreventWrites&) = delete;
  PreventWrites& operator=(const PreventWrites&) = delete;

  /// Runs a script, refused as a whole when any of its statements writes. A script with a COMMIT
  /// or ROLLBACK runs statement by statement, the transaction restarting read-only at each.
  void execute(std::string_view sql);
  /// Runs one statement with `$n` parameters (a COMMIT or ROLLBACK restarts the transaction and
  /// returns no rows).
  db::Rows query(std::string_view sql, const db::Params& params = {});
  /// Ends the scope now: later statements throw.
  void finish();

  /// The one rule for where writes are prevented: refused when check_writes finds a write, else
  /// when a statement would leave the read-only transaction (leaves_read_only), except that
  /// `ends` decides about COMMIT, END, ROLLBACK and ABORT. Reads the text only.
  static WriteVerdict check(std::string_view sql, TransactionEnds ends = TransactionEnds::restart);

  const std::string& target() const { return m_connection.target(); }
  db::Dialect dialect() const { return m_connection.dialect(); }
  std::string quote_identifier(std::string_view name) const { return m_connection.quote_identifier(name); }
  std::string quote_literal(std::string_view text) const { return m_connection.quote_literal(text); }

private:
  /// check() for this scope: throws WriteRefused; true when `sql` holds a statement that ends the
  /// transaction.
  bool guard(std::string_view sql) const;
  void begin();
  void restart();

  db::Connection& m_connection;
  db::Isolation m_isolation;
  std::optional<db::Transaction> m_transaction;
};

} // namespace grant::route
