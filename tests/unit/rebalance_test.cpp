// What grant rebalance refuses from the two configs alone, before it connects to anything (the
// shard URLs point nowhere), and the text[] literals its triggers and fence compare.
#include <grant/config/load.hpp>
#include <grant/error.hpp>
#include <grant/rebalance/rebalance.hpp>
#include <grant/rebalance/work.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_rebalance_test {

using namespace grant;

namespace {

// `orders` with the named shards (postgres:// unless `sqlite`), the key and tables given.
config::Config orders(const std::vector<std::string>& shards, const std::string& key = R"("user_id")",
                      const std::string& tables = R"(["orders", "order_items"])", bool sqlite = false) {
  std::string text = R"({"databases": {"primary": {"url": "postgres://h/p"}, "orders": {"shards": [)";
  for (std::size_t i = 0; i < shards.size(); ++i) {
    text += std::string(i > 0 ? "," : "") + R"({"name": ")" + shards[i] + R"(", "url": ")" +
            (sqlite ? "sqlite3:" + shards[i] + ".db" : "postgres://h:1/" + shards[i]) + R"("})";
  }
  text += R"(], "sharding": {"key": )" + key + R"(, "tables": )" + tables +
          R"(, "resolver": {"type": "consistent_hash"}}}}})";
  return config::parse(text, "grant.json", [](const std::string&) { return std::nullopt; });
}

// The ConfigError the constructor throws, or an empty string when it accepts.
std::string refusal(const config::Config& source, const config::Config& target,
                    const std::string& database = "orders") {
  try {
    rebalance::Rebalancer rebalancer(source, target, database);
    return {};
  } catch (const ConfigError& error) {
    return std::string(error.what()) + " | " + error.where() + " | " + error.hint();
  }
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("rebalance::Rebalancer refuses bad targets before connecting") {
  const auto current = orders({"s0", "s1"});
  SUBCASE("adding, draining and reweighting shards is accepted") {
    CHECK(refusal(current, orders({"s0", "s1", "s2"})).empty());
    CHECK(refusal(current, orders({"s1"})).empty());
    CHECK(refusal(orders({"s0", "s1", "s2"}), orders({"s2", "s3"})).empty());
  }
  SUBCASE("a target that changes the shard key") {
    const auto why = refusal(current, orders({"s0", "s1", "s2"}, R"(["tenant", "user_id"])"));
    CHECK_MESSAGE(has(why, "changes the shard key of orders from (user_id) to (tenant, user_id)"), why);
    CHECK(has(why, "databases.orders.sharding"));
  }
  SUBCASE("a target with other sharded tables") {
    const auto why = refusal(current, orders({"s0", "s1", "s2"}, R"("user_id")", R"(["orders"])"));
    CHECK_MESSAGE(has(why, "other sharded tables"), why);
  }
  SUBCASE("a database missing from the target, or not sharded") {
    const auto why = refusal(current, current, "analytics");
    CHECK_MESSAGE((has(why, "analytics") && has(why, "is not in the current config")), why);
    CHECK(has(refusal(current, current, "primary"), "is not sharded in the current config"));
  }
  SUBCASE("SQLite shards") {
    const auto why = refusal(orders({"s0", "s1"}, R"("user_id")", R"(["orders"])", true),
                             orders({"s0", "s1", "s2"}, R"("user_id")", R"(["orders"])", true));
    CHECK_MESSAGE(has(why, "is SQLite: rebalance needs PostgreSQL shards"), why);
    CHECK(has(why, "databases.orders.shards[0]"));
  }
}

TEST_CASE("rebalance::text_array_literal quotes every part") {
  using rebalance::text_array_literal;
  CHECK(text_array_literal({"42"}) == R"({"42"})");
  CHECK(text_array_literal({"acme", "7"}) == R"({"acme","7"})");
  CHECK(text_array_literal({R"(a"b\c)", "x,y}"}) == R"({"a\"b\\c","x,y}"})");
  const std::vector<db::Value> values{std::string("1"), std::nullopt};
  const auto views = rebalance::value_views(values);
  REQUIRE(views.size() == 2);
  CHECK(views[0] == "1");
  CHECK(views[1].data() == nullptr);
}

TEST_CASE("rebalance::phase names") {
  CHECK(rebalance::phase_name(rebalance::Phase::copying) == "copying");
  CHECK(rebalance::parse_phase("cut_over") == rebalance::Phase::cut_over);
  CHECK(rebalance::parse_phase("nonsense") == rebalance::Phase::none);
}

} // namespace grant_test_rebalance_test
