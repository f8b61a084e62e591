// The Misra-Gries sketch behind shard-check's "heaviest keys": the bounds it promises hold on
// streams shaped like real scans (all-distinct keys with a few hot ones, several shards merged).
// No server; it lives here beside the shard-check tests that read its output.
#include <grant/shard/heavy_hitters.hpp>
#include <grant/shard/key.hpp>

#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_shard_heavy_hitters_test {

using grant::shard::HeavyHitters;
using grant::shard::Key;

namespace {

std::string bytes_of(std::int64_t value) {
  return std::string(Key::from_integer(value).bytes());
}

// Every reported entry brackets the true count, and no key above rows/(capacity+1) is missing.
void check_bounds(const HeavyHitters& sketch, const std::map<std::string, std::uint64_t>& truth, std::uint64_t rows,
                  std::size_t capacity) {
  const auto top = sketch.top(truth.size());
  std::map<std::string, const HeavyHitters::Entry*> reported;
  for (const auto& entry : top) {
    reported[entry.bytes] = &entry;
    REQUIRE(truth.contains(entry.bytes));
    CHECK(entry.count <= truth.at(entry.bytes));
    CHECK(entry.count + entry.undercount >= truth.at(entry.bytes));
  }
  for (const auto& [bytes, count] : truth) {
    if (count > rows / (capacity + 1)) {
      CHECK(reported.contains(bytes));
    }
  }
  for (std::size_t i = 1; i < top.size(); ++i) {
    CHECK(top[i - 1].count >= top[i].count);
  }
}

} // namespace

TEST_CASE("shard::heavy_hitters") {
  SUBCASE("under capacity the counts are exact") {
    HeavyHitters sketch(8);
    for (int i = 0; i < 5; ++i) {
      for (int r = 0; r <= i; ++r) {
        sketch.add(bytes_of(i));
      }
    }
    const auto top = sketch.top(3);
    REQUIRE(top.size() == 3);
    CHECK(top[0].bytes == bytes_of(4));
    CHECK(top[0].count == 5);
    CHECK(top[0].undercount == 0);
    CHECK(top[2].bytes == bytes_of(2));
    CHECK(top[2].count == 3);
  }
  SUBCASE("all-distinct keys with hot ones, one sketch") {
    const std::size_t capacity = 64;
    HeavyHitters sketch(capacity);
    std::map<std::string, std::uint64_t> truth;
    std::mt19937_64 random(7);
    std::uint64_t rows = 0;
    for (std::int64_t i = 0; i < 200000; ++i) {
      // 1 row in 20 is one of three hot keys; the rest are all distinct.
      const auto value = random() % 20 == 0 ? -static_cast<std::int64_t>(random() % 3) - 1 : i;
      const auto bytes = bytes_of(value);
      sketch.add(bytes);
      ++truth[bytes];
      ++rows;
    }
    check_bounds(sketch, truth, rows, capacity);
    const auto top = sketch.top(3);
    REQUIRE(top.size() == 3);
    std::set<std::string> shown;
    for (const auto& entry : top) {
      shown.insert(grant::shard::describe_canonical(entry.bytes));
    }
    CHECK(shown == std::set<std::string>{"-1", "-2", "-3"});
  }
  SUBCASE("sketches of four shards merged") {
    const std::size_t capacity = 32;
    HeavyHitters merged(capacity);
    std::map<std::string, std::uint64_t> truth;
    std::uint64_t rows = 0;
    for (int shard = 0; shard < 4; ++shard) {
      HeavyHitters sketch(capacity);
      for (std::int64_t i = 0; i < 20000; ++i) {
        // Key 1000000 + shard is hot on its own shard; key 999 is warm on every shard.
        const auto value = i % 10 == 0 ? 1000000 + shard : i % 50 == 1 ? 999 : shard * 100000 + i;
        const auto bytes = bytes_of(value);
        sketch.add(bytes);
        ++truth[bytes];
        ++rows;
      }
      merged.merge(sketch);
    }
    check_bounds(merged, truth, rows, capacity);
    std::set<std::string> shown;
    for (const auto& entry : merged.top(4)) {
      shown.insert(grant::shard::describe_canonical(entry.bytes));
    }
    CHECK(shown == std::set<std::string>{"1000000", "1000001", "1000002", "1000003"});
  }
  SUBCASE("long string keys") {
    HeavyHitters sketch(4);
    const std::string long_key(300, 'x');
    for (int i = 0; i < 1000; ++i) {
      sketch.add(std::string(Key::from_string(i % 2 == 0 ? long_key : "k" + std::to_string(i)).bytes()));
    }
    const auto top = sketch.top(1);
    REQUIRE(top.size() == 1);
    CHECK(grant::shard::describe_canonical(top[0].bytes) == "'" + long_key + "'");
    CHECK(top[0].count <= 500);
    CHECK(top[0].count + top[0].undercount >= 500);
  }
}

} // namespace grant_test_shard_heavy_hitters_test
