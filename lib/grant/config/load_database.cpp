#include <grant/config/reader.hpp>

#include <grant/util/strings.hpp>

#include <algorithm>

namespace grant::config::detail {

Database Reader::database(const std::string& db_name, const Json& value) const {
  const std::string path = "databases." + db_name;
  require_object(value, path);
  allow_keys(value, path,
             {"url", "shards", "replicas", "migrations", "migrations_table", "pool", "health", "balancer", "routing",
              "migrate", "sqlite", "sharding", "lint"});
  Database db;
  db.name = db_name;
  db.key_path = path;
  name(Json(db_name), path);
  const bool has_url = value.contains("url");
  const bool has_shards = value.contains("shards");
  if (has_url && has_shards) {
    fail("database " + util::in_quotes(db_name) + " sets both url and shards", path,
         "use url for one writer, or shards for a sharded database, never both");
  }
  if (!has_url && !has_shards) {
    fail("database " + util::in_quotes(db_name) + " has neither url nor shards", path + ".url");
  }
  if (has_url) {
    db.url = url(value["url"], path + ".url");
  } else {
    db.shards = shards(value["shards"], path + ".shards");
  }
  if (value.contains("replicas")) {
    if (has_shards) {
      fail("replicas of a sharded database belong to each shard", path + ".replicas",
           "move them into databases." + db_name + ".shards[i].replicas");
    }
    db.replicas = replicas(value["replicas"], path + ".replicas");
  }
  if (value.contains("sharding")) {
    if (!has_shards) {
      fail("database " + util::in_quotes(db_name) + " has sharding but no shards", path + ".sharding");
    }
    db.sharding = sharding(value["sharding"], path + ".sharding");
  }
  // The default db/migrate/<name> is relative to the project root, which for a config kept
  // inside db/ (the `grant init` layout) is the config folder's parent.
  const bool config_in_db_folder = base_dir.filename() == "db";
  const std::string migrations = value.contains("migrations")
                                     ? string(value["migrations"], path + ".migrations")
                                     : (config_in_db_folder ? "migrate/" : "db/migrate/") + db_name;
  db.migrations = std::filesystem::path(migrations).is_absolute() ? std::filesystem::path(migrations)
                                                                  : (base_dir / migrations).lexically_normal();
  if (value.contains("migrations_table")) {
    db.migrations_table = string(value["migrations_table"], path + ".migrations_table");
    if (db.migrations_table.empty()) {
      fail(path + ".migrations_table must not be empty", path + ".migrations_table");
    }
  }
  if (value.contains("pool")) {
    db.pool = pool(value["pool"], path + ".pool");
  }
  if (value.contains("health")) {
    db.health = health(value["health"], path + ".health");
  }
  if (value.contains("balancer")) {
    db.balancer = balancer(value["balancer"], path + ".balancer");
  }
  if (value.contains("routing")) {
    db.routing = routing(value["routing"], path + ".routing");
  }
  if (value.contains("migrate")) {
    db.migrate = migrate(value["migrate"], path + ".migrate");
  }
  db.lint = value.contains("lint") ? lint(value["lint"], path + ".lint", lint_defaults) : lint_defaults;
  if (value.contains("sqlite")) {
    db.sqlite = sqlite(value["sqlite"], path + ".sqlite");
    const auto is_sqlite = [](const util::DatabaseUrl& u) { return u.scheme == util::UrlScheme::sqlite; };
    const bool any_sqlite =
        (db.url && is_sqlite(*db.url)) ||
        std::any_of(db.shards.begin(), db.shards.end(), [&](const Shard& s) { return is_sqlite(s.url); });
    if (!any_sqlite) {
      fail("database " + util::in_quotes(db_name) + " has sqlite settings but no SQLite url", path + ".sqlite",
           "remove \"sqlite\": it applies to sqlite3: URLs only");
    }
  }
  return db;
}

} // namespace grant::config::detail
