#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace grant::migrate {

/// A section marker line: `-- grant:up lock_timeout=5s retries=3` or dbmate's
/// `-- migrate:down transaction:false`.
struct Marker {
  bool up = false;
  std::string prefix; ///< "grant:" or "migrate:"
  bool transaction = true;
  std::optional<std::chrono::milliseconds> lock_timeout;
  std::optional<std::chrono::milliseconds> statement_timeout;
  std::optional<int> retries;
};

/// The marker on `line`, or nullopt for any other line. Throws ConfigError naming
/// file:line_number for an unknown marker, an unknown option or a value that does not parse.
std::optional<Marker> parse_marker(std::string_view line, const std::filesystem::path& file, int line_number);

/// True when `line` is a grant or dbmate section marker (`-- grant:up`, `-- migrate:down ...`).
bool looks_like_marker(std::string_view line);

} // namespace grant::migrate
