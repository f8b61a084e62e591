// Reads through route::Router without a health monitor (the breakers alone decide): a replica
// serves them, weights share them, and without replicas the writer does.
#include <grant/config/load.hpp>
#include <grant/registry/registry.hpp>
#include <grant/route/router.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

#include <map>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_reads_test {

using namespace grant;
using registry::Role;

namespace {

config::Config parse_config(const std::string& json, const test::TempDir& dir) {
  const auto file = dir.write("grant.json", json);
  return config::parse(json, file, config::process_env());
}

} // namespace

TEST_CASE("route::Router reads") {
  test::TempDir dir;
  SUBCASE("reads go to the replica, which is in recovery; writes to the writer") {
    const auto config = parse_config(R"({"databases": {"analytics": {
      "url": ")" + test::writer_url() + R"(",
      "replicas": [{"name": "r1", "url": ")" +
                                         test::replica_url() + R"("}]}}})",
                                     dir);
    registry::Registry registry(config);
    route::Router router(registry);
    router.with_connection("analytics", Role::reading, {}, [](route::Session& session) {
      CHECK(session.query("SELECT pg_is_in_recovery()").scalar() == db::Value{"t"});
      CHECK(session.endpoint().label() == "analytics/r1");
    });
    router.with_connection("analytics", Role::writing, {}, [](route::Session& session) {
      CHECK(session.query("SELECT pg_is_in_recovery()").scalar() == db::Value{"f"});
    });
  }
  SUBCASE("weights share the reads: weight 3 gets three of every four") {
    const auto config = parse_config(R"({"databases": {"analytics": {
      "url": ")" + test::writer_url() + R"(",
      "replicas": [{"name": "heavy", "url": ")" +
                                         test::replica_url() + R"(", "weight": 3},
                   {"name": "light", "url": ")" +
                                         test::replica_url() + R"(", "weight": 1}]}}})",
                                     dir);
    registry::Registry registry(config);
    route::Router router(registry);
    std::map<std::string, int> picks;
    for (int i = 0; i < 400; ++i) {
      router.with_connection("analytics", Role::reading, {},
                             [&](route::Session& session) { ++picks[session.endpoint().label()]; });
    }
    CHECK(picks["analytics/heavy"] == 300);
    CHECK(picks["analytics/light"] == 100);
  }
  SUBCASE("without replicas the writer serves reads") {
    const auto config = parse_config(R"({"databases": {"primary": {"url": "sqlite3:p.sqlite3"}}})", dir);
    registry::Registry registry(config);
    route::Router router(registry);
    router.with_connection("primary", Role::reading, {}, [](route::Session& session) {
      CHECK(session.endpoint().label() == "primary");
      CHECK(session.fallback() == route::Fallback::no_replicas);
    });
  }
}

} // namespace grant_test_route_reads_test
