# The event-loop examples (examples/epoll_echo.c, examples/uv_echo.c): usage
# errors, a client without a server, three clients at once against one
# server (4 streams x 256 KiB each, byte-exact echo), over usrsctp on
# loopback; and the same on kernel SCTP in the QEMU guest.
foreach(ex epoll_echo uv_echo)
  if(NOT TARGET ${ex})
    continue()
  endif()
  add_test(NAME test_example_${ex}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_examples.sh
            $<TARGET_FILE:${ex}> usrsctp)
  set_tests_properties(test_example_${ex} PROPERTIES
    LABELS "examples;integration" TIMEOUT 600)
  if(MSTLS_WITH_KERNEL_SCTP AND COMMAND mstls_add_vm_test)
    mstls_add_vm_test(NAME test_example_${ex}_vm
      COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_examples.sh
              $<TARGET_FILE:${ex}> kernel
      TIMEOUT 600 LABELS examples)
  endif()
endforeach()
