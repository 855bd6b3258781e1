/* TLS over real SCTP (usrsctp, in-process AF_CONN, deterministic). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h" /* mstls_sctp_assoc_reset_streams */
#include "sctp_harness.h"

static void pattern(uint8_t *buf, size_t len, uint16_t stream, size_t off) {
  size_t i;
  for (i = 0; i < len; i++)
    buf[i] = (uint8_t)((off + i) * 31u + stream * 7u + 1u);
}

static void handshake_n(uint16_t n, mstls_policy pol) {
  sctp_h h;
  mstls_session_stats st;
  uint16_t in = 0, out = 0;
  uint32_t i;

  sctp_h_defaults(&h, n, pol);
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  assert_int_equal(mstls_sctp_assoc_get_streams(h.cli, &in, &out), 0);
  assert_int_equal(in, n);
  assert_int_equal(out, n);
  assert_int_equal(
      mstls_session_get_nstreams(mstls_sctp_assoc_get_session(h.cli)), n);
  if (pol != MSTLS_POLICY_LAZY) {
    assert_int_equal(
        mstls_session_get_stats(mstls_sctp_assoc_get_session(h.cli), &st), 0);
    assert_int_equal(st.streams_established, n);
    for (i = 0; i < n; i++)
      assert_int_equal(mstls_stream_get_state(
                           mstls_sctp_assoc_get_session(h.cli), (uint16_t)i),
                       MSTLS_STREAM_OPEN);
  }
  assert_int_equal(mstls_sctp_assoc_get_backend(h.cli),
                   MSTLS_SCTP_BACKEND_USRSCTP);
  sctp_h_close(&h);
}

static void test_handshake_1(void **s) {
  (void)s;
  handshake_n(1, MSTLS_POLICY_RESUME);
}
static void test_handshake_10(void **s) {
  (void)s;
  handshake_n(10, MSTLS_POLICY_RESUME);
}
static void test_handshake_100(void **s) {
  (void)s;
  handshake_n(100, MSTLS_POLICY_RESUME);
}
static void test_handshake_1000(void **s) {
  (void)s;
  handshake_n(1000, MSTLS_POLICY_RESUME);
}
static void test_handshake_parallel_16(void **s) {
  (void)s;
  handshake_n(16, MSTLS_POLICY_PARALLEL);
}
static void test_handshake_lazy_16(void **s) {
  (void)s;
  handshake_n(16, MSTLS_POLICY_LAZY);
}

/* Stream negotiation: bidirectional = min(in, out); the rest is
 * plaintext-only (RFC 3436). */
static void test_negotiation(void **state) {
  sctp_h h;
  uint16_t in = 0, out = 0;

  (void)state;
  sctp_h_defaults(&h, 10, MSTLS_POLICY_RESUME);
  h.ccfg.streams_out = 20;
  h.ccfg.streams_in = 10;
  h.scfg.streams_out = 5;
  h.scfg.streams_in = 30;
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  assert_int_equal(mstls_sctp_assoc_get_streams(h.cli, &in, &out), 0);
  assert_int_equal(in, 5);
  assert_int_equal(out, 20);
  assert_int_equal(
      mstls_session_get_nstreams(mstls_sctp_assoc_get_session(h.cli)), 5);
  assert_int_equal(mstls_sctp_assoc_get_streams(h.srv, &in, &out), 0);
  assert_int_equal(in, 20);
  assert_int_equal(out, 5);
  assert_int_equal(
      mstls_session_get_nstreams(mstls_sctp_assoc_get_session(h.srv)), 5);
  sctp_h_close(&h);
}

typedef struct plain_rx {
  uint16_t stream;
  uint32_t ppid;
  size_t len;
  int ok;
  int count;
} plain_rx;

static void on_plain(mstls_sctp_assoc *a, uint16_t stream, uint32_t ppid,
                     const uint8_t *data, size_t len, void *ud) {
  plain_rx *r = ud;
  uint8_t *exp = malloc(len);
  (void)a;
  pattern(exp, len, stream, 0);
  r->stream = stream;
  r->ppid = ppid;
  r->len = len;
  r->ok = memcmp(exp, data, len) == 0;
  r->count++;
  free(exp);
}

/* Unidirectional streams carry plaintext; big messages are reassembled
 * from partial deliveries until MSG_EOR. */
static void test_plain_and_reassembly(void **state) {
  static const size_t sizes[] = {1, 18437, 18438, 100000, 1u << 20};
  sctp_h h;
  plain_rx rx;
  mstls_sctp_stats st;
  size_t i;
  uint8_t *buf = malloc(1u << 20);

  (void)state;
  memset(&rx, 0, sizeof(rx));
  sctp_h_defaults(&h, 10, MSTLS_POLICY_RESUME);
  h.ccfg.streams_out = 12;
  h.scfg.streams_in = 12;
  h.scfg.plain_recv = on_plain;
  h.sud = &rx;
  h.ss.max_message = 2u << 20;
  h.ss.stream_rx_cap = 4u << 20;
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  assert_int_equal(h.srv_rc, 0);
  /* A TLS stream refuses plaintext. */
  assert_int_equal(mstls_sctp_send_plain(h.cli, 3, 0, "x", 1),
                   MSTLS_E_INVALID_STREAM);
  assert_int_equal(mstls_sctp_send_plain(h.cli, 12, 0, "x", 1),
                   MSTLS_E_INVALID_STREAM);
  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    int k, rc;
    pattern(buf, sizes[i], 11, 0);
    for (k = 0; k < 1000; k++) {
      rc = mstls_sctp_send_plain(h.cli, 11, 99, buf, sizes[i]);
      if (rc != MSTLS_E_AGAIN)
        break;
      sctp_h_step(&h);
    }
    assert_int_equal(rc, 0);
    for (k = 0; k < 2000 && rx.count == (int)i; k++)
      sctp_h_step(&h);
    assert_int_equal(rx.count, (int)i + 1);
    assert_int_equal(rx.stream, 11);
    assert_int_equal(rx.ppid, 99);
    assert_int_equal(rx.len, sizes[i]);
    assert_true(rx.ok);
  }
  assert_int_equal(mstls_sctp_assoc_get_stats(h.srv, &st), 0);
  assert_true(st.partial_reads > 0);
  assert_int_equal(st.plain_in, sizeof(sizes) / sizeof(sizes[0]));
  free(buf);
  sctp_h_close(&h);
}

/* Per-stream data integrity over TLS: every stream sends a different
 * amount, 1 byte to 1 MB, in sends of up to 200000 bytes, and reads back
 * exactly its own bytes. */
static void test_data_integrity(void **state) {
  static const size_t sizes[] = {1,     100,    16384,    18437,
                                 65536, 300000, 1u << 20, 7};
  enum { N = 8 };
  sctp_h h;
  size_t sent[N] = {0}, got[N] = {0};
  uint8_t *src = malloc(1u << 20), *dst = malloc(1u << 20);
  int step, done = 0;

  (void)state;
  sctp_h_defaults(&h, N, MSTLS_POLICY_RESUME);
  h.ss.stream_rx_cap = 4u << 20;
  /* A send buffer smaller than one call's data: the socket fills while
   * the link is not pumped, so records meet a full socket. */
  h.ccfg.send_buffer = 64u << 10;
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  for (step = 0; step < 200000 && !done; step++) {
    mstls_session *c = mstls_sctp_assoc_get_session(h.cli);
    mstls_session *s = mstls_sctp_assoc_get_session(h.srv);
    uint16_t k;
    done = 1;
    for (k = 0; k < N; k++) {
      if (sent[k] < sizes[k]) {
        /* Several records per call: the send takes what the socket
         * does (a record that meets a full socket is kept, counted, and
         * pushed by mstls_sctp_assoc_process()). */
        size_t len = sizes[k] - sent[k] > 200000 ? 200000 : sizes[k] - sent[k];
        long n;
        pattern(src, len, k, sent[k]);
        n = mstls_stream_send(c, k, src, len);
        if (n > 0)
          sent[k] += (size_t)n;
        else
          assert_int_equal(n, MSTLS_E_AGAIN);
      }
      for (;;) {
        long n = mstls_stream_recv(s, k, dst, 1u << 20);
        if (n <= 0) {
          assert_int_equal(n, MSTLS_E_AGAIN);
          break;
        }
        pattern(src, (size_t)n, k, got[k]);
        assert_memory_equal(src, dst, (size_t)n);
        got[k] += (size_t)n;
      }
      if (got[k] < sizes[k])
        done = 0;
    }
    sctp_h_step(&h);
  }
  assert_true(done);
  {
    mstls_session_stats st;
    assert_int_equal(
        mstls_session_get_stats(mstls_sctp_assoc_get_session(h.cli), &st), 0);
    assert_int_equal(st.streams_kept, 0);
    assert_true(st.records_kept > 0);
  }
  free(src);
  free(dst);
  sctp_h_close(&h);
}

/* RFC 3436 §6: TLS streams never use unordered delivery nor PR-SCTP; the
 * PPID of each stream is the configured one. Checked on the wire. */
static int tap_inspect(int dir, const uint8_t *pkt, size_t len, void *ud) {
  (void)dir;
  sctp_h_inspect(ud, pkt, len);
  return 0;
}

static void test_wire_ordered_ppid(void **state) {
  sctp_h h;
  sctp_h_wire w;
  int i;

  (void)state;
  memset(&w, 0, sizeof(w));
  sctp_h_defaults(&h, 4, MSTLS_POLICY_PARALLEL);
  h.ccfg.ppid = 7;
  assert_int_equal(sctp_h_start(&h), 0);
  mstls_sctp_link_pair_set_tap(h.pair, tap_inspect, &w);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  assert_int_equal(mstls_sctp_assoc_set_ppid(h.cli, 3, 42), 0);
  assert_int_equal(mstls_sctp_assoc_set_ppid(h.cli, 4, 42),
                   MSTLS_E_INVALID_STREAM);
  assert_true(mstls_stream_send(mstls_sctp_assoc_get_session(h.cli), 3, "hello",
                                5) == 5);
  assert_true(mstls_stream_send(mstls_sctp_assoc_get_session(h.cli), 1, "hello",
                                5) == 5);
  for (i = 0; i < 50; i++)
    sctp_h_step(&h);
  assert_true(w.data_chunks > 8);
  assert_int_equal(w.unordered, 0);
  assert_int_equal(w.forward_tsn, 0);
  assert_int_equal(w.ppid_seen[3], 42);
  assert_int_equal(w.ppid_seen[1], 7);
  mstls_sctp_link_pair_set_tap(h.pair, NULL, NULL);
  sctp_h_close(&h);
}

/* Callback mode: a paused (stalled) reader on one stream does not stop
 * the others. */
typedef struct cb_rx {
  size_t got[4];
} cb_rx;

static int on_data(mstls_session *s, uint16_t stream, const uint8_t *d,
                   size_t len, void *ud) {
  cb_rx *r = ud;
  (void)s;
  (void)d;
  if (stream < 4)
    r->got[stream] += len;
  return 0;
}

static void test_stalled_stream(void **state) {
  sctp_h h;
  cb_rx rx;
  mstls_session *c, *s;
  uint8_t buf[1000];
  int i, k;

  (void)state;
  memset(&rx, 0, sizeof(rx));
  memset(buf, 'a', sizeof(buf));
  sctp_h_defaults(&h, 4, MSTLS_POLICY_RESUME);
  h.scb.recv_data = on_data;
  h.sud = &rx;
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  c = mstls_sctp_assoc_get_session(h.cli);
  s = mstls_sctp_assoc_get_session(h.srv);
  assert_int_equal(mstls_stream_pause(s, 1), 0);
  for (i = 0; i < 100; i++) {
    for (k = 0; k < 4; k++)
      assert_int_equal(mstls_stream_send(c, (uint16_t)k, buf, sizeof(buf)),
                       (long)sizeof(buf));
    sctp_h_step(&h);
  }
  for (i = 0; i < 100; i++)
    sctp_h_step(&h);
  assert_int_equal(rx.got[0], 100000);
  assert_int_equal(rx.got[2], 100000);
  assert_int_equal(rx.got[3], 100000);
  assert_int_equal(rx.got[1], 0);
  assert_int_equal(mstls_stream_resume(s, 1), 0);
  assert_int_equal(rx.got[1], 100000);
  sctp_h_close(&h);
}

/* Peer abort mid-handshake and mid-transfer: an error, never a hang. */
static void abort_at(int after_handshake) {
  sctp_h h;
  int i;

  sctp_h_defaults(&h, 10, MSTLS_POLICY_PARALLEL);
  assert_int_equal(sctp_h_start(&h), 0);
  if (after_handshake) {
    assert_int_equal(sctp_h_handshake(&h, 20000), 0);
    assert_true(
        mstls_stream_send(mstls_sctp_assoc_get_session(h.srv), 2, "x", 1) == 1);
  } else {
    for (i = 0; i < 1000 && h.srv == NULL; i++)
      sctp_h_step(&h);
    assert_non_null(h.srv);
    assert_int_equal(
        mstls_session_handshake(mstls_sctp_assoc_get_session(h.srv)),
        MSTLS_E_AGAIN);
  }
  mstls_sctp_assoc_abort(h.cli);
  for (i = 0; i < 100 && h.srv_rc == 0; i++)
    sctp_h_step(&h);
  /* PEER_GONE from the ABORT notification, or TRANSPORT when the session
   * was pushing a flight into the dead association first. */
  assert_true(h.srv_rc == MSTLS_E_PEER_GONE || h.srv_rc == MSTLS_E_TRANSPORT);
  assert_true(mstls_sctp_assoc_get_error(h.srv) == MSTLS_E_PEER_GONE ||
              mstls_sctp_assoc_get_error(h.srv) == MSTLS_E_TRANSPORT);
  /* Sending now fails instead of queueing forever. */
  assert_true(
      mstls_stream_send(mstls_sctp_assoc_get_session(h.srv), 1, "x", 1) < 0);
  sctp_h_close(&h);
}

static void test_abort_mid_handshake(void **s) {
  (void)s;
  abort_at(0);
}
static void test_abort_mid_transfer(void **s) {
  (void)s;
  abort_at(1);
}

/* Association restart: the client's stack loses the association silently
 * and connects again from the same port; the server learns that every TLS
 * connection is gone. */
static int drop_from_client(int dir, const uint8_t *pkt, size_t len, void *ud) {
  (void)pkt;
  (void)len;
  (void)ud;
  return dir == 0;
}

static void test_restart(void **state) {
  sctp_h h;
  mstls_sctp_assoc *again = NULL;
  mstls_sctp_config cfg;
  int i;

  (void)state;
  sctp_h_defaults(&h, 4, MSTLS_POLICY_RESUME);
  h.ccfg.local_port = 6001;
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  mstls_sctp_link_pair_set_tap(h.pair, drop_from_client, NULL);
  mstls_sctp_assoc_abort(h.cli);
  sctp_h_step(&h);
  mstls_sctp_assoc_del(h.cli);
  h.cli = NULL;
  sctp_h_step(&h);
  mstls_sctp_link_pair_set_tap(h.pair, NULL, NULL);
  cfg = h.ccfg;
  assert_int_equal(mstls_sctp_connect(&again, &cfg, NULL, h.port, &h.cs, NULL,
                                      h.ccred, NULL),
                   0);
  for (i = 0; i < 200 && h.srv_rc == 0; i++) {
    sctp_h_step(&h);
    (void)mstls_sctp_assoc_process(again);
  }
  assert_int_equal(h.srv_rc, MSTLS_E_PEER_GONE);
  mstls_sctp_assoc_del(again);
  sctp_h_close(&h);
}

/* Notifications seen per stream, through the SCTP event callback. */
typedef struct ev_log {
  unsigned reset[8];
  unsigned send_failed[8];
  unsigned oversized[8];
  int reset_err;
  int oversized_err;
} ev_log;

static void on_sctp_event(mstls_sctp_assoc *a, mstls_sctp_event ev,
                          uint16_t stream, int err, void *ud) {
  ev_log *log = ud;
  (void)a;
  if (ev == MSTLS_SCTP_EVENT_STREAM_RESET && stream < 8) {
    log->reset[stream]++;
    log->reset_err = err;
  }
  if (ev == MSTLS_SCTP_EVENT_SEND_FAILED && stream < 8)
    log->send_failed[stream]++;
  if (ev == MSTLS_SCTP_EVENT_OVERSIZED && stream < 8) {
    log->oversized[stream]++;
    log->oversized_err = err;
  }
}

/* One message from the client on @p k reaches the server intact. */
static void assert_stream_carries(sctp_h *h, uint16_t k) {
  mstls_session *c = mstls_sctp_assoc_get_session(h->cli);
  mstls_session *s = mstls_sctp_assoc_get_session(h->srv);
  char buf[16];
  long n = MSTLS_E_AGAIN;
  int i;

  assert_int_equal(mstls_stream_send(c, k, "ping", 4), 4);
  for (i = 0; i < 100 && n == MSTLS_E_AGAIN; i++) {
    sctp_h_step(h);
    n = mstls_stream_recv(s, k, buf, sizeof(buf));
  }
  assert_int_equal(n, 4);
  assert_memory_equal(buf, "ping", 4);
}

/* RFC 6525: the client resets its outgoing stream 2. A TLS connection
 * cannot span a reset, so stream 2 ends at both ends with
 * MSTLS_E_STREAM_RESET; the association and the other streams go on. */
static void test_stream_reset(void **state) {
  const uint16_t sid = 2;
  ev_log clog, slog;
  sctp_h h;
  char buf[8];
  int i;

  (void)state;
  memset(&clog, 0, sizeof(clog));
  memset(&slog, 0, sizeof(slog));
  sctp_h_defaults(&h, 4, MSTLS_POLICY_RESUME);
  h.ccfg.event = on_sctp_event;
  h.scfg.event = on_sctp_event;
  h.scfg.accept_stream_reset = 1;
  h.cud = &clog;
  h.sud = &slog;
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  assert_int_equal(mstls_sctp_assoc_reset_streams(h.cli, &sid, 1), 0);
  for (i = 0; i < 200 && (slog.reset[2] == 0 || clog.reset[2] == 0); i++)
    sctp_h_step(&h);
  assert_int_equal(slog.reset[2], 1);
  assert_int_equal(clog.reset[2], 1);
  assert_int_equal(slog.reset_err, MSTLS_E_STREAM_RESET);
  assert_int_equal(h.cli_rc, 0);
  assert_int_equal(h.srv_rc, 0);
  assert_int_equal(mstls_sctp_assoc_get_stream_error(h.srv, 2),
                   MSTLS_E_STREAM_RESET);
  assert_int_equal(mstls_sctp_assoc_get_stream_error(h.srv, 1), 0);
  assert_int_equal(
      mstls_stream_get_error(mstls_sctp_assoc_get_session(h.srv), 2),
      MSTLS_E_STREAM_RESET);
  assert_int_equal(
      mstls_stream_get_error(mstls_sctp_assoc_get_session(h.cli), 2),
      MSTLS_E_STREAM_RESET);
  assert_int_equal(
      mstls_stream_send(mstls_sctp_assoc_get_session(h.cli), 2, "x", 1),
      MSTLS_E_STREAM_RESET);
  assert_int_equal(
      mstls_stream_recv(mstls_sctp_assoc_get_session(h.srv), 2, buf, 8),
      MSTLS_E_STREAM_RESET);
  assert_stream_carries(&h, 0);
  assert_stream_carries(&h, 1);
  assert_stream_carries(&h, 3);
  sctp_h_close(&h);
}

/* By default (RFC 6525 §6.3.1) the peer's reset request is denied: the
 * requester hears so, and no stream changes at either end. */
static void test_stream_reset_denied(void **state) {
  const uint16_t sid = 1;
  ev_log clog, slog;
  sctp_h h;
  int i;

  (void)state;
  memset(&clog, 0, sizeof(clog));
  memset(&slog, 0, sizeof(slog));
  sctp_h_defaults(&h, 4, MSTLS_POLICY_RESUME);
  h.ccfg.event = on_sctp_event;
  h.scfg.event = on_sctp_event;
  h.cud = &clog;
  h.sud = &slog;
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  assert_int_equal(mstls_sctp_assoc_reset_streams(h.cli, &sid, 1), 0);
  for (i = 0; i < 200 && clog.reset[1] == 0; i++)
    sctp_h_step(&h);
  assert_int_equal(clog.reset[1], 1);
  assert_int_equal(clog.reset_err, 0); /* denied: nothing was reset */
  assert_int_equal(slog.reset[1], 0);
  assert_int_equal(mstls_sctp_assoc_get_stream_error(h.cli, 1), 0);
  assert_int_equal(mstls_sctp_assoc_get_stream_error(h.srv, 1), 0);
  assert_stream_carries(&h, 1);
  sctp_h_close(&h);
}

/* Every packet lost both ways. */
static int drop_all(int dir, const uint8_t *pkt, size_t len, void *ud) {
  (void)dir;
  (void)pkt;
  (void)len;
  (void)ud;
  return 1;
}

/* The path dies with records of streams 1 and 3 in flight: SCTP gives up
 * on them (SEND_FAILED, one per message, before COMM_LOST), so exactly
 * those streams report MSTLS_E_STREAM_LOST and the association
 * MSTLS_E_PEER_GONE. Nothing waits forever. */
static void test_send_failed(void **state) {
  ev_log clog;
  mstls_session *c;
  sctp_h h;
  int i;

  (void)state;
  memset(&clog, 0, sizeof(clog));
  sctp_h_defaults(&h, 4, MSTLS_POLICY_RESUME);
  h.ccfg.event = on_sctp_event;
  h.cud = &clog;
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  c = mstls_sctp_assoc_get_session(h.cli);
  mstls_sctp_link_pair_set_tap(h.pair, drop_all, NULL);
  assert_int_equal(mstls_stream_send(c, 1, "lost", 4), 4);
  assert_int_equal(mstls_stream_send(c, 3, "lost", 4), 4);
  /* Retransmissions back off to the 60 s maximum; advance time by whole
   * seconds until SCTP declares the peer unreachable. */
  for (i = 0; i < 3600 && h.cli_rc == 0; i++) {
    (void)mstls_sctp_link_pair_pump(h.pair);
    mstls_sctp_usrsctp_handle_timers(1000);
    h.cli_rc = mstls_sctp_assoc_process(h.cli);
  }
  assert_int_equal(h.cli_rc, MSTLS_E_PEER_GONE);
  assert_true(clog.send_failed[1] >= 1);
  assert_true(clog.send_failed[3] >= 1);
  assert_int_equal(clog.send_failed[0] + clog.send_failed[2], 0);
  assert_int_equal(mstls_sctp_assoc_get_stream_error(h.cli, 1),
                   MSTLS_E_STREAM_LOST);
  assert_int_equal(mstls_sctp_assoc_get_stream_error(h.cli, 3),
                   MSTLS_E_STREAM_LOST);
  assert_int_equal(mstls_sctp_assoc_get_stream_error(h.cli, 2), 0);
  assert_int_equal(mstls_session_get_error(c), MSTLS_E_PEER_GONE);
  assert_true(mstls_stream_send(c, 2, "x", 1) < 0);
  mstls_sctp_link_pair_set_tap(h.pair, NULL, NULL);
  mstls_sctp_assoc_abort(h.srv);
  sctp_h_close(&h);
}

/* The peer sends one SCTP message larger than the server's max_message
 * (here 18437 bytes: one full TLS record) on TLS stream 1: a raw message
 * that begins with a real record header, as a broken peer packing several
 * records would. The server discards it, and stream 1 fails at once with
 * MSTLS_E_MSG_SIZE (not later with a misleading decryption failure); it is
 * counted and reported; the other streams go on. The same on a
 * unidirectional stream is counted and reported only. */
static void test_oversized_message(void **state) {
  const size_t big = 18437 + 1000;
  ev_log slog;
  mstls_sctp_stats st;
  mstls_session *c, *s;
  uint8_t *msg;
  sctp_h h;
  char buf[16];
  int i;

  (void)state;
  memset(&slog, 0, sizeof(slog));
  sctp_h_defaults(&h, 4, MSTLS_POLICY_RESUME);
  h.scfg.event = on_sctp_event;
  h.sud = &slog;
  h.ss.max_message = 18437;
  h.ss.stream_rx_cap = 18437;
  h.ccfg.streams_out = 6; /* streams 4 and 5: client to server only */
  h.scfg.streams_in = 6;
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  c = mstls_sctp_assoc_get_session(h.cli);
  s = mstls_sctp_assoc_get_session(h.srv);
  msg = malloc(big);
  assert_non_null(msg);
  memset(msg, 0x42, big);
  /* An application-data record header claiming the largest record. */
  msg[0] = 23;
  msg[1] = 3;
  msg[2] = 3;
  msg[3] = (uint8_t)((18432 >> 8) & 0xff);
  msg[4] = (uint8_t)(18432 & 0xff);
  assert_int_equal(mstls_sctp_assoc_send_raw(h.cli, 1, msg, big), 0);
  for (i = 0; i < 200 && slog.oversized[1] == 0; i++)
    sctp_h_step(&h);
  assert_int_equal(slog.oversized[1], 1);
  assert_int_equal(slog.oversized_err, MSTLS_E_MSG_SIZE);
  assert_int_equal(mstls_stream_get_state(s, 1), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(s, 1), MSTLS_E_MSG_SIZE);
  assert_int_equal(mstls_sctp_assoc_get_stream_error(h.srv, 1),
                   MSTLS_E_MSG_SIZE);
  assert_int_equal(mstls_stream_recv(s, 1, buf, sizeof(buf)), MSTLS_E_MSG_SIZE);
  assert_int_equal(mstls_sctp_assoc_get_stats(h.srv, &st), 0);
  assert_int_equal(st.oversized, 1);
  assert_int_equal(st.dropped, 1);
  /* A unidirectional stream: nothing to fail, counted and reported. */
  assert_int_equal(mstls_sctp_send_plain(h.cli, 5, 0, msg, big), 0);
  for (i = 0; i < 200 && slog.oversized[5] == 0; i++)
    sctp_h_step(&h);
  assert_int_equal(slog.oversized[5], 1);
  assert_int_equal(mstls_sctp_assoc_get_stats(h.srv, &st), 0);
  assert_int_equal(st.oversized, 2);
  assert_int_equal(mstls_sctp_assoc_get_stream_error(h.srv, 5), 0);
  /* A message of exactly max_message still passes (on a plain stream). */
  assert_int_equal(mstls_sctp_send_plain(h.cli, 4, 0, msg, 18437), 0);
  for (i = 0; i < 50; i++)
    sctp_h_step(&h);
  assert_int_equal(mstls_sctp_assoc_get_stats(h.srv, &st), 0);
  assert_int_equal(st.oversized, 2);
  assert_int_equal(st.plain_in, 1);
  assert_int_equal(h.srv_rc, 0);
  assert_int_equal(mstls_session_get_error(s), 0);
  assert_int_equal(mstls_stream_get_state(c, 0), MSTLS_STREAM_OPEN);
  assert_stream_carries(&h, 0);
  assert_stream_carries(&h, 2);
  assert_stream_carries(&h, 3);
  free(msg);
  sctp_h_close(&h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_1),
      cmocka_unit_test(test_handshake_10),
      cmocka_unit_test(test_handshake_100),
      cmocka_unit_test(test_handshake_1000),
      cmocka_unit_test(test_handshake_parallel_16),
      cmocka_unit_test(test_handshake_lazy_16),
      cmocka_unit_test(test_negotiation),
      cmocka_unit_test(test_plain_and_reassembly),
      cmocka_unit_test(test_data_integrity),
      cmocka_unit_test(test_wire_ordered_ppid),
      cmocka_unit_test(test_stalled_stream),
      cmocka_unit_test(test_abort_mid_handshake),
      cmocka_unit_test(test_abort_mid_transfer),
      cmocka_unit_test(test_restart),
      cmocka_unit_test(test_stream_reset),
      cmocka_unit_test(test_stream_reset_denied),
      cmocka_unit_test(test_send_failed),
      cmocka_unit_test(test_oversized_message),
  };
  return cmocka_run_group_tests(tests, sctp_h_group_setup,
                                sctp_h_group_teardown);
}
