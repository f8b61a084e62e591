#include <grant/migrate/tracking.hpp>

#include <grant/error.hpp>
#include <grant/migrate/file_name.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <cstdlib>

#include <pwd.h>
#include <unistd.h>

namespace grant::migrate {

namespace {

constexpr const char* k_columns = "(version, name, checksum, applied_at, execution_ms, applied_by)";

} // namespace

bool truthy(const db::Value& value) {
  return value && (*value == "t" || *value == "1" || *value == "true");
}

std::string current_user_at_host() {
  static const std::string k_value = [] {
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
  }(); // once per process: getpwuid reads /etc/passwd
  return k_value;
}

Tracker::Tracker(db::Connection& connection, std::string table) : m_connection(connection), m_table(std::move(table)) {}

void Tracker::resolve() {
  if (m_resolved) {
    return;
  }
  if (!m_connection.engine().traits().schemas) {
    m_quoted = m_connection.quote_qualified(m_table);
    m_flyway_quoted = m_connection.quote_identifier("flyway_schema_history");
    m_resolved = true;
    return;
  }
  std::string schema;
  std::string name = m_table;
  if (const auto dot = m_table.find('.'); dot != std::string::npos) {
    schema = m_table.substr(0, dot);
    name = m_table.substr(dot + 1);
  } else {
    const auto current = m_connection.engine().current_schema(m_connection);
    if (!current) {
      throw ConfigError("cannot place the tracking table " + util::in_quotes(m_table) + " on " + m_connection.target() +
                            ": current_schema() is NULL (no schema of search_path exists)",
                        m_connection.target(),
                        "create the schema, fix the role's or database's search_path, or set \"migrations_table\" "
                        "to a qualified name such as \"public.schema_migrations\"");
    }
    schema = *current;
  }
  m_quoted = m_connection.quote_identifier(schema) + "." + m_connection.quote_identifier(name);
  m_flyway_quoted =
      m_connection.quote_identifier(schema) + "." + m_connection.quote_identifier("flyway_schema_history");
  m_resolved = true;
}

const std::string& Tracker::qualified() {
  resolve();
  return m_quoted;
}

const std::vector<std::string>& Tracker::columns() {
  if (m_columns) {
    return *m_columns;
  }
  resolve();
  const bool found = m_connection.engine().table_exists(m_connection, m_quoted, m_table);
  m_columns =
      found ? m_connection.query("SELECT * FROM " + m_quoted + " WHERE 1 = 0", {}).columns : std::vector<std::string>{};
  return *m_columns;
}

bool Tracker::has_column(const char* column) {
  const auto& all = columns();
  return std::find(all.begin(), all.end(), column) != all.end();
}

bool Tracker::exists() {
  return !columns().empty();
}

TableFormat Tracker::format() {
  if (!exists()) {
    return TableFormat::missing;
  }
  if (has_column("dirty") && !has_column("checksum")) {
    return TableFormat::golang_migrate;
  }
  return has_column("checksum") && has_column("applied_by") ? TableFormat::grant : TableFormat::dbmate;
}

std::string Tracker::create_sql(const std::string& quoted) const {
  return "CREATE TABLE IF NOT EXISTS " + quoted + " (version varchar(" + std::to_string(k_max_version_digits) +
         ") PRIMARY KEY, name text, checksum text, " + "applied_at " + m_connection.engine().timestamp_type() +
         ", execution_ms bigint, applied_by text" + (tracks_dirty() ? ", dirty boolean NOT NULL DEFAULT false" : "") +
         ")";
}

std::vector<std::string> Tracker::missing_columns_sql() {
  const std::vector<std::pair<const char*, std::string>> wanted{{"name", "text"},
                                                                {"checksum", "text"},
                                                                {"applied_at", m_connection.engine().timestamp_type()},
                                                                {"execution_ms", "bigint"},
                                                                {"applied_by", "text"}};
  std::vector<std::string> out;
  for (const auto& [column, type] : wanted) {
    if (!has_column(column)) {
      out.push_back("ALTER TABLE " + m_quoted + " ADD COLUMN " + m_connection.quote_identifier(column) + " " + type);
    }
  }
  if (tracks_dirty() && !has_column("dirty")) {
    out.push_back("ALTER TABLE " + m_quoted + " ADD COLUMN dirty boolean NOT NULL DEFAULT false");
  }
  return out;
}

void Tracker::ensure() {
  if (format() == TableFormat::golang_migrate) {
    throw ConfigError(m_connection.target() + ": " + m_table +
                          " is golang-migrate's table; converting it needs the migration files",
                      m_connection.target(), "run a plain `grant migrate` (without --atomic) once to convert it");
  }
  ensure({});
}

std::optional<std::string> Tracker::ensure(const std::vector<Migration>& files) {
  switch (format()) {
  case TableFormat::missing:
    m_connection.execute(create_sql());
    m_columns = {"version", "name", "checksum", "applied_at", "execution_ms", "applied_by"};
    if (tracks_dirty()) {
      m_columns->push_back("dirty");
    }
    return std::nullopt;
  case TableFormat::grant:
    if (tracks_dirty() && !has_column("dirty")) {
      for (const auto& statement : missing_columns_sql()) {
        m_connection.execute(statement);
      }
      m_columns->push_back("dirty");
    }
    return std::nullopt;
  case TableFormat::dbmate:
    // Adopt a dbmate / Rails table in place: its rows stay applied, with checksum unknown.
    for (const auto& statement : missing_columns_sql()) {
      m_connection.execute(statement);
    }
    for (const char* column : {"name", "checksum", "applied_at", "execution_ms", "applied_by", "dirty"}) {
      if (!has_column(column) && (std::string_view(column) != "dirty" || tracks_dirty())) {
        m_columns->push_back(column);
      }
    }
    return std::nullopt;
  case TableFormat::golang_migrate:
    break;
  }
  const auto row = golang_migrate_row(); // throws for dirty before anything changes
  const auto statements = conversion_sql(files);
  {
    db::Transaction transaction(m_connection);
    for (const auto& statement : statements) {
      m_connection.execute(statement);
    }
    transaction.commit();
  }
  m_columns = {"version", "name", "checksum", "applied_at", "execution_ms", "applied_by"};
  if (tracks_dirty()) {
    m_columns->push_back("dirty");
  }
  const auto recorded = static_cast<std::size_t>(std::count_if(
      statements.begin(), statements.end(), [](const std::string& sql) { return util::starts_with(sql, "INSERT"); }));
  return "converted golang-migrate's " + m_table + " (at version " + (row ? row->version : std::string("none")) +
         ") into grant's tracking table: " + std::to_string(recorded) +
         " version(s) recorded as applied, checksum unknown";
}

std::string Tracker::ensure_sql(const std::vector<Migration>& files) {
  std::vector<std::string> statements;
  switch (format()) {
  case TableFormat::missing:
    statements.push_back(create_sql());
    break;
  case TableFormat::grant:
  case TableFormat::dbmate:
    statements = missing_columns_sql();
    break;
  case TableFormat::golang_migrate:
    statements = conversion_sql(files);
    if (m_connection.engine().traits().transactional_ddl) {
      statements.insert(statements.begin(), "BEGIN");
      statements.push_back("COMMIT");
    }
    break;
  }
  std::string out;
  for (const auto& statement : statements) {
    out += statement + ";\n";
  }
  return out;
}

std::vector<AppliedMigration> Tracker::applied(bool refuse_dirty) {
  std::vector<AppliedMigration> out;
  const auto table_format = format();
  if (table_format == TableFormat::golang_migrate) {
    if (auto row = golang_migrate_row()) {
      out.push_back(std::move(*row));
    }
  } else if (table_format != TableFormat::missing) {
    for (auto& row : rows()) {
      if (row.dirty) {
        if (refuse_dirty) {
          throw dirty_error(row);
        }
        continue;
      }
      out.push_back(std::move(row));
    }
  }
  for (auto& row : flyway_rows()) {
    const bool known = std::any_of(out.begin(), out.end(), [&](const AppliedMigration& mine) {
      return compare_versions(mine.version, row.version) == 0;
    });
    if (!known) {
      out.push_back(std::move(row));
    }
  }
  std::sort(out.begin(), out.end(), [](const AppliedMigration& a, const AppliedMigration& b) {
    return compare_versions(a.version, b.version) < 0;
  });
  return out;
}

std::vector<AppliedMigration> Tracker::rows() {
  const auto pick = [&](const char* column) { return has_column(column) ? std::string(column) : "NULL"; };
  const bool dirty_column = format() == TableFormat::grant && has_column("dirty");
  const auto result =
      m_connection.query("SELECT version, " + pick("name") + ", " + pick("checksum") + ", " + pick("applied_at") +
                             ", " + pick("execution_ms") + ", " + pick("applied_by") + ", " +
                             (dirty_column ? "dirty" : "0") + " FROM " + m_quoted,
                         {});
  std::vector<AppliedMigration> out;
  for (const auto& row : result.rows) {
    AppliedMigration applied;
    applied.version = row[0].value_or("");
    applied.name = row[1].value_or("");
    applied.checksum = row[2];
    applied.applied_at = row[3].value_or("");
    applied.execution_ms = row[4] ? std::atoll(row[4]->c_str()) : 0;
    applied.applied_by = row[5].value_or("");
    applied.dirty = truthy(row[6]);
    out.push_back(std::move(applied));
  }
  return out;
}

std::string Tracker::version_matches(const std::string& value) const {
  // Versions are numbers: the row "001" is the file "1".
  const auto& engine = m_connection.engine();
  return engine.without_leading_zeros("version") + " = " + engine.without_leading_zeros(value);
}

void Tracker::record(const Migration& migration, long long execution_ms, std::string_view before) {
  resolve();
  if (!before.empty()) {
    m_connection.execute(std::string(before) + " " + record_sql(migration, execution_ms)); // one round trip
    return;
  }
  m_connection.query(
      "INSERT INTO " + m_quoted + " " + k_columns + " VALUES ($1, $2, $3, " + m_connection.engine().now_expression() +
          ", $4, $5)",
      {migration.version, migration.name, migration.checksum, std::to_string(execution_ms), current_user_at_host()});
}

long long Tracker::remove(const std::string& version) {
  resolve();
  return m_connection.query("DELETE FROM " + m_quoted + " WHERE " + version_matches("$1"), {version}).affected;
}

long long Tracker::update_checksum(const std::string& version, const std::string& name, const std::string& checksum) {
  resolve();
  return m_connection
      .query("UPDATE " + m_quoted + " SET checksum = $2, name = COALESCE(NULLIF(name, ''), $3) WHERE " +
                 version_matches("$1"),
             {version, checksum, name})
      .affected;
}

std::string Tracker::record_sql(const Migration& migration, long long execution_ms) {
  resolve();
  return "INSERT INTO " + m_quoted + " " + k_columns + " VALUES (" + m_connection.quote_literal(migration.version) +
         ", " + m_connection.quote_literal(migration.name) + ", " + m_connection.quote_literal(migration.checksum) +
         ", " + m_connection.engine().now_expression() + ", " + std::to_string(execution_ms) + ", " +
         m_connection.quote_literal(current_user_at_host()) + ");";
}

std::string Tracker::remove_sql(const std::string& version) {
  resolve();
  return "DELETE FROM " + m_quoted + " WHERE " + version_matches(m_connection.quote_literal(version)) + ";";
}

std::string Tracker::update_checksum_sql(const std::string& version, const std::string& name,
                                         const std::string& checksum) {
  resolve();
  return "UPDATE " + m_quoted + " SET checksum = " + m_connection.quote_literal(checksum) +
         ", name = COALESCE(NULLIF(name, ''), " + m_connection.quote_literal(name) + ") WHERE " +
         version_matches(m_connection.quote_literal(version)) + ";";
}

} // namespace grant::migrate
