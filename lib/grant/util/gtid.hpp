#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>

namespace grant::util {

/// MariaDB's GTID positions as `@@gtid_binlog_pos` and `@@gtid_slave_pos` print them: one
/// `domain-server-sequence` per replication domain, comma-separated ("0-1-42,1-3-7").
/// True when `replayed` is at or past `position` in every domain `position` names. The server id
/// does not count (a domain's sequence numbers keep growing across a failover). False when either
/// side is not such a position, so that a wait never ends on text it could not read.
bool gtid_position_reached(std::string_view position, std::string_view replayed);

/// Each replication domain's highest sequence number in `position`; nullopt when it is not a
/// GTID position (an empty text is one, with no domains).
std::optional<std::map<std::uint64_t, std::uint64_t>> gtid_sequences(std::string_view position);

/// How many transactions `replayed` is behind `position`: the sum over `position`'s domains of
/// the sequence numbers still to replay (0 when it is at or past it). nullopt when either side is
/// not such a position.
std::optional<std::uint64_t> gtid_transactions_behind(std::string_view position, std::string_view replayed);

} // namespace grant::util
