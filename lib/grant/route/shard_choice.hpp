#pragma once

#include <grant/config/config.hpp>
#include <grant/error.hpp>
#include <grant/registry/registry.hpp>

#include <string>
#include <vector>

namespace grant::route {

/// Which shards of a database a statement is for: at most one of a shard by name, the shard
/// that owns a key, or every shard; none of them for an unsharded database.
struct ShardChoice {
  std::string shard;            ///< this shard; empty: not chosen
  std::vector<std::string> key; ///< the shard owning this key, one text per key column; empty: not chosen
  bool all = false;             ///< every shard
};

/// A ShardChoice that does not fit its database (exit 2); problem() says how, for callers that
/// word it in their own terms.
class ShardChoiceError : public ConfigError {
public:
  enum class Problem {
    several,     ///< more than one of shard, key and all
    not_sharded, ///< a choice for an unsharded database
    none,        ///< no choice for a sharded database
  };
  ShardChoiceError(Problem problem, std::string what, std::string where, std::string hint = {})
      : ConfigError(std::move(what), std::move(where), std::move(hint)), m_problem(problem) {}
  Problem problem() const noexcept { return m_problem; }

private:
  Problem m_problem;
};

/// The shards of `database` that `choice` names: {""} for an unsharded database (its writer and
/// replicas), the named shard, the shard owning the key (the database's resolver; a lookup
/// table is read through `registry`), or every shard in config order. Throws ShardChoiceError
/// (checked in the order of Problem), ConfigError for an unknown shard name (the hint lists
/// the shards), and shard::KeyError for a key the resolver refuses.
std::vector<std::string> select_shards(registry::Registry& registry, const config::Database& database,
                                       const ShardChoice& choice);

} // namespace grant::route
