#pragma once

#include <grant/migrate/migration_file.hpp>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace grant::migrate {

/// The offset of the first byte of `text` that is not part of well-formed UTF-8 (RFC 3629: no
/// overlong forms, surrogates or code points past U+10FFFF, as PostgreSQL checks); nullopt when
/// all of it is.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

/// Refuses what a migration file's bytes (`text`, as read) cannot hold: a NUL byte (SQLite and
/// libpq read statements as C strings) or bytes that are not UTF-8 (SQLite stores them as they
/// are, PostgreSQL refuses them, so a mixed fleet would diverge). Throws ConfigError at
/// file:line (file:line:column for UTF-8, with the byte offset in the message).
void refuse_bad_bytes(const std::filesystem::path& file, std::string_view text);

/// Refuses a transaction-control statement (transaction_control()) in a section that runs in
/// grant's transaction: it would end that transaction early, and a later failure would leave half
/// the migration applied and its version pending. Throws ConfigError at file:line with `hint`
/// (how this file's format runs a section outside a transaction). Sections with
/// `transaction=false` may hold them.
void refuse_transaction_control(const Section& section, const std::string& hint);

/// For the formats whose tools leave transactions to the file (golang-migrate) or whose users
/// wrap files by habit (Flyway): a section whose first statement is BEGIN / START TRANSACTION and
/// whose last is COMMIT / END loses those two, since grant runs the section in a transaction of
/// its own (which also holds the tracking row). The checksum is of the text and does not change.
/// Returns whether it unwrapped; transaction control anywhere else is still refused.
bool unwrap_transaction(Section& section);

} // namespace grant::migrate
