/* bench_udp: DTLS handshakes per second on one server socket (mstls UDP
 * endpoint, poll loop) against plain GnuTLS with one connected socket per
 * peer (cookie on the listening socket, then a socket bound to the same
 * port and connected to the peer), same clients, same run. Then the memory
 * of an established peer. Loopback only; prints a table. */
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>

#include <mstls/udp.h>

#include "benchudp.h"

#define PRIO "NORMAL:-VERS-ALL:+VERS-DTLS1.2"
#define MAXC 600

static mstls_credentials *g_cred;
static gnutls_certificate_credentials_t g_x509; /* server, baseline */
static gnutls_certificate_credentials_t g_anon; /* clients: no verify */
static gnutls_priority_t g_prio;
static volatile int g_stop;

/* ---- clients: plain GnuTLS on connected sockets -----------------------------
 */

/* Run @p total handshakes with @p conc in flight; keep them open when
 * @p hold. @return handshakes completed. */
static long bench_clients(const struct sockaddr_in *srv, int conc, long total,
                          int hold, bench_dtls_client *cl) {
  bench_dtls_run r;
  memset(&r, 0, sizeof(r));
  r.srv = srv;
  r.prio = g_prio;
  r.cred = g_anon;
  r.total = total;
  r.hold = hold;
  r.seconds = 15; /* bounded cell */
  bench_dtls_run_clients(&r, cl, conc);
  if (r.failed || r.done < total) {
    fprintf(stderr,
            "bench_udp: %d clients: %ld of %ld handshakes done, %ld failed\n",
            conc, r.done, total, r.failed);
  }
  return r.done;
}

/* ---- server A: the mstls endpoint -------------------------------------------
 */

static void *bench_mstls_server(void *arg) {
  mstls_udp_loop *loop = arg;
  while (!g_stop) {
    mstls_udp_loop_run_once(loop, 5);
  }
  return NULL;
}

static mstls_udp_loop *bench_mstls_loop(struct sockaddr_in *addr) {
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_udp_loop *loop = NULL;
  struct sockaddr_storage ss;
  socklen_t sl;
  mstls_udp_settings_default(&s);
  s.rate_limit = 0;
  s.max_half_open = 100000;
  s.max_peers = 100000;
  s.retrans_timeout_ms = 200;
  memset(&cb, 0, sizeof(cb));
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (mstls_udp_loop_new(&loop, (struct sockaddr *)addr, sizeof(*addr), &s, &cb,
                         g_cred, NULL) < 0) {
    return NULL;
  }
  mstls_udp_loop_get_local_addr(loop, &ss, &sl);
  memcpy(addr, &ss, sizeof(*addr));
  {
    int big = 4 << 20;
    setsockopt(mstls_udp_loop_get_fd(loop), SOL_SOCKET, SO_RCVBUF, &big,
               sizeof(big));
  }
  return loop;
}

/* ---- server B: plain GnuTLS, a connected socket per peer -------------------
 */

typedef struct bpeer {
  int fd;
  gnutls_session_t s;
  int established;
  uint8_t first[2048]; /* the ClientHello with the cookie */
  size_t first_len;
} bpeer;

typedef struct bbase {
  int lfd;
  struct sockaddr_in addr;
  gnutls_datum_t key;
  bpeer *peers[MAXC * 2];
  int n;
} bbase;

static ssize_t bench_peer_pull(gnutls_transport_ptr_t p, void *buf,
                               size_t len) {
  bpeer *bp = p;
  if (bp->first_len) {
    size_t n = bp->first_len < len ? bp->first_len : len;
    memcpy(buf, bp->first, n);
    bp->first_len = 0;
    return (ssize_t)n;
  }
  return recv(bp->fd, buf, len, 0);
}

static ssize_t bench_peer_push(gnutls_transport_ptr_t p, const void *buf,
                               size_t len) {
  bpeer *bp = p;
  return send(bp->fd, buf, len, 0);
}

static int bench_peer_pull_timeout(gnutls_transport_ptr_t p, unsigned ms) {
  bpeer *bp = p;
  struct pollfd pfd = {bp->fd, POLLIN, 0};
  if (bp->first_len) {
    return 1;
  }
  return poll(&pfd, 1, 0) > 0 ? 1 : 0 * (int)ms;
}

typedef struct bcookie {
  int fd;
  struct sockaddr_in to;
} bcookie;

static ssize_t bench_cookie_push(gnutls_transport_ptr_t p, const void *buf,
                                 size_t len) {
  bcookie *c = p;
  return sendto(c->fd, buf, len, 0, (struct sockaddr *)&c->to, sizeof(c->to));
}

static void bench_base_accept(bbase *b) {
  uint8_t buf[2048];
  struct sockaddr_in from;
  socklen_t fl = sizeof(from);
  gnutls_dtls_prestate_st pre;
  bpeer *bp;
  int one = 1;
  ssize_t n =
      recvfrom(b->lfd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
  if (n <= 0) {
    return;
  }
  memset(&pre, 0, sizeof(pre));
  if (gnutls_dtls_cookie_verify(&b->key, &from, sizeof(from), buf, (size_t)n,
                                &pre) < 0) {
    bcookie c = {b->lfd, from};
    gnutls_dtls_cookie_send(&b->key, &from, sizeof(from), &pre, &c,
                            bench_cookie_push);
    return;
  }
  if (b->n == MAXC * 2) {
    return;
  }
  bp = calloc(1, sizeof(*bp));
  bp->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  setsockopt(bp->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(bp->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (bind(bp->fd, (struct sockaddr *)&b->addr, sizeof(b->addr)) < 0 ||
      connect(bp->fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
    close(bp->fd);
    free(bp);
    return;
  }
  memcpy(bp->first, buf, (size_t)n);
  bp->first_len = (size_t)n;
  gnutls_init(&bp->s, GNUTLS_SERVER | GNUTLS_DATAGRAM | GNUTLS_NONBLOCK);
  gnutls_priority_set(bp->s, g_prio);
  gnutls_credentials_set(bp->s, GNUTLS_CRD_CERTIFICATE, g_x509);
  gnutls_dtls_prestate_set(bp->s, &pre);
  gnutls_dtls_set_timeouts(bp->s, 200, 30000);
  gnutls_transport_set_ptr(bp->s, bp);
  gnutls_transport_set_push_function(bp->s, bench_peer_push);
  gnutls_transport_set_pull_function(bp->s, bench_peer_pull);
  gnutls_transport_set_pull_timeout_function(bp->s, bench_peer_pull_timeout);
  b->peers[b->n++] = bp;
  gnutls_handshake(bp->s);
}

static void bench_base_drop(bbase *b, int i) {
  bpeer *bp = b->peers[i];
  gnutls_deinit(bp->s);
  close(bp->fd);
  free(bp);
  b->peers[i] = b->peers[--b->n];
}

static void *bench_base_server(void *arg) {
  bbase *b = arg;
  static struct pollfd pfd[MAXC * 2 + 1];
  uint64_t tick = 0;
  while (!g_stop) {
    int i, n = b->n, all;
    pfd[0].fd = b->lfd;
    pfd[0].events = POLLIN;
    for (i = 0; i < n; i++) {
      pfd[i + 1].fd = b->peers[i]->fd;
      pfd[i + 1].events = POLLIN;
      pfd[i + 1].revents = 0;
    }
    pfd[0].revents = 0;
    poll(pfd, (nfds_t)n + 1, 5);
    /* Like the clients: readable peers, and all handshaking peers every
     * 10 ms for GnuTLS's retransmission timers. */
    all = mstls_udp_now() >= tick;
    if (all) {
      tick = mstls_udp_now() + 10000000ull;
    }
    for (i = n - 1; i >= 0; i--) {
      bpeer *bp = b->peers[i];
      int rv;
      if (!bp->established) {
        if (!all && !pfd[i + 1].revents) {
          continue;
        }
        rv = gnutls_handshake(bp->s);
        if (rv == 0) {
          bp->established = 1;
        } else if (rv != GNUTLS_E_AGAIN && gnutls_error_is_fatal(rv)) {
          bench_base_drop(b, i);
        }
        continue;
      }
      if (pfd[i + 1].revents) {
        char buf[2048];
        rv = (int)gnutls_record_recv(bp->s, buf, sizeof(buf));
        if (rv == 0 ||
            (rv < 0 && rv != GNUTLS_E_AGAIN && gnutls_error_is_fatal(rv))) {
          bench_base_drop(b, i);
        }
      }
    }
    if (pfd[0].revents) {
      int k;
      for (k = 0; k < 64; k++) {
        struct pollfd one = {b->lfd, POLLIN, 0};
        if (poll(&one, 1, 0) <= 0) {
          break;
        }
        bench_base_accept(b);
      }
    }
  }
  while (b->n) {
    bench_base_drop(b, b->n - 1);
  }
  return NULL;
}

/* ---- driver
 * ------------------------------------------------------------------ */

static double bench_now(void) {
  return (double)mstls_udp_now() / 1e9;
}

static double run_mstls(int conc, long total) {
  static bench_dtls_client cl[MAXC];
  struct sockaddr_in addr;
  pthread_t th;
  mstls_udp_loop *loop = bench_mstls_loop(&addr);
  double t0, t1;
  long done;
  g_stop = 0;
  pthread_create(&th, NULL, bench_mstls_server, loop);
  t0 = bench_now();
  done = bench_clients(&addr, conc, total, 0, cl);
  t1 = bench_now();
  g_stop = 1;
  pthread_join(th, NULL);
  mstls_udp_loop_del(loop);
  return (double)done / (t1 - t0);
}

static double run_base(int conc, long total) {
  static bench_dtls_client cl[MAXC];
  static bbase b;
  pthread_t th;
  double t0, t1;
  long done;
  int one = 1;
  socklen_t al = sizeof(b.addr);
  memset(&b, 0, sizeof(b));
  gnutls_key_generate(&b.key, GNUTLS_COOKIE_KEY_SIZE);
  b.lfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  setsockopt(b.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(b.lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  b.addr.sin_family = AF_INET;
  b.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(b.lfd, (struct sockaddr *)&b.addr, sizeof(b.addr));
  getsockname(b.lfd, (struct sockaddr *)&b.addr, &al);
  g_stop = 0;
  pthread_create(&th, NULL, bench_base_server, &b);
  t0 = bench_now();
  done = bench_clients(&b.addr, conc, total, 0, cl);
  t1 = bench_now();
  g_stop = 1;
  pthread_join(th, NULL);
  close(b.lfd);
  gnutls_free(b.key.data);
  return (double)done / (t1 - t0);
}

/* Heap bytes of one established server peer: hold @p n peers open, then
 * free the endpoint's peers and measure what went away. */
static double mem_per_peer(int n) {
  static bench_dtls_client cl[MAXC];
  struct sockaddr_in addr;
  pthread_t th;
  mstls_udp_loop *loop;
  mstls_udp_stats st;
  size_t before, with_peers, after;
  int i;
  malloc_trim(0);
  before = mallinfo2().uordblks;
  loop = bench_mstls_loop(&addr);
  g_stop = 0;
  pthread_create(&th, NULL, bench_mstls_server, loop);
  bench_clients(&addr, n, n, 1, cl);
  /* Let the server finish its side. */
  usleep(200000);
  g_stop = 1;
  pthread_join(th, NULL);
  mstls_udp_endpoint_get_stats(mstls_udp_loop_get_endpoint(loop), &st);
  with_peers = mallinfo2().uordblks;
  mstls_udp_loop_del(loop);
  after = mallinfo2().uordblks;
  (void)before;
  for (i = 0; i < n; i++) {
    if (cl[i].busy) {
      bench_dtls_client_end(&cl[i], 0);
    }
  }
  if (st.peers == 0) {
    return 0;
  }
  /* The endpoint's own buffers go away too: subtract one empty endpoint. */
  {
    size_t e0, e1;
    mstls_udp_loop *l2;
    e0 = mallinfo2().uordblks;
    l2 = bench_mstls_loop(&addr);
    e1 = mallinfo2().uordblks;
    mstls_udp_loop_del(l2);
    return ((double)(with_peers - after) - (double)(e1 - e0)) / st.peers;
  }
}

int main(int argc, char **argv) {
  static const int concs[] = {1, 64, 512};
  long total = argc > 1 ? atol(argv[1]) : 1500;
  size_t i;

  if (mstls_credentials_new(&g_cred, NULL) < 0 ||
      mstls_credentials_set_self_signed(g_cred, "localhost") < 0) {
    fprintf(stderr, "credentials failed\n");
    return 1;
  }
  g_x509 = mstls_credentials_get_gnutls(g_cred);
  gnutls_certificate_allocate_credentials(&g_anon);
  gnutls_priority_init(&g_prio, PRIO, NULL);

  printf("DTLS 1.2 handshakes/s on loopback, ECDSA P-256, %ld handshakes per "
         "cell (1 client: %ld)\n\n",
         total, total / 5);
  printf("| concurrent clients | mstls endpoint, one socket | plain GnuTLS, "
         "connected socket per peer | ratio |\n");
  printf("|---:|---:|---:|---:|\n");
  for (i = 0; i < sizeof(concs) / sizeof(concs[0]); i++) {
    long n = concs[i] == 1 ? total / 5 : total;
    double a = run_mstls(concs[i], n);
    double b = run_base(concs[i], n);
    printf("| %d | %.0f | %.0f | %.0f%% |\n", concs[i], a, b, 100.0 * a / b);
    fflush(stdout);
  }
  printf("\nheap per established server peer (512 peers held open): %.0f "
         "bytes\n",
         mem_per_peer(512));
  gnutls_priority_deinit(g_prio);
  gnutls_certificate_free_credentials(g_anon);
  mstls_credentials_del(g_cred);
  return 0;
}
