// Least connections: the usable replica whose pool has the fewest connections checked out per
// unit of weight (in_use / weight, compared by cross-multiplying). Ties, which is every pick when
// the pools are idle, go round robin by weight among the tied, so weights hold in both regimes:
// held connections settle in proportion to weight, and idle picks are shared by weight.
#include <grant/route/strategy.hpp>

#include <grant/registry/pool.hpp>

#include <atomic>

namespace grant::route {

namespace {

class LeastConnections final : public Strategy {
public:
  explicit LeastConnections(Replicas replicas)
      : m_weights(std::move(replicas.weights)), m_pools(std::move(replicas.pools)) {
    m_pools.resize(m_weights.size(), nullptr);
  }

  std::string_view name() const noexcept override { return "least_connections"; }

  std::size_t choose(ReplicaSet usable) noexcept override {
    ReplicaSet tied = 0;
    std::uint64_t best_load = 0;
    std::uint64_t best_weight = 1;
    for (ReplicaSet rest = usable; rest != 0; rest &= rest - 1) {
      const auto i = static_cast<std::size_t>(std::countr_zero(rest));
      const std::uint64_t load = m_pools[i] != nullptr ? m_pools[i]->in_use() : 0;
      const std::uint64_t weight = m_weights[i];
      const ReplicaSet bit = ReplicaSet{1} << i;
      if (tied == 0 || load * best_weight < best_load * weight) {
        tied = bit;
        best_load = load;
        best_weight = weight;
      } else if (load * best_weight == best_load * weight) {
        tied |= bit;
      }
    }
    if ((tied & (tied - 1)) == 0) {
      return static_cast<std::size_t>(std::countr_zero(tied));
    }
    const auto total = detail::total_weight(tied, m_weights.data());
    const auto turn = m_turn.fetch_add(1, std::memory_order_relaxed);
    return detail::owner_of_slot(tied, m_weights.data(), turn % total);
  }

private:
  std::vector<std::uint32_t> m_weights;
  std::vector<const registry::Pool*> m_pools;
  alignas(64) std::atomic<std::uint64_t> m_turn{0};
};

} // namespace

std::unique_ptr<Strategy> detail::make_least_connections(Replicas replicas) {
  return std::make_unique<LeastConnections>(std::move(replicas));
}

} // namespace grant::route
