#pragma once

#include <grant/config/config.hpp>
#include <grant/registry/endpoint.hpp>
#include <grant/registry/pool.hpp>

#include <map>
#include <memory>
#include <mutex>

namespace grant::registry {

/// The fleet's connections, keyed by database x role x shard: one pool per endpoint, created
/// lazily on first use from the config. Thread-safe. Reads over replicas go through
/// route::Router (or route::Balancer), which knows their health.
class Registry {
public:
  explicit Registry(const config::Config& config);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// The pool of the writer of `database` (or of its shard `shard`).
  Pool& writer(const std::string& database, const std::string& shard = {});
  /// The pool of one specific endpoint.
  Pool& pool(const Endpoint& endpoint);
  /// Checkout shortcut for one endpoint.
  PooledConnection checkout(const Endpoint& endpoint) { return pool(endpoint).checkout(); }

  const config::Config& config() const { return m_config; }
  /// The database by name; throws ConfigError with a did-you-mean when unknown.
  const config::Database& database(const std::string& name) const;

  /// Statistics of every pool created so far, by endpoint label.
  std::map<std::string, PoolStats> stats() const;

private:
  const config::Config& m_config;
  mutable std::mutex m_mutex;
  std::map<std::string, std::unique_ptr<Pool>> m_pools;
};

/// The databases named by --database, in config order (all when `names` is empty). Unknown names
/// throw ConfigError with a did-you-mean.
std::vector<const config::Database*> select_databases(const config::Config& config,
                                                      const std::vector<std::string>& names);

} // namespace grant::registry
