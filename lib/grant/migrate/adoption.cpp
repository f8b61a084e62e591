// The Tracker's reading of other tools' tables: golang-migrate's one-row
// `schema_migrations(version, dirty)` and Flyway's `flyway_schema_history`.
#include <grant/migrate/tracking.hpp>

#include <grant/error.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>

namespace grant::migrate {

std::optional<AppliedMigration> Tracker::golang_migrate_row() {
  const auto rows = m_connection.query("SELECT version, dirty FROM " + m_quoted, {});
  std::optional<AppliedMigration> out;
  bool dirty = false;
  for (const auto& row : rows.rows) {
    const auto version = row[0].value_or("");
    if (!is_version(version)) {
      continue; // golang-migrate's NilVersion (-1): nothing applied
    }
    if (!out || compare_versions(version, out->version) > 0) {
      out = AppliedMigration{};
      out->version = version;
      out->source = AppliedMigration::Source::golang_migrate;
      out->covers_older = true;
      dirty = truthy(row[1]);
    }
  }
  if (out && dirty) {
    throw ConfigError(m_connection.target() + ": golang-migrate's " + m_table + " is dirty at version " + out->version +
                          ": that migration failed part-way, and its changes may be half applied",
                      m_connection.target(),
                      "check the schema against version " + out->version +
                          ", then run golang-migrate's `migrate ... force " + out->version +
                          "` (or fix it by hand and run UPDATE " + m_table +
                          " SET dirty = false), and run grant again; nothing was changed");
  }
  return out;
}

std::vector<std::string> Tracker::conversion_sql(const std::vector<Migration>& files) {
  // Its one row says "every version up to this one is applied": one grant row per such file.
  // Where DDL commits as it runs (MySQL), grant's table is filled under another name and swapped
  // in by one statement: a run killed at any point leaves golang-migrate's table or grant's.
  const auto row = golang_migrate_row();
  const bool staged = !m_connection.engine().traits().transactional_ddl;
  const auto target = staged ? m_connection.quote_qualified(m_table + "_grant_new") : m_quoted;
  std::vector<std::string> out;
  if (staged) {
    out = {"DROP TABLE IF EXISTS " + target, create_sql(target)};
  } else {
    out = {"DROP TABLE " + m_quoted, create_sql()};
  }
  const auto insert = [&](const std::string& version, const std::string& name) {
    out.push_back("INSERT INTO " + target + " (version, name, applied_by) VALUES (" +
                  m_connection.quote_literal(version) + ", " + m_connection.quote_literal(name) + ", " +
                  m_connection.quote_literal("golang-migrate (adopted by " + current_user_at_host() + ")") + ")");
  };
  bool has_own_file = false;
  for (const auto& file : files) {
    if (row && compare_versions(file.version, row->version) <= 0) {
      insert(file.version, file.name);
      has_own_file = has_own_file || compare_versions(file.version, row->version) == 0;
    }
  }
  if (row && !has_own_file) {
    insert(row->version, ""); // keep the version it was at, even when its file is gone
  }
  if (staged) {
    const auto aside = m_connection.quote_qualified(m_table + "_golang_migrate");
    out.push_back("DROP TABLE IF EXISTS " + aside);
    out.push_back(m_connection.engine().swap_tables_sql(m_quoted, target, aside));
    out.push_back("DROP TABLE " + aside);
  }
  return out;
}

std::vector<AppliedMigration> Tracker::flyway_rows() {
  resolve();
  if (!m_flyway_exists) {
    m_flyway_exists = m_connection.engine().table_exists(m_connection, m_flyway_quoted, "flyway_schema_history");
  }
  if (!*m_flyway_exists) {
    return {};
  }
  const auto rows = m_connection.query("SELECT version, description, type, installed_on, execution_time, installed_by, "
                                       "success FROM " +
                                           m_flyway_quoted + " WHERE version IS NOT NULL ORDER BY installed_rank",
                                       {});
  // Later rows win: an UNDO or DELETE (Flyway repair) row takes its version back out.
  std::map<std::string, AppliedMigration> by_version;
  for (const auto& row : rows.rows) {
    if (!truthy(row[6])) {
      continue;
    }
    const auto version = row[0].value_or("");
    const auto type = row[2].value_or("");
    const auto key = std::string(version.substr(std::min(version.find_first_not_of('0'), version.size() - 1)));
    if (util::starts_with(type, "UNDO") || type == "DELETE") {
      by_version.erase(key);
      continue;
    }
    AppliedMigration applied;
    applied.version = version;
    applied.name = row[1].value_or("");
    applied.applied_at = row[3].value_or("");
    applied.execution_ms = row[4] ? std::atoll(row[4]->c_str()) : 0;
    applied.applied_by = row[5].value_or("");
    applied.source = AppliedMigration::Source::flyway;
    applied.covers_older = type == "BASELINE";
    by_version[key] = std::move(applied);
  }
  std::vector<AppliedMigration> out;
  for (auto& [key, applied] : by_version) {
    out.push_back(std::move(applied));
  }
  return out;
}

} // namespace grant::migrate
