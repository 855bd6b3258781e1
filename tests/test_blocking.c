/* The blocking functions against a pull callback that misbehaves: random
 * bytes, stream ids out of range, lengths larger than the buffer, and
 * error codes. Each must end in a clean error in bounded simulated time
 * (the clock callback advances one second per call), with no crash or
 * leak.
 *
 * Load-proof: no sockets, no threads. The sessions on bad_pull read the
 * clock callback above, so their timeouts count calls, not wall time. The
 * memlink sessions use CLOCK_MONOTONIC, but nothing else runs to deliver
 * data during t_recv_timeout_then_data's 20 ms wait, so it always expires,
 * and the data it reads next is delivered (flushed) before the call. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

enum { M_RANDOM, M_BAD_STREAM, M_TOO_LONG, M_NEGATIVE, M_MSG_SIZE, M_AGAIN };

typedef struct bad {
  int mode;
  uint64_t rng;
  mstls_tstamp now;
  unsigned pulls;
  unsigned pushes;
} bad;

static uint64_t bad_rand(bad *b) {
  b->rng ^= b->rng << 13;
  b->rng ^= b->rng >> 7;
  b->rng ^= b->rng << 17;
  return b->rng;
}

static int bad_push(mstls_session *s, uint16_t stream, const mstls_iovec *iov,
                    size_t iovcnt, void *ud) {
  bad *b = ud;
  (void)s;
  (void)stream;
  (void)iov;
  (void)iovcnt;
  b->pushes++;
  return 0;
}

static int bad_pull(mstls_session *s, uint32_t *flags, uint16_t *stream,
                    uint8_t *buf, size_t len, int timeout_ms, void *ud) {
  bad *b = ud;
  size_t n, i;
  (void)s;
  (void)timeout_ms;
  b->pulls++;
  assert_true(b->pulls < 100000);
  *flags = 0;
  *stream = 0;
  switch (b->mode) {
  case M_RANDOM:
    n = 1 + bad_rand(b) % 300;
    for (i = 0; i < n; i++) {
      buf[i] = (uint8_t)bad_rand(b);
    }
    *flags = (uint32_t)(bad_rand(b) % 4 == 0 ? MSTLS_MSG_UNORDERED : 0);
    return (int)n;
  case M_BAD_STREAM:
    *stream = (uint16_t)(4 + bad_rand(b) % 60000);
    memset(buf, 22, 10);
    return 10;
  case M_TOO_LONG:
    return (int)len + 1000;
  case M_NEGATIVE:
    return b->pulls % 2 ? -77 : -1;
  case M_MSG_SIZE:
    return MSTLS_E_MSG_SIZE;
  default:
    return MSTLS_E_AGAIN;
  }
}

static mstls_tstamp bad_clock(void *ud) {
  bad *b = ud;
  b->now += MSTLS_SECONDS;
  return b->now;
}

static mstls_session *make(bad *b, mstls_role role, int mode,
                           mstls_credentials **pcred) {
  mstls_settings set;
  mstls_callbacks cb;
  mstls_session *s = NULL;
  memset(b, 0, sizeof(*b));
  b->mode = mode;
  b->rng = 0x1234567ULL + (uint64_t)mode;
  b->now = MSTLS_SECONDS;
  memset(&cb, 0, sizeof(cb));
  cb.push = bad_push;
  cb.pull = bad_pull;
  cb.clock = bad_clock;
  if (role == MSTLS_ROLE_CLIENT) {
    test_client_settings(&set, 4, MSTLS_POLICY_RESUME);
    *pcred = test_client_creds(NULL, NULL, 0);
  } else {
    test_server_settings(&set, 4, MSTLS_POLICY_RESUME);
    *pcred = test_server_creds(NULL);
  }
  set.handshake_timeout = 20 * MSTLS_SECONDS;
  assert_non_null(*pcred);
  assert_int_equal(mstls_session_new(&s, role, &set, &cb, *pcred, b), 0);
  return s;
}

static int client_handshake(int mode) {
  bad b;
  mstls_credentials *cred;
  mstls_session *s = make(&b, MSTLS_ROLE_CLIENT, mode, &cred);
  int rv = mstls_session_handshake_blocking(s);
  assert_true(rv >= MSTLS_ERR_MIN && rv <= MSTLS_ERR_MAX);
  assert_int_not_equal(rv, MSTLS_E_AGAIN);
  assert_true(b.pushes >= 1); /* the ClientHello went out */
  mstls_session_del(s);
  mstls_credentials_del(cred);
  return rv;
}

static void t_random_bytes(void **state) {
  bad b;
  mstls_credentials *cred;
  mstls_session *s;
  char buf[64];
  long r;
  int rv;
  (void)state;
  rv = client_handshake(M_RANDOM);
  assert_true(rv == MSTLS_E_HANDSHAKE || rv == MSTLS_E_UNORDERED ||
              rv == MSTLS_E_TIMEOUT || rv == MSTLS_E_BAD_RECORD ||
              rv == MSTLS_E_VERSION || rv == MSTLS_E_TLS);
  /* A server reading stream 0 gets that stream's error, not a crash. */
  s = make(&b, MSTLS_ROLE_SERVER, M_RANDOM, &cred);
  r = mstls_stream_recv_blocking(s, 0, buf, sizeof(buf));
  assert_true(r >= MSTLS_ERR_MIN && r <= MSTLS_ERR_MAX);
  assert_int_not_equal(r, MSTLS_E_AGAIN);
  assert_int_equal(mstls_stream_get_state(s, 0), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(s, 0), r);
  mstls_session_del(s);
  mstls_credentials_del(cred);
}

static void t_bad_stream(void **state) {
  (void)state;
  /* Nothing routable ever arrives: the handshake times out. */
  assert_int_equal(client_handshake(M_BAD_STREAM), MSTLS_E_TIMEOUT);
  assert_int_equal(client_handshake(M_MSG_SIZE), MSTLS_E_TIMEOUT);
  assert_int_equal(client_handshake(M_AGAIN), MSTLS_E_TIMEOUT);
}

static void t_too_long(void **state) {
  bad b;
  mstls_credentials *cred;
  mstls_session *s;
  char buf[16];
  (void)state;
  assert_int_equal(client_handshake(M_TOO_LONG), MSTLS_E_TRANSPORT);
  s = make(&b, MSTLS_ROLE_SERVER, M_TOO_LONG, &cred);
  assert_int_equal(mstls_stream_recv_blocking(s, 1, buf, sizeof(buf)),
                   MSTLS_E_TRANSPORT);
  assert_int_equal(mstls_session_get_error(s), MSTLS_E_TRANSPORT);
  mstls_session_del(s);
  mstls_credentials_del(cred);
}

static void t_negative(void **state) {
  bad b;
  mstls_credentials *cred;
  mstls_session *s;
  char buf[16];
  uint16_t sid;
  (void)state;
  assert_int_equal(client_handshake(M_NEGATIVE), MSTLS_E_TRANSPORT);
  s = make(&b, MSTLS_ROLE_SERVER, M_NEGATIVE, &cred);
  assert_int_equal(mstls_session_recv_any_blocking(s, &sid, buf, sizeof(buf)),
                   MSTLS_E_TRANSPORT);
  assert_int_equal(mstls_stream_send_blocking(s, 0, "x", 1), MSTLS_E_TRANSPORT);
  assert_true(mstls_err_is_fatal(mstls_session_get_error(s)));
  mstls_session_del(s);
  mstls_credentials_del(cred);
}

/* settings.recv_timeout bounds one blocking receive: nothing arrives (the
 * pull always times out), and after recv_timeout of the session's clock
 * (virtual here: one second per reading) the call returns MSTLS_E_AGAIN
 * with nothing failed, well before the 20 s handshake timeout would fail
 * the server's streams. */
static void t_recv_timeout(void **state) {
  bad b;
  mstls_credentials *cred;
  mstls_session *s;
  mstls_settings set;
  mstls_callbacks cb;
  char buf[16];
  uint16_t sid;
  mstls_tstamp t0;
  (void)state;
  memset(&b, 0, sizeof(b));
  b.mode = M_AGAIN;
  b.now = MSTLS_SECONDS;
  memset(&cb, 0, sizeof(cb));
  cb.push = bad_push;
  cb.pull = bad_pull;
  cb.clock = bad_clock;
  test_server_settings(&set, 4, MSTLS_POLICY_RESUME);
  set.handshake_timeout = 20 * MSTLS_SECONDS;
  set.recv_timeout = 5 * MSTLS_SECONDS;
  cred = test_server_creds(NULL);
  assert_non_null(cred);
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_SERVER, &set, &cb, cred, &b), 0);
  t0 = b.now;
  assert_int_equal(mstls_stream_recv_blocking(s, 1, buf, sizeof(buf)),
                   MSTLS_E_AGAIN);
  assert_true(b.now - t0 >= 5 * MSTLS_SECONDS);
  assert_true(b.now - t0 < 20 * MSTLS_SECONDS);
  assert_int_equal(mstls_session_get_error(s), 0);
  assert_int_not_equal(mstls_stream_get_state(s, 1), MSTLS_STREAM_FAILED);
  t0 = b.now;
  assert_int_equal(mstls_session_recv_any_blocking(s, &sid, buf, sizeof(buf)),
                   MSTLS_E_AGAIN);
  assert_true(b.now - t0 >= 5 * MSTLS_SECONDS);
  assert_int_equal(mstls_session_get_error(s), 0);
  mstls_session_del(s);
  mstls_credentials_del(cred);
}

/* Over a real link (the memlink's blocking pull): a receive that times out
 * leaves the stream usable, and the next one gets the data. */
static void t_recv_timeout_then_data(void **state) {
  test_pair p;
  mstls_settings cs, ss;
  char buf[16];
  (void)state;
  test_client_settings(&cs, 2, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 2, MSTLS_POLICY_RESUME);
  cs.recv_timeout = 20 * MSTLS_MILLISECONDS;
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv_blocking(p.client, 1, buf, sizeof(buf)),
                   MSTLS_E_AGAIN);
  assert_int_equal(mstls_stream_get_state(p.client, 1), MSTLS_STREAM_OPEN);
  assert_int_equal(mstls_stream_send(p.server, 1, "late", 4), 4);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv_blocking(p.client, 1, buf, sizeof(buf)),
                   4);
  assert_memory_equal(buf, "late", 4);
  test_pair_free(&p);
}

/* The server sends on streams 1 and 2, then the transport ends in order.
 * A blocking receive on stream 3 pulls both messages and then the end; the
 * data it did not want is still read afterwards, through either call, and
 * only then is the end reported. */
static void recv_blocking_after_close(int any) {
  test_pair p;
  mstls_settings cs, ss;
  char buf[16];
  uint16_t sid = 0;
  int got = 0, i;
  test_client_settings(&cs, 4, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 4, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_send(p.server, 1, "one", 3), 3);
  assert_int_equal(mstls_stream_send(p.server, 2, "two", 3), 3);
  memlink_set_closed(p.link, MEMLINK_CLIENT);
  assert_int_equal(mstls_stream_recv_blocking(p.client, 3, buf, sizeof(buf)),
                   MSTLS_E_CLOSED);
  assert_int_equal(mstls_session_get_error(p.client), MSTLS_E_CLOSED);
  if (any) {
    for (i = 0; i < 2; i++) {
      assert_int_equal(
          mstls_session_recv_any_blocking(p.client, &sid, buf, sizeof(buf)), 3);
      assert_memory_equal(buf, sid == 1 ? "one" : "two", 3);
      got |= 1 << sid;
    }
    assert_int_equal(got, 6);
    assert_int_equal(
        mstls_session_recv_any_blocking(p.client, &sid, buf, sizeof(buf)),
        MSTLS_E_CLOSED);
  } else {
    assert_int_equal(mstls_stream_recv_blocking(p.client, 2, buf, sizeof(buf)),
                     3);
    assert_memory_equal(buf, "two", 3);
    assert_int_equal(mstls_stream_recv_blocking(p.client, 1, buf, sizeof(buf)),
                     3);
    assert_memory_equal(buf, "one", 3);
  }
  /* No close_notify came: the end, not a clean EOF. */
  assert_int_equal(mstls_stream_recv_blocking(p.client, 1, buf, sizeof(buf)),
                   MSTLS_E_CLOSED);
  assert_int_equal(mstls_stream_recv(p.client, 2, buf, sizeof(buf)),
                   MSTLS_E_CLOSED);
  test_pair_free(&p);
}

static void t_recv_blocking_after_close(void **state) {
  (void)state;
  recv_blocking_after_close(0);
}

static void t_recv_any_blocking_after_close(void **state) {
  (void)state;
  recv_blocking_after_close(1);
}

/* Blocking functions need a pull callback. */
static void t_no_pull(void **state) {
  test_pair p;
  mstls_settings cs, ss;
  mstls_callbacks cb;
  mstls_session *s = NULL;
  char buf[8];
  uint16_t sid;
  (void)state;
  test_client_settings(&cs, 2, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 2, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  memlink_callbacks(&cb, MEMLINK_CLIENT);
  cb.pull = NULL;
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &cs, &cb, p.ccred, p.link), 0);
  assert_int_equal(mstls_session_handshake_blocking(s), MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_stream_send_blocking(s, 0, "x", 1),
                   MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_stream_recv_blocking(s, 0, buf, sizeof(buf)),
                   MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_session_recv_any_blocking(s, &sid, buf, sizeof(buf)),
                   MSTLS_E_INVALID_STATE);
  mstls_session_del(s);
  /* With a pull: NULL arguments are refused without blocking. */
  assert_int_equal(mstls_session_handshake_blocking(NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_send_blocking(p.client, 0, NULL, 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_send_blocking(p.client, 0, "x", 0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_recv_blocking(p.client, 0, NULL, 8),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_recv_any_blocking(p.client, NULL, buf, 8),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_recv_blocking(p.client, 9, buf, 8),
                   MSTLS_E_INVALID_STREAM);
  test_pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_random_bytes),
      cmocka_unit_test(t_bad_stream),
      cmocka_unit_test(t_too_long),
      cmocka_unit_test(t_negative),
      cmocka_unit_test(t_no_pull),
      cmocka_unit_test(t_recv_blocking_after_close),
      cmocka_unit_test(t_recv_any_blocking_after_close),
      cmocka_unit_test(t_recv_timeout),
      cmocka_unit_test(t_recv_timeout_then_data),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
