/* Protocol violations on a stream are answered with the proper alert and
 * reported (never a silent failure or a hang):
 *  - an unordered message on a TLS stream (RFC 3436: TLS streams use
 *    ordered delivery only) fails the stream after a fatal
 *    unexpected_message alert, which fails the peer's stream at once;
 *  - a TLS 1.2 renegotiation request, from a server (HelloRequest) or from
 *    a client (a second ClientHello), gets a no_renegotiation warning
 *    (RFC 5246 §7.2.2); the stream goes on, the refusal is counted and
 *    reported as MSTLS_EVENT_RENEGOTIATION_REFUSED.
 * The renegotiating peers are plain GnuTLS sessions driven by hand over an
 * in-memory byte link, since mstls itself never renegotiates.
 *
 * Load-proof: everything runs in one thread, with no sockets: the memlink
 * on its simulated clock, and the byte link with no clock at all (no timer
 * of its session is ever run); every step is synchronous. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pair.h"

/* Unordered messages ------------------------------------------------------ */

typedef struct unord_ctx {
  int armed; /* mark the next client message on @p stream unordered */
  uint16_t stream;
  int server_to_client_msgs; /* on @p stream after arming */
} unord_ctx;

static void unord_tamper(int from, uint16_t stream, uint32_t *flags,
                         uint8_t *data, size_t len, int *drop, void *ctx) {
  unord_ctx *u = ctx;
  (void)data;
  (void)len;
  (void)drop;
  if (stream != u->stream) {
    return;
  }
  if (from == MEMLINK_CLIENT && u->armed) {
    *flags |= MSTLS_MSG_UNORDERED;
    u->armed = 0;
    u->server_to_client_msgs = 0;
  } else if (from == MEMLINK_SERVER) {
    u->server_to_client_msgs++;
  }
}

typedef struct ev_count {
  int failed[4];
  int failed_err[4];
  int refused[4];
} ev_count;

/* Stream events of the test's sessions, [0] client, [1] server. */
static ev_count g_ev[2];

static void on_event(mstls_session *s, mstls_stream_event ev, uint16_t stream,
                     int err, void *ud) {
  ev_count *c = &g_ev[mstls_session_get_role(s) == MSTLS_ROLE_SERVER];
  (void)ud;
  if (stream >= 4) {
    return;
  }
  if (ev == MSTLS_EVENT_FAILED) {
    c->failed[stream]++;
    c->failed_err[stream] = err;
  }
  if (ev == MSTLS_EVENT_RENEGOTIATION_REFUSED) {
    c->refused[stream]++;
  }
}

static void assert_echo(test_pair *p, uint16_t k) {
  char buf[16];
  assert_int_equal(mstls_stream_send(p->client, k, "ping", 4), 4);
  test_pair_flush(p);
  assert_int_equal(mstls_stream_recv(p->server, k, buf, sizeof(buf)), 4);
  assert_memory_equal(buf, "ping", 4);
}

/* An established stream: the client's next record arrives unordered. */
static void t_unordered_established(void **state) {
  mstls_settings cs, ss;
  mstls_callbacks cb;
  mstls_session_stats st;
  unord_ctx u = {0, 1, 0};
  test_pair p;
  char buf[16];
  (void)state;

  memset(g_ev, 0, sizeof(g_ev));
  memset(&cb, 0, sizeof(cb));
  cb.stream_event = on_event;
  test_client_settings(&cs, 3, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 3, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, &cb, &cb), 0);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  test_pair_flush(&p);
  memlink_set_tamper(p.link, unord_tamper, &u);
  u.armed = 1;
  assert_int_equal(mstls_stream_send(p.client, 1, "data", 4), 4);
  test_pair_flush(&p);
  /* The server failed the stream and said why to the peer. */
  assert_int_equal(mstls_stream_get_state(p.server, 1), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(p.server, 1), MSTLS_E_UNORDERED);
  assert_int_equal(mstls_session_get_stats(p.server, &st), 0);
  assert_int_equal(st.unordered_msgs, 1);
  assert_int_equal(g_ev[1].failed[1], 1);
  assert_int_equal(g_ev[1].failed_err[1], MSTLS_E_UNORDERED);
  assert_int_equal(u.server_to_client_msgs, 1); /* the alert */
  /* The client's stream fails on that alert as soon as it reads, without
   * waiting for any timeout. */
  assert_int_equal(mstls_stream_recv(p.client, 1, buf, sizeof(buf)),
                   MSTLS_E_ALERT);
  assert_int_equal(mstls_stream_get_state(p.client, 1), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(p.client, 1), MSTLS_E_ALERT);
  assert_int_equal(mstls_stream_get_tls_error(p.client, 1),
                   GNUTLS_E_FATAL_ALERT_RECEIVED);
  assert_int_equal(g_ev[0].failed_err[1], MSTLS_E_ALERT);
  /* Only that stream. */
  assert_int_equal(mstls_session_get_error(p.server), 0);
  assert_echo(&p, 0);
  assert_echo(&p, 2);
  test_pair_free(&p);
}

/* The first message of a stream (its ClientHello) arrives unordered: the
 * server answers with the alert in the clear (no keys yet), and the
 * client's handshake on that stream fails at once instead of timing
 * out. */
static void t_unordered_first_message(void **state) {
  mstls_settings cs, ss;
  mstls_session_stats st;
  unord_ctx u = {1, 1, 0};
  test_pair p;
  size_t i;
  (void)state;

  test_client_settings(&cs, 2, MSTLS_POLICY_PARALLEL);
  test_server_settings(&ss, 2, MSTLS_POLICY_PARALLEL);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  memlink_set_tamper(p.link, unord_tamper, &u);
  for (i = 0; i < 10000 && mstls_session_handshake(p.client) == MSTLS_E_AGAIN;
       i++) {
    if (!memlink_step(p.link, NULL)) {
      break;
    }
  }
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_error(p.server, 1), MSTLS_E_UNORDERED);
  assert_int_equal(mstls_session_get_stats(p.server, &st), 0);
  assert_int_equal(st.unordered_msgs, 1);
  assert_int_equal(u.server_to_client_msgs, 1);
  assert_int_equal(mstls_stream_get_state(p.client, 1), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(p.client, 1), MSTLS_E_ALERT);
  /* Stream 0 came up; the partial bring-up is reported as such. */
  assert_int_equal(mstls_stream_get_state(p.client, 0), MSTLS_STREAM_OPEN);
  assert_echo(&p, 0);
  test_pair_free(&p);
}

/* A plaintext stream (RFC 3436 §6) may carry unordered messages. */
static void t_unordered_plaintext_ok(void **state) {
  mstls_settings cs, ss;
  mstls_session_stats st;
  test_pair p;
  char buf[16];
  (void)state;

  test_client_settings(&cs, 2, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 2, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(mstls_stream_set_plaintext(p.client, 1), 0);
  assert_int_equal(mstls_stream_set_plaintext(p.server, 1), 0);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  assert_int_equal(
      memlink_inject(p.link, MEMLINK_SERVER, 1, MSTLS_MSG_UNORDERED, "free", 4),
      0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv(p.server, 1, buf, sizeof(buf)), 4);
  assert_int_equal(mstls_session_get_stats(p.server, &st), 0);
  assert_int_equal(st.unordered_msgs, 0);
  test_pair_free(&p);
}

/* Renegotiation against a plain GnuTLS peer ------------------------------- */

/* Bytes from the mstls session to the raw GnuTLS session; the raw session's
 * records go straight into mstls_session_feed() on stream 0. */
typedef struct raw_link {
  uint8_t buf[1 << 17];
  size_t len;
  size_t off;
  mstls_session *mstls;
  gnutls_session_t raw;
  int feed_err;
  int refuse; /* pushes of the mstls side still to refuse (a full transport) */
} raw_link;

static int raw_push_to_raw(mstls_session *s, uint16_t stream,
                           const mstls_iovec *iov, size_t iovcnt, void *ud) {
  raw_link *l = ud;
  size_t i;
  (void)s;
  assert_int_equal(stream, 0);
  if (l->refuse > 0) {
    l->refuse--;
    return MSTLS_E_AGAIN;
  }
  for (i = 0; i < iovcnt; i++) {
    assert_true(l->len + iov[i].len <= sizeof(l->buf));
    memcpy(l->buf + l->len, iov[i].base, iov[i].len);
    l->len += iov[i].len;
  }
  return 0;
}

static ssize_t raw_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len) {
  raw_link *l = ptr;
  size_t n = l->len - l->off;
  if (n == 0) {
    gnutls_transport_set_errno(l->raw, EAGAIN);
    return -1;
  }
  if (n > len) {
    n = len;
  }
  memcpy(buf, l->buf + l->off, n);
  l->off += n;
  if (l->off == l->len) {
    l->off = l->len = 0;
  }
  return (ssize_t)n;
}

static ssize_t raw_push(gnutls_transport_ptr_t ptr, const void *buf,
                        size_t len) {
  raw_link *l = ptr;
  int rv = mstls_session_feed(l->mstls, 0, 0, buf, len);
  if (rv < 0 && rv != MSTLS_E_INVALID_STATE) {
    l->feed_err = rv;
  }
  return (ssize_t)len;
}

static gnutls_session_t raw_new(raw_link *l, unsigned flags) {
  gnutls_session_t t;
  assert_int_equal(gnutls_init(&t, flags | GNUTLS_NONBLOCK), 0);
  /* TLS 1.3 has no renegotiation: a TLS 1.2 peer asks for it. */
  assert_int_equal(
      gnutls_priority_set_direct(t, "NORMAL:-VERS-ALL:+VERS-TLS1.2", NULL), 0);
  gnutls_transport_set_ptr(t, l);
  gnutls_transport_set_pull_function(t, raw_pull);
  gnutls_transport_set_push_function(t, raw_push);
  l->raw = t;
  return t;
}

/* Run the raw session's handshake and the mstls session's until both are
 * done (everything is in memory: a bounded number of rounds). */
static void raw_handshake(raw_link *l) {
  int i, rv = GNUTLS_E_AGAIN, mrv = MSTLS_E_AGAIN;
  for (i = 0; i < 100 && (rv != 0 || mrv == MSTLS_E_AGAIN); i++) {
    if (rv != 0) {
      rv = gnutls_handshake(l->raw);
      assert_true(rv == 0 || rv == GNUTLS_E_AGAIN);
    }
    mrv = mstls_session_handshake(l->mstls);
  }
  assert_int_equal(rv, 0);
  assert_int_equal(mrv, 0);
  assert_int_equal(l->feed_err, 0);
}

static mstls_session *mstls_side(raw_link *l, mstls_role role,
                                 mstls_credentials *cred) {
  mstls_settings st;
  mstls_callbacks cb;
  mstls_session *s = NULL;
  if (role == MSTLS_ROLE_CLIENT) {
    test_client_settings(&st, 1, MSTLS_POLICY_RESUME);
  } else {
    test_server_settings(&st, 1, MSTLS_POLICY_RESUME);
  }
  st.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.2";
  memset(&cb, 0, sizeof(cb));
  cb.push = raw_push_to_raw;
  cb.stream_event = on_event;
  memset(g_ev, 0, sizeof(g_ev));
  assert_int_equal(mstls_session_new(&s, role, &st, &cb, cred, l), 0);
  return s;
}

/* Read what the mstls side has (pull mode) until it would block. */
static long mstls_read(raw_link *l, char *buf, size_t len) {
  return mstls_stream_recv(l->mstls, 0, buf, len);
}

/* A GnuTLS server asks the mstls client to renegotiate (HelloRequest). */
static void t_renegotiation_from_server(void **state) {
  static raw_link l;
  mstls_credentials *scred = test_server_creds(NULL);
  mstls_credentials *ccred = test_client_creds(NULL, NULL, 0);
  mstls_session_stats st;
  gnutls_session_t srv;
  char buf[64];
  int rv;
  (void)state;

  assert_non_null(scred);
  assert_non_null(ccred);
  memset(&l, 0, sizeof(l));
  srv = raw_new(&l, GNUTLS_SERVER);
  assert_int_equal(gnutls_credentials_set(srv, GNUTLS_CRD_CERTIFICATE,
                                          mstls_credentials_get_gnutls(scred)),
                   0);
  l.mstls = mstls_side(&l, MSTLS_ROLE_CLIENT, ccred);
  l.raw = srv;
  raw_handshake(&l);
  assert_int_equal(gnutls_protocol_get_version(srv), GNUTLS_TLS1_2);

  /* The server renegotiates. */
  rv = gnutls_rehandshake(srv);
  assert_true(rv == 0 || rv == GNUTLS_E_AGAIN);
  assert_int_equal(mstls_read(&l, buf, sizeof(buf)), MSTLS_E_AGAIN);
  assert_int_equal(g_ev[0].refused[0], 1);
  assert_int_equal(mstls_session_get_stats(l.mstls, &st), 0);
  assert_int_equal(st.renegotiations_refused, 1);
  /* The server hears no_renegotiation at once (no 8 s wait for a
   * ClientHello that never comes). */
  rv = gnutls_handshake(srv);
  assert_int_equal(rv, GNUTLS_E_WARNING_ALERT_RECEIVED);
  assert_int_equal(gnutls_alert_get(srv), GNUTLS_A_NO_RENEGOTIATION);
  /* The stream goes on with its session, both ways. */
  assert_int_equal(mstls_stream_get_state(l.mstls, 0), MSTLS_STREAM_OPEN);
  assert_int_equal(g_ev[0].failed[0], 0);
  assert_int_equal(gnutls_record_send(srv, "after", 5), 5);
  assert_int_equal(mstls_read(&l, buf, sizeof(buf)), 5);
  assert_memory_equal(buf, "after", 5);
  assert_int_equal(mstls_stream_send(l.mstls, 0, "back", 4), 4);
  assert_int_equal(gnutls_record_recv(srv, buf, sizeof(buf)), 4);
  assert_memory_equal(buf, "back", 4);
  /* Asked again, refused again. */
  rv = gnutls_rehandshake(srv);
  assert_true(rv == 0 || rv == GNUTLS_E_AGAIN);
  assert_int_equal(mstls_read(&l, buf, sizeof(buf)), MSTLS_E_AGAIN);
  assert_int_equal(g_ev[0].refused[0], 2);

  gnutls_deinit(srv);
  mstls_session_del(l.mstls);
  mstls_credentials_del(scred);
  mstls_credentials_del(ccred);
}

/* A GnuTLS client renegotiates with the mstls server (ClientHello after
 * the handshake). With @p full, the server's transport is full when it
 * answers: the alert is kept and goes out before the server's next record,
 * and is not taken for two bytes of that record (GnuTLS reports a held
 * alert's size from the next gnutls_record_send()). */
static void renegotiation_from_client(int full) {
  static raw_link l;
  mstls_credentials *scred = test_server_creds(NULL);
  mstls_credentials *ccred = test_client_creds(NULL, NULL, 0);
  mstls_session_stats st;
  gnutls_session_t cli;
  char buf[64];
  int rv, i;

  assert_non_null(scred);
  assert_non_null(ccred);
  memset(&l, 0, sizeof(l));
  cli = raw_new(&l, GNUTLS_CLIENT);
  assert_int_equal(gnutls_credentials_set(cli, GNUTLS_CRD_CERTIFICATE,
                                          mstls_credentials_get_gnutls(ccred)),
                   0);
  assert_int_equal(gnutls_server_name_set(cli, GNUTLS_NAME_DNS, "server.test",
                                          strlen("server.test")),
                   0);
  l.mstls = mstls_side(&l, MSTLS_ROLE_SERVER, scred);
  l.raw = cli;
  raw_handshake(&l);
  assert_int_equal(mstls_stream_get_state(l.mstls, 0), MSTLS_STREAM_OPEN);

  /* The client starts a renegotiation: its ClientHello reaches the
   * server's stream; the server reads and refuses. */
  rv = gnutls_handshake(cli);
  assert_int_equal(rv, GNUTLS_E_AGAIN);
  l.refuse = full ? 2 : 0; /* the alert, and the first try to flush it */
  assert_int_equal(mstls_read(&l, buf, sizeof(buf)), MSTLS_E_AGAIN);
  assert_int_equal(g_ev[1].refused[0], 1);
  assert_int_equal(mstls_session_get_stats(l.mstls, &st), 0);
  assert_int_equal(st.renegotiations_refused, 1);
  if (full) {
    assert_int_equal(l.refuse, 0);
    assert_int_equal(st.streams_kept, 1);
    assert_int_equal(l.len, 0); /* nothing went out yet */
  }
  for (i = 0; i < 10 && rv == GNUTLS_E_AGAIN; i++) {
    rv = gnutls_handshake(cli);
  }
  if (full) {
    /* The transport has room again: the next send pushes the kept
     * alert first, then all of its own record. */
    assert_int_equal(rv, GNUTLS_E_AGAIN);
    assert_int_equal(mstls_stream_send(l.mstls, 0, "still", 5), 5);
    rv = gnutls_handshake(cli);
  }
  assert_int_equal(rv, GNUTLS_E_WARNING_ALERT_RECEIVED);
  assert_int_equal(gnutls_alert_get(cli), GNUTLS_A_NO_RENEGOTIATION);
  /* The stream stays up and carries data both ways. */
  assert_int_equal(mstls_stream_get_state(l.mstls, 0), MSTLS_STREAM_OPEN);
  assert_int_equal(g_ev[1].failed[0], 0);
  if (!full) {
    assert_int_equal(mstls_stream_send(l.mstls, 0, "still", 5), 5);
  }
  assert_int_equal(gnutls_record_recv(cli, buf, sizeof(buf)), 5);
  assert_memory_equal(buf, "still", 5);
  assert_int_equal(gnutls_record_send(cli, "here", 4), 4);
  assert_int_equal(mstls_read(&l, buf, sizeof(buf)), 4);
  assert_memory_equal(buf, "here", 4);

  gnutls_deinit(cli);
  mstls_session_del(l.mstls);
  mstls_credentials_del(scred);
  mstls_credentials_del(ccred);
}

static void t_renegotiation_from_client(void **state) {
  (void)state;
  renegotiation_from_client(0);
}

static void t_renegotiation_from_client_full(void **state) {
  (void)state;
  renegotiation_from_client(1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_unordered_established),
      cmocka_unit_test(t_unordered_first_message),
      cmocka_unit_test(t_unordered_plaintext_ok),
      cmocka_unit_test(t_renegotiation_from_server),
      cmocka_unit_test(t_renegotiation_from_client),
      cmocka_unit_test(t_renegotiation_from_client_full),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
