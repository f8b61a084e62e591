#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace grant::migrate {

/// "file:line": how an error names a place in a migration file.
inline std::string where(const std::filesystem::path& file, std::size_t line) {
  return file.string() + ":" + std::to_string(line);
}

} // namespace grant::migrate
