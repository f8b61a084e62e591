#include <grant/rebalance/placement/placement.hpp>

namespace grant::rebalance::placement::detail {

// shards[key mod N] with a non-negative remainder, as shard/modulo.cpp.
Placement modulo(const Context& context) {
  const auto count = static_cast<std::int64_t>(context.db.shards.size());
  std::string names;
  for (std::size_t i = 0; i < context.db.shards.size(); ++i) {
    names += (i > 0 ? ", " : "") + shard_literal(context.db, i);
  }
  const auto n = std::to_string(count);
  return {place_functions(context.schema,
                          "  RETURN (ARRAY[" + names + "]::text[])[((v % " + n + ") + " + n + ") % " + n + " + 1];\n",
                          "  RETURN NULL;\n"),
          {}};
}

} // namespace grant::rebalance::placement::detail
