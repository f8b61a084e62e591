#include <grant/migrate/atomic.hpp>

#include <grant/db/cancel.hpp>
#include <grant/db/engine.hpp>
#include <grant/migrate/apply.hpp>
#include <grant/migrate/lock.hpp>
#include <grant/migrate/runner.hpp>
#include <grant/migrate/tracking.hpp>
#include <grant/twophase/setup.hpp>
#include <grant/twophase/transaction.hpp>
#include <grant/util/elapsed.hpp>
#include <grant/util/parallel_for.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <atomic>
#include <map>

namespace grant::migrate {

namespace {

struct Member {
  Target target;
  registry::PooledConnection connection;
  std::unique_ptr<Tracker> tracker;
  std::unique_ptr<MigrationLock> lock;
  TargetResult result;
};

class DatabaseRun {
public:
  DatabaseRun(registry::Registry& registry, const std::vector<Target>& targets, const std::vector<Migration>& files,
              const MigrateOptions& options, const EventSink& events)
      : m_registry(registry), m_files(files), m_options(options), m_events(events) {
    for (const auto& target : targets) {
      Member member;
      member.target = target;
      member.result.target = target;
      m_members.push_back(std::move(member));
    }
  }

  std::vector<TargetResult> run() {
    try {
      open();
      for (const auto& migration : m_files) {
        if (m_options.to && compare_versions(migration.version, *m_options.to) > 0) {
          break;
        }
        if (!apply(migration)) {
          break;
        }
      }
    } catch (const Error& error) {
      fail_all(error, error.where());
    }
    std::vector<TargetResult> results;
    const db::cancel::Shield summary; // after Ctrl-C too
    forget_finished();
    for (auto& member : m_members) {
      if (member.result.ok && member.tracker && member.connection && member.connection->is_usable()) {
        try {
          const auto applied = member.tracker->applied();
          member.result.current_version = applied.empty() ? "" : applied.back().version;
        } catch (const Error&) {
        }
      }
      results.push_back(std::move(member.result));
    }
    return results;
  }

private:
  int jobs() const { return effective_jobs(m_options.jobs, m_members.size()); }

  void open() {
    util::parallel_for(m_members.size(), jobs(), [&](std::size_t i) {
      m_members[i].connection = m_registry.checkout(m_members[i].target.endpoint);
    });
    // Locks in shard order, so two atomic runs cannot deadlock on each other.
    for (auto& member : m_members) {
      if (!m_options.dry_run) {
        member.lock = MigrationLock::acquire(*member.connection, member.target.endpoint.url,
                                             member.target.database->migrations_table, m_options.lock_timeout,
                                             [&](const std::string& holder) {
                                               if (m_events) {
                                                 m_events({Event::Kind::waiting_lock,
                                                           member.target.label(),
                                                           {},
                                                           0,
                                                           "waiting for the migration lock held by " + holder});
                                               }
                                             });
      }
    }
    util::parallel_for(m_members.size(), jobs(), [&](std::size_t i) {
      auto& member = m_members[i];
      if (!m_options.dry_run) {
        refuse_in_doubt(*member.connection, member.target);
      }
      member.tracker = std::make_unique<Tracker>(*member.connection, member.target.database->migrations_table);
      if (!m_options.dry_run) {
        member.tracker->ensure();
      }
    });
    // The first selected shard coordinates: its name rides in every transaction id, so
    // `recover` finds the decision whatever subset a later command selects.
    m_log = std::make_unique<twophase::DecisionLog>(*m_members.front().connection);
    if (!m_options.dry_run) {
      m_log->ensure();
    }
    for (auto& member : m_members) {
      m_plans.push_back(make_plan(m_files, member.tracker->applied()));
      check_out_of_order(m_plans.back(), m_options, member.target);
    }
  }

  std::vector<std::size_t> pending_for(const Migration& migration) const {
    std::vector<std::size_t> pending;
    for (std::size_t i = 0; i < m_members.size(); ++i) {
      if (std::find(m_plans[i].pending.begin(), m_plans[i].pending.end(), &migration) != m_plans[i].pending.end()) {
        pending.push_back(i);
      }
    }
    return pending;
  }

  // Applies one version on every member that lacks it; false stops the run.
  bool apply(const Migration& migration) {
    const auto pending = pending_for(migration);
    if (pending.empty()) {
      return true;
    }
    if (m_options.dry_run) {
      for (const auto i : pending) {
        auto& member = m_members[i];
        member.result.steps.push_back(
            apply_up(*member.connection, *member.tracker, member.target, migration, m_options, m_events));
      }
      return true;
    }
    std::vector<twophase::Participant> participants;
    for (const auto i : pending) {
      participants.push_back({m_members[i].target.endpoint.shard, &*m_members[i].connection});
    }
    twophase::Options options;
    options.jobs = jobs();
    options.reply_timeout = m_options.commit_timeout;
    options.finished = &m_finished;
    std::vector<registry::Endpoint> endpoints;
    for (const auto i : pending) {
      endpoints.push_back(m_members[i].target.endpoint);
    }
    endpoints.push_back(m_members.front().target.endpoint); // the coordinator
    m_spares.clear();
    options.reconnect = twophase::reconnect_through(m_registry, std::move(endpoints), pending.size(), m_spares);
    twophase::DistributedTransaction transaction(m_members.front().target.database->name, migration.version,
                                                 {m_members.front().target.endpoint.shard, m_log.get()},
                                                 std::move(participants), std::move(options));
    const auto start = std::chrono::steady_clock::now();
    std::atomic<std::size_t> culprit{pending.size()};
    try {
      transaction.execute([&](std::size_t index, db::Connection& connection) {
        auto& member = m_members[pending[index]];
        if (m_events) {
          m_events({Event::Kind::applying, member.target.label(), migration.display_name(), 0, "prepare"});
        }
        try {
          const auto section_start = std::chrono::steady_clock::now();
          run_section(connection, member.target, migration, migration.up,
                      effective_limits(migration.up, member.target.database->migrate));
          // The session reset (end_section) and the row ride with PREPARE TRANSACTION: one round
          // trip, inside the prepared transaction.
          transaction.prepare_with(index, connection.reset_session_sql() + " " +
                                              member.tracker->record_sql(migration, util::elapsed_ms(section_start)));
        } catch (const Error&) {
          std::size_t none = pending.size();
          culprit.compare_exchange_strong(none, index);
          throw;
        }
      });
    } catch (const twophase::InDoubtError& error) {
      record_in_doubt(migration, pending, transaction, error);
      return false;
    } catch (const Error& error) {
      fail_all(error, culprit < pending.size() ? m_members[pending[culprit]].target.label() : error.where());
      return false;
    }
    const auto ms = util::elapsed_ms(start);
    for (const auto i : pending) {
      auto& member = m_members[i];
      member.result.steps.push_back({migration.version, migration.name, ms, {}});
      if (m_events) {
        m_events(
            {Event::Kind::applied, member.target.label(), migration.display_name(), ms, "committed on all shards"});
      }
    }
    return sessions_intact(migration);
  }

  // The decision rows of versions committed on every shard that no later decision insert
  // deleted: the last one, or all after a failure. A row left behind (coordinator lost) is
  // harmless: no prepared transaction refers to it.
  void forget_finished() {
    if (!m_log || m_finished.empty() || !m_log->connection().is_usable()) {
      return;
    }
    try {
      const db::ReplyTimeoutScope bound(m_log->connection(), m_options.commit_timeout);
      m_log->forget(m_finished);
      m_finished.clear();
    } catch (const Error&) {
    }
  }

  // A lost session took its migration lock with it: going on could race another run.
  bool sessions_intact(const Migration& migration) {
    for (auto& member : m_members) {
      if (!member.connection->is_usable()) {
        const Error error(ErrorKind::database,
                          member.target.label() + ": the connection (and the migration lock it held) was lost; " +
                              migration.display_name() +
                              " is committed on every shard, later versions were not applied",
                          member.target.label(), "run grant migrate --atomic again for the rest");
        record_failure(member.result, error);
        return false;
      }
    }
    return true;
  }

  void record_in_doubt(const Migration& migration, const std::vector<std::size_t>& pending,
                       const twophase::DistributedTransaction& transaction, const twophase::InDoubtError& error) {
    for (std::size_t index = 0; index < pending.size(); ++index) {
      auto& member = m_members[pending[index]];
      const auto state = transaction.states()[index];
      if (state == twophase::State::committed) {
        // Committed here, as the decision says; the shards in doubt carry the error.
        member.result.steps.push_back({migration.version, migration.name, 0, {}});
        if (m_events) {
          m_events({Event::Kind::applied, member.target.label(), migration.display_name(), 0,
                    "committed; other shards are in doubt"});
        }
      } else {
        record_failure(member.result, error);
        member.result.error = migration.display_name() + " is prepared but in doubt (" + transaction.gid(index) +
                              "): " + util::redact_secrets(error.what());
      }
    }
  }

  void fail_all(const Error& error, const std::string& culprit) {
    // An error that is no shard's own (a migration file, say) is every shard's.
    const bool one_shard = std::any_of(m_members.begin(), m_members.end(),
                                       [&](const Member& member) { return member.target.label() == culprit; });
    for (auto& member : m_members) {
      if (member.target.label() == culprit || !one_shard) {
        record_failure(member.result, error);
      } else if (member.result.ok) {
        member.result.ok = false;
        member.result.exit_code = error.exit_code();
        member.result.error = "rolled back: " + culprit + " failed (--atomic: all shards or none)";
      }
    }
  }

  registry::Registry& m_registry;
  const std::vector<Migration>& m_files;
  const MigrateOptions& m_options;
  const EventSink& m_events;
  std::vector<Member> m_members;
  std::vector<Plan> m_plans;
  std::unique_ptr<twophase::DecisionLog> m_log;
  std::deque<registry::PooledConnection> m_spares; ///< fresh sessions after a lost one (twophase reconnect)
  std::vector<std::string> m_finished;             ///< decision keys of committed versions not yet deleted
};

} // namespace

std::vector<TargetResult> migrate_atomic(registry::Registry& registry, const Workload& work,
                                         const MigrateOptions& options, const EventSink& events) {
  // Refuse before any database is touched: every target must take prepared transactions, and no
  // pending migration may need to run outside a transaction.
  for (const auto& target : work.targets) {
    if (const auto& traits = db::traits_for(target.endpoint.url); !traits.prepared_transactions) {
      const std::string name(traits.display_name);
      throw ConfigError("--atomic needs PostgreSQL (prepared transactions); " + target.label() + " is " + name,
                        target.label(),
                        db::traits_for(target.endpoint.url).transactional_ddl
                            ? "run without --atomic for " + name + " databases"
                            : "run without --atomic: " + name +
                                  " commits DDL as it runs, so no two-phase commit can hold a migration back");
    }
  }
  util::parallel_for(work.targets.size(), effective_jobs(options.jobs, work.targets.size()), [&](std::size_t i) {
    const auto& target = work.targets[i];
    auto connection = registry.checkout(target.endpoint);
    twophase::require_prepared_transactions(*connection, target.label(), "--atomic", "run without --atomic");
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
  });
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
    auto database_results = DatabaseRun(registry, by_database[name], work.files.at(name), options, events).run();
    std::move(database_results.begin(), database_results.end(), std::back_inserter(results));
  }
  return results;
}

} // namespace grant::migrate
