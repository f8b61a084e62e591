#include <grant/rebalance/table_sql.hpp>

#include <grant/error.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <cctype>

namespace grant::rebalance {

namespace {

std::string slug_of(const std::string& name) {
  std::string out;
  for (const char c : name) {
    out += (std::isalnum(static_cast<unsigned char>(c)) != 0) ? static_cast<char>(std::tolower(c)) : '_';
  }
  return out;
}

} // namespace

std::string grant_table(const std::string& schema, const char* suffix) {
  return schema + ".\"" + std::string(k_prefix) + "_" + suffix + "\"";
}

TableSql::TableSql(db::Connection& connection, const std::string& name, const std::vector<std::string>& key_columns)
    : m_name(name), m_qualified(connection.quote_qualified(name)), m_slug(slug_of(name)) {
  const auto rows = connection.query(
      "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
      "COALESCE(array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1) + 1, 0) "
      "FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
      "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
      "ORDER BY a.attnum",
      {m_qualified});
  if (rows.empty()) {
    throw ConfigError("table " + util::in_quotes(name) + " of sharding.tables does not exist on " + connection.target(),
                      connection.target(), "every shard needs the schema before a rebalance: run grant migrate");
  }
  std::vector<std::pair<int, std::size_t>> pk_positions;
  for (const auto& row : rows.rows) {
    m_columns.push_back({*row[0], connection.quote_identifier(*row[0]), *row[1]});
    m_has_array_column = m_has_array_column || util::ends_with(*row[1], "]");
    if (const int position = std::stoi(row[2].value_or("0")); position > 0) {
      pk_positions.emplace_back(position, m_columns.size() - 1);
    }
  }
  std::sort(pk_positions.begin(), pk_positions.end());
  for (const auto& [position, column] : pk_positions) {
    m_pk.push_back(column);
  }
  if (m_pk.empty()) {
    throw ConfigError(
        "table " + util::in_quotes(name) + " has no primary key", connection.target(),
        "rebalance copies rows by primary key: add one (a migration) and run grant migrate on every shard");
  }
  for (const auto& column : key_columns) {
    const auto it = std::find_if(m_columns.begin(), m_columns.end(), [&](const auto& c) { return c.name == column; });
    if (it == m_columns.end()) {
      throw ConfigError("table " + util::in_quotes(name) + " has no shard-key column " + util::in_quotes(column),
                        connection.target(), "every table of sharding.tables holds the shard key");
    }
    m_key.push_back(static_cast<std::size_t>(it - m_columns.begin()));
  }
}

std::size_t TableSql::max_rows_per_statement(std::size_t wanted) const {
  return std::max<std::size_t>(1, std::min(wanted, 65535 / m_columns.size()));
}

std::string TableSql::pk_list() const {
  std::string out;
  for (const auto index : m_pk) {
    out += (out.empty() ? "" : ", ") + m_columns[index].quoted;
  }
  return out;
}

std::string TableSql::pk_tuple(std::size_t first_param) const {
  std::string out = "(";
  for (std::size_t i = 0; i < m_pk.size(); ++i) {
    out += (i > 0 ? ", $" : "$") + std::to_string(first_param + i) + "::" + m_columns[m_pk[i]].type;
  }
  return out + ")";
}

namespace {

std::string all_columns(const std::vector<ColumnSql>& columns) {
  std::string out;
  for (const auto& column : columns) {
    out += (out.empty() ? "" : ", ") + column.quoted;
  }
  return out;
}

} // namespace

std::string TableSql::select_block_keys() const {
  std::string columns = "ctid::text";
  for (const auto index : m_key) {
    columns += ", " + m_columns[index].quoted;
  }
  return "SELECT " + columns + " FROM " + m_qualified + " WHERE ctid >= $1::tid AND ctid < $2::tid";
}

std::string TableSql::select_by_tids() const {
  // The range keeps the planner on the page's blocks: with many ids it would rather scan the table.
  return "SELECT " + all_columns(m_columns) + " FROM " + m_qualified +
         " WHERE ctid >= $2::tid AND ctid < $3::tid AND ctid = ANY($1::tid[])";
}

std::string TableSql::select_keys_page(bool after, std::size_t limit) const {
  std::string columns = pk_list();
  for (const auto index : m_key) {
    columns += ", " + m_columns[index].quoted;
  }
  return "SELECT " + columns + " FROM " + m_qualified + (after ? " WHERE (" + pk_list() + ") > " + pk_tuple(1) : "") +
         " ORDER BY " + pk_list() + " LIMIT " + std::to_string(limit);
}

std::string TableSql::select_by_pk(std::size_t count) const {
  std::string tuples;
  for (std::size_t i = 0; i < count; ++i) {
    tuples += (i > 0 ? ", " : "") + pk_tuple(1 + i * m_pk.size());
  }
  return "SELECT " + all_columns(m_columns) + " FROM " + m_qualified + " WHERE (" + pk_list() + ") IN (" + tuples + ")";
}

std::string TableSql::upsert(std::size_t count, bool replace) const {
  std::string sql = "INSERT INTO " + m_qualified + " (" + all_columns(m_columns) + ") OVERRIDING SYSTEM VALUE VALUES ";
  std::size_t param = 1;
  for (std::size_t row = 0; row < count; ++row) {
    sql += row > 0 ? ", (" : "(";
    for (std::size_t c = 0; c < m_columns.size(); ++c) {
      sql += (c > 0 ? ", $" : "$") + std::to_string(param++) + "::" + m_columns[c].type;
    }
    sql += ")";
  }
  return sql + on_conflict(replace);
}

std::string TableSql::on_conflict(bool replace) const {
  std::string sets;
  for (std::size_t c = 0; c < m_columns.size(); ++c) {
    if (std::find(m_pk.begin(), m_pk.end(), c) == m_pk.end()) {
      sets += (sets.empty() ? "" : ", ") + m_columns[c].quoted + " = EXCLUDED." + m_columns[c].quoted;
    }
  }
  return " ON CONFLICT (" + pk_list() + ") DO " + (replace && !sets.empty() ? "UPDATE SET " + sets : "NOTHING");
}

std::string TableSql::insert_arrays() const {
  std::string arrays;
  for (std::size_t c = 0; c < m_columns.size(); ++c) {
    arrays += (c > 0 ? ", $" : "$") + std::to_string(c + 1) + "::" + m_columns[c].type + "[]";
  }
  return "INSERT INTO " + m_qualified + " (" + all_columns(m_columns) +
         ") OVERRIDING SYSTEM VALUE SELECT * FROM unnest(" + arrays + ")";
}

std::string TableSql::upsert_arrays(bool replace) const {
  return insert_arrays() + on_conflict(replace);
}

std::string TableSql::delete_by_pk(std::size_t count) const {
  std::string tuples;
  for (std::size_t i = 0; i < count; ++i) {
    tuples += (i > 0 ? ", " : "") + pk_tuple(1 + i * m_pk.size());
  }
  return "DELETE FROM " + m_qualified + " WHERE (" + pk_list() + ") IN (" + tuples + ")";
}

std::string TableSql::delete_fenced_by_pk(std::size_t count, const std::string& condition) const {
  return delete_by_pk(count) + " AND " + condition;
}

std::string TableSql::fenced(const std::string& place, const std::string& shard) const {
  return "COALESCE(" + place + "(" + text_array("", m_key) + ") <> " + db::quote_literal(shard) + ", false)";
}

std::string TableSql::text_array(const char* row, const std::vector<std::size_t>& columns) const {
  std::string out = "ARRAY[";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    out += (i > 0 ? ", " : "") + std::string(row) + m_columns[columns[i]].quoted + "::text";
  }
  return out + "]";
}

std::string TableSql::capture_function(const std::string& schema) const {
  const auto changes = grant_table(schema, "changes");
  const auto name = db::quote_literal(m_name);
  std::string old_row = "ROW(";
  std::string new_row = "ROW(";
  std::vector<std::size_t> both = m_pk;
  both.insert(both.end(), m_key.begin(), m_key.end());
  for (std::size_t i = 0; i < both.size(); ++i) {
    old_row += (i > 0 ? ", OLD." : "OLD.") + m_columns[both[i]].quoted;
    new_row += (i > 0 ? ", NEW." : "NEW.") + m_columns[both[i]].quoted;
  }
  old_row += ")";
  new_row += ")";
  // grant's own sessions (copy, apply, cleanup) set grant.rebalance = 'apply': what they write
  // is never captured, only what applications write.
  return "CREATE OR REPLACE FUNCTION " + schema + ".\"" + k_prefix + "_capture_" + m_slug +
         "\"() RETURNS trigger LANGUAGE plpgsql AS $grant$\nBEGIN\n"
         "  IF current_setting('grant.rebalance', true) = 'apply' THEN RETURN NULL; END IF;\n"
         "  IF TG_OP <> 'INSERT' THEN\n    INSERT INTO " +
         changes + " (table_name, pk, key) VALUES (" + name + ", " + text_array("OLD.", m_pk) + ", " +
         text_array("OLD.", m_key) +
         ");\n  END IF;\n"
         "  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND " +
         old_row + " IS DISTINCT FROM " + new_row + ") THEN\n    INSERT INTO " + changes +
         " (table_name, pk, key) VALUES (" + name + ", " + text_array("NEW.", m_pk) + ", " + text_array("NEW.", m_key) +
         ");\n  END IF;\n  RETURN NULL;\nEND\n$grant$";
}

std::string TableSql::fence_function(const std::string& schema, const std::string& place, const std::string& place_int,
                                     const std::string& shard) const {
  std::string key_names;
  for (const auto index : m_key) {
    key_names += (key_names.empty() ? "" : ", ") + m_columns[index].name;
  }
  const auto label = db::quote_literal("(" + key_names + ")=(");
  const auto table = db::quote_literal(m_name);
  const auto self = db::quote_literal(shard);
  // An integer column's text is always a canonical integer: its placement skips the text.
  const auto& first = m_columns[m_key.front()];
  const bool integer =
      m_key.size() == 1 && (first.type == "bigint" || first.type == "integer" || first.type == "smallint");
  const auto placed = [&](const char* row) {
    return integer ? place_int + "(" + row + first.quoted + ")" : place + "(" + text_array(row, m_key) + ")";
  };
  std::string key_changed;
  for (const auto index : m_key) {
    key_changed += (key_changed.empty() ? "" : " OR ") + std::string("NEW.") + m_columns[index].quoted +
                   " IS DISTINCT FROM OLD." + m_columns[index].quoted;
  }
  // The target's placement of the old key (UPDATE, DELETE) and of the new one (INSERT, and an
  // UPDATE that changes the key): a key placed elsewhere is refused, whether it existed or not.
  return "CREATE OR REPLACE FUNCTION " + schema + ".\"" + k_prefix + "_fence_" + m_slug +
         "\"() RETURNS trigger LANGUAGE plpgsql AS $grant$\nDECLARE\n  moved_to text;\n  moved_key text[];\nBEGIN\n"
         "  IF current_setting('grant.rebalance', true) = 'apply' THEN\n"
         "    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;\n    RETURN NEW;\n  END IF;\n"
         "  IF TG_OP <> 'INSERT' THEN\n    moved_to := " +
         placed("OLD.") + ";\n    IF moved_to <> " + self + " THEN\n      moved_key := " + text_array("OLD.", m_key) +
         ";\n    ELSE\n      moved_to := NULL;\n    END IF;\n  END IF;\n"
         "  IF moved_to IS NULL AND (TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (" +
         key_changed + "))) THEN\n    moved_to := " + placed("NEW.") + ";\n    IF moved_to <> " + self +
         " THEN\n      moved_key := " + text_array("NEW.", m_key) +
         ";\n    ELSE\n      moved_to := NULL;\n    END IF;\n  END IF;\n"
         "  IF moved_to IS NOT NULL THEN\n"
         "    RAISE EXCEPTION 'grant rebalance: key % of table % moved to shard %: reload the grant config', " +
         label + " || array_to_string(moved_key, ', ') || ')', " + table +
         ", moved_to\n"
         "      USING ERRCODE = 'GR001', HINT = 'this shard no longer owns the key: route the write with the target "
         "config';\n  END IF;\n"
         "  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;\n  RETURN NEW;\nEND\n$grant$";
}

std::string TableSql::create_capture_trigger(const std::string& schema) const {
  return "CREATE TRIGGER \"" + std::string(k_prefix) + "_capture\" AFTER INSERT OR UPDATE OR DELETE ON " + m_qualified +
         " FOR EACH ROW EXECUTE FUNCTION " + schema + ".\"" + k_prefix + "_capture_" + m_slug + "\"()";
}

std::string TableSql::create_fence_trigger(const std::string& schema) const {
  return "CREATE TRIGGER \"" + std::string(k_prefix) + "_fence\" BEFORE INSERT OR UPDATE OR DELETE ON " + m_qualified +
         " FOR EACH ROW EXECUTE FUNCTION " + schema + ".\"" + k_prefix + "_fence_" + m_slug + "\"()";
}

std::string TableSql::drop_objects(const std::string& schema) const {
  return "DROP TRIGGER IF EXISTS \"" + std::string(k_prefix) + "_capture\" ON " + m_qualified +
         ";\nDROP TRIGGER IF EXISTS \"" + k_prefix + "_fence\" ON " + m_qualified + ";\nDROP FUNCTION IF EXISTS " +
         schema + ".\"" + k_prefix + "_capture_" + m_slug + "\"();\nDROP FUNCTION IF EXISTS " + schema + ".\"" +
         k_prefix + "_fence_" + m_slug + "\"();\n";
}

} // namespace grant::rebalance
