#include "support/project.hpp"

#include <grant/db/connection.hpp>

#include <cstdlib>
#include <memory>

namespace grant::test {

namespace {

std::unique_ptr<db::Connection> connect_to(const std::string& url, const std::filesystem::path& dir) {
  return db::connect(util::parse_database_url(url, dir), {"test", 5000, "grant-test"});
}

} // namespace

Project::Project(bool postgres, const std::string& prefix)
    : m_postgres(postgres), m_url(postgres ? fresh_database(writer_url(), prefix) : "sqlite3:db/app.sqlite3") {
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
  if (!m_postgres && !std::filesystem::exists(dir / "db/app.sqlite3")) {
    return false;
  }
  return query(m_postgres ? "SELECT to_regclass('" + name + "') IS NOT NULL"
                          : "SELECT count(*) > 0 FROM sqlite_master WHERE name = '" + name + "'")[0][0] ==
         (m_postgres ? "t" : "1");
}

std::vector<std::string> Project::columns(const std::string& table) const {
  std::vector<std::string> out;
  const auto rows = query(m_postgres ? "SELECT column_name FROM information_schema.columns WHERE table_name = '" +
                                           table + "' ORDER BY ordinal_position"
                                     : "SELECT name FROM pragma_table_info('" + table + "')");
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
  for (const auto& row : query("SELECT version FROM schema_migrations ORDER BY length(version), version")) {
    out.push_back(row[0]);
  }
  return out;
}

int Project::run_script(const std::string& script) const {
  const auto path = dir.write("script.sql", script);
  const std::string command =
      m_postgres ? "psql -X -q -v ON_ERROR_STOP=1 '" + m_url + "' -f '" + path.string() + "' >/dev/null"
                 : "cd '" + dir.path().string() + "' && sqlite3 -bail db/app.sqlite3 < '" + path.string() + "'";
  return std::system(command.c_str());
}

} // namespace grant::test
