/* RFC 3436 §6 plaintext streams and their STARTTLS-style upgrade, and the
 * callback (push-style) delivery mode with pause/resume.
 *
 * Load-proof: no sockets, no threads; both sessions run over the memlink
 * on its simulated clock, and every step is synchronous. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

/* Records whether a given string crossed the link in clear. */
typedef struct spy {
  const char *needle;
  int seen_clear;
} spy;

static void spy_fn(int from, uint16_t stream, uint32_t *flags, uint8_t *data,
                   size_t len, int *drop, void *ctx) {
  spy *s = ctx;
  size_t n = strlen(s->needle), i;
  (void)from;
  (void)stream;
  (void)flags;
  (void)drop;
  for (i = 0; i + n <= len; i++) {
    if (memcmp(data + i, s->needle, n) == 0) {
      s->seen_clear = 1;
    }
  }
}

static void t_plaintext(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  spy sp = {"hello in clear", 0};
  mstls_stream_info info;
  char rb[64];
  int frv = 0;
  (void)state;
  test_client_settings(&cs, 3, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 3, MSTLS_POLICY_RESUME);
  ss.max_message = 20000;
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(mstls_stream_set_plaintext(p.client, 1), 0);
  assert_int_equal(mstls_stream_set_plaintext(p.client, 1), 0); /* again: ok */
  assert_int_equal(mstls_stream_set_plaintext(p.server, 1), 0);
  memlink_set_tamper(p.link, spy_fn, &sp);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_null(mstls_stream_get_gnutls(p.client, 1));
  assert_int_equal(mstls_stream_get_state(p.client, 1), MSTLS_STREAM_PLAINTEXT);
  assert_int_equal(mstls_stream_get_info(p.client, 1, &info), 0);
  assert_string_equal(info.version, "plaintext");
  /* A TLS stream cannot become plaintext. */
  assert_int_equal(mstls_stream_set_plaintext(p.client, 2),
                   MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_stream_send(p.client, 1, "hello in clear", 14), 14);
  test_pair_flush(&p);
  assert_true(sp.seen_clear);
  assert_int_equal(mstls_stream_recv(p.server, 1, rb, sizeof(rb)), 14);
  assert_memory_equal(rb, "hello in clear", 14);
  /* TLS streams never show their plaintext. */
  sp.needle = "secret words";
  sp.seen_clear = 0;
  assert_int_equal(mstls_stream_send(p.client, 2, "secret words", 12), 12);
  test_pair_flush(&p);
  assert_int_equal(sp.seen_clear, 0);
  assert_int_equal(mstls_stream_recv(p.server, 2, rb, sizeof(rb)), 12);
  /* Unordered delivery is allowed on a plaintext stream (§6). */
  assert_int_equal(memlink_inject(p.link, MEMLINK_SERVER, 1,
                                  MSTLS_MSG_UNORDERED, "unord", 5),
                   0);
  assert_int_equal(memlink_step(p.link, &frv), 1);
  assert_int_equal(frv, 0);
  assert_int_equal(mstls_stream_recv(p.server, 1, rb, sizeof(rb)), 5);
  assert_memory_equal(rb, "unord", 5);
  /* A plaintext message must fit in one transport message. */
  {
    static char big[20001];
    assert_int_equal(mstls_stream_send(p.server, 1, big, sizeof(big)),
                     MSTLS_E_MSG_SIZE);
  }
  /* recv_any reports plaintext streams too. */
  {
    uint16_t sid = 9;
    assert_int_equal(mstls_stream_send(p.server, 1, "back", 4), 4);
    test_pair_flush(&p);
    assert_int_equal(mstls_session_recv_any(p.client, &sid, rb, sizeof(rb)), 4);
    assert_int_equal(sid, 1);
  }
  assert_int_equal(mstls_session_get_error(p.server), 0);
  test_pair_free(&p);
}

static void t_starttls(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  spy sp = {"after upgrade", 0};
  mstls_stream_info info;
  char rb[64];
  long r;
  (void)state;
  test_client_settings(&cs, 2, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 2, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(mstls_stream_set_plaintext(p.client, 1), 0);
  assert_int_equal(mstls_stream_set_plaintext(p.server, 1), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  /* Only plaintext streams upgrade. */
  assert_int_equal(mstls_stream_starttls(p.client, 0), MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_stream_send(p.client, 1, "before", 6), 6);
  assert_int_equal(mstls_stream_send(p.server, 1, "srv-before", 10), 10);
  test_pair_flush(&p);
  /* Both sides upgrade; nobody has read the plaintext yet. */
  assert_int_equal(mstls_stream_starttls(p.server, 1), 0);
  assert_int_equal(mstls_stream_starttls(p.client, 1), 0);
  memlink_set_tamper(p.link, spy_fn, &sp);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_state(p.client, 1), MSTLS_STREAM_OPEN);
  assert_int_equal(mstls_stream_get_state(p.server, 1), MSTLS_STREAM_OPEN);
  assert_non_null(mstls_stream_get_gnutls(p.client, 1));
  assert_int_equal(mstls_stream_get_info(p.client, 1, &info), 0);
  assert_string_equal(info.version, "TLS1.3");
  assert_int_equal(mstls_stream_send(p.client, 1, "after upgrade", 13), 13);
  test_pair_flush(&p);
  assert_int_equal(sp.seen_clear, 0);
  r = mstls_stream_recv(p.server, 1, rb, sizeof(rb));
  assert_int_equal(r, 6);
  assert_memory_equal(rb, "before", 6);
  r = mstls_stream_recv(p.server, 1, rb, sizeof(rb));
  assert_int_equal(r, 13);
  assert_memory_equal(rb, "after upgrade", 13);
  r = mstls_stream_recv(p.client, 1, rb, sizeof(rb));
  assert_int_equal(r, 10);
  assert_memory_equal(rb, "srv-before", 10);
  assert_int_equal(mstls_stream_recv(p.client, 1, rb, sizeof(rb)),
                   MSTLS_E_AGAIN);
  /* An unordered message is a protocol error once the stream is TLS. */
  assert_int_equal(mstls_session_feed(p.server, MSTLS_MSG_UNORDERED, 1,
                                      (const uint8_t *)"x", 1),
                   MSTLS_E_UNORDERED);
  test_pair_free(&p);
}

/* Callback mode ---------------------------------------------------------- */

typedef struct sink {
  char data[4][256];
  size_t len[4];
  int fail;
  int resume_in_cb; /* stream + 1 to resume from stream 2's callback */
  int resume_rv;    /* what that resume returned */
} sink;

static int on_data(mstls_session *s, uint16_t stream, const uint8_t *data,
                   size_t len, void *ud) {
  memlink *l = ud;
  sink *k = mstls_stream_get_user_data(s, stream);
  (void)l;
  assert_non_null(k);
  if (k->fail) {
    return -1;
  }
  assert_true(stream < 4);
  assert_true(k->len[stream] + len <= sizeof(k->data[stream]));
  memcpy(k->data[stream] + k->len[stream], data, len);
  k->len[stream] += len;
  return 0;
}

/* A pair on 4 streams, handshaken, whose server delivers through @p cb
 * into @p k. */
static void sink_pair_new(test_pair *p, sink *k, mstls_recv_data_cb cb) {
  mstls_settings cs, ss;
  mstls_callbacks scb;
  uint16_t i;

  memset(k, 0, sizeof(*k));
  memset(&scb, 0, sizeof(scb));
  scb.recv_data = cb;
  test_client_settings(&cs, 4, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 4, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(p, &cs, &ss, NULL, NULL, &scb), 0);
  for (i = 0; i < 4; i++) {
    assert_int_equal(mstls_stream_set_user_data(p->server, i, k), 0);
  }
  assert_int_equal(test_pair_handshake(p, 10000), 0);
  test_pair_flush(p);
}

static void t_callback_pause(void **state) {
  test_pair p;
  sink k;
  uint16_t i;
  char rb[8];
  (void)state;
  sink_pair_new(&p, &k, on_data);
  /* Pull-mode reads are refused in callback mode. */
  assert_int_equal(mstls_stream_recv(p.server, 0, rb, sizeof(rb)),
                   MSTLS_E_INVALID_STATE);
  {
    uint16_t sid;
    assert_int_equal(mstls_session_recv_any(p.server, &sid, rb, sizeof(rb)),
                     MSTLS_E_INVALID_STATE);
  }
  assert_int_equal(mstls_stream_pause(p.server, 2), 0);
  for (i = 0; i < 4; i++) {
    char m[16];
    int n = snprintf(m, sizeof(m), "one%u", i);
    assert_int_equal(mstls_stream_send(p.client, i, m, (size_t)n), n);
  }
  test_pair_flush(&p);
  for (i = 0; i < 4; i++) {
    char m[16];
    int n = snprintf(m, sizeof(m), "one%u", i);
    if (i == 2) {
      assert_int_equal(k.len[2], 0);
      continue;
    }
    assert_int_equal(k.len[i], (size_t)n);
    assert_memory_equal(k.data[i], m, (size_t)n);
  }
  /* More data while paused waits too; the others keep flowing. */
  assert_int_equal(mstls_stream_send(p.client, 2, "two2", 4), 4);
  assert_int_equal(mstls_stream_send(p.client, 3, "two3", 4), 4);
  test_pair_flush(&p);
  assert_int_equal(k.len[2], 0);
  assert_int_equal(k.len[3], 8);
  assert_memory_equal(k.data[3], "one3two3", 8);
  /* Resume delivers the backlog from inside the call, in order. */
  assert_int_equal(mstls_stream_resume(p.server, 2), 0);
  assert_int_equal(k.len[2], 8);
  assert_memory_equal(k.data[2], "one2two2", 8);
  assert_int_equal(mstls_stream_resume(p.server, 2), 0); /* not paused: ok */
  /* A failing callback ends the session. */
  k.fail = 1;
  assert_int_equal(mstls_stream_send(p.client, 0, "x", 1), 1);
  {
    int frv = 0;
    assert_int_equal(memlink_step(p.link, &frv), 1);
    assert_int_equal(frv, MSTLS_E_CALLBACK_FAILURE);
  }
  assert_int_equal(mstls_session_get_error(p.server), MSTLS_E_CALLBACK_FAILURE);
  assert_true(mstls_err_is_fatal(MSTLS_E_CALLBACK_FAILURE));
  test_pair_free(&p);
}

/* After an orderly end of the transport (MSTLS_E_CLOSED: every message
 * the peer sent was delivered), a paused stream's data is not lost:
 * resume delivers it, then reports the end. A stream paused again in its
 * callback keeps the rest for the next resume; a resume from inside a
 * callback delivers nothing there (the callback's data would be
 * overwritten), a later one does. */
static int pause_after_one(mstls_session *s, uint16_t stream,
                           const uint8_t *data, size_t len, void *ud) {
  sink *k = mstls_stream_get_user_data(s, stream);
  int rv = on_data(s, stream, data, len, ud);
  if (rv == 0 && stream == 2) {
    (void)mstls_stream_pause(s, stream);
    if (k->resume_in_cb) {
      k->resume_rv = mstls_stream_resume(s, (uint16_t)(k->resume_in_cb - 1));
      k->resume_in_cb = 0;
    }
  }
  return rv;
}

static void t_callback_pause_then_close(void **state) {
  test_pair p;
  sink k;

  (void)state;
  sink_pair_new(&p, &k, pause_after_one);
  assert_int_equal(mstls_stream_pause(p.server, 2), 0);
  assert_int_equal(mstls_stream_send(p.client, 2, "last", 4), 4);
  assert_int_equal(mstls_stream_send(p.client, 2, "-more", 5), 5);
  assert_int_equal(mstls_stream_pause(p.server, 3), 0);
  assert_int_equal(mstls_stream_send(p.client, 3, "three", 5), 5);
  assert_int_equal(mstls_stream_send(p.client, 1, "one", 3), 3);
  test_pair_flush(&p);
  assert_int_equal(k.len[1], 3);
  assert_int_equal(k.len[2], 0);
  assert_int_equal(k.len[3], 0);
  /* The transport ends in order, as an SCTP SHUTDOWN does. */
  assert_int_equal(mstls_session_fail(p.server, MSTLS_E_CLOSED),
                   MSTLS_E_CLOSED);
  /* One record per resume: the callback pauses the stream again. Its
   * resume of stream 3 delivers nothing from inside the callback. */
  k.resume_in_cb = 3 + 1;
  assert_int_equal(mstls_stream_resume(p.server, 2), MSTLS_E_CLOSED);
  assert_int_equal(k.resume_rv, MSTLS_E_CLOSED);
  assert_int_equal(k.len[2], 4);
  assert_memory_equal(k.data[2], "last", 4);
  assert_int_equal(k.len[3], 0);
  assert_int_equal(mstls_stream_resume(p.server, 2), MSTLS_E_CLOSED);
  assert_int_equal(k.len[2], 9);
  assert_memory_equal(k.data[2], "last-more", 9);
  /* Nothing more: the end, and nothing delivered twice. */
  assert_int_equal(mstls_stream_resume(p.server, 2), MSTLS_E_CLOSED);
  assert_int_equal(k.len[2], 9);
  /* Stream 3, no longer paused, gets its data from a call outside. */
  assert_int_equal(mstls_stream_resume(p.server, 3), MSTLS_E_CLOSED);
  assert_int_equal(k.len[3], 5);
  assert_memory_equal(k.data[3], "three", 5);
  assert_int_equal(mstls_stream_resume(p.server, 3), MSTLS_E_CLOSED);
  assert_int_equal(k.len[3], 5);
  test_pair_free(&p);
}

/* A plaintext stream in callback mode: data delivered once, counted once. */
static void t_callback_plaintext(void **state) {
  mstls_settings cs, ss;
  mstls_callbacks scb;
  mstls_stream_info info;
  test_pair p;
  sink k;
  (void)state;
  memset(&k, 0, sizeof(k));
  memset(&scb, 0, sizeof(scb));
  scb.recv_data = on_data;
  test_client_settings(&cs, 2, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 2, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, &scb), 0);
  assert_int_equal(mstls_stream_set_plaintext(p.client, 1), 0);
  assert_int_equal(mstls_stream_set_plaintext(p.server, 1), 0);
  assert_int_equal(mstls_stream_set_user_data(p.server, 1, &k), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  assert_int_equal(mstls_stream_send(p.client, 1, "hello", 5), 5);
  test_pair_flush(&p);
  assert_int_equal(k.len[1], 5);
  assert_memory_equal(k.data[1], "hello", 5);
  assert_int_equal(mstls_stream_get_info(p.server, 1, &info), 0);
  assert_int_equal(info.bytes_received, 5);
  test_pair_free(&p);
}

/* Close and failure events in callback mode. */
static int events[4];
static int event_err;
static void on_event(mstls_session *s, mstls_stream_event ev, uint16_t stream,
                     int err, void *ud) {
  (void)s;
  (void)stream;
  (void)ud;
  events[ev]++;
  if (ev == MSTLS_EVENT_FAILED) {
    event_err = err;
  }
}

static void t_callback_events(void **state) {
  mstls_settings cs, ss;
  mstls_callbacks scb;
  test_pair p;
  sink k;
  (void)state;
  memset(&k, 0, sizeof(k));
  memset(events, 0, sizeof(events));
  memset(&scb, 0, sizeof(scb));
  scb.recv_data = on_data;
  scb.stream_event = on_event;
  test_client_settings(&cs, 3, MSTLS_POLICY_PARALLEL);
  test_server_settings(&ss, 3, MSTLS_POLICY_PARALLEL);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, &scb), 0);
  assert_int_equal(mstls_stream_set_user_data(p.server, 0, &k), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(events[MSTLS_EVENT_HANDSHAKE_DONE], 3);
  assert_int_equal(mstls_stream_bye(p.client, 0), 0);
  assert_int_equal(mstls_session_feed(p.server, MSTLS_MSG_UNORDERED, 1,
                                      (const uint8_t *)"x", 1),
                   MSTLS_E_UNORDERED);
  test_pair_flush(&p);
  assert_int_equal(events[MSTLS_EVENT_CLOSED], 1);
  assert_int_equal(events[MSTLS_EVENT_FAILED], 1);
  assert_int_equal(event_err, MSTLS_E_UNORDERED);
  assert_int_equal(mstls_stream_get_state(p.server, 0), MSTLS_STREAM_CLOSED);
  assert_int_equal(mstls_stream_get_state(p.server, 2), MSTLS_STREAM_OPEN);
  test_pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_plaintext),
      cmocka_unit_test(t_starttls),
      cmocka_unit_test(t_callback_pause),
      cmocka_unit_test(t_callback_pause_then_close),
      cmocka_unit_test(t_callback_plaintext),
      cmocka_unit_test(t_callback_events),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
