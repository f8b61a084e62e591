#include <grant/twophase/decision_log.hpp>

namespace grant::twophase {

namespace {

Decision parse(const db::Value& value) {
  if (!value) {
    return Decision::none;
  }
  return *value == "commit" ? Decision::commit : Decision::abort;
}

} // namespace

std::string to_string(Decision decision) {
  switch (decision) {
  case Decision::commit:
    return "commit";
  case Decision::abort:
    return "abort";
  case Decision::none:
    break;
  }
  return "none";
}

DecisionLog::DecisionLog(db::Connection& connection) : m_connection(&connection) {
  const auto schema = connection.query("SELECT current_schema()").scalar();
  if (!schema) {
    throw db::DbError("no schema to keep " + std::string(k_table) + " in on " + connection.target() +
                          ": the session's search_path names no existing schema",
                      {connection.target(), "SELECT current_schema()", {}, 0, false, 0},
                      "set a search_path for grant's role (ALTER ROLE ... SET search_path = public)");
  }
  m_table = connection.quote_identifier(*schema) + "." + connection.quote_identifier(k_table);
}

void DecisionLog::ensure() {
  m_connection->execute(
      "CREATE TABLE IF NOT EXISTS " + m_table +
      " (gid text PRIMARY KEY, decision text NOT NULL, decided_at timestamptz NOT NULL DEFAULT now())");
}

bool DecisionLog::exists() {
  return m_connection->query("SELECT to_regclass($1) IS NOT NULL", {m_table}).scalar() == db::Value{"t"};
}

namespace {

/// "$first, $first+1, ..." for `count` parameters.
std::string placeholders(std::size_t first, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    out += (i == 0 ? "$" : ", $") + std::to_string(first + i);
  }
  return out;
}

} // namespace

void DecisionLog::record_commit(const std::string& key, const std::vector<std::string>& finished) {
  db::Params params{key};
  std::string sql;
  if (!finished.empty()) {
    // One statement, so one transaction: the insert and the deletes stand or fall together.
    sql = "WITH finished AS (DELETE FROM " + m_table + " WHERE gid IN (" + placeholders(2, finished.size()) + ")) ";
    params.insert(params.end(), finished.begin(), finished.end());
  }
  m_connection->query(sql + "INSERT INTO " + m_table + " (gid, decision) VALUES ($1, 'commit')", params);
}

Decision DecisionLog::read(const std::string& key) {
  if (!exists()) {
    return Decision::none;
  }
  const auto rows = m_connection->query("SELECT decision FROM " + m_table + " WHERE gid = $1", {key});
  return rows.empty() ? Decision::none : parse(rows.at(0, 0));
}

Decision DecisionLog::settle(const std::string& key, Decision wanted) {
  ensure();
  // The primary key serialises this against a commit decision still in flight: whichever insert
  // commits first stands, and the other does nothing.
  m_connection->query("INSERT INTO " + m_table + " (gid, decision) VALUES ($1, $2) ON CONFLICT (gid) DO NOTHING",
                      {key, to_string(wanted)});
  const auto rows = m_connection->query("SELECT decision FROM " + m_table + " WHERE gid = $1", {key});
  return rows.empty() ? Decision::none : parse(rows.at(0, 0));
}

void DecisionLog::forget(const std::string& key) {
  m_connection->query("DELETE FROM " + m_table + " WHERE gid = $1", {key});
}

void DecisionLog::forget(const std::vector<std::string>& keys) {
  if (keys.empty()) {
    return;
  }
  m_connection->query("DELETE FROM " + m_table + " WHERE gid IN (" + placeholders(1, keys.size()) + ")",
                      db::Params(keys.begin(), keys.end()));
}

} // namespace grant::twophase
