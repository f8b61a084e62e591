#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace grant::migrate {

/// The most digits a version may have: the width of the tracking table's version column
/// (`varchar(128)`, tracking.cpp).
constexpr std::size_t k_max_version_digits = 128;

/// What a migration file's name says: its version, name and which tool's layout it follows.
struct FileName {
  enum class Kind {
    single,      ///< <VERSION>_<name>.sql: grant or dbmate markers inside
    golang_up,   ///< <VERSION>_<name>.up.sql
    golang_down, ///< <VERSION>_<name>.down.sql
    flyway_up,   ///< V<VERSION>__<desc>.sql
    flyway_down, ///< U<VERSION>__<desc>.sql (Flyway Teams' undo)
  };
  std::string version;
  std::string name; ///< as written; Flyway's desc is snake_cased
  Kind kind = Kind::single;
};

/// The parsed name of a `.sql` file, nullopt for other files. Throws ConfigError naming the
/// file for a `.sql` name grant cannot order: no numeric version, a dotted Flyway version, a
/// repeatable Flyway migration (`R__desc.sql`), bytes that are not UTF-8, a version longer than
/// k_max_version_digits.
std::optional<FileName> parse_file_name(const std::filesystem::path& file);

} // namespace grant::migrate
