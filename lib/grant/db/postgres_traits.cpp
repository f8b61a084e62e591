#include <grant/db/engine.hpp>

namespace grant::db {

// Apart from the engine (postgres_engine.cpp): the library asks these before it connects, and the
// grant program loads the rest of the PostgreSQL adapter only when a statement needs it.
const EngineTraits& postgres_traits() {
  static const EngineTraits k_traits{.name = "postgres",
                                     .display_name = "PostgreSQL",
                                     .prepared_transactions = true,
                                     .rebalance = true,
                                     .server_timeouts = true,
                                     .invalid_indexes = true,
                                     .keeps_probe_session = true,
                                     .replication = true,
                                     .schemas = true,
                                     .lint = true};
  return k_traits;
}

} // namespace grant::db
