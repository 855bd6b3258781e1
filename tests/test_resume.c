/* Resumption against servers as they are deployed: the mode a resumed
 * stream negotiates (psk_dhe_ke by default, psk_ke on request, and the
 * server's settings decide), a server that issues no TLS 1.3 ticket
 * (RESUME and LAZY must not stall: the wait for a ticket is bounded by the
 * measured handshake time), and TLS 1.2 session-ID resumption from the
 * server's session cache; one TLS record per message. In-memory link with 10 ms
 * one-way latency on a simulated clock: deterministic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pair.h"

#define TLS12 "NORMAL:-VERS-ALL:+VERS-TLS1.2"
#define NSTREAMS 30

/* Streams 1.. resumed (or not) on both sides; @p dhe: whether the resumed
 * handshakes ran an (EC)DHE exchange. */
static void check_resumed(test_pair *p, uint32_t n, int want_resumed, int dhe) {
  uint32_t i;
  for (i = 0; i < n; i++) {
    mstls_stream_info ci, si;
    assert_int_equal(mstls_stream_get_info(p->client, (uint16_t)i, &ci), 0);
    assert_int_equal(mstls_stream_get_info(p->server, (uint16_t)i, &si), 0);
    assert_int_equal(ci.state, MSTLS_STREAM_OPEN);
    assert_int_equal(si.state, MSTLS_STREAM_OPEN);
    if (i == 0) {
      assert_int_equal(ci.resumed, 0);
      assert_string_not_equal(ci.group, "-");
      continue;
    }
    assert_int_equal(ci.resumed, want_resumed);
    assert_int_equal(si.resumed, want_resumed);
    if (want_resumed && ci.version[4] == '3') {
      if (dhe) {
        assert_string_not_equal(ci.group, "-");
        assert_string_equal(ci.group, si.group);
      } else {
        assert_string_equal(ci.group, "-");
        assert_string_equal(si.group, "-");
      }
    }
  }
}

/* The client's settings.ticket_wait for the next pair_up() (0: measured). */
static mstls_tstamp g_ticket_wait;

static void pair_up(test_pair *p, uint32_t cflags, uint32_t sflags,
                    const char *prio, mstls_policy pol,
                    mstls_credentials *scred) {
  mstls_settings cs, ss;
  memlink_config lc = {42, 10 * MSTLS_MILLISECONDS, 0};
  test_client_settings(&cs, NSTREAMS, pol);
  test_server_settings(&ss, NSTREAMS, pol);
  cs.ticket_wait = g_ticket_wait;
  g_ticket_wait = 0;
  cs.flags |= cflags;
  ss.flags |= sflags;
  cs.priority = prio;
  assert_int_equal(test_pair_new_creds(p, &cs, &ss, &lc, NULL, NULL,
                                       test_client_creds(NULL, NULL, 0),
                                       scred ? scred : test_server_creds(NULL)),
                   0);
}

/* Default: resumed streams offer psk_dhe_ke first and every one gets an
 * (EC)DHE exchange of its own. */
static void t_default_dhe(void **state) {
  test_pair p;
  (void)state;
  pair_up(&p, 0, 0, NULL, MSTLS_POLICY_RESUME, NULL);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  test_pair_flush(&p);
  check_resumed(&p, NSTREAMS, 1, 1);
  test_pair_free(&p);
}

/* The cheap mode when both sides ask for it. */
static void t_psk_ke(void **state) {
  test_pair p;
  (void)state;
  pair_up(&p, MSTLS_SETTINGS_RESUME_PSK_KE, MSTLS_SETTINGS_RESUME_PSK_KE, NULL,
          MSTLS_POLICY_RESUME, NULL);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  test_pair_flush(&p);
  check_resumed(&p, NSTREAMS, 1, 0);
  test_pair_free(&p);
}

/* The server's settings decide: a client that prefers psk_ke still
 * resumes, with psk_dhe_ke, against a default server. */
static void t_server_decides(void **state) {
  test_pair p;
  (void)state;
  pair_up(&p, MSTLS_SETTINGS_RESUME_PSK_KE, 0, NULL, MSTLS_POLICY_RESUME, NULL);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  test_pair_flush(&p);
  check_resumed(&p, NSTREAMS, 1, 1);
  test_pair_free(&p);
}

/* A TLS 1.3 server that sends no ticket (freeDiameter's never does):
 * stream 0 completes, the others wait at most twice its measured
 * handshake time and then do full handshakes. handshake() succeeds. */
static void run_ticketless(mstls_policy pol) {
  test_pair p;
  mstls_session_stats st;
  mstls_tstamp t0, end;
  uint32_t i;
  char rb[8];

  pair_up(&p, 0, MSTLS_SETTINGS_NO_TICKETS, NULL, pol, NULL);
  t0 = memlink_now(p.link);
  if (pol == MSTLS_POLICY_LAZY) {
    assert_int_equal(mstls_session_handshake(p.client), 0);
    /* First use of every stream, all at once. */
    for (i = 0; i < NSTREAMS; i++) {
      assert_int_equal(mstls_stream_send(p.client, (uint16_t)i, "x", 1),
                       MSTLS_E_AGAIN);
    }
    for (;;) {
      mstls_tstamp e;
      memlink_advance(p.link, 0);
      if (!memlink_step(p.link, NULL) &&
          mstls_session_get_expiry(p.client) == MSTLS_TSTAMP_NEVER) {
        break;
      }
      e = mstls_session_get_expiry(p.client);
      if (memlink_in_flight(p.link) == 0 && e != MSTLS_TSTAMP_NEVER) {
        memlink_advance(p.link,
                        e > memlink_now(p.link) ? e - memlink_now(p.link) : 0);
      }
    }
  } else {
    assert_int_equal(test_pair_handshake(&p, 100000), 0);
  }
  end = memlink_now(p.link);
  test_pair_flush(&p);
  assert_int_equal(mstls_session_get_stats(p.client, &st), 0);
  assert_int_equal(st.streams_established, NSTREAMS);
  assert_int_equal(st.streams_failed, 0);
  assert_int_equal(st.full_handshakes, NSTREAMS);
  assert_int_equal(st.ticket_waits_expired, 1);
  /* One full handshake is one round trip on this link (2 x 10 ms). */
  assert_true(st.anchor_handshake_time >= 20 * MSTLS_MILLISECONDS);
  assert_true(st.anchor_handshake_time < 100 * MSTLS_MILLISECONDS);
  /* Stream 0's round trip, the bounded wait (2 x that), one more round
   * trip for the others: far from the 30 s handshake timeout. */
  assert_true(end - t0 <= 5 * st.anchor_handshake_time);
  for (i = 0; i < NSTREAMS; i++) {
    assert_int_equal(mstls_stream_send(p.client, (uint16_t)i, "x", 1), 1);
  }
  test_pair_flush(&p);
  for (i = 0; i < NSTREAMS; i++) {
    assert_int_equal(mstls_stream_recv(p.server, (uint16_t)i, rb, 8), 1);
  }
  check_resumed(&p, NSTREAMS, 0, 1);
  test_pair_free(&p);
}

static void t_ticketless_resume(void **state) {
  (void)state;
  run_ticketless(MSTLS_POLICY_RESUME);
}

static void t_ticketless_lazy(void **state) {
  (void)state;
  run_ticketless(MSTLS_POLICY_LAZY);
}

/* settings.ticket_wait replaces the measured bound: against a ticketless
 * server the other streams start exactly that long after stream 0's
 * handshake (virtual time: one round trip is 20 ms here). */
static void t_ticket_wait_setting(void **state) {
  test_pair p;
  mstls_session_stats st;
  mstls_tstamp t0, end;

  (void)state;
  g_ticket_wait = 2 * MSTLS_SECONDS;
  pair_up(&p, 0, MSTLS_SETTINGS_NO_TICKETS, NULL, MSTLS_POLICY_RESUME, NULL);
  t0 = memlink_now(p.link);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  end = memlink_now(p.link);
  assert_int_equal(mstls_session_get_stats(p.client, &st), 0);
  assert_int_equal(st.ticket_waits_expired, 1);
  assert_int_equal(st.full_handshakes, NSTREAMS);
  assert_int_equal(st.streams_established, NSTREAMS);
  /* Stream 0's round trip, the 2 s wait, the others' round trip. */
  assert_true(end - t0 >= 2 * MSTLS_SECONDS + st.anchor_handshake_time);
  assert_true(end - t0 < 2 * MSTLS_SECONDS + 5 * st.anchor_handshake_time);
  test_pair_free(&p);
}

/* TLS 1.2 without tickets: the client resumes every other stream by
 * session ID from the server's session cache. */
static void t_tls12_session_id(void **state) {
  test_pair p;
  mstls_session_stats st;
  mstls_session_cache_stats cst;
  mstls_credentials *scred = test_server_creds(NULL);
  (void)state;
  pair_up(&p, 0, MSTLS_SETTINGS_NO_TICKETS, TLS12, MSTLS_POLICY_RESUME, scred);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  test_pair_flush(&p);
  check_resumed(&p, NSTREAMS, 1, 1);
  assert_int_equal(mstls_session_get_stats(p.client, &st), 0);
  assert_int_equal(st.full_handshakes, 1);
  assert_int_equal(st.streams_resumed, NSTREAMS - 1);
  assert_int_equal(st.ticket_waits_expired, 0);
  assert_int_equal(mstls_credentials_get_session_cache_stats(scred, &cst), 0);
  assert_int_equal(cst.stored, 1);
  assert_int_equal(cst.hits, NSTREAMS - 1);
  assert_int_equal(cst.entries, 1);
  test_pair_free(&p);
}

/* The same with the cache turned off: full handshakes, nothing stalls. */
static void t_tls12_no_cache(void **state) {
  test_pair p;
  mstls_session_stats st;
  mstls_session_cache_stats cst;
  mstls_credentials *scred = test_server_creds(NULL);
  (void)state;
  assert_int_equal(mstls_credentials_set_session_cache(scred, 0, 0), 0);
  pair_up(&p, 0, MSTLS_SETTINGS_NO_TICKETS, TLS12, MSTLS_POLICY_RESUME, scred);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  test_pair_flush(&p);
  check_resumed(&p, NSTREAMS, 0, 1);
  assert_int_equal(mstls_session_get_stats(p.client, &st), 0);
  assert_int_equal(st.full_handshakes, NSTREAMS);
  assert_int_equal(mstls_credentials_get_session_cache_stats(scred, &cst), 0);
  assert_int_equal(cst.stored, 0);
  test_pair_free(&p);
}

/* A bounded cache drops its oldest sessions; a lookup of a dropped one
 * is a miss and a full handshake. */
static void t_cache_bound(void **state) {
  mstls_credentials *scred = test_server_creds(NULL);
  mstls_session_cache_stats cst;
  int i;
  (void)state;
  assert_int_equal(mstls_credentials_set_session_cache(NULL, 1, 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_session_cache(scred, 4, 0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_get_session_cache_stats(scred, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_session_cache(scred, 2, 60), 0);
  for (i = 0; i < 3; i++) {
    test_pair p;
    pair_up(&p, 0, MSTLS_SETTINGS_NO_TICKETS, TLS12, MSTLS_POLICY_PARALLEL,
            scred);
    assert_int_equal(test_pair_handshake(&p, 100000), 0);
    p.scred = NULL; /* shared across the pairs; freed below */
    test_pair_free(&p);
  }
  assert_int_equal(mstls_credentials_get_session_cache_stats(scred, &cst), 0);
  assert_int_equal(cst.stored, 3 * NSTREAMS);
  assert_int_equal(cst.entries, 2);
  assert_int_equal(cst.evicted, 3 * NSTREAMS - 2);
  mstls_credentials_del(scred);
}

/* Every message on the wire is exactly one TLS record (RFC 3436 §3.2):
 * handshake flights, tickets, data and close_notify, both directions. */
typedef struct wire_check {
  uint64_t msgs;
  uint64_t bad;
} wire_check;

static void check_one_record(int from, uint16_t stream, uint32_t *flags,
                             uint8_t *data, size_t len, int *drop, void *ctx) {
  wire_check *w = ctx;
  (void)from;
  (void)stream;
  (void)flags;
  (void)drop;
  w->msgs++;
  if (len < 5 || 5 + (((size_t)data[3] << 8) | data[4]) != len) {
    w->bad++;
  }
}

static void run_wire(uint32_t cflags, const char *prio, mstls_policy pol) {
  test_pair p;
  wire_check w = {0, 0};
  uint32_t i;
  char rb[64];
  pair_up(&p, cflags, 0, prio, pol, NULL);
  memlink_set_tamper(p.link, check_one_record, &w);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  for (i = 0; i < NSTREAMS; i++) {
    assert_int_equal(mstls_stream_send(p.client, (uint16_t)i, "ping", 4), 4);
  }
  test_pair_flush(&p);
  for (i = 0; i < NSTREAMS; i++) {
    assert_int_equal(mstls_stream_recv(p.server, (uint16_t)i, rb, sizeof(rb)),
                     4);
    assert_int_equal(mstls_stream_bye(p.client, (uint16_t)i), 0);
  }
  test_pair_flush(&p);
  assert_true(w.msgs > 4 * NSTREAMS);
  assert_int_equal(w.bad, 0);
  test_pair_free(&p);
}

static void t_one_record_per_message(void **state) {
  (void)state;
  run_wire(0, NULL, MSTLS_POLICY_RESUME);
  run_wire(0, NULL, MSTLS_POLICY_PARALLEL);
  run_wire(0, TLS12, MSTLS_POLICY_RESUME);
  run_wire(MSTLS_SETTINGS_RESUME_PSK_KE, NULL, MSTLS_POLICY_RESUME);
}

static mstls_credentials *server_creds_with_key(uint8_t key_byte) {
  uint8_t key[MSTLS_TICKET_KEY_SIZE];
  mstls_credentials *c = test_server_creds(NULL);
  memset(key, key_byte, sizeof(key));
  assert_non_null(c);
  assert_int_equal(mstls_credentials_set_ticket_key(c, key, sizeof(key)), 0);
  return c;
}

/* Bring up association 1, take its resumption data. */
static size_t first_association(const char *prio, uint8_t *blob, size_t cap) {
  test_pair p;
  size_t len = 0;
  pair_up(&p, 0, 0, prio, MSTLS_POLICY_RESUME, server_creds_with_key(7));
  assert_int_equal(mstls_session_get_resumption_data(p.client, NULL, &len),
                   MSTLS_E_INVALID_STATE);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  assert_int_equal(mstls_session_get_resumption_data(p.client, NULL, &len),
                   MSTLS_E_MSG_SIZE);
  assert_true(len > 4 && len <= cap);
  len = 1;
  assert_int_equal(mstls_session_get_resumption_data(p.client, blob, &len),
                   MSTLS_E_MSG_SIZE);
  len = cap;
  assert_int_equal(mstls_session_get_resumption_data(p.client, blob, &len), 0);
  assert_int_equal(mstls_session_get_resumption_data(p.server, blob, &len),
                   MSTLS_E_INVALID_ARGUMENT);
  test_pair_free(&p);
  return len;
}

/* Association 2 gets association 1's data: with a server that shares the
 * ticket key (another credentials object, as in another process) every
 * stream resumes, stream 0 included; with another key, full handshakes. */
static void run_cross(const char *prio, uint8_t server_key, int want_resumed) {
  uint8_t blob[4096], blob2[4096];
  size_t len = first_association(prio, blob, sizeof(blob)), len2;
  mstls_session_stats st;
  test_pair p;
  uint32_t i;

  pair_up(&p, 0, 0, prio, MSTLS_POLICY_RESUME,
          server_creds_with_key(server_key));
  assert_int_equal(mstls_session_set_resumption_data(p.client, blob, len), 0);
  assert_int_equal(mstls_session_set_resumption_data(p.client, blob, len),
                   MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_session_set_resumption_data(p.server, blob, len),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  test_pair_flush(&p);
  for (i = 0; i < NSTREAMS; i++) {
    mstls_stream_info ci, si;
    assert_int_equal(mstls_stream_get_info(p.client, (uint16_t)i, &ci), 0);
    assert_int_equal(mstls_stream_get_info(p.server, (uint16_t)i, &si), 0);
    assert_int_equal(ci.state, MSTLS_STREAM_OPEN);
    assert_int_equal(ci.resumed, want_resumed);
    assert_int_equal(si.resumed, want_resumed);
  }
  assert_int_equal(mstls_session_get_stats(p.client, &st), 0);
  assert_int_equal(st.full_handshakes, want_resumed ? 0 : NSTREAMS);
  assert_int_equal(mstls_session_get_stats(p.server, &st), 0);
  assert_int_equal(st.full_handshakes, want_resumed ? 0 : NSTREAMS);
  /* And this association's data is there for the next one. */
  len2 = sizeof(blob2);
  assert_int_equal(mstls_session_get_resumption_data(p.client, blob2, &len2),
                   0);
  assert_int_equal(mstls_session_set_resumption_data(p.client, blob2, len2),
                   MSTLS_E_INVALID_STATE);
  test_pair_free(&p);
}

static void t_cross_association(void **state) {
  (void)state;
  run_cross(NULL, 7, 1);
  run_cross(TLS12, 7, 1);
  run_cross(NULL, 8, 0);
}

/* Damaged resumption data: full handshakes, counted, nothing fails. */
static void t_bad_resumption_data(void **state) {
  static const uint8_t junk[64] = {1, 2, 3};
  mstls_session_stats st;
  test_pair p;
  (void)state;
  pair_up(&p, 0, 0, NULL, MSTLS_POLICY_RESUME, NULL);
  assert_int_equal(mstls_session_set_resumption_data(p.client, NULL, 4),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_set_resumption_data(p.client, junk, 0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(
      mstls_session_set_resumption_data(p.client, junk, sizeof(junk)), 0);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  assert_int_equal(mstls_session_get_stats(p.client, &st), 0);
  assert_int_equal(st.full_handshakes, NSTREAMS);
  assert_int_equal(st.resume_data_rejected, NSTREAMS);
  test_pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_default_dhe),
      cmocka_unit_test(t_psk_ke),
      cmocka_unit_test(t_server_decides),
      cmocka_unit_test(t_ticketless_resume),
      cmocka_unit_test(t_ticketless_lazy),
      cmocka_unit_test(t_ticket_wait_setting),
      cmocka_unit_test(t_tls12_session_id),
      cmocka_unit_test(t_tls12_no_cache),
      cmocka_unit_test(t_cache_bound),
      cmocka_unit_test(t_one_record_per_message),
      cmocka_unit_test(t_cross_association),
      cmocka_unit_test(t_bad_resumption_data),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
