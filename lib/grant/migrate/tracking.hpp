#pragma once

#include <grant/db/connection.hpp>
#include <grant/migrate/migration_file.hpp>

#include <optional>
#include <string>
#include <vector>

namespace grant::migrate {

/// A row of the tracking table.
struct AppliedMigration {
  std::string version;
  std::string name;
  std::optional<std::string> checksum; ///< unknown for rows adopted from dbmate / Rails
  std::string applied_at;
  long long execution_ms = 0;
  std::string applied_by;
};

/// The tracking table (default `schema_migrations`) of one target. An existing dbmate / Rails
/// `schema_migrations(version)` table is adopted in place: grant's columns are added, nullable.
class Tracker {
public:
  Tracker(db::Connection& connection, std::string table);

  bool exists();
  /// Creates the table, or adds grant's columns to an adopted one.
  void ensure();
  /// Applied rows in version order; empty when the table does not exist.
  std::vector<AppliedMigration> applied();

  void record(const Migration& migration, long long execution_ms);
  void remove(const std::string& version);
  /// The INSERT / DELETE as SQL text, for --dry-run output.
  std::string record_sql(const Migration& migration) const;
  std::string remove_sql(const std::string& version) const;

  const std::string& table() const { return m_table; }

private:
  db::Connection& m_connection;
  std::string m_table;
  std::string m_quoted;
};

/// "user@host" of this process, for applied_by.
std::string current_user_at_host();

} // namespace grant::migrate
