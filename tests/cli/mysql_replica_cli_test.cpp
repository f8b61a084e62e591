// The MariaDB replica of the test fleet (following the primary by GTID): health reads its lag in
// seconds and transactions, unknown (never 0) once its SQL thread stops; grant serve answers for
// MySQL endpoints; --wait-replicas waits for its GTID position; query --role reading reads it.
// Every test that stops the replica's SQL thread is in the cli binary's mysql* cases, one after
// the other.
#include "support/mysql_project.hpp"
#include "support/serve_process.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <regex>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_mysql_replica_cli_test {

using grant::test::contains;
using grant::test::MysqlProject;
using grant::test::SqlThreadStopped;
using Json = nlohmann::json;

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
  const grant::test::ServeProcess serve(dir, {});
  const int port = serve.port();
  CHECK(grant::test::answers(port, "/writer/app", 200));
  CHECK(grant::test::answers(port, "/replica/app", 200));

  const SqlThreadStopped stopped(replica);
  grant::test::open_mysql(primary)->execute(
      "CREATE TABLE IF NOT EXISTS health_lag (id int); INSERT INTO health_lag VALUES (1)");
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
  CHECK(grant::test::answers(port, "/replica/app", 503)); // unknown lag: not usable for reads
  CHECK(grant::test::answers(port, "/writer/app", 200));
}

TEST_CASE("mysql: --wait-replicas waits for the replica's GTID position; query --role reading reads the replica") {
  MysqlProject project("my_replicas");
  const auto dbname = project.url().substr(project.url().rfind('/') + 1);
  const auto replica = grant::test::with_dbname(grant::test::server_env("GRANT_TEST_MY_REPLICA_URL"), dbname);
  project.write_config(
      Json{{"databases",
            {{"app", {{"url", project.url()}, {"replicas", Json::array({Json{{"name", "r1"}, {"url", replica}}})}}}}}});
  project.file("20240101000000_users.sql", grant::test::k_mysql_users);
  auto run = project.grant({"migrate", "--wait-replicas", "20"});
  INFO(run.out, run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(contains(run.out, "app/r1  replayed in"));
  CHECK(std::regex_search(run.out + run.err, std::regex("to replay past [0-9]+-[0-9]+-[0-9]+")));
  // Read right after grant returned: the replica already has the table.
  CHECK(grant::test::open_mysql(replica)->query("SELECT COUNT(*) FROM users").scalar() == grant::db::Value{"0"});

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

} // namespace grant_test_mysql_replica_cli_test
