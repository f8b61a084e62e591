#include <grant/migrate/section_failure.hpp>

#include <grant/db/cancel.hpp>
#include <grant/db/sqlstate.hpp>
#include <grant/migrate/blockers.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <chrono>

namespace grant::migrate {

namespace {

std::string duration_text(std::chrono::milliseconds value) {
  const auto ms = value.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

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

} // namespace

void fail_statement(db::Connection& connection, const Target& target, const Migration& migration,
                    const Failure& failure) {
  const auto& error = failure.error;
  const auto& section = failure.section;
  const int file_line = failure.statement.first_line + std::max(error.details().line, 1) - 1;
  std::string message = target.label() + (&section == &migration.up ? ": migration " : ": rollback of ") +
                        migration.display_name() + " failed: " + error.what();
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
          "; the version is recorded as dirty";
      hint = &section != &migration.up
                 ? "finish the rollback by hand (the down section's statements from " + std::to_string(index + 1) +
                       " on), then `grant repair` forgets the version, which is then not applied"
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

// Ctrl-C or SIGTERM stopped a section: says what that left, with the migration's name.
void interrupted(const Target& target, const Migration& migration, const Section& section, bool up,
                 std::string_view engine_name, std::optional<Partial> partial) {
  const auto signal = db::cancel::signal_name(db::cancel::requested());
  std::string what = target.label() + ": " + (up ? "migration " : "rollback of ") + migration.display_name() +
                     " interrupted by " + signal;
  std::string hint = "run grant again to " + std::string(up ? "apply" : "revert") + " it";
  if (partial && partial->reached == 0) {
    what += ": its first statement was cancelled, so nothing of it was applied";
    if (!partial->row_taken_back) {
      what += "; the version is recorded as dirty";
      hint = up ? "`grant repair` forgets the interrupted run, then run grant again to apply it"
                : "nothing of the rollback ran and the version is still applied: set its row clean by hand "
                  "(dirty = false; `grant repair` would forget it as not applied), then run the rollback again";
    } else if (!up) {
      what += "; the version stays recorded as applied";
    }
  } else if (partial) {
    what += ": statements 1-" + std::to_string(partial->reached) + " of " + std::to_string(section.statements.size()) +
            " stay applied (" + std::string(engine_name) + " commits DDL as it runs); the version is recorded as dirty";
    hint = up ? "undo those statements by hand (or make the file finish the job), then `grant repair` forgets the "
                "interrupted run and `grant migrate` runs the file again from the start"
              : "finish the rollback by hand (the down section's statements from " +
                    std::to_string(partial->reached + 1) +
                    " on), then `grant repair` forgets the version, which is then not applied";
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

} // namespace grant::migrate
