// `grant migrate --wait-replicas`: returns once the streaming replica has replayed the run, and
// fails naming the replica when replay is paused.
#include "support/replica.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_replicas_test {

using grant::test::contains;

TEST_CASE("migrate::wait-replicas") {
  grant::test::TempDir dir;
  const auto writer = grant::test::fresh_database(grant::test::writer_url(), "mig_replicas");
  const auto dbname = writer.substr(writer.rfind('/') + 1);
  const auto replica = grant::test::with_dbname(grant::test::replica_url(), dbname);
  nlohmann::json config;
  config["databases"]["app"] = {
      {"url", writer}, {"replicas", {{{"name", "r1"}, {"url", replica}}}}, {"migrations", "db/migrate/app"}};
  dir.write("grant.json", config.dump(2));
  dir.write("db/migrate/app/1_users.sql", "-- grant:up\nCREATE TABLE users (id int);\n");

  auto run = grant::test::run_grant({"migrate", "--wait-replicas", "20"}, dir.path());
  INFO(run.out, run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(contains(run.out, "app/r1  replayed in"));
  {
    // Read right after grant returned: the replica already has the table.
    pqxx::connection connection(replica);
    pqxx::nontransaction work(connection);
    CHECK(work.exec1("SELECT to_regclass('users') IS NOT NULL")[0].as<bool>());
  }

  SUBCASE("a paused replica fails the run, naming it, after the bound") {
    grant::test::ReplayPause pause(grant::test::replica_url(), writer);
    dir.write("db/migrate/app/2_teams.sql", "-- grant:up\nCREATE TABLE teams (id int);\n");
    run = grant::test::run_grant({"--json", "migrate", "--wait-replicas", "1"}, dir.path());
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    const auto document = nlohmann::json::parse(run.out);
    const auto& target = document["targets"][0];
    CHECK(target["current_version"] == "2"); // migrated on the writer all the same
    REQUIRE(target["replicas"].size() == 1);
    CHECK(target["replicas"][0]["replica"] == "app/r1");
    CHECK(target["replicas"][0]["caught_up"] == false);
    CHECK(contains(target["replicas"][0]["error"].get<std::string>(), "did not replay past"));
    CHECK_FALSE(contains(run.out + run.err, "grant-test-secret"));
  }
}

} // namespace grant_test_migrate_replicas_test
