// `migrate --atomic` and `recover` under the faults real networks and machines produce: a
// connection dropped at COMMIT PREPARED, a lost reply to the decision insert, a coordinator
// gone silent, and SIGKILL at random instants. The faults come from a TCP proxy in front of one
// shard (support/fault_proxy.hpp); grant itself has no fault hooks.
#include "support/fault_proxy.hpp"
#include "support/fleet.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <random>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_atomic_faults_test {

using grant::test::contains;
using grant::test::FaultProxy;
using grant::test::ShardFleet;
using grant::test::table_migration;

namespace {

constexpr const char* k_commit_prepared = "COMMIT PREPARED";
constexpr const char* k_decision_insert = "(gid, decision) VALUES ($1, 'commit')";
constexpr const char* k_settle = "ON CONFLICT (gid) DO NOTHING";

// Every shard holds the same migrations and tables, and nothing is left prepared.
void check_agree(const ShardFleet& fleet, int expected_applied) {
  for (int i = 0; i < fleet.size(); ++i) {
    INFO("shard s", i);
    CHECK(fleet.prepared(i) == 0);
    CHECK(fleet.applied_count(i) == expected_applied);
    CHECK(fleet.has_table(i, "orders") == (expected_applied >= 1));
    CHECK(fleet.has_table(i, "order_items") == (expected_applied >= 2));
  }
}

} // namespace

TEST_CASE("twophase::faults at the network") {
  ShardFleet fleet(3, "atomic_fault");
  fleet.file("1_orders.sql", table_migration("orders"));
  fleet.file("2_items.sql", table_migration("order_items"));

  SUBCASE("connection dropped at COMMIT PREPARED on the middle shard: the others commit, recover commits it") {
    FaultProxy proxy(fleet.url(1));
    fleet.route(1, proxy.url());
    proxy.add_rule(k_commit_prepared, FaultProxy::Action::drop_before, -1); // the retry fails too
    auto run = fleet.grant({"migrate", "--atomic"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "COMMIT PREPARED failed on s1"));
    CHECK(contains(run.err, "grant recover"));
    CHECK(fleet.applied_count(0) == 1); // the first version stops the run: nothing rolled back
    CHECK(fleet.applied_count(2) == 1);
    CHECK(fleet.prepared(1) == 1);
    CHECK(fleet.decisions(0) == 1); // kept for recover

    proxy.clear_rules();
    run = fleet.grant({"--json", "recover"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    const auto items = nlohmann::json::parse(run.out)["in_doubt"];
    REQUIRE(items.size() == 1);
    CHECK(items[0]["target"] == "orders/s1");
    CHECK(items[0]["coordinator"] == "orders/s0");
    CHECK(items[0]["decision"] == "commit");
    CHECK(items[0]["action"] == "commit");
    check_agree(fleet, 1);
    CHECK(fleet.decisions(0) == 0); // every participant finished: the decision is gone

    CHECK(fleet.grant({"migrate", "--atomic"}).exit_code == 0);
    check_agree(fleet, 2);
  }

  SUBCASE("a dropped COMMIT PREPARED is retried on a fresh session when the network recovers") {
    FaultProxy proxy(fleet.url(1));
    fleet.route(1, proxy.url());
    proxy.add_rule(k_commit_prepared, FaultProxy::Action::drop_before, 1);
    const auto run = fleet.grant({"migrate", "--atomic"});
    INFO(run.out, run.err);
    CHECK(proxy.fired() == 1);
    // The lost session took s1's migration lock: the run stops after the committed version.
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "connection (and the migration lock it held) was lost"));
    check_agree(fleet, 1);
    CHECK(fleet.grant({"migrate", "--atomic"}).exit_code == 0);
    check_agree(fleet, 2);
  }

  SUBCASE("--shard subset: the decision lives on the first selected shard and recover finds it there") {
    FaultProxy proxy(fleet.url(1));
    fleet.route(1, proxy.url());
    proxy.add_rule(k_commit_prepared, FaultProxy::Action::drop_before, -1);
    auto run = fleet.grant({"migrate", "--atomic", "--database", "orders", "--shard", "s1", "--shard", "s2"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(fleet.applied_count(0) == 0); // not selected
    CHECK(fleet.applied_count(2) == 1);
    CHECK(fleet.prepared(1) == 1);
    CHECK(fleet.decisions(1) == 1);
    CHECK_FALSE(fleet.has_table(0, "grant_atomic_decisions"));

    proxy.clear_rules();
    // Only the in-doubt shard is selected; its coordinator is named in the transaction id.
    run = fleet.grant({"recover", "--database", "orders", "--shard", "s1"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "decision commit"));
    CHECK(fleet.prepared(1) == 0);
    CHECK(fleet.applied_count(1) == 1);
    CHECK(fleet.applied_count(2) == 1);
    CHECK(fleet.grant({"migrate", "--atomic"}).exit_code == 0);
    check_agree(fleet, 2);
  }

  SUBCASE("the reply to the decision insert is lost: the run settles it on a fresh session and commits") {
    FaultProxy proxy(fleet.url(0));
    fleet.route(0, proxy.url());
    proxy.add_rule(k_decision_insert, FaultProxy::Action::drop_after, 1);
    const auto run = fleet.grant({"migrate", "--atomic"});
    INFO(run.out, run.err);
    CHECK(proxy.fired() == 1);
    CHECK(run.exit_code == 3); // s0's session (and lock) went with the reply
    check_agree(fleet, 1);
    CHECK(fleet.grant({"migrate", "--atomic"}).exit_code == 0);
    check_agree(fleet, 2);
  }

  SUBCASE("the reply is lost and the coordinator stays unreachable: all in doubt, recover commits") {
    FaultProxy proxy(fleet.url(0));
    fleet.route(0, proxy.url());
    proxy.add_rule(k_decision_insert, FaultProxy::Action::drop_after, 1);
    proxy.add_rule(k_settle, FaultProxy::Action::drop_before, -1);
    auto run = fleet.grant({"migrate", "--atomic"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "whether it was recorded is unknown"));
    CHECK(contains(run.err, "s0, s1, s2"));
    for (int i = 0; i < 3; ++i) {
      CHECK(fleet.prepared(i) == 1);
    }
    // While the coordinator cannot settle, recover refuses rather than guess.
    run = fleet.grant({"recover"});
    CHECK(run.exit_code == 3);
    for (int i = 0; i < 3; ++i) {
      CHECK(fleet.prepared(i) == 1);
    }
    proxy.clear_rules();
    run = fleet.grant({"recover"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    check_agree(fleet, 1); // the insert had reached the server: commit everywhere
    CHECK(fleet.decisions(0) == 0);
  }

  SUBCASE("the decision insert never arrives: nothing recorded, recover rolls every shard back") {
    FaultProxy proxy(fleet.url(0));
    fleet.route(0, proxy.url());
    proxy.add_rule(k_decision_insert, FaultProxy::Action::drop_before, 1);
    proxy.add_rule(k_settle, FaultProxy::Action::drop_before, 1);
    auto run = fleet.grant({"migrate", "--atomic"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(fleet.prepared(1) == 1);
    run = fleet.grant({"recover", "--dry-run"});
    CHECK(run.exit_code == 1);
    CHECK(contains(run.out, "would rollback"));
    run = fleet.grant({"recover"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "rolled back"));
    check_agree(fleet, 0);
    CHECK(fleet.grant({"migrate", "--atomic"}).exit_code == 0);
    check_agree(fleet, 2);
  }

  SUBCASE("recover --abort over a recorded commit decision is refused unless forced") {
    FaultProxy proxy(fleet.url(2));
    fleet.route(2, proxy.url());
    proxy.add_rule(k_commit_prepared, FaultProxy::Action::drop_before, -1);
    CHECK(fleet.grant({"migrate", "--atomic"}).exit_code == 3);
    proxy.clear_rules();
    auto run = fleet.grant({"recover", "--abort"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.out, "split the shards"));
    CHECK(fleet.prepared(2) == 1);
    run = fleet.grant({"recover"});
    CHECK(run.exit_code == 0);
    check_agree(fleet, 1);
  }

  SUBCASE("a connection dropped at PREPARE TRANSACTION: every shard rolls back") {
    FaultProxy proxy(fleet.url(1));
    fleet.route(1, proxy.url());
    proxy.add_rule("PREPARE TRANSACTION", FaultProxy::Action::drop_before, 1);
    const auto run = fleet.grant({"migrate", "--atomic"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    check_agree(fleet, 0);
  }
}

TEST_CASE("twophase::SIGKILL at random instants") {
  ShardFleet fleet(4, "atomic_kill");
  std::mt19937 random(20261201);
  std::uniform_int_distribution<int> delay_us(0, 250'000);
  int version = 0;
  int killed = 0;
  for (int trial = 0; trial < 20; ++trial) {
    for (int k = 0; k < 3; ++k) {
      ++version;
      fleet.file(std::to_string(version) + "_t" + std::to_string(version) + ".sql",
                 "-- grant:up\nCREATE TABLE t" + std::to_string(version) + " (id int);\nINSERT INTO t" +
                     std::to_string(version) + " VALUES (1);\nSELECT pg_sleep(0.01);\n");
    }
    const int pid = grant::test::spawn_grant({"migrate", "--atomic"}, fleet.dir.path());
    killed += grant::test::kill_after(pid, std::chrono::microseconds(delay_us(random))) ? 1 : 0;
    const auto recovered = fleet.grant({"recover"});
    INFO("trial ", trial, ": ", recovered.out, recovered.err);
    REQUIRE(recovered.exit_code == 0);
    const int applied = fleet.applied_count(0);
    for (int i = 0; i < fleet.size(); ++i) {
      CHECK(fleet.prepared(i) == 0);
      CHECK(fleet.applied_count(i) == applied);
      // Tables t1..t<applied>, and no other.
      CHECK(fleet.scalar(i, "SELECT count(*) FILTER (WHERE substr(relname, 2)::int <= " + std::to_string(applied) +
                                ") || '/' || count(*) FROM pg_class WHERE relkind = 'r' AND relname ~ '^t[0-9]+$'") ==
            std::to_string(applied) + "/" + std::to_string(applied));
    }
  }
  MESSAGE(killed, " of 20 runs were killed mid-way");
  CHECK(killed > 0);
  const auto final_run = fleet.grant({"migrate", "--atomic"});
  INFO(final_run.out, final_run.err);
  CHECK(final_run.exit_code == 0);
  for (int i = 0; i < fleet.size(); ++i) {
    CHECK(fleet.applied_count(i) == version);
  }
}

} // namespace grant_test_atomic_faults_test
