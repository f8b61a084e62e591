#include <grant/rebalance/placement/placement.hpp>

#include <grant/shard/key.hpp>

#include <algorithm>
#include <limits>

namespace grant::rebalance::placement::detail {

// The ring of shard/consistent_hash.cpp: a key belongs to the first point at or after its
// keyspace id, wrapping around; ties between shards on one point go to the smaller name.
Placement consistent_hash(const Context& context) {
  const auto& db = context.db;
  std::int64_t virtual_nodes = 160;
  if (const auto& params = db.sharding->resolver.params; params.contains("virtual_nodes")) {
    const auto& value = params["virtual_nodes"];
    if (value.is_number_integer()) {
      virtual_nodes = value.get<std::int64_t>();
    } else if (value.is_string()) {
      shard::parse_canonical_integer(value.get<std::string>(), virtual_nodes);
    }
  }
  struct Point {
    std::uint64_t hash;
    std::size_t shard;
  };
  std::vector<Point> points;
  shard::Key vnode;
  for (std::size_t i = 0; i < db.shards.size(); ++i) {
    for (std::int64_t v = 0; v < virtual_nodes * db.shards[i].weight; ++v) {
      vnode.clear();
      vnode.add_string(db.shards[i].name).add_integer(v);
      points.push_back({vnode.keyspace_id(), i});
    }
  }
  std::sort(points.begin(), points.end(), [&db](const Point& a, const Point& b) {
    return a.hash != b.hash ? a.hash < b.hash : db.shards[a.shard].name < db.shards[b.shard].name;
  });
  // The owner is point j, where j counts the points below the id (point + 1 <= id); past the
  // last point, the first.
  std::vector<std::int64_t> bounds;
  std::vector<std::string> owners;
  for (const auto& point : points) {
    owners.push_back(shard_literal(db, point.shard));
    if (point.hash != std::numeric_limits<std::uint64_t>::max()) {
      bounds.push_back(ordered(point.hash + 1));
    }
  }
  if (owners.empty()) {
    owners.push_back("NULL");
  } else if (bounds.size() == points.size()) {
    owners.push_back(owners.front());
  }
  const auto place = "  h := h # " + literal(ordered(0)) + ";\n  RETURN " + search_tree("h", bounds, owners) + ";\n";
  return {place_functions(context.schema, xxh64_integer_statements() + place,
                          canonical_statements() + xxh64_statements() + place),
          {}};
}

} // namespace grant::rebalance::placement::detail
