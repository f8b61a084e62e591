#pragma once

// Internal to rebalance/: where a config's resolver places a key, as PL/pgSQL, so that the fence
// trigger on an old shard can refuse a write of any key the target config puts elsewhere, keys
// nobody had written yet included. One file per resolver strategy; sql.cpp holds what they share
// (the typing rule, the canonical encoding and XXH64, docs/hash-vectors.md).

#include <grant/config/config.hpp>
#include <grant/db/connection.hpp>
#include <grant/shard/resolver.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace grant::rebalance::placement {

/// `<schema>."grant_rebalance_place"`: (parts text[]) -> text, the name of the shard that owns the
/// key whose parts (as text, in sharding.key order) are given, or NULL when no shard owns it (a
/// NULL or empty part, a non-integer for modulo and range, a lookup miss without default).
std::string place_function(const std::string& schema);
/// `<schema>."grant_rebalance_place_int"`: (v bigint) -> text, the same for a key of one integer
/// part, without the text: what the fence calls for a smallint, integer or bigint key column.
std::string place_int_function(const std::string& schema);
/// `<schema>."grant_rebalance_keyspace_id"`: (parts text[]) -> bigint, XXH64 of the canonical
/// bytes as a two's complement bigint (the same 64 bits), NULL for a NULL or empty part.
std::string keyspace_id_function(const std::string& schema);

/// Creates (or replaces) the placement functions of `db`'s resolver in `schema`, and for a lookup
/// resolver the table they read, filled from the map and (through `loader`) the lookup table. Run
/// it inside the caller's transaction.
void install(db::Connection& connection, const std::string& schema, const config::Database& db,
             const shard::LookupLoader& loader);
/// Drops what install() created.
std::string drop_sql(const std::string& schema);

namespace detail {

/// One strategy's placement: the statements that create its place function, and for lookup the
/// (canonical bytes as hex, shard name) rows of its table.
struct Placement {
  std::string sql;
  std::vector<std::pair<std::string, std::string>> lookup_rows;
};

struct Context {
  const std::string& schema;
  const config::Database& db;
  const shard::LookupLoader& loader;
};

Placement modulo(const Context& context);
Placement range(const Context& context);
Placement lookup(const Context& context);
Placement hash(const Context& context);
Placement consistent_hash(const Context& context);

// sql.cpp: what the strategies share.
/// A PL/pgSQL function `<schema>."grant_rebalance_<name>"(parts text[]) RETURNS <returns>`.
std::string function(const std::string& schema, const std::string& name, const std::string& returns,
                     const std::string& declare, const std::string& body, const char* volatility = "IMMUTABLE");
/// The two place functions: `place_int(v bigint)` runs `integer_body` (v is not NULL there), and
/// `place(parts text[])` runs it too when the key is one canonical integer, else `text_body`. Both
/// bodies end in RETURN.
std::string place_functions(const std::string& schema, const std::string& integer_body, const std::string& text_body,
                            const char* volatility = "IMMUTABLE");
/// Statements setting `h` (bigint) to XXH64 (seed 0) of the canonical bytes of the integer `v`
/// (nine bytes: 0x01 and v big-endian), without building them.
std::string xxh64_integer_statements();
/// Statements setting `b` (bytea) to the canonical bytes of `parts`; NULL for a NULL or empty part.
std::string canonical_statements();
/// Statements setting `h` (bigint) to XXH64 (seed 0) of `b`.
std::string xxh64_statements();
/// Declarations the statements above use.
std::string declarations();
/// An int64 as a SQL bigint literal (INT64_MIN included).
std::string literal(std::int64_t value);
/// A shard name as a SQL literal, or NULL.
std::string shard_literal(const config::Database& db, std::size_t shard);
/// The unsigned keyspace id `id` as the bigint that orders like it: the top bit flipped.
std::int64_t ordered(std::uint64_t id);
/// outcomes[j] where j is how many of the sorted `bounds` are <= `x` (width_bucket's binary
/// search over a constant array). outcomes has one more entry than bounds.
std::string search_tree(const std::string& x, std::vector<std::int64_t> bounds, std::vector<std::string> outcomes);

} // namespace detail

} // namespace grant::rebalance::placement
