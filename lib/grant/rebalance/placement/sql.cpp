#include <grant/rebalance/placement/placement.hpp>

#include <grant/db/quoting.hpp>
#include <grant/rebalance/table_sql.hpp>
#include <grant/util/strings.hpp>

#include <limits>

namespace grant::rebalance::placement {

namespace detail {

namespace {

// XXH64's primes.
constexpr std::uint64_t k_p1 = 0x9E3779B185EBCA87ULL;
constexpr std::uint64_t k_p2 = 0xC2B2AE3D27D4EB4FULL;
constexpr std::uint64_t k_p3 = 0x165667B19E3779F9ULL;
constexpr std::uint64_t k_p4 = 0x85EBCA77C2B2AE63ULL;
constexpr std::uint64_t k_p5 = 0x27D4EB2F165667C5ULL;

// 64-bit wrap-around arithmetic on bigint, which raises on overflow: products and sums are built
// from 16- and 32-bit limbs that never exceed 2^50, and only shifts (which wrap) and bitwise
// operators touch the top bit. Every operator is parenthesised: PostgreSQL gives & | # << >> one
// precedence.
std::string u(std::uint64_t value) {
  return literal(static_cast<std::int64_t>(value));
}

std::string mul(const std::string& x, std::uint64_t b) {
  const auto bl = std::to_string(b & 0xFFFFFFFFULL);
  const auto bl0 = std::to_string(b & 0xFFFF);
  const auto bl1 = std::to_string((b >> 16) & 0xFFFF);
  const auto bh0 = std::to_string((b >> 32) & 0xFFFF);
  const auto bh1 = std::to_string(b >> 48);
  const auto alo = "(" + x + " & 4294967295)";
  const auto ahi = "((" + x + " >> 32) & 4294967295)";
  const auto p = "((" + x + " & 65535) * " + bl + ")";
  const auto q = "(((" + x + " >> 16) & 65535) * " + bl + ")";
  const auto s = "(" + p + " + ((" + q + " & 65535) << 16))";
  const auto carry = "((" + s + " >> 32) + (" + q + " >> 16))";
  const auto hi = "((" + carry + " + (" + alo + " * " + bh0 + ") + (((" + alo + " * " + bh1 + ") & 65535) << 16) + (" +
                  ahi + " * " + bl0 + ") + (((" + ahi + " * " + bl1 + ") & 65535) << 16)) & 4294967295)";
  return "((" + hi + " << 32) | (" + s + " & 4294967295))";
}

std::string add(const std::string& x, const std::string& y) {
  const auto lo = "((" + x + " & 4294967295) + (" + y + " & 4294967295))";
  const auto hi = "(((" + x + " >> 32) & 4294967295) + ((" + y + " >> 32) & 4294967295) + (" + lo + " >> 32))";
  return "(((" + hi + " & 4294967295) << 32) | (" + lo + " & 4294967295))";
}

std::string rotl(const std::string& x, int r) {
  return "((" + x + " << " + std::to_string(r) + ") | ((" + x + " >> " + std::to_string(64 - r) + ") & " +
         std::to_string((std::uint64_t{1} << r) - 1) + "))";
}

std::string shr(const std::string& x, int n) {
  return "((" + x + " >> " + std::to_string(n) + ") & " + std::to_string((std::uint64_t{1} << (64 - n)) - 1) + ")";
}

std::string set(const std::string& var, const std::string& expr) {
  return "  " + var + " := " + expr + ";\n";
}

// Little-endian lanes of `b` at byte offset i (+ at).
std::string lane64(int at) {
  std::string out = "(";
  for (int byte = 0; byte < 8; ++byte) {
    out += std::string(byte > 0 ? " | " : "") + "(get_byte(b, i + " + std::to_string(at + byte) + ")::bigint << " +
           std::to_string(8 * byte) + ")";
  }
  return out + ")";
}

std::string lane32() {
  return "(get_byte(b, i)::bigint | (get_byte(b, i + 1)::bigint << 8) | (get_byte(b, i + 2)::bigint << 16) | "
         "(get_byte(b, i + 3)::bigint << 24))";
}

std::string avalanche() {
  return set("h", "(h # " + shr("h", 33) + ")") + set("h", mul("h", k_p2)) + set("h", "(h # " + shr("h", 29) + ")") +
         set("h", mul("h", k_p3)) + set("h", "(h # " + shr("h", 32) + ")");
}

// acc = rotl(acc + lane * P2, 31) * P1
std::string round(const std::string& acc, const std::string& lane) {
  return set("k", lane) + set("k", mul("k", k_p2)) + set(acc, add(acc, "k")) + set(acc, rotl(acc, 31)) +
         set(acc, mul(acc, k_p1));
}

} // namespace

std::string literal(std::int64_t value) {
  if (value == std::numeric_limits<std::int64_t>::min()) {
    return "(-9223372036854775807 - 1)";
  }
  return value < 0 ? "(" + std::to_string(value) + ")" : std::to_string(value);
}

std::int64_t ordered(std::uint64_t id) {
  return static_cast<std::int64_t>(id ^ 0x8000000000000000ULL);
}

std::string shard_literal(const config::Database& db, std::size_t shard) {
  return shard < db.shards.size() ? db::quote_literal(db.shards[shard].name) : "NULL";
}

std::string function(const std::string& schema, const std::string& name, const std::string& returns,
                     const std::string& declare, const std::string& body, const char* volatility) {
  return "CREATE OR REPLACE FUNCTION " + schema + ".\"" + k_prefix + "_" + name + "\"(parts text[]) RETURNS " +
         returns + " LANGUAGE plpgsql " + volatility + " PARALLEL SAFE AS $grant$\nDECLARE\n" + declare + "BEGIN\n" +
         body + "END\n$grant$;\n";
}

std::string declarations() {
  return "  b bytea := '\\x'::bytea;\n  p text;\n  e bytea;\n  n integer;\n  i integer := 0;\n"
         "  h bigint;\n  k bigint;\n  v1 bigint;\n  v2 bigint;\n  v3 bigint;\n  v4 bigint;\n";
}

// The typing rule (docs/hash-vectors.md): an optional '-', digits without leading zeros, not
// "-0", within int64. Only 19-digit values can overflow; numeric settles those.
namespace {
const char* k_is_integer = "p ~ '^(0|-?[1-9][0-9]{0,18})$' AND (length(p) < 19 OR p::numeric BETWEEN "
                           "-9223372036854775808 AND 9223372036854775807)";
}

std::string place_functions(const std::string& schema, const std::string& integer_body, const std::string& text_body,
                            const char* volatility) {
  const auto header = [&](const std::string& name, const std::string& args) {
    return "CREATE OR REPLACE FUNCTION " + schema + ".\"" + k_prefix + "_" + name + "\"(" + args +
           ") RETURNS text LANGUAGE plpgsql " + volatility + " PARALLEL SAFE AS $grant$\nDECLARE\n";
  };
  return header("place_int", "v bigint") + declarations() + "BEGIN\n  IF v IS NULL THEN RETURN NULL; END IF;\n" +
         integer_body + "END\n$grant$;\n" + header("place", "parts text[]") + declarations() + "  v bigint;\n" +
         "BEGIN\n  p := parts[1];\n  IF cardinality(parts) = 1 AND p IS NOT NULL AND " + k_is_integer +
         " THEN\n  v := p::bigint;\n" + integer_body + "  END IF;\n" + text_body + "END\n$grant$;\n";
}

std::string xxh64_integer_statements() {
  // The lane is bytes 0..7 little-endian: 0x01, then v's bytes from the most significant; the
  // ninth byte is v's least significant.
  std::string lane = "1";
  for (int j = 0; j < 7; ++j) {
    lane =
        "(" + lane + " | (((v >> " + std::to_string(56 - 8 * j) + ") & 255) << " + std::to_string(8 * (j + 1)) + "))";
  }
  return set("k", lane) + set("k", mul("k", k_p2)) + set("k", rotl("k", 31)) + set("k", mul("k", k_p1)) +
         set("h", "(" + u(k_p5 + 9) + " # k)") + set("h", rotl("h", 27)) + set("h", mul("h", k_p1)) +
         set("h", add("h", u(k_p4))) + set("k", "(v & 255)") + set("k", mul("k", k_p5)) + set("h", "(h # k)") +
         set("h", rotl("h", 11)) + set("h", mul("h", k_p1)) + avalanche();
}

std::string canonical_statements() {
  return std::string("  FOREACH p IN ARRAY parts LOOP\n    IF p IS NULL OR p = '' THEN RETURN NULL; END IF;\n"
                     "    IF ") +
         k_is_integer +
         " THEN\n      b := b || '\\x01'::bytea || int8send(p::bigint);\n    ELSE\n"
         "      e := convert_to(p, 'UTF8');\n      b := b || '\\x02'::bytea || int4send(length(e)) || e;\n"
         "    END IF;\n  END LOOP;\n";
}

std::string xxh64_statements() {
  std::string out = "  n := length(b);\n  IF n >= 32 THEN\n";
  out += set("v1", u(k_p1 + k_p2)) + set("v2", u(k_p2)) + set("v3", "0") + set("v4", u(0 - k_p1));
  out += "  WHILE i + 32 <= n LOOP\n";
  out += round("v1", lane64(0)) + round("v2", lane64(8)) + round("v3", lane64(16)) + round("v4", lane64(24));
  out += "  i := i + 32;\n  END LOOP;\n";
  out += set("h", rotl("v1", 1)) + set("k", rotl("v2", 7)) + set("h", add("h", "k")) + set("k", rotl("v3", 12)) +
         set("h", add("h", "k")) + set("k", rotl("v4", 18)) + set("h", add("h", "k"));
  for (const auto* acc : {"v1", "v2", "v3", "v4"}) {
    out += set("k", mul(acc, k_p2)) + set("k", rotl("k", 31)) + set("k", mul("k", k_p1)) + set("h", "(h # k)") +
           set("h", mul("h", k_p1)) + set("h", add("h", u(k_p4)));
  }
  out += "  ELSE\n" + set("h", u(k_p5)) + "  END IF;\n";
  out += set("h", add("h", "n::bigint"));
  out += "  WHILE i + 8 <= n LOOP\n" + set("k", lane64(0)) + set("k", mul("k", k_p2)) + set("k", rotl("k", 31)) +
         set("k", mul("k", k_p1)) + set("h", "(h # k)") + set("h", rotl("h", 27)) + set("h", mul("h", k_p1)) +
         set("h", add("h", u(k_p4))) + "  i := i + 8;\n  END LOOP;\n";
  out += "  IF i + 4 <= n THEN\n" + set("k", lane32()) + set("k", mul("k", k_p1)) + set("h", "(h # k)") +
         set("h", rotl("h", 23)) + set("h", mul("h", k_p2)) + set("h", add("h", u(k_p3))) +
         "  i := i + 4;\n  END IF;\n";
  out += "  WHILE i < n LOOP\n" + set("k", "get_byte(b, i)::bigint") + set("k", mul("k", k_p5)) + set("h", "(h # k)") +
         set("h", rotl("h", 11)) + set("h", mul("h", k_p1)) + "  i := i + 1;\n  END LOOP;\n";
  return out + avalanche();
}

std::string search_tree(const std::string& x, std::vector<std::int64_t> bounds, std::vector<std::string> outcomes) {
  // Of equal bounds only the last counts; a bound leading to the outcome before it decides nothing.
  std::vector<std::int64_t> kept_bounds;
  std::vector<std::string> kept{outcomes.front()};
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (i + 1 < bounds.size() && bounds[i + 1] == bounds[i]) {
      continue;
    }
    if (outcomes[i + 1] == kept.back()) {
      continue;
    }
    kept_bounds.push_back(bounds[i]);
    kept.push_back(outcomes[i + 1]);
  }
  if (kept_bounds.empty()) {
    return kept.front();
  }
  // width_bucket() is a binary search in C returning how many bounds are <= x; the arrays are
  // constants, which PL/pgSQL sets up once per session (a CASE tree would be set up again in every
  // transaction: 0.5 ms for a ring of 960 points).
  std::string bounds_literal = "'{";
  std::string outcomes_list = "ARRAY[";
  for (std::size_t i = 0; i < kept_bounds.size(); ++i) {
    bounds_literal += (i > 0 ? "," : "") + std::to_string(kept_bounds[i]);
  }
  for (std::size_t i = 0; i < kept.size(); ++i) {
    outcomes_list += (i > 0 ? ", " : "") + kept[i];
  }
  return "(" + outcomes_list + "]::text[])[width_bucket(" + x + ", " + bounds_literal + "}'::bigint[]) + 1]";
}

} // namespace detail

namespace {

using Strategy = detail::Placement (*)(const detail::Context&);

// An element of a PostgreSQL array literal, quoted.
std::string array_element(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}

// One line per resolver type, as in shard/resolver.cpp.
const std::pair<const char*, Strategy> k_strategies[] = {
    {"modulo", &detail::modulo},
    {"range", &detail::range},
    {"lookup", &detail::lookup},
    {"hash", &detail::hash},
    {"consistent_hash", &detail::consistent_hash},
};

} // namespace

std::string place_function(const std::string& schema) {
  return schema + ".\"" + k_prefix + "_place\"";
}

std::string place_int_function(const std::string& schema) {
  return schema + ".\"" + k_prefix + "_place_int\"";
}

std::string keyspace_id_function(const std::string& schema) {
  return schema + ".\"" + k_prefix + "_keyspace_id\"";
}

void install(db::Connection& connection, const std::string& schema, const config::Database& db,
             const shard::LookupLoader& loader) {
  const auto& type = db.sharding->resolver.type;
  const detail::Context context{schema, db, loader};
  for (const auto& [name, strategy] : k_strategies) {
    if (type != name) {
      continue;
    }
    const auto placement = strategy(context);
    const auto keyspace_id =
        detail::function(schema, "keyspace_id", "bigint", detail::declarations(),
                         detail::canonical_statements() + detail::xxh64_statements() + "  RETURN h;\n");
    connection.execute(keyspace_id + placement.sql);
    if (!placement.lookup_rows.empty()) {
      std::string keys = "{";
      std::string shards = "{";
      for (const auto& [hex, shard] : placement.lookup_rows) {
        keys += (keys.size() > 1 ? "," : "") + hex;
        shards += (shards.size() > 1 ? "," : "") + array_element(shard);
      }
      connection.query("INSERT INTO " + grant_table(schema, "lookup") +
                           " (key, shard) SELECT decode(k, 'hex'), s FROM unnest($1::text[], $2::text[]) AS u(k, s) "
                           "ON CONFLICT (key) DO NOTHING",
                       {keys + "}", shards + "}"});
    }
    return;
  }
  throw ConfigError("the fence has no placement function for resolver type " + util::in_quotes(type),
                    db.sharding->resolver.key_path + ".type");
}

std::string drop_sql(const std::string& schema) {
  return "DROP FUNCTION IF EXISTS " + place_function(schema) + "(text[]);\nDROP FUNCTION IF EXISTS " +
         place_int_function(schema) + "(bigint);\nDROP FUNCTION IF EXISTS " + keyspace_id_function(schema) +
         "(text[]);\nDROP TABLE IF EXISTS " + grant_table(schema, "lookup") + ";\n";
}

} // namespace grant::rebalance::placement
