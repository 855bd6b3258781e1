/* Unit tests of the core's internal pieces: the receive queue, the dense
 * and hashed demux tables, and the GnuTLS error mapping of a channel
 * (plus a channel pair that handshakes over its own queues).
 *
 * Load-proof: no timers, no sockets, no threads; the channel pair's
 * records go through in-memory queues, and every step is synchronous. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "certs.h"
#include "channel.h"
#include "demux.h"
#include "err.h"
#include "mem.h"
#include "rxq.h"

static void t_rxq_stream(void **state) {
  const mstls_mem *mem = mstls_mem_default();
  mstls_rxq q;
  uint8_t buf[32];
  (void)state;
  memset(&q, 0, sizeof(q));
  assert_int_equal(mstls_rxq_read(&q, mem, buf, sizeof(buf)), 0);
  assert_int_equal(mstls_rxq_push(&q, mem, (const uint8_t *)"abcde", 5), 0);
  assert_int_equal(mstls_rxq_push(&q, mem, (const uint8_t *)"fghij", 5), 0);
  assert_int_equal(mstls_rxq_push(&q, mem, (const uint8_t *)"klm", 3), 0);
  assert_int_equal(q.bytes, 13);
  assert_int_equal(q.count, 3);
  /* Reads cross message boundaries and free what they consumed. */
  assert_int_equal(mstls_rxq_read(&q, mem, buf, 3), 3);
  assert_memory_equal(buf, "abc", 3);
  assert_int_equal(q.bytes, 10);
  assert_int_equal(q.count, 3);
  assert_int_equal(mstls_rxq_read(&q, mem, buf, 4), 4);
  assert_memory_equal(buf, "defg", 4);
  assert_int_equal(q.bytes, 6);
  assert_int_equal(q.count, 2);
  assert_int_equal(mstls_rxq_read(&q, mem, buf, sizeof(buf)), 6);
  assert_memory_equal(buf, "hijklm", 6);
  assert_int_equal(q.bytes, 0);
  assert_int_equal(q.count, 0);
  assert_null(q.head);
  assert_null(q.tail);
  /* The queue works again after running empty. */
  assert_int_equal(mstls_rxq_push(&q, mem, (const uint8_t *)"n", 1), 0);
  assert_int_equal(mstls_rxq_read(&q, mem, buf, 1), 1);
  assert_int_equal(buf[0], 'n');
  assert_int_equal(q.count, 0);
}

static void t_rxq_messages(void **state) {
  const mstls_mem *mem = mstls_mem_default();
  mstls_rxq q;
  uint8_t buf[32];
  (void)state;
  memset(&q, 0, sizeof(q));
  assert_int_equal(mstls_rxq_read_msg(&q, mem, buf, sizeof(buf)), -1);
  assert_int_equal(mstls_rxq_push(&q, mem, (const uint8_t *)"0123456789", 10),
                   0);
  assert_int_equal(mstls_rxq_push(&q, mem, (const uint8_t *)"xy", 2), 0);
  assert_int_equal(mstls_rxq_push(&q, mem, (const uint8_t *)"last", 4), 0);
  /* Boundaries kept; a short buffer truncates and drops the rest. */
  assert_int_equal(mstls_rxq_read_msg(&q, mem, buf, 4), 4);
  assert_memory_equal(buf, "0123", 4);
  assert_int_equal(q.count, 2);
  assert_int_equal(q.bytes, 6);
  /* A partly read message yields its remainder as one message. */
  assert_int_equal(mstls_rxq_read(&q, mem, buf, 1), 1);
  assert_int_equal(buf[0], 'x');
  assert_int_equal(mstls_rxq_read_msg(&q, mem, buf, sizeof(buf)), 1);
  assert_int_equal(buf[0], 'y');
  assert_int_equal(q.bytes, 4);
  /* Clear frees everything and resets the accounting. */
  assert_int_equal(mstls_rxq_push(&q, mem, (const uint8_t *)"more", 4), 0);
  mstls_rxq_clear(&q, mem);
  assert_int_equal(q.bytes, 0);
  assert_int_equal(q.count, 0);
  assert_null(q.head);
  assert_null(q.tail);
}

static void t_dense(void **state) {
  const mstls_mem *mem = mstls_mem_default();
  mstls_dense d;
  int a, b, c, e;
  size_t i, blocks = 0;
  (void)state;
  memset(&d, 0, sizeof(d));
  assert_null(mstls_dense_get(&d, 0));
  assert_null(mstls_dense_get(&d, 65535));
  /* Clearing an absent key allocates nothing. */
  assert_int_equal(mstls_dense_set(&d, mem, 300, NULL), 0);
  assert_null(d.blocks[1]);
  assert_int_equal(mstls_dense_set(&d, mem, 0, &a), 0);
  assert_int_equal(mstls_dense_set(&d, mem, 255, &b), 0);
  assert_int_equal(mstls_dense_set(&d, mem, 256, &c), 0);
  assert_int_equal(mstls_dense_set(&d, mem, 65535, &e), 0);
  assert_ptr_equal(mstls_dense_get(&d, 0), &a);
  assert_ptr_equal(mstls_dense_get(&d, 255), &b);
  assert_ptr_equal(mstls_dense_get(&d, 256), &c);
  assert_ptr_equal(mstls_dense_get(&d, 65535), &e);
  assert_null(mstls_dense_get(&d, 1));
  assert_null(mstls_dense_get(&d, 65534));
  assert_null(mstls_dense_get(&d, 511));
  for (i = 0; i < 256; i++) {
    blocks += d.blocks[i] != NULL;
  }
  assert_int_equal(blocks, 3); /* blocks 0, 1 and 255 only */
  assert_int_equal(mstls_dense_set(&d, mem, 255, NULL), 0);
  assert_null(mstls_dense_get(&d, 255));
  assert_ptr_equal(mstls_dense_get(&d, 0), &a);
  mstls_dense_free(&d, mem);
  for (i = 0; i < 256; i++) {
    assert_null(d.blocks[i]);
  }
}

typedef struct visit {
  mstls_hash *h;
  size_t n;
  size_t sum;
} visit;

static void count_fn(void *value, void *ctx) {
  visit *v = ctx;
  v->n++;
  v->sum += *(size_t *)value;
}

static size_t vals[1000];

/* Removes the entry it is given when its value is odd. */
static void remove_odd_fn(void *value, void *ctx) {
  visit *v = ctx;
  size_t k = *(size_t *)value;
  uint32_t key = (uint32_t)k;
  if (k % 2) {
    assert_ptr_equal(mstls_hash_remove(v->h, &key, sizeof(key)), value);
    v->n++;
  }
}

static void t_hash(void **state) {
  const mstls_mem *mem = mstls_mem_default();
  mstls_hash h;
  visit v;
  uint8_t longkey[MSTLS_HASH_KEY_MAX + 1] = {0};
  uint32_t key;
  size_t i, expect = 0;
  (void)state;
  assert_int_equal(mstls_hash_init(&h, mem), 0);
  assert_int_equal(h.nbuckets, 64);
  for (i = 0; i < 1000; i++) {
    vals[i] = i;
    key = (uint32_t)i;
    assert_int_equal(mstls_hash_put(&h, &key, sizeof(key), &vals[i]), 0);
    expect += i;
  }
  assert_int_equal(h.count, 1000);
  assert_true(h.nbuckets >= 1000); /* it grew */
  for (i = 0; i < 1000; i++) {
    key = (uint32_t)i;
    assert_ptr_equal(mstls_hash_get(&h, &key, sizeof(key)), &vals[i]);
  }
  key = 5000;
  assert_null(mstls_hash_get(&h, &key, sizeof(key)));
  /* Same bytes, other length: another key. */
  key = 7;
  assert_null(mstls_hash_get(&h, &key, 2));
  assert_int_equal(mstls_hash_put(&h, &key, sizeof(key), &vals[0]),
                   MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_hash_put(&h, longkey, sizeof(longkey), &vals[0]),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_null(mstls_hash_get(&h, longkey, sizeof(longkey)));
  assert_null(mstls_hash_remove(&h, longkey, sizeof(longkey)));
  memset(&v, 0, sizeof(v));
  v.h = &h;
  mstls_hash_foreach(&h, count_fn, &v);
  assert_int_equal(v.n, 1000);
  assert_int_equal(v.sum, expect);
  /* foreach may remove the entry it was given. */
  memset(&v, 0, sizeof(v));
  v.h = &h;
  mstls_hash_foreach(&h, remove_odd_fn, &v);
  assert_int_equal(v.n, 500);
  assert_int_equal(h.count, 500);
  for (i = 0; i < 1000; i++) {
    key = (uint32_t)i;
    if (i % 2) {
      assert_null(mstls_hash_get(&h, &key, sizeof(key)));
      assert_null(mstls_hash_remove(&h, &key, sizeof(key)));
    } else {
      assert_ptr_equal(mstls_hash_get(&h, &key, sizeof(key)), &vals[i]);
    }
  }
  key = 2;
  assert_ptr_equal(mstls_hash_remove(&h, &key, sizeof(key)), &vals[2]);
  assert_int_equal(h.count, 499);
  /* A removed key can be put again. */
  assert_int_equal(mstls_hash_put(&h, &key, sizeof(key), &vals[3]), 0);
  assert_ptr_equal(mstls_hash_get(&h, &key, sizeof(key)), &vals[3]);
  mstls_hash_free(&h);
  assert_int_equal(h.count, 0);
  mstls_hash_free(&h); /* twice is harmless */
}

static void t_siphash(void **state) {
  const uint8_t in[] = "mstls siphash input";
  uint64_t a, b;
  (void)state;
  a = mstls_siphash13(1, 2, in, sizeof(in));
  b = mstls_siphash13(1, 2, in, sizeof(in));
  assert_true(a == b);
  /* The key, every input length and a single bit all change the hash. */
  assert_true(mstls_siphash13(1, 3, in, sizeof(in)) != a);
  assert_true(mstls_siphash13(2, 2, in, sizeof(in)) != a);
  assert_true(mstls_siphash13(1, 2, in, sizeof(in) - 1) != a);
  {
    uint8_t flip[sizeof(in)];
    memcpy(flip, in, sizeof(in));
    flip[3] ^= 1;
    assert_true(mstls_siphash13(1, 2, flip, sizeof(flip)) != a);
  }
  assert_true(mstls_siphash13(0, 0, NULL, 0) != mstls_siphash13(0, 1, NULL, 0));
}

static void t_err_map(void **state) {
  (void)state;
  assert_int_equal(mstls_err_from_gnutls(GNUTLS_E_MEMORY_ERROR, 0),
                   MSTLS_E_NOMEM);
  assert_int_equal(
      mstls_err_from_gnutls(GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR, 1),
      MSTLS_E_CERT_VERIFY);
  assert_int_equal(mstls_err_from_gnutls(GNUTLS_E_CERTIFICATE_REQUIRED, 1),
                   MSTLS_E_CERT_VERIFY);
  assert_int_equal(
      mstls_err_from_gnutls(GNUTLS_E_UNSUPPORTED_VERSION_PACKET, 1),
      MSTLS_E_VERSION);
  assert_int_equal(mstls_err_from_gnutls(GNUTLS_E_DECRYPTION_FAILED, 0),
                   MSTLS_E_BAD_RECORD);
  assert_int_equal(mstls_err_from_gnutls(GNUTLS_E_DECRYPTION_FAILED, 1),
                   MSTLS_E_HANDSHAKE);
  assert_int_equal(mstls_err_from_gnutls(GNUTLS_E_RECORD_OVERFLOW, 0),
                   MSTLS_E_BAD_RECORD);
  assert_int_equal(mstls_err_from_gnutls(GNUTLS_E_FATAL_ALERT_RECEIVED, 0),
                   MSTLS_E_ALERT);
  assert_int_equal(mstls_err_from_gnutls(GNUTLS_E_PREMATURE_TERMINATION, 0),
                   MSTLS_E_PREMATURE_EOF);
  assert_int_equal(mstls_err_from_gnutls(GNUTLS_E_PUSH_ERROR, 0),
                   MSTLS_E_TRANSPORT);
  assert_int_equal(mstls_err_from_gnutls(GNUTLS_E_INTERNAL_ERROR, 0),
                   MSTLS_E_TLS);
  assert_int_equal(mstls_err_from_gnutls(GNUTLS_E_INTERNAL_ERROR, 1),
                   MSTLS_E_HANDSHAKE);
}

/* Two channels joined back to back: each push queues on the other. */
typedef struct chan_pair {
  mstls_channel c, s;
  int fail_push; /* 0, or the error pushes return */
} chan_pair;

static int push_to_server(void *ctx, const giovec_t *iov, int iovcnt) {
  chan_pair *p = ctx;
  uint8_t buf[20000];
  size_t n = 0;
  int i;
  if (p->fail_push) {
    return p->fail_push;
  }
  for (i = 0; i < iovcnt; i++) {
    memcpy(buf + n, iov[i].iov_base, iov[i].iov_len);
    n += iov[i].iov_len;
  }
  return mstls_chan_enqueue(&p->s, buf, n);
}

static int push_to_client(void *ctx, const giovec_t *iov, int iovcnt) {
  chan_pair *p = ctx;
  uint8_t buf[20000];
  size_t n = 0;
  int i;
  for (i = 0; i < iovcnt; i++) {
    memcpy(buf + n, iov[i].iov_base, iov[i].iov_len);
    n += iov[i].iov_len;
  }
  return mstls_chan_enqueue(&p->c, buf, n);
}

static void t_channel(void **state) {
  chan_pair *p = calloc(1, sizeof(*p));
  mstls_credentials *sc = test_server_creds(NULL);
  mstls_credentials *cc = test_client_creds(NULL, NULL, 0);
  const mstls_mem *mem = mstls_mem_default();
  int rc = GNUTLS_E_AGAIN, rs = GNUTLS_E_AGAIN, k;
  char buf[16];
  (void)state;
  assert_non_null(p);
  assert_non_null(sc);
  assert_non_null(cc);
  assert_int_equal(
      mstls_chan_init(&p->c, mem, GNUTLS_CLIENT, push_to_server, p), 0);
  assert_int_equal(
      mstls_chan_init(&p->s, mem, GNUTLS_SERVER, push_to_client, p), 0);
  gnutls_set_default_priority(p->c.tls);
  gnutls_set_default_priority(p->s.tls);
  gnutls_credentials_set(p->c.tls, GNUTLS_CRD_CERTIFICATE,
                         mstls_credentials_get_gnutls(cc));
  gnutls_credentials_set(p->s.tls, GNUTLS_CRD_CERTIFICATE,
                         mstls_credentials_get_gnutls(sc));
  gnutls_session_set_verify_cert(p->c.tls, "server.test", 0);
  /* The pull of an empty queue would block, never sleeps. */
  for (k = 0; k < 20 && (rc != 0 || rs != 0); k++) {
    if (rc != 0) {
      rc = gnutls_handshake(p->c.tls);
      assert_true(rc == 0 || rc == GNUTLS_E_AGAIN);
    }
    if (rs != 0) {
      rs = gnutls_handshake(p->s.tls);
      assert_true(rs == 0 || rs == GNUTLS_E_AGAIN);
    }
  }
  assert_int_equal(rc, 0);
  assert_int_equal(rs, 0);
  assert_int_equal(gnutls_record_send(p->c.tls, "chan", 4), 4);
  assert_int_equal(p->s.rxq.count, 1); /* one record, one message */
  assert_int_equal(gnutls_record_recv(p->s.tls, buf, sizeof(buf)), 4);
  assert_memory_equal(buf, "chan", 4);
  assert_int_equal(gnutls_record_recv(p->s.tls, buf, sizeof(buf)),
                   GNUTLS_E_AGAIN);
  /* A push that would block is GnuTLS's EAGAIN. */
  p->fail_push = MSTLS_E_AGAIN;
  assert_int_equal(gnutls_record_send(p->c.tls, "x", 1), GNUTLS_E_AGAIN);
  /* A failed push keeps its own error for the mapping. */
  p->fail_push = MSTLS_E_NOMEM;
  assert_int_equal(gnutls_record_send(p->c.tls, "x", 1), GNUTLS_E_PUSH_ERROR);
  assert_int_equal(mstls_chan_map_error(&p->c, GNUTLS_E_PUSH_ERROR, 0),
                   MSTLS_E_NOMEM);
  assert_int_equal(p->c.last_gnutls, GNUTLS_E_PUSH_ERROR);
  p->c.push_err = -99;
  assert_int_equal(mstls_chan_map_error(&p->c, GNUTLS_E_PUSH_ERROR, 0),
                   MSTLS_E_TRANSPORT);
  mstls_chan_deinit(&p->c);
  mstls_chan_deinit(&p->s);
  mstls_chan_deinit(&p->s); /* idempotent */
  mstls_credentials_del(cc);
  mstls_credentials_del(sc);
  free(p);
}

/* Other alerts map to their error. */
static void t_channel_alerts(void **state) {
  static const struct {
    gnutls_alert_description_t alert;
    int want;
  } cases[] = {
      {GNUTLS_A_PROTOCOL_VERSION, MSTLS_E_VERSION},
      {GNUTLS_A_BAD_CERTIFICATE, MSTLS_E_CERT_VERIFY},
      {GNUTLS_A_UNKNOWN_CA, MSTLS_E_CERT_VERIFY},
      {GNUTLS_A_CERTIFICATE_REQUIRED, MSTLS_E_CERT_VERIFY},
      {GNUTLS_A_INSUFFICIENT_SECURITY, MSTLS_E_VERSION},
      {GNUTLS_A_HANDSHAKE_FAILURE, MSTLS_E_ALERT},
      {GNUTLS_A_INTERNAL_ERROR, MSTLS_E_ALERT},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    chan_pair *p = calloc(1, sizeof(*p));
    char buf[8];
    const mstls_mem *mem = mstls_mem_default();
    assert_non_null(p);
    assert_int_equal(
        mstls_chan_init(&p->c, mem, GNUTLS_CLIENT, push_to_server, p), 0);
    assert_int_equal(
        mstls_chan_init(&p->s, mem, GNUTLS_SERVER, push_to_client, p), 0);
    gnutls_set_default_priority(p->c.tls);
    gnutls_set_default_priority(p->s.tls);
    assert_int_equal(
        gnutls_alert_send(p->s.tls, GNUTLS_AL_FATAL, cases[i].alert), 0);
    /* The client's handshake reads the alert in place of a ServerHello. */
    assert_int_equal(gnutls_handshake(p->c.tls), GNUTLS_E_FATAL_ALERT_RECEIVED);
    (void)buf;
    assert_int_equal(
        mstls_chan_map_error(&p->c, GNUTLS_E_FATAL_ALERT_RECEIVED, 1),
        cases[i].want);
    assert_int_equal(p->c.last_gnutls, GNUTLS_E_FATAL_ALERT_RECEIVED);
    mstls_chan_deinit(&p->c);
    mstls_chan_deinit(&p->s);
    free(p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_rxq_stream), cmocka_unit_test(t_rxq_messages),
      cmocka_unit_test(t_dense),      cmocka_unit_test(t_hash),
      cmocka_unit_test(t_siphash),    cmocka_unit_test(t_err_map),
      cmocka_unit_test(t_channel),    cmocka_unit_test(t_channel_alerts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
