#include <grant/lint/fleet.hpp>

#include <grant/db/connection.hpp>
#include <grant/db/engine.hpp>
#include <grant/error.hpp>
#include <grant/lint/rules.hpp>
#include <grant/migrate/runner.hpp>
#include <grant/migrate/targets.hpp>
#include <grant/registry/registry.hpp>
#include <grant/util/parallel_for.hpp>
#include <grant/util/url.hpp>

#include <algorithm>
#include <set>

namespace grant::lint {

namespace {

struct TargetAnswer {
  bool reachable = true;
  std::string error;
  std::vector<db::RelationFacts> relations;
};

TargetAnswer ask(registry::Registry& registry, const migrate::Target& target, const std::vector<std::string>& tables) {
  TargetAnswer answer;
  try {
    auto connection = registry.checkout(target.endpoint);
    const std::chrono::milliseconds bound{target.database->pool.connect_timeout_ms};
    const db::ReplyTimeoutScope reply(*connection, bound);
    connection->set_statement_timeout(bound);
    answer.relations = connection->engine().relation_facts(*connection, tables);
    connection->set_statement_timeout(std::chrono::milliseconds{0});
  } catch (const Error& error) {
    answer.reachable = false;
    answer.error = util::redact_secrets(error.what());
  }
  return answer;
}

std::string megabytes(long long bytes) {
  return std::to_string((bytes + (1 << 19)) >> 20) + " MB";
}

void attach(Finding& finding, const migrate::Target& target, const TargetAnswer& answer) {
  TargetFacts facts;
  facts.target = target.label();
  facts.reachable = answer.reachable;
  facts.error = answer.error;
  for (const auto& relation : answer.relations) {
    if (relation.name != finding.table) {
      continue;
    }
    facts.exists = relation.exists;
    facts.table_bytes = relation.bytes;
    facts.rows_estimate = relation.rows_estimate;
    facts.has_rows = relation.has_rows;
    for (const auto& holder : relation.holders) {
      const auto held = lock_from_pg_locks(holder.mode);
      if (held && locks_conflict(*held, finding.lock)) {
        facts.blockers.push_back({holder.pid, holder.application_name, holder.state, holder.age_seconds, holder.mode});
      }
    }
  }
  finding.targets.push_back(std::move(facts));
}

// Past lint.large_table_mb, or a NOT NULL column added to a table with rows: an error.
void raise(Finding& finding, const config::Database& database) {
  const auto* rule = find_rule(finding.rule);
  const long long limit = static_cast<long long>(database.lint.large_table_mb) << 20;
  const TargetFacts* largest = nullptr;
  std::vector<std::string> with_rows;
  for (const auto& facts : finding.targets) {
    if (facts.table_bytes && (largest == nullptr || *facts.table_bytes > *largest->table_bytes)) {
      largest = &facts;
    }
    if (facts.has_rows) {
      with_rows.push_back(facts.target);
    }
  }
  if (rule != nullptr && rule->size_matters && largest != nullptr && *largest->table_bytes >= limit &&
      finding.severity < Severity::error) {
    finding.severity = Severity::error;
    finding.message += "; an error here: " + finding.table + " is " + megabytes(*largest->table_bytes) + " on " +
                       largest->target + ", past lint.large_table_mb (" + std::to_string(database.lint.large_table_mb) +
                       ")";
  }
  if (finding.rule == "not-null-without-default" && !with_rows.empty() && finding.severity < Severity::error) {
    finding.severity = Severity::error;
    finding.message += "; it will fail: " + finding.table + " has rows on " + with_rows.front() +
                       (with_rows.size() > 1 ? " and " + std::to_string(with_rows.size() - 1) + " more" : "");
  }
}

} // namespace

std::map<std::string, std::vector<const migrate::Migration*>>
pending_migrations(registry::Registry& registry, const migrate::Workload& work, const migrate::RunOptions& options,
                   const std::optional<std::string>& up_to, std::vector<std::string>& notes) {
  std::map<std::string, std::vector<const migrate::Migration*>> out;
  migrate::Workload readable;
  readable.files = work.files;
  for (const auto& target : work.targets) {
    if (engine_lints(*target.database)) {
      readable.targets.push_back(target);
    }
  }
  std::map<std::string, std::set<std::string>> pending; // versions (status reads a copy of the files)
  std::map<std::string, bool> read_any;
  std::map<std::string, std::vector<std::string>> unread; // notes for targets not read, when others were
  for (const auto& status : migrate::status(registry, readable, options)) {
    const auto& name = status.target.database->name;
    read_any[name] = read_any[name] || status.reachable;
    if (!status.reachable) {
      unread[name].push_back(status.target.label() + ": could not read what is applied there (" + status.error +
                             "); linted what the other targets have pending");
    }
    if (status.reachable) {
      for (const auto* migration : status.plan.pending) {
        pending[name].insert(migration->version);
      }
    }
  }
  for (const auto& [name, files] : work.files) {
    const bool all = !read_any.count(name) || !read_any[name];
    if (read_any.count(name) && !read_any[name]) {
      notes.push_back("database " + name + ": no target could be read, so every migration file was linted");
    } else {
      notes.insert(notes.end(), unread[name].begin(), unread[name].end());
    }
    for (const auto& migration : files) {
      if (up_to && migrate::compare_versions(migration.version, *up_to) > 0) {
        continue;
      }
      if (all || pending[name].count(migration.version) > 0) {
        out[name].push_back(&migration);
      }
    }
  }
  return out;
}

Report lint_pending(registry::Registry& registry, const migrate::Workload& work, const migrate::RunOptions& options,
                    const Options& lint_options, const std::optional<std::string>& up_to) {
  Report report;
  const auto pending = pending_migrations(registry, work, options, up_to, report.notes);
  for (const auto& [name, migrations] : pending) {
    const auto& database =
        *std::find_if(work.targets.begin(), work.targets.end(), [&wanted = name](const migrate::Target& t) {
           return t.database->name == wanted;
         })->database;
    lint_migrations(database, migrations, lint_options, report);
  }
  return report;
}

void add_target_facts(registry::Registry& registry, const std::vector<migrate::Target>& targets, Report& report,
                      int jobs) {
  report.connected = true;
  std::map<std::string, std::vector<std::string>> tables;
  for (const auto& finding : report.findings) {
    auto& list = tables[finding.database];
    if (!finding.table.empty() && std::find(list.begin(), list.end(), finding.table) == list.end()) {
      list.push_back(finding.table);
    }
  }
  std::vector<migrate::Target> asked;
  for (const auto& target : targets) {
    if (tables.count(target.database->name) > 0 && engine_lints(*target.database)) {
      asked.push_back(target);
    }
  }
  const auto answers =
      util::parallel_map(asked, migrate::effective_jobs(jobs, asked.size()), [&](const migrate::Target& target) {
        return ask(registry, target, tables.at(target.database->name));
      });
  for (auto& finding : report.findings) {
    if (finding.table.empty()) {
      continue;
    }
    const config::Database* database = nullptr;
    for (std::size_t i = 0; i < asked.size(); ++i) {
      if (asked[i].database->name == finding.database) {
        attach(finding, asked[i], answers[i]);
        database = asked[i].database;
      }
    }
    if (database != nullptr) {
      raise(finding, *database);
    }
  }
}

} // namespace grant::lint
