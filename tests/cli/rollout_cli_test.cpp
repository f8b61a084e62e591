// `grant migrate` rollouts end to end on real shards: a canary that passes its gates, a canary
// that fails (no other shard touched), an operator's gate command stopping a rollout and the
// re-run resuming it from the tracking tables, --plan changing nothing, the refusals (exit 2,
// nothing touched), SIGKILL at random instants across waves, a canary stalled by the fault proxy
// (bounded, named), and a replica whose replay is paused (a test::PgPair of its own): the lag
// gate waits, then passes once replay resumes, or fails after --gate-timeout.
#include "support/fault_proxy.hpp"
#include "support/fleet.hpp"
#include "support/pg_pair.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <random>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_rollout_cli_test {

using namespace std::chrono_literals;
using grant::test::contains;
using grant::test::RunResult;
using Json = nlohmann::json;

namespace {

std::string all(const RunResult& run) {
  return run.out + run.err;
}

// Two migrations: a table and an index on it.
void two_migrations(const grant::test::ShardFleet& fleet) {
  fleet.file("1_items.sql", "-- grant:up\nCREATE TABLE items (id bigint, note text);\n");
  fleet.file("2_note.sql", "-- grant:up lock_timeout=5s\nALTER TABLE items ADD COLUMN qty int;\n");
}

} // namespace

TEST_CASE("rollout: a canary that passes its gates, then the rest") {
  grant::test::ShardFleet fleet(4, "rollout_pass");
  two_migrations(fleet);
  fleet.dir.write("gate.sh", "#!/bin/sh\necho \"gate saw wave $GRANT_ROLLOUT_WAVE: $GRANT_ROLLOUT_TARGETS\" >> "
                             "gate.log\nexit 0\n");
  std::filesystem::permissions(fleet.dir / "gate.sh", std::filesystem::perms::owner_exec,
                               std::filesystem::perm_options::add);

  SUBCASE("--plan prints the waves and changes nothing") {
    const auto plan = fleet.grant({"--json", "migrate", "--canary", "s2", "--waves", "50%,100%", "--plan"});
    REQUIRE_MESSAGE(plan.exit_code == 0, plan.err);
    const auto document = Json::parse(plan.out);
    REQUIRE(document["waves"].size() == 3);
    CHECK(document["waves"][0]["targets"] == Json::array({"orders/s2"}));
    CHECK(document["waves"][1]["targets"] == Json::array({"orders/s0"}));
    CHECK(document["waves"][2]["targets"] == Json::array({"orders/s1", "orders/s3"}));
    CHECK(document["waves"][0]["pending"]["orders/s2"] == Json::array({"1_items", "2_note"}));
    CHECK(contains(document["gates"].get<std::string>(), "every replica of the migrated shards within"));
    for (int shard = 0; shard < 4; ++shard) {
      CHECK(fleet.applied_count(shard) == 0);
    }
  }
  SUBCASE("the canary first, the gate command between the waves, JSON verdicts") {
    const auto run = fleet.grant({"--json", "migrate", "--canary", "s1", "--gate-cmd", "./gate.sh"});
    REQUIRE_MESSAGE(run.exit_code == 0, run.err);
    const auto document = Json::parse(run.out);
    const auto& rollout = document["rollout"];
    CHECK(rollout["completed"] == true);
    REQUIRE(rollout["waves"].size() == 2);
    CHECK(rollout["waves"][0]["targets"] == Json::array({"orders/s1"}));
    bool command_ok = false;
    for (const auto& gate : rollout["waves"][0]["gates"]) {
      if (gate["gate"] == "command") {
        command_ok = gate["ok"] == true && gate["figures"]["exit_code"] == 0;
      }
      if (gate["gate"] == "replica_lag") {
        CHECK(gate["ok"] == true); // no replicas: nothing to wait for
      }
    }
    CHECK(command_ok);
    CHECK(grant::test::read_file(fleet.dir / "gate.log") == "gate saw wave 1: orders/s1\n");
    for (int shard = 0; shard < 4; ++shard) {
      CHECK(fleet.applied_count(shard) == 2);
    }
    // Nothing pending: every wave is already applied.
    const auto again = fleet.grant({"migrate", "--canary", "s1", "--gate-cmd", "./gate.sh"});
    CHECK(again.exit_code == 0);
    CHECK(contains(again.out, "wave 1 (orders/s1): already applied"));
    CHECK(contains(again.out, "rollout complete: 2 wave(s), 4 target(s)"));
  }
}

TEST_CASE("rollout: a failing canary touches no other shard; a failing gate stops, the re-run resumes") {
  grant::test::ShardFleet fleet(4, "rollout_stop");
  two_migrations(fleet);

  SUBCASE("the canary's migration fails") {
    fleet.execute(0, "CREATE TABLE items (id bigint)"); // 1_items fails on s0 only
    const auto run = fleet.grant({"migrate", "--canary", "s0"});
    CHECK(run.exit_code == 3);
    CHECK_MESSAGE(contains(run.err, "rollout stopped at wave 1: wave 1 (orders/s0) failed on orders/s0"), run.err);
    CHECK(contains(run.err, "resume after fixing the cause: grant migrate --canary s0"));
    for (int shard = 1; shard < 4; ++shard) {
      CHECK(fleet.applied_count(shard) == 0);
      CHECK_FALSE(fleet.has_table(shard, "items"));
    }
  }
  SUBCASE("the gate command fails: later waves untouched; the re-run resumes after wave 1") {
    auto run = fleet.grant({"migrate", "--waves", "1,100%", "--gate-cmd", "test -f go"});
    CHECK(run.exit_code == 1);
    CHECK_MESSAGE(contains(run.err, "the gates after wave 1 failed (command: `test -f go` exited 1)"), run.err);
    CHECK(contains(run.err, "grant rollback --database orders --shard s0 --steps 2"));
    CHECK(fleet.applied_count(0) == 2);
    for (int shard = 1; shard < 4; ++shard) {
      CHECK(fleet.applied_count(shard) == 0);
    }
    // status shows the rollout in progress, and the waves of the config's rollout section.
    fleet.config()["rollout"] = {{"waves", {"1", "100%"}}};
    fleet.save();
    const auto status = fleet.grant({"status"});
    CHECK_MESSAGE(contains(status.out, "rollout in progress: s0 ahead at 2, 3 shard(s) behind; 1 of 2 wave(s) of the "
                                       "config's rollout done, next wave 2 (orders/s1, orders/s2, orders/s3)"),
                  status.out);
    const auto status_json = Json::parse(fleet.grant({"--json", "status"}).out);
    CHECK(status_json["databases"][0]["rollout"]["behind"] == Json::array({"s1", "s2", "s3"}));
    fleet.dir.write("go", "");
    run = fleet.grant({"migrate", "--waves", "1,100%", "--gate-cmd", "test -f go"});
    CHECK_MESSAGE(run.exit_code == 0, all(run));
    CHECK(contains(run.out, "wave 1 (orders/s0): already applied"));
    CHECK(contains(run.out, "gates after wave 1: replica_lag ok"));
    for (int shard = 0; shard < 4; ++shard) {
      CHECK(fleet.applied_count(shard) == 2);
    }
  }
}

TEST_CASE("rollout: refusals exit 2 and touch nothing") {
  grant::test::ShardFleet fleet(3, "rollout_refuse");
  fleet.config()["databases"]["plain"] = {{"url", fleet.url(0)}, {"migrations", "db/migrate/plain"}};
  fleet.save();
  two_migrations(fleet);
  fleet.dir.write("db/migrate/plain/1_p.sql", "-- grant:up\nCREATE TABLE p (id int);\n");
  fleet.dir.write("not-executable.sh", "#!/bin/sh\nexit 0\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"migrate", "--database", "orders", "--waves", "1,2"}, "leaves 1 of the 3 shards of database orders out"},
      {{"migrate", "--database", "orders", "--waves", "2,1,100%"}, "is smaller than the wave before it"},
      {{"migrate", "--database", "orders", "--waves", "1,4"}, "asks for 4 shards, and database orders has 3"},
      {{"migrate", "--database", "orders", "--waves", "ten%"}, "is not a count or a share"},
      {{"migrate", "--database", "orders", "--canary", "s7"}, "database orders has no such shard"},
      {{"migrate", "--database", "plain", "--canary", "s0"}, "database plain is not sharded"},
      {{"migrate", "--database", "orders", "--canary", "s0", "--gate-cmd", "./not-executable.sh"},
       "is not an executable file"},
      {{"migrate", "--database", "orders", "--canary", "s0", "--gate-cmd", "no-such-gate-tool --check"},
       "is not a command on PATH"},
      {{"migrate", "--database", "orders", "--canary", "s0", "--pause", "-1"}, "--pause"},
      {{"migrate", "--database", "orders", "--waves", "1,100%", "--atomic"}, "choose one"},
  };
  for (const auto& [args, words] : cases) {
    CAPTURE(words);
    const auto run = fleet.grant(args);
    CHECK(run.exit_code == 2);
    CHECK_MESSAGE(contains(run.err, words), run.err);
  }
  // The same refusal from the config's rollout section names its key; its canary skips the
  // unsharded database instead of refusing it.
  fleet.config()["rollout"] = {{"waves", {"1", "2"}}};
  fleet.save();
  auto run = fleet.grant({"migrate", "--database", "orders"});
  CHECK(run.exit_code == 2);
  CHECK_MESSAGE(contains(run.err, "rollout.waves 1,2 leaves 1 of the 3 shards of database orders out"), run.err);
  CHECK(contains(run.err, "at: rollout.waves"));
  for (int shard = 0; shard < 3; ++shard) {
    CHECK(fleet.applied_count(shard) == 0);
  }
  fleet.config()["rollout"] = {{"canary", "s0"}};
  fleet.save();
  run = fleet.grant({"migrate", "--database", "plain", "--plan"});
  CHECK_MESSAGE(run.exit_code == 0, run.err);
  CHECK(contains(run.out, "wave 1: plain"));
}

TEST_CASE("rollout: SIGKILL at random instants across waves, then a re-run finishes") {
  grant::test::ShardFleet fleet(4, "rollout_kill");
  for (int i = 1; i <= 6; ++i) {
    fleet.file(std::to_string(i) + "_m.sql",
               "-- grant:up\nCREATE TABLE m" + std::to_string(i) + " (id int);\nSELECT pg_sleep(0.02);\n");
  }
  const std::vector<std::string> args{"migrate", "--waves", "1,2,3,100%"};
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(0, 900);
  for (int kill = 0; kill < 5; ++kill) {
    const int pid = grant::test::spawn_grant(args, fleet.dir.path(), fleet.dir / "killed.log");
    grant::test::kill_after(pid, std::chrono::milliseconds(delay_ms(random)));
  }
  const auto run = fleet.grant(args);
  REQUIRE_MESSAGE(run.exit_code == 0, all(run));
  for (int shard = 0; shard < 4; ++shard) {
    CHECK(fleet.applied_count(shard) == 6); // each version exactly once (the tracking table's key)
    CHECK(fleet.scalar(shard, "SELECT count(DISTINCT version) FROM schema_migrations") == "6");
    CHECK(fleet.has_table(shard, "m6"));
  }
}

TEST_CASE("rollout: a canary stalled by the proxy is bounded and named; no other shard touched") {
  grant::test::ShardFleet fleet(3, "rollout_stall");
  grant::test::FaultProxy proxy(fleet.url(0));
  fleet.route(0, proxy.url());
  auto& orders = fleet.config()["databases"]["orders"];
  orders["migrate"] = {{"statement_timeout_ms", 1000}};
  orders["pool"] = {{"connect_timeout_ms", 2000}};
  fleet.save();
  fleet.file("1_stall.sql", grant::test::table_migration("rollout_stall"));
  proxy.add_rule("CREATE TABLE rollout_stall", grant::test::FaultProxy::Action::stall);
  const auto started = std::chrono::steady_clock::now();
  const auto run = fleet.grant({"migrate", "--canary", "s0"});
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(proxy.fired() == 1);
  CHECK(run.exit_code == 3);
  CHECK_MESSAGE(contains(all(run), "no reply from orders/s0 within"), all(run));
  CHECK(contains(run.err, "rollout stopped at wave 1"));
  CHECK(took < 15s); // statement_timeout 1000 + connect_timeout 2000 per wait, with room
  for (int shard = 1; shard < 3; ++shard) {
    CHECK(fleet.applied_count(shard) == 0);
  }
  proxy.clear_rules();
  proxy.release();
}

TEST_CASE("rollout: a replica whose replay is paused holds the lag gate") {
  grant::test::PgPair pair;
  grant::test::ShardFleet fleet(2, "rollout_lag");
  // Shard s0 lives on the pair's writer, with the pair's replica as its replica.
  const auto database = "rollout_lag_" + std::to_string(::getpid());
  {
    pqxx::connection admin(pair.writer_url());
    pqxx::nontransaction work(admin);
    work.exec("CREATE DATABASE " + database);
  }
  const auto on = [&database](const std::string& url) { return grant::test::with_dbname(url, database); };
  auto& s0 = fleet.config()["databases"]["orders"]["shards"][0];
  s0["url"] = on(pair.writer_url());
  s0["replicas"] = Json::array({{{"name", "r1"}, {"url", on(pair.replica_url())}}});
  fleet.config()["databases"]["orders"]["health"] = {{"max_lag_ms", 500}}; // the gate's bound
  fleet.save();
  fleet.file("1_items.sql", "-- grant:up\nCREATE TABLE items (id bigint);\n");
  const auto replica = [&]() { return pqxx::connection(on(pair.replica_url())); };
  const auto wait_replica_has_database = [&]() {
    for (int i = 0; i < 100; ++i) {
      try {
        replica();
        return;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(100ms);
      }
    }
    FAIL("the replica never replayed CREATE DATABASE");
  };
  wait_replica_has_database();
  {
    auto connection = replica();
    pqxx::nontransaction(connection).exec("SELECT pg_wal_replay_pause()");
  }
  // Lag in time is the age of the last transaction the replica replayed: let it grow past the
  // 500 ms bound before the rollout starts, as it does on a replica paused for a while.
  std::this_thread::sleep_for(1500ms);

  SUBCASE("replay stays paused: the gate fails after --gate-timeout; s1 untouched") {
    const auto run = fleet.grant({"migrate", "--canary", "s0", "--gate-timeout", "3s"});
    CHECK(run.exit_code == 1);
    CHECK_MESSAGE(contains(run.err, "(replica_lag: orders/s0/r1 lag"), all(run));
    CHECK(contains(run.err, "rollout stopped at wave 1: the gates after wave 1 failed"));
    CHECK(fleet.applied_count(1) == 0);
  }
  SUBCASE("replay resumes while the gate waits: the rollout goes on") {
    const auto log = fleet.dir / "lag.log";
    const int pid =
        grant::test::spawn_grant({"migrate", "--canary", "s0", "--gate-timeout", "60s"}, fleet.dir.path(), log);
    for (int i = 0; i < 200 && !contains(grant::test::read_file(log), "replica_lag failing"); ++i) {
      std::this_thread::sleep_for(100ms);
    }
    CHECK_MESSAGE(contains(grant::test::read_file(log), "replica_lag failing: orders/s0/r1 lag"),
                  grant::test::read_file(log));
    CHECK(fleet.applied_count(1) == 0); // waiting at the gate
    {
      auto connection = replica();
      pqxx::nontransaction(connection).exec("SELECT pg_wal_replay_resume()");
    }
    const auto code = grant::test::wait_exit(pid, 60s);
    REQUIRE(code.has_value());
    CHECK_MESSAGE(*code == 0, grant::test::read_file(log));
    CHECK(contains(grant::test::read_file(log), "replica_lag ok"));
    CHECK(fleet.applied_count(1) == 1);
  }
  SUBCASE("--max-lag throttles inside the wave: the canary waits for its replica, then gives up") {
    const auto run = fleet.grant({"migrate", "--canary", "s0", "--max-lag", "500", "--gate-timeout", "3s"});
    CHECK(run.exit_code == 3);
    CHECK_MESSAGE(contains(all(run), "throttled: waiting for its replicas: orders/s0/r1 lag"), all(run));
    CHECK(contains(run.err, "its replicas stayed past --max-lag for 3 s"));
    CHECK(fleet.applied_count(1) == 0);
  }
  {
    auto connection = replica();
    pqxx::nontransaction(connection).exec("SELECT pg_wal_replay_resume()");
  }
}

} // namespace grant_test_rollout_cli_test
