// route::select_shards: which shards a statement is for (grant query's --shard, --key and
// --all-shards), and how a choice that does not fit its database is refused. Nothing connects.
#include <grant/config/load.hpp>
#include <grant/route/shard_choice.hpp>
#include <grant/shard/key.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_shard_choice_test {

using namespace grant;
using Problem = route::ShardChoiceError::Problem;
using Strings = std::vector<std::string>;

namespace {

config::Config fleet() {
  return config::parse(R"({"databases": {
    "solo": {"url": "postgres://h/solo"},
    "orders": {"shards": [{"name": "s0", "url": "postgres://h0/orders"}, {"name": "s1", "url": "postgres://h1/orders"}],
               "sharding": {"key": "user_id", "resolver": {"type": "modulo"}}}}})",
                       "grant.json", [](const std::string&) { return std::nullopt; });
}

route::ShardChoice choice(std::string shard, Strings key = {}, bool all = false) {
  return {std::move(shard), std::move(key), all};
}

// The problem select_shards reports for `choice`; fails the test when it does not throw one.
Problem problem(registry::Registry& registry, const config::Database& database, const route::ShardChoice& choice) {
  try {
    route::select_shards(registry, database, choice);
  } catch (const route::ShardChoiceError& error) {
    CHECK(error.exit_code() == 2);
    CHECK(error.where() == database.key_path);
    return error.problem();
  }
  FAIL("not refused");
  return Problem::none;
}

} // namespace

TEST_CASE("route::select_shards") {
  const auto config = fleet();
  registry::Registry registry(config);
  const auto& solo = *config.find("solo");
  const auto& orders = *config.find("orders");

  SUBCASE("an unsharded database: its one target, and no choice applies") {
    CHECK(route::select_shards(registry, solo, {}) == Strings{""});
    CHECK(problem(registry, solo, choice("s0")) == Problem::not_sharded);
    CHECK(problem(registry, solo, choice({}, {"7"})) == Problem::not_sharded);
    CHECK(problem(registry, solo, choice({}, {}, true)) == Problem::not_sharded);
  }
  SUBCASE("a sharded database: one way of choosing, exactly") {
    CHECK(problem(registry, orders, {}) == Problem::none);
    CHECK(problem(registry, orders, choice("s0", {"7"})) == Problem::several);
    CHECK(problem(registry, orders, choice("s0", {}, true)) == Problem::several);
    CHECK(problem(registry, solo, choice({}, {"7"}, true)) == Problem::several); // checked first
  }
  SUBCASE("a shard by name, every shard, the owner of a key") {
    CHECK(route::select_shards(registry, orders, choice("s1")) == Strings{"s1"});
    CHECK(route::select_shards(registry, orders, choice({}, {}, true)) == Strings{"s0", "s1"});
    CHECK(route::select_shards(registry, orders, choice({}, {"5"})) == Strings{"s1"}); // 5 mod 2
    CHECK(route::select_shards(registry, orders, choice({}, {"4"})) == Strings{"s0"});
  }
  SUBCASE("an unknown shard names the shards; a key of the wrong shape is the resolver's KeyError") {
    try {
      route::select_shards(registry, orders, choice("s9"));
      FAIL("not refused");
    } catch (const route::ShardChoiceError&) {
      FAIL("an unknown shard is no ShardChoiceError");
    } catch (const ConfigError& error) {
      CHECK(std::string(error.what()) == "database orders has no shard 's9'");
      CHECK(error.hint() == "shards: s0, s1");
    }
    CHECK_THROWS_AS(route::select_shards(registry, orders, choice({}, {"1", "2"})), shard::KeyError);
  }
}

} // namespace grant_test_route_shard_choice_test
