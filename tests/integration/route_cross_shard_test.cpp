// route::Router::across_shards on two shard servers: all or none, a failing participant rolls
// everyone back, a connection cut by the fault proxy at PREPARE TRANSACTION rolls back, one cut
// at COMMIT PREPARED is reported in doubt and `grant recover` finishes it.
#include <grant/config/load.hpp>
#include <grant/db/error.hpp>
#include <grant/route/router.hpp>
#include <grant/twophase/transaction.hpp>

#include "support/fault_proxy.hpp"
#include "support/fleet.hpp"

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_cross_shard_test {

using namespace grant;
using grant::test::FaultProxy;
using grant::test::ShardFleet;
using registry::Role;

namespace {

config::Config load(const ShardFleet& fleet) {
  return config::parse(test::read_file(fleet.dir / "grant.json"), fleet.dir / "grant.json", config::process_env());
}

std::string balances(const ShardFleet& fleet) {
  return fleet.scalar(0, "SELECT string_agg(id || '=' || balance, ',' ORDER BY id) FROM accounts") + " | " +
         fleet.scalar(1, "SELECT string_agg(id || '=' || balance, ',' ORDER BY id) FROM accounts");
}

// Moves 10 from account 1 (on s0) to account 2 (on s1).
void transfer(const std::string& shard, db::Connection& connection, int amount = 10) {
  if (shard == "s0") {
    connection.query("UPDATE accounts SET balance = balance - $1 WHERE id = 1", {std::to_string(amount)});
  } else {
    connection.query("UPDATE accounts SET balance = balance + $1 WHERE id = 2", {std::to_string(amount)});
  }
}

} // namespace

TEST_CASE("route::Router::across_shards") {
  ShardFleet fleet(2, "xshard", true);
  fleet.execute(0, "CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0));"
                   "INSERT INTO accounts VALUES (1, 100)");
  fleet.execute(1, "CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0));"
                   "INSERT INTO accounts VALUES (2, 0)");

  SUBCASE("the work commits on every shard, and nothing is left behind") {
    const auto config = load(fleet);
    registry::Registry registry(config);
    route::Router router(registry);
    router.across_shards("orders", {}, [](const std::string& shard, db::Connection& c) { transfer(shard, c); });
    CHECK(balances(fleet) == "1=90 | 2=10");
    router.across_shards("orders", {"s0", "s1"},
                         [](const std::string& shard, db::Connection& c) { transfer(shard, c); }, {"payout", 1, {}});
    CHECK(balances(fleet) == "1=80 | 2=20");
    // s1 coordinates now: the router creates its decision log first.
    router.across_shards("orders", {}, [](const std::string& shard, db::Connection& c) { transfer(shard, c); },
                         {"moved", 0, "s1"});
    CHECK(balances(fleet) == "1=70 | 2=30");
    CHECK(fleet.has_table(1, "grant_atomic_decisions"));
    CHECK(fleet.prepared(0) == 0);
    CHECK(fleet.prepared(1) == 0);
    CHECK(fleet.decisions(0) == 0);
    CHECK(fleet.decisions(1) == 0);
    CHECK(router.stats().writes_noted == 6);
  }

  SUBCASE("a failing participant rolls every shard back and its error comes out") {
    const auto config = load(fleet);
    registry::Registry registry(config);
    route::Router router(registry);
    // 200 from account 1 breaks its CHECK on s0; s1's half must not stay.
    CHECK_THROWS_AS(router.across_shards("orders", {},
                                         [](const std::string& shard, db::Connection& c) { transfer(shard, c, 200); }),
                    db::DbError);
    CHECK(balances(fleet) == "1=100 | 2=0");
    CHECK(fleet.prepared(0) == 0);
    CHECK(fleet.prepared(1) == 0);
  }

  SUBCASE("s1's connection cut at PREPARE TRANSACTION: everything is rolled back") {
    FaultProxy proxy(fleet.url(1));
    fleet.route(1, proxy.url());
    const auto config = load(fleet);
    registry::Registry registry(config);
    route::Router router(registry);
    proxy.add_rule("PREPARE TRANSACTION", FaultProxy::Action::drop_before, 1);
    try {
      router.across_shards("orders", {}, [](const std::string& shard, db::Connection& c) { transfer(shard, c); });
      FAIL("committed");
    } catch (const twophase::InDoubtError&) {
      FAIL("in doubt although no decision was recorded");
    } catch (const db::DbError& error) {
      CHECK(error.connection_lost());
    }
    CHECK(proxy.fired() == 1);
    CHECK(balances(fleet) == "1=100 | 2=0");
    CHECK(fleet.prepared(0) == 0);
    CHECK(fleet.prepared(1) == 0);
    // The router goes on working through the same proxy.
    router.across_shards("orders", {}, [](const std::string& shard, db::Connection& c) { transfer(shard, c); });
    CHECK(balances(fleet) == "1=90 | 2=10");
  }

  SUBCASE("s1's connection cut at COMMIT PREPARED: in doubt, never half-applied silently; recover commits it") {
    FaultProxy proxy(fleet.url(1));
    fleet.route(1, proxy.url());
    const auto config = load(fleet);
    registry::Registry registry(config);
    route::Router router(registry);
    proxy.add_rule("COMMIT PREPARED", FaultProxy::Action::drop_before, -1);
    try {
      router.across_shards("orders", {}, [](const std::string& shard, db::Connection& c) { transfer(shard, c); });
      FAIL("no error");
    } catch (const twophase::InDoubtError& error) {
      CHECK(error.participants() == std::vector<std::string>{"s1"});
      CHECK(test::contains(error.hint(), "grant recover"));
    }
    CHECK(balances(fleet) == "1=90 | 2=0"); // s0 committed by the decision, s1 prepared
    CHECK(fleet.prepared(1) == 1);
    CHECK(fleet.decisions(0) == 1);
    proxy.clear_rules();
    const auto recovered = fleet.grant({"recover"});
    CHECK(recovered.exit_code == 0);
    CHECK(balances(fleet) == "1=90 | 2=10");
    CHECK(fleet.prepared(1) == 0);
  }

  SUBCASE("an unsharded database or an unknown shard is a config error, before any connection") {
    const auto config = load(fleet);
    registry::Registry registry(config);
    route::Router router(registry);
    CHECK_THROWS_AS(router.across_shards("orders", {"s7"}, [](const std::string&, db::Connection&) {}), ConfigError);
    CHECK_THROWS_AS(router.across_shards("nope", {}, [](const std::string&, db::Connection&) {}), ConfigError);
    CHECK_THROWS_AS(router.across_shards("orders", {"s0"}, [](const std::string&, db::Connection&) {}, {"x", 0, "s1"}),
                    ConfigError); // the coordinator must take part
    CHECK(registry.stats().empty());
  }
}

} // namespace grant_test_route_cross_shard_test
