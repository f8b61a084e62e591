// The MariaDB replica of the test fleet (following the primary by GTID): health reads its lag in
// seconds and transactions, unknown (never 0) once its SQL thread stops; grant serve answers for
// MySQL endpoints; --wait-replicas waits for its GTID position; query --role reading reads it;
// route::Router's read-your-writes holds reads on the writer until the replica's GTID position
// has the write.
// Every test that stops the replica's SQL thread is in the cli binary's mysql* cases, one after
// the other.
#include "support/mysql_project.hpp"
#include "support/serve_process.hpp"
#include "support/support.hpp"

#include <grant/config/load.hpp>
#include <grant/route/router.hpp>

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

TEST_CASE("mysql: read-your-writes (lsn mode) waits for the replica's GTID position") {
  using grant::registry::Role;
  MysqlProject project("my_ryw");
  const auto dbname = project.url().substr(project.url().rfind('/') + 1);
  const auto replica = grant::test::with_dbname(grant::test::server_env("GRANT_TEST_MY_REPLICA_URL"), dbname);
  project.query("CREATE TABLE seen (i int PRIMARY KEY)");
  REQUIRE(grant::test::eventually([&] {
    try {
      return grant::test::open_mysql(replica)->query("SELECT COUNT(*) FROM seen").scalar() == grant::db::Value{"0"};
    } catch (const std::exception&) {
      return false;
    }
  }));
  const auto json = Json{{"databases",
                          {{"app",
                            {{"url", project.url()},
                             {"replicas", Json::array({Json{{"name", "r1"}, {"url", replica}}})},
                             {"routing", {{"read_your_writes", "lsn"}, {"read_your_writes_ms", 0}}}}}}}}
                        .dump();
  const auto config = grant::config::parse(json, project.dir.write("ryw.json", json), grant::config::process_env());
  grant::registry::Registry registry(config);
  grant::route::Router router(registry);
  const auto write = [&](int i) {
    router.with_connection("app", Role::writing, {}, [&](grant::route::Session& session) {
      session.execute("INSERT INTO seen VALUES (" + std::to_string(i) + ")");
    });
  };
  // Whether the read saw row i, and where it ran.
  const auto read = [&](int i) {
    return router.with_connection("app", Role::reading, {}, [&](grant::route::Session& session) {
      const bool seen =
          session.query("SELECT COUNT(*) FROM seen WHERE i = " + std::to_string(i)).scalar() == grant::db::Value{"1"};
      return std::make_pair(seen, session.on_replica());
    });
  };

  // The window is 0 ms: only the GTID position can hold a read on the writer. Every read sees its write.
  int stale = 0;
  int on_replica = 0;
  for (int i = 0; i < 100; ++i) {
    write(i);
    const auto [seen, replica_read] = read(i);
    stale += seen ? 0 : 1;
    on_replica += replica_read ? 1 : 0;
  }
  MESSAGE("MariaDB read-your-writes: 100 reads after writes, " << on_replica << " on the replica");
  CHECK(stale == 0);
  CHECK(router.stats().replay_checks > 0); // @@gtid_slave_pos was asked

  {
    // The replica applies nothing: a read after a write stays on the writer, and sees it.
    const SqlThreadStopped stopped(replica);
    write(1000);
    const auto [seen, replica_read] = read(1000);
    CHECK(seen);
    CHECK_FALSE(replica_read);
    CHECK(router.pending_writes() == 1);
  }
  // Applying again, the replica gets the write and the reads again.
  CHECK(grant::test::eventually([&] { return read(1000) == std::make_pair(true, true); }));
  CHECK(router.pending_writes() == 0);
}

} // namespace grant_test_mysql_replica_cli_test
