#include <grant/config/load.hpp>
#include <grant/shard/key_table.hpp>
#include <grant/shard/resolver.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_shard_lookup_test {

using namespace grant;
using namespace grant::shard;

namespace {

config::Database lookup_db(const std::string& resolver, int shards = 3) {
  std::string text = R"({"databases": {"orders": {"shards": [)";
  for (int i = 0; i < shards; ++i) {
    text += std::string(i > 0 ? "," : "") + R"({"name": "s)" + std::to_string(i) + R"(", "url": "postgres://h/o"})";
  }
  text += R"(], "sharding": {"key": "tenant_id", "resolver": )" + resolver + "}}}}";
  return config::parse(text, "grant.json", [](const std::string&) { return std::nullopt; }).databases.at(0);
}

const std::string k_table =
    R"("table": {"database": "primary", "name": "tenant_shards", "key_column": "tenant_id", "shard_column": "shard"})";

std::string name_of(const Resolver& resolver, std::string_view text) {
  return resolver.resolve_name(Key::from_text({text}));
}

} // namespace

TEST_CASE("shard::lookup_resolver") {
  SUBCASE("a static map; keys typed like every other key") {
    const auto resolver = make_resolver(
        lookup_db(R"({"type": "lookup", "map": {"acme": "s0", "globex": "s2", "42": "s1", "007": "s2"}})"));
    CHECK(name_of(*resolver, "acme") == "s0");
    CHECK(name_of(*resolver, "globex") == "s2");
    CHECK(name_of(*resolver, "42") == "s1");
    CHECK(resolver->resolve_name(Key::from_integer(42)) == "s1");
    CHECK(name_of(*resolver, "007") == "s2");
    CHECK_THROWS_AS(resolver->resolve(Key::from_integer(7)), KeyError);
  }
  SUBCASE("a miss without default is a check error, never a broadcast") {
    const auto resolver = make_resolver(lookup_db(R"({"type": "lookup", "map": {"acme": "s0"}})"));
    try {
      resolver->resolve(Key::from_text({"initech"}));
      FAIL("no error");
    } catch (const KeyError& error) {
      CHECK(error.problem() == KeyProblem::no_shard);
      CHECK(error.kind() == ErrorKind::check);
      CHECK(std::string(error.what()) == "no shard owns key 'initech' (database 'orders', lookup resolver)");
      CHECK(error.hint() == "add it to resolver.map, or set resolver.default");
    }
  }
  SUBCASE("a miss with default goes to the default") {
    const auto resolver = make_resolver(lookup_db(R"({"type": "lookup", "map": {"acme": "s0"}, "default": "s1"})"));
    CHECK(name_of(*resolver, "initech") == "s1");
    CHECK(name_of(*resolver, "acme") == "s0");
  }
  SUBCASE("the table is read lazily, once, and the map wins over it") {
    int calls = 0;
    std::string asked_table;
    const LookupLoader loader = [&](const config::ResolverSettings& settings) {
      ++calls;
      asked_table = settings.params["table"]["name"].get<std::string>();
      return LookupRows{{"initech", "s2"}, {"17", "s1"}, {"acme", "s2"}};
    };
    const auto resolver =
        make_resolver(lookup_db(R"({"type": "lookup", "map": {"acme": "s0"}, )" + k_table + "}"), loader);
    CHECK(calls == 0);
    CHECK(name_of(*resolver, "acme") == "s0");
    CHECK(calls == 0);
    CHECK(name_of(*resolver, "initech") == "s2");
    CHECK(name_of(*resolver, "17") == "s1");
    CHECK(resolver->resolve_name(Key::from_integer(17)) == "s1");
    CHECK_THROWS_AS(name_of(*resolver, "umbrella"), KeyError);
    CHECK(calls == 1);
    CHECK(asked_table == "tenant_shards");
  }
  SUBCASE("concurrent first lookups read the table once") {
    std::atomic<int> calls = 0;
    const LookupLoader loader = [&](const config::ResolverSettings&) {
      ++calls;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return LookupRows{{"initech", "s2"}};
    };
    const auto resolver = make_resolver(lookup_db(R"({"type": "lookup", )" + k_table + "}"), loader);
    std::vector<std::thread> threads;
    std::atomic<int> right = 0;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] { right += name_of(*resolver, "initech") == "s2" ? 1 : 0; });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    CHECK(calls == 1);
    CHECK(right == 4);
  }
  SUBCASE("bad table rows are config errors") {
    const auto with_rows = [&](LookupRows rows) {
      return make_resolver(lookup_db(R"({"type": "lookup", )" + k_table + "}"),
                           [rows](const config::ResolverSettings&) { return rows; });
    };
    CHECK_THROWS_WITH_AS(name_of(*with_rows({{"acme", "s9"}}), "acme"),
                         "lookup table primary.tenant_shards maps key 'acme' to unknown shard 's9'", ConfigError);
    CHECK_THROWS_WITH_AS(name_of(*with_rows({{"42", "s0"}, {"42", "s1"}}), "42"),
                         "lookup table primary.tenant_shards maps key 42 to both 's0' and 's1'", ConfigError);
    CHECK_THROWS_AS(name_of(*with_rows({{"", "s0"}}), "acme"), ConfigError);
    CHECK(name_of(*with_rows({{"42", "s1"}, {"42", "s1"}}), "42") == "s1");
  }
  SUBCASE("a table without a loader says so") {
    const auto resolver = make_resolver(lookup_db(R"({"type": "lookup", )" + k_table + "}"));
    try {
      name_of(*resolver, "acme");
      FAIL("no error");
    } catch (const Error& error) {
      CHECK(error.kind() == ErrorKind::usage);
      CHECK(std::string(error.what()).find("no database access") != std::string::npos);
    }
  }
  SUBCASE("property: every key on the shard its map entry names") {
    std::string map;
    for (int i = 0; i < 1000; ++i) {
      map += std::string(i > 0 ? ", " : "") + "\"t" + std::to_string(i) + "\": \"s" + std::to_string(i % 3) + "\"";
      map += ", \"" + std::to_string(i * 7919 - 3000) + "\": \"s" + std::to_string((i + 1) % 3) + "\"";
    }
    const auto first = make_resolver(lookup_db(R"({"type": "lookup", "map": {)" + map + "}}"));
    for (int i = 0; i < 1000; ++i) {
      const auto text_key = Key::from_string("t" + std::to_string(i));
      const auto int_key = Key::from_integer(i * 7919 - 3000);
      REQUIRE(first->resolve(text_key) == static_cast<std::size_t>(i % 3));
      REQUIRE(first->resolve(int_key) == static_cast<std::size_t>((i + 1) % 3));
    }
  }
}

TEST_CASE("shard::key_table") {
  KeyTable table;
  CHECK(table.find(Key::from_integer(1).bytes()) == KeyTable::k_missing);
  for (std::int64_t i = 0; i < 100000; ++i) {
    REQUIRE(table.insert(Key::from_integer(i).bytes(), static_cast<std::size_t>(i % 7)) ==
            static_cast<std::size_t>(i % 7));
    REQUIRE(table.insert(Key::from_string(std::to_string(i)).bytes(), 3) == 3);
  }
  CHECK(table.size() == 200000);
  CHECK(table.insert(Key::from_integer(5).bytes(), 6) == 5); // first mapping wins, reported back
  for (std::int64_t i = 0; i < 100000; ++i) {
    REQUIRE(table.find(Key::from_integer(i).bytes()) == static_cast<std::size_t>(i % 7));
    REQUIRE(table.find(Key::from_string(std::to_string(i)).bytes()) == 3);
  }
  CHECK(table.find(Key::from_integer(100000).bytes()) == KeyTable::k_missing);
  CHECK(table.find(Key::from_text({"acme", "1"}).bytes()) == KeyTable::k_missing);
}

} // namespace grant_test_shard_lookup_test
