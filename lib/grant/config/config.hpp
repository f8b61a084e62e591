#pragma once

#include <grant/util/url.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace grant::config {

/// Connection pool settings of one database (`databases.X.pool`).
struct PoolSettings {
  int size = 5;
  int max_idle = 5;
  int checkout_timeout_ms = 5000;
  int connect_timeout_ms = 5000;
  int retry_attempts = 1;
  int retry_delay_ms = 200;
};

/// Health probe settings of one database (`databases.X.health`).
struct HealthSettings {
  int timeout_ms = 2000;
  int max_lag_ms = 5000;
  int fall = 3; ///< consecutive failed checks before the health monitor takes an endpoint out
  int rise = 2; ///< consecutive passed checks before it takes traffic again
};

/// How reads are spread over the replicas of a writer (`databases.X.balancer`).
struct BalancerSettings {
  std::string strategy = "round_robin"; ///< one of balancer_strategies()
  int failure_threshold = 5;            ///< consecutive failures that open an endpoint's circuit breaker
  int cooldown_ms = 5000;               ///< how long an open breaker fails fast before one trial
};

/// How reads after a write are kept consistent (`databases.X.routing.read_your_writes`).
enum class ReadYourWrites {
  lsn,    ///< reads stay on the writer until a replica has replayed the write's WAL position
  window, ///< reads stay on the writer for read_your_writes_ms after a write
  off,    ///< reads go to the balancer at once
};

/// "lsn", "window", "off".
std::string_view read_your_writes_name(ReadYourWrites mode);

/// Application routing through route::Router (`databases.X.routing`).
struct RoutingSettings {
  ReadYourWrites read_your_writes = ReadYourWrites::lsn;
  /// window mode: how long reads stay on the writer after a write; lsn mode: the same, used when
  /// the write's position could not be read (SQLite, a lost session).
  int read_your_writes_ms = 2000;
};

/// The names `balancer.strategy` accepts: "round_robin", "random", "least_connections". Each
/// has one file under route/, whose factory table uses the same names.
const std::vector<std::string>& balancer_strategies();

/// Defaults for the migrations of one database (`databases.X.migrate`): what a section marker
/// does not set. Unset means not configured (the server's own setting stays).
struct MigrateSettings {
  std::optional<int> lock_timeout_ms;      ///< 0: no limit
  std::optional<int> statement_timeout_ms; ///< 0: no limit
  std::optional<int> retries;              ///< extra attempts after a lock timeout
};

/// How `grant lint` and the lint before `grant migrate` judge a database (`lint` at the top of the
/// config, overridden key by key by `databases.X.lint`).
struct LintSettings {
  std::string fail_on = "error"; ///< "error", "warning" or "none": the lowest severity that fails
  int large_table_mb = 1024;     ///< --connect: a lock or rewrite finding on a table this large is an error
  /// How ids of sharded tables are made unique across shards (free text, e.g. "sequences stepped by
  /// the shard count"); when set, a serial or identity column on a sharded table is not reported.
  std::optional<std::string> id_scheme;
};

/// SQLite connection settings of one database (`databases.X.sqlite`).
struct SqliteSettings {
  bool foreign_keys = false; ///< PRAGMA foreign_keys = ON on every connection; SQLite's default is off
};

/// A read replica of a writer or of a shard.
struct Replica {
  std::string name;
  util::DatabaseUrl url;
  int weight = 1;
  std::string key_path; ///< e.g. databases.analytics.replicas[0]
};

/// One shard of a sharded database. Order in the config is meaningful.
struct Shard {
  std::string name;
  util::DatabaseUrl url;
  int weight = 1;
  std::optional<std::string> key_range; ///< Vitess notation for the `hash` resolver: "-80", "80-"
  std::vector<Replica> replicas;
  std::string key_path; ///< e.g. databases.orders.shards[1]
};

/// `sharding.resolver`: the type plus its own parameters, which the shard module validates.
struct ResolverSettings {
  std::string type;
  nlohmann::ordered_json params = nlohmann::ordered_json::object(); ///< every key but "type"
  std::string key_path;                                             ///< databases.X.sharding.resolver
};

struct Sharding {
  std::vector<std::string> key; ///< one column, or several for a composite key
  std::vector<std::string> tables;
  ResolverSettings resolver;
  std::string key_path;
};

struct Database {
  std::string name;
  std::optional<util::DatabaseUrl> url; ///< the writer, when not sharded
  std::vector<Replica> replicas;        ///< replicas of the writer
  std::vector<Shard> shards;            ///< set instead of url for a sharded database
  std::optional<Sharding> sharding;
  std::filesystem::path migrations; ///< resolved against the config folder
  std::string migrations_table = "schema_migrations";
  PoolSettings pool;
  HealthSettings health;
  BalancerSettings balancer;
  RoutingSettings routing;
  MigrateSettings migrate;
  SqliteSettings sqlite;
  LintSettings lint;
  std::string key_path; ///< databases.X

  bool is_sharded() const { return !shards.empty(); }
  const Shard* find_shard(std::string_view shard_name) const;
};

/// `grant migrate`'s rollout defaults (the top-level `rollout` section); its flags override each.
struct RolloutSettings {
  std::vector<std::string> canary; ///< shard names: the first wave
  std::vector<std::string> waves;  ///< "1", "10%", "100%"
  std::string order = "config";    ///< "config", "name", "size"
  int pause_ms = 0;
  std::optional<int> max_lag_ms;
  std::optional<std::string> gate_cmd;
  int gate_timeout_ms = 300000;
};

struct Config {
  std::filesystem::path path; ///< the file it was read from
  RolloutSettings rollout;
  std::filesystem::path base_dir; ///< relative paths resolve against this
  std::vector<Database> databases;

  const Database* find(std::string_view database_name) const;
  std::vector<std::string> database_names() const;
};

} // namespace grant::config
