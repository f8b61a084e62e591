// Resolution cost per key for every resolver (64 shards; consistent_hash with 160 virtual
// nodes per shard), against raw hashing of the same canonical bytes measured in the same run.
#include <grant/config/load.hpp>
#include <grant/shard/resolver.hpp>

#include "cpu_time_reporter.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <span>

using namespace grant;

namespace {

constexpr std::size_t k_shards = 64;
constexpr std::size_t k_keys = 1 << 16; // more than fits in L1, like a real stream
constexpr std::size_t k_lookup_entries = 100000;
constexpr double k_target_ns = 50.0;

std::string uuid_text(std::mt19937_64& random) {
  char text[37];
  std::snprintf(text, sizeof text, "%08llx-%04llx-4%03llx-a%03llx-%012llx",
                static_cast<unsigned long long>(random() & 0xffffffff),
                static_cast<unsigned long long>(random() & 0xffff), static_cast<unsigned long long>(random() & 0xfff),
                static_cast<unsigned long long>(random() & 0xfff),
                static_cast<unsigned long long>(random() & 0xffffffffffff));
  return text;
}

// A third integers, a third tenant names, a third UUIDs as text.
std::vector<std::string> mixed_texts(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < count; ++i) {
    switch (i % 3) {
    case 0:
      texts.push_back(std::to_string(static_cast<std::int64_t>(random() >> 20)));
      break;
    case 1:
      texts.push_back("tenant-" + std::to_string(random() % 1000000));
      break;
    default:
      texts.push_back(uuid_text(random));
      break;
    }
  }
  return texts;
}

std::vector<shard::Key> keys_of(const std::vector<std::string>& texts) {
  std::vector<shard::Key> keys;
  for (const auto& text : texts) {
    keys.push_back(shard::Key::from_text({text}));
  }
  return keys;
}

std::vector<shard::Key> integer_keys(std::size_t count) {
  std::mt19937_64 random(5);
  std::vector<shard::Key> keys;
  for (std::size_t i = 0; i < count; ++i) {
    keys.push_back(shard::Key::from_integer(static_cast<std::int64_t>(random())));
  }
  return keys;
}

config::Database database(const std::string& resolver) {
  std::string text = R"({"databases": {"orders": {"shards": [)";
  for (std::size_t i = 0; i < k_shards; ++i) {
    text += std::string(i > 0 ? "," : "") + R"({"name": "s)" + std::to_string(i) + R"(", "url": "postgres://h/o"})";
  }
  text += R"(], "sharding": {"key": "id", "resolver": )" + resolver + "}}}}";
  return config::parse(text, "bench.json", [](const std::string&) { return std::nullopt; }).databases.at(0);
}

std::string range_resolver() {
  std::string ranges;
  const std::uint64_t step = std::numeric_limits<std::uint64_t>::max() / k_shards;
  for (std::size_t i = 0; i < k_shards; ++i) {
    // Unsigned arithmetic wraps; C++20 converts it back to the intended int64 bound.
    const auto from =
        static_cast<std::int64_t>(static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::min()) + i * step);
    const auto to = static_cast<std::int64_t>(static_cast<std::uint64_t>(from) + step);
    ranges += std::string(i > 0 ? ", " : "") + R"({"shard": "s)" + std::to_string(i) + R"(", "from": )" +
              (i == 0 ? "null" : std::to_string(from)) + R"(, "to": )" +
              (i + 1 == k_shards ? "null" : std::to_string(to)) + "}";
  }
  return R"({"type": "range", "ranges": [)" + ranges + "]}";
}

std::string lookup_resolver(const std::vector<std::string>& texts) {
  std::string map;
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (seen.insert(texts[i]).second) {
      map += std::string(map.empty() ? "" : ", ") + "\"" + texts[i] + "\": \"s" + std::to_string(i % k_shards) + "\"";
    }
  }
  return R"({"type": "lookup", "map": {)" + map + "}}";
}

template <typename Each> void loop(benchmark::State& state, const std::vector<shard::Key>& keys, Each each) {
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(each(keys[i++ & (k_keys - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
}

// Keeps each benchmark's ns per key for the summary.
class SummaryReporter : public grant::bench::CpuTimeReporter {
public:
  void print_summary() const {
    const auto baseline = m_ns.find("baseline/xxh64_canonical_bytes");
    std::printf("\n%-40s %10s %14s  %s\n", "benchmark", "cpu ns/key", "x xxh64", "target < 50 ns");
    for (const auto& name : m_order) {
      const double ns = m_ns.at(name);
      const double ratio = baseline == m_ns.end() ? 0.0 : ns / baseline->second;
      const bool resolver = name.rfind("resolve/", 0) == 0;
      std::printf("%-40s %10.2f %13.2fx  %s\n", name.c_str(), ns, ratio,
                  resolver ? (ns < k_target_ns ? "ok" : "MISSED") : "");
    }
  }
};

} // namespace

int main(int argc, char** argv) {
  const auto texts = mixed_texts(k_keys, 1);
  const auto mixed = keys_of(texts);
  const auto integers = integer_keys(k_keys);
  // The lookup map holds every benchmarked key plus more, as a tenant table would.
  auto map_texts = mixed_texts(k_lookup_entries - k_keys, 2);
  map_texts.insert(map_texts.end(), texts.begin(), texts.end());

  struct Case {
    const char* name;
    std::string resolver;
    const std::vector<shard::Key>* keys;
  };
  const std::vector<Case> cases = {
      {"resolve/modulo", R"({"type": "modulo"})", &integers},
      {"resolve/hash", R"({"type": "hash"})", &mixed},
      {"resolve/range", range_resolver(), &integers},
      {"resolve/lookup_100k", lookup_resolver(map_texts), &mixed},
      {"resolve/consistent_hash_160vn", R"({"type": "consistent_hash", "virtual_nodes": 160})", &mixed},
  };
  std::vector<std::unique_ptr<shard::Resolver>> resolvers;

  benchmark::RegisterBenchmark("baseline/xxh64_canonical_bytes", [&](benchmark::State& state) {
    loop(state, mixed, [](const shard::Key& key) { return key.keyspace_id(); });
  });
  benchmark::RegisterBenchmark("baseline/std_hash_canonical_bytes", [&](benchmark::State& state) {
    loop(state, mixed, [](const shard::Key& key) { return std::hash<std::string_view>{}(key.bytes()); });
  });
  for (const auto& c : cases) {
    resolvers.push_back(shard::make_resolver(database(c.resolver)));
    const auto* resolver = resolvers.back().get();
    const auto* keys = c.keys;
    benchmark::RegisterBenchmark(c.name, [resolver, keys](benchmark::State& state) {
      loop(state, *keys, [resolver](const shard::Key& key) { return resolver->resolve(key); });
    });
  }
  // The shard-resolve --stdin path: text to Key (one reused buffer) to shard.
  const auto* hash_resolver = resolvers[1].get();
  benchmark::RegisterBenchmark("parse+resolve/hash_from_text", [&](benchmark::State& state) {
    shard::Key key;
    std::size_t i = 0;
    for (auto _ : state) {
      const std::string_view part = texts[i++ & (k_keys - 1)];
      key.assign_text(std::span<const std::string_view>(&part, 1));
      benchmark::DoNotOptimize(hash_resolver->resolve(key));
    }
    state.SetItemsProcessed(state.iterations());
  });

  benchmark::Initialize(&argc, argv);
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
