#pragma once

#include <grant/registry/registry.hpp>
#include <grant/twophase/transaction.hpp>

#include <deque>
#include <string>
#include <vector>

namespace grant::twophase {

/// Throws ConfigError naming `label` when the server of `connection` cannot prepare transactions
/// (max_prepared_transactions = 0). `what` names the feature that needs them ("--atomic"),
/// `otherwise` says what to do instead.
void require_prepared_transactions(db::Connection& connection, const std::string& label, const std::string& what,
                                   const std::string& otherwise);

/// A Reconnect over pooled sessions: participant i gets a fresh session to `endpoints[i]`, the
/// coordinator one to `endpoints[coordinator]`. The sessions are kept in `spares` (which must
/// outlive the transaction) and go back to their pools with it.
Reconnect reconnect_through(registry::Registry& registry, std::vector<registry::Endpoint> endpoints,
                            std::size_t coordinator, std::deque<registry::PooledConnection>& spares);

} // namespace grant::twophase
