// Many threads routing at once against the real writer, replica and shard servers while a
// health monitor publishes states in the background: picks, checkouts, queries, breaker reports
// and scatter-gathers side by side. Under ThreadSanitizer (scripts/test.sh's thread phase runs
// these with the other threaded tests it names) they find data races; in the other builds they
// check that nothing is lost or misrouted under contention.
#include <grant/config/load.hpp>
#include <grant/health/monitor.hpp>
#include <grant/registry/registry.hpp>
#include <grant/route/balancer.hpp>
#include <grant/route/scatter.hpp>

#include "support/fleet.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_threads_test {

using namespace grant;
using namespace std::chrono_literals;

namespace {

struct Count final : route::MergedSink {
  long long rows = 0;
  long long sum = 0;
  void columns(const std::vector<db::Column>&) override {}
  void row(const std::string&, const db::RowView& row) override {
    ++rows;
    sum += std::stoll(std::string(row.fields[0]));
  }
};

} // namespace

TEST_CASE("route threads: picks, checkouts and queries from many threads while the monitor publishes") {
  test::TempDir dir;
  const std::string json = R"({"databases": {"analytics": {"url": ")" + test::writer_url() + R"(",
    "replicas": [{"name": "r1", "url": ")" +
                           test::replica_url() + R"(", "weight": 2},
                 {"name": "r2", "url": ")" +
                           test::replica_url() + R"("}],
    "pool": {"size": 4}, "balancer": {"strategy": "least_connections"},
    "health": {"max_lag_ms": 60000, "fall": 2, "rise": 1}}}})";
  const auto config = config::parse(json, dir.write("grant.json", json), config::process_env());
  registry::Registry registry(config);
  health::MonitorOptions options;
  options.interval = 20ms;
  health::Monitor monitor({&config.databases.front()}, {}, options);
  monitor.check_now();
  monitor.start();
  route::Balancer balancer(registry, "analytics", {}, route::from_monitor(monitor));

  constexpr int k_threads = 8;
  constexpr int k_rounds = 60;
  std::atomic<int> queries{0};
  std::atomic<int> replica_reads{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < k_rounds; ++i) {
        try {
          route::Pick pick;
          auto connection = balancer.checkout(&pick);
          const auto value = connection->query("SELECT $1::int + 1", {std::to_string(t * 1000 + i)}).scalar();
          if (value == std::to_string(t * 1000 + i + 1)) {
            ++queries;
          }
          if (!pick.is_writer()) {
            ++replica_reads;
            pick.breaker->record_success();
          }
          (void)balancer.pick(); // a pick without a checkout, as a router deciding would
          (void)registry.stats();
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  monitor.stop();
  CHECK(failures == 0);
  CHECK(queries == k_threads * k_rounds);
  CHECK(replica_reads > 0);
  CHECK(monitor.state()->rounds >= 1);
  const auto stats = registry.stats();
  for (const auto& [name, pool] : stats) {
    const auto& label = name; // CAPTURE's lambda cannot name a structured binding under clang 14
    CAPTURE(label);
    CHECK(pool.in_use == 0);
  }
}

TEST_CASE("route threads: scatter-gathers from several threads over shared pools") {
  test::ShardFleet fleet(4, "threads", true);
  for (int i = 0; i < 4; ++i) {
    fleet.execute(i, "CREATE TABLE n (v int)");
    fleet.execute(i, "INSERT INTO n SELECT g FROM generate_series(1, 500) g WHERE g % 4 = " + std::to_string(i));
  }
  const auto config = config::load(fleet.dir / "grant.json", config::process_env());
  registry::Registry registry(config);
  std::vector<route::ShardTarget> targets;
  for (const auto& shard : registry.database("orders").shards) {
    targets.push_back({shard.name, "orders/" + shard.name,
                       [&registry, name = shard.name] { return registry.writer("orders", name).checkout(); }});
  }
  std::atomic<int> right{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        Count sink;
        route::ScatterOptions options;
        options.batch_rows = 16;
        options.queued_batches = 1;
        options.jobs = 2;
        const bool ordered = (t + i) % 2 == 0;
        route::scatter_gather(targets,
                              route::plan_merge(ordered ? "SELECT v FROM n ORDER BY v LIMIT 100" : "SELECT v FROM n"),
                              sink, options);
        const bool ok = ordered ? (sink.rows == 100 && sink.sum == 5050) : (sink.rows == 500 && sink.sum == 125250);
        right += ok ? 1 : 0;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(right == 20);
}

} // namespace grant_test_route_threads_test
