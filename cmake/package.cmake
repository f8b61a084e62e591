# `cpack -G DEB` (scripts/package.sh wraps it): grant_<version>_amd64.deb with the program, its
# man pages and completions, and grant-dev_<version>_amd64.deb with the library, headers, the
# CMake package and grant.pc.
# cpack (and `make install`) would otherwise build `all` first, tests and benchmarks included;
# scripts/package.sh builds the installed targets itself.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_PACKAGE_NAME grant)
set(CPACK_PACKAGE_VENDOR "grant")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "grant maintainers <grant@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "migrations and sharding for fleets of PostgreSQL (and SQLite) databases")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME grant)
# CPack puts the summary first and these lines under it.
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "grant applies and rolls back migrations on every database and shard of a fleet (two-phase
commit across shards with --atomic), resolves shard keys, checks health and replication lag,
serves health endpoints for load balancers and runs queries on one shard or all of them.")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME grant-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "grant's C++ library (static), headers, CMake package and pkg-config file:
find_package(grant CONFIG REQUIRED) then target_link_libraries(app PRIVATE grant::grant).")
# The config file finds these with find_dependency / pkg-config on the consumer's machine.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "nlohmann-json3-dev (>= 3.10), libpqxx-dev, libpq-dev, libmariadb-dev, libsqlite3-dev, libxxhash-dev, libcpp-httplib-dev, nettle-dev, libpg-query-dev, pkg-config")

# Runtime Depends come from the binary's own DT_NEEDED (dpkg-shlibdeps, part of dpkg-dev);
# without it, the Debian 12 packages that ship those libraries.
find_program(GRANT_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(GRANT_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS
    "libpqxx-6.4, libpq5, libmariadb3, libsqlite3-0, libxxhash0, libnettle8, libcpp-httplib0.11, libstdc++6 (>= 12), libc6")
endif()
include(CPack)
