/* bench_size: sizing figures of mstls against bare GnuTLS in the same run.
 *
 * One process, no sockets, both sides of every connection in it:
 *
 * 1. TLS over SCTP, per stream: an mstls client and server session with N
 *    streams over the in-memory link (tests/helpers/memlink), against N
 *    bare GnuTLS session pairs over in-memory byte pipes. Same
 *    certificates, priority and verification; both servers issue TLS 1.3
 *    tickets and both clients read them.
 *    - full: POLICY_PARALLEL (every stream a full handshake);
 *    - resumed: a client given the resumption data of an earlier session
 *      (settings.resumption_data, POLICY_RESUME: every stream resumes),
 *      against bare clients given gnutls_session_get_data2() of an earlier
 *      session.
 * 2. DTLS 1.2 over UDP, per peer: a server and a client mstls_udp_endpoint
 *    fed by hand on a fake clock. The client connects to N distinct server
 *    addresses, all carried to the one server endpoint, which sees each
 *    flow as coming from its own client address. Against N bare GnuTLS
 *    DTLS pairs over datagram queues whose server answers the first
 *    ClientHello with a HelloVerifyRequest (gnutls_dtls_cookie_send/verify)
 *    as the endpoint does, and issues tickets as the endpoint does.
 *    - full: cookie exchange and full handshake;
 *    - resumed: cookie exchange and ticket resumption (the client
 *      endpoint's cache; the bare client's gnutls_session_get_data2()).
 *
 * CPU is CLOCK_PROCESS_CPUTIME_ID of setting up and handshaking N streams
 * or peers (client and server together), divided by N. Heap is the growth
 * of malloc's in-use bytes (mallinfo2: uordblks + hblkhd, so that chunks
 * glibc serves with mmap count too) from before the N were set up to when
 * all N are established and held (both sides), divided by N. The
 * endpoints themselves and the one mstls session pair are created inside
 * the window for SCTP (a session is per association), outside for UDP (an
 * endpoint is per socket, not per peer). Trials are interleaved; every
 * figure is the median of the trials.
 *
 * Usage: bench_size [N [TRIALS [ONLY]]]   (N streams and peers, default
 *        256; TRIALS default 7; ONLY one of tls-full, tls-resumed,
 *        dtls, dtls-resumed, bare-tls-full, bare-tls-resumed, bare-dtls,
 *        for a profiler: runs only that measurement)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>

#include <mstls/udp.h>

#include "benchpair.h"

#define SIZE_TARGET 1.2
#define DTLS_PRIO "NORMAL:-VERS-ALL:+VERS-DTLS1.2"
#define QMAX 64
#define DGRAM_MAX 2048

/* Heap bytes in use. */
static size_t heap_now(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

typedef struct figure {
  double cpu;   /* seconds per handshake, client and server */
  double heap;  /* bytes per stream or peer */
  double srv;   /* DTLS: seconds per handshake in the server's work */
  double srvn;  /* DTLS: timed intervals per handshake */
  double sheap; /* bytes per stream or peer held by the server side */
} figure;

/* DTLS: CPU seconds spent in the server's work, in passes of their own
 * (time_server set; the totals come from passes without the clock
 * reads). Each flight the server receives is one interval, for the
 * endpoint and the bare server alike (three per handshake, full or
 * resumed); what a pair of clock reads adds to an interval is measured at
 * start (srv_clock_cost) and taken off for each. */
static int time_server;
static double srv_cpu, srv_clock_cost;
static unsigned long srv_calls;
static double srv_begin(void) {
  return time_server ? bench_cpu_now() : 0;
}

static void srv_end(double t0) {
  if (time_server) {
    srv_cpu += bench_cpu_now() - t0;
    srv_calls++;
  }
}

static void srv_reset(void) {
  srv_cpu = 0;
  srv_calls = 0;
}

/* Seconds per handshake in the server's calls, clock reads taken off. */
static double srv_per(uint32_t n) {
  return (srv_cpu - (double)srv_calls * srv_clock_cost) / n;
}

/* The figures of a window of @p n handshakes: CPU seconds @p c0 to @p c1,
 * heap bytes @p h0 to @p h1, and the server's work since srv_reset(). */
static void figure_window(figure *f, uint32_t n, double c0, double c1,
                          size_t h0, size_t h1) {
  f->cpu = (c1 - c0) / n;
  f->heap = ((double)h1 - (double)h0) / n;
  f->srv = srv_per(n);
  f->srvn = (double)srv_calls / n;
}

static void srv_calibrate(void) {
  double best = 1;
  int t, i;
  time_server = 1;
  for (t = 0; t < 5; t++) {
    srv_reset();
    for (i = 0; i < 100000; i++) {
      srv_end(srv_begin());
    }
    if (srv_cpu / srv_calls < best) {
      best = srv_cpu / srv_calls;
    }
  }
  time_server = 0;
  srv_clock_cost = best;
}

static gnutls_datum_t ticket_key; /* bare servers' */
static gnutls_datum_t cookie_key; /* bare DTLS servers' */

static void describe(gnutls_session_t g, char *out, size_t len) {
  const char *grp = gnutls_group_get_name(gnutls_group_get(g));
  snprintf(out, len, "%s %s, %s, group %s",
           gnutls_protocol_get_name(gnutls_protocol_get_version(g)),
           gnutls_cipher_get_name(gnutls_cipher_get(g)),
           gnutls_session_is_resumed(g) ? "resumed" : "full",
           grp ? grp : "none");
}

/* ------------------------------------------------------------------------
 * TLS over SCTP: bare GnuTLS
 * ---------------------------------------------------------------------- */

/* The client reads after the handshake: that takes the server's
 * NewSessionTickets (GnuTLS processes each inside a gnutls_record_recv
 * that returns GNUTLS_E_AGAIN; GnuTLS 3.7.9 servers send two). */
static void plain_take_ticket(plain_pair *p) {
  uint8_t b[64];
  while (p->s2c.head != p->s2c.tail) {
    ssize_t r = gnutls_record_recv(p->client.tls, b, sizeof(b));
    if (r != GNUTLS_E_AGAIN) {
      bench_die("plain ticket read", (int)r);
    }
  }
}

/* plain_pair_handshake() with the server's handshake calls timed as its
 * work (time_server): called when something waits for it. (Its
 * gnutls_init() is not in it; an mstls server stream's is.) */
static void plain_handshake_timed(plain_pair *p) {
  int cdone = 0, sdone = 0, rounds, rv;
  for (rounds = 0; !cdone || !sdone; rounds++) {
    if (rounds > 50) {
      bench_die("plain handshake stuck", GNUTLS_E_AGAIN);
    }
    if (!cdone) {
      rv = gnutls_handshake(p->client.tls);
      if (rv == 0) {
        cdone = 1;
      } else if (rv != GNUTLS_E_AGAIN) {
        bench_die("plain client handshake", rv);
      }
    }
    if (!sdone && p->c2s.head != p->c2s.tail) {
      double t0 = srv_begin();
      rv = gnutls_handshake(p->server.tls);
      srv_end(t0);
      if (rv == 0) {
        sdone = 1;
      } else if (rv != GNUTLS_E_AGAIN) {
        bench_die("plain server handshake", rv);
      }
    }
  }
}

static void plain_pair_up(plain_pair *p, gnutls_priority_t prio,
                          const gnutls_datum_t *rdata) {
  int rv;
  plain_pair_init(p, prio);
  if ((rv = gnutls_session_ticket_enable_server(p->server.tls, &ticket_key)) <
      0) {
    bench_die("plain ticket key", rv);
  }
  if (rdata && (rv = gnutls_session_set_data(p->client.tls, rdata->data,
                                             rdata->size)) < 0) {
    bench_die("plain set_data", rv);
  }
  if (time_server) {
    plain_handshake_timed(p);
  } else {
    plain_pair_handshake(p);
  }
  plain_take_ticket(p);
  if (!rdata != !gnutls_session_is_resumed(p->client.tls)) {
    bench_die(rdata ? "plain resumption (full handshake instead)"
                    : "plain full handshake (resumed)",
              GNUTLS_E_INTERNAL_ERROR);
  }
  plain_pair_drop_buffers(p);
}

static figure plain_tls(uint32_t n, gnutls_priority_t prio,
                        const gnutls_datum_t *rdata, char *desc,
                        size_t desclen) {
  plain_pair *pairs = calloc(n, sizeof(*pairs));
  figure f;
  size_t h0, h1, h2;
  double c0, c1;
  uint32_t i;
  if (!pairs) {
    bench_die("calloc", MSTLS_E_NOMEM);
  }
  h0 = heap_now();
  srv_reset();
  c0 = bench_cpu_now();
  for (i = 0; i < n; i++) {
    plain_pair_up(&pairs[i], prio, rdata);
  }
  c1 = bench_cpu_now();
  h1 = heap_now();
  if (desc) {
    describe(pairs[n - 1].client.tls, desc, desclen);
  }
  /* The clients go first: what is left is the servers'. */
  for (i = 0; i < n; i++) {
    gnutls_deinit(pairs[i].client.tls);
  }
  h2 = heap_now();
  for (i = 0; i < n; i++) {
    gnutls_deinit(pairs[i].server.tls);
    free(pairs[i].c2s.data);
    free(pairs[i].s2c.data);
  }
  free(pairs);
  figure_window(&f, n, c0, c1, h0, h1);
  f.sheap = ((double)h2 - (double)h0) / n;
  return f;
}

/* Resumption data of one bare session, for the resumed baseline. */
static void plain_resumption_data(gnutls_priority_t prio, gnutls_datum_t *d) {
  plain_pair p;
  int rv;
  plain_pair_up(&p, prio, NULL);
  if ((rv = gnutls_session_get_data2(p.client.tls, d)) < 0) {
    bench_die("gnutls_session_get_data2", rv);
  }
  plain_pair_deinit(&p);
}

/* ------------------------------------------------------------------------
 * TLS over SCTP: mstls
 * ---------------------------------------------------------------------- */

/* What an idle memlink holds (its per-stream-id tables, about 1 MB): the
 * stand-in for the SCTP association, which the bare pairs do not have
 * either, so it is not counted. Nothing is in flight when it is
 * subtracted. */
static size_t memlink_heap(void) {
  static size_t size;
  if (!size) {
    size_t h0 = heap_now();
    memlink *l = memlink_new(NULL);
    if (!l) {
      bench_die("memlink_new", MSTLS_E_NOMEM);
    }
    size = heap_now() - h0;
    memlink_free(l);
  }
  return size;
}

/* ms_pair_handshake() with every message to the server timed as its work
 * (time_server): the feed, and what the server pushes from inside it. */
static void ms_handshake_timed(ms_pair *p) {
  int rv;
  for (;;) {
    rv = mstls_session_handshake(p->client);
    if (rv != MSTLS_E_AGAIN && memlink_in_flight(p->link) == 0) {
      break;
    }
    if (memlink_next_side(p->link) == MEMLINK_SERVER) {
      double t0 = srv_begin();
      (void)memlink_step(p->link, NULL);
      srv_end(t0);
      memlink_advance(p->link, 0);
    } else if (!ms_step(p)) {
      bench_die("handshake stuck", rv);
    }
  }
  if (rv < 0) {
    bench_die("handshake", rv);
  }
}

static figure ms_tls(uint32_t n, const uint8_t *rdata, size_t rlen, char *desc,
                     size_t desclen) {
  ms_pair p;
  ms_pair_opts o;
  mstls_session_stats st;
  figure f;
  size_t h0, h1, h2;
  double c0, c1;
  memset(&o, 0, sizeof(o));
  o.nstreams = n;
  o.policy = rdata ? MSTLS_POLICY_RESUME : MSTLS_POLICY_PARALLEL;
  o.resumption_data = rdata;
  o.resumption_data_len = rlen;
  h0 = heap_now();
  srv_reset();
  c0 = bench_cpu_now();
  ms_pair_new(&p, &o);
  if (time_server) {
    ms_handshake_timed(&p);
  } else {
    ms_pair_handshake(&p);
  }
  c1 = bench_cpu_now();
  h1 = heap_now() - memlink_heap();
  mstls_session_get_stats(p.client, &st);
  if (rdata ? (st.streams_resumed != n || st.full_handshakes != 0)
            : (st.full_handshakes != n || st.streams_resumed != 0)) {
    fprintf(stderr, "bench_size: mstls %s: %u full, %u resumed of %u\n",
            rdata ? "resumption" : "full handshakes", st.full_handshakes,
            st.streams_resumed, n);
    exit(1);
  }
  if (desc) {
    describe(mstls_stream_get_gnutls(p.client, (uint16_t)(n - 1)), desc,
             desclen);
  }
  /* The client goes first (nothing is pushed on deletion): what is left
   * is the server's. */
  mstls_session_del(p.client);
  p.client = NULL;
  h2 = heap_now() - memlink_heap();
  ms_pair_free(&p);
  figure_window(&f, n, c0, c1, h0, h1);
  f.sheap = ((double)h2 - (double)h0) / n;
  return f;
}

static uint8_t *ms_resumption_data(size_t *len) {
  ms_pair p;
  ms_pair_opts o;
  uint8_t *d;
  int rv;
  memset(&o, 0, sizeof(o));
  o.nstreams = 1;
  o.policy = MSTLS_POLICY_RESUME;
  ms_pair_new(&p, &o);
  ms_pair_handshake(&p);
  *len = 0;
  rv = mstls_session_get_resumption_data(p.client, NULL, len);
  if (rv != MSTLS_E_MSG_SIZE || !(d = malloc(*len))) {
    bench_die("resumption data size", rv);
  }
  if ((rv = mstls_session_get_resumption_data(p.client, d, len)) < 0) {
    bench_die("mstls_session_get_resumption_data", rv);
  }
  ms_pair_free(&p);
  return d;
}

/* ------------------------------------------------------------------------
 * Datagram queues (one flow at a time for the bare pairs, every flow for
 * the endpoints)
 * ---------------------------------------------------------------------- */

typedef struct dgram {
  size_t len;
  uint32_t flow; /* UDP: which of the N address pairs */
  uint8_t data[DGRAM_MAX];
} dgram;

typedef struct dqueue {
  dgram *q;
  size_t head, n, cap;
} dqueue;

static void dq_push(dqueue *d, uint32_t flow, const void *data, size_t len) {
  dgram *g;
  if (len > DGRAM_MAX) {
    bench_die("datagram too large", (int)len);
  }
  if (d->head + d->n == d->cap) {
    if (d->head) {
      memmove(d->q, d->q + d->head, d->n * sizeof(*d->q));
      d->head = 0;
    } else {
      size_t cap = d->cap ? d->cap * 2 : QMAX;
      dgram *q = realloc(d->q, cap * sizeof(*q));
      if (!q) {
        bench_die("realloc", MSTLS_E_NOMEM);
      }
      d->q = q;
      d->cap = cap;
    }
  }
  g = &d->q[d->head + d->n++];
  g->flow = flow;
  g->len = len;
  memcpy(g->data, data, len);
}

static void dq_reserve(dqueue *d, size_t n) {
  if (d->cap < n) {
    dgram *q = realloc(d->q, n * sizeof(*q));
    if (!q) {
      bench_die("realloc", MSTLS_E_NOMEM);
    }
    d->q = q;
    d->cap = n;
  }
}

static dgram *dq_peek(dqueue *d) {
  return d->n ? &d->q[d->head] : NULL;
}

static void dq_pop(dqueue *d) {
  d->head++;
  if (--d->n == 0) {
    d->head = 0;
  }
}

static void dq_free(dqueue *d) {
  free(d->q);
  memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------------------
 * DTLS: bare GnuTLS with a cookie exchange
 * ---------------------------------------------------------------------- */

static dqueue bare_c2s, bare_s2c;

typedef struct bare_dtls {
  gnutls_session_t client, server;
  struct sockaddr_in caddr; /* what the cookie binds */
} bare_dtls;

static ssize_t bd_push_c(gnutls_transport_ptr_t ptr, const void *d,
                         size_t len) {
  (void)ptr;
  dq_push(&bare_c2s, 0, d, len);
  return (ssize_t)len;
}

static ssize_t bd_push_s(gnutls_transport_ptr_t ptr, const void *d,
                         size_t len) {
  (void)ptr;
  dq_push(&bare_s2c, 0, d, len);
  return (ssize_t)len;
}

static ssize_t bd_pull(dqueue *q, gnutls_session_t s, void *buf, size_t len) {
  dgram *g = dq_peek(q);
  size_t n;
  if (!g) {
    gnutls_transport_set_errno(s, EAGAIN);
    return -1;
  }
  n = g->len < len ? g->len : len;
  memcpy(buf, g->data, n);
  dq_pop(q);
  return (ssize_t)n;
}

static ssize_t bd_pull_c(gnutls_transport_ptr_t ptr, void *buf, size_t len) {
  return bd_pull(&bare_s2c, ((bare_dtls *)ptr)->client, buf, len);
}

static ssize_t bd_pull_s(gnutls_transport_ptr_t ptr, void *buf, size_t len) {
  return bd_pull(&bare_c2s, ((bare_dtls *)ptr)->server, buf, len);
}

static int bd_timeout_c(gnutls_transport_ptr_t ptr, unsigned ms) {
  (void)ptr;
  (void)ms;
  return bare_s2c.n != 0;
}

static int bd_timeout_s(gnutls_transport_ptr_t ptr, unsigned ms) {
  (void)ptr;
  (void)ms;
  return bare_c2s.n != 0;
}

static void bare_dtls_up(bare_dtls *b, uint32_t i, gnutls_priority_t prio,
                         const gnutls_datum_t *rdata) {
  gnutls_certificate_credentials_t cc =
      mstls_credentials_get_gnutls(bench_ccred);
  gnutls_certificate_credentials_t sc =
      mstls_credentials_get_gnutls(bench_scred);
  gnutls_dtls_prestate_st prestate;
  double t0;
  int rv, cdone = 0, sdone = 0, rounds;

  memset(b, 0, sizeof(*b));
  b->caddr.sin_family = AF_INET;
  b->caddr.sin_port = htons(5000);
  b->caddr.sin_addr.s_addr = htonl(0x0a020000u + i);
  if ((rv = gnutls_init(&b->client, GNUTLS_CLIENT | GNUTLS_DATAGRAM |
                                        GNUTLS_NONBLOCK)) < 0 ||
      (rv = gnutls_priority_set(b->client, prio)) < 0 ||
      (rv = gnutls_credentials_set(b->client, GNUTLS_CRD_CERTIFICATE, cc)) <
          0 ||
      (rv =
           gnutls_server_name_set(b->client, GNUTLS_NAME_DNS, BENCH_SERVER_NAME,
                                  strlen(BENCH_SERVER_NAME))) < 0 ||
      (rdata && (rv = gnutls_session_set_data(b->client, rdata->data,
                                              rdata->size)) < 0)) {
    bench_die("bare DTLS client setup", rv);
  }
  gnutls_session_set_verify_cert(b->client, BENCH_SERVER_NAME, 0);
  gnutls_transport_set_ptr(b->client, b);
  gnutls_transport_set_push_function(b->client, bd_push_c);
  gnutls_transport_set_pull_function(b->client, bd_pull_c);
  gnutls_transport_set_pull_timeout_function(b->client, bd_timeout_c);

  /* The stateless part: a ClientHello without a valid cookie gets a
   * HelloVerifyRequest and no session; the one with it opens the server
   * session, which reads that ClientHello again. The server's work on
   * each flight it receives is one timed interval, as in ep_pump(). */
  for (rounds = 0;; rounds++) {
    dgram *g;
    rv = gnutls_handshake(b->client);
    if (rv != GNUTLS_E_AGAIN || rounds > 3 || !(g = dq_peek(&bare_c2s))) {
      bench_die("bare DTLS ClientHello", rv);
    }
    t0 = srv_begin();
    memset(&prestate, 0, sizeof(prestate));
    if (gnutls_dtls_cookie_verify(&cookie_key, &b->caddr, sizeof(b->caddr),
                                  g->data, g->len, &prestate) == 0) {
      break; /* the interval goes on into the server's handshake */
    }
    dq_pop(&bare_c2s);
    rv = gnutls_dtls_cookie_send(&cookie_key, &b->caddr, sizeof(b->caddr),
                                 &prestate, b, bd_push_s);
    srv_end(t0);
    if (rv < 0) {
      bench_die("gnutls_dtls_cookie_send", rv);
    }
  }
  if ((rv = gnutls_init(&b->server, GNUTLS_SERVER | GNUTLS_DATAGRAM |
                                        GNUTLS_NONBLOCK)) < 0 ||
      (rv = gnutls_priority_set(b->server, prio)) < 0 ||
      (rv = gnutls_credentials_set(b->server, GNUTLS_CRD_CERTIFICATE, sc)) <
          0 ||
      (rv = gnutls_session_ticket_enable_server(b->server, &ticket_key)) < 0) {
    bench_die("bare DTLS server setup", rv);
  }
  gnutls_dtls_prestate_set(b->server, &prestate);
  gnutls_transport_set_ptr(b->server, b);
  gnutls_transport_set_push_function(b->server, bd_push_s);
  gnutls_transport_set_pull_function(b->server, bd_pull_s);
  gnutls_transport_set_pull_timeout_function(b->server, bd_timeout_s);
  rv = gnutls_handshake(b->server);
  srv_end(t0);
  for (rounds = 0;; rounds++) {
    if (rv == 0) {
      sdone = 1;
    } else if (rv != GNUTLS_E_AGAIN) {
      bench_die("bare DTLS server handshake", rv);
    }
    if (!cdone && (rv = gnutls_handshake(b->client)) == 0) {
      cdone = 1;
    } else if (!cdone && rv != GNUTLS_E_AGAIN) {
      bench_die("bare DTLS client handshake", rv);
    }
    if (cdone && sdone) {
      break;
    }
    if (rounds > 20) {
      bench_die("bare DTLS handshake stuck", GNUTLS_E_AGAIN);
    }
    rv = 0;
    if (!sdone) {
      t0 = srv_begin();
      rv = gnutls_handshake(b->server);
      srv_end(t0);
    }
  }
  /* Whatever is left in flight (nothing, normally) is not the pair's. */
  while (bare_c2s.n) {
    dq_pop(&bare_c2s);
  }
  while (bare_s2c.n) {
    dq_pop(&bare_s2c);
  }
  if (!rdata != !gnutls_session_is_resumed(b->client)) {
    bench_die(rdata ? "bare DTLS resumption (full handshake instead)"
                    : "bare DTLS full handshake (resumed)",
              GNUTLS_E_INTERNAL_ERROR);
  }
}

/* N bare pairs full, held (heap), then N resumed with each one's data. */
static void bare_dtls_run(uint32_t n, gnutls_priority_t prio, figure *full,
                          figure *res, char *desc, size_t desclen) {
  bare_dtls *b = calloc(n, sizeof(*b));
  gnutls_datum_t *data = calloc(n, sizeof(*data));
  size_t h0, h1, hb, h2;
  double c0, c1;
  uint32_t i;
  int rv;
  if (!b || !data) {
    bench_die("calloc", MSTLS_E_NOMEM);
  }
  h0 = heap_now();
  srv_reset();
  c0 = bench_cpu_now();
  for (i = 0; i < n; i++) {
    bare_dtls_up(&b[i], i, prio, NULL);
  }
  c1 = bench_cpu_now();
  h1 = heap_now();
  figure_window(full, n, c0, c1, h0, h1);
  for (i = 0; i < n; i++) {
    if ((rv = gnutls_session_get_data2(b[i].client, &data[i])) < 0) {
      bench_die("bare DTLS get_data2", rv);
    }
  }
  /* The clients go first: the server's share is what they did not free. */
  hb = heap_now();
  for (i = 0; i < n; i++) {
    gnutls_deinit(b[i].client);
  }
  h2 = heap_now();
  full->sheap = ((double)h1 - (double)h0 - ((double)hb - (double)h2)) / n;
  for (i = 0; i < n; i++) {
    gnutls_deinit(b[i].server);
  }
  h0 = heap_now();
  srv_reset();
  c0 = bench_cpu_now();
  for (i = 0; i < n; i++) {
    bare_dtls_up(&b[i], i, prio, &data[i]);
  }
  c1 = bench_cpu_now();
  h1 = heap_now();
  figure_window(res, n, c0, c1, h0, h1);
  if (desc) {
    describe(b[n - 1].client, desc, desclen);
  }
  for (i = 0; i < n; i++) {
    gnutls_deinit(b[i].client);
  }
  h2 = heap_now();
  res->sheap = ((double)h2 - (double)h0) / n;
  for (i = 0; i < n; i++) {
    gnutls_deinit(b[i].server);
    gnutls_free(data[i].data);
  }
  free(b);
  free(data);
}

/* ------------------------------------------------------------------------
 * DTLS: mstls endpoints
 * ---------------------------------------------------------------------- */

#define EP_PORT_SERVER 4433
#define EP_PORT_CLIENT 5000

static dqueue ep_c2s, ep_s2c;
static uint32_t ep_done; /* client handshakes completed */

/* Flow i: client 10.2.x.y:5000 <-> server 10.1.x.y:4433, x.y = i. */
static void flow_addr(struct sockaddr_in *sa, int server, uint32_t i) {
  memset(sa, 0, sizeof(*sa));
  sa->sin_family = AF_INET;
  sa->sin_port = htons(server ? EP_PORT_SERVER : EP_PORT_CLIENT);
  sa->sin_addr.s_addr = htonl((server ? 0x0a010000u : 0x0a020000u) + i);
}

static uint32_t flow_of(const struct sockaddr *to) {
  const struct sockaddr_in *sa = (const struct sockaddr_in *)to;
  return ntohl(sa->sin_addr.s_addr) & 0xffffu;
}

/* Queue a datagram on the endpoint's way out (its user_data: ep_c2s for
 * the client, ep_s2c for the server). */
static int ep_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                   socklen_t tolen, const uint8_t *d, size_t len, void *ud) {
  (void)ep;
  (void)tolen;
  dq_push(ud, flow_of(to), d, len);
  return (int)len;
}

static void ep_hs_done(mstls_udp_endpoint *ep, uint32_t flags,
                       mstls_udp_peer *p, void *ud) {
  (void)ep;
  (void)p;
  (void)ud;
  if (flags & MSTLS_UDP_PEER_CLIENT) {
    ep_done++;
  }
}

/* Carry every datagram in flight, each way, until both queues are empty. */
static void ep_pump(mstls_udp_endpoint *srv, mstls_udp_endpoint *cli,
                    mstls_tstamp now) {
  while (ep_c2s.n || ep_s2c.n) {
    dgram *g;
    /* The server's work on a flight is one timed interval. */
    double t0 = ep_c2s.n ? srv_begin() : 0;
    int any = ep_c2s.n != 0;
    while ((g = dq_peek(&ep_c2s)) != NULL) {
      struct sockaddr_in from;
      flow_addr(&from, 0, g->flow);
      (void)mstls_udp_endpoint_feed(srv, (struct sockaddr *)&from, sizeof(from),
                                    g->data, g->len, now);
      dq_pop(&ep_c2s);
    }
    if (any) {
      srv_end(t0);
    }
    while ((g = dq_peek(&ep_s2c)) != NULL) {
      struct sockaddr_in from;
      flow_addr(&from, 1, g->flow);
      (void)mstls_udp_endpoint_feed(cli, (struct sockaddr *)&from, sizeof(from),
                                    g->data, g->len, now);
      dq_pop(&ep_s2c);
    }
  }
}

static mstls_udp_endpoint *ep_new(int server, uint32_t n) {
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_udp_endpoint *ep = NULL;
  int rv;
  mstls_udp_settings_default(&s);
  if (!server) {
    s.flags = 0; /* a client: verifies the server's certificate */
  }
  /* The bench's N flows are one at a time, but every one stays. */
  if (s.max_peers < n) {
    s.max_peers = n;
  }
  s.rate_limit = 0;
  /* The client keeps each server's resumption data itself, as the bare
   * client does (mstls_udp_peer_get_resumption_data() after the window,
   * mstls_udp_endpoint_connect2()), so the endpoint's cache would only
   * hold a second copy. */
  s.resumption_cache = 0;
  memset(&cb, 0, sizeof(cb));
  cb.send = ep_send;
  cb.handshake_done = ep_hs_done;
  rv = mstls_udp_endpoint_new(&ep, &s, &cb, server ? bench_scred : bench_ccred,
                              server ? &ep_s2c : &ep_c2s);
  if (rv < 0) {
    bench_die("mstls_udp_endpoint_new", rv);
  }
  return ep;
}

/* N client peers from one client endpoint to one server endpoint, one
 * flow at a time, full, held (heap); then all closed and N resumed. */
static void ms_dtls_run(uint32_t n, figure *full, figure *res, char *desc,
                        size_t desclen) {
  mstls_udp_endpoint *srv = ep_new(1, n), *cli = ep_new(0, n);
  mstls_udp_peer **peers = calloc(n, sizeof(*peers));
  uint8_t **data = calloc(n, sizeof(*data));
  size_t *dlen = calloc(n, sizeof(*dlen));
  mstls_tstamp now = 1000 * MSTLS_SECONDS;
  mstls_udp_stats st;
  int pass;
  if (!peers || !data || !dlen) {
    bench_die("calloc", MSTLS_E_NOMEM);
  }
  /* Room for the queues' growth outside the windows (n close_notify
   * alerts wait at once). */
  dq_reserve(&ep_c2s, n + QMAX);
  dq_reserve(&ep_s2c, n + QMAX);
  for (pass = 0; pass < 2; pass++) {
    figure *f = pass ? res : full;
    size_t h0, h1, hb, h2;
    double c0, c1;
    uint32_t i;
    ep_done = 0;
    h0 = heap_now();
    srv_reset();
    c0 = bench_cpu_now();
    for (i = 0; i < n; i++) {
      struct sockaddr_in to;
      mstls_udp_peer_info info;
      int rv;
      flow_addr(&to, 1, i);
      rv = mstls_udp_endpoint_connect2(cli, (struct sockaddr *)&to, sizeof(to),
                                       BENCH_SERVER_NAME, data[i], dlen[i], now,
                                       &peers[i]);
      if (rv < 0) {
        bench_die("mstls_udp_endpoint_connect", rv);
      }
      ep_pump(srv, cli, now);
      if (ep_done != i + 1 || mstls_udp_peer_get_info(peers[i], &info) < 0 ||
          info.resumed != pass) {
        fprintf(stderr, "bench_size: DTLS flow %u: done %u, %s\n", i, ep_done,
                pass ? "not resumed" : "resumed or failed");
        exit(1);
      }
      now += MSTLS_MILLISECONDS / 1000;
    }
    c1 = bench_cpu_now();
    h1 = heap_now();
    figure_window(f, n, c0, c1, h0, h1);
    if (pass && desc) {
      describe(mstls_udp_peer_get_gnutls(peers[n - 1]), desc, desclen);
    }
    /* Keep each flow's resumption data; close every client peer first
     * (the server's share is what that did not free), then carry the
     * close_notify alerts: the server forgets its peers too. */
    for (i = 0; i < n; i++) {
      if (!pass) {
        int rv = mstls_udp_peer_get_resumption_data(peers[i], NULL, &dlen[i]);
        if (rv != MSTLS_E_MSG_SIZE || !(data[i] = malloc(dlen[i])) ||
            (rv = mstls_udp_peer_get_resumption_data(peers[i], data[i],
                                                     &dlen[i])) < 0) {
          bench_die("mstls_udp_peer_get_resumption_data", rv);
        }
      }
    }
    hb = heap_now();
    for (i = 0; i < n; i++) {
      mstls_udp_peer_close(peers[i]);
    }
    h2 = heap_now();
    f->sheap = ((double)h1 - (double)h0 - ((double)hb - (double)h2)) / n;
    ep_pump(srv, cli, now);
  }
  if (mstls_udp_endpoint_get_stats(srv, &st) == 0 && st.peers != 0) {
    fprintf(stderr, "bench_size: %u server peers left after closing\n",
            (unsigned)st.peers);
    exit(1);
  }
  for (pass = 0; pass < (int)n; pass++) {
    free(data[pass]);
  }
  free(data);
  free(dlen);
  free(peers);
  mstls_udp_endpoint_del(cli);
  mstls_udp_endpoint_del(srv);
}

/* ------------------------------------------------------------------------
 * Trials, medians, table
 * ---------------------------------------------------------------------- */

enum { R_TLS_FULL, R_TLS_RES, R_DTLS_FULL, R_DTLS_RES, NROWS };

/* The server-timed passes' figures into a trial's rows. */
static void server_part(figure *fr, const figure *tf, const figure *tr,
                        const figure *sf, const figure *sr, double *srvn) {
  fr[R_TLS_FULL].srv = tf->srv;
  fr[R_TLS_RES].srv = tr->srv;
  fr[R_DTLS_FULL].srv = sf->srv;
  fr[R_DTLS_RES].srv = sr->srv;
  srvn[R_TLS_FULL] = tf->srvn;
  srvn[R_TLS_RES] = tr->srvn;
  srvn[R_DTLS_FULL] = sf->srvn;
  srvn[R_DTLS_RES] = sr->srvn;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void row(const char *what, double ms, double bare, const char *unit,
                double scale, int prec) {
  double r = ms / bare;
  printf("| %-46s | %10.*f | %11.*f | %-5s | %5.2f | %-5s |\n", what, prec,
         ms * scale, prec, bare * scale, unit, r,
         r <= SIZE_TARGET ? "yes" : "NO");
}

int main(int argc, char **argv) {
  uint32_t n = argc > 1 ? (uint32_t)atol(argv[1]) : 256;
  int trials = argc > 2 ? atoi(argv[2]) : 7;
  const char *only = argc > 3 ? argv[3] : NULL;
  gnutls_priority_t prio, dprio;
  gnutls_datum_t prdata;
  uint8_t *mrdata;
  size_t mrlen;
  double *v[2][NROWS][4]; /* [mstls, bare][row][cpu, heap, server cpu,
                           server heap] */
  char d[2][NROWS][160];
  double srvn[2][NROWS] = {{0}}; /* timed intervals per handshake, last trial */
  int t, j, k, rv;

  if (argc > 4 || n < 1 || n > 65535 || trials < 1) {
    fprintf(
        stderr,
        "usage: %s [N [TRIALS [ONLY]]]\n"
        "  N streams and peers (1..65535, default 256), TRIALS default 7\n"
        "  ONLY: tls-full, tls-resumed, dtls, dtls-resumed, bare-tls-full,\n"
        "        bare-tls-resumed, bare-dtls (one measurement, for a"
        " profiler)\n",
        argv[0]);
    return 2;
  }
  bench_creds_init();
  if ((rv = gnutls_priority_init2(&prio, BENCH_PRIO_DEFAULT, NULL, 0)) < 0 ||
      (rv = gnutls_priority_init2(&dprio, DTLS_PRIO, NULL, 0)) < 0 ||
      (rv = gnutls_session_ticket_key_generate(&ticket_key)) < 0 ||
      (rv = gnutls_key_generate(&cookie_key, GNUTLS_COOKIE_KEY_SIZE)) < 0) {
    bench_die("GnuTLS setup", rv);
  }
  plain_resumption_data(prio, &prdata);
  mrdata = ms_resumption_data(&mrlen);

  if (only) {
    /* One measurement, repeated, for a profiler. */
    figure f, g;
    for (t = 0; t < trials; t++) {
      if (strcmp(only, "tls-full") == 0) {
        f = ms_tls(n, NULL, 0, NULL, 0);
      } else if (strcmp(only, "tls-resumed") == 0) {
        f = ms_tls(n, mrdata, mrlen, NULL, 0);
      } else if (strcmp(only, "dtls") == 0) {
        ms_dtls_run(n, &f, &g, NULL, 0);
      } else if (strcmp(only, "dtls-resumed") == 0) {
        ms_dtls_run(n, &g, &f, NULL, 0);
      } else if (strcmp(only, "bare-tls-full") == 0) {
        f = plain_tls(n, prio, NULL, NULL, 0);
      } else if (strcmp(only, "bare-tls-resumed") == 0) {
        f = plain_tls(n, prio, &prdata, NULL, 0);
      } else if (strcmp(only, "bare-dtls") == 0) {
        bare_dtls_run(n, dprio, &f, &g, NULL, 0);
      } else {
        fprintf(stderr, "unknown measurement %s\n", only);
        return 2;
      }
      printf("%s: %.1f us CPU, %.0f bytes each\n", only, f.cpu * 1e6, f.heap);
    }
    return 0;
  }

  srv_calibrate();
  for (j = 0; j < 2; j++) {
    for (k = 0; k < NROWS; k++) {
      v[j][k][0] = calloc((size_t)trials, sizeof(double));
      v[j][k][1] = calloc((size_t)trials, sizeof(double));
      v[j][k][2] = calloc((size_t)trials, sizeof(double));
      v[j][k][3] = calloc((size_t)trials, sizeof(double));
      if (!v[j][k][0] || !v[j][k][1] || !v[j][k][2] || !v[j][k][3]) {
        bench_die("calloc", MSTLS_E_NOMEM);
      }
    }
  }
  memset(d, 0, sizeof(d));
  /* A first round at small N that counts for nothing: GnuTLS's and
   * glibc's one-time allocations happen there, not in a window. */
  {
    figure a, b;
    (void)plain_tls(4, prio, NULL, NULL, 0);
    (void)plain_tls(4, prio, &prdata, NULL, 0);
    (void)ms_tls(4, NULL, 0, NULL, 0);
    (void)ms_tls(4, mrdata, mrlen, NULL, 0);
    bare_dtls_run(4, dprio, &a, &b, NULL, 0);
    ms_dtls_run(4, &a, &b, NULL, 0);
  }
  for (t = 0; t < trials; t++) {
    figure f[2][NROWS], tf, tr, sf, sr;
    int first = t == 0;
    /* Alternate which side goes first, so that a drift in the machine's
     * load does not always favour one. */
    for (k = 0; k < 2; k++) {
      if ((k + t) % 2 == 0) {
        f[1][R_TLS_FULL] =
            plain_tls(n, prio, NULL, first ? d[1][R_TLS_FULL] : NULL, 160);
        f[1][R_TLS_RES] =
            plain_tls(n, prio, &prdata, first ? d[1][R_TLS_RES] : NULL, 160);
        bare_dtls_run(n, dprio, &f[1][R_DTLS_FULL], &f[1][R_DTLS_RES],
                      first ? d[1][R_DTLS_RES] : NULL, 160);
        time_server = 1;
        tf = plain_tls(n, prio, NULL, NULL, 0);
        tr = plain_tls(n, prio, &prdata, NULL, 0);
        bare_dtls_run(n, dprio, &sf, &sr, NULL, 0);
        time_server = 0;
        server_part(f[1], &tf, &tr, &sf, &sr, srvn[1]);
      } else {
        f[0][R_TLS_FULL] =
            ms_tls(n, NULL, 0, first ? d[0][R_TLS_FULL] : NULL, 160);
        f[0][R_TLS_RES] =
            ms_tls(n, mrdata, mrlen, first ? d[0][R_TLS_RES] : NULL, 160);
        ms_dtls_run(n, &f[0][R_DTLS_FULL], &f[0][R_DTLS_RES],
                    first ? d[0][R_DTLS_RES] : NULL, 160);
        time_server = 1;
        tf = ms_tls(n, NULL, 0, NULL, 0);
        tr = ms_tls(n, mrdata, mrlen, NULL, 0);
        ms_dtls_run(n, &sf, &sr, NULL, 0);
        time_server = 0;
        server_part(f[0], &tf, &tr, &sf, &sr, srvn[0]);
      }
    }
    for (j = 0; j < 2; j++) {
      for (k = 0; k < NROWS; k++) {
        v[j][k][0][t] = f[j][k].cpu;
        v[j][k][1][t] = f[j][k].heap;
        v[j][k][2][t] = f[j][k].srv;
        v[j][k][3][t] = f[j][k].sheap;
      }
    }
    fprintf(stderr, "trial %d/%d done\n", t + 1, trials);
  }

  printf("mstls %s, GnuTLS %s; N = %u streams (one session pair) and %u DTLS "
         "peers; median of %d interleaved trials\n\n",
         mstls_version(NULL), gnutls_check_version(NULL), n, n, trials);
  printf("| %-46s | %10s | %11s | %-5s | %5s | %-5s |\n",
         "figure (both sides unless it says server)", "mstls", "bare GnuTLS",
         "unit", "ratio", "<=1.2");
  printf("|------------------------------------------------|-----------:|"
         "------------:|-------|------:|-------|\n");
  {
    static const char *const cpu_names[NROWS] = {
        "TLS/SCTP: CPU per full handshake",
        "TLS/SCTP: CPU per resumed handshake",
        "DTLS/UDP: CPU per full handshake (+cookie)",
        "DTLS/UDP: CPU per resumed handshake (+cookie)"};
    static const char *const heap_names[NROWS] = {
        "TLS/SCTP: heap per stream, full", "TLS/SCTP: heap per stream, resumed",
        "DTLS/UDP: heap per peer, full", "DTLS/UDP: heap per peer, resumed"};
    static const char *const srv_names[NROWS] = {
        "TLS/SCTP: server's part of a full handshake",
        "TLS/SCTP: server's part of a resumed one",
        "DTLS/UDP: server's part of a full handshake",
        "DTLS/UDP: server's part of a resumed one"};
    static const char *const sheap_names[NROWS] = {
        "TLS/SCTP: server's heap per stream, full",
        "TLS/SCTP: server's heap per stream, resumed",
        "DTLS/UDP: server's heap per peer, full",
        "DTLS/UDP: server's heap per peer, resumed"};
    double m[2][NROWS][4];
    for (j = 0; j < 2; j++) {
      for (k = 0; k < NROWS; k++) {
        m[j][k][0] = median(v[j][k][0], trials);
        m[j][k][1] = median(v[j][k][1], trials);
        m[j][k][2] = median(v[j][k][2], trials);
        m[j][k][3] = median(v[j][k][3], trials);
      }
    }
    for (k = 0; k < NROWS; k++) {
      row(cpu_names[k], m[0][k][0], m[1][k][0], "us", 1e6, 1);
    }
    for (k = 0; k < NROWS; k++) {
      row(srv_names[k], m[0][k][2], m[1][k][2], "us", 1e6, 1);
    }
    for (k = 0; k < NROWS; k++) {
      row(heap_names[k], m[0][k][1], m[1][k][1], "bytes", 1, 0);
    }
    for (k = 0; k < NROWS; k++) {
      row(sheap_names[k], m[0][k][3], m[1][k][3], "bytes", 1, 0);
    }
    printf(
        "\nCPU: setup and handshake of each stream or peer, cookie exchange "
        "included for\nDTLS. Server's part, timed in passes of their own: "
        "the server's work on each\nmessage (mstls TLS), handshake call with "
        "input waiting (bare TLS) or flight (DTLS)\nit receives, %.2f us of "
        "clock reads taken off per interval; intervals per\nhandshake, "
        "mstls/bare: TLS full %.1f/%.1f, resumed %.1f/%.1f; DTLS full "
        "%.1f/%.1f,\nresumed %.1f/%.1f. Heap: malloc's in-use bytes, both "
        "sides established and held;\nSCTP: the in-memory link's own %zu "
        "bytes not counted (the stand-in for the\nassociation). Server's "
        "heap: what is still in use once the client side is freed.\n",
        srv_clock_cost * 1e6, srvn[0][R_TLS_FULL], srvn[1][R_TLS_FULL],
        srvn[0][R_TLS_RES], srvn[1][R_TLS_RES], srvn[0][R_DTLS_FULL],
        srvn[1][R_DTLS_FULL], srvn[0][R_DTLS_RES], srvn[1][R_DTLS_RES],
        memlink_heap());
    printf("\nHandshakes per second of one core, from the mstls figures:\n");
    printf("  %-46s %8s %8s\n", "", "both", "server");
    for (k = 0; k < NROWS; k++) {
      char srv[16] = "-";
      if (m[0][k][2] > 0) {
        snprintf(srv, sizeof(srv), "%.0f", 1 / m[0][k][2]);
      }
      printf("  %-46s %8.0f %8s\n", cpu_names[k], 1 / m[0][k][0], srv);
    }
    printf("  (both: client and server sides on the one core; server: the "
           "server's calls only)\n");
    printf("\nPer 10 000, from the mstls heap figures (full handshakes): "
           "%.0f MB per 10 000\nstreams (server side %.0f MB), %.0f MB per "
           "10 000 DTLS peers (server side %.0f MB)\n",
           m[0][R_TLS_FULL][1] * 1e4 / 1e6, m[0][R_TLS_FULL][3] * 1e4 / 1e6,
           m[0][R_DTLS_FULL][1] * 1e4 / 1e6, m[0][R_DTLS_FULL][3] * 1e4 / 1e6);
  }
  printf("\nAs negotiated (the last stream or peer of the first trial):\n");
  printf("  TLS full:     mstls %s; bare %s\n", d[0][R_TLS_FULL],
         d[1][R_TLS_FULL]);
  printf("  TLS resumed:  mstls %s; bare %s\n", d[0][R_TLS_RES],
         d[1][R_TLS_RES]);
  printf("  DTLS resumed: mstls %s; bare %s\n", d[0][R_DTLS_RES],
         d[1][R_DTLS_RES]);

  for (j = 0; j < 2; j++) {
    for (k = 0; k < NROWS; k++) {
      free(v[j][k][0]);
      free(v[j][k][1]);
      free(v[j][k][2]);
      free(v[j][k][3]);
    }
  }
  dq_free(&bare_c2s);
  dq_free(&bare_s2c);
  dq_free(&ep_c2s);
  dq_free(&ep_s2c);
  free(mrdata);
  gnutls_free(prdata.data);
  gnutls_free(ticket_key.data);
  gnutls_free(cookie_key.data);
  gnutls_priority_deinit(prio);
  gnutls_priority_deinit(dprio);
  bench_creds_free();
  return 0;
}
