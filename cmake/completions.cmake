# Shell completions, generated at build time by the built binary (`grant completion SHELL`,
# made from the command tree itself, so they cannot drift from the CLI), installed where
# Debian's bash-completion, zsh and fish look for them.
set(GRANT_COMPLETION_FILES "")
foreach(spec IN ITEMS
    "bash|grant|${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions"
    "zsh|_grant|${CMAKE_INSTALL_DATAROOTDIR}/zsh/vendor-completions"
    "fish|grant.fish|${CMAKE_INSTALL_DATAROOTDIR}/fish/vendor_completions.d")
  string(REPLACE "|" ";" parts "${spec}")
  list(GET parts 0 shell)
  list(GET parts 1 name)
  list(GET parts 2 destination)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/completions/${shell}/${name})
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/completions/${shell}
    COMMAND sh -c "\"$1\" completion \"$2\" > \"$3\"" sh $<TARGET_FILE:grant_exe> ${shell} ${out}
    DEPENDS grant_exe
    COMMENT "grant completion ${shell}" VERBATIM)
  list(APPEND GRANT_COMPLETION_FILES ${out})
  install(FILES ${out} DESTINATION ${destination} COMPONENT runtime)
endforeach()
add_custom_target(grant_completions ALL DEPENDS ${GRANT_COMPLETION_FILES})
