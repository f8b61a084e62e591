#include <grant/config/load.hpp>
#include <grant/registry/registry.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

#include <map>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_registry_reader_test {

using namespace grant;

namespace {

config::Config parse_config(const std::string& json, const test::TempDir& dir) {
  const auto file = dir.write("grant.json", json);
  return config::parse(json, file, config::process_env());
}

} // namespace

TEST_CASE("registry::reader") {
  test::TempDir dir;
  SUBCASE("reads go to the replica, which is in recovery; writes to the writer") {
    const auto config = parse_config(R"({"databases": {"analytics": {
      "url": ")" + test::writer_url() + R"(",
      "replicas": [{"name": "r1", "url": ")" + test::replica_url() + R"("}]}}})",
                                     dir);
    registry::Registry registry(config);
    auto reader = registry.reader("analytics").checkout();
    CHECK(reader->in_recovery());
    CHECK(reader->target() == "analytics/r1");
    auto writer = registry.writer("analytics").checkout();
    CHECK_FALSE(writer->in_recovery());
  }
  SUBCASE("weights share the reads: weight 3 gets three of every four") {
    const auto config = parse_config(R"({"databases": {"analytics": {
      "url": ")" + test::writer_url() + R"(",
      "replicas": [{"name": "heavy", "url": ")" + test::replica_url() + R"(", "weight": 3},
                   {"name": "light", "url": ")" + test::replica_url() + R"(", "weight": 1}]}}})",
                                     dir);
    registry::Registry registry(config);
    std::map<std::string, int> picks;
    for (int i = 0; i < 400; ++i) {
      ++picks[registry.reader("analytics").target()];
    }
    CHECK(picks["analytics/heavy"] == 300);
    CHECK(picks["analytics/light"] == 100);
  }
  SUBCASE("without replicas the writer serves reads") {
    const auto config = parse_config(R"({"databases": {"primary": {"url": "sqlite3:p.sqlite3"}}})", dir);
    registry::Registry registry(config);
    CHECK(registry.reader("primary").target() == "primary");
  }
}

} // namespace grant_test_registry_reader_test
