#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace grant::health {

/// A PostgreSQL WAL position as the server prints it ("16/B374D848") in bytes; nullopt when the
/// text is not one. The difference of two is what pg_wal_lsn_diff() returns.
std::optional<std::uint64_t> parse_lsn(std::string_view text);

} // namespace grant::health
