// MySQL / MariaDB end to end, on the real MariaDB servers tests/servers.sh starts (a primary, a
// replica following it by GTID, two shards): migrate, status, validate, rollback, redo; a migration
// that fails half way (MySQL commits DDL as it runs) is recorded as dirty and refused until `grant
// repair` or an edited file (the engine-neutral suites, concurrency and the lock among them, run on
// MariaDB too: tests/integration/migrate_*_test.cpp); a SIGKILLed run leaves
// no lock behind; SIGINT and SIGTERM kill the running statement on the server (a writer it
// blocked goes on) and say what stays; bad input (a bad port, an unknown charset, a database that does not exist,
// PostgreSQL-only syntax); health reads the replica's lag, and unknown once its SQL thread stops.
#include "support/support.hpp"

#include <grant/db/connection.hpp>
#include <grant/util/url.hpp>

#include <doctest/doctest.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include <csignal>
#include <unistd.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_mysql_cli_test {

using grant::test::contains;
using grant::test::RunResult;
using Json = nlohmann::json;

namespace {

std::unique_ptr<grant::db::Connection> open(const std::string& url) {
  return grant::db::connect(grant::util::parse_database_url(url, "/"), {});
}

std::string password_of(const std::string& url) {
  const auto scheme = url.find("://") + 3;
  const auto colon = url.find(':', scheme);
  return url.substr(colon + 1, url.rfind('@') - colon - 1);
}

// A project folder with one database "app" on a fresh MySQL database.
class MysqlProject {
public:
  explicit MysqlProject(const std::string& prefix, const std::string& server = "GRANT_TEST_MY_PRIMARY_URL")
      : m_url(grant::test::fresh_database(grant::test::server_env(server), prefix)) {
    write_config(Json{{"databases", {{"app", {{"url", m_url}}}}}});
  }

  grant::test::TempDir dir;

  const std::string& url() const { return m_url; }
  void write_config(const Json& config) const { dir.write("grant.json", config.dump(2)); }
  void file(const std::string& name, const std::string& text) const { dir.write("db/migrate/app/" + name, text); }
  RunResult grant(const std::vector<std::string>& args) const {
    auto run = grant::test::run_grant(args, dir.path());
    CHECK_FALSE(contains(run.out, password_of(m_url)));
    CHECK_FALSE(contains(run.err, password_of(m_url)));
    return run;
  }
  grant::db::Rows query(const std::string& sql) const { return open(m_url)->query(sql); }
  bool has_table(const std::string& name) const {
    return !query("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '" + name +
                  "'")
                .empty();
  }
  std::vector<std::string> rows(const std::string& sql) const {
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

private:
  std::string m_url;
};

const std::string k_users = "-- grant:up\nCREATE TABLE users (id bigint PRIMARY KEY, email varchar(200) NOT NULL);\n"
                            "-- grant:down\nDROP TABLE users;\n";
const std::string k_name = "-- grant:up\nALTER TABLE users ADD COLUMN name text;\n"
                           "INSERT INTO users (id, email) VALUES (1, 'a@example.com');\n"
                           "-- grant:down\nDELETE FROM users WHERE id = 1;\nALTER TABLE users DROP COLUMN name;\n";

// The status GET `path` answers on a `grant serve` at `port` once it settles on `status` (up to 10 s).
bool serve_answers(int port, const std::string& path, int status) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  for (int i = 0; i < 200; ++i) {
    if (const auto result = client.Get(path.c_str()); result && result->status == status) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The replica's SQL thread stopped for the scope: it receives the primary's binlog but applies
// nothing, and its lag becomes unknown. (Every test using the fleet's replica is in this file, so
// they run one after the other.)
class SqlThreadStopped {
public:
  explicit SqlThreadStopped(const std::string& replica_url) : m_admin(open(replica_url)) {
    m_admin->execute("STOP SLAVE SQL_THREAD");
  }
  ~SqlThreadStopped() {
    try {
      m_admin->execute("START SLAVE SQL_THREAD");
    } catch (...) {
    }
  }
  SqlThreadStopped(const SqlThreadStopped&) = delete;
  SqlThreadStopped& operator=(const SqlThreadStopped&) = delete;

private:
  std::unique_ptr<grant::db::Connection> m_admin;
};

} // namespace

TEST_CASE("mysql: migrate, status, validate, rollback and redo") {
  MysqlProject project("my_apply");
  project.file("20240101000000_users.sql", k_users);
  project.file("20240102000000_name.sql", k_name);

  auto run = project.grant({"migrate"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  CHECK(contains(run.out, "2 applied, at 20240102000000"));
  CHECK(project.rows("SELECT version, dirty FROM schema_migrations ORDER BY version") ==
        std::vector<std::string>{"20240101000000|0", "20240102000000|0"});
  CHECK(project.rows("SELECT email FROM users") == std::vector<std::string>{"a@example.com"});

  run = project.grant({"status", "--json"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  CHECK(Json::parse(run.out).at("pending") == 0);
  run = project.grant({"validate"});
  CHECK_MESSAGE(run.exit_code == 0, run.err);

  run = project.grant({"rollback"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  CHECK(project.rows("SELECT version FROM schema_migrations") == std::vector<std::string>{"20240101000000"});
  CHECK(project.rows("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND "
                     "table_name = 'users' AND column_name = 'name'") == std::vector<std::string>{"0"});

  run = project.grant({"migrate"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  run = project.grant({"redo"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  CHECK(project.rows("SELECT COUNT(*) FROM users") == std::vector<std::string>{"1"});

  // --dry-run says the version is recorded as dirty first, and changes nothing.
  project.file("20240103000000_more.sql", "-- grant:up\nCREATE TABLE more (id int);\n");
  run = project.grant({"migrate", "--dry-run"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  CHECK(contains(run.out, "recorded as dirty first"));
  CHECK_FALSE(project.has_table("more"));
}

TEST_CASE("mysql: a migration that fails half way is dirty until repair or an edited file") {
  MysqlProject project("my_dirty");
  project.file("20240101000000_users.sql", k_users);
  const std::string half = "-- grant:up\nCREATE TABLE a1 (id int);\nCREATE TABLE a2 (id int);\n"
                           "CREATE TABLE a1 (id int);\nCREATE TABLE a3 (id int);\n"
                           "-- grant:down\nDROP TABLE a3;\nDROP TABLE a2;\nDROP TABLE a1;\n";
  project.file("20240102000000_half.sql", half);

  auto run = project.grant({"migrate"});
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "Table 'a1' already exists"));
  CHECK(contains(run.err, "applied: statements 1-2 of 4 stay applied (MySQL commits DDL as it runs)"));
  CHECK(contains(run.err, "the version is recorded as dirty"));
  CHECK(contains(run.err, "20240102000000_half.sql:4"));
  CHECK_FALSE(contains(run.err, "nothing was applied"));
  CHECK(project.has_table("a1"));
  CHECK(project.has_table("a2"));
  CHECK_FALSE(project.has_table("a3"));
  CHECK(project.rows("SELECT version, dirty FROM schema_migrations ORDER BY version") ==
        std::vector<std::string>{"20240101000000|0", "20240102000000|1"});

  // Refused, unchanged, until someone looks: migrate and status exit 2 naming the version.
  run = project.grant({"migrate"});
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "version 20240102000000 (half) is dirty"));
  CHECK(contains(run.err, "grant repair"));
  run = project.grant({"status"});
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "is dirty"));

  // repair forgets the failed run (a dry run first changes nothing).
  run = project.grant({"repair", "--dry-run"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  CHECK(contains(run.out, "failed run forgotten"));
  CHECK(project.rows("SELECT COUNT(*) FROM schema_migrations WHERE dirty") == std::vector<std::string>{"1"});
  run = project.grant({"repair", "--json"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  CHECK(contains(run.out, "failed_run_forgotten"));
  CHECK(project.rows("SELECT COUNT(*) FROM schema_migrations") == std::vector<std::string>{"1"});

  // Run again unchanged: the first statement fails now, so nothing was applied and nothing is dirty.
  run = project.grant({"migrate"});
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "applied: nothing (the first statement failed)"));
  CHECK(project.rows("SELECT COUNT(*) FROM schema_migrations") == std::vector<std::string>{"1"});

  // Half way again, then an edited file (idempotent now) runs again from the start.
  project.query("DROP TABLE a1");
  run = project.grant({"migrate"});
  CHECK(run.exit_code == 3);
  CHECK(project.rows("SELECT COUNT(*) FROM schema_migrations WHERE dirty") == std::vector<std::string>{"1"});
  project.file("20240102000000_half.sql", "-- grant:up\nCREATE TABLE IF NOT EXISTS a1 (id int);\n"
                                          "CREATE TABLE IF NOT EXISTS a2 (id int);\nCREATE TABLE a3 (id int);\n"
                                          "-- grant:down\nDROP TABLE a3;\nDROP TABLE a2;\nDROP TABLE a1;\n");
  run = project.grant({"migrate"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  const auto said = run.err + run.out;
  CHECK(contains(said, "running it again from the start"));
  CHECK(project.has_table("a3"));
  CHECK(project.rows("SELECT version, dirty FROM schema_migrations ORDER BY version") ==
        std::vector<std::string>{"20240101000000|0", "20240102000000|0"});
  run = project.grant({"validate"});
  CHECK_MESSAGE(run.exit_code == 0, run.err);
}

TEST_CASE("mysql: PostgreSQL-only syntax fails with the server's error, file and line") {
  MysqlProject project("my_pgsyntax");
  project.file("20240101000000_users.sql", k_users);
  project.file("20240102000000_pg.sql", "-- grant:up\nCREATE TABLE t (id int);\n"
                                        "CREATE INDEX CONCURRENTLY t_id ON t (id);\n");
  const auto run = project.grant({"migrate"});
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "ERROR 1064 (42000)"));
  CHECK(contains(run.err, "20240102000000_pg.sql:3"));
  CHECK(contains(run.err, "statements 1-1 of 2 stay applied"));
  CHECK(project.rows("SELECT version, dirty FROM schema_migrations ORDER BY version") ==
        std::vector<std::string>{"20240101000000|0", "20240102000000|1"});
}

TEST_CASE("mysql: a SIGKILLed migrate leaves its lock behind with its session, and a dirty version") {
  MysqlProject project("my_kill");
  project.file("20240101000000_slow.sql", "-- grant:up\nCREATE TABLE before_sleep (id int);\n"
                                          "SELECT SLEEP(4);\nCREATE TABLE after_sleep (id int);\n");
  grant::test::BackgroundGrant slow({"migrate"}, project.dir.path(), project.dir / "slow.log");
  // Wait until it sleeps on the server (the first statement ran).
  bool sleeping = false;
  for (int i = 0; i < 200 && !sleeping; ++i) {
    sleeping =
        !project.query("SELECT 1 FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(4)%'").empty();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(sleeping);
  CHECK(slow.stop(SIGKILL) == 128 + SIGKILL);
  // The server ends the killed client's session when it notices the closed socket; its lock goes with it.
  const auto started = std::chrono::steady_clock::now();
  auto run = project.grant({"migrate"});
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "version 20240101000000 (slow) is dirty"));
  CHECK(waited < std::chrono::seconds(30)); // the session ends with its statement: the lock goes with it
  CHECK(project.has_table("before_sleep"));
  CHECK_FALSE(project.has_table("after_sleep"));
}

TEST_CASE("mysql: SIGINT kills the running statement on the server, frees the writer it blocked, exit 130") {
  MysqlProject project("my_sigint");
  project.query("CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL) ENGINE=InnoDB");
  project.query("INSERT INTO counters VALUES (1, 0)");
  // Its first statement holds counters' row 1 for a minute: an UPDATE keeps its row lock to its end.
  project.file("20240101000000_hold.sql", "-- grant:up\nUPDATE counters SET n = n + SLEEP(60) WHERE id = 1;\n"
                                          "CREATE TABLE after_hold (id int);\n");
  // The application: one UPDATE of that row after another, each timed.
  std::atomic<bool> stop{false};
  std::atomic<long long> longest_ms{0};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    auto connection = open(project.url());
    while (!stop) {
      const auto started = std::chrono::steady_clock::now();
      connection->execute("UPDATE counters SET n = n + 1 WHERE id = 1");
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
      longest_ms = std::max<long long>(longest_ms, ms);
      ++writes;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const auto holding = [&] {
    return !project
                .query("SELECT 1 FROM information_schema.processlist WHERE info LIKE 'UPDATE counters SET n = n + "
                       "SLEEP(60)%'")
                .empty();
  };
  grant::test::BackgroundGrant run({"migrate"}, project.dir.path(), project.dir / "run.out");
  bool held = false;
  for (int i = 0; i < 300 && !held; ++i) {
    held = holding();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(held);
  const auto writes_while_held = writes.load();
  std::this_thread::sleep_for(std::chrono::seconds(1)); // the writer is blocked behind it now
  CHECK(writes.load() <= writes_while_held + 1);        // (one may have been on its way)
  const auto signalled = std::chrono::steady_clock::now();
  const auto code = run.stop(SIGINT, std::chrono::seconds(10));
  const auto writes_at_signal = writes.load();
  const auto text = grant::test::read_file(project.dir / "run.out");
  REQUIRE_MESSAGE(code.has_value(), "grant still runs 10 s after SIGINT:\n" << text);
  CHECK(std::chrono::steady_clock::now() - signalled < std::chrono::seconds(5));
  CHECK_MESSAGE(*code == 130, text);
  CHECK_MESSAGE(contains(text, "app: migration 20240101000000_hold interrupted by SIGINT: its first statement was "
                               "cancelled, so nothing of it was applied"),
                text);
  CHECK_MESSAGE(contains(text, "grant: interrupted by SIGINT"), text);
  CHECK_FALSE(contains(text, "dirty"));
  // The statement is gone from the server and the writer goes on.
  CHECK_FALSE(holding());
  bool wrote = false;
  for (int i = 0; i < 100 && !wrote; ++i) {
    wrote = writes > writes_at_signal + 2;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  writer.join();
  CHECK(wrote);
  MESSAGE("MySQL, SIGINT 1 s into a statement holding the writer's row: the writer's longest blocked write ",
          longest_ms.load(), " ms, ", writes.load(), " writes");
  CHECK(longest_ms >= 1000); // it was blocked for the second before the signal
  CHECK(longest_ms < 10000);
  CHECK(project.rows("SELECT COUNT(*) FROM schema_migrations") == std::vector<std::string>{"0"});

  // The lock went with the signal: the next run takes it at once and applies the fixed file.
  project.file("20240101000000_hold.sql", "-- grant:up\nUPDATE counters SET n = n + 1 WHERE id = 1;\n"
                                          "CREATE TABLE after_hold (id int);\n");
  const auto again = project.grant({"migrate", "--lock-timeout", "2"});
  CHECK_MESSAGE(again.exit_code == 0, again.err);
  CHECK(project.has_table("after_hold"));
}

TEST_CASE("mysql: SIGTERM half way through a migration says which statements stay and leaves it dirty") {
  MysqlProject project("my_sigterm");
  project.file("20240101000000_half.sql", "-- grant:up\nCREATE TABLE before_sleep (id int);\nSELECT SLEEP(60);\n"
                                          "CREATE TABLE after_sleep (id int);\n");
  grant::test::BackgroundGrant run({"migrate"}, project.dir.path(), project.dir / "run.out");
  bool sleeping = false;
  for (int i = 0; i < 300 && !sleeping; ++i) {
    sleeping =
        !project.query("SELECT 1 FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(60)%'").empty();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(sleeping);
  const auto code = run.stop(SIGTERM, std::chrono::seconds(10));
  const auto text = grant::test::read_file(project.dir / "run.out");
  REQUIRE_MESSAGE(code.has_value(), "grant still runs 10 s after SIGTERM:\n" << text);
  CHECK_MESSAGE(*code == 143, text);
  CHECK_MESSAGE(contains(text, "interrupted by SIGTERM: statements 1-1 of 3 stay applied (MySQL commits DDL as it "
                               "runs); the version is recorded as dirty"),
                text);
  CHECK_MESSAGE(contains(text, "grant repair"), text);
  CHECK_FALSE_MESSAGE(contains(text, "SIGTERM: rolled back"), text); // the PostgreSQL wording would be false here
  CHECK(project.query("SELECT 1 FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(60)%'").empty());
  CHECK(project.has_table("before_sleep"));
  CHECK_FALSE(project.has_table("after_sleep"));
  const auto refused = project.grant({"migrate", "--lock-timeout", "2"});
  CHECK(refused.exit_code == 2);
  CHECK(contains(refused.err, "is dirty"));
}

TEST_CASE("mysql: bad input") {
  grant::test::TempDir dir;
  dir.write("db/migrate/app/20240101000000_users.sql", k_users);
  const auto primary = grant::test::server_env("GRANT_TEST_MY_PRIMARY_URL");
  const auto secret = password_of(primary);
  const auto try_url = [&](const std::string& url) {
    dir.write("grant.json", Json{{"databases", {{"app", {{"url", url}}}}}}.dump());
    auto run = grant::test::run_grant({"migrate"}, dir.path());
    CHECK_FALSE(contains(run.out + run.err, secret));
    return run;
  };
  auto run = try_url("mysql://grant:" + secret + "@127.0.0.1:99999/app");
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "port '99999' is not a number from 1 to 65535"));
  CHECK(contains(run.err, "databases.app.url"));

  run = try_url(primary + "?charset=klingon");
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "charset 'klingon' is not one grant knows"));

  run = try_url(grant::test::with_dbname(primary, "no_such_database_here"));
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "Unknown database 'no_such_database_here'"));
  CHECK(contains(run.err, "CREATE DATABASE `no_such_database_here`"));

  const auto port = primary.substr(primary.rfind(':') + 1, primary.rfind('/') - primary.rfind(':') - 1);
  run = try_url("mariadb://grant:" + secret + "@127.0.0.1:" + port);
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "it names no database"));
  run = try_url(grant::test::with_dbname("mysql://grant:wrong-" + secret + primary.substr(primary.rfind('@')), "x"));
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "Access denied for user 'grant'"));
  CHECK(contains(run.err, "check the user and password"));
}

TEST_CASE("mysql: health reads the replica's lag, unknown once its SQL thread stops") {
  grant::test::TempDir dir;
  const auto primary = grant::test::server_env("GRANT_TEST_MY_PRIMARY_URL");
  const auto replica = grant::test::server_env("GRANT_TEST_MY_REPLICA_URL");
  dir.write("grant.json",
            Json{{"databases",
                  {{"app", {{"url", primary}, {"replicas", Json::array({Json{{"name", "r1"}, {"url", replica}}})}}}}}}
                .dump());
  auto run = grant::test::run_grant({"health", "--format", "json"}, dir.path());
  CAPTURE(run.out);
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  auto document = Json::parse(run.out);
  REQUIRE(document.at("endpoints").size() == 2);
  for (const auto& endpoint : document.at("endpoints")) {
    CHECK(endpoint.at("reachable") == true);
    CHECK(contains(endpoint.at("server_version").get<std::string>(), "MariaDB"));
  }
  for (const auto& endpoint : document.at("endpoints")) {
    if (endpoint.at("role") == "replica") {
      CAPTURE(endpoint.dump());
      CHECK(endpoint.at("in_recovery") == true);
      CHECK(endpoint.at("lag").at("seconds").is_number());
      CHECK(endpoint.at("lag").at("transactions").is_number()); // GTID positions compared
    }
  }

  // grant serve answers for MySQL endpoints from its monitor.
  grant::test::BackgroundGrant serve({"serve", "--listen", "127.0.0.1:0", "--interval", "200"}, dir.path(),
                                     dir / "serve.out");
  int port = 0;
  for (int i = 0; i < 200 && port == 0; ++i) {
    std::smatch match;
    const auto text = std::filesystem::exists(dir / "serve.out") ? grant::test::read_file(dir / "serve.out") : "";
    if (std::regex_search(text, match, std::regex(R"(http://127\.0\.0\.1:(\d+))"))) {
      port = std::stoi(match[1].str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(port != 0);
  CHECK(serve_answers(port, "/writer/app", 200));
  CHECK(serve_answers(port, "/replica/app", 200));

  const SqlThreadStopped stopped(replica);
  open(primary)->execute("CREATE TABLE IF NOT EXISTS health_lag (id int); INSERT INTO health_lag VALUES (1)");
  run = grant::test::run_grant({"health", "--format", "json"}, dir.path());
  document = Json::parse(run.out);
  bool unknown = false;
  for (const auto& endpoint : document.at("endpoints")) {
    if (endpoint.at("role") == "replica") {
      CAPTURE(endpoint.dump());
      unknown = endpoint.at("lag").at("state") == "unknown" && endpoint.at("lag").at("seconds").is_null();
      // The seconds are unknown, but GTIDs still count what it has not applied: never a 0.
      CHECK(endpoint.at("lag").at("transactions").get<long long>() >= 1);
    }
  }
  CHECK(unknown);
  run = grant::test::run_grant({"health", "--format", "prometheus"}, dir.path());
  CHECK(std::regex_search(run.out,
                          std::regex(R"(grant_health_replication_lag_transactions\{[^}]*replica="r1"[^}]*\} [1-9])")));
  CHECK(std::regex_search(run.out, std::regex(R"(grant_health_replication_lag_unknown\{[^}]*replica="r1"[^}]*\} 1)")));
  run = grant::test::run_grant({"health"}, dir.path());
  CHECK(contains(run.out, "unknown ("));
  CHECK(contains(run.out, "transaction(s))"));
  CHECK(serve_answers(port, "/replica/app", 503)); // unknown lag: not usable for reads
  CHECK(serve_answers(port, "/writer/app", 200));
}

} // namespace grant_test_mysql_cli_test

namespace grant_test_mysql_cli_test {

TEST_CASE("mysql: grant init --engine mysql writes a MySQL starter config") {
  grant::test::TempDir dir;
  auto run = grant::test::run_grant({"init", "--engine", "mysql"}, dir.path());
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  const auto config = Json::parse(grant::test::read_file(dir / "db/grant.json"));
  CHECK(config.at("databases").at("primary").at("url") == "mysql://app:${MYSQL_PASSWORD}@127.0.0.1:3306/primary");
  CHECK(contains(run.out, "MYSQL_PASSWORD"));
  // The starter parses: with the variable set, `config check` reads it.
  run = grant::test::run_grant({"config", "check"}, dir.path(), {{"MYSQL_PASSWORD", "x"}});
  CHECK_MESSAGE(run.exit_code == 0, run.err);
  run = grant::test::run_grant({"init", "--engine", "oracle", "--dir", "other"}, dir.path());
  CHECK(run.exit_code == 2);
}

TEST_CASE("mysql: --wait-replicas waits for the replica's GTID position; query --role reading reads the replica") {
  MysqlProject project("my_replicas");
  const auto dbname = project.url().substr(project.url().rfind('/') + 1);
  const auto replica = grant::test::with_dbname(grant::test::server_env("GRANT_TEST_MY_REPLICA_URL"), dbname);
  project.write_config(
      Json{{"databases",
            {{"app", {{"url", project.url()}, {"replicas", Json::array({Json{{"name", "r1"}, {"url", replica}}})}}}}}});
  project.file("20240101000000_users.sql", k_users);
  auto run = project.grant({"migrate", "--wait-replicas", "20"});
  INFO(run.out, run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(contains(run.out, "app/r1  replayed in"));
  CHECK(std::regex_search(run.out + run.err, std::regex("to replay past [0-9]+-[0-9]+-[0-9]+")));
  // Read right after grant returned: the replica already has the table.
  CHECK(open(replica)->query("SELECT COUNT(*) FROM users").scalar() == grant::db::Value{"0"});

  // query --role reading runs on the replica (read_only there), read-only all the same.
  run = project.grant({"query", "--database", "app", "--role", "reading", "--format", "csv", "-v",
                       "SELECT @@read_only AS ro, (SELECT COUNT(*) FROM users) AS n"});
  CHECK(run.exit_code == 0);
  CHECK(contains(run.out, "ro,n"));
  CHECK(contains(run.out, "1,0"));
  CHECK(contains(run.err, "app/r1"));
  run = project.grant({"query", "--database", "app", "--role", "reading", "DELETE FROM users"});
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "refused DELETE before it reached the server"));

  SUBCASE("a replica that applies nothing fails the run after the bound, naming it; the writer is migrated") {
    const SqlThreadStopped stopped(replica);
    project.file("20240102000000_teams.sql", "-- grant:up\nCREATE TABLE teams (id int);\n");
    run = project.grant({"--json", "migrate", "--wait-replicas", "1"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    const auto document = Json::parse(run.out);
    const auto& target = document["targets"][0];
    CHECK(target["current_version"] == "20240102000000");
    REQUIRE(target["replicas"].size() == 1);
    CHECK(target["replicas"][0]["replica"] == "app/r1");
    CHECK(target["replicas"][0]["caught_up"] == false);
    CHECK(contains(target["replicas"][0]["error"].get<std::string>(), "did not replay past"));

    // query --role reading: the stopped replica's lag is unknown, so the writer serves the read.
    run = project.grant(
        {"query", "--database", "app", "--role", "reading", "--format", "csv", "SELECT @@read_only AS ro"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "ro\n0"));
    CHECK(contains(run.err, "reading app from its writer"));
  }
}

} // namespace grant_test_mysql_cli_test
