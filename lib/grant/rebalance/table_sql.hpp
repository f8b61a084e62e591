#pragma once

// Internal to rebalance/: the statements rebalance runs against one sharded table, and the
// objects it installs beside it. PostgreSQL only.

#include <grant/db/connection.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace grant::rebalance {

/// The tables, functions and triggers rebalance installs; every name starts with this.
inline constexpr const char* k_prefix = "grant_rebalance";

struct ColumnSql {
  std::string name;   ///< as in the catalog
  std::string quoted; ///< quoted identifier
  std::string type;   ///< format_type(), for casts of text parameters
};

/// One sharded table: its columns (generated ones left out), primary key and shard key.
class TableSql {
public:
  /// Reads the table from the catalog of `connection`. Throws ConfigError for a missing table, a
  /// table without primary key, or a shard-key column it lacks.
  TableSql(db::Connection& connection, const std::string& name, const std::vector<std::string>& key_columns);

  const std::string& name() const { return m_name; }
  const std::string& qualified() const { return m_qualified; }
  const std::vector<ColumnSql>& columns() const { return m_columns; }
  const std::vector<std::size_t>& pk() const { return m_pk; }
  const std::vector<std::size_t>& key() const { return m_key; }
  /// "orders" or "app_orders": the table's name as part of a function name.
  const std::string& slug() const { return m_slug; }
  /// Rows per statement that stay under PostgreSQL's 65535 parameters.
  std::size_t max_rows_per_statement(std::size_t wanted) const;

  /// Every column of the rows whose primary keys are `count` tuples of parameters.
  std::string select_by_pk(std::size_t count) const;
  /// Row id (ctid) and shard-key columns of the rows in heap blocks [$1, $2) (tids "(n,0)").
  std::string select_block_keys() const;
  /// Every column of the rows whose ctid is in the tid[] literal $1, within blocks [$2, $3).
  std::string select_by_tids() const;
  /// The primary key and shard-key columns only, for scans that decide what to delete.
  std::string select_keys_page(bool after, std::size_t limit) const;
  /// Inserts `count` rows of every column, replacing a row with the same primary key
  /// (`replace`), or leaving it (`!replace`).
  std::string upsert(std::size_t count, bool replace) const;
  /// The same as one statement with one array parameter per column (unnest): far cheaper to parse
  /// than thousands of parameters. Not for tables with array columns (unnest would flatten them).
  std::string upsert_arrays(bool replace) const;
  /// As upsert_arrays, failing on a duplicate key (a plain insert is about twice as cheap).
  std::string insert_arrays() const;
  bool has_array_column() const { return m_has_array_column; }
  std::string delete_by_pk(std::size_t count) const;
  /// As delete_by_pk, only rows that also meet `condition` (a fenced() predicate).
  std::string delete_fenced_by_pk(std::size_t count, const std::string& condition) const;
  /// True for a row whose shard key the placement function `place` puts on a shard other than
  /// `shard`: the rows the fence of `shard` refuses to write.
  std::string fenced(const std::string& place, const std::string& shard) const;

  std::string capture_function(const std::string& schema) const;
  /// The fence of source shard `shard`: refuses (GR001) a write of a key that the target config's
  /// placement function puts on another shard: `place_int` (bigint) for one smallint, integer or
  /// bigint key column, else `place` (text[]).
  std::string fence_function(const std::string& schema, const std::string& place, const std::string& place_int,
                             const std::string& shard) const;
  std::string create_capture_trigger(const std::string& schema) const;
  std::string create_fence_trigger(const std::string& schema) const;
  std::string drop_objects(const std::string& schema) const;

private:
  std::string pk_tuple(std::size_t first_param) const;
  std::string pk_list() const;
  std::string text_array(const char* row, const std::vector<std::size_t>& columns) const;
  std::string on_conflict(bool replace) const;

  std::string m_name;
  std::string m_qualified;
  std::string m_slug;
  std::vector<ColumnSql> m_columns;
  std::vector<std::size_t> m_pk;
  std::vector<std::size_t> m_key;
  bool m_has_array_column = false;
};

/// The schema-qualified, quoted name of one of rebalance's tables in `schema` (quoted).
std::string grant_table(const std::string& schema, const char* suffix);

} // namespace grant::rebalance
