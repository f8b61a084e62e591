#pragma once

#include <grant/util/sql_split.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace grant::migrate {

enum class FileFormat { grant, dbmate, golang_migrate, flyway };

/// One section (up or down) of a migration file.
struct Section {
  std::string sql;
  int first_line = 1;      ///< line of the file where the section's SQL starts
  bool transaction = true; ///< false: `transaction=false` on the marker
  std::filesystem::path file;
  std::vector<util::SqlStatement> statements;                 ///< `sql` split, each first_line a line of `file`
  std::optional<std::chrono::milliseconds> lock_timeout;      ///< `lock_timeout=` on the marker
  std::optional<std::chrono::milliseconds> statement_timeout; ///< `statement_timeout=` on the marker
  std::optional<int> retries;                                 ///< `retries=` on the marker
};

/// A migration as read from disk.
struct Migration {
  std::string version; ///< digits, as written in the file name
  std::string name;    ///< snake_case part of the file name
  FileFormat format = FileFormat::grant;
  Section up;
  std::optional<Section> down; ///< absent when the file has no down section (or it is empty)
  std::string checksum;        ///< SHA-256 hex of the up section, read without BOM and with LF line ends
  /// For a file saved with CRLF line ends: the SHA-256 of its up section with the CRs kept, which
  /// grant recorded before it normalized line ends. Empty for other files.
  std::string legacy_checksum;
  bool empty = false; ///< the up section holds no SQL (a freshly generated file): never applied

  std::string display_name() const { return version + "_" + name; }
  /// True when `recorded` (from the tracking table) is this file's checksum, or its legacy one.
  bool matches_checksum(const std::string& recorded) const {
    return recorded == checksum || (!legacy_checksum.empty() && recorded == legacy_checksum);
  }
};

/// Numeric order of digit strings ("9" < "10").
int compare_versions(std::string_view a, std::string_view b);
bool is_version(std::string_view text);

/// Parses one grant or dbmate file's text. A UTF-8 byte-order mark is skipped and CRLF line ends
/// read as LF (files saved by Windows editors work as they are). Throws ConfigError naming
/// file:line, also for a NUL byte (a binary file).
Migration parse_migration(const std::filesystem::path& file, std::string_view text);

/// Reads every migration of a folder, sorted by version. Throws ConfigError (exit 2) for a
/// missing folder, a bad file name, duplicate versions, a broken file. A file whose up section
/// is empty loads with `empty` set, so read-only commands still report.
std::vector<Migration> load_migrations(const std::filesystem::path& folder);

/// How to give `migration` a down section, in its own format's words (a marker, a .down.sql
/// file, a Flyway U file).
std::string missing_down_hint(const Migration& migration);

/// Turns "Create Users!" into "create_users".
std::string snake_case(std::string_view name);

} // namespace grant::migrate
