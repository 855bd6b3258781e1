/* Close semantics over real usrsctp associations (in-process AF_CONN,
 * NOTHREADS stack, driven step by step: deterministic). An orderly close
 * -- close_notify on every stream, then SCTP SHUTDOWN -- ends with
 * success or MSTLS_E_CLOSED on both sides, never a transport or peer-gone
 * error: 1000 short associations in a row, both ends checked. When an
 * association dies instead, every stream reports failed, with the
 * cause. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sctp_harness.h"

#define NSTREAMS 4

static int orderly(int rc) {
  return rc == 0 || rc == MSTLS_E_CLOSED || rc == MSTLS_E_AGAIN;
}

/* Every stream of a session ended in an orderly way. */
static void check_streams_closed(mstls_session *s, const char *side, int i) {
  uint16_t k;
  for (k = 0; k < NSTREAMS; k++) {
    mstls_stream_info info;
    assert_int_equal(mstls_stream_get_info(s, k, &info), 0);
    if (info.state == MSTLS_STREAM_FAILED) {
      print_message("association %d, %s stream %u failed: %s\n", i, side, k,
                    mstls_strerror(info.error));
    }
    assert_int_not_equal(info.state, MSTLS_STREAM_FAILED);
  }
}

/* Step until stream 1 of @p rx has @p len bytes. */
static void recv_on_1(sctp_h *h, mstls_session *rx, size_t len) {
  char buf[16];
  int step, rc = MSTLS_E_AGAIN;
  for (step = 0; step < 200 && rc == MSTLS_E_AGAIN; step++) {
    sctp_h_step(h);
    rc = (int)mstls_stream_recv(rx, 1, buf, sizeof(buf));
  }
  assert_int_equal(rc, (int)len);
}

/* Shut @p a down, stepping while its close_notify cannot go out yet. */
static int shut(sctp_h *h, mstls_sctp_assoc *a) {
  int step, rc = mstls_sctp_assoc_shutdown(a);
  for (step = 0; rc == MSTLS_E_AGAIN && step < 200; step++) {
    sctp_h_step(h);
    rc = mstls_sctp_assoc_shutdown(a);
  }
  return rc;
}

/* Handshake, one message each way, then the client closes -- or (@p
 * crossing) both ends close at once, as a Diameter peer does right after
 * its DPA: the close_notify of one side meets the SHUTDOWN of the other. */
static void one_short_association(int i, int crossing, uint64_t *errors) {
  sctp_h h;
  mstls_session *cs, *ss;
  int step, rc, server_closed = 0;

  sctp_h_defaults(&h, NSTREAMS, MSTLS_POLICY_RESUME);
  h.port = (uint16_t)(5100 + i % 500);
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 2000), 0);
  cs = mstls_sctp_assoc_get_session(h.cli);
  ss = mstls_sctp_assoc_get_session(h.srv);
  assert_int_equal(mstls_stream_send(cs, 1, "ping", 4), 4);
  recv_on_1(&h, ss, 4);
  assert_int_equal(mstls_stream_send(ss, 1, "pong", 4), 4);
  recv_on_1(&h, cs, 4);
  if (crossing) {
    rc = shut(&h, h.srv);
    if (rc != 0) {
      print_message("association %d: server shutdown: %s\n", i,
                    mstls_strerror(rc));
      (*errors)++;
    }
  }
  rc = shut(&h, h.cli);
  if (rc != 0) {
    print_message("association %d: shutdown returned %s\n", i,
                  mstls_strerror(rc));
    (*errors)++;
  }
  for (step = 0; step < 400 && !server_closed; step++) {
    sctp_h_step(&h);
    if (!orderly(h.cli_rc) || !orderly(h.srv_rc)) {
      print_message("association %d: client %s, server %s\n", i,
                    mstls_strerror(h.cli_rc), mstls_strerror(h.srv_rc));
      (*errors)++;
      break;
    }
    server_closed = h.srv_rc == MSTLS_E_CLOSED;
  }
  assert_true(server_closed);
  check_streams_closed(cs, "client", i);
  check_streams_closed(ss, "server", i);
  assert_true(orderly(mstls_session_get_error(cs)));
  assert_true(orderly(mstls_session_get_error(ss)));
  sctp_h_close(&h);
}

static void test_1000_short_associations(void **state) {
  uint64_t errors = 0;
  int i;
  (void)state;
  for (i = 0; i < 1000; i++) {
    one_short_association(i, 0, &errors);
  }
  assert_int_equal(errors, 0);
}

/* Both ends close at once, 200 times: still success or MSTLS_E_CLOSED. */
static void test_crossing_shutdowns(void **state) {
  uint64_t errors = 0;
  int i;
  (void)state;
  for (i = 0; i < 200; i++) {
    one_short_association(i, 1, &errors);
  }
  assert_int_equal(errors, 0);
}

/* The client's association vanishes (ABORT): the server's every stream
 * reports failed with its cause, none stays open. */
static void test_dead_association_fails_streams(void **state) {
  sctp_h h;
  mstls_session *ss;
  mstls_session_stats st;
  int step;
  uint16_t k;
  (void)state;
  sctp_h_defaults(&h, 10, MSTLS_POLICY_RESUME);
  h.port = 5900;
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 2000), 0);
  ss = mstls_sctp_assoc_get_session(h.srv);
  mstls_sctp_assoc_abort(h.cli);
  for (step = 0; step < 200 && h.srv_rc == 0; step++) {
    sctp_h_step(&h);
  }
  assert_int_equal(h.srv_rc, MSTLS_E_PEER_GONE);
  for (k = 0; k < 10; k++) {
    mstls_stream_info info;
    assert_int_equal(mstls_stream_get_info(ss, k, &info), 0);
    assert_int_equal(info.state, MSTLS_STREAM_FAILED);
    /* The cause: the association is gone, or (first) the stack reported
     * records of this stream it could not deliver (SEND_FAILED). */
    assert_true(info.error == MSTLS_E_PEER_GONE ||
                info.error == MSTLS_E_STREAM_LOST);
  }
  assert_int_equal(mstls_session_get_stats(ss, &st), 0);
  assert_int_equal(st.streams_failed, 10);
  sctp_h_close(&h);
}

/* The race a Diameter peer makes: its SHUTDOWN reaches our stack between
 * our last read and our close_notify, so the stack refuses the
 * close_notify. That is still an orderly close: success or MSTLS_E_CLOSED
 * on both sides, no stream failed. */
static void test_shutdown_race(void **state) {
  sctp_h h;
  mstls_session *cs, *ss;
  int i, step, rc;
  (void)state;
  sctp_h_defaults(&h, NSTREAMS, MSTLS_POLICY_RESUME);
  h.port = 5950;
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 2000), 0);
  cs = mstls_sctp_assoc_get_session(h.cli);
  ss = mstls_sctp_assoc_get_session(h.srv);
  assert_int_equal(shut(&h, h.srv), 0);
  /* The client's stack takes the server's close_notify and SHUTDOWN; the
   * client has not read them yet. */
  for (i = 0; i < 20; i++) {
    (void)mstls_sctp_link_pair_pump(h.pair);
    mstls_sctp_usrsctp_handle_timers(10);
  }
  rc = mstls_session_bye(cs);
  assert_true(rc == 0 || rc == MSTLS_E_AGAIN || rc == MSTLS_E_CLOSED);
  assert_int_equal(mstls_sctp_assoc_shutdown(h.cli), 0);
  for (step = 0; step < 400 && h.srv_rc != MSTLS_E_CLOSED; step++) {
    sctp_h_step(&h);
    assert_true(orderly(h.cli_rc));
    assert_true(orderly(h.srv_rc));
  }
  assert_int_equal(h.srv_rc, MSTLS_E_CLOSED);
  check_streams_closed(cs, "client", 0);
  check_streams_closed(ss, "server", 0);
  sctp_h_close(&h);
}

/* The client shuts down and only its side runs (packets still flow both
 * ways, so the server's stack answers) until its SCTP shutdown is
 * complete; bounded steps, no clock. */
static void client_shutdown_alone(sctp_h *h) {
  int step, rc = mstls_sctp_assoc_shutdown(h->cli);

  for (step = 0; step < 400 && rc != MSTLS_E_CLOSED; step++) {
    assert_true(orderly(rc));
    (void)mstls_sctp_link_pair_pump(h->pair);
    mstls_sctp_usrsctp_handle_timers(10);
    rc = mstls_sctp_assoc_process(h->cli);
    if (rc == 0)
      rc = mstls_sctp_assoc_shutdown(h->cli);
  }
  assert_int_equal(rc, MSTLS_E_CLOSED);
}
/* The peer finishes its handshakes and shuts down before the server has
 * read its last Finished. The server's answer to that Finished (a TLS 1.3
 * NewSessionTicket) meets a stack that takes no more data once the
 * SHUTDOWN has arrived, and the SHUTDOWN itself still waits, unread,
 * behind the Finished. That is an orderly end as well: MSTLS_E_CLOSED,
 * not MSTLS_E_PEER_GONE. Deterministic: the server is not run at all
 * between the step in which the client completes and the end of the
 * client's SCTP shutdown, so its last Finished is always unread. */
static void test_shutdown_before_last_finished(void **state) {
  sctp_h h;
  mstls_session *cs = NULL, *ss;
  mstls_session_stats st;
  int step;
  (void)state;
  sctp_h_defaults(&h, NSTREAMS, MSTLS_POLICY_RESUME);
  h.port = 5975;
  assert_int_equal(sctp_h_start(&h), 0);
  for (step = 0; step < 2000; step++) {
    (void)mstls_sctp_link_pair_pump(h.pair);
    if (h.srv == NULL)
      (void)mstls_sctp_accept(h.lst, &h.srv, &h.ss, &h.scb, h.scred, h.sud);
    assert_int_equal(mstls_sctp_assoc_process(h.cli), 0);
    cs = mstls_sctp_assoc_get_session(h.cli);
    if (cs != NULL && mstls_session_handshake(cs) == 0)
      break;
    if (h.srv != NULL)
      assert_int_equal(mstls_sctp_assoc_process(h.srv), 0);
    (void)mstls_sctp_link_pair_pump(h.pair);
    mstls_sctp_usrsctp_handle_timers(10);
  }
  assert_non_null(cs);
  assert_int_equal(mstls_session_handshake(cs), 0);
  ss = mstls_sctp_assoc_get_session(h.srv);
  assert_non_null(ss);
  assert_int_equal(mstls_session_handshake(ss), MSTLS_E_AGAIN);
  /* The client closes; only its side is run until SCTP has ended. */
  client_shutdown_alone(&h);
  /* Now the server reads the Finished, answers it, and finds the end:
   * every handshake completed, no stream failed. */
  h.srv_rc = mstls_sctp_assoc_process(h.srv);
  assert_int_equal(h.srv_rc, MSTLS_E_CLOSED);
  assert_true(orderly(mstls_session_get_error(ss)));
  assert_int_equal(mstls_session_handshake(ss), 0);
  assert_int_equal(mstls_session_get_stats(ss, &st), 0);
  assert_int_equal(st.streams_established, NSTREAMS);
  assert_int_equal(st.streams_failed, 0);
  h.cli_rc = MSTLS_E_CLOSED;
  sctp_h_close(&h);
}

/* The client sends on two streams and closes at once (close_notify, then
 * SHUTDOWN), and the server reads nothing until SCTP has ended, so one
 * mstls_sctp_assoc_process() finds the messages and the end together. SCTP
 * delivered every message sent before the SHUTDOWN: the server still
 * reads each stream's data, then 0 for its close_notify. @p any reads through
 * mstls_session_recv_any(); @p send_first has the server send before it
 * reads, which ends its session (MSTLS_E_CLOSED) first; @p bye_first has
 * it say close_notify on streams 1 and 2 before the client sends. */
static void data_then_close(int any, int send_first, int bye_first) {
  sctp_h h;
  mstls_session *cs, *ss;
  char buf[16];
  long n;
  uint16_t sid = 0;
  int step, got1 = 0, got2 = 0;

  sctp_h_defaults(&h, NSTREAMS, MSTLS_POLICY_RESUME);
  h.port = (uint16_t)(5976 + any * 4 + send_first * 2 + bye_first);
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 2000), 0);
  cs = mstls_sctp_assoc_get_session(h.cli);
  ss = mstls_sctp_assoc_get_session(h.srv);
  if (bye_first) {
    /* The server has said close_notify on both streams already; the
     * client's data on them still counts. */
    assert_int_equal(mstls_stream_bye(ss, 1), 0);
    assert_int_equal(mstls_stream_bye(ss, 2), 0);
  }
  assert_int_equal(mstls_stream_send(cs, 1, "one", 3), 3);
  assert_int_equal(mstls_stream_send(cs, 2, "two", 3), 3);
  client_shutdown_alone(&h);
  h.srv_rc = mstls_sctp_assoc_process(h.srv);
  assert_int_equal(h.srv_rc, MSTLS_E_CLOSED);
  if (send_first) {
    /* The server sends before it reads: the send finds the end and ends
     * the session in order. Its handshakes did complete, and what it
     * received is still there. */
    assert_int_equal(mstls_stream_send(ss, 3, "x", 1), MSTLS_E_CLOSED);
    assert_int_equal(mstls_session_get_error(ss), MSTLS_E_CLOSED);
    assert_int_equal(mstls_session_handshake(ss), 0);
  }
  if (any) {
    int eofs = 0;
    for (step = 0; step < 20; step++) {
      n = mstls_session_recv_any(ss, &sid, buf, sizeof(buf));
      if (n == 3 && sid == 1 && memcmp(buf, "one", 3) == 0)
        got1++;
      else if (n == 3 && sid == 2 && memcmp(buf, "two", 3) == 0)
        got2++;
      else if (n == 0)
        eofs++; /* a close_notify, once per stream */
      else
        break;
    }
    assert_int_equal(got1, 1);
    assert_int_equal(got2, 1);
    assert_int_equal(eofs, NSTREAMS);
    /* The data and the close_notifies, then the end (or, while the
     * session has not ended, nothing more). */
    assert_int_equal(n, send_first ? MSTLS_E_CLOSED : MSTLS_E_AGAIN);
  } else {
    assert_int_equal(mstls_stream_recv(ss, 1, buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "one", 3);
    assert_int_equal(mstls_stream_recv(ss, 1, buf, sizeof(buf)), 0);
    assert_int_equal(mstls_stream_recv(ss, 2, buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "two", 3);
    assert_int_equal(mstls_stream_recv(ss, 2, buf, sizeof(buf)), 0);
    /* A stream that received nothing has only the end to report. */
    assert_int_equal(mstls_stream_recv(ss, 3, buf, sizeof(buf)), 0);
  }
  /* The end stays reported. */
  assert_int_equal(mstls_stream_recv(ss, 1, buf, sizeof(buf)), 0);
  h.cli_rc = MSTLS_E_CLOSED;
  sctp_h_close(&h);
}

typedef struct dtc_case {
  int any, send_first, bye_first;
} dtc_case;

static dtc_case dtc_cases[] = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0},
                               {1, 1, 0}, {0, 1, 1}, {1, 1, 1}};

static void test_data_then_close(void **state) {
  const dtc_case *c = *state;
  data_then_close(c->any, c->send_first, c->bye_first);
}

#define DTC(name, i)                                                           \
  { name, test_data_then_close, NULL, NULL, &dtc_cases[i] }

int main(void) {
  const struct CMUnitTest tests[] = {
      DTC("test_data_then_close_stream_recv", 0),
      DTC("test_data_then_close_recv_any", 1),
      DTC("test_data_after_send_found_close", 2),
      DTC("test_data_after_send_found_close_any", 3),
      DTC("test_data_after_own_bye", 4),
      DTC("test_data_after_own_bye_any", 5),
      cmocka_unit_test(test_dead_association_fails_streams),
      cmocka_unit_test(test_1000_short_associations),
      cmocka_unit_test(test_crossing_shutdowns),
      cmocka_unit_test(test_shutdown_race),
      cmocka_unit_test(test_shutdown_before_last_finished),
  };
  return cmocka_run_group_tests(tests, sctp_h_group_setup,
                                sctp_h_group_teardown);
}
