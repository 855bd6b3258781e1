# The mstls tool's subcommands with good and bad arguments (exit codes,
# messages naming the option), and demo / SCTP / DTLS runs that end by
# themselves.
add_test(NAME test_tool
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_tool.sh $<TARGET_FILE:mstls_tool>)
set_tests_properties(test_tool PROPERTIES LABELS "tool" TIMEOUT 600)
