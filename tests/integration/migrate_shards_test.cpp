// A sharded database "orders" on the four shard servers (a fresh database on each): fan-out,
// --shard selection, --jobs, one shard failing, version skew.
#include "support/fleet.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_shards_test {

using grant::test::contains;

using grant::test::ShardFleet;

namespace {

// With the shard key column, so the sharding section holds.
std::string sharded_table_migration(const std::string& table) {
  return "-- grant:up\nCREATE TABLE " + table +
         " (id bigint PRIMARY KEY, user_id bigint);\n"
         "-- grant:down\nDROP TABLE " +
         table + ";\n";
}

} // namespace

TEST_CASE("migrate::shards") {
  ShardFleet fleet(4, "mig_shard", true);
  fleet.file("1_orders.sql", sharded_table_migration("orders"));
  fleet.file("2_items.sql", sharded_table_migration("order_items"));

  SUBCASE("--jobs 4 migrates every shard; the summary lists each") {
    const auto run = fleet.grant({"migrate", "--jobs", "4"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.applied_count(i) == 2);
      CHECK(fleet.has_table(i, "order_items"));
      CHECK(contains(run.out, "orders/s" + std::to_string(i) + "  ok  2 applied, at 2"));
    }
    CHECK(fleet.grant({"status", "--exit-code"}).exit_code == 0);
  }

  SUBCASE("--shard narrows the run; status calls out the version skew") {
    auto run = fleet.grant({"migrate", "--shard", "s1", "--shard", "s3"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(fleet.applied_count(0) == 0);
    CHECK(fleet.applied_count(1) == 2);
    CHECK(fleet.applied_count(2) == 0);
    CHECK(fleet.applied_count(3) == 2);
    CHECK_FALSE(contains(run.out, "orders/s0"));

    run = fleet.grant({"status"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "version skew in orders: none on s0 s2; 2 on s1 s3"));
    CHECK(fleet.grant({"status", "--exit-code"}).exit_code == 1);
    run = fleet.grant({"status", "--json"});
    const auto document = nlohmann::json::parse(run.out);
    CHECK(document["version_skew"]["orders"]["s1"] == "2");
    CHECK(document["version_skew"]["orders"]["s0"] == "");
    CHECK(document["targets"].size() == 4);

    run = fleet.grant({"migrate", "--database", "orders", "--shard", "s9"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "s9"));
    CHECK(fleet.applied_count(0) == 0);
  }

  SUBCASE("status reads like a fleet: one line while the shards agree, details only where they differ") {
    REQUIRE(fleet.grant({"migrate"}).exit_code == 0);
    auto run = fleet.grant({"status"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "orders  4 shards agree: 2 applied, 0 pending, at 2\n"));
    CHECK_FALSE(contains(run.out, "orders/s"));

    fleet.file("3_notes.sql", sharded_table_migration("notes"));
    REQUIRE(fleet.grant({"migrate", "--shard", "s2"}).exit_code == 0);
    run = fleet.grant({"status"});
    CHECK(contains(run.out, "orders  4 shards: 3 agree (2 applied, 1 pending, at 2), 1 differs"));
    CHECK(contains(run.out, "    pending  3_notes"));
    CHECK(contains(run.out, "    orders/s2  3 applied, 0 pending, at 3"));
    CHECK_FALSE(contains(run.out, "orders/s0"));
    CHECK(contains(run.out, "version skew in orders: 2 on s0 s1 s3; 3 on s2"));
    CHECK(fleet.grant({"status", "--exit-code"}).exit_code == 1);

    run = fleet.grant({"status", "--verbose"});
    for (int i = 0; i < 4; ++i) {
      CHECK(contains(run.out, "    orders/s" + std::to_string(i) + "  "));
    }

    run = fleet.grant({"status", "--json"});
    const auto document = nlohmann::json::parse(run.out);
    CHECK(document["targets"].size() == 4);
    REQUIRE(document["databases"].size() == 1);
    const auto& orders = document["databases"][0];
    CHECK(orders["database"] == "orders");
    CHECK(orders["targets"] == 4);
    CHECK(orders["agree"] == false);
    CHECK(orders["agreeing"] == 3);
    CHECK(orders["common"]["current_version"] == "2");
    CHECK(orders["common"]["pending"][0]["version"] == "3");
    CHECK(orders["differing"] == nlohmann::json::array({"orders/s2"}));
    CHECK(orders["version_skew"]["s2"] == "3");
  }

  SUBCASE("one shard failing does not affect the others") {
    // Plant a conflicting table on shard 2 only.
    fleet.execute(2, "CREATE TABLE order_items (conflict text)");
    const auto run = fleet.grant({"migrate", "--jobs", "4"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    for (const int i : {0, 1, 3}) {
      CHECK(fleet.applied_count(i) == 2);
      CHECK(contains(run.out, "orders/s" + std::to_string(i) + "  ok  2 applied"));
    }
    CHECK(fleet.applied_count(2) == 1);
    CHECK(contains(run.out, "orders/s2  FAILED  1 applied before the failure"));
    CHECK(contains(run.err, "orders/s2: migration 2_items failed"));
    CHECK(contains(run.err, "2_items.sql:2"));

    const auto json = fleet.grant({"migrate", "--json"});
    CHECK(json.exit_code == 3);
    const auto document = nlohmann::json::parse(json.out);
    CHECK(document["ok"] == false);
    REQUIRE(document["targets"].size() == 4);
    CHECK(document["targets"][2]["ok"] == false);
    CHECK(document["targets"][3]["ok"] == true);
  }
}

} // namespace grant_test_migrate_shards_test
