/* Handshakes of 1..4096 streams under every policy, over the in-memory
 * link with seeded jitter (streams overtake each other, never themselves).
 * Under RESUME (and LAZY after the first stream) every stream but the
 * anchor must really have resumed, on both sides.
 *
 * Load-proof: no sockets, no threads; every pair runs over the memlink,
 * seeded per case, on its simulated clock, so the order of delivery, every
 * deadline and the wait for stream 0's ticket (measured on that clock) are
 * the same in every run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

#define TLS12 "NORMAL:-VERS-ALL:+VERS-TLS1.2"

/* Every stream carries one small message each way, so a stream wired to
 * the wrong TLS session (or to the wrong stream id) shows up. */
static void exchange_all(test_pair *p, uint32_t n) {
  uint32_t i;
  char buf[32], rb[32];
  for (i = 0; i < n; i++) {
    int len = snprintf(buf, sizeof(buf), "c%u", i);
    assert_int_equal(
        mstls_stream_send(p->client, (uint16_t)i, buf, (size_t)len), len);
    len = snprintf(buf, sizeof(buf), "s%u", i);
    assert_int_equal(
        mstls_stream_send(p->server, (uint16_t)i, buf, (size_t)len), len);
  }
  test_pair_flush(p);
  for (i = 0; i < n; i++) {
    int len = snprintf(buf, sizeof(buf), "c%u", i);
    assert_int_equal(mstls_stream_recv(p->server, (uint16_t)i, rb, sizeof(rb)),
                     len);
    assert_memory_equal(rb, buf, (size_t)len);
    len = snprintf(buf, sizeof(buf), "s%u", i);
    assert_int_equal(mstls_stream_recv(p->client, (uint16_t)i, rb, sizeof(rb)),
                     len);
    assert_memory_equal(rb, buf, (size_t)len);
  }
}

static void check_stream(test_pair *p, uint16_t i, int want_resumed,
                         const char *version) {
  mstls_stream_info ci, si;
  gnutls_session_t cg = mstls_stream_get_gnutls(p->client, i);
  gnutls_session_t sg = mstls_stream_get_gnutls(p->server, i);
  assert_non_null(cg);
  assert_non_null(sg);
  assert_int_equal(mstls_stream_get_info(p->client, i, &ci), 0);
  assert_int_equal(mstls_stream_get_info(p->server, i, &si), 0);
  assert_int_equal(ci.state, MSTLS_STREAM_OPEN);
  assert_int_equal(si.state, MSTLS_STREAM_OPEN);
  assert_string_equal(ci.version, version);
  assert_string_equal(si.version, version);
  assert_int_equal(ci.resumed, want_resumed);
  assert_int_equal(si.resumed, want_resumed);
  assert_int_equal(gnutls_session_is_resumed(cg) != 0, want_resumed);
  assert_int_equal(gnutls_session_is_resumed(sg) != 0, want_resumed);
}

static void run_upfront(uint32_t n, mstls_policy pol, const char *prio,
                        uint64_t seed) {
  mstls_settings cs, ss;
  memlink_config lc = {seed, 10 * MSTLS_MILLISECONDS, 5 * MSTLS_MILLISECONDS};
  test_pair p;
  mstls_session_stats st;
  const char *version = prio ? "TLS1.2" : "TLS1.3";
  uint32_t i;

  test_client_settings(&cs, n, pol);
  test_server_settings(&ss, n, pol);
  cs.priority = prio;
  assert_int_equal(test_pair_new(&p, &cs, &ss, &lc, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(&p, 100 * (size_t)n + 1000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_session_handshake(p.server), 0);
  for (i = 0; i < n; i++) {
    int want = pol == MSTLS_POLICY_RESUME && i != 0;
    check_stream(&p, (uint16_t)i, want, version);
  }
  assert_int_equal(mstls_session_get_stats(p.client, &st), 0);
  assert_int_equal(st.streams_established, n);
  assert_int_equal(st.streams_failed, 0);
  assert_int_equal(st.streams_handshaking, 0);
  if (pol == MSTLS_POLICY_RESUME) {
    assert_int_equal(st.full_handshakes, 1);
    assert_int_equal(st.streams_resumed, n - 1);
  } else {
    assert_int_equal(st.full_handshakes, n);
    assert_int_equal(st.streams_resumed, 0);
  }
  assert_int_equal(mstls_session_get_stats(p.server, &st), 0);
  assert_int_equal(st.streams_established, n);
  assert_int_equal(st.streams_resumed, pol == MSTLS_POLICY_RESUME ? n - 1 : 0);
  /* Nothing is left to time out once every stream is up. */
  assert_true(mstls_session_get_expiry(p.client) == MSTLS_TSTAMP_NEVER);
  assert_true(mstls_session_get_expiry(p.server) == MSTLS_TSTAMP_NEVER);
  exchange_all(&p, n);
  test_pair_free(&p);
}

/* LAZY: nothing happens up front; streams handshake on first use, the
 * first one in full, every later one resuming it. Only @p used streams of
 * @p n are touched; the rest never get a TLS session. */
static void run_lazy(uint32_t n, uint32_t used, const char *prio) {
  mstls_settings cs, ss;
  memlink_config lc = {7, 10 * MSTLS_MILLISECONDS, 5 * MSTLS_MILLISECONDS};
  test_pair p;
  mstls_session_stats st;
  const char *version = prio ? "TLS1.2" : "TLS1.3";
  uint32_t i, stride = n / used;
  char rb[8];

  test_client_settings(&cs, n, MSTLS_POLICY_LAZY);
  test_server_settings(&ss, n, MSTLS_POLICY_LAZY);
  cs.priority = prio;
  assert_int_equal(test_pair_new(&p, &cs, &ss, &lc, NULL, NULL), 0);
  assert_int_equal(mstls_session_handshake(p.client), 0);
  assert_int_equal(memlink_in_flight(p.link), 0);
  assert_null(mstls_stream_get_gnutls(p.client, 0));
  /* First use of each stream: it would block and starts the handshake. */
  for (i = 0; i < used; i++) {
    assert_int_equal(
        mstls_stream_send(p.client, (uint16_t)(i * stride), "x", 1),
        MSTLS_E_AGAIN);
  }
  test_pair_flush(&p);
  for (i = 0; i < used; i++) {
    uint16_t id = (uint16_t)(i * stride);
    assert_int_equal(mstls_stream_send(p.client, id, "x", 1), 1);
  }
  test_pair_flush(&p);
  for (i = 0; i < used; i++) {
    uint16_t id = (uint16_t)(i * stride);
    check_stream(&p, id, i != 0, version);
    assert_int_equal(mstls_stream_recv(p.server, id, rb, sizeof(rb)), 1);
    assert_int_equal(rb[0], 'x');
  }
  if (stride > 1) {
    assert_null(mstls_stream_get_gnutls(p.client, 1));
    assert_null(mstls_stream_get_gnutls(p.server, 1));
    assert_int_equal(mstls_stream_get_state(p.client, 1), MSTLS_STREAM_IDLE);
  }
  assert_int_equal(mstls_session_get_stats(p.client, &st), 0);
  assert_int_equal(st.full_handshakes, 1);
  assert_int_equal(st.streams_resumed, used - 1);
  assert_int_equal(st.streams_active, used);
  test_pair_free(&p);
}

static const uint32_t sizes[] = {1, 2, 16, 256, 4096};

static void t_resume_tls13(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    run_upfront(sizes[i], MSTLS_POLICY_RESUME, NULL, 1 + i);
  }
}

static void t_resume_tls12(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    run_upfront(sizes[i], MSTLS_POLICY_RESUME, TLS12, 11 + i);
  }
}

static void t_parallel(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    run_upfront(sizes[i], MSTLS_POLICY_PARALLEL, NULL, 21 + i);
  }
}

static void t_parallel_tls12(void **state) {
  (void)state;
  run_upfront(16, MSTLS_POLICY_PARALLEL, TLS12, 31);
}

static void t_lazy(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    run_lazy(sizes[i], sizes[i], NULL);
  }
}

static void t_lazy_subset(void **state) {
  (void)state;
  run_lazy(4096, 64, NULL);
  run_lazy(65535, 16, NULL);
  run_lazy(256, 256, TLS12);
}

/* Resumed streams keep an (EC)DHE exchange on request and still resume. */
static void t_resume_dhe(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  uint32_t i;
  (void)state;
  test_client_settings(&cs, 8, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 8, MSTLS_POLICY_RESUME);
  cs.flags |= MSTLS_SETTINGS_RESUME_DHE;
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  for (i = 0; i < 8; i++) {
    check_stream(&p, (uint16_t)i, i != 0, "TLS1.3");
  }
  exchange_all(&p, 8);
  test_pair_free(&p);
}

/* The stream event callback reports every completed handshake once. */
static uint32_t hs_events[2];
static void on_event(mstls_session *s, mstls_stream_event ev, uint16_t stream,
                     int err, void *ud) {
  (void)stream;
  (void)ud;
  assert_int_equal(err, 0);
  if (ev == MSTLS_EVENT_HANDSHAKE_DONE) {
    hs_events[mstls_session_get_role(s)]++;
  }
}

static void t_events(void **state) {
  mstls_settings cs, ss;
  mstls_callbacks cb;
  test_pair p;
  (void)state;
  memset(&cb, 0, sizeof(cb));
  cb.stream_event = on_event;
  hs_events[0] = hs_events[1] = 0;
  test_client_settings(&cs, 32, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 32, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, &cb, &cb), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(hs_events[MSTLS_ROLE_CLIENT], 32);
  assert_int_equal(hs_events[MSTLS_ROLE_SERVER], 32);
  test_pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_resume_tls13), cmocka_unit_test(t_resume_tls12),
      cmocka_unit_test(t_parallel),     cmocka_unit_test(t_parallel_tls12),
      cmocka_unit_test(t_lazy),         cmocka_unit_test(t_lazy_subset),
      cmocka_unit_test(t_resume_dhe),   cmocka_unit_test(t_events),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
