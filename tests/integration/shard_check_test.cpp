// `grant shard-check` against the four shard servers (a fresh database on each): rows placed
// where an independent oracle says (tests/support/placement_oracle.hpp: the documented rules and
// hash vectors, SQL-style arithmetic for modulo and range, the map itself for lookup; never grant's
// own resolvers) give a clean report; rows planted on the wrong shard are found exactly, for every
// resolver and a composite key. Schema skew, missing tables and columns, an
// unreachable shard and the distribution report.
#include "support/pg_session.hpp"
#include "support/placement_oracle.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <set>
#include <sstream>
#include <tuple>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_shard_check_test {

using grant::test::contains;
using grant::test::RunResult;
using grant::test::TempDir;
using Json = nlohmann::json;
using KeyParts = std::vector<std::string>;
using Oracle = std::function<int(const KeyParts&)>;
namespace oracle = grant::test::oracle;

namespace {

std::string password() {
  const char* value = std::getenv("GRANT_TEST_PG_PASSWORD");
  return value == nullptr ? std::string("grant-test-secret") : value;
}

// The URL of a server nothing listens on.
std::string closed_port_url(int port) {
  return "postgres://grant:" + password() + "@127.0.0.1:" + std::to_string(port) + "/nowhere?connect_timeout=2";
}

// How shard-check prints a key: 42, 'acme', ('acme', 42) (the typing rule, enough for the keys here).
std::string display(const KeyParts& parts) {
  std::vector<std::string> shown;
  for (const auto& part : parts) {
    const bool integer = !part.empty() && part.find_first_not_of("-0123456789") == std::string::npos && part != "-0" &&
                         !(part[0] == '0' && part.size() > 1) && part.rfind("-0", 0) != 0;
    shown.push_back(integer ? part : "'" + part + "'");
  }
  if (shown.size() == 1) {
    return shown[0];
  }
  std::string out = "(";
  for (std::size_t i = 0; i < shown.size(); ++i) {
    out += (i > 0 ? ", " : "") + shown[i];
  }
  return out + ")";
}

// One sharded database "orders" on a fresh database on each shard server, its tables created by
// `grant migrate`: accounts and events, each with the shard-key columns, an id and a payload.
class Fleet {
public:
  // `key_columns` is the SQL column list of the key ("user_id bigint"); `shard_extra[i]` is
  // merged into shard i's config entry (key_range, weight); `extra_databases` into "databases".
  // `owner` is the oracle: the shard index a key belongs to.
  Fleet(Oracle owner, Json sharding, std::string key_columns, std::vector<Json> shard_extra = {},
        Json extra_databases = {})
      : m_owner(std::move(owner)), m_sharding(std::move(sharding)), m_shard_extra(std::move(shard_extra)),
        m_extra_databases(std::move(extra_databases)) {
    for (int i = 0; i < 4; ++i) {
      m_urls.push_back(grant::test::fresh_database(grant::test::shard_url(i), "shard_check"));
    }
    m_sharding["tables"] = {"accounts", "events"};
    write_config();
    dir.write("db/migrate/orders/1_accounts.sql", "-- grant:up\nCREATE TABLE accounts (id bigserial PRIMARY KEY, " +
                                                      key_columns +
                                                      ", payload text);\n-- grant:down\nDROP TABLE accounts;\n");
    dir.write("db/migrate/orders/2_events.sql",
              "-- grant:up\nCREATE TABLE events (id bigserial PRIMARY KEY, " + key_columns +
                  ", at timestamptz DEFAULT now());\n-- grant:down\nDROP TABLE events;\n");
    const auto migrated = grant({"migrate", "--database", "orders"});
    INFO(migrated.out, migrated.err);
    REQUIRE(migrated.exit_code == 0);
    for (const auto& column : split(key_columns, ", ")) {
      m_key_columns.push_back(column.substr(0, column.find(' ')));
    }
  }

  TempDir dir;

  // Rewrites grant.json; `url_override` replaces shard `shard`'s URL.
  void write_config(int shard = -1, const std::string& url_override = {}) const {
    Json shards = Json::array();
    for (std::size_t i = 0; i < m_urls.size(); ++i) {
      Json entry{{"name", "s" + std::to_string(i)}, {"url", static_cast<int>(i) == shard ? url_override : m_urls[i]}};
      if (i < m_shard_extra.size()) {
        entry.update(m_shard_extra[i]);
      }
      shards.push_back(entry);
    }
    Json config;
    config["databases"]["orders"] = {{"shards", shards}, {"migrations", "db/migrate/orders"}, {"sharding", m_sharding}};
    if (m_extra_databases.is_object()) {
      config["databases"].update(m_extra_databases);
    }
    dir.write("grant.json", config.dump(2));
  }

  RunResult grant(const std::vector<std::string>& args, const std::string& stdin_text = {}) const {
    auto run = grant::test::run_grant(args, dir.path(), {{"GRANT_CONFIG", std::nullopt}}, stdin_text);
    CHECK_FALSE(contains(run.out + run.err, password()));
    return run;
  }

  // The owning shard of each key, by the oracle.
  std::vector<int> resolve(const std::vector<KeyParts>& keys) const {
    std::vector<int> owners;
    for (const auto& key : keys) {
      owners.push_back(m_owner(key));
      REQUIRE(owners.back() >= 0);
      REQUIRE(owners.back() < 4);
    }
    return owners;
  }

  // Inserts one row per key into `table` on `shard`; an empty part is SQL NULL.
  void insert(int shard, const std::string& table, const std::vector<KeyParts>& keys) const {
    if (keys.empty()) {
      return;
    }
    const auto session = grant::test::pg_session(m_urls.at(static_cast<std::size_t>(shard)));
    pqxx::nontransaction work(*session);
    std::string sql = "INSERT INTO " + table + " (" + join(m_key_columns, ", ") + ") VALUES ";
    for (std::size_t k = 0; k < keys.size(); ++k) {
      sql += k > 0 ? ", (" : "(";
      for (std::size_t p = 0; p < keys[k].size(); ++p) {
        sql += (p > 0 ? ", " : "") + (keys[k][p].empty() ? std::string("NULL") : work.quote(keys[k][p]));
      }
      sql += ")";
    }
    work.exec(sql);
  }

  // Puts every key on the shard that owns it; returns the rows placed per shard.
  std::vector<std::uint64_t> place(const std::string& table, const std::vector<KeyParts>& keys) const {
    const auto owners = resolve(keys);
    std::vector<std::vector<KeyParts>> per_shard(4);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      per_shard.at(static_cast<std::size_t>(owners[i])).push_back(keys[i]);
    }
    std::vector<std::uint64_t> counts;
    for (int s = 0; s < 4; ++s) {
      insert(s, table, per_shard[static_cast<std::size_t>(s)]);
      counts.push_back(per_shard[static_cast<std::size_t>(s)].size());
    }
    return counts;
  }

  void execute(int shard, const std::string& sql) const {
    grant::test::pg_execute(m_urls.at(static_cast<std::size_t>(shard)), sql);
  }

  // `grant --json shard-check --database orders ARGS`: the run, and the report of "orders".
  std::pair<RunResult, Json> check(std::vector<std::string> args = {}) const {
    args.insert(args.begin(), {"--json", "shard-check", "--database", "orders"});
    auto run = grant(args);
    INFO(run.out, run.err);
    const auto document = Json::parse(run.out);
    REQUIRE(document["databases"].size() == 1);
    return {run, document["databases"][0]};
  }

  static std::string join(const std::vector<std::string>& parts, const std::string& separator) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      out += (i > 0 ? separator : "") + parts[i];
    }
    return out;
  }

private:
  static std::vector<std::string> split(const std::string& text, const std::string& separator) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
      const auto end = text.find(separator, start);
      out.push_back(text.substr(start, end - start));
      if (end == std::string::npos) {
        return out;
      }
      start = end + separator.size();
    }
  }

  Oracle m_owner;
  Json m_sharding;
  std::vector<Json> m_shard_extra;
  Json m_extra_databases;
  std::vector<std::string> m_urls;
  std::vector<std::string> m_key_columns;
};

using Group = std::tuple<std::string, std::string, Json, std::uint64_t, std::multiset<std::string>>;

// The misplaced groups of a report as (table, found_on, belongs_on, rows, samples).
std::set<Group> misplaced_of(const Json& report) {
  std::set<Group> out;
  for (const auto& m : report["misplaced"]) {
    const auto samples = m["samples"].get<std::vector<std::string>>();
    out.insert({m["table"], m["found_on"], m["belongs_on"], m["rows"].get<std::uint64_t>(),
                std::multiset<std::string>(samples.begin(), samples.end())});
  }
  return out;
}

struct Plant {
  std::string table;
  KeyParts key;
  int shift = 1; ///< planted on (owner + shift) % 4
};

// The full round trip for one resolver: `keys` placed right give a clean report that counts
// them per shard; then `plants` (one row each, on a wrong shard) are found exactly.
void round_trip(const Fleet& fleet, const std::vector<KeyParts>& keys, const std::vector<Plant>& plants) {
  const auto placed = fleet.place("accounts", keys);
  fleet.place("events", std::vector<KeyParts>(keys.begin(), keys.begin() + static_cast<long>(keys.size() / 2)));
  {
    const auto [run, report] = fleet.check();
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(report["healthy"] == true);
    CHECK(report["misplaced"].empty());
    CHECK(report["errors"].empty());
    CHECK(report["schema"].empty());
    CHECK(report["rows_scanned"] == keys.size() + keys.size() / 2);
    const auto& accounts = report["distribution"][0];
    CHECK(accounts["table"] == "accounts");
    for (int s = 0; s < 4; ++s) {
      CHECK(accounts["rows_per_shard"]["s" + std::to_string(s)] == placed[static_cast<std::size_t>(s)]);
    }
    const auto max = *std::max_element(placed.begin(), placed.end());
    CHECK(accounts["skew"].get<double>() ==
          doctest::Approx(static_cast<double>(max) / (static_cast<double>(keys.size()) / 4.0)));
  }
  std::set<Group> expected;
  std::map<std::tuple<std::string, int, int>, std::pair<std::uint64_t, std::multiset<std::string>>> groups;
  for (const auto& plant : plants) {
    const int owner = fleet.resolve({plant.key})[0];
    const int found = (owner + plant.shift) % 4;
    fleet.insert(found, plant.table, {plant.key});
    auto& group = groups[{plant.table, found, owner}];
    ++group.first;
    group.second.insert(display(plant.key));
  }
  for (const auto& [where, group] : groups) {
    expected.insert({std::get<0>(where), "s" + std::to_string(std::get<1>(where)),
                     Json("s" + std::to_string(std::get<2>(where))), group.first, group.second});
  }
  const auto [run, report] = fleet.check();
  INFO(run.out, run.err);
  CHECK(run.exit_code == 1);
  CHECK(report["healthy"] == false);
  CHECK(misplaced_of(report) == expected);
  CHECK(report["errors"].empty());
  CHECK(report["schema"].empty());
}

std::vector<KeyParts> integer_keys(int from, int to) {
  std::vector<KeyParts> keys;
  for (int i = from; i < to; ++i) {
    keys.push_back({std::to_string(i)});
  }
  return keys;
}

std::vector<KeyParts> string_keys(const std::string& prefix, int count) {
  std::vector<KeyParts> keys;
  for (int i = 0; i < count; ++i) {
    keys.push_back({prefix + std::to_string(i)});
  }
  return keys;
}

Json resolver(Json settings, const Json& key = "user_id") {
  return {{"key", key}, {"resolver", std::move(settings)}};
}

// The oracles of the fleets below (four shards, s0..s3).
int modulo_of_4(const KeyParts& key) {
  return oracle::modulo_owner(std::stoll(key.at(0)), 4);
}

// Four even hash ranges, -40, 40-80, 80-c0, c0- (both the even split and the explicit ranges).
int hash_of_4(const KeyParts& key) {
  return oracle::hash_owner(key, {0, 0x4000000000000000ULL, 0x8000000000000000ULL, 0xc000000000000000ULL});
}

} // namespace

TEST_CASE("shard::check") {
  SUBCASE("modulo") {
    Fleet fleet(modulo_of_4, resolver({{"type", "modulo"}}), "user_id bigint");
    auto keys = integer_keys(-20, 380);
    CHECK(fleet.resolve({{"-1"}, {"0"}, {"5"}, {"7"}}) == std::vector<int>{3, 0, 1, 3});
    round_trip(fleet, keys,
               {{"accounts", {"5"}, 1}, {"accounts", {"9"}, 1}, {"accounts", {"-3"}, 2}, {"events", {"12"}, 3}});
  }
  SUBCASE("hash, even split") {
    Fleet fleet(hash_of_4, resolver({{"type", "hash"}}), "user_id text");
    round_trip(fleet, string_keys("user-", 400),
               {{"accounts", {"user-1"}, 1}, {"accounts", {"user-2"}, 2}, {"events", {"user-3"}, 3}});

    // An empty string is no key at all: no shard owns it.
    fleet.execute(1, "INSERT INTO accounts (user_id) VALUES ('')");
    const auto [run, report] = fleet.check();
    CHECK(run.exit_code == 1);
    CHECK(misplaced_of(report).count({"accounts", "s1", Json(nullptr), 1, {"''"}}) == 1);
  }
  SUBCASE("hash, explicit key ranges") {
    Fleet fleet(hash_of_4, resolver({{"type", "hash"}}), "user_id bigint",
                {{{"key_range", "-40"}}, {{"key_range", "40-80"}}, {{"key_range", "80-c0"}}, {{"key_range", "c0-"}}});
    round_trip(fleet, integer_keys(1, 401), {{"accounts", {"10"}, 1}, {"accounts", {"11"}, 1}, {"events", {"12"}, 2}});
  }
  SUBCASE("range with a default") {
    // [, 100) s0, [100, 200) s1, [300, ) s2, anything else s3.
    const auto range_owner = [](const KeyParts& key) {
      const auto k = std::stoll(key.at(0));
      return k < 100 ? 0 : k < 200 ? 1 : k >= 300 ? 2 : 3;
    };
    Fleet fleet(range_owner,
                resolver({{"type", "range"},
                          {"ranges",
                           {{{"shard", "s0"}, {"from", nullptr}, {"to", 100}},
                            {{"shard", "s1"}, {"from", 100}, {"to", 200}},
                            {{"shard", "s2"}, {"from", 300}, {"to", nullptr}}}},
                          {"default", "s3"}}),
                "user_id bigint");
    CHECK(fleet.resolve({{"-5"}, {"99"}, {"100"}, {"199"}, {"200"}, {"299"}, {"300"}}) ==
          std::vector<int>{0, 0, 1, 1, 3, 3, 2});
    round_trip(fleet, integer_keys(-50, 400),
               {{"accounts", {"-50"}, 1}, {"accounts", {"250"}, 1}, {"accounts", {"399"}, 3}, {"events", {"150"}, 1}});
  }
  SUBCASE("lookup, static map") {
    Json map;
    for (int i = 0; i < 40; ++i) {
      map["tenant-" + std::to_string(i)] = "s" + std::to_string(i % 4);
    }
    const auto map_owner = [&map](const KeyParts& key) { return map.at(key.at(0)).get<std::string>()[1] - '0'; };
    Fleet fleet(map_owner, resolver({{"type", "lookup"}, {"map", map}}, "tenant_id"), "tenant_id text");
    CHECK(fleet.resolve({{"tenant-0"}, {"tenant-5"}, {"tenant-39"}}) == std::vector<int>{0, 1, 3});
    round_trip(fleet, string_keys("tenant-", 40),
               {{"accounts", {"tenant-1"}, 1}, {"accounts", {"tenant-2"}, 1}, {"events", {"tenant-3"}, 2}});

    // A key the map does not hold, with no default: no shard owns it, and it is reported as such.
    fleet.insert(2, "accounts", {{"ghost"}});
    const auto [run, report] = fleet.check();
    INFO(run.out);
    CHECK(run.exit_code == 1);
    bool found = false;
    for (const auto& m : report["misplaced"]) {
      if (m["belongs_on"].is_null()) {
        CHECK(m["found_on"] == "s2");
        CHECK(m["table"] == "accounts");
        CHECK(m["rows"] == 1);
        CHECK(m["samples"] == Json{"'ghost'"});
        found = true;
      }
    }
    CHECK(found);
  }
  SUBCASE("lookup, table in another database") {
    const auto primary = grant::test::fresh_database(grant::test::writer_url(), "shard_lookup");
    {
      pqxx::connection connection(primary);
      pqxx::nontransaction work(connection);
      work.exec("CREATE TABLE tenant_shards (tenant_id text PRIMARY KEY, shard text NOT NULL)");
      work.exec("INSERT INTO tenant_shards SELECT 'tenant-' || g, 's' || (g * 7 % 4) FROM generate_series(0, 59) g");
    }
    // The table's own rule: tenant-g on s(g * 7 % 4).
    const auto table_owner = [](const KeyParts& key) {
      return static_cast<int>(std::stoll(key.at(0).substr(std::string("tenant-").size())) * 7 % 4);
    };
    Fleet fleet(table_owner,
                resolver({{"type", "lookup"},
                          {"table",
                           {{"database", "primary"},
                            {"name", "tenant_shards"},
                            {"key_column", "tenant_id"},
                            {"shard_column", "shard"}}}},
                         "tenant_id"),
                "tenant_id text", {}, {{"primary", {{"url", primary}}}});
    CHECK(fleet.resolve({{"tenant-1"}, {"tenant-2"}, {"tenant-3"}}) == std::vector<int>{3, 2, 1});
    round_trip(fleet, string_keys("tenant-", 60),
               {{"accounts", {"tenant-1"}, 1}, {"accounts", {"tenant-5"}, 1}, {"events", {"tenant-8"}, 3}});

    // A lookup table row naming an unknown shard: the resolver fails, reported once, not per shard.
    {
      pqxx::connection connection(primary);
      pqxx::nontransaction work(connection);
      work.exec("INSERT INTO tenant_shards VALUES ('tenant-99', 's9')");
    }
    const auto [run, report] = fleet.check();
    INFO(run.out, run.err);
    CHECK(run.exit_code == 1);
    REQUIRE(report["errors"].size() == 1);
    CHECK(contains(report["errors"][0].get<std::string>(), "unknown shard 's9'"));
    CHECK(contains(report["errors"][0].get<std::string>(), "tenant-99"));
    CHECK(report["distribution"][0]["rows_per_shard"].empty());
    CHECK(report["misplaced"].empty());
  }
  SUBCASE("consistent_hash with weights") {
    const oracle::Ring ring({{"s0", 1}, {"s1", 3}, {"s2", 1}, {"s3", 2}}, 64);
    const auto ring_owner = [&ring](const KeyParts& key) { return ring.owner(key); };
    Fleet fleet(ring_owner, resolver({{"type", "consistent_hash"}, {"virtual_nodes", 64}}), "user_id text",
                {{{"weight", 1}}, {{"weight", 3}}, {{"weight", 1}}, {{"weight", 2}}});
    const auto keys = string_keys("u", 800);
    const auto owners = fleet.resolve(keys);
    // Weight 3 gets more keys than weight 1 (3/7 against 1/7 of the ring).
    const auto on = [&](int shard) { return std::count(owners.begin(), owners.end(), shard); };
    CHECK(on(1) > on(0));
    CHECK(on(1) > on(2));
    round_trip(fleet, keys, {{"accounts", {"u1"}, 1}, {"accounts", {"u2"}, 1}, {"events", {"u3"}, 2}});
  }
  SUBCASE("composite key (tenant_id, user_id), hash") {
    Fleet fleet(hash_of_4, resolver({{"type", "hash"}}, Json{"tenant_id", "user_id"}),
                "tenant_id text, user_id bigint");
    std::vector<KeyParts> keys;
    for (int t = 0; t < 10; ++t) {
      for (int u = 0; u < 40; ++u) {
        keys.push_back({"acme" + std::to_string(t), std::to_string(u)});
      }
    }
    round_trip(fleet, keys,
               {{"accounts", {"acme1", "7"}, 1}, {"accounts", {"acme2", "8"}, 2}, {"events", {"acme3", "9"}, 1}});
  }
}

TEST_CASE("shard::check schema agreement") {
  Fleet fleet(modulo_of_4, resolver({{"type", "modulo"}}), "user_id bigint");
  fleet.place("accounts", integer_keys(0, 40));
  fleet.place("events", integer_keys(0, 40));

  // The only schema difference reported is `kind` on `shard`.
  const auto expect_one = [&](const std::string& shard, const std::string& kind, const std::string& table,
                              const std::string& detail_part) {
    const auto [run, report] = fleet.check();
    INFO(run.out, run.err);
    CHECK(run.exit_code == 1);
    CHECK(report["healthy"] == false);
    CHECK(report["schema"].size() == 1);
    if (report["schema"].empty()) {
      return;
    }
    CHECK(report["schema"][0]["shard"] == shard);
    CHECK(report["schema"][0]["kind"] == kind);
    CHECK(report["schema"][0]["table"] == table);
    CHECK(contains(report["schema"][0]["detail"].get<std::string>(), detail_part));
    CHECK(report["misplaced"].empty());
  };

  SUBCASE("a clean fleet agrees") {
    const auto [run, report] = fleet.check();
    CHECK(run.exit_code == 0);
    CHECK(report["schema"].empty());
  }
  SUBCASE("an extra column on one shard") {
    fleet.execute(2, "ALTER TABLE accounts ADD COLUMN note text");
    expect_one("s2", "extra_column", "accounts", "note");
  }
  SUBCASE("an extra column on the first shard is blamed on it, not on the three others") {
    fleet.execute(0, "ALTER TABLE events ADD COLUMN note text");
    expect_one("s0", "extra_column", "events", "note");
  }
  SUBCASE("a column missing on the first shard") {
    fleet.execute(0, "ALTER TABLE accounts DROP COLUMN payload");
    expect_one("s0", "missing_column", "accounts", "payload");
  }
  SUBCASE("a different column type on one shard") {
    fleet.execute(1, "ALTER TABLE accounts ALTER COLUMN payload TYPE varchar(40)");
    expect_one("s1", "column_type", "accounts", "payload is character varying(40) here, text on s0, s2, s3");
  }
  SUBCASE("a different type modifier on one shard: varchar(20) is not varchar(40)") {
    for (const int s : {0, 2, 3}) {
      fleet.execute(s, "ALTER TABLE accounts ALTER COLUMN payload TYPE varchar(40)");
    }
    fleet.execute(1, "ALTER TABLE accounts ALTER COLUMN payload TYPE varchar(20)");
    expect_one("s1", "column_type", "accounts", "character varying(20)");
  }
  SUBCASE("a different column type on the first shard") {
    fleet.execute(0, "ALTER TABLE accounts ALTER COLUMN payload TYPE varchar(40)");
    expect_one("s0", "column_type", "accounts", "payload");
  }
  SUBCASE("a migration version missing on one shard") {
    fleet.execute(3, "DELETE FROM schema_migrations WHERE version = '2'");
    expect_one("s3", "migration_missing", "schema_migrations", "2");
  }
  SUBCASE("a migration version applied on the first shard only") {
    fleet.execute(
        0, "INSERT INTO schema_migrations (version, name, checksum, applied_at, execution_ms, applied_by) "
           "SELECT '3', 'hotfix', checksum, applied_at, 1, applied_by FROM schema_migrations WHERE version = '2'");
    expect_one("s0", "migration_extra", "schema_migrations", "3");
  }
  SUBCASE("a migration applied with a different checksum on the first shard") {
    fleet.execute(0, "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = '1'");
    expect_one("s0", "migration_checksum", "schema_migrations", "1");
  }
  SUBCASE("a table missing on one shard") {
    fleet.execute(1, "DROP TABLE events");
    expect_one("s1", "missing_table", "events", "events");
    const auto [run, report] = fleet.check();
    // The other shards are still scanned; the missing one is not counted as empty.
    const auto& events = report["distribution"][1];
    CHECK(events["table"] == "events");
    CHECK(events["rows_per_shard"].size() == 3);
    CHECK_FALSE(events["rows_per_shard"].contains("s1"));
    CHECK(report["rows_scanned"] == 40 + 30);
  }
  SUBCASE("the shard-key column missing on one shard") {
    fleet.execute(2, "ALTER TABLE accounts DROP COLUMN user_id");
    const auto [run, report] = fleet.check();
    INFO(run.out, run.err);
    CHECK(run.exit_code == 1);
    REQUIRE(report["errors"].size() == 1);
    const auto error = report["errors"][0].get<std::string>();
    CHECK(contains(error, "accounts"));
    CHECK(contains(error, "s2"));
    CHECK(contains(error, "user_id"));
    REQUIRE(report["schema"].size() == 1);
    CHECK(report["schema"][0]["shard"] == "s2");
    CHECK(report["schema"][0]["kind"] == "missing_column");
    // s2 could not be scanned: it is not reported as holding 0 rows.
    const auto& accounts = report["distribution"][0];
    CHECK(accounts["rows_per_shard"].size() == 3);
    CHECK_FALSE(accounts["rows_per_shard"].contains("s2"));
    CHECK(accounts["skew"].get<double>() == doctest::Approx(1.0));
  }
  SUBCASE("an unreachable shard") {
    const auto port = grant::test::closed_port();
    fleet.write_config(3, closed_port_url(port));
    const auto [run, report] = fleet.check();
    INFO(run.out, run.err);
    CHECK(run.exit_code == 1);
    CHECK(report["healthy"] == false);
    REQUIRE(report["shards"].size() == 4);
    for (int s = 0; s < 3; ++s) {
      CHECK(report["shards"][s]["reachable"] == true);
    }
    CHECK(report["shards"][3]["shard"] == "s3");
    CHECK(report["shards"][3]["reachable"] == false);
    CHECK(contains(report["shards"][3]["detail"].get<std::string>(), "127.0.0.1:" + std::to_string(port)));
    // The reachable shards are still compared and scanned.
    CHECK(report["schema"].empty());
    CHECK(report["misplaced"].empty());
    CHECK(report["rows_scanned"] == 30 + 30);

    const auto text = fleet.grant({"shard-check"});
    CHECK(text.exit_code == 1);
    CHECK(contains(text.out, "shard s3: PROBLEM"));
  }
  SUBCASE("--table names a table that is not sharded") {
    const auto run = fleet.grant({"shard-check", "--database", "orders", "--table", "users"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "grant: error: "));
    CHECK(contains(run.err, "users"));
    CHECK(run.out.empty());
  }
  SUBCASE("--table limits the scan to that table") {
    fleet.insert(1, "events", {{"4"}});
    const auto [run, report] = fleet.check({"--table", "accounts"});
    CHECK(run.exit_code == 0);
    CHECK(report["rows_scanned"] == 40);
    CHECK(report["distribution"].size() == 1);
    const auto [all_run, all] = fleet.check();
    CHECK(all_run.exit_code == 1);
    CHECK(all["misplaced"].size() == 1);
  }
}

TEST_CASE("shard::check distribution") {
  Fleet fleet(modulo_of_4, resolver({{"type", "modulo"}}), "user_id bigint");
  fleet.place("accounts", integer_keys(0, 400));
  // A hot key: 7 lives on s3 (7 mod 4) with 60 more rows.
  fleet.place("accounts", std::vector<KeyParts>(60, KeyParts{"7"}));
  fleet.insert(1, "accounts", {{""}, {""}, {""}});
  fleet.insert(2, "events", {{""}});

  SUBCASE("rows per shard, skew, the hot key and NULL keys") {
    const auto [run, report] = fleet.check();
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0); // NULL keys and a hot key are reported, not failures
    const auto& accounts = report["distribution"][0];
    CHECK(accounts["rows_per_shard"] == Json{{"s0", 100}, {"s1", 103}, {"s2", 100}, {"s3", 160}});
    CHECK(accounts["skew"].get<double>() == doctest::Approx(160.0 / (463.0 / 4.0)));
    CHECK(accounts["null_keys"] == 3);
    REQUIRE_FALSE(accounts["heaviest_keys"].empty());
    const auto& hot = accounts["heaviest_keys"][0];
    CHECK(hot["key"] == "7");
    CHECK(hot["rows_at_least"].get<int>() <= 61);
    CHECK(hot["rows_at_most"].get<int>() >= 61);
    CHECK(hot["rows_at_least"].get<int>() >= 55);
    CHECK(accounts["heaviest_keys"].size() == 1); // every other key has one row
    CHECK(report["distribution"][1]["null_keys"] == 1);
    CHECK(report["misplaced"].empty());
  }
  SUBCASE("the text report") {
    const auto run = fleet.grant({"shard-check"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "distribution accounts: s0=100 s1=103 s2=100 s3=160  skew 1.38 (max/mean)"));
    CHECK(contains(run.out, "heaviest keys: 7 ("));
    CHECK(contains(run.out, "3 rows have a NULL shard key"));
  }
  SUBCASE("--jobs 1 scans one shard at a time and finds the same") {
    fleet.insert(2, "events", {{"1"}, {"5"}});
    const auto [parallel_run, parallel] = fleet.check();
    const auto [serial_run, serial] = fleet.check({"--jobs", "1"});
    CHECK(serial_run.exit_code == 1);
    CHECK(misplaced_of(serial) == misplaced_of(parallel));
    CHECK(serial["distribution"] == parallel["distribution"]);
    CHECK(serial["rows_scanned"] == parallel["rows_scanned"]);
  }
  SUBCASE("--sample bounds the samples, not the count") {
    std::vector<KeyParts> wrong; // 2001, 2005, ... belong on s1
    for (int i = 0; i < 12; ++i) {
      wrong.push_back({std::to_string(2001 + 4 * i)});
    }
    fleet.insert(0, "accounts", wrong);
    const auto [run, report] = fleet.check({"--sample", "3"});
    CHECK(run.exit_code == 1);
    REQUIRE(report["misplaced"].size() == 1);
    CHECK(report["misplaced"][0]["rows"] == 12);
    CHECK(report["misplaced"][0]["found_on"] == "s0");
    CHECK(report["misplaced"][0]["belongs_on"] == "s1");
    CHECK(report["misplaced"][0]["samples"].size() == 3);
  }
}

} // namespace grant_test_shard_check_test
