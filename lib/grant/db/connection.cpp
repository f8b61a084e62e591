#include <grant/db/connection.hpp>

#include <grant/db/cancel.hpp>

#include <grant/util/sql_lexer.hpp>
#include <grant/util/strings.hpp>

namespace grant::db {

Value Rows::scalar() const {
  if (rows.size() != 1 || rows.front().size() != 1) {
    throw Error(ErrorKind::database, "expected one value, got " + std::to_string(rows.size()) + " rows");
  }
  return rows.front().front();
}

Transaction::Transaction(Connection& connection, const TxOptions& options)
    : m_connection(connection), m_level(connection.m_depth + 1) {
  if (m_level == 1) {
    m_connection.begin_transaction(options);
  } else {
    m_connection.execute("SAVEPOINT " + savepoint_name());
  }
  m_connection.m_depth = m_level;
}

Transaction::~Transaction() {
  if (!m_open) {
    return;
  }
  const cancel::Shield cleanup; // rolls back even after Ctrl-C
  try {
    rollback();
  } catch (...) {
    // A broken connection cannot roll back; the server does it when the session ends, and the
    // pool discards the connection because is_usable() is false.
    m_connection.m_depth = m_level - 1;
  }
}

std::string Transaction::savepoint_name() const {
  return "grant_sp_" + std::to_string(m_level);
}

void Transaction::commit() {
  if (!m_open) {
    throw Error(ErrorKind::database, "transaction already finished", m_connection.target());
  }
  m_open = false;
  m_connection.m_depth = m_level - 1;
  if (m_level == 1) {
    try {
      m_connection.execute("COMMIT");
    } catch (...) {
      after_failed_commit();
      throw;
    }
    m_connection.after_transaction();
  } else {
    m_connection.execute("RELEASE SAVEPOINT " + savepoint_name());
  }
}

// A failed COMMIT may leave the transaction open (SQLite keeps it after SQLITE_BUSY, so that the
// COMMIT can be retried): roll it back, and when even that fails, nobody may reuse the session.
void Transaction::after_failed_commit() noexcept {
  const cancel::Shield cleanup;
  try {
    m_connection.execute("ROLLBACK");
  } catch (...) {
    m_connection.m_abandoned = true;
  }
  try {
    m_connection.after_transaction();
  } catch (...) {
    m_connection.m_abandoned = true;
  }
}

void Transaction::rollback() {
  if (!m_open) {
    return;
  }
  const cancel::Shield cleanup;
  m_open = false;
  m_connection.m_depth = m_level - 1;
  if (m_level == 1) {
    try {
      m_connection.execute("ROLLBACK");
    } catch (...) {
      m_connection.after_transaction();
      throw;
    }
    m_connection.after_transaction();
  } else {
    m_connection.execute("ROLLBACK TO SAVEPOINT " + savepoint_name());
    m_connection.execute("RELEASE SAVEPOINT " + savepoint_name());
  }
}

std::unique_ptr<Connection> connect(const util::DatabaseUrl& url, const ConnectOptions& options) {
  cancel::check(options.target.empty() ? url.redacted() : options.target);
  return engine_for(url).connect(url, options);
}

std::string leading_keyword(std::string_view sql) {
  util::SqlLexer lexer(sql);
  while (!lexer.done()) {
    const auto token = lexer.next();
    const auto text = lexer.text(token);
    if (token.kind == util::SqlTokenKind::word) {
      return util::to_lower(text);
    }
    if (token.kind != util::SqlTokenKind::space && token.kind != util::SqlTokenKind::comment && text != "(") {
      return {};
    }
  }
  return {};
}

bool is_query_statement(std::string_view sql) {
  const auto word = leading_keyword(sql);
  return word == "select" || word == "values" || word == "table" || word == "with";
}

} // namespace grant::db
