#include <grant/config/load.hpp>

#include <grant/config/interpolate.hpp>
#include <grant/config/number_overflow.hpp>
#include <grant/error.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace grant::config {

namespace {

using Json = nlohmann::ordered_json;

// Reading context: the file name for messages, the env and the base folder.
struct Reader {
  std::string file;
  std::filesystem::path base_dir;
  const EnvLookup& env;

  [[noreturn]] void fail(const std::string& what, const std::string& key_path, const std::string& hint = {}) const {
    throw ConfigError(what, file + ": " + key_path, hint);
  }

  void allow_keys(const Json& object, const std::string& key_path, const std::vector<std::string>& allowed) const {
    for (const auto& [key, value] : object.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
        continue;
      }
      const auto suggestion = util::closest_match(key, allowed);
      fail("unknown key " + util::in_quotes(key) + " in " + (key_path.empty() ? "the top level" : key_path),
           key_path.empty() ? key : key_path + "." + key,
           suggestion.empty() ? "allowed keys: " + util::join(allowed, ", ")
                              : "did you mean " + util::in_quotes(suggestion) + "?");
    }
  }

  const Json& require_object(const Json& value, const std::string& key_path) const {
    if (!value.is_object()) {
      fail(key_path + " must be an object, not " + std::string(value.type_name()), key_path);
    }
    return value;
  }

  std::string string(const Json& value, const std::string& key_path) const {
    if (!value.is_string()) {
      fail(key_path + " must be a string, not " + std::string(value.type_name()), key_path);
    }
    auto text = interpolate(value.get<std::string>(), env, file + ": " + key_path);
    // A NUL (\u0000 in JSON, or from the environment) would silently cut a path or URL short
    // where it reaches the C APIs of the OS, libpq and SQLite.
    if (const auto nul = text.find('\0'); nul != std::string::npos) {
      fail(key_path + " holds a NUL byte (\\u0000) at character " + std::to_string(nul + 1), key_path,
           "remove the \\u0000 from the value");
    }
    return text;
  }

  int integer(const Json& value, const std::string& key_path, int min, int max) const {
    // The number as written, so a message never shows a wrapped or clamped value.
    std::string text;
    if (value.is_number_integer()) {
      text = value.dump();
    } else if (value.is_string()) {
      text = string(value, key_path);
      long long ignored = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ignored);
      if (text.empty() || ptr != text.data() + text.size() ||
          (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
        fail(key_path + " must be an integer, got " + util::in_quotes(text), key_path);
      }
    } else if (value.is_number_float()) {
      // An integer literal beyond 64 bits reads as a float: out of range, not "not an integer".
      const double number = value.get<double>();
      if (std::trunc(number) == number && (number < min || number > max)) {
        char approx[32];
        std::snprintf(approx, sizeof approx, "%.3g", number);
        fail(key_path + " must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got about " +
                 approx,
             key_path);
      }
      fail(key_path + " must be an integer, got " + value.dump(), key_path);
    } else {
      fail(key_path + " must be an integer, not " + std::string(value.type_name()), key_path);
    }
    long long number = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc{} || number < min || number > max) {
      fail(key_path + " must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + text,
           key_path);
    }
    return static_cast<int>(number);
  }

  util::DatabaseUrl url(const Json& value, const std::string& key_path) const {
    const auto text = string(value, key_path);
    try {
      auto parsed = util::parse_database_url(text, base_dir);
      if (parsed.scheme == util::UrlScheme::sqlite && parsed.sqlite_path != ":memory:") {
        sqlite_file(parsed.sqlite_path, key_path);
      }
      return parsed;
    } catch (const ConfigError& error) {
      if (!error.where().empty()) {
        throw;
      }
      fail(error.what(), key_path, error.hint());
    }
  }

  // A SQLite database must be a file in an existing folder; asked without throwing, so a symlink
  // loop or a folder without search permission is a config error naming the path.
  void sqlite_file(const std::filesystem::path& database, const std::string& key_path) const {
    namespace fs = std::filesystem;
    const auto quoted = util::in_quotes(database.string());
    std::error_code error;
    const auto status = fs::status(database, error);
    if (fs::is_directory(status)) {
      fail("SQLite database " + quoted + " is a folder, not a file", key_path,
           "name the database file, e.g. sqlite3:" + (database / "app.sqlite3").string());
    }
    if (error && status.type() != fs::file_type::not_found) {
      fail("cannot use SQLite database " + quoted + ": " + error.message(), key_path,
           "fix the path or its permissions");
    }
    const auto folder = database.parent_path();
    if (folder.empty() || fs::exists(status)) {
      return;
    }
    const auto folder_status = fs::status(folder, error);
    if (folder_status.type() == fs::file_type::not_found) {
      fail("the folder of SQLite database " + quoted + " does not exist", key_path,
           "create it (mkdir -p " + folder.string() + ") or fix the path");
    }
    if (error) {
      fail("cannot use the folder of SQLite database " + quoted + ": " + error.message(), key_path,
           "fix the path or its permissions");
    }
    if (!fs::is_directory(folder_status)) {
      fail("the folder of SQLite database " + quoted + " is not a folder", key_path,
           "fix the path: " + folder.string() + " is a file");
    }
  }

  std::string name(const Json& value, const std::string& key_path) const {
    const auto text = string(value, key_path);
    if (text.empty()) {
      fail(key_path + " must not be empty", key_path);
    }
    for (const char c : text) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
        fail("name " + util::in_quotes(text) + " at " + key_path + " may only hold letters, digits, _ and -", key_path);
      }
    }
    return text;
  }

  std::vector<std::string> string_list(const Json& value, const std::string& key_path, bool allow_single) const {
    std::vector<std::string> out;
    if (allow_single && value.is_string()) {
      out.push_back(string(value, key_path));
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        out.push_back(string(value[i], key_path + "[" + std::to_string(i) + "]"));
      }
    } else {
      fail(key_path + " must be " + (allow_single ? "a string or " : "") + "an array of strings", key_path);
    }
    return out;
  }

  std::vector<Replica> replicas(const Json& value, const std::string& key_path) const {
    if (!value.is_array()) {
      fail(key_path + " must be an array", key_path);
    }
    std::vector<Replica> out;
    std::set<std::string> names;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const std::string path = key_path + "[" + std::to_string(i) + "]";
      const auto& item = require_object(value[i], path);
      allow_keys(item, path, {"name", "url", "weight"});
      Replica replica;
      replica.key_path = path;
      replica.name = item.contains("name") ? name(item["name"], path + ".name") : "r" + std::to_string(i + 1);
      if (!item.contains("url")) {
        fail("replica " + path + " has no url", path + ".url");
      }
      replica.url = url(item["url"], path + ".url");
      if (item.contains("weight")) {
        replica.weight = integer(item["weight"], path + ".weight", 1, 1000000);
      }
      if (!names.insert(replica.name).second) {
        fail("duplicate replica name " + util::in_quotes(replica.name), path + ".name");
      }
      out.push_back(std::move(replica));
    }
    return out;
  }

  PoolSettings pool(const Json& value, const std::string& key_path) const {
    require_object(value, key_path);
    allow_keys(value, key_path,
               {"size", "max_idle", "checkout_timeout_ms", "connect_timeout_ms", "retry_attempts", "retry_delay_ms"});
    PoolSettings out;
    if (value.contains("size")) {
      out.size = integer(value["size"], key_path + ".size", 1, 10000);
      out.max_idle = out.size;
    }
    if (value.contains("max_idle")) {
      out.max_idle = integer(value["max_idle"], key_path + ".max_idle", 0, out.size);
    }
    if (value.contains("checkout_timeout_ms")) {
      out.checkout_timeout_ms = integer(value["checkout_timeout_ms"], key_path + ".checkout_timeout_ms", 0, 3600000);
    }
    if (value.contains("connect_timeout_ms")) {
      out.connect_timeout_ms = integer(value["connect_timeout_ms"], key_path + ".connect_timeout_ms", 1, 3600000);
    }
    if (value.contains("retry_attempts")) {
      out.retry_attempts = integer(value["retry_attempts"], key_path + ".retry_attempts", 0, 100);
    }
    if (value.contains("retry_delay_ms")) {
      out.retry_delay_ms = integer(value["retry_delay_ms"], key_path + ".retry_delay_ms", 0, 600000);
    }
    return out;
  }

  HealthSettings health(const Json& value, const std::string& key_path) const {
    require_object(value, key_path);
    allow_keys(value, key_path, {"timeout_ms", "max_lag_ms", "fall", "rise"});
    HealthSettings out;
    if (value.contains("timeout_ms")) {
      out.timeout_ms = integer(value["timeout_ms"], key_path + ".timeout_ms", 1, 3600000);
    }
    if (value.contains("max_lag_ms")) {
      out.max_lag_ms = integer(value["max_lag_ms"], key_path + ".max_lag_ms", 0, 86400000);
    }
    if (value.contains("fall")) {
      out.fall = integer(value["fall"], key_path + ".fall", 1, 100);
    }
    if (value.contains("rise")) {
      out.rise = integer(value["rise"], key_path + ".rise", 1, 100);
    }
    return out;
  }

  BalancerSettings balancer(const Json& value, const std::string& key_path) const {
    require_object(value, key_path);
    allow_keys(value, key_path, {"strategy", "failure_threshold", "cooldown_ms"});
    BalancerSettings out;
    if (value.contains("failure_threshold")) {
      out.failure_threshold = integer(value["failure_threshold"], key_path + ".failure_threshold", 1, 1000000);
    }
    if (value.contains("cooldown_ms")) {
      out.cooldown_ms = integer(value["cooldown_ms"], key_path + ".cooldown_ms", 1, 86400000);
    }
    if (value.contains("strategy")) {
      const auto& known = balancer_strategies();
      out.strategy = string(value["strategy"], key_path + ".strategy");
      if (std::find(known.begin(), known.end(), out.strategy) == known.end()) {
        const auto suggestion = util::closest_match(out.strategy, known);
        fail("unknown balancer strategy " + util::in_quotes(out.strategy), key_path + ".strategy",
             suggestion.empty() ? "strategies: " + util::join(known, ", ")
                                : "did you mean " + util::in_quotes(suggestion) + "?");
      }
    }
    return out;
  }

  RoutingSettings routing(const Json& value, const std::string& key_path) const {
    require_object(value, key_path);
    allow_keys(value, key_path, {"read_your_writes", "read_your_writes_ms"});
    RoutingSettings out;
    if (value.contains("read_your_writes")) {
      const auto mode = string(value["read_your_writes"], key_path + ".read_your_writes");
      const std::vector<std::string> known{"lsn", "window", "off"};
      if (mode == "lsn") {
        out.read_your_writes = ReadYourWrites::lsn;
      } else if (mode == "window") {
        out.read_your_writes = ReadYourWrites::window;
      } else if (mode == "off") {
        out.read_your_writes = ReadYourWrites::off;
      } else {
        const auto suggestion = util::closest_match(mode, known);
        fail("unknown read_your_writes mode " + util::in_quotes(mode), key_path + ".read_your_writes",
             suggestion.empty() ? "modes: " + util::join(known, ", ")
                                : "did you mean " + util::in_quotes(suggestion) + "?");
      }
    }
    if (value.contains("read_your_writes_ms")) {
      out.read_your_writes_ms = integer(value["read_your_writes_ms"], key_path + ".read_your_writes_ms", 0, 3600000);
    }
    return out;
  }

  MigrateSettings migrate(const Json& value, const std::string& key_path) const {
    require_object(value, key_path);
    allow_keys(value, key_path, {"lock_timeout_ms", "statement_timeout_ms", "retries"});
    MigrateSettings out;
    constexpr int k_max_ms = std::numeric_limits<int>::max(); // PostgreSQL's limit for both
    if (value.contains("lock_timeout_ms")) {
      out.lock_timeout_ms = integer(value["lock_timeout_ms"], key_path + ".lock_timeout_ms", 0, k_max_ms);
    }
    if (value.contains("statement_timeout_ms")) {
      out.statement_timeout_ms =
          integer(value["statement_timeout_ms"], key_path + ".statement_timeout_ms", 0, k_max_ms);
    }
    if (value.contains("retries")) {
      out.retries = integer(value["retries"], key_path + ".retries", 0, 100);
    }
    return out;
  }

  SqliteSettings sqlite(const Json& value, const std::string& key_path) const {
    require_object(value, key_path);
    allow_keys(value, key_path, {"foreign_keys"});
    SqliteSettings out;
    if (value.contains("foreign_keys")) {
      out.foreign_keys = boolean(value["foreign_keys"], key_path + ".foreign_keys");
    }
    return out;
  }

  bool boolean(const Json& value, const std::string& key_path) const {
    if (value.is_boolean()) {
      return value.get<bool>();
    }
    if (value.is_string()) {
      const auto text = string(value, key_path);
      if (text == "true" || text == "false") {
        return text == "true";
      }
      fail(key_path + " must be true or false, got " + util::in_quotes(text), key_path);
    }
    fail(key_path + " must be true or false, not " + std::string(value.type_name()), key_path);
  }

  std::vector<Shard> shards(const Json& value, const std::string& key_path) const {
    if (!value.is_array()) {
      fail(key_path + " must be an array of shards", key_path);
    }
    if (value.empty()) {
      fail(key_path + " is empty: a sharded database needs at least one shard", key_path,
           "add shards, or use \"url\" for an unsharded database");
    }
    std::vector<Shard> out;
    std::set<std::string> names;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const std::string path = key_path + "[" + std::to_string(i) + "]";
      const auto& item = require_object(value[i], path);
      allow_keys(item, path, {"name", "url", "weight", "key_range", "replicas"});
      Shard shard;
      shard.key_path = path;
      shard.name = item.contains("name") ? name(item["name"], path + ".name") : "s" + std::to_string(i);
      if (!names.insert(shard.name).second) {
        fail("duplicate shard name " + util::in_quotes(shard.name), path + ".name",
             "every shard of a database needs its own name");
      }
      if (!item.contains("url")) {
        fail("shard " + util::in_quotes(shard.name) + " has no url", path + ".url");
      }
      shard.url = url(item["url"], path + ".url");
      if (item.contains("weight")) {
        // Weights <= 0 are rejected here; the resolver lint names them too.
        shard.weight = integer(item["weight"], path + ".weight", 1, 1000000);
      }
      if (item.contains("key_range")) {
        shard.key_range = string(item["key_range"], path + ".key_range");
      }
      if (item.contains("replicas")) {
        shard.replicas = replicas(item["replicas"], path + ".replicas");
      }
      out.push_back(std::move(shard));
    }
    return out;
  }

  Sharding sharding(const Json& value, const std::string& key_path) const {
    require_object(value, key_path);
    allow_keys(value, key_path, {"key", "tables", "resolver"});
    Sharding out;
    out.key_path = key_path;
    if (!value.contains("key")) {
      fail(key_path + ".key is missing: name the shard key column(s)", key_path + ".key");
    }
    out.key = string_list(value["key"], key_path + ".key", true);
    if (out.key.empty()) {
      fail(key_path + ".key is empty", key_path + ".key");
    }
    if (value.contains("tables")) {
      out.tables = string_list(value["tables"], key_path + ".tables", false);
    }
    if (!value.contains("resolver")) {
      fail(key_path + ".resolver is missing", key_path + ".resolver",
           "add {\"type\": \"hash\"} or another resolver type");
    }
    const std::string resolver_path = key_path + ".resolver";
    const auto& resolver = require_object(value["resolver"], resolver_path);
    if (!resolver.contains("type")) {
      fail(resolver_path + ".type is missing", resolver_path + ".type",
           "one of modulo, hash, range, lookup, consistent_hash");
    }
    out.resolver.key_path = resolver_path;
    out.resolver.type = string(resolver["type"], resolver_path + ".type");
    for (const auto& [key, param] : resolver.items()) {
      if (key != "type") {
        out.resolver.params[key] = interpolated(param, resolver_path + "." + key);
      }
    }
    return out;
  }

  // `value` with ${VAR} expanded in every string inside it ("any string may hold ${VAR}").
  Json interpolated(const Json& value, const std::string& key_path) const {
    if (value.is_string()) {
      return string(value, key_path);
    }
    Json out = value;
    if (value.is_object()) {
      for (auto& [key, item] : out.items()) {
        item = interpolated(item, key_path + "." + key);
      }
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = interpolated(out[i], key_path + "[" + std::to_string(i) + "]");
      }
    }
    return out;
  }

  Database database(const std::string& db_name, const Json& value) const {
    const std::string path = "databases." + db_name;
    require_object(value, path);
    allow_keys(value, path,
               {"url", "shards", "replicas", "migrations", "migrations_table", "pool", "health", "balancer", "routing",
                "migrate", "sqlite", "sharding"});
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
};

std::pair<std::size_t, std::size_t> line_and_column(std::string_view text, std::size_t byte) {
  std::size_t line = 1;
  std::size_t column = 1;
  // A UTF-8 byte-order mark is no column an editor shows.
  const std::size_t start = util::starts_with(text, "\xEF\xBB\xBF") && byte >= 3 ? 3 : 0;
  for (std::size_t i = start; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

// The offset of the token the parser choked on. nlohmann reports the byte just after it; point
// at its start, as editors and Python's json do, or past the end for a truncated document.
std::size_t error_offset(std::string_view text, std::size_t byte) {
  if (byte == 0) {
    return 0;
  }
  if (byte > text.size()) {
    return text.size();
  }
  std::size_t start = byte - 1;
  const auto in_word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '+' || c == '.';
  };
  if (text[start] == '"') {
    // A whole string the parser did not expect: find its opening quote on the same line.
    for (std::size_t i = start; i-- > 0 && text[i] != '\n';) {
      std::size_t backslashes = 0;
      for (std::size_t k = i; k-- > 0 && text[k] == '\\';) {
        ++backslashes;
      }
      if (text[i] == '"' && backslashes % 2 == 0) {
        return i;
      }
    }
  } else if (in_word(text[start])) {
    while (start > 0 && in_word(text[start - 1])) {
      --start;
    }
  }
  return start;
}

// Relative paths resolve against the config file's folder (CONTRACT.md).
std::filesystem::path base_dir_of(const std::filesystem::path& path) {
  auto folder = std::filesystem::absolute(path).parent_path();
  return folder.lexically_normal();
}

} // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  };
}

namespace {

// exists() without its filesystem_error: a symlink loop or a folder without search permission
// on the way is a config error naming the path.
bool config_exists(const std::filesystem::path& path, const std::string& given_by) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error && status.type() != std::filesystem::file_type::not_found) {
    throw ConfigError("cannot use config file " + util::in_quotes(path.string()) + ": " + error.message(),
                      given_by.empty() ? path.string() : given_by, "fix the path or its permissions");
  }
  return std::filesystem::exists(status);
}

} // namespace

std::filesystem::path locate(const std::optional<std::filesystem::path>& explicit_path, const EnvLookup& env) {
  if (explicit_path) {
    if (explicit_path->empty()) {
      throw ConfigError(
          "the config path is empty", "--config",
          "name the config file, or leave --config out to use $GRANT_CONFIG, ./grant.json or ./db/grant.json");
    }
    if (!config_exists(*explicit_path, "--config")) {
      throw ConfigError("config file " + util::in_quotes(explicit_path->string()) + " does not exist", "--config",
                        "check the path, or run `grant init` to write a starter config");
    }
    return *explicit_path;
  }
  if (const auto from_env = env("GRANT_CONFIG"); from_env && !from_env->empty()) {
    if (!config_exists(*from_env, "$GRANT_CONFIG")) {
      throw ConfigError("config file " + util::in_quotes(*from_env) + " does not exist", "$GRANT_CONFIG",
                        "fix GRANT_CONFIG or unset it");
    }
    return *from_env;
  }
  for (const char* candidate : {"grant.json", "db/grant.json"}) {
    if (config_exists(candidate, "")) {
      return candidate;
    }
  }
  throw ConfigError("no config file found (looked for --config, $GRANT_CONFIG, ./grant.json, ./db/grant.json)",
                    std::filesystem::current_path().string(),
                    "run `grant init` to write a starter db/grant.json, or pass --config PATH");
}

Config parse(std::string_view text, const std::filesystem::path& path, const EnvLookup& env) {
  const std::string file = path.string();
  Json document;
  // Duplicate keys would silently keep the last one: catch them while parsing, with the key
  // path of the second occurrence.
  struct Frame {
    bool is_array = false;
    std::size_t index = 0; ///< arrays: the element being read
    std::string key;       ///< objects: the member being read
    std::set<std::string> keys;
  };
  std::vector<Frame> frames;
  std::string duplicate;
  std::string duplicate_path;
  const auto element_done = [&] {
    if (!frames.empty() && frames.back().is_array) {
      ++frames.back().index;
    }
  };
  const auto callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
    case Json::parse_event_t::object_start:
    case Json::parse_event_t::array_start:
      frames.push_back(Frame{event == Json::parse_event_t::array_start, 0, {}, {}});
      break;
    case Json::parse_event_t::object_end:
    case Json::parse_event_t::array_end:
      if (!frames.empty()) {
        frames.pop_back();
      }
      element_done();
      break;
    case Json::parse_event_t::value:
      element_done();
      break;
    case Json::parse_event_t::key:
      if (!frames.empty()) {
        frames.back().key = parsed.get<std::string>();
        if (!frames.back().keys.insert(frames.back().key).second && duplicate.empty()) {
          duplicate = frames.back().key;
          for (const auto& frame : frames) {
            duplicate_path += frame.is_array ? "[" + std::to_string(frame.index) + "]"
                                             : (duplicate_path.empty() ? "" : ".") + frame.key;
          }
        }
      }
      break;
    }
    return true;
  };
  // Windows editors save "Unicode" as UTF-16 or UTF-32 with a byte-order mark; a UTF-8 one
  // is read as is (the parser skips it).
  if (util::starts_with(text, "\xFF\xFE") || util::starts_with(text, "\xFE\xFF") ||
      util::starts_with(text, std::string_view("\x00\x00\xFE\xFF", 4))) {
    throw ConfigError("config file " + util::in_quotes(file) + " is UTF-16 or UTF-32, not UTF-8", file,
                      "save it as UTF-8 (with or without a byte-order mark)");
  }
  try {
    document = Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::parse_error& error) {
    const auto [line, column] = line_and_column(text, error_offset(text, error.byte));
    std::string detail = error.what();
    if (const auto colon = detail.find(": "); colon != std::string::npos) {
      detail = detail.substr(colon + 2);
    }
    throw ConfigError("JSON syntax error: " + detail, file + ":" + std::to_string(line) + ":" + std::to_string(column),
                      "fix the JSON at that line and column");
  } catch (const Json::exception& error) {
    // out_of_range 406: a number beyond a double (1e400). Said with its line and key path.
    const auto overflow = find_number_overflow(text);
    if (!overflow) {
      throw ConfigError(std::string("JSON error: ") + error.what(), file, "fix the JSON");
    }
    const auto [line, column] = line_and_column(text, error_offset(text, overflow->offset));
    auto number = overflow->number;
    if (number.size() > 24) {
      number = number.substr(0, 20) + "... (" + std::to_string(number.size()) + " characters)";
    }
    throw ConfigError("the number " + number + " at " + overflow->key_path + " is out of range (beyond a 64-bit float)",
                      file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + overflow->key_path,
                      "write a whole number within the range docs/config.md gives for the key");
  }
  if (!duplicate.empty()) {
    throw ConfigError("duplicate key " + util::in_quotes(duplicate), file + ": " + duplicate_path,
                      "a key may appear once per object; remove one of them");
  }

  Reader reader{file, base_dir_of(path), env};
  if (!document.is_object()) {
    reader.fail("the config must be a JSON object with a \"databases\" key", "(top level)");
  }
  reader.allow_keys(document, "", {"databases"});
  if (!document.contains("databases")) {
    reader.fail("the config has no \"databases\" key", "databases", "see docs/config.md for the format");
  }
  const auto& databases = reader.require_object(document["databases"], "databases");
  if (databases.empty()) {
    reader.fail("\"databases\" is empty: declare at least one database", "databases");
  }
  Config config;
  config.path = path;
  config.base_dir = reader.base_dir;
  for (const auto& [name, value] : databases.items()) {
    config.databases.push_back(reader.database(name, value));
  }
  return config;
}

Config load(const std::optional<std::filesystem::path>& explicit_path, const EnvLookup& env) {
  const auto path = locate(explicit_path, env);
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw ConfigError("config file " + util::in_quotes(path.string()) + " is a folder", path.string(),
                      "name the JSON file itself, e.g. --config " + (path / "grant.json").string());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read config file " + util::in_quotes(path.string()), path.string(),
                      "check its permissions");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse(buffer.str(), path, env);
}

std::string_view read_your_writes_name(ReadYourWrites mode) {
  switch (mode) {
  case ReadYourWrites::lsn:
    return "lsn";
  case ReadYourWrites::window:
    return "window";
  case ReadYourWrites::off:
    return "off";
  }
  return "lsn";
}

const std::vector<std::string>& balancer_strategies() {
  static const std::vector<std::string> names = {"round_robin", "random", "least_connections"};
  return names;
}

const Database* Config::find(std::string_view database_name) const {
  for (const auto& db : databases) {
    if (db.name == database_name) {
      return &db;
    }
  }
  return nullptr;
}

std::vector<std::string> Config::database_names() const {
  std::vector<std::string> names;
  for (const auto& db : databases) {
    names.push_back(db.name);
  }
  return names;
}

const Shard* Database::find_shard(std::string_view shard_name) const {
  for (const auto& shard : shards) {
    if (shard.name == shard_name) {
      return &shard;
    }
  }
  return nullptr;
}

} // namespace grant::config
