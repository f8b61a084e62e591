#include <grant/config/load.hpp>
#include <grant/shard/lint.hpp>
#include <grant/shard/resolver.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_shard_lint_test {

using namespace grant;
using namespace grant::shard;

namespace {

// `orders` with shards s0, s1, s2 (extra JSON per shard), and `primary`, unsharded.
config::Config sharded_config(const std::string& resolver, const std::vector<std::string>& shard_extra = {},
                              const std::string& key = "\"user_id\"") {
  std::string text = R"({"databases": {"primary": {"url": "postgres://h/p"}, "orders": {"shards": [)";
  for (std::size_t i = 0; i < 3; ++i) {
    text += std::string(i > 0 ? "," : "") + R"({"name": "s)" + std::to_string(i) + R"(", "url": "postgres://h/o")" +
            (i < shard_extra.size() && !shard_extra[i].empty() ? ", " + shard_extra[i] : "") + "}";
  }
  text += R"(], "sharding": {"key": )" + key + R"(, "resolver": )" + resolver + "}}}}";
  return config::parse(text, "grant.json", [](const std::string&) { return std::nullopt; });
}

// The one issue lint finds, checked for its key path and that its message holds `words`.
void check_issue(const config::Config& config, const std::string& key_path, const std::string& words,
                 const std::string& hint = "") {
  const auto issues = lint(config);
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].key_path == key_path);
  CHECK_MESSAGE(issues[0].message.find(words) != std::string::npos, issues[0].message);
  if (!hint.empty()) {
    CHECK(issues[0].hint == hint);
  }
  // make_resolver refuses the same config with the same words and path (it cannot see other
  // databases, so it skips the lookup table's database check).
  if (key_path.find(".table.database") != std::string::npos) {
    return;
  }
  try {
    make_resolver(*config.find("orders"));
    FAIL("make_resolver accepted it");
  } catch (const ConfigError& error) {
    CHECK(std::string(error.what()) == issues[0].message);
    CHECK(error.where() == key_path);
  }
}

const std::string k_resolver = "databases.orders.sharding.resolver";

} // namespace

TEST_CASE("shard::lint") {
  SUBCASE("a good config has no issues") {
    CHECK(lint(sharded_config(R"({"type": "consistent_hash", "virtual_nodes": 64})")).empty());
    CHECK(lint(sharded_config(R"({"type": "hash"})",
                              {R"("key_range": "-80")", R"("key_range": "80-c0")", R"("key_range": "c0-")"}))
              .empty());
    CHECK_NOTHROW(validate(sharded_config(R"({"type": "modulo"})")));
  }
  SUBCASE("unknown resolver type, with did-you-mean") {
    check_issue(sharded_config(R"({"type": "consistant_hash"})"), k_resolver + ".type",
                "unknown resolver type 'consistant_hash'", "did you mean 'consistent_hash'?");
    check_issue(sharded_config(R"({"type": "zzz"})"), k_resolver + ".type", "unknown resolver type 'zzz'",
                "one of modulo, hash, range, lookup, consistent_hash");
  }
  SUBCASE("unknown resolver parameters, with did-you-mean") {
    check_issue(sharded_config(R"({"type": "consistent_hash", "virtual_node": 10})"), k_resolver + ".virtual_node",
                "unknown parameter 'virtual_node' for the consistent_hash resolver", "did you mean 'virtual_nodes'?");
    check_issue(sharded_config(R"({"type": "modulo", "shards": 4})"), k_resolver + ".shards",
                "unknown parameter 'shards' for the modulo resolver", "the modulo resolver takes no parameters");
    const auto issues =
        lint(sharded_config(R"({"type": "range", "default": "s0", "ranges": [{"shard": "s1", "fron": 1, "to": 5}]})"));
    REQUIRE(issues.size() == 2);
    CHECK(issues[0].key_path == k_resolver + ".ranges[0].fron");
    CHECK(issues[0].message == "unknown parameter 'fron' for a range");
    CHECK(issues[0].hint == "did you mean 'from'?");
    CHECK(issues[1].key_path == k_resolver + ".ranges[0].from");
  }
  SUBCASE("range gaps and overlaps") {
    check_issue(sharded_config(R"({"type": "range", "ranges": [{"shard": "s0", "from": null, "to": 100},
                                   {"shard": "s1", "from": 200, "to": null}]})"),
                k_resolver + ".ranges[1].from", "keys from 100 to 200 (exclusive) belong to no shard");
    check_issue(sharded_config(R"({"type": "range", "ranges": [{"shard": "s0", "from": null, "to": 100},
                                   {"shard": "s1", "from": 50, "to": null}]})"),
                k_resolver + ".ranges[1].from", "ranges[1] [50, null) overlaps ranges[0] [null, 100)");
    check_issue(sharded_config(R"({"type": "range", "ranges": [{"shard": "s0", "from": 0, "to": null}]})"),
                k_resolver + ".ranges[0].from", "keys below 0 belong to no shard");
    check_issue(sharded_config(R"({"type": "range", "ranges": [{"shard": "s0", "from": null, "to": 10}]})"),
                k_resolver + ".ranges[0].to", "keys from 10 up belong to no shard");
    check_issue(sharded_config(R"({"type": "range", "default": "s2", "ranges": [{"shard": "s0", "from": 0, "to": 10},
                                   {"shard": "s1", "from": 5, "to": 20}]})"),
                k_resolver + ".ranges[1].from", "overlaps", "a key must belong to exactly one range");
    check_issue(
        sharded_config(R"({"type": "range", "default": "s2", "ranges": [{"shard": "s0", "from": 10, "to": 10}]})"),
        k_resolver + ".ranges[0].to", "ranges[0] [10, 10) is empty");
    check_issue(
        sharded_config(R"({"type": "range", "default": "s2", "ranges": [{"shard": "s0", "from": "a", "to": 10}]})"),
        k_resolver + ".ranges[0].from", "must be an integer");
    check_issue(sharded_config(R"({"type": "range", "default": "s2", "ranges": [{"shard": "s0", "to": 10}]})"),
                k_resolver + ".ranges[0].from", "is missing", "use null for an open end");
    check_issue(sharded_config(R"({"type": "range"})"), k_resolver + ".ranges", "the range resolver needs \"ranges\"");
  }
  SUBCASE("a default covers range gaps") {
    CHECK(lint(sharded_config(R"({"type": "range", "default": "s2", "ranges": [{"shard": "s0", "from": 0, "to": 10},
                                  {"shard": "s1", "from": 20, "to": 30}]})"))
              .empty());
  }
  SUBCASE("key ranges must cover the keyspace, not overlap, and be hex") {
    check_issue(sharded_config(R"({"type": "hash"})",
                               {R"("key_range": "-40")", R"("key_range": "80-c0")", R"("key_range": "c0-")"}),
                "databases.orders.shards[1].key_range", "key ranges leave keyspace ids '40-80' to no shard");
    check_issue(sharded_config(R"({"type": "hash"})",
                               {R"("key_range": "-80")", R"("key_range": "40-c0")", R"("key_range": "c0-")"}),
                "databases.orders.shards[1].key_range", "key_range '40-c0' (shard 's1') overlaps '-80' (shard 's0')");
    check_issue(sharded_config(R"({"type": "hash"})",
                               {R"("key_range": "-40")", R"("key_range": "40-80")", R"("key_range": "80-c0")"}),
                "databases.orders.shards[2].key_range", "key ranges leave keyspace ids 'c0-' to no shard");
    check_issue(sharded_config(R"({"type": "hash"})",
                               {R"("key_range": "-80")", R"("key_range": "80-8g")", R"("key_range": "c0-")"}),
                "databases.orders.shards[1].key_range", "malformed key_range '80-8g' of shard 's1': '8g' is not hex");
    const auto issues =
        lint(sharded_config(R"({"type": "hash"})", {R"("key_range": "-8")", "", R"("key_range": "8-")"}));
    REQUIRE(issues.size() == 3);
    CHECK(issues[0].message.find("odd number of hex digits") != std::string::npos);
    CHECK(issues[1].key_path == "databases.orders.shards[1].key_range");
    CHECK(issues[1].message == "shard 's1' has no key_range but other shards have one");
  }
  SUBCASE("a lookup or range naming an unknown shard") {
    check_issue(sharded_config(R"({"type": "lookup", "map": {"acme": "s0", "globex": "west"}})"),
                k_resolver + ".map.globex", "unknown shard 'west' in " + k_resolver + ".map.globex",
                "the shards of orders are s0, s1, s2");
    check_issue(sharded_config(R"({"type": "lookup", "map": {"a b": "S1"}})"), k_resolver + ".map[\"a b\"]",
                "unknown shard 'S1'", "did you mean 's1'?");
    check_issue(sharded_config(R"({"type": "range", "ranges": [{"shard": "s0", "from": null, "to": 0},
                                   {"shard": "shard1", "from": 0, "to": null}]})"),
                k_resolver + ".ranges[1].shard", "unknown shard 'shard1'");
    check_issue(sharded_config(R"({"type": "lookup", "map": {"acme": "s0"}, "default": "s3"})"),
                k_resolver + ".default", "unknown shard 's3'");
    check_issue(sharded_config(R"({"type": "lookup"})"), k_resolver,
                "the lookup resolver needs \"map\" and/or \"table\"");
  }
  SUBCASE("a lookup table in an unknown or sharded database") {
    const auto table = [](const std::string& database) {
      return R"({"type": "lookup", "table": {"database": ")" + database +
             R"(", "name": "t", "key_column": "k", "shard_column": "s"}})";
    };
    check_issue(sharded_config(table("primry")), k_resolver + ".table.database",
                "lookup table database 'primry' is not configured", "did you mean 'primary'?");
    check_issue(sharded_config(table("orders")), k_resolver + ".table.database",
                "lookup table database 'orders' is sharded");
    check_issue(
        sharded_config(R"({"type": "lookup", "table": {"database": "primary", "name": "t", "key_column": "k"}})"),
        k_resolver + ".table.shard_column", "needs 'shard_column'");
    CHECK(lint(sharded_config(table("primary"))).empty());
  }
  SUBCASE("weights <= 0") {
    auto config = sharded_config(R"({"type": "consistent_hash"})");
    config.databases[1].shards[1].weight = 0;
    check_issue(config, "databases.orders.shards[1].weight", "shard 's1' has weight 0; a weight must be at least 1");
    config.databases[1].shards[1].weight = -3;
    check_issue(config, "databases.orders.shards[1].weight", "has weight -3");
  }
  SUBCASE("virtual_nodes out of bounds") {
    check_issue(sharded_config(R"({"type": "consistent_hash", "virtual_nodes": 0})"), k_resolver + ".virtual_nodes",
                "virtual_nodes must be between 1 and 10000, got 0");
    check_issue(sharded_config(R"({"type": "consistent_hash", "virtual_nodes": 10001})"), k_resolver + ".virtual_nodes",
                "got 10001");
    check_issue(sharded_config(R"({"type": "consistent_hash", "virtual_nodes": "many"})"),
                k_resolver + ".virtual_nodes", "must be an integer");
    check_issue(sharded_config(R"({"type": "consistent_hash", "virtual_nodes": 10000})",
                               {R"("weight": 100)", R"("weight": 1)", R"("weight": 1)"}),
                k_resolver + ".virtual_nodes", "the ring would hold 1020000 points");
  }
  SUBCASE("key_range belongs to the hash resolver only") {
    check_issue(sharded_config(R"({"type": "modulo"})", {R"("key_range": "-80")"}),
                "databases.orders.shards[0].key_range",
                "shard 's0' has a key_range, which only the hash resolver uses");
    check_issue(sharded_config(R"({"type": "consistent_hash"})", {"", "", R"("key_range": "80-")"}),
                "databases.orders.shards[2].key_range", "not consistent_hash");
  }
  SUBCASE("modulo, range and lookup need one key column") {
    check_issue(sharded_config(R"({"type": "modulo"})", {}, R"(["tenant_id", "user_id"])"),
                "databases.orders.sharding.key",
                "the modulo resolver needs one integer key column; sharding.key names 2 (tenant_id, user_id)");
    check_issue(sharded_config(R"({"type": "range", "default": "s0", "ranges": []})", {}, R"(["a", "b"])"),
                "databases.orders.sharding.key", "the range resolver needs one integer key column");
    check_issue(sharded_config(R"({"type": "lookup", "map": {}})", {}, R"(["a", "b"])"),
                "databases.orders.sharding.key", "the lookup resolver needs one key column");
    check_issue(sharded_config(R"({"type": "hash"})", {}, R"(["a", "a"])"), "databases.orders.sharding.key[1]",
                "shard key column 'a' is listed twice");
    CHECK(lint(sharded_config(R"({"type": "hash"})", {}, R"(["a", "b"])")).empty());
  }
  SUBCASE("lint reports every issue at once") {
    const auto issues = lint(sharded_config(
        R"({"type": "range", "defualt": "s0", "ranges": [{"shard": "x", "from": null, "to": 5}, {"shard": "s1", "from": 9, "to": null}]})"));
    REQUIRE(issues.size() == 2);
    CHECK(issues[0].key_path == k_resolver + ".defualt");
    CHECK(issues[1].key_path == k_resolver + ".ranges[0].shard");
  }
  SUBCASE("validate names the file, like the config loader") {
    try {
      validate(sharded_config(R"({"type": "modulo", "virtual_nodes": 3})"));
      FAIL("no error");
    } catch (const ConfigError& error) {
      CHECK(error.where() == "grant.json: " + k_resolver + ".virtual_nodes");
      CHECK(error.exit_code() == 2);
    }
  }
  SUBCASE("a sharded database without sharding lints clean but cannot resolve") {
    const auto config =
        config::parse(R"({"databases": {"orders": {"shards": [{"name": "s0", "url": "postgres://h/o"}]}}})",
                      "grant.json", [](const std::string&) { return std::nullopt; });
    CHECK(lint(config).empty());
    CHECK_THROWS_WITH_AS(make_resolver(config.databases[0]),
                         "database 'orders' has shards but no sharding config, so keys cannot be resolved",
                         ConfigError);
    const auto primary = sharded_config(R"({"type": "modulo"})");
    CHECK_THROWS_WITH_AS(make_resolver(*primary.find("primary")), "database 'primary' is not sharded", ConfigError);
  }
}

} // namespace grant_test_shard_lint_test
