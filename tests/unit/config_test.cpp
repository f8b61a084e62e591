#include <grant/config/load.hpp>

#include <grant/error.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

#include <map>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_config_test {

using grant::ConfigError;
using grant::test::TempDir;
namespace config = grant::config;
namespace fs = std::filesystem;

namespace {

using Env = std::map<std::string, std::string>;

config::EnvLookup env_of(const Env& values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    const auto found = values.find(name);
    return found == values.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
}

// The example from CONTRACT.md, verbatim.
const char* const k_contract_example = R"({
  "databases": {
    "primary": {
      "url": "sqlite3:db/primary.sqlite3",
      "migrations": "db/migrate/primary"
    },
    "analytics": {
      "url": "${ANALYTICS_URL:-postgres://grant@127.0.0.1:5432/analytics}",
      "replicas": [{"name": "r1", "url": "${ANALYTICS_REPLICA_URL}", "weight": 1}],
      "pool": {"size": 5, "checkout_timeout_ms": 5000, "retry_attempts": 1, "retry_delay_ms": 200},
      "health": {"timeout_ms": 2000, "max_lag_ms": 5000}
    },
    "orders": {
      "shards": [
        {"name": "s0", "url": "postgres://grant@127.0.0.1:5433/orders", "replicas": []},
        {"name": "s1", "url": "postgres://grant@127.0.0.1:5434/orders", "weight": 2}
      ],
      "sharding": {
        "key": "user_id",
        "tables": ["orders", "order_items"],
        "resolver": {"type": "consistent_hash", "virtual_nodes": 160}
      }
    }
  }
})";

// What a failed parse said: the message, the where (file: key path) and the hint.
struct Failure {
  std::string what;
  std::string where;
  std::string hint;
};

Failure parse_error(const TempDir& dir, const std::string& text, const Env& env = {}) {
  try {
    config::parse(text, dir / "grant.json", env_of(env));
  } catch (const ConfigError& error) {
    CHECK(error.exit_code() == 2);
    return {error.what(), error.where(), error.hint()};
  }
  FAIL("the config was accepted: " << text);
  return {};
}

// A one-database config with `body` as the database object.
std::string with_database(const std::string& name, const std::string& body) {
  return R"({"databases": {")" + name + R"(": )" + body + "}}";
}

} // namespace

TEST_CASE("config::parse reads the CONTRACT.md example into the typed model") {
  TempDir dir;
  fs::create_directories(dir / "db");
  const Env env{{"ANALYTICS_REPLICA_URL", "postgres://grant:s3cret@10.0.0.2:5432/analytics"}};
  const auto cfg = config::parse(k_contract_example, dir / "grant.json", env_of(env));

  REQUIRE(cfg.databases.size() == 3);
  CHECK(cfg.database_names() == std::vector<std::string>{"primary", "analytics", "orders"});
  CHECK(cfg.base_dir == dir.path().lexically_normal());

  SUBCASE("primary: SQLite path and migrations resolve against the config folder") {
    const auto* primary = cfg.find("primary");
    REQUIRE(primary != nullptr);
    REQUIRE(primary->url.has_value());
    CHECK(primary->url->scheme == grant::util::UrlScheme::sqlite);
    CHECK(primary->url->sqlite_path == dir / "db" / "primary.sqlite3");
    CHECK(primary->migrations == dir / "db" / "migrate" / "primary");
    CHECK(primary->migrations_table == "schema_migrations");
    CHECK_FALSE(primary->is_sharded());
    CHECK(primary->replicas.empty());
    CHECK(primary->key_path == "databases.primary");
  }

  SUBCASE("analytics: default URL taken, replica, pool and health") {
    const auto* analytics = cfg.find("analytics");
    REQUIRE(analytics != nullptr);
    REQUIRE(analytics->url.has_value());
    CHECK(analytics->url->scheme == grant::util::UrlScheme::postgres);
    CHECK(analytics->url->raw == "postgres://grant@127.0.0.1:5432/analytics");
    CHECK(analytics->url->host == "127.0.0.1");
    CHECK(analytics->url->port == "5432");
    CHECK(analytics->url->user == "grant");
    CHECK(analytics->url->dbname == "analytics");

    REQUIRE(analytics->replicas.size() == 1);
    const auto& replica = analytics->replicas.front();
    CHECK(replica.name == "r1");
    CHECK(replica.weight == 1);
    CHECK(replica.url.host == "10.0.0.2");
    CHECK(replica.url.redacted() == "postgres://grant:***@10.0.0.2:5432/analytics");
    CHECK(replica.key_path == "databases.analytics.replicas[0]");

    CHECK(analytics->pool.size == 5);
    CHECK(analytics->pool.max_idle == 5);
    CHECK(analytics->pool.checkout_timeout_ms == 5000);
    CHECK(analytics->pool.retry_attempts == 1);
    CHECK(analytics->pool.retry_delay_ms == 200);
    CHECK(analytics->health.timeout_ms == 2000);
    CHECK(analytics->health.max_lag_ms == 5000);
    // Not under db/: the default migrations folder is db/migrate/<name> next to the config.
    CHECK(analytics->migrations == dir / "db" / "migrate" / "analytics");
  }

  SUBCASE("orders: shards in config order with weights, and the resolver with its parameters") {
    const auto* orders = cfg.find("orders");
    REQUIRE(orders != nullptr);
    CHECK(orders->is_sharded());
    CHECK_FALSE(orders->url.has_value());
    REQUIRE(orders->shards.size() == 2);
    CHECK(orders->shards[0].name == "s0");
    CHECK(orders->shards[0].url.port == "5433");
    CHECK(orders->shards[0].weight == 1);
    CHECK(orders->shards[0].replicas.empty());
    CHECK_FALSE(orders->shards[0].key_range.has_value());
    CHECK(orders->shards[1].name == "s1");
    CHECK(orders->shards[1].url.port == "5434");
    CHECK(orders->shards[1].weight == 2);
    CHECK(orders->shards[1].key_path == "databases.orders.shards[1]");
    CHECK(orders->find_shard("s1") == &orders->shards[1]);
    CHECK(orders->find_shard("s9") == nullptr);

    REQUIRE(orders->sharding.has_value());
    CHECK(orders->sharding->key == std::vector<std::string>{"user_id"});
    CHECK(orders->sharding->tables == std::vector<std::string>{"orders", "order_items"});
    CHECK(orders->sharding->resolver.type == "consistent_hash");
    CHECK(orders->sharding->resolver.params == nlohmann::ordered_json{{"virtual_nodes", 160}});
    CHECK(orders->sharding->resolver.key_path == "databases.orders.sharding.resolver");
    CHECK(orders->migrations == dir / "db" / "migrate" / "orders");
  }

  SUBCASE("defaults apply when pool and health are absent") {
    const auto* primary = cfg.find("primary");
    REQUIRE(primary != nullptr);
    CHECK(primary->pool.size == 5);
    CHECK(primary->pool.max_idle == 5);
    CHECK(primary->pool.checkout_timeout_ms == 5000);
    CHECK(primary->pool.connect_timeout_ms == 5000);
    CHECK(primary->pool.retry_attempts == 1);
    CHECK(primary->pool.retry_delay_ms == 200);
    CHECK(primary->health.timeout_ms == 2000);
    CHECK(primary->health.max_lag_ms == 5000);
    CHECK(primary->health.fall == 3);
    CHECK(primary->health.rise == 2);
  }

  SUBCASE("an environment variable overrides the default") {
    Env with_url = env;
    with_url["ANALYTICS_URL"] = "postgresql://reporter:pw@db.internal:6432/stats?sslmode=require";
    const auto other = config::parse(k_contract_example, dir / "grant.json", env_of(with_url));
    const auto& url = *other.find("analytics")->url;
    CHECK(url.host == "db.internal");
    CHECK(url.port == "6432");
    CHECK(url.user == "reporter");
    CHECK(url.dbname == "stats");
    CHECK(url.raw.find("sslmode=require") != std::string::npos); // libpq parameters pass through
    CHECK(url.redacted() == "postgresql://reporter:***@db.internal:6432/stats?sslmode=require");
  }
}

TEST_CASE("config::parse path rules") {
  TempDir dir;

  SUBCASE("a config inside db/ defaults migrations to db/migrate/<name> of the project") {
    fs::create_directories(dir / "db");
    const auto cfg = config::parse(with_database("primary", R"({"url": "sqlite3:primary.sqlite3"})"),
                                   dir / "db" / "grant.json", env_of({}));
    CHECK(cfg.databases[0].migrations == dir / "db" / "migrate" / "primary");
    CHECK(cfg.databases[0].url->sqlite_path == dir / "db" / "primary.sqlite3");
  }

  SUBCASE("an explicit migrations folder is relative to the config folder, absolute stays") {
    const auto cfg = config::parse(
        R"({"databases": {"a": {"url": "sqlite3:a.db", "migrations": "sql/a"},
                          "b": {"url": "sqlite3:b.db", "migrations": "/srv/sql/b", "migrations_table": "grant_versions"}}})",
        dir / "grant.json", env_of({}));
    CHECK(cfg.databases[0].migrations == dir / "sql" / "a");
    CHECK(cfg.databases[1].migrations == "/srv/sql/b");
    CHECK(cfg.databases[1].migrations_table == "grant_versions");
  }

  SUBCASE("a relative config path still resolves to an absolute base folder") {
    const auto cfg = config::parse(with_database("a", R"({"url": "sqlite3:a.db"})"), "grant.json", env_of({}));
    CHECK(cfg.base_dir.is_absolute());
    CHECK(cfg.databases[0].url->sqlite_path == fs::current_path() / "a.db");
  }

  SUBCASE("a composite shard key and key ranges") {
    const auto cfg = config::parse(with_database("orders", R"({"shards": [{"url": "postgres://h/a", "key_range": "-80"},
                                                {"url": "postgres://h/b", "key_range": "80-"}],
                                   "sharding": {"key": ["tenant_id", "user_id"], "resolver": {"type": "hash"}}})"),
                                   dir / "grant.json", env_of({}));
    const auto& db = cfg.databases[0];
    // Unnamed shards are named after their position.
    CHECK(db.shards[0].name == "s0");
    CHECK(db.shards[1].name == "s1");
    CHECK(db.shards[0].key_range == "-80");
    CHECK(db.shards[1].key_range == "80-");
    CHECK(db.sharding->key == std::vector<std::string>{"tenant_id", "user_id"});
    CHECK(db.sharding->tables.empty());
    CHECK(db.sharding->resolver.params.empty());
  }

  SUBCASE("interpolation reaches resolver parameters") {
    const auto cfg = config::parse(with_database("orders", R"({"shards": [{"url": "postgres://h/a"}],
                                   "sharding": {"key": "tenant_id", "resolver": {"type": "lookup",
                                     "map": {"acme": "${ACME_SHARD:-s0}"},
                                     "table": {"database": "${LOOKUP_DB}", "name": "tenant_shards"}}}})"),
                                   dir / "grant.json", env_of({{"LOOKUP_DB", "primary"}}));
    const auto& params = cfg.databases[0].sharding->resolver.params;
    CHECK(params["map"]["acme"] == "s0");
    CHECK(params["table"]["database"] == "primary");
  }

  SUBCASE("numbers may come from the environment") {
    const auto cfg =
        config::parse(with_database("a", R"({"url": "sqlite3:a.db", "pool": {"size": "${POOL_SIZE:-7}"}})"),
                      dir / "grant.json", env_of({}));
    CHECK(cfg.databases[0].pool.size == 7);
    CHECK(cfg.databases[0].pool.max_idle == 7);
  }
}

TEST_CASE("config::parse rejects bad input, naming what and where") {
  TempDir dir;
  const std::string file = (dir / "grant.json").string();

  SUBCASE("JSON syntax error gives line and column") {
    // Line 3 is missing the comma after the url value: the parser trips on the next key.
    const auto failure =
        parse_error(dir, "{\n  \"databases\": {\"a\": {\n    \"url\": \"sqlite3:a.db\"\n    \"migrations\": \"m\"}}}");
    CHECK(failure.what.find("JSON syntax error") != std::string::npos);
    CHECK(failure.where == file + ":4:5");
  }

  SUBCASE("JSON syntax error on the first line") {
    const auto failure = parse_error(dir, "{\"databases\": {\"a\": {\"url\": sqlite3}}}");
    CHECK(failure.where == file + ":1:29");
  }

  SUBCASE("JSON syntax error: a trailing comma points at what follows it") {
    const auto failure = parse_error(dir, "{\"databases\": {\"a\": {\"url\": \"sqlite3:a.db\",\n  }}}");
    CHECK(failure.what.find("unexpected '}'") != std::string::npos);
    CHECK(failure.where == file + ":2:3");
  }

  SUBCASE("a number beyond a double: line, column and key path, never an unexpected failure") {
    auto failure =
        parse_error(dir, "{\"databases\": {\"a\": {\"url\": \"sqlite3:a.db\",\n  \"pool\": {\"size\": 1e400}}}}");
    CHECK(failure.what == "the number 1e400 at databases.a.pool.size is out of range (beyond a 64-bit float)");
    CHECK(failure.where == file + ":2:20: databases.a.pool.size");
    failure = parse_error(dir, "{\"databases\": {\"o\": {\"shards\": [{}, {\"weight\": -1E+999}]}}}");
    CHECK(failure.what == "the number -1E+999 at databases.o.shards[1].weight is out of range (beyond a 64-bit float)");
    CHECK(failure.where == file + ":1:48: databases.o.shards[1].weight");
    failure = parse_error(dir, "[" + std::string(400, '7') + "]");
    CHECK(failure.what ==
          "the number 77777777777777777777... (400 characters) at [0] is out of range (beyond a 64-bit float)");
  }

  SUBCASE("an integer beyond 64 bits says the range, not 'not an integer'") {
    const auto failure =
        parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "pool": {"size": -99999999999999999999999}})"));
    CHECK(failure.what == "databases.a.pool.size must be between 1 and 10000, got about -1e+23");
  }

  SUBCASE("truncated JSON") {
    const auto failure = parse_error(dir, "{\"databases\": {\n");
    CHECK(failure.what.find("JSON syntax error") != std::string::npos);
    CHECK(failure.where.rfind(file + ":2:", 0) == 0);
  }

  SUBCASE("unknown key with a did-you-mean") {
    const auto failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "migratons": "m"})"));
    CHECK(failure.what == "unknown key 'migratons' in databases.a");
    CHECK(failure.where == file + ": databases.a.migratons");
    CHECK(failure.hint == "did you mean 'migrations'?");
  }

  SUBCASE("unknown key far from any known one lists the allowed keys") {
    const auto failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "pool": {"zzzzzz": 1}})"));
    CHECK(failure.where == file + ": databases.a.pool.zzzzzz");
    CHECK(failure.hint.find("allowed keys: size, max_idle") != std::string::npos);
  }

  SUBCASE("unknown top-level key") {
    const auto failure = parse_error(dir, R"({"databses": {}})");
    CHECK(failure.what.find("'databses'") != std::string::npos);
    CHECK(failure.hint == "did you mean 'databases'?");
  }

  SUBCASE("url and shards both set") {
    const auto failure = parse_error(
        dir, with_database("orders", R"({"url": "postgres://h/a", "shards": [{"url": "postgres://h/b"}]})"));
    CHECK(failure.what == "database 'orders' sets both url and shards");
    CHECK(failure.where == file + ": databases.orders");
  }

  SUBCASE("neither url nor shards") {
    const auto failure = parse_error(dir, with_database("orders", R"({"migrations": "m"})"));
    CHECK(failure.what == "database 'orders' has neither url nor shards");
    CHECK(failure.where == file + ": databases.orders.url");
  }

  SUBCASE("empty shards") {
    const auto failure = parse_error(dir, with_database("orders", R"({"shards": []})"));
    CHECK(failure.what.find("databases.orders.shards is empty") != std::string::npos);
    CHECK(failure.where == file + ": databases.orders.shards");
  }

  SUBCASE("duplicate shard names") {
    const auto failure =
        parse_error(dir, with_database("orders", R"({"shards": [{"name": "s0", "url": "postgres://h/a"},
                                                    {"name": "s0", "url": "postgres://h/b"}]})"));
    CHECK(failure.what == "duplicate shard name 's0'");
    CHECK(failure.where == file + ": databases.orders.shards[1].name");
  }

  SUBCASE("unset ${VAR} names the variable and the key path") {
    const auto failure = parse_error(
        dir, with_database("orders", R"({"shards": [{"url": "postgres://h/a"}, {"url": "${ORDERS_S1_URL}"}]})"));
    CHECK(failure.what.find("ORDERS_S1_URL") != std::string::npos);
    CHECK(failure.what.find("databases.orders.shards[1].url") != std::string::npos);
    CHECK(failure.where == file + ": databases.orders.shards[1].url");
    CHECK(failure.hint.find("${ORDERS_S1_URL:-") != std::string::npos);
  }

  SUBCASE("unsupported URL scheme") {
    const auto failure = parse_error(dir, with_database("a", R"({"url": "oracle://root:hunter2@h/a"})"));
    CHECK(failure.what.find("unsupported URL scheme 'oracle'") != std::string::npos);
    CHECK(failure.what.find("hunter2") == std::string::npos);
    CHECK(failure.where == file + ": databases.a.url");
    CHECK(failure.hint.find("postgres://") != std::string::npos);
  }

  SUBCASE("SQLite path in a folder that does not exist") {
    const auto failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:missing/a.sqlite3"})"));
    CHECK(failure.what.find((dir / "missing" / "a.sqlite3").string()) != std::string::npos);
    CHECK(failure.what.find("does not exist") != std::string::npos);
    CHECK(failure.where == file + ": databases.a.url");
    CHECK_FALSE(fs::exists(dir / "missing")); // nothing created
  }

  SUBCASE("duplicate JSON keys are not silently collapsed") {
    const auto failure = parse_error(dir, R"({"databases": {"a": {"url": "sqlite3:a.db", "url": "sqlite3:b.db"}}})");
    CHECK(failure.what == "duplicate key 'url'");
    CHECK(failure.where == file + ": databases.a.url");
  }

  SUBCASE("duplicate database names") {
    const auto failure =
        parse_error(dir, R"({"databases": {"a": {"url": "sqlite3:a.db"}, "a": {"url": "sqlite3:b.db"}}})");
    CHECK(failure.what == "duplicate key 'a'");
    CHECK(failure.where == file + ": databases.a");
  }

  SUBCASE("duplicate key inside an array element") {
    const auto failure = parse_error(
        dir,
        with_database(
            "o", R"({"shards": [{"url": "postgres://h/a"}, {"url": "postgres://h/b", "name": "x", "name": "y"}]})"));
    CHECK(failure.where == file + ": databases.o.shards[1].name");
  }

  SUBCASE("the same key in sibling objects is fine") {
    TempDir other;
    CHECK_NOTHROW(config::parse(R"({"databases": {"a": {"url": "sqlite3:a.db"}, "b": {"url": "sqlite3:b.db"}}})",
                                other / "grant.json", env_of({})));
  }

  SUBCASE("non-object values") {
    CHECK(parse_error(dir, "[1, 2]").what.find("must be a JSON object") != std::string::npos);
    CHECK(parse_error(dir, R"({"databases": []})").what == "databases must be an object, not array");
    auto failure = parse_error(dir, with_database("a", R"("sqlite3:a.db")"));
    CHECK(failure.what == "databases.a must be an object, not string");
    CHECK(failure.where == file + ": databases.a");
    failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "pool": 5})"));
    CHECK(failure.what == "databases.a.pool must be an object, not number");
    failure = parse_error(dir, with_database("o", R"({"shards": ["postgres://h/a"]})"));
    CHECK(failure.what == "databases.o.shards[0] must be an object, not string");
    failure = parse_error(dir, with_database("o", R"({"shards": {"s0": "postgres://h/a"}})"));
    CHECK(failure.where == file + ": databases.o.shards");
  }

  SUBCASE("wrong value types") {
    auto failure = parse_error(dir, with_database("a", R"({"url": 5})"));
    CHECK(failure.what == "databases.a.url must be a string, not number");
    failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "pool": {"size": 2.5}})"));
    CHECK(failure.where == file + ": databases.a.pool.size");
    failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "pool": {"size": "lots"}})"));
    CHECK(failure.what == "databases.a.pool.size must be an integer, got 'lots'");
  }

  SUBCASE("numbers out of bounds") {
    auto failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "pool": {"size": 0}})"));
    CHECK(failure.what == "databases.a.pool.size must be between 1 and 10000, got 0");
    failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "pool": {"size": 2, "max_idle": 3}})"));
    CHECK(failure.where == file + ": databases.a.pool.max_idle");
    failure = parse_error(dir, with_database("o", R"({"shards": [{"url": "postgres://h/a", "weight": 0}]})"));
    CHECK(failure.where == file + ": databases.o.shards[0].weight");
    failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "health": {"fall": 0}})"));
    CHECK(failure.what == "databases.a.health.fall must be between 1 and 100, got 0");
  }

  SUBCASE("empty or missing top level") {
    CHECK(parse_error(dir, "{}").what == "the config has no \"databases\" key");
    CHECK(parse_error(dir, R"({"databases": {}})").what.find("is empty") != std::string::npos);
  }

  SUBCASE("sharding mistakes") {
    auto failure = parse_error(
        dir,
        with_database("a", R"({"url": "postgres://h/a", "sharding": {"key": "id", "resolver": {"type": "hash"}}})"));
    CHECK(failure.where == file + ": databases.a.sharding");
    failure =
        parse_error(dir, with_database("o", R"({"shards": [{"url": "postgres://h/a"}], "sharding": {"key": "id"}})"));
    CHECK(failure.where == file + ": databases.o.sharding.resolver");
    failure = parse_error(
        dir,
        with_database("o", R"({"shards": [{"url": "postgres://h/a"}], "sharding": {"key": "id", "resolver": {}}})"));
    CHECK(failure.where == file + ": databases.o.sharding.resolver.type");
    failure = parse_error(dir, with_database("o", R"({"shards": [{"url": "postgres://h/a"}], "replicas": []})"));
    CHECK(failure.where == file + ": databases.o.replicas");
  }

  SUBCASE("names must be plain") {
    auto failure = parse_error(dir, with_database("a b", R"({"url": "sqlite3:a.db"})"));
    CHECK(failure.where == file + ": databases.a b");
    failure = parse_error(dir, with_database("o", R"({"shards": [{"name": "s/0", "url": "postgres://h/a"}]})"));
    CHECK(failure.where == file + ": databases.o.shards[0].name");
  }

  SUBCASE("duplicate replica names") {
    const auto failure = parse_error(
        dir, with_database("a", R"({"url": "postgres://h/a", "replicas": [{"name": "r", "url": "postgres://h/b"},
                                                                          {"name": "r", "url": "postgres://h/c"}]})"));
    CHECK(failure.what == "duplicate replica name 'r'");
    CHECK(failure.where == file + ": databases.a.replicas[1].name");
  }
}

TEST_CASE("config::locate follows --config, $GRANT_CONFIG, ./grant.json, ./db/grant.json") {
  TempDir dir;
  const auto previous = fs::current_path();
  fs::current_path(dir.path());
  struct Restore {
    fs::path path;
    ~Restore() { fs::current_path(path); }
  } restore{previous};

  SUBCASE("nothing found names every place and suggests grant init") {
    try {
      config::locate(std::nullopt, env_of({}));
      FAIL("expected a ConfigError");
    } catch (const ConfigError& error) {
      CHECK(std::string(error.what()).find("./db/grant.json") != std::string::npos);
      CHECK(error.hint().find("grant init") != std::string::npos);
    }
  }

  SUBCASE("precedence") {
    dir.write("db/grant.json", "{}");
    CHECK(config::locate(std::nullopt, env_of({})) == "db/grant.json");
    dir.write("grant.json", "{}");
    CHECK(config::locate(std::nullopt, env_of({})) == "grant.json");
    dir.write("env.json", "{}");
    CHECK(config::locate(std::nullopt, env_of({{"GRANT_CONFIG", "env.json"}})) == "env.json");
    dir.write("flag.json", "{}");
    CHECK(config::locate(fs::path("flag.json"), env_of({{"GRANT_CONFIG", "env.json"}})) == "flag.json");
  }

  SUBCASE("an explicit path or $GRANT_CONFIG that does not exist is an error, not a fallback") {
    dir.write("grant.json", "{}");
    CHECK_THROWS_AS(config::locate(fs::path("nope.json"), env_of({})), ConfigError);
    CHECK_THROWS_AS(config::locate(std::nullopt, env_of({{"GRANT_CONFIG", "nope.json"}})), ConfigError);
  }

  SUBCASE("load reads and parses the located file") {
    dir.write("db/grant.json", with_database("primary", R"({"url": "sqlite3:primary.sqlite3"})"));
    const auto cfg = config::load(std::nullopt, env_of({}));
    CHECK(cfg.path == "db/grant.json");
    CHECK(cfg.databases[0].url->sqlite_path == dir / "db" / "primary.sqlite3");
  }
}

TEST_CASE("config::parse migrate defaults and sqlite settings") {
  TempDir dir;
  const std::string file = (dir / "grant.json").string();

  SUBCASE("absent: nothing configured, foreign keys follow SQLite's default (off)") {
    const auto cfg = config::parse(with_database("a", R"({"url": "sqlite3:a.db"})"), dir / "grant.json", env_of({}));
    const auto& db = cfg.databases.front();
    CHECK_FALSE(db.migrate.lock_timeout_ms);
    CHECK_FALSE(db.migrate.statement_timeout_ms);
    CHECK_FALSE(db.migrate.retries);
    CHECK_FALSE(db.sqlite.foreign_keys);
  }
  SUBCASE("set, also through ${VAR}") {
    const auto cfg = config::parse(with_database("a", R"({"url": "sqlite3:a.db", "sqlite": {"foreign_keys": true},
                               "migrate": {"lock_timeout_ms": 5000, "statement_timeout_ms": 0, "retries": "${R:-2}"}})"),
                                   dir / "grant.json", env_of({}));
    const auto& db = cfg.databases.front();
    CHECK(db.migrate.lock_timeout_ms == 5000);
    CHECK(db.migrate.statement_timeout_ms == 0);
    CHECK(db.migrate.retries == 2);
    CHECK(db.sqlite.foreign_keys);
  }
  SUBCASE("bad values and unknown keys, with their key path") {
    auto failure =
        parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "migrate": {"lock_timeout_ms": -1}})"));
    CHECK(failure.where == file + ": databases.a.migrate.lock_timeout_ms");
    CHECK(failure.what.find("-1") != std::string::npos);
    failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "migrate": {"retries": "x"}})"));
    CHECK(failure.where == file + ": databases.a.migrate.retries");
    failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "migrate": {"retries": 1.5}})"));
    CHECK(failure.where == file + ": databases.a.migrate.retries");
    failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "migrate": {"lock_timeout": 5}})"));
    CHECK(failure.where == file + ": databases.a.migrate.lock_timeout");
    CHECK(failure.hint == "did you mean 'lock_timeout_ms'?");
    failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "migrate": 5})"));
    CHECK(failure.where == file + ": databases.a.migrate");
    failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "sqlite": {"foreign_key": true}})"));
    CHECK(failure.where == file + ": databases.a.sqlite.foreign_key");
    CHECK(failure.hint == "did you mean 'foreign_keys'?");
    failure = parse_error(dir, with_database("a", R"({"url": "sqlite3:a.db", "sqlite": {"foreign_keys": "yes"}})"));
    CHECK(failure.where == file + ": databases.a.sqlite.foreign_keys");
    failure = parse_error(dir, with_database("a", R"({"url": "postgres://h/a", "sqlite": {"foreign_keys": true}})"));
    CHECK(failure.where == file + ": databases.a.sqlite");
  }
}

} // namespace grant_test_config_test
