// route::Balancer and route::CircuitBreaker against the real servers of tests/servers.sh, with
// faults made at the network: the fault proxy cutting a replica's health probes, replay paused on
// the shared replica, replicas on ports where nothing listens.
#include <grant/config/load.hpp>
#include <grant/db/error.hpp>
#include <grant/health/monitor.hpp>
#include <grant/route/balancer.hpp>

#include "support/fault_proxy.hpp"
#include "support/pg_pair.hpp"
#include "support/replica.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_test {

using namespace grant;
using namespace std::chrono_literals;
using route::Fallback;

namespace {

config::Config parse_config(const std::string& json, const test::TempDir& dir) {
  return config::parse(json, dir.write("grant.json", json), config::process_env());
}

std::vector<const config::Database*> all(const config::Config& config) {
  std::vector<const config::Database*> out;
  for (const auto& database : config.databases) {
    out.push_back(&database);
  }
  return out;
}

std::map<std::string, int> spread(route::Balancer& balancer, int picks) {
  std::map<std::string, int> out;
  for (int i = 0; i < picks; ++i) {
    ++out[balancer.pick().endpoint->label()];
  }
  return out;
}

std::string refused_url() {
  return "postgres://grant@127.0.0.1:" + std::to_string(test::closed_port()) + "/analytics";
}

} // namespace

TEST_CASE("route: a replica whose probes are cut is skipped once the monitor takes it out, and back after") {
  test::TempDir dir;
  test::FaultProxy proxy(test::replica_url());
  const auto config = parse_config(R"({"databases": {"analytics": {"url": ")" + test::writer_url() + R"(",
    "replicas": [{"name": "r1", "url": ")" +
                                       test::replica_url() + R"("},
                 {"name": "r2", "url": ")" +
                                       proxy.url() + R"("}],
    "health": {"timeout_ms": 1500, "max_lag_ms": 60000, "fall": 2, "rise": 2}}}})",
                                   dir);
  registry::Registry registry(config);
  health::Monitor monitor(all(config), {});
  route::Balancer balancer(registry, "analytics", {}, route::from_monitor(monitor));

  CHECK(balancer.pick().fallback == Fallback::unknown); // nothing checked yet
  monitor.check_now();
  auto counts = spread(balancer, 200);
  CHECK(counts["analytics/r1"] == 100);
  CHECK(counts["analytics/r2"] == 100);
  route::Pick pick;
  {
    auto connection = balancer.checkout(&pick);
    CHECK(connection->in_recovery());
    CHECK_FALSE(pick.is_writer());
  }

  proxy.add_rule("pg_is_in_recovery", test::FaultProxy::Action::drop_before, -1);
  monitor.check_now();
  CHECK(spread(balancer, 200)["analytics/r2"] == 100); // one failed check: still in (fall 2)
  monitor.check_now();
  counts = spread(balancer, 200);
  CHECK(counts["analytics/r1"] == 200);
  CHECK(counts["analytics/r2"] == 0);
  CHECK(balancer.fallbacks_total() == 1); // only the pick before the first check

  proxy.clear_rules();
  monitor.check_now();
  CHECK(spread(balancer, 200)["analytics/r2"] == 0); // one passed check: not yet (rise 2)
  monitor.check_now();
  CHECK(spread(balancer, 200)["analytics/r2"] == 100);
}

TEST_CASE("route: a replica lagging while replay is paused is excluded, and back after resume") {
  test::TempDir dir;
  const auto config = parse_config(R"({"databases": {"analytics": {"url": ")" + test::writer_url() + R"(",
    "replicas": [{"name": "r1", "url": ")" +
                                       test::replica_url() + R"("}],
    "health": {"max_lag_ms": 200}}}})",
                                   dir);
  registry::Registry registry(config);
  health::Monitor monitor(all(config), {});
  route::Balancer balancer(registry, "analytics", {}, route::from_monitor(monitor));
  // Until the monitor sees the replica caught up with what earlier tests wrote (bounded: 10 s).
  const auto until_replica = [&] {
    for (int i = 0; i < 100; ++i) {
      monitor.check_now();
      if (!balancer.pick().is_writer()) {
        return true;
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  };
  REQUIRE(until_replica());
  auto writer = registry.writer("analytics").checkout();
  writer->execute("CREATE TABLE IF NOT EXISTS route_lag_probe (x int)");
  {
    test::ReplayPause pause;
    std::this_thread::sleep_for(300ms); // the last replayed transaction gets older than 200 ms
    writer->execute("INSERT INTO route_lag_probe SELECT generate_series(1, 1000)");
    monitor.check_now();
    const auto before = balancer.fallbacks(Fallback::lagging);
    const auto pick = balancer.pick();
    CHECK(pick.is_writer());
    CHECK(pick.fallback == Fallback::lagging);
    CHECK(balancer.fallbacks(Fallback::lagging) == before + 1);
    auto connection = balancer.checkout();
    CHECK_FALSE(connection->in_recovery()); // the writer serves the read
  }
  CHECK(until_replica()); // replay resumed, caught up again
  CHECK(balancer.current_fallback() == Fallback::none);
}

TEST_CASE("route: every replica down, the writer serves reads and the fallback counter says so") {
  test::TempDir dir;
  const auto config = parse_config(R"({"databases": {"analytics": {"url": ")" + test::writer_url() + R"(",
    "replicas": [{"name": "r1", "url": ")" +
                                       refused_url() + R"("}, {"name": "r2", "url": ")" + refused_url() + R"("}],
    "pool": {"retry_attempts": 0}, "health": {"timeout_ms": 1000}}}})",
                                   dir);
  registry::Registry registry(config);
  health::Monitor monitor(all(config), {});
  std::vector<std::string> log;
  std::mutex log_mutex;
  route::BalancerOptions options;
  options.strategy = "least_connections";
  options.on_fallback = [&](const route::FallbackEvent& event) {
    std::lock_guard lock(log_mutex);
    log.push_back(event.database + ": reads go to the writer: " + std::string(route::fallback_name(event.reason)));
  };
  route::Balancer balancer(registry, "analytics", {}, route::from_monitor(monitor), options);
  monitor.check_now();
  for (int i = 0; i < 50; ++i) {
    route::Pick pick;
    auto connection = balancer.checkout(&pick);
    CHECK(pick.is_writer());
    CHECK_FALSE(connection->in_recovery());
  }
  CHECK(balancer.fallbacks(Fallback::down) == 50);
  CHECK(balancer.fallbacks_total() == 50);
  CHECK(log == std::vector<std::string>{"analytics: reads go to the writer: down"});
}

TEST_CASE("route: the breaker of a refused replica opens, fails fast, and half-opens after the cooldown") {
  test::TempDir dir;
  const auto config = parse_config(R"({"databases": {"analytics": {"url": ")" + test::writer_url() + R"(",
    "replicas": [{"name": "r1", "url": ")" +
                                       refused_url() + R"("}],
    "pool": {"retry_attempts": 0}}}})",
                                   dir);
  registry::Registry registry(config);
  route::BalancerOptions options;
  options.breaker = route::BreakerOptions{3, 1000ms};
  route::Balancer balancer(registry, "analytics", {}, {}, options); // no monitor: breakers alone
  auto& breaker = balancer.breaker(0);
  registry.writer("analytics").checkout(); // connected now, so the reads below take microseconds

  for (int i = 0; i < 3; ++i) {
    route::Pick pick;
    CHECK_THROWS_AS(balancer.checkout(&pick), db::DbError); // connection refused
    CHECK(pick.replica == 0);
  }
  CHECK(breaker.state() == route::BreakerState::open);
  const auto connects = registry.stats().at("analytics/r1").connect_failures;
  CHECK(connects == 3);

  // Open: the replica is skipped without a connect attempt; the writer serves.
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    route::Pick pick;
    auto connection = balancer.checkout(&pick);
    CHECK(pick.fallback == Fallback::breaker_open);
  }
  CHECK(std::chrono::steady_clock::now() - started < 1000ms);
  CHECK(registry.stats().at("analytics/r1").connect_failures == connects);
  CHECK(balancer.fallbacks(Fallback::breaker_open) == 20);

  // After the cooldown: exactly one trial reaches the replica; it fails and re-opens the breaker.
  std::this_thread::sleep_for(1100ms);
  route::Pick trial;
  CHECK_THROWS_AS(balancer.checkout(&trial), db::DbError);
  CHECK(trial.replica == 0);
  CHECK(breaker.state() == route::BreakerState::open);
  CHECK(breaker.opened() == 2);
  CHECK(balancer.pick().fallback == Fallback::breaker_open);
  CHECK(registry.stats().at("analytics/r1").connect_failures == connects + 1);
}

TEST_CASE("route: the writer's own breaker fails fast when it is the only choice") {
  test::TempDir dir;
  const auto config = parse_config(R"({"databases": {"lonely": {"url": ")" + refused_url() + R"(",
    "pool": {"retry_attempts": 0}}}})",
                                   dir);
  registry::Registry registry(config);
  route::BalancerOptions options;
  options.breaker = route::BreakerOptions{2, 60000ms};
  route::Balancer balancer(registry, "lonely", {}, {}, options);
  CHECK_THROWS_AS(balancer.checkout(), db::DbError);
  CHECK_THROWS_AS(balancer.checkout(), db::DbError);
  try {
    balancer.checkout();
    FAIL("no error");
  } catch (const db::DbError& error) {
    CHECK(test::contains(error.what(), "circuit breaker of lonely is open after 2 consecutive failures"));
  }
  CHECK(registry.stats().at("lonely").connect_failures == 2);
}

TEST_CASE("route: many threads checking out and querying while the monitor runs and a replica flaps") {
  test::TempDir dir;
  test::FaultProxy proxy(test::replica_url());
  const auto config = parse_config(R"({"databases": {"analytics": {"url": ")" + test::writer_url() + R"(",
    "replicas": [{"name": "r1", "url": ")" +
                                       test::replica_url() + R"(", "weight": 2},
                 {"name": "r2", "url": ")" +
                                       proxy.url() + R"("}],
    "pool": {"size": 4}, "balancer": {"strategy": "least_connections"},
    "health": {"timeout_ms": 5000, "max_lag_ms": 60000, "fall": 2, "rise": 1}}}})",
                                   dir);
  registry::Registry registry(config);
  health::MonitorOptions monitor_options;
  monitor_options.interval = 50ms;
  health::Monitor monitor(all(config), {}, monitor_options);
  route::Balancer balancer(registry, "analytics", {}, route::from_monitor(monitor));
  monitor.start();
  // Until a round has measured the replicas (slow under sanitizers: bounded by eventually's 15 s).
  REQUIRE(test::eventually([&] { return !balancer.pick().is_writer(); }));
  const auto fallbacks_before = balancer.fallbacks_total();
  std::atomic<bool> stop{false};
  std::thread flapper([&] {
    for (int i = 0; !stop; ++i) {
      if (i % 2 == 1) {
        proxy.add_rule("pg_is_in_recovery", test::FaultProxy::Action::drop_before, -1);
      } else {
        proxy.clear_rules();
      }
      std::this_thread::sleep_for(300ms);
    }
  });
  std::mutex mutex;
  std::map<std::string, int> served;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  const auto until = std::chrono::steady_clock::now() + 2s;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      while (std::chrono::steady_clock::now() < until) {
        try {
          route::Pick pick;
          auto connection = balancer.checkout(&pick);
          const bool replica = connection->query("SHOW transaction_read_only").scalar() == db::Value{"on"};
          std::lock_guard lock(mutex);
          ++served[pick.endpoint->label() + (replica ? " (replica)" : " (writer)")];
        } catch (const std::exception& error) {
          std::lock_guard lock(mutex);
          errors.emplace_back(error.what());
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  stop = true;
  flapper.join();
  monitor.stop();
  CHECK(errors.empty());
  int total = 0;
  for (const auto& [label, count] : served) {
    MESSAGE(label << ": " << count);
    CHECK((label == "analytics (writer)" || label.ends_with("(replica)")));
    total += count;
  }
  for (std::size_t r = 0; r < route::k_fallback_reasons; ++r) {
    if (const auto n = balancer.fallbacks(static_cast<Fallback>(r)); n > 0) {
      MESSAGE("fallback " << route::fallback_name(static_cast<Fallback>(r)) << ": " << n);
    }
  }
  CHECK(total > 200);
  // r1 is always up; r2 while its probes pass. The writer only when counted as a fallback.
  CHECK(served["analytics/r1 (replica)"] > 0);
  CHECK(served["analytics/r2 (replica)"] > 0);
  CHECK(served["analytics (writer)"] == static_cast<int>(balancer.fallbacks_total() - fallbacks_before));
}

TEST_CASE("route: a replica whose server is stopped is banned, and used again once restarted") {
  // A pair of servers of the test's own: the shared replica of tests/servers.sh must keep running.
  static test::PgPair pair;
  pair.ensure_running();
  test::TempDir dir;
  const auto config = parse_config(R"({"databases": {"app": {"url": ")" + pair.writer_url() + R"(",
    "replicas": [{"name": "r1", "url": ")" +
                                       pair.replica_url() + R"("}],
    "pool": {"connect_timeout_ms": 2000},
    "health": {"timeout_ms": 2000, "max_lag_ms": 60000, "fall": 1, "rise": 1}}}})",
                                   dir);
  registry::Registry registry(config);
  health::Monitor monitor(all(config), {});
  route::Balancer balancer(registry, "app", {}, route::from_monitor(monitor));
  const auto until = [&](bool on_replica) {
    for (int i = 0; i < 100; ++i) {
      monitor.check_now();
      if (balancer.pick().is_writer() != on_replica) {
        return true;
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  };
  REQUIRE(until(true));
  CHECK(balancer.checkout()->in_recovery());

  pair.stop_replica();
  monitor.check_now();
  const auto pick = balancer.pick();
  CHECK(pick.is_writer());
  CHECK(pick.fallback == Fallback::down);
  CHECK_FALSE(balancer.checkout()->in_recovery()); // the writer serves the read

  pair.start_replica();
  REQUIRE(until(true)); // checked again: back in rotation
  // The session pooled before the stop died with the server: its first query fails and the pool
  // discards it; the next checkout connects afresh.
  bool replica_read = false;
  for (int attempt = 0; attempt < 3 && !replica_read; ++attempt) {
    try {
      replica_read = balancer.checkout()->in_recovery();
    } catch (const db::DbError& error) {
      CHECK(error.connection_lost());
    }
  }
  CHECK(replica_read);
  CHECK(balancer.fallbacks(Fallback::down) >= 1);
}

} // namespace grant_test_route_test
