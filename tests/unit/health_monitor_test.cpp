// health/monitor and serve/view: the state machine (unknown, up, down with hysteresis), what an
// endpoint may take, and the HTTP answers made from a monitor state. Checks are built as data
// here: the state machine has to be driven through sequences (fail, fail, pass...) at exact
// points, which the integration tests then repeat against real servers through the fault proxy.
#include <grant/error.hpp>
#include <grant/health/json.hpp>
#include <grant/health/monitor.hpp>
#include <grant/serve/server.hpp>
#include <grant/serve/view.hpp>
#include <grant/util/url.hpp>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_health_monitor_test {

using namespace grant;
using namespace grant::health;

namespace {

const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

Target target(const std::string& database, const std::string& shard, const std::string& replica) {
  Target out;
  out.endpoint.database = database;
  out.endpoint.shard = shard;
  out.endpoint.replica = replica;
  out.endpoint.role = replica.empty() ? registry::Role::writing : registry::Role::reading;
  out.endpoint.url = util::parse_database_url("postgres://grant:Sup3rSecret@127.0.0.1:5432/x", ".");
  out.max_lag_ms = 1000;
  return out;
}

// A check of `t`: answered or not; for a replica, in recovery with `lag_seconds` (empty: unknown).
EndpointHealth check_of(const Target& t, bool answered, std::optional<double> lag_seconds = 0.0) {
  EndpointHealth out;
  out.probe.endpoint = t.endpoint;
  out.probe.reachable = answered;
  out.max_lag_ms = t.max_lag_ms;
  if (!answered) {
    out.probe.error = ProbeError{health::ErrorKind::refused, "connection refused"};
    out.status = Status::down;
    out.reasons = {"refused: connection refused"};
    return out;
  }
  const bool replica = t.endpoint.role == registry::Role::reading;
  out.probe.in_recovery = replica;
  if (replica) {
    out.lag = Lag{};
    if (lag_seconds) {
      out.lag->bytes = *lag_seconds > 0 ? 4096 : 0;
      out.lag->seconds = lag_seconds;
      out.lag->state = *lag_seconds * 1000 > t.max_lag_ms ? LagState::lagging : LagState::ok;
    }
  }
  evaluate(out);
  return out;
}

Tracked tracked_of(const Target& t, Hysteresis hysteresis = {3, 2}) {
  Tracked out;
  out.target = t;
  out.hysteresis = hysteresis;
  out.since = t0;
  return out;
}

} // namespace

TEST_CASE("health::observe: unknown, then up or down with hysteresis") {
  const auto writer = target("analytics", "", "");
  SUBCASE("unknown takes nothing; its first passed check lets it in at once") {
    auto t = tracked_of(writer);
    CHECK(t.availability == Availability::unknown);
    CHECK_FALSE(takes_writes(t));
    CHECK(shown_status(t) == "unknown");
    CHECK(observe(t, check_of(writer, true), t0 + std::chrono::seconds(1)));
    CHECK(t.availability == Availability::up);
    CHECK(t.since == t0 + std::chrono::seconds(1));
    CHECK(takes_writes(t));
  }
  SUBCASE("unknown goes down on its first failed check") {
    auto t = tracked_of(writer);
    CHECK(observe(t, check_of(writer, false), t0));
    CHECK(t.availability == Availability::down);
    CHECK(shown_status(t) == "down");
  }
  SUBCASE("up survives fall - 1 failures (shown degraded), goes down at fall") {
    auto t = tracked_of(writer, {3, 2});
    observe(t, check_of(writer, true), t0);
    CHECK_FALSE(observe(t, check_of(writer, false), t0));
    CHECK_FALSE(observe(t, check_of(writer, false), t0));
    CHECK(t.availability == Availability::up);
    CHECK(t.failures == 2);
    CHECK(shown_status(t) == "degraded");
    CHECK(takes_writes(t)); // from its last passed check
    CHECK(observe(t, check_of(writer, false), t0 + std::chrono::seconds(3)));
    CHECK(t.availability == Availability::down);
    CHECK(t.since == t0 + std::chrono::seconds(3));
    CHECK_FALSE(takes_writes(t));
  }
  SUBCASE("a pass between failures starts the count again") {
    auto t = tracked_of(writer, {2, 2});
    observe(t, check_of(writer, true), t0);
    observe(t, check_of(writer, false), t0);
    observe(t, check_of(writer, true), t0);
    CHECK_FALSE(observe(t, check_of(writer, false), t0));
    CHECK(t.availability == Availability::up);
  }
  SUBCASE("down comes back after rise passes in a row") {
    auto t = tracked_of(writer, {1, 3});
    observe(t, check_of(writer, true), t0);
    CHECK(observe(t, check_of(writer, false), t0));
    CHECK_FALSE(observe(t, check_of(writer, true), t0));
    CHECK_FALSE(observe(t, check_of(writer, true), t0));
    CHECK(t.availability == Availability::down);
    CHECK(observe(t, check_of(writer, true), t0));
    CHECK(t.availability == Availability::up);
  }
}

TEST_CASE("health::takes_reads: up, in recovery, lag known and under the bound") {
  SUBCASE("a replica whose lag was never measured takes no reads") {
    const auto r = target("analytics", "", "r1");
    auto first = tracked_of(r);
    observe(first, check_of(r, true, std::nullopt), t0);
    CHECK(first.availability == Availability::up);
    CHECK_FALSE(takes_reads(first, 86'400'000));
  }
  const auto replica = target("analytics", "", "r1");
  auto t = tracked_of(replica);
  observe(t, check_of(replica, true, 0.0), t0);
  CHECK(takes_reads(t));
  CHECK(lag_ms(t) == 0.0);
  CHECK_FALSE(takes_writes(t));

  observe(t, check_of(replica, true, 2.5), t0);
  CHECK_FALSE(takes_reads(t)); // 2500 ms over the default 1000
  CHECK(takes_reads(t, 3000)); // ?lag=3000
  CHECK_FALSE(takes_reads(t, 2000));

  // The writer could not be reached: the lag is unknown in this check's report, and routing
  // holds on to the measured 2.5 s for fall - 1 (2) such checks.
  observe(t, check_of(replica, true, std::nullopt), t0);
  CHECK(t.latest->lag->state == LagState::unknown);
  CHECK(lag_ms(t) == 2500.0);
  CHECK(takes_reads(t, 3000));
  observe(t, check_of(replica, true, std::nullopt), t0);
  CHECK(takes_reads(t, 3000));
  observe(t, check_of(replica, true, std::nullopt), t0);
  CHECK_FALSE(lag_ms(t));
  CHECK_FALSE(takes_reads(t, 86'400'000)); // unknown never qualifies, however generous the bound
  observe(t, check_of(replica, true, 0.5), t0);
  CHECK(takes_reads(t)); // measured again

  auto not_replica = check_of(replica, true, 0.0);
  not_replica.probe.in_recovery = false;
  observe(t, not_replica, t0);
  CHECK_FALSE(takes_reads(t));
}

namespace {

std::shared_ptr<const MonitorState> fleet_state(bool checked) {
  auto state = std::make_shared<MonitorState>();
  state->started_at = t0;
  const std::vector<Target> targets{target("analytics", "", ""),   target("analytics", "", "r1"),
                                    target("analytics", "", "r2"), target("orders", "s0", ""),
                                    target("orders", "s1", ""),    target("orders", "s0", "r1")};
  for (const auto& t : targets) {
    auto tracked = tracked_of(t);
    if (checked) {
      const bool answered = t.endpoint.replica != "r2";
      observe(tracked, check_of(t, answered, 0.0), t0);
    }
    state->endpoints.push_back(std::move(tracked));
  }
  if (checked) {
    state->rounds = 1;
    state->checked_at = t0;
  }
  return state;
}

nlohmann::json body(const serve::Answer& answer) {
  return nlohmann::json::parse(answer.body);
}

} // namespace

TEST_CASE("serve::View answers from the monitor state") {
  SUBCASE("before the first check every endpoint is unknown: 503 everywhere, /health says why") {
    const serve::View view(fleet_state(false));
    CHECK(view.answer("/writer/analytics", std::nullopt).status == 503);
    const auto replica = view.answer("/replica/analytics/r1", std::nullopt);
    CHECK(replica.status == 503);
    CHECK(body(replica)["endpoints"][0]["reason"] == "not checked yet");
    const auto health = view.answer("/health", std::nullopt);
    CHECK(health.status == 503);
    const auto doc = body(health);
    CHECK(doc["status"] == "unknown");
    CHECK(doc["checked_at"].is_null());
    CHECK(doc["endpoints"][1]["status"] == "unknown");
    CHECK(doc["endpoints"][1]["lag"]["state"] == "unknown");
    CHECK(doc["endpoints"][1]["lag"]["bytes"].is_null()); // never a guessed 0
    CHECK(doc["endpoints"][1]["monitor"]["state"] == "unknown");
  }
  SUBCASE("after a check: writers, replicas by name or any, shards") {
    const serve::View view(fleet_state(true));
    CHECK(view.answer("/writer/analytics", std::nullopt).status == 200);
    CHECK(view.answer("/replica/analytics/r1", std::nullopt).status == 200);
    CHECK(view.answer("/replica/analytics/r1", "0").status == 200); // caught up: 0 ms
    const auto r2 = view.answer("/replica/analytics/r2", std::nullopt);
    CHECK(r2.status == 503);
    CHECK(body(r2)["endpoints"][0]["state"] == "down");
    CHECK(view.answer("/replica/analytics", std::nullopt).status == 200); // r1 qualifies
    CHECK(view.answer("/writer/orders", std::nullopt).status == 200);     // every shard's writer
    CHECK(view.answer("/writer/orders/s1", std::nullopt).status == 200);
    CHECK(view.answer("/replica/orders/s0", std::nullopt).status == 200);
    CHECK(view.answer("/replica/orders/s0/r1", std::nullopt).status == 200);
    CHECK(view.answer("/replica/orders/s1", std::nullopt).status == 503); // s1 has no replica
    CHECK(view.answer("/replica/orders", std::nullopt).status == 503);    // ... so not every shard has one
    CHECK(view.answer("/health", std::nullopt).status == 503);            // r2 is down
    const auto metrics = view.answer("/metrics", std::nullopt);
    CHECK(metrics.status == 200);
    CHECK(metrics.body.find(
              "grant_health_available{database=\"analytics\",shard=\"\",replica=\"r2\",role=\"replica\"} 0") !=
          std::string::npos);
    CHECK(metrics.body.find("grant_health_monitor_rounds_total 1") != std::string::npos);
  }
  SUBCASE("unknown names and paths are 404, a bad lag 400, and no body holds a password") {
    const serve::View view(fleet_state(true));
    for (const auto* path : {"/", "/nope", "/writer", "/writer/nope", "/writer/orders/s9", "/replica/analytics/r9",
                             "/writer/analytics/extra", "/replica/orders/s0/r1/extra", "/health/x"}) {
      CHECK_MESSAGE(view.answer(path, std::nullopt).status == 404, path);
    }
    for (const auto* lag : {"abc", "-1", "1.5", "", "99999999999"}) {
      CHECK_MESSAGE(view.answer("/replica/analytics", std::string_view(lag)).status == 400, lag);
    }
    for (const auto* path : {"/health", "/metrics", "/writer/analytics", "/replica/analytics"}) {
      CHECK(view.answer(path, std::nullopt).body.find("Sup3rSecret") == std::string::npos);
    }
  }
}

TEST_CASE("serve::parse_listen") {
  CHECK(serve::parse_listen("127.0.0.1:8433").host == "127.0.0.1");
  CHECK(serve::parse_listen("127.0.0.1:8433").port == 8433);
  CHECK(serve::parse_listen("[::1]:0").host == "::1");
  CHECK(serve::parse_listen("[::1]:0").text() == "[::1]:0");
  for (const auto* bad : {"8433", ":8433", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:70000", "::1:8433"}) {
    CHECK_THROWS_AS_MESSAGE(serve::parse_listen(bad), ConfigError, bad);
  }
}

} // namespace grant_test_health_monitor_test
