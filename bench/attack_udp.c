/* attack_udp: the DTLS attack table over real sockets on loopback.
 *
 * For each attack a fresh server runs as a child process (the real
 * `mstls dtls-server --echo`, or an in-process mstls_udp_loop in a forked
 * child where the tool has no option for the setting the row needs),
 * legitimate clients (mstls_udp endpoints in client mode, one socket each)
 * run in a thread of this process, and the attack runs in the main thread
 * for a fixed time. One table row per attack: datagrams sent, rate, the
 * server's CPU seconds and peak RSS (/proc), legitimate handshakes, and the
 * server's counters.
 *
 * Spoofing needs root: a raw socket (IPPROTO_RAW, the IP header is ours)
 * sends UDP datagrams with any source address and port. Sources that must
 * receive (the half-open flood) bind addresses of 127.0.0.0/8, all local
 * on Linux. Loopback only. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mstls/udp.h>

#include "benchudp.h"

#define MS MSTLS_MILLISECONDS
#define DGRAM_MAX 2048
#define CAPTURE_MAX 16
/* A legitimate client starts a handshake every this often: 4 clients stay
 * well under the default rate_limit (100 handshakes/s per source prefix)
 * they share as 127.0.0.1. */
#define LEGIT_PACE (100 * MS)
#define STREAM_PACE (20 * MS)
#define ECHO_WAIT (1000 * MS)
#define GRACE (5000 * MS)

/* ---- options ------------------------------------------------------------ */

typedef struct atk_opts {
  char tool[PATH_MAX]; /* the mstls tool */
  double duration;     /* seconds per attack */
  unsigned legit;      /* legitimate clients */
  long rate;           /* spoofed datagrams/s, 0: as fast as possible */
  const char *only;    /* run only the attack of this name */
} atk_opts;

static double atk_now_s(void) {
  return (double)mstls_udp_now() / 1e9;
}

static struct sockaddr_in atk_addr(const char *ip, uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

/* A UDP port of 127.0.0.1 free now (the server binds it right after). */
static uint16_t atk_free_port(void) {
  struct sockaddr_in a = atk_addr("127.0.0.1", 0);
  socklen_t al = sizeof(a);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  uint16_t port = 0;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &al) == 0) {
    port = ntohs(a.sin_port);
  }
  if (fd >= 0) {
    close(fd);
  }
  return port;
}

/* ---- what /proc says about the server ------------------------------------ */

/* utime + stime of @p pid in clock ticks, -1 if unreadable. */
static long atk_cpu_ticks(pid_t pid) {
  char path[64], buf[1024], *p;
  unsigned long ut, st;
  FILE *f;
  size_t n;
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  if (!(f = fopen(path, "r"))) {
    return -1;
  }
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* The command name may hold spaces: fields are counted after its ')'.
   * utime and stime are fields 14 and 15, the 12th and 13th after it. */
  if (!(p = strrchr(buf, ')')) ||
      sscanf(p + 2, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %lu %lu", &ut,
             &st) != 2) {
    return -1;
  }
  return (long)(ut + st);
}

/* Peak resident set (VmHWM) of @p pid in KiB, -1 if unreadable. */
static long atk_hwm_kb(pid_t pid) {
  char path[64], line[256];
  long kb = -1;
  FILE *f;
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  if (!(f = fopen(path, "r"))) {
    return -1;
  }
  while (fgets(line, sizeof(line), f)) {
    if (sscanf(line, "VmHWM: %ld", &kb) == 1) {
      break;
    }
  }
  fclose(f);
  return kb;
}

/* The kernel's count of UDP datagrams dropped because a socket's receive
 * buffer was full (all sockets of the machine): the flood the server
 * never read. */
static unsigned long long atk_rcvbuf_errors(void) {
  char head[1024], vals[1024], *hs, *vs, *h, *v;
  unsigned long long out = 0;
  FILE *f = fopen("/proc/net/snmp", "r");
  if (!f) {
    return 0;
  }
  while (fgets(head, sizeof(head), f)) {
    if (strncmp(head, "Udp:", 4) != 0 || !fgets(vals, sizeof(vals), f)) {
      continue;
    }
    h = strtok_r(head, " \n", &hs);
    v = strtok_r(vals, " \n", &vs);
    while (h && v) {
      if (strcmp(h, "RcvbufErrors") == 0) {
        out = strtoull(v, NULL, 10);
      }
      h = strtok_r(NULL, " \n", &hs);
      v = strtok_r(NULL, " \n", &vs);
    }
    break;
  }
  fclose(f);
  return out;
}

/* ---- the server child ------------------------------------------------------
 */

typedef struct atk_server {
  pid_t pid;
  int fd;     /* the tool's stderr, or the in-process child's stats pipe */
  int inproc; /* 1: forked mstls_udp_loop, 0: the mstls tool */
  struct sockaddr_in addr;
} atk_server;

static int atk_server_tool(atk_server *s, const char *tool,
                           uint32_t max_peers) {
  char listen[64], peers[16];
  /* One worker: the attack table measures one endpoint. */
  const char *const args[] = {"dtls-server", "--listen",    listen, "--echo",
                              "--quiet",     "--max-peers", peers,  "--workers",
                              "1",           NULL};
  s->addr = atk_addr("127.0.0.1", atk_free_port());
  s->inproc = 0;
  snprintf(listen, sizeof(listen), "127.0.0.1:%u", ntohs(s->addr.sin_port));
  snprintf(peers, sizeof(peers), "%u", max_peers);
  return bench_tool_start("attack_udp", tool, args, &s->pid, &s->fd);
}

static mstls_udp_loop *g_child_loop;

static void atk_child_on_term(int sig) {
  (void)sig;
  mstls_udp_loop_stop(g_child_loop);
}

static void atk_child_echo(mstls_udp_endpoint *ep, uint32_t flags,
                           mstls_udp_peer *peer, const uint8_t *data,
                           size_t len, void *ud) {
  (void)ep;
  (void)flags;
  (void)ud;
  (void)mstls_udp_peer_send(peer, data, len);
}

/* The forked server: the tool's defaults (`--echo`, self-signed
 * certificate) but prefix_len_v4 set, which the tool has no option for.
 * Writes one byte when it listens and its counters when SIGTERM ends it. */
static void atk_child_main(int fd, const struct sockaddr_in *addr,
                           unsigned prefix_len_v4) {
  mstls_credentials *cred;
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_udp_stats st;
  struct sigaction sa;
  if (mstls_credentials_new(&cred, NULL) < 0 ||
      mstls_credentials_set_self_signed(cred, "localhost") < 0) {
    _exit(1);
  }
  mstls_udp_settings_default(&s);
  s.prefix_len_v4 = prefix_len_v4;
  memset(&cb, 0, sizeof(cb));
  cb.recv_data = atk_child_echo;
  if (mstls_udp_loop_new(&g_child_loop, (const struct sockaddr *)addr,
                         sizeof(*addr), &s, &cb, cred, NULL) < 0) {
    _exit(1);
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = atk_child_on_term;
  sigaction(SIGTERM, &sa, NULL);
  if (write(fd, "R", 1) != 1) {
    _exit(1);
  }
  mstls_udp_loop_run(g_child_loop, -1);
  mstls_udp_endpoint_get_stats(mstls_udp_loop_get_endpoint(g_child_loop), &st);
  if (write(fd, &st, sizeof(st)) != (ssize_t)sizeof(st)) {
    _exit(1);
  }
  _exit(0);
}

static int atk_server_inproc(atk_server *s, unsigned prefix_len_v4) {
  struct pollfd pf;
  char c;
  int p[2];
  s->addr = atk_addr("127.0.0.1", atk_free_port());
  s->inproc = 1;
  if (pipe(p) < 0 || (s->pid = fork()) < 0) {
    return -1;
  }
  if (s->pid == 0) {
    close(p[0]);
    atk_child_main(p[1], &s->addr, prefix_len_v4);
  }
  close(p[1]);
  s->fd = p[0];
  pf.fd = s->fd;
  pf.events = POLLIN;
  if (poll(&pf, 1, 10000) <= 0 || read(s->fd, &c, 1) != 1) {
    fprintf(stderr, "attack_udp: the in-process server did not start\n");
    return -1;
  }
  return 0;
}

/* The tool's "stats (exit)" line and its "dropped <reason> <n>" lines. */
static int atk_parse_stats(char *text, mstls_udp_stats *st) {
  unsigned long long v[13];
  char *line = strstr(text, "stats (exit): "), *save;
  memset(st, 0, sizeof(*st));
  if (!line ||
      sscanf(line,
             "stats (exit): peers %u (half-open %u), accepted %llu, "
             "handshakes %llu done / %llu failed (%llu timeouts), restarts "
             "%llu, closed %llu, reaped %llu, cookies %llu sent / %llu "
             "verified / %llu rejected, datagrams %llu in / %llu out, send "
             "failures %llu, dropped",
             &st->peers, &st->half_open, &v[0], &v[1], &v[2], &v[3], &v[4],
             &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12]) != 15) {
    return -1;
  }
  st->peers_accepted = v[0];
  st->handshakes_done = v[1];
  st->handshakes_failed = v[2];
  st->handshake_timeouts = v[3];
  st->restarts = v[4];
  st->closed = v[5];
  st->reaped = v[6];
  st->cookies_sent = v[7];
  st->cookies_verified = v[8];
  st->cookies_rejected = v[9];
  st->datagrams_in = v[10];
  st->datagrams_out = v[11];
  st->send_failures = v[12];
  for (line = strtok_r(line, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    char *num = strrchr(line, ' ');
    int r;
    if (strncmp(line, "  dropped ", 10) != 0 || !num) {
      continue;
    }
    /* The reason is padded with spaces and may hold spaces itself. */
    for (r = 0; r < MSTLS_UDP_DROP_COUNT; r++) {
      const char *name = mstls_udp_drop_reason_str((mstls_udp_drop_reason)r);
      if (strncmp(line + 10, name, strlen(name)) == 0 &&
          line[10 + strlen(name)] == ' ') {
        st->dropped[r] = strtoull(num + 1, NULL, 10);
        st->dropped_total += st->dropped[r];
      }
    }
  }
  return 0;
}

/* End the server with SIGTERM and collect its counters. */
static int atk_server_stop(atk_server *s, mstls_udp_stats *st) {
  static char text[1 << 16];
  size_t have = 0;
  ssize_t n;
  int rv = -1, status;
  kill(s->pid, SIGTERM);
  if (s->inproc) {
    rv = read(s->fd, st, sizeof(*st)) == (ssize_t)sizeof(*st) ? 0 : -1;
  } else {
    while (have < sizeof(text) - 1 &&
           (n = read(s->fd, text + have, sizeof(text) - 1 - have)) > 0) {
      have += (size_t)n;
    }
    text[have] = '\0';
    rv = atk_parse_stats(text, st);
  }
  close(s->fd);
  waitpid(s->pid, &status, 0);
  if (rv < 0) {
    fprintf(stderr, "attack_udp: no counters from the server\n");
  }
  return rv;
}

/* ---- clients: mstls endpoints in client mode ------------------------------
 */

typedef enum atk_mode {
  MODE_CYCLE,  /* handshake, one echo, close, again after LEGIT_PACE */
  MODE_STREAM, /* one handshake, then an echo every STREAM_PACE */
  MODE_HOLD    /* one handshake, then silence (holds a peer) */
} atk_mode;

typedef enum atk_state { CL_IDLE, CL_SHAKING, CL_OPEN, CL_DONE } atk_state;

typedef struct atk_tally {
  long done, failed, unfinished, lost; /* lost: an open session closed */
  long late; /* of done: completed after the attack ended */
  long echo_sent, echo_recv;
  double slowest_ms;
  unsigned long long sent; /* datagrams */
  mstls_udp_stats st;      /* the clients' endpoints, summed */
  int last_error;
} atk_tally;

/* What one client sent until its first echo came back: the datagrams the
 * replay attack sends again. */
typedef struct atk_capture {
  uint8_t data[CAPTURE_MAX][DGRAM_MAX];
  size_t len[CAPTURE_MAX];
  unsigned n;
  volatile int complete;
} atk_capture;

typedef struct atk_client {
  int fd;
  mstls_udp_endpoint *ep;
  mstls_udp_peer *peer;
  struct sockaddr_in local;
  atk_mode mode;
  atk_state state;
  int want_close;
  int late; /* its handshake ran when the attack ended */
  mstls_tstamp started, next;
  atk_tally *tally;
  atk_capture *capture; /* NULL: not recorded */
} atk_client;

typedef struct atk_fleet {
  atk_client *cl;
  unsigned n;
  struct sockaddr_in server;
  mstls_credentials *cred;
  volatile int stop;
  volatile int draining; /* the attack is over: start no handshake */
  pthread_t thread;
} atk_fleet;

static int atk_cl_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                       socklen_t tolen, const uint8_t *data, size_t len,
                       void *ud) {
  atk_client *c = ud;
  atk_capture *cap = c->capture;
  (void)ep;
  if (cap && !cap->complete && cap->n < CAPTURE_MAX && len <= DGRAM_MAX) {
    memcpy(cap->data[cap->n], data, len);
    cap->len[cap->n++] = len;
  }
  c->tally->sent++;
  return sendto(c->fd, data, len, 0, to, tolen) < 0 ? -1 : 0;
}

static void atk_cl_echo(atk_client *c) {
  static const char msg[] = "attack_udp echo";
  if (mstls_udp_peer_send(c->peer, msg, sizeof(msg)) > 0) {
    c->tally->echo_sent++;
  }
}

static void atk_cl_done(mstls_udp_endpoint *ep, uint32_t flags,
                        mstls_udp_peer *peer, void *ud) {
  atk_client *c = ud;
  double ms = (double)(mstls_udp_now() - c->started) / 1e6;
  (void)ep;
  (void)flags;
  (void)peer;
  c->tally->done++;
  c->tally->late += c->late;
  if (ms > c->tally->slowest_ms) {
    c->tally->slowest_ms = ms;
  }
  c->state = CL_OPEN;
  c->next = mstls_udp_now() + (c->mode == MODE_CYCLE ? ECHO_WAIT : STREAM_PACE);
  if (c->mode != MODE_HOLD) {
    atk_cl_echo(c);
  }
}

static void atk_cl_data(mstls_udp_endpoint *ep, uint32_t flags,
                        mstls_udp_peer *peer, const uint8_t *data, size_t len,
                        void *ud) {
  atk_client *c = ud;
  (void)ep;
  (void)flags;
  (void)peer;
  (void)data;
  (void)len;
  c->tally->echo_recv++;
  if (c->capture) {
    c->capture->complete = 1;
  }
  /* Closing from inside the endpoint's callback is left to the driver. */
  if (c->mode == MODE_CYCLE) {
    c->want_close = 1;
  }
}

static void atk_cl_closed(mstls_udp_endpoint *ep, uint32_t flags,
                          mstls_udp_peer *peer, int reason, void *ud) {
  atk_client *c = ud;
  (void)ep;
  (void)flags;
  (void)peer;
  if (c->state == CL_SHAKING) {
    c->tally->failed++;
    c->tally->last_error = reason;
  } else if (c->state == CL_OPEN && reason != MSTLS_E_CLOSED) {
    c->tally->lost++;
    c->tally->last_error = reason;
  }
  c->peer = NULL;
  c->want_close = 0;
  c->state = c->mode == MODE_CYCLE ? CL_IDLE : CL_DONE;
  c->next = mstls_udp_now() + LEGIT_PACE;
}

static int atk_client_init(atk_client *c, const char *ip, atk_mode mode,
                           atk_tally *tally, mstls_credentials *cred) {
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  socklen_t al = sizeof(c->local);
  memset(c, 0, sizeof(*c));
  c->mode = mode;
  c->tally = tally;
  c->local = atk_addr(ip, 0);
  c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&c->local, al) < 0 ||
      getsockname(c->fd, (struct sockaddr *)&c->local, &al) < 0) {
    return -1;
  }
  mstls_udp_settings_default(&s);
  s.flags = MSTLS_UDP_INSECURE;
  memset(&cb, 0, sizeof(cb));
  cb.send = atk_cl_send;
  cb.handshake_done = atk_cl_done;
  cb.recv_data = atk_cl_data;
  cb.closed = atk_cl_closed;
  return mstls_udp_endpoint_new(&c->ep, &s, &cb, cred, c);
}

/* Start, close or feed data to one client as its state asks. */
static void atk_client_step(atk_client *c, const struct sockaddr_in *srv,
                            int draining, mstls_tstamp now) {
  switch (c->state) {
  case CL_IDLE:
    if (now < c->next || draining) {
      return;
    }
    c->started = now;
    c->state = CL_SHAKING;
    if (mstls_udp_endpoint_connect(c->ep, (const struct sockaddr *)srv,
                                   sizeof(*srv), "localhost", now,
                                   &c->peer) < 0) {
      c->tally->failed++;
      c->state = c->mode == MODE_CYCLE ? CL_IDLE : CL_DONE;
      c->next = now + LEGIT_PACE;
    }
    return;
  case CL_OPEN:
    /* An echo lost on the way (records are not retransmitted) must not
     * stop the client: close after ECHO_WAIT without it. */
    if (c->want_close || (c->mode == MODE_CYCLE && now >= c->next)) {
      mstls_udp_peer_close(c->peer);
    } else if (c->mode == MODE_STREAM && now >= c->next) {
      atk_cl_echo(c);
      c->next = now + STREAM_PACE;
    }
    return;
  case CL_SHAKING:
  case CL_DONE:
  default:
    return;
  }
}

static void atk_client_read(atk_client *c) {
  uint8_t buf[DGRAM_MAX];
  struct sockaddr_in from;
  int i;
  /* Bounded: a client flooded with reflected HelloVerifyRequests must not
   * starve the others. */
  for (i = 0; i < 64; i++) {
    socklen_t fl = sizeof(from);
    ssize_t n =
        recvfrom(c->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
    if (n <= 0) {
      return;
    }
    (void)mstls_udp_endpoint_feed(c->ep, (struct sockaddr *)&from, fl, buf,
                                  (size_t)n, mstls_udp_now());
  }
}

static void *atk_fleet_main(void *arg) {
  atk_fleet *f = arg;
  struct pollfd *pfd = calloc(f->n, sizeof(*pfd));
  unsigned i;
  while (pfd && !f->stop) {
    mstls_tstamp now = mstls_udp_now();
    for (i = 0; i < f->n; i++) {
      atk_client_step(&f->cl[i], &f->server, f->draining, now);
      pfd[i].fd = f->cl[i].fd;
      pfd[i].events = POLLIN;
      pfd[i].revents = 0;
    }
    /* 5 ms: every endpoint's timers and paces are checked often enough. */
    poll(pfd, f->n, 5);
    now = mstls_udp_now();
    for (i = 0; i < f->n; i++) {
      if (pfd[i].revents) {
        atk_client_read(&f->cl[i]);
      }
      mstls_udp_endpoint_handle_expiry(f->cl[i].ep, mstls_udp_now());
    }
  }
  free(pfd);
  return NULL;
}

static void atk_fleet_start(atk_fleet *f) {
  f->stop = 0;
  pthread_create(&f->thread, NULL, atk_fleet_main, f);
}

/* The attack is over: let the legitimate handshakes that run finish
 * (GRACE at most) without starting new ones, so that a handshake slowed
 * by a retransmission is told apart from one locked out. */
static void atk_fleet_drain(atk_fleet *f, unsigned legit) {
  double end = atk_now_s() + (double)GRACE / 1e9;
  unsigned i, busy = 1;
  for (i = 0; i < legit; i++) {
    f->cl[i].late = f->cl[i].state == CL_SHAKING;
  }
  f->draining = 1;
  while (busy && atk_now_s() < end) {
    usleep(10000);
    for (busy = 0, i = 0; i < legit; i++) {
      busy |= f->cl[i].state == CL_SHAKING;
    }
  }
}

/* Stop the clients; a handshake still running counts as unfinished. */
static void atk_fleet_stop(atk_fleet *f) {
  unsigned i;
  f->stop = 1;
  pthread_join(f->thread, NULL);
  for (i = 0; i < f->n; i++) {
    if (f->cl[i].state == CL_SHAKING) {
      f->cl[i].tally->unfinished++;
    }
  }
}

/* What the clients' endpoints saw: reflected HelloVerifyRequests show up
 * here. */
static void atk_stats_add(mstls_udp_stats *sum, mstls_udp_endpoint *ep) {
  mstls_udp_stats st;
  int r;
  if (!ep || mstls_udp_endpoint_get_stats(ep, &st) < 0) {
    return;
  }
  sum->datagrams_in += st.datagrams_in;
  sum->datagrams_out += st.datagrams_out;
  sum->dropped_total += st.dropped_total;
  for (r = 0; r < MSTLS_UDP_DROP_COUNT; r++) {
    sum->dropped[r] += st.dropped[r];
  }
}

static void atk_fleet_free(atk_fleet *f) {
  unsigned i;
  for (i = 0; i < f->n; i++) {
    atk_stats_add(&f->cl[i].tally->st, f->cl[i].ep);
    mstls_udp_endpoint_del(f->cl[i].ep);
    if (f->cl[i].fd >= 0) {
      close(f->cl[i].fd);
    }
  }
  free(f->cl);
  f->cl = NULL;
  f->n = 0;
}

/* ---- datagrams the attacks send ------------------------------------------ */

/* The first ClientHello (no cookie) of an mstls client endpoint. */
typedef struct atk_hello {
  uint8_t data[DGRAM_MAX];
  size_t len;
} atk_hello;

static int atk_hello_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                          socklen_t tolen, const uint8_t *data, size_t len,
                          void *ud) {
  atk_hello *h = ud;
  (void)ep;
  (void)to;
  (void)tolen;
  if (h->len == 0 && len <= sizeof(h->data)) {
    memcpy(h->data, data, len);
    h->len = len;
  }
  return 0;
}

static int atk_hello_get(atk_hello *h, mstls_credentials *cred) {
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_udp_endpoint *ep;
  struct sockaddr_in srv = atk_addr("127.0.0.1", 9);
  memset(h, 0, sizeof(*h));
  mstls_udp_settings_default(&s);
  s.flags = MSTLS_UDP_INSECURE;
  memset(&cb, 0, sizeof(cb));
  cb.send = atk_hello_send;
  if (mstls_udp_endpoint_new(&ep, &s, &cb, cred, h) < 0) {
    return -1;
  }
  mstls_udp_endpoint_connect(ep, (struct sockaddr *)&srv, sizeof(srv),
                             "localhost", mstls_udp_now(), NULL);
  mstls_udp_endpoint_del(ep);
  return h->len > 60 ? 0 : -1;
}

static void atk_put24(uint8_t *p, size_t v) {
  p[0] = (uint8_t)(v >> 16);
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)v;
}

/* @p hello (no cookie, one record, unfragmented) with @p cookie inserted
 * and the lengths fixed, as message_seq 1 in record 1: the ClientHello a
 * client sends after a HelloVerifyRequest. @return its length, 0 if it
 * does not fit. */
static size_t atk_hello_with_cookie(const atk_hello *hello,
                                    const uint8_t *cookie, size_t clen,
                                    uint8_t *out, size_t cap) {
  /* record header 13, handshake header 12, version 2, random 32 */
  size_t at = 13 + 12 + 2 + 32, body;
  if (hello->len < at + 2 || clen > 255) {
    return 0;
  }
  at += 1 + hello->data[at]; /* session id */
  if (hello->len < at + 1 || hello->len + clen > cap) {
    return 0;
  }
  memcpy(out, hello->data, at);
  out[at] = (uint8_t)clen;
  memcpy(out + at + 1, cookie, clen);
  memcpy(out + at + 1 + clen, hello->data + at + 1, hello->len - at - 1);
  body = hello->len + clen - 13 - 12;
  out[11] = (uint8_t)((body + 12) >> 8);
  out[12] = (uint8_t)(body + 12);
  out[10] = 1; /* record sequence number */
  atk_put24(out + 14, body);
  out[17] = 0; /* message_seq */
  out[18] = 1;
  atk_put24(out + 22, body);
  return hello->len + clen;
}

/* One IPv4/UDP datagram for the raw socket, source address ours to pick.
 * The kernel fills the IP checksum, id and total length; a zero UDP
 * checksum means "none" in IPv4. */
typedef struct atk_packet {
  uint8_t data[sizeof(struct iphdr) + sizeof(struct udphdr) + DGRAM_MAX];
  size_t len;
} atk_packet;

static void atk_packet_build(atk_packet *p, const struct sockaddr_in *src,
                             const struct sockaddr_in *dst,
                             const uint8_t *payload, size_t len) {
  struct iphdr ip;
  struct udphdr udp;
  memset(&ip, 0, sizeof(ip));
  ip.version = 4;
  ip.ihl = 5;
  ip.ttl = 64;
  ip.protocol = IPPROTO_UDP;
  ip.saddr = src->sin_addr.s_addr;
  ip.daddr = dst->sin_addr.s_addr;
  ip.tot_len = htons((uint16_t)(sizeof(ip) + sizeof(udp) + len));
  memset(&udp, 0, sizeof(udp));
  udp.source = src->sin_port;
  udp.dest = dst->sin_port;
  udp.len = htons((uint16_t)(sizeof(udp) + len));
  memcpy(p->data, &ip, sizeof(ip));
  memcpy(p->data + sizeof(ip), &udp, sizeof(udp));
  memcpy(p->data + sizeof(ip) + sizeof(udp), payload, len);
  p->len = sizeof(ip) + sizeof(udp) + len;
}

/* Send @p pk round robin for @p seconds through a raw socket, in batches
 * of 64 (sendmmsg), at @p rate datagrams/s or as fast as this thread can.
 * @return datagrams sent, -1 without a raw socket (not root). */
static long atk_flood(atk_packet *pk, unsigned n, double seconds, long rate,
                      const struct sockaddr_in *dst) {
  struct sockaddr_in to = *dst;
  struct mmsghdr mm[64];
  struct iovec iov[64];
  double t0 = atk_now_s(), now = t0;
  unsigned next = 0;
  long sent = 0;
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW), i, rv;
  if (fd < 0) {
    fprintf(stderr, "attack_udp: raw socket: %s (run as root)\n",
            strerror(errno));
    return -1;
  }
  memset(mm, 0, sizeof(mm));
  for (; now < t0 + seconds; now = atk_now_s()) {
    if (rate > 0 && sent >= (long)((now - t0) * (double)rate)) {
      usleep(1000);
      continue;
    }
    for (i = 0; i < 64; i++, next = (next + 1) % n) {
      iov[i].iov_base = pk[next].data;
      iov[i].iov_len = pk[next].len;
      mm[i].msg_hdr.msg_iov = &iov[i];
      mm[i].msg_hdr.msg_iovlen = 1;
      mm[i].msg_hdr.msg_name = &to;
      mm[i].msg_hdr.msg_namelen = sizeof(to);
    }
    rv = sendmmsg(fd, mm, 64, 0);
    if (rv > 0) {
      sent += rv;
    } else if (errno == ENOBUFS || errno == EAGAIN) {
      usleep(100);
    }
  }
  close(fd);
  return sent;
}

/* ---- the half-open flood ---------------------------------------------------
 */

typedef enum atk_src_state {
  SRC_HELLO,    /* send a ClientHello without a cookie */
  SRC_WAIT_HVR, /* wait for the HelloVerifyRequest */
  SRC_WAIT_SH,  /* cookie answered, wait for the ServerHello */
  SRC_HOLDING   /* the server holds a half-open peer for us: silence */
} atk_src_state;

typedef struct atk_src {
  int fd;
  atk_src_state state;
  mstls_tstamp since;
} atk_src;

/* A datagram from the server: HelloVerifyRequest (answer the cookie) or
 * the server's flight (we hold a slot). */
static long atk_src_read(atk_src *s, const atk_hello *hello,
                         const struct sockaddr_in *srv, mstls_tstamp now) {
  uint8_t buf[DGRAM_MAX], ch[DGRAM_MAX];
  long sent = 0;
  ssize_t n;
  while ((n = recv(s->fd, buf, sizeof(buf), 0)) > 0) {
    size_t len;
    if (n < 28 || buf[0] != 22 || buf[3] != 0 || buf[4] != 0) {
      continue; /* not an epoch-0 handshake record */
    }
    if (buf[13] == 3 && s->state == SRC_WAIT_HVR && n >= 28 + buf[27]) {
      len = atk_hello_with_cookie(hello, buf + 28, buf[27], ch, sizeof(ch));
      if (len && sendto(s->fd, ch, len, 0, (const struct sockaddr *)srv,
                        sizeof(*srv)) > 0) {
        sent++;
        s->state = SRC_WAIT_SH;
        s->since = now;
      }
    } else if (buf[13] == 2 && s->state == SRC_WAIT_SH) {
      s->state = SRC_HOLDING;
    }
  }
  return sent;
}

/* @p naddr addresses 127.0.1.1.. with @p nport sockets each answer the
 * cookie and then stay silent; a source refused (no ServerHello within
 * 300 ms) tries again. @return datagrams sent; *held: sources holding a
 * half-open peer at the end. */
static long atk_half_open(unsigned naddr, unsigned nport, double seconds,
                          const struct sockaddr_in *srv, const atk_hello *hello,
                          long *held) {
  unsigned n = naddr * nport, i;
  atk_src *src = calloc(n, sizeof(*src));
  struct pollfd *pfd = calloc(n, sizeof(*pfd));
  double end = atk_now_s() + seconds;
  long sent = 0;
  for (i = 0; src && pfd && i < n; i++) {
    char ip[32];
    struct sockaddr_in a;
    snprintf(ip, sizeof(ip), "127.0.1.%u", 1 + i / nport);
    a = atk_addr(ip, 0);
    src[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (src[i].fd < 0 || bind(src[i].fd, (struct sockaddr *)&a, sizeof(a))) {
      fprintf(stderr, "attack_udp: source %s: %s\n", ip, strerror(errno));
      n = i;
      break;
    }
    pfd[i].fd = src[i].fd;
    pfd[i].events = POLLIN;
  }
  while (atk_now_s() < end) {
    mstls_tstamp now = mstls_udp_now();
    for (i = 0; i < n; i++) {
      atk_src *s = &src[i];
      if ((s->state == SRC_WAIT_HVR || s->state == SRC_WAIT_SH) &&
          now - s->since > 300 * MS) {
        s->state = SRC_HELLO;
      }
      if (s->state == SRC_HELLO &&
          sendto(s->fd, hello->data, hello->len, 0,
                 (const struct sockaddr *)srv, sizeof(*srv)) > 0) {
        sent++;
        s->state = SRC_WAIT_HVR;
        s->since = now;
      }
    }
    poll(pfd, n, 5);
    for (i = 0; i < n; i++) {
      if (pfd[i].revents) {
        sent += atk_src_read(&src[i], hello, srv, mstls_udp_now());
      }
    }
  }
  *held = 0;
  for (i = 0; i < n; i++) {
    *held += src[i].state == SRC_HOLDING;
    close(src[i].fd);
  }
  free(src);
  free(pfd);
  return sent;
}

/* ---- one row ---------------------------------------------------------------
 */

typedef enum atk_kind {
  ATK_NONE,
  ATK_SPOOF_NOCOOKIE,
  ATK_SPOOF_FORGED,
  ATK_REPLAY,
  ATK_HALF_OPEN_24,
  ATK_HALF_OPEN_32,
  ATK_ONE_IP
} atk_kind;

typedef struct atk_spec {
  atk_kind kind;
  const char *name;  /* for --only */
  const char *title; /* the table's attack column */
  long rate;         /* spoofed datagrams/s; 0: --rate */
} atk_spec;

static const atk_spec atk_specs[] = {
    {ATK_NONE, "none", "none (legitimate clients alone)", 0},
    {ATK_SPOOF_NOCOOKIE, "spoof50k",
     "1. spoofed ClientHello, no cookie, from the clients' IP:port, "
     "50,000/s",
     50000},
    {ATK_SPOOF_NOCOOKIE, "spoof", "1. the same, as fast as the bench sends", 0},
    {ATK_SPOOF_FORGED, "forged50k",
     "2. ClientHello with a forged cookie, from the clients' IP:port, "
     "50,000/s",
     50000},
    {ATK_SPOOF_FORGED, "forged", "2. the same, as fast as the bench sends", 0},
    {ATK_REPLAY, "replay50k",
     "3. replayed handshake datagrams (+ first data record) of an "
     "established session, 50,000/s",
     50000},
    {ATK_REPLAY, "replay", "3. the same, as fast as the bench sends", 0},
    {ATK_HALF_OPEN_24, "halfopen24",
     "4. half-open flood: 1000 sources (250 addresses of 127.0.1.0/24 x 4 "
     "ports), server prefix_len_v4 24",
     0},
    {ATK_HALF_OPEN_32, "halfopen32",
     "4b. the same flood against the default prefix_len_v4 32", 0},
    {ATK_ONE_IP, "oneip", "5. 300 clients from 127.0.0.2, --max-peers 300", 0},
};

typedef struct atk_result {
  long sent, held;
  unsigned replayed; /* distinct datagrams the replay sends in turn */
  double seconds, cpu_s;
  long hwm_kb;
  unsigned long long kernel_drops;
  atk_tally legit, attacker;
  mstls_udp_stats st;
} atk_result;

/* The legitimate clients (on 127.0.0.1), and for attack 5 the 300 on
 * 127.0.0.2. */
static int atk_fleet_build(atk_fleet *f, const atk_opts *o, atk_kind kind,
                           atk_result *r, atk_capture *cap) {
  unsigned extra = kind == ATK_ONE_IP ? 300 : 0, i;
  f->n = o->legit + extra;
  f->cl = calloc(f->n, sizeof(*f->cl));
  if (!f->cl) {
    return -1;
  }
  for (i = 0; i < f->n; i++) {
    int legit = i < o->legit;
    atk_mode mode = !legit                           ? MODE_HOLD
                    : (kind == ATK_REPLAY && i == 0) ? MODE_STREAM
                                                     : MODE_CYCLE;
    if (atk_client_init(&f->cl[i], legit ? "127.0.0.1" : "127.0.0.2", mode,
                        legit ? &r->legit : &r->attacker, f->cred) < 0) {
      fprintf(stderr, "attack_udp: client %u: %s\n", i, strerror(errno));
      return -1;
    }
  }
  if (kind == ATK_REPLAY) {
    f->cl[0].capture = cap;
  }
  return 0;
}

/* The spoofed datagrams of attacks 1-3, each with a legitimate client's
 * exact address and port as its source. @return how many. */
static unsigned atk_spoofed(atk_kind kind, const atk_fleet *f,
                            const atk_hello *hello, const atk_capture *cap,
                            atk_packet *pk, unsigned max) {
  uint8_t forged[DGRAM_MAX], cookie[32];
  unsigned n = 0, i;
  size_t len;
  for (i = 0; i < sizeof(cookie); i++) {
    cookie[i] = (uint8_t)rand();
  }
  len = atk_hello_with_cookie(hello, cookie, sizeof(cookie), forged,
                              sizeof(forged));
  for (i = 0; kind == ATK_REPLAY && i < cap->n && n < max; i++) {
    atk_packet_build(&pk[n++], &f->cl[0].local, &f->server, cap->data[i],
                     cap->len[i]);
  }
  for (i = 0; kind != ATK_REPLAY && i < f->n && n < max; i++) {
    if (kind == ATK_SPOOF_FORGED) {
      atk_packet_build(&pk[n++], &f->cl[i].local, &f->server, forged, len);
    } else {
      atk_packet_build(&pk[n++], &f->cl[i].local, &f->server, hello->data,
                       hello->len);
    }
  }
  return n;
}

/* Run the attack itself in this thread for o->duration. */
static void atk_attack(const atk_spec *sp, const atk_opts *o, atk_fleet *f,
                       const atk_hello *hello, const atk_capture *cap,
                       atk_result *r) {
  static atk_packet pk[64];
  double t0 = atk_now_s();
  unsigned n;
  switch (sp->kind) {
  case ATK_SPOOF_NOCOOKIE:
  case ATK_SPOOF_FORGED:
  case ATK_REPLAY:
    n = atk_spoofed(sp->kind, f, hello, cap, pk, 64);
    r->replayed = n;
    r->sent = n ? atk_flood(pk, n, o->duration, sp->rate ? sp->rate : o->rate,
                            &f->server)
                : 0;
    break;
  case ATK_HALF_OPEN_24:
  case ATK_HALF_OPEN_32:
    r->sent = atk_half_open(250, 4, o->duration, &f->server, hello, &r->held);
    break;
  case ATK_NONE:
  case ATK_ONE_IP:
  default:
    usleep((useconds_t)(o->duration * 1e6));
    break;
  }
  r->seconds = atk_now_s() - t0;
}

static int atk_run(const atk_spec *sp, const atk_opts *o,
                   mstls_credentials *cred, const atk_hello *hello,
                   atk_result *r) {
  static atk_capture cap;
  atk_server srv;
  atk_fleet f;
  long ticks0;
  double wait_end;
  int rv;
  memset(r, 0, sizeof(*r));
  memset(&cap, 0, sizeof(cap));
  memset(&f, 0, sizeof(f));
  rv = sp->kind == ATK_HALF_OPEN_24
           ? atk_server_inproc(&srv, 24)
           : atk_server_tool(&srv, o->tool,
                             sp->kind == ATK_ONE_IP ? 300 : 10000);
  if (rv < 0) {
    return -1;
  }
  f.server = srv.addr;
  f.cred = cred;
  if (atk_fleet_build(&f, o, sp->kind, r, &cap) < 0) {
    atk_fleet_free(&f);
    atk_server_stop(&srv, &r->st);
    return -1;
  }
  ticks0 = atk_cpu_ticks(srv.pid);
  r->kernel_drops = atk_rcvbuf_errors();
  atk_fleet_start(&f);
  /* The replay needs the session's datagrams first. */
  for (wait_end = atk_now_s() + 5;
       sp->kind == ATK_REPLAY && !cap.complete && atk_now_s() < wait_end;) {
    usleep(1000);
  }
  atk_attack(sp, o, &f, hello, &cap, r);
  r->cpu_s =
      (double)(atk_cpu_ticks(srv.pid) - ticks0) / (double)sysconf(_SC_CLK_TCK);
  r->hwm_kb = atk_hwm_kb(srv.pid);
  r->kernel_drops = atk_rcvbuf_errors() - r->kernel_drops;
  atk_fleet_drain(&f, o->legit);
  atk_fleet_stop(&f);
  atk_fleet_free(&f);
  return atk_server_stop(&srv, &r->st);
}

/* ---- the table
 * ---------------------------------------------------------------
 */

static void atk_counters(const mstls_udp_stats *st, char *buf, size_t cap) {
  size_t at;
  int r;
  at = (size_t)snprintf(
      buf, cap,
      "cookies %llu sent / %llu verified / %llu rejected; accepted %llu, "
      "done %llu, failed %llu; peers %u (half-open %u); dgrams %llu in / "
      "%llu out",
      (unsigned long long)st->cookies_sent,
      (unsigned long long)st->cookies_verified,
      (unsigned long long)st->cookies_rejected,
      (unsigned long long)st->peers_accepted,
      (unsigned long long)st->handshakes_done,
      (unsigned long long)st->handshakes_failed, st->peers, st->half_open,
      (unsigned long long)st->datagrams_in,
      (unsigned long long)st->datagrams_out);
  for (r = 0; r < MSTLS_UDP_DROP_COUNT && at < cap; r++) {
    if (st->dropped[r]) {
      at +=
          (size_t)snprintf(buf + at, cap - at, "; drop %s %llu",
                           mstls_udp_drop_reason_str((mstls_udp_drop_reason)r),
                           (unsigned long long)st->dropped[r]);
    }
  }
}

/* Notes on each row, printed under the table. */
static char g_notes[16384];

/* The legitimate clients' own counters: what reached them. */
static void atk_note_clients(const atk_spec *sp, const atk_tally *l) {
  size_t at = strlen(g_notes);
  int r;
  at += (size_t)snprintf(g_notes + at, sizeof(g_notes) - at,
                         "- %s: the legitimate clients' endpoints: %llu "
                         "datagrams in, %llu out",
                         sp->name, (unsigned long long)l->st.datagrams_in,
                         (unsigned long long)l->st.datagrams_out);
  for (r = 0; r < MSTLS_UDP_DROP_COUNT && at < sizeof(g_notes); r++) {
    if (l->st.dropped[r]) {
      at += (size_t)snprintf(
          g_notes + at, sizeof(g_notes) - at, ", dropped %s %llu",
          mstls_udp_drop_reason_str((mstls_udp_drop_reason)r),
          (unsigned long long)l->st.dropped[r]);
    }
  }
  if (at < sizeof(g_notes)) {
    snprintf(g_notes + at, sizeof(g_notes) - at, "\n");
  }
}

static void atk_print_row(const atk_spec *sp, const atk_result *r) {
  char counters[1024], extra[128] = "";
  const atk_tally *l = &r->legit;
  long attempted = l->done + l->failed + l->unfinished;
  counters[0] = '\0';
  atk_counters(&r->st, counters, sizeof(counters));
  if (sp->kind == ATK_HALF_OPEN_24 || sp->kind == ATK_HALF_OPEN_32) {
    snprintf(extra, sizeof(extra), "; %ld sources held a slot", r->held);
  } else if (sp->kind == ATK_REPLAY) {
    snprintf(extra, sizeof(extra), "; %u datagrams sent in turn", r->replayed);
  } else if (sp->kind == ATK_ONE_IP) {
    snprintf(extra, sizeof(extra), "; %ld of 300 got a session",
             r->attacker.done);
  }
  printf("| %s | %s | %ld | %.0f | %.2f (%.0f%%) | %.1f | %ld / %ld "
         "(%ld after the attack, %ld failed, %ld unfinished) | %.0f | %ld / "
         "%ld | %llu | %s%s |\n",
         sp->title, sp->kind == ATK_HALF_OPEN_24 ? "forked loop" : "tool",
         sp->kind == ATK_ONE_IP ? (long)r->attacker.sent : r->sent,
         (double)(sp->kind == ATK_ONE_IP ? (long)r->attacker.sent : r->sent) /
             r->seconds,
         r->cpu_s, 100.0 * r->cpu_s / r->seconds, (double)r->hwm_kb / 1024.0,
         l->done, attempted, l->late, l->failed, l->unfinished, l->slowest_ms,
         l->echo_recv, l->echo_sent, r->kernel_drops, counters, extra);
  atk_note_clients(sp, l);
  if (l->failed || l->lost) {
    size_t at = strlen(g_notes);
    snprintf(g_notes + at, sizeof(g_notes) - at,
             "- %s: %ld legitimate handshakes failed, %ld sessions lost, "
             "last error: %s\n",
             sp->name, l->failed, l->lost, mstls_strerror(l->last_error));
  }
  fflush(stdout);
}

static void atk_usage(void) {
  fprintf(stderr,
          "usage: attack_udp [--tool PATH] [--duration S] [--legit N] "
          "[--rate N] [--only NAME]\n"
          "  --tool      the mstls tool (default: beside this program, or "
          "../examples/mstls)\n"
          "  --duration  seconds per attack (default 5)\n"
          "  --legit     legitimate clients (default 4)\n"
          "  --rate      spoofed datagrams/s (default 0: as fast as possible)\n"
          "  --only      none, spoof50k, spoof, forged50k, forged, replay50k, "
          "replay,\n"
          "              halfopen24, halfopen32, oneip\n"
          "Needs root (raw socket). Loopback only.\n");
}

/* The tool beside this program, or in ../examples/ of a build tree. */
static void atk_find_tool(char *out, size_t cap) {
  char self[PATH_MAX - 32];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  char *slash;
  if (n <= 0) {
    snprintf(out, cap, "mstls");
    return;
  }
  self[n] = '\0';
  if ((slash = strrchr(self, '/'))) {
    *slash = '\0';
  }
  snprintf(out, cap, "%s/mstls", self);
  if (access(out, X_OK) != 0) {
    snprintf(out, cap, "%s/../examples/mstls", self);
  }
}

static int atk_args(int argc, char **argv, atk_opts *o) {
  int i;
  memset(o, 0, sizeof(*o));
  o->duration = 5;
  o->legit = 4;
  atk_find_tool(o->tool, sizeof(o->tool));
  for (i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      return -1;
    }
    if (strcmp(argv[i], "--tool") == 0) {
      snprintf(o->tool, sizeof(o->tool), "%s", v);
    } else if (strcmp(argv[i], "--duration") == 0) {
      o->duration = atof(v);
    } else if (strcmp(argv[i], "--legit") == 0) {
      o->legit = (unsigned)atoi(v);
    } else if (strcmp(argv[i], "--rate") == 0) {
      o->rate = atol(v);
    } else if (strcmp(argv[i], "--only") == 0) {
      o->only = v;
    } else {
      return -1;
    }
    i++;
  }
  if (o->duration <= 0 || o->legit < 1 || o->legit > 64 || o->rate < 0 ||
      access(o->tool, X_OK) != 0) {
    if (access(o->tool, X_OK) != 0) {
      fprintf(stderr, "attack_udp: no mstls tool at %s\n", o->tool);
    }
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  mstls_credentials *cred;
  atk_hello hello;
  atk_opts o;
  size_t i;
  int failed = 0;

  if (atk_args(argc, argv, &o) < 0) {
    atk_usage();
    return 2;
  }
  if (geteuid() != 0) {
    fprintf(stderr, "attack_udp: not root: the spoofing rows (raw socket) "
                    "will fail\n");
  }
  signal(SIGPIPE, SIG_IGN);
  srand((unsigned)getpid());
  if (mstls_credentials_new(&cred, NULL) < 0 || atk_hello_get(&hello, cred)) {
    fprintf(stderr, "attack_udp: no ClientHello template\n");
    return 1;
  }
  printf("DTLS attacks on loopback, %.0f s each, %u legitimate clients on "
         "127.0.0.1 (a handshake + one echo + close every %u ms each), "
         "server: %s\n\n",
         o.duration, o.legit, (unsigned)(LEGIT_PACE / MS), o.tool);
  printf("| attack | server | datagrams sent | per second | server CPU s "
         "(%% of one core) | server peak RSS MiB | legitimate handshakes ok "
         "/ attempted | slowest ms | echoes back / sent | kernel rcvbuf "
         "drops | server counters |\n");
  printf("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---|\n");
  fflush(stdout);
  for (i = 0; i < sizeof(atk_specs) / sizeof(atk_specs[0]); i++) {
    atk_result r;
    if (o.only && strcmp(o.only, atk_specs[i].name) != 0) {
      continue;
    }
    if (atk_run(&atk_specs[i], &o, cred, &hello, &r) < 0) {
      failed = 1;
      continue;
    }
    atk_print_row(&atk_specs[i], &r);
    failed |= r.legit.failed > 0 || r.legit.lost > 0;
  }
  if (g_notes[0]) {
    printf("\n%s", g_notes);
  }
  mstls_credentials_del(cred);
  return failed;
}
