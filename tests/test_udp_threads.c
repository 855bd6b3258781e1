/* DTLS server workers in threads, as docs/scale-out.md describes them, on
 * real loopback sockets; meant to run under ThreadSanitizer.
 *
 * Two worker threads, each with its own mstls_udp_loop bound with
 * MSTLS_UDP_REUSEPORT to one 127.0.0.1 port, share one credentials object
 * and the keys of one mstls_fleet, and echo application data. Four client
 * threads (one client credentials object shared by all) each connect three
 * times in a row, every time from a new loop and so a new source port,
 * which the kernel hashes to either worker: the first connection makes a
 * full handshake, the later ones resume with the previous connection's
 * resumption data (mstls_udp_loop_connect2()), on whichever worker gets
 * them. Meanwhile the main thread replaces the server credentials twice
 * (new credentials handed to each worker under a mutex; the worker applies
 * them in its own thread with mstls_udp_endpoint_set_credentials() and
 * drops its reference, so the old credentials die with the last peer that
 * uses them, in whichever thread that is) and changes the log callback
 * (mstls_set_log()) while lines are being logged.
 *
 * Deterministic under load: no wall-clock threshold decides the outcome.
 * Each client's second and third connections wait (on a condition
 * variable) until every worker has applied the next credentials and the
 * log callback has been switched, so every replacement is applied and
 * both callbacks see lines in every run; when exactly the replacement
 * falls inside the handshakes in flight is left to the scheduler. Every
 * credentials object carries the fleet's ticket key, so each resumption
 * succeeds whichever worker and credentials it meets. Lost loopback
 * datagrams are covered by DTLS retransmission during handshakes and by
 * the client sending its message again while no echo came back (the
 * server echoes every copy). Waits are bounded only by a 60 s deadline
 * that catches a hang; threads never call cmocka's assertions (they record
 * failures, which the main thread checks after joining them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mstls/udp.h>

#include "certs.h"

#define NWORKERS 2
#define NCLIENTS 4
#define NCONNS 3 /* connections per client; credentials replaced NCONNS-1 */
#define NTOTAL (NCLIENTS * NCONNS)
#define MSG_LEN 700
#define SERVER_NAME "server.test"
#define DEADLINE_S 60
#define POLL_MS 100 /* longest wait of one loop turn */
#define RESEND_AFTER (1000 * MSTLS_MILLISECONDS)

/* ---- failures recorded by any thread, checked by the main thread ---- */

static unsigned g_failures; /* atomic */
static char g_first_failure[256];
static pthread_mutex_t g_fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void failed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void failed(const char *fmt, ...) {
  va_list ap;
  if (__atomic_fetch_add(&g_failures, 1, __ATOMIC_SEQ_CST) != 0) {
    return;
  }
  pthread_mutex_lock(&g_fail_lock);
  va_start(ap, fmt);
  vsnprintf(g_first_failure, sizeof(g_first_failure), fmt, ap);
  va_end(ap);
  pthread_mutex_unlock(&g_fail_lock);
}

/* ---- progress: what the main thread and the clients wait for ---- */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond;
static struct timespec g_deadline;   /* CLOCK_MONOTONIC */
static unsigned g_started[NCONNS];   /* clients that started connection k */
static unsigned g_applied[NWORKERS]; /* credentials a worker applied */
static unsigned g_phase;             /* replacements every worker has applied */

/* Which worker completed a handshake with which client port; lets the
 * report tell how many resumptions ran on another worker than the session
 * they resumed came from. Under g_lock. */
static struct {
  uint16_t port;
  unsigned worker;
} g_served[4 * NTOTAL];
static unsigned g_nserved;

static void sync_init(void) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&g_cond, &a);
  pthread_condattr_destroy(&a);
  clock_gettime(CLOCK_MONOTONIC, &g_deadline);
  g_deadline.tv_sec += DEADLINE_S;
}

/* Wait (g_lock held) until *@p v >= @p want. @return 0, -1 at the
 * deadline. */
static int wait_for(const unsigned *v, unsigned want) {
  while (*v < want) {
    if (pthread_cond_timedwait(&g_cond, &g_lock, &g_deadline) == ETIMEDOUT) {
      return *v >= want ? 0 : -1;
    }
  }
  return 0;
}

static void bump(unsigned *v) {
  pthread_mutex_lock(&g_lock);
  (*v)++;
  pthread_cond_broadcast(&g_cond);
  pthread_mutex_unlock(&g_lock);
}

static int past_deadline(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec > g_deadline.tv_sec ||
         (now.tv_sec == g_deadline.tv_sec && now.tv_nsec >= g_deadline.tv_nsec);
}

/* ---- the log callback, changed while the workers log ---- */

typedef struct log_sink {
  const char *name;
  unsigned long lines; /* atomic */
} log_sink;

static log_sink g_log_a = {"a", 0}, g_log_b = {"b", 0};
static unsigned long g_log_mismatch; /* atomic: a callback got another's
                                        user data */

static void log_line(log_sink *own, int level, const char *line, void *ud) {
  if (ud != own) {
    __atomic_add_fetch(&g_log_mismatch, 1, __ATOMIC_SEQ_CST);
    return;
  }
  if (level < MSTLS_LOG_ERROR || level > MSTLS_LOG_INFO || line[0] == '\0') {
    failed("log %s: level %d line '%s'", own->name, level, line);
  }
  __atomic_add_fetch(&own->lines, 1, __ATOMIC_SEQ_CST);
}

static void log_a(int level, const char *line, void *ud) {
  log_line(&g_log_a, level, line, ud);
}

static void log_b(int level, const char *line, void *ud) {
  log_line(&g_log_b, level, line, ud);
}

/* ---- server workers ---- */

static mstls_fleet *g_fleet;
static int g_stop_pipe[2] = {-1, -1};
static int g_stop; /* atomic */

/* New credentials for the workers: each takes them in its own thread
 * and drops its reference; the last one drops the credentials. */
typedef struct keys {
  mstls_credentials *cred;
  unsigned refs; /* atomic */
} keys;

static void keys_put(keys *k) {
  if (k && __atomic_sub_fetch(&k->refs, 1, __ATOMIC_SEQ_CST) == 0) {
    mstls_credentials_del(k->cred);
    free(k);
  }
}

typedef struct worker {
  unsigned index;
  pthread_t th;
  int started;
  mstls_udp_loop *loop;
  pthread_mutex_t lock;
  keys *pending; /* under lock */
  /* Only the worker's thread touches these until it is joined. */
  uint64_t echoed;
  int bad_closes;
} worker;

static worker g_w[NWORKERS];

static void s_recv(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *peer,
                   const uint8_t *data, size_t len, void *ud) {
  worker *w = ud;
  long rv;
  (void)ep;
  (void)f;
  rv = mstls_udp_peer_send(peer, data, len);
  if (rv != (long)len) {
    failed("worker %u: echo of %zu bytes: %ld", w->index, len, rv);
    return;
  }
  w->echoed++;
}

static void s_done(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *peer,
                   void *ud) {
  worker *w = ud;
  const struct sockaddr *sa;
  socklen_t len;
  (void)ep;
  (void)f;
  sa = mstls_udp_peer_get_addr(peer, &len);
  pthread_mutex_lock(&g_lock);
  if (sa && sa->sa_family == AF_INET && g_nserved < 4 * NTOTAL) {
    g_served[g_nserved].port =
        ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    g_served[g_nserved++].worker = w->index;
  }
  pthread_mutex_unlock(&g_lock);
}

static void s_closed(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *peer,
                     int reason, void *ud) {
  worker *w = ud;
  (void)ep;
  (void)f;
  (void)peer;
  /* close_notify (0), or a client port used again while the peer of its
   * earlier connection still lingered (MSTLS_E_PEER_GONE). */
  if (reason != 0 && reason != MSTLS_E_PEER_GONE) {
    w->bad_closes++;
    failed("worker %u: peer closed: %s", w->index, mstls_strerror(reason));
  }
}

/* In the worker's thread: apply the credentials the main thread left. */
static void worker_take_keys(worker *w) {
  mstls_udp_endpoint *ep = mstls_udp_loop_get_endpoint(w->loop);
  keys *k;
  int rv;
  pthread_mutex_lock(&w->lock);
  k = w->pending;
  w->pending = NULL;
  pthread_mutex_unlock(&w->lock);
  if (!k) {
    return;
  }
  if ((rv = mstls_udp_endpoint_set_fleet(ep, g_fleet)) < 0 ||
      (rv = mstls_udp_endpoint_set_credentials(ep, k->cred)) < 0) {
    failed("worker %u: new keys: %s", w->index, mstls_strerror(rv));
  }
  keys_put(k);
  bump(&g_applied[w->index]);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  mstls_udp_endpoint *ep = mstls_udp_loop_get_endpoint(w->loop);
  while (!__atomic_load_n(&g_stop, __ATOMIC_SEQ_CST)) {
    struct pollfd pfd[2];
    mstls_tstamp now = mstls_udp_now(), exp = mstls_udp_endpoint_get_expiry(ep);
    int wait = POLL_MS, rv = 0;
    if (exp != MSTLS_TSTAMP_NEVER) {
      mstls_tstamp d = exp > now ? exp - now : 0;
      if (d < (mstls_tstamp)POLL_MS * MSTLS_MILLISECONDS) {
        wait = (int)((d + MSTLS_MILLISECONDS - 1) / MSTLS_MILLISECONDS);
      }
    }
    pfd[0].fd = mstls_udp_loop_get_fd(w->loop);
    pfd[0].events = POLLIN;
    pfd[0].revents = 0;
    pfd[1].fd = g_stop_pipe[0];
    pfd[1].events = POLLIN;
    pfd[1].revents = 0;
    if (poll(pfd, 2, wait) < 0 && errno != EINTR) {
      failed("worker %u: poll: %s", w->index, strerror(errno));
      break;
    }
    worker_take_keys(w);
    if (pfd[0].revents) {
      rv = mstls_udp_loop_read(w->loop); /* runs due timers too */
    } else {
      rv = mstls_udp_endpoint_handle_expiry(ep, mstls_udp_now());
    }
    if (rv < 0) {
      failed("worker %u: %s", w->index, mstls_strerror(rv));
      break;
    }
  }
  return NULL;
}

/* Hand @p cred to every worker and drop the caller's reference. */
static void workers_give(mstls_credentials *cred) {
  keys *k = calloc(1, sizeof(*k)), *old;
  unsigned i;
  assert_non_null(k);
  k->cred = cred;
  k->refs = NWORKERS;
  for (i = 0; i < NWORKERS; i++) {
    pthread_mutex_lock(&g_w[i].lock);
    old = g_w[i].pending;
    g_w[i].pending = k;
    pthread_mutex_unlock(&g_w[i].lock);
    keys_put(old); /* never taken: the newer keys replace them */
  }
}

static void workers_stop(void) {
  static const char b = 1;
  if (!__atomic_exchange_n(&g_stop, 1, __ATOMIC_SEQ_CST)) {
    assert_int_equal(write(g_stop_pipe[1], &b, 1), 1);
  }
}

/* Server credentials of one generation: the test certificate and the
 * fleet's ticket key. */
static mstls_credentials *server_creds(void) {
  mstls_credentials *c = test_server_creds(NULL);
  assert_non_null(c);
  assert_int_equal(mstls_credentials_set_fleet(c, g_fleet), 0);
  return c;
}

/* ---- clients ---- */

typedef struct client {
  unsigned index;
  pthread_t th;
  /* Only the client's thread touches these until it is joined. */
  mstls_udp_peer *peer;
  int conn;
  int open, echoed, closed;
  uint8_t msg[MSG_LEN];
  uint8_t rdata[4096];
  size_t rdata_len;
  int resumed[NCONNS];
  unsigned worker[NCONNS]; /* which worker served each connection */
} client;

static mstls_credentials *g_ccred;
static struct sockaddr_storage g_server;
static socklen_t g_server_len;
static client g_c[NCLIENTS];

static void c_done(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *peer,
                   void *ud) {
  client *c = ud;
  (void)ep;
  (void)f;
  (void)peer;
  c->open = 1;
}

static void c_recv(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *peer,
                   const uint8_t *data, size_t len, void *ud) {
  client *c = ud;
  (void)ep;
  (void)f;
  (void)peer;
  if (len != MSG_LEN || memcmp(data, c->msg, MSG_LEN) != 0) {
    failed("client %u connection %d: echo of %zu bytes differs", c->index,
           c->conn, len);
    return;
  }
  c->echoed = 1;
}

static void c_closed(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *peer,
                     int reason, void *ud) {
  client *c = ud;
  char detail[MSTLS_DETAIL_MAX];
  (void)ep;
  (void)f;
  detail[0] = '\0';
  (void)mstls_udp_peer_get_error_detail(peer, detail, sizeof(detail));
  if (reason != MSTLS_E_CLOSED) {
    failed("client %u connection %d: closed: %s (%s)", c->index, c->conn,
           mstls_strerror(reason), detail);
  }
  c->closed = 1;
  c->peer = NULL;
}

/* The worker that completed the handshake with client port @p port (the
 * latest one, should the port have been used before). */
static unsigned served_by(uint16_t port) {
  unsigned i, w = NWORKERS;
  pthread_mutex_lock(&g_lock);
  for (i = 0; i < g_nserved; i++) {
    if (g_served[i].port == port) {
      w = g_served[i].worker;
    }
  }
  pthread_mutex_unlock(&g_lock);
  return w;
}

/* One connection: handshake (resuming after the first), the message and
 * its echo, close. @return 0, -1 (failure recorded). */
static int client_connect(client *c) {
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_udp_loop *loop = NULL;
  mstls_udp_peer_info info;
  struct sockaddr_in any;
  struct sockaddr_storage local;
  socklen_t local_len;
  mstls_tstamp sent = 0;
  size_t i;
  int rv, k = c->conn;

  for (i = 0; i < MSG_LEN; i++) {
    c->msg[i] = (uint8_t)(c->index * 31u + (unsigned)k * 7u + i * 13u);
  }
  c->open = c->echoed = c->closed = 0;
  mstls_udp_settings_default(&s);
  s.flags = 0; /* a client: verifies the server's certificate */
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = c_done;
  cb.recv_data = c_recv;
  cb.closed = c_closed;
  memset(&any, 0, sizeof(any));
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  rv = mstls_udp_loop_new(&loop, (struct sockaddr *)&any, sizeof(any), &s, &cb,
                          g_ccred, c);
  if (rv < 0) {
    failed("client %u: loop: %s", c->index, mstls_strerror(rv));
    return -1;
  }
  rv = mstls_udp_loop_connect2(loop, (struct sockaddr *)&g_server, g_server_len,
                               SERVER_NAME, k > 0 ? c->rdata : NULL,
                               k > 0 ? c->rdata_len : 0, &c->peer);
  if (rv < 0) {
    failed("client %u connection %d: connect: %s", c->index, k,
           mstls_strerror(rv));
    mstls_udp_loop_del(loop);
    return -1;
  }
  bump(&g_started[k]);
  while (!c->echoed && !c->closed && !past_deadline()) {
    mstls_tstamp now = mstls_udp_now();
    /* Application data is not retransmitted by DTLS: send again while
     * no echo came back, in case a datagram was lost. */
    if (c->open && (sent == 0 || now - sent >= RESEND_AFTER)) {
      long n = mstls_udp_peer_send(c->peer, c->msg, MSG_LEN);
      if (n != MSG_LEN) {
        failed("client %u connection %d: send: %ld", c->index, k, n);
        break;
      }
      sent = now;
    }
    rv = mstls_udp_loop_run_once(loop, POLL_MS);
    if (rv < 0) {
      failed("client %u: loop: %s", c->index, mstls_strerror(rv));
      break;
    }
  }
  if (!c->echoed) {
    if (!c->closed) {
      failed("client %u connection %d: no %s before the deadline", c->index, k,
             c->open ? "echo" : "handshake");
    }
    mstls_udp_loop_del(loop);
    return -1;
  }
  if (mstls_udp_peer_get_info(c->peer, &info) < 0) {
    failed("client %u connection %d: no info", c->index, k);
  } else {
    c->resumed[k] = info.resumed;
  }
  local_len = sizeof(local);
  if (mstls_udp_loop_get_local_addr(loop, &local, &local_len) == 0) {
    c->worker[k] =
        served_by(ntohs(((struct sockaddr_in *)(void *)&local)->sin_port));
  }
  c->rdata_len = sizeof(c->rdata);
  rv = mstls_udp_peer_get_resumption_data(c->peer, c->rdata, &c->rdata_len);
  if (rv < 0) {
    failed("client %u connection %d: resumption data: %s", c->index, k,
           mstls_strerror(rv));
  }
  rv = mstls_udp_peer_close(c->peer); /* close_notify to the server */
  if (rv < 0) {
    failed("client %u connection %d: close: %s", c->index, k,
           mstls_strerror(rv));
  }
  mstls_udp_loop_del(loop);
  return 0;
}

static void *client_main(void *arg) {
  client *c = arg;
  for (c->conn = 0; c->conn < NCONNS; c->conn++) {
    if (c->conn > 0) {
      int rv;
      /* The next connection starts once the workers use the next
       * credentials. */
      pthread_mutex_lock(&g_lock);
      rv = wait_for(&g_phase, (unsigned)c->conn);
      pthread_mutex_unlock(&g_lock);
      if (rv < 0) {
        failed("client %u: no credentials %d before the deadline", c->index,
               c->conn);
        return NULL;
      }
    }
    if (client_connect(c) < 0) {
      return NULL;
    }
  }
  return NULL;
}

/* ---- the test ---- */

static void stats_add(mstls_udp_stats *sum, const mstls_udp_stats *x) {
  sum->peers += x->peers;
  sum->half_open += x->half_open;
  sum->peers_accepted += x->peers_accepted;
  sum->handshakes_done += x->handshakes_done;
  sum->handshakes_failed += x->handshakes_failed;
  sum->handshake_timeouts += x->handshake_timeouts;
  sum->handshakes_resumed += x->handshakes_resumed;
  sum->closed += x->closed;
  sum->reaped += x->reaped;
  sum->cookies_verified += x->cookies_verified;
}

static void test_workers_replace_credentials(void **state) {
  static const uint8_t secret[MSTLS_FLEET_SECRET_MIN] = {
      0x6d, 0x73, 0x74, 0x6c, 0x73, 0x20, 0x66, 0x6c, 0x65, 0x65, 0x74,
      0x20, 0x74, 0x65, 0x73, 0x74, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
      0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_credentials *cred;
  mstls_udp_stats st, sum;
  struct sockaddr_in bind_addr;
  uint64_t echoed = 0;
  unsigned i, r, n, resumed = 0, moved = 0, per_worker[NWORKERS + 1];
  int phase_ok = 1;
  (void)state;

  sync_init();
  assert_int_equal(pipe2(g_stop_pipe, O_CLOEXEC), 0);
  assert_int_equal(mstls_fleet_new(&g_fleet, secret, sizeof(secret), NULL), 0);
  g_ccred = test_client_creds(NULL, NULL, 0);
  assert_non_null(g_ccred);

  /* The workers: one loop each on one port, one credentials object. */
  cred = server_creds();
  mstls_udp_settings_default(&s);
  s.flags = MSTLS_UDP_ACCEPT | MSTLS_UDP_REUSEPORT;
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = s_done;
  cb.recv_data = s_recv;
  cb.closed = s_closed;
  memset(&bind_addr, 0, sizeof(bind_addr));
  bind_addr.sin_family = AF_INET;
  bind_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (i = 0; i < NWORKERS; i++) {
    g_w[i].index = i;
    pthread_mutex_init(&g_w[i].lock, NULL);
    assert_int_equal(
        mstls_udp_loop_new(&g_w[i].loop,
                           i == 0 ? (struct sockaddr *)&bind_addr
                                  : (struct sockaddr *)&g_server,
                           i == 0 ? sizeof(bind_addr) : g_server_len, &s, &cb,
                           cred, &g_w[i]),
        0);
    assert_int_equal(mstls_udp_endpoint_set_fleet(
                         mstls_udp_loop_get_endpoint(g_w[i].loop), g_fleet),
                     0);
    if (i == 0) {
      assert_int_equal(
          mstls_udp_loop_get_local_addr(g_w[0].loop, &g_server, &g_server_len),
          0);
    }
  }
  mstls_credentials_del(cred); /* the endpoints hold it */
  for (i = 0; i < NWORKERS; i++) {
    assert_int_equal(pthread_create(&g_w[i].th, NULL, worker_main, &g_w[i]), 0);
    g_w[i].started = 1;
  }

  /* Logging on while the workers run; the clients start. */
  mstls_set_log(log_a, MSTLS_LOG_INFO, &g_log_a);
  for (i = 0; i < NCLIENTS; i++) {
    g_c[i].index = i;
    assert_int_equal(pthread_create(&g_c[i].th, NULL, client_main, &g_c[i]), 0);
  }

  /* Once every client has started connection r-1: new credentials for
   * the workers, another log callback, and the next connections may go
   * once every worker uses the new credentials. */
  for (r = 1; r < NCONNS && phase_ok; r++) {
    pthread_mutex_lock(&g_lock);
    phase_ok = wait_for(&g_started[r - 1], NCLIENTS) == 0;
    pthread_mutex_unlock(&g_lock);
    if (!phase_ok) {
      break;
    }
    workers_give(server_creds());
    if (r % 2) {
      mstls_set_log(log_b, MSTLS_LOG_INFO, &g_log_b);
    } else {
      mstls_set_log(log_a, MSTLS_LOG_INFO, &g_log_a);
    }
    pthread_mutex_lock(&g_lock);
    for (i = 0; i < NWORKERS && phase_ok; i++) {
      phase_ok = wait_for(&g_applied[i], r) == 0;
    }
    if (phase_ok) {
      g_phase = r;
      pthread_cond_broadcast(&g_cond);
    }
    pthread_mutex_unlock(&g_lock);
  }
  for (i = 0; i < NCLIENTS; i++) {
    assert_int_equal(pthread_join(g_c[i].th, NULL), 0);
  }
  mstls_set_log(NULL, MSTLS_LOG_OFF, NULL); /* the workers still run */
  workers_stop();
  for (i = 0; i < NWORKERS; i++) {
    assert_int_equal(pthread_join(g_w[i].th, NULL), 0);
  }

  /* Every thread is joined: their records may be read. */
  memset(&sum, 0, sizeof(sum));
  memset(per_worker, 0, sizeof(per_worker));
  for (i = 0; i < NWORKERS; i++) {
    assert_int_equal(mstls_udp_endpoint_get_stats(
                         mstls_udp_loop_get_endpoint(g_w[i].loop), &st),
                     0);
    stats_add(&sum, &st);
    echoed += g_w[i].echoed;
    print_message("worker %u: %llu handshakes (%llu resumed), %llu echoed\n",
                  i + 1, (unsigned long long)st.handshakes_done,
                  (unsigned long long)st.handshakes_resumed,
                  (unsigned long long)g_w[i].echoed);
  }
  for (i = 0; i < NCLIENTS; i++) {
    for (r = 0; r < NCONNS; r++) {
      resumed += (unsigned)g_c[i].resumed[r];
      per_worker[g_c[i].worker[r] < NWORKERS ? g_c[i].worker[r] : NWORKERS]++;
      moved += r > 0 && g_c[i].resumed[r] &&
               g_c[i].worker[r] != g_c[i].worker[r - 1];
    }
  }
  print_message("%d connections, %u resumed, %u of them on another worker than "
                "the session's; log lines %lu + %lu\n",
                NTOTAL, resumed, moved, g_log_a.lines, g_log_b.lines);
  if (g_failures) {
    print_message("first failure: %s\n", g_first_failure);
  }
  assert_int_equal(g_failures, 0);
  assert_true(phase_ok);

  /* What the clients did, and the servers' counters summed over the
   * workers. */
  for (i = 0; i < NCLIENTS; i++) {
    assert_int_equal(g_c[i].conn, NCONNS);
    for (r = 1; r < NCONNS; r++) {
      assert_int_equal(g_c[i].resumed[r], 1);
    }
  }
  assert_int_equal(resumed, NCLIENTS * (NCONNS - 1));
  assert_int_equal(per_worker[NWORKERS], 0); /* each found its worker */
  assert_int_equal(sum.peers_accepted, NTOTAL);
  assert_int_equal(sum.cookies_verified, NTOTAL);
  assert_int_equal(sum.handshakes_done, NTOTAL);
  assert_int_equal(sum.handshakes_resumed, NCLIENTS * (NCONNS - 1));
  assert_int_equal(sum.handshakes_failed, 0);
  assert_int_equal(sum.handshake_timeouts, 0);
  assert_int_equal(sum.reaped, 0);
  /* Each peer closed, or still open if its close_notify was lost. */
  assert_int_equal(sum.closed + sum.peers, NTOTAL);
  assert_int_equal(sum.half_open, 0);
  assert_true(echoed >= NTOTAL);
  for (i = 0; i < NWORKERS; i++) {
    assert_int_equal(g_applied[i], NCONNS - 1);
    assert_int_equal(g_w[i].bad_closes, 0);
  }
  /* Both callbacks got lines, each with its own user data. */
  assert_true(g_log_a.lines > 0);
  assert_true(g_log_b.lines > 0);
  assert_int_equal(g_log_mismatch, 0);

  n = 0;
  for (i = 0; i < NWORKERS; i++) {
    n += g_w[i].pending != NULL; /* every worker took its keys */
    keys_put(g_w[i].pending);
    mstls_udp_loop_del(g_w[i].loop);
    pthread_mutex_destroy(&g_w[i].lock);
  }
  assert_int_equal(n, 0);
  mstls_credentials_del(g_ccred);
  mstls_fleet_del(g_fleet);
  close(g_stop_pipe[0]);
  close(g_stop_pipe[1]);
  pthread_cond_destroy(&g_cond);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_workers_replace_credentials),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
