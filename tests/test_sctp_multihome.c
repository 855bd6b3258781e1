/* Multihoming API over usrsctp (UDP encapsulation on loopback): address
 * lists refused when malformed, the paths of a one-address and of a
 * two-address association, the primary path chosen by the application,
 * and path events with their address. The failover itself (a path lost
 * under traffic) runs in the QEMU guest: tests/vm/multihoming.sh. The
 * stack is per process, so this is a program of its own.
 *
 * usrsctp binds only addresses it found on the host's interfaces when it
 * started, and 127.0.0.2 is on no interface by default: as root the
 * program moves into a network namespace of its own and adds 127.0.0.2 to
 * its loopback there (the host's network is not touched); otherwise the
 * two-address test is skipped.
 *
 * Load-proof: assertions are on paths, events and data, never on elapsed
 * time. Each wait is a loop of at most 500 mstls_sctp_assoc_wait() calls of
 * 20 ms (about 10 s), plus 50 listen tries 100 ms apart while an earlier
 * case's association lets go of the port: bounds that only mean hung.
 * usrsctp counts SCTP time in 10 ms turns of its timer thread, so the
 * failover profile's short timers slow down with a starved process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <mstls/sctp.h>

#include "certs.h"
#include "pair.h"

typedef struct mh_events {
  unsigned seen; /* bit (1 << event) */
  char confirmed[4][MSTLS_SCTP_ADDR_TEXT];
  size_t nconfirmed;
} mh_events;

static void mh_on_event(mstls_sctp_assoc *a, mstls_sctp_event ev,
                        uint16_t stream, int error, void *user_data) {
  mh_events *e = user_data;
  char text[MSTLS_SCTP_ADDR_TEXT];

  (void)stream;
  if (e == NULL)
    return;
  e->seen |= 1u << ev;
  if (ev >= MSTLS_SCTP_EVENT_ADDR_AVAILABLE) {
    /* A path event fails nothing and always carries its address. */
    assert_int_equal(error, 0);
    assert_int_equal(
        mstls_sctp_assoc_get_event_addr(a, NULL, text, sizeof(text)), 0);
    if (ev == MSTLS_SCTP_EVENT_ADDR_CONFIRMED && e->nconfirmed < 4)
      memcpy(e->confirmed[e->nconfirmed++], text, sizeof(text));
  }
}

/* A client and a server association in this process, both up, TLS done. */
typedef struct mh_pair {
  mstls_sctp_listener *l;
  mstls_sctp_assoc *c;
  mstls_sctp_assoc *s;
  mstls_credentials *ccred;
  mstls_credentials *scred;
  mh_events cev;
  mh_events sev;
} mh_pair;

static void mh_pump(mh_pair *p) {
  (void)mstls_sctp_assoc_wait(p->c, 20);
  assert_int_equal(mstls_sctp_assoc_process(p->c), 0);
  if (p->s != NULL)
    assert_int_equal(mstls_sctp_assoc_process(p->s), 0);
}

static void mh_open(mh_pair *p, const char *listen_on, const char *connect_to,
                    const char *local) {
  mstls_sctp_config cfg;
  mstls_settings cs, ss;
  uint16_t port = mstls_sctp_usrsctp_get_port();
  int i, rc = MSTLS_E_AGAIN;

  memset(p, 0, sizeof(*p));
  p->ccred = test_client_creds(NULL, NULL, 0);
  p->scred = test_server_creds(NULL);
  assert_non_null(p->ccred);
  assert_non_null(p->scred);
  mstls_sctp_config_default(&cfg);
  mstls_sctp_config_failover(&cfg);
  cfg.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  cfg.blocking = 0;
  cfg.streams_in = cfg.streams_out = 2;
  cfg.event = mh_on_event;
  test_client_settings(&cs, 2, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 2, MSTLS_POLICY_RESUME);
  /* The port is the one every case listens on: an association of the
   * case before that is still closing holds it for a moment. Retry a
   * bounded number of times. */
  for (i = 0; i < 50; i++) {
    rc = mstls_sctp_listen(&p->l, &cfg, listen_on, port);
    if (rc != MSTLS_E_TRANSPORT)
      break;
    usleep(100 * 1000);
  }
  assert_int_equal(rc, 0);
  rc = MSTLS_E_AGAIN;
  cfg.remote_udp_port = port;
  cfg.local_addrs = local;
  assert_int_equal(mstls_sctp_connect(&p->c, &cfg, connect_to, port, &cs, NULL,
                                      p->ccred, &p->cev),
                   0);
  for (i = 0; i < 500 && rc == MSTLS_E_AGAIN; i++) {
    mstls_session *cses;
    if (p->s == NULL)
      (void)mstls_sctp_accept(p->l, &p->s, &ss, NULL, p->scred, &p->sev);
    mh_pump(p);
    cses = mstls_sctp_assoc_get_session(p->c);
    if (cses != NULL && p->s != NULL &&
        mstls_sctp_assoc_get_session(p->s) != NULL)
      rc = mstls_session_handshake(cses);
  }
  assert_int_equal(rc, 0);
}

/* Stream 1 still carries data both ways. */
static void mh_exchange(mh_pair *p, const char *msg) {
  size_t len = strlen(msg);
  char buf[64];
  long rc = MSTLS_E_AGAIN;
  int i;

  assert_int_equal(
      mstls_stream_send(mstls_sctp_assoc_get_session(p->c), 1, msg, len),
      (long)len);
  for (i = 0; i < 500 && rc == MSTLS_E_AGAIN; i++) {
    mh_pump(p);
    rc = mstls_stream_recv(mstls_sctp_assoc_get_session(p->s), 1, buf,
                           sizeof(buf));
  }
  assert_int_equal(rc, (long)len);
  assert_memory_equal(buf, msg, len);
}

static void mh_close(mh_pair *p) {
  mstls_sctp_assoc_abort(p->c);
  mstls_sctp_assoc_del(p->c);
  mstls_sctp_assoc_del(p->s);
  mstls_sctp_listener_del(p->l);
  mstls_credentials_del(p->ccred);
  mstls_credentials_del(p->scred);
}

static void test_bad_lists(void **state) {
  static const char *const bad[] = {
      "",
      ",",
      "127.0.0.1,",
      ",127.0.0.1",
      "127.0.0.1,,127.0.0.2",
      "127.0.0.1, 127.0.0.2",
      "127.0.0.1,127.0.0.1",
      "127.0.0.1,::1",
      "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,"
      "127.0.0.7,127.0.0.8,127.0.0.9",
  };
  char longname[300];
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;
  mstls_sctp_assoc *a = NULL;
  mstls_credentials *cred = test_client_creds(NULL, NULL, 0);
  uint16_t port = mstls_sctp_usrsctp_get_port();
  size_t i, n = 7;

  (void)state;
  assert_non_null(cred);
  mstls_sctp_config_default(&cfg);
  cfg.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  cfg.blocking = 0;
  cfg.remote_udp_port = port;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cfg.local_addrs = NULL;
    assert_int_equal(
        mstls_sctp_connect(&a, &cfg, bad[i], 5999, NULL, NULL, cred, NULL),
        MSTLS_E_INVALID_ARGUMENT);
    assert_null(a);
    assert_int_equal(mstls_sctp_listen(&l, &cfg, bad[i], 5999),
                     MSTLS_E_INVALID_ARGUMENT);
    assert_null(l);
    cfg.local_addrs = bad[i];
    assert_int_equal(
        mstls_sctp_connect(&a, &cfg, "127.0.0.1", 5999, NULL, NULL, cred, NULL),
        MSTLS_E_INVALID_ARGUMENT);
    assert_null(a);
  }
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  cfg.local_addrs = NULL;
  assert_int_equal(
      mstls_sctp_connect(&a, &cfg, longname, 5999, NULL, NULL, cred, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  /* Local and remote addresses of different families. */
  cfg.local_addrs = "::1";
  assert_int_equal(
      mstls_sctp_connect(&a, &cfg, "127.0.0.1", 5999, NULL, NULL, cred, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  /* The API refuses NULL where it needs an object. */
  assert_int_equal(mstls_sctp_assoc_get_paths(NULL, NULL, 0, &n),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_assoc_set_primary(NULL, "127.0.0.1"),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_assoc_get_event_addr(NULL, NULL, NULL, 0),
                   MSTLS_E_INVALID_ARGUMENT);
  mstls_credentials_del(cred);
}

static void test_one_path(void **state) {
  mh_pair p;
  mstls_sctp_path paths[4];
  size_t n = 99, i, primaries = 0;
  uint16_t port = mstls_sctp_usrsctp_get_port();

  (void)state;
  mh_open(&p, "127.0.0.1", "127.0.0.1", NULL);
  /* The count alone, then the paths. */
  assert_int_equal(mstls_sctp_assoc_get_paths(p.c, NULL, 0, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(mstls_sctp_assoc_get_paths(p.c, NULL, 1, &n),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_assoc_get_paths(p.c, paths, 4, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_assoc_get_paths(p.c, paths, 4, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(paths[0].text, "127.0.0.1");
  assert_int_equal(paths[0].addr.ss_family, AF_INET);
  assert_int_equal(ntohs(((struct sockaddr_in *)&paths[0].addr)->sin_port),
                   port);
  assert_int_equal(paths[0].state, MSTLS_SCTP_PATH_ACTIVE);
  assert_int_equal(paths[0].primary, 1);
  assert_true(paths[0].rto_ms > 0);
  assert_true(paths[0].mtu > 0);
  /* The server sees the client's addresses; exactly one is primary. */
  assert_int_equal(mstls_sctp_assoc_get_paths(p.s, paths, 4, &n), 0);
  assert_true(n >= 1);
  for (i = 0; i < n && i < 4; i++)
    primaries += (size_t)paths[i].primary;
  assert_int_equal(primaries, 1);
  /* The primary can be set to the peer's address, and only to it. */
  assert_int_equal(mstls_sctp_assoc_set_primary(p.c, "127.0.0.1"), 0);
  assert_int_equal(mstls_sctp_assoc_set_primary(p.c, "10.9.9.9"),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_assoc_set_primary(p.c, "::1"),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_assoc_set_primary(p.c, "localhost"),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_assoc_set_primary(p.c, ""),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_assoc_set_primary(p.c, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  mh_exchange(&p, "one path");
  mh_close(&p);
}

/* A server on two loopback addresses, a client that gives both: two
 * paths, the first primary; the second is confirmed by a heartbeat
 * (ADDR_CONFIRMED with its address) and can then be made primary, and
 * data flows over it. */
/* 1 once this process has its own network namespace with 127.0.0.2. */
static int mh_have_second;

static void test_two_paths(void **state) {
  mh_pair p;
  mstls_sctp_path paths[4];
  size_t n = 0, i;
  int k, confirmed = 0;

  (void)state;
  if (!mh_have_second)
    skip();
  /* Both ends on both addresses (one stack, two SCTP ports). */
  mh_open(&p, "127.0.0.1,127.0.0.2", "127.0.0.1,127.0.0.2",
          "127.0.0.1,127.0.0.2");
  assert_int_equal(mstls_sctp_assoc_get_paths(p.c, paths, 4, &n), 0);
  assert_int_equal(n, 2);
  for (i = 0; i < 2; i++)
    assert_int_equal(paths[i].primary,
                     strcmp(paths[i].text, "127.0.0.1") == 0 ? 1 : 0);
  /* The server learnt the client's addresses from INIT: the one the INIT
   * did not come from is unconfirmed until a heartbeat comes back from
   * it, within an RTO or two (ADDR_CONFIRMED with its address). The
   * addresses the client gave to connectx count as confirmed. */
  for (k = 0; k < 500 && !confirmed; k++) {
    mh_pump(&p);
    assert_int_equal(mstls_sctp_assoc_get_paths(p.s, paths, 4, &n), 0);
    assert_int_equal(n, 2);
    confirmed = 1;
    for (i = 0; i < n; i++)
      confirmed &= paths[i].state == MSTLS_SCTP_PATH_ACTIVE;
  }
  assert_true(confirmed);
  assert_true(p.sev.seen & (1u << MSTLS_SCTP_EVENT_ADDR_CONFIRMED));
  assert_true(p.sev.nconfirmed >= 1);
  for (i = 0; i < p.sev.nconfirmed; i++)
    assert_true(strcmp(p.sev.confirmed[i], "127.0.0.1") == 0 ||
                strcmp(p.sev.confirmed[i], "127.0.0.2") == 0);
  assert_int_equal(mstls_sctp_assoc_set_primary(p.c, "127.0.0.2"), 0);
  assert_int_equal(mstls_sctp_assoc_get_paths(p.c, paths, 4, &n), 0);
  for (i = 0; i < n; i++)
    assert_int_equal(paths[i].primary,
                     strcmp(paths[i].text, "127.0.0.2") == 0 ? 1 : 0);
  mh_exchange(&p, "over the second path");
  /* Nothing failed on either side. */
  assert_false(p.cev.seen & (1u << MSTLS_SCTP_EVENT_ADDR_UNREACHABLE));
  assert_int_equal(mstls_sctp_assoc_get_error(p.c), 0);
  assert_int_equal(mstls_sctp_assoc_get_error(p.s), 0);
  mh_close(&p);
}

/* ---- the log: association and path events (MSTLS_LOG_INFO) ------------ */

typedef struct mh_log {
  int n;
  char lines[64][256];
} mh_log;

static void mh_cb_log(int level, const char *line, void *ud) {
  mh_log *r = ud;
  if (level == MSTLS_LOG_INFO && strncmp(line, "sctp association ", 17) == 0 &&
      r->n < 64)
    snprintf(r->lines[r->n++], sizeof(r->lines[0]), "%s", line);
}

static int mh_log_count(const mh_log *r, const char *a, const char *b) {
  int i, n = 0;
  for (i = 0; i < r->n; i++)
    n += strstr(r->lines[i], a) != NULL &&
         (b == NULL || strstr(r->lines[i], b) != NULL);
  return n;
}

/* Up on both ends, with the stream counts; the path confirmations of a
 * two-address association with their address; down on the server when
 * the client aborts, saying that the peer aborted. */
static void test_log_events(void **state) {
  mh_pair p;
  mh_log r;
  int k, i;

  (void)state;
  memset(&r, 0, sizeof(r));
  mstls_set_log(mh_cb_log, MSTLS_LOG_INFO, &r);
  if (mh_have_second)
    mh_open(&p, "127.0.0.1,127.0.0.2", "127.0.0.1,127.0.0.2",
            "127.0.0.1,127.0.0.2");
  else
    mh_open(&p, "127.0.0.1", "127.0.0.1", NULL);
  for (k = 0; k < 500 && mh_have_second &&
              mh_log_count(&r, ": path 127.0.0.", ": confirmed") == 0;
       k++)
    mh_pump(&p);
  mstls_sctp_assoc_abort(p.c);
  /* The ABORT travels over UDP: wait for it (bounded), no fixed time. */
  for (k = 0; k < 500 && mstls_sctp_assoc_get_error(p.s) == 0; k++) {
    (void)mstls_sctp_assoc_wait(p.s, 20);
    (void)mstls_sctp_assoc_process(p.s);
  }
  mstls_set_log(NULL, MSTLS_LOG_OFF, NULL);
  for (i = 0; i < r.n; i++)
    print_message("log: %s\n", r.lines[i]);
  assert_int_equal(mh_log_count(&r, ": up (2 in, 2 out streams)", NULL), 2);
  /* Each end says once that its association is down: the client for its
   * abort, the server for the peer's (as a notification, "communication
   * lost", or as an error of the socket, "the peer is gone", whichever
   * usrsctp gives first). */
  assert_int_equal(mh_log_count(&r, ": down: ", NULL), 2);
  /* A notification says why: the client's ABORT, not a silent peer. */
  assert_int_equal(mh_log_count(&r, ": down: communication lost",
                                ": the peer aborted (cause ") +
                       mh_log_count(&r, ": down: the peer is gone", NULL),
                   1);
  assert_int_equal(mh_log_count(&r, "no answer from the peer", NULL), 0);
  if (mh_have_second)
    assert_true(mh_log_count(&r, ": path 127.0.0.", ": confirmed") >= 1);
  mh_close(&p);
}

static int group_setup(void **state) {
  (void)state;
  return mstls_sctp_usrsctp_init(0, MSTLS_SCTP_USRSCTP_ANY_PORT) == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  (void)mstls_sctp_usrsctp_release();
  return 0;
}

/* As root: a network namespace of our own whose loopback has 127.0.0.2
 * too, entered before usrsctp starts (it lists the interfaces then). */
static void mh_private_net(void) {
  if (unshare(CLONE_NEWNET) != 0)
    return;
  mh_have_second =
      system("ip link set lo up && ip addr add 127.0.0.2/8 dev lo") == 0;
  if (!mh_have_second)
    fprintf(stderr, "no 127.0.0.2: the two-address test is skipped\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_lists),
      cmocka_unit_test(test_one_path),
      cmocka_unit_test(test_two_paths),
      cmocka_unit_test(test_log_events),
  };
  mh_private_net();
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
