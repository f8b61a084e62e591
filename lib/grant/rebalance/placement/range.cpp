#include <grant/rebalance/placement/placement.hpp>

#include <grant/shard/key.hpp>
#include <grant/shard/range_segments.hpp>

#include <algorithm>
#include <limits>
#include <optional>

namespace grant::rebalance::placement::detail {

namespace {

constexpr std::size_t k_no_shard = static_cast<std::size_t>(-1);
constexpr auto k_min = std::numeric_limits<std::int64_t>::min();

struct Span {
  std::optional<std::int64_t> from;
  std::optional<std::int64_t> to;
  std::size_t shard = k_no_shard;
};

// The config was validated when the resolver was built: read it without complaint.
std::optional<std::int64_t> bound(const nlohmann::ordered_json& value) {
  if (value.is_number_integer()) {
    return value.get<std::int64_t>();
  }
  std::int64_t out = 0;
  if (value.is_string() && shard::parse_canonical_integer(value.get<std::string>(), out)) {
    return out;
  }
  return std::nullopt;
}

std::size_t shard_index(const config::Database& db, const nlohmann::ordered_json& value) {
  for (std::size_t i = 0; i < db.shards.size(); ++i) {
    if (value.is_string() && db.shards[i].name == value.get<std::string>()) {
      return i;
    }
  }
  return k_no_shard;
}

} // namespace

// The int64 line cut into segments, each owned by a range's shard or the default: the same
// shard::cut_range_segments the resolver looks keys up in.
Placement range(const Context& context) {
  const auto& db = context.db;
  const auto& params = db.sharding->resolver.params;
  const auto default_shard = params.contains("default") ? shard_index(db, params["default"]) : k_no_shard;
  std::vector<Span> spans;
  if (params.contains("ranges") && params["ranges"].is_array()) {
    for (const auto& item : params["ranges"]) {
      spans.push_back({item.contains("from") ? bound(item["from"]) : std::nullopt,
                       item.contains("to") ? bound(item["to"]) : std::nullopt,
                       shard_index(db, item.value("shard", ""))});
    }
  }
  std::stable_sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.from.value_or(k_min) != b.from.value_or(k_min) ? a.from.value_or(k_min) < b.from.value_or(k_min)
                                                            : a.from.has_value() < b.from.has_value();
  });
  const auto segments = shard::cut_range_segments(spans, default_shard);
  std::vector<std::string> owners;
  for (const auto shard : segments.owners) {
    owners.push_back(shard_literal(db, shard));
  }
  // The segment holding v is the last start <= v; starts[0] is INT64_MIN.
  const std::vector<std::int64_t> bounds(segments.starts.begin() + 1, segments.starts.end());
  return {place_functions(context.schema, "  RETURN " + search_tree("v", bounds, owners) + ";\n", "  RETURN NULL;\n"),
          {}};
}

} // namespace grant::rebalance::placement::detail
