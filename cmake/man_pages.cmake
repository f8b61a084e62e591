# Man pages, one per command family, generated at build time by help2man from the built binary's
# --help (cmake/man_help.sh joins a family's commands into one page), installed to
# share/man/man1. The families:
#   grant(1)          the global flags and the list of commands
#   grant-init(1)     init, generate
#   grant-migrate(1)  migrate, rollback, redo, status, validate, baseline, repair, recover
#   grant-shard(1)    shard-resolve, shard-check
#   grant-lint(1)     lint
#   grant-health(1), grant-serve(1), grant-query(1), grant-rebalance(1), grant-config(1)
find_program(GRANT_HELP2MAN help2man)
if(NOT GRANT_HELP2MAN)
  message(FATAL_ERROR "help2man not found: scripts/install-deps.sh installs it (or configure with -DGRANT_MAN_PAGES=OFF)")
endif()

set(GRANT_MAN_FAMILIES
  "grant|migrations and sharding for fleets of PostgreSQL (and SQLite) databases|"
  "grant-init|start a project and generate migration files|init generate"
  "grant-migrate|apply, revert, inspect and repair migrations on every database and shard|migrate rollback redo status validate baseline repair recover"
  "grant-shard|resolve shard keys and audit sharded databases|shard-resolve shard-check"
  "grant-lint|what pending migrations will lock, rewrite or break on every target, before they run|lint"
  "grant-health|probe every writer, replica and shard|health"
  "grant-serve|HTTP health endpoints for load balancers and monitoring|serve"
  "grant-query|run SQL on a database, a shard, a replica or every shard|query"
  "grant-rebalance|move rows to the shards a new config gives them, in resumable phases|rebalance"
  "grant-config|inspect and validate the configuration|config:check")

set(see_also "")
foreach(family IN LISTS GRANT_MAN_FAMILIES)
  string(REPLACE "|" ";" parts "${family}")
  list(GET parts 0 page)
  list(APPEND see_also "\\fB${page}\\fR(1)")
endforeach()
list(JOIN see_also ", " see_also)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/man/see_also.h2m
  "[SEE ALSO]\n${see_also}\n.PP\nThe documentation in docs/ of the source tree: configuration, commands, sharding, routing, CI.\n")

set(GRANT_MAN_FILES "")
foreach(family IN LISTS GRANT_MAN_FAMILIES)
  string(REPLACE "|" ";" parts "${family}")
  list(GET parts 0 page)
  list(GET parts 1 summary)
  list(GET parts 2 commands)
  # help2man names the page after the program it runs: a wrapper called like the page.
  file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/man/bin/${page}
    CONTENT "#!/bin/sh\nexec /bin/sh '${PROJECT_SOURCE_DIR}/cmake/man_help.sh' '$<TARGET_FILE:grant_exe>' ${commands} \"$@\"\n"
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/man/${page}.1)
  add_custom_command(OUTPUT ${out}
    COMMAND ${GRANT_HELP2MAN} --no-info --no-discard-stderr --section=1
            --version-string=${PROJECT_VERSION} --name=${summary}
            --include=${CMAKE_CURRENT_BINARY_DIR}/man/see_also.h2m
            --output=${out} ${CMAKE_CURRENT_BINARY_DIR}/man/bin/${page}
    DEPENDS grant_exe ${PROJECT_SOURCE_DIR}/cmake/man_help.sh ${CMAKE_CURRENT_BINARY_DIR}/man/see_also.h2m
    COMMENT "help2man: ${page}(1)" VERBATIM)
  list(APPEND GRANT_MAN_FILES ${out})
endforeach()
add_custom_target(grant_man ALL DEPENDS ${GRANT_MAN_FILES})
install(FILES ${GRANT_MAN_FILES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
