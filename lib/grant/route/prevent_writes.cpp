#include <grant/route/prevent_writes.hpp>

#include <grant/util/strings.hpp>
#include <grant/util/url.hpp>

namespace grant::route {

namespace {

std::string shortened(const std::string& statement) {
  constexpr std::size_t k_max = 200;
  return statement.size() <= k_max ? statement : statement.substr(0, k_max) + "...";
}

} // namespace

WriteRefused::WriteRefused(const std::string& target, std::string keyword, std::string statement)
    : Error(ErrorKind::usage,
            target + ": writes are prevented here; refused " + keyword +
                " before it reached the server: " + util::redact_secrets(shortened(statement)),
            target,
            "run it in a writing scope (Router::with_connection with Role::writing, outside "
            "while_preventing_writes)"),
      m_keyword(std::move(keyword)), m_statement(std::move(statement)) {}

PreventWrites::PreventWrites(db::Connection& connection, db::Isolation isolation)
    : m_connection(connection), m_isolation(isolation) {
  begin();
}

PreventWrites::~PreventWrites() {
  m_transaction.reset();
}

void PreventWrites::begin() {
  m_transaction.emplace(m_connection, db::TxOptions{m_isolation, true});
  m_connection.engine().pin_read_only(m_connection);
}

void PreventWrites::restart() {
  m_transaction->rollback(); // a read-only transaction has nothing to commit
  m_transaction.reset();
  begin();
}

void PreventWrites::finish() {
  if (m_transaction) {
    m_transaction->rollback();
    m_transaction.reset();
  }
}

WriteVerdict PreventWrites::check(std::string_view sql, TransactionEnds ends) {
  WriteVerdict verdict;
  if (auto writes = check_writes(sql)) {
    verdict.keyword = std::move(writes.keyword);
    verdict.statement = std::move(writes.statement);
    return verdict;
  }
  for (auto& statement : statements_of(sql)) {
    if (auto keyword = leaves_read_only(statement); !keyword.empty()) {
      if (ends == TransactionEnds::refuse || !ends_transaction(keyword)) {
        return {std::move(keyword), std::move(statement), true, false};
      }
      verdict.ends_transaction = true;
    }
  }
  return verdict;
}

bool PreventWrites::guard(std::string_view sql) const {
  if (!m_transaction) {
    throw Error(ErrorKind::usage, target() + ": the prevent-writes scope has ended", target());
  }
  auto verdict = check(sql);
  if (verdict.refused()) {
    if (verdict.leaves) {
      verdict.keyword += " (it would leave the scope's read-only transaction)";
    }
    throw WriteRefused(target(), std::move(verdict.keyword), std::move(verdict.statement));
  }
  return verdict.ends_transaction;
}

void PreventWrites::execute(std::string_view sql) {
  if (!guard(sql)) {
    m_connection.execute(sql);
    return;
  }
  for (const auto& statement : statements_of(sql)) {
    if (ends_transaction(leaves_read_only(statement))) {
      restart();
    } else {
      m_connection.execute(statement);
    }
  }
}

db::Rows PreventWrites::query(std::string_view sql, const db::Params& params) {
  if (guard(sql)) {
    if (statements_of(sql).size() != 1) {
      throw Error(ErrorKind::usage, target() + ": query() takes one statement; use execute() for a script", target());
    }
    restart();
    return {};
  }
  return m_connection.query(sql, params);
}

} // namespace grant::route
