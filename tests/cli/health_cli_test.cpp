// `grant health` end to end: the three formats, the exit codes, no password in any output, and
// servers of the test's own (test::PgPair) that it stops and fills with sessions.
#include <grant/db/connection.hpp>

#include "support/pg_pair.hpp"
#include "support/replica.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_health_cli_test {

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
    "analytics": {"url": ")" +
         writer_url + R"(", "replicas": [{"name": "r1", "url": ")" + test::replica_url() +
         R"("}], "health": {"timeout_ms": 1500, "max_lag_ms": 10000}},
    "orders": {"shards": [)" +
         shards + R"(]}}})";
}

std::unique_ptr<grant::db::Connection> open(const std::string& url) {
  grant::db::ConnectOptions options;
  options.target = "test";
  return grant::db::connect(grant::util::parse_database_url(url, "."), options);
}

// Waits up to 15 s for `part` to appear in the file.
bool appears(const std::filesystem::path& file, const std::string& part) {
  for (int i = 0; i < 150; ++i) {
    if (std::filesystem::exists(file) && contains(test::read_file(file), part)) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
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
    for (const auto& args :
         {std::vector<std::string>{"health", "--format", "json"}, std::vector<std::string>{"health", "--json"}}) {
      const auto run = grant_in(dir, args);
      CHECK(run.exit_code == 0);
      const auto doc = nlohmann::json::parse(run.out);
      CHECK(doc["status"] == "healthy");
      CHECK(doc["checked_at"].get<std::string>().ends_with("Z"));
      REQUIRE(doc["endpoints"].size() == 4);
      for (const auto& e : doc["endpoints"]) {
        for (const auto* field :
             {"database", "shard", "replica", "role", "url", "status", "reachable", "error", "latency_ms",
              "server_version", "in_recovery", "role_mismatch", "lag", "connections", "prepared_in_doubt"}) {
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

TEST_CASE("cli::health --watch prints transitions and exits 0 on SIGINT") {
  TempDir dir;
  const auto config = dir.write("grant.json", R"({"databases": {"analytics": {"url": ")" + test::writer_url() +
                                                  R"(", "replicas": [{"name": "r1", "url": ")" + test::replica_url() +
                                                  R"("}], "health": {"max_lag_ms": 200}}}})");
  auto writer = open(test::writer_url());
  writer->execute("CREATE TABLE IF NOT EXISTS health_watch_probe (x int)");
  // Start from a replica that has caught up with whatever earlier tests wrote.
  for (int i = 0; i < 100 && grant_in(dir, {"--config", config.string(), "health"}).exit_code != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto output = dir / "watch.out";
  test::BackgroundGrant watch({"--config", config.string(), "health", "--watch", "1"}, dir.path(), output);
  CHECK(appears(output, "  analytics/r1  healthy"));
  {
    test::ReplayPause pause;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    writer->execute("INSERT INTO health_watch_probe SELECT generate_series(1, 1000)");
    CHECK(appears(output, "analytics/r1  healthy -> degraded  lag "));
  }
  CHECK(appears(output, "analytics/r1  degraded -> healthy"));
  CHECK(watch.stop(SIGINT) == 0);
  const auto text = test::read_file(output);
  CHECK(std::count(text.begin(), text.end(), '\n') == 4); // only the changes, one line each
  CHECK(grant_in(dir, {"--config", config.string(), "health", "--watch", "1", "--format", "prometheus"}).exit_code ==
        2);
}

TEST_CASE("cli::health on servers that stop, and connections near max_connections") {
  // Servers of the test's own (the shared ones must never stop), one pair for every subcase.
  static test::PgPair pair;
  pair.ensure_running();
  TempDir dir;
  dir.write("grant.json", R"({"databases": {"analytics": {"url": ")" + pair.writer_url() +
                              R"(", "replicas": [{"name": "r1", "url": ")" + pair.replica_url() +
                              R"("}], "health": {"timeout_ms": 2000, "max_lag_ms": 10000}}}})");
  const auto json = [&] {
    const auto run = grant_in(dir, {"health", "--format", "json"});
    INFO(run.out, run.err);
    CHECK_FALSE(contains(run.out + run.err, test::PgPair::password()));
    return std::pair{run.exit_code, nlohmann::json::parse(run.out)};
  };
  const auto healthy = [&] { return grant_in(dir, {"health", "--format", "json"}).exit_code == 0; };
  REQUIRE(test::eventually(healthy));

  SUBCASE("replica stopped: exit 1, the replica down and refused, the writer healthy; then healthy") {
    pair.stop_replica();
    const auto [code, doc] = json();
    CHECK(code == 1);
    CHECK(doc["status"] == "down");
    CHECK(doc["endpoints"][0]["status"] == "healthy");
    const auto& replica = doc["endpoints"][1];
    CHECK(replica["status"] == "down");
    CHECK(replica["reachable"] == false);
    CHECK(replica["error"]["kind"] == "refused");
    CHECK(replica["lag"]["state"] == "unknown");
    pair.start_replica();
    CHECK(test::eventually(healthy));
  }
  SUBCASE("writer stopped: exit 1, the writer down; the replica's lag unknown with null bytes and seconds") {
    pair.stop_writer();
    const auto [code, doc] = json();
    CHECK(code == 1);
    CHECK(doc["endpoints"][0]["status"] == "down");
    CHECK(doc["endpoints"][0]["error"]["kind"] == "refused");
    const auto& replica = doc["endpoints"][1];
    CHECK(replica["reachable"] == true);
    CHECK(replica["in_recovery"] == true);
    CHECK(replica["status"] == "degraded");
    CHECK(replica["lag"]["state"] == "unknown");
    CHECK(replica["lag"]["bytes"].is_null());
    CHECK(replica["lag"]["seconds"].is_null());
    const auto text = grant_in(dir, {"health"});
    CHECK(text.exit_code == 1);
    CHECK(contains(text.out, "lag unknown"));
    pair.start_writer();
    CHECK(test::eventually(healthy));
  }
  SUBCASE("connections over 90% of max_connections: the writer degraded, naming them; then healthy") {
    const int sessions = test::PgPair::k_max_connections * 9 / 10; // + grant's probe: 11 of 12
    std::vector<std::unique_ptr<grant::db::Connection>> open_sessions;
    for (int i = 0; i < sessions; ++i) {
      open_sessions.push_back(open(pair.writer_url()));
    }
    const auto [code, doc] = json();
    CHECK(code == 1);
    CHECK(doc["status"] == "degraded");
    const auto& writer = doc["endpoints"][0];
    CHECK(writer["status"] == "degraded");
    CHECK(writer["connections"]["used"] == sessions + 1);
    CHECK(writer["connections"]["max"] == test::PgPair::k_max_connections);
    CHECK(doc["endpoints"][1]["status"] == "healthy");
    // The JSON run's session may not have ended on the server yet: 11 or 12 of 12.
    const auto text = grant_in(dir, {"health"});
    const auto of_max = " of " + std::to_string(test::PgPair::k_max_connections);
    CHECK((contains(text.out, "connections " + std::to_string(sessions + 1) + of_max) ||
           contains(text.out, "connections " + std::to_string(sessions + 2) + of_max)));
    open_sessions.clear();
    CHECK(test::eventually(healthy));
  }
}

} // namespace grant_test_health_cli_test
