/* bench_log: what the log costs on the path a flood takes. A sans-IO DTLS
 * endpoint is fed datagrams it drops (truncated records, records that are
 * not a ClientHello), from 4096 source addresses, with the log off, with
 * MSTLS_LOG_INFO to a callback that does nothing, and with
 * MSTLS_LOG_ERROR (the INFO summaries filtered out). Prints ns per
 * datagram and the lines the callback got. No sockets: only the
 * endpoint's work is timed.
 *
 * usage: bench_log [DATAGRAMS]   (default 2000000 per row) */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mstls/udp.h>

static unsigned long g_lines;

static int bl_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                   socklen_t tolen, const uint8_t *data, size_t len, void *ud) {
  (void)ep;
  (void)to;
  (void)tolen;
  (void)data;
  (void)len;
  (void)ud;
  return 0;
}

static void bl_log(int level, const char *line, void *ud) {
  (void)level;
  (void)line;
  (void)ud;
  g_lines++;
}

static double bl_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ns per datagram over @p n datagrams, alternating the two kinds. */
static double bl_run(mstls_udp_endpoint *ep, long n) {
  /* A truncated record header, and a handshake record that is not a
   * ClientHello (type 2), both on epoch 0. */
  static const uint8_t junk[13] = {22, 0xfe, 0xfd, 0};
  uint8_t not_ch[25 + 12] = {22, 0xfe, 0xfd, 0,  0, 0, 0, 0, 0,
                             0,  0,    0,    24, 2, 0, 0, 12};
  struct sockaddr_in a;
  double t0;
  long i;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  t0 = bl_now();
  for (i = 0; i < n; i++) {
    a.sin_addr.s_addr = htonl(0x0a000000u | (uint32_t)(i & 4095));
    a.sin_port = htons((uint16_t)(1024 + (i & 1023)));
    if (i & 1) {
      (void)mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, sizeof(a),
                                    not_ch, sizeof(not_ch), 0);
    } else {
      (void)mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, sizeof(a), junk,
                                    sizeof(junk), 0);
    }
  }
  return (bl_now() - t0) * 1e9 / (double)n;
}

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    int level;
  } rows[] = {{"log off", MSTLS_LOG_OFF},
              {"MSTLS_LOG_ERROR", MSTLS_LOG_ERROR},
              {"MSTLS_LOG_INFO", MSTLS_LOG_INFO},
              {"log off (again)", MSTLS_LOG_OFF}};
  long n = argc > 1 ? atol(argv[1]) : 2000000;
  mstls_credentials *cred = NULL;
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  size_t r;

  if (n < 1 || mstls_credentials_new(&cred, NULL) < 0 ||
      mstls_credentials_set_self_signed(cred, "localhost") < 0) {
    fprintf(stderr, "usage: bench_log [DATAGRAMS]\n");
    return 2;
  }
  mstls_udp_settings_default(&s);
  memset(&cb, 0, sizeof(cb));
  cb.send = bl_send;
  printf("%-18s %12s %14s %8s\n", "log", "datagrams", "ns/datagram", "lines");
  for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
    mstls_udp_endpoint *ep = NULL;
    double ns;
    /* Warm up on an endpoint of its own: the measured one counts its
     * drops from zero, so the lines are those of n datagrams. */
    if (mstls_udp_endpoint_new(&ep, &s, &cb, cred, NULL) < 0) {
      fprintf(stderr, "bench_log: endpoint\n");
      return 1;
    }
    (void)bl_run(ep, n / 10 + 1);
    mstls_udp_endpoint_del(ep);
    if (mstls_udp_endpoint_new(&ep, &s, &cb, cred, NULL) < 0) {
      fprintf(stderr, "bench_log: endpoint\n");
      return 1;
    }
    g_lines = 0;
    mstls_set_log(bl_log, rows[r].level, NULL);
    ns = bl_run(ep, n);
    mstls_set_log(NULL, MSTLS_LOG_OFF, NULL);
    printf("%-18s %12ld %14.1f %8lu\n", rows[r].name, n, ns, g_lines);
    mstls_udp_endpoint_del(ep);
  }
  mstls_credentials_del(cred);
  return 0;
}
