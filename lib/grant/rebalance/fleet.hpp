#pragma once

// Internal to rebalance/: the shards of both configs, side by side, and their tables.

#include <grant/rebalance/rebalance.hpp>
#include <grant/rebalance/table_sql.hpp>
#include <grant/registry/registry.hpp>
#include <grant/shard/resolver.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace grant::rebalance {

inline constexpr std::size_t k_none = static_cast<std::size_t>(-1);

/// One shard, as the old and the new config know it (by name).
struct Node {
  std::string name;
  std::size_t old_index = k_none; ///< in the old config's shards
  std::size_t new_index = k_none; ///< in the target's shards
  registry::Endpoint endpoint;
  registry::Registry* registry = nullptr;
  std::string label;  ///< "orders/s1"
  std::string schema; ///< quoted current_schema() of its session, where grant's tables go (prepare())

  bool is_source() const { return old_index != k_none; }
  bool is_target() const { return new_index != k_none; }
  registry::PooledConnection checkout() const;
};

/// Where a row goes: the nodes owning its key under each config.
struct Owners {
  std::size_t old_node = k_none;
  std::size_t new_node = k_none; ///< k_none: no target shard owns it
};

/// Both configs of the database, their resolvers, and the sharded tables' shapes.
class Fleet {
public:
  Fleet(const config::Config& source, const config::Config& target, const std::string& database);

  const config::Database& source() const { return *m_source; }
  const config::Database& target() const { return *m_target; }
  const std::vector<Node>& nodes() const { return m_nodes; }
  const Node& node(std::size_t index) const { return m_nodes.at(index); }
  std::size_t find(const std::string& name) const;
  /// The node holding the lock and the decisions: the old config's first shard.
  std::size_t coordinator() const { return m_coordinator; }
  std::vector<std::size_t> sources() const;
  std::vector<std::size_t> targets() const;

  /// Resolves a key given as text parts; throws nothing: a key no shard owns yields k_none.
  Owners owners(shard::Key& scratch, const std::vector<std::string_view>& parts) const;

  /// Connects to every node, refuses SQLite and different migration versions, reads the tables.
  /// Throws ConfigError (nothing touched) or DbError naming the shard.
  void prepare();
  const std::vector<TableSql>& tables() const { return m_tables; }
  /// Reads the target's lookup table (a lookup resolver with a table), as its resolver does.
  shard::LookupLoader target_loader() const;
  /// A digest of the target's shards and sharding: a second target is a different rebalance.
  const std::string& digest() const { return m_digest; }
  /// The same digest of the current config's layout.
  const std::string& source_digest() const { return m_source_digest; }
  /// True when the target's shards and sharding are the current config's: no key changes shard.
  bool moves_nothing() const { return m_digest == m_source_digest; }

private:
  void check_versions();
  void load_tables();

  const config::Database* m_source = nullptr;
  const config::Database* m_target = nullptr;
  std::unique_ptr<registry::Registry> m_source_registry;
  std::unique_ptr<registry::Registry> m_target_registry;
  std::unique_ptr<shard::Resolver> m_old;
  std::unique_ptr<shard::Resolver> m_new;
  std::vector<std::size_t> m_old_to_node;
  std::vector<std::size_t> m_new_to_node;
  std::vector<Node> m_nodes;
  std::size_t m_coordinator = 0;
  std::vector<TableSql> m_tables;
  std::string m_digest;
  std::string m_source_digest;
  bool m_prepared = false;
};

} // namespace grant::rebalance
