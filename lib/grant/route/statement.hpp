#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace grant::route {

/// Whether SQL writes, and the first reason it does.
struct WriteCheck {
  bool writes = false;
  /// The first offending keyword, upper case: "INSERT", "CREATE", "FOR UPDATE", "SELECT INTO",
  /// "COPY FROM", "EXECUTE", or the first word of a statement the classifier does not know.
  std::string keyword;
  std::string statement; ///< the statement it is in, trimmed (the whole text when it reads)
  int index = 0;         ///< 0-based position of that statement in the text
  explicit operator bool() const { return writes; }
};

/// Reads SQL text of one or more statements with a real lexer (quotes, E'' escapes, "..."
/// identifiers, dollar quotes and comments never hold keywords), split into statements as
/// util::split_statements splits them, and says whether it writes.
///
/// Writes: INSERT, UPDATE, DELETE, MERGE, TRUNCATE, COPY ... FROM, COPY ... TO a file or a
/// program (only TO STDOUT reads), DDL and other commands that
/// change the server (CREATE, ALTER, DROP, GRANT, REVOKE, COMMENT, REINDEX, VACUUM, ANALYZE,
/// CLUSTER, REFRESH, LOCK, CALL, DO, SECURITY LABEL, IMPORT, REASSIGN, ...), SELECT with a locking
/// clause (FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE, at any depth), SELECT INTO, WITH whose
/// CTEs or main statement write, EXPLAIN ANALYZE of a write, PREPARE of a write, and EXECUTE (what
/// a prepared statement does cannot be seen). A statement it does not know counts as a write.
///
/// Reads: SELECT, VALUES, TABLE, SHOW, EXPLAIN (without ANALYZE, or of a read), SET, RESET,
/// transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...), cursors over reads (DECLARE,
/// FETCH, MOVE, CLOSE), DISCARD, DEALLOCATE, LISTEN, UNLISTEN.
///
/// Function calls are not looked into: `SELECT f()` where f inserts, or nextval()/setval(), reads
/// as far as the text goes; a read-only transaction refuses them on the server (SQLSTATE 25006),
/// which is why the prevent-writes scope runs in one.
WriteCheck check_writes(std::string_view sql);

/// The first statement of `sql` that would end (COMMIT, END, ROLLBACK without TO, ABORT,
/// PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED) or turn read-write (SET TRANSACTION READ WRITE,
/// SET SESSION CHARACTERISTICS ... READ WRITE, setting transaction_read_only or
/// default_transaction_read_only) the read-only transaction it runs in: its keywords, upper case,
/// or "" when none does.
std::string leaves_read_only(std::string_view sql);

/// True for COMMIT, END, ROLLBACK (not ROLLBACK TO) and ABORT: the statements that end a
/// transaction without preparing it or making it read-write.
bool ends_transaction(std::string_view keyword);

/// The statements of `sql`, split where util::split_statements splits them (util::StatementEnds:
/// psql's rule, `BEGIN ATOMIC` bodies kept whole), without their semicolons, trimmed.
std::vector<std::string> statements_of(std::string_view sql);

} // namespace grant::route
