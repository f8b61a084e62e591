// shard::parse_key_range. Properties: a refusal always says why; a parsed range is not empty;
// to_string() parses back to the same range and prints the same text (print -> parse -> print is
// stable); contains() agrees with the bounds; even_key_ranges(n) tiles the keyspace.
#include "fuzz_common.hpp"

#include <grant/shard/key_range.hpp>

#include <cstring>

using namespace grant;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::as_text(data, size);
  std::string error;
  std::optional<shard::KeyRange> range;
  fuzz::run_parser([&] { range = shard::parse_key_range(text, error); }, fuzz::NeedsWhere::no);
  if (!range) {
    fuzz::check(!error.empty(), "a refused key range says why", std::string(text));
  } else {
    fuzz::check(range->open_end || range->start < range->end, "a parsed key range is not empty");
    const auto printed = range->to_string();
    std::string again_error;
    const auto again = shard::parse_key_range(printed, again_error);
    fuzz::check(again.has_value(), "a printed key range parses", printed + ": " + again_error);
    fuzz::check(*again == *range, "parse -> print -> parse gives the same range", printed);
    fuzz::check(again->to_string() == printed, "printing is stable", printed);
    fuzz::check(range->contains(range->start), "a range contains its start");
    if (!range->open_end) {
      fuzz::check(!range->contains(range->end), "a range excludes its end");
      fuzz::check(range->contains(range->end - 1), "a range contains the id before its end");
    }
  }
  // The even split: the first two bytes pick a shard count up to 65536 + a little past it.
  if (size >= 2) {
    std::uint16_t raw = 0;
    std::memcpy(&raw, data, 2);
    // The largest splits (65536 ranges) are slow: only a 3-byte input asks for them.
    const std::size_t shards = (size == 3 && data[2] == 0xff) ? 65535 + raw % 3 : raw % 300;
    const auto ranges = shard::even_key_ranges(shards);
    if (shards == 0 || shards > shard::k_max_even_split_shards) {
      fuzz::check(ranges.empty(), "an even split out of bounds is empty");
    } else {
      fuzz::check(ranges.size() == shards, "an even split has one range per shard");
      fuzz::check(ranges.front().start == 0 && ranges.back().open_end, "an even split covers the ends");
      for (std::size_t i = 0; i + 1 < ranges.size(); ++i) {
        fuzz::check(!ranges[i].open_end && ranges[i].end == ranges[i + 1].start && ranges[i].start < ranges[i].end,
                    "an even split has no gap, overlap or empty range", std::to_string(shards) + " shards");
      }
    }
  }
  return 0;
}
