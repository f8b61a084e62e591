// The fence's placement functions (lib/grant/rebalance/placement) on a real server: the documented
// vectors, and random keys of every type against the C++ resolvers, a batch per round trip.
#include <grant/config/load.hpp>
#include <grant/db/connection.hpp>
#include <grant/db/quoting.hpp>
#include <grant/rebalance/placement/placement.hpp>
#include <grant/shard/key.hpp>
#include <grant/shard/resolver.hpp>
#include <grant/util/url.hpp>

#include "support/fleet.hpp"

#include <doctest/doctest.h>

#include <random>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_rebalance_placement_test {

using namespace grant;
using db::array_literal;
namespace placement = grant::rebalance::placement;

namespace {

using Parts = std::vector<std::string>;

std::unique_ptr<db::Connection> open(const std::string& url) {
  return db::connect(util::parse_database_url(url, {}), {"t", 5000, "grant-test"});
}

config::Database database(const std::string& shards_json, const std::string& key, const std::string& resolver) {
  const auto text = R"({"databases": {"orders": {"shards": )" + shards_json + R"(, "sharding": {"key": )" + key +
                    R"(, "resolver": )" + resolver + "}}}}";
  return config::parse(text, "grant.json", [](const std::string&) { return std::nullopt; }).databases.at(0);
}

std::string shards(int count, const std::vector<std::string>& ranges = {}) {
  std::string out = "[";
  for (int i = 0; i < count; ++i) {
    out += std::string(i > 0 ? ", " : "") + R"({"name": "s)" + std::to_string(i) +
           R"(", "url": "postgres://h/o", "weight": )" + std::to_string(1 + i % 2) +
           (static_cast<std::size_t>(i) < ranges.size()
                ? R"(, "key_range": ")" + ranges[static_cast<std::size_t>(i)] + "\""
                : "") +
           "}";
  }
  return out + "]";
}

// Runs `function` over the keys, one statement per batch of 10000: the results in order.
// `integer`: one bigint argument per key (place_int) rather than a text[].
std::vector<std::optional<std::string>> evaluate(db::Connection& connection, const std::string& function,
                                                 const std::vector<Parts>& keys, bool integer = false) {
  std::vector<std::optional<std::string>> out;
  const std::size_t width = keys.empty() ? 0 : keys.front().size();
  for (std::size_t first = 0; first < keys.size(); first += 10000) {
    const auto last = std::min(keys.size(), first + 10000);
    db::Params params;
    std::string columns;
    std::string parts;
    for (std::size_t c = 0; c < width; ++c) {
      std::vector<std::optional<std::string>> column;
      for (std::size_t k = first; k < last; ++k) {
        column.emplace_back(keys[k][c]);
      }
      params.emplace_back(array_literal(column));
      columns += (c > 0 ? ", $" : "$") + std::to_string(c + 1) + (integer ? "::bigint[]" : "::text[]");
      parts += (c > 0 ? ", c" : "c") + std::to_string(c);
    }
    std::string names;
    for (std::size_t c = 0; c < width; ++c) {
      names += "c" + std::to_string(c) + ", ";
    }
    const auto argument = integer ? parts : "ARRAY[" + parts + "]";
    const auto rows = connection.query("SELECT " + function + "(" + argument + ") FROM unnest(" + columns +
                                           ") WITH ORDINALITY AS u(" + names + "o) ORDER BY o",
                                       params);
    for (const auto& row : rows.rows) {
      out.push_back(row[0]);
    }
  }
  return out;
}

std::string random_string(std::mt19937_64& random) {
  static const std::vector<std::string> k_pieces = {"a", "z", "Q", "0",  "7", "-", " ", "\"", "\\", ",",
                                                    "{", "}", "é", "東", "ß", "'", "x", "42", "9",  "😀"};
  switch (random() % 8) {
  case 0:
    return std::to_string(random() % 1000); // integer-looking: typed as an integer
  case 1:
    return "0" + std::to_string(random() % 1000); // a leading zero keeps it a string
  case 2:
    return "-0";
  case 3:
    return "9223372036854775808"; // one past INT64_MAX: a string
  default:
    break;
  }
  std::string out;
  const auto length = 1 + random() % 40;
  for (std::size_t i = 0; i < length; ++i) {
    out += k_pieces[random() % k_pieces.size()];
  }
  return out;
}

std::string random_integer(std::mt19937_64& random) {
  switch (random() % 10) {
  case 0:
    return std::to_string(std::numeric_limits<std::int64_t>::min() + static_cast<std::int64_t>(random() % 3));
  case 1:
    return std::to_string(std::numeric_limits<std::int64_t>::max() - static_cast<std::int64_t>(random() % 3));
  case 2:
    return std::to_string(static_cast<std::int64_t>(random() % 2001) - 1000);
  default:
    return std::to_string(static_cast<std::int64_t>(random()));
  }
}

std::vector<Parts> random_keys(const std::string& type, std::size_t count, unsigned seed) {
  std::mt19937_64 random(seed);
  std::vector<Parts> keys;
  for (std::size_t i = 0; i < count; ++i) {
    if (type == "integer") {
      keys.push_back({random_integer(random)});
    } else if (type == "string") {
      keys.push_back({random_string(random)});
    } else {
      keys.push_back({random_string(random), random_integer(random)});
    }
  }
  return keys;
}

// Every key placed by SQL as the C++ resolver places it (NULL where it throws).
void check_against_resolver(db::Connection& connection, const config::Database& db, const std::string& type,
                            const shard::LookupLoader& loader = {}) {
  placement::install(connection, "public", db, loader);
  const auto resolver = shard::make_resolver(db, loader);
  const auto keys = random_keys(type, 100000, 20261207);
  const auto placed = evaluate(connection, placement::place_function("public"), keys);
  REQUIRE(placed.size() == keys.size());
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::optional<std::string> expected;
    try {
      std::vector<std::string_view> parts(keys[i].begin(), keys[i].end());
      expected = resolver->resolve_name(shard::Key::from_text(parts));
    } catch (const shard::KeyError&) {
    }
    if (placed[i] != expected && ++mismatches <= 5) {
      INFO("key ", array_literal({keys[i].begin(), keys[i].end()}), " resolver ", expected.value_or("NULL"), " sql ",
           placed[i].value_or("NULL"));
      CHECK(placed[i] == expected);
    }
  }
  CHECK(mismatches == 0);
  if (type == "integer") {
    CHECK(evaluate(connection, placement::place_int_function("public"), keys, true) == placed);
  }
}

} // namespace

TEST_CASE("rebalance::placement: the vectors of docs/hash-vectors.md") {
  grant::test::ShardFleet fleet(1, "placement_vec");
  auto connection = open(fleet.url(0));
  const auto db = database(shards(2), "\"user_id\"", R"({"type": "hash"})");
  placement::install(*connection, "public", db, {});
  // The bytes and the hash alone, for inputs the typing rule cannot give (the string "42", no bytes).
  connection->execute(placement::detail::function("public", "test_canonical", "bytea",
                                                  placement::detail::declarations(),
                                                  placement::detail::canonical_statements() + "  RETURN b;\n"));
  connection->execute(placement::detail::function("public", "test_xxh64", "bigint", placement::detail::declarations(),
                                                  "  b := decode(parts[1], 'hex');\n" +
                                                      placement::detail::xxh64_statements() + "  RETURN h;\n"));
  struct Vector {
    Parts parts;
    std::string bytes;
    std::string id;
  };
  const std::vector<Vector> vectors = {
      {{"0"}, "010000000000000000", "a2443c71157cb676"},
      {{"1"}, "010000000000000001", "46894e5a99fba7f0"},
      {{"-1"}, "01ffffffffffffffff", "e4a42358fe73e0b6"},
      {{"42"}, "01000000000000002a", "7e1480456b8f3aa6"},
      {{"-9223372036854775808"}, "018000000000000000", "781d72b3df4e5192"},
      {{"9223372036854775807"}, "017fffffffffffffff", "a2177c9d4c88bcca"},
      {{"a"}, "020000000161", "f21c0e2f45addccf"},
      {{"acme"}, "020000000461636d65", "362e857d96efc3c9"},
      {{"6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"},
       "020000002436663163326134652d386433622d346335612d396537662d306131623263336434653566",
       "d48f2f9f4d51115d"},
      {{"Zürich-東京"}, "020000000e5ac3bc726963682de69db1e4baac", "f03e7785810d683c"},
      {{"007"}, "0200000003303037", "5c0088e1bcda8481"},
      {{"acme", "42"}, "020000000461636d6501000000000000002a", "7d3102fb0eb17f9a"},
      {{"s0", "0"}, "02000000027330010000000000000000", "d5615562fb3161b3"},
      {{"s0", "1"}, "02000000027330010000000000000001", "be3517b3f6621ef8"},
      {{"s1", "0"}, "02000000027331010000000000000000", "d5cd97ef16d29e37"},
      {{"shard-eu", "159"}, "020000000873686172642d657501000000000000009f", "5ad21a9d2c8f70fb"},
  };
  const auto hex = [&](const std::string& function, const Parts& parts, bool bytes) {
    std::vector<std::optional<std::string>> values(parts.begin(), parts.end());
    return connection
        ->query(bytes ? "SELECT encode(" + function + "($1::text[]), 'hex')"
                      : "SELECT lpad(to_hex(" + function + "($1::text[])), 16, '0')",
                {array_literal(values)})
        .scalar()
        .value_or("NULL");
  };
  for (const auto& vector : vectors) {
    INFO(array_literal({vector.parts.begin(), vector.parts.end()}));
    CHECK(hex("public.grant_rebalance_test_canonical", vector.parts, true) == vector.bytes);
    CHECK(hex(placement::keyspace_id_function("public"), vector.parts, false) == vector.id);
    CHECK(hex("public.grant_rebalance_test_xxh64", {vector.bytes}, false) == vector.id);
  }
  CHECK(hex("public.grant_rebalance_test_xxh64", {"02000000023432"}, false) == "189d58aeac59490a"); // the string "42"
  CHECK(hex("public.grant_rebalance_test_xxh64", {""}, false) == "ef46db3751d8e999");               // no bytes
  // Longer than one 32-byte stripe, against libxxhash.
  for (const std::size_t length : {31, 32, 33, 63, 64, 65, 100, 1000}) {
    const std::string text(length, 'k');
    const auto key = shard::Key::from_string(text);
    CHECK(hex(placement::keyspace_id_function("public"), {text}, false) == shard::keyspace_id_hex(key.keyspace_id()));
  }
  // The example placements: two shards, even split.
  CHECK(evaluate(*connection, placement::place_function("public"), {{"42"}, {"acme"}, {"-1"}, {""}}) ==
        std::vector<std::optional<std::string>>{"s0", "s0", "s1", std::nullopt});
}

TEST_CASE("rebalance::placement: 100000 random keys of each type, as the C++ resolvers place them") {
  grant::test::ShardFleet fleet(1, "placement_rand");
  auto connection = open(fleet.url(0));
  SUBCASE("modulo") {
    check_against_resolver(*connection, database(shards(7), "\"id\"", R"({"type": "modulo"})"), "integer");
  }
  SUBCASE("range") {
    check_against_resolver(*connection,
                           database(shards(3), "\"id\"",
                                    R"({"type": "range", "default": "s2", "ranges": [
                                       {"shard": "s0", "from": null, "to": -1000},
                                       {"shard": "s1", "from": -500, "to": 0},
                                       {"shard": "s0", "from": 0, "to": "500"},
                                       {"shard": "s1", "from": 4611686018427387904, "to": null}]})"),
                           "integer");
  }
  SUBCASE("lookup") {
    std::string map = "{";
    std::mt19937_64 random(20261207);
    for (int i = 0; i < 2000; ++i) {
      // Some of the keys the test draws: small integers and integer-looking strings.
      map += std::string(i > 0 ? ", " : "") + "\"" + std::to_string(i % 1000) + (i >= 1000 ? "x" : "") + "\": \"s" +
             std::to_string(i % 3) + "\"";
    }
    map += "}";
    const auto loader = [](const config::ResolverSettings&) {
      shard::LookupRows rows;
      for (int i = 0; i < 500; ++i) {
        rows.emplace_back("0" + std::to_string(i), "s" + std::to_string(i % 2)); // strings with a leading zero
        rows.emplace_back(std::to_string(i), "s2");                              // the map wins over these
      }
      return rows;
    };
    const auto with_table =
        R"({"type": "lookup", "default": "s1", "map": )" + map +
        R"(, "table": {"database": "primary", "name": "t", "key_column": "k", "shard_column": "s"}})";
    check_against_resolver(*connection, database(shards(3), "\"tenant\"", with_table), "string", loader);
    check_against_resolver(*connection, database(shards(3), "\"tenant\"", R"({"type": "lookup", "map": )" + map + "}"),
                           "integer");
  }
  for (const auto* type : {"integer", "string", "composite"}) {
    const std::string key = std::string(type) == "composite" ? R"(["tenant", "id"])" : "\"id\"";
    SUBCASE((std::string("hash, even split, ") + type).c_str()) {
      check_against_resolver(*connection, database(shards(5), key, R"({"type": "hash"})"), type);
    }
    SUBCASE((std::string("hash, key ranges, ") + type).c_str()) {
      check_against_resolver(*connection, database(shards(3, {"40-", "-20", "20-40"}), key, R"({"type": "hash"})"),
                             type);
    }
    SUBCASE((std::string("consistent_hash, ") + type).c_str()) {
      check_against_resolver(*connection,
                             database(shards(4), key, R"({"type": "consistent_hash", "virtual_nodes": 160})"), type);
    }
  }
}

} // namespace grant_test_rebalance_placement_test
