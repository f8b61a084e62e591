#pragma once
/// `grant lint`: the lock, rewrite and compatibility hazards of migrations, read with PostgreSQL's
/// own parser (libpg_query). The rules are in rules.hpp, one page each in docs/lint/.

#include <grant/config/config.hpp>
#include <grant/error.hpp>
#include <grant/lint/finding.hpp>
#include <grant/migrate/migration_file.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grant::lint {

/// PostgreSQL's parser rejected a migration (exit 2 for `grant lint`; `grant migrate` warns and
/// lets the server decide, since the parser is PostgreSQL 15's and the server may be newer).
class ParseError : public ConfigError {
public:
  using ConfigError::ConfigError;
};

struct Options {
  /// A lock_timeout the caller sets on the sessions that apply the migrations; the section
  /// markers' lock_timeout= and databases.X.migrate.lock_timeout_ms count without it.
  std::optional<std::chrono::milliseconds> lock_timeout;
};

struct Report {
  std::vector<Finding> findings;  ///< in file order; silenced ones have `silenced` set
  std::vector<std::string> notes; ///< what was not linted, or linted with less than asked, and why
  std::size_t migrations = 0;
  std::size_t statements = 0;
  bool connected = false;                     ///< findings carry each target's facts (--connect)
  std::map<std::string, std::string> fail_on; ///< by database: its lint.fail_on
};

/// Lints `pending` of `database` in the order they would apply, appending to `report`. A table
/// created earlier in `pending` is new: no lock hazard on it. A database whose engine has no lint
/// rules (SQLite) gets a note instead. Throws ConfigError (exit 2) for SQL the parser rejects
/// (naming file:line:column) and for a broken lint marker.
void lint_migrations(const config::Database& database, const std::vector<const migrate::Migration*>& pending,
                     const Options& options, Report& report);

/// True when the engine of `database`'s URLs has lint rules (PostgreSQL); SQLite's does not.
bool engine_lints(const config::Database& database);

/// True when a finding that is not silenced is at its database's lint.fail_on or above, or at
/// `fail_on` when given (--fail-on: "error", "warning", "none" never fails).
bool fails(const Report& report, const std::optional<std::string>& fail_on = std::nullopt);
/// True when `finding` is at `fail_on` or above ("none": never).
bool reaches(const Finding& finding, std::string_view fail_on);

} // namespace grant::lint

namespace grant::lint {

/// A migration read from a file named on the command line: a grant or dbmate file by its
/// markers, any other file (golang-migrate's, Flyway's, plain SQL) as one up section.
migrate::Migration read_file(const std::filesystem::path& file);

/// The database a named file belongs to: `database` when given, else the one whose migrations
/// folder holds it, else the only database. Throws ConfigError (exit 2) when none fits.
const config::Database& database_of(const config::Config& config, const std::filesystem::path& file,
                                    const std::optional<std::string>& database);

} // namespace grant::lint
