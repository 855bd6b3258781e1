/* Blocking send/recv on different streams from different threads at once,
 * on both sides, over the memlink's pull callback. Meant to run under
 * ThreadSanitizer too.
 *
 * Load-proof: the verdict is each thread's result (every byte, in order)
 * and stream 1's counts, never a time. The threads block on the memlink's
 * condition variable; the 30 s handshake timeout only means hung. Stream 1
 * must resume, and waits for stream 0's ticket up to a fixed 10 s
 * (settings.ticket_wait) rather than a bound measured on the real clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

#define NTHREADS 4
#define TOTAL (96 * 1024)

typedef struct worker {
  mstls_session *s;
  uint16_t stream;
  int server;
  long result; /* 0 ok, else the failing return value or -1 on bad data */
  pthread_t th;
} worker;

/* Stream @p id's data in direction @p down (server to client). */
static uint8_t byte_at(uint16_t id, int down, uint64_t off) {
  return test_pattern((uint16_t)(id + (down ? 1000 : 0)), off);
}

static long send_all(worker *w, int down) {
  uint8_t buf[7000];
  uint64_t off = 0;
  size_t chunk = 1000 + 997u * w->stream;
  while (off < TOTAL) {
    size_t n = chunk, i;
    long r;
    if (n > sizeof(buf)) {
      n = sizeof(buf);
    }
    if (n > TOTAL - off) {
      n = (size_t)(TOTAL - off);
    }
    for (i = 0; i < n; i++) {
      buf[i] = byte_at(w->stream, down, off + i);
    }
    r = mstls_stream_send_blocking(w->s, w->stream, buf, n);
    if (r != (long)n) {
      return r < 0 ? r : -1;
    }
    off += n;
  }
  return 0;
}

static long recv_all(worker *w, int down) {
  uint8_t buf[5000];
  uint64_t off = 0;
  while (off < TOTAL) {
    long r = mstls_stream_recv_blocking(w->s, w->stream, buf, sizeof(buf));
    long i;
    if (r <= 0) {
      return r < 0 ? r : -1;
    }
    for (i = 0; i < r; i++) {
      if (buf[i] != byte_at(w->stream, down, off + (uint64_t)i)) {
        return -1;
      }
    }
    off += (uint64_t)r;
  }
  return off == TOTAL ? 0 : -1;
}

static void *run_worker(void *arg) {
  worker *w = arg;
  if (w->server) {
    /* Echo-like: read the client's data, then answer with ours. */
    w->result = recv_all(w, 0);
    if (w->result == 0) {
      w->result = send_all(w, 1);
    }
  } else {
    w->result = send_all(w, 0);
    if (w->result == 0) {
      w->result = recv_all(w, 1);
    }
  }
  return NULL;
}

static void t_threads(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  worker sw[NTHREADS], cw[NTHREADS];
  int k;
  (void)state;
  test_client_settings(&cs, NTHREADS + 1, MSTLS_POLICY_RESUME);
  /* Stream 1 must resume: wait for the ticket as long as it takes (it
   * always comes), not twice stream 0's handshake time on the real clock,
   * which a descheduled thread could overrun. */
  cs.ticket_wait = 10 * MSTLS_SECONDS;
  test_server_settings(&ss, NTHREADS + 1, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  /* Server threads first: their blocking reads drive the server's side
   * of every handshake. */
  for (k = 0; k < NTHREADS; k++) {
    sw[k].s = p.server;
    sw[k].stream = (uint16_t)(k + 1);
    sw[k].server = 1;
    sw[k].result = 1;
    assert_int_equal(pthread_create(&sw[k].th, NULL, run_worker, &sw[k]), 0);
  }
  assert_int_equal(mstls_session_handshake_blocking(p.client), 0);
  for (k = 0; k < NTHREADS; k++) {
    cw[k].s = p.client;
    cw[k].stream = (uint16_t)(k + 1);
    cw[k].server = 0;
    cw[k].result = 1;
    assert_int_equal(pthread_create(&cw[k].th, NULL, run_worker, &cw[k]), 0);
  }
  for (k = 0; k < NTHREADS; k++) {
    pthread_join(cw[k].th, NULL);
  }
  for (k = 0; k < NTHREADS; k++) {
    pthread_join(sw[k].th, NULL);
  }
  for (k = 0; k < NTHREADS; k++) {
    assert_int_equal(cw[k].result, 0);
    assert_int_equal(sw[k].result, 0);
  }
  {
    mstls_stream_info info;
    assert_int_equal(mstls_stream_get_info(p.client, 1, &info), 0);
    assert_int_equal(info.bytes_sent, TOTAL);
    assert_int_equal(info.bytes_received, TOTAL);
    assert_int_equal(info.resumed, 1);
  }
  test_pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(t_threads)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
