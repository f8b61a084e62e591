#pragma once

#include <grant/registry/registry.hpp>
#include <grant/shard/lint.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace grant::check {

struct CheckOptions {
  std::vector<std::string> tables; ///< empty: every table in sharding.tables
  std::size_t samples = 5;         ///< sample keys kept per misplaced (table, found on, belongs on)
  std::size_t heavy_keys = 5;      ///< heaviest keys reported per table
  int jobs = 0;                    ///< shards scanned at once; 0: all
  /// Called now and then from scanning threads with the rows scanned so far (all shards).
  std::function<void(std::uint64_t rows)> on_progress;
};

struct ShardReach {
  std::string shard;
  bool ok = false;
  std::string detail; ///< server version, or the error
  double latency_ms = 0;
};

/// A way one shard's schema differs from the others.
struct SchemaDifference {
  std::string shard;
  std::string kind; ///< missing_table, missing_column, extra_column, column_type, migration_missing, migration_extra,
                    ///< migration_checksum
  std::string table;
  std::string detail;
};

/// Rows of `table` stored on `found_on` that the resolver assigns to `belongs_on`.
struct Misplaced {
  std::string table;
  std::string found_on;
  std::string belongs_on; ///< "" when no shard owns the key (a lookup miss)
  std::uint64_t rows = 0;
  std::vector<std::string> samples;
};

struct HeavyKey {
  std::string key;
  std::uint64_t rows = 0;       ///< at least this many rows (Misra-Gries lower bound)
  std::uint64_t undercount = 0; ///< at most this many more
};

struct Distribution {
  std::string table;
  std::vector<std::pair<std::string, std::uint64_t>> rows_per_shard;
  double skew = 0; ///< max / mean of rows_per_shard; 1.0 is perfectly even
  std::vector<HeavyKey> heaviest;
  std::uint64_t null_keys = 0;
};

struct DatabaseCheck {
  std::string database;
  std::string resolver;
  std::vector<shard::LintIssue> lint;
  std::vector<ShardReach> reach;
  std::vector<SchemaDifference> schema;
  std::vector<Misplaced> misplaced;
  std::vector<Distribution> distribution;
  std::vector<std::string> errors; ///< scans that could not run (table or key column missing, ...)
  std::uint64_t rows_scanned = 0;
  double scan_seconds = 0;

  bool healthy() const;
};

/// Lints, probes, compares schemas and scans every shard of a sharded database in parallel,
/// streaming the shard-key columns (COPY on PostgreSQL) without loading a table into memory.
/// Throws ConfigError for a --table not in sharding.tables.
DatabaseCheck check_database(registry::Registry& registry, const config::Config& config,
                             const config::Database& database, const CheckOptions& options);

} // namespace grant::check
