#include <grant/shard/strategy.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <bit>

namespace grant::shard::detail {

namespace {

constexpr std::int64_t k_default_virtual_nodes = 160;
constexpr std::int64_t k_max_virtual_nodes = 10000;
constexpr std::uint64_t k_max_ring_points = 1000000;

// A key belongs to the first ring point at or after its keyspace id, wrapping around. A point
// hashes the shard's name, never its position, so adding a shard leaves every other point in
// place and only keys that fall before the new points move, all onto the new shard.
class ConsistentHashResolver final : public Resolver {
public:
  ConsistentHashResolver(const config::Database& db, std::int64_t virtual_nodes) : Resolver(db) {
    struct Point {
      std::uint64_t hash;
      std::uint32_t shard;
    };
    std::vector<Point> points;
    Key vnode;
    for (std::size_t i = 0; i < db.shards.size(); ++i) {
      const auto count = virtual_nodes * db.shards[i].weight;
      for (std::int64_t v = 0; v < count; ++v) {
        vnode.clear();
        vnode.add_string(db.shards[i].name).add_integer(v);
        points.push_back({vnode.keyspace_id(), static_cast<std::uint32_t>(i)});
      }
    }
    // Ties (two shards on one point) go to the smaller name, whatever the shard order.
    std::sort(points.begin(), points.end(), [&db](const Point& a, const Point& b) {
      return a.hash != b.hash ? a.hash < b.hash : db.shards[a.shard].name < db.shards[b.shard].name;
    });
    for (const auto& point : points) {
      m_points.push_back(point.hash);
      m_owners.push_back(point.shard);
    }
    build_buckets();
  }

private:
  // buckets[b] = first point at or above b << shift: resolve scans one short bucket, not the ring.
  void build_buckets() {
    const int bits = std::clamp(static_cast<int>(std::bit_width(m_points.size())), 1, 20);
    m_shift = 64 - bits;
    const std::size_t count = std::size_t{1} << bits;
    m_buckets.resize(count + 1);
    std::size_t point = 0;
    for (std::size_t b = 0; b < count; ++b) {
      const auto start = static_cast<std::uint64_t>(b) << m_shift;
      while (point < m_points.size() && m_points[point] < start) {
        ++point;
      }
      m_buckets[b] = static_cast<std::uint32_t>(point);
    }
    m_buckets[count] = static_cast<std::uint32_t>(m_points.size());
  }

  std::size_t resolve_key(const Key& key) const override {
    const auto id = key.keyspace_id();
    const auto bucket = static_cast<std::size_t>(id >> m_shift);
    std::size_t i = m_buckets[bucket];
    const std::size_t end = m_buckets[bucket + 1];
    while (i < end && m_points[i] < id) {
      ++i;
    }
    return m_owners[i == m_points.size() ? 0 : i];
  }

  std::vector<std::uint64_t> m_points;
  std::vector<std::uint32_t> m_owners;
  std::vector<std::uint32_t> m_buckets;
  int m_shift = 63;
};

std::unique_ptr<Resolver> build_consistent_hash(const BuildContext& context) {
  auto virtual_nodes = k_default_virtual_nodes;
  const auto path = context.path("virtual_nodes");
  if (const auto* value = context.param("virtual_nodes")) {
    const auto number = context.integer(*value, path);
    if (!number) {
      return nullptr;
    }
    if (*number < 1 || *number > k_max_virtual_nodes) {
      context.add("virtual_nodes must be between 1 and " + std::to_string(k_max_virtual_nodes) + ", got " +
                      std::to_string(*number),
                  path, "160 (the default) spreads keys within a few percent");
      return nullptr;
    }
    virtual_nodes = *number;
  }
  std::uint64_t total = 0;
  for (const auto& shard : context.db.shards) {
    if (shard.weight <= 0) {
      return nullptr; // already an issue
    }
    total += static_cast<std::uint64_t>(virtual_nodes) * static_cast<std::uint64_t>(shard.weight);
  }
  if (total > k_max_ring_points) {
    context.add("the ring would hold " + std::to_string(total) +
                    " points (virtual_nodes x total weight); the "
                    "limit is " +
                    std::to_string(k_max_ring_points),
                path, "lower virtual_nodes or the shard weights");
    return nullptr;
  }
  return std::make_unique<ConsistentHashResolver>(context.db, virtual_nodes);
}

} // namespace

const Strategy& consistent_hash_strategy() {
  static const Strategy strategy{"consistent_hash", {"virtual_nodes"}, false, false, false, &build_consistent_hash};
  return strategy;
}

} // namespace grant::shard::detail
