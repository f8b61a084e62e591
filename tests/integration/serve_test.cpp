// health::Monitor and serve::Server against the real servers, over real HTTP: the answers before
// the first check, while faults made at the network (the fault proxy cutting a replica's or the
// writer's probes) come and go through the fall/rise hysteresis, and under concurrent requests
// while the monitor publishes new states.
#include <grant/config/load.hpp>
#include <grant/health/monitor.hpp>
#include <grant/serve/server.hpp>

#include <grant/db/connection.hpp>

#include "support/fault_proxy.hpp"
#include "support/replica.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_serve_test {

using namespace grant;
using namespace std::chrono_literals;

namespace {

// A Server on a free loopback port, serving from its own thread until destroyed.
class Running {
public:
  explicit Running(const health::Monitor& monitor) : m_server(monitor, {{"127.0.0.1", 0}, 4}) {
    m_port = m_server.bind();
    m_thread = std::thread([this] { m_server.run(); });
  }
  ~Running() {
    m_server.stop();
    m_thread.join();
  }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;

  struct Reply {
    int status = 0;
    std::string body;
  };
  Reply get(const std::string& path) const {
    httplib::Client client("127.0.0.1", m_port);
    client.set_connection_timeout(2);
    client.set_read_timeout(2);
    const auto result = client.Get(path.c_str());
    REQUIRE_MESSAGE(result, "no answer for " << path);
    return {result->status, result->body};
  }
  int status(const std::string& path) const { return get(path).status; }
  int port() const { return m_port; }

private:
  serve::Server m_server;
  int m_port = 0;
  std::thread m_thread;
};

std::vector<const config::Database*> all(const config::Config& config) {
  std::vector<const config::Database*> out;
  for (const auto& database : config.databases) {
    out.push_back(&database);
  }
  return out;
}

} // namespace

TEST_CASE("serve answers each endpoint while faults come and go") {
  test::TempDir dir;
  // Both proxies forward until told otherwise; rules cut the probes of one endpoint.
  test::FaultProxy writer_proxy(test::writer_url());
  test::FaultProxy replica_proxy(test::replica_url());
  const std::string json = R"({"databases": {
    "analytics": {"url": ")" +
                           writer_proxy.url() + R"(",
                  "replicas": [{"name": "r1", "url": ")" +
                           test::replica_url() + R"("},
                               {"name": "r2", "url": ")" +
                           replica_proxy.url() + R"("}],
                  "health": {"timeout_ms": 1500, "max_lag_ms": 60000, "fall": 2, "rise": 2}},
    "orders": {"shards": [{"name": "s0", "url": ")" +
                           test::shard_url(0) + R"("},
                          {"name": "s1", "url": ")" +
                           test::shard_url(1) + R"("}]}}})";
  const auto config = config::parse(json, dir.write("grant.json", json), config::process_env());
  health::Monitor monitor(all(config), {});
  const Running serve(monitor);
  const auto password = test::server_env("GRANT_TEST_PG_PASSWORD");
  const auto cut = [](test::FaultProxy& proxy) {
    proxy.add_rule("pg_is_in_recovery", test::FaultProxy::Action::drop_before, -1);
  };

  // Nothing checked yet: no traffic anywhere, and /health says why.
  CHECK(serve.status("/writer/analytics") == 503);
  CHECK(serve.status("/replica/analytics") == 503);
  auto health = serve.get("/health");
  CHECK(health.status == 503);
  CHECK(nlohmann::json::parse(health.body)["status"] == "unknown");

  monitor.check_now();
  for (const auto* path :
       {"/health", "/writer/analytics", "/replica/analytics", "/replica/analytics/r1", "/replica/analytics/r2",
        "/replica/analytics/r2?lag=60000", "/writer/orders", "/writer/orders/s1", "/metrics"}) {
    CHECK_MESSAGE(serve.status(path) == 200, path);
  }
  CHECK(serve.status("/replica/orders") == 503); // the shards have no replicas
  CHECK(serve.status("/writer/nope") == 404);
  CHECK(serve.status("/replica/analytics/r9") == 404);
  CHECK(serve.status("/replica/analytics?lag=soon") == 400);
  {
    httplib::Client client("127.0.0.1", serve.port());
    const auto post = client.Post("/health", "{}", "application/json");
    REQUIRE(post);
    CHECK(post->status == 405); // read-only
  }

  SUBCASE("a replica's probes cut: out after fall (2) failed checks, back after rise (2) passed ones") {
    cut(replica_proxy);
    monitor.check_now();
    CHECK(serve.status("/replica/analytics/r2") == 200); // one failure: still in
    health = serve.get("/health");
    CHECK(health.status == 503);
    const auto doc = nlohmann::json::parse(health.body);
    CHECK(doc["endpoints"][2]["status"] == "degraded");
    CHECK(doc["endpoints"][2]["monitor"]["failures"] == 1);
    CHECK(doc["endpoints"][2]["error"]["kind"].is_string());
    monitor.check_now();
    const auto out = serve.get("/replica/analytics/r2");
    CHECK(out.status == 503);
    CHECK(nlohmann::json::parse(out.body)["endpoints"][0]["state"] == "down");
    CHECK(serve.status("/replica/analytics") == 200); // r1 still qualifies
    CHECK(serve.status("/writer/analytics") == 200);

    replica_proxy.clear_rules();
    monitor.check_now();
    CHECK(serve.status("/replica/analytics/r2") == 503); // one pass: not yet
    monitor.check_now();
    CHECK(serve.status("/replica/analytics/r2") == 200);
    CHECK(serve.status("/health") == 200);
  }
  SUBCASE("the writer's probes cut: writer out, replicas' lag unknown (never 0), both back after") {
    cut(writer_proxy);
    monitor.check_now();
    CHECK(serve.status("/writer/analytics") == 200);     // one failure
    CHECK(serve.status("/replica/analytics/r1") == 200); // lag measured one check ago
    monitor.check_now();
    CHECK(serve.status("/writer/analytics") == 503);
    const auto reads = serve.get("/replica/analytics/r1");
    CHECK(reads.status == 503);
    CHECK(nlohmann::json::parse(reads.body)["endpoints"][0]["reason"] == "lag unknown");
    const auto doc = nlohmann::json::parse(serve.get("/health").body);
    CHECK(doc["endpoints"][0]["status"] == "down");
    CHECK(doc["endpoints"][1]["lag"]["state"] == "unknown");
    CHECK(doc["endpoints"][1]["lag"]["bytes"].is_null());
    CHECK(doc["endpoints"][1]["lag"]["seconds"].is_null());
    CHECK(serve.status("/writer/orders") == 200); // another database is not affected

    writer_proxy.clear_rules();
    monitor.check_now();
    monitor.check_now();
    CHECK(serve.status("/writer/analytics") == 200);
    CHECK(serve.status("/replica/analytics/r1") == 200);
  }
  // Whatever happened: no body carries the password.
  for (const auto* path : {"/health", "/metrics", "/writer/analytics", "/replica/analytics", "/replica/analytics/r2"}) {
    CHECK_MESSAGE(serve.get(path).body.find(password) == std::string::npos, path);
  }
}

TEST_CASE("serve under concurrent requests while the monitor publishes new states") {
  test::TempDir dir;
  const std::string json = R"({"databases": {"analytics": {"url": ")" + test::writer_url() +
                           R"(", "replicas": [{"name": "r1", "url": ")" + test::replica_url() + R"("}]}}})";
  const auto config = config::parse(json, dir.write("grant.json", json), config::process_env());
  health::MonitorOptions options;
  options.interval = 20ms;
  health::Monitor monitor(all(config), {}, options);
  monitor.check_now();
  const Running serve(monitor);
  monitor.start();
  // Requests go on until the monitor has published three more states (bounded: 20 s).
  const auto first_round = monitor.state()->rounds;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  const auto more_rounds = [&] {
    return monitor.state()->rounds < first_round + 3 && std::chrono::steady_clock::now() < deadline;
  };
  std::atomic<int> answered{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", serve.port());
      client.set_keep_alive(true);
      for (int i = 0; i < 60 || more_rounds(); ++i) {
        const auto* path = i % 3 == 0 ? "/health" : i % 3 == 1 ? "/replica/analytics/r1" : "/metrics";
        const auto result = client.Get(path);
        if (!result || (result->status != 200 && result->status != 503) || result->body.empty()) {
          ++wrong;
        } else {
          ++answered;
        }
      }
    });
  }
  for (auto& client : clients) {
    client.join();
  }
  const auto rounds = monitor.state()->rounds;
  monitor.stop();
  CHECK(wrong == 0);
  CHECK(answered >= 240);
  CHECK(rounds >= first_round + 3); // states were published while requests were answered
}

TEST_CASE("serve /replica?lag= while the replica's replay is paused, and after") {
  test::TempDir dir;
  const std::string json = R"({"databases": {"analytics": {"url": ")" + test::writer_url() +
                           R"(", "replicas": [{"name": "r1", "url": ")" + test::replica_url() +
                           R"("}], "health": {"max_lag_ms": 200}}}})";
  const auto config = config::parse(json, dir.write("grant.json", json), config::process_env());
  health::Monitor monitor(all(config), {});
  const Running serve(monitor);
  // Until the monitor sees the replica caught up with what earlier tests wrote (bounded: 10 s).
  const auto until = [&](const std::string& path, int status) {
    for (int i = 0; i < 100; ++i) {
      monitor.check_now();
      if (serve.status(path) == status) {
        return true;
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  };
  REQUIRE(until("/replica/analytics/r1", 200));
  db::ConnectOptions options;
  options.target = "test";
  auto writer = db::connect(util::parse_database_url(test::writer_url(), "."), options);
  writer->execute("CREATE TABLE IF NOT EXISTS serve_lag_probe (x int)");
  {
    test::ReplayPause pause;
    std::this_thread::sleep_for(300ms); // the last replayed transaction gets older than 200 ms
    writer->execute("INSERT INTO serve_lag_probe SELECT generate_series(1, 1000)");
    monitor.check_now();
    const auto lagging = serve.get("/replica/analytics/r1");
    CHECK(lagging.status == 503);
    const auto reason = nlohmann::json::parse(lagging.body)["endpoints"][0]["reason"].get<std::string>();
    CHECK_MESSAGE(reason.starts_with("lag "), reason);
    CHECK_MESSAGE(reason.ends_with(" over 200 ms"), reason);
    CHECK(serve.status("/replica/analytics/r1?lag=86400000") == 200); // measured, under a generous bound
    CHECK(serve.status("/replica/analytics") == 503);                 // no replica under 200 ms
    CHECK(serve.status("/writer/analytics") == 200);
  }
  CHECK(until("/replica/analytics/r1", 200)); // replay resumed, caught up again
}

} // namespace grant_test_serve_test
