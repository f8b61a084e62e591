# cmake -DPROGRAM=path -DWORK_DIR=folder -P check.cmake: runs the migrate example in a fresh
# folder and checks what it says and the SQLite files it leaves.
file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(COMMAND ${PROGRAM} "${WORK_DIR}" RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
message("${out}${err}")
if(NOT code EQUAL 0)
  message(FATAL_ERROR "the example exited with ${code}")
endif()
foreach(line
    "app: applied 20260101000000_create_notes"
    "users/s0: applied 20260102000000_add_accounts_balance"
    "users/s1: applied 20260102000000_add_accounts_balance"
    "migrate: app at 20260101000000"
    "migrate: users/s0 at 20260102000000"
    "migrate: users/s1 at 20260102000000"
    "migrate again: 0 applied"
    "route: user 1 -> users/s1"
    "route: user 2 -> users/s0"
    "shard users/s0 holds users 2,4\n"
    "shard users/s1 holds users 1,3\n"
    "example: done")
  string(FIND "${out}" "${line}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "missing from the output: ${line}")
  endif()
endforeach()
foreach(file app.sqlite3 users-s0.sqlite3 users-s1.sqlite3)
  if(NOT EXISTS "${WORK_DIR}/${file}")
    message(FATAL_ERROR "the example did not create ${WORK_DIR}/${file}")
  endif()
endforeach()
