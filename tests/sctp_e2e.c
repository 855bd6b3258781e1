#include "sctp_e2e.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certs.h"
#include "pair.h"

static uint8_t e2e_byte(uint16_t stream, unsigned round, size_t i) {
  return (uint8_t)(i * 13u + stream * 5u + round * 3u + 1u);
}

static void e2e_pattern(uint8_t *buf, size_t len, uint16_t stream,
                        unsigned round) {
  size_t i;
  for (i = 0; i < len; i++)
    buf[i] = e2e_byte(stream, round, i);
}

static int e2e_udp_free(uint16_t port) {
  struct sockaddr_in sin;
  int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

  if (fd < 0)
    return 0;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  rc = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
  close(fd);
  return rc == 0;
}

static unsigned e2e_child_timeout(void);

/* The sessions' handshake timeout follows the children's lifetime: half
 * of it, so that a software-emulated guest under the sanitizers (where the
 * runner raises MSTLS_E2E_TIMEOUT) gets as much more time as the children
 * do; 30 s on the host. */
static void e2e_settings_time(mstls_settings *st) {
  st->handshake_timeout =
      (mstls_tstamp)(e2e_child_timeout() / 2) * MSTLS_SECONDS;
  /* A client's other streams wait for stream 0's ticket this long rather
   * than twice stream 0's measured handshake time: the server always
   * sends one, and a client descheduled on a loaded machine must not
   * miss it and make full handshakes where the cases expect resumption. */
  st->ticket_wait = 10 * MSTLS_SECONDS;
}

uint16_t e2e_pick_port(void) {
  static unsigned next;
  unsigned base = 20000u + ((unsigned)getpid() * 37u) % 30000u;
  unsigned i;

  for (i = 0; i < 200; i++) {
    uint16_t p = (uint16_t)((base + 2u * (next++)) & ~1u);
    if (p > 1024 && e2e_udp_free(p) && e2e_udp_free((uint16_t)(p + 1)))
      return p;
  }
  return 0;
}

int e2e_backend_available(mstls_sctp_backend b) {
  if (b == MSTLS_SCTP_BACKEND_KERNEL && !mstls_sctp_kernel_available()) {
    printf("skip: the kernel has no SCTP (EPROTONOSUPPORT); run in the VM\n");
    return 0;
  }
  return 1;
}

static void e2e_config(mstls_sctp_config *cfg, const e2e_case *c) {
  mstls_sctp_config_default(cfg);
  cfg->backend = c->backend;
  cfg->streams_in = c->streams;
  cfg->streams_out = c->streams;
  cfg->blocking = 1;
  cfg->send_buffer = c->sock_buffer;
  cfg->recv_buffer = c->sock_buffer;
}

static int e2e_server(const e2e_case *c, uint16_t port) {
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;
  mstls_sctp_assoc *a = NULL;
  mstls_credentials *cred = test_server_creds(NULL);
  mstls_settings st;
  mstls_session *s;
  uint8_t *buf = malloc(1u << 20);
  unsigned closed = 0;
  int rc;

  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP &&
      mstls_sctp_usrsctp_init(port, 0) != 0)
    return 10;
  e2e_config(&cfg, c);
  if (c->srv_park_max > 0)
    cfg.park_max = c->srv_park_max;
  test_server_settings(&st, c->streams, c->policy);
  e2e_settings_time(&st);
  if (mstls_sctp_listen(&l, &cfg, "127.0.0.1", port) != 0)
    return 11;
  rc = mstls_sctp_accept(l, &a, &st, NULL, cred, NULL);
  if (rc != 0) {
    fprintf(stderr, "server: accept: %s\n", mstls_strerror(rc));
    return 12;
  }
  s = mstls_sctp_assoc_get_session(a);
  /* Echo every message back on its own stream until all are closed. */
  while (closed < c->streams) {
    uint16_t k = 0;
    long n = mstls_session_recv_any_blocking(s, &k, buf, 1u << 20);
    if (n == 0) {
      closed++;
      continue;
    }
    if (n < 0) {
      fprintf(stderr, "server: recv: %s\n", mstls_strerror((int)n));
      return 13;
    }
    if (mstls_stream_send_blocking(s, k, buf, (size_t)n) != n)
      return 14;
  }
  if (c->srv_park_max > 0) {
    mstls_sctp_stats ast;
    if (mstls_sctp_assoc_get_stats(a, &ast) != 0 ||
        ast.parked_max > c->srv_park_max + 18437u)
      return 15;
  }
  (void)mstls_sctp_assoc_shutdown(a);
  mstls_sctp_assoc_del(a);
  mstls_sctp_listener_del(l);
  mstls_credentials_del(cred);
  free(buf);
  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  return 0;
}

static int e2e_client(const e2e_case *c, uint16_t port) {
  mstls_sctp_config cfg;
  mstls_sctp_assoc *a = NULL;
  mstls_credentials *cred = test_client_creds(NULL, NULL, 0);
  mstls_settings st;
  mstls_session *s;
  uint8_t *src = malloc(c->msg_size + 1), *dst = malloc(c->msg_size + 1);
  unsigned r;
  uint32_t k;
  int rc, i;

  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP &&
      mstls_sctp_usrsctp_init((uint16_t)(port + 1), 0) != 0)
    return 20;
  e2e_config(&cfg, c);
  cfg.remote_udp_port = port;
  test_client_settings(&st, c->streams, c->policy);
  e2e_settings_time(&st);
  /* The server may still be starting: retry a bounded number of times. */
  for (i = 0; i < 50; i++) {
    rc = mstls_sctp_connect(&a, &cfg, "127.0.0.1", port, &st, NULL, cred, NULL);
    if (rc != MSTLS_E_PEER_GONE && rc != MSTLS_E_TRANSPORT)
      break;
    usleep(100 * 1000);
  }
  if (rc != 0) {
    fprintf(stderr, "client: connect: %s\n", mstls_strerror(rc));
    mstls_sctp_assoc_del(a); /* tell the server: SHUTDOWN */
    if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP)
      (void)mstls_sctp_usrsctp_release();
    return 21;
  }
  s = mstls_sctp_assoc_get_session(a);
  if (mstls_session_get_nstreams(s) != c->streams)
    return 22;
  for (r = 0; r < c->rounds; r++) {
    for (k = 0; k < c->streams; k++) {
      size_t got = 0;
      e2e_pattern(src, c->msg_size, (uint16_t)k, r);
      if (mstls_stream_send_blocking(s, (uint16_t)k, src, c->msg_size) !=
          (long)c->msg_size)
        return 23;
      while (got < c->msg_size) {
        long n = mstls_stream_recv_blocking(s, (uint16_t)k, dst + got,
                                            c->msg_size - got);
        if (n <= 0) {
          fprintf(stderr, "client: recv %u: %s\n", k, mstls_strerror((int)n));
          return 24;
        }
        got += (size_t)n;
      }
      if (memcmp(src, dst, c->msg_size) != 0)
        return 25;
    }
  }
  if (c->sock_buffer > 0) {
    mstls_sctp_stats ast;
    if (mstls_sctp_assoc_get_stats(a, &ast) != 0 || ast.parked == 0)
      return 27;
  }
  rc = mstls_sctp_assoc_shutdown(a);
  if (rc != 0)
    return 26;
  /* Wait for the server's SHUTDOWN to complete the association. */
  for (i = 0; i < 100 && mstls_sctp_assoc_process(a) == 0; i++)
    (void)mstls_sctp_assoc_wait(a, 100);
  mstls_sctp_assoc_del(a);
  mstls_credentials_del(cred);
  free(src);
  free(dst);
  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  return 0;
}

/* Event-loop mode -----------------------------------------------------------
 *
 * Each process drives a non-blocking association (config.blocking = 0) from
 * a poll() loop, as an application with its own event loop would: it polls
 * the association's fd (mstls_sctp_assoc_get_fd()) for the events
 * mstls_sctp_assoc_get_events() names (POLLIN, and with kernel SCTP POLLOUT
 * while a record that met a full socket waits), and a wakeup calls
 * mstls_sctp_assoc_process(); the caller then makes progress with the
 * non-blocking session calls until they return MSTLS_E_AGAIN. The poll
 * timeout is the session's next timer deadline, at most one tick. */

#define E2E_TICK_MS 100
#define E2E_CHUNK 16384u /* one TLS record per send */
#define E2E_BUF (1u << 16)

typedef struct e2e_loop {
  mstls_sctp_assoc *a;
  int fd;    /* the association's fd: its socket or usrsctp's eventfd */
  int stale; /* full ticks in a row readable without a wakeup */
  unsigned long wakeups;
  unsigned long ticks;
  unsigned long missed; /* readiness never signalled for ten full ticks */
  unsigned events;      /* bit (1 << event) per mstls_sctp_event seen */
} e2e_loop;

static void e2e_event(mstls_sctp_assoc *a, mstls_sctp_event ev, uint16_t stream,
                      int error, void *user_data) {
  e2e_loop *lp = user_data;

  (void)a;
  (void)stream;
  (void)error;
  if ((unsigned)ev < 32)
    lp->events |= 1u << (unsigned)ev;
}

static int e2e_loop_init(e2e_loop *lp) {
  memset(lp, 0, sizeof(*lp));
  lp->fd = -1;
  return 0;
}

static void e2e_loop_close(e2e_loop *lp, const char *who) {
  if (getenv("MSTLS_E2E_VERBOSE") != NULL)
    fprintf(stderr, "e2e %s: %lu wakeups, %lu ticks, %lu missed\n", who,
            lp->wakeups, lp->ticks, lp->missed);
}

static void e2e_loop_config(mstls_sctp_config *cfg) {
  cfg->blocking = 0;
  cfg->event = e2e_event; /* no ready callback: the fd is enough */
}

/* One event-loop story: both backends give a pollable fd (kernel SCTP its
 * socket, usrsctp an eventfd signalled from its upcalls). */
static int e2e_fd_ok(const e2e_case *c, int fd) {
  (void)c;
  return fd >= 0;
}

static mstls_tstamp e2e_now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (mstls_tstamp)ts.tv_sec * MSTLS_SECONDS + (mstls_tstamp)ts.tv_nsec;
}

/* Milliseconds until the session's next timer, at most one tick. */
static int e2e_loop_timeout(mstls_session *s) {
  mstls_tstamp e, now;

  if (s == NULL)
    return E2E_TICK_MS;
  e = mstls_session_get_expiry(s);
  if (e == MSTLS_TSTAMP_NEVER)
    return E2E_TICK_MS;
  now = e2e_now();
  if (e <= now)
    return 0;
  e = (e - now + MSTLS_MILLISECONDS - 1) / MSTLS_MILLISECONDS;
  return e < E2E_TICK_MS ? (int)e : E2E_TICK_MS;
}

/* The association had work for E2E_STALE_TICKS full ticks (its socket
 * readable, or room for a kept record: mstls_sctp_assoc_wait() says so)
 * and its fd never said so. That would hang a real event loop: count it,
 * then read anyway so that the case ends and reports it. A lost wakeup
 * stays lost (the peer waits for our answer), so ten ticks catch it as
 * surely as two, and a stack thread descheduled between queueing the data
 * and signalling it on a loaded machine is not taken for one. */
#define E2E_STALE_TICKS 10
static int e2e_loop_missed(e2e_loop *lp) {
  if (mstls_sctp_assoc_wait(lp->a, 0) != 0) {
    lp->stale = 0;
    return 0;
  }
  if (++lp->stale < E2E_STALE_TICKS)
    return 0;
  lp->stale = 0;
  lp->missed++;
  return 1;
}

/* Wait for readiness or the next timer, run the due timers, and let the
 * association read what arrived. @return 0, or the association's error. */
static int e2e_loop_step(e2e_loop *lp) {
  mstls_session *s = mstls_sctp_assoc_get_session(lp->a);
  int timeout = e2e_loop_timeout(s);
  struct pollfd p;
  int n;

  /* A send may keep a record that met a full socket and still count its
   * bytes as taken: the association says when to wait for room too. */
  p.fd = lp->fd;
  p.events = (short)mstls_sctp_assoc_get_events(lp->a);
  p.revents = 0;
  do {
    n = poll(&p, 1, timeout);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return MSTLS_E_TRANSPORT;
  if (s != NULL && mstls_session_get_expiry(s) <= e2e_now()) {
    int rc = mstls_session_handle_expiry(s, e2e_now());
    if (rc != 0)
      return rc;
  }
  if (n == 0) {
    lp->ticks++;
    if (timeout < E2E_TICK_MS || !e2e_loop_missed(lp))
      return 0;
  } else {
    lp->wakeups++;
    lp->stale = 0;
  }
  return mstls_sctp_assoc_process(lp->a);
}

/* Wait for a peer on the listener: poll() its fd, on both backends. */
static void e2e_listener_wait(int lfd) {
  struct pollfd p;

  p.fd = lfd;
  p.events = POLLIN;
  p.revents = 0;
  (void)poll(&p, 1, E2E_TICK_MS);
}

/* Close cleanly: close_notify on every stream and the SCTP SHUTDOWN, then
 * read until the association has ended. @return its final error, which is
 * MSTLS_E_CLOSED for a clean end. */
static int e2e_loop_close_assoc(e2e_loop *lp) {
  int rc;

  for (;;) {
    rc = mstls_sctp_assoc_shutdown(lp->a);
    if (rc != MSTLS_E_AGAIN)
      break;
    rc = e2e_loop_step(lp);
    if (rc != 0)
      return rc;
  }
  if (rc != 0)
    return rc;
  while ((rc = e2e_loop_step(lp)) == 0)
    ;
  return rc;
}

/* Bytes [off, off + len) of stream @p k: the messages of e2e_pattern, one
 * round after the other. */
static void e2e_fill(uint8_t *buf, size_t len, uint16_t k, uint64_t off,
                     size_t msg_size) {
  size_t i;

  for (i = 0; i < len; i++, off++)
    buf[i] = e2e_byte(k, (unsigned)(off / msg_size), (size_t)(off % msg_size));
}

/* Client: send what each stream still has, until done or MSTLS_E_AGAIN. A
 * send that returned MSTLS_E_AGAIN is repeated with the same bytes. */
static int e2e_client_send(mstls_session *s, const e2e_case *c, uint64_t *sent,
                           uint8_t *buf) {
  uint64_t total = (uint64_t)c->msg_size * c->rounds;
  uint32_t k;

  for (k = 0; k < c->streams; k++) {
    while (sent[k] < total) {
      uint64_t left = total - sent[k];
      size_t len = left < E2E_CHUNK ? (size_t)left : E2E_CHUNK;
      long n;

      e2e_fill(buf, len, (uint16_t)k, sent[k], c->msg_size);
      n = mstls_stream_send(s, (uint16_t)k, buf, len);
      if (n == MSTLS_E_AGAIN)
        break; /* handshaking (LAZY), or a full transport */
      if (n < 0) {
        fprintf(stderr, "client: send %u: %s\n", k, mstls_strerror((int)n));
        return -1;
      }
      sent[k] += (uint64_t)n;
    }
  }
  return 0;
}

/* Client: read every echo there is and check it byte for byte. */
static int e2e_client_recv(mstls_session *s, const e2e_case *c,
                           uint64_t *echoed, uint32_t *done, uint8_t *buf,
                           uint8_t *want) {
  uint64_t total = (uint64_t)c->msg_size * c->rounds;

  for (;;) {
    uint16_t k = 0;
    long n = mstls_session_recv_any(s, &k, buf, E2E_BUF);

    if (n == MSTLS_E_AGAIN)
      return 0;
    if (n <= 0) {
      fprintf(stderr, "client: recv %u: %s\n", k,
              n == 0 ? "closed early" : mstls_strerror((int)n));
      return -1;
    }
    if (k >= c->streams || echoed[k] + (uint64_t)n > total) {
      fprintf(stderr, "client: %ld unexpected bytes on %u\n", n, k);
      return -1;
    }
    e2e_fill(want, (size_t)n, k, echoed[k], c->msg_size);
    if (memcmp(buf, want, (size_t)n) != 0) {
      fprintf(stderr, "client: stream %u differs after %llu bytes\n", k,
              (unsigned long long)echoed[k]);
      return -1;
    }
    echoed[k] += (uint64_t)n;
    if (echoed[k] == total)
      (*done)++;
  }
}

/* Client: open the association and wait until it is up. The server may
 * still be starting: retry a bounded number of times. */
static int e2e_client_open(e2e_loop *lp, const e2e_case *c, uint16_t port,
                           const mstls_settings *st, mstls_credentials *cred) {
  mstls_sctp_config cfg;
  int rc = 0, i;

  e2e_config(&cfg, c);
  e2e_loop_config(&cfg);
  cfg.remote_udp_port = port;
  for (i = 0; i < 50; i++) {
    if (i > 0)
      usleep(100 * 1000);
    lp->events = 0;
    rc =
        mstls_sctp_connect(&lp->a, &cfg, "127.0.0.1", port, st, NULL, cred, lp);
    if (rc != 0)
      return rc;
    lp->fd = mstls_sctp_assoc_get_fd(lp->a);
    if (!e2e_fd_ok(c, lp->fd))
      return MSTLS_E_INVALID_STATE;
    /* Readiness from before the association existed was never signalled:
     * read once before waiting. */
    rc = mstls_sctp_assoc_process(lp->a);
    while (rc == 0 && mstls_sctp_assoc_get_session(lp->a) == NULL)
      rc = e2e_loop_step(lp);
    if (rc != MSTLS_E_PEER_GONE)
      break;
    mstls_sctp_assoc_del(lp->a);
    lp->a = NULL;
  }
  return rc;
}

static int e2e_client_loop(const e2e_case *c, uint16_t port) {
  e2e_loop lp;
  mstls_credentials *cred = test_client_creds(NULL, NULL, 0);
  mstls_settings st;
  mstls_session *s;
  uint64_t *sent = calloc(c->streams, sizeof(*sent));
  uint64_t *echoed = calloc(c->streams, sizeof(*echoed));
  uint8_t *buf = malloc(E2E_BUF), *want = malloc(E2E_BUF);
  uint32_t done = 0;
  int rc;

  if (cred == NULL || sent == NULL || echoed == NULL || buf == NULL ||
      want == NULL || e2e_loop_init(&lp) != 0)
    return 60;
  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP &&
      mstls_sctp_usrsctp_init((uint16_t)(port + 1), 0) != 0)
    return 61;
  test_client_settings(&st, c->streams, c->policy);
  e2e_settings_time(&st);
  rc = e2e_client_open(&lp, c, port, &st, cred);
  if (rc != 0) {
    fprintf(stderr, "client: connect: %s\n", mstls_strerror(rc));
    return 62;
  }
  s = mstls_sctp_assoc_get_session(lp.a);
  if (mstls_session_get_nstreams(s) != c->streams)
    return 63;
  while ((rc = mstls_session_handshake(s)) == MSTLS_E_AGAIN) {
    rc = e2e_loop_step(&lp);
    if (rc != 0)
      break;
  }
  if (rc != 0) {
    fprintf(stderr, "client: handshake: %s\n", mstls_strerror(rc));
    return 64;
  }
  /* Every stream sends all its rounds at once and checks its echo. */
  for (;;) {
    if (e2e_client_send(s, c, sent, buf) != 0)
      return 65;
    if (e2e_client_recv(s, c, echoed, &done, buf, want) != 0)
      return 66;
    if (done == c->streams)
      break;
    rc = e2e_loop_step(&lp);
    if (rc != 0) {
      fprintf(stderr, "client: process: %s\n", mstls_strerror(rc));
      return 67;
    }
  }
  rc = e2e_loop_close_assoc(&lp);
  if (rc != MSTLS_E_CLOSED) {
    fprintf(stderr, "client: close: %s\n", mstls_strerror(rc));
    return 68;
  }
  /* The loop waited for readiness and was woken by it, every time. */
  if (lp.wakeups == 0 || lp.missed != 0 ||
      (lp.events & (1u << MSTLS_SCTP_EVENT_COMM_LOST)))
    return 69;
  mstls_sctp_assoc_del(lp.a);
  e2e_loop_close(&lp, "client");
  mstls_credentials_del(cred);
  free(sent);
  free(echoed);
  free(buf);
  free(want);
  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  return 0;
}

/* Server: bytes received on one stream and not yet echoed. */
typedef struct e2e_queue {
  uint8_t *data;
  size_t off;
  size_t len;
  size_t cap;
  size_t again; /* length of a send that returned MSTLS_E_AGAIN, or 0 */
} e2e_queue;

static int e2e_queue_put(e2e_queue *q, const uint8_t *d, size_t n) {
  if (q->len + n > q->cap && q->off > 0) {
    memmove(q->data, q->data + q->off, q->len - q->off);
    q->len -= q->off;
    q->off = 0;
  }
  if (q->len + n > q->cap) {
    size_t cap = 2 * (q->len + n);
    uint8_t *nd = realloc(q->data, cap);
    if (nd == NULL)
      return -1;
    q->data = nd;
    q->cap = cap;
  }
  memcpy(q->data + q->len, d, n);
  q->len += n;
  return 0;
}

/* Server: queue everything received; count the streams the client closed. */
static int e2e_server_recv(mstls_session *s, const e2e_case *c, e2e_queue *q,
                           uint8_t *buf, uint32_t *closed) {
  for (;;) {
    uint16_t k = 0;
    long n = mstls_session_recv_any(s, &k, buf, E2E_BUF);

    if (n == MSTLS_E_AGAIN)
      return 0;
    if (n < 0 || k >= c->streams) {
      fprintf(stderr, "server: recv %u: %s\n", k, mstls_strerror((int)n));
      return -1;
    }
    if (n == 0)
      (*closed)++;
    else if (e2e_queue_put(&q[k], buf, (size_t)n) != 0)
      return -1;
  }
}

/* Server: echo what is queued, until done or MSTLS_E_AGAIN. A send that
 * returned MSTLS_E_AGAIN is repeated with the same bytes and length. */
static int e2e_server_send(mstls_session *s, const e2e_case *c, e2e_queue *q) {
  uint32_t k;

  for (k = 0; k < c->streams; k++) {
    while (q[k].off < q[k].len) {
      size_t left = q[k].len - q[k].off;
      size_t len = q[k].again         ? q[k].again
                   : left < E2E_CHUNK ? left
                                      : E2E_CHUNK;
      long n = mstls_stream_send(s, (uint16_t)k, q[k].data + q[k].off, len);

      if (n == MSTLS_E_AGAIN) {
        q[k].again = len;
        break;
      }
      if (n < 0) {
        fprintf(stderr, "server: send %u: %s\n", k, mstls_strerror((int)n));
        return -1;
      }
      q[k].again = 0;
      q[k].off += (size_t)n;
    }
  }
  return 0;
}

static int e2e_server_loop(const e2e_case *c, uint16_t port) {
  e2e_loop lp;
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;
  mstls_credentials *cred = test_server_creds(NULL);
  mstls_settings st;
  mstls_session *s;
  e2e_queue *q = calloc(c->streams, sizeof(*q));
  uint8_t *buf = malloc(E2E_BUF);
  uint32_t closed = 0, k;
  int handshaken = 0;
  int rc, lfd;

  if (cred == NULL || q == NULL || buf == NULL || e2e_loop_init(&lp) != 0)
    return 40;
  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP &&
      mstls_sctp_usrsctp_init(port, 0) != 0)
    return 41;
  e2e_config(&cfg, c);
  e2e_loop_config(&cfg);
  test_server_settings(&st, c->streams, c->policy);
  e2e_settings_time(&st);
  if (mstls_sctp_listen(&l, &cfg, "127.0.0.1", port) != 0)
    return 42;
  lfd = mstls_sctp_listener_get_fd(l);
  if (!e2e_fd_ok(c, lfd))
    return 43;
  while ((rc = mstls_sctp_accept(l, &lp.a, &st, NULL, cred, &lp)) ==
         MSTLS_E_AGAIN)
    e2e_listener_wait(lfd);
  if (rc != 0) {
    fprintf(stderr, "server: accept: %s\n", mstls_strerror(rc));
    return 44;
  }
  lp.fd = mstls_sctp_assoc_get_fd(lp.a);
  if (!e2e_fd_ok(c, lp.fd))
    return 45;
  /* What arrived before the ready callback was installed was never
   * signalled: read once before waiting. */
  rc = mstls_sctp_assoc_process(lp.a);
  for (;;) {
    s = mstls_sctp_assoc_get_session(lp.a);
    if (s != NULL && rc == 0 && !handshaken) {
      int hs = mstls_session_handshake(s);
      if (hs != 0 && hs != MSTLS_E_AGAIN) {
        fprintf(stderr, "server: handshake: %s\n", mstls_strerror(hs));
        return 46;
      }
      handshaken = hs == 0;
    }
    /* What was read before the association ended is still delivered. */
    if (s != NULL && e2e_server_recv(s, c, q, buf, &closed) != 0)
      return 47;
    if (s != NULL && rc == 0 && e2e_server_send(s, c, q) != 0)
      return 48;
    if (rc != 0 || closed == c->streams)
      break;
    rc = e2e_loop_step(&lp);
  }
  if ((rc != 0 && rc != MSTLS_E_CLOSED) || closed != c->streams) {
    fprintf(stderr, "server: %u of %u streams closed: %s\n", closed, c->streams,
            mstls_strerror(rc));
    return 49;
  }
  /* The client closed every stream and shuts the association down (its
   * SHUTDOWN may still be in flight): read until the association ends. */
  while (rc == 0)
    rc = e2e_loop_step(&lp);
  if (rc != MSTLS_E_CLOSED) {
    fprintf(stderr, "server: close: %s\n", mstls_strerror(rc));
    return 50;
  }
  if (lp.wakeups == 0 || lp.missed != 0 ||
      (lp.events & (1u << MSTLS_SCTP_EVENT_COMM_LOST)))
    return 51;
  mstls_sctp_assoc_del(lp.a);
  mstls_sctp_listener_del(l);
  e2e_loop_close(&lp, "server");
  mstls_credentials_del(cred);
  for (k = 0; k < c->streams; k++)
    free(q[k].data);
  free(q);
  free(buf);
  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  return 0;
}

/* Seconds a child may live. A software-emulated guest under the sanitizers
 * is far slower than the host: the VM runner raises this through
 * MSTLS_E2E_TIMEOUT. */
static unsigned e2e_child_timeout(void) {
  const char *v = getenv("MSTLS_E2E_TIMEOUT");
  long n = v ? strtol(v, NULL, 10) : 0;
  return n > 0 && n < 3600 ? (unsigned)n : 60;
}

static pid_t e2e_spawn(int (*fn)(const e2e_case *, uint16_t), const e2e_case *c,
                       uint16_t port) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(e2e_child_timeout()); /* never outlive the test */
    _exit(fn(c, port));
  }
  return pid;
}

/* Reap @p n children, bounded by the children's own limit plus 10 s, then
 * kill what is left. @return 0 if every child exited 0. */
static int e2e_reap(const pid_t *pids, int *codes, int n) {
  unsigned t, ticks = (e2e_child_timeout() + 10) * 100;
  int left = n, i, bad = 0;

  for (i = 0; i < n; i++)
    codes[i] = -1;
  for (t = 0; t < ticks && left > 0; t++) {
    for (i = 0; i < n; i++) {
      int st;
      if (codes[i] != -1 || pids[i] <= 0)
        continue;
      if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
        codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
        left--;
      }
    }
    if (left > 0)
      usleep(10 * 1000);
  }
  for (i = 0; i < n; i++) {
    if (codes[i] == -1 && pids[i] > 0) {
      kill(pids[i], SIGKILL);
      (void)waitpid(pids[i], NULL, 0);
      codes[i] = 99;
    }
    bad |= codes[i] != 0;
  }
  return bad;
}

int e2e_run(const e2e_case *c) {
  uint16_t port = e2e_pick_port();
  pid_t pids[2];
  int codes[2];

  if (port == 0)
    return 1;
  /* One PKI for both processes: build it before forking. */
  if (test_pki_get() == NULL)
    return 1;
  fflush(NULL);
  pids[0] = e2e_spawn(c->event_loop ? e2e_server_loop : e2e_server, c, port);
  pids[1] = e2e_spawn(c->event_loop ? e2e_client_loop : e2e_client, c, port);
  if (e2e_reap(pids, codes, 2) == 0)
    return 0;
  fprintf(stderr, "e2e: server exit %d, client exit %d\n", codes[0], codes[1]);
  return 1;
}

/* A fleet: two server processes that share nothing but a ticket key, and a
 * client process that resumes on the second every stream of an
 * association it made with the first (RFC 3436 §8, fourth example). */

static uint16_t fleet_port[2];

static void fleet_key(uint8_t *key) {
  memset(key, 0x5a, MSTLS_TICKET_KEY_SIZE);
}

static int e2e_fleet_server(const e2e_case *c, uint16_t port) {
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;
  mstls_sctp_assoc *a = NULL;
  mstls_credentials *cred = test_server_creds(NULL);
  uint8_t key[MSTLS_TICKET_KEY_SIZE], buf[256];
  mstls_settings st;
  mstls_session *s;
  unsigned closed = 0, resumed = 0, want;
  uint16_t k;
  int rc;

  fleet_key(key);
  if (mstls_credentials_set_ticket_key(cred, key, sizeof(key)) != 0)
    return 30;
  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP &&
      mstls_sctp_usrsctp_init(port, 0) != 0)
    return 31;
  e2e_config(&cfg, c);
  test_server_settings(&st, c->streams, c->policy);
  e2e_settings_time(&st);
  if (mstls_sctp_listen(&l, &cfg, "127.0.0.1", port) != 0)
    return 32;
  rc = mstls_sctp_accept(l, &a, &st, NULL, cred, NULL);
  if (rc != 0) {
    fprintf(stderr, "fleet server %u: accept: %s\n", port, mstls_strerror(rc));
    return 33;
  }
  s = mstls_sctp_assoc_get_session(a);
  while (closed < c->streams) {
    long n = mstls_session_recv_any_blocking(s, &k, buf, sizeof(buf));
    if (n == 0) {
      closed++;
      continue;
    }
    if (n < 0 || mstls_stream_send_blocking(s, k, buf, (size_t)n) != n)
      return 34;
  }
  for (k = 0; k < c->streams; k++) {
    mstls_stream_info info;
    if (mstls_stream_get_info(s, k, &info) == 0 && info.resumed)
      resumed++;
  }
  /* The first server makes the session; the second resumes it on every
   * stream, stream 0 included, without ever having seen it. */
  want = port == fleet_port[0] ? c->streams - 1u : c->streams;
  if (resumed != want) {
    fprintf(stderr, "fleet server %u: %u of %u streams resumed, want %u\n",
            port, resumed, c->streams, want);
    return 35;
  }
  (void)mstls_sctp_assoc_shutdown(a);
  mstls_sctp_assoc_del(a);
  mstls_sctp_listener_del(l);
  mstls_credentials_del(cred);
  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  return 0;
}

/* Connect (retrying while the server starts), echo once on every stream,
 * take the resumption data, close. @return 0 or an exit code. */
static int fleet_association(const e2e_case *c, uint16_t port,
                             mstls_credentials *cred, const uint8_t *in,
                             size_t in_len, uint8_t *out, size_t *out_len,
                             uint32_t *full) {
  mstls_sctp_config cfg;
  mstls_sctp_assoc *a = NULL;
  mstls_session_stats ss;
  mstls_settings st;
  mstls_session *s;
  char msg[16], got[16];
  uint16_t k;
  int rc = MSTLS_E_PEER_GONE, i;

  e2e_config(&cfg, c);
  cfg.remote_udp_port = port;
  test_client_settings(&st, c->streams, c->policy);
  e2e_settings_time(&st);
  st.resumption_data = in;
  st.resumption_data_len = in_len;
  for (i = 0; i < 50; i++) {
    rc = mstls_sctp_connect(&a, &cfg, "127.0.0.1", port, &st, NULL, cred, NULL);
    if (rc != MSTLS_E_PEER_GONE && rc != MSTLS_E_TRANSPORT)
      break;
    mstls_sctp_assoc_del(a);
    a = NULL;
    usleep(100 * 1000);
  }
  if (rc != 0) {
    fprintf(stderr, "fleet client: connect %u: %s\n", port, mstls_strerror(rc));
    mstls_sctp_assoc_del(a);
    return 40;
  }
  s = mstls_sctp_assoc_get_session(a);
  for (k = 0; k < c->streams; k++) {
    int len = snprintf(msg, sizeof(msg), "s%u", k);
    if (mstls_stream_send_blocking(s, k, msg, (size_t)len) != len ||
        mstls_stream_recv_blocking(s, k, got, sizeof(got)) != len ||
        memcmp(msg, got, (size_t)len) != 0)
      return 41;
  }
  if (mstls_session_get_stats(s, &ss) != 0)
    return 42;
  *full = ss.full_handshakes;
  if (out && mstls_session_get_resumption_data(s, out, out_len) != 0)
    return 43;
  if (mstls_sctp_assoc_shutdown(a) != 0)
    return 44;
  for (i = 0; i < 100 && mstls_sctp_assoc_process(a) == 0; i++)
    (void)mstls_sctp_assoc_wait(a, 100);
  mstls_sctp_assoc_del(a);
  return 0;
}

static int e2e_fleet_client(const e2e_case *c, uint16_t port) {
  mstls_credentials *cred = test_client_creds(NULL, NULL, 0);
  uint8_t blob[8192];
  size_t len = sizeof(blob);
  uint32_t full1 = 0, full2 = 0;
  int rc;

  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP &&
      mstls_sctp_usrsctp_init((uint16_t)(port + 1), 0) != 0)
    return 45;
  rc = fleet_association(c, fleet_port[0], cred, NULL, 0, blob, &len, &full1);
  if (rc == 0)
    rc = fleet_association(c, fleet_port[1], cred, blob, len, NULL, NULL,
                           &full2);
  if (rc == 0 && (full1 != 1 || full2 != 0)) {
    fprintf(stderr, "fleet client: full handshakes %u then %u, want 1, 0\n",
            full1, full2);
    rc = 46;
  }
  mstls_credentials_del(cred);
  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  return rc;
}

int e2e_run_fleet(mstls_sctp_backend backend, uint16_t streams) {
  e2e_case c = {backend, streams, MSTLS_POLICY_RESUME, 4, 1, 0, 0, 0};
  pid_t pids[3];
  int codes[3];

  fleet_port[0] = e2e_pick_port();
  fleet_port[1] = e2e_pick_port();
  if (fleet_port[0] == 0 || fleet_port[1] == 0 || test_pki_get() == NULL)
    return 1;
  fflush(NULL);
  pids[0] = e2e_spawn(e2e_fleet_server, &c, fleet_port[0]);
  pids[1] = e2e_spawn(e2e_fleet_server, &c, fleet_port[1]);
  pids[2] = e2e_spawn(e2e_fleet_client, &c, fleet_port[0]);
  if (e2e_reap(pids, codes, 3) == 0)
    return 0;
  fprintf(stderr, "fleet: servers exit %d, %d, client exit %d\n", codes[0],
          codes[1], codes[2]);
  return 1;
}
