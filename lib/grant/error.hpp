#pragma once

#include <stdexcept>
#include <string>

namespace grant {

/// What kind of failure: picks the process exit code (CONTRACT.md "Exit codes").
enum class ErrorKind {
  check = 1,         ///< a check found problems
  usage = 2,         ///< usage or configuration error: nothing was touched
  database = 3,      ///< a database operation failed during the run
  interrupted = 130, ///< stopped by SIGINT (the CLI exits 128 + the signal: 143 for SIGTERM)
};

/// The project's one exception type. `where` says where (file:line, key path, target);
/// `hint` says how to fix it, when a fix is known.
class Error : public std::runtime_error {
public:
  Error(ErrorKind kind, std::string what, std::string where = {}, std::string hint = {})
      : std::runtime_error(std::move(what)), m_kind(kind), m_where(std::move(where)), m_hint(std::move(hint)) {}

  ErrorKind kind() const noexcept { return m_kind; }
  int exit_code() const noexcept { return static_cast<int>(m_kind); }
  const std::string& where() const noexcept { return m_where; }
  const std::string& hint() const noexcept { return m_hint; }

private:
  ErrorKind m_kind;
  std::string m_where;
  std::string m_hint;
};

/// A configuration or usage error (exit 2).
class ConfigError : public Error {
public:
  ConfigError(std::string what, std::string where = {}, std::string hint = {})
      : Error(ErrorKind::usage, std::move(what), std::move(where), std::move(hint)) {}
};

} // namespace grant
