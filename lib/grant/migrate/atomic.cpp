#include <grant/migrate/atomic.hpp>

#include <grant/migrate/apply.hpp>
#include <grant/migrate/lock.hpp>
#include <grant/migrate/tracking.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <map>
#include <random>

namespace grant::migrate {

namespace {

constexpr const char* k_decisions = "grant_atomic_decisions";

std::string run_id() {
  std::random_device device;
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 10; ++i) {
    out += k_hex[device() % 16];
  }
  return out;
}

struct Member {
  Target target;
  registry::PooledConnection connection;
  std::unique_ptr<Tracker> tracker;
  std::unique_ptr<MigrationLock> lock;
  TargetResult result;
  std::string prepared_gid;
};

void check_prepared_transactions(db::Connection& connection, const Target& target) {
  const auto value = connection.query("SHOW max_prepared_transactions", {}).scalar().value_or("0");
  if (value == "0") {
    throw ConfigError("--atomic needs prepared transactions, but max_prepared_transactions is 0 on " + target.label(),
                      target.label(),
                      "set max_prepared_transactions > 0 in postgresql.conf and restart the server, or run without --atomic");
  }
}

void rollback_prepared(std::vector<Member>& members) {
  for (auto& member : members) {
    if (member.prepared_gid.empty()) {
      continue;
    }
    try {
      member.connection->execute("ROLLBACK PREPARED " + member.connection->quote_literal(member.prepared_gid));
      member.prepared_gid.clear();
    } catch (const Error&) {
      // Left in doubt with no recorded decision: `grant recover` rolls it back.
    }
  }
}

void migrate_database(registry::Registry& registry, const std::vector<Target>& targets,
                      const std::vector<Migration>& files, const MigrateOptions& options, const EventSink& events,
                      std::vector<TargetResult>& results) {
  std::vector<Member> members;
  for (const auto& target : targets) {
    Member member;
    member.target = target;
    member.result.target = target;
    members.push_back(std::move(member));
  }
  const auto fail_all = [&](const Error& error, const std::string& culprit) {
    // An error that is no shard's own (a migration file, say) is every shard's.
    const bool one_shard = std::any_of(members.begin(), members.end(),
                                       [&](const Member& member) { return member.target.label() == culprit; });
    for (auto& member : members) {
      if (member.target.label() == culprit || !one_shard) {
        record_failure(member.result, error);
      } else {
        member.result.ok = false;
        member.result.exit_code = error.exit_code();
        member.result.error = "rolled back: " + culprit + " failed (--atomic: all shards or none)";
      }
    }
  };
  try {
    for (auto& member : members) {
      member.connection = registry.checkout(member.target.endpoint);
    }
    // Locks in shard order, so two atomic runs cannot deadlock on each other.
    for (auto& member : members) {
      if (!options.dry_run) {
        member.lock = MigrationLock::acquire(*member.connection, member.target.endpoint.url,
                                             member.target.database->migrations_table, options.lock_timeout,
                                             [&](const std::string& holder) {
                                               if (events) {
                                                 events({Event::Kind::waiting_lock, member.target.label(), {}, 0,
                                                         "waiting for the migration lock held by " + holder});
                                               }
                                             });
        refuse_in_doubt(*member.connection, member.target);
      }
      member.tracker = std::make_unique<Tracker>(*member.connection, member.target.database->migrations_table);
      if (!options.dry_run) {
        member.tracker->ensure();
      }
    }
    db::Connection& coordinator = *members.front().connection;
    if (!options.dry_run) {
      coordinator.execute(std::string("CREATE TABLE IF NOT EXISTS ") + k_decisions +
                          " (gid text PRIMARY KEY, decision text NOT NULL, decided_at timestamptz NOT NULL DEFAULT now())");
    }
    std::vector<Plan> plans;
    for (auto& member : members) {
      plans.push_back(make_plan(files, member.tracker->applied()));
      check_out_of_order(plans.back(), options, member.target);
    }
    for (const auto& migration : files) {
      if (options.to && compare_versions(migration.version, *options.to) > 0) {
        break;
      }
      std::vector<std::size_t> pending;
      for (std::size_t i = 0; i < members.size(); ++i) {
        for (const auto* p : plans[i].pending) {
          if (p == &migration) {
            pending.push_back(i);
          }
        }
      }
      if (pending.empty()) {
        continue;
      }
      if (options.dry_run) {
        for (const auto i : pending) {
          members[i].result.steps.push_back(apply_up(*members[i].connection, *members[i].tracker, members[i].target,
                                                     migration, options, events));
        }
        continue;
      }
      const std::string key = "grant:" + members.front().target.database->name + ":" + migration.version + ":" + run_id();
      const auto start = std::chrono::steady_clock::now();
      for (const auto i : pending) {
        auto& member = members[i];
        auto& connection = *member.connection;
        if (events) {
          events({Event::Kind::applying, member.target.label(), migration.display_name(), 0, "prepare"});
        }
        try {
          connection.execute("BEGIN");
          const auto section_start = std::chrono::steady_clock::now();
          run_section(connection, member.target, migration, migration.up);
          member.tracker->record(migration, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::steady_clock::now() - section_start)
                                                .count());
          const std::string gid = key + ":" + member.target.endpoint.shard;
          connection.execute("PREPARE TRANSACTION " + connection.quote_literal(gid));
          member.prepared_gid = gid;
        } catch (const Error& error) {
          try {
            connection.execute("ROLLBACK");
          } catch (const Error&) {
          }
          rollback_prepared(members);
          fail_all(error, member.target.label());
          for (auto& m : members) {
            results.push_back(std::move(m.result));
          }
          return;
        }
      }
      fault_point("after-prepare");
      coordinator.query(std::string("INSERT INTO ") + k_decisions + " (gid, decision) VALUES ($1, 'commit')", {key});
      fault_point("after-decision");
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
      for (const auto i : pending) {
        auto& member = members[i];
        try {
          member.connection->execute("COMMIT PREPARED " + member.connection->quote_literal(member.prepared_gid));
        } catch (const Error& error) {
          throw Error(ErrorKind::database,
                      member.target.label() + ": COMMIT PREPARED failed after the commit decision was recorded: " +
                          error.what(),
                      member.target.label(), "run `grant recover` to commit the in-doubt transaction");
        }
        member.prepared_gid.clear();
        member.result.steps.push_back({migration.version, migration.name, ms, {}});
        if (events) {
          events({Event::Kind::applied, member.target.label(), migration.display_name(), ms, "committed on all shards"});
        }
      }
    }
  } catch (const Error& error) {
    rollback_prepared(members);
    fail_all(error, error.where());
  }
  for (auto& member : members) {
    if (member.result.ok && member.tracker) {
      try {
        const auto applied = member.tracker->applied();
        member.result.current_version = applied.empty() ? "" : applied.back().version;
      } catch (const Error&) {
      }
    }
    results.push_back(std::move(member.result));
  }
}

} // namespace

void refuse_in_doubt(db::Connection& connection, const Target& target) {
  if (connection.dialect() != db::Dialect::postgres) {
    return;
  }
  const auto count = count_in_doubt(connection, target);
  if (count != 0) {
    throw db::DbError(target.label() + " has " + std::to_string(count) +
                          " in-doubt prepared transaction(s) left by an interrupted --atomic run",
                      {target.label(), {}, {}, 0, false, 0},
                      "run `grant recover` to resolve them (all shards agree), then run grant again");
  }
}

void fault_point(const char* name) {
  const char* fault = std::getenv("GRANT_FAULT");
  if (fault != nullptr && std::string_view(fault) == name) {
    std::raise(SIGKILL);
  }
}

std::vector<TargetResult> migrate_atomic(registry::Registry& registry, const Workload& work,
                                         const MigrateOptions& options, const EventSink& events) {
  // Refuse before any database is touched: every target must take prepared transactions, and no
  // pending migration may need to run outside a transaction.
  for (const auto& target : work.targets) {
    if (target.endpoint.url.scheme != util::UrlScheme::postgres) {
      throw ConfigError("--atomic needs PostgreSQL (prepared transactions); " + target.label() + " is SQLite",
                        target.label(), "run without --atomic for SQLite databases");
    }
  }
  for (const auto& target : work.targets) {
    auto connection = registry.checkout(target.endpoint);
    check_prepared_transactions(*connection, target);
    Tracker tracker(*connection, target.database->migrations_table);
    for (const auto* migration : make_plan(work.files.at(target.database->name), tracker.applied()).pending) {
      if (options.to && compare_versions(migration->version, *options.to) > 0) {
        break;
      }
      if (!migration->up.transaction) {
        throw ConfigError(migration->display_name() + " is marked transaction=false and cannot be applied --atomic",
                          migration->up.file.string(), "apply it without --atomic");
      }
    }
  }
  std::vector<TargetResult> results;
  std::map<std::string, std::vector<Target>> by_database;
  std::vector<std::string> order;
  for (const auto& target : work.targets) {
    if (!by_database.count(target.database->name)) {
      order.push_back(target.database->name);
    }
    by_database[target.database->name].push_back(target);
  }
  for (const auto& name : order) {
    migrate_database(registry, by_database[name], work.files.at(name), options, events, results);
  }
  return results;
}

std::size_t count_in_doubt(db::Connection& connection, const Target& target) {
  if (connection.dialect() != db::Dialect::postgres) {
    return 0;
  }
  const std::string prefix = "grant:" + target.database->name + ":";
  return std::stoul(connection
                        .query("SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database() "
                               "AND left(gid, length($1)) = $1",
                               {prefix})
                        .scalar()
                        .value_or("0"));
}

std::vector<InDoubt> recover(registry::Registry& registry, const std::vector<Target>& targets,
                             const RecoverOptions& options) {
  std::vector<InDoubt> out;
  std::map<std::string, registry::PooledConnection> coordinators;
  for (const auto& target : targets) {
    if (target.endpoint.url.scheme != util::UrlScheme::postgres) {
      continue;
    }
    auto connection = registry.checkout(target.endpoint);
    // A live --atomic run holds the migration lock on every shard until it has committed;
    // resolving its prepared transactions under it could split the shards.
    std::unique_ptr<MigrationLock> live;
    try {
      live = MigrationLock::acquire(*connection, target.endpoint.url, target.database->migrations_table,
                                    std::chrono::milliseconds(1), {});
    } catch (const db::DbError& error) {
      if (error.sqlstate() != "55P03") {
        throw;
      }
      throw Error(ErrorKind::database,
                  "a grant run is still working on " + target.label() + " (it holds the migration lock): " + error.what(),
                  target.label(), "let it finish: it commits or rolls back its own prepared transactions; "
                                  "run grant recover once it has exited");
    }
    const auto rows = connection->query(
        "SELECT gid, prepared::text FROM pg_prepared_xacts WHERE gid LIKE 'grant:%' AND database = current_database() "
        "ORDER BY prepared",
        {});
    for (const auto& row : rows.rows) {
      InDoubt item;
      item.database = target.database->name;
      item.target = target.label();
      item.gid = row[0].value_or("");
      item.prepared_at = row[1].value_or("");
      const auto key = item.gid.substr(0, item.gid.rfind(':'));
      // The decision lives on the database's first shard (or its only writer).
      auto& coordinator = coordinators[item.database];
      if (!coordinator) {
        coordinator = registry.checkout(registry::writers_of(*target.database).front());
      }
      if (coordinator->query("SELECT to_regclass($1) IS NOT NULL", {k_decisions}).scalar() == db::Value{"t"}) {
        const auto decision =
            coordinator->query(std::string("SELECT decision FROM ") + k_decisions + " WHERE gid = $1", {key});
        item.decision = decision.empty() ? "" : decision.scalar().value_or("");
      }
      item.action = options.force_commit ? "commit"
                    : options.force_abort ? "rollback"
                                          : (item.decision == "commit" ? "commit" : "rollback");
      if (!options.dry_run) {
        try {
          connection->execute(std::string(item.action == "commit" ? "COMMIT" : "ROLLBACK") + " PREPARED " +
                              connection->quote_literal(item.gid));
          item.done = true;
        } catch (const Error& error) {
          item.error = util::redact_secrets(error.what());
        }
      }
      out.push_back(std::move(item));
    }
  }
  return out;
}

} // namespace grant::migrate
