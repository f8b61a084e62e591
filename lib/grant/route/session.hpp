#pragma once

#include <grant/registry/endpoint.hpp>
#include <grant/route/balancer.hpp>
#include <grant/route/prevent_writes.hpp>

#include <optional>

namespace grant::route {

/// What a Router scope hands its function: one checked-out connection, the endpoint it goes to,
/// and, when writes are prevented (a reading scope, or any scope inside
/// Router::while_preventing_writes), the PreventWrites guard every statement passes through.
class Session {
public:
  Session(db::Connection& connection, const registry::Endpoint& endpoint, registry::Role role, bool prevent_writes,
          Fallback fallback = Fallback::none, bool kept_on_writer = false);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Runs a script (checked first when writes are prevented).
  void execute(std::string_view sql);
  /// Runs one statement with `$n` parameters (checked first when writes are prevented).
  db::Rows query(std::string_view sql, const db::Params& params = {});
  /// The connection itself, for db::Transaction and quoting in a writing scope. Throws (usage)
  /// while writes are prevented: statements sent to it directly would skip the check.
  db::Connection& connection();

  const registry::Endpoint& endpoint() const { return m_endpoint; }
  /// The role the scope asked for.
  registry::Role role() const { return m_role; }
  bool on_replica() const { return m_endpoint.role == registry::Role::reading; }
  bool preventing_writes() const { return m_guard.has_value(); }
  /// Why the balancer sent a read to the writer (none: it did not, or read-your-writes did).
  Fallback fallback() const { return m_fallback; }
  /// True when read-your-writes kept this read on the writer.
  bool kept_on_writer() const { return m_kept_on_writer; }

  /// Ends the read-only transaction of a prevent-writes session (the Router calls it).
  void finish() {
    if (m_guard) {
      m_guard->finish();
    }
  }

private:
  db::Connection& m_connection;
  const registry::Endpoint& m_endpoint;
  registry::Role m_role;
  std::optional<PreventWrites> m_guard;
  Fallback m_fallback;
  bool m_kept_on_writer;
};

} // namespace grant::route
