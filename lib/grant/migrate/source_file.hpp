#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace grant::migrate {

/// Every entry of a migrations folder, sorted. Throws ConfigError (exit 2) naming the folder when
/// it is missing, is a file, is a symlink loop or cannot be listed.
std::vector<std::filesystem::path> list_migrations_folder(const std::filesystem::path& folder);

/// Creates a migrations folder and its parents (`grant init`, `grant generate`). Throws
/// ConfigError (exit 2) naming the path when it cannot: a file on the way, no permission, a
/// symlink loop.
void create_migrations_folder(const std::filesystem::path& folder);

/// The bytes of a file named like a migration. Throws ConfigError (exit 2) naming the path and
/// what is wrong when it is not a readable regular file: a dangling symlink, a symlink loop, a
/// folder, a named pipe, a socket or device, a file without read permission. Never blocks on a
/// named pipe.
std::string read_migration_source(const std::filesystem::path& file);

} // namespace grant::migrate
