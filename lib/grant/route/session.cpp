#include <grant/route/session.hpp>

namespace grant::route {

Session::Session(db::Connection& connection, const registry::Endpoint& endpoint, registry::Role role,
                 bool prevent_writes, Fallback fallback, bool kept_on_writer)
    : m_connection(connection), m_endpoint(endpoint), m_role(role), m_fallback(fallback),
      m_kept_on_writer(kept_on_writer) {
  if (prevent_writes) {
    m_guard.emplace(connection);
  }
}

void Session::execute(std::string_view sql) {
  if (m_guard) {
    m_guard->execute(sql);
  } else {
    m_connection.execute(sql);
  }
}

db::Rows Session::query(std::string_view sql, const db::Params& params) {
  return m_guard ? m_guard->query(sql, params) : m_connection.query(sql, params);
}

db::Connection& Session::connection() {
  if (m_guard) {
    throw Error(ErrorKind::usage,
                m_endpoint.label() + ": the raw connection is not available while writes are prevented",
                m_endpoint.label(), "send statements through Session::query / execute, which check them");
  }
  return m_connection;
}

} // namespace grant::route
