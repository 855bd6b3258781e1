include_guard(GLOBAL)
# Tests that need kernel SCTP run inside a QEMU guest booted on Debian's own
# kernel (see tests/vm/README.md). Include this file from tests/CMakeLists.txt
# before any file that calls mstls_add_vm_test().

set(MSTLS_VM_RUNNER ${CMAKE_CURRENT_LIST_DIR}/run-in-vm.sh)

# mstls_add_vm_test(NAME name COMMAND cmd [args...] [TIMEOUT s] [LABELS ...])
#
# Registers a ctest test that runs COMMAND inside the guest, from the test's
# working directory, and passes its exit status back. A first word of COMMAND
# that names a target is replaced by that target's file, as add_test() does.
# The test carries the label "vm" plus LABELS. It is skipped (77) only where no
# guest can be started at all; a guest that boots but never reports a status
# fails the test.
function(mstls_add_vm_test)
  cmake_parse_arguments(V "" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT V_NAME OR NOT V_COMMAND)
    message(FATAL_ERROR "mstls_add_vm_test: NAME and COMMAND are required")
  endif()
  if(V_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "mstls_add_vm_test(${V_NAME}): unknown arguments "
                        "${V_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT V_TIMEOUT)
    set(V_TIMEOUT 300)
  endif()
  list(GET V_COMMAND 0 first)
  if(TARGET ${first})
    list(REMOVE_AT V_COMMAND 0)
    list(INSERT V_COMMAND 0 $<TARGET_FILE:${first}>)
  endif()
  # The guest gets less time than ctest so that a hung guest is reported by
  # the runner (with the console output) instead of being killed silently.
  math(EXPR guest_timeout "${V_TIMEOUT} * 9 / 10")
  add_test(NAME ${V_NAME}
    COMMAND ${MSTLS_VM_RUNNER} --timeout ${guest_timeout} -- ${V_COMMAND})
  set_tests_properties(${V_NAME} PROPERTIES
    LABELS "vm;${V_LABELS}"
    TIMEOUT ${V_TIMEOUT}
    SKIP_RETURN_CODE 77)
endfunction()

if(MSTLS_WITH_KERNEL_SCTP)
  # Plain libc + libsctp, no mstls: it checks the guest itself, so that a
  # failing backend test can be told apart from a broken VM.
  add_executable(smoke_kernel_sctp ${CMAKE_CURRENT_LIST_DIR}/smoke_kernel_sctp.c)
  target_link_libraries(smoke_kernel_sctp PRIVATE PkgConfig::LIBSCTP)
  target_compile_options(smoke_kernel_sctp PRIVATE ${MSTLS_WARNINGS})
  target_compile_definitions(smoke_kernel_sctp PRIVATE _GNU_SOURCE)

  # On a host without kernel SCTP this reports a skip; where the host kernel
  # has SCTP it is a real test.
  add_test(NAME kernel_sctp_smoke_host COMMAND smoke_kernel_sctp)
  set_tests_properties(kernel_sctp_smoke_host PROPERTIES
    LABELS "vm"
    TIMEOUT 300
    SKIP_RETURN_CODE 77)

  mstls_add_vm_test(NAME vm_kernel_sctp_smoke COMMAND smoke_kernel_sctp
                    TIMEOUT 300)
endif()

if(MSTLS_WITH_KERNEL_SCTP AND NOT TARGET fd_peer)
  # Interop with freeDiameter (Debian package freediameter): a Diameter peer
  # on mstls (CER/CEA, DPR/DPA on stream 0) and the script that runs it
  # against freeDiameterd in both roles, inside the guest. See
  # tests/vm/fd_interop.sh and docs/sctp.md, "Interoperability: freeDiameter".
  add_executable(fd_peer ${CMAKE_CURRENT_LIST_DIR}/fd_peer.c)
  target_link_libraries(fd_peer PRIVATE mstls)
  target_compile_options(fd_peer PRIVATE ${MSTLS_WARNINGS})
  target_compile_definitions(fd_peer PRIVATE _GNU_SOURCE)

  # Every case, the close judged: both roles, TLS 1.3 and 1.2, PARALLEL and
  # RESUME (against a server without TLS 1.3 tickets, and TLS 1.2
  # session-ID resumption in both roles), unequal stream counts. The guest
  # gets 90 % of the timeout (900 s), a hang guard only: a normal run
  # takes about 65 s, and a loaded host once took it past 450 s with no
  # case hung (each case is bounded on its own in fd_interop.sh).
  mstls_add_vm_test(NAME fd_interop
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/fd_interop.sh --group full
            $<TARGET_FILE:fd_peer>
    TIMEOUT 1000 LABELS interop)
endif()

if(MSTLS_WITH_KERNEL_SCTP AND NOT TARGET mh_peer)
  # Multihoming failover: two namespaces joined by two veth pairs, TLS on
  # every stream while the primary path is lost and comes back. See
  # tests/vm/multihoming.sh and docs/sctp.md, "Multihoming".
  add_executable(mh_peer ${CMAKE_CURRENT_LIST_DIR}/mh_peer.c)
  target_link_libraries(mh_peer PRIVATE mstls_testlib)
  target_compile_options(mh_peer PRIVATE ${MSTLS_WARNINGS})
  target_compile_definitions(mh_peer PRIVATE _GNU_SOURCE)
  # The guest gets 540 s: above the client's 330 s and the server's 410 s
  # bounds (multihoming.sh), which only a hang reaches.
  mstls_add_vm_test(NAME vm_multihoming
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/multihoming.sh $<TARGET_FILE:mh_peer>
    TIMEOUT 600 LABELS integration)
  # 100 streams at 5% loss and 50 ms delay each way: every byte arrives,
  # in order per stream. See tests/vm/lossy.sh and docs/PERFORMANCE.md.
  mstls_add_vm_test(NAME vm_lossy
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/lossy.sh $<TARGET_FILE:mh_peer>
    TIMEOUT 400 LABELS integration)
endif()

if(MSTLS_WITH_KERNEL_SCTP AND NOT TARGET ipvs_peer)
  # Behind Linux IPVS: two real servers sharing one ticket key and cookie
  # secret, a UDP and an SCTP service round-robin, clients resuming on
  # whichever server they land, one server removed and killed mid-run. See
  # tests/vm/ipvs.sh and docs/scale-out.md.
  add_executable(ipvs_peer ${CMAKE_CURRENT_LIST_DIR}/ipvs_peer.c)
  target_link_libraries(ipvs_peer PRIVATE mstls_testlib)
  target_compile_options(ipvs_peer PRIVATE ${MSTLS_WARNINGS})
  target_compile_definitions(ipvs_peer PRIVATE _GNU_SOURCE)
  mstls_add_vm_test(NAME vm_ipvs
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/ipvs.sh $<TARGET_FILE:ipvs_peer>
    TIMEOUT 500 LABELS integration)
endif()
