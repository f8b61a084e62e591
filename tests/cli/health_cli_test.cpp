// `grant health` end to end: the three formats, the exit codes, and no password in any output.
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

using grant::test::contains;
using grant::test::RunResult;
using grant::test::TempDir;
namespace test = grant::test;

namespace {

RunResult grant_in(const TempDir& dir, const std::vector<std::string>& args) {
  return test::run_grant(args, dir.path(), {{"GRANT_CONFIG", std::nullopt}, {"NO_COLOR", std::nullopt}});
}

std::string fleet_config(const std::string& writer_url) {
  std::string shards;
  for (int i = 0; i < 2; ++i) {
    shards += std::string(i == 0 ? "" : ", ") + R"({"name": "s)" + std::to_string(i) + R"(", "url": ")" +
              test::shard_url(i) + R"("})";
  }
  return R"({"databases": {
    "analytics": {"url": ")" + writer_url + R"(", "replicas": [{"name": "r1", "url": ")" + test::replica_url() +
         R"("}], "health": {"timeout_ms": 1500, "max_lag_ms": 10000}},
    "orders": {"shards": [)" + shards + R"(]}}})";
}

} // namespace

TEST_CASE("cli::health on a healthy fleet") {
  TempDir dir;
  dir.write("grant.json", fleet_config(test::writer_url()));

  SUBCASE("text: one line per endpoint, exit 0") {
    const auto run = grant_in(dir, {"health"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "ENDPOINT"));
    CHECK(contains(run.out, "analytics/r1"));
    CHECK(contains(run.out, "orders/s1"));
    CHECK(contains(run.out, "healthy: 4 endpoints, 4 healthy, 0 degraded, 0 down"));
    CHECK_FALSE(contains(run.out, "\033[")); // not a terminal
  }
  SUBCASE("json: the contract's document, every field") {
    for (const auto& args : {std::vector<std::string>{"health", "--format", "json"},
                             std::vector<std::string>{"health", "--json"}}) {
      const auto run = grant_in(dir, args);
      CHECK(run.exit_code == 0);
      const auto doc = nlohmann::json::parse(run.out);
      CHECK(doc["status"] == "healthy");
      CHECK(doc["checked_at"].get<std::string>().ends_with("Z"));
      REQUIRE(doc["endpoints"].size() == 4);
      for (const auto& e : doc["endpoints"]) {
        for (const auto* field : {"database", "shard", "replica", "role", "url", "status", "reachable", "error",
                                  "latency_ms", "server_version", "in_recovery", "role_mismatch", "lag",
                                  "connections", "prepared_in_doubt"}) {
          CHECK_MESSAGE(e.contains(field), field);
        }
        CHECK(e["error"].is_null());
        CHECK(e["connections"]["used"].is_number());
        CHECK(e["connections"]["max"].is_number());
        CHECK(e["latency_ms"].is_number());
      }
      const auto& writer = doc["endpoints"][0];
      CHECK(writer["database"] == "analytics");
      CHECK(writer["role"] == "writer");
      CHECK(writer["shard"].is_null());
      CHECK(writer["replica"].is_null());
      CHECK(writer["lag"].is_null());
      CHECK(writer["prepared_in_doubt"] == 0);
      CHECK(contains(writer["url"].get<std::string>(), ":***@"));
      const auto& replica = doc["endpoints"][1];
      CHECK(replica["replica"] == "r1");
      CHECK(replica["role"] == "replica");
      CHECK(replica["in_recovery"] == true);
      CHECK(replica["lag"]["state"] == "ok");
      CHECK(replica["lag"]["bytes"].is_number());
      CHECK(replica["lag"]["seconds"].is_number());
      CHECK(doc["endpoints"][2]["shard"] == "s0");
    }
  }
  SUBCASE("prometheus: gauges with database/shard/replica labels") {
    const auto run = grant_in(dir, {"health", "--format", "prometheus"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "# TYPE grant_health_up gauge\n"));
    CHECK(contains(run.out, "grant_health_up{database=\"orders\",shard=\"s1\",replica=\"\",role=\"writer\"} 1\n"));
    CHECK(contains(run.out, "grant_health_replication_lag_bytes{database=\"analytics\",shard=\"\",replica=\"r1\""));
    CHECK(contains(run.out, "grant_health_connections_max{"));
  }
  SUBCASE("--database and --shard narrow the check") {
    const auto run = grant_in(dir, {"health", "--database", "orders", "--shard", "s1", "--json"});
    CHECK(run.exit_code == 0);
    const auto doc = nlohmann::json::parse(run.out);
    REQUIRE(doc["endpoints"].size() == 1);
    CHECK(doc["endpoints"][0]["shard"] == "s1");
  }
}

TEST_CASE("cli::health on a fleet with problems") {
  TempDir dir;
  SUBCASE("refused writer: exit 1, down, replica lag unknown") {
    dir.write("grant.json", fleet_config("postgres://grant@127.0.0.1:" + std::to_string(test::closed_port()) + "/x"));
    const auto run = grant_in(dir, {"health", "--format", "json"});
    CHECK(run.exit_code == 1);
    const auto doc = nlohmann::json::parse(run.out);
    CHECK(doc["status"] == "down");
    CHECK(doc["endpoints"][0]["status"] == "down");
    CHECK(doc["endpoints"][0]["reachable"] == false);
    CHECK(doc["endpoints"][0]["error"]["kind"] == "refused");
    CHECK(doc["endpoints"][0]["latency_ms"].is_null());
    CHECK(doc["endpoints"][1]["lag"]["state"] == "unknown");
    CHECK(doc["endpoints"][1]["lag"]["bytes"].is_null());
    const auto text = grant_in(dir, {"health"});
    CHECK(text.exit_code == 1);
    CHECK(contains(text.out, "refused"));
    CHECK(contains(text.out, "unknown"));
  }
  SUBCASE("wrong password: auth, never printed in any format") {
    const std::string wrong = "Wr0ng-Pa55-x";
    auto url = test::writer_url();
    const auto password = test::server_env("GRANT_TEST_PG_PASSWORD");
    url.replace(url.find(password), password.size(), wrong);
    dir.write("grant.json", fleet_config(url));
    const auto json = grant_in(dir, {"health", "--format", "json"});
    CHECK(json.exit_code == 1);
    CHECK(nlohmann::json::parse(json.out)["endpoints"][0]["error"]["kind"] == "auth");
    for (const auto& format : {"text", "json", "prometheus"}) {
      const auto run = grant_in(dir, {"health", "--format", format, "-v"});
      CHECK(run.exit_code == 1);
      CHECK_FALSE(contains(run.out + run.err, wrong));
      CHECK_FALSE(contains(run.out + run.err, password));
    }
  }
  SUBCASE("config errors exit 2") {
    dir.write("grant.json", fleet_config(test::writer_url()));
    CHECK(grant_in(dir, {"health", "--database", "nope"}).exit_code == 2);
    CHECK(grant_in(dir, {"health", "--format", "xml"}).exit_code == 2);
    CHECK(grant_in(dir, {"health", "--shard", "s9"}).exit_code == 2);
  }
  SUBCASE("--help shows examples") {
    const auto run = grant_in(dir, {"health", "--help"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "grant health --format prometheus"));
  }
}
