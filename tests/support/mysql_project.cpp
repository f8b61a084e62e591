#include "support/mysql_project.hpp"

#include <grant/util/url.hpp>

#include <doctest/doctest.h>

namespace grant::test {

std::unique_ptr<db::Connection> open_mysql(const std::string& url) {
  return db::connect(util::parse_database_url(url, "/"), {});
}

bool statement_running(const std::string& url, const std::string& prefix) {
  return !open_mysql(url)
              ->query("SELECT 1 FROM information_schema.processlist WHERE info LIKE '" + prefix + "%'")
              .empty();
}

std::string password_of(const std::string& url) {
  const auto scheme = url.find("://") + 3;
  const auto colon = url.find(':', scheme);
  return url.substr(colon + 1, url.rfind('@') - colon - 1);
}

MysqlProject::MysqlProject(const std::string& prefix, const std::string& server)
    : m_url(fresh_database(server_env(server), prefix)) {
  write_config(nlohmann::json{{"databases", {{"app", {{"url", m_url}}}}}});
}

RunResult MysqlProject::grant(const std::vector<std::string>& args) const {
  auto run = run_grant(args, dir.path());
  CHECK_FALSE(contains(run.out, password_of(m_url)));
  CHECK_FALSE(contains(run.err, password_of(m_url)));
  return run;
}

bool MysqlProject::has_table(const std::string& name) const {
  return !query("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '" + name +
                "'")
              .empty();
}

std::vector<std::string> MysqlProject::rows(const std::string& sql) const {
  std::vector<std::string> out;
  for (const auto& row : query(sql).rows) {
    std::string line;
    for (const auto& value : row) {
      line += (line.empty() ? "" : "|") + value.value_or("NULL");
    }
    out.push_back(line);
  }
  return out;
}

const std::string k_mysql_users =
    "-- grant:up\nCREATE TABLE users (id bigint PRIMARY KEY, email varchar(200) NOT NULL);\n"
    "-- grant:down\nDROP TABLE users;\n";

SqlThreadStopped::SqlThreadStopped(const std::string& replica_url) : m_admin(open_mysql(replica_url)) {
  m_admin->execute("STOP SLAVE SQL_THREAD");
}

SqlThreadStopped::~SqlThreadStopped() {
  try {
    m_admin->execute("START SLAVE SQL_THREAD");
  } catch (...) {
  }
}

} // namespace grant::test
