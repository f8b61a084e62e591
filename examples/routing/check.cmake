# cmake -DPROGRAM=path -P check.cmake: runs the routing example and checks what it says.
if(NOT DEFINED ENV{GRANT_TEST_PG_WRITER_URL})
  message(FATAL_ERROR "GRANT_TEST_PG_WRITER_URL is not set: start the servers with tests/servers.sh start and source its env file")
endif()
execute_process(COMMAND ${PROGRAM} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
message("${out}${err}")
if(NOT code EQUAL 0)
  message(FATAL_ERROR "the example exited with ${code}")
endif()
foreach(line
    "balancer: a read of app goes to app"
    "prevent-writes: refused INSERT on app"
    "read-your-writes: note [0-9]+ read from app[^\n]*: found"
    "scoped routing: user 1 lives on orders/s1"
    "scoped routing: user 2 lives on orders/s0"
    "cross-shard transaction: committed on s0 and s1: user 1=110 user 2=90"
    "example: done")
  if(NOT out MATCHES "${line}")
    message(FATAL_ERROR "missing from the output: ${line}")
  endif()
endforeach()
if(DEFINED ENV{GRANT_TEST_PG_PASSWORD})
  string(FIND "${out}${err}" "$ENV{GRANT_TEST_PG_PASSWORD}" leaked)
  if(NOT leaked EQUAL -1)
    message(FATAL_ERROR "the example printed the password")
  endif()
endif()
