# The exported CMake package (find_package(grant CONFIG) -> grant::grant) and grant.pc. Both are
# relocatable: they locate the prefix from their own path, so a tree installed with
# `cmake --install build --prefix P` and the .deb (prefix /usr) work alike.
include(CMakePackageConfigHelpers)

set(GRANT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/grant)
set_target_properties(grant PROPERTIES EXPORT_NAME grant)
install(EXPORT grantTargets NAMESPACE grant:: DESTINATION ${GRANT_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(cmake/grantConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/grantConfig.cmake
  INSTALL_DESTINATION ${GRANT_CMAKE_DIR})
# 0.x: a minor release may break the API, so only the same major.minor is compatible.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/grantConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/grantConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/grantConfigVersion.cmake
  DESTINATION ${GRANT_CMAKE_DIR} COMPONENT dev)

# libgrant.a is static and its dependencies are shared libraries: `pkg-config --libs grant`
# names them itself (Requires.private would need --static, which drags in libpq's own static
# dependencies). Only nlohmann_json is Required: its headers are in grant's.
set(GRANT_PC_LIBS "")
foreach(flag IN LISTS PQXX_LDFLAGS PQ_LDFLAGS MARIADB_LDFLAGS SQLITE3_LDFLAGS XXHASH_LDFLAGS HTTPLIB_LDFLAGS NETTLE_LDFLAGS)
  if(NOT flag IN_LIST GRANT_PC_LIBS AND NOT flag MATCHES "^-L(/usr/lib|/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}|/lib)$")
    list(APPEND GRANT_PC_LIBS "${flag}")
  endif()
endforeach()
list(APPEND GRANT_PC_LIBS -lpg_query -pthread)
list(JOIN GRANT_PC_LIBS " " GRANT_PC_LIBS)
file(RELATIVE_PATH GRANT_PC_TO_PREFIX /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
string(REGEX REPLACE "/$" "" GRANT_PC_TO_PREFIX "${GRANT_PC_TO_PREFIX}")
configure_file(cmake/grant.pc.in ${CMAKE_CURRENT_BINARY_DIR}/grant.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/grant.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
