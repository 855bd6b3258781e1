# bench_udp: handshakes/s of the DTLS endpoint (one socket) against plain
# GnuTLS on connected sockets, and memory per peer. Not run by ctest.
add_executable(bench_udp ${CMAKE_CURRENT_SOURCE_DIR}/bench_udp.c
  ${CMAKE_CURRENT_SOURCE_DIR}/benchudp.c)
target_link_libraries(bench_udp PRIVATE mstls_static GnuTLS::GnuTLS
  Threads::Threads)
target_compile_options(bench_udp PRIVATE ${MSTLS_WARNINGS})
target_compile_definitions(bench_udp PRIVATE _GNU_SOURCE)

# attack_udp: the DTLS attack table over real sockets (needs root for its
# raw socket). It starts the mstls tool as the server. Not run by ctest.
add_executable(attack_udp ${CMAKE_CURRENT_SOURCE_DIR}/attack_udp.c
  ${CMAKE_CURRENT_SOURCE_DIR}/benchudp.c)
target_link_libraries(attack_udp PRIVATE mstls_static GnuTLS::GnuTLS
  Threads::Threads)
target_compile_options(attack_udp PRIVATE ${MSTLS_WARNINGS})
target_compile_definitions(attack_udp PRIVATE _GNU_SOURCE)
if(MSTLS_BUILD_EXAMPLES)
  add_dependencies(attack_udp mstls_tool)
endif()

# bench_udp_resume: full against resumed DTLS client handshakes (tickets,
# session IDs), client and server endpoints in one process. Not run by
# ctest.
add_executable(bench_udp_resume ${CMAKE_CURRENT_SOURCE_DIR}/bench_udp_resume.c)
target_link_libraries(bench_udp_resume PRIVATE mstls_static GnuTLS::GnuTLS)
target_compile_options(bench_udp_resume PRIVATE ${MSTLS_WARNINGS})
target_compile_definitions(bench_udp_resume PRIVATE _GNU_SOURCE)

# hs_rate_udp: handshakes/s and server CPU per handshake of
# `mstls dtls-server --workers N`, clients in this process. Not run by ctest.
add_executable(hs_rate_udp ${CMAKE_CURRENT_SOURCE_DIR}/hs_rate_udp.c
  ${CMAKE_CURRENT_SOURCE_DIR}/benchudp.c)
target_link_libraries(hs_rate_udp PRIVATE GnuTLS::GnuTLS Threads::Threads)
target_compile_options(hs_rate_udp PRIVATE ${MSTLS_WARNINGS})
target_compile_definitions(hs_rate_udp PRIVATE _GNU_SOURCE)
if(MSTLS_BUILD_EXAMPLES)
  add_dependencies(hs_rate_udp mstls_tool)
endif()

# bench_log: the log's cost on the path a flood of dropped datagrams
# takes (off, ERROR, INFO). Not run by ctest.
add_executable(bench_log ${CMAKE_CURRENT_SOURCE_DIR}/bench_log.c)
target_link_libraries(bench_log PRIVATE mstls_static)
target_compile_options(bench_log PRIVATE ${MSTLS_WARNINGS})
target_compile_definitions(bench_log PRIVATE _GNU_SOURCE)

# bench_size: CPU per full and resumed handshake and heap per TLS stream
# (SCTP, over the in-memory link) and per DTLS peer (two endpoints fed by
# hand), each against bare GnuTLS in the same run. Not run by ctest.
add_executable(bench_size ${CMAKE_CURRENT_SOURCE_DIR}/bench_size.c
  ${CMAKE_CURRENT_SOURCE_DIR}/benchpair.c
  ${PROJECT_SOURCE_DIR}/tests/helpers/memlink.c
  ${PROJECT_SOURCE_DIR}/tests/helpers/certs.c)
target_include_directories(bench_size PRIVATE
  ${PROJECT_SOURCE_DIR}/tests/helpers)
target_link_libraries(bench_size PRIVATE mstls_static GnuTLS::GnuTLS
  Threads::Threads)
target_compile_options(bench_size PRIVATE ${MSTLS_WARNINGS})
target_compile_definitions(bench_size PRIVATE _GNU_SOURCE)
