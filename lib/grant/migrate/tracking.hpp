#pragma once

#include <grant/db/connection.hpp>
#include <grant/error.hpp>
#include <grant/migrate/migration_file.hpp>

#include <optional>
#include <string>
#include <vector>

namespace grant::migrate {

/// A row of the tracking table, or what another tool's table says is applied.
struct AppliedMigration {
  /// Which table the row was read from: grant's (including adopted dbmate / Rails tables),
  /// golang-migrate's one-row table (not converted yet), or Flyway's history (never written).
  enum class Source { grant, golang_migrate, flyway };

  std::string version;
  std::string name;
  std::optional<std::string> checksum; ///< unknown for rows adopted from dbmate / Rails / golang-migrate / Flyway
  std::string applied_at;
  long long execution_ms = 0;
  std::string applied_by;
  Source source = Source::grant;
  /// golang-migrate's row and Flyway's BASELINE row: every file version up to this one is applied.
  bool covers_older = false;
  /// A run of it started and did not finish, on an engine whose DDL commits as it runs (MySQL):
  /// its first statements may be applied (migrate/dirty.cpp).
  bool dirty = false;
};

/// What the table named by `migrations_table` is.
enum class TableFormat { missing, grant, dbmate, golang_migrate };

/// The tracking table (default `schema_migrations`) of one target. On PostgreSQL the table is
/// schema-qualified with `current_schema()` as it was when the Tracker was first used, so a
/// migration that empties `search_path` cannot break the bookkeeping. The table's columns are
/// read once per Tracker.
///
/// Adopted in place: a dbmate / Rails `schema_migrations(version)` table (grant's columns are
/// added, nullable) and golang-migrate's `schema_migrations(version, dirty)` (converted into
/// grant's table by `ensure(files)`). Flyway's `flyway_schema_history` in the same schema is read
/// (successful rows count as applied) and never written.
class Tracker {
public:
  Tracker(db::Connection& connection, std::string table);

  bool exists();
  TableFormat format();

  /// Creates the table, or adds grant's columns to an adopted one. Refuses (ConfigError) to
  /// convert a golang-migrate table, which needs the migration files: use ensure(files).
  void ensure();
  /// As ensure(), and converts a golang-migrate table in one transaction into rows for every
  /// file version up to its version (checksum unknown). Returns a note for the user when it
  /// converted something. Throws ConfigError (nothing touched) for a dirty golang-migrate table.
  std::optional<std::string> ensure(const std::vector<Migration>& files);
  /// The SQL ensure(files) would run, for --dry-run ("" when nothing is needed).
  std::string ensure_sql(const std::vector<Migration>& files);

  /// Applied rows in version order (grant's table, else golang-migrate's row, plus Flyway's
  /// history); empty when there is no table. Throws ConfigError for a dirty golang-migrate table,
  /// and for a dirty row of grant's own unless `refuse_dirty` is false (then it is left out).
  std::vector<AppliedMigration> applied(bool refuse_dirty = true);

  // Engines whose DDL commits as it runs (MySQL): a version is recorded as dirty before its
  // statements run and made clean once they all have (migrate/dirty.cpp).
  /// True when this target's table has the dirty column (traits().transactional_ddl false).
  bool tracks_dirty() const;
  void record_dirty(const Migration& migration);
  /// Marks the version clean and applied; `before` rides in the same round trip.
  void clear_dirty(const Migration& migration, long long execution_ms, std::string_view before = {});
  /// The dirty rows, oldest first.
  std::vector<AppliedMigration> dirty_rows();
  /// The ConfigError (exit 2) that refuses to go on past a dirty row.
  ConfigError dirty_error(const AppliedMigration& row) const;
  std::string record_dirty_sql(const Migration& migration);
  /// A rollback: the applied row is made dirty (by this user, now) before the down section's first
  /// statement; returns the statement that makes it as it was, for when nothing of it ran.
  std::string mark_dirty(const Migration& migration);
  std::string mark_dirty_sql(const Migration& migration);
  std::string clear_dirty_sql(const Migration& migration);

  /// Writes the row; `before` (SQL without parameters, e.g. the session reset) rides in the same
  /// round trip.
  void record(const Migration& migration, long long execution_ms, std::string_view before = {});
  /// Deletes the row whose version equals `version` as a number ("001" is "1"); returns the
  /// number of rows deleted.
  long long remove(const std::string& version);
  /// Sets a row's checksum (and its name when empty); returns the rows changed.
  long long update_checksum(const std::string& version, const std::string& name, const std::string& checksum);

  /// The statements above as complete SQL text, for --dry-run output (they run as printed).
  std::string record_sql(const Migration& migration, long long execution_ms = 0);
  std::string remove_sql(const std::string& version);
  std::string update_checksum_sql(const std::string& version, const std::string& name, const std::string& checksum);

  const std::string& table() const { return m_table; }
  /// The quoted, schema-qualified table name (`"public"."schema_migrations"`).
  const std::string& qualified();

private:
  void resolve();
  const std::vector<std::string>& columns();
  bool has_column(const char* column);
  std::string version_matches(const std::string& placeholder) const;
  std::string create_sql() const { return create_sql(m_quoted); }
  std::string create_sql(const std::string& quoted) const;
  std::vector<std::string> missing_columns_sql();
  std::vector<std::string> conversion_sql(const std::vector<Migration>& files);
  /// Every row of grant's (or dbmate's) table, dirty ones marked.
  std::vector<AppliedMigration> rows();
  std::optional<AppliedMigration> golang_migrate_row();
  std::vector<AppliedMigration> flyway_rows();

  db::Connection& m_connection;
  std::string m_table;
  bool m_resolved = false;
  std::string m_quoted;
  std::string m_flyway_quoted;
  std::optional<std::vector<std::string>> m_columns; ///< empty: no table
  std::optional<bool> m_flyway_exists;
};

/// "user@host" of this process, for applied_by.
std::string current_user_at_host();

/// A boolean column's value as the engines print it: "t" (PostgreSQL), "1" (SQLite, MySQL), "true".
bool truthy(const db::Value& value);

} // namespace grant::migrate
