// The MySQL adapter's entry points when the grant program loads it as a module (grant-mysql.so;
// apps/grant/modules.cpp looks these names up), as postgres_module.cpp does for PostgreSQL.
#include <grant/db/engine.hpp>
#include <grant/version.hpp>

extern "C" {

const char* grant_module_version_mysql() {
  return GRANT_VERSION;
}

const grant::db::Engine* grant_module_mysql_engine() {
  return &grant::db::mysql_engine();
}
}
