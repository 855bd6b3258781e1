# SCTP backend tests: real SCTP (usrsctp) end to end; kernel SCTP inside a VM.
add_library(mstls_sctp_testlib STATIC sctp_harness.c)
target_link_libraries(mstls_sctp_testlib PUBLIC mstls_testlib)
target_compile_options(mstls_sctp_testlib PRIVATE ${MSTLS_WARNINGS})

if(MSTLS_WITH_USRSCTP)
  mstls_add_test(NAME test_sctp_conn SOURCES test_sctp_conn.c
                 LABELS integration TIMEOUT 240 LIBS mstls_sctp_testlib)
  # White-box: the stream-reset test asks the backend for a reset.
  target_include_directories(test_sctp_conn PRIVATE ${PROJECT_SOURCE_DIR}/sctp)
  mstls_add_test(NAME test_sctp_failmalloc SOURCES test_sctp_failmalloc.c
                 LABELS unit TIMEOUT 600 LIBS mstls_sctp_testlib)
  mstls_add_test(NAME test_sctp_close SOURCES test_sctp_close.c
                 LABELS integration TIMEOUT 900 LIBS mstls_sctp_testlib)
  # mstls_sctp_assoc_del() on a live association: the closer thread, with
  # usrsctp's own threads (under ThreadSanitizer too).
  mstls_add_test(NAME test_sctp_linger SOURCES test_sctp_linger.c
                 LABELS "integration;threads" LIBS mstls_sctp_testlib)
  # Tunables and the failover profile, in virtual time.
  mstls_add_test(NAME test_sctp_tune SOURCES test_sctp_tune.c
                 LABELS integration LIBS mstls_sctp_testlib)
  mstls_add_test(NAME test_sctp_reload SOURCES test_sctp_reload.c
                 LABELS integration LIBS mstls_sctp_testlib)
  mstls_add_test(NAME test_sctp_port SOURCES test_sctp_port.c
                 LABELS integration)
  # Multihoming API: address lists, paths, primary, path events (usrsctp
  # on loopback; the failover under traffic is vm_multihoming).
  mstls_add_test(NAME test_sctp_multihome SOURCES test_sctp_multihome.c
                 LABELS integration)
endif()

# The two-process suite, once per backend.
add_library(mstls_sctp_e2e STATIC sctp_e2e.c)
target_link_libraries(mstls_sctp_e2e PUBLIC mstls_testlib)
target_compile_options(mstls_sctp_e2e PRIVATE ${MSTLS_WARNINGS})
if(MSTLS_WITH_USRSCTP)
  mstls_add_test(NAME test_sctp_udp SOURCES test_sctp_udp.c
                 LABELS integration TIMEOUT 240 LIBS mstls_sctp_e2e)
  # A peer that never reads: the blocked sender's CPU time stays near zero.
  mstls_add_test(NAME test_sctp_stall SOURCES test_sctp_stall.c
                 LABELS integration TIMEOUT 240 LIBS mstls_sctp_e2e)
endif()
if(MSTLS_WITH_KERNEL_SCTP)
  # On a host without kernel SCTP this exits 77 with a one-line reason.
  mstls_add_test(NAME test_sctp_kernel SOURCES test_sctp_udp.c
                 LABELS integration TIMEOUT 240 LIBS mstls_sctp_e2e)
  target_compile_definitions(test_sctp_kernel PRIVATE
                             E2E_BACKEND=MSTLS_SCTP_BACKEND_KERNEL)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/vm/vm.cmake)
    include(${CMAKE_CURRENT_SOURCE_DIR}/vm/vm.cmake)
    if(COMMAND mstls_add_vm_test)
      mstls_add_vm_test(NAME test_sctp_kernel_vm
                        COMMAND test_sctp_kernel TIMEOUT 900)
      # The guest emulates its CPU in software; sanitizers slow it further,
      # and a busy host more: the 1000-stream case once took over 120 s
      # with both host cores loaded, and its handshakes over 150 s (half
      # of the children's 300 s) beside four sanitizer suites, while all 18
      # cases take about 50 s in an idle CI run. The bound only means hung.
      set_property(TEST test_sctp_kernel_vm APPEND PROPERTY
                   ENVIRONMENT "MSTLS_E2E_TIMEOUT=600")
      # sctp-server's event loop on kernel fds: slowloris and echo clients.
      if(TARGET mstls_tool)
        mstls_add_vm_test(NAME test_sctp_serve_kernel_vm
                          COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/vm/serve_kernel.sh
                                  $<TARGET_FILE:mstls_tool>
                          TIMEOUT 900)
      endif()
    endif()
  endif()
endif()

# Failure detection over usrsctp on loopback: a server process killed at
# random moments (bench/failover_sctp.c, 10 trials, blocking and event-loop
# clients, and a connect with no listener). Every client must end with
# MSTLS_E_PEER_GONE and none may stay blocked; the detection times are
# printed, never judged (the benchmark compares them with the bound).
if(MSTLS_WITH_USRSCTP)
  add_executable(test_sctp_failover ${CMAKE_SOURCE_DIR}/bench/failover_sctp.c)
  target_link_libraries(test_sctp_failover PRIVATE mstls_testlib Threads::Threads)
  target_compile_options(test_sctp_failover PRIVATE ${MSTLS_WARNINGS})
  target_compile_definitions(test_sctp_failover PRIVATE _GNU_SOURCE)
  add_test(NAME test_sctp_failover COMMAND test_sctp_failover --trials 10)
  set_tests_properties(test_sctp_failover PROPERTIES LABELS integration
    TIMEOUT 600)
  # The same on kernel SCTP in the QEMU guest. A killed process's kernel
  # would still answer or abort, so each trial takes loopback down before
  # the kill (the peer host vanishes) and brings it back afterwards.
  if(MSTLS_WITH_KERNEL_SCTP AND COMMAND mstls_add_vm_test)
    mstls_add_vm_test(NAME test_sctp_failover_vm
      COMMAND test_sctp_failover --trials 10 --backend kernel
              --cut "ip link set lo down" --restore "ip link set lo up"
      TIMEOUT 600 LABELS integration)
  endif()
endif()

# mstls sctp-server under slow peers: the tool as its own process, the
# clients (slowloris, a non-reader, legitimate ones) in the test.
if(MSTLS_WITH_USRSCTP AND TARGET mstls_tool)
  mstls_add_test(NAME test_sctp_serve SOURCES test_sctp_serve.c
                 LABELS integration TIMEOUT 600 LIBS mstls_sctp_e2e)
  target_compile_definitions(test_sctp_serve PRIVATE
                             MSTLS_TOOL_PATH="$<TARGET_FILE:mstls_tool>")
  add_dependencies(test_sctp_serve mstls_tool)
endif()
