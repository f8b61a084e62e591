#include <grant/rebalance/placement/placement.hpp>

#include <grant/shard/key_range.hpp>

#include <algorithm>

namespace grant::rebalance::placement::detail {

// The keyspace id's Vitess key range, as shard/hash.cpp: each shard's key_range, or the even
// split in shard order when no shard has one.
Placement hash(const Context& context) {
  const auto& db = context.db;
  std::vector<std::pair<std::uint64_t, std::size_t>> starts;
  const bool any_range = std::any_of(db.shards.begin(), db.shards.end(),
                                     [](const config::Shard& shard) { return shard.key_range.has_value(); });
  if (any_range) {
    for (std::size_t i = 0; i < db.shards.size(); ++i) {
      std::string error;
      if (const auto range = shard::parse_key_range(db.shards[i].key_range.value_or(""), error)) {
        starts.emplace_back(range->start, i);
      }
    }
  } else {
    const auto ranges = shard::even_key_ranges(db.shards.size());
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      starts.emplace_back(ranges[i].start, i);
    }
  }
  std::stable_sort(starts.begin(), starts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::int64_t> bounds;
  std::vector<std::string> owners;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    if (i > 0) {
      bounds.push_back(ordered(starts[i].first));
    }
    owners.push_back(shard_literal(db, starts[i].second));
  }
  if (owners.empty()) {
    owners.push_back("NULL");
  }
  const auto place = "  h := h # " + literal(ordered(0)) + ";\n  RETURN " + search_tree("h", bounds, owners) + ";\n";
  return {place_functions(context.schema, xxh64_integer_statements() + place,
                          canonical_statements() + xxh64_statements() + place),
          {}};
}

} // namespace grant::rebalance::placement::detail
