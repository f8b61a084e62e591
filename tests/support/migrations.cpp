#include "support/migrations.hpp"

#include <grant/migrate/migration_file.hpp>

#include <doctest/doctest.h>

#include <stdexcept>

namespace grant::test {

ConfigError load_error(const std::filesystem::path& folder) {
  try {
    migrate::load_migrations(folder);
  } catch (const ConfigError& error) {
    return error;
  }
  FAIL("loading " << folder << " did not fail");
  throw std::logic_error("unreachable");
}

} // namespace grant::test
