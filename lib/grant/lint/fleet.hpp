#pragma once
/// `grant lint` over the fleet: which migrations are pending on the targets, and (--connect) what
/// each target says about the tables of the findings.

#include <grant/lint/linter.hpp>
#include <grant/migrate/types.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace grant::registry {
class Registry;
}

namespace grant::lint {

/// The migrations pending on any target of each database, in version order (read-only, like
/// `grant status`). A database none of whose targets could be read has all its files pending, and
/// a note says so. Databases whose engine has no lint rules are not read: their files are listed.
std::map<std::string, std::vector<const migrate::Migration*>>
pending_migrations(registry::Registry& registry, const migrate::Workload& work, const migrate::RunOptions& options,
                   const std::optional<std::string>& up_to, std::vector<std::string>& notes);

/// Lints what is pending on `work`'s targets (see pending_migrations), database by database.
Report lint_pending(registry::Registry& registry, const migrate::Workload& work, const migrate::RunOptions& options,
                    const Options& lint_options, const std::optional<std::string>& up_to = std::nullopt);

/// --connect: asks every target of each finding's database, in parallel and read-only, for the
/// table's size, rows and the sessions whose locks the statement would wait for; each target is
/// bounded by its pool's connect timeout, and one that cannot answer is reported as such. Raises a
/// finding to an error on a table past lint.large_table_mb (rules whose hazard grows with size), and
/// not-null-without-default on a table that has rows.
void add_target_facts(registry::Registry& registry, const std::vector<migrate::Target>& targets, Report& report,
                      int jobs);

} // namespace grant::lint
