#include <grant/config/load.hpp>
#include <grant/shard/resolver.hpp>

#include "support/placement_oracle.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_shard_consistent_hash_test {

using namespace grant;
using namespace grant::shard;
namespace oracle = grant::test::oracle;

namespace {

struct ShardSpec {
  std::string name;
  int weight = 1;
};

config::Database ring_db(const std::vector<ShardSpec>& shards, const std::string& params = "") {
  std::string text = R"({"databases": {"orders": {"shards": [)";
  for (std::size_t i = 0; i < shards.size(); ++i) {
    text += std::string(i > 0 ? "," : "") + R"({"name": ")" + shards[i].name +
            R"(", "url": "postgres://h/o", "weight": )" + std::to_string(shards[i].weight) + "}";
  }
  text +=
      R"(], "sharding": {"key": ["tenant_id", "user_id"], "resolver": {"type": "consistent_hash")" + params + "}}}}}";
  return config::parse(text, "grant.json", [](const std::string&) { return std::nullopt; }).databases.at(0);
}

std::vector<ShardSpec> named(std::size_t count) {
  std::vector<ShardSpec> shards;
  for (std::size_t i = 0; i < count; ++i) {
    shards.push_back({"s" + std::to_string(i)});
  }
  return shards;
}

std::vector<Key> generated_keys(std::size_t count) {
  std::mt19937_64 random(11);
  std::vector<Key> keys;
  for (std::size_t i = 0; i < count; ++i) {
    Key key;
    if (i % 2 == 0) {
      key.add_string("tenant-" + std::to_string(random() % 5000));
    } else {
      key.add_integer(static_cast<std::int64_t>(random() % 5000));
    }
    key.add_integer(static_cast<std::int64_t>(random()));
    keys.push_back(std::move(key));
  }
  return keys;
}

std::vector<std::string> assign(const Resolver& resolver, const std::vector<Key>& keys) {
  std::vector<std::string> names;
  names.reserve(keys.size());
  for (const auto& key : keys) {
    names.push_back(resolver.resolve_name(key));
  }
  return names;
}

} // namespace

TEST_CASE("shard::consistent_hash_resolver") {
  const auto keys = generated_keys(40000);

  SUBCASE("every key on a configured shard") {
    const auto resolver = make_resolver(ring_db(named(5)));
    for (const auto& key : keys) {
      REQUIRE(resolver->resolve(key) < 5);
    }
  }
  SUBCASE("agrees with the documented ring, computed independently (tests/support/placement_oracle)") {
    const auto resolver = make_resolver(ring_db({{"s0", 1}, {"s1", 3}, {"eu-2", 2}, {"42", 1}}));
    const oracle::Ring ring({{"s0", 1}, {"s1", 3}, {"eu-2", 2}, {"42", 1}}, 160);
    for (int i = 0; i < 3000; ++i) {
      const oracle::KeyParts parts{i % 2 == 0 ? "tenant-" + std::to_string(i) : std::to_string(i * 31 - 500),
                                   std::to_string(i * 7919)};
      CAPTURE(parts[0]);
      REQUIRE(resolver->resolve(Key::from_text({parts[0], parts[1]})) == static_cast<std::size_t>(ring.owner(parts)));
    }
  }
  SUBCASE("known keys land on known shards (stable across releases)") {
    const auto resolver = make_resolver(ring_db(named(4)));
    CHECK(resolver->resolve_name(Key::from_text({"acme", "42"})) == "s2");
    CHECK(resolver->resolve_name(Key::from_text({"7", "-1"})) == "s1");
  }
  SUBCASE("the ring depends on shard names, not their order") {
    auto shards = named(6);
    const auto before = assign(*make_resolver(ring_db(shards)), keys);
    std::reverse(shards.begin(), shards.end());
    CHECK(assign(*make_resolver(ring_db(shards)), keys) == before);
  }
  SUBCASE("adding a shard to N moves about 1/(N+1) of keys, all onto the new shard") {
    for (std::size_t n = 4; n <= 16; ++n) {
      CAPTURE(n);
      auto shards = named(n);
      const auto before = assign(*make_resolver(ring_db(shards)), keys);
      shards.insert(shards.begin() + static_cast<std::ptrdiff_t>(n / 2), ShardSpec{"new"}); // position is irrelevant
      const auto after = assign(*make_resolver(ring_db(shards)), keys);
      std::size_t moved = 0;
      for (std::size_t i = 0; i < keys.size(); ++i) {
        if (before[i] != after[i]) {
          ++moved;
          REQUIRE(after[i] == "new");
        }
      }
      const double fraction = static_cast<double>(moved) / static_cast<double>(keys.size());
      const double expected = 1.0 / static_cast<double>(n + 1);
      CHECK(fraction > expected * 0.7);
      CHECK(fraction < expected * 1.3);
    }
  }
  SUBCASE("removing a shard moves only its keys") {
    auto shards = named(8);
    const auto before = assign(*make_resolver(ring_db(shards)), keys);
    shards.erase(shards.begin() + 3);
    const auto after = assign(*make_resolver(ring_db(shards)), keys);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (before[i] != "s3") {
        REQUIRE(after[i] == before[i]);
      }
    }
  }
  SUBCASE("weights are respected") {
    const auto resolver = make_resolver(ring_db({{"s0", 2}, {"s1", 1}, {"s2", 1}, {"s3", 4}}));
    std::vector<double> counts(4);
    for (const auto& key : keys) {
      ++counts[resolver->resolve(key)];
    }
    CHECK(counts[0] / counts[1] > 1.6);
    CHECK(counts[0] / counts[1] < 2.4);
    CHECK(counts[0] / counts[2] > 1.6);
    CHECK(counts[0] / counts[2] < 2.4);
    CHECK(counts[3] / (counts[1] + counts[2]) > 1.6);
    CHECK(counts[3] / (counts[1] + counts[2]) < 2.4);
  }
  SUBCASE("160 virtual nodes spread keys within a few percent of even") {
    const auto resolver = make_resolver(ring_db(named(8)));
    std::vector<double> counts(8);
    for (const auto& key : keys) {
      ++counts[resolver->resolve(key)];
    }
    for (const double count : counts) {
      CHECK(count > 5000 * 0.8);
      CHECK(count < 5000 * 1.2);
    }
  }
  SUBCASE("virtual_nodes changes the ring") {
    const auto few = make_resolver(ring_db(named(4), R"(, "virtual_nodes": 1)"));
    const auto many = make_resolver(ring_db(named(4), R"(, "virtual_nodes": 10000)"));
    std::size_t differ = 0;
    for (std::size_t i = 0; i < 2000; ++i) {
      REQUIRE(few->resolve(keys[i]) < 4);
      differ += few->resolve(keys[i]) != many->resolve(keys[i]) ? 1 : 0;
    }
    CHECK(differ > 0);
  }
}

} // namespace grant_test_shard_consistent_hash_test
