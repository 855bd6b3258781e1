/* mstls_sctp_assoc_del() on a usrsctp association that is still up: the
 * library keeps the socket until SCTP reports the association gone, then
 * frees it (closing it earlier races usrsctp's own threads: a double free
 * inside usrsctp); it discards what still arrives so the close can end,
 * delivers what was queued, and aborts the association when
 * config.linger_ms runs out or the stack is released.
 *
 * One process, the usrsctp stack with its threads (the closer exists only
 * there), the two ends joined by an in-memory link pair: a packet moves
 * only when the test pumps it, so each SCTP exchange happens at a step the
 * test chooses.
 *
 * Load-proof: each verdict is a counter or a return code that an event
 * produces. The closer runs on its own thread, so the test waits for its
 * counters (wait_stats); that wait is bounded only against a hang (60 s,
 * for work of microseconds). The linger cases drop every packet, so
 * nothing but linger_ms (or the release) can end the association, and
 * SCTP's own give-up lies minutes away (RTO.Min 1 s, 10 retransmissions),
 * whatever the load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <time.h>

#include "certs.h"
#include "pair.h"
#include "sctp_harness.h"

#define NSTREAMS 2
#define HANG_GUARD_MS 60000

/* 1: the peers are silent -- every packet is dropped but an ABORT, which
 * stays queued, so the peer learns of it whenever the test pumps. */
static int drop_all;

static int tap(int dir, const uint8_t *pkt, size_t len, void *user) {
  (void)dir;
  (void)user;
  if (drop_all && len > 12 && pkt[12] == 6) /* first chunk: ABORT */
    return 0;
  return drop_all;
}

static mstls_sctp_usrsctp_stats stats_now(void) {
  mstls_sctp_usrsctp_stats st;
  assert_int_equal(mstls_sctp_usrsctp_get_stats(&st), 0);
  return st;
}

/* Wait, bounded only against a hang, until the closer has ended @p closed
 * more gracefully and @p aborted more by abort than @p base, keep pumping
 * meanwhile. */
static void wait_stats(sctp_h *h, const mstls_sctp_usrsctp_stats *base,
                       uint64_t closed, uint64_t aborted) {
  const struct timespec tick = {0, 1000000L};
  mstls_sctp_usrsctp_stats st = stats_now();
  int ms;

  for (ms = 0; ms < HANG_GUARD_MS; ms++) {
    st = stats_now();
    if (st.linger_closed - base->linger_closed >= closed &&
        st.linger_aborted - base->linger_aborted >= aborted)
      break;
    if (h->pair != NULL)
      (void)mstls_sctp_link_pair_pump(h->pair);
    nanosleep(&tick, NULL);
  }
  assert_int_equal(st.linger_closed - base->linger_closed, closed);
  assert_int_equal(st.linger_aborted - base->linger_aborted, aborted);
  assert_int_equal(st.lingering, base->lingering);
}

static void start(sctp_h *h, uint16_t port, uint32_t linger_ms) {
  sctp_h_defaults(h, NSTREAMS, MSTLS_POLICY_PARALLEL);
  h->port = port;
  h->scfg.linger_ms = linger_ms;
  assert_int_equal(sctp_h_start(h), 0);
  mstls_sctp_link_pair_set_tap(h->pair, tap, NULL);
  drop_all = 0;
  assert_int_equal(sctp_h_handshake(h, 400), 0);
}

/* Step until the client's association ends, pushing what its session
 * still keeps; @return how. usrsctp's timer
 * thread sends some packets (a delayed SACK, then the SHUTDOWN behind the
 * data it acknowledges), so this waits on the real clock, bounded only
 * against a hang. */
static int client_end(sctp_h *h) {
  const struct timespec tick = {0, 1000000L};
  int ms;

  for (ms = 0; ms < HANG_GUARD_MS; ms++) {
    (void)mstls_sctp_link_pair_pump(h->pair);
    (void)mstls_session_flush(mstls_sctp_assoc_get_session(h->cli));
    h->cli_rc = mstls_sctp_assoc_process(h->cli);
    if (h->cli_rc != 0 && h->cli_rc != MSTLS_E_AGAIN)
      return h->cli_rc;
    nanosleep(&tick, NULL);
  }
  return h->cli_rc;
}

static void finish(sctp_h *h) {
  drop_all = 0;
  mstls_sctp_assoc_del(h->cli);
  h->cli = NULL;
  sctp_h_close(h);
}

/* The server deletes a live association right after sending: the message
 * arrives, the close is an orderly SHUTDOWN, and the socket is freed once
 * SCTP reports the association gone (counted as closed, not aborted). */
static void test_del_live_is_graceful(void **state) {
  const mstls_sctp_usrsctp_stats base = stats_now();
  mstls_sctp_usrsctp_stats mid;
  sctp_h h;
  char buf[16];
  long n = MSTLS_E_AGAIN;
  int step;

  (void)state;
  start(&h, 5101, MSTLS_SCTP_DEFAULT_LINGER_MS);
  assert_int_equal(
      mstls_stream_send(mstls_sctp_assoc_get_session(h.srv), 1, "last", 4), 4);
  mstls_sctp_assoc_del(h.srv);
  h.srv = NULL;
  /* Nothing moved since: the closer holds it. */
  mid = stats_now();
  assert_int_equal(mid.lingering, base.lingering + 1);
  for (step = 0; step < 400 && n == MSTLS_E_AGAIN; step++) {
    (void)mstls_sctp_link_pair_pump(h.pair);
    (void)mstls_sctp_assoc_process(h.cli);
    n = mstls_stream_recv(mstls_sctp_assoc_get_session(h.cli), 1, buf,
                          sizeof(buf));
  }
  assert_int_equal(n, 4);
  assert_memory_equal(buf, "last", 4);
  assert_int_equal(client_end(&h), MSTLS_E_CLOSED);
  wait_stats(&h, &base, 1, 0);
  finish(&h);
}

/* Data the peer sent before learning of the close fills the deleted
 * socket's receive buffer; without a reader the peer could not deliver
 * the rest, and SHUTDOWN waits for it. The closer reads and discards it,
 * so the close still ends in order. No linger limit: only the discarding
 * can end it. */
static void test_del_discards_late_data(void **state) {
  const mstls_sctp_usrsctp_stats base = stats_now();
  static uint8_t chunk[8192];
  mstls_session *cs;
  sctp_h h;
  size_t sent = 0;
  int step;

  (void)state;
  sctp_h_defaults(&h, NSTREAMS, MSTLS_POLICY_PARALLEL);
  h.port = 5102;
  h.scfg.linger_ms = 0;
  h.scfg.recv_buffer = 32768;
  h.scfg.pending_recv_buffer = 32768;
  assert_int_equal(sctp_h_start(&h), 0);
  drop_all = 0;
  assert_int_equal(sctp_h_handshake(&h, 400), 0);
  cs = mstls_sctp_assoc_get_session(h.cli);
  /* Eight times the server's window, queued at the client. */
  for (step = 0; step < 1000 && sent < 8 * 32768u; step++) {
    long n = mstls_stream_send(cs, 1, chunk, sizeof(chunk));
    if (n > 0)
      sent += (size_t)n;
    else
      assert_int_equal(n, MSTLS_E_AGAIN);
  }
  assert_true(sent >= 8 * 32768u);
  mstls_sctp_assoc_del(h.srv);
  h.srv = NULL;
  assert_int_equal(client_end(&h), MSTLS_E_CLOSED);
  wait_stats(&h, &base, 1, 0);
  finish(&h);
}

/* A peer that answers nothing: the SHUTDOWN can never complete, so the
 * association is aborted when linger_ms runs out, and the peer learns of
 * it from the ABORT (the one packet the tap lets through). */
static void test_linger_runs_out(void **state) {
  const mstls_sctp_usrsctp_stats base = stats_now();
  sctp_h h;
  int rc;

  (void)state;
  start(&h, 5103, 50);
  drop_all = 1;
  mstls_sctp_assoc_del(h.srv);
  h.srv = NULL;
  wait_stats(&h, &base, 0, 1);
  drop_all = 0;
  rc = client_end(&h);
  assert_true(rc != MSTLS_E_CLOSED && rc != 0 && rc != MSTLS_E_AGAIN);
  finish(&h);
}

/* Start the pair with every packet dropped, so that the client's INIT is
 * lost, and delete the client while it is still being set up. */
static void del_while_connecting(sctp_h *h) {
  drop_all = 1;
  assert_int_equal(sctp_h_start(h), 0);
  mstls_sctp_link_pair_set_tap(h->pair, tap, NULL);
  (void)mstls_sctp_link_pair_pump(h->pair); /* the INIT, dropped */
  mstls_sctp_assoc_del(h->cli);
  h->cli = NULL;
}

/* An association deleted while still being set up (its INIT unanswered)
 * cannot be aborted yet (usrsctp refuses an ABORT before COOKIE-ECHO),
 * nor may its socket be closed while it exists: the closer keeps it past
 * linger_ms until SCTP gives up on the INIT (the failover profile: four
 * INITs, about 2.4 s), then frees it, counted as aborted. Every packet is
 * dropped, so it can never come up, whatever the load. */
static void test_del_while_connecting(void **state) {
  const mstls_sctp_usrsctp_stats base = stats_now();
  sctp_h h;

  (void)state;
  sctp_h_defaults(&h, NSTREAMS, MSTLS_POLICY_PARALLEL);
  h.port = 5106;
  mstls_sctp_config_failover(&h.ccfg);
  h.ccfg.linger_ms = 50;
  del_while_connecting(&h);
  assert_int_equal(stats_now().lingering, base.lingering + 1);
  wait_stats(&h, &base, 0, 1);
  finish(&h);
}

/* The last release of the stack does not wait for a silent peer beyond
 * its bound: what still lingers is aborted, and the stack stops. */
static void test_release_aborts_lingering(void **state) {
  mstls_sctp_usrsctp_stats base, after;
  sctp_h h;

  (void)state;
  assert_int_equal(mstls_sctp_usrsctp_init(0, 0), 0);
  base = stats_now();
  start(&h, 5104, 0);
  drop_all = 1;
  mstls_sctp_assoc_del(h.srv);
  h.srv = NULL;
  mstls_sctp_assoc_del(h.cli);
  h.cli = NULL;
  assert_int_equal(stats_now().lingering, base.lingering + 2);
  mstls_sctp_listener_del(h.lst);
  h.lst = NULL;
  /* The group's reference and ours. */
  assert_int_equal(mstls_sctp_usrsctp_release(), 0);
  assert_int_equal(mstls_sctp_usrsctp_release(), 0);
  after = stats_now();
  assert_int_equal(after.lingering, 0);
  assert_int_equal(after.linger_aborted - base.linger_aborted, 2);
  assert_int_equal(after.linger_closed, base.linger_closed);
  mstls_sctp_link_pair_del(h.pair);
  mstls_credentials_del(h.ccred);
  mstls_credentials_del(h.scred);
  /* Up again for the group's teardown. */
  assert_int_equal(mstls_sctp_usrsctp_init(0, 0), 0);
}

/* The last release while an association deleted before its INIT was
 * answered is still being set up: it cannot be aborted, so the release
 * says so (MSTLS_E_AGAIN) once its 6 s drain has passed, and the stack
 * keeps running; when SCTP gives up on the INIT (20 INITs 1 s apart, 14 s
 * after the drain at the earliest) the closer frees it, and the next
 * release succeeds. Had the release waited for it instead, it would have
 * returned 0. */
static void test_release_while_connecting(void **state) {
  mstls_sctp_usrsctp_stats base;
  sctp_h h;

  (void)state;
  assert_int_equal(mstls_sctp_usrsctp_init(0, 0), 0);
  base = stats_now();
  sctp_h_defaults(&h, NSTREAMS, MSTLS_POLICY_PARALLEL);
  h.port = 5107;
  h.ccfg.rto_initial_ms = 1000;
  h.ccfg.rto_min_ms = 1000;
  /* RTO.Max sets the shutdown guard (5 x RTO.Max = 50 s), which would
   * otherwise end the association, shut down while set up, first. */
  h.ccfg.rto_max_ms = 10000;
  h.ccfg.init_max_attempts = 20;
  h.ccfg.init_max_timeout_ms = 1000;
  del_while_connecting(&h);
  mstls_sctp_listener_del(h.lst);
  h.lst = NULL;
  /* The group's reference, then the last one. */
  assert_int_equal(mstls_sctp_usrsctp_release(), 0);
  assert_int_equal(mstls_sctp_usrsctp_release(), MSTLS_E_AGAIN);
  assert_int_equal(stats_now().lingering, base.lingering + 1);
  wait_stats(&h, &base, 0, 1);
  assert_int_equal(mstls_sctp_usrsctp_release(), 0);
  mstls_sctp_link_pair_del(h.pair);
  mstls_credentials_del(h.ccred);
  mstls_credentials_del(h.scred);
  assert_int_equal(mstls_sctp_usrsctp_init(0, 0), 0);
}

/* linger_ms beyond INT32_MAX is refused; INT32_MAX itself passes the
 * check (and the connect then fails for its own reason: this stack has no
 * UDP port). */
static void test_bad_arguments(void **state) {
  mstls_credentials *cred = test_client_creds(NULL, NULL, 0);
  mstls_sctp_config cfg;
  mstls_settings cs;
  mstls_sctp_assoc *a = NULL;

  (void)state;
  assert_non_null(cred);
  test_client_settings(&cs, NSTREAMS, MSTLS_POLICY_PARALLEL);
  assert_int_equal(mstls_sctp_usrsctp_get_stats(NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  mstls_sctp_config_default(&cfg);
  assert_int_equal(cfg.linger_ms, MSTLS_SCTP_DEFAULT_LINGER_MS);
  cfg.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  cfg.blocking = 0;
  cfg.linger_ms = (uint32_t)INT32_MAX + 1u;
  assert_int_equal(
      mstls_sctp_connect(&a, &cfg, "127.0.0.1", 5105, &cs, NULL, cred, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  assert_null(a);
  cfg.linger_ms = INT32_MAX;
  assert_int_equal(
      mstls_sctp_connect(&a, &cfg, "127.0.0.1", 5105, &cs, NULL, cred, NULL),
      MSTLS_E_INVALID_STATE);
  assert_null(a);
  mstls_credentials_del(cred);
}

static int group_setup(void **state) {
  (void)state;
  return mstls_sctp_usrsctp_init(0, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_del_live_is_graceful),
      cmocka_unit_test(test_del_discards_late_data),
      cmocka_unit_test(test_linger_runs_out),
      cmocka_unit_test(test_del_while_connecting),
      cmocka_unit_test(test_release_aborts_lingering),
      cmocka_unit_test(test_release_while_connecting),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, group_setup, sctp_h_group_teardown);
}
