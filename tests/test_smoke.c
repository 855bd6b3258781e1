#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

static void run(uint32_t n, mstls_policy pol, const char *prio) {
  mstls_settings cs, ss;
  test_pair p;
  uint32_t i;
  mstls_session_stats st;
  char buf[64];
  test_client_settings(&cs, n, pol);
  test_server_settings(&ss, n, pol);
  cs.priority = prio;
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  mstls_tstamp t0 = memlink_now(p.link);
  assert_int_equal(test_pair_handshake(&p, 1000000), 0);
  mstls_tstamp t1 = memlink_now(p.link);
  mstls_session_get_stats(p.client, &st);
  printf("n=%u pol=%d prio=%s: full=%u resumed=%u time=%llu ms\n", n, pol,
         prio ? prio : "default", st.full_handshakes, st.streams_resumed,
         (unsigned long long)((t1 - t0) / MSTLS_MILLISECONDS));
  for (i = 0; i < n; i++) {
    long r;
    snprintf(buf, sizeof(buf), "hello %u", i);
    r = mstls_stream_send(p.client, (uint16_t)i, buf, strlen(buf));
    if (pol == MSTLS_POLICY_LAZY) {
      while (r == MSTLS_E_AGAIN) {
        memlink_run(p.link, 100);
        r = mstls_stream_send(p.client, (uint16_t)i, buf, strlen(buf));
      }
    }
    assert_int_equal(r, (long)strlen(buf));
  }
  memlink_run(p.link, 1000000);
  for (i = 0; i < n; i++) {
    char rb[64];
    long r = mstls_stream_recv(p.server, (uint16_t)i, rb, sizeof(rb));
    snprintf(buf, sizeof(buf), "hello %u", i);
    assert_int_equal(r, (long)strlen(buf));
    assert_memory_equal(rb, buf, (size_t)r);
  }
  test_pair_free(&p);
}

static void t_smoke(void **state) {
  (void)state;
  run(1, MSTLS_POLICY_RESUME, NULL);
  run(16, MSTLS_POLICY_RESUME, NULL);
  run(16, MSTLS_POLICY_PARALLEL, NULL);
  run(16, MSTLS_POLICY_LAZY, NULL);
  run(16, MSTLS_POLICY_RESUME, "NORMAL:-VERS-ALL:+VERS-TLS1.2");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(t_smoke)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
