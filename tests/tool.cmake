# The mstls tool's subcommands with good and bad arguments (exit codes,
# messages naming the option), and demo / SCTP / DTLS runs that end by
# themselves.
add_test(NAME test_tool
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_tool.sh $<TARGET_FILE:mstls_tool>)
set_tests_properties(test_tool PROPERTIES LABELS "tool" TIMEOUT 600)

# Install into a temporary prefix; the tool runs from it and a consumer
# builds with pkg-config.
add_test(NAME test_install
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_install.sh ${CMAKE_BINARY_DIR}
          ${CMAKE_INSTALL_LIBDIR} ${CMAKE_C_COMPILER})
set_tests_properties(test_install PROPERTIES LABELS "install" TIMEOUT 300)

# A key log written by mstls decrypts a real capture in tshark (DTLS on
# loopback); skipped (77) without tshark or the right to capture.
add_test(NAME test_keylog
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_keylog.sh $<TARGET_FILE:mstls_tool>)
set_tests_properties(test_keylog PROPERTIES LABELS "tool;interop" TIMEOUT 300
  SKIP_RETURN_CODE 77)
