#pragma once

#include <grant/config/config.hpp>
#include <grant/health/monitor.hpp>
#include <grant/registry/registry.hpp>
#include <grant/route/balancer.hpp>
#include <grant/route/router.hpp>
#include <grant/route/scatter.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace grant::route {

/// The reads of one statement run once on some shards of a database (grant query --role
/// reading): one health round over those shards' endpoints at construction, then the Router's
/// balancer of each shard picks a replica from it (health::takes_reads within `max_lag_ms`,
/// default the database's `health.max_lag_ms`) or falls back to the writer. Thread-safe.
class ReadTargets {
public:
  /// `shards` as select_shards gives them ({""} for an unsharded database).
  ReadTargets(registry::Registry& registry, const config::Database& database, const std::vector<std::string>& shards,
              std::optional<int> max_lag_ms = std::nullopt);
  ~ReadTargets();
  ReadTargets(const ReadTargets&) = delete;
  ReadTargets& operator=(const ReadTargets&) = delete;

  /// A connection for reading `shard`, from its balancer's pick; `pick` says where and why.
  registry::PooledConnection checkout(const std::string& shard, Pick* pick = nullptr);

private:
  std::string m_database;
  std::unique_ptr<health::Monitor> m_monitor;
  std::unique_ptr<Router> m_router;
};

/// Told the pick behind each read connection a target hands out: its target's label and the pick.
using OnReadPick = std::function<void(const std::string& label, const Pick& pick)>;

/// One ShardTarget per shard of `database` (label "db" or "db/shard"), whose connection comes
/// from the shard's writer or, with `reads`, from ReadTargets::checkout (then `on_pick` is told
/// each pick, on the checking-out thread). `reads` must outlive the targets.
std::vector<ShardTarget> shard_targets(registry::Registry& registry, const config::Database& database,
                                       const std::vector<std::string>& shards, ReadTargets* reads = nullptr,
                                       OnReadPick on_pick = {});

} // namespace grant::route
