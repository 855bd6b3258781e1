/* A peer that handshakes and then never reads: the sender's blocked send
 * must sleep on an event (usrsctp upcall, poll()), never spin, and must end
 * with the documented error when config.send_timeout_ms elapses or when the
 * peer goes away.
 *
 * Two processes over usrsctp with UDP encapsulation on loopback. The
 * sending process measures its own CPU time (RUSAGE_SELF: the sending
 * thread and usrsctp's threads) over the whole blocked period. The bound
 * is on CPU time, not on elapsed time: a thread that waits uses none,
 * whatever the load on the machine, while a spinning sender uses all the
 * wall-clock time it is given (10 s here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sctp_e2e.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mstls/sctp.h>

#include "certs.h"
#include "pair.h"

/* The sender may use at most this much CPU while blocked for 10 s. */
#define STALL_CPU_MAX_US 1000000L
#define STALL_MSG 16384u

enum stall_mode {
  STALL_TIMEOUT = 0,  /* the peer never reads: the send timeout elapses */
  STALL_PEER_DIES = 1 /* the peer aborts the association */
};

static long stall_cpu_us(void) {
  struct rusage ru;

  getrusage(RUSAGE_SELF, &ru);
  return (long)ru.ru_utime.tv_sec * 1000000L + (long)ru.ru_utime.tv_usec +
         (long)ru.ru_stime.tv_sec * 1000000L + (long)ru.ru_stime.tv_usec;
}

/* The sender: accept, then send until the send fails. Exit code 0 when
 * the failure is the expected one and the CPU stayed low. */
static int stall_server(uint16_t port, int mode, int ready_fd) {
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;
  mstls_sctp_assoc *a = NULL;
  mstls_credentials *cred = test_server_creds(NULL);
  mstls_sctp_stats ast;
  mstls_settings st;
  mstls_session *s;
  static uint8_t buf[STALL_MSG];
  long cpu0, cpu, n;
  int want = mode == STALL_TIMEOUT ? MSTLS_E_TIMEOUT : MSTLS_E_PEER_GONE;
  const char b = 1;
  int rc;

  if (cred == NULL || mstls_sctp_usrsctp_init(port, 0) != 0)
    return 10;
  mstls_sctp_config_default(&cfg);
  cfg.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  cfg.streams_in = cfg.streams_out = 1;
  /* Blocked 10 s by the timeout; when the peer dies the timeout is far
   * away, so only the abort can end the send. */
  cfg.send_timeout_ms = mode == STALL_TIMEOUT ? 10000u : 600000u;
  test_server_settings(&st, 1, MSTLS_POLICY_RESUME);
  if (mstls_sctp_listen(&l, &cfg, "127.0.0.1", port) != 0)
    return 11;
  rc = mstls_sctp_accept(l, &a, &st, NULL, cred, NULL);
  if (rc != 0)
    return 12;
  s = mstls_sctp_assoc_get_session(a);
  memset(buf, 0x5a, sizeof(buf));
  cpu0 = stall_cpu_us();
  /* Tell the peer we are about to fill its window. */
  if (write(ready_fd, &b, 1) != 1)
    return 13;
  do {
    n = mstls_stream_send_blocking(s, 0, buf, sizeof(buf));
  } while (n == (long)sizeof(buf));
  cpu = stall_cpu_us() - cpu0;
  fprintf(stderr,
          "stall server: send ended with %s (association: %s) after %ld us "
          "of CPU\n",
          mstls_strerror((int)n), mstls_strerror(mstls_sctp_assoc_get_error(a)),
          cpu);
  if (n != want || mstls_sctp_assoc_get_error(a) != want)
    return 14;
  if (mstls_sctp_assoc_get_stats(a, &ast) != 0 ||
      ast.send_timeouts != (mode == STALL_TIMEOUT ? 1u : 0u))
    return 15;
  if (cpu > STALL_CPU_MAX_US)
    return 16;
  mstls_sctp_assoc_del(a); /* aborts after a send timeout */
  mstls_sctp_listener_del(l);
  mstls_credentials_del(cred);
  (void)mstls_sctp_usrsctp_release();
  return 0;
}

/* The peer: handshake, never read. STALL_PEER_DIES: abort once the server
 * has started sending (its window is full soon after); STALL_TIMEOUT:
 * wait until the parent closes the pipe. */
static int stall_client(uint16_t port, int mode, int ready_fd, int done_fd) {
  mstls_sctp_config cfg;
  mstls_sctp_assoc *a = NULL;
  mstls_credentials *cred = test_client_creds(NULL, NULL, 0);
  mstls_settings st;
  char b;
  int rc = -1, i;

  if (cred == NULL || mstls_sctp_usrsctp_init((uint16_t)(port + 1), 0) != 0)
    return 20;
  mstls_sctp_config_default(&cfg);
  cfg.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  cfg.streams_in = cfg.streams_out = 1;
  cfg.remote_udp_port = port;
  test_client_settings(&st, 1, MSTLS_POLICY_RESUME);
  for (i = 0; i < 50; i++) {
    rc = mstls_sctp_connect(&a, &cfg, "127.0.0.1", port, &st, NULL, cred, NULL);
    if (rc != MSTLS_E_PEER_GONE && rc != MSTLS_E_TRANSPORT)
      break;
    usleep(100 * 1000);
  }
  if (rc != 0)
    return 21;
  if (read(ready_fd, &b, 1) != 1)
    return 22;
  if (mode == STALL_PEER_DIES) {
    /* Let the server's send block on a full window first; the result is
     * the same if it has not yet (its next send fails). */
    sleep(2);
    mstls_sctp_assoc_abort(a);
  } else {
    (void)read(done_fd, &b, 1); /* EOF when the server is done */
  }
  mstls_sctp_assoc_del(a);
  mstls_credentials_del(cred);
  (void)mstls_sctp_usrsctp_release();
  return 0;
}

static int stall_run(int mode) {
  uint16_t port = e2e_pick_port();
  int ready[2], done[2];
  pid_t srv, cli;
  int st_srv = -1, st_cli = -1;

  if (port == 0 || test_pki_get() == NULL || pipe(ready) != 0 ||
      pipe(done) != 0)
    return -1;
  fflush(NULL);
  srv = fork();
  if (srv == 0) {
    alarm(120); /* a safety net, never the measure */
    close(ready[0]);
    _exit(stall_server(port, mode, ready[1]));
  }
  cli = fork();
  if (cli == 0) {
    alarm(120);
    close(ready[1]);
    close(done[1]);
    _exit(stall_client(port, mode, ready[0], done[0]));
  }
  close(ready[0]);
  close(ready[1]);
  close(done[0]);
  (void)waitpid(srv, &st_srv, 0);
  close(done[1]); /* the client may go */
  (void)waitpid(cli, &st_cli, 0);
  st_srv = WIFEXITED(st_srv) ? WEXITSTATUS(st_srv) : 100 + WTERMSIG(st_srv);
  st_cli = WIFEXITED(st_cli) ? WEXITSTATUS(st_cli) : 100 + WTERMSIG(st_cli);
  if (st_srv != 0 || st_cli != 0)
    fprintf(stderr, "stall: server exit %d, client exit %d\n", st_srv, st_cli);
  return st_srv != 0 || st_cli != 0;
}

/* 10 s of a peer that does not read: CPU near zero, then MSTLS_E_TIMEOUT,
 * counted in send_timeouts. */
static void test_never_reads_send_timeout(void **state) {
  (void)state;
  assert_int_equal(stall_run(STALL_TIMEOUT), 0);
}

/* The blocked send ends with MSTLS_E_PEER_GONE when the peer aborts. */
static void test_peer_dies_while_blocked(void **state) {
  (void)state;
  assert_int_equal(stall_run(STALL_PEER_DIES), 0);
}

/* Negative: out-of-range knobs are refused. */
static void test_config_bounds(void **state) {
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;

  (void)state;
  mstls_sctp_config_default(&cfg);
  assert_int_equal(cfg.send_timeout_ms, MSTLS_SCTP_DEFAULT_SEND_TIMEOUT_MS);
  assert_int_equal(cfg.backlog, MSTLS_SCTP_DEFAULT_BACKLOG);
  cfg.backlog = 0;
  assert_int_equal(mstls_sctp_listen(&l, &cfg, "127.0.0.1", 9),
                   MSTLS_E_INVALID_ARGUMENT);
  cfg.backlog = 70000;
  assert_int_equal(mstls_sctp_listen(&l, &cfg, "127.0.0.1", 9),
                   MSTLS_E_INVALID_ARGUMENT);
  cfg.backlog = 4;
  cfg.send_timeout_ms = 0x80000000u;
  assert_int_equal(mstls_sctp_listen(&l, &cfg, "127.0.0.1", 9),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_null(l);
  assert_int_equal(mstls_sctp_listener_set_ready(NULL, NULL, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_listener_get_stats(NULL, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_bounds),
      cmocka_unit_test(test_never_reads_send_timeout),
      cmocka_unit_test(test_peer_dies_while_blocked),
  };
  const char *only = getenv("MSTLS_TEST_FILTER");

  signal(SIGPIPE, SIG_IGN);
  if (only && *only)
    cmocka_set_test_filter(only);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
