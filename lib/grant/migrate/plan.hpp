#pragma once

#include <grant/migrate/migration_file.hpp>
#include <grant/migrate/tracking.hpp>

#include <string>
#include <vector>

namespace grant::migrate {

struct Drift {
  const Migration* migration = nullptr;
  AppliedMigration applied;
};

/// What a target's tracking rows say against the migration files: pure, no I/O.
struct Plan {
  std::vector<AppliedMigration> applied;
  std::vector<const Migration*> pending;       ///< in version order
  std::vector<const Migration*> out_of_order;  ///< pending yet older than the newest applied
  std::vector<AppliedMigration> missing_files; ///< applied, but no file has the version
  std::vector<Drift> drifted;                  ///< applied checksum differs from the file's
  std::string current_version;                 ///< newest applied, "" when none

  const Migration* file_of(const std::string& version) const;
  std::vector<const Migration*> files;
};

Plan make_plan(const std::vector<Migration>& files, std::vector<AppliedMigration> applied);

/// The file with exactly this version, or nullptr.
const Migration* find_version(const std::vector<Migration>& files, const std::string& version);

} // namespace grant::migrate
