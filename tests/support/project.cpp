#include "support/project.hpp"

#include <grant/db/connection.hpp>
#include <grant/util/mysql_url.hpp>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace grant::test {

namespace {

std::unique_ptr<db::Connection> connect_to(const std::string& url, const std::filesystem::path& dir) {
  return db::connect(util::parse_database_url(url, dir), {"test", 5000, "grant-test"});
}

std::string url_for(Engine engine, const std::string& prefix) {
  switch (engine) {
  case Engine::postgres:
    return fresh_database(writer_url(), prefix);
  case Engine::mysql:
    return fresh_database(server_env("GRANT_TEST_MY_PRIMARY_URL"), prefix);
  case Engine::sqlite:
    break;
  }
  return "sqlite3:db/app.sqlite3";
}

} // namespace

Project::Project(Engine engine, const std::string& prefix) : m_engine(engine), m_url(url_for(engine, prefix)) {
  m_config["databases"]["app"] = {{"url", m_url}, {"migrations", "db/migrate/app"}};
  std::filesystem::create_directories(dir / "db/migrate/app");
  save();
}

void Project::save() const {
  dir.write("grant.json", m_config.dump(2));
}

void Project::file(const std::string& name, const std::string& text) const {
  dir.write("db/migrate/app/" + name, text);
}

void Project::remove_file(const std::string& name) const {
  std::filesystem::remove(dir / ("db/migrate/app/" + name));
}

RunResult Project::grant(const std::vector<std::string>& args) const {
  return run_grant(args, dir.path());
}

Table Project::query_at(const std::string& url, const std::string& sql) const {
  Table out;
  for (const auto& row : connect_to(url, dir.path())->query(sql, {}).rows) {
    std::vector<std::string> values;
    for (const auto& value : row) {
      values.push_back(value.value_or("NULL"));
    }
    out.push_back(std::move(values));
  }
  return out;
}

std::string Project::scalar(const std::string& sql) const {
  return connect_to(m_url, dir.path())->query(sql, {}).scalar().value_or("NULL");
}

void Project::execute(const std::string& sql) const {
  connect_to(m_url, dir.path())->execute(sql);
}

bool Project::has_table(const std::string& name) const {
  switch (m_engine) {
  case Engine::postgres:
    return scalar("SELECT to_regclass('" + name + "') IS NOT NULL") == "t";
  case Engine::mysql:
    return scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '" +
                  name + "'") == "1";
  case Engine::sqlite:
    break;
  }
  return std::filesystem::exists(dir / "db/app.sqlite3") &&
         scalar("SELECT count(*) > 0 FROM sqlite_master WHERE name = '" + name + "'") == "1";
}

std::vector<std::string> Project::columns(const std::string& table) const {
  std::vector<std::string> out;
  const auto rows =
      query(sqlite() ? "SELECT name FROM pragma_table_info('" + table + "')"
                     : "SELECT column_name FROM information_schema.columns WHERE table_name = '" + table + "'" +
                           (mysql() ? " AND table_schema = DATABASE()" : "") + " ORDER BY ordinal_position");
  for (const auto& row : rows) {
    out.push_back(row[0]);
  }
  return out;
}

std::vector<std::string> Project::applied() const {
  std::vector<std::string> out;
  if (!has_table("schema_migrations")) {
    return out;
  }
  // A dirty version (MySQL: its run did not finish) is not applied.
  const auto all = columns("schema_migrations");
  const bool dirty = std::find(all.begin(), all.end(), "dirty") != all.end();
  for (const auto& row : query(std::string("SELECT version FROM schema_migrations") +
                               (dirty ? " WHERE NOT dirty" : "") + " ORDER BY length(version), version")) {
    out.push_back(row[0]);
  }
  return out;
}

int Project::run_script(const std::string& script) const {
  const auto path = dir.write("script.sql", script);
  std::string command;
  switch (m_engine) {
  case Engine::postgres:
    command = "psql -X -q -v ON_ERROR_STOP=1 '" + m_url + "' -f '" + path.string() + "' >/dev/null";
    break;
  case Engine::mysql: {
    // The password goes through the environment, never a command line another process can read.
    const auto url = util::parse_mysql_url(m_url);
    command = "MYSQL_PWD='" + url.password + "' mariadb --batch --host=" + url.host +
              " --port=" + std::to_string(url.port) + " --user='" + url.user + "' '" + url.database + "' < '" +
              path.string() + "' >/dev/null";
    break;
  }
  case Engine::sqlite:
    command = "cd '" + dir.path().string() + "' && sqlite3 -bail db/app.sqlite3 < '" + path.string() + "'";
    break;
  }
  return std::system(command.c_str());
}

} // namespace grant::test
