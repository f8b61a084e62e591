#include <grant/config/load.hpp>
#include <grant/shard/key_range.hpp>
#include <grant/shard/resolver.hpp>

#include "support/placement_oracle.hpp"

#include <doctest/doctest.h>

#include <map>
#include <random>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_shard_hash_test {

using namespace grant;
using namespace grant::shard;
namespace oracle = grant::test::oracle;

namespace {

// Shards s0..s(n-1), with the given key ranges (empty: none).
config::Database hash_db(std::size_t shards, const std::vector<std::string>& ranges = {},
                         const std::string& key = "\"user_id\"") {
  std::string text = R"({"databases": {"orders": {"shards": [)";
  for (std::size_t i = 0; i < shards; ++i) {
    text += std::string(i > 0 ? "," : "") + R"({"name": "s)" + std::to_string(i) + R"(", "url": "postgres://h/o")" +
            (i < ranges.size() ? R"(, "key_range": ")" + ranges[i] + "\"" : "") + "}";
  }
  text += R"(], "sharding": {"key": )" + key + R"(, "resolver": {"type": "hash"}}}}})";
  return config::parse(text, "grant.json", [](const std::string&) { return std::nullopt; }).databases.at(0);
}

std::vector<Key> generated_keys(std::size_t count) {
  std::mt19937_64 random(42);
  std::vector<Key> keys;
  for (std::size_t i = 0; i < count; ++i) {
    switch (i % 3) {
    case 0:
      keys.push_back(Key::from_integer(static_cast<std::int64_t>(random())));
      break;
    case 1:
      keys.push_back(Key::from_string("tenant-" + std::to_string(random() % 1000000)));
      break;
    default:
      keys.push_back(Key::from_integer(static_cast<std::int64_t>(i)));
      break;
    }
  }
  return keys;
}

KeyRange parsed(const std::string& text) {
  std::string error;
  return *parse_key_range(text, error);
}

} // namespace

TEST_CASE("shard::hash_resolver") {
  const auto keys = generated_keys(30000);

  SUBCASE("even split: keyspace ids fall in the Vitess range of their shard") {
    for (const std::size_t shards : {1, 2, 3, 4, 7, 64, 98}) {
      CAPTURE(shards);
      const auto resolver = make_resolver(hash_db(shards));
      const auto ranges = even_key_ranges(shards);
      for (const auto& key : keys) {
        const auto index = resolver->resolve(key);
        REQUIRE(index < shards);
        REQUIRE(ranges[index].contains(key.keyspace_id()));
      }
    }
  }
  SUBCASE("even split spreads keys evenly") {
    const auto resolver = make_resolver(hash_db(8));
    std::vector<int> counts(8);
    for (const auto& key : keys) {
      ++counts[resolver->resolve(key)];
    }
    for (const int count : counts) {
      CHECK(count > 3750 * 0.9);
      CHECK(count < 3750 * 1.1);
    }
  }
  SUBCASE("explicit ranges equal to the even split resolve the same") {
    const auto even = make_resolver(hash_db(4));
    const auto explicit_ranges = make_resolver(hash_db(4, {"-40", "40-80", "80-c0", "c0-"}));
    for (const auto& key : keys) {
      REQUIRE(even->resolve(key) == explicit_ranges->resolve(key));
    }
  }
  SUBCASE("uneven explicit ranges, listed in any order") {
    const std::vector<std::string> ranges = {"a0-", "-20", "20-a0"};
    const auto resolver = make_resolver(hash_db(3, ranges));
    std::map<std::size_t, int> counts;
    for (const auto& key : keys) {
      const auto index = resolver->resolve(key);
      REQUIRE(parsed(ranges[index]).contains(key.keyspace_id()));
      ++counts[index];
    }
    CHECK(counts[1] < counts[0]); // -20 is 1/8 of the space, a0- is 3/8
    CHECK(counts[0] < counts[2]); // 20-a0 is 1/2
  }
  SUBCASE("a single shard owning everything") {
    const auto resolver = make_resolver(hash_db(1, {"-"}));
    for (std::size_t i = 0; i < 100; ++i) {
      CHECK(resolver->resolve(keys[i]) == 0);
    }
  }
  SUBCASE("known keys land on known shards (stable across releases)") {
    const auto resolver = make_resolver(hash_db(2));
    CHECK(resolver->resolve_name(Key::from_text({"42"})) == "s0");   // 7e1480456b8f3aa6
    CHECK(resolver->resolve_name(Key::from_text({"-1"})) == "s1");   // e4a42358fe73e0b6
    CHECK(resolver->resolve_name(Key::from_text({"acme"})) == "s0"); // 362e857d96efc3c9
  }
  SUBCASE("composite keys hash all their parts") {
    const auto resolver = make_resolver(hash_db(64, {}, R"(["tenant_id", "user_id"])"));
    const auto key = Key::from_text({"acme", "42"});
    CHECK(even_key_ranges(64)[resolver->resolve(key)].contains(key.keyspace_id()));
    CHECK_THROWS_AS(resolver->resolve(Key::from_text({"acme"})), KeyError);
  }
  SUBCASE("agrees with the documented rule, computed independently (tests/support/placement_oracle)") {
    const auto resolver = make_resolver(hash_db(4));
    const std::vector<std::uint64_t> quarters{0, 0x4000000000000000ULL, 0x8000000000000000ULL, 0xc000000000000000ULL};
    for (int i = 0; i < 3000; ++i) {
      for (const auto& part :
           {std::to_string(i * 7919 - 1000000), "tenant-" + std::to_string(i), "0" + std::to_string(i)}) {
        CAPTURE(part);
        REQUIRE(resolver->resolve(Key::from_text({part})) ==
                static_cast<std::size_t>(oracle::hash_owner({part}, quarters)));
      }
    }
  }
}

} // namespace grant_test_shard_hash_test
