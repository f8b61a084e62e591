#include <grant/migrate/apply.hpp>

#include <grant/migrate/sql_split.hpp>
#include <grant/util/strings.hpp>

#include <chrono>

namespace grant::migrate {

namespace {

long long elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

// The statement of a script that line `line` (1-based) falls in.
std::string statement_at(std::string_view script, int line) {
  std::string out;
  for (const auto& statement : split_statements(script)) {
    if (statement.first_line > line) {
      break;
    }
    out = statement.text;
  }
  return out;
}

[[noreturn]] void fail_section(const db::DbError& error, const Target& target, const Migration& migration,
                               const Section& section, int statement_line) {
  const int line_in_section = statement_line - 1 + std::max(error.details().line, 1);
  const int file_line = section.first_line + line_in_section - 1;
  std::string message = target.label() + ": migration " + migration.display_name() + " failed: " + error.what();
  auto statement = error.statement();
  if (statement.size() >= section.sql.size() && util::ends_with(statement, section.sql)) {
    // The whole section ran as one script: show the statement the error points into, when known.
    const auto single = split_statements(section.sql).size() == 1;
    statement = error.details().line > 0 || single ? statement_at(section.sql, line_in_section) : "";
  }
  if (!statement.empty() && statement.size() < 2000) {
    message += "\n  statement: " + std::string(util::trim(statement));
  }
  if (!error.sqlstate().empty()) {
    message += "\n  sqlstate: " + error.sqlstate();
  }
  std::string hint = "fix the migration and run grant again: migrations before it stay applied and recorded";
  if (!section.transaction) {
    hint = "this section runs outside a transaction (transaction=false): statements before the failing one "
           "stay applied; make them idempotent (IF NOT EXISTS) and run grant again";
  }
  throw Error(ErrorKind::database, message, section.file.string() + ":" + std::to_string(file_line), hint);
}

// PostgreSQL runs a multi-statement script in one go and, for an error without a position
// ("relation already exists"), does not say which statement failed. Replay the statements one by
// one from the savepoint to find it; the caller's transaction rolls back all the same.
void locate_failure(db::Connection& connection, const Target& target, const Migration& migration,
                    const Section& section, const std::vector<SqlStatement>& statements, const db::DbError& error) {
  try {
    connection.execute("ROLLBACK TO SAVEPOINT grant_section");
  } catch (const db::DbError&) {
    return;
  }
  for (const auto& statement : statements) {
    try {
      connection.execute(statement.text);
    } catch (const db::DbError& again) {
      if (again.sqlstate() == error.sqlstate()) {
        fail_section(again, target, migration, section, statement.first_line);
      }
      return;
    }
  }
}

void run_statements(db::Connection& connection, const Target& target, const Migration& migration,
                    const Section& section) {
  for (const auto& statement : split_statements(section.sql)) {
    try {
      connection.execute(statement.text);
    } catch (const db::DbError& error) {
      fail_section(error, target, migration, section, statement.first_line);
    }
  }
}

std::string transaction_wrapped(const Section& section, const std::string& tracking_sql) {
  if (!section.transaction) {
    return "-- transaction=false: runs outside a transaction\n" + section.sql + "\n" + tracking_sql;
  }
  return "BEGIN;\n" + section.sql + (util::ends_with(section.sql, "\n") ? "" : "\n") + tracking_sql + "\nCOMMIT;";
}

// A down whose row is gone (someone else removed it) must not pass for a rollback.
void forget_row(Tracker& tracker, const Target& target, const Migration& migration) {
  if (tracker.remove(migration.version) == 0) {
    throw Error(ErrorKind::database,
                target.label() + ": reverting " + migration.display_name() + " deleted no row of " + tracker.table() +
                    " (none has version " + migration.version + ")" +
                    (migration.down->transaction ? "; the down section was rolled back"
                                                 : "; the down section ran outside a transaction and stays applied"),
                target.label(), "something other than grant (the down section itself?) deleted the row: check `grant status`");
  }
}

} // namespace

void run_section(db::Connection& connection, const Target& target, const Migration& migration, const Section& section) {
  // The savepoint rides in the same message as the section (same line, so the server's line
  // numbers still match the file): locating a failure costs no round trip when nothing fails.
  const bool postgres = connection.dialect() == db::Dialect::postgres;
  try {
    connection.execute(postgres ? "SAVEPOINT grant_section; " + section.sql : section.sql);
  } catch (const db::DbError& error) {
    if (postgres && error.details().line == 0 && !error.connection_lost()) {
      const auto statements = split_statements(section.sql);
      if (statements.size() > 1) {
        locate_failure(connection, target, migration, section, statements, error);
      }
    }
    fail_section(error, target, migration, section, 1);
  }
}

Step apply_up(db::Connection& connection, Tracker& tracker, const Target& target, const Migration& migration,
              const RunOptions& options, const EventSink& events) {
  Step step{migration.version, migration.name, 0, {}};
  if (options.dry_run) {
    step.sql = transaction_wrapped(migration.up, tracker.record_sql(migration));
    return step;
  }
  if (events) {
    events({Event::Kind::applying, target.label(), migration.display_name(), 0, {}});
  }
  const auto start = std::chrono::steady_clock::now();
  if (migration.up.transaction) {
    db::Transaction transaction(connection);
    run_section(connection, target, migration, migration.up);
    step.ms = elapsed_ms(start);
    tracker.record(migration, step.ms);
    transaction.commit();
  } else {
    run_statements(connection, target, migration, migration.up);
    step.ms = elapsed_ms(start);
    tracker.record(migration, step.ms);
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
  if (down.transaction) {
    db::Transaction transaction(connection);
    run_section(connection, target, migration, down);
    forget_row(tracker, target, migration); // throws before the commit: the down rolls back
    transaction.commit();
  } else {
    run_statements(connection, target, migration, down);
    forget_row(tracker, target, migration);
  }
  step.ms = elapsed_ms(start);
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
                    first->up.file.string(),
                    "apply it anyway with --allow-out-of-order, or give it a newer version");
}

void record_failure(TargetResult& result, const Error& error) {
  result.ok = false;
  result.error = util::redact_secrets(error.what());
  result.where = util::redact_secrets(error.where());
  result.hint = error.hint();
  result.exit_code = error.exit_code();
}

} // namespace grant::migrate
