# DTLS-over-UDP tests.
add_library(mstls_udp_testlib STATIC ${CMAKE_CURRENT_SOURCE_DIR}/udp_helpers.c)
target_include_directories(mstls_udp_testlib PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}
  ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/udp)
target_link_libraries(mstls_udp_testlib PUBLIC mstls_static PkgConfig::CMOCKA)
target_compile_options(mstls_udp_testlib PRIVATE ${MSTLS_WARNINGS})
target_compile_definitions(mstls_udp_testlib PUBLIC _GNU_SOURCE)

mstls_add_test(NAME test_udp_unit SOURCES test_udp_unit.c LABELS unit
  TIMEOUT 120 LIBS mstls_udp_testlib)
mstls_add_test(NAME test_udp_tlsopt SOURCES test_udp_tlsopt.c LABELS unit
  TIMEOUT 120 LIBS mstls_udp_testlib)
mstls_add_test(NAME test_udp_workers SOURCES test_udp_workers.c LABELS unit
  TIMEOUT 120 LIBS mstls_udp_testlib)
mstls_add_test(NAME test_fleet SOURCES test_fleet.c LABELS unit TIMEOUT 120
  LIBS mstls_udp_testlib)
mstls_add_test(NAME test_udp_endpoint SOURCES test_udp_endpoint.c
  LABELS integration TIMEOUT 180 LIBS mstls_udp_testlib)
mstls_add_test(NAME test_udp_interop SOURCES test_udp_interop.c
  LABELS interop TIMEOUT 180 LIBS mstls_udp_testlib)
mstls_add_test(NAME test_udp_resolve SOURCES test_udp_resolve.c LABELS unit
  TIMEOUT 60)
mstls_add_test(NAME test_udp_failmalloc SOURCES test_udp_failmalloc.c
  LABELS unit TIMEOUT 300 LIBS mstls_udp_testlib)
mstls_add_test(NAME test_udp_resume SOURCES test_udp_resume.c LABELS unit
  TIMEOUT 120 LIBS mstls_udp_testlib)
mstls_add_test(NAME test_udp_log SOURCES test_udp_log.c LABELS unit
  TIMEOUT 120 LIBS mstls_udp_testlib)
# Worker threads on one SO_REUSEPORT address sharing credentials and fleet
# keys, credentials replaced while serving; run under ThreadSanitizer too.
mstls_add_test(NAME test_udp_threads SOURCES test_udp_threads.c
  LABELS "unit;threads" TIMEOUT 120)
