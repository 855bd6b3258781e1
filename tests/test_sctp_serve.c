/* mstls sctp-server under slow peers: the tool runs as its own process
 * (usrsctp over UDP encapsulation on loopback) and this process plays
 * every client with the library's non-blocking API, from one poll() loop
 * woken by the associations' ready callbacks:
 *  - slowloris associations (silent, or one ClientHello then silence)
 *    while legitimate clients handshake and echo;
 *  - a peer that never reads while the server echoes to it, and the
 *    server's CPU time while it waits for that peer (no busy wait);
 *  - --max-assocs;
 *  - associations waiting to be accepted: bounded in number and data.
 * Every assertion is on outcomes and on the server's counters; the waits
 * are generous and bounded.
 *
 * Load-proof: clients wake on readiness (the ready callbacks, through a
 * pipe, polled at most 100 ms) and the counters come on SIGUSR1; each
 * phase is bounded by WAIT_MS (60 s) as a hang guard. Each phase ends on
 * an outcome, not on time: the slowloris peers' 10 s handshake deadline
 * leaves the legitimate clients room on a loaded machine; the non-reader
 * counts as blocked once the server reports its echo backlog full; the
 * unaccepted associations stop pushing once every window is shut. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mstls/sctp.h>

#include "certs.h"
#include "pair.h"
#include "sctp_e2e.h"

#define SRV_STREAMS 4
#define WAIT_MS 60000 /* the most any phase may take */

typedef enum cl_kind {
  CL_LEGIT,  /* handshake, echo one message per stream, close */
  CL_SILENT, /* association up, never a byte of TLS */
  CL_HELLO,  /* one ClientHello, then never reads or sends again */
  CL_NOREAD, /* handshake, then sends and never reads */
  CL_HOLD    /* handshake, then stays open until told to close */
} cl_kind;

typedef enum cl_state {
  CL_CONNECTING,
  CL_HANDSHAKING,
  CL_ECHOING,
  CL_HOLDING,
  CL_CLOSING,
  CL_DONE,   /* closed in order, echo checked */
  CL_FAILED, /* the association ended with an error */
  CL_FROZEN  /* CL_HELLO after its ClientHello: left alone */
} cl_state;

typedef struct cl {
  cl_kind kind;
  cl_state state;
  mstls_sctp_assoc *a;
  int err;
  uint64_t sent;  /* CL_NOREAD: bytes the socket took */
  uint64_t limit; /* CL_NOREAD: stop sending after this many (0: never) */
  mstls_tstamp last_sent;
  mstls_tstamp asked; /* CL_NOREAD: when the server's counters were read */
  size_t echoed[SRV_STREAMS];
  int ready;
} cl;

typedef struct world {
  uint16_t port;
  pid_t srv;
  char out[64]; /* the server's stdout and stderr */
  int pipefd[2];
  mstls_credentials *cred;
  cl *cls;
  size_t ncl;
} world;

static world *g_w;
/* One usrsctp stack per process: started once, on g_port + 1. */
static uint16_t g_port;

static mstls_tstamp now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (mstls_tstamp)ts.tv_sec * MSTLS_SECONDS + (mstls_tstamp)ts.tv_nsec;
}

static void cl_ready(mstls_sctp_assoc *a, void *user_data) {
  uint32_t i = (uint32_t)(uintptr_t)user_data;
  ssize_t n;
  (void)a;
  n = write(g_w->pipefd[1], &i, sizeof(i));
  (void)n;
}

static const char *tool_path(void) {
  const char *p = getenv("MSTLS_TOOL");
  return p != NULL ? p : MSTLS_TOOL_PATH;
}

/* Start the server with extra options (NULL-terminated) and wait until it
 * listens. */
static void srv_start(world *w, ...) {
  const char *argv[40];
  char listen[32];
  int n = 0, i;
  va_list ap;
  mstls_tstamp until;

  snprintf(listen, sizeof(listen), "127.0.0.1:%u", w->port);
  static unsigned seq;
  snprintf(w->out, sizeof(w->out), "/tmp/mstls-serve-%d-%u.out", (int)getpid(),
           ++seq);
  argv[n++] = "mstls";
  argv[n++] = "sctp-server";
  argv[n++] = "--listen";
  argv[n++] = listen;
  argv[n++] = "--backend";
  argv[n++] = "usrsctp";
  argv[n++] = "--echo";
  argv[n++] = "--streams";
  argv[n++] = "4";
  va_start(ap, w);
  while (n < 38 && (argv[n] = va_arg(ap, const char *)) != NULL)
    n++;
  va_end(ap);
  argv[n] = NULL;
  w->srv = fork();
  assert_true(w->srv >= 0);
  if (w->srv == 0) {
    int fd = open(w->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
      _exit(120);
    dup2(fd, 1);
    dup2(fd, 2);
    for (i = 3; i < 64; i++)
      close(i);
    {
      char *av[40];
      for (i = 0; i <= n; i++)
        av[i] = argv[i] != NULL ? strdup(argv[i]) : NULL;
      execv(tool_path(), av);
    }
    _exit(121);
  }
  until = now_ns() + WAIT_MS * MSTLS_MILLISECONDS;
  for (;;) {
    char buf[4096];
    FILE *f = fopen(w->out, "r");
    size_t got = 0;
    if (f != NULL) {
      got = fread(buf, 1, sizeof(buf) - 1, f);
      fclose(f);
    }
    buf[got] = '\0';
    if (strstr(buf, "listening on") != NULL)
      break;
    assert_true(now_ns() < until);
    assert_int_equal(waitpid(w->srv, NULL, WNOHANG), 0);
    usleep(20 * 1000);
  }
}

typedef struct counters {
  unsigned long long accepted, refused, hs_timeouts, stalls, backlog_full,
      completed, failed, bytes_in, bytes_out;
  unsigned live;
} counters;

/* The last counters line printed for @p when; 0 if there is one. */
static int srv_parse(const world *w, const char *when, counters *c) {
  FILE *f = fopen(w->out, "r");
  char line[1024], tag[64];
  int found = 0;

  if (f == NULL)
    return -1;
  snprintf(tag, sizeof(tag), "counters (%s): ", when);
  while (fgets(line, sizeof(line), f) != NULL) {
    const char *p = strstr(line, tag);
    if (p == NULL || strchr(line, '\n') == NULL)
      continue;
    if (sscanf(p + strlen(tag),
               "accepted %llu, refused %llu, handshake timeouts %llu, stalls "
               "aborted %llu, echo backlog full %llu, completed %llu, failed "
               "%llu, bytes in %llu, bytes out %llu, live %u",
               &c->accepted, &c->refused, &c->hs_timeouts, &c->stalls,
               &c->backlog_full, &c->completed, &c->failed, &c->bytes_in,
               &c->bytes_out, &c->live) == 10)
      found = 1;
  }
  fclose(f);
  return found ? 0 : -1;
}

static size_t srv_count_lines(const world *w, const char *needle) {
  FILE *f = fopen(w->out, "r");
  char line[1024];
  size_t n = 0;
  if (f == NULL)
    return 0;
  while (fgets(line, sizeof(line), f) != NULL)
    if (strstr(line, needle) != NULL && strchr(line, '\n') != NULL)
      n++;
  fclose(f);
  return n;
}

/* Ask the running server for its counters (SIGUSR1). */
static void srv_counters(const world *w, counters *c) {
  size_t before = srv_count_lines(w, "counters (SIGUSR1)");
  mstls_tstamp until = now_ns() + WAIT_MS * MSTLS_MILLISECONDS;

  assert_int_equal(kill(w->srv, SIGUSR1), 0);
  while (srv_count_lines(w, "counters (SIGUSR1)") == before) {
    assert_true(now_ns() < until);
    usleep(10 * 1000);
  }
  assert_int_equal(srv_parse(w, "SIGUSR1", c), 0);
}

/* Ask for the counters until the server has seen every association end
 * and @p ok holds (bounded: the loop is no verdict, the counters are). */
static void srv_wait_idle(const world *w, counters *c,
                          int (*ok)(const counters *)) {
  mstls_tstamp until = now_ns() + WAIT_MS * MSTLS_MILLISECONDS;
  for (;;) {
    srv_counters(w, c);
    if ((c->live == 0 && ok(c)) || now_ns() >= until)
      return;
    usleep(100 * 1000);
  }
}

/* Stop the server (SIGTERM) and read its exit counters. */
static void srv_stop(world *w, counters *c) {
  int status = 0;
  mstls_tstamp until = now_ns() + WAIT_MS * MSTLS_MILLISECONDS;

  assert_int_equal(kill(w->srv, SIGTERM), 0);
  while (waitpid(w->srv, &status, WNOHANG) == 0) {
    assert_true(now_ns() < until);
    usleep(10 * 1000);
  }
  w->srv = 0;
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_int_equal(srv_parse(w, "exit", c), 0);
  {
    /* Say why any association failed. */
    FILE *f = fopen(w->out, "r");
    char line[1024];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
      if (strstr(line, "(failed") != NULL || strstr(line, "mstls:") != NULL)
        fprintf(stderr, "server: %s", line);
    if (f != NULL)
      fclose(f);
  }
  fprintf(stderr,
          "server: accepted %llu, refused %llu, handshake timeouts %llu, "
          "stalls %llu, echo backlog full %llu, completed %llu, failed %llu\n",
          c->accepted, c->refused, c->hs_timeouts, c->stalls, c->backlog_full,
          c->completed, c->failed);
}

static void cl_open(world *w, size_t i, cl_kind kind) {
  mstls_sctp_config cfg;
  mstls_settings st;
  cl *c = &w->cls[i];
  int rc = 0, tries;

  memset(c, 0, sizeof(*c));
  c->kind = kind;
  mstls_sctp_config_default(&cfg);
  cfg.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  cfg.streams_in = SRV_STREAMS;
  cfg.streams_out = SRV_STREAMS;
  cfg.blocking = 0;
  cfg.ready = cl_ready;
  cfg.remote_udp_port = w->port;
  mstls_settings_default(&st);
  st.nstreams = SRV_STREAMS;
  st.server_name = "localhost";
  st.flags |= MSTLS_SETTINGS_INSECURE;
  /* LAZY: no stream handshakes before its first use -- never for
   * CL_SILENT; for CL_HELLO only stream 0's, started by hand once the
   * session exists, so that nothing but that one ClientHello ever goes out
   * (under RESUME the call that makes the session also reads what has
   * arrived, and a client preempted inside it could finish handshakes). */
  st.policy = kind == CL_SILENT || kind == CL_HELLO ? MSTLS_POLICY_LAZY
                                                    : MSTLS_POLICY_RESUME;
  /* A local port still held by a closing association of an earlier case
   * can fail a connect: retry a bounded number of times. */
  for (tries = 0; tries < 50; tries++) {
    rc = mstls_sctp_connect(&c->a, &cfg, "127.0.0.1", w->port, &st, NULL,
                            w->cred, (void *)(uintptr_t)i);
    if (rc != MSTLS_E_TRANSPORT)
      break;
    usleep(100 * 1000);
  }
  assert_int_equal(rc, 0);
  c->state = CL_CONNECTING;
  c->ready = 1;
}

static void cl_msg(char *buf, size_t len, size_t i, uint16_t k) {
  snprintf(buf, len, "client %zu says hello on stream %u\n", i, k);
}

static void cl_fail(cl *c, int err) {
  c->state = CL_FAILED;
  c->err = err;
}

/* Drive one client as far as it goes without waiting. */
static void cl_step(world *w, size_t i) {
  cl *c = &w->cls[i];
  mstls_session *s;
  int rc = 0;
  uint16_t k;

  c->ready = 0;
  if (c->state == CL_DONE || c->state == CL_FAILED || c->state == CL_FROZEN)
    return;
  /* CL_NOREAD never reads once it is sending: the server's echo piles up. */
  if (!(c->kind == CL_NOREAD && c->state == CL_ECHOING))
    rc = mstls_sctp_assoc_process(c->a);
  if (rc == MSTLS_E_CLOSED && c->state == CL_CLOSING) {
    c->state = CL_DONE;
    return;
  }
  if (rc != 0) {
    cl_fail(c, rc);
    return;
  }
  s = mstls_sctp_assoc_get_session(c->a);
  if (c->state == CL_CONNECTING) {
    if (s == NULL)
      return;
    if (c->kind == CL_HELLO) {
      /* The first send on stream 0 starts its handshake: its ClientHello
       * goes out, the data waits for a handshake that never ends. Then
       * nothing more. */
      assert_int_equal(mstls_stream_send(s, 0, "x", 1), MSTLS_E_AGAIN);
      c->state = CL_FROZEN;
      return;
    }
    c->state = CL_HANDSHAKING;
  }
  if (c->state == CL_HANDSHAKING) {
    if (c->kind == CL_SILENT)
      return;
    rc = mstls_session_handshake(s);
    if (rc == MSTLS_E_AGAIN)
      return;
    if (rc != 0) {
      cl_fail(c, rc);
      return;
    }
    c->state = c->kind == CL_HOLD ? CL_HOLDING : CL_ECHOING;
    if (c->kind == CL_LEGIT) {
      for (k = 0; k < SRV_STREAMS; k++) {
        char msg[64];
        cl_msg(msg, sizeof(msg), i, k);
        assert_int_equal(mstls_stream_send(s, k, msg, strlen(msg)),
                         (long)strlen(msg));
      }
    }
  }
  if (c->state == CL_ECHOING && c->kind == CL_NOREAD) {
    static uint8_t chunk[16384];
    while (c->limit == 0 || c->sent < c->limit) {
      long n = mstls_stream_send(s, 0, chunk, sizeof(chunk));
      if (n == MSTLS_E_AGAIN)
        return;
      if (n < 0) {
        cl_fail(c, (int)n);
        return;
      }
      c->sent += (uint64_t)n;
      c->last_sent = now_ns();
    }
    return;
  }
  if (c->state == CL_ECHOING) {
    for (;;) {
      char buf[256], want[64];
      long n = mstls_session_recv_any(s, &k, buf, sizeof(buf));
      if (n == MSTLS_E_AGAIN)
        break;
      assert_true(n > 0);
      assert_true(k < SRV_STREAMS);
      cl_msg(want, sizeof(want), i, k);
      assert_true(c->echoed[k] + (size_t)n <= strlen(want));
      assert_memory_equal(buf, want + c->echoed[k], (size_t)n);
      c->echoed[k] += (size_t)n;
    }
    for (k = 0; k < SRV_STREAMS; k++) {
      char want[64];
      cl_msg(want, sizeof(want), i, k);
      if (c->echoed[k] < strlen(want))
        return;
    }
    c->state = CL_CLOSING;
  }
  if (c->state == CL_CLOSING) {
    rc = mstls_sctp_assoc_shutdown(c->a);
    if (rc != 0 && rc != MSTLS_E_AGAIN)
      cl_fail(c, rc);
  }
}

/* Run the clients until @p done says so (bounded). */
static void run_until(world *w, int (*done)(world *), mstls_tstamp limit_ms) {
  mstls_tstamp until = now_ns() + limit_ms * MSTLS_MILLISECONDS;
  size_t i;

  while (!done(w)) {
    struct pollfd p = {w->pipefd[0], POLLIN, 0};
    uint32_t ids[256];
    ssize_t n;

    assert_true(now_ns() < until);
    for (i = 0; i < w->ncl; i++)
      if (w->cls[i].a != NULL && w->cls[i].ready)
        cl_step(w, i);
    if (done(w))
      break;
    /* Readiness wakes us; the 100 ms cap only bounds a wait for a
     * condition that is not an event here (the server's timers). */
    (void)poll(&p, 1, 100);
    while ((n = read(w->pipefd[0], ids, sizeof(ids))) > 0) {
      size_t j;
      for (j = 0; j < (size_t)n / sizeof(ids[0]); j++)
        if (ids[j] < w->ncl)
          w->cls[ids[j]].ready = 1;
    }
    /* Shutdowns and handshakes also progress on our own timers. */
    for (i = 0; i < w->ncl; i++) {
      cl *c = &w->cls[i];
      mstls_session *s = c->a ? mstls_sctp_assoc_get_session(c->a) : NULL;
      if (s != NULL && c->state != CL_FROZEN &&
          mstls_session_get_expiry(s) <= now_ns()) {
        (void)mstls_session_handle_expiry(s, now_ns());
        c->ready = 1;
      }
    }
  }
}

static void world_init(world *w, size_t ncl) {
  memset(w, 0, sizeof(*w));
  g_w = w;
  /* A server port of its own: nothing of an earlier case reaches it. */
  w->port = e2e_pick_port();
  assert_true(w->port != 0);
  assert_int_equal(pipe(w->pipefd), 0);
  assert_int_equal(fcntl(w->pipefd[0], F_SETFL, O_NONBLOCK), 0);
  assert_int_equal(fcntl(w->pipefd[1], F_SETFL, O_NONBLOCK), 0);
  w->cred = test_client_creds(NULL, NULL, 0);
  assert_non_null(w->cred);
  w->cls = calloc(ncl, sizeof(*w->cls));
  assert_non_null(w->cls);
  w->ncl = ncl;
}

static void world_free(world *w);

/* After a failed assertion too: never leave a server behind. */
static int teardown(void **state) {
  (void)state;
  if (g_w != NULL)
    world_free(g_w);
  return 0;
}

static void world_free(world *w) {
  size_t i;
  if (w->srv > 0) {
    kill(w->srv, SIGKILL);
    waitpid(w->srv, NULL, 0);
  }
  for (i = 0; i < w->ncl; i++) {
    if (w->cls[i].a != NULL)
      mstls_sctp_assoc_abort(w->cls[i].a);
    mstls_sctp_assoc_del(w->cls[i].a);
  }
  mstls_credentials_del(w->cred);
  free(w->cls);
  close(w->pipefd[0]);
  close(w->pipefd[1]);
  if (w->out[0] != '\0' && getenv("MSTLS_SERVE_KEEP") == NULL)
    unlink(w->out);
  g_w = NULL;
}

static size_t count_state(world *w, size_t from, size_t to, cl_state st) {
  size_t i, n = 0;
  for (i = from; i < to; i++)
    n += w->cls[i].state == st;
  return n;
}

static int all_connected(world *w) {
  size_t i;
  for (i = 0; i < w->ncl; i++)
    if (w->cls[i].a != NULL && w->cls[i].state == CL_CONNECTING)
      return 0;
  return 1;
}

/* (a): 50 slowloris associations, then 20 legitimate clients. */
#define SLOW 50
#define LEGIT 20

static int legit_done(world *w) {
  return count_state(w, SLOW, SLOW + LEGIT, CL_DONE) +
             count_state(w, SLOW, SLOW + LEGIT, CL_FAILED) ==
         LEGIT;
}

static int slow_over(const counters *c) {
  return c->hs_timeouts >= SLOW && c->completed >= LEGIT;
}

static void t_slowloris(void **state) {
  static world w;
  counters c;
  size_t i;
  mstls_tstamp t0;
  (void)state;

  world_init(&w, SLOW + LEGIT);
  /* Long enough for every legitimate client on a loaded machine; the
   * slowloris associations are ended by it all the same. */
  srv_start(&w, "--handshake-timeout", "10000", NULL);
  for (i = 0; i < SLOW; i++)
    cl_open(&w, i, i % 2 ? CL_HELLO : CL_SILENT);
  run_until(&w, all_connected, WAIT_MS);
  t0 = now_ns();
  for (i = SLOW; i < SLOW + LEGIT; i++)
    cl_open(&w, i, CL_LEGIT);
  run_until(&w, legit_done, WAIT_MS);
  fprintf(stderr, "20 legitimate clients served in %llu ms\n",
          (unsigned long long)((now_ns() - t0) / MSTLS_MILLISECONDS));
  for (i = SLOW; i < SLOW + LEGIT; i++) {
    if (w.cls[i].state != CL_DONE)
      fprintf(stderr, "client %zu: %s\n", i, mstls_strerror(w.cls[i].err));
    assert_int_equal(w.cls[i].state, CL_DONE);
  }
  /* Every slowloris association is aborted at its deadline. */
  srv_wait_idle(&w, &c, slow_over);
  srv_stop(&w, &c);
  assert_int_equal(c.accepted, SLOW + LEGIT);
  assert_int_equal(c.hs_timeouts, SLOW);
  assert_int_equal(c.completed, LEGIT);
  assert_int_equal(c.failed, 0);
  assert_int_equal(c.refused, 0);
  assert_int_equal(c.live, 0);
  /* The closer's counters come with the exit counters. */
  assert_int_equal(
      srv_count_lines(&w, "closing in the background (exit): now "), 1);
  world_free(&w);
}

/* (b): one peer that never reads; 5 clients are served meanwhile. */
static int noreader_blocked(world *w) {
  cl *c = &w->cls[0];
  counters k;
  /* The server stopped taking its data. Nothing going out for 300 ms is
   * only the cue to ask (a pause of either process looks the same): the
   * proof is the server's echo backlog for it having filled. Its socket's
   * send buffer is full then too, and that plus the backlog is more than
   * the peer's receive buffer will ever take, so the stall must follow
   * however the two processes are scheduled. */
  if (c->state == CL_FAILED)
    return 1;
  if (c->sent == 0 || now_ns() - c->last_sent <= 300 * MSTLS_MILLISECONDS ||
      now_ns() - c->asked <= 300 * MSTLS_MILLISECONDS)
    return 0;
  srv_counters(w, &k);
  c->asked = now_ns();
  return k.backlog_full >= 1;
}

/* (b'): the peer has handed its socket all it will ever send. */
static int noreader_sent_all(world *w) {
  cl *c = &w->cls[0];
  return c->state == CL_FAILED || (c->limit != 0 && c->sent >= c->limit);
}

static int five_done(world *w) {
  return count_state(w, 1, 6, CL_DONE) + count_state(w, 1, 6, CL_FAILED) == 5;
}

static int noreader_over(const counters *c) {
  return c->stalls >= 1 && c->completed >= 5;
}

static void t_noreader(void **state) {
  static world w;
  counters c;
  size_t i;
  (void)state;

  world_init(&w, 6);
  srv_start(&w, "--stall-timeout", "3000", "--echo-backlog", "65536", NULL);
  cl_open(&w, 0, CL_NOREAD);
  run_until(&w, noreader_blocked, WAIT_MS);
  assert_int_equal(w.cls[0].state, CL_ECHOING);
  fprintf(stderr, "the non-reader's socket took %llu bytes\n",
          (unsigned long long)w.cls[0].sent);
  for (i = 1; i < 6; i++)
    cl_open(&w, i, CL_LEGIT);
  run_until(&w, five_done, WAIT_MS);
  for (i = 1; i < 6; i++)
    assert_int_equal(w.cls[i].state, CL_DONE);
  fprintf(stderr, "5 clients served %llu ms after the non-reader blocked\n",
          (unsigned long long)((now_ns() - w.cls[0].last_sent) /
                               MSTLS_MILLISECONDS));
  srv_wait_idle(&w, &c, noreader_over);
  fprintf(stderr, "the non-reader was aborted %llu ms after it blocked\n",
          (unsigned long long)((now_ns() - w.cls[0].last_sent) /
                               MSTLS_MILLISECONDS));
  srv_stop(&w, &c);
  assert_int_equal(c.accepted, 6);
  assert_int_equal(c.stalls, 1);
  assert_true(c.backlog_full >= 1);
  assert_int_equal(c.completed, 5);
  assert_int_equal(c.failed, 0);
  /* The server held back at most the echo backlog plus one record. */
  assert_true(c.bytes_in - c.bytes_out <= 65536 + 16384);
  world_free(&w);
}

/* (b'): a peer that sends 1.75 MiB, then neither sends nor reads: the
 * server's echo queue drains into its socket (1 MiB send buffer) and the
 * peer's receive buffer (1 MiB), and the rest waits in the socket,
 * unacknowledged. The stall is seen there too. */
static int quiet_over(const counters *c) {
  return c->stalls >= 1;
}

static void t_noreader_quiet(void **state) {
  static world w;
  counters c;
  (void)state;

  world_init(&w, 1);
  srv_start(&w, "--stall-timeout", "2000", NULL);
  cl_open(&w, 0, CL_NOREAD);
  w.cls[0].limit = (uint64_t)7 << 18;
  run_until(&w, noreader_sent_all, WAIT_MS);
  assert_int_equal(w.cls[0].state, CL_ECHOING);
  srv_wait_idle(&w, &c, quiet_over);
  srv_stop(&w, &c);
  assert_int_equal(c.accepted, 1);
  assert_int_equal(c.stalls, 1);
  assert_int_equal(c.failed, 0);
  world_free(&w);
}

/* The server's CPU time (user + system) so far, in milliseconds. */
static long srv_cpu_ms(const world *w) {
  char path[64], buf[1024];
  unsigned long ut = 0, st = 0;
  const char *p;
  size_t got;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int)w->srv);
  f = fopen(path, "r");
  assert_non_null(f);
  got = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[got] = '\0';
  /* The command name may hold spaces: the fields follow its ')'. */
  p = strrchr(buf, ')');
  assert_non_null(p);
  assert_int_equal(sscanf(p + 1,
                          " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                          "%lu %lu",
                          &ut, &st),
                   2);
  return (long)((ut + st) * 1000u / (unsigned long)sysconf(_SC_CLK_TCK));
}

/* Wait until the server printed a line that holds @p needle, reading its
 * output only (no SIGUSR1: the server's CPU time is being measured). */
static void srv_wait_line(const world *w, const char *needle) {
  mstls_tstamp until = now_ns() + WAIT_MS * MSTLS_MILLISECONDS;

  while (srv_count_lines(w, needle) == 0) {
    assert_true(now_ns() < until);
    usleep(100 * 1000);
  }
}

/* (b''): no busy wait. The server holds the non-reader's echo back (its
 * backlog full, its socket full) for the 10 s of --stall-timeout. The
 * bound is on the server's CPU time over that wait, not on elapsed time:
 * a server that waits for an event uses almost none whatever the load,
 * while one whose poll() returns at once uses all the CPU it is given
 * (with usrsctp, polling the association's eventfd for POLLOUT did: an
 * eventfd is always writable). */
#define SRV_WAIT_CPU_MAX_MS 1000L

static void t_noreader_cpu(void **state) {
  static world w;
  counters c;
  long cpu0, cpu;
  (void)state;

  world_init(&w, 1);
  srv_start(&w, "--stall-timeout", "10000", "--echo-backlog", "65536", NULL);
  cl_open(&w, 0, CL_NOREAD);
  run_until(&w, noreader_blocked, WAIT_MS);
  assert_int_equal(w.cls[0].state, CL_ECHOING);
  cpu0 = srv_cpu_ms(&w);
  srv_wait_line(&w, "closed (peer takes no data)");
  cpu = srv_cpu_ms(&w) - cpu0;
  fprintf(stderr, "server CPU while the non-reader held it back: %ld ms\n",
          cpu);
  assert_true(cpu < SRV_WAIT_CPU_MAX_MS);
  srv_stop(&w, &c);
  assert_int_equal(c.accepted, 1);
  assert_int_equal(c.stalls, 1);
  assert_int_equal(c.failed, 0);
  world_free(&w);
}

/* (c): --max-assocs 2 and 3 clients. */
static int two_holding(world *w) {
  return count_state(w, 0, 2, CL_HOLDING) + count_state(w, 0, 2, CL_FAILED) ==
         2;
}

static int third_over(world *w) {
  return w->cls[2].state == CL_FAILED || w->cls[2].state == CL_HOLDING;
}

static int holders_closed(world *w) {
  return count_state(w, 0, 2, CL_DONE) + count_state(w, 0, 2, CL_FAILED) == 2;
}

static int max_over(const counters *c) {
  return c->completed >= 2;
}

static void t_max_assocs(void **state) {
  static world w;
  counters c;
  size_t i;
  (void)state;

  world_init(&w, 3);
  srv_start(&w, "--max-assocs", "2", NULL);
  cl_open(&w, 0, CL_HOLD);
  cl_open(&w, 1, CL_HOLD);
  run_until(&w, two_holding, WAIT_MS);
  assert_int_equal(count_state(&w, 0, 2, CL_HOLDING), 2);
  cl_open(&w, 2, CL_HOLD);
  run_until(&w, third_over, WAIT_MS);
  assert_int_equal(w.cls[2].state, CL_FAILED);
  assert_int_equal(w.cls[2].err, MSTLS_E_PEER_GONE);
  for (i = 0; i < 2; i++) {
    w.cls[i].state = CL_CLOSING;
    w.cls[i].ready = 1;
  }
  run_until(&w, holders_closed, WAIT_MS);
  for (i = 0; i < 2; i++)
    if (w.cls[i].state != CL_DONE)
      fprintf(stderr, "client %zu: %s\n", i, mstls_strerror(w.cls[i].err));
  assert_int_equal(count_state(&w, 0, 2, CL_DONE), 2);
  srv_wait_idle(&w, &c, max_over);
  srv_stop(&w, &c);
  assert_int_equal(c.accepted, 2);
  /* One peer, but every COOKIE-ECHO it retransmits before our ABORT
   * reaches it sets up another association, refused as well: how many
   * depends on scheduling, bounded by SCTP. The peer sends at most
   * Max.Init.Retransmits (usrsctp's default, 8) of them after the first. */
  assert_true(c.refused >= 1 && c.refused <= 1 + 8);
  assert_int_equal(c.completed, 2);
  assert_int_equal(c.failed, 0);
  world_free(&w);
}

/* (d): associations waiting to be accepted are bounded in number (the
 * listen backlog) and in the data each may make the server hold (the
 * listener's pending receive buffer), the two knobs sctp-server sets. A
 * listener in this process that never accepts; 12 associations push
 * unsolicited plaintext on a unidirectional stream for as long as SCTP
 * lets them. */
#define PEND_BACKLOG 4
#define PEND_CLIENTS 12
#define PEND_RECV ((size_t)64 << 10)
#define PEND_SNDBUF ((size_t)16 << 10)

/* Every association that took data has some of it unacknowledged. */
static int pend_windows_shut(world *w, const uint64_t *sent) {
  size_t i;
  for (i = 0; i < PEND_CLIENTS; i++) {
    uint32_t chunks = 0;
    if (sent[i] > 0 &&
        (mstls_sctp_assoc_get_outstanding(w->cls[i].a, &chunks) != 0 ||
         chunks == 0))
      return 0;
  }
  return 1;
}

static void t_pending_bounded(void **state) {
  static world w;
  mstls_sctp_config lc, cc;
  mstls_sctp_listener *l = NULL;
  mstls_settings st;
  uint8_t chunk[4096];
  uint64_t sent[PEND_CLIENTS] = {0}, total = 0;
  mstls_tstamp until, quiet;
  size_t i, up = 0;
  uint32_t chunk_count;
  uint16_t lport;
  (void)state;

  world_init(&w, PEND_CLIENTS);
  lport = w.port;
  memset(chunk, 0x5a, sizeof(chunk));
  mstls_sctp_config_default(&lc);
  lc.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  lc.blocking = 0;
  lc.streams_in = 10;
  lc.streams_out = 4; /* streams 4..9 from the client: unidirectional */
  lc.backlog = PEND_BACKLOG;
  lc.pending_recv_buffer = PEND_RECV;
  assert_int_equal(mstls_sctp_listen(&l, &lc, "127.0.0.1", lport), 0);
  mstls_sctp_config_default(&cc);
  cc.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  cc.blocking = 0;
  cc.streams_in = 4;
  cc.streams_out = 10;
  cc.send_buffer = PEND_SNDBUF;
  cc.ready = cl_ready;
  /* This process's own stack is the server: its UDP port is ours. */
  cc.remote_udp_port = (uint16_t)(g_port + 1);
  test_client_settings(&st, 4, MSTLS_POLICY_RESUME);
  for (i = 0; i < PEND_CLIENTS; i++) {
    assert_int_equal(mstls_sctp_connect(&w.cls[i].a, &cc, "127.0.0.1", lport,
                                        &st, NULL, w.cred,
                                        (void *)(uintptr_t)i),
                     0);
    w.cls[i].ready = 1;
  }
  /* Push until nothing more is taken for 1.5 s (at most 60 s): the data
   * each association got in is then what the server holds for it. The
   * quiet time counts from the first chunk taken, and it ends the push
   * only when every association that took data has some of it waiting
   * unacknowledged (its window is shut), so a pause of this process or of
   * the stack's threads on a loaded machine cannot end it early. */
  until = now_ns() + WAIT_MS * MSTLS_MILLISECONDS;
  quiet = 0;
  while (quiet == 0 || now_ns() - quiet < 1500 * MSTLS_MILLISECONDS ||
         !pend_windows_shut(&w, sent)) {
    struct pollfd p = {w.pipefd[0], POLLIN, 0};
    uint32_t ids[256];
    ssize_t n;
    assert_true(now_ns() < until);
    for (i = 0; i < PEND_CLIENTS; i++) {
      if (!w.cls[i].ready)
        continue;
      w.cls[i].ready = 0;
      (void)mstls_sctp_assoc_process(w.cls[i].a);
      while (mstls_sctp_send_plain(w.cls[i].a, 6, 0, chunk, sizeof(chunk)) ==
             0) {
        sent[i] += sizeof(chunk);
        quiet = now_ns();
      }
    }
    (void)poll(&p, 1, 100);
    while ((n = read(w.pipefd[0], ids, sizeof(ids))) > 0) {
      size_t j;
      for (j = 0; j < (size_t)n / sizeof(ids[0]); j++)
        if (ids[j] < PEND_CLIENTS)
          w.cls[ids[j]].ready = 1;
    }
  }
  for (i = 0; i < PEND_CLIENTS; i++) {
    uint32_t chunks = 1;
    int orc = mstls_sctp_assoc_get_outstanding(w.cls[i].a, &chunks);
    /* The data of an association in the backlog waits unacknowledged;
     * an association that is not up has none. */
    if (sent[i] > 0) {
      assert_int_equal(orc, 0);
      assert_true(chunks > 0);
    } else {
      assert_int_equal(orc, MSTLS_E_INVALID_STATE);
      assert_int_equal(chunks, 0);
    }
    up += sent[i] > 0;
    total += sent[i];
    /* Held by the server at most its window, plus our own send buffer,
     * plus what SCTP lets through a closed window (a chunk or two). */
    assert_true(sent[i] <= PEND_RECV + PEND_SNDBUF + 4 * sizeof(chunk));
  }
  fprintf(stderr,
          "%zu of %d associations set up unaccepted, %llu bytes taken in all\n",
          up, PEND_CLIENTS, (unsigned long long)total);
  assert_true(up >= 1);
  assert_true(up <= PEND_BACKLOG + 1);
  assert_int_equal(mstls_sctp_assoc_get_outstanding(NULL, &chunk_count),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_assoc_get_outstanding(w.cls[0].a, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  mstls_sctp_listener_del(l);
  world_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(t_slowloris, teardown),
      cmocka_unit_test_teardown(t_noreader, teardown),
      cmocka_unit_test_teardown(t_noreader_quiet, teardown),
      cmocka_unit_test_teardown(t_noreader_cpu, teardown),
      cmocka_unit_test_teardown(t_max_assocs, teardown),
      cmocka_unit_test_teardown(t_pending_bounded, teardown),
  };
  const char *only = getenv("MSTLS_TEST_FILTER");
  int rc;
  signal(SIGPIPE, SIG_IGN);
  if (only && *only)
    cmocka_set_test_filter(only);
  if (access(tool_path(), X_OK) != 0) {
    printf("skip: no mstls tool at %s\n", tool_path());
    return 77;
  }
  g_port = e2e_pick_port();
  if (g_port == 0 || mstls_sctp_usrsctp_init((uint16_t)(g_port + 1), 0) != 0) {
    printf("no free UDP port pair for usrsctp\n");
    return 1;
  }
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  (void)mstls_sctp_usrsctp_release();
  return rc;
}
