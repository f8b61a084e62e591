// The PostgreSQL adapter's entry points when the grant program loads it as a module
// (grant-postgres.so; apps/grant/modules.cpp looks these names up). Plain C names, so that the
// lookup needs no mangled C++; both sides are built from this tree with the same compiler.
#include <grant/db/engine.hpp>
#include <grant/util/conninfo.hpp>
#include <grant/version.hpp>

extern "C" {

const char* grant_module_version_postgres() {
  return GRANT_VERSION;
}

const grant::db::Engine* grant_module_postgres_engine() {
  return &grant::db::postgres_engine();
}

void grant_module_parse_conninfo(const std::string* uri, grant::util::Conninfo* out) {
  *out = grant::util::parse_conninfo(*uri);
}
}
