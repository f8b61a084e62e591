#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace grant::util {

enum class UrlScheme { postgres, sqlite, mysql };

/// A database URL as the config gives it. The raw text keeps the password and is only ever
/// handed to the driver; everything printed goes through redacted().
struct DatabaseUrl {
  UrlScheme scheme = UrlScheme::sqlite;
  std::string raw;                   ///< the full URL, password included: never print
  std::filesystem::path sqlite_path; ///< sqlite only: resolved against the config folder
  std::string host;                  ///< postgres and mysql, for display
  std::string port;
  std::string user;
  std::string dbname;

  std::string redacted() const;
  /// True for a SQLite file that does not exist yet: opening it would create it, so commands that
  /// only look must not open it.
  bool sqlite_file_missing() const;
};

/// How far a PostgreSQL URL is checked when it is parsed.
enum class UrlCheck {
  full,   ///< libpq reads it (util/conninfo.hpp): every parameter, port and sslmode checked, and
          ///< host, port, user and dbname filled in
  syntax, ///< the scheme only, for a run that never connects (`grant lint FILE...`): libpq is not loaded
};

/// Parses `postgres://` / `postgresql://` (validated by libpq itself), `mysql://` / `mariadb://`
/// (util/mysql_url.hpp) and `sqlite3:` / `sqlite:`.
/// Relative SQLite paths are resolved against `base_dir`. Throws grant::ConfigError.
DatabaseUrl parse_database_url(std::string_view url, const std::filesystem::path& base_dir,
                               UrlCheck check = UrlCheck::full);

/// The URL with any password replaced by `***` (userinfo and `password=` parameters).
std::string redact_url(std::string_view url);

/// Scrubs every password-looking piece out of free text: URLs with userinfo and
/// `password=...` pairs. Applied to every message before it is printed.
std::string redact_secrets(std::string_view text);

} // namespace grant::util
