#pragma once

#include <grant/migrate/types.hpp>

#include <map>
#include <string>
#include <vector>

namespace grant::migrate {

/// One database's targets as `status` reports them: the state most of its shards share, and
/// the shards that differ from it, so 64 agreeing shards read as one line. Pure, no I/O.
struct DatabaseSummary {
  std::string database;
  bool sharded = false;
  std::vector<const TargetStatus*> targets; ///< in config order
  /// A target in the state most targets share (the first in config order on a tie); never null.
  const TargetStatus* common = nullptr;
  std::size_t agreeing = 0;                   ///< targets in the common state, `common` included
  std::vector<const TargetStatus*> differing; ///< the others, in config order
  /// shard -> newest applied version ("" for none) of every reachable shard, when they disagree.
  std::map<std::string, std::string> version_skew;
  std::vector<const Migration*> empty; ///< migration files of the database with an empty up section

  bool all_agree() const { return differing.empty(); }
};

/// Groups statuses by database, in the order the databases first appear. Two targets agree when
/// both are reachable with the same applied versions, the same pending files and no in-doubt
/// transaction, or both are unreachable.
std::vector<DatabaseSummary> summarize_fleet(const std::vector<TargetStatus>& statuses);

/// Sharded databases whose reachable shards disagree on their newest applied version:
/// database -> shard -> version ("" for none).
std::map<std::string, std::map<std::string, std::string>> version_skew(const std::vector<TargetStatus>& statuses);

/// Shards of a skewed database grouped by version, the most common first ("2" -> {s1, s3}).
std::vector<std::pair<std::string, std::vector<std::string>>>
skew_groups(const std::map<std::string, std::string>& shard_versions);

} // namespace grant::migrate
