// The Tracker's dirty rows, on engines whose DDL commits as it runs (MySQL, MariaDB): a version is
// recorded as dirty before its first statement and made clean after its last (a rollback: made
// dirty before its down section's first statement, deleted after its last), so that a run which
// fails or dies half way leaves a row saying so, and grant refuses to go on past it until `grant
// repair` forgets the failed run or the file is edited (golang-migrate's dirty flag, Flyway's
// failed row).
#include <grant/migrate/tracking.hpp>

#include <grant/util/strings.hpp>

#include <algorithm>

namespace grant::migrate {

bool Tracker::tracks_dirty() const {
  return !m_connection.engine().traits().transactional_ddl;
}

std::string Tracker::record_dirty_sql(const Migration& migration) {
  resolve();
  return "INSERT INTO " + m_quoted +
         " (version, name, checksum, applied_at, execution_ms, applied_by, dirty) VALUES (" +
         m_connection.quote_literal(migration.version) + ", " + m_connection.quote_literal(migration.name) + ", " +
         m_connection.quote_literal(migration.checksum) + ", " + m_connection.engine().now_expression() + ", 0, " +
         m_connection.quote_literal(current_user_at_host()) + ", true);";
}

std::string Tracker::clear_dirty_sql(const Migration& migration) {
  resolve();
  return "UPDATE " + m_quoted + " SET dirty = false, applied_at = " + m_connection.engine().now_expression() +
         " WHERE " + version_matches(m_connection.quote_literal(migration.version)) + ";";
}

std::string Tracker::mark_dirty_sql(const Migration& migration) {
  resolve();
  return "UPDATE " + m_quoted + " SET dirty = true, applied_at = " + m_connection.engine().now_expression() +
         ", applied_by = " + m_connection.quote_literal(current_user_at_host()) + " WHERE " +
         version_matches(m_connection.quote_literal(migration.version)) + ";";
}

std::string Tracker::mark_dirty(const Migration& migration) {
  resolve();
  const auto where = " WHERE " + version_matches(m_connection.quote_literal(migration.version));
  const auto before = m_connection.query("SELECT applied_at, applied_by FROM " + m_quoted + where, {});
  const auto literal = [this](const db::Value& value) {
    return value ? m_connection.quote_literal(*value) : std::string("NULL");
  };
  std::string restore = "UPDATE " + m_quoted + " SET dirty = false";
  if (before.rows.size() == 1) {
    restore += ", applied_at = " + literal(before.rows[0].at(0)) + ", applied_by = " + literal(before.rows[0].at(1));
  }
  m_connection.execute(mark_dirty_sql(migration));
  return restore + where;
}

void Tracker::record_dirty(const Migration& migration) {
  m_connection.execute(record_dirty_sql(migration));
}

void Tracker::clear_dirty(const Migration& migration, long long execution_ms, std::string_view before) {
  resolve();
  m_connection.execute(std::string(before) + " UPDATE " + m_quoted + " SET dirty = false, execution_ms = " +
                       std::to_string(execution_ms) + ", applied_at = " + m_connection.engine().now_expression() +
                       " WHERE " + version_matches(m_connection.quote_literal(migration.version)));
}

std::vector<AppliedMigration> Tracker::dirty_rows() {
  std::vector<AppliedMigration> out;
  if (format() != TableFormat::grant || !has_column("dirty")) {
    return out;
  }
  for (auto& row : rows()) {
    if (row.dirty) {
      out.push_back(std::move(row));
    }
  }
  std::sort(out.begin(), out.end(), [](const AppliedMigration& a, const AppliedMigration& b) {
    return compare_versions(a.version, b.version) < 0;
  });
  return out;
}

ConfigError Tracker::dirty_error(const AppliedMigration& row) const {
  return ConfigError(m_connection.target() + ": version " + row.version +
                         (row.name.empty() ? "" : " (" + row.name + ")") +
                         " is dirty: a run of it (or of its rollback) by " + row.applied_by + " at " + row.applied_at +
                         " did not finish, and " + std::string(m_connection.engine().traits().display_name) +
                         " kept the statements it had run before it stopped",
                     m_connection.target(),
                     "check what it applied and undo it by hand (or finish it), then `grant repair` forgets the "
                     "failed run and `grant migrate` runs the file again from the start; an edited file also runs "
                     "again from the start");
}

} // namespace grant::migrate
