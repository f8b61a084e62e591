#pragma once
// What a migration section that failed or was interrupted says: the statement, its file:line,
// the server's message, what stays applied (where DDL commits as it runs), the blocker of a lock
// timeout, and the hint. Used by migrate/apply.cpp.

#include <grant/db/connection.hpp>
#include <grant/db/sqlstate.hpp>
#include <grant/error.hpp>
#include <grant/migrate/apply.hpp>
#include <grant/util/sql_split.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace grant::migrate {

class BlockerWatch;

/// A statement of a migration failed; keeps the SQLSTATE so a lock timeout can be retried.
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

/// The failing statement of a section, and what bounded it.
struct Failure {
  const db::DbError& error;
  const Section& section;
  const util::SqlStatement& statement;
  const SessionLimits& limits;
  BlockerWatch* watch;
};

/// Throws the StatementFailed for `failure`: message, file:line, SQLSTATE, what stays applied, hint.
[[noreturn]] void fail_statement(db::Connection& connection, const Target& target, const Migration& migration,
                                 const Failure& failure);

/// Where DDL commits as it runs, what a signal left of a section: the statement it stopped
/// (0-based) and, for an up section, whether the dirty row could be taken back.
struct Partial {
  std::size_t reached = 0;
  bool row_taken_back = false;
};

/// Throws the db::Interrupted that says what a signal left of `section` (with `partial` where DDL
/// commits as it runs).
[[noreturn]] void interrupted(const Target& target, const Migration& migration, const Section& section, bool up,
                              std::string_view engine_name, std::optional<Partial> partial = std::nullopt);

} // namespace grant::migrate
