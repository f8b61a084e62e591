#include <grant/migrate/validate.hpp>

#include <grant/migrate/runner.hpp>
#include <grant/util/strings.hpp>
#include <grant/util/url.hpp>

#include <algorithm>

namespace grant::migrate {

namespace {

std::string short_checksum(const std::string& checksum) {
  return checksum.substr(0, 12) + "…";
}

void plan_problems(const std::string& target, const Plan& plan, std::vector<Problem>& out) {
  for (const auto& drift : plan.drifted) {
    out.push_back({"checksum_drift", target, drift.migration->version, drift.migration->up.file.string(),
                   "applied migration " + drift.migration->display_name() +
                       " was edited after it was applied (checksum " + short_checksum(*drift.applied.checksum) +
                       " recorded, " + short_checksum(drift.migration->checksum) + " now)",
                   "restore the file, or record its new checksum with `grant repair`"});
  }
  for (const auto& row : plan.missing_files) {
    out.push_back({"missing_file",
                   target,
                   row.version,
                   {},
                   "version " + row.version + (row.name.empty() ? "" : "_" + row.name) +
                       " is applied but no migration file has it",
                   "restore the file, or drop its row with `grant repair --forget-missing`"});
  }
  for (const auto* migration : plan.out_of_order) {
    out.push_back({"out_of_order", target, migration->version, migration->up.file.string(),
                   "pending " + migration->display_name() + " is older than the newest applied " + plan.current_version,
                   "apply it with `grant migrate --allow-out-of-order`, or give it a newer version"});
  }
}

// A CREATE INDEX CONCURRENTLY that failed leaves its index behind, INVALID: never used for reads,
// still maintained on every write, and in the way of a re-run without IF NOT EXISTS.
void invalid_indexes(db::Connection& connection, const std::string& target, std::vector<Problem>& out) {
  for (const auto& invalid : connection.engine().invalid_indexes(connection)) {
    const auto schema = connection.quote_identifier(invalid.schema);
    const auto index = schema + "." + connection.quote_identifier(invalid.index);
    const auto table = schema + "." + connection.quote_identifier(invalid.table);
    out.push_back({"invalid_index",
                   target,
                   {},
                   {},
                   "index " + index + " on " + table +
                       " is INVALID (a CREATE INDEX CONCURRENTLY failed or is still running): it is not used by "
                       "queries but slows every write",
                   "DROP INDEX CONCURRENTLY " + index + "; then run the migration that creates it again"});
  }
}

} // namespace

int ValidateReport::exit_code() const {
  if (std::any_of(problems.begin(), problems.end(), [](const Problem& p) { return p.kind == "unreachable"; })) {
    return 3;
  }
  return problems.empty() ? 0 : 1;
}

ValidateReport validate(registry::Registry& registry, const Workload& work, const RunOptions& options) {
  const auto per_target = fan_out<Target, std::vector<Problem>>(
      work.targets, effective_jobs(options.jobs, work.targets.size()), [&](const Target& target) {
        std::vector<Problem> out;
        const auto& files = work.files.at(target.database->name);
        const auto label = target.label();
        if (target.endpoint.url.sqlite_file_missing()) {
          plan_problems(label, make_plan(files, {}), out); // looking must not create the file
          return out;
        }
        try {
          auto connection = registry.checkout(target.endpoint);
          Tracker tracker(*connection, target.database->migrations_table);
          try {
            plan_problems(label, make_plan(files, tracker.applied()), out);
          } catch (const ConfigError& error) {
            const std::string message = util::redact_secrets(error.what());
            out.push_back({message.find(" is dirty at version ") != std::string::npos ? "dirty" : "unreadable",
                           label,
                           {},
                           {},
                           message,
                           error.hint()});
          }
          if (connection->engine().traits().invalid_indexes) {
            invalid_indexes(*connection, label, out);
          }
        } catch (const Error& error) {
          out.push_back({"unreachable", label, {}, {}, util::redact_secrets(error.what()), error.hint()});
        }
        return out;
      });
  ValidateReport report;
  report.targets = work.targets.size();
  for (const auto& problems : per_target) {
    report.problems.insert(report.problems.end(), problems.begin(), problems.end());
  }
  return report;
}

} // namespace grant::migrate
