// `grant migrate --wait-replicas`: returns once the streaming replica has replayed the run, and
// fails naming the replica when replay is paused.
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <thread>

using grant::test::contains;

namespace {

// Replay resumes whatever happens in the test: other tests share the replica.
struct ReplayPause {
  // Returns once replay has actually stopped: a pause is only a request until the startup process
  // reaches its next record, so give it one (a write on the writer) and wait for "paused".
  ReplayPause(std::string url, const std::string& writer) : m_url(std::move(url)) {
    run("SELECT pg_wal_replay_pause()");
    for (int i = 0; i < 250; ++i) {
      pqxx::connection primary(writer);
      pqxx::nontransaction write(primary);
      write.exec("SELECT txid_current()"); // a WAL record for the replica to stop at
      pqxx::connection replica(m_url);
      pqxx::nontransaction read(replica);
      if (read.exec1("SELECT pg_get_wal_replay_pause_state()")[0].as<std::string>() == "paused") {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL("replay did not pause on the replica");
  }
  ~ReplayPause() {
    try {
      run("SELECT pg_wal_replay_resume()");
    } catch (...) {
    }
  }
  void run(const std::string& sql) const {
    pqxx::connection connection(m_url);
    pqxx::nontransaction work(connection);
    work.exec(sql);
  }
  std::string m_url;
};

} // namespace

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
    ReplayPause pause(grant::test::replica_url(), writer);
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
