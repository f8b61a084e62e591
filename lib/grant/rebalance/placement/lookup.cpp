#include <grant/rebalance/placement/placement.hpp>

#include <grant/db/quoting.hpp>
#include <grant/rebalance/table_sql.hpp>
#include <grant/shard/key.hpp>

namespace grant::rebalance::placement::detail {

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out += k_digits[(static_cast<unsigned char>(c) >> 4) & 0xF];
    out += k_digits[static_cast<unsigned char>(c) & 0xF];
  }
  return out;
}

} // namespace

// The map, then the lookup table (read once, now, as the resolver reads it once), then the
// default; all in one table of canonical bytes, so "42" in the map and 42 in a row meet.
Placement lookup(const Context& context) {
  const auto& settings = context.db.sharding->resolver;
  const auto& params = settings.params;
  Placement out;
  if (params.contains("map") && params["map"].is_object()) {
    for (const auto& [text, shard] : params["map"].items()) {
      out.lookup_rows.emplace_back(hex(shard::Key::from_text({text}).bytes()), shard.get<std::string>());
    }
  }
  if (params.contains("table") && context.loader) {
    for (const auto& [text, shard] : context.loader(settings)) {
      out.lookup_rows.emplace_back(hex(shard::Key::from_text({text}).bytes()), shard);
    }
  }
  std::string miss = "NULL";
  if (params.contains("default") && params["default"].is_string()) {
    miss = db::quote_literal(params["default"].get<std::string>());
  }
  const auto table = grant_table(context.schema, "lookup");
  const auto find = "  RETURN COALESCE((SELECT l.shard FROM " + table + " l WHERE l.key = b), " + miss + ");\n";
  out.sql = "CREATE TABLE IF NOT EXISTS " + table + " (key bytea PRIMARY KEY, shard text NOT NULL);\nDELETE FROM " +
            table + ";\n" +
            place_functions(context.schema, "  b := '\\x01'::bytea || int8send(v);\n" + find,
                            canonical_statements() + find, "STABLE");
  return out;
}

} // namespace grant::rebalance::placement::detail
