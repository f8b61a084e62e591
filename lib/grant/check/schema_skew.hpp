#pragma once

// shard-check's schema comparison: the migration versions and table columns each shard has,
// against what most shards have. Internal to check/ (not installed).

#include <grant/check/shard_check.hpp>
#include <grant/registry/registry.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace grant::check {

using Columns = std::vector<std::pair<std::string, std::string>>; // name, type

/// One shard as shard-check sees it: its connection (empty when unreachable), its applied
/// migrations and the columns of the tables it was asked about.
struct ShardState {
  std::size_t index = 0;
  std::string name;
  registry::PooledConnection connection;
  std::map<std::string, std::optional<std::string>> migrations; // version -> checksum
  std::map<std::string, std::optional<Columns>> tables;         // nullopt: table missing
};

/// What most shards have is the reference, so a difference is blamed on the shard that has it,
/// not on every other shard. With an even split, the version or column present counts as meant.
/// Adds the differences to `report.schema`.
void compare_schemas(const config::Database& database, std::vector<ShardState>& shards,
                     const std::vector<std::string>& tables, DatabaseCheck& report);

} // namespace grant::check
