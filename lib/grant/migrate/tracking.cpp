#include <grant/migrate/tracking.hpp>

#include <algorithm>
#include <cstdlib>

#include <pwd.h>
#include <unistd.h>

namespace grant::migrate {

namespace {

std::string now_expression(db::Dialect dialect) {
  return dialect == db::Dialect::postgres ? "now()" : "strftime('%Y-%m-%dT%H:%M:%fZ','now')";
}

} // namespace

std::string current_user_at_host() {
  std::string user;
  if (const char* from_env = std::getenv("USER"); from_env != nullptr && *from_env != '\0') {
    user = from_env;
  } else if (const passwd* entry = getpwuid(geteuid()); entry != nullptr) {
    user = entry->pw_name; // CI containers often run without $USER
  } else {
    user = "uid " + std::to_string(geteuid());
  }
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return user + "@" + host;
}

Tracker::Tracker(db::Connection& connection, std::string table)
    : m_connection(connection), m_table(std::move(table)), m_quoted(connection.quote_qualified(m_table)) {}

bool Tracker::exists() {
  if (m_connection.dialect() == db::Dialect::postgres) {
    return m_connection.query("SELECT to_regclass($1) IS NOT NULL", {m_quoted}).scalar() == db::Value{"t"};
  }
  return !m_connection.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1", {m_table}).empty();
}

void Tracker::ensure() {
  const bool postgres = m_connection.dialect() == db::Dialect::postgres;
  if (!exists()) {
    m_connection.execute("CREATE TABLE IF NOT EXISTS " + m_quoted +
                         " (version varchar(128) PRIMARY KEY, name text, checksum text, applied_at " +
                         (postgres ? "timestamptz" : "text") + ", execution_ms bigint, applied_by text)");
    return;
  }
  // Adopt a dbmate / Rails table in place: its rows stay applied, with checksum unknown.
  const auto columns = m_connection.query("SELECT * FROM " + m_quoted + " WHERE 1 = 0", {}).columns;
  const std::vector<std::pair<std::string, std::string>> wanted{
      {"name", "text"}, {"checksum", "text"}, {"applied_at", postgres ? "timestamptz" : "text"},
      {"execution_ms", "bigint"}, {"applied_by", "text"}};
  for (const auto& [column, type] : wanted) {
    if (std::find(columns.begin(), columns.end(), column) == columns.end()) {
      m_connection.execute("ALTER TABLE " + m_quoted + " ADD COLUMN " + m_connection.quote_identifier(column) + " " + type);
    }
  }
}

std::vector<AppliedMigration> Tracker::applied() {
  std::vector<AppliedMigration> out;
  if (!exists()) {
    return out;
  }
  const auto columns = m_connection.query("SELECT * FROM " + m_quoted + " WHERE 1 = 0", {}).columns;
  const auto has = [&](const char* column) { return std::find(columns.begin(), columns.end(), column) != columns.end(); };
  const auto pick = [&](const char* column) { return has(column) ? std::string(column) : "NULL"; };
  const auto rows = m_connection.query("SELECT version, " + pick("name") + ", " + pick("checksum") + ", " +
                                           pick("applied_at") + ", " + pick("execution_ms") + ", " +
                                           pick("applied_by") + " FROM " + m_quoted,
                                       {});
  for (const auto& row : rows.rows) {
    AppliedMigration applied;
    applied.version = row[0].value_or("");
    applied.name = row[1].value_or("");
    applied.checksum = row[2];
    applied.applied_at = row[3].value_or("");
    applied.execution_ms = row[4] ? std::atoll(row[4]->c_str()) : 0;
    applied.applied_by = row[5].value_or("");
    out.push_back(std::move(applied));
  }
  std::sort(out.begin(), out.end(), [](const AppliedMigration& a, const AppliedMigration& b) {
    return compare_versions(a.version, b.version) < 0;
  });
  return out;
}

void Tracker::record(const Migration& migration, long long execution_ms) {
  m_connection.query("INSERT INTO " + m_quoted +
                         " (version, name, checksum, applied_at, execution_ms, applied_by) VALUES ($1, $2, $3, " +
                         now_expression(m_connection.dialect()) + ", $4, $5)",
                     {migration.version, migration.name, migration.checksum, std::to_string(execution_ms),
                      current_user_at_host()});
}

void Tracker::remove(const std::string& version) {
  m_connection.query("DELETE FROM " + m_quoted + " WHERE version = $1", {version});
}

std::string Tracker::record_sql(const Migration& migration) const {
  return "INSERT INTO " + m_quoted + " (version, name, checksum, applied_at, execution_ms, applied_by) VALUES (" +
         m_connection.quote_literal(migration.version) + ", " + m_connection.quote_literal(migration.name) + ", " +
         m_connection.quote_literal(migration.checksum) + ", " + now_expression(m_connection.dialect()) + ", ...);";
}

std::string Tracker::remove_sql(const std::string& version) const {
  return "DELETE FROM " + m_quoted + " WHERE version = " + m_connection.quote_literal(version) + ";";
}

} // namespace grant::migrate
