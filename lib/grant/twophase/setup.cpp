#include <grant/twophase/setup.hpp>

#include <grant/error.hpp>

#include <memory>
#include <mutex>

namespace grant::twophase {

void require_prepared_transactions(db::Connection& connection, const std::string& label, const std::string& what,
                                   const std::string& otherwise) {
  const auto value = connection.query("SHOW max_prepared_transactions", {}).scalar().value_or("0");
  if (value == "0") {
    throw ConfigError(what + " needs prepared transactions, but max_prepared_transactions is 0 on " + label, label,
                      "set max_prepared_transactions > 0 in postgresql.conf and restart the server, or " + otherwise);
  }
}

Reconnect reconnect_through(registry::Registry& registry, std::vector<registry::Endpoint> endpoints,
                            std::size_t coordinator, std::deque<registry::PooledConnection>& spares) {
  // Participants reconnect from parallel workers: the spares list takes one at a time.
  auto mutex = std::make_shared<std::mutex>();
  return
      [&registry, endpoints = std::move(endpoints), coordinator, &spares, mutex](std::size_t index) -> db::Connection* {
        const auto& endpoint = endpoints.at(index == k_coordinator ? coordinator : index);
        auto session = registry.checkout(endpoint);
        std::lock_guard lock(*mutex);
        spares.push_back(std::move(session));
        return &*spares.back();
      };
}

} // namespace grant::twophase
