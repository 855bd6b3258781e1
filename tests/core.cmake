# Core tests (in-memory link, real GnuTLS).
mstls_add_test(NAME test_handshake SOURCES test_handshake.c LABELS unit TIMEOUT 600)
mstls_add_test(NAME test_data SOURCES test_data.c LABELS unit)
mstls_add_test(NAME test_negative SOURCES test_negative.c LABELS unit)
mstls_add_test(NAME test_auth SOURCES test_auth.c LABELS unit)
mstls_add_test(NAME test_plaintext SOURCES test_plaintext.c LABELS unit)
mstls_add_test(NAME test_failmalloc SOURCES test_failmalloc.c LABELS unit)
mstls_add_test(NAME test_threads SOURCES test_threads.c LABELS "unit;threads" TIMEOUT 120)
mstls_add_test(NAME test_blocking SOURCES test_blocking.c LABELS unit)
