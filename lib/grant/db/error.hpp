#pragma once

#include <grant/error.hpp>

#include <string>

namespace grant::db {

/// A failed database operation (exit 3), with what the server said and where it happened.
/// Messages are redacted before they get here: no password ever rides on a DbError.
class DbError : public Error {
public:
  struct Details {
    std::string target;           ///< e.g. "orders/s1", or the redacted URL
    std::string statement;        ///< the SQL that failed, if any
    std::string sqlstate;         ///< PostgreSQL SQLSTATE, e.g. "42P01"
    int sqlite_code = 0;          ///< SQLite extended result code
    bool connection_lost = false; ///< the connection cannot be used again
    int line = 0;                 ///< 1-based line inside `statement` the server pointed at, 0 if unknown
  };

  DbError(std::string what, Details details, std::string hint = {})
      : Error(ErrorKind::database, std::move(what), details.target, std::move(hint)), m_details(std::move(details)) {}

  const Details& details() const noexcept { return m_details; }
  const std::string& target() const noexcept { return m_details.target; }
  const std::string& statement() const noexcept { return m_details.statement; }
  const std::string& sqlstate() const noexcept { return m_details.sqlstate; }
  bool connection_lost() const noexcept { return m_details.connection_lost; }

private:
  Details m_details;
};

} // namespace grant::db
