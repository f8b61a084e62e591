#pragma once
// The MySQL / MariaDB cli tests' helpers (tests/cli/mysql_*_cli_test.cpp): a project on a fresh
// database of the test fleet whose every run is checked for the password, a session to a server,
// and the replica's SQL thread stopped for a scope.

#include "support/support.hpp"

#include <grant/db/connection.hpp>

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace grant::test {

/// A session to the MySQL server of `url`.
std::unique_ptr<db::Connection> open_mysql(const std::string& url);

/// True while a statement starting with `prefix` runs on the server of `url` (its processlist).
bool statement_running(const std::string& url, const std::string& prefix);

/// The password part of a `mysql://user:password@...` URL.
std::string password_of(const std::string& url);

/// A project folder with one database "app" (migrations in db/migrate/app) on a fresh database of
/// the server named by `server` (a variable of tests/servers.sh's env file); every run of grant is
/// checked not to print the password.
class MysqlProject {
public:
  explicit MysqlProject(const std::string& prefix, const std::string& server = "GRANT_TEST_MY_PRIMARY_URL");

  TempDir dir;

  const std::string& url() const { return m_url; }
  void write_config(const nlohmann::json& config) const { dir.write("grant.json", config.dump(2)); }
  void file(const std::string& name, const std::string& text) const { dir.write("db/migrate/app/" + name, text); }
  RunResult grant(const std::vector<std::string>& args) const;
  db::Rows query(const std::string& sql) const { return open_mysql(m_url)->query(sql); }
  bool has_table(const std::string& name) const;
  /// Each row as "a|b|c", NULL as "NULL".
  std::vector<std::string> rows(const std::string& sql) const;

private:
  std::string m_url;
};

/// A migration creating `users` (id, email), with its down section.
extern const std::string k_mysql_users;

/// The replica's SQL thread stopped for the scope: it receives the primary's binlog but applies
/// nothing, and its lag becomes unknown. Every test using the fleet's replica is in the cli binary's
/// `mysql*` cases, which run one after the other.
class SqlThreadStopped {
public:
  explicit SqlThreadStopped(const std::string& replica_url);
  ~SqlThreadStopped();
  SqlThreadStopped(const SqlThreadStopped&) = delete;
  SqlThreadStopped& operator=(const SqlThreadStopped&) = delete;

private:
  std::unique_ptr<db::Connection> m_admin;
};

} // namespace grant::test
