/* Application data over many streams: random sizes up to 64 KiB sent
 * interleaved in both directions and read back with random buffer sizes
 * (TLS is a byte stream per stream), recv_any, and close_notify on every
 * stream.
 *
 * Load-proof: no sockets, no threads; both sessions run over the memlink
 * (t_integrity's with seed 99 and jitter) on its simulated clock, and a
 * fixed-seed generator picks every size and step, so each run takes the
 * same steps whatever the load. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

#define NSTREAMS 8
#define MSGS_PER_STREAM 12
#define MAX_MSG (64 * 1024)

static uint64_t rng = 88172645463325252ULL;
static uint32_t rnd(uint32_t n) {
  return test_rand(&rng, n);
}

typedef struct dir_state {
  uint64_t total[NSTREAMS]; /* bytes to send */
  uint64_t sent[NSTREAMS];
  uint64_t recvd[NSTREAMS];
} dir_state;

static void fill(uint8_t *buf, uint16_t stream, uint64_t off, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    buf[i] = test_pattern(stream, off + i);
  }
}

/* Send up to one random-sized message (or what is left of the stream). */
static void send_some(mstls_session *s, dir_state *d, uint16_t id,
                      uint8_t *buf) {
  uint64_t left = d->total[id] - d->sent[id];
  size_t n = 1 + rnd(MAX_MSG);
  if (left == 0) {
    return;
  }
  if (n > left) {
    n = (size_t)left;
  }
  fill(buf, id, d->sent[id], n);
  while (n) {
    long r = mstls_stream_send(s, id, buf, n);
    assert_true(r > 0);
    assert_true((size_t)r <= n);
    d->sent[id] += (uint64_t)r;
    memmove(buf, buf + r, n - (size_t)r);
    n -= (size_t)r;
  }
}

static void recv_some(mstls_session *s, dir_state *d, uint16_t id,
                      uint8_t *buf) {
  for (;;) {
    size_t want = 1 + rnd(MAX_MSG + 4096);
    long r = mstls_stream_recv(s, id, buf, want);
    long i;
    if (r == MSTLS_E_AGAIN) {
      return;
    }
    assert_true(r > 0);
    assert_true((size_t)r <= want);
    for (i = 0; i < r; i++) {
      if (buf[i] != test_pattern(id, d->recvd[id] + (uint64_t)i)) {
        fail_msg("stream %u: wrong byte at %llu", id,
                 (unsigned long long)(d->recvd[id] + (uint64_t)i));
      }
    }
    d->recvd[id] += (uint64_t)r;
    assert_true(d->recvd[id] <= d->total[id]);
  }
}

static void t_integrity(void **state) {
  mstls_settings cs, ss;
  memlink_config lc = {99, 5 * MSTLS_MILLISECONDS, 20 * MSTLS_MILLISECONDS};
  test_pair p;
  dir_state up, down;
  uint8_t *buf = malloc(MAX_MSG + 4096);
  uint32_t i, rounds;
  mstls_stream_info info;
  (void)state;

  assert_non_null(buf);
  memset(&up, 0, sizeof(up));
  memset(&down, 0, sizeof(down));
  for (i = 0; i < NSTREAMS; i++) {
    uint32_t k;
    for (k = 0; k < MSGS_PER_STREAM; k++) {
      up.total[i] += 1 + rnd(MAX_MSG);
      down.total[i] += 1 + rnd(MAX_MSG);
    }
  }
  test_client_settings(&cs, NSTREAMS, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, NSTREAMS, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, &lc, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);

  for (rounds = 0; rounds < 100000; rounds++) {
    uint16_t id = (uint16_t)rnd(NSTREAMS);
    int done = 1;
    switch (rnd(4)) {
    case 0:
      send_some(p.client, &up, id, buf);
      break;
    case 1:
      send_some(p.server, &down, id, buf);
      break;
    case 2:
      memlink_run(p.link, 1 + rnd(40));
      break;
    default:
      recv_some(p.server, &up, id, buf);
      recv_some(p.client, &down, id, buf);
      break;
    }
    for (i = 0; i < NSTREAMS; i++) {
      if (up.recvd[i] != up.total[i] || down.recvd[i] != down.total[i]) {
        done = 0;
        if (up.sent[i] == up.total[i] && down.sent[i] == down.total[i] &&
            memlink_in_flight(p.link) == 0) {
          recv_some(p.server, &up, (uint16_t)i, buf);
          recv_some(p.client, &down, (uint16_t)i, buf);
        }
      }
    }
    if (done) {
      break;
    }
  }
  for (i = 0; i < NSTREAMS; i++) {
    assert_int_equal(up.recvd[i], up.total[i]);
    assert_int_equal(down.recvd[i], down.total[i]);
    assert_int_equal(mstls_stream_get_info(p.client, (uint16_t)i, &info), 0);
    assert_int_equal(info.bytes_sent, up.total[i]);
    assert_int_equal(info.bytes_received, down.total[i]);
    assert_int_equal(mstls_stream_get_info(p.server, (uint16_t)i, &info), 0);
    assert_int_equal(info.bytes_sent, down.total[i]);
    assert_int_equal(info.bytes_received, up.total[i]);
  }
  /* Nothing stays buffered once everything was read. */
  {
    mstls_session_stats st;
    assert_int_equal(mstls_session_get_stats(p.server, &st), 0);
    assert_int_equal(st.rx_buffered, 0);
    assert_true(st.rx_buffered_max > 0);
  }
  test_pair_free(&p);
  free(buf);
}

/* A send larger than a record takes all of it, one record per message. */
static void t_send_large(void **state) {
  enum { LEN = 100000 };
  mstls_settings cs, ss;
  test_pair p;
  uint8_t *buf = malloc(LEN);
  uint8_t *rb = malloc(2 * LEN);
  uint64_t msgs0;
  long r, got = 0;
  (void)state;
  assert_non_null(buf);
  assert_non_null(rb);
  fill(buf, 0, 0, LEN);
  test_client_settings(&cs, 1, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 1, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  msgs0 = memlink_msgs(p.link, MEMLINK_CLIENT);
  assert_int_equal(mstls_stream_send(p.client, 0, buf, LEN), LEN);
  /* ceil(100000 / 16384) = 7 records, each its own message. */
  assert_int_equal(memlink_msgs(p.link, MEMLINK_CLIENT) - msgs0, 7);
  test_pair_flush(&p);
  while ((r = mstls_stream_recv(p.server, 0, rb + got, 2 * LEN - (size_t)got)) >
         0) {
    got += r;
  }
  assert_int_equal(r, MSTLS_E_AGAIN);
  assert_int_equal(got, LEN);
  assert_memory_equal(rb, buf, LEN);
  test_pair_free(&p);
  free(buf);
  free(rb);
}

/* The transport fills up in the middle of a large send: the send returns
 * the bytes of the records that went out plus the one that met the full
 * transport (kept by the session), never asks for the same bytes again,
 * and everything arrives once, in order, after a flush. */
static void t_send_full_transport(void **state) {
  enum { LEN = 5 * 16384 + 100 };
  mstls_settings cs, ss;
  test_pair p;
  uint8_t *buf = malloc(LEN);
  uint8_t *rb = malloc(2 * LEN);
  long r, got = 0, sent = 0;
  mstls_stream_info info;
  mstls_session_stats sst;
  (void)state;
  assert_non_null(buf);
  assert_non_null(rb);
  fill(buf, 1, 0, LEN);
  test_client_settings(&cs, 2, MSTLS_POLICY_PARALLEL);
  test_server_settings(&ss, 2, MSTLS_POLICY_PARALLEL);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);

  /* Two records go out, the third meets a full transport. */
  memlink_set_push_budget(p.link, MEMLINK_CLIENT, 2);
  r = mstls_stream_send(p.client, 1, buf, LEN);
  assert_int_equal(r, 3 * 16384);
  assert_int_equal(memlink_push_refused(p.link, MEMLINK_CLIENT), 1);
  sent = r;
  /* The kept record blocks the stream until the transport has room. */
  assert_int_equal(mstls_stream_send(p.client, 1, buf + sent, LEN - sent),
                   MSTLS_E_AGAIN);
  assert_int_equal(mstls_stream_flush(p.client, 1), MSTLS_E_AGAIN);
  assert_int_equal(mstls_session_flush(p.client), MSTLS_E_AGAIN);
  assert_int_equal(mstls_session_get_stats(p.client, &sst), 0);
  assert_int_equal(sst.records_kept, 1);
  assert_int_equal(sst.streams_kept, 1);
  /* Stream 0 is not held up by stream 1's kept record... */
  memlink_set_push_budget(p.link, MEMLINK_CLIENT, 1);
  assert_int_equal(mstls_stream_send(p.client, 0, "zero", 4), 4);
  assert_int_equal(mstls_stream_flush(p.client, 0), 0);
  /* ...and stream 1's goes out once the transport takes it. */
  memlink_set_push_budget(p.link, MEMLINK_CLIENT, -1);
  assert_int_equal(mstls_session_flush(p.client), 0);
  assert_int_equal(mstls_stream_flush(p.client, 1), 0);
  assert_int_equal(mstls_session_get_stats(p.client, &sst), 0);
  assert_int_equal(sst.streams_kept, 0);
  while (sent < LEN) {
    r = mstls_stream_send(p.client, 1, buf + sent, LEN - (size_t)sent);
    assert_true(r > 0);
    sent += r;
  }
  assert_int_equal(mstls_stream_get_info(p.client, 1, &info), 0);
  assert_int_equal(info.bytes_sent, LEN);
  test_pair_flush(&p);
  while ((r = mstls_stream_recv(p.server, 1, rb + got, 2 * LEN - (size_t)got)) >
         0) {
    got += r;
  }
  assert_int_equal(r, MSTLS_E_AGAIN);
  assert_int_equal(got, LEN);
  assert_memory_equal(rb, buf, LEN);
  assert_int_equal(mstls_stream_recv(p.server, 0, rb, 16), 4);
  assert_memory_equal(rb, "zero", 4);

  /* A kept record goes out before close_notify. */
  memlink_set_push_budget(p.link, MEMLINK_CLIENT, 0);
  assert_int_equal(mstls_stream_send(p.client, 1, "tail", 4), 4);
  assert_int_equal(mstls_stream_bye(p.client, 1), MSTLS_E_AGAIN);
  memlink_set_push_budget(p.link, MEMLINK_CLIENT, -1);
  assert_int_equal(mstls_stream_bye(p.client, 1), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv(p.server, 1, rb, 16), 4);
  assert_memory_equal(rb, "tail", 4);
  assert_int_equal(mstls_stream_recv(p.server, 1, rb, 16), 0);
  assert_int_equal(mstls_session_get_error(p.client), 0);
  test_pair_free(&p);
  free(buf);
  free(rb);
}

static void t_recv_any(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  char rb[64];
  uint16_t sid = 0xffff;
  int seen[6] = {0};
  int k;
  (void)state;
  test_client_settings(&cs, 6, MSTLS_POLICY_PARALLEL);
  test_server_settings(&ss, 6, MSTLS_POLICY_PARALLEL);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_session_recv_any(p.server, &sid, rb, sizeof(rb)),
                   MSTLS_E_AGAIN);
  assert_int_equal(mstls_stream_send(p.client, 4, "four", 4), 4);
  assert_int_equal(mstls_stream_send(p.client, 1, "one", 3), 3);
  assert_int_equal(mstls_stream_send(p.client, 5, "five!", 5), 5);
  test_pair_flush(&p);
  for (k = 0; k < 3; k++) {
    long r = mstls_session_recv_any(p.server, &sid, rb, sizeof(rb));
    assert_true(sid < 6);
    seen[sid]++;
    switch (sid) {
    case 4:
      assert_int_equal(r, 4);
      assert_memory_equal(rb, "four", 4);
      break;
    case 1:
      assert_int_equal(r, 3);
      assert_memory_equal(rb, "one", 3);
      break;
    case 5:
      assert_int_equal(r, 5);
      assert_memory_equal(rb, "five!", 5);
      break;
    default:
      fail_msg("data reported on stream %u", sid);
    }
  }
  assert_int_equal(seen[1] + seen[4] + seen[5], 3);
  assert_int_equal(seen[1] * seen[4] * seen[5], 1);
  assert_int_equal(mstls_session_recv_any(p.server, &sid, rb, sizeof(rb)),
                   MSTLS_E_AGAIN);
  test_pair_free(&p);
}

static void t_bye_all(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  char rb[64];
  uint16_t i, sid;
  int closed[5] = {0};
  (void)state;
  test_client_settings(&cs, 5, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 5, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  /* Data sent before the close is still delivered before EOF. */
  assert_int_equal(mstls_stream_send(p.client, 2, "last", 4), 4);
  assert_int_equal(mstls_session_bye(p.client), 0);
  for (i = 0; i < 5; i++) {
    assert_int_equal(mstls_stream_get_state(p.client, i), MSTLS_STREAM_CLOSED);
    assert_int_equal(mstls_stream_send(p.client, i, "x", 1), MSTLS_E_CLOSED);
  }
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv(p.server, 2, rb, sizeof(rb)), 4);
  assert_memory_equal(rb, "last", 4);
  for (i = 0; i < 5; i++) {
    assert_int_equal(mstls_stream_recv(p.server, i, rb, sizeof(rb)), 0);
    assert_int_equal(mstls_stream_get_state(p.server, i), MSTLS_STREAM_CLOSED);
    /* EOF stays EOF. */
    assert_int_equal(mstls_stream_recv(p.server, i, rb, sizeof(rb)), 0);
  }
  /* The server may still answer on its half, then closes too; the client
   * learns of each close through recv_any, once per stream. */
  assert_int_equal(mstls_stream_send(p.server, 3, "bye", 3), 3);
  assert_int_equal(mstls_session_bye(p.server), 0);
  test_pair_flush(&p);
  for (i = 0; i < 6; i++) {
    long r = mstls_session_recv_any(p.client, &sid, rb, sizeof(rb));
    assert_true(sid < 5);
    if (r == 3) {
      assert_int_equal(sid, 3);
      assert_memory_equal(rb, "bye", 3);
      assert_int_equal(closed[3], 0);
      continue;
    }
    assert_int_equal(r, 0);
    assert_int_equal(closed[sid], 0);
    closed[sid] = 1;
  }
  for (i = 0; i < 5; i++) {
    assert_int_equal(closed[i], 1);
  }
  assert_int_equal(mstls_session_recv_any(p.client, &sid, rb, sizeof(rb)),
                   MSTLS_E_AGAIN);
  /* A record after close_notify is refused. */
  assert_int_equal(
      memlink_inject(p.link, MEMLINK_SERVER, 1, 0, "\x17\x03\x03", 3), 0);
  {
    int frv = 0;
    assert_int_equal(memlink_step(p.link, &frv), 1);
    assert_int_equal(frv, MSTLS_E_INVALID_STATE);
  }
  test_pair_free(&p);
}

/* A close of one stream leaves the others open. */
static void t_bye_one(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  char rb[16];
  (void)state;
  test_client_settings(&cs, 3, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 3, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_bye(p.client, 1), 0);
  assert_int_equal(mstls_stream_bye(p.client, 1), 0); /* idempotent */
  assert_int_equal(mstls_stream_send(p.client, 2, "ok", 2), 2);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv(p.server, 1, rb, sizeof(rb)), 0);
  assert_int_equal(mstls_stream_recv(p.server, 2, rb, sizeof(rb)), 2);
  assert_int_equal(mstls_stream_get_state(p.server, 0), MSTLS_STREAM_OPEN);
  assert_int_equal(mstls_stream_send(p.server, 0, "s0", 2), 2);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv(p.client, 0, rb, sizeof(rb)), 2);
  assert_int_equal(mstls_stream_bye(p.client, 7), MSTLS_E_INVALID_STREAM);
  test_pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_integrity),
      cmocka_unit_test(t_send_large),
      cmocka_unit_test(t_send_full_transport),
      cmocka_unit_test(t_recv_any),
      cmocka_unit_test(t_bye_all),
      cmocka_unit_test(t_bye_one),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
