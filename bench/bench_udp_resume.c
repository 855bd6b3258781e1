/* bench_udp_resume: DTLS 1.2 client handshakes per second, full against
 * resumed, on two sans-IO endpoints in one process (the datagrams are
 * carried in memory: no sockets, no loss), so the figure is the CPU of
 * both sides together. Rows: full handshakes with and without a session
 * ticket issued, resumptions by ticket (the client endpoint's cache) and
 * by session ID (the server's session cache). Prints a table. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <mstls/udp.h>

#define QMAX 64

typedef struct dgram {
  size_t len;
  uint8_t data[2048];
} dgram;

typedef struct side {
  mstls_udp_endpoint *ep;
  struct sockaddr_in addr;
  dgram q[QMAX]; /* what it sent, not yet delivered */
  size_t n;
  int done;
} side;

static int b_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                  socklen_t tolen, const uint8_t *data, size_t len, void *ud) {
  side *s = ud;
  (void)ep;
  (void)to;
  (void)tolen;
  if (s->n == QMAX || len > sizeof(s->q[0].data)) {
    return -1;
  }
  memcpy(s->q[s->n].data, data, len);
  s->q[s->n++].len = len;
  return 0;
}

static void b_done(mstls_udp_endpoint *ep, uint32_t flags, mstls_udp_peer *p,
                   void *ud) {
  side *s = ud;
  (void)ep;
  (void)flags;
  (void)p;
  s->done++;
}

/* Deliver what @p from sent to @p to. */
static void b_carry(side *from, side *to, mstls_tstamp now) {
  size_t i, n = from->n;
  dgram tmp[QMAX];
  memcpy(tmp, from->q, n * sizeof(tmp[0]));
  from->n = 0;
  for (i = 0; i < n; i++) {
    (void)mstls_udp_endpoint_feed(to->ep, (struct sockaddr *)&from->addr,
                                  sizeof(from->addr), tmp[i].data, tmp[i].len,
                                  now);
  }
}

static double b_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* @p n handshakes from one client endpoint; each closed before the next.
 * @return handshakes per second, or -1 when one did not end as wanted. */
static double b_run(mstls_credentials *scred, mstls_credentials *ccred,
                    uint32_t server_flags, uint32_t cache, int want_resumed,
                    long n) {
  static side srv, cli;
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_tstamp now = 1000 * MSTLS_SECONDS;
  double t0 = 0, rate;
  long i;

  memset(&srv, 0, sizeof(srv));
  memset(&cli, 0, sizeof(cli));
  srv.addr.sin_family = cli.addr.sin_family = AF_INET;
  srv.addr.sin_port = htons(4433);
  cli.addr.sin_port = htons(5000);
  srv.addr.sin_addr.s_addr = htonl(0x0a000001u);
  cli.addr.sin_addr.s_addr = htonl(0x0a000002u);
  memset(&cb, 0, sizeof(cb));
  cb.send = b_send;
  cb.handshake_done = b_done;
  mstls_udp_settings_default(&s);
  s.flags |= server_flags;
  s.rate_limit = 0;
  if (mstls_udp_endpoint_new(&srv.ep, &s, &cb, scred, &srv) < 0) {
    return -1;
  }
  mstls_udp_settings_default(&s);
  s.flags = MSTLS_UDP_INSECURE;
  s.resumption_cache = cache;
  if (mstls_udp_endpoint_new(&cli.ep, &s, &cb, ccred, &cli) < 0) {
    mstls_udp_endpoint_del(srv.ep);
    return -1;
  }
  /* One handshake first (it fills the caches), then the timed ones. */
  for (i = -1; i < n; i++) {
    mstls_udp_peer *p = NULL;
    mstls_udp_peer_info info;
    int round;
    if (i == 0) {
      t0 = b_now();
    }
    cli.done = 0;
    if (mstls_udp_endpoint_connect(cli.ep, (struct sockaddr *)&srv.addr,
                                   sizeof(srv.addr), NULL, now, &p) < 0) {
      break;
    }
    for (round = 0; round < 20 && (cli.n || srv.n); round++) {
      b_carry(&cli, &srv, now);
      b_carry(&srv, &cli, now);
    }
    if (!cli.done || mstls_udp_peer_get_info(p, &info) < 0 ||
        (i >= 0 && info.resumed != want_resumed)) {
      break;
    }
    mstls_udp_peer_close(p);
    b_carry(&cli, &srv, now);
    now += MSTLS_MILLISECONDS;
  }
  rate = i == n ? (double)n / (b_now() - t0) : -1;
  mstls_udp_endpoint_del(srv.ep);
  mstls_udp_endpoint_del(cli.ep);
  return rate;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000;
  mstls_credentials *scred = NULL, *ccred = NULL;
  static const struct {
    const char *what;
    uint32_t server_flags, cache;
    int resumed;
  } rows[] = {
      {"full handshake, no ticket issued", MSTLS_UDP_NO_TICKETS, 0, 0},
      {"full handshake, ticket issued", 0, 0, 0},
      {"resumed by ticket (client cache)", 0, 1000, 1},
      {"resumed by session ID (server cache)", MSTLS_UDP_NO_TICKETS, 1000, 1},
  };
  size_t i;

  if (n < 1 || mstls_credentials_new(&scred, NULL) < 0 ||
      mstls_credentials_set_self_signed(scred, "localhost") < 0 ||
      mstls_credentials_new(&ccred, NULL) < 0) {
    fprintf(stderr, "usage: bench_udp_resume [HANDSHAKES]\n");
    return 1;
  }
  printf("DTLS 1.2 client handshakes, ECDSA P-256 self-signed, client and "
         "server in one thread\n(in-memory datagrams), %ld per row:\n\n",
         n);
  printf("| handshake | per second | us each |\n|---|---:|---:|\n");
  for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    double r = b_run(scred, ccred, rows[i].server_flags, rows[i].cache,
                     rows[i].resumed, n);
    if (r < 0) {
      printf("| %s | failed | - |\n", rows[i].what);
      continue;
    }
    printf("| %s | %.0f | %.0f |\n", rows[i].what, r, 1e6 / r);
  }
  mstls_credentials_del(scred);
  mstls_credentials_del(ccred);
  return 0;
}
