#pragma once

#include <grant/db/connection.hpp>

namespace grant::db {

/// SQLite's table-rebuild recipe (create the new table, copy, drop the old one, rename) would
/// fire ON DELETE CASCADE on the children when the old table is dropped with foreign keys on.
/// Created before the migration's transaction, this guard turns enforcement off (SQLite ignores
/// the pragma inside a transaction), `check()` runs `PRAGMA foreign_key_check` before the commit,
/// and the destructor turns enforcement back on. Does nothing for PostgreSQL, when foreign keys
/// are already off, inside a caller's transaction, or when `needed` is false (the caller knows the
/// section only creates empty objects: migrate::creates_only).
class SqliteForeignKeysOff {
public:
  explicit SqliteForeignKeysOff(Connection& connection, bool needed = true);
  ~SqliteForeignKeysOff();
  SqliteForeignKeysOff(const SqliteForeignKeysOff&) = delete;
  SqliteForeignKeysOff& operator=(const SqliteForeignKeysOff&) = delete;

  /// Throws DbError (exit 3) naming the table, rowid and parent of the first violations, so the
  /// caller's transaction rolls back; `context` leads the message ("app: migration 2_x").
  /// No-op when the guard turned nothing off.
  void check(const std::string& context = {});
  bool active() const { return m_restore; }

private:
  Connection& m_connection;
  bool m_restore = false;
};

} // namespace grant::db
