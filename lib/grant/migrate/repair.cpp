#include <grant/migrate/repair.hpp>

#include <algorithm>
#include <grant/migrate/runner.hpp>

namespace grant::migrate {

namespace {

std::vector<RepairStep> repair_target(db::Connection& connection, Tracker& tracker, const std::vector<Migration>& files,
                                      const RepairOptions& options) {
  std::vector<RepairStep> steps;
  using Action = RepairStep::Action;
  for (const auto& dirty : tracker.dirty_rows()) {
    steps.push_back({Action::forget_dirty,
                     dirty.version,
                     dirty.name,
                     dirty.checksum.value_or(""),
                     {},
                     tracker.remove_sql(dirty.version)});
  }
  const auto plan = make_plan(files, tracker.applied(false));
  for (const auto& row : plan.applied) {
    const auto* file = plan.file_of(row.version);
    if (file == nullptr) {
      if (options.forget_missing && row.source != AppliedMigration::Source::flyway) {
        steps.push_back(
            {Action::forget, row.version, row.name, row.checksum.value_or(""), {}, tracker.remove_sql(row.version)});
      }
      continue;
    }
    const bool unknown = !row.checksum || row.checksum->empty();
    if (!unknown && file->matches_checksum(*row.checksum)) {
      continue;
    }
    RepairStep step{unknown ? Action::record_checksum : Action::update_checksum,
                    file->version,
                    file->name,
                    row.checksum.value_or(""),
                    file->checksum,
                    {}};
    // Flyway's history is only read: the version gets a row of grant's own instead.
    step.sql = row.source == AppliedMigration::Source::flyway
                   ? tracker.record_sql(*file, row.execution_ms)
                   : tracker.update_checksum_sql(file->version, file->name, file->checksum);
    steps.push_back(std::move(step));
  }
  if (options.dry_run || steps.empty()) {
    return steps;
  }
  db::Transaction transaction(connection);
  for (const auto& step : steps) {
    if (step.action == Action::forget || step.action == Action::forget_dirty) {
      tracker.remove(step.version);
      continue;
    }
    const auto* file = plan.file_of(step.version);
    const auto* row = &*std::find_if(plan.applied.begin(), plan.applied.end(), [&](const AppliedMigration& applied) {
      return compare_versions(applied.version, step.version) == 0;
    });
    if (row->source == AppliedMigration::Source::flyway) {
      tracker.record(*file, row->execution_ms);
    } else {
      tracker.update_checksum(step.version, step.name, step.new_checksum);
    }
  }
  transaction.commit();
  return steps;
}

} // namespace

const char* action_name(RepairStep::Action action) {
  switch (action) {
  case RepairStep::Action::update_checksum:
    return "checksum_updated";
  case RepairStep::Action::record_checksum:
    return "checksum_recorded";
  case RepairStep::Action::forget:
    return "forgotten";
  case RepairStep::Action::forget_dirty:
    return "failed_run_forgotten";
  }
  return "";
}

std::vector<RepairResult> repair(registry::Registry& registry, const Workload& work, const RepairOptions& options,
                                 const EventSink& events) {
  return fan_out<Target, RepairResult>(work.targets, effective_jobs(options.jobs, work.targets.size()),
                                       [&](const Target& target) {
                                         const auto& files = work.files.at(target.database->name);
                                         RepairResult out;
                                         const auto result = run_on_target(
                                             registry, target, files, options, events,
                                             [&](db::Connection& connection, Tracker& tracker, TargetResult&) {
                                               out.steps = repair_target(connection, tracker, files, options);
                                             },
                                             false);
                                         out.target = target;
                                         out.ok = result.ok;
                                         out.error = result.error;
                                         out.where = result.where;
                                         out.hint = result.hint;
                                         out.exit_code = result.exit_code;
                                         return out;
                                       });
}

} // namespace grant::migrate
