/* TLS over real SCTP between two processes: usrsctp with UDP encapsulation
 * on loopback (kernel SCTP: test_sctp_kernel runs the same suite).
 *
 * Load-proof: the verdict is the children's exit codes (bytes echoed,
 * streams resumed, counters), never an elapsed time. Waits are for events
 * (blocking calls; poll() with a 100 ms tick) bounded only against a hang:
 * each child's alarm (60 s, MSTLS_E2E_TIMEOUT), handshakes at half of it,
 * reaping at it plus 10 s. Clients wait up to a fixed 10 s for stream 0's
 * ticket (settings.ticket_wait), not a bound measured on the real clock.
 * One check is timed: an event loop fails when its socket stays readable
 * through ten full ticks (1 s) with no wakeup, which a lost wakeup does
 * and a descheduled stack thread does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certs.h"
#include "pair.h"
#include "sctp_e2e.h"

#ifndef E2E_BACKEND
#define E2E_BACKEND MSTLS_SCTP_BACKEND_USRSCTP
#endif

static void run(uint16_t streams, mstls_policy pol, size_t size,
                unsigned rounds) {
  e2e_case c = {E2E_BACKEND, streams, pol, size, rounds, 0, 0, 0};
  assert_int_equal(e2e_run(&c), 0);
}

/* Both processes non-blocking, each driven by its own poll() loop. */
static void run_event_loop(uint16_t streams, mstls_policy pol, size_t size,
                           unsigned rounds) {
  e2e_case c = {E2E_BACKEND, streams, pol, size, rounds, 1, 0, 0};
  assert_int_equal(e2e_run(&c), 0);
}

static void test_streams_1(void **s) {
  (void)s;
  run(1, MSTLS_POLICY_RESUME, 1000, 3);
}
static void test_streams_10(void **s) {
  (void)s;
  run(10, MSTLS_POLICY_RESUME, 5000, 2);
}
static void test_streams_100(void **s) {
  (void)s;
  run(100, MSTLS_POLICY_RESUME, 100, 1);
}
static void test_streams_1000(void **s) {
  (void)s;
  run(1000, MSTLS_POLICY_RESUME, 1, 1);
}
static void test_parallel_16(void **s) {
  (void)s;
  run(16, MSTLS_POLICY_PARALLEL, 1000, 1);
}
static void test_lazy_16(void **s) {
  (void)s;
  run(16, MSTLS_POLICY_LAZY, 1000, 1);
}
static void test_size_1(void **s) {
  (void)s;
  run(2, MSTLS_POLICY_RESUME, 1, 5);
}
static void test_size_18437(void **s) {
  (void)s;
  run(2, MSTLS_POLICY_RESUME, 18437, 3);
}
static void test_size_256k(void **s) {
  (void)s;
  run(2, MSTLS_POLICY_RESUME, 256u * 1024u, 2);
}
static void test_size_1m(void **s) {
  (void)s;
  run(1, MSTLS_POLICY_RESUME, 1u << 20, 1);
}

/* Both peers send more than the socket buffers between them hold: a 1 MB
 * echo through 64 KB buffers. Blocked sends read ahead instead of waiting
 * on each other; the server's read-ahead is held to 64 KB. */
static void test_duplex_small_buffers(void **s) {
  e2e_case c = {E2E_BACKEND, 2, MSTLS_POLICY_RESUME, 1u << 20,
                1,           0, 64u * 1024u,         64u * 1024u};
  (void)s;
  assert_int_equal(e2e_run(&c), 0);
}

static void test_event_loop_10(void **s) {
  (void)s;
  run_event_loop(10, MSTLS_POLICY_RESUME, 5000, 2);
}
static void test_event_loop_parallel_16(void **s) {
  (void)s;
  run_event_loop(16, MSTLS_POLICY_PARALLEL, 1000, 2);
}
static void test_event_loop_lazy_16(void **s) {
  (void)s;
  run_event_loop(16, MSTLS_POLICY_LAZY, 1000, 1);
}
static void test_event_loop_256k(void **s) {
  (void)s;
  run_event_loop(2, MSTLS_POLICY_RESUME, 256u * 1024u, 2);
}

/* Room for a record that met a full socket wakes an event loop that polls
 * the association's fd for mstls_sctp_assoc_get_events(): a client fills
 * its socket until mstls_stream_send() keeps a record (the events then
 * include POLLOUT on kernel SCTP), and is processed only when its fd
 * polls ready while the server reads. Every byte the client's sends took
 * must arrive: the kept record goes out from mstls_sctp_assoc_process()
 * once the fd said there was room (the client's socket never becomes
 * readable here), and the events are POLLIN again after. In one child
 * process, on both backends; bounded by 600 waits of at most 100 ms per
 * phase, which only means hung. */
#define KR_BUF 65536
#define KR_ROUNDS 600

static void kr_poll(mstls_sctp_assoc *c, mstls_sctp_assoc *s, short *rev) {
  struct pollfd p[2];

  p[0].fd = mstls_sctp_assoc_get_fd(c);
  p[1].fd = s != NULL ? mstls_sctp_assoc_get_fd(s) : -1;
  p[0].events = (short)mstls_sctp_assoc_get_events(c);
  p[1].events = (short)mstls_sctp_assoc_get_events(s);
  p[0].revents = p[1].revents = 0;
  (void)poll(p, 2, 100);
  rev[0] = p[0].revents;
  rev[1] = p[1].revents;
}

static int kr_child(uint16_t port) {
  static uint8_t chunk[16384], buf[65536];
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;
  mstls_sctp_assoc *c = NULL, *s = NULL;
  mstls_credentials *ccred = test_client_creds(NULL, NULL, 0);
  mstls_credentials *scred = test_server_creds(NULL);
  mstls_session *cs = NULL, *ss = NULL;
  mstls_settings cst, sst;
  uint64_t taken = 0, got = 0;
  unsigned long woke = 0;
  long n = 0;
  short rev[2];
  int i, rc = MSTLS_E_AGAIN;

  if (ccred == NULL || scred == NULL)
    return 10;
  if (E2E_BACKEND == MSTLS_SCTP_BACKEND_USRSCTP &&
      mstls_sctp_usrsctp_init(port, 0) != 0)
    return 11;
  mstls_sctp_config_default(&cfg);
  cfg.backend = E2E_BACKEND;
  cfg.blocking = 0;
  cfg.streams_in = cfg.streams_out = 1;
  cfg.send_buffer = cfg.recv_buffer = KR_BUF;
  test_client_settings(&cst, 1, MSTLS_POLICY_RESUME);
  test_server_settings(&sst, 1, MSTLS_POLICY_RESUME);
  if (mstls_sctp_listen(&l, &cfg, "127.0.0.1", port) != 0)
    return 12;
  cfg.remote_udp_port = port; /* usrsctp: one stack, one UDP port */
  if (mstls_sctp_connect(&c, &cfg, "127.0.0.1", port, &cst, NULL, ccred,
                         NULL) != 0)
    return 13;
  for (i = 0; i < KR_ROUNDS && rc == MSTLS_E_AGAIN; i++) {
    kr_poll(c, s, rev);
    if (s == NULL &&
        (rc = mstls_sctp_accept(l, &s, &sst, NULL, scred, NULL)) != 0 &&
        rc != MSTLS_E_AGAIN)
      return 14;
    if (mstls_sctp_assoc_process(c) != 0 ||
        (s != NULL && mstls_sctp_assoc_process(s) != 0))
      return 15;
    cs = mstls_sctp_assoc_get_session(c);
    ss = s != NULL ? mstls_sctp_assoc_get_session(s) : NULL;
    rc = cs != NULL && ss != NULL ? mstls_session_handshake(cs) : MSTLS_E_AGAIN;
  }
  if (rc != 0)
    return 16;
  /* Fill until a send keeps a record that stays kept: the server does
   * not read meanwhile. */
  memset(chunk, 0x5a, sizeof(chunk));
  for (i = 0; i < 100000; i++) {
    n = mstls_stream_send(cs, 0, chunk, sizeof(chunk));
    if (n == MSTLS_E_AGAIN && mstls_session_flush(cs) == MSTLS_E_AGAIN)
      break;
    if (n < 0 && n != MSTLS_E_AGAIN)
      return 20;
    if (n > 0)
      taken += (uint64_t)n;
  }
  if (n != MSTLS_E_AGAIN)
    return 21;
  if (mstls_sctp_assoc_get_events(c) !=
      (E2E_BACKEND == MSTLS_SCTP_BACKEND_KERNEL ? POLLIN | POLLOUT : POLLIN))
    return 22;
  for (i = 0; i < KR_ROUNDS && got < taken; i++) {
    kr_poll(c, s, rev);
    if (rev[0] != 0) {
      woke++;
      if (mstls_sctp_assoc_process(c) != 0)
        return 30;
    }
    if (mstls_sctp_assoc_process(s) != 0)
      return 31;
    while ((n = mstls_stream_recv(ss, 0, buf, sizeof(buf))) > 0)
      got += (uint64_t)n;
    if (n != MSTLS_E_AGAIN)
      return 32;
  }
  printf("kept record: %llu bytes taken, %llu arrived, client woken %lu "
         "times\n",
         (unsigned long long)taken, (unsigned long long)got, woke);
  fflush(stdout); /* the child ends with _exit() */
  if (got != taken)
    return 33; /* the kept record never went: no wakeup for room */
  if (woke == 0 || mstls_session_flush(cs) != 0 ||
      mstls_sctp_assoc_get_events(c) != POLLIN)
    return 34;
  if (mstls_sctp_assoc_get_events(NULL) != 0)
    return 35;
  mstls_sctp_assoc_abort(c);
  mstls_sctp_assoc_del(c);
  mstls_sctp_assoc_del(s);
  mstls_sctp_listener_del(l);
  mstls_credentials_del(ccred);
  mstls_credentials_del(scred);
  if (E2E_BACKEND == MSTLS_SCTP_BACKEND_USRSCTP &&
      mstls_sctp_usrsctp_release() != 0)
    return 40;
  return 0;
}

static void test_fd_signals_room(void **st) {
  uint16_t port = e2e_pick_port();
  pid_t pid;
  int status = 0;

  (void)st;
  assert_int_not_equal(port, 0);
  assert_non_null(test_pki_get()); /* before the fork, as e2e_run */
  fflush(stdout);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* Only means hung: above the phases' own bounds (2 x 600 waits of at
     * most 100 ms), raised by the guest's runner as for e2e_run(). */
    const char *t = getenv("MSTLS_E2E_TIMEOUT");
    long secs = t != NULL ? strtol(t, NULL, 10) : 0;
    alarm(secs > 300 && secs < 3600 ? (unsigned)secs : 300);
    _exit(kr_child(port));
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* RFC 3436 §8: every stream of a new association, with another server
 * process that shares only the ticket key, resumes the first one. */
static void test_fleet_resume(void **s) {
  (void)s;
  assert_int_equal(e2e_run_fleet(E2E_BACKEND, 10), 0);
}

static uint64_t ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Log lines that tell of a peer's user-initiated ABORT. */
static void count_aborted(int level, const char *line, void *user_data) {
  (void)level;
  if (strstr(line, ": down: communication lost: the peer aborted (cause 12)"))
    ++*(int *)user_data;
}

/* SCTP workers: listeners with config.reuseport share one port. Kernel:
 * two bind it, a third without the flag cannot, and associations from
 * one client are accepted by the two between them, every one exactly
 * once; when the servers abort them, each client logs the peer's ABORT
 * and its cause. usrsctp (one stack per process) refuses the flag. */
#define RP_CLIENTS 8
static void test_reuseport(void **s) {
  mstls_sctp_config cfg, ccfg;
  mstls_sctp_listener *l[3] = {NULL, NULL, NULL};
  mstls_sctp_assoc *c[RP_CLIENTS] = {NULL}, *a[RP_CLIENTS] = {NULL};
  mstls_credentials *srv = test_server_creds(NULL);
  mstls_credentials *cli = test_client_creds(NULL, NULL, 0);
  mstls_settings sst, cst;
  unsigned per[2] = {0, 0}, n = 0, i;
  int aborted_lines = 0;
  uint16_t port = e2e_pick_port();
  uint64_t deadline;
  (void)s;

  assert_non_null(srv);
  assert_non_null(cli);
  assert_int_not_equal(port, 0);
  mstls_sctp_config_default(&cfg);
  cfg.backend = E2E_BACKEND;
  cfg.blocking = 0;
  cfg.streams_in = 2;
  cfg.streams_out = 2;
  cfg.reuseport = 1;
  if (E2E_BACKEND == MSTLS_SCTP_BACKEND_USRSCTP) {
    assert_int_equal(mstls_sctp_listen(&l[0], &cfg, "127.0.0.1", port),
                     MSTLS_E_UNSUPPORTED);
    assert_null(l[0]);
    mstls_credentials_del(srv);
    mstls_credentials_del(cli);
    return;
  }
  assert_int_equal(mstls_sctp_listen(&l[0], &cfg, "127.0.0.1", port), 0);
  assert_int_equal(mstls_sctp_listen(&l[1], &cfg, "127.0.0.1", port), 0);
  cfg.reuseport = 0;
  assert_int_equal(mstls_sctp_listen(&l[2], &cfg, "127.0.0.1", port),
                   MSTLS_E_TRANSPORT);
  assert_null(l[2]);
  ccfg = cfg;
  test_server_settings(&sst, 2, MSTLS_POLICY_RESUME);
  test_client_settings(&cst, 2, MSTLS_POLICY_RESUME);
  for (i = 0; i < RP_CLIENTS; i++)
    assert_int_equal(mstls_sctp_connect(&c[i], &ccfg, "127.0.0.1", port, &cst,
                                        NULL, cli, NULL),
                     0);
  deadline = ms_now() + 60000;
  while (n < RP_CLIENTS && ms_now() < deadline) {
    struct pollfd p[2];
    unsigned k;
    for (k = 0; k < 2; k++) {
      p[k].fd = mstls_sctp_listener_get_fd(l[k]);
      p[k].events = POLLIN;
      p[k].revents = 0;
    }
    (void)poll(p, 2, 100);
    for (k = 0; k < 2; k++) {
      int rc = mstls_sctp_accept(l[k], &a[n], &sst, NULL, srv, NULL);
      if (rc == MSTLS_E_AGAIN)
        continue;
      assert_int_equal(rc, 0);
      per[k]++;
      n++;
      if (n == RP_CLIENTS)
        break;
    }
    for (k = 0; k < RP_CLIENTS; k++)
      (void)mstls_sctp_assoc_process(c[k]);
  }
  printf("reuseport: %u associations accepted, %u by the first listener and "
         "%u by the second\n",
         n, per[0], per[1]);
  assert_int_equal(n, RP_CLIENTS);
  assert_int_equal(per[0] + per[1], RP_CLIENTS);
  /* The servers abort; each client's log says that the peer did, with
   * the ABORT's cause (12, user-initiated), not that it went silent. */
  mstls_set_log(count_aborted, MSTLS_LOG_INFO, &aborted_lines);
  for (i = 0; i < RP_CLIENTS; i++)
    mstls_sctp_assoc_abort(a[i]);
  deadline = ms_now() + 60000; /* against a hang only */
  for (n = 0; n < RP_CLIENTS && ms_now() < deadline;) {
    struct pollfd p[RP_CLIENTS];
    for (i = 0; i < RP_CLIENTS; i++) {
      p[i].fd = mstls_sctp_assoc_get_fd(c[i]);
      p[i].events = POLLIN;
      p[i].revents = 0;
    }
    (void)poll(p, RP_CLIENTS, 100);
    for (i = n = 0; i < RP_CLIENTS; i++)
      n += mstls_sctp_assoc_process(c[i]) == MSTLS_E_PEER_GONE;
  }
  mstls_set_log(NULL, MSTLS_LOG_OFF, NULL);
  assert_int_equal(n, RP_CLIENTS);
  assert_int_equal(aborted_lines, RP_CLIENTS);
  for (i = 0; i < RP_CLIENTS; i++) {
    mstls_sctp_assoc_del(a[i]);
    mstls_sctp_assoc_del(c[i]);
  }
  mstls_sctp_listener_del(l[0]);
  mstls_sctp_listener_del(l[1]);
  mstls_credentials_del(srv);
  mstls_credentials_del(cli);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_streams_1),
      cmocka_unit_test(test_streams_10),
      cmocka_unit_test(test_streams_100),
      cmocka_unit_test(test_streams_1000),
      cmocka_unit_test(test_parallel_16),
      cmocka_unit_test(test_lazy_16),
      cmocka_unit_test(test_size_1),
      cmocka_unit_test(test_size_18437),
      cmocka_unit_test(test_size_256k),
      cmocka_unit_test(test_size_1m),
      cmocka_unit_test(test_duplex_small_buffers),
      cmocka_unit_test(test_event_loop_10),
      cmocka_unit_test(test_event_loop_parallel_16),
      cmocka_unit_test(test_event_loop_lazy_16),
      cmocka_unit_test(test_event_loop_256k),
      cmocka_unit_test(test_fd_signals_room),
      cmocka_unit_test(test_fleet_resume),
      cmocka_unit_test(test_reuseport),
  };
  const char *only = getenv("MSTLS_TEST_FILTER");
  if (!e2e_backend_available(E2E_BACKEND))
    return 77;
  if (only && *only)
    cmocka_set_test_filter(only);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
