#include <grant/route/shard_targets.hpp>

namespace grant::route {

ReadTargets::ReadTargets(registry::Registry& registry, const config::Database& database,
                         const std::vector<std::string>& shards, std::optional<int> max_lag_ms)
    : m_database(database.name) {
  health::CheckOptions check;
  check.max_lag_ms = max_lag_ms;
  if (database.is_sharded()) {
    check.shards = shards;
  }
  m_monitor = std::make_unique<health::Monitor>(std::vector<const config::Database*>{&database}, check);
  m_monitor->check_now();
  RouterOptions options;
  options.health = from_monitor(*m_monitor);
  options.balancer.max_lag_ms = max_lag_ms;
  m_router = std::make_unique<Router>(registry, std::move(options));
  for (const auto& shard : shards) {
    m_router->balancer(m_database, shard); // created now: a config error surfaces before any read
  }
}

ReadTargets::~ReadTargets() = default;

registry::PooledConnection ReadTargets::checkout(const std::string& shard, Pick* pick) {
  return m_router->balancer(m_database, shard).checkout(pick);
}

std::vector<ShardTarget> shard_targets(registry::Registry& registry, const config::Database& database,
                                       const std::vector<std::string>& shards, ReadTargets* reads, OnReadPick on_pick) {
  std::vector<ShardTarget> targets;
  for (const auto& shard : shards) {
    std::string label = database.name + (shard.empty() ? "" : "/" + shard);
    auto checkout = [&registry, reads, on_pick, database = database.name, shard, label] {
      if (reads == nullptr) {
        return registry.writer(database, shard).checkout();
      }
      Pick pick;
      auto connection = reads->checkout(shard, &pick);
      if (on_pick) {
        on_pick(label, pick);
      }
      return connection;
    };
    targets.push_back({shard, std::move(label), std::move(checkout)});
  }
  return targets;
}

} // namespace grant::route
