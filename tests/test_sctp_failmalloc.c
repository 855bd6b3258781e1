/* failmalloc over the SCTP association code: a client and a server
 * association on a real usrsctp stack (in-process AF_CONN, no threads),
 * both with the failing allocator in their session settings (the
 * association and its session allocate through it), go through connect,
 * accept, a 3-stream RESUME handshake, data both ways on every stream and
 * the close, with every allocation failed in turn. Each run must end in
 * success or a clean MSTLS_E_* error (never a crash or a hang) and free
 * everything. usrsctp's and GnuTLS's own allocations are not hooked;
 * LeakSanitizer covers them.
 *
 * Deterministic: packets travel through in-memory queues and usrsctp's
 * timers advance 10 ms per step of simulated time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "failmem.h"
#include "sctp_harness.h"

#define NS 3
/* Steps of 10 ms: bounds every wait far above the 2 s handshake timeout,
 * so a run that ends by the bound (a hang) is reported, not excused. */
#define MAX_STEPS 3000

/* Simulated time of the sessions' timers, in step with usrsctp's. */
static mstls_tstamp g_now;

/* One harness step (10 ms of usrsctp time), then the sessions' timers
 * (handshake timeouts) at the same simulated time. */
static void fm_step(sctp_h *h) {
  mstls_session *ss[2];
  int i;
  sctp_h_step(h);
  g_now += 10 * MSTLS_MILLISECONDS;
  ss[0] = mstls_sctp_assoc_get_session(h->cli);
  ss[1] = mstls_sctp_assoc_get_session(h->srv);
  for (i = 0; i < 2; i++) {
    if (ss[i] != NULL && mstls_session_get_expiry(ss[i]) <= g_now) {
      (void)mstls_session_handle_expiry(ss[i], g_now);
    }
  }
}

/* Both handshakes: 0, the first error, or MSTLS_E_AGAIN on a hang. */
static long fm_handshake(sctp_h *h) {
  int i;
  for (i = 0; i < MAX_STEPS; i++) {
    mstls_session *c, *s;
    int rc;
    fm_step(h);
    if (h->cli_rc != 0) {
      return h->cli_rc;
    }
    if (h->srv_rc != 0) {
      return h->srv_rc;
    }
    c = mstls_sctp_assoc_get_session(h->cli);
    if (c == NULL) {
      continue;
    }
    rc = mstls_session_handshake(c);
    if (rc == MSTLS_E_AGAIN) {
      continue;
    }
    if (rc < 0) {
      return rc;
    }
    s = mstls_sctp_assoc_get_session(h->srv);
    if (s == NULL) {
      continue;
    }
    rc = mstls_session_handshake(s);
    if (rc != MSTLS_E_AGAIN) {
      return rc;
    }
  }
  return MSTLS_E_AGAIN;
}

/* @p msg from @p from to @p to on stream @p k: 0 or an error. */
static long fm_carry(sctp_h *h, mstls_session *from, mstls_session *to,
                     uint16_t k, const char *msg) {
  char buf[16];
  long n = mstls_stream_send(from, k, msg, 4);
  int i;
  if (n < 0) {
    return n;
  }
  if (n != 4) {
    return MSTLS_E_TRANSPORT;
  }
  n = MSTLS_E_AGAIN;
  for (i = 0; i < MAX_STEPS && n == MSTLS_E_AGAIN; i++) {
    fm_step(h);
    if (h->cli_rc != 0 || h->srv_rc != 0) {
      return h->cli_rc != 0 ? h->cli_rc : h->srv_rc;
    }
    n = mstls_stream_recv(to, k, buf, sizeof(buf));
  }
  if (n < 0) {
    return n;
  }
  return n == 4 && memcmp(buf, msg, 4) == 0 ? 0 : MSTLS_E_BAD_RECORD;
}

static long sctp_scenario(const mstls_mem *mem, void *ctx) {
  mstls_session *c, *s;
  sctp_h h;
  long rv;
  uint16_t k;
  (void)ctx;

  g_now = MSTLS_SECONDS;
  sctp_h_defaults(&h, NS, MSTLS_POLICY_RESUME);
  h.cs.mem = mem;
  h.ss.mem = mem;
  h.cs.handshake_timeout = 2 * MSTLS_SECONDS;
  h.ss.handshake_timeout = 2 * MSTLS_SECONDS;
  rv = sctp_h_start(&h);
  if (rv == 0) {
    rv = fm_handshake(&h);
  }
  c = mstls_sctp_assoc_get_session(h.cli);
  s = mstls_sctp_assoc_get_session(h.srv);
  for (k = 0; rv == 0 && k < NS; k++) {
    rv = fm_carry(&h, c, s, k, "ping");
    if (rv == 0) {
      rv = fm_carry(&h, s, c, k, "pong");
    }
  }
  if (rv == 0 && h.cli != NULL) {
    /* close_notify on every stream, then the SCTP shutdown. */
    rv = mstls_sctp_assoc_shutdown(h.cli);
  }
  sctp_h_close(&h);
  return rv;
}

static void t_sctp_failmalloc(void **state) {
  long total;
  (void)state;
  total = failmem_run("sctp association", sctp_scenario, NULL);
  assert_true(total > 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(t_sctp_failmalloc)};
  return cmocka_run_group_tests(tests, sctp_h_group_setup,
                                sctp_h_group_teardown);
}
