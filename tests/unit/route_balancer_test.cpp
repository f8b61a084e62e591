// route::Balancer and its strategies over states set by hand: how picks spread by weight (bounds
// that hold with overwhelming probability, not exact counts), which replicas are skipped and why,
// the writer fallback with its counters and events, and concurrent picks while states change.
// Nothing here connects: picks only choose pools. Real servers: tests/integration/route_test.cpp.
#include <grant/config/load.hpp>
#include <grant/route/balancer.hpp>

#include <doctest/doctest.h>

#include <map>
#include <mutex>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_balancer_test {

using namespace grant;
using health::Availability;
using route::Fallback;

namespace {

config::Config fleet(const std::string& strategy, const std::string& weights = "3, 2, 1") {
  std::string replicas;
  std::size_t i = 0;
  for (std::size_t start = 0; start < weights.size();) {
    auto end = weights.find(',', start);
    end = end == std::string::npos ? weights.size() : end;
    ++i;
    replicas += std::string(i > 1 ? ", " : "") + R"({"name": "r)" + std::to_string(i) +
                R"(", "url": "postgres://grant:Sup3rSecret@10.0.0.)" + std::to_string(i) + R"(/a", "weight": )" +
                weights.substr(start, end - start) + "}";
    start = end + 1;
  }
  return config::parse(R"({"databases": {"a": {"url": "postgres://grant:Sup3rSecret@10.0.0.9/a", "replicas": [)" +
                           replicas + R"(], "balancer": {"strategy": ")" + strategy + R"("}},
                       "solo": {"url": "postgres://h/solo"}}})",
                       "grant.json", [](const std::string&) { return std::nullopt; });
}

// A replica as the monitor would track it: `availability`, in recovery, lag `lag_ms` (empty: unknown).
health::Tracked replica(const registry::Endpoint& endpoint, Availability availability = Availability::up,
                        std::optional<double> lag_ms = 0.0, bool in_recovery = true) {
  health::Tracked tracked;
  tracked.target.endpoint = endpoint;
  tracked.target.max_lag_ms = 1000;
  tracked.availability = availability;
  health::EndpointHealth check;
  check.probe.endpoint = endpoint;
  check.probe.reachable = true;
  check.probe.in_recovery = in_recovery;
  check.status = health::Status::healthy;
  tracked.latest = check;
  tracked.last_passed = check;
  tracked.measured_lag_ms = lag_ms;
  tracked.lag_unmeasured = lag_ms ? 0 : tracked.hysteresis.fall;
  return tracked;
}

health::MonitorState state_of(const std::vector<health::Tracked>& replicas) {
  health::MonitorState state;
  state.rounds = 1;
  state.endpoints = replicas;
  return state;
}

std::vector<health::Tracked> all_up(const route::Balancer& balancer) {
  std::vector<health::Tracked> out;
  for (std::size_t i = 0; i < balancer.replica_count(); ++i) {
    out.push_back(replica(balancer.replica(i)));
  }
  return out;
}

std::map<int, int> spread(route::Balancer& balancer, int picks) {
  std::map<int, int> out;
  for (int i = 0; i < picks; ++i) {
    ++out[balancer.pick().replica];
  }
  return out;
}

} // namespace

TEST_CASE("route::Balancer spreads picks by weight, per strategy") {
  for (const auto& name : config::balancer_strategies()) {
    CAPTURE(name);
    const auto config = fleet(name);
    registry::Registry registry(config);
    auto health = std::make_shared<route::ManualHealth>();
    route::Balancer balancer(registry, "a", {}, health);
    CHECK(balancer.strategy() == name);
    REQUIRE(balancer.replica_count() == 3);
    health->set(state_of(all_up(balancer)));

    // Weights 3:2:1 over 60000 picks: 30000 / 20000 / 10000 expected, +-1.5% of all picks
    // (random's standard deviation is under 0.2%).
    constexpr int k_picks = 60000;
    auto counts = spread(balancer, k_picks);
    CHECK(counts[-1] == 0);
    CHECK(counts[0] == doctest::Approx(30000).epsilon(0.03));
    CHECK(counts[1] == doctest::Approx(20000).epsilon(0.045));
    CHECK(counts[2] == doctest::Approx(10000).epsilon(0.09));

    // r1 down: r2 and r3 share 2:1, r1 gets nothing.
    auto replicas = all_up(balancer);
    replicas[0] = replica(balancer.replica(0), Availability::down);
    health->set(state_of(replicas));
    counts = spread(balancer, k_picks);
    CHECK(counts[0] == 0);
    CHECK(counts[1] == doctest::Approx(40000).epsilon(0.03));
    CHECK(counts[2] == doctest::Approx(20000).epsilon(0.045));
    CHECK(balancer.fallbacks_total() == 0);

    // Back up: r1 is picked again.
    health->set(state_of(all_up(balancer)));
    CHECK(spread(balancer, 600)[0] > 200);
  }
}

TEST_CASE("route least_connections: held connections settle by weight") {
  // Pools of fake connections, so the strategy sees real in-use counts.
  struct Fake final : db::Connection {
    Fake() : Connection("fake") {}
    db::Dialect dialect() const override { return db::Dialect::postgres; }
    void execute(std::string_view) override {}
    db::Rows query(std::string_view, const db::Params&) override { return {}; }
    void stream(std::string_view, const db::RowCallback&) override {}
    void stream_result(std::string_view, db::ResultSink&, const db::StreamOptions&) override {}
    void interrupt() noexcept override {}
    void set_statement_timeout(std::chrono::milliseconds) override {}
    std::string reset_session_sql() const override { return {}; }
    bool in_recovery() override { return true; }
    std::string server_version() override { return "fake"; }
    bool is_usable() const noexcept override { return true; }

  protected:
    std::string begin_statement(const db::TxOptions&) const override { return "BEGIN"; }
  };
  registry::PoolOptions options;
  options.max_size = 1000;
  std::vector<std::unique_ptr<registry::Pool>> pools;
  route::Replicas replicas;
  for (std::uint32_t weight : {3U, 1U}) {
    pools.push_back(std::make_unique<registry::Pool>(
        "r", [] { return std::make_unique<Fake>(); }, options));
    replicas.weights.push_back(weight);
    replicas.pools.push_back(pools.back().get());
  }
  const auto strategy = route::make_strategy("least_connections", replicas);
  std::vector<registry::PooledConnection> held;
  for (int i = 0; i < 400; ++i) {
    held.push_back(pools[strategy->choose(0b11)]->checkout());
  }
  CHECK(pools[0]->in_use() == doctest::Approx(300).epsilon(0.02));
  CHECK(pools[1]->in_use() == doctest::Approx(100).epsilon(0.05));
  // Free everything on r1 (the heavy one): the next picks fill it first.
  held.clear();
  CHECK(pools[0]->in_use() == 0);
  auto keep = pools[1]->checkout();
  CHECK(strategy->choose(0b11) == 0);
  CHECK(strategy->choose(0b10) == 1); // only what is usable
}

TEST_CASE("route::Balancer skips replicas and says why it falls back to the writer") {
  const auto config = fleet("round_robin", "1, 1");
  registry::Registry registry(config);
  auto health = std::make_shared<route::ManualHealth>();
  std::mutex events_mutex;
  std::vector<std::pair<Fallback, Fallback>> events;
  route::BalancerOptions options;
  options.breaker = route::BreakerOptions{2, std::chrono::hours(1)};
  options.on_fallback = [&](const route::FallbackEvent& event) {
    std::lock_guard lock(events_mutex);
    CHECK(event.database == "a");
    events.emplace_back(event.previous, event.reason);
  };
  route::Balancer balancer(registry, "a", {}, health, options);
  const auto& r1 = balancer.replica(0);
  const auto& r2 = balancer.replica(1);
  const auto expect_writer = [&](Fallback reason) {
    const auto before = balancer.fallbacks(reason);
    const auto pick = balancer.pick();
    CHECK(pick.is_writer());
    CHECK(pick.fallback == reason);
    CHECK(pick.endpoint->label() == "a");
    CHECK(pick.pool == &registry.writer("a"));
    CHECK(balancer.fallbacks(reason) == before + 1);
    CHECK(balancer.current_fallback() == reason);
  };

  expect_writer(Fallback::unknown); // nothing checked yet
  health->set(state_of({replica(r1, Availability::down), replica(r2, Availability::down)}));
  expect_writer(Fallback::down);
  expect_writer(Fallback::down);
  health->set(state_of({replica(r1, Availability::up, 5000.0), replica(r2, Availability::up, 1001.0)}));
  expect_writer(Fallback::lagging);
  health->set(state_of({replica(r1, Availability::up, std::nullopt), replica(r2, Availability::up, std::nullopt)}));
  expect_writer(Fallback::lag_unknown);
  health->set(state_of({replica(r1, Availability::up, 0.0, false), replica(r2, Availability::up, 0.0, false)}));
  expect_writer(Fallback::not_in_recovery);
  health->set(state_of({replica(r1, Availability::down), replica(r2, Availability::up, 9000.0)}));
  expect_writer(Fallback::mixed);
  health->set(state_of({replica(r1)}));
  CHECK(balancer.pick().replica == 0); // r2 is not in the state: unknown, skipped
  CHECK(balancer.pick().replica == 0);

  health->set(state_of({replica(r1), replica(r2)}));
  for (auto* b : {&balancer.breaker(0), &balancer.breaker(1)}) {
    b->record_failure();
    b->record_failure();
  }
  expect_writer(Fallback::breaker_open);
  balancer.breaker(1).record_success();
  CHECK(balancer.pick().replica == 1);
  CHECK(balancer.current_fallback() == Fallback::none);

  CHECK(balancer.fallbacks_total() == 8);
  // One event per change of reason, not per pick.
  const std::vector<std::pair<Fallback, Fallback>> expected = {{Fallback::none, Fallback::unknown},
                                                               {Fallback::unknown, Fallback::down},
                                                               {Fallback::down, Fallback::lagging},
                                                               {Fallback::lagging, Fallback::lag_unknown},
                                                               {Fallback::lag_unknown, Fallback::not_in_recovery},
                                                               {Fallback::not_in_recovery, Fallback::mixed},
                                                               {Fallback::mixed, Fallback::none},
                                                               {Fallback::none, Fallback::breaker_open},
                                                               {Fallback::breaker_open, Fallback::none}};
  CHECK(events == expected);
  CHECK(route::fallback_name(Fallback::lag_unknown) == "lag_unknown");
}

TEST_CASE("route::Balancer without replicas, without health, and with an unknown strategy") {
  const auto config = fleet("random");
  registry::Registry registry(config);
  route::Balancer solo(registry, "solo");
  CHECK(solo.pick().fallback == Fallback::no_replicas);
  CHECK(solo.fallbacks(Fallback::no_replicas) == 1);

  route::Balancer unmonitored(registry, "a"); // no health source: only breakers decide
  CHECK(unmonitored.strategy() == "random");
  CHECK_FALSE(unmonitored.pick().is_writer());

  route::BalancerOptions options;
  options.strategy = "fastest";
  CHECK_THROWS_AS(route::Balancer(registry, "a", {}, {}, options), ConfigError);
  CHECK_THROWS_AS(route::Balancer(registry, "nope"), ConfigError);
}

TEST_CASE("route::Balancer under concurrent picks while states change") {
  const auto config = fleet("round_robin", "1, 1, 1, 1");
  registry::Registry registry(config);
  auto health = std::make_shared<route::ManualHealth>();
  route::Balancer balancer(registry, "a", {}, health);
  auto up = all_up(balancer);
  auto r4_down = up;
  r4_down[3] = replica(balancer.replica(3), Availability::down);
  health->set(state_of(up));
  // One pick reads that state; from then on a pick that races a refresh uses the previous
  // state's verdict, which never empties the set here.
  REQUIRE_FALSE(balancer.pick().is_writer());
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    for (int i = 0; !stop; ++i) {
      health->set(state_of(i % 2 == 0 ? r4_down : up));
    }
  });
  std::atomic<long> wrong{0};
  std::atomic<long> total{0};
  std::mutex wrong_mutex;
  std::string first_wrong;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        const auto pick = balancer.pick();
        if (pick.is_writer() || pick.replica > 3 || pick.pool == nullptr) {
          ++wrong;
          std::lock_guard lock(wrong_mutex);
          first_wrong = std::string(route::fallback_name(pick.fallback)) + " replica " + std::to_string(pick.replica);
        }
        ++total;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  stop = true;
  flipper.join();
  CHECK_MESSAGE(wrong == 0, first_wrong);
  CHECK(total == 160000);
  // The last state says r4 is either in or out; once it settles, the balancer follows it.
  health->set(state_of(r4_down));
  CHECK(spread(balancer, 300)[3] == 0);
}

TEST_CASE("route::Balancer takes its breaker settings from databases.X.balancer unless the options set them") {
  const auto config = config::parse(R"({"databases": {"a": {"url": "postgres://h/a",
    "replicas": [{"url": "postgres://h1/a"}], "balancer": {"failure_threshold": 2, "cooldown_ms": 1234}},
    "b": {"url": "postgres://h/b"}}})",
                                    "grant.json", [](const std::string&) { return std::nullopt; });
  registry::Registry registry(config);
  route::Balancer configured(registry, "a");
  CHECK(configured.breaker(0).options().failure_threshold == 2);
  CHECK(configured.breaker(0).options().cooldown == std::chrono::milliseconds(1234));
  CHECK(configured.writer_breaker().options().failure_threshold == 2);
  configured.breaker(0).record_failure();
  CHECK(configured.breaker(0).state() == route::BreakerState::closed);
  configured.breaker(0).record_failure();
  CHECK(configured.breaker(0).state() == route::BreakerState::open); // after 2, not the default 5

  route::Balancer defaults(registry, "b");
  CHECK(defaults.writer_breaker().options().failure_threshold == 5);
  CHECK(defaults.writer_breaker().options().cooldown == std::chrono::milliseconds(5000));

  route::BalancerOptions options;
  options.breaker = route::BreakerOptions{7, std::chrono::milliseconds(10)};
  route::Balancer overridden(registry, "a", {}, {}, options);
  CHECK(overridden.breaker(0).options().failure_threshold == 7);
  CHECK(overridden.breaker(0).options().cooldown == std::chrono::milliseconds(10));
}

} // namespace grant_test_route_balancer_test
