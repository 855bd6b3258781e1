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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>

#include "certs.h"
#include "memlink.h"

#define BENCH_SERVER_NAME "server.test"
/* The library's default priority, used for the baseline as well. */
#define BENCH_PRIO_DEFAULT "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define BENCH_PRIO_BULK "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM"
#define BENCH_RECORD 16384
#define BENCH_WINDOW 32 /* records in flight before the receiver drains */
#define BENCH_TRIALS 3

static int quick;

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rv) {
  fprintf(stderr, "bench_core: %s failed: %d (%s / %s)\n", what, rv,
          mstls_strerror(rv), gnutls_strerror(rv));
  exit(1);
}

/* ------------------------------------------------------------------------
 * Plain GnuTLS over an in-memory byte pipe (the baselines)
 * ---------------------------------------------------------------------- */

typedef struct pipe_buf {
  unsigned char *data;
  size_t cap, head, tail; /* bytes [head, tail) are waiting */
} pipe_buf;

typedef struct pipe_end {
  gnutls_session_t tls;
  pipe_buf *in;
  pipe_buf *out;
} pipe_end;

static ssize_t pipe_push(gnutls_transport_ptr_t ptr, const void *buf,
                         size_t len) {
  pipe_end *e = ptr;
  pipe_buf *b = e->out;
  if (b->head == b->tail) {
    b->head = b->tail = 0;
  }
  if (b->tail + len > b->cap) {
    size_t used = b->tail - b->head;
    if (used + len > b->cap) {
      size_t cap = b->cap ? b->cap : 65536;
      unsigned char *p;
      while (cap < used + len) {
        cap *= 2;
      }
      p = malloc(cap);
      if (!p) {
        gnutls_transport_set_errno(e->tls, ENOMEM);
        return -1;
      }
      memcpy(p, b->data + b->head, used);
      free(b->data);
      b->data = p;
      b->cap = cap;
    } else {
      memmove(b->data, b->data + b->head, used);
    }
    b->tail = used;
    b->head = 0;
  }
  memcpy(b->data + b->tail, buf, len);
  b->tail += len;
  return (ssize_t)len;
}

static ssize_t pipe_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len) {
  pipe_end *e = ptr;
  pipe_buf *b = e->in;
  size_t n = b->tail - b->head;
  if (n == 0) {
    gnutls_transport_set_errno(e->tls, EAGAIN);
    return -1;
  }
  if (n > len) {
    n = len;
  }
  memcpy(buf, b->data + b->head, n);
  b->head += n;
  return (ssize_t)n;
}

typedef struct plain_pair {
  pipe_buf c2s, s2c;
  pipe_end client, server;
} plain_pair;

static gnutls_certificate_credentials_t plain_ccred, plain_scred;

static void plain_pair_init(plain_pair *p, gnutls_priority_t prio) {
  int rv;
  memset(p, 0, sizeof(*p));
  p->client.in = &p->s2c;
  p->client.out = &p->c2s;
  p->server.in = &p->c2s;
  p->server.out = &p->s2c;
  if ((rv = gnutls_init(&p->client.tls, GNUTLS_CLIENT)) < 0 ||
      (rv = gnutls_init(&p->server.tls, GNUTLS_SERVER)) < 0 ||
      (rv = gnutls_priority_set(p->client.tls, prio)) < 0 ||
      (rv = gnutls_priority_set(p->server.tls, prio)) < 0 ||
      (rv = gnutls_credentials_set(p->client.tls, GNUTLS_CRD_CERTIFICATE,
                                   plain_ccred)) < 0 ||
      (rv = gnutls_credentials_set(p->server.tls, GNUTLS_CRD_CERTIFICATE,
                                   plain_scred)) < 0 ||
      (rv = gnutls_server_name_set(p->client.tls, GNUTLS_NAME_DNS,
                                   BENCH_SERVER_NAME,
                                   strlen(BENCH_SERVER_NAME))) < 0) {
    die("plain session setup", rv);
  }
  /* Verified like an mstls client verifies its server. */
  gnutls_session_set_verify_cert(p->client.tls, BENCH_SERVER_NAME, 0);
  gnutls_transport_set_ptr(p->client.tls, &p->client);
  gnutls_transport_set_ptr(p->server.tls, &p->server);
  gnutls_transport_set_push_function(p->client.tls, pipe_push);
  gnutls_transport_set_push_function(p->server.tls, pipe_push);
  gnutls_transport_set_pull_function(p->client.tls, pipe_pull);
  gnutls_transport_set_pull_function(p->server.tls, pipe_pull);
}

static void plain_pair_handshake(plain_pair *p) {
  int cdone = 0, sdone = 0;
  while (!cdone || !sdone) {
    int rv;
    if (!cdone) {
      rv = gnutls_handshake(p->client.tls);
      if (rv == 0) {
        cdone = 1;
      } else if (rv != GNUTLS_E_AGAIN && gnutls_error_is_fatal(rv)) {
        die("plain client handshake", rv);
      }
    }
    if (!sdone) {
      rv = gnutls_handshake(p->server.tls);
      if (rv == 0) {
        sdone = 1;
      } else if (rv != GNUTLS_E_AGAIN && gnutls_error_is_fatal(rv)) {
        die("plain server handshake", rv);
      }
    }
  }
}

static void plain_pair_deinit(plain_pair *p) {
  gnutls_deinit(p->client.tls);
  gnutls_deinit(p->server.tls);
  free(p->c2s.data);
  free(p->s2c.data);
}

/* CPU seconds of n full handshakes, each with its own session pair. */
static double plain_handshakes(uint32_t n, gnutls_priority_t prio) {
  double t0 = cpu_now();
  uint32_t i;
  for (i = 0; i < n; i++) {
    plain_pair p;
    plain_pair_init(&p, prio);
    plain_pair_handshake(&p);
    plain_pair_deinit(&p);
  }
  return cpu_now() - t0;
}

/* ------------------------------------------------------------------------
 * mstls session pair over the memlink
 * ---------------------------------------------------------------------- */

static mstls_credentials *ccred, *scred;

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

typedef struct ms_pair {
  memlink *link;
  mstls_session *client, *server;
} ms_pair;

static void ms_pair_new(ms_pair *p, uint32_t n, mstls_policy pol,
                        uint32_t flags, const char *prio) {
  mstls_settings cs, ss;
  mstls_callbacks cb;
  int rv;
  mstls_settings_default(&cs);
  cs.nstreams = n;
  cs.policy = pol;
  cs.server_name = BENCH_SERVER_NAME;
  cs.priority = prio;
  cs.flags = flags;
  ss = cs;
  ss.server_name = NULL;
  p->link = memlink_new(NULL);
  if (!p->link) {
    die("memlink_new", MSTLS_E_NOMEM);
  }
  memlink_callbacks(&cb, MEMLINK_CLIENT);
  cb.stream_event = on_event;
  rv = mstls_session_new(&p->client, MSTLS_ROLE_CLIENT, &cs, &cb, ccred,
                         p->link);
  if (rv < 0) {
    die("client session", rv);
  }
  memlink_callbacks(&cb, MEMLINK_SERVER);
  rv = mstls_session_new(&p->server, MSTLS_ROLE_SERVER, &ss, &cb, scred,
                         p->link);
  if (rv < 0) {
    die("server session", rv);
  }
  memlink_attach(p->link, MEMLINK_CLIENT, p->client);
  memlink_attach(p->link, MEMLINK_SERVER, p->server);
}

static void ms_pair_free(ms_pair *p) {
  mstls_session_del(p->client);
  mstls_session_del(p->server);
  memlink_free(p->link);
}

/* Deliver one message, or run the timers when nothing is in flight.
 * @return 0 when stuck (nothing in flight and no timer). */
static int ms_step(ms_pair *p) {
  mstls_tstamp e1, e2, e, now;
  if (memlink_step(p->link, NULL)) {
    memlink_advance(p->link, 0);
    return 1;
  }
  e1 = mstls_session_get_expiry(p->client);
  e2 = mstls_session_get_expiry(p->server);
  e = e1 < e2 ? e1 : e2;
  if (e == MSTLS_TSTAMP_NEVER) {
    return 0;
  }
  now = memlink_now(p->link);
  memlink_advance(p->link, e > now ? e - now : 0);
  return 1;
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
  double c0 = cpu_now();
  int rv;

  ms_pair_new(&p, n, pol, v->flags, v->priority);
  t0 = memlink_now(p.link);
  if (pol == MSTLS_POLICY_LAZY) {
    /* The first send on a stream starts its handshake (MSTLS_E_AGAIN);
     * the byte goes out once the stream reports HANDSHAKE_DONE. */
    uint32_t left = n, i;
    lazy_done = calloc(n, sizeof(*lazy_done));
    lazy_ndone = 0;
    if (!lazy_done) {
      die("calloc", MSTLS_E_NOMEM);
    }
    for (i = 0; i < n; i++) {
      long w = mstls_stream_send(p.client, (uint16_t)i, "x", 1);
      if (w == 1) {
        left--;
      } else if (w != MSTLS_E_AGAIN) {
        die("lazy send", (int)w);
      }
    }
    i = 0;
    while (left) {
      while (i < lazy_ndone) {
        long w = mstls_stream_send(p.client, lazy_done[i++], "x", 1);
        if (w != 1) {
          die("lazy send", (int)w);
        }
        left--;
      }
      if (left && !ms_step(&p)) {
        die("lazy bring-up stuck", MSTLS_E_AGAIN);
      }
    }
    free(lazy_done);
    lazy_done = NULL;
  } else {
    while ((rv = mstls_session_handshake(p.client)) == MSTLS_E_AGAIN) {
      if (!ms_step(&p)) {
        die("handshake stuck", rv);
      }
    }
    if (rv < 0) {
      die("handshake", rv);
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
  r->cpu = cpu_now() - c0;
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
    die("priority", rv);
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
  uint32_t s = 0, i;
  double c0, c1;
  int rv;

  memset(buf, 0xa5, sizeof(buf));
  ms_pair_new(&p, nstreams, MSTLS_POLICY_PARALLEL, 0, BENCH_PRIO_BULK);
  while ((rv = mstls_session_handshake(p.client)) == MSTLS_E_AGAIN) {
    if (!ms_step(&p)) {
      die("bulk handshake stuck", rv);
    }
  }
  if (rv < 0) {
    die("bulk handshake", rv);
  }
  memlink_run(p.link, (size_t)-1);
  mstls_stream_get_info(p.client, 0, &info);
  snprintf(cipher, cipherlen, "%s %s", info.version, info.cipher);
  c0 = cpu_now();
  while (recvd < total) {
    /* A window of records round robin over the streams, then the
     * receiver drains every stream. */
    for (i = 0; i < BENCH_WINDOW && sent < total; i++) {
      long w = mstls_stream_send(p.client, (uint16_t)s, buf, sizeof(buf));
      if (w != BENCH_RECORD) {
        die("bulk send", (int)w);
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
        die("bulk recv", (int)r);
      }
    }
  }
  c1 = cpu_now();
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
    die("bulk priority", rv);
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
  c0 = cpu_now();
  while (recvd < total) {
    for (i = 0; i < BENCH_WINDOW && sent < total; i++) {
      ssize_t w = gnutls_record_send(p.client.tls, buf, sizeof(buf));
      if (w != BENCH_RECORD) {
        die("plain send", (int)w);
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
        die("plain recv", (int)r);
      }
      break;
    }
  }
  c1 = cpu_now();
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
  scred = test_server_creds(NULL);
  ccred = test_client_creds(NULL, NULL, 0);
  if (!scred || !ccred) {
    die("test credentials", MSTLS_E_CREDENTIALS);
  }
  plain_scred = mstls_credentials_get_gnutls(scred);
  plain_ccred = mstls_credentials_get_gnutls(ccred);
  printf("mstls %s, GnuTLS %s\n", mstls_version(NULL),
         gnutls_check_version(NULL));
  if (strcmp(what, "one") == 0) {
    int rv = run_one(argv[i + 1], argv[i + 2]);
    mstls_credentials_del(ccred);
    mstls_credentials_del(scred);
    return rv;
  }
  if (strcmp(what, "bulk") != 0) {
    bench_handshakes();
  }
  if (strcmp(what, "handshake") != 0) {
    bench_bulk();
  }
  mstls_credentials_del(ccred);
  mstls_credentials_del(scred);
  return 0;
}
