#include <grant/migrate/file_name.hpp>

#include <grant/error.hpp>
#include <grant/migrate/migration_file.hpp>
#include <grant/util/strings.hpp>

#include <cctype>

namespace grant::migrate {

namespace {

// V<VERSION>__<desc> / U<VERSION>__<desc> / R__<desc>; nullopt when the stem is no Flyway name.
std::optional<FileName> parse_flyway(const std::string& stem, const std::filesystem::path& file) {
  const auto separator = stem.find("__");
  if (stem.size() < 3 || separator == std::string::npos || (stem[0] != 'V' && stem[0] != 'U' && stem[0] != 'R')) {
    return std::nullopt;
  }
  const std::string version = stem.substr(1, separator - 1);
  const std::string desc = stem.substr(separator + 2);
  if (stem[0] == 'R') {
    if (!version.empty()) {
      return std::nullopt;
    }
    throw ConfigError(
        "repeatable Flyway migrations are not supported: " + util::in_quotes(file.filename().string()), file.string(),
        "grant runs each migration once; turn it into a versioned V<VERSION>__" + desc +
            ".sql (with CREATE OR REPLACE) whenever it changes, or keep it outside the migrations folder");
  }
  if (version.find_first_of("._") != std::string::npos && !version.empty() &&
      std::isdigit(static_cast<unsigned char>(version[0]))) {
    throw ConfigError("Flyway version " + util::in_quotes(version) + " of " +
                          util::in_quotes(file.filename().string()) +
                          " has parts: grant orders versions as whole numbers",
                      file.string(),
                      "rename it with a whole-number version that keeps the order, e.g. " + std::string(1, stem[0]) +
                          "2__" + desc + ".sql");
  }
  if (!is_version(version)) {
    return std::nullopt;
  }
  FileName out;
  out.version = version;
  out.name = snake_case(desc);
  out.kind = stem[0] == 'V' ? FileName::Kind::flyway_up : FileName::Kind::flyway_down;
  return out;
}

// The tracking table could not record a longer version: the first migrate would create the table
// and then fail on the INSERT, naming no file.
FileName fits_tracking(FileName name, const std::filesystem::path& file) {
  if (name.version.size() > k_max_version_digits) {
    throw ConfigError(
        "migration version has " + std::to_string(name.version.size()) +
            " digits; the tracking table's version column holds at most " + std::to_string(k_max_version_digits),
        file.string(), "rename the file with a shorter version (grant generate writes 14 digits, a UTC timestamp)");
  }
  return name;
}

} // namespace

std::optional<FileName> parse_file_name(const std::filesystem::path& file) {
  const std::string base = file.filename().string();
  if (!util::ends_with(base, ".sql")) {
    return std::nullopt;
  }
  if (!util::is_valid_utf8(base)) {
    throw ConfigError("migration file name is not valid UTF-8", file.string(),
                      "rename it to <VERSION>_<name>.sql using plain characters");
  }
  std::string stem = base.substr(0, base.size() - 4);
  if (auto flyway = parse_flyway(stem, file)) {
    return fits_tracking(std::move(*flyway), file);
  }
  FileName out;
  if (util::ends_with(stem, ".up")) {
    out.kind = FileName::Kind::golang_up;
    stem.resize(stem.size() - 3);
  } else if (util::ends_with(stem, ".down")) {
    out.kind = FileName::Kind::golang_down;
    stem.resize(stem.size() - 5);
  }
  const auto underscore = stem.find('_');
  out.version = stem.substr(0, underscore);
  out.name = underscore == std::string::npos ? "" : stem.substr(underscore + 1);
  if (!is_version(out.version)) {
    throw ConfigError("migration file name " + util::in_quotes(base) + " does not start with a numeric version",
                      file.string(),
                      "name it <VERSION>_<name>.sql, e.g. 20240101120000_create_users.sql "
                      "(grant generate migration NAME writes one), or V<VERSION>__<desc>.sql for Flyway");
  }
  return fits_tracking(std::move(out), file);
}

} // namespace grant::migrate
