// Chaos for `grant health --watch`: the replica of a test::PgPair of its own is promoted
// (pg_ctl promote) while the watch runs, then the old writer is stopped.
#include "support/pg_pair.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <functional>
#include <optional>
#include <sstream>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_chaos_health_cli_test {

using namespace std::chrono_literals;

namespace {

// The first JSON line of `file` for which `wanted` holds, waiting at most `bound`.
std::optional<nlohmann::json> line_where(const std::filesystem::path& file,
                                         const std::function<bool(const nlohmann::json&)>& wanted,
                                         std::chrono::milliseconds bound) {
  std::optional<nlohmann::json> found;
  grant::test::eventually(
      [&] {
        std::istringstream lines(grant::test::read_file(file));
        for (std::string line; std::getline(lines, line);) {
          const auto doc = nlohmann::json::parse(line, nullptr, false);
          if (!doc.is_discarded() && wanted(doc)) {
            found = doc;
            return true;
          }
        }
        return false;
      },
      bound);
  return found;
}

bool has_reason(const nlohmann::json& change, const std::string& reason) {
  for (const auto& entry : change["reasons"]) {
    if (entry.get<std::string>().find(reason) != std::string::npos) {
      return true;
    }
  }
  return false;
}

} // namespace

TEST_CASE("chaos::health --watch while the replica is promoted and the old writer stopped") {
  grant::test::PgPair pair;
  grant::test::TempDir dir;
  dir.write("grant.json", R"({"databases": {"analytics": {"url": ")" + pair.writer_url() +
                              R"(", "replicas": [{"name": "r1", "url": ")" + pair.replica_url() +
                              R"("}], "health": {"timeout_ms": 1000}}}})");
  const auto output = dir / "watch.out";
  grant::test::BackgroundGrant watch({"health", "--watch", "1", "--format", "json"}, dir.path(), output);
  const auto replica = [](const nlohmann::json& change) { return change["replica"] == "r1"; };
  const auto writer = [](const nlohmann::json& change) { return change["replica"].is_null(); };
  const auto healthy = line_where(
      output, [&](const auto& c) { return replica(c) && c["to"] == "healthy"; }, 10s);
  REQUIRE_MESSAGE(healthy.has_value(), grant::test::read_file(output));

  // One interval (1 s) plus the round itself (timeout_ms 1000) and slack for a slow machine.
  constexpr auto k_bound = 1s + 1s + 2s;
  pair.promote_replica();
  const auto promoted = std::chrono::steady_clock::now();
  const auto mismatch = line_where(
      output, [&](const auto& c) { return replica(c) && has_reason(c, "configured as a replica but not in recovery"); },
      k_bound + 2s);
  REQUIRE_MESSAGE(mismatch.has_value(), grant::test::read_file(output));
  CHECK(std::chrono::steady_clock::now() - promoted <= k_bound);
  CHECK((*mismatch)["from"] == "healthy");
  CHECK((*mismatch)["to"] == "degraded");

  pair.stop_writer();
  const auto stopped = std::chrono::steady_clock::now();
  const auto down = line_where(
      output, [&](const auto& c) { return writer(c) && c["to"] == "down"; }, k_bound + 2s);
  REQUIRE_MESSAGE(down.has_value(), grant::test::read_file(output));
  CHECK(std::chrono::steady_clock::now() - stopped <= k_bound);
  CHECK((*down)["from"] == "healthy");
  CHECK(has_reason(*down, "refused"));
  CHECK(watch.stop(SIGINT) == 0);

  // The one-shot check agrees: the writer down, the promoted replica's lag unknown, never 0.
  const auto report = grant::test::run_grant({"health", "--format", "json"}, dir.path());
  CHECK(report.exit_code == 1);
  const auto doc = nlohmann::json::parse(report.out);
  REQUIRE(doc["endpoints"].size() == 2);
  CHECK(doc["endpoints"][0]["status"] == "down");
  CHECK(doc["endpoints"][1]["role_mismatch"] == true);
  CHECK(doc["endpoints"][1]["lag"]["state"] == "unknown");
  CHECK(doc["endpoints"][1]["lag"]["seconds"].is_null());
}

} // namespace grant_test_chaos_health_cli_test
