// Weighted round robin: a shared turn counter; turn t goes to the replica owning slot
// t mod (total weight of the usable replicas), so weight 3 gets three turns in a row of every
// four against weight 1. A replica that drops out or comes back shifts the slots, never the rate.
#include <grant/route/strategy.hpp>

#include <atomic>

namespace grant::route {

namespace {

class RoundRobin final : public Strategy {
public:
  explicit RoundRobin(Replicas replicas) : m_weights(std::move(replicas.weights)) {}

  std::string_view name() const noexcept override { return "round_robin"; }

  std::size_t choose(ReplicaSet usable) noexcept override {
    const auto total = detail::total_weight(usable, m_weights.data());
    const auto turn = m_turn.fetch_add(1, std::memory_order_relaxed);
    return detail::owner_of_slot(usable, m_weights.data(), turn % total);
  }

private:
  std::vector<std::uint32_t> m_weights;
  alignas(64) std::atomic<std::uint64_t> m_turn{0}; // its own cache line: every pick writes it
};

} // namespace

std::unique_ptr<Strategy> detail::make_round_robin(Replicas replicas) {
  return std::make_unique<RoundRobin>(std::move(replicas));
}

} // namespace grant::route
