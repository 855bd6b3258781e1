/* bench_core: cost of the multistream session against plain GnuTLS.
 *
 * 1. Handshake-all: bring up N streams under each policy (RESUME, PARALLEL,
 *    LAZY) over the in-memory link and compare the CPU time (client and
 *    server together, one process) with N independent full GnuTLS
 *    handshakes over an in-memory pipe, same certificates, same priority,
 *    certificate verified by the client. Round trips are counted in the
 *    link's simulated time.
 * 2. Bulk: 16 KB records of one cipher through the session and the link
 *    (one stream, 16 streams) against gnutls_record_send/recv between two
 *    plain sessions over an in-memory buffer.
 *
 * CPU time is CLOCK_PROCESS_CPUTIME_ID; every figure is the best of a few
 * trials. Usage: bench_core [handshake|bulk|all] [--quick]
 *                bench_core one N VARIANT   (one bring-up, for profilers)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>

#include "benchpair.h"

#define BENCH_PRIO_BULK "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM"
#define BENCH_RECORD 16384
#define BENCH_WINDOW 32 /* records in flight before the receiver drains */
#define BENCH_TRIALS 3

static int quick;

/* CPU seconds of n full handshakes, each with its own session pair. */
static double plain_handshakes(uint32_t n, gnutls_priority_t prio) {
  double t0 = bench_cpu_now();
  uint32_t i;
  for (i = 0; i < n; i++) {
    plain_pair p;
    plain_pair_init(&p, prio);
    plain_pair_handshake(&p);
    plain_pair_deinit(&p);
  }
  return bench_cpu_now() - t0;
}

/* ------------------------------------------------------------------------
 * mstls session pair over the memlink
 * ---------------------------------------------------------------------- */

/* LAZY bring-up: streams whose handshake finished, to send on (the bench is
 * single-threaded). */
static uint16_t *lazy_done;
static uint32_t lazy_ndone;

static void on_event(mstls_session *session, mstls_stream_event ev,
                     uint16_t stream, int error, void *user_data) {
  (void)session;
  (void)error;
  (void)user_data;
  if (ev == MSTLS_EVENT_HANDSHAKE_DONE && lazy_done) {
    lazy_done[lazy_ndone++] = stream;
  }
}

typedef struct hs_result {
  double cpu;         /* seconds, whole bring-up including session setup */
  double round_trips; /* simulated, until the client had every stream */
  uint32_t full, resumed;
} hs_result;

typedef struct hs_variant {
  const char *name;
  mstls_policy policy;
  uint32_t flags;
  const char *priority; /* NULL: the library's default */
} hs_variant;

#define BENCH_PRIO_TLS12 "NORMAL:-VERS-ALL:+VERS-TLS1.2"

static const hs_variant variants[] = {
    {"RESUME", MSTLS_POLICY_RESUME, 0, NULL},
    {"RESUME+PSK_KE", MSTLS_POLICY_RESUME, MSTLS_SETTINGS_RESUME_PSK_KE, NULL},
    {"PARALLEL", MSTLS_POLICY_PARALLEL, 0, NULL},
    {"LAZY", MSTLS_POLICY_LAZY, 0, NULL},
    /* TLS 1.2 for the round trips; the baseline stays TLS 1.3. */
    {"RESUME/1.2", MSTLS_POLICY_RESUME, 0, BENCH_PRIO_TLS12},
    {"PARALLEL/1.2", MSTLS_POLICY_PARALLEL, 0, BENCH_PRIO_TLS12},
};

#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

/* Which TLS 1.3 resumption mode a stream really used: psk_ke has no
 * (EC)DHE group, psk_dhe_ke has one. */
static void describe(gnutls_session_t g, char *out, size_t len) {
  const char *grp;
  if (!g) {
    snprintf(out, len, "-");
    return;
  }
  grp = gnutls_group_get_name(gnutls_group_get(g));
  snprintf(out, len, "%s, resumed=%d, group=%s => %s",
           gnutls_protocol_get_name(gnutls_protocol_get_version(g)),
           gnutls_session_is_resumed(g) != 0, grp ? grp : "none",
           !gnutls_session_is_resumed(g) ? "full handshake"
           : gnutls_protocol_get_version(g) != GNUTLS_TLS1_3
               ? "abbreviated handshake"
           : grp ? "psk_dhe_ke"
                 : "psk_ke");
}

/* Bring up all n streams: handshake() for RESUME and PARALLEL; for LAZY
 * one byte sent on every stream (each send starts that stream). The link
 * is drained before the clock stops, so the server's last work counts. */
static void ms_handshake_all(uint32_t n, const hs_variant *v, hs_result *r,
                             char *desc, size_t desclen) {
  mstls_policy pol = v->policy;
  ms_pair p;
  mstls_session_stats st;
  mstls_tstamp t0, t1;
  double c0 = bench_cpu_now();
  int rv;

  {
    ms_pair_opts o;
    memset(&o, 0, sizeof(o));
    o.nstreams = n;
    o.policy = pol;
    o.flags = v->flags;
    o.priority = v->priority;
    o.on_event = on_event;
    ms_pair_new(&p, &o);
  }
  t0 = memlink_now(p.link);
  if (pol == MSTLS_POLICY_LAZY) {
    /* The first send on a stream starts its handshake (MSTLS_E_AGAIN);
     * the byte goes out once the stream reports HANDSHAKE_DONE. */
    uint32_t left = n, i;
    lazy_done = calloc(n, sizeof(*lazy_done));
    lazy_ndone = 0;
    if (!lazy_done) {
      bench_die("calloc", MSTLS_E_NOMEM);
    }
    for (i = 0; i < n; i++) {
      long w = mstls_stream_send(p.client, (uint16_t)i, "x", 1);
      if (w == 1) {
        left--;
      } else if (w != MSTLS_E_AGAIN) {
        bench_die("lazy send", (int)w);
      }
    }
    i = 0;
    while (left) {
      while (i < lazy_ndone) {
        long w = mstls_stream_send(p.client, lazy_done[i++], "x", 1);
        if (w != 1) {
          bench_die("lazy send", (int)w);
        }
        left--;
      }
      if (left && !ms_step(&p)) {
        bench_die("lazy bring-up stuck", MSTLS_E_AGAIN);
      }
    }
    free(lazy_done);
    lazy_done = NULL;
  } else {
    while ((rv = mstls_session_handshake(p.client)) == MSTLS_E_AGAIN) {
      if (!ms_step(&p)) {
        bench_die("handshake stuck", rv);
      }
    }
    if (rv < 0) {
      bench_die("handshake", rv);
    }
  }
  t1 = memlink_now(p.link);
  memlink_run(p.link, (size_t)-1);
  mstls_session_get_stats(p.client, &st);
  if (desc && n > 1) {
    char c[128], s[128];
    describe(mstls_stream_get_gnutls(p.client, 1), c, sizeof(c));
    describe(mstls_stream_get_gnutls(p.server, 1), s, sizeof(s));
    snprintf(desc, desclen, "client: %s; server: %s", c, s);
  }
  ms_pair_free(&p);
  r->cpu = bench_cpu_now() - c0;
  r->round_trips = (double)(t1 - t0) / (double)(2 * 10 * MSTLS_MILLISECONDS);
  r->full = st.full_handshakes;
  r->resumed = st.streams_resumed;
}

static void bench_handshakes(void) {
  static const uint32_t ns[] = {1, 16, 100, 1000};
  gnutls_priority_t prio;
  char desc[sizeof(variants) / sizeof(variants[0])][300];
  size_t i, j;
  int rv = gnutls_priority_init2(&prio, BENCH_PRIO_DEFAULT, NULL, 0);
  if (rv < 0) {
    bench_die("priority", rv);
  }
  printf("\nHandshake-all: CPU ms per bring-up of N streams (client+server),"
         " best of %d\n",
         BENCH_TRIALS);
  printf("baseline = N independent full GnuTLS handshakes, priority %s\n\n",
         BENCH_PRIO_DEFAULT);
  memset(desc, 0, sizeof(desc));
  printf("| %5s | %-12s | %10s | %11s | %6s | %11s | %4s | %7s |\n", "N",
         "policy", "mstls ms", "baseline ms", "ratio", "round trips", "full",
         "resumed");
  printf("|------:|--------------|-----------:|------------:|-------:|"
         "------------:|-----:|--------:|\n");
  for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
    uint32_t n = ns[i];
    /* Repeat small N so a trial lasts long enough to time. */
    uint32_t reps = n >= 200 ? 1 : 200 / n;
    uint32_t t, k;
    double base = 1e9;
    hs_result best[NVARIANTS];
    if (quick && n > 100) {
      continue;
    }
    /* Baseline and variants alternate within each trial, so a change in
     * the machine's load hits both sides of a ratio alike. */
    for (j = 0; j < NVARIANTS; j++) {
      memset(&best[j], 0, sizeof(best[j]));
      best[j].cpu = 1e9;
    }
    for (t = 0; t < BENCH_TRIALS; t++) {
      double c = plain_handshakes(n * reps, prio) / reps;
      if (c < base) {
        base = c;
      }
      for (j = 0; j < NVARIANTS; j++) {
        hs_result r;
        double sum = 0;
        for (k = 0; k < reps; k++) {
          ms_handshake_all(n, &variants[j], &r,
                           (n == 16 && t == 0 && k == 0) ? desc[j] : NULL,
                           sizeof(desc[j]));
          sum += r.cpu;
        }
        r.cpu = sum / reps;
        if (r.cpu < best[j].cpu) {
          best[j] = r;
        }
      }
    }
    for (j = 0; j < NVARIANTS; j++) {
      printf("| %5u | %-12s | %10.2f | %11.2f | %6.3f | %11.1f | %4u | %7u |\n",
             n, variants[j].name, best[j].cpu * 1e3, base * 1e3,
             best[j].cpu / base, best[j].round_trips, best[j].full,
             best[j].resumed);
    }
    fflush(stdout);
  }
  printf("\nStream 1 of N=16, as negotiated:\n");
  for (j = 0; j < NVARIANTS; j++) {
    printf("  %-12s %s\n", variants[j].name, desc[j]);
  }
  gnutls_priority_deinit(prio);
}

/* ------------------------------------------------------------------------
 * Bulk throughput
 * ---------------------------------------------------------------------- */

static uint64_t bulk_total(void) {
  return (uint64_t)(quick ? 64 : 256) * 1024 * 1024;
}

/* MB/s (10^6 bytes per CPU second) through mstls and the memlink. */
static double ms_bulk(uint32_t nstreams, char *cipher, size_t cipherlen) {
  ms_pair p;
  static uint8_t buf[BENCH_RECORD], rbuf[BENCH_RECORD];
  uint64_t total = bulk_total(), sent = 0, recvd = 0;
  mstls_stream_info info;
  ms_pair_opts o;
  uint32_t s = 0, i;
  double c0, c1;
  int rv;

  memset(buf, 0xa5, sizeof(buf));
  memset(&o, 0, sizeof(o));
  o.nstreams = nstreams;
  o.policy = MSTLS_POLICY_PARALLEL;
  o.priority = BENCH_PRIO_BULK;
  ms_pair_new(&p, &o);
  while ((rv = mstls_session_handshake(p.client)) == MSTLS_E_AGAIN) {
    if (!ms_step(&p)) {
      bench_die("bulk handshake stuck", rv);
    }
  }
  if (rv < 0) {
    bench_die("bulk handshake", rv);
  }
  memlink_run(p.link, (size_t)-1);
  mstls_stream_get_info(p.client, 0, &info);
  snprintf(cipher, cipherlen, "%s %s", info.version, info.cipher);
  c0 = bench_cpu_now();
  while (recvd < total) {
    /* A window of records round robin over the streams, then the
     * receiver drains every stream. */
    for (i = 0; i < BENCH_WINDOW && sent < total; i++) {
      long w = mstls_stream_send(p.client, (uint16_t)s, buf, sizeof(buf));
      if (w != BENCH_RECORD) {
        bench_die("bulk send", (int)w);
      }
      sent += (uint64_t)w;
      s = (s + 1) % nstreams;
    }
    memlink_run(p.link, (size_t)-1);
    for (i = 0; i < nstreams; i++) {
      long r;
      while ((r = mstls_stream_recv(p.server, (uint16_t)i, rbuf,
                                    sizeof(rbuf))) > 0) {
        recvd += (uint64_t)r;
      }
      if (r != MSTLS_E_AGAIN) {
        bench_die("bulk recv", (int)r);
      }
    }
  }
  c1 = bench_cpu_now();
  ms_pair_free(&p);
  return (double)total / (c1 - c0) / 1e6;
}

/* The same records between two plain GnuTLS sessions. */
static double plain_bulk(char *cipher, size_t cipherlen) {
  static uint8_t buf[BENCH_RECORD], rbuf[BENCH_RECORD];
  uint64_t total = bulk_total(), sent = 0, recvd = 0;
  gnutls_priority_t prio;
  plain_pair p;
  double c0, c1;
  uint32_t i;
  int rv = gnutls_priority_init2(&prio, BENCH_PRIO_BULK, NULL, 0);
  if (rv < 0) {
    bench_die("bulk priority", rv);
  }
  memset(buf, 0xa5, sizeof(buf));
  plain_pair_init(&p, prio);
  plain_pair_handshake(&p);
  snprintf(cipher, cipherlen, "%s %s",
           gnutls_protocol_get_name(gnutls_protocol_get_version(p.client.tls)),
           gnutls_cipher_get_name(gnutls_cipher_get(p.client.tls)));
  /* The server's post-handshake tickets, if any, are read first. */
  while (gnutls_record_recv(p.client.tls, rbuf, sizeof(rbuf)) > 0) {
  }
  c0 = bench_cpu_now();
  while (recvd < total) {
    for (i = 0; i < BENCH_WINDOW && sent < total; i++) {
      ssize_t w = gnutls_record_send(p.client.tls, buf, sizeof(buf));
      if (w != BENCH_RECORD) {
        bench_die("plain send", (int)w);
      }
      sent += (uint64_t)w;
    }
    for (;;) {
      ssize_t r = gnutls_record_recv(p.server.tls, rbuf, sizeof(rbuf));
      if (r > 0) {
        recvd += (uint64_t)r;
        continue;
      }
      if (r != GNUTLS_E_AGAIN) {
        bench_die("plain recv", (int)r);
      }
      break;
    }
  }
  c1 = bench_cpu_now();
  plain_pair_deinit(&p);
  gnutls_priority_deinit(prio);
  return (double)total / (c1 - c0) / 1e6;
}

static double best_of(double a, double b) {
  return a > b ? a : b;
}

static void bench_bulk(void) {
  char c1[64], c16[64], cp[64];
  double m1 = 0, m16 = 0, raw = 0;
  int t;
  for (t = 0; t < BENCH_TRIALS; t++) {
    raw = best_of(raw, plain_bulk(cp, sizeof(cp)));
    m1 = best_of(m1, ms_bulk(1, c1, sizeof(c1)));
    m16 = best_of(m16, ms_bulk(16, c16, sizeof(c16)));
  }
  printf("\nBulk: %u-byte records, %llu MB per run, MB/s = 10^6 bytes per"
         " CPU second (sender+receiver), best of %d\n\n",
         BENCH_RECORD, (unsigned long long)(bulk_total() >> 20), BENCH_TRIALS);
  printf("| %-28s | %-19s | %8s | %8s |\n", "path", "negotiated", "MB/s",
         "vs raw");
  printf("|------------------------------|---------------------|---------:|"
         "---------:|\n");
  printf("| %-28s | %-19s | %8.0f | %8.3f |\n", "raw GnuTLS records", cp, raw,
         1.0);
  printf("| %-28s | %-19s | %8.0f | %8.3f |\n", "mstls + memlink, 1 stream", c1,
         m1, m1 / raw);
  printf("| %-28s | %-19s | %8.0f | %8.3f |\n", "mstls + memlink, 16 streams",
         c16, m16, m16 / raw);
}

/* One bring-up, for a profiler: bench_core one N VARIANT. */
static int run_one(const char *n_arg, const char *name) {
  size_t j;
  for (j = 0; j < NVARIANTS; j++) {
    if (strcmp(variants[j].name, name) == 0) {
      hs_result r;
      char desc[300];
      ms_handshake_all((uint32_t)atoi(n_arg), &variants[j], &r, desc,
                       sizeof(desc));
      printf("%s N=%s: %.2f ms CPU, %.1f round trips, full=%u resumed=%u\n",
             name, n_arg, r.cpu * 1e3, r.round_trips, r.full, r.resumed);
      return 0;
    }
  }
  fprintf(stderr, "unknown variant %s\n", name);
  return 2;
}

int main(int argc, char **argv) {
  const char *what = "all";
  int i;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "one") == 0 && i + 2 < argc) {
      what = "one";
      break;
    }
    if (strcmp(argv[i], "--quick") == 0) {
      quick = 1;
    } else if (strcmp(argv[i], "handshake") == 0 ||
               strcmp(argv[i], "bulk") == 0 || strcmp(argv[i], "all") == 0) {
      what = argv[i];
    } else {
      fprintf(stderr,
              "usage: %s [handshake|bulk|all] [--quick]\n"
              "       %s one N VARIANT (RESUME, RESUME+PSK_KE, PARALLEL, LAZY,"
              " RESUME/1.2, PARALLEL/1.2)\n",
              argv[0], argv[0]);
      return 2;
    }
  }
  bench_creds_init();
  printf("mstls %s, GnuTLS %s\n", mstls_version(NULL),
         gnutls_check_version(NULL));
  if (strcmp(what, "one") == 0) {
    int rv = run_one(argv[i + 1], argv[i + 2]);
    bench_creds_free();
    return rv;
  }
  if (strcmp(what, "bulk") != 0) {
    bench_handshakes();
  }
  if (strcmp(what, "handshake") != 0) {
    bench_bulk();
  }
  bench_creds_free();
  return 0;
}
