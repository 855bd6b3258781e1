# Core tests (in-memory link, real GnuTLS).
mstls_add_test(NAME test_smoke SOURCES test_smoke.c LABELS unit)
