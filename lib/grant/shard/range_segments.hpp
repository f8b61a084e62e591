#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace grant::shard {

/// The int64 line cut into segments by a range resolver's ranges: segment i starts at
/// `starts[i]` (`starts[0]` is INT64_MIN) and runs to the next start; `owners[i]` is its shard.
/// The resolver looks keys up in it, and rebalance's fence compiles it into SQL, so the two
/// cannot disagree on where a range ends.
struct RangeSegments {
  std::vector<std::int64_t> starts;
  std::vector<std::size_t> owners;
};

/// Cuts the line by `spans`, sorted by `from` and not overlapping, each with members
/// `std::optional<std::int64_t> from` (inclusive), `to` (exclusive; nullopt is open) and
/// `std::size_t shard`. What no span covers goes to `default_shard` (which may be a "no shard"
/// marker of the caller's).
template <typename Spans> RangeSegments cut_range_segments(const Spans& spans, std::size_t default_shard) {
  constexpr auto k_min = std::numeric_limits<std::int64_t>::min();
  RangeSegments segments;
  const auto add = [&](std::int64_t start, std::size_t shard) {
    segments.starts.push_back(start);
    segments.owners.push_back(shard);
  };
  std::optional<std::int64_t> covered_to = k_min; // nullopt: covered to the end
  for (const auto& span : spans) {
    const auto from = span.from.value_or(k_min);
    if (covered_to && *covered_to != from) {
      add(*covered_to, default_shard);
    }
    add(from, span.shard);
    covered_to = span.to;
  }
  if (covered_to) {
    add(*covered_to, default_shard);
  }
  return segments;
}

} // namespace grant::shard
