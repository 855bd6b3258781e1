# TLS over SCTP: mstls over usrsctp against plain SCTP messages, same run.
if(MSTLS_WITH_USRSCTP AND EXISTS ${CMAKE_SOURCE_DIR}/tests/helpers/certs.c)
  add_executable(bench_sctp bench_sctp.c ${CMAKE_SOURCE_DIR}/tests/helpers/certs.c)
  target_include_directories(bench_sctp PRIVATE ${CMAKE_SOURCE_DIR}/tests/helpers)
  target_link_libraries(bench_sctp PRIVATE mstls_static)
  target_compile_options(bench_sctp PRIVATE ${MSTLS_WARNINGS})
  target_compile_definitions(bench_sctp PRIVATE _GNU_SOURCE)
endif()

# Failure detection: a server process killed at random moments, detection
# time against the bound the settings promise.
if(MSTLS_WITH_USRSCTP AND EXISTS ${CMAKE_SOURCE_DIR}/tests/helpers/certs.c)
  add_executable(failover_sctp failover_sctp.c ${CMAKE_SOURCE_DIR}/tests/helpers/certs.c)
  target_include_directories(failover_sctp PRIVATE ${CMAKE_SOURCE_DIR}/tests/helpers)
  target_link_libraries(failover_sctp PRIVATE mstls_static Threads::Threads)
  target_compile_options(failover_sctp PRIVATE ${MSTLS_WARNINGS})
  target_compile_definitions(failover_sctp PRIVATE _GNU_SOURCE)
endif()
