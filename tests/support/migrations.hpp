#pragma once

#include <grant/error.hpp>

#include <filesystem>

namespace grant::test {

/// The ConfigError that loading the migrations in `folder` throws; fails the test when they load.
ConfigError load_error(const std::filesystem::path& folder);

} // namespace grant::test
