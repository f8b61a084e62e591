#include <grant/migrate/fleet_status.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_fleet_status_test {

using namespace grant;
using namespace grant::migrate;

namespace {

// `shards` shards of "orders" (0 = the unsharded "primary"), each given its applied versions.
struct Fleet {
  config::Database database;
  std::vector<Migration> files;
  std::vector<TargetStatus> statuses;

  Fleet(const std::string& name, std::size_t shards, std::size_t files_count) {
    database.name = name;
    for (std::size_t i = 0; i < shards; ++i) {
      config::Shard shard;
      shard.name = "s" + std::to_string(i);
      database.shards.push_back(shard);
    }
    for (std::size_t v = 1; v <= files_count; ++v) {
      auto file = parse_migration(std::to_string(v) + "_m.sql", "-- grant:up\nSELECT " + std::to_string(v) + ";\n");
      file.version = std::to_string(v);
      file.name = "m";
      files.push_back(std::move(file));
    }
  }

  void add(const std::string& shard, std::size_t applied, bool reachable = true, std::size_t in_doubt = 0) {
    TargetStatus status;
    status.target.database = &database;
    status.target.endpoint.database = database.name;
    status.target.endpoint.shard = shard;
    status.reachable = reachable;
    status.in_doubt = in_doubt;
    std::vector<AppliedMigration> rows;
    for (std::size_t v = 1; v <= applied && reachable; ++v) {
      AppliedMigration row;
      row.version = std::to_string(v);
      rows.push_back(row);
    }
    status.plan = make_plan(files, rows);
    statuses.push_back(std::move(status));
  }
};

} // namespace

TEST_CASE("migrate::summarize_fleet") {
  SUBCASE("64 agreeing shards are one summary with nothing differing") {
    Fleet fleet("orders", 64, 3);
    for (int i = 0; i < 64; ++i) {
      fleet.add("s" + std::to_string(i), 2);
    }
    const auto summaries = summarize_fleet(fleet.statuses);
    REQUIRE(summaries.size() == 1);
    const auto& orders = summaries.front();
    CHECK(orders.sharded);
    CHECK(orders.targets.size() == 64);
    CHECK(orders.all_agree());
    CHECK(orders.agreeing == 64);
    CHECK(orders.common->plan.current_version == "2");
    CHECK(orders.common->plan.pending.size() == 1);
    CHECK(orders.version_skew.empty());
    CHECK(version_skew(fleet.statuses).empty());
  }
  SUBCASE("the shards that differ are listed, the most common state is the summary") {
    Fleet fleet("orders", 6, 3);
    for (const auto* shard : {"s0", "s1", "s3", "s5"}) {
      fleet.add(shard, 3);
    }
    fleet.add("s2", 1);
    fleet.add("s4", 3, false);
    const auto summaries = summarize_fleet(fleet.statuses);
    REQUIRE(summaries.size() == 1);
    const auto& orders = summaries.front();
    CHECK_FALSE(orders.all_agree());
    CHECK(orders.agreeing == 4);
    CHECK(orders.common->target.endpoint.shard == "s0");
    REQUIRE(orders.differing.size() == 2);
    CHECK(orders.differing[0]->target.endpoint.shard == "s2");
    CHECK(orders.differing[1]->target.endpoint.shard == "s4");
    // Unreachable shards say nothing about versions.
    CHECK(orders.version_skew.size() == 5);
    CHECK(orders.version_skew.at("s2") == "1");
    const auto groups = skew_groups(orders.version_skew);
    REQUIRE(groups.size() == 2);
    CHECK(groups[0].first == "3");
    CHECK(groups[0].second == std::vector<std::string>{"s0", "s1", "s3", "s5"});
    CHECK(groups[1].first == "1");
  }
  SUBCASE("same version but an in-doubt transaction differs") {
    Fleet fleet("orders", 3, 1);
    fleet.add("s0", 1);
    fleet.add("s1", 1, true, 1);
    fleet.add("s2", 1);
    const auto summaries = summarize_fleet(fleet.statuses);
    REQUIRE(summaries.front().differing.size() == 1);
    CHECK(summaries.front().differing[0]->in_doubt == 1);
    CHECK(summaries.front().version_skew.empty());
  }
  SUBCASE("databases keep their order; an unsharded one is its own summary; empty files are named") {
    Fleet primary("primary", 0, 2);
    primary.files[1].empty = true;
    primary.add("", 1);
    Fleet orders("orders", 2, 1);
    orders.add("s0", 0);
    orders.add("s1", 1);
    std::vector<TargetStatus> all = primary.statuses;
    all.insert(all.end(), orders.statuses.begin(), orders.statuses.end());
    const auto summaries = summarize_fleet(all);
    REQUIRE(summaries.size() == 2);
    CHECK(summaries[0].database == "primary");
    CHECK_FALSE(summaries[0].sharded);
    REQUIRE(summaries[0].empty.size() == 1);
    CHECK(summaries[0].empty[0]->version == "2");
    CHECK(summaries[1].database == "orders");
    // A tie: the first shard in config order is the summary.
    CHECK(summaries[1].common->target.endpoint.shard == "s0");
    CHECK(version_skew(all).at("orders").at("s0").empty());
  }
}

} // namespace grant_test_migrate_fleet_status_test
