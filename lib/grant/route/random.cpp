// Weighted random: a per-thread splitmix64 generator (no shared state, so concurrent picks never
// contend), scaled to the total weight of the usable replicas by a multiply-shift.
#include <grant/route/strategy.hpp>

#include <atomic>
#include <chrono>
#include <thread>

namespace grant::route {

namespace {

__extension__ using U128 = unsigned __int128;

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t next_random() noexcept {
  // Constant-initialised (no TLS guard on every call), seeded on first use from the clock and the
  // thread's id so that threads draw different sequences.
  thread_local std::uint64_t state = 0;
  if (state == 0) [[unlikely]] {
    state = (static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
             (static_cast<std::uint64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id())) << 1)) |
            1;
  }
  return splitmix64(state);
}

class Random final : public Strategy {
public:
  explicit Random(Replicas replicas) : m_weights(std::move(replicas.weights)) {}

  std::string_view name() const noexcept override { return "random"; }

  std::size_t choose(ReplicaSet usable) noexcept override {
    const auto total = detail::total_weight(usable, m_weights.data());
    // Lemire's multiply-shift: uniform enough for any total, and no division.
    const auto slot = static_cast<std::uint64_t>((static_cast<U128>(next_random()) * total) >> 64);
    return detail::owner_of_slot(usable, m_weights.data(), slot);
  }

private:
  std::vector<std::uint32_t> m_weights;
};

} // namespace

std::unique_ptr<Strategy> detail::make_random(Replicas replicas) {
  return std::make_unique<Random>(std::move(replicas));
}

} // namespace grant::route
