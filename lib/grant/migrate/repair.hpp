#pragma once

#include <grant/migrate/types.hpp>
#include <grant/registry/registry.hpp>

#include <string>
#include <vector>

namespace grant::migrate {

struct RepairOptions : RunOptions {
  bool forget_missing = false; ///< also delete rows whose migration file is gone
};

/// One change `grant repair` makes to a tracking table.
struct RepairStep {
  enum class Action {
    update_checksum, ///< the applied file was edited: its row gets the file's checksum now
    record_checksum, ///< an adopted row had no checksum (dbmate, Rails, golang-migrate, Flyway)
    forget,          ///< --forget-missing: the row's file is gone
    forget_dirty,    ///< a run that failed half way left the version dirty (MySQL): forgotten, so it runs again
  };
  Action action = Action::update_checksum;
  std::string version;
  std::string name;
  std::string old_checksum; ///< "" when unknown
  std::string new_checksum; ///< "" for forget
  std::string sql;          ///< the statement, as --dry-run prints it
};

/// Action as the word the output uses: "checksum_updated", "checksum_recorded", "forgotten".
const char* action_name(RepairStep::Action action);

struct RepairResult {
  Target target;
  bool ok = true;
  std::vector<RepairStep> steps;
  std::string error;
  std::string where;
  std::string hint;
  int exit_code = 0;
};

/// Flyway's repair: on each target, under its migration lock and in one transaction, records the
/// current checksum of every applied file that was edited and of every adopted row whose checksum
/// is unknown (a Flyway row gets a row of grant's own; flyway_schema_history is never changed), and
/// with forget_missing deletes the rows whose file is gone. A dirty row (MySQL: a run that failed
/// half way) is deleted, so that `grant migrate` runs its file again from the start. With dry_run only says what it
/// would do.
std::vector<RepairResult> repair(registry::Registry& registry, const Workload& work, const RepairOptions& options,
                                 const EventSink& events);

} // namespace grant::migrate
