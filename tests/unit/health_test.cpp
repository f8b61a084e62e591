// health/: the pure parts (error kinds, WAL positions, lag, verdicts, the JSON and Prometheus forms).
#include <grant/health/json.hpp>
#include <grant/health/lsn.hpp>
#include <grant/health/prometheus.hpp>
#include <grant/health/report.hpp>
#include <grant/health/text.hpp>
#include <grant/util/url.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_health_test {

using namespace grant;
using namespace grant::health;
using grant::health::ErrorKind;

namespace {

registry::Endpoint endpoint(registry::Role role, const std::string& replica = {}) {
  registry::Endpoint out;
  out.database = "analytics";
  out.replica = replica;
  out.role = role;
  out.url = util::parse_database_url("postgres://grant:Sup3rSecret@127.0.0.1:5432/analytics", ".");
  return out;
}

Probe answered(registry::Role role, std::uint64_t lsn, std::optional<double> age = std::nullopt) {
  Probe out;
  out.endpoint = endpoint(role, role == registry::Role::reading ? "r1" : "");
  out.reachable = true;
  out.in_recovery = role == registry::Role::reading;
  out.wal_lsn = lsn;
  out.replay_age_seconds = age;
  out.connections = Connections{5, 100};
  out.server_version = "PostgreSQL 16.4";
  return out;
}

} // namespace

TEST_CASE("health::classify_error") {
  CHECK(classify_error("connection to server at \"127.0.0.1\", port 1 failed: Connection refused") ==
        ErrorKind::refused);
  CHECK(classify_error("connection to server at \"127.0.0.1\", port 5 failed: timeout expired") == ErrorKind::timeout);
  CHECK(classify_error("FATAL:  password authentication failed for user \"grant\"") == ErrorKind::auth);
  CHECK(classify_error("whatever", "28P01") == ErrorKind::auth);
  CHECK(classify_error("canceling statement due to statement timeout", "57014") == ErrorKind::timeout);
  CHECK(classify_error("could not translate host name \"nope.invalid\" to address: Name or service not known") ==
        ErrorKind::dns);
  CHECK(classify_error("disk full") == ErrorKind::other);
  CHECK(error_kind_name(ErrorKind::dns) == "dns");
}

TEST_CASE("health::parse_lsn") {
  CHECK(parse_lsn("0/0") == 0u);
  CHECK(parse_lsn("16/B374D848") == (0x16ull << 32 | 0xB374D848ull));
  CHECK(*parse_lsn("0/3000100") - *parse_lsn("0/3000000") == 256u);
  CHECK_FALSE(parse_lsn(""));
  CHECK_FALSE(parse_lsn("16B374D848"));
  CHECK_FALSE(parse_lsn("0/zz"));
  CHECK_FALSE(parse_lsn("/1"));
}

TEST_CASE("health::replica_lag") {
  const auto writer = answered(registry::Role::writing, 5000);
  SUBCASE("caught up: 0 bytes and 0 seconds, however old the last replayed transaction") {
    const auto lag = replica_lag(writer, answered(registry::Role::reading, 5000, 3600.0), 5000);
    CHECK(lag.state == LagState::ok);
    CHECK(lag.bytes == 0u);
    CHECK(lag.seconds == 0.0);
  }
  SUBCASE("behind, under the bound") {
    const auto lag = replica_lag(writer, answered(registry::Role::reading, 4000, 1.5), 5000);
    CHECK(lag.state == LagState::ok);
    CHECK(lag.bytes == 1000u);
    CHECK(lag.seconds == 1.5);
  }
  SUBCASE("behind, over the bound") {
    const auto lag = replica_lag(writer, answered(registry::Role::reading, 4000, 7.0), 5000);
    CHECK(lag.state == LagState::lagging);
  }
  SUBCASE("caught up with what the writer wrote, while it holds commits not yet written out") {
    auto async_writer = writer;
    async_writer.wal_insert_lsn = 5300; // synchronous_commit = off: 300 bytes inserted, not written
    const auto lag = replica_lag(async_writer, answered(registry::Role::reading, 5000, 3600.0), 5000);
    CHECK(lag.state == LagState::ok); // not late: health and routing take it
    CHECK(lag.bytes == 0u);
    CHECK(lag.writer_unwritten); // the rollout gate waits for it
    async_writer.wal_insert_lsn = 5000;
    CHECK_FALSE(replica_lag(async_writer, answered(registry::Role::reading, 5000, 3600.0), 5000).writer_unwritten);
    async_writer.wal_insert_lsn = 5300; // behind what was written: the usual measure, nothing to wait for
    const auto behind = replica_lag(async_writer, answered(registry::Role::reading, 4000, 7.0), 5000);
    CHECK(behind.state == LagState::lagging);
    CHECK_FALSE(behind.writer_unwritten);
  }
  SUBCASE("replica read after the writer moved on: never negative") {
    CHECK(replica_lag(writer, answered(registry::Role::reading, 6000, 0.1), 5000).bytes == 0u);
  }
  SUBCASE("unknown, never 0, when either side cannot tell") {
    auto down = writer;
    down.reachable = false;
    auto lag = replica_lag(down, answered(registry::Role::reading, 5000), 5000);
    CHECK(lag.state == LagState::unknown);
    CHECK_FALSE(lag.bytes);
    CHECK_FALSE(lag.seconds);
    auto nothing_replayed = answered(registry::Role::reading, 0);
    nothing_replayed.wal_lsn.reset();
    CHECK(replica_lag(writer, nothing_replayed, 5000).state == LagState::unknown);
  }
}

TEST_CASE("health::evaluate") {
  EndpointHealth entry;
  entry.probe = answered(registry::Role::writing, 1);
  entry.probe.prepared_in_doubt = 0;
  evaluate(entry);
  CHECK(entry.status == Status::healthy);

  SUBCASE("down when it did not answer") {
    entry.probe.reachable = false;
    entry.probe.error = ProbeError{ErrorKind::refused, "Connection refused"};
    evaluate(entry);
    CHECK(entry.status == Status::down);
  }
  SUBCASE("degraded: role mismatch, connections over 90%, in-doubt transactions") {
    auto mismatch = entry;
    mismatch.probe.role_mismatch = true;
    evaluate(mismatch);
    CHECK(mismatch.status == Status::degraded);
    auto crowded = entry;
    crowded.probe.connections = Connections{91, 100};
    evaluate(crowded);
    CHECK(crowded.status == Status::degraded);
    crowded.probe.connections = Connections{90, 100};
    evaluate(crowded);
    CHECK(crowded.status == Status::healthy);
    auto in_doubt = entry;
    in_doubt.probe.prepared_in_doubt = 2;
    evaluate(in_doubt);
    CHECK(in_doubt.status == Status::degraded);
  }
  SUBCASE("degraded: lag over the bound or unknown") {
    EndpointHealth replica;
    replica.probe = answered(registry::Role::reading, 1);
    replica.max_lag_ms = 5000;
    replica.lag = Lag{LagState::lagging, 100, 7.0, std::nullopt};
    evaluate(replica);
    CHECK(replica.status == Status::degraded);
    replica.lag = Lag{};
    evaluate(replica);
    CHECK(replica.status == Status::degraded);
    replica.lag = Lag{LagState::ok, 0, 0.0, std::nullopt};
    evaluate(replica);
    CHECK(replica.status == Status::healthy);
  }
}

TEST_CASE("health::to_json and to_prometheus") {
  Report report;
  EndpointHealth writer;
  writer.probe = answered(registry::Role::writing, 5000);
  writer.probe.prepared_in_doubt = 0;
  writer.probe.connect_ms = 50.1;
  writer.probe.query_ms = 6.2; // 56.300000000000004 in doubles
  evaluate(writer);
  EndpointHealth replica;
  replica.probe = answered(registry::Role::reading, 4000, 0.5);
  replica.max_lag_ms = 5000;
  replica.lag = replica_lag(writer.probe, replica.probe, 5000);
  evaluate(replica);
  report.endpoints = {writer, replica};

  const auto json = to_json(report);
  CHECK(json["status"] == "healthy");
  CHECK(json["endpoints"].size() == 2);
  CHECK(json["endpoints"][0]["replica"].is_null());
  CHECK(json["endpoints"][0]["shard"].is_null());
  CHECK(json["endpoints"][0]["lag"].is_null());
  CHECK(json["endpoints"][1]["lag"]["bytes"] == 1000);
  CHECK(json["endpoints"][1]["lag"]["state"] == "ok");
  CHECK(json["endpoints"][1]["url"] == "postgres://grant:***@127.0.0.1:5432/analytics");
  CHECK(json.dump().find("Sup3rSecret") == std::string::npos);
  CHECK(json["endpoints"][0].dump().find("\"latency_ms\":56.3,") != std::string::npos); // printed as rounded
  CHECK(json["endpoints"][0]["reasons"].empty());

  const auto metrics = to_prometheus(report);
  CHECK(metrics.find("# TYPE grant_health_up gauge\n") != std::string::npos);
  CHECK(metrics.find("grant_health_up{database=\"analytics\",shard=\"\",replica=\"\",role=\"writer\"} 1\n") !=
        std::string::npos);
  CHECK(metrics.find("grant_health_replication_lag_bytes{database=\"analytics\",shard=\"\",replica=\"r1\","
                     "role=\"replica\"} 1000\n") != std::string::npos);

  const auto text = to_text(report, false);
  CHECK(text.find("analytics/r1") != std::string::npos);
  CHECK(text.find("healthy: 2 endpoints, 2 healthy, 0 degraded, 0 down") != std::string::npos);
  CHECK(text.find("\033[") == std::string::npos);
}

TEST_CASE("health::changes_between") {
  Report first;
  EndpointHealth writer;
  writer.probe = answered(registry::Role::writing, 1);
  writer.status = Status::healthy;
  EndpointHealth replica;
  replica.probe = answered(registry::Role::reading, 1);
  replica.status = Status::healthy;
  first.endpoints = {writer, replica};

  const auto initial = changes_between(nullptr, first);
  REQUIRE(initial.size() == 2);
  CHECK_FALSE(initial[0].from);
  CHECK(initial[0].to == Status::healthy);
  CHECK(changes_between(&first, first).empty());

  auto second = first;
  second.endpoints[1].status = Status::degraded;
  second.endpoints[1].reasons = {"lag 9.6 s over 500 ms"};
  const auto changed = changes_between(&first, second);
  REQUIRE(changed.size() == 1);
  CHECK(changed[0].endpoint.label() == "analytics/r1");
  CHECK(changed[0].from == Status::healthy);
  CHECK(changed[0].to == Status::degraded);
  const auto line = to_text(changed[0], false);
  CHECK(line.find("analytics/r1  healthy -> degraded  lag 9.6 s over 500 ms") != std::string::npos);
  CHECK(to_json(changed[0])["from"] == "healthy");
}

} // namespace grant_test_health_test
