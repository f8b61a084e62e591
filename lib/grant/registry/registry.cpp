#include <grant/registry/registry.hpp>

#include <grant/error.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>

namespace grant::registry {

Registry::Registry(const config::Config& config) : m_config(config) {}

Registry::~Registry() = default;

const config::Database& Registry::database(const std::string& name) const {
  const auto selected = select_databases(m_config, {name});
  return *selected.front();
}

Pool& Registry::writer(const std::string& database_name, const std::string& shard) {
  const auto& db = database(database_name);
  const auto writers = writers_of(db, shard.empty() ? std::vector<std::string>{} : std::vector<std::string>{shard});
  return pool(writers.front());
}

Pool& Registry::pool(const Endpoint& endpoint) {
  const auto label = endpoint.label();
  std::lock_guard guard(m_mutex);
  auto& slot = m_pools[label];
  if (!slot) {
    const auto* db = m_config.find(endpoint.database);
    const config::PoolSettings settings = db != nullptr ? db->pool : config::PoolSettings{};
    PoolOptions options;
    options.max_size = static_cast<std::size_t>(settings.size);
    options.max_idle = static_cast<std::size_t>(settings.max_idle);
    options.checkout_timeout = std::chrono::milliseconds(settings.checkout_timeout_ms);
    options.retry_attempts = settings.retry_attempts;
    options.retry_delay = std::chrono::milliseconds(settings.retry_delay_ms);
    db::ConnectOptions connect;
    connect.target = label;
    connect.connect_timeout_ms = settings.connect_timeout_ms;
    connect.sqlite_foreign_keys = db != nullptr && db->sqlite.foreign_keys;
    slot = std::make_unique<Pool>(
        label, [url = endpoint.url, connect] { return db::connect(url, connect); }, options);
  }
  return *slot;
}

std::map<std::string, PoolStats> Registry::stats() const {
  std::lock_guard guard(m_mutex);
  std::map<std::string, PoolStats> out;
  for (const auto& [label, pool] : m_pools) {
    out[label] = pool->stats();
  }
  return out;
}

std::vector<const config::Database*> select_databases(const config::Config& config,
                                                      const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (config.find(name) == nullptr) {
      const auto known = config.database_names();
      const auto suggestion = util::closest_match(name, known);
      throw ConfigError("unknown database " + util::in_quotes(name), config.path.string() + ": databases",
                        suggestion.empty() ? "configured databases: " + util::join(known, ", ")
                                           : "did you mean " + util::in_quotes(suggestion) + "?");
    }
  }
  std::vector<const config::Database*> out;
  for (const auto& db : config.databases) {
    if (names.empty() || std::find(names.begin(), names.end(), db.name) != names.end()) {
      out.push_back(&db);
    }
  }
  return out;
}

} // namespace grant::registry
