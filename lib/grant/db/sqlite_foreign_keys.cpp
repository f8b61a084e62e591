#include <grant/db/sqlite_foreign_keys.hpp>

namespace grant::db {

SqliteForeignKeysOff::SqliteForeignKeysOff(Connection& connection, bool needed) : m_connection(connection) {
  if (!needed || connection.dialect() != Dialect::sqlite || connection.transaction_depth() > 0) {
    return;
  }
  if (connection.query("PRAGMA foreign_keys").scalar() == Value("1")) {
    connection.execute("PRAGMA foreign_keys = OFF");
    m_restore = true;
  }
}

SqliteForeignKeysOff::~SqliteForeignKeysOff() {
  if (!m_restore || !m_connection.is_usable()) {
    return;
  }
  try {
    m_connection.execute("PRAGMA foreign_keys = ON");
  } catch (...) {
    // Never throw from a destructor. Still inside a transaction (an abandoned COMMIT) the pragma
    // is a no-op anyway, and the pool discards such a connection.
  }
}

void SqliteForeignKeysOff::check(const std::string& context) {
  if (!m_restore) {
    return;
  }
  const auto violations = m_connection.query("PRAGMA foreign_key_check");
  if (violations.empty()) {
    return;
  }
  constexpr std::size_t k_shown = 5;
  std::string message = (context.empty() ? "" : context + ": ") + std::to_string(violations.size()) +
                        " row(s) violate a foreign key after the migration:";
  for (std::size_t i = 0; i < violations.size() && i < k_shown; ++i) {
    const auto field = [&](std::size_t column) {
      const auto& value = violations.at(i, column);
      return value ? *value : std::string("NULL");
    };
    message += "\n  table " + field(0) + " rowid " + field(1) + " references missing rows of " + field(2);
  }
  if (violations.size() > k_shown) {
    message += "\n  ...";
  }
  DbError::Details details;
  details.target = m_connection.target();
  details.statement = "PRAGMA foreign_key_check";
  throw DbError(message, details,
                "the migration rolled back; copy or fix the referenced rows in the migration before it drops or "
                "renames their table");
}

} // namespace grant::db
