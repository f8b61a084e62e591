#pragma once

#include "support/support.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace grant::test {

/// A sharded database "orders" with one fresh database per shard on the shard servers
/// (shard i on server i % 4), a grant.json for it and its migrations folder.
class ShardFleet {
public:
  /// `sharding`: also write a modulo `sharding` section (shard-check, query).
  explicit ShardFleet(int shards = 4, const std::string& prefix = "fleet", bool sharding = false);

  TempDir dir;

  nlohmann::json& config() { return m_config; }
  /// Rewrites grant.json from config().
  void save() const;
  /// Points shard `index` at another URL in grant.json (a proxy in front of it); the fleet's
  /// own checks keep going to the server directly.
  void route(int index, const std::string& url);
  void file(const std::string& name, const std::string& text) const;
  RunResult grant(const std::vector<std::string>& args,
                  const std::map<std::string, std::optional<std::string>>& env = {}) const;

  int size() const { return static_cast<int>(m_urls.size()); }
  const std::string& url(int shard) const { return m_urls.at(static_cast<std::size_t>(shard)); }
  std::string scalar(int shard, const std::string& sql) const;
  void execute(int shard, const std::string& sql) const;
  bool has_table(int shard, const std::string& name) const;
  /// Rows of the tracking table (0 when it does not exist).
  int applied_count(int shard) const;
  /// grant's prepared transactions waiting in this shard's database.
  int prepared(int shard) const;
  /// Rows of the decisions table on this shard (0 when it does not exist).
  int decisions(int shard) const;

private:
  std::vector<std::string> m_urls;
  nlohmann::json m_config;
};

/// A migration creating `table` with one row, and its down.
std::string table_migration(const std::string& table);

} // namespace grant::test
