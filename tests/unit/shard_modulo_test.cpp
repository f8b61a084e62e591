#include <grant/config/load.hpp>
#include <grant/shard/resolver.hpp>

#include <doctest/doctest.h>

#include <limits>
#include <random>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_shard_modulo_test {

using namespace grant;
using namespace grant::shard;

namespace {

__extension__ using Wide = __int128; // exact reference arithmetic, past int64

config::Database modulo_db(int shards, const std::string& key = "\"user_id\"") {
  std::string text = R"({"databases": {"orders": {"shards": [)";
  for (int i = 0; i < shards; ++i) {
    text += std::string(i > 0 ? "," : "") + R"({"name": "s)" + std::to_string(i) + R"(", "url": "postgres://h/o"})";
  }
  text += R"(], "sharding": {"key": )" + key + R"(, "resolver": {"type": "modulo"}}}}})";
  return config::parse(text, "grant.json", [](const std::string&) { return std::nullopt; }).databases.at(0);
}

} // namespace

TEST_CASE("shard::modulo_resolver") {
  const auto db = modulo_db(3);
  const auto resolver = make_resolver(db);
  const auto shard_of = [&](std::string_view text) { return resolver->resolve_name(Key::from_text({text})); };

  SUBCASE("shards[key mod N]") {
    CHECK(resolver->type() == "modulo");
    CHECK(shard_of("0") == "s0");
    CHECK(shard_of("1") == "s1");
    CHECK(shard_of("5") == "s2");
    CHECK(shard_of("3000000000") == "s0");
  }
  SUBCASE("negative keys use the non-negative remainder") {
    CHECK(shard_of("-1") == "s2");
    CHECK(shard_of("-3") == "s0");
    CHECK(shard_of("-9223372036854775808") == "s1"); // INT64_MIN = -3074457345618258602 * 3 - 2
    CHECK(shard_of("9223372036854775807") == "s1");
  }
  SUBCASE("a key that is not an integer is a usage error") {
    for (const char* text : {"acme", "007", "+1", "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"}) {
      CAPTURE(text);
      try {
        shard_of(text);
        FAIL("no error");
      } catch (const KeyError& error) {
        CHECK(error.problem() == KeyProblem::not_integer);
        CHECK(error.kind() == ErrorKind::usage);
        CHECK(std::string(error.what()).find("is not an integer") != std::string::npos);
      }
    }
  }
  SUBCASE("a key with the wrong number of parts") {
    CHECK_THROWS_WITH_AS(resolver->resolve(Key::from_text({"1", "2"})),
                         "key (1, 2) has 2 parts but databases.orders.sharding.key names 1 column (user_id)", KeyError);
    CHECK_THROWS_AS(resolver->resolve(Key()), KeyError);
  }
  SUBCASE("property: equal to the mathematical remainder, for integers and their text") {
    std::mt19937_64 random(7);
    for (const int shards : {1, 2, 3, 7, 64}) {
      const auto first = make_resolver(modulo_db(shards));
      for (int i = 0; i < 5000; ++i) {
        const auto value = static_cast<std::int64_t>(random());
        const auto key = Key::from_integer(value);
        const auto index = first->resolve(key);
        const auto expected = ((static_cast<Wide>(value) % shards) + shards) % shards;
        REQUIRE(index == static_cast<std::size_t>(expected));
        REQUIRE(first->resolve(Key::from_text({std::to_string(value)})) == index);
      }
    }
  }
}

} // namespace grant_test_shard_modulo_test
