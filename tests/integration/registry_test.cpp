// The registry over a real topology: a writer with its streaming replica and four shard servers.
#include <grant/config/load.hpp>
#include <grant/registry/registry.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_registry_test {

using namespace grant;
using grant::test::TempDir;

namespace {

std::string port_of(const std::string& name) {
  return test::server_env("GRANT_TEST_PG_" + name + "_PORT");
}

std::string server_port(registry::Pool& pool) {
  auto c = pool.checkout();
  return c->query("SELECT inet_server_port()").scalar().value_or("");
}

} // namespace

TEST_CASE("registry::registry") {
  TempDir dir;
  std::string shards;
  for (int i = 0; i < 4; ++i) {
    shards += std::string(i == 0 ? "" : ", ") + R"({"name": "s)" + std::to_string(i) + R"(", "url": ")" +
              test::fresh_database(test::shard_url(i), "registry") + R"(")" + (i == 1 ? R"(, "weight": 2)" : "") + "}";
  }
  const std::string text = R"({"databases": {
    "analytics": {"url": ")" +
                           test::fresh_database(test::writer_url(), "registry") +
                           R"(", "replicas": [{"name": "r1", "url": ")" + test::replica_url() +
                           R"("}], "pool": {"size": 2}},
    "orders": {"shards": [)" +
                           shards + R"(], "pool": {"size": 4, "max_idle": 1}}
  }})";
  const auto cfg = config::parse(text, dir / "grant.json", config::process_env());
  registry::Registry registry(cfg);

  SUBCASE("pools are created lazily, one per endpoint") {
    CHECK(registry.stats().empty());
    auto& writer = registry.writer("analytics");
    CHECK(&registry.writer("analytics") == &writer);
    CHECK(registry.stats().size() == 1);
    CHECK(registry.stats().count("analytics") == 1);
    CHECK(registry.stats().at("analytics").created == 0); // no connection until the first checkout
    CHECK(writer.options().max_size == 2);
    CHECK(registry.writer("orders", "s0").options().max_size == 4);
    CHECK(registry.writer("orders", "s0").options().max_idle == 1);
  }

  SUBCASE("the writer, its replica and every shard reach the right server") {
    CHECK(server_port(registry.writer("analytics")) == port_of("WRITER"));
    for (int i = 0; i < 4; ++i) {
      CAPTURE(i);
      CHECK(server_port(registry.writer("orders", "s" + std::to_string(i))) == port_of("SHARD" + std::to_string(i)));
    }
    const auto endpoints = registry::endpoints_of(*cfg.find("analytics"));
    REQUIRE(endpoints.size() == 2);
    CHECK(endpoints[1].role == registry::Role::reading);
    CHECK(endpoints[1].label() == "analytics/r1");
    auto replica = registry.checkout(endpoints[1]);
    CHECK(replica->in_recovery());
    CHECK(replica->target() == "analytics/r1");
    auto writer = registry.writer("analytics").checkout();
    CHECK_FALSE(writer->in_recovery());
    CHECK(registry.stats().size() == 6);
    CHECK(registry.stats().at("orders/s3").created == 1);
  }

  SUBCASE("writers_of keeps shard order and narrows to --shard") {
    const auto& orders = *cfg.find("orders");
    const auto all = registry::writers_of(orders);
    REQUIRE(all.size() == 4);
    CHECK(all[0].label() == "orders/s0");
    CHECK(all[3].label() == "orders/s3");
    CHECK(all[1].weight == 2);
    const auto some = registry::writers_of(orders, {"s3", "s1"});
    REQUIRE(some.size() == 2);
    CHECK(some[0].shard == "s1"); // config order, not argument order
    CHECK(some[1].shard == "s3");
  }

  SUBCASE("unknown names are configuration errors with a suggestion") {
    CHECK_THROWS_WITH_AS(registry.database("analytcs"), doctest::Contains("unknown database 'analytcs'"), ConfigError);
    try {
      registry.writer("analytcs");
      FAIL("an unknown database was accepted");
    } catch (const ConfigError& error) {
      CHECK(error.hint() == "did you mean 'analytics'?");
    }
    CHECK_THROWS_WITH_AS(registry.writer("orders", "s7x"), doctest::Contains("has no shard 's7x'"), ConfigError);
    CHECK_THROWS_WITH_AS(registry.writer("analytics", "s0"), doctest::Contains("not sharded"), ConfigError);
    CHECK(registry.stats().empty()); // a bad name opens nothing
  }

  SUBCASE("concurrent first use creates each pool once") {
    std::vector<std::thread> threads;
    std::vector<registry::Pool*> seen(16);
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&, t] {
        auto& pool = registry.writer("orders", "s" + std::to_string(t % 4));
        seen[static_cast<std::size_t>(t)] = &pool;
        auto c = pool.checkout();
        c->query("SELECT 1");
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    for (int t = 4; t < 16; ++t) {
      CHECK(seen[static_cast<std::size_t>(t)] == seen[static_cast<std::size_t>(t % 4)]);
    }
    CHECK(registry.stats().size() == 4);
    for (const auto& [name, stats] : registry.stats()) {
      const auto& label = name; // CAPTURE's lambda cannot name a structured binding under clang 14
      CAPTURE(label);
      CHECK(stats.checkouts == 4);
      CHECK(stats.in_use == 0);
      CHECK(stats.idle == 1); // max_idle
    }
  }

  SUBCASE("select_databases keeps config order") {
    const auto all = registry::select_databases(cfg, {});
    REQUIRE(all.size() == 2);
    CHECK(all[0]->name == "analytics");
    const auto one = registry::select_databases(cfg, {"orders"});
    REQUIRE(one.size() == 1);
    CHECK(one[0]->name == "orders");
  }
}

} // namespace grant_test_registry_test
