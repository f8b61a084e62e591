#pragma once

#include <grant/db/connection.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grant::route {

/// One key of an ORDER BY that the merge of several shards' rows applies again.
struct SortKey {
  std::string column;       ///< an output column's name, or empty with `position` set
  std::size_t position = 0; ///< 1-based output column (ORDER BY 2), 0: by name
  bool descending = false;
  std::optional<bool> nulls_first; ///< unset: PostgreSQL's default (last ascending, first descending)
  bool nulls_come_first() const { return nulls_first.value_or(descending); }
};

/// How rows from several shards become one result: each shard runs `shard_sql`; the merge
/// orders the streams by `order` (each shard already returns its rows in that order), skips
/// `offset` rows and stops after `limit`.
struct MergePlan {
  std::string shard_sql;
  std::vector<SortKey> order;
  std::optional<long long> limit;
  long long offset = 0;
};

/// Reads a query's top-level trailing ORDER BY / LIMIT / OFFSET so that the merge applies them
/// across shards: `SELECT ... ORDER BY created_at DESC LIMIT 10` gives the ten newest rows of the
/// whole fleet, not ten per shard. An OFFSET moves to the merge (each shard is asked for
/// LIMIT + OFFSET rows and none skipped). Throws ConfigError (usage) for an ORDER BY key the
/// merge cannot see: an expression rather than an output column or position.
MergePlan plan_merge(std::string_view sql);

/// The index of `key` in `columns`; throws ConfigError naming the key when no column has it.
std::size_t resolve_sort_key(const SortKey& key, const std::vector<db::Column>& columns);

/// Three-way comparison of two fields of the same column as the server orders them: integers
/// and numbers by value (NaN above every number, as PostgreSQL sorts it), booleans false first,
/// text and JSON byte by byte (the "C" collation: order by `col COLLATE "C"` for the shards to
/// agree). Nulls are not handled here.
int compare_values(std::string_view a, db::ValueType a_type, std::string_view b, db::ValueType b_type);

} // namespace grant::route
