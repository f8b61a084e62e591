#include <grant/shard/key_range.hpp>

#include <grant/shard/key.hpp>
#include <grant/util/strings.hpp>

namespace grant::shard {

namespace {

bool parse_bound(std::string_view hex, std::uint64_t& value, std::string& error) {
  if (hex.size() % 2 != 0) {
    error = util::in_quotes(hex) + " has an odd number of hex digits (key ranges are whole bytes)";
    return false;
  }
  if (hex.size() > 16) {
    error = util::in_quotes(hex) + " is longer than 16 hex digits (the keyspace id has 64 bits)";
    return false;
  }
  value = 0;
  for (const char c : hex) {
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      error = util::in_quotes(hex) + " is not hex";
      return false;
    }
    value = (value << 4) | static_cast<std::uint64_t>(digit);
  }
  if (!hex.empty()) {
    value <<= 64 - 4 * hex.size();
  }
  return true;
}

std::string bound_hex(std::uint64_t value) {
  std::string hex = keyspace_id_hex(value);
  while (hex.size() > 2 && hex.compare(hex.size() - 2, 2, "00") == 0) {
    hex.resize(hex.size() - 2);
  }
  return hex;
}

} // namespace

std::string KeyRange::to_string() const {
  return (start == 0 ? std::string() : bound_hex(start)) + "-" + (open_end ? std::string() : bound_hex(end));
}

std::optional<KeyRange> parse_key_range(std::string_view text, std::string& error) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos || text.find('-', dash + 1) != std::string_view::npos) {
    error = "expected Vitess notation START-END such as \"-80\", \"40-80\", \"80-\" or \"-\"";
    return std::nullopt;
  }
  KeyRange range;
  const auto end_hex = text.substr(dash + 1);
  if (!parse_bound(text.substr(0, dash), range.start, error) || !parse_bound(end_hex, range.end, error)) {
    return std::nullopt;
  }
  range.open_end = end_hex.empty();
  if (!range.open_end && range.end <= range.start) {
    error = "the range is empty: its end is not after its start";
    return std::nullopt;
  }
  return range;
}

std::vector<KeyRange> even_key_ranges(std::size_t shards) {
  if (shards == 0 || shards > k_max_even_split_shards) {
    return {};
  }
  const int bits = shards <= 256 ? 8 : 16;
  const std::size_t slots = std::size_t{1} << bits;
  // Vitess computes the boundaries in float64; doing the same keeps its shard names
  // (98 shards has a boundary at 7f, not 80); IEEE doubles make this the same everywhere.
  const double size = static_cast<double>(slots) / static_cast<double>(shards);
  std::vector<KeyRange> ranges;
  std::uint64_t start = 0;
  for (std::size_t i = 1; i <= shards; ++i) {
    const auto end = static_cast<std::uint64_t>(static_cast<double>(i) * size);
    KeyRange range;
    range.start = start << (64 - bits);
    // Vitess's float can fall one short on the last shard (49 shards ends at ff); the last
    // range always runs to the end so the split covers the whole keyspace.
    range.open_end = i == shards;
    range.end = range.open_end ? 0 : end << (64 - bits);
    ranges.push_back(range);
    start = end;
  }
  return ranges;
}

} // namespace grant::shard
