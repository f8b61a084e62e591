#include <grant/lint/linter.hpp>

#include <grant/db/engine.hpp>
#include <grant/lint/rules.hpp>
#include <grant/lint/scope.hpp>

#include <grant/util/parallel_for.hpp>

#include <algorithm>
#include <thread>

namespace grant::lint {

namespace {

const db::EngineTraits& traits_of(const config::Database& database) {
  return db::traits_for(database.url ? *database.url : database.shards.front().url);
}

bool silences(const Statement& statement, std::string_view rule) {
  return std::any_of(statement.ignores.begin(), statement.ignores.end(), [rule](const Ignore& ignore) {
    return std::find(ignore.rules.begin(), ignore.rules.end(), rule) != ignore.rules.end();
  });
}

// The rules about a whole transaction: a wait for ACCESS EXCLUSIVE with no lock_timeout, and
// strong locks on several existing tables at once.
void section_rules(const Statement& statement, Scope& scope, std::vector<Hit>& hits) {
  for (const auto& lock : table_locks(statement, scope)) {
    if (scope.is_new(lock.table) || scope.index_is_new(lock.table)) {
      continue;
    }
    if (lock.mode == LockMode::access_exclusive && !scope.lock_timeout && !scope.reported_timeout) {
      scope.reported_timeout = true;
      hits.push_back({"missing-lock-timeout", lock.table, lock.mode,
                      "waits for ACCESS EXCLUSIVE on " + lock.table +
                          " with no lock_timeout: behind one long transaction, every query on the table queues "
                          "behind this one",
                      "mark the section with a bound, -- grant:up lock_timeout=5s retries=3 (or set "
                      "migrate.lock_timeout_ms in the config), so it gives up and retries instead"});
    }
    if (scope.transactional && lock.mode >= LockMode::share) {
      scope.strong_locks.insert(lock.table);
      if (scope.strong_locks.size() >= 2 && !scope.reported_many) {
        scope.reported_many = true;
        std::string tables;
        for (const auto& table : scope.strong_locks) {
          tables += (tables.empty() ? "" : ", ") + table;
        }
        hits.push_back({"many-locked-tables", lock.table, lock.mode,
                        "this transaction holds strong locks on " + tables +
                            " at once, each until it commits: the tables block together, and two such "
                            "migrations can deadlock",
                        "split the section: one table per migration (or per transaction)"});
      }
    }
  }
}

Finding finding_of(const Hit& hit, const Statement& statement, const migrate::Migration& migration,
                   const config::Database& database) {
  Finding finding;
  finding.rule = std::string(hit.rule);
  finding.severity = find_rule(hit.rule)->severity;
  finding.database = database.name;
  finding.migration = migration.version.empty() ? migration.up.file.filename().string() : migration.display_name();
  finding.file = migration.up.file;
  finding.line = statement.line;
  finding.column = statement.column;
  finding.message = hit.message;
  finding.statement = statement.text;
  finding.fix = hit.fix;
  finding.table = hit.table;
  finding.lock = hit.lock;
  finding.silenced = silences(statement, hit.rule);
  return finding;
}

void lint_section(const migrate::Migration& migration, const std::vector<Statement>& statements,
                  const config::Database& database, const Options& options, Scope& scope, Report& report) {
  const auto& section = migration.up;
  scope.transactional = section.transaction;
  scope.configured_lock_timeout = (section.lock_timeout && section.lock_timeout->count() > 0) ||
                                  (database.migrate.lock_timeout_ms && *database.migrate.lock_timeout_ms > 0) ||
                                  (options.lock_timeout && options.lock_timeout->count() > 0);
  scope.lock_timeout = scope.configured_lock_timeout;
  scope.end_transaction();
  scope.reported_timeout = false;
  ++report.migrations;
  report.statements += statements.size();
  for (const auto& statement : statements) {
    std::vector<Hit> hits;
    check_locks(statement, scope, hits);
    check_compatibility(statement, scope, hits);
    check_fleet(statement, scope, hits);
    section_rules(statement, scope, hits);
    for (const auto& hit : hits) {
      report.findings.push_back(finding_of(hit, statement, migration, database));
    }
    scope.learn(statement);
  }
}

} // namespace

void lint_migrations(const config::Database& database, const std::vector<const migrate::Migration*>& pending,
                     const Options& options, Report& report) {
  if (pending.empty()) {
    return;
  }
  if (!engine_lints(database)) {
    report.notes.push_back("database " + database.name + " (" + std::string(traits_of(database).display_name) +
                           "): " + std::to_string(pending.size()) +
                           " migration(s) not linted: the lint rules are PostgreSQL's");
    return;
  }
  report.fail_on[database.name] = database.lint.fail_on;
  // Parsing is most of the work and each file stands alone: parse on every core, then walk the
  // statements in order (the rules read what earlier migrations created). A file the parser
  // rejects is reported as the first of them in order would be.
  std::vector<const migrate::Migration*> linted;
  for (const auto* migration : pending) {
    if (!migration->empty) {
      linted.push_back(migration);
    }
  }
  const int cores = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  const auto parsed =
      util::parallel_map(linted, linted.size() < 16 ? 1 : std::min(cores, 8),
                         [](const migrate::Migration* migration) { return parse_postgres(migration->up); });
  Scope scope(database);
  for (std::size_t i = 0; i < linted.size(); ++i) {
    lint_section(*linted[i], parsed[i], database, options, scope, report);
  }
}

bool engine_lints(const config::Database& database) {
  return traits_of(database).lint;
}

bool reaches(const Finding& finding, std::string_view fail_on) {
  const auto threshold = parse_severity(fail_on);
  return threshold && !finding.silenced && finding.severity >= *threshold;
}

bool fails(const Report& report, const std::optional<std::string>& fail_on) {
  return std::any_of(report.findings.begin(), report.findings.end(), [&](const Finding& finding) {
    if (fail_on) {
      return reaches(finding, *fail_on);
    }
    const auto configured = report.fail_on.find(finding.database);
    return reaches(finding, configured == report.fail_on.end() ? "error" : configured->second);
  });
}

} // namespace grant::lint
