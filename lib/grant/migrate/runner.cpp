#include <grant/migrate/runner.hpp>

#include <grant/db/cancel.hpp>
#include <grant/migrate/apply.hpp>
#include <grant/migrate/atomic.hpp>
#include <grant/migrate/lock.hpp>
#include <grant/migrate/replica_wait.hpp>
#include <grant/migrate/tracking.hpp>
#include <grant/twophase/recovery.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <thread>

namespace grant::migrate {

namespace {

// --to must name a migration file of at least one selected database.
void check_to_version(const Workload& work, const std::string& version) {
  if (!is_version(version)) {
    throw ConfigError("--to " + util::in_quotes(version) + " is not a version (digits only)", "--to");
  }
  for (const auto& [database, files] : work.files) {
    if (find_version(files, version) != nullptr) {
      return;
    }
  }
  throw ConfigError("--to " + version + ": no migration file has that version", "--to",
                    "run `grant status` to list the versions");
}

// The migrations a rollback reverts on one target, newest first; refuses (nothing reverted)
// when one has no file, no down section, or lives in Flyway's history.
std::vector<const Migration*> to_revert(const Plan& plan, const Target& target, const RollbackOptions& options) {
  std::vector<const Migration*> out;
  for (auto row = plan.applied.rbegin(); row != plan.applied.rend(); ++row) {
    if (!options.all && (options.to ? compare_versions(row->version, *options.to) <= 0
                                    : static_cast<int>(out.size()) >= options.steps)) {
      break;
    }
    const auto* file = plan.file_of(row->version);
    if (file == nullptr) {
      throw ConfigError("cannot roll back " + row->version + " on " + target.label() +
                            ": no migration file has that version; nothing was reverted",
                        target.database->migrations.string(), "restore the file (with its down section) first");
    }
    if (row->source == AppliedMigration::Source::flyway) {
      throw ConfigError("cannot roll back " + file->display_name() + " on " + target.label() +
                            ": Flyway applied it (flyway_schema_history), which grant reads but never changes; "
                            "nothing was reverted",
                        file->up.file.string(), "undo it with Flyway (flyway undo), or roll back fewer steps");
    }
    if (!file->down) {
      throw ConfigError("cannot roll back " + file->display_name() + " on " + target.label() +
                            ": it has no down section; nothing was reverted",
                        file->up.file.string(), missing_down_hint(*file));
    }
    out.push_back(file);
  }
  return out;
}

void migrate_on(db::Connection& connection, Tracker& tracker, const Target& target, const std::vector<Migration>& files,
                const MigrateOptions& options, const EventSink& events, TargetResult& result) {
  // A version left dirty by a run that failed half way (MySQL) runs again from the start once its
  // file was edited; an unchanged file is refused by applied() until `grant repair`.
  for (const auto& dirty : options.dry_run ? std::vector<AppliedMigration>{} : tracker.dirty_rows()) {
    const auto* file = find_version(files, dirty.version);
    if (file != nullptr && dirty.checksum && !file->matches_checksum(*dirty.checksum)) {
      tracker.remove(dirty.version);
      if (events) {
        events({Event::Kind::note, target.label(), file->display_name(), 0,
                "its last run failed half way and the file has changed since: running it again from the start"});
      }
    }
  }
  const auto plan = make_plan(files, tracker.applied());
  check_out_of_order(plan, options, target);
  for (const auto* migration : plan.pending) {
    if (options.to && compare_versions(migration->version, *options.to) > 0) {
      break;
    }
    result.steps.push_back(apply_up(connection, tracker, target, *migration, options, events));
    if (options.throttle && !options.dry_run) {
      options.throttle(target); // after the step is recorded: a throttle that gives up keeps it counted
    }
  }
}

// Every selected database must have a file with this version: baselining past the files is a typo.
void check_baseline_version(const Workload& work, const std::string& version) {
  if (!is_version(version)) {
    throw ConfigError("--version " + util::in_quotes(version) + " is not a version (digits only)", "--version");
  }
  for (const auto& target : work.targets) {
    const auto& database = *target.database;
    if (find_version(work.files.at(database.name), version) == nullptr) {
      throw ConfigError("--version " + version + ": no migration file of database " + database.name +
                            " has that version; nothing was marked applied",
                        database.migrations.string(),
                        "pick the version of one of its files (`grant status --database " + database.name +
                            "` lists them), or select the right database with --database");
    }
  }
}

} // namespace

TargetResult run_on_target(registry::Registry& registry, const Target& target, const std::vector<Migration>& files,
                           const RunOptions& options, const EventSink& events, const TargetBody& body, bool creates) {
  TargetResult result;
  result.target = target;
  try {
    const auto& url = target.endpoint.url;
    registry::PooledConnection pooled;
    std::unique_ptr<db::Connection> scratch;
    if ((options.dry_run || !creates) && url.sqlite_file_missing()) {
      // Looking must not create the database file: plan against an empty in-memory one.
      util::DatabaseUrl memory = url;
      memory.sqlite_path = ":memory:";
      scratch = db::connect(memory, {target.label(), 1000, "grant"});
    } else {
      pooled = registry.checkout(target.endpoint);
    }
    db::Connection& connection_ref = scratch ? *scratch : *pooled;
    auto* connection = &connection_ref;
    // grant's own statements answer at once; a server silent for longer is gone (sections set
    // their own bound, see with_retries).
    const db::ReplyTimeoutScope reply(*connection, std::chrono::milliseconds(target.database->pool.connect_timeout_ms));
    // Resolves the schema now, before any migration can change search_path.
    Tracker tracker(*connection, target.database->migrations_table);
    tracker.qualified();
    std::unique_ptr<MigrationLock> lock;
    std::string setup_sql;
    if (!options.dry_run && !scratch) {
      lock = MigrationLock::acquire(*connection, target.endpoint.url, target.database->migrations_table,
                                    options.lock_timeout, [&](const std::string& holder) {
                                      if (events) {
                                        events({Event::Kind::waiting_lock,
                                                target.label(),
                                                {},
                                                0,
                                                "waiting for the migration lock held by " + holder});
                                      }
                                    });
      refuse_in_doubt(*connection, target);
      if (creates || tracker.exists()) {
        if (const auto note = tracker.ensure(files); note && events) {
          events({Event::Kind::note, target.label(), {}, 0, *note});
        }
      }
    } else if (options.dry_run && (creates || tracker.exists())) {
      setup_sql = tracker.ensure_sql(files);
    }
    try {
      body(*connection, tracker, result);
    } catch (const Error& error) {
      record_failure(result, error);
    }
    if (!setup_sql.empty() && !result.steps.empty()) {
      result.steps.front().sql = "-- the tracking table first\n" + setup_sql + result.steps.front().sql;
    }
    // Also after a failure: the migrations before it stay applied, and the summary says so.
    const db::cancel::Shield summary; // after Ctrl-C too
    if (connection->is_usable() && tracker.exists()) {
      try {
        const auto plan = make_plan(files, tracker.applied());
        result.current_version = plan.current_version;
      } catch (const ConfigError&) {
        // a dirty golang-migrate table: already reported
      }
    }
  } catch (const Error& error) {
    record_failure(result, error);
  }
  return result;
}

// --wait-replicas: a replica that has not caught up fails the target (exit 3), naming it.
void await_replicas(db::Connection& connection, const Target& target, std::chrono::seconds bound,
                    const EventSink& events, TargetResult& result) {
  result.replicas = wait_for_replicas(target, connection, bound, events);
  std::vector<std::string> late;
  for (const auto& replica : result.replicas) {
    if (!replica.ok) {
      late.push_back(replica.error);
    }
  }
  if (!late.empty()) {
    throw Error(ErrorKind::database, target.label() + ": migrated, but " + util::join(late, "; "), target.label(),
                "check the replica's replication (pg_stat_wal_receiver, is replay paused?) or raise --wait-replicas");
  }
}

std::vector<TargetResult> migrate(registry::Registry& registry, const Workload& work, const MigrateOptions& options,
                                  const EventSink& events) {
  if (options.to) {
    check_to_version(work, *options.to);
  }
  refuse_empty_migrations(work, options.to);
  if (options.atomic) {
    return migrate_atomic(registry, work, options, events);
  }
  return fan_out<Target, TargetResult>(
      work.targets, effective_jobs(options.jobs, work.targets.size()), [&](const Target& target) {
        const auto& files = work.files.at(target.database->name);
        return run_on_target(registry, target, files, options, events,
                             [&](db::Connection& connection, Tracker& tracker, TargetResult& result) {
                               migrate_on(connection, tracker, target, files, options, events, result);
                               if (options.wait_replicas && !options.dry_run) {
                                 await_replicas(connection, target, *options.wait_replicas, events, result);
                               }
                             });
      });
}

std::vector<TargetResult> rollback(registry::Registry& registry, const Workload& work, const RollbackOptions& options,
                                   const EventSink& events) {
  if (options.to && !options.all) {
    check_to_version(work, *options.to);
  }
  return fan_out<Target, TargetResult>(
      work.targets, effective_jobs(options.jobs, work.targets.size()), [&](const Target& target) {
        const auto& files = work.files.at(target.database->name);
        return run_on_target(
            registry, target, files, options, events,
            [&](db::Connection& connection, Tracker& tracker, TargetResult& result) {
              for (const auto* migration : to_revert(make_plan(files, tracker.applied()), target, options)) {
                result.steps.push_back(apply_down(connection, tracker, target, *migration, options, events));
              }
            },
            false);
      });
}

std::vector<TargetResult> redo(registry::Registry& registry, const Workload& work, const RunOptions& options,
                               const EventSink& events) {
  refuse_empty_migrations(work);
  RollbackOptions one;
  static_cast<RunOptions&>(one) = options;
  one.steps = 1;
  return fan_out<Target, TargetResult>(
      work.targets, effective_jobs(options.jobs, work.targets.size()), [&](const Target& target) {
        const auto& files = work.files.at(target.database->name);
        return run_on_target(
            registry, target, files, options, events,
            [&](db::Connection& connection, Tracker& tracker, TargetResult& result) {
              // Under the one lock run_on_target holds: nobody can slip in between.
              const auto reverted = to_revert(make_plan(files, tracker.applied()), target, one);
              for (const auto* migration : reverted) {
                result.steps.push_back(apply_down(connection, tracker, target, *migration, options, events));
              }
              for (auto migration = reverted.rbegin(); migration != reverted.rend(); ++migration) {
                result.steps.push_back(apply_up(connection, tracker, target, **migration, options, events));
              }
            },
            false);
      });
}

std::vector<TargetResult> baseline(registry::Registry& registry, const Workload& work, const std::string& version,
                                   const RunOptions& options, const EventSink& events) {
  check_baseline_version(work, version);
  return fan_out<Target, TargetResult>(
      work.targets, effective_jobs(options.jobs, work.targets.size()), [&](const Target& target) {
        const auto& files = work.files.at(target.database->name);
        return run_on_target(registry, target, files, options, events,
                             [&](db::Connection& connection, Tracker& tracker, TargetResult& result) {
                               const auto plan = make_plan(files, tracker.applied());
                               std::optional<db::Transaction> transaction;
                               if (!options.dry_run) {
                                 transaction.emplace(connection); // all rows or none
                               }
                               for (const auto* migration : plan.pending) {
                                 if (compare_versions(migration->version, version) > 0) {
                                   break;
                                 }
                                 Step step{migration->version, migration->name, 0, tracker.record_sql(*migration)};
                                 if (!options.dry_run) {
                                   tracker.record(*migration, 0);
                                 }
                                 result.steps.push_back(std::move(step));
                               }
                               if (transaction) {
                                 transaction->commit();
                               } else if (!result.steps.empty()) {
                                 result.steps.front().sql = "BEGIN;\n" + result.steps.front().sql;
                                 result.steps.back().sql += "\nCOMMIT;";
                               }
                             });
      });
}

std::vector<TargetStatus> status(registry::Registry& registry, const Workload& work, const RunOptions& options) {
  return fan_out<Target, TargetStatus>(
      work.targets, effective_jobs(options.jobs, work.targets.size()), [&](const Target& target) {
        TargetStatus out;
        out.target = target;
        const auto& files = work.files.at(target.database->name);
        try {
          const auto& url = target.endpoint.url;
          if (url.sqlite_file_missing()) {
            out.plan = make_plan(files, {}); // looking must not create the file
            return out;
          }
          auto connection = registry.checkout(target.endpoint);
          Tracker tracker(*connection, target.database->migrations_table);
          out.plan = make_plan(files, tracker.applied());
          out.in_doubt = twophase::count_in_doubt(*connection, target.database->name);
        } catch (const Error& error) {
          out.reachable = false;
          out.error = util::redact_secrets(error.what());
          out.hint = error.hint();
          out.error_exit = error.exit_code();
          out.plan = {}; // what is applied there is unknown, so nothing is known to be pending
        }
        return out;
      });
}

} // namespace grant::migrate
