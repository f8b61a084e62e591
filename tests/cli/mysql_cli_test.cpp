// MySQL / MariaDB end to end, on the real MariaDB servers tests/servers.sh starts: migrate,
// status, validate, rollback, redo; a migration that fails half way (MySQL commits DDL as it runs)
// is recorded as dirty and refused until `grant repair` or an edited file; bad input (a bad port,
// an unknown charset, a database that does not exist, PostgreSQL-only syntax); init --engine mysql.
// The engine-neutral suites (the single-database round trip, adoption, concurrency, the lock) run
// on MariaDB as subcases of tests/integration/migrate_*_test.cpp; signals are in
// mysql_signal_cli_test.cpp, the replica in mysql_replica_cli_test.cpp, faults in
// mysql_faults_cli_test.cpp.
#include "support/mysql_project.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_mysql_cli_test {

using grant::test::contains;
using grant::test::MysqlProject;
using Json = nlohmann::json;

namespace {

const std::string k_name = "-- grant:up\nALTER TABLE users ADD COLUMN name text;\n"
                           "INSERT INTO users (id, email) VALUES (1, 'a@example.com');\n"
                           "-- grant:down\nDELETE FROM users WHERE id = 1;\nALTER TABLE users DROP COLUMN name;\n";

} // namespace

TEST_CASE("mysql: migrate, status, validate, rollback and redo") {
  MysqlProject project("my_apply");
  project.file("20240101000000_users.sql", grant::test::k_mysql_users);
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
  project.file("20240101000000_users.sql", grant::test::k_mysql_users);
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

TEST_CASE("mysql: a rollback that fails half way leaves the version dirty; one whose first statement fails does not") {
  MysqlProject project("my_down");
  project.file("20240101000000_users.sql", grant::test::k_mysql_users);
  project.file("20240102000000_three.sql",
               "-- grant:up\nCREATE TABLE a1 (id int);\nCREATE TABLE a2 (id int);\n"
               "CREATE TABLE a3 (id int);\n"
               "-- grant:down\nDROP TABLE a3;\nDROP TABLE no_such_table;\nDROP TABLE a1;\n");
  auto run = project.grant({"migrate"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);

  // --dry-run says the row is marked dirty first, and changes nothing.
  run = project.grant({"rollback", "--dry-run"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  CHECK_MESSAGE(contains(run.out, "MySQL commits DDL as it runs: the version is marked dirty first"), run.out);
  CHECK(project.has_table("a3"));

  // Half way: the first DROP stays, the version is dirty, and what to do is said.
  run = project.grant({"rollback"});
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "Unknown table"));
  CHECK_MESSAGE(contains(run.err, "applied: statements 1-1 of 3 stay applied (MySQL commits DDL as it runs); the "
                                  "version is recorded as dirty"),
                run.err);
  CHECK(contains(run.err, "finish the rollback by hand (the down section's statements from 2 on), then `grant "
                          "repair` forgets the version"));
  CHECK(contains(run.err, "20240102000000_three.sql:"));
  CHECK_FALSE(project.has_table("a3"));
  CHECK(project.has_table("a2"));
  CHECK(project.rows("SELECT version, dirty FROM schema_migrations ORDER BY version") ==
        std::vector<std::string>{"20240101000000|0", "20240102000000|1"});

  // Refused until someone looks, by migrate and by rollback, naming the run of the rollback.
  run = project.grant({"migrate"});
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "version 20240102000000 (three) is dirty: a run of it (or of its rollback) by "));
  run = project.grant({"rollback"});
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "is dirty"));

  // Finished by hand, then repair forgets the version: it is pending again, and applies.
  project.query("DROP TABLE a2");
  project.query("DROP TABLE a1");
  run = project.grant({"repair"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  run = project.grant({"status", "--json"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  CHECK(Json::parse(run.out).at("pending") == 1);
  run = project.grant({"migrate"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);

  // The down section's first statement fails: nothing ran, and the row is as it was, clean.
  project.query("UPDATE schema_migrations SET applied_at = '2024-01-02 03:04:05' WHERE version = '20240102000000'");
  project.query("DROP TABLE a3");
  run = project.grant({"rollback"});
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "applied: nothing (the first statement failed)"));
  CHECK(project.rows("SELECT dirty, applied_at FROM schema_migrations WHERE version = '20240102000000'") ==
        std::vector<std::string>{"0|2024-01-02 03:04:05.000000"});
}

TEST_CASE("mysql: PostgreSQL-only syntax fails with the server's error, file and line") {
  MysqlProject project("my_pgsyntax");
  project.file("20240101000000_users.sql", grant::test::k_mysql_users);
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

TEST_CASE("mysql: bad input") {
  grant::test::TempDir dir;
  dir.write("db/migrate/app/20240101000000_users.sql", grant::test::k_mysql_users);
  const auto primary = grant::test::server_env("GRANT_TEST_MY_PRIMARY_URL");
  const auto secret = grant::test::password_of(primary);
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

} // namespace grant_test_mysql_cli_test
