# bench_udp: handshakes/s of the DTLS endpoint (one socket) against plain
# GnuTLS on connected sockets, and memory per peer. Not run by ctest.
add_executable(bench_udp ${CMAKE_CURRENT_SOURCE_DIR}/bench_udp.c)
target_link_libraries(bench_udp PRIVATE mstls_static GnuTLS::GnuTLS
  Threads::Threads)
target_compile_options(bench_udp PRIVATE ${MSTLS_WARNINGS})
target_compile_definitions(bench_udp PRIVATE _GNU_SOURCE)
