#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace grant::config {

/// A JSON number too large for a double (`1e400`, `-1e400`, a 400-digit integer).
struct NumberOverflow {
  std::size_t offset = 0; ///< byte just past the number, as the parser reports it
  std::string key_path;   ///< `databases.app.pool.size`, `databases.orders.shards[1].weight`
  std::string number;     ///< as written
};

/// The first number of `text` that overflows, with where it sits. nlohmann refuses such a number
/// with out_of_range 406, which carries neither its position nor its key; this reads the
/// document again to find both. nullopt when no number overflows (or the text fails before one).
std::optional<NumberOverflow> find_number_overflow(std::string_view text);

} // namespace grant::config
