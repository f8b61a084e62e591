#pragma once
// Internal to config/ (not installed): the reading context that parse() hands to the section
// readers, one file each (load_database.cpp, load_sharding.cpp, load_replicas.cpp, load_pool.cpp,
// load_health.cpp, load_balancer.cpp, load_routing.cpp, load_migrate.cpp, load_sqlite.cpp, load_lint.cpp,
// load_rollout.cpp), and the helpers they share (reader.cpp).

#include <grant/config/config.hpp>
#include <grant/config/load.hpp>
#include <grant/util/url.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace grant::config::detail {

using Json = nlohmann::ordered_json;

// Reading context: the file name for messages, the env and the base folder.
struct Reader {
  std::string file;
  std::filesystem::path base_dir;
  const EnvLookup& env;
  util::UrlCheck url_check = util::UrlCheck::full;
  LintSettings lint_defaults{}; ///< the top-level `lint` section, which databases.X.lint overrides

  // Shared helpers (reader.cpp). Every failure is a ConfigError at `file: key_path`.
  [[noreturn]] void fail(const std::string& what, const std::string& key_path, const std::string& hint = {}) const;
  void allow_keys(const Json& object, const std::string& key_path, const std::vector<std::string>& allowed) const;
  const Json& require_object(const Json& value, const std::string& key_path) const;
  std::string string(const Json& value, const std::string& key_path) const;
  int integer(const Json& value, const std::string& key_path, int min, int max) const;
  // Sets `out` from object[key] when the key is there (range-checked as integer()); else leaves it.
  void optional_integer(const Json& object, const std::string& key_path, const std::string& key, int min, int max,
                        int& out) const;
  bool boolean(const Json& value, const std::string& key_path) const;
  util::DatabaseUrl url(const Json& value, const std::string& key_path) const;
  std::string name(const Json& value, const std::string& key_path) const;
  std::vector<std::string> string_list(const Json& value, const std::string& key_path, bool allow_single) const;
  // `value` with ${VAR} expanded in every string inside it ("any string may hold ${VAR}").
  Json interpolated(const Json& value, const std::string& key_path) const;

  // Sections, one file each.
  std::vector<Replica> replicas(const Json& value, const std::string& key_path) const;        // load_replicas.cpp
  PoolSettings pool(const Json& value, const std::string& key_path) const;                    // load_pool.cpp
  HealthSettings health(const Json& value, const std::string& key_path) const;                // load_health.cpp
  BalancerSettings balancer(const Json& value, const std::string& key_path) const;            // load_balancer.cpp
  RoutingSettings routing(const Json& value, const std::string& key_path) const;              // load_routing.cpp
  MigrateSettings migrate(const Json& value, const std::string& key_path) const;              // load_migrate.cpp
  SqliteSettings sqlite(const Json& value, const std::string& key_path) const;                // load_sqlite.cpp
  LintSettings lint(const Json& value, const std::string& key_path, LintSettings base) const; // load_lint.cpp
  RolloutSettings rollout(const Json& value, const std::string& key_path) const;              // load_rollout.cpp
  std::vector<Shard> shards(const Json& value, const std::string& key_path) const;            // load_sharding.cpp
  Sharding sharding(const Json& value, const std::string& key_path) const;                    // load_sharding.cpp
  Database database(const std::string& db_name, const Json& value) const;                     // load_database.cpp

private:
  // A SQLite database must be a file in an existing folder; asked without throwing, so a symlink
  // loop or a folder without search permission is a config error naming the path.
  void sqlite_file(const std::filesystem::path& database, const std::string& key_path) const;
};

} // namespace grant::config::detail
