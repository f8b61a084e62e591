#include <grant/migrate/apply.hpp>

#include <grant/db/cancel.hpp>
#include <grant/db/sqlite_foreign_keys.hpp>
#include <grant/db/sqlstate.hpp>
#include <grant/migrate/blockers.hpp>
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

std::string duration_text(std::chrono::milliseconds value) {
  const auto ms = value.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// A statement of a migration failed; keeps the SQLSTATE so a lock timeout can be retried.
class StatementFailed : public Error {
public:
  StatementFailed(std::string what, std::string where, std::string hint, std::string sqlstate, std::size_t index,
                  bool lost)
      : Error(ErrorKind::database, std::move(what), std::move(where), std::move(hint)), m_sqlstate(std::move(sqlstate)),
        m_index(index), m_lost(lost) {}
  bool lock_timeout() const { return m_sqlstate == db::sqlstate::k_lock_not_available; }
  /// The failing statement's place in its section (0: the first).
  std::size_t index() const { return m_index; }
  bool connection_lost() const { return m_lost; }

private:
  std::string m_sqlstate;
  std::size_t m_index;
  bool m_lost;
};

// Indexes a failed CREATE INDEX CONCURRENTLY leaves behind: they are maintained on every write
// but never used, and a re-run trips over their names.
std::vector<std::string> invalid_indexes(db::Connection& connection) {
  std::vector<std::string> out;
  try {
    for (const auto& index : connection.engine().invalid_indexes(connection)) {
      out.push_back(index.display);
    }
  } catch (const Error&) {
  }
  return out;
}

struct Failure {
  const db::DbError& error;
  const Section& section;
  const util::SqlStatement& statement;
  const SessionLimits& limits;
  BlockerWatch* watch;
};

[[noreturn]] void fail_statement(db::Connection& connection, const Target& target, const Migration& migration,
                                 const Failure& failure) {
  const auto& error = failure.error;
  const auto& section = failure.section;
  const int file_line = failure.statement.first_line + std::max(error.details().line, 1) - 1;
  std::string message = target.label() + ": migration " + migration.display_name() + " failed: " + error.what();
  const auto statement = util::trim(failure.statement.text);
  if (!statement.empty()) {
    message += "\n  statement: " + std::string(statement.substr(0, 2000));
  }
  if (!error.sqlstate().empty()) {
    message += "\n  sqlstate: " + error.sqlstate();
  }
  std::string hint = "fix the migration and run grant again: migrations before it stay applied and recorded";
  if (error.sqlstate() == db::sqlstate::k_lock_not_available && failure.limits.lock_timeout &&
      failure.limits.lock_timeout->count() > 0) {
    message += "\n  waited: lock_timeout=" + duration_text(*failure.limits.lock_timeout) + ", " +
               std::to_string(failure.limits.retries + 1) + " attempt(s)";
    const auto blocker = failure.watch ? failure.watch->last() : std::nullopt;
    message += "\n  blocked by: " +
               (blocker ? blocker->describe() : std::string("a session that had gone by the time grant looked"));
    const auto& engine = connection.engine();
    const auto end_session = blocker ? engine.end_session_statement(blocker->pid) : std::string();
    hint = blocker ? "end or wait out session " + std::to_string(blocker->pid) +
                         (end_session.empty() ? "" : " (" + end_session + " if it is stuck)") +
                         ", or raise lock_timeout/retries, and run grant again"
                   : "find what holds the lock (" + engine.lock_view() +
                         "), or raise lock_timeout/retries, and run grant again";
  }
  const auto index = static_cast<std::size_t>(&failure.statement - section.statements.data());
  if (!connection.engine().traits().transactional_ddl) {
    const auto& engine_name = connection.engine().traits().display_name;
    if (index == 0 && !error.connection_lost()) {
      message += "\n  applied: nothing (the first statement failed)";
    } else {
      message +=
          "\n  applied: " +
          (index == 0 ? std::string("unknown (the connection was lost during the first statement)")
                      : "statements 1-" + std::to_string(index) + " of " + std::to_string(section.statements.size()) +
                            " stay applied (" + std::string(engine_name) + " commits DDL as it runs)") +
          (&section == &migration.up ? "; the version is recorded as dirty"
                                     : "; the version stays recorded as applied");
      hint = &section != &migration.up
                 ? "finish the rollback by hand (or fix the down section) and run it again"
                 : "undo those statements by hand (or make the file finish the job), then `grant repair` forgets the "
                   "failed run and `grant migrate` runs the file again from the start; an edited file also runs again "
                   "from the start";
    }
  } else if (!section.transaction && connection.engine().traits().invalid_indexes && !error.connection_lost()) {
    hint = "this section runs outside a transaction (transaction=false): statements before the failing one "
           "stay applied; make them idempotent (IF NOT EXISTS) and run grant again";
    const auto invalid = invalid_indexes(connection);
    if (!invalid.empty()) {
      message += "\n  invalid index left behind: " + util::join(invalid, ", ");
      hint = "drop the invalid index with DROP INDEX CONCURRENTLY, then run grant again (" + hint + ")";
    }
  }
  throw StatementFailed(message, section.file.string() + ":" + std::to_string(file_line), hint, error.sqlstate(), index,
                        error.connection_lost());
}

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

// Where DDL commits as it runs, what a signal left of a section: the statement it stopped
// (0-based) and, for an up section, whether the dirty row could be taken back.
struct Partial {
  std::size_t reached = 0;
  bool row_taken_back = false;
};

// Ctrl-C or SIGTERM stopped a section: says what that left, with the migration's name.
[[noreturn]] void interrupted(const Target& target, const Migration& migration, const Section& section, bool up,
                              std::string_view engine_name, std::optional<Partial> partial = std::nullopt) {
  const auto signal = db::cancel::signal_name(db::cancel::requested());
  std::string what = target.label() + ": " + (up ? "migration " : "rollback of ") + migration.display_name() +
                     " interrupted by " + signal;
  std::string hint = "run grant again to " + std::string(up ? "apply" : "revert") + " it";
  const std::string version_state = up ? "the version is recorded as dirty" : "the version stays recorded as applied";
  if (partial && partial->reached == 0) {
    what += ": its first statement was cancelled, so nothing of it was applied";
    if (up && !partial->row_taken_back) {
      what += "; " + version_state;
      hint = "`grant repair` forgets the interrupted run, then run grant again to apply it";
    } else if (!up) {
      what += "; " + version_state;
    }
  } else if (partial) {
    what += ": statements 1-" + std::to_string(partial->reached) + " of " + std::to_string(section.statements.size()) +
            " stay applied (" + std::string(engine_name) + " commits DDL as it runs); " + version_state;
    hint = up ? "undo those statements by hand (or make the file finish the job), then `grant repair` forgets the "
                "interrupted run and `grant migrate` runs the file again from the start"
              : "finish the rollback by hand (or make the down section safe to run again) and run it again";
  } else if (section.transaction) {
    what += ": rolled back, " + std::string(up ? "not applied" : "still applied");
  } else {
    what += ": it runs outside a transaction (transaction=false), so its statements before the cancelled one "
            "stay; the version is " +
            std::string(up ? "not recorded as applied" : "still recorded as applied");
    hint = "make its statements idempotent (IF NOT EXISTS) and " + hint;
  }
  throw db::Interrupted(what, section.file.string(), hint);
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
}

namespace {

// SQLite's foreign-key guard costs four statements per migration; a section that only creates
// empty objects cannot cascade or break a foreign key, so it goes without.
bool guards_foreign_keys(const Section& section) {
  return !std::all_of(section.statements.begin(), section.statements.end(),
                      [](const util::SqlStatement& statement) { return creates_only(statement.text); });
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
    Partial partial{reached, false};
    if (reached == 0) {
      const db::cancel::Shield cleanup; // after the signal: this must still reach the server
      try {
        connection.reset_session();
        tracker.remove(migration.version);
        partial.row_taken_back = true;
      } catch (const Error&) {
        // The row stays dirty: refused until `grant repair`, which is safe.
      }
    }
    interrupted(target, migration, migration.up, true, connection.engine().traits().display_name, partial);
  } catch (const StatementFailed& failure) {
    if (failure.index() == 0 && !failure.connection_lost()) {
      try {
        connection.reset_session();
        tracker.remove(migration.version);
      } catch (const Error&) {
        // The row stays dirty: refused until `grant repair`, which is safe.
      }
    }
    throw;
  }
  step.ms = util::elapsed_ms(start);
  tracker.clear_dirty(migration, step.ms, connection.reset_session_sql());
}

} // namespace

Step apply_up(db::Connection& connection, Tracker& tracker, const Target& target, const Migration& migration,
              const RunOptions& options, const EventSink& events) {
  Step step{migration.version, migration.name, 0, {}};
  if (options.dry_run) {
    step.sql = tracker.tracks_dirty()
                   ? "-- " + std::string(connection.engine().traits().display_name) +
                         " commits DDL as it runs: the version is recorded as dirty first\n" +
                         tracker.record_dirty_sql(migration) + "\n" + migration.up.sql +
                         (util::ends_with(migration.up.sql, "\n") ? "" : "\n") + tracker.clear_dirty_sql(migration)
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
    step.sql = transaction_wrapped(down, tracker.remove_sql(migration.version));
    return step;
  }
  if (events) {
    events({Event::Kind::reverting, target.label(), migration.display_name(), 0, {}});
  }
  const auto start = std::chrono::steady_clock::now();
  const bool transactional = connection.engine().traits().transactional_ddl;
  std::size_t reached = 0;
  try {
    with_retries(connection, target, migration, down, events, [&](const SessionLimits& limits, BlockerWatch* watch) {
      db::SqliteForeignKeysOff foreign_keys(connection, guards_foreign_keys(down)); // a table rebuild must not cascade
      const auto context = target.label() + ": rollback of " + migration.display_name();
      if (down.transaction && transactional) {
        db::Transaction transaction(connection);
        run_section(connection, target, migration, down, limits, watch);
        end_section(connection);
        forget_row(tracker, target, migration, "the down section was rolled back");
        foreign_keys.check(context);
        transaction.commit();
      } else {
        run_section(connection, target, migration, down, limits, watch, {}, &reached);
        foreign_keys.check(context);
        end_section(connection);
        forget_row(tracker, target, migration,
                   transactional
                       ? "the down section ran outside a transaction and stays applied"
                       : "the down section stays applied (" + std::string(connection.engine().traits().display_name) +
                             " commits DDL as it runs)");
      }
    });
  } catch (const db::Interrupted&) {
    interrupted(target, migration, down, false, connection.engine().traits().display_name,
                transactional ? std::nullopt : std::optional<Partial>(Partial{reached, false}));
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
