/* Failures of one stream and of the whole session: unknown streams,
 * oversized messages, corrupted records, unordered delivery on a TLS
 * stream, a vanished peer, receive caps, TLS 1.1-only peers, and
 * ABORT_ON_FAILURE. Each failure must stay on its stream unless the
 * session is told otherwise.
 *
 * Load-proof: no sockets, no threads; every pair runs over the memlink on
 * its simulated clock, and each deadline is reached by handing
 * mstls_session_handle_expiry() or memlink_advance() its time stamp, never
 * by waiting. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

static void pair_up(test_pair *p, uint32_t n, mstls_policy pol,
                    const mstls_settings *server_override) {
  mstls_settings cs, ss;
  test_client_settings(&cs, n, pol);
  test_server_settings(&ss, n, pol);
  if (server_override) {
    ss = *server_override;
  }
  assert_int_equal(test_pair_new(p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(p, 100000), 0);
  test_pair_flush(p);
}

/* Both directions of @p stream still carry data. */
static void assert_stream_works(test_pair *p, uint16_t stream) {
  char rb[32];
  assert_int_equal(mstls_stream_send(p->client, stream, "ping", 4), 4);
  assert_int_equal(mstls_stream_send(p->server, stream, "pong", 4), 4);
  test_pair_flush(p);
  assert_int_equal(mstls_stream_recv(p->server, stream, rb, sizeof(rb)), 4);
  assert_memory_equal(rb, "ping", 4);
  assert_int_equal(mstls_stream_recv(p->client, stream, rb, sizeof(rb)), 4);
  assert_memory_equal(rb, "pong", 4);
}

static void t_unknown_stream(void **state) {
  test_pair p;
  mstls_session_stats st;
  mstls_stream_info info;
  char rb[8];
  (void)state;
  pair_up(&p, 4, MSTLS_POLICY_RESUME, NULL);
  assert_int_equal(mstls_session_feed(p.server, 0, 4, (const uint8_t *)"x", 1),
                   MSTLS_E_INVALID_STREAM);
  assert_int_equal(
      mstls_session_feed(p.server, 0, 65535, (const uint8_t *)"x", 1),
      MSTLS_E_INVALID_STREAM);
  assert_int_equal(mstls_session_get_stats(p.server, &st), 0);
  assert_int_equal(st.msgs_dropped, 2);
  assert_int_equal(mstls_stream_send(p.client, 4, "x", 1),
                   MSTLS_E_INVALID_STREAM);
  assert_int_equal(mstls_stream_recv(p.client, 4, rb, sizeof(rb)),
                   MSTLS_E_INVALID_STREAM);
  assert_int_equal(mstls_stream_get_info(p.client, 4, &info),
                   MSTLS_E_INVALID_STREAM);
  assert_int_equal(mstls_stream_get_state(p.client, 4), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(p.client, 4), MSTLS_E_INVALID_STREAM);
  assert_int_equal(mstls_stream_set_plaintext(p.client, 4),
                   MSTLS_E_INVALID_STREAM);
  assert_int_equal(mstls_stream_starttls(p.client, 4), MSTLS_E_INVALID_STREAM);
  assert_int_equal(mstls_stream_pause(p.client, 4), MSTLS_E_INVALID_STREAM);
  assert_int_equal(mstls_stream_resume(p.client, 4), MSTLS_E_INVALID_STREAM);
  assert_int_equal(mstls_stream_set_user_data(p.client, 4, &p),
                   MSTLS_E_INVALID_STREAM);
  assert_null(mstls_stream_get_user_data(p.client, 4));
  assert_null(mstls_stream_get_gnutls(p.client, 4));
  assert_int_equal(mstls_stream_bye(p.client, 4), MSTLS_E_INVALID_STREAM);
  /* The session is unharmed. */
  assert_int_equal(mstls_session_get_error(p.server), 0);
  assert_stream_works(&p, 3);
  test_pair_free(&p);
}

/* The client believes in more streams than the server has: the extra
 * streams' ClientHellos are refused and those streams time out, the
 * others work. The handshake says so (MSTLS_E_PARTIAL) unless the
 * application accepts a partial bring-up. */
static void run_beyond_negotiated(uint32_t flags) {
  mstls_settings cs, ss;
  mstls_session_stats st;
  test_pair p;
  uint16_t i;
  int frv, stepped = 0;
  test_client_settings(&cs, 8, MSTLS_POLICY_PARALLEL);
  test_server_settings(&ss, 4, MSTLS_POLICY_PARALLEL);
  cs.flags |= flags;
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(mstls_session_handshake(p.client), MSTLS_E_AGAIN);
  /* The server refuses what it cannot route. */
  while (memlink_step(p.link, &frv) && stepped < 1000) {
    stepped++;
    assert_true(frv == 0 || frv == MSTLS_E_INVALID_STREAM);
  }
  assert_int_equal(test_pair_handshake(&p, 100000),
                   (flags & MSTLS_SETTINGS_ACCEPT_PARTIAL) ? 0
                                                           : MSTLS_E_PARTIAL);
  assert_false(mstls_err_is_fatal(MSTLS_E_PARTIAL));
  assert_int_equal(mstls_session_get_stats(p.client, &st), 0);
  assert_int_equal(st.streams_established, 4);
  assert_int_equal(st.streams_failed, 4);
  for (i = 0; i < 8; i++) {
    mstls_stream_info info;
    assert_int_equal(mstls_stream_get_info(p.client, i, &info), 0);
    if (i < 4) {
      assert_int_equal(info.state, MSTLS_STREAM_OPEN);
    } else {
      assert_int_equal(info.state, MSTLS_STREAM_FAILED);
      assert_int_equal(info.error, MSTLS_E_TIMEOUT);
    }
  }
  assert_stream_works(&p, 3);
  test_pair_free(&p);
}

static void t_beyond_negotiated(void **state) {
  (void)state;
  run_beyond_negotiated(0);
  run_beyond_negotiated(MSTLS_SETTINGS_ACCEPT_PARTIAL);
}

static void t_oversized(void **state) {
  test_pair p;
  mstls_settings ss;
  uint8_t *big;
  (void)state;
  test_server_settings(&ss, 2, MSTLS_POLICY_RESUME);
  ss.max_message = 20000;
  ss.stream_rx_cap = 20000;
  ss.session_rx_budget = 20000;
  pair_up(&p, 2, MSTLS_POLICY_RESUME, &ss);
  big = calloc(1, 20001);
  assert_non_null(big);
  assert_int_equal(mstls_session_feed(p.server, 0, 1, big, 20001),
                   MSTLS_E_MSG_SIZE);
  assert_int_equal(mstls_stream_get_state(p.server, 1), MSTLS_STREAM_OPEN);
  assert_stream_works(&p, 1);
  free(big);
  test_pair_free(&p);
}

/* Flip a bit in the next application-data record on one stream. */
typedef struct tamper_ctx {
  int armed;
  int from;
  uint16_t stream;
  int hits;
} tamper_ctx;

static void tamper(int from, uint16_t stream, uint32_t *flags, uint8_t *data,
                   size_t len, int *drop, void *ctx) {
  tamper_ctx *t = ctx;
  (void)flags;
  (void)drop;
  if (t->armed && from == t->from && stream == t->stream && len > 5 &&
      data[0] == 23) {
    data[len - 1] ^= 0x40;
    t->armed = 0;
    t->hits++;
  }
}

static void t_corrupt_record(void **state) {
  test_pair p;
  tamper_ctx t = {0, MEMLINK_CLIENT, 2, 0};
  char rb[16];
  uint16_t i;
  int frv = 0;
  (void)state;
  pair_up(&p, 4, MSTLS_POLICY_RESUME, NULL);
  memlink_set_tamper(p.link, tamper, &t);
  t.armed = 1;
  assert_int_equal(mstls_stream_send(p.client, 2, "secret", 6), 6);
  test_pair_flush(&p);
  assert_int_equal(t.hits, 1);
  assert_int_equal(mstls_stream_recv(p.server, 2, rb, sizeof(rb)),
                   MSTLS_E_BAD_RECORD);
  assert_int_equal(mstls_stream_get_state(p.server, 2), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(p.server, 2), MSTLS_E_BAD_RECORD);
  assert_int_equal(mstls_stream_get_tls_error(p.server, 2),
                   GNUTLS_E_DECRYPTION_FAILED);
  assert_null(mstls_stream_get_gnutls(p.server, 2));
  /* The server closed its side with a fatal alert: the client's stream
   * fails too, and nothing else does. */
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv(p.client, 2, rb, sizeof(rb)),
                   MSTLS_E_ALERT);
  assert_int_equal(mstls_session_get_error(p.client), 0);
  /* Later input on the failed stream is refused, not processed. */
  assert_int_equal(memlink_inject(p.link, MEMLINK_SERVER, 2, 0, "abc", 3), 0);
  assert_int_equal(memlink_step(p.link, &frv), 1);
  assert_int_equal(frv, MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_session_get_error(p.server), 0);
  for (i = 0; i < 4; i++) {
    if (i != 2) {
      assert_stream_works(&p, i);
    }
  }
  test_pair_free(&p);
}

/* The transport fails one stream (mstls_stream_fail): that stream ends
 * with the transport's error, the others go on; bad calls are refused. */
static void t_transport_fails_stream(void **state) {
  test_pair p;
  char rb[8];
  uint16_t i;
  (void)state;
  pair_up(&p, 4, MSTLS_POLICY_RESUME, NULL);
  assert_int_equal(mstls_stream_fail(NULL, 1, MSTLS_E_STREAM_LOST),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_fail(p.client, 1, 0), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_fail(p.client, 1, 3), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_fail(p.client, 1, MSTLS_E_AGAIN),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_fail(p.client, 4, MSTLS_E_STREAM_LOST),
                   MSTLS_E_INVALID_STREAM);
  assert_int_equal(mstls_stream_get_state(p.client, 1), MSTLS_STREAM_OPEN);

  assert_int_equal(mstls_stream_fail(p.client, 1, MSTLS_E_STREAM_LOST), 0);
  assert_int_equal(mstls_stream_get_state(p.client, 1), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(p.client, 1), MSTLS_E_STREAM_LOST);
  assert_int_equal(mstls_stream_send(p.client, 1, "x", 1), MSTLS_E_STREAM_LOST);
  assert_int_equal(mstls_stream_recv(p.client, 1, rb, sizeof(rb)),
                   MSTLS_E_STREAM_LOST);
  /* A second failure does not overwrite the first. */
  assert_int_equal(mstls_stream_fail(p.client, 1, MSTLS_E_STREAM_RESET), 0);
  assert_int_equal(mstls_stream_get_error(p.client, 1), MSTLS_E_STREAM_LOST);
  /* A closed stream stays closed. */
  assert_int_equal(mstls_stream_bye(p.client, 3), 0);
  assert_int_equal(mstls_stream_fail(p.client, 3, MSTLS_E_STREAM_RESET), 0);
  assert_int_equal(mstls_stream_get_state(p.client, 3), MSTLS_STREAM_CLOSED);
  assert_int_equal(mstls_session_get_error(p.client), 0);
  for (i = 0; i < 3; i += 2) {
    assert_stream_works(&p, i);
  }
  assert_int_equal(mstls_session_fail(NULL, MSTLS_E_PEER_GONE),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_fail(p.client, 0), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_fail(p.client, MSTLS_E_AGAIN),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_get_error(p.client), 0);
  /* The transport ends the server's session: every call says so, and the
   * first error stays. */
  assert_int_equal(mstls_session_fail(p.server, MSTLS_E_PEER_GONE),
                   MSTLS_E_PEER_GONE);
  assert_int_equal(mstls_session_fail(p.server, MSTLS_E_TRANSPORT),
                   MSTLS_E_PEER_GONE);
  assert_int_equal(mstls_stream_recv(p.server, 0, rb, sizeof(rb)),
                   MSTLS_E_PEER_GONE);
  assert_int_equal(mstls_stream_send(p.server, 0, "x", 1), MSTLS_E_PEER_GONE);
  /* A fatal error fails the session. */
  assert_int_equal(mstls_stream_fail(p.client, 2, MSTLS_E_PEER_GONE), 0);
  assert_int_equal(mstls_session_get_error(p.client), MSTLS_E_PEER_GONE);
  assert_int_equal(mstls_stream_send(p.client, 0, "x", 1), MSTLS_E_PEER_GONE);
  test_pair_free(&p);
}

static void t_abort_on_failure(void **state) {
  test_pair p;
  mstls_settings ss;
  tamper_ctx t = {0, MEMLINK_CLIENT, 1, 0};
  int frv = 0;
  char rb[8];
  (void)state;
  test_server_settings(&ss, 3, MSTLS_POLICY_RESUME);
  ss.flags |= MSTLS_SETTINGS_ABORT_ON_FAILURE;
  pair_up(&p, 3, MSTLS_POLICY_RESUME, &ss);
  memlink_set_tamper(p.link, tamper, &t);
  t.armed = 1;
  /* Callback-free pull mode: the bad record is found when it is read. */
  assert_int_equal(mstls_stream_send(p.client, 1, "x", 1), 1);
  assert_int_equal(memlink_step(p.link, &frv), 1);
  assert_int_equal(frv, 0);
  assert_int_equal(mstls_stream_recv(p.server, 1, rb, sizeof(rb)),
                   MSTLS_E_BAD_RECORD);
  assert_int_equal(mstls_session_get_error(p.server), MSTLS_E_ABORTED);
  assert_int_equal(mstls_stream_send(p.server, 0, "x", 1), MSTLS_E_ABORTED);
  assert_int_equal(mstls_stream_recv(p.server, 0, rb, sizeof(rb)),
                   MSTLS_E_ABORTED);
  assert_int_equal(mstls_session_handshake(p.server), MSTLS_E_ABORTED);
  assert_int_equal(mstls_session_bye(p.server), MSTLS_E_ABORTED);
  assert_int_equal(mstls_session_feed(p.server, 0, 0, (const uint8_t *)"x", 1),
                   MSTLS_E_ABORTED);
  assert_true(mstls_err_is_fatal(mstls_session_get_error(p.server)));
  test_pair_free(&p);
}

/* An unordered message on a TLS stream fails it at once (in feed). */
static void t_unordered(void **state) {
  test_pair p;
  mstls_settings ss;
  int frv = 0;
  (void)state;
  pair_up(&p, 3, MSTLS_POLICY_RESUME, NULL);
  assert_int_equal(memlink_inject(p.link, MEMLINK_SERVER, 1,
                                  MSTLS_MSG_UNORDERED, "\x17\x03\x03\x00\x01x",
                                  6),
                   0);
  assert_int_equal(memlink_step(p.link, &frv), 1);
  assert_int_equal(frv, MSTLS_E_UNORDERED);
  assert_int_equal(mstls_stream_get_state(p.server, 1), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(p.server, 1), MSTLS_E_UNORDERED);
  assert_int_equal(mstls_session_get_error(p.server), 0);
  assert_stream_works(&p, 0);
  assert_stream_works(&p, 2);
  test_pair_free(&p);

  /* With ABORT_ON_FAILURE the same message ends the session. */
  test_server_settings(&ss, 3, MSTLS_POLICY_RESUME);
  ss.flags |= MSTLS_SETTINGS_ABORT_ON_FAILURE;
  pair_up(&p, 3, MSTLS_POLICY_RESUME, &ss);
  assert_int_equal(mstls_session_feed(p.server, MSTLS_MSG_UNORDERED, 2,
                                      (const uint8_t *)"x", 1),
                   MSTLS_E_ABORTED);
  assert_int_equal(mstls_stream_get_error(p.server, 2), MSTLS_E_UNORDERED);
  test_pair_free(&p);
}

static void vanish(mstls_policy pol, uint32_t n, const char *prio) {
  mstls_settings cs, ss;
  test_pair p;
  mstls_tstamp now, exp;
  uint16_t i;
  test_client_settings(&cs, n, pol);
  test_server_settings(&ss, n, pol);
  cs.priority = prio;
  cs.handshake_timeout = 5 * MSTLS_SECONDS;
  ss.handshake_timeout = 7 * MSTLS_SECONDS;
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  memlink_set_blackhole(p.link, MEMLINK_SERVER, 1);
  assert_int_equal(mstls_session_handshake(p.client), MSTLS_E_AGAIN);
  /* A handshake just begun: its deadline starts at the next timer run. */
  assert_int_equal(mstls_session_get_expiry(p.client), 0);
  now = memlink_now(p.link);
  assert_int_equal(mstls_session_handle_expiry(p.client, now), 0);
  assert_true(mstls_session_get_expiry(p.client) == now + 5 * MSTLS_SECONDS);
  test_pair_flush(&p); /* the ClientHellos reach the server; nothing back */
  exp = now + 5 * MSTLS_SECONDS;
  assert_int_equal(mstls_session_handle_expiry(p.client, exp - 1), 0);
  assert_int_equal(mstls_session_handshake(p.client), MSTLS_E_AGAIN);
  assert_int_equal(mstls_session_handle_expiry(p.client, exp), 0);
  assert_int_equal(mstls_session_handshake(p.client), MSTLS_E_TIMEOUT);
  for (i = 0; i < n; i++) {
    assert_int_equal(mstls_stream_get_error(p.client, i), MSTLS_E_TIMEOUT);
  }
  assert_true(mstls_session_get_expiry(p.client) == MSTLS_TSTAMP_NEVER);
  /* The server's half-open handshakes time out on their own clock, TLS 1.3
   * too: a server stream sent its Finished early but is established only
   * once the client's Finished has been verified. */
  assert_true(mstls_session_get_expiry(p.server) != MSTLS_TSTAMP_NEVER);
  memlink_advance(p.link, 8 * MSTLS_SECONDS);
  assert_int_equal(mstls_session_get_error(p.server), 0);
  assert_int_equal(mstls_stream_get_error(p.server, 0), MSTLS_E_TIMEOUT);
  assert_true(mstls_session_get_expiry(p.server) == MSTLS_TSTAMP_NEVER);
  test_pair_free(&p);
}

static void t_vanish(void **state) {
  (void)state;
  vanish(MSTLS_POLICY_RESUME, 1, NULL);
  vanish(MSTLS_POLICY_RESUME, 4, NULL);
  vanish(MSTLS_POLICY_PARALLEL, 4, NULL);
  vanish(MSTLS_POLICY_PARALLEL, 3, "NORMAL:-VERS-ALL:+VERS-TLS1.2");
}

/* Drops every client message after the first (its ClientHello). */
static void drop_after_hello(int from, uint16_t stream, uint32_t *flags,
                             uint8_t *data, size_t len, int *drop, void *ctx) {
  int *seen = ctx;
  (void)stream;
  (void)flags;
  (void)data;
  (void)len;
  if (from == MEMLINK_CLIENT && (*seen)++ > 0)
    *drop = 1;
}

/* TLS 1.3 early start: the server's handshake returns once its own
 * Finished is out, but a server stream counts as established only after
 * the client's Finished: a client that never sends it is caught by the
 * handshake timeout. */
static void t_server_needs_client_finished(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  mstls_session_stats st;
  mstls_tstamp now;
  int seen = 0, frv, i;
  (void)state;
  test_client_settings(&cs, 1, MSTLS_POLICY_PARALLEL);
  test_server_settings(&ss, 1, MSTLS_POLICY_PARALLEL);
  ss.handshake_timeout = 4 * MSTLS_SECONDS;
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  memlink_set_tamper(p.link, drop_after_hello, &seen);
  assert_int_equal(mstls_session_handshake(p.client), MSTLS_E_AGAIN);
  for (i = 0; i < 100 && mstls_session_handshake(p.client) == MSTLS_E_AGAIN;
       i++) {
    assert_int_equal(mstls_session_handshake(p.server), MSTLS_E_AGAIN);
    while (memlink_step(p.link, &frv) == 1)
      assert_int_equal(frv, 0);
  }
  /* The client is done and sent its Finished (dropped); the server sent
   * its whole flight, Finished included, and still waits. */
  assert_int_equal(mstls_session_handshake(p.client), 0);
  assert_true(seen >= 2);
  assert_true(memlink_msgs(p.link, MEMLINK_SERVER) >= 2);
  assert_int_equal(mstls_stream_get_state(p.server, 0),
                   MSTLS_STREAM_HANDSHAKING);
  assert_int_equal(mstls_session_handshake(p.server), MSTLS_E_AGAIN);
  assert_int_equal(mstls_session_get_stats(p.server, &st), 0);
  assert_int_equal(st.streams_established, 0);
  /* The server's deadline runs from its first timer run. */
  now = memlink_now(p.link);
  assert_int_equal(mstls_session_handle_expiry(p.server, now), 0);
  assert_true(mstls_session_get_expiry(p.server) <= now + 4 * MSTLS_SECONDS);
  memlink_advance(p.link, 5 * MSTLS_SECONDS);
  assert_int_equal(mstls_stream_get_state(p.server, 0), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(p.server, 0), MSTLS_E_TIMEOUT);
  assert_int_equal(mstls_session_get_stats(p.server, &st), 0);
  assert_int_equal(st.streams_established, 0);
  test_pair_free(&p);

  /* The same handshake with the Finished delivered: established. */
  test_client_settings(&cs, 1, MSTLS_POLICY_PARALLEL);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_state(p.server, 0), MSTLS_STREAM_OPEN);
  assert_int_equal(mstls_session_handshake(p.server), 0);
  test_pair_free(&p);
}

/* The receive cap of one stream, then the session's budget. */
static void t_buffer_full(void **state) {
  test_pair p;
  mstls_settings ss;
  uint8_t *buf = calloc(1, 16384);
  int frv;
  size_t k;
  (void)state;
  assert_non_null(buf);
  test_server_settings(&ss, 4, MSTLS_POLICY_RESUME);
  ss.max_message = 18437;
  ss.stream_rx_cap = 40000;
  ss.session_rx_budget = 60000;
  pair_up(&p, 4, MSTLS_POLICY_RESUME, &ss);
  /* Stream 1: three records, never read; the third does not fit. */
  for (k = 0; k < 3; k++) {
    assert_int_equal(mstls_stream_send(p.client, 1, buf, 16384), 16384);
  }
  assert_int_equal(memlink_step(p.link, &frv), 1);
  assert_int_equal(frv, 0);
  assert_int_equal(memlink_step(p.link, &frv), 1);
  assert_int_equal(frv, 0);
  assert_int_equal(memlink_step(p.link, &frv), 1);
  assert_int_equal(frv, MSTLS_E_BUFFER_FULL);
  assert_int_equal(mstls_stream_get_error(p.server, 1), MSTLS_E_BUFFER_FULL);
  assert_int_equal(mstls_session_get_error(p.server), 0);
  assert_stream_works(&p, 0);
  /* Session budget: 2 records on stream 2 and 2 on stream 3 > 60000. */
  for (k = 0; k < 2; k++) {
    assert_int_equal(mstls_stream_send(p.client, 2, buf, 16384), 16384);
  }
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_send(p.client, 3, buf, 16384), 16384);
  assert_int_equal(memlink_step(p.link, &frv), 1);
  assert_int_equal(frv, 0);
  assert_int_equal(mstls_stream_send(p.client, 3, buf, 16384), 16384);
  assert_int_equal(memlink_step(p.link, &frv), 1);
  assert_int_equal(frv, MSTLS_E_BUFFER_FULL);
  assert_int_equal(mstls_stream_get_error(p.server, 3), MSTLS_E_BUFFER_FULL);
  /* Stream 2 keeps its data and reads it all. */
  {
    long got = 0, r;
    while ((r = mstls_stream_recv(p.server, 2, buf, 16384)) > 0) {
      got += r;
    }
    assert_int_equal(r, MSTLS_E_AGAIN);
    assert_int_equal(got, 2 * 16384);
  }
  assert_stream_works(&p, 0);
  free(buf);
  test_pair_free(&p);
}

/* Raw GnuTLS peer that speaks TLS 1.1 only, joined to stream 0 of an
 * mstls session by hand. */
typedef struct raw_peer {
  gnutls_session_t tls;
  gnutls_certificate_credentials_t cred;
  mstls_session *other;
  uint8_t in[65536];
  size_t in_len;
} raw_peer;

static ssize_t raw_push(gnutls_transport_ptr_t ptr, const void *data,
                        size_t len) {
  raw_peer *r = ptr;
  /* Errors of the stream are read from the session afterwards. */
  (void)mstls_session_feed(r->other, 0, 0, data, len);
  return (ssize_t)len;
}

static ssize_t raw_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len) {
  raw_peer *r = ptr;
  if (r->in_len == 0) {
    gnutls_transport_set_errno(r->tls, EAGAIN);
    return -1;
  }
  if (len > r->in_len) {
    len = r->in_len;
  }
  memcpy(buf, r->in, len);
  memmove(r->in, r->in + len, r->in_len - len);
  r->in_len -= len;
  return (ssize_t)len;
}

static int to_raw_push(mstls_session *s, uint16_t stream,
                       const mstls_iovec *iov, size_t iovcnt, void *ud) {
  raw_peer *r = ud;
  size_t i;
  (void)s;
  assert_int_equal(stream, 0);
  for (i = 0; i < iovcnt; i++) {
    assert_true(r->in_len + iov[i].len <= sizeof(r->in));
    memcpy(r->in + r->in_len, iov[i].base, iov[i].len);
    r->in_len += iov[i].len;
  }
  return 0;
}

static void raw_init(raw_peer *r, unsigned flags) {
  const test_pki *pki = test_pki_get();
  gnutls_datum_t c, k;
  assert_non_null(pki);
  assert_int_equal(gnutls_init(&r->tls, flags | GNUTLS_NONBLOCK), 0);
  assert_int_equal(gnutls_certificate_allocate_credentials(&r->cred), 0);
  if (flags & GNUTLS_SERVER) {
    c.data = (unsigned char *)pki->server_cert_pem;
    c.size = (unsigned)strlen(pki->server_cert_pem);
    k.data = (unsigned char *)pki->server_key_pem;
    k.size = (unsigned)strlen(pki->server_key_pem);
    assert_int_equal(gnutls_certificate_set_x509_key_mem(r->cred, &c, &k,
                                                         GNUTLS_X509_FMT_PEM),
                     0);
  }
  assert_int_equal(
      gnutls_credentials_set(r->tls, GNUTLS_CRD_CERTIFICATE, r->cred), 0);
  assert_int_equal(
      gnutls_priority_set_direct(r->tls, "NORMAL:-VERS-ALL:+VERS-TLS1.1", NULL),
      0);
  gnutls_transport_set_ptr(r->tls, r);
  gnutls_transport_set_push_function(r->tls, raw_push);
  gnutls_transport_set_pull_function(r->tls, raw_pull);
}

static void raw_deinit(raw_peer *r) {
  gnutls_deinit(r->tls);
  gnutls_certificate_free_credentials(r->cred);
}

static void t_tls11_client(void **state) {
  raw_peer *r = calloc(1, sizeof(*r));
  mstls_settings ss;
  mstls_callbacks cb;
  mstls_credentials *scred = test_server_creds(NULL);
  int k, rv = 0;
  (void)state;
  assert_non_null(r);
  assert_non_null(scred);
  test_server_settings(&ss, 2, MSTLS_POLICY_RESUME);
  memset(&cb, 0, sizeof(cb));
  cb.push = to_raw_push;
  assert_int_equal(
      mstls_session_new(&r->other, MSTLS_ROLE_SERVER, &ss, &cb, scred, r), 0);
  raw_init(r, GNUTLS_CLIENT);
  for (k = 0; k < 20; k++) {
    rv = gnutls_handshake(r->tls);
    if (rv != GNUTLS_E_AGAIN) {
      break;
    }
  }
  /* The server tells the client why instead of leaving it waiting. */
  assert_int_equal(rv, GNUTLS_E_FATAL_ALERT_RECEIVED);
  assert_int_equal(gnutls_alert_get(r->tls), GNUTLS_A_PROTOCOL_VERSION);
  assert_int_equal(mstls_stream_get_state(r->other, 0), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(r->other, 0), MSTLS_E_VERSION);
  assert_int_equal(mstls_session_get_error(r->other), 0);
  raw_deinit(r);
  mstls_session_del(r->other);
  mstls_credentials_del(scred);
  free(r);
}

static void t_tls11_server(void **state) {
  raw_peer *r = calloc(1, sizeof(*r));
  mstls_settings cs;
  mstls_callbacks cb;
  mstls_credentials *ccred = test_client_creds(NULL, NULL, 0);
  int k, rv = MSTLS_E_AGAIN;
  (void)state;
  assert_non_null(r);
  assert_non_null(ccred);
  test_client_settings(&cs, 1, MSTLS_POLICY_RESUME);
  memset(&cb, 0, sizeof(cb));
  cb.push = to_raw_push;
  assert_int_equal(
      mstls_session_new(&r->other, MSTLS_ROLE_CLIENT, &cs, &cb, ccred, r), 0);
  raw_init(r, GNUTLS_SERVER);
  for (k = 0; k < 20 && rv == MSTLS_E_AGAIN; k++) {
    rv = mstls_session_handshake(r->other);
    (void)gnutls_handshake(r->tls);
  }
  assert_int_equal(rv, MSTLS_E_VERSION);
  assert_int_equal(mstls_stream_get_error(r->other, 0), MSTLS_E_VERSION);
  assert_int_not_equal(mstls_stream_get_tls_error(r->other, 0), 0);
  raw_deinit(r);
  mstls_session_del(r->other);
  mstls_credentials_del(ccred);
  free(r);
}

/* A transport failure ends the session: MSTLS_E_TRANSPORT, fatal. */
static void t_push_failure(void **state) {
  test_pair p;
  (void)state;
  pair_up(&p, 2, MSTLS_POLICY_RESUME, NULL);
  memlink_set_push_error(p.link, MEMLINK_CLIENT, -1);
  assert_int_equal(mstls_stream_send(p.client, 1, "x", 1), MSTLS_E_TRANSPORT);
  assert_int_equal(mstls_session_get_error(p.client), MSTLS_E_TRANSPORT);
  assert_int_equal(mstls_stream_send(p.client, 0, "x", 1), MSTLS_E_TRANSPORT);
  memlink_set_push_error(p.link, MEMLINK_CLIENT, 0);
  assert_int_equal(mstls_session_bye(p.client), MSTLS_E_TRANSPORT);
  /* Would-block pushes are not failures: the record is kept, the stream
   * waits, and it goes out once the transport takes it. */
  memlink_set_push_error(p.link, MEMLINK_SERVER, MSTLS_E_AGAIN);
  assert_int_equal(mstls_stream_send(p.server, 1, "y", 1), 1);
  assert_int_equal(mstls_stream_send(p.server, 1, "z", 1), MSTLS_E_AGAIN);
  assert_int_equal(mstls_stream_flush(p.server, 1), MSTLS_E_AGAIN);
  memlink_set_push_error(p.link, MEMLINK_SERVER, 0);
  assert_int_equal(mstls_stream_send(p.server, 1, "z", 1), 1);
  assert_int_equal(mstls_stream_flush(p.server, 1), 0);
  assert_int_equal(mstls_session_flush(p.server), 0);
  assert_int_equal(mstls_session_get_error(p.server), 0);
  /* Bad arguments. */
  assert_int_equal(mstls_stream_flush(NULL, 0), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_flush(NULL), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_flush(p.server, 2), MSTLS_E_INVALID_STREAM);
  /* A session that failed says so. */
  assert_int_equal(mstls_stream_flush(p.client, 0), MSTLS_E_TRANSPORT);
  assert_int_equal(mstls_session_flush(p.client), MSTLS_E_TRANSPORT);
  test_pair_free(&p);
}

/* A ClientHello that met a full transport goes out when the application
 * calls mstls_session_handshake() again; the handshake then completes. */
static void t_push_blocked_handshake(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  int i;
  (void)state;
  test_client_settings(&cs, 4, MSTLS_POLICY_PARALLEL);
  test_server_settings(&ss, 4, MSTLS_POLICY_PARALLEL);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  memlink_set_push_error(p.link, MEMLINK_CLIENT, MSTLS_E_AGAIN);
  assert_int_equal(mstls_session_handshake(p.client), MSTLS_E_AGAIN);
  assert_int_equal(memlink_in_flight(p.link), 0);
  assert_int_equal(mstls_session_handshake(p.client), MSTLS_E_AGAIN);
  assert_int_equal(memlink_in_flight(p.link), 0);
  memlink_set_push_error(p.link, MEMLINK_CLIENT, 0);
  assert_int_equal(mstls_session_handshake(p.client), MSTLS_E_AGAIN);
  assert_int_equal(memlink_in_flight(p.link), 4); /* four ClientHellos */
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  for (i = 0; i < 4; i++) {
    assert_int_equal(mstls_stream_get_state(p.client, (uint16_t)i),
                     MSTLS_STREAM_OPEN);
  }
  test_pair_free(&p);
}

/* A server whose client never opens its streams does not wait forever:
 * handshake() fails with MSTLS_E_TIMEOUT once the timeout has passed. */
static void t_server_client_never_comes(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  mstls_tstamp now = 5 * MSTLS_SECONDS;
  (void)state;
  test_client_settings(&cs, 4, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 4, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(mstls_session_handshake(p.server), MSTLS_E_AGAIN);
  assert_int_equal(mstls_session_get_expiry(p.server), 0);
  assert_int_equal(mstls_session_handle_expiry(p.server, now), 0);
  assert_int_equal(mstls_session_get_expiry(p.server),
                   now + ss.handshake_timeout);
  assert_int_equal(
      mstls_session_handle_expiry(p.server, now + ss.handshake_timeout - 1), 0);
  assert_int_equal(mstls_session_handshake(p.server), MSTLS_E_AGAIN);
  assert_int_equal(
      mstls_session_handle_expiry(p.server, now + ss.handshake_timeout), 0);
  assert_int_equal(mstls_session_handshake(p.server), MSTLS_E_TIMEOUT);
  assert_int_equal(mstls_session_get_expiry(p.server), MSTLS_TSTAMP_NEVER);
  test_pair_free(&p);
}

/* Streams that begin at different times keep their own deadlines: the
 * timer of a stream started later does not move the earlier stream's
 * deadline, and each fails at its own. The server's streams start when
 * their ClientHellos arrive, delivered here one at a time; its answers
 * are lost. */
static void t_staggered_deadlines(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  mstls_tstamp t0 = 100 * MSTLS_SECONDS, s = MSTLS_SECONDS;
  (void)state;
  test_client_settings(&cs, 3, MSTLS_POLICY_PARALLEL);
  test_server_settings(&ss, 3, MSTLS_POLICY_PARALLEL);
  ss.handshake_timeout = 10 * s;
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  memlink_set_blackhole(p.link, MEMLINK_SERVER, 1);
  assert_int_equal(mstls_session_handshake(p.client), MSTLS_E_AGAIN);
  assert_int_equal(memlink_in_flight(p.link), 3);
  assert_true(mstls_session_get_expiry(p.server) == MSTLS_TSTAMP_NEVER);
  /* The first ClientHello at t0. */
  assert_int_equal(memlink_step(p.link, NULL), 1);
  assert_int_equal(mstls_session_get_expiry(p.server), 0);
  assert_int_equal(mstls_session_handle_expiry(p.server, t0), 0);
  assert_true(mstls_session_get_expiry(p.server) == t0 + 10 * s);
  /* The second at t0 + 4 s: the first's deadline stays the earliest. */
  assert_int_equal(memlink_step(p.link, NULL), 1);
  assert_int_equal(mstls_session_get_expiry(p.server), 0);
  assert_int_equal(mstls_session_handle_expiry(p.server, t0 + 4 * s), 0);
  assert_true(mstls_session_get_expiry(p.server) == t0 + 10 * s);
  assert_int_equal(mstls_session_handle_expiry(p.server, t0 + 10 * s - 1), 0);
  assert_int_equal(mstls_stream_get_error(p.server, 0), 0);
  assert_int_equal(mstls_stream_get_error(p.server, 1), 0);
  /* At t0 + 10 s the first fails, the second does not: next, t0 + 14 s. */
  assert_int_equal(mstls_session_handle_expiry(p.server, t0 + 10 * s), 0);
  assert_int_equal(mstls_stream_get_error(p.server, 0), MSTLS_E_TIMEOUT);
  assert_int_equal(mstls_stream_get_error(p.server, 1), 0);
  assert_true(mstls_session_get_expiry(p.server) == t0 + 14 * s);
  /* The third at t0 + 12 s; the second fails at t0 + 14 s, the third at
   * t0 + 22 s. */
  assert_int_equal(memlink_step(p.link, NULL), 1);
  assert_int_equal(mstls_session_handle_expiry(p.server, t0 + 12 * s), 0);
  assert_true(mstls_session_get_expiry(p.server) == t0 + 14 * s);
  assert_int_equal(mstls_session_handle_expiry(p.server, t0 + 14 * s), 0);
  assert_int_equal(mstls_stream_get_error(p.server, 1), MSTLS_E_TIMEOUT);
  assert_int_equal(mstls_stream_get_error(p.server, 2), 0);
  assert_true(mstls_session_get_expiry(p.server) == t0 + 22 * s);
  assert_int_equal(mstls_session_handle_expiry(p.server, t0 + 22 * s), 0);
  assert_int_equal(mstls_stream_get_error(p.server, 2), MSTLS_E_TIMEOUT);
  assert_true(mstls_session_get_expiry(p.server) == MSTLS_TSTAMP_NEVER);
  assert_int_equal(mstls_session_get_error(p.server), 0);
  test_pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_unknown_stream),
      cmocka_unit_test(t_beyond_negotiated),
      cmocka_unit_test(t_oversized),
      cmocka_unit_test(t_corrupt_record),
      cmocka_unit_test(t_abort_on_failure),
      cmocka_unit_test(t_transport_fails_stream),
      cmocka_unit_test(t_unordered),
      cmocka_unit_test(t_vanish),
      cmocka_unit_test(t_server_needs_client_finished),
      cmocka_unit_test(t_buffer_full),
      cmocka_unit_test(t_tls11_client),
      cmocka_unit_test(t_tls11_server),
      cmocka_unit_test(t_push_failure),
      cmocka_unit_test(t_push_blocked_handshake),
      cmocka_unit_test(t_server_client_never_comes),
      cmocka_unit_test(t_staggered_deadlines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
