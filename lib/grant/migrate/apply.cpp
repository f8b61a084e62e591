#include <grant/migrate/apply.hpp>

#include <grant/db/cancel.hpp>
#include <grant/db/sqlite_foreign_keys.hpp>
#include <grant/db/sqlstate.hpp>
#include <grant/migrate/blockers.hpp>
#include <grant/migrate/section_failure.hpp>
#include <grant/migrate/statement_kind.hpp>
#include <grant/util/elapsed.hpp>
#include <grant/util/sql_split.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <random>
#include <thread>

namespace grant::migrate {

namespace {

// Bounds the section's statements: SET LOCAL inside a transaction, SET (undone by the session
// reset) outside one.
void apply_limits(db::Connection& connection, const Section& section, const SessionLimits& limits) {
  connection.engine().set_section_limits(connection, limits.lock_timeout, limits.statement_timeout,
                                         section.transaction);
}

// Resets the session when a migration fails: what it set before failing (outside a
// transaction) must not reach the next one or the pool. On success end_section() has reset it.
class SessionReset {
public:
  explicit SessionReset(db::Connection& connection)
      : m_connection(connection), m_exceptions(std::uncaught_exceptions()) {}
  ~SessionReset() {
    if (std::uncaught_exceptions() > m_exceptions && m_connection.is_usable() &&
        m_connection.transaction_depth() == 0) {
      try {
        m_connection.reset_session();
      } catch (const Error&) {
        // A session that cannot reset is broken; the pool discards it.
      }
    }
  }
  SessionReset(const SessionReset&) = delete;
  SessionReset& operator=(const SessionReset&) = delete;

private:
  db::Connection& m_connection;
  int m_exceptions;
};

std::string transaction_wrapped(const Section& section, const std::string& tracking_sql) {
  if (!section.transaction) {
    return "-- transaction=false: runs outside a transaction\n" + section.sql + "\n" + tracking_sql;
  }
  return "BEGIN;\n" + section.sql + (util::ends_with(section.sql, "\n") ? "" : "\n") + tracking_sql + "\nCOMMIT;";
}

// --dry-run where DDL commits as it runs: the section between the statements that make its
// version dirty (`how`: "recorded as", "marked") and that settle it.
std::string dirty_wrapped(const db::Connection& connection, const char* how, const std::string& before,
                          const Section& section, const std::string& after) {
  return "-- " + std::string(connection.engine().traits().display_name) + " commits DDL as it runs: the version is " +
         how + " dirty first\n" + before + "\n" + section.sql + (util::ends_with(section.sql, "\n") ? "" : "\n") +
         after;
}

// A down whose row is gone (someone else removed it) must not pass for a rollback.
// `left`: what became of the down section's statements ("the down section was rolled back").
void forget_row(Tracker& tracker, const Target& target, const Migration& migration, const std::string& left) {
  if (tracker.remove(migration.version) == 0) {
    throw Error(ErrorKind::database,
                target.label() + ": reverting " + migration.display_name() + " deleted no row of " + tracker.table() +
                    " (none has version " + migration.version + "); " + left,
                target.label(),
                "something other than grant (the down section itself?) deleted the row: check `grant status`");
  }
}

// Runs `attempt` (one try of a section plus its bookkeeping), again with backoff after a lock
// timeout while retries remain. Only transactional sections retry: they left nothing behind.
void with_retries(db::Connection& connection, const Target& target, const Migration& migration, const Section& section,
                  const EventSink& events, const std::function<void(const SessionLimits&, BlockerWatch*)>& attempt) {
  const auto limits = effective_limits(section, target.database->migrate);
  std::unique_ptr<BlockerWatch> watch;
  if (limits.lock_timeout && limits.lock_timeout->count() > 0 && connection.engine().traits().server_timeouts) {
    watch = std::make_unique<BlockerWatch>(target.endpoint.url, target.label(), connection.session_pid(),
                                           *limits.lock_timeout / 2);
  }
  std::optional<std::mt19937> jitter; // seeded at the first retry: most migrations never need one
  // A server that should have cancelled the statement by now and has not answered is gone.
  const auto grace = std::chrono::milliseconds(target.database->pool.connect_timeout_ms);
  const bool bounded = limits.statement_timeout && limits.statement_timeout->count() > 0;
  const db::ReplyTimeoutScope reply(connection,
                                    bounded ? *limits.statement_timeout + grace : std::chrono::milliseconds(0));
  for (int tried = 0;; ++tried) {
    SessionReset reset(connection);
    try {
      attempt(limits, watch.get());
      return;
    } catch (const StatementFailed& failure) {
      if (!failure.lock_timeout() || tried >= limits.retries || !section.transaction) {
        throw;
      }
    }
    const auto base = std::min<long long>(200LL << std::min(tried, 6), 10'000);
    if (!jitter) {
      jitter.emplace(std::random_device{}());
    }
    const auto wait = std::chrono::milliseconds(base + std::uniform_int_distribution<long long>(0, base / 2)(*jitter));
    if (events) {
      events({Event::Kind::note, target.label(), migration.display_name(), 0,
              "lock timeout; retry " + std::to_string(tried + 1) + " of " + std::to_string(limits.retries) + " in " +
                  std::to_string(wait.count()) + " ms"});
    }
    db::cancel::sleep_for(wait, target.label());
  }
}

} // namespace

void end_section(db::Connection& connection) {
  // Inside the migration's transaction: the reset commits (or prepares) with it, and grant's
  // bookkeeping that follows runs as grant, not as whatever role the migration chose.
  connection.reset_session();
}

void run_section(db::Connection& connection, const Target& target, const Migration& migration, const Section& section,
                 const SessionLimits& limits, BlockerWatch* watch, const std::function<void()>& between,
                 std::size_t* reached) {
  apply_limits(connection, section, limits);
  // One statement at a time: a failure names its statement and line without re-running anything.
  for (const auto& statement : section.statements) {
    if (between && !section.transaction && &statement != &section.statements.front()) {
      between();
    }
    if (reached) {
      *reached = static_cast<std::size_t>(&statement - section.statements.data());
    }
    auto* watching = watch;
    if (watching) {
      watching->statement_started();
    }
    try {
      connection.execute(statement.text);
    } catch (const db::DbError& error) {
      if (watching) {
        watching->statement_finished();
      }
      fail_statement(connection, target, migration, {error, section, statement, limits, watch});
    }
    if (watching) {
      watching->statement_finished();
    }
  }
  if (reached) {
    *reached = section.statements.size(); // all of them ran
  }
}

namespace {

// SQLite's foreign-key guard costs four statements per migration; a section that only creates
// empty objects cannot cascade or break a foreign key, so it goes without.
bool guards_foreign_keys(const Section& section) {
  return !std::all_of(section.statements.begin(), section.statements.end(),
                      [](const util::SqlStatement& statement) { return creates_only(statement.text); });
}

// Puts the tracking row back as it was before a section of which nothing ran (`restore`: the
// statement that does it); false when that failed too (the row stays dirty: refused until
// `grant repair`, which is safe).
bool take_back(db::Connection& connection, const std::string& restore) noexcept {
  const db::cancel::Shield cleanup; // after a signal: this must still reach the server
  try {
    connection.reset_session();
    connection.execute(restore);
    return true;
  } catch (...) {
    return false;
  }
}

// On an engine whose DDL commits as it runs: the version is dirty from before its first statement
// to after its last. When the first statement fails (or a signal cancels it) nothing was applied,
// and the row goes again.
void dirty_run(db::Connection& connection, Tracker& tracker, const Target& target, const Migration& migration,
               const SessionLimits& limits, BlockerWatch* watch, std::chrono::steady_clock::time_point start,
               Step& step) {
  tracker.record_dirty(migration);
  std::size_t reached = 0;
  try {
    run_section(connection, target, migration, migration.up, limits, watch, {}, &reached);
  } catch (const db::Interrupted&) {
    const bool taken_back = reached == 0 && take_back(connection, tracker.remove_sql(migration.version));
    interrupted(target, migration, migration.up, true, connection.engine().traits().display_name,
                Partial{reached, taken_back});
  } catch (const StatementFailed& failure) {
    if (failure.index() == 0 && !failure.connection_lost()) {
      take_back(connection, tracker.remove_sql(migration.version));
    }
    throw;
  }
  step.ms = util::elapsed_ms(start);
  tracker.clear_dirty(migration, step.ms, connection.reset_session_sql());
}

// A down section outside a transaction. Where DDL commits as it runs, the row is dirty from before
// its first statement to its deletion after the last; when the first fails (or a signal cancels
// it) nothing ran and the row is as it was.
void down_outside_transaction(db::Connection& connection, Tracker& tracker, const Target& target,
                              const Migration& migration, const SessionLimits& limits, BlockerWatch* watch,
                              std::size_t& reached, bool& row_restored) {
  const Section& down = *migration.down;
  const bool transactional = connection.engine().traits().transactional_ddl;
  std::string restore;
  if (tracker.tracks_dirty()) {
    try {
      restore = tracker.mark_dirty(migration);
    } catch (const db::Interrupted&) {
      row_restored = true; // cancelled before or during the UPDATE: the row was not changed
      throw;
    }
  }
  db::SqliteForeignKeysOff foreign_keys(connection, guards_foreign_keys(down)); // a table rebuild must not cascade
  try {
    run_section(connection, target, migration, down, limits, watch, {}, &reached);
  } catch (const StatementFailed& failure) {
    if (!restore.empty() && failure.index() == 0 && !failure.connection_lost()) {
      take_back(connection, restore);
    }
    throw;
  } catch (const db::Interrupted&) {
    row_restored = !restore.empty() && reached == 0 && take_back(connection, restore);
    throw;
  }
  foreign_keys.check(target.label() + ": rollback of " + migration.display_name());
  end_section(connection);
  forget_row(tracker, target, migration,
             transactional ? "the down section ran outside a transaction and stays applied"
                           : "the down section stays applied (" +
                                 std::string(connection.engine().traits().display_name) + " commits DDL as it runs)");
}

} // namespace

Step apply_up(db::Connection& connection, Tracker& tracker, const Target& target, const Migration& migration,
              const RunOptions& options, const EventSink& events) {
  Step step{migration.version, migration.name, 0, {}};
  if (options.dry_run) {
    step.sql = tracker.tracks_dirty() ? dirty_wrapped(connection, "recorded as", tracker.record_dirty_sql(migration),
                                                      migration.up, tracker.clear_dirty_sql(migration))
                                      : transaction_wrapped(migration.up, tracker.record_sql(migration));
    return step;
  }
  if (events) {
    events({Event::Kind::applying, target.label(), migration.display_name(), 0, {}});
  }
  try {
    with_retries(connection, target, migration, migration.up, events,
                 [&](const SessionLimits& limits, BlockerWatch* watch) {
                   const auto start = std::chrono::steady_clock::now();
                   db::SqliteForeignKeysOff foreign_keys(
                       connection, guards_foreign_keys(migration.up)); // a table rebuild must not cascade
                   const auto context = target.label() + ": migration " + migration.display_name();
                   if (tracker.tracks_dirty()) {
                     dirty_run(connection, tracker, target, migration, limits, watch, start, step);
                   } else if (migration.up.transaction) {
                     db::Transaction transaction(connection);
                     run_section(connection, target, migration, migration.up, limits, watch);
                     step.ms = util::elapsed_ms(start);
                     tracker.record(migration, step.ms, connection.reset_session_sql()); // end_section() and the row
                     foreign_keys.check(context);
                     transaction.commit();
                   } else {
                     std::function<void()> between;
                     if (options.throttle) {
                       between = [&] { options.throttle(target); };
                     }
                     run_section(connection, target, migration, migration.up, limits, watch, between);
                     foreign_keys.check(context);
                     step.ms = util::elapsed_ms(start);
                     tracker.record(migration, step.ms, connection.reset_session_sql());
                   }
                 });
  } catch (const db::Interrupted&) {
    if (tracker.tracks_dirty()) {
      throw; // dirty_run said what stays
    }
    interrupted(target, migration, migration.up, true, connection.engine().traits().display_name);
  }
  if (events) {
    events({Event::Kind::applied, target.label(), migration.display_name(), step.ms, {}});
  }
  return step;
}

Step apply_down(db::Connection& connection, Tracker& tracker, const Target& target, const Migration& migration,
                const RunOptions& options, const EventSink& events) {
  Step step{migration.version, migration.name, 0, {}};
  const Section& down = *migration.down;
  if (options.dry_run) {
    step.sql = tracker.tracks_dirty() ? dirty_wrapped(connection, "marked", tracker.mark_dirty_sql(migration), down,
                                                      tracker.remove_sql(migration.version))
                                      : transaction_wrapped(down, tracker.remove_sql(migration.version));
    return step;
  }
  if (events) {
    events({Event::Kind::reverting, target.label(), migration.display_name(), 0, {}});
  }
  const auto start = std::chrono::steady_clock::now();
  const bool transactional = connection.engine().traits().transactional_ddl;
  std::size_t reached = 0;
  bool row_restored = false;
  try {
    with_retries(connection, target, migration, down, events, [&](const SessionLimits& limits, BlockerWatch* watch) {
      if (down.transaction && transactional) {
        db::SqliteForeignKeysOff foreign_keys(connection, guards_foreign_keys(down)); // no cascade on a rebuild
        db::Transaction transaction(connection);
        run_section(connection, target, migration, down, limits, watch);
        end_section(connection);
        forget_row(tracker, target, migration, "the down section was rolled back");
        foreign_keys.check(target.label() + ": rollback of " + migration.display_name());
        transaction.commit();
      } else {
        down_outside_transaction(connection, tracker, target, migration, limits, watch, reached, row_restored);
      }
    });
  } catch (const db::Interrupted&) {
    interrupted(target, migration, down, false, connection.engine().traits().display_name,
                transactional ? std::nullopt : std::optional<Partial>(Partial{reached, row_restored}));
  }
  step.ms = util::elapsed_ms(start);
  if (events) {
    events({Event::Kind::reverted, target.label(), migration.display_name(), step.ms, {}});
  }
  return step;
}

void check_out_of_order(const Plan& plan, const MigrateOptions& options, const Target& target) {
  if (plan.out_of_order.empty() || options.allow_out_of_order) {
    return;
  }
  const auto* first = plan.out_of_order.front();
  throw ConfigError(target.label() + ": pending migration " + first->display_name() +
                        " is older than the newest applied version " + plan.current_version + " (out of order)",
                    first->up.file.string(), "apply it anyway with --allow-out-of-order, or give it a newer version");
}

void record_failure(TargetResult& result, const Error& error) {
  result.ok = false;
  result.error = util::redact_secrets(error.what());
  result.where = util::redact_secrets(error.where());
  result.hint = error.hint();
  result.exit_code = error.exit_code();
}

} // namespace grant::migrate
