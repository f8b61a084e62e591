#pragma once

#include <grant/config/config.hpp>
#include <grant/migrate/migration_file.hpp>

#include <chrono>
#include <optional>

namespace grant::migrate {

/// The lock and statement timeouts and retries a section runs with.
struct Limits {
  std::optional<std::chrono::milliseconds> lock_timeout;      ///< unset: leave the server's setting; 0: no limit
  std::optional<std::chrono::milliseconds> statement_timeout; ///< unset: leave the server's setting; 0: no limit
  int retries = 0;                                            ///< extra attempts after a lock timeout
};

/// What the section's marker says, else the database's `migrate` defaults from the config.
Limits effective_limits(const Section& section, const config::MigrateSettings& defaults);

} // namespace grant::migrate
