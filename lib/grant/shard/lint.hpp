#pragma once

#include <grant/config/config.hpp>

#include <string>
#include <vector>

namespace grant::shard {

/// One problem in a database's sharding configuration.
struct LintIssue {
  std::string message;
  std::string key_path; ///< e.g. databases.orders.sharding.resolver.ranges[1].to
  std::string hint;     ///< how to fix it, or empty
};

/// Every problem in `db`'s sharding config; empty when its resolver can be built. A sharded
/// database without `sharding` is not an issue here (make_resolver() refuses it).
std::vector<LintIssue> lint(const config::Database& db);

/// lint() of every sharded database, plus checks that need the whole config (the database a
/// lookup table lives in).
std::vector<LintIssue> lint(const config::Config& config);

/// Throws ConfigError for the first issue lint(config) finds; where = "<file>: <key path>",
/// as the config loader reports.
void validate(const config::Config& config);

} // namespace grant::shard
