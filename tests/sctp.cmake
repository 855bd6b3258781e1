# SCTP backend tests: real SCTP (usrsctp) end to end; kernel SCTP inside a VM.
add_library(mstls_sctp_testlib STATIC sctp_harness.c)
target_link_libraries(mstls_sctp_testlib PUBLIC mstls_testlib)
target_compile_options(mstls_sctp_testlib PRIVATE ${MSTLS_WARNINGS})

if(MSTLS_WITH_USRSCTP)
  mstls_add_test(NAME test_sctp_conn SOURCES test_sctp_conn.c
                 LABELS integration TIMEOUT 240 LIBS mstls_sctp_testlib)
endif()
