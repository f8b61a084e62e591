#include <grant/db/engine.hpp>

namespace grant::db {

// Apart from the engine (mysql_engine.cpp): the library asks these before it connects, and the
// grant program loads the MySQL adapter only when a statement needs it.
const EngineTraits& mysql_traits() {
  static const EngineTraits k_traits{.name = "mysql",
                                     .display_name = "MySQL",
                                     .keeps_probe_session = true,
                                     .replication = true,
                                     .transactional_ddl = false};
  return k_traits;
}

} // namespace grant::db
