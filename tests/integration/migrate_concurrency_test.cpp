// Several `grant migrate` processes on one database, the migration lock, and --wait.
#include "support/support.hpp"

#include <grant/db/connection.hpp>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <future>
#include <thread>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_concurrency_test {

using grant::test::closed_port;
using grant::test::contains;

using grant::test::RunResult;
using grant::test::TempDir;

namespace {

void write_config(const TempDir& dir, const std::string& url) {
  nlohmann::json config;
  config["databases"]["app"] = {{"url", url}, {"migrations", "db/migrate/app"}};
  dir.write("grant.json", config.dump(2));
}

std::string query_scalar(const TempDir& dir, const std::string& url, const std::string& sql) {
  auto connection = grant::db::connect(grant::util::parse_database_url(url, dir.path()), {"test", 5000, "grant-test"});
  return connection->query(sql, {}).scalar().value_or("NULL");
}

// 30 migrations that each log their own version; run by 8 processes at once.
void exactly_once(const std::string& url) {
  TempDir dir;
  write_config(dir, url);
  dir.write("db/migrate/app/1_log.sql", "-- grant:up\nCREATE TABLE log (version text NOT NULL);\n"
                                        "INSERT INTO log (version) VALUES ('1');\n");
  for (int version = 2; version <= 30; ++version) {
    dir.write("db/migrate/app/" + std::to_string(version) + "_step.sql",
              "-- grant:up\nINSERT INTO log (version) VALUES ('" + std::to_string(version) + "');\n");
  }
  std::vector<std::future<RunResult>> runs;
  for (int i = 0; i < 8; ++i) {
    runs.push_back(std::async(std::launch::async, [&] { return grant::test::run_grant({"migrate"}, dir.path()); }));
  }
  for (auto& run : runs) {
    const auto result = run.get();
    INFO(result.out, result.err);
    CHECK(result.exit_code == 0);
  }
  CHECK(query_scalar(dir, url, "SELECT count(*) FROM log") == "30");
  CHECK(query_scalar(dir, url, "SELECT count(DISTINCT version) FROM log") == "30");
  CHECK(query_scalar(dir, url, "SELECT count(*) FROM schema_migrations") == "30");
  CHECK(query_scalar(dir, url, "SELECT count(DISTINCT version) FROM schema_migrations") == "30");
}

} // namespace

TEST_CASE("migrate::concurrent_processes") {
  SUBCASE("8 processes on one PostgreSQL database apply each migration exactly once") {
    exactly_once(grant::test::fresh_database(grant::test::writer_url(), "mig_conc"));
  }
  SUBCASE("8 processes on one SQLite file apply each migration exactly once") {
    TempDir folder;
    exactly_once("sqlite3:" + (folder / "app.sqlite3").string());
  }
  SUBCASE("8 processes on one MariaDB database apply each migration exactly once") {
    exactly_once(grant::test::fresh_database(grant::test::server_env("GRANT_TEST_MY_PRIMARY_URL"), "mig_conc"));
  }
}

TEST_CASE("migrate::lock") {
  TempDir dir;
  dir.write("db/migrate/app/1_a.sql", "-- grant:up\nCREATE TABLE a (id int);\n");

  SUBCASE("postgres: a run that cannot get the lock says who holds it and gives up after --lock-timeout") {
    const auto url = grant::test::fresh_database(grant::test::writer_url(), "mig_lock");
    write_config(dir, url);
    pqxx::connection holder(url + "?application_name=lock-holder-test");
    pqxx::nontransaction work(holder);
    const auto database = work.exec1("SELECT current_database()")[0].as<std::string>();
    // The key lock.cpp derives: XXH64 of "grant:migrate:<database>:<tracking table>".
    const std::string name = "grant:migrate:" + database + ":schema_migrations";
    const auto key = static_cast<long long>(XXH64(name.data(), name.size(), 0));
    work.exec("SELECT pg_advisory_lock(" + std::to_string(key) + ")");

    auto run = grant::test::run_grant({"migrate", "--lock-timeout", "1"}, dir.path());
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "waiting for the migration lock held by pid " + std::to_string(holder.backendpid())));
    CHECK(contains(run.err, "lock-holder-test"));
    CHECK(contains(run.err, "timed out"));
    CHECK(contains(run.err, "--lock-timeout"));
    CHECK(query_scalar(dir, url, "SELECT to_regclass('a') IS NULL") == "t");

    work.exec("SELECT pg_advisory_unlock(" + std::to_string(key) + ")");
    run = grant::test::run_grant({"migrate", "--lock-timeout", "1"}, dir.path());
    CHECK(run.exit_code == 0);
    CHECK(query_scalar(dir, url, "SELECT to_regclass('a') IS NOT NULL") == "t");
  }

  SUBCASE("mysql: a run that cannot get the lock says who holds it and gives up after --lock-timeout") {
    const auto url = grant::test::fresh_database(grant::test::server_env("GRANT_TEST_MY_PRIMARY_URL"), "mig_lock");
    write_config(dir, url);
    auto holder = grant::db::connect(grant::util::parse_database_url(url, dir.path()), {"holder", 5000, "holder"});
    const auto database = holder->query("SELECT DATABASE()", {}).scalar().value_or("");
    const auto session = holder->query("SELECT CONNECTION_ID()", {}).scalar().value_or("");
    // The name mysql_engine.cpp derives: "grant:migrate:<database>:<tracking table>".
    const std::string name = "grant:migrate:" + database + ":schema_migrations";
    REQUIRE(holder->query("SELECT GET_LOCK($1, 0)", {name}).scalar() == grant::db::Value{"1"});

    auto run = grant::test::run_grant({"migrate", "--lock-timeout", "1"}, dir.path());
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "waiting for the migration lock held by session " + session));
    CHECK(contains(run.err, "timed out"));
    const auto table_a = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND "
                         "table_name = 'a'";
    CHECK(query_scalar(dir, url, table_a) == "0");

    holder->query("SELECT RELEASE_LOCK($1)", {name});
    run = grant::test::run_grant({"migrate", "--lock-timeout", "1"}, dir.path());
    CHECK(run.exit_code == 0);
    CHECK(query_scalar(dir, url, table_a) == "1");
  }

  SUBCASE("postgres: after waiting for the lock, the session keeps the lock_timeout the URL set") {
    const auto url = grant::test::fresh_database(grant::test::writer_url(), "mig_lock");
    write_config(dir, url + "?options=-c%20lock_timeout%3D4321");
    dir.write("db/migrate/app/1_a.sql",
              "-- grant:up\nCREATE TABLE a AS SELECT current_setting('lock_timeout') AS value;\n");
    pqxx::connection holder(url);
    pqxx::nontransaction work(holder);
    const auto database = work.exec1("SELECT current_database()")[0].as<std::string>();
    const std::string name = "grant:migrate:" + database + ":schema_migrations";
    const auto key = std::to_string(static_cast<long long>(XXH64(name.data(), name.size(), 0)));
    work.exec("SELECT pg_advisory_lock(" + key + ")");
    auto waiting = std::async(std::launch::async, [&] { return grant::test::run_grant({"migrate"}, dir.path()); });
    // Release once the run is queued behind us.
    for (int i = 0; i < 100; ++i) {
      if (work.exec1("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = "
                     "(SELECT oid FROM pg_database WHERE datname = current_database())")[0]
              .as<int>() > 0) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    work.exec("SELECT pg_advisory_unlock(" + key + ")");
    const auto run = waiting.get();
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.err, "waiting for the migration lock"));
    CHECK(query_scalar(dir, url, "SELECT value FROM a") == "4321ms");
  }

  SUBCASE("sqlite: the lock file names its holder; a crashed holder's lock is gone") {
    write_config(dir, "sqlite3:db/app.sqlite3");
    std::filesystem::create_directories(dir / "db");
    const auto lock_path = (dir / "db/app.sqlite3.grant-lock").string();
    const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(flock(fd, LOCK_EX) == 0);
    const std::string me = "pid 4242 on lock-holder-test";
    REQUIRE(write(fd, me.data(), me.size()) == static_cast<ssize_t>(me.size()));

    auto run = grant::test::run_grant({"migrate", "--lock-timeout", "1"}, dir.path());
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "waiting for the migration lock held by pid 4242 on lock-holder-test"));
    CHECK(contains(run.err, "timed out"));

    close(fd); // what a crash does too
    run = grant::test::run_grant({"migrate", "--lock-timeout", "1"}, dir.path());
    CHECK(run.exit_code == 0);
    CHECK(query_scalar(dir, "sqlite3:db/app.sqlite3", "SELECT count(*) FROM schema_migrations") == "1");
  }
}

TEST_CASE("migrate::wait") {
  TempDir dir;
  dir.write("db/migrate/app/1_a.sql", "-- grant:up\nCREATE TABLE a (id int);\n");
  write_config(dir, "postgres://grant:not-a-real-secret@127.0.0.1:" + std::to_string(closed_port()) + "/nowhere");

  SUBCASE("--wait: says it is waiting, then fails with exit 3") {
    const auto run = grant::test::run_grant({"migrate", "--wait", "1"}, dir.path());
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "app: waiting"));
    CHECK(contains(run.err, "grant: error:"));
    CHECK(contains(run.err, "--wait"));
    CHECK_FALSE(contains(run.err, "not-a-real-secret"));
  }
  SUBCASE("without --wait: fails at once and suggests it") {
    const auto run = grant::test::run_grant({"migrate"}, dir.path());
    CHECK(run.exit_code == 3);
    CHECK_FALSE(contains(run.err, "waiting"));
    CHECK(contains(run.err, "--wait"));
  }
}

} // namespace grant_test_migrate_concurrency_test
