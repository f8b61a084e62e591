#pragma once

#include <grant/migrate/types.hpp>
#include <grant/registry/registry.hpp>

#include <string>
#include <vector>

namespace grant::migrate {

/// One thing `grant validate` found wrong on a target.
struct Problem {
  /// checksum_drift, missing_file, out_of_order, dirty (golang-migrate), invalid_index, unreachable
  std::string kind;
  std::string target;
  std::string version; ///< "" when not about a version
  std::string file;    ///< the migration file, when there is one
  std::string message;
  std::string hint; ///< how to fix it, "" when obvious
};

struct ValidateReport {
  std::size_t targets = 0;
  std::vector<Problem> problems; ///< in target order
  /// 0 clean, 1 problems found, 3 a target could not be read.
  int exit_code() const;
};

/// Compares every target's tracking rows with its files and inspects its schema, changing nothing:
/// checksum drift, applied versions without a file, out-of-order pending files, a dirty
/// golang-migrate table, and (PostgreSQL) INVALID indexes left by a failed CREATE INDEX CONCURRENTLY.
ValidateReport validate(registry::Registry& registry, const Workload& work, const RunOptions& options);

} // namespace grant::migrate
