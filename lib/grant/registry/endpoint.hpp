#pragma once

#include <grant/config/config.hpp>

#include <string>
#include <vector>

namespace grant::registry {

enum class Role { writing, reading };

std::string_view role_name(Role role);

/// One server of the fleet: the writer of a database or of a shard, or one of their replicas.
struct Endpoint {
  std::string database;
  std::string shard;   ///< empty for an unsharded database
  std::string replica; ///< empty for a writer
  Role role = Role::writing;
  util::DatabaseUrl url;
  int weight = 1;

  /// "analytics", "analytics/r1", "orders/s0", "orders/s0/r1": the name used in every message.
  std::string label() const;
};

/// Every endpoint of a database: writers (one per shard) first, in config order, then replicas.
std::vector<Endpoint> endpoints_of(const config::Database& database);

/// The writers a migration runs on: the database's writer, or every shard's writer, optionally
/// narrowed to `shard_names` (unknown names throw ConfigError).
std::vector<Endpoint> writers_of(const config::Database& database, const std::vector<std::string>& shard_names = {});

} // namespace grant::registry
