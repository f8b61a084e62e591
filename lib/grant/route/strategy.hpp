#pragma once

#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace grant::registry {
class Pool;
}

namespace grant::route {

/// A set of replicas as a bitmask: bit i is replica i. A balancer has at most k_max_replicas.
using ReplicaSet = std::uint32_t;
inline constexpr std::size_t k_max_replicas = 32;

/// What a strategy chooses among: each replica's weight (>= 1) and, for least_connections, its
/// pool (in-use count). Both in the balancer's replica order.
struct Replicas {
  std::vector<std::uint32_t> weights;
  std::vector<const registry::Pool*> pools;
};

/// How a balancer spreads reads over the replicas that qualify. One file per strategy
/// (round_robin.cpp, random.cpp, least_connections.cpp); make_strategy is the table keyed by
/// `databases.X.balancer.strategy`. choose() runs on every pick: no allocation, no lock.
class Strategy {
public:
  virtual ~Strategy() = default;
  virtual std::string_view name() const noexcept = 0;
  /// One replica of `usable` (never empty), each chosen in proportion to its weight. Thread-safe.
  virtual std::size_t choose(ReplicaSet usable) noexcept = 0;
};

/// The strategy named `name` (one of config::balancer_strategies()); throws ConfigError naming
/// `key_path` for an unknown name.
std::unique_ptr<Strategy> make_strategy(std::string_view name, Replicas replicas,
                                        const std::string& key_path = "balancer.strategy");

/// The names make_strategy knows, in table order.
std::vector<std::string> strategy_names();

namespace detail {

std::unique_ptr<Strategy> make_round_robin(Replicas replicas);
std::unique_ptr<Strategy> make_random(Replicas replicas);
std::unique_ptr<Strategy> make_least_connections(Replicas replicas);

/// Sum of the weights of `set`.
inline std::uint64_t total_weight(ReplicaSet set, const std::uint32_t* weights) noexcept {
  std::uint64_t total = 0;
  for (ReplicaSet rest = set; rest != 0; rest &= rest - 1) {
    total += weights[std::countr_zero(rest)];
  }
  return total;
}

/// The replica of `set` owning `slot` (< total_weight(set)) when each takes `weight` slots in turn.
inline std::size_t owner_of_slot(ReplicaSet set, const std::uint32_t* weights, std::uint64_t slot) noexcept {
  std::size_t last = 0;
  for (ReplicaSet rest = set; rest != 0; rest &= rest - 1) {
    last = static_cast<std::size_t>(std::countr_zero(rest));
    if (slot < weights[last]) {
      return last;
    }
    slot -= weights[last];
  }
  return last;
}

} // namespace detail

} // namespace grant::route
