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

PreventWrites::PreventWrites(db::Connection& connection, db::Isolation isolation) : m_connection(connection) {
  m_transaction.emplace(connection, db::TxOptions{isolation, true});
  if (connection.dialect() == db::Dialect::postgres) {
    // Takes the transaction's snapshot: from here on PostgreSQL refuses to make it read-write.
    connection.query("SELECT 1");
  }
}

PreventWrites::~PreventWrites() {
  m_transaction.reset();
}

void PreventWrites::finish() {
  if (m_transaction) {
    m_transaction->rollback();
    m_transaction.reset();
  }
}

void PreventWrites::check(std::string_view sql) const {
  if (!m_transaction) {
    throw Error(ErrorKind::usage, target() + ": the prevent-writes scope has ended", target());
  }
  if (const auto verdict = check_writes(sql)) {
    throw WriteRefused(target(), verdict.keyword, verdict.statement);
  }
  if (auto keyword = leaves_read_only(sql); !keyword.empty()) {
    throw WriteRefused(target(), keyword + " (it would leave the scope's read-only transaction)",
                       std::string(util::trim(sql)));
  }
}

void PreventWrites::execute(std::string_view sql) {
  check(sql);
  m_connection.execute(sql);
}

db::Rows PreventWrites::query(std::string_view sql, const db::Params& params) {
  check(sql);
  return m_connection.query(sql, params);
}

} // namespace grant::route
