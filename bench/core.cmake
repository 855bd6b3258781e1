# bench_core: handshake-all and bulk throughput of the multistream session
# over the in-memory link, against plain GnuTLS. Not run by ctest.
set(MSTLS_TEST_HELPERS ${PROJECT_SOURCE_DIR}/tests/helpers)
add_executable(bench_core
  ${CMAKE_CURRENT_SOURCE_DIR}/bench_core.c
  ${CMAKE_CURRENT_SOURCE_DIR}/benchpair.c
  ${MSTLS_TEST_HELPERS}/memlink.c
  ${MSTLS_TEST_HELPERS}/certs.c
  ${MSTLS_TEST_HELPERS}/pair.c)
target_include_directories(bench_core PRIVATE ${MSTLS_TEST_HELPERS}
  ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(bench_core PRIVATE mstls_static GnuTLS::GnuTLS
  Threads::Threads)
target_compile_options(bench_core PRIVATE ${MSTLS_WARNINGS})
target_compile_definitions(bench_core PRIVATE _GNU_SOURCE)
