#include <grant/config/load.hpp>
#include <grant/shard/resolver.hpp>

#include <doctest/doctest.h>

#include <limits>
#include <random>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_shard_range_test {

using namespace grant;
using namespace grant::shard;

namespace {

constexpr auto k_min = std::numeric_limits<std::int64_t>::min();
constexpr auto k_max = std::numeric_limits<std::int64_t>::max();

config::Database range_db(const std::string& resolver, int shards = 3) {
  std::string text = R"({"databases": {"orders": {"shards": [)";
  for (int i = 0; i < shards; ++i) {
    text += std::string(i > 0 ? "," : "") + R"({"name": "s)" + std::to_string(i) + R"(", "url": "postgres://h/o"})";
  }
  text += R"(], "sharding": {"key": "user_id", "resolver": )" + resolver + "}}}}";
  return config::parse(text, "grant.json", [](const std::string&) { return std::nullopt; }).databases.at(0);
}

std::string name_of(const Resolver& resolver, std::int64_t value) {
  return resolver.resolve_name(Key::from_integer(value));
}

} // namespace

TEST_CASE("shard::range_resolver") {
  SUBCASE("the contract example: open ends, from inclusive, to exclusive") {
    const auto resolver = make_resolver(range_db(
        R"({"type": "range", "ranges": [{"shard": "s0", "from": null, "to": 1000}, {"shard": "s1", "from": 1000, "to": null}]})"));
    CHECK(name_of(*resolver, k_min) == "s0");
    CHECK(name_of(*resolver, -1) == "s0");
    CHECK(name_of(*resolver, 999) == "s0");
    CHECK(name_of(*resolver, 1000) == "s1");
    CHECK(name_of(*resolver, k_max) == "s1");
    CHECK(resolver->resolve_name(Key::from_text({"1000"})) == "s1");
  }
  SUBCASE("ranges in any order, a shard owning several") {
    const auto resolver = make_resolver(range_db(R"({"type": "range", "ranges": [
        {"shard": "s2", "from": 100, "to": null}, {"shard": "s0", "from": null, "to": 0},
        {"shard": "s1", "from": 0, "to": 50}, {"shard": "s0", "from": 50, "to": 100}]})"));
    CHECK(name_of(*resolver, -1) == "s0");
    CHECK(name_of(*resolver, 0) == "s1");
    CHECK(name_of(*resolver, 49) == "s1");
    CHECK(name_of(*resolver, 50) == "s0");
    CHECK(name_of(*resolver, 99) == "s0");
    CHECK(name_of(*resolver, 100) == "s2");
  }
  SUBCASE("a default covers the gaps and both open ends") {
    const auto resolver = make_resolver(range_db(R"({"type": "range", "default": "s2", "ranges": [
        {"shard": "s0", "from": 0, "to": 10}, {"shard": "s1", "from": 20, "to": 30}]})"));
    CHECK(name_of(*resolver, k_min) == "s2");
    CHECK(name_of(*resolver, -1) == "s2");
    CHECK(name_of(*resolver, 0) == "s0");
    CHECK(name_of(*resolver, 9) == "s0");
    CHECK(name_of(*resolver, 10) == "s2");
    CHECK(name_of(*resolver, 19) == "s2");
    CHECK(name_of(*resolver, 20) == "s1");
    CHECK(name_of(*resolver, 29) == "s1");
    CHECK(name_of(*resolver, 30) == "s2");
    CHECK(name_of(*resolver, k_max) == "s2");
  }
  SUBCASE("bounds may be strings holding integers, as ${VAR} expands to") {
    const auto text = R"({"databases": {"orders": {"shards": [{"name": "s0", "url": "postgres://h/o"},
        {"name": "s1", "url": "postgres://h/o"}], "sharding": {"key": "id", "resolver": {"type": "range",
        "ranges": [{"shard": "s0", "from": null, "to": "${SPLIT}"}, {"shard": "s1", "from": "${SPLIT:-0}", "to": null}]}}}}})";
    const auto config = config::parse(text, "grant.json", [](const std::string& name) -> std::optional<std::string> {
      return name == "SPLIT" ? std::optional<std::string>("5000") : std::nullopt;
    });
    const auto resolver = make_resolver(config.databases.at(0));
    CHECK(name_of(*resolver, 4999) == "s0");
    CHECK(name_of(*resolver, 5000) == "s1");
  }
  SUBCASE("only a default") {
    const auto resolver = make_resolver(range_db(R"({"type": "range", "default": "s1", "ranges": []})"));
    CHECK(name_of(*resolver, 5) == "s1");
  }
  SUBCASE("bounds at the ends of int64") {
    const auto resolver = make_resolver(range_db(R"({"type": "range", "ranges": [
        {"shard": "s0", "from": -9223372036854775808, "to": 9223372036854775807},
        {"shard": "s1", "from": 9223372036854775807, "to": null}]})"));
    CHECK(name_of(*resolver, k_min) == "s0");
    CHECK(name_of(*resolver, k_max - 1) == "s0");
    CHECK(name_of(*resolver, k_max) == "s1");
  }
  SUBCASE("string keys are errors") {
    const auto resolver = make_resolver(range_db(R"({"type": "range", "default": "s0", "ranges": []})"));
    CHECK_THROWS_AS(resolver->resolve(Key::from_text({"acme"})), KeyError);
    CHECK_THROWS_AS(resolver->resolve(Key::from_string("5")), KeyError);
  }
  SUBCASE("property: every key lands in its range, boundaries exact") {
    struct Span {
      std::int64_t from;
      std::int64_t to;
      std::size_t shard;
    };
    const std::vector<Span> spans = {{-1000000, -5, 1}, {-5, 0, 2}, {0, 1, 0}, {1, 77777, 1}, {90000, 1000000, 2}};
    const auto resolver = make_resolver(range_db(R"({"type": "range", "default": "s0", "ranges": [
        {"shard": "s1", "from": -1000000, "to": -5}, {"shard": "s2", "from": -5, "to": 0},
        {"shard": "s0", "from": 0, "to": 1}, {"shard": "s1", "from": 1, "to": 77777},
        {"shard": "s2", "from": 90000, "to": 1000000}]})"));
    const auto expected = [&](std::int64_t value) {
      for (const auto& span : spans) {
        if (value >= span.from && value < span.to) {
          return span.shard;
        }
      }
      return std::size_t{0};
    };
    std::mt19937_64 random(3);
    std::vector<std::int64_t> values = {k_min, k_max};
    for (const auto& span : spans) {
      for (const std::int64_t delta : {-1, 0, 1}) {
        values.push_back(span.from + delta);
        values.push_back(span.to + delta);
      }
    }
    for (int i = 0; i < 20000; ++i) {
      values.push_back(static_cast<std::int64_t>(random() % 2200000) - 1100000);
    }
    for (const auto value : values) {
      CAPTURE(value);
      REQUIRE(resolver->resolve(Key::from_integer(value)) == expected(value));
    }
  }
}

} // namespace grant_test_shard_range_test
