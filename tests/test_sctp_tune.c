/* SCTP tunables on usrsctp: the failover profile bounds how long a dead
 * peer or an unanswered connect takes to be reported, and bad values are
 * refused up front.
 *
 * Deterministic: an in-process NOTHREADS usrsctp stack over an AF_CONN
 * link, whose timers run only when the test advances them (10 ms per
 * step), so every duration below is virtual time counted in steps, never
 * the wall clock. The bounds hold whatever RTO the stack measures: RTO
 * never exceeds RTO.Max, so (Association.Max.Retrans + 1) timeouts take at
 * most that many times RTO.Max.
 *
 * Not here: detection on an idle association through heartbeats. usrsctp
 * decides whether a path was idle long enough for a heartbeat with the
 * real clock, so in virtual time its outcome would depend on how fast the
 * machine runs the steps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "certs.h"
#include "sctp_harness.h"

#define STEP_MS 10

static int drop_all(int dir, const uint8_t *pkt, size_t len, void *ud) {
  (void)dir;
  (void)pkt;
  (void)len;
  (void)ud;
  return 1;
}

/* Step until the client association reports an error; return the virtual
 * milliseconds that took (or fail after @p guard_ms). */
static uint32_t ms_until_client_error(sctp_h *h, uint32_t guard_ms) {
  uint32_t ms;

  for (ms = 0; ms <= guard_ms; ms += STEP_MS) {
    (void)mstls_sctp_link_pair_pump(h->pair);
    h->cli_rc = mstls_sctp_assoc_process(h->cli);
    if (h->cli_rc != 0 && h->cli_rc != MSTLS_E_AGAIN) {
      return ms;
    }
    mstls_sctp_usrsctp_handle_timers(STEP_MS);
  }
  fail_msg("no error after %u ms of virtual time", guard_ms);
  return 0;
}

/* A peer that vanishes with data outstanding: with the failover profile it
 * is declared gone within 4 retransmission timeouts of at most RTO.Max
 * (1 s) each; about 1.5 s when RTO starts at RTO.Min. The stack's defaults
 * take minutes (test_sctp_conn's test_send_failed). */
static void test_failover_dead_peer(void **state) {
  mstls_session *c;
  sctp_h h;
  uint32_t ms;

  (void)state;
  sctp_h_defaults(&h, 4, MSTLS_POLICY_RESUME);
  mstls_sctp_config_failover(&h.ccfg);
  mstls_sctp_config_failover(&h.scfg);
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  c = mstls_sctp_assoc_get_session(h.cli);
  mstls_sctp_link_pair_set_tap(h.pair, drop_all, NULL);
  assert_int_equal(mstls_stream_send(c, 1, "lost", 4), 4);
  ms = ms_until_client_error(&h, 60000);
  print_message("dead peer reported after %u ms (virtual)\n", ms);
  assert_int_equal(h.cli_rc, MSTLS_E_PEER_GONE);
  assert_true(ms <= (3 + 1) * 1000 + STEP_MS);
  assert_int_equal(mstls_session_get_error(c), MSTLS_E_PEER_GONE);
  mstls_sctp_link_pair_set_tap(h.pair, NULL, NULL);
  mstls_sctp_assoc_abort(h.srv);
  sctp_h_close(&h);
}

/* Nobody answers the INIT: the connect fails after 3 retransmitted INITs
 * at most 1 s apart (the failover profile) with MSTLS_E_PEER_GONE, instead of
 * retrying for minutes. */
static void test_failover_connect_unanswered(void **state) {
  sctp_h h;
  uint32_t ms;

  (void)state;
  sctp_h_defaults(&h, 2, MSTLS_POLICY_PARALLEL);
  mstls_sctp_config_failover(&h.ccfg);
  assert_int_equal(mstls_sctp_link_pair_new(&h.pair), 0);
  h.ccred = test_client_creds(NULL, NULL, 0);
  h.scred = test_server_creds(NULL);
  assert_non_null(h.ccred);
  assert_non_null(h.scred);
  mstls_sctp_link_pair_set_tap(h.pair, drop_all, NULL);
  h.ccfg.link = mstls_sctp_link_pair_get(h.pair, 0);
  assert_int_equal(mstls_sctp_connect(&h.cli, &h.ccfg, NULL, h.port, &h.cs,
                                      &h.ccb, h.ccred, h.cud),
                   0);
  ms = ms_until_client_error(&h, 600000);
  print_message("unanswered connect failed after %u ms (virtual)\n", ms);
  assert_int_equal(h.cli_rc, MSTLS_E_PEER_GONE);
  assert_true(ms <= (3 + 1) * 1000 + STEP_MS);
  mstls_sctp_link_pair_set_tap(h.pair, NULL, NULL);
  sctp_h_close(&h);
}

/* Values the stacks would refuse are refused before any socket exists,
 * for connect and listen alike. */
static void test_bad_tunables(void **state) {
  static const struct {
    uint32_t initial, min, max, sack;
  } bad[] = {
      {0, 2000, 1000, 0},    /* min > max */
      {500, 1000, 0, 0},     /* initial < min */
      {3000, 0, 2000, 0},    /* initial > max */
      {0, 0, 0, 501},        /* SACK delay above 500 ms */
      {0, 0, 0x80000000u, 0} /* RTO.Max beyond a signed int */
  };
  mstls_sctp_config cfg;
  mstls_sctp_assoc *a = NULL;
  mstls_sctp_listener *l = NULL;
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    mstls_sctp_config_default(&cfg);
    cfg.backend = MSTLS_SCTP_BACKEND_USRSCTP;
    cfg.rto_initial_ms = bad[i].initial;
    cfg.rto_min_ms = bad[i].min;
    cfg.rto_max_ms = bad[i].max;
    cfg.sack_delay_ms = bad[i].sack;
    assert_int_equal(mstls_sctp_listen(&l, &cfg, "127.0.0.1", 5999),
                     MSTLS_E_INVALID_ARGUMENT);
    assert_int_equal(
        mstls_sctp_connect(&a, &cfg, "127.0.0.1", 5999, NULL, NULL, NULL, NULL),
        MSTLS_E_INVALID_ARGUMENT);
    assert_null(l);
    assert_null(a);
  }
  /* The profile itself is consistent, and leaves other fields alone. */
  mstls_sctp_config_default(&cfg);
  cfg.streams_out = 7;
  mstls_sctp_config_failover(&cfg);
  assert_int_equal(cfg.streams_out, 7);
  assert_true(cfg.rto_min_ms <= cfg.rto_initial_ms &&
              cfg.rto_initial_ms <= cfg.rto_max_ms);
  mstls_sctp_config_failover(NULL); /* no crash */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_failover_dead_peer),
      cmocka_unit_test(test_failover_connect_unanswered),
      cmocka_unit_test(test_bad_tunables),
  };
  return cmocka_run_group_tests(tests, sctp_h_group_setup,
                                sctp_h_group_teardown);
}
