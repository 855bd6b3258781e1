# Core tests (in-memory link, real GnuTLS).
# Thousands of full handshakes under the sanitizers: about 90 s on an idle
# 2-core machine, several times that with both cores busy. The timeout only
# catches a hang.
mstls_add_test(NAME test_handshake SOURCES test_handshake.c LABELS unit TIMEOUT 1800)
mstls_add_test(NAME test_data SOURCES test_data.c LABELS unit)
mstls_add_test(NAME test_full_transport SOURCES test_full_transport.c LABELS unit)
mstls_add_test(NAME test_negative SOURCES test_negative.c LABELS unit)
mstls_add_test(NAME test_auth SOURCES test_auth.c LABELS unit)
mstls_add_test(NAME test_tlsopt SOURCES test_tlsopt.c LABELS unit)
mstls_add_test(NAME test_rawpk SOURCES test_rawpk.c LABELS unit)
mstls_add_test(NAME test_log SOURCES test_log.c LABELS unit)
mstls_add_test(NAME test_plaintext SOURCES test_plaintext.c LABELS unit)
mstls_add_test(NAME test_failmalloc SOURCES test_failmalloc.c LABELS unit)
mstls_add_test(NAME test_threads SOURCES test_threads.c LABELS "unit;threads" TIMEOUT 120)
mstls_add_test(NAME test_blocking SOURCES test_blocking.c LABELS unit)
mstls_add_test(NAME test_api SOURCES test_api.c LABELS unit)
mstls_add_test(NAME test_internals SOURCES test_internals.c LABELS unit)
mstls_add_test(NAME test_resume SOURCES test_resume.c LABELS unit)
mstls_add_test(NAME test_violations SOURCES test_violations.c LABELS unit)
mstls_add_test(NAME test_resume_interop SOURCES test_resume_interop.c LABELS "integration;interop")
