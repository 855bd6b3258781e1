/* TLS over real SCTP between two processes: usrsctp with UDP encapsulation
 * on loopback (kernel SCTP: test_sctp_kernel runs the same suite). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "sctp_e2e.h"

#ifndef E2E_BACKEND
#define E2E_BACKEND MSTLS_SCTP_BACKEND_USRSCTP
#endif

static void run(uint16_t streams, mstls_policy pol, size_t size,
                unsigned rounds) {
  e2e_case c = {E2E_BACKEND, streams, pol, size, rounds, 0, 0, 0};
  assert_int_equal(e2e_run(&c), 0);
}

/* Both processes non-blocking, each driven by its own poll() loop. */
static void run_event_loop(uint16_t streams, mstls_policy pol, size_t size,
                           unsigned rounds) {
  e2e_case c = {E2E_BACKEND, streams, pol, size, rounds, 1, 0, 0};
  assert_int_equal(e2e_run(&c), 0);
}

static void test_streams_1(void **s) {
  (void)s;
  run(1, MSTLS_POLICY_RESUME, 1000, 3);
}
static void test_streams_10(void **s) {
  (void)s;
  run(10, MSTLS_POLICY_RESUME, 5000, 2);
}
static void test_streams_100(void **s) {
  (void)s;
  run(100, MSTLS_POLICY_RESUME, 100, 1);
}
static void test_streams_1000(void **s) {
  (void)s;
  run(1000, MSTLS_POLICY_RESUME, 1, 1);
}
static void test_parallel_16(void **s) {
  (void)s;
  run(16, MSTLS_POLICY_PARALLEL, 1000, 1);
}
static void test_lazy_16(void **s) {
  (void)s;
  run(16, MSTLS_POLICY_LAZY, 1000, 1);
}
static void test_size_1(void **s) {
  (void)s;
  run(2, MSTLS_POLICY_RESUME, 1, 5);
}
static void test_size_18437(void **s) {
  (void)s;
  run(2, MSTLS_POLICY_RESUME, 18437, 3);
}
static void test_size_256k(void **s) {
  (void)s;
  run(2, MSTLS_POLICY_RESUME, 256u * 1024u, 2);
}
static void test_size_1m(void **s) {
  (void)s;
  run(1, MSTLS_POLICY_RESUME, 1u << 20, 1);
}

/* Both peers send more than the socket buffers between them hold: a 1 MB
 * echo through 64 KB buffers. Blocked sends read ahead instead of waiting
 * on each other; the server's read-ahead is held to 64 KB. */
static void test_duplex_small_buffers(void **s) {
  e2e_case c = {E2E_BACKEND, 2, MSTLS_POLICY_RESUME, 1u << 20,
                1,           0, 64u * 1024u,         64u * 1024u};
  (void)s;
  assert_int_equal(e2e_run(&c), 0);
}

static void test_event_loop_10(void **s) {
  (void)s;
  run_event_loop(10, MSTLS_POLICY_RESUME, 5000, 2);
}
static void test_event_loop_parallel_16(void **s) {
  (void)s;
  run_event_loop(16, MSTLS_POLICY_PARALLEL, 1000, 2);
}
static void test_event_loop_lazy_16(void **s) {
  (void)s;
  run_event_loop(16, MSTLS_POLICY_LAZY, 1000, 1);
}
static void test_event_loop_256k(void **s) {
  (void)s;
  run_event_loop(2, MSTLS_POLICY_RESUME, 256u * 1024u, 2);
}

/* RFC 3436 §8: every stream of a new association, with another server
 * process that shares only the ticket key, resumes the first one. */
static void test_fleet_resume(void **s) {
  (void)s;
  assert_int_equal(e2e_run_fleet(E2E_BACKEND, 10), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_streams_1),
      cmocka_unit_test(test_streams_10),
      cmocka_unit_test(test_streams_100),
      cmocka_unit_test(test_streams_1000),
      cmocka_unit_test(test_parallel_16),
      cmocka_unit_test(test_lazy_16),
      cmocka_unit_test(test_size_1),
      cmocka_unit_test(test_size_18437),
      cmocka_unit_test(test_size_256k),
      cmocka_unit_test(test_size_1m),
      cmocka_unit_test(test_duplex_small_buffers),
      cmocka_unit_test(test_event_loop_10),
      cmocka_unit_test(test_event_loop_parallel_16),
      cmocka_unit_test(test_event_loop_lazy_16),
      cmocka_unit_test(test_event_loop_256k),
      cmocka_unit_test(test_fleet_resume),
  };
  const char *only = getenv("MSTLS_TEST_FILTER");
  if (!e2e_backend_available(E2E_BACKEND))
    return 77;
  if (only && *only)
    cmocka_set_test_filter(only);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
