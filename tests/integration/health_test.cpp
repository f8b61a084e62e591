// health::check against the real servers: a healthy fleet, endpoints that fail in each way a
// network or a server can, a role mismatch, lag made by pausing the replica's replay, and servers
// of the test's own (test::PgPair) that it stops and fills with sessions.
#include <grant/config/load.hpp>
#include <grant/db/connection.hpp>
#include <grant/health/json.hpp>
#include <grant/health/report.hpp>
#include <grant/health/text.hpp>

#include "support/fault_proxy.hpp"
#include "support/pg_pair.hpp"
#include "support/replica.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_health_test {

using namespace grant;
using namespace std::chrono_literals;

namespace {

config::Config parse_config(const std::string& json, const test::TempDir& dir) {
  const auto file = dir.write("grant.json", json);
  return config::parse(json, file, config::process_env());
}

health::Report check(const config::Config& config, health::CheckOptions options = {}) {
  std::vector<const config::Database*> databases;
  for (const auto& database : config.databases) {
    databases.push_back(&database);
  }
  return health::check(databases, options);
}

const health::EndpointHealth& find(const health::Report& report, const std::string& label) {
  for (const auto& entry : report.endpoints) {
    if (entry.probe.endpoint.label() == label) {
      return entry;
    }
  }
  FAIL("no endpoint " << label);
  throw std::logic_error("unreachable");
}

std::string analytics(const std::string& writer, const std::string& replica) {
  return R"({"databases": {"analytics": {"url": ")" + writer + R"(", "replicas": [{"name": "r1", "url": ")" + replica +
         R"("}]}}})";
}

// A port that completes the TCP handshake (the kernel's backlog) and never says a word.
class SilentListener {
public:
  SilentListener() {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(m_fd, 16) == 0);
    socklen_t length = sizeof address;
    ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&address), &length);
    m_port = ntohs(address.sin_port);
  }
  ~SilentListener() { ::close(m_fd); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  int port() const { return m_port; }

private:
  int m_fd = -1;
  int m_port = 0;
};

std::unique_ptr<db::Connection> open(const std::string& url) {
  db::ConnectOptions options;
  options.target = "test";
  return db::connect(util::parse_database_url(url, "."), options);
}

} // namespace

TEST_CASE("health::check a healthy fleet") {
  test::TempDir dir;
  std::string shards;
  for (int i = 0; i < 4; ++i) {
    shards += std::string(i == 0 ? "" : ", ") + R"({"name": "s)" + std::to_string(i) + R"(", "url": ")" +
              test::shard_url(i) + R"("})";
  }
  const auto config = parse_config(R"({"databases": {
    "analytics": {"url": ")" + test::writer_url() +
                                       R"(", "replicas": [{"name": "r1", "url": ")" + test::replica_url() + R"("}]},
    "orders": {"shards": [)" + shards + R"(]},
    "primary": {"url": "sqlite3:primary.sqlite3"}}})",
                                   dir);
  open("sqlite3:" + (dir / "primary.sqlite3").string())->execute("CREATE TABLE t (x int)");

  // Earlier tests may have just written on the writer (with synchronous_commit off, WAL the
  // replica has not been sent yet): the fleet must turn healthy once the replica has caught up.
  auto report = check(config);
  for (int i = 0; i < 100 && report.status != health::Status::healthy; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    report = check(config);
  }
  CHECK(report.status == health::Status::healthy);
  REQUIRE(report.endpoints.size() == 7);
  const auto& writer = find(report, "analytics");
  CHECK(writer.probe.reachable);
  CHECK(writer.probe.in_recovery == false);
  CHECK_FALSE(writer.probe.role_mismatch);
  CHECK(writer.probe.server_version.starts_with("PostgreSQL "));
  REQUIRE(writer.probe.connections);
  CHECK(writer.probe.connections->used >= 1);
  CHECK(writer.probe.connections->max > 0);
  CHECK(writer.probe.prepared_in_doubt == 0u);
  CHECK_FALSE(writer.lag);

  const auto& replica = find(report, "analytics/r1");
  CHECK(replica.status == health::Status::healthy);
  CHECK(replica.probe.in_recovery == true);
  REQUIRE(replica.lag);
  CHECK(replica.lag->state == health::LagState::ok);
  CHECK(replica.lag->bytes.has_value());

  for (int i = 0; i < 4; ++i) {
    CHECK(find(report, "orders/s" + std::to_string(i)).status == health::Status::healthy);
  }
  const auto& sqlite = find(report, "primary");
  CHECK(sqlite.status == health::Status::healthy);
  CHECK(sqlite.probe.integrity_ok == true);
  CHECK(sqlite.probe.writable == true);
  CHECK(sqlite.probe.server_version.starts_with("SQLite "));
}

TEST_CASE("health::check endpoints that fail") {
  test::TempDir dir;
  SUBCASE("refused port") {
    const auto config = parse_config(
        analytics("postgres://grant@127.0.0.1:" + std::to_string(test::closed_port()) + "/x", test::replica_url()),
        dir);
    const auto report = check(config);
    const auto& writer = find(report, "analytics");
    CHECK(report.status == health::Status::down);
    CHECK(writer.status == health::Status::down);
    CHECK_FALSE(writer.probe.reachable);
    REQUIRE(writer.probe.error);
    CHECK(writer.probe.error->kind == health::ErrorKind::refused);
    CHECK(writer.probe.error->message.find('\n') == std::string::npos); // one line for tables and logs
    // The replica answers, but its lag against a writer nobody can read is unknown, never 0.
    const auto& replica = find(report, "analytics/r1");
    CHECK(replica.probe.reachable);
    REQUIRE(replica.lag);
    CHECK(replica.lag->state == health::LagState::unknown);
    CHECK_FALSE(replica.lag->bytes);
    CHECK_FALSE(replica.lag->seconds);
    CHECK(replica.status == health::Status::degraded);
    const auto json = health::to_json(report);
    CHECK(json["endpoints"][1]["lag"]["state"] == "unknown");
    CHECK(json["endpoints"][1]["lag"]["bytes"].is_null());
  }
  SUBCASE("a port that accepts and never answers, and a server whose answers stall: timeout within the bound") {
    SilentListener silent;
    // Never destroyed: closing a stalled session makes libpqxx 6.4 leak the PGresult of the
    // statement it was waiting on, in the abandoned probe's thread (see pool_test.cpp). The proxy
    // and its silent session stay until the process exits.
    static auto* const proxy = new test::FaultProxy(test::writer_url());
    proxy->add_rule("pg_is_in_recovery", test::FaultProxy::Action::stall, -1);
    const auto config = parse_config(R"({"databases": {
      "silent": {"url": "postgres://grant@127.0.0.1:)" +
                                         std::to_string(silent.port()) + R"(/x"},
      "stalled": {"url": ")" + proxy->url() +
                                         R"("}}})",
                                     dir);
    health::CheckOptions options;
    options.timeout_ms = 300;
    const auto report = check(config, options); // returns: a hang does not hold the report
    for (const auto* label : {"silent", "stalled"}) {
      const auto& entry = find(report, label);
      CHECK(entry.status == health::Status::down);
      REQUIRE(entry.probe.error);
      CHECK(entry.probe.error->kind == health::ErrorKind::timeout);
    }
    CHECK(proxy->fired() >= 1); // the stalled one got as far as its query
  }
  SUBCASE("wrong password: auth, and the password never in the report") {
    const std::string wrong = "Wr0ng-Pa55-x";
    auto url = test::writer_url();
    url.replace(url.find(test::server_env("GRANT_TEST_PG_PASSWORD")), test::server_env("GRANT_TEST_PG_PASSWORD").size(),
                wrong);
    const auto config = parse_config(R"({"databases": {"analytics": {"url": ")" + url + R"("}}})", dir);
    const auto report = check(config);
    const auto& writer = find(report, "analytics");
    REQUIRE(writer.probe.error);
    CHECK(writer.probe.error->kind == health::ErrorKind::auth);
    CHECK_FALSE(test::contains(health::to_json(report).dump(), wrong));
    CHECK_FALSE(test::contains(health::to_text(report, false), wrong));
  }
  SUBCASE("unknown host: dns") {
    const auto config =
        parse_config(R"({"databases": {"analytics": {"url": "postgres://grant@no-such-host.invalid/x"}}})", dir);
    const auto report = check(config);
    REQUIRE(find(report, "analytics").probe.error);
    CHECK(find(report, "analytics").probe.error->kind == health::ErrorKind::dns);
  }
  SUBCASE("a missing SQLite file is down and is not created") {
    const auto config = parse_config(R"({"databases": {"primary": {"url": "sqlite3:missing.sqlite3"}}})", dir);
    CHECK(find(check(config), "primary").status == health::Status::down);
    CHECK_FALSE(std::filesystem::exists(dir / "missing.sqlite3"));
  }
}

TEST_CASE("health::check role mismatch") {
  test::TempDir dir;
  // A "writer" that is the replica, and a "replica" that is the writer.
  const auto config = parse_config(analytics(test::replica_url(), test::writer_url()), dir);
  const auto report = check(config);
  const auto& writer = find(report, "analytics");
  CHECK(writer.probe.in_recovery == true);
  CHECK(writer.probe.role_mismatch);
  CHECK(writer.status == health::Status::degraded);
  CHECK(find(report, "analytics/r1").probe.role_mismatch);
  CHECK(report.status == health::Status::degraded);
}

TEST_CASE("health::check lag while replay is paused") {
  test::TempDir dir;
  const auto config = parse_config(analytics(test::writer_url(), test::replica_url()), dir);
  auto writer = open(test::writer_url());
  writer->execute("CREATE TABLE IF NOT EXISTS health_lag_probe (x int)");
  health::CheckOptions options;
  options.max_lag_ms = 100;
  {
    test::ReplayPause pause;
    std::this_thread::sleep_for(300ms); // the last replayed transaction gets older than max_lag
    writer->execute("INSERT INTO health_lag_probe SELECT generate_series(1, 1000)");
    const auto report = check(config, options);
    const auto& replica = find(report, "analytics/r1");
    REQUIRE(replica.lag);
    REQUIRE(replica.lag->bytes);
    CHECK(*replica.lag->bytes > 0);
    REQUIRE(replica.lag->seconds);
    CHECK(*replica.lag->seconds > 0.1);
    CHECK(replica.lag->state == health::LagState::lagging);
    CHECK(replica.status == health::Status::degraded);
    CHECK(report.status == health::Status::degraded);
  }
  // Resumed: the replica catches up and is healthy again.
  auto status = health::Status::down;
  for (int attempt = 0; attempt < 100 && status != health::Status::healthy; ++attempt) {
    status = find(check(config), "analytics/r1").status;
    if (status != health::Status::healthy) {
      std::this_thread::sleep_for(100ms);
    }
  }
  CHECK(status == health::Status::healthy);
}

TEST_CASE("health::check in-doubt prepared transactions degrade their writer") {
  test::TempDir dir;
  const auto url = test::fresh_database(test::writer_url(), "health_doubt");
  const auto config = parse_config(R"({"databases": {"ledger": {"url": ")" + url + R"("}}})", dir);
  auto session = open(url);
  session->execute("CREATE TABLE t (x int)");
  session->execute("BEGIN; INSERT INTO t VALUES (1); PREPARE TRANSACTION 'grant:ledger:health-test'");
  struct Cleanup {
    db::Connection& connection;
    ~Cleanup() {
      try {
        connection.execute("ROLLBACK PREPARED 'grant:ledger:health-test'");
      } catch (...) {
      }
    }
  } cleanup{*session};
  const auto report = check(config);
  const auto& writer = find(report, "ledger");
  CHECK(writer.probe.prepared_in_doubt == 1u);
  CHECK(writer.status == health::Status::degraded);
  CHECK(report.status == health::Status::degraded);
}

TEST_CASE("health::check servers that stop, and connections near max_connections") {
  // A writer and replica of the test's own: the shared servers must never stop under other
  // tests. One pair for every subcase (setting it up costs seconds); each starts from both up.
  static test::PgPair pair;
  pair.ensure_running();
  test::TempDir dir;
  const auto config = parse_config(analytics(pair.writer_url(), pair.replica_url()), dir);
  const auto healthy = [&] { return check(config).status == health::Status::healthy; };
  REQUIRE(test::eventually(healthy));

  SUBCASE("replica stopped: down and refused, its writer healthy; healthy again once restarted") {
    pair.stop_replica();
    const auto report = check(config);
    CHECK(report.status == health::Status::down);
    CHECK(find(report, "analytics").status == health::Status::healthy);
    const auto& replica = find(report, "analytics/r1");
    CHECK(replica.status == health::Status::down);
    CHECK_FALSE(replica.probe.reachable);
    REQUIRE(replica.probe.error);
    CHECK(replica.probe.error->kind == health::ErrorKind::refused);
    REQUIRE(replica.lag);
    CHECK(replica.lag->state == health::LagState::unknown);
    pair.start_replica();
    CHECK(test::eventually(healthy));
  }
  SUBCASE("writer stopped: down; the replica still answers, its lag unknown, never 0") {
    pair.stop_writer();
    const auto report = check(config);
    CHECK(report.status == health::Status::down);
    const auto& writer = find(report, "analytics");
    CHECK(writer.status == health::Status::down);
    REQUIRE(writer.probe.error);
    CHECK(writer.probe.error->kind == health::ErrorKind::refused);
    const auto& replica = find(report, "analytics/r1");
    CHECK(replica.probe.reachable);
    CHECK(replica.probe.in_recovery == true);
    REQUIRE(replica.lag);
    CHECK(replica.lag->state == health::LagState::unknown);
    CHECK_FALSE(replica.lag->bytes);
    CHECK_FALSE(replica.lag->seconds);
    CHECK(replica.status == health::Status::degraded);
    CHECK(replica.reasons == std::vector<std::string>{"lag unknown"});
    const auto json = health::to_json(report);
    CHECK(json["endpoints"][1]["lag"]["bytes"].is_null());
    CHECK(json["endpoints"][1]["lag"]["seconds"].is_null());
    pair.start_writer();
    CHECK(test::eventually(healthy));
  }
  SUBCASE("connections over 90% of max_connections degrade the writer; closing them heals it") {
    // With the probe's own session, 11 of 12 are in use: over 90%, and one slot still free.
    const int sessions = test::PgPair::k_max_connections * 9 / 10;
    std::vector<std::unique_ptr<db::Connection>> open_sessions;
    for (int i = 0; i < sessions; ++i) {
      open_sessions.push_back(open(pair.writer_url()));
    }
    const auto report = check(config);
    const auto& writer = find(report, "analytics");
    CHECK(writer.status == health::Status::degraded);
    REQUIRE(writer.probe.connections);
    CHECK(writer.probe.connections->used == sessions + 1);
    CHECK(writer.probe.connections->max == test::PgPair::k_max_connections);
    REQUIRE(writer.reasons.size() == 1);
    CHECK(writer.reasons[0] ==
          "connections " + std::to_string(sessions + 1) + " of " + std::to_string(test::PgPair::k_max_connections));
    CHECK(find(report, "analytics/r1").status == health::Status::healthy); // a server of its own
    CHECK(report.status == health::Status::degraded);
    open_sessions.clear();
    CHECK(test::eventually(healthy));
  }
}

TEST_CASE("health::probe through a kept session: one login, reused, replaced in the same probe when broken") {
  test::FaultProxy proxy(test::writer_url());
  registry::Endpoint endpoint;
  endpoint.database = "analytics";
  endpoint.url = util::parse_database_url(proxy.url(), ".");
  const auto session = std::make_shared<health::ProbeSession>();

  const auto first = health::probe_within(endpoint, 2000ms, session);
  CHECK(first.reachable);
  CHECK_FALSE(first.session_reused);
  CHECK(first.connect_ms > 0);
  const auto second = health::probe_within(endpoint, 2000ms, session);
  CHECK(second.reachable);
  CHECK(second.session_reused);
  CHECK(second.connect_ms == 0);
  CHECK(second.in_recovery == false);
  CHECK(proxy.connections() == 1); // one login for both

  // The kept session's connection is cut under it: the probe still answers, on a new session.
  proxy.add_rule("pg_is_in_recovery", test::FaultProxy::Action::drop_before, 1);
  const auto third = health::probe_within(endpoint, 2000ms, session);
  CHECK(third.reachable);
  CHECK_FALSE(third.session_reused);
  CHECK(proxy.fired() == 1);
  CHECK(proxy.connections() == 2);
  CHECK(health::probe_within(endpoint, 2000ms, session).session_reused);

  // Cut every time: down, and the next probe tries a new session again.
  proxy.add_rule("pg_is_in_recovery", test::FaultProxy::Action::drop_before, -1);
  const auto fourth = health::probe_within(endpoint, 2000ms, session);
  CHECK_FALSE(fourth.reachable);
  REQUIRE(fourth.error);
  proxy.clear_rules();
  const auto fifth = health::probe_within(endpoint, 2000ms, session);
  CHECK(fifth.reachable);
  CHECK_FALSE(fifth.session_reused);
}

} // namespace grant_test_health_test
