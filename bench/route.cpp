// The cost of one balancer pick over 8 replicas, per strategy, against the floor of any
// balancer measured in the same run: a plain atomic-counter round robin over the same 8 items.
// The pick includes everything a read pays: the health version check (the verdict cached per
// published state), the breaker check per replica, the strategy and the fallback bookkeeping.
//
//   build/bench/bench_route [--benchmark_repetitions=N ...]
#include <grant/config/load.hpp>
#include <grant/route/balancer.hpp>

#include "cpu_time_reporter.hpp"

#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <map>

using namespace grant;

namespace {

constexpr int k_replicas = 8;
constexpr double k_target_ns = 100.0;

config::Config fleet() {
  std::string replicas;
  for (int i = 0; i < k_replicas; ++i) {
    replicas += std::string(i > 0 ? ", " : "") + R"({"name": "r)" + std::to_string(i) +
                R"(", "url": "postgres://grant@10.0.0.)" + std::to_string(i + 1) + R"(/a", "weight": )" +
                std::to_string(1 + i % 3) + "}";
  }
  return config::parse(R"({"databases": {"a": {"url": "postgres://grant@10.0.0.99/a", "replicas": [)" + replicas +
                           "]}}}",
                       "bench.json", [](const std::string&) { return std::nullopt; });
}

health::MonitorState all_up(const route::Balancer& balancer) {
  health::MonitorState state;
  state.rounds = 1;
  for (std::size_t i = 0; i < balancer.replica_count(); ++i) {
    health::Tracked tracked;
    tracked.target.endpoint = balancer.replica(i);
    tracked.availability = health::Availability::up;
    health::EndpointHealth check;
    check.probe.reachable = true;
    check.probe.in_recovery = true;
    check.status = health::Status::healthy;
    tracked.last_passed = check;
    tracked.latest = check;
    tracked.measured_lag_ms = 0.0;
    state.endpoints.push_back(tracked);
  }
  return state;
}

struct Item {
  int id;
};
std::array<Item, k_replicas> g_items{};
std::atomic<std::uint64_t> g_turn{0};

class SummaryReporter : public grant::bench::CpuTimeReporter {
public:
  void print_summary() const {
    std::printf("\n%-46s %10s %14s  %s\n", "benchmark", "cpu ns/pick", "x baseline", "target < 100 ns");
    for (const auto& name : m_order) {
      const double ns = m_ns.at(name);
      // Each pick is compared with the baseline at the same thread count.
      const auto at = name.find("/threads:");
      const auto threads = at == std::string::npos ? std::string() : name.substr(at);
      const auto baseline = m_ns.find("baseline/atomic_round_robin_8" + threads);
      const double ratio = baseline == m_ns.end() ? 0.0 : ns / baseline->second;
      const bool pick = name.rfind("pick/", 0) == 0;
      std::printf("%-46s %10.2f %13.2fx  %s\n", name.c_str(), ns, ratio,
                  pick ? (ns < k_target_ns ? "ok" : "MISSED") : "");
    }
  }
};

} // namespace

int main(int argc, char** argv) {
  const auto config = fleet();
  registry::Registry registry(config);
  std::vector<std::unique_ptr<route::Balancer>> balancers;

  benchmark::RegisterBenchmark("baseline/atomic_round_robin_8",
                               [](benchmark::State& state) {
                                 for (auto _ : state) {
                                   benchmark::DoNotOptimize(
                                       &g_items[g_turn.fetch_add(1, std::memory_order_relaxed) % k_replicas]);
                                 }
                               })
      ->Threads(1)
      ->Threads(2);
  for (const auto& name : config::balancer_strategies()) {
    auto health = std::make_shared<route::ManualHealth>();
    route::BalancerOptions options;
    options.strategy = name;
    balancers.push_back(std::make_unique<route::Balancer>(registry, "a", "", health, options));
    auto* balancer = balancers.back().get();
    health->set(all_up(*balancer));
    benchmark::RegisterBenchmark(("pick/" + name + "_8").c_str(),
                                 [balancer](benchmark::State& state) {
                                   for (auto _ : state) {
                                     benchmark::DoNotOptimize(balancer->pick());
                                   }
                                 })
        ->Threads(1)
        ->Threads(2);
  }
  // One replica's breaker open (cooldown far away): every pick reads the clock once more.
  {
    auto health = std::make_shared<route::ManualHealth>();
    route::BalancerOptions options;
    options.breaker = route::BreakerOptions{1, std::chrono::hours(1)};
    balancers.push_back(std::make_unique<route::Balancer>(registry, "a", "", health, options));
    auto* balancer = balancers.back().get();
    health->set(all_up(*balancer));
    balancer->breaker(3).record_failure();
    benchmark::RegisterBenchmark("pick/round_robin_8_one_breaker_open",
                                 [balancer](benchmark::State& state) {
                                   for (auto _ : state) {
                                     benchmark::DoNotOptimize(balancer->pick());
                                   }
                                 })
        ->Threads(1)
        ->Threads(2);
  }

  benchmark::Initialize(&argc, argv);
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
