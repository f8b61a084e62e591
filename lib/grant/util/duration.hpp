#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace grant::util {

/// A PostgreSQL-style duration: `500ms`, `5s`, `2min`, `1h`, `1d`, `250us` (rounded up to a
/// millisecond); a bare integer is milliseconds. nullopt for anything else (negative, a fraction,
/// an unknown unit, an overflow).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

} // namespace grant::util
