#pragma once

#include "support/support.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace grant::test {

/// A result read as text, SQL NULL as "NULL".
using Table = std::vector<std::vector<std::string>>;

/// The engine a Project's database runs on: the suites that hold on every engine take it as a
/// parameter (one SUBCASE per engine) instead of being copied per engine.
enum class Engine { postgres, sqlite, mysql };

/// A project folder with one database "app" (migrations in db/migrate/app) on a fresh
/// database on the PostgreSQL writer or the MariaDB primary of the test fleet, or on the SQLite
/// file db/app.sqlite3; the binary runs inside it.
class Project {
public:
  explicit Project(Engine engine, const std::string& prefix = "project");

  TempDir dir;

  Engine engine() const { return m_engine; }
  bool postgres() const { return m_engine == Engine::postgres; }
  bool sqlite() const { return m_engine == Engine::sqlite; }
  bool mysql() const { return m_engine == Engine::mysql; }
  const std::string& url() const { return m_url; }
  nlohmann::json& config() { return m_config; }
  /// Rewrites grant.json from config().
  void save() const;

  void file(const std::string& name, const std::string& text) const;
  void remove_file(const std::string& name) const;
  RunResult grant(const std::vector<std::string>& args) const;

  Table query(const std::string& sql) const { return query_at(m_url, sql); }
  /// `query` on another database; a relative SQLite path is read from the project folder.
  Table query_at(const std::string& url, const std::string& sql) const;
  /// The one value of a one-row, one-column result; throws for any other shape.
  std::string scalar(const std::string& sql) const;
  void execute(const std::string& sql) const;
  bool has_table(const std::string& name) const;
  std::vector<std::string> columns(const std::string& table) const;
  /// Versions in grant's tracking table, in numeric order (not the dirty ones).
  std::vector<std::string> applied() const;
  /// Pipes `script` into psql / sqlite3 / mariadb (stopping at the first error); returns the exit status.
  int run_script(const std::string& script) const;

private:
  Engine m_engine;
  std::string m_url;
  nlohmann::json m_config;
};

} // namespace grant::test
