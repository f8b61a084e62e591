#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grant::shard {

/// A half-open slice [start, end) of the 64-bit keyspace, as Vitess writes it: "40-80".
struct KeyRange {
  std::uint64_t start = 0;
  std::uint64_t end = 0; ///< exclusive; unused when open_end
  bool open_end = true;  ///< runs to the end of the keyspace (2^64)

  bool contains(std::uint64_t id) const noexcept { return id >= start && (open_end || id < end); }
  /// Vitess notation with trailing zero bytes dropped: "-40", "40-80", "80-", "-".
  std::string to_string() const;

  friend bool operator==(const KeyRange&, const KeyRange&) = default;
};

/// Parses Vitess notation: "START-END", each side empty or an even number (at most 16) of hex
/// digits, left-aligned to 64 bits ("8" is not a byte; "80" is 0x8000000000000000).
/// Returns nullopt and sets `error` when malformed or empty (start >= end).
std::optional<KeyRange> parse_key_range(std::string_view text, std::string& error);

/// Vitess's even split of the keyspace into `shards` ranges (key.GenerateShardRanges):
/// byte-aligned boundaries, 1 byte up to 256 shards, 2 bytes up to 65536. Empty if out of bounds.
std::vector<KeyRange> even_key_ranges(std::size_t shards);

constexpr std::size_t k_max_even_split_shards = 65536;

} // namespace grant::shard
