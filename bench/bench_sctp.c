/* bench_sctp: TLS over SCTP throughput and handshake cost on usrsctp.
 *
 * Both ends run in this process over an AF_CONN link pair (usrsctp without
 * threads, driven by this loop), so the numbers are the CPU cost of the
 * SCTP stack plus TLS on one core, without a network.
 *
 * Throughput: the same association carries TLS streams (ids < N) and, as
 * the baseline, plain SCTP messages of the same size on unidirectional
 * streams (ids >= 16, RFC 3436 plaintext-only streams): same stack, same
 * link, same run; only TLS differs. One trial of each is noise on a shared
 * machine, so TRIALS trials of each run interleaved (the order alternating)
 * and the median of the per-trial ratios is reported with its spread.
 *
 * Usage: bench_sctp [MBYTES [TRIALS]]   (default 256 MB per measurement,
 *        5 trials) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mstls/sctp.h>

#include "certs.h"

#define BENCH_MSG 16384
#define BENCH_PORT 5001

typedef struct bench {
  mstls_sctp_link_pair *pair;
  mstls_sctp_listener *lst;
  mstls_sctp_assoc *cli;
  mstls_sctp_assoc *srv;
  mstls_credentials *ccred;
  mstls_credentials *scred;
  mstls_settings ss;
  mstls_callbacks scb;
  mstls_sctp_config scfg;
  uint64_t got;
  int err;
} bench;

static double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_on_data(mstls_session *s, uint16_t stream, const uint8_t *d,
                         size_t len, void *ud) {
  bench *b = ud;
  (void)s;
  (void)stream;
  (void)d;
  b->got += len;
  return 0;
}

static void bench_on_plain(mstls_sctp_assoc *a, uint16_t stream, uint32_t ppid,
                           const uint8_t *d, size_t len, void *ud) {
  bench *b = ud;
  (void)a;
  (void)stream;
  (void)ppid;
  (void)d;
  b->got += len;
}

static void bench_step(bench *b) {
  (void)mstls_sctp_link_pair_pump(b->pair);
  if (b->srv == NULL) {
    int rv = mstls_sctp_accept(b->lst, &b->srv, &b->ss, &b->scb, b->scred, b);
    if (rv < 0 && rv != MSTLS_E_AGAIN)
      b->err = rv;
  }
  if (mstls_sctp_assoc_process(b->cli) < 0)
    b->err = 1;
  if (b->srv != NULL && mstls_sctp_assoc_process(b->srv) < 0)
    b->err = 1;
  (void)mstls_sctp_link_pair_pump(b->pair);
  mstls_sctp_usrsctp_handle_timers(1);
}

static int bench_open(bench *b, uint16_t n, mstls_policy pol) {
  mstls_sctp_config cfg;
  mstls_settings cs;
  const test_pki *pki = test_pki_get();

  memset(b, 0, sizeof(*b));
  if (pki == NULL || mstls_sctp_link_pair_new(&b->pair) < 0)
    return -1;
  b->ccred = test_client_creds(NULL, NULL, 0);
  b->scred = test_server_creds(NULL);
  mstls_sctp_config_default(&cfg);
  cfg.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  cfg.blocking = 0;
  cfg.streams_in = n;
  cfg.streams_out = (uint16_t)(n + 32); /* + plaintext-only streams */
  b->scfg = cfg;
  b->scfg.streams_in = (uint16_t)(n + 32);
  b->scfg.streams_out = n;
  b->scfg.plain_recv = bench_on_plain;
  b->scfg.link = mstls_sctp_link_pair_get(b->pair, 1);
  cfg.link = mstls_sctp_link_pair_get(b->pair, 0);
  mstls_settings_default(&cs);
  cs.server_name = "server.test";
  cs.policy = pol;
  mstls_settings_default(&b->ss);
  memset(&b->scb, 0, sizeof(b->scb));
  b->scb.recv_data = bench_on_data;
  if (mstls_sctp_listen(&b->lst, &b->scfg, NULL, BENCH_PORT) < 0)
    return -1;
  return mstls_sctp_connect(&b->cli, &cfg, NULL, BENCH_PORT, &cs, NULL,
                            b->ccred, NULL);
}

static void bench_close(bench *b) {
  int i;
  (void)mstls_sctp_assoc_shutdown(b->cli);
  for (i = 0; i < 100; i++)
    bench_step(b);
  mstls_sctp_assoc_del(b->cli);
  mstls_sctp_assoc_del(b->srv);
  mstls_sctp_listener_del(b->lst);
  for (i = 0; i < 50; i++) {
    (void)mstls_sctp_link_pair_pump(b->pair);
    mstls_sctp_usrsctp_handle_timers(100);
  }
  mstls_sctp_link_pair_del(b->pair);
  mstls_credentials_del(b->ccred);
  mstls_credentials_del(b->scred);
}

/* Handshake every stream; LAZY: one byte on every stream, echoed nowhere,
 * until the server has it. Returns seconds, < 0 on failure. */
static double bench_handshake(uint16_t n, mstls_policy pol) {
  bench b;
  double t0 = bench_now(), t;
  int i, rv = MSTLS_E_AGAIN;

  rv = bench_open(&b, n, pol);
  if (rv < 0) {
    fprintf(stderr, "handshake: open: %s\n", mstls_strerror(rv));
    return -1;
  }
  rv = MSTLS_E_AGAIN;
  for (i = 0; i < 1000000 && rv == MSTLS_E_AGAIN && !b.err; i++) {
    mstls_session *c = mstls_sctp_assoc_get_session(b.cli);
    mstls_session *s = mstls_sctp_assoc_get_session(b.srv);
    bench_step(&b);
    /* LAZY: nothing to do up front once both sessions exist. */
    if (c != NULL && s != NULL && pol == MSTLS_POLICY_LAZY)
      rv = 0;
    else if (c != NULL && s != NULL &&
             mstls_session_handshake(s) != MSTLS_E_AGAIN)
      rv = mstls_session_handshake(c);
  }
  if (rv != 0)
    fprintf(stderr, "handshake: %s\n", mstls_strerror(rv));
  if (rv == 0 && pol == MSTLS_POLICY_LAZY) {
    mstls_session *c = mstls_sctp_assoc_get_session(b.cli);
    uint32_t k;
    for (k = 0; k < n; k++)
      (void)mstls_stream_send(c, (uint16_t)k, "x", 1);
    /* A lazy stream takes its first byte once its handshake is done. */
    for (i = 0; i < 1000000 && b.got < n && !b.err; i++) {
      for (k = 0; k < n; k++) {
        mstls_stream_info info;
        if (mstls_stream_get_info(c, (uint16_t)k, &info) == 0 &&
            info.bytes_sent == 0)
          (void)mstls_stream_send(c, (uint16_t)k, "x", 1);
      }
      bench_step(&b);
    }
    if (b.got < n) {
      fprintf(stderr, "lazy: got %llu of %u, err %d\n",
              (unsigned long long)b.got, n, b.err);
      rv = -1;
    }
  }
  t = bench_now() - t0;
  bench_close(&b);
  return rv == 0 ? t : -1;
}

/* Bulk transfer of @p total bytes over @p n streams, TLS or plain. */
static double bench_bulk(uint16_t n, int tls, uint64_t total) {
  static uint8_t msg[BENCH_MSG];
  bench b;
  double t0, t;
  uint64_t sent = 0;
  int rv = MSTLS_E_AGAIN, i;

  rv = bench_open(&b, 16, MSTLS_POLICY_RESUME);
  if (rv < 0) {
    fprintf(stderr, "bulk: open: %s\n", mstls_strerror(rv));
    return -1;
  }
  rv = MSTLS_E_AGAIN;
  for (i = 0; i < 1000000 && rv == MSTLS_E_AGAIN && !b.err; i++) {
    mstls_session *c = mstls_sctp_assoc_get_session(b.cli);
    mstls_session *s = mstls_sctp_assoc_get_session(b.srv);
    bench_step(&b);
    if (c != NULL && s != NULL && mstls_session_handshake(s) != MSTLS_E_AGAIN)
      rv = mstls_session_handshake(c);
  }
  if (rv != 0) {
    fprintf(stderr, "bulk: handshake %d err %d\n", rv, b.err);
    return -1;
  }
  memset(msg, 'b', sizeof(msg));
  b.got = 0;
  t0 = bench_now();
  while (b.got < total && !b.err) {
    uint16_t k;
    int progress = 1;
    while (progress && sent < total) {
      progress = 0;
      for (k = 0; k < n && sent < total; k++) {
        if (tls) {
          long r = mstls_stream_send(mstls_sctp_assoc_get_session(b.cli), k,
                                     msg, sizeof(msg));
          if (r > 0) {
            sent += (uint64_t)r;
            progress = 1;
          }
        } else if (mstls_sctp_send_plain(b.cli, (uint16_t)(16 + k), 0, msg,
                                         sizeof(msg)) == 0) {
          sent += sizeof(msg);
          progress = 1;
        }
      }
    }
    bench_step(&b);
  }
  t = bench_now() - t0;
  if (b.err) {
    fprintf(stderr, "bulk: error %d/%d\n", mstls_sctp_assoc_get_error(b.cli),
            mstls_sctp_assoc_get_error(b.srv));
    t = -1;
  }
  bench_close(&b);
  return t;
}

#define BENCH_MAX_TRIALS 101

static int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median of a sorted array. */
static double bench_median(const double *v, int n) {
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
  static const uint16_t hs_n[] = {1, 16, 100, 1000};
  static const mstls_policy pols[] = {MSTLS_POLICY_RESUME,
                                      MSTLS_POLICY_PARALLEL, MSTLS_POLICY_LAZY};
  static const char *pol_names[] = {"resume", "parallel", "lazy"};
  static const uint16_t bulk_n[] = {1, 16};
  uint64_t mb = argc > 1 ? strtoull(argv[1], NULL, 10) : 256;
  int trials = argc > 2 ? atoi(argv[2]) : 5;
  uint64_t total = mb << 20;
  size_t i, j;

  if (mb == 0 || trials < 1 || trials > BENCH_MAX_TRIALS) {
    fprintf(stderr, "usage: bench_sctp [MB per measurement] [trials 1..%d]\n",
            BENCH_MAX_TRIALS);
    return 2;
  }
  if (mstls_sctp_usrsctp_init(0, MSTLS_SCTP_USRSCTP_NOTHREADS) < 0)
    return 1;
  printf("TLS over SCTP (usrsctp, in-process AF_CONN link, one thread)\n\n");
  printf("Bulk throughput, %llu MB, %d-byte messages, %d interleaved trials "
         "(plain and mstls alternate which goes first); the ratio is "
         "mstls / plain per trial\n",
         (unsigned long long)mb, BENCH_MSG, trials);
  printf("%-8s %16s %16s %13s %17s\n", "streams", "plain MB/s (med)",
         "mstls MB/s (med)", "median ratio", "ratio min..max");
  for (i = 0; i < sizeof(bulk_n) / sizeof(bulk_n[0]); i++) {
    double plain[BENCH_MAX_TRIALS], tls[BENCH_MAX_TRIALS];
    double ratio[BENCH_MAX_TRIALS];
    int k, ok = 1;
    for (k = 0; k < trials && ok; k++) {
      /* Alternate the order so that neither side always runs on a warmer
       * (or more loaded) machine. */
      double tp, tt;
      if (k % 2 == 0) {
        tp = bench_bulk(bulk_n[i], 0, total);
        tt = bench_bulk(bulk_n[i], 1, total);
      } else {
        tt = bench_bulk(bulk_n[i], 1, total);
        tp = bench_bulk(bulk_n[i], 0, total);
      }
      if (tp <= 0 || tt <= 0) {
        ok = 0;
        break;
      }
      plain[k] = (double)mb / tp;
      tls[k] = (double)mb / tt;
      ratio[k] = tp / tt;
    }
    if (!ok) {
      printf("%-8u failed\n", bulk_n[i]);
      continue;
    }
    qsort(plain, (size_t)trials, sizeof(double), bench_cmp);
    qsort(tls, (size_t)trials, sizeof(double), bench_cmp);
    qsort(ratio, (size_t)trials, sizeof(double), bench_cmp);
    printf("%-8u %16.1f %16.1f %12.0f%% %8.0f%%..%.0f%%\n", bulk_n[i],
           bench_median(plain, trials), bench_median(tls, trials),
           100.0 * bench_median(ratio, trials), 100.0 * ratio[0],
           100.0 * ratio[trials - 1]);
    fflush(stdout);
  }
  printf("\nHandshake all streams over SCTP (ms; lazy: first byte on every "
         "stream)\n");
  printf("%-8s", "streams");
  for (j = 0; j < 3; j++)
    printf(" %12s", pol_names[j]);
  printf("\n");
  for (i = 0; i < sizeof(hs_n) / sizeof(hs_n[0]); i++) {
    printf("%-8u", hs_n[i]);
    for (j = 0; j < 3; j++) {
      double t = bench_handshake(hs_n[i], pols[j]);
      if (t < 0)
        printf(" %12s", "failed");
      else
        printf(" %12.1f", t * 1000.0);
      fflush(stdout);
    }
    printf("\n");
  }
  (void)mstls_sctp_usrsctp_release();
  return 0;
}
