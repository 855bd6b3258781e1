/* Endpoint integration over a simulated network: handshake and echo (IPv4,
 * IPv6), 500 concurrent peers on one server endpoint, idle reaping and
 * handshake timeout on a fake clock, limits, restarts, replayed and
 * duplicated handshakes, non-DTLS demux, bad
 * input to an established peer, loss with a seeded relay and a lost final
 * flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "udp_helpers.h"

/* How these tests stay deterministic on a loaded machine: every test runs
 * in one thread over the simulated network of udp_helpers.c, whose loss,
 * duplication and reordering come from a seeded generator. Most run on a
 * fake clock. Tests that need DTLS retransmissions (loss, a refused or
 * lost flight) must use the real clock, because GnuTLS times
 * retransmissions with its own; they assert only on outcomes (every
 * handshake completes, bytes match), never on elapsed time, and their
 * handshake timeout is LOAD_PROOF_TIMEOUT, far above any scheduling delay,
 * so only the seeded losses and the protocol decide what happens. */
#define LOAD_PROOF_TIMEOUT (300 * MSTLS_SECONDS)

#define SERVER_INDEX 1
#define CLIENT_BASE 100

typedef struct ctx {
  udpt_net *net;
  mstls_udp_endpoint *server;
  mstls_udp_endpoint *clients[UDPT_MAX_NODES];
  mstls_udp_peer *cpeer[UDPT_MAX_NODES];
  size_t nclients;
  int server_echo;
  /* counters filled by callbacks */
  uint64_t s_done, c_done, s_closed, c_closed, c_bytes, s_bytes, nd;
  int last_s_reason, last_c_reason;
  int c_reasons[UDPT_MAX_NODES];
  int c_open[UDPT_MAX_NODES];
  uint8_t echo[UDPT_MAX_NODES][64];
  size_t echo_len[UDPT_MAX_NODES];
  size_t target;
} ctx;

static mstls_credentials *g_scred, *g_ccred, *g_notrust;

static void s_done(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                   void *ud) {
  ctx *c = ud;
  (void)ep;
  (void)f;
  (void)p;
  c->s_done++;
}

static void s_data(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                   const uint8_t *d, size_t len, void *ud) {
  ctx *c = ud;
  (void)ep;
  (void)f;
  c->s_bytes += len;
  if (c->server_echo) {
    assert_int_equal(mstls_udp_peer_send(p, d, len), (long)len);
  }
}

static void s_closed(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                     int reason, void *ud) {
  ctx *c = ud;
  (void)ep;
  (void)f;
  (void)p;
  c->s_closed++;
  c->last_s_reason = reason;
}

static void s_nd(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                 const struct sockaddr *from, socklen_t fl, const uint8_t *d,
                 size_t len, void *ud) {
  ctx *c = ud;
  (void)ep;
  (void)f;
  (void)from;
  (void)fl;
  (void)d;
  (void)len;
  assert_non_null(p);
  c->nd++;
}

static size_t client_index(ctx *c, mstls_udp_endpoint *ep) {
  size_t i;
  for (i = 0; i < c->nclients; i++) {
    if (c->clients[i] == ep) {
      return i;
    }
  }
  fail();
  return 0;
}

static void c_done(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                   void *ud) {
  ctx *c = ud;
  (void)p;
  assert_true(f & MSTLS_UDP_PEER_CLIENT);
  c->c_done++;
  c->c_open[client_index(c, ep)] = 1;
}

static void c_data(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                   const uint8_t *d, size_t len, void *ud) {
  ctx *c = ud;
  size_t i = client_index(c, ep);
  (void)f;
  (void)p;
  c->c_bytes += len;
  if (len <= sizeof(c->echo[i])) {
    memcpy(c->echo[i], d, len);
    c->echo_len[i] = len;
  }
}

static void c_closed(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                     int reason, void *ud) {
  ctx *c = ud;
  size_t i = client_index(c, ep);
  (void)f;
  (void)p;
  c->c_closed++;
  c->last_c_reason = reason;
  c->c_reasons[i] = reason;
  c->c_open[i] = 0;
}

static void setup_ctx(ctx *c, const udpt_loss *loss,
                      const mstls_udp_settings *ss) {
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  memset(c, 0, sizeof(*c));
  c->net = udpt_net_new(loss);
  assert_non_null(c->net);
  if (ss) {
    s = *ss;
  } else {
    mstls_udp_settings_default(&s);
  }
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = s_done;
  cb.recv_data = s_data;
  cb.closed = s_closed;
  cb.non_dtls = s_nd;
  c->server_echo = 1;
  c->server = udpt_net_add(c->net, SERVER_INDEX, 0, &s, &cb, g_scred, c);
  assert_non_null(c->server);
}

static mstls_udp_endpoint *add_client(ctx *c, int v6,
                                      const mstls_udp_settings *cs,
                                      mstls_credentials *cred) {
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_udp_endpoint *ep;
  if (cs) {
    s = *cs;
  } else {
    mstls_udp_settings_default(&s);
  }
  s.flags &= ~MSTLS_UDP_ACCEPT;
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = c_done;
  cb.recv_data = c_data;
  cb.closed = c_closed;
  ep = udpt_net_add(c->net, (uint32_t)(CLIENT_BASE + c->nclients), v6, &s, &cb,
                    cred ? cred : g_ccred, c);
  assert_non_null(ep);
  c->clients[c->nclients++] = ep;
  return ep;
}

static void server_addr(struct sockaddr_storage *ss, socklen_t *len, int v6) {
  udpt_addr(ss, len, SERVER_INDEX, v6);
}

static int all_done(void *ud) {
  ctx *c = ud;
  return c->c_done >= c->target && c->s_done >= c->target;
}

static int all_echoed(void *ud) {
  ctx *c = ud;
  size_t i;
  for (i = 0; i < c->nclients; i++) {
    if (c->echo_len[i] == 0) {
      return 0;
    }
  }
  return 1;
}

static int nothing(void *ud) {
  (void)ud;
  return 0;
}

static void connect_client(ctx *c, size_t i, int v6) {
  struct sockaddr_storage sa;
  socklen_t sl;
  server_addr(&sa, &sl, 0);
  (void)v6;
  assert_int_equal(mstls_udp_endpoint_connect(
                       c->clients[i], (struct sockaddr *)&sa, sl, "localhost",
                       udpt_net_now(c->net), &c->cpeer[i]),
                   0);
}

static int group_setup(void **state) {
  (void)state;
  g_scred = udpt_server_creds();
  g_ccred = udpt_client_creds(g_scred);
  return mstls_credentials_new(&g_notrust, NULL) == 0 && g_scred && g_ccred
             ? 0
             : -1;
}

static int group_teardown(void **state) {
  (void)state;
  mstls_credentials_del(g_scred);
  mstls_credentials_del(g_ccred);
  mstls_credentials_del(g_notrust);
  return 0;
}

static void run_echo(int v6) {
  ctx c;
  mstls_udp_stats st;
  mstls_udp_settings s;
  struct sockaddr_storage sa;
  socklen_t sl;
  const char msg[] = "hello over dtls";
  mstls_udp_peer *sp;

  mstls_udp_settings_default(&s);
  setup_ctx(&c, NULL, &s);
  /* The server listens on both families: a v6 node of the same index. */
  if (v6) {
    udpt_net_free(c.net);
    memset(&c, 0, sizeof(c));
    c.net = udpt_net_new(NULL);
    {
      mstls_udp_callbacks cb;
      memset(&cb, 0, sizeof(cb));
      cb.handshake_done = s_done;
      cb.recv_data = s_data;
      cb.closed = s_closed;
      c.server_echo = 1;
      c.server = udpt_net_add(c.net, SERVER_INDEX, 1, &s, &cb, g_scred, &c);
    }
  }
  add_client(&c, v6, NULL, NULL);
  server_addr(&sa, &sl, v6);
  assert_int_equal(
      mstls_udp_endpoint_connect(c.clients[0], (struct sockaddr *)&sa, sl,
                                 "localhost", udpt_net_now(c.net), &c.cpeer[0]),
      0);
  assert_int_equal(
      mstls_udp_endpoint_connect(c.clients[0], (struct sockaddr *)&sa, sl,
                                 "localhost", udpt_net_now(c.net), NULL),
      MSTLS_E_INVALID_STATE);
  c.target = 1;
  assert_true(udpt_net_run(c.net, all_done, &c, 1000));
  assert_int_equal(mstls_udp_peer_get_state(c.cpeer[0]), MSTLS_UDP_PEER_OPEN);
  assert_non_null(mstls_udp_peer_get_gnutls(c.cpeer[0]));
  assert_int_equal(
      gnutls_protocol_get_version(mstls_udp_peer_get_gnutls(c.cpeer[0])),
      GNUTLS_DTLS1_2);
  assert_true(mstls_udp_peer_get_data_mtu(c.cpeer[0]) > 1000);
  assert_int_equal(mstls_udp_peer_send(c.cpeer[0], msg, sizeof(msg)),
                   (long)sizeof(msg));
  assert_true(udpt_net_run(c.net, all_echoed, &c, 1000));
  assert_int_equal(c.echo_len[0], sizeof(msg));
  assert_memory_equal(c.echo[0], msg, sizeof(msg));
  {
    uint8_t big[2000] = {0};
    assert_int_equal(mstls_udp_peer_send(c.cpeer[0], big, sizeof(big)),
                     MSTLS_E_MSG_SIZE);
  }
  /* Find the server's peer by the client's address. */
  udpt_addr(&sa, &sl, CLIENT_BASE, v6);
  sp = mstls_udp_endpoint_find_peer(c.server, (struct sockaddr *)&sa, sl);
  assert_non_null(sp);
  mstls_udp_peer_set_user_data(sp, &c);
  assert_ptr_equal(mstls_udp_peer_get_user_data(sp), &c);
  assert_ptr_equal(mstls_udp_peer_get_endpoint(sp), c.server);
  /* Client closes: close_notify reaches the server (reason 0). */
  assert_int_equal(mstls_udp_peer_close(c.cpeer[0]), 0);
  assert_int_equal(c.last_c_reason, MSTLS_E_CLOSED);
  udpt_net_run(c.net, nothing, &c, 100);
  assert_int_equal(c.s_closed, 1);
  assert_int_equal(c.last_s_reason, 0);
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.peers, 0);
  assert_int_equal(st.handshakes_done, 1);
  assert_int_equal(st.cookies_sent, 1);
  assert_int_equal(st.cookies_verified, 1);
  assert_int_equal(mstls_udp_endpoint_get_expiry(c.server), MSTLS_TSTAMP_NEVER);
  udpt_net_free(c.net);
}

static void test_echo_v4(void **state) {
  (void)state;
  run_echo(0);
}

static void test_echo_v6(void **state) {
  (void)state;
  run_echo(1);
}

/* 500 clients at once against one server endpoint: handshake, data,
 * close, all succeed. */
static void test_500_peers(void **state) {
  ctx *c = calloc(1, sizeof(*c));
  mstls_udp_stats st;
  size_t i;
  const size_t n = 500;
  (void)state;

  setup_ctx(c, NULL, NULL);
  for (i = 0; i < n; i++) {
    add_client(c, (int)(i & 1), NULL, NULL);
  }
  for (i = 0; i < n; i++) {
    connect_client(c, i, 0);
  }
  c->target = n;
  i = (size_t)udpt_net_run(c->net, all_done, c, 100000);
  mstls_udp_endpoint_get_stats(c->server, &st);
  if (!i) {
    int r;
    print_message("c_done %llu s_done %llu c_closed %llu reason %d peers %u "
                  "half_open %u failed %llu timeouts %llu now %llu\n",
                  (unsigned long long)c->c_done, (unsigned long long)c->s_done,
                  (unsigned long long)c->c_closed, c->last_c_reason, st.peers,
                  st.half_open, (unsigned long long)st.handshakes_failed,
                  (unsigned long long)st.handshake_timeouts,
                  (unsigned long long)udpt_net_now(c->net));
    for (r = 0; r < MSTLS_UDP_DROP_COUNT; r++) {
      if (st.dropped[r]) {
        print_message("  dropped %s: %llu\n", mstls_udp_drop_reason_str(r),
                      (unsigned long long)st.dropped[r]);
      }
    }
    fflush(stdout);
  }
  assert_true(i);
  assert_int_equal(st.peers, n);
  assert_int_equal(st.half_open, 0);
  for (i = 0; i < n; i++) {
    char msg[32];
    int len = snprintf(msg, sizeof(msg), "peer %zu", i);
    assert_int_equal(mstls_udp_peer_send(c->cpeer[i], msg, (size_t)len), len);
  }
  assert_true(udpt_net_run(c->net, all_echoed, c, 100000));
  for (i = 0; i < n; i++) {
    char msg[32];
    int len = snprintf(msg, sizeof(msg), "peer %zu", i);
    assert_int_equal(c->echo_len[i], (size_t)len);
    assert_memory_equal(c->echo[i], msg, (size_t)len);
    assert_int_equal(mstls_udp_peer_close(c->cpeer[i]), 0);
  }
  udpt_net_run(c->net, nothing, c, 100000);
  mstls_udp_endpoint_get_stats(c->server, &st);
  assert_int_equal(st.peers, 0);
  assert_int_equal(st.handshakes_done, n);
  assert_int_equal(st.closed, n);
  assert_int_equal(c->s_closed, n);
  assert_int_equal(st.dropped_total, 0);
  udpt_net_free(c->net);
  free(c);
}

/* Idle reaping on a fake clock. */
static void test_idle_reaping(void **state) {
  ctx c;
  mstls_udp_settings s;
  mstls_udp_stats st;
  (void)state;
  mstls_udp_settings_default(&s);
  s.idle_timeout = 60 * MSTLS_SECONDS;
  setup_ctx(&c, NULL, &s);
  add_client(&c, 0, NULL, NULL);
  connect_client(&c, 0, 0);
  c.target = 1;
  assert_true(udpt_net_run(c.net, all_done, &c, 1000));
  /* Half-way: traffic keeps it alive. */
  udpt_net_advance(c.net, 40 * MSTLS_SECONDS);
  assert_int_equal(mstls_udp_peer_send(c.cpeer[0], "x", 1), 1);
  udpt_net_run(c.net, all_echoed, &c, 100);
  udpt_net_advance(c.net, 40 * MSTLS_SECONDS);
  udpt_net_step(c.net, 100);
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.reaped, 0);
  assert_int_equal(st.peers, 1);
  /* Now silence past the idle timeout: the deadline is the next expiry. */
  assert_true(mstls_udp_endpoint_get_expiry(c.server) <=
              udpt_net_now(c.net) + 60 * MSTLS_SECONDS);
  udpt_net_advance(c.net, 61 * MSTLS_SECONDS);
  udpt_net_step(c.net, 100);
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.reaped, 1);
  assert_int_equal(st.peers, 0);
  assert_int_equal(c.last_s_reason, MSTLS_E_PEER_GONE);
  /* The close_notify reached the client. */
  udpt_net_step(c.net, 100);
  assert_int_equal(c.c_closed, 1);
  assert_int_equal(c.last_c_reason, 0);
  udpt_net_free(c.net);
}

static int drop_server_after_hvr(int from, int to, const uint8_t *d, size_t len,
                                 void *ud) {
  (void)to;
  (void)len;
  (void)ud;
  /* Keep the HelloVerifyRequest (handshake type 3), lose the rest. */
  return from == 0 && !(d[0] == 22 && d[13] == 3);
}

/* A half-open handshake times out on the fake clock, on both sides. */
static void test_handshake_timeout(void **state) {
  ctx c;
  mstls_udp_settings s;
  mstls_udp_stats st;
  (void)state;
  mstls_udp_settings_default(&s);
  s.handshake_timeout = 5 * MSTLS_SECONDS;
  setup_ctx(&c, NULL, &s);
  add_client(&c, 0, &s, NULL);
  udpt_net_set_filter(c.net, drop_server_after_hvr, NULL);
  connect_client(&c, 0, 0);
  udpt_net_step(c.net, 100);
  udpt_net_step(c.net, 100);
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.half_open, 1);
  udpt_net_run(c.net, nothing, &c, 10000);
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.half_open, 0);
  assert_int_equal(st.peers, 0);
  assert_int_equal(st.handshake_timeouts, 1);
  assert_int_equal(c.last_s_reason, MSTLS_E_TIMEOUT);
  assert_int_equal(c.last_c_reason, MSTLS_E_TIMEOUT);
  assert_int_equal(mstls_udp_endpoint_get_expiry(c.server), MSTLS_TSTAMP_NEVER);
  udpt_net_free(c.net);
}

static void test_limits(void **state) {
  ctx c;
  mstls_udp_settings s;
  mstls_udp_stats st;
  size_t i;
  (void)state;
  mstls_udp_settings_default(&s);
  s.max_peers = 2;
  setup_ctx(&c, NULL, &s);
  for (i = 0; i < 3; i++) {
    add_client(&c, 0, NULL, NULL);
    connect_client(&c, i, 0);
  }
  for (i = 0; i < 10; i++) {
    udpt_net_step(c.net, 100);
  }
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.peers, 2);
  assert_true(st.dropped[MSTLS_UDP_DROP_PEER_LIMIT] >= 1);
  udpt_net_free(c.net);

  mstls_udp_settings_default(&s);
  s.max_half_open = 1;
  s.retrans_timeout_ms = 200;
  s.handshake_timeout = LOAD_PROOF_TIMEOUT;
  setup_ctx(&c, NULL, &s);
  /* Retransmission timers of GnuTLS follow the real clock. */
  udpt_net_use_real_clock(c.net);
  for (i = 0; i < 2; i++) {
    add_client(&c, 0, &s, NULL);
    connect_client(&c, i, 0);
  }
  /* ClientHello, HelloVerifyRequest, ClientHello with the cookie: the
   * second cookie arrives while the first handshake runs and is refused.
   * Delivery is step by step, so however slow the machine, the refusal
   * happens while one handshake is half-open. */
  for (i = 0; i < 100; i++) {
    udpt_net_step(c.net, 1);
    mstls_udp_endpoint_get_stats(c.server, &st);
    if (st.dropped[MSTLS_UDP_DROP_HALF_OPEN_LIMIT]) {
      break;
    }
  }
  assert_true(st.dropped[MSTLS_UDP_DROP_HALF_OPEN_LIMIT] >= 1);
  assert_int_equal(st.half_open, 1);
  assert_int_equal(st.peers, 1);
  /* The refused client retransmits later and gets in. */
  c.target = 2;
  assert_true(udpt_net_run(c.net, all_done, &c, 100000));
  udpt_net_free(c.net);
}

/* A client restarting from the same address replaces its old peer only
 * after a cookie exchange (RFC 6347 §4.2.8). */
static void test_restart(void **state) {
  ctx c;
  mstls_udp_stats st;
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  struct sockaddr_storage ca;
  socklen_t cl;
  uint8_t hello[2048];
  size_t hlen;
  (void)state;
  setup_ctx(&c, NULL, NULL);
  add_client(&c, 0, NULL, NULL);
  connect_client(&c, 0, 0);
  c.target = 1;
  assert_true(udpt_net_run(c.net, all_done, &c, 1000));
  /* A cookie-less ClientHello from the peer's address (spoofable) gets a
   * HelloVerifyRequest and does not touch the association. */
  hlen = udpt_client_hello(hello, sizeof(hello));
  udpt_addr(&ca, &cl, CLIENT_BASE, 0);
  mstls_udp_endpoint_feed(c.server, (struct sockaddr *)&ca, cl, hello, hlen,
                          udpt_net_now(c.net));
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.cookies_sent, 2);
  assert_int_equal(st.peers, 1);
  assert_int_equal(st.restarts, 0);
  udpt_net_step(c.net, 100); /* the client ignores the HVR */
  /* The client process restarts (no close_notify) and reconnects. */
  mstls_udp_settings_default(&s);
  s.flags = 0;
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = c_done;
  cb.recv_data = c_data;
  cb.closed = c_closed;
  c.clients[0] = udpt_net_renew(c.net, c.clients[0], &s, &cb, g_ccred, &c);
  assert_non_null(c.clients[0]);
  c.c_done = 0;
  c.s_done = 0;
  connect_client(&c, 0, 0);
  assert_true(udpt_net_run(c.net, all_done, &c, 1000));
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.restarts, 1);
  assert_int_equal(st.peers, 1);
  assert_int_equal(c.last_s_reason, MSTLS_E_PEER_GONE);
  assert_int_equal(mstls_udp_peer_send(c.cpeer[0], "again", 5), 5);
  assert_true(udpt_net_run(c.net, all_echoed, &c, 1000));
  udpt_net_free(c.net);
}

/* ---- replays (RFC 6347 §4.2.8) ------------------------------------------ */

#define REC_MAX 64

/* Every datagram that crossed the network, to be replayed later. */
typedef struct recorder {
  int on;
  size_t n;
  int from[REC_MAX];
  size_t len[REC_MAX];
  uint8_t data[REC_MAX][1500];
} recorder;

static int record_all(int from, int to, const uint8_t *d, size_t len,
                      void *ud) {
  recorder *r = ud;
  (void)to;
  if (r->on && r->n < REC_MAX && len <= sizeof(r->data[0])) {
    r->from[r->n] = from;
    r->len[r->n] = len;
    memcpy(r->data[r->n], d, len);
    r->n++;
  }
  return 0;
}

static uint32_t xorshift(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

/* Deliver a recorded datagram again, to where it went the first time. */
static void replay(ctx *c, const recorder *r, size_t i) {
  struct sockaddr_storage a;
  socklen_t al;
  if (r->from[i] == 0) {
    server_addr(&a, &al, 0);
    mstls_udp_endpoint_feed(c->clients[0], (struct sockaddr *)&a, al,
                            r->data[i], r->len[i], udpt_net_now(c->net));
  } else {
    udpt_addr(&a, &al, CLIENT_BASE, 0);
    mstls_udp_endpoint_feed(c->server, (struct sockaddr *)&a, al, r->data[i],
                            r->len[i], udpt_net_now(c->net));
  }
}

/* Deliver what is in flight without moving the clock. */
static void drain(ctx *c) {
  size_t rounds = 0;
  while (udpt_net_in_flight(c->net) && rounds++ < 1000) {
    udpt_net_step(c->net, 100);
  }
  assert_int_equal(udpt_net_in_flight(c->net), 0);
}

static void echo_once(ctx *c, const char *msg) {
  size_t len = strlen(msg);
  c->echo_len[0] = 0;
  assert_int_equal(mstls_udp_peer_send(c->cpeer[0], msg, len), (long)len);
  assert_true(udpt_net_run(c->net, all_echoed, c, 1000));
  assert_int_equal(c->echo_len[0], len);
  assert_memory_equal(c->echo[0], msg, len);
}

static void restart_client(ctx *c) {
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_udp_settings_default(&s);
  s.flags = 0;
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = c_done;
  cb.recv_data = c_data;
  cb.closed = c_closed;
  c->clients[0] = udpt_net_renew(c->net, c->clients[0], &s, &cb, g_ccred, c);
  assert_non_null(c->clients[0]);
  c->c_done = 0;
  c->s_done = 0;
  connect_client(c, 0, 0);
  assert_true(udpt_net_run(c->net, all_done, c, 1000));
}

/* Every datagram of a handshake, in both directions, duplicated at once
 * and replayed at random later times (within the cookie's lifetime): the
 * session and its data flow survive, nothing is taken for a restart. */
static void test_replayed_handshake(void **state) {
  ctx c;
  recorder *r = calloc(1, sizeof(*r));
  mstls_udp_stats st;
  mstls_udp_peer *sp;
  struct sockaddr_storage ca;
  socklen_t cl;
  uint32_t seed = 0x5eed1234u;
  size_t i, k;
  (void)state;
  setup_ctx(&c, NULL, NULL);
  add_client(&c, 0, NULL, NULL);
  r->on = 1;
  udpt_net_set_filter(c.net, record_all, r);
  connect_client(&c, 0, 0);
  c.target = 1;
  assert_true(udpt_net_run(c.net, all_done, &c, 1000));
  r->on = 0;
  assert_true(r->n >= 6);
  udpt_addr(&ca, &cl, CLIENT_BASE, 0);
  sp = mstls_udp_endpoint_find_peer(c.server, (struct sockaddr *)&ca, cl);
  assert_non_null(sp);
  /* Duplicates right away. */
  for (i = 0; i < r->n; i++) {
    replay(&c, r, i);
  }
  drain(&c);
  echo_once(&c, "after duplicates");
  /* Replays at random later times, in random order, data in between. */
  for (k = 0; k < 200; k++) {
    i = xorshift(&seed) % r->n;
    udpt_net_advance(c.net, (mstls_tstamp)(xorshift(&seed) % 300) *
                                MSTLS_MILLISECONDS);
    replay(&c, r, i);
    if (k % 10 == 0) {
      char msg[32];
      snprintf(msg, sizeof(msg), "round %zu", k);
      echo_once(&c, msg);
    }
  }
  drain(&c);
  echo_once(&c, "still the same session");
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_ptr_equal(
      mstls_udp_endpoint_find_peer(c.server, (struct sockaddr *)&ca, cl), sp);
  assert_int_equal(st.peers, 1);
  assert_int_equal(st.restarts, 0);
  assert_int_equal(st.restarts_pending, 0);
  assert_int_equal(st.handshakes_done, 1);
  assert_true(st.dropped[MSTLS_UDP_DROP_REPLAY] >= 1);
  assert_int_equal(c.s_closed, 0);
  assert_int_equal(c.c_closed, 0);
  assert_int_equal(c.c_done, 1);
  /* A real restart still replaces the session once its handshake is
   * complete. */
  restart_client(&c);
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.restarts, 1);
  assert_int_equal(st.peers, 1);
  assert_int_equal(c.last_s_reason, MSTLS_E_PEER_GONE);
  echo_once(&c, "new session");
  udpt_net_free(c.net);
  free(r);
}

/* A ClientHello of an earlier session of the same address, replayed while
 * its cookie is still valid, starts a handshake that nobody finishes: the
 * established session keeps working all along and stays when the replayed
 * handshake times out. */
static void test_replayed_old_session(void **state) {
  ctx c;
  recorder *r = calloc(1, sizeof(*r));
  mstls_udp_stats st;
  mstls_udp_peer *sp;
  struct sockaddr_storage ca;
  socklen_t cl;
  size_t i, k;
  (void)state;
  setup_ctx(&c, NULL, NULL);
  add_client(&c, 0, NULL, NULL);
  r->on = 1;
  udpt_net_set_filter(c.net, record_all, r);
  connect_client(&c, 0, 0);
  c.target = 1;
  assert_true(udpt_net_run(c.net, all_done, &c, 1000));
  r->on = 0;
  restart_client(&c); /* session 2 replaces session 1 */
  echo_once(&c, "session 2");
  udpt_addr(&ca, &cl, CLIENT_BASE, 0);
  sp = mstls_udp_endpoint_find_peer(c.server, (struct sockaddr *)&ca, cl);
  /* Session 1's ClientHello with its cookie, still valid: a handshake
   * starts beside session 2, which keeps working. */
  for (i = 0, k = 0; i < r->n; i++) {
    if (r->from[i] != 0 && ++k == 2) {
      replay(&c, r, i);
      break;
    }
  }
  assert_true(i < r->n);
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.restarts_pending, 1);
  echo_once(&c, "while a replayed handshake pends");
  /* The rest of session 1's client datagrams: they fit neither session. */
  for (i = 0; i < r->n; i++) {
    if (r->from[i] != 0) {
      replay(&c, r, i);
    }
  }
  echo_once(&c, "after session 1's flights");
  /* Nobody completes it: it times out, session 2 stays. */
  udpt_net_advance(c.net, 25 * MSTLS_SECONDS);
  udpt_net_step(c.net, 100);
  drain(&c);
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.restarts_pending, 0);
  assert_int_equal(st.restarts, 1);
  assert_int_equal(st.peers, 1);
  assert_ptr_equal(
      mstls_udp_endpoint_find_peer(c.server, (struct sockaddr *)&ca, cl), sp);
  assert_int_equal(mstls_udp_peer_get_state(sp), MSTLS_UDP_PEER_OPEN);
  echo_once(&c, "session 2 survives");
  udpt_net_free(c.net);
  free(r);
}

/* ---- spoofing (nothing an unverified address sends costs it service) ---- */

typedef struct flood {
  uint8_t hello[2048], forged[2100];
  size_t hello_len, forged_len;
  uint32_t seed;
  uint64_t sent;
} flood;

/* One spoofed datagram carrying the victim's address: a cookie-less or a
 * forged-cookie ClientHello, from the victim's own port or another port
 * of its address. The clock moves 2 µs per datagram: 500,000 a second. */
static void flood_one(ctx *c, flood *f) {
  struct sockaddr_storage a;
  socklen_t al;
  uint32_t r = xorshift(&f->seed);
  udpt_addr(&a, &al, CLIENT_BASE, 0);
  if (r & 1) {
    ((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)(1024 + (r >> 16)));
  }
  if (r & 2) {
    mstls_udp_endpoint_feed(c->server, (struct sockaddr *)&a, al, f->forged,
                            f->forged_len, udpt_net_now(c->net));
  } else {
    mstls_udp_endpoint_feed(c->server, (struct sockaddr *)&a, al, f->hello,
                            f->hello_len, udpt_net_now(c->net));
  }
  udpt_net_advance(c->net, 2 * MSTLS_MILLISECONDS / 1000);
  f->sent++;
}

/* One generation of datagrams in flight (the victim's and answers to the
 * flood) is delivered after 1000 spoofed ones. */
static void flood_round(ctx *c, flood *f) {
  size_t before = udpt_net_in_flight(c->net);
  size_t k;
  for (k = 0; k < 1000; k++) {
    flood_one(c, f);
  }
  udpt_net_step(c->net, before ? before : 1);
}

/* Cookie-less and forged-cookie ClientHellos carrying the victim's address
 * arrive at 500,000 a second (1000 between any two of the victim's
 * datagrams) with the default settings, while the victim completes 20
 * handshakes in a row and echoes on each: none fails, no limit is hit.
 * Deterministic: one thread, a fake clock, a seeded generator. */
static void test_spoofed_victim_flood(void **state) {
  ctx c;
  flood *f = calloc(1, sizeof(*f));
  mstls_udp_stats st;
  uint8_t cookie[32];
  int h;
  (void)state;
  f->seed = 0xf100du;
  f->hello_len = udpt_client_hello(f->hello, sizeof(f->hello));
  assert_true(f->hello_len > 60);
  memset(cookie, 0x5a, sizeof(cookie));
  f->forged_len = udpt_with_cookie(f->hello, f->hello_len, cookie,
                                   sizeof(cookie), f->forged);
  setup_ctx(&c, NULL, NULL);
  add_client(&c, 0, NULL, NULL);
  for (h = 0; h < 20; h++) {
    char msg[32];
    size_t rounds = 0;
    if (h > 0) {
      mstls_udp_settings s;
      mstls_udp_callbacks cb;
      mstls_udp_settings_default(&s);
      s.flags = 0;
      memset(&cb, 0, sizeof(cb));
      cb.handshake_done = c_done;
      cb.recv_data = c_data;
      cb.closed = c_closed;
      c.clients[0] = udpt_net_renew(c.net, c.clients[0], &s, &cb, g_ccred, &c);
      assert_non_null(c.clients[0]);
    }
    c.c_done = 0;
    connect_client(&c, 0, 0);
    while (c.c_done == 0 && rounds++ < 200) {
      flood_round(&c, f);
    }
    if (c.c_done != 1) {
      mstls_udp_endpoint_get_stats(c.server, &st);
      print_message("h %d rounds %zu closed %llu reason %d hs_failed %llu "
                    "verified %llu sent %llu\n",
                    h, rounds, (unsigned long long)c.c_closed, c.last_c_reason,
                    (unsigned long long)st.handshakes_failed,
                    (unsigned long long)st.cookies_verified,
                    (unsigned long long)st.cookies_sent);
    }
    assert_int_equal(c.c_done, 1);
    assert_int_equal(c.c_closed, 0);
    snprintf(msg, sizeof(msg), "handshake %d", h);
    c.echo_len[0] = 0;
    assert_int_equal(mstls_udp_peer_send(c.cpeer[0], msg, strlen(msg)),
                     (long)strlen(msg));
    rounds = 0;
    while (c.echo_len[0] == 0 && rounds++ < 200) {
      flood_round(&c, f);
    }
    assert_int_equal(c.echo_len[0], strlen(msg));
    assert_memory_equal(c.echo[0], msg, strlen(msg));
  }
  mstls_udp_endpoint_get_stats(c.server, &st);
  print_message("flood: %llu spoofed datagrams, %llu HelloVerifyRequests\n",
                (unsigned long long)f->sent,
                (unsigned long long)st.cookies_sent);
  assert_true(f->sent >= 20 * 4000);
  assert_int_equal(st.handshakes_failed, 0);
  assert_int_equal(st.dropped[MSTLS_UDP_DROP_RATE_LIMITED], 0);
  assert_int_equal(st.dropped[MSTLS_UDP_DROP_HVR_LIMIT], 0);
  assert_int_equal(st.dropped[MSTLS_UDP_DROP_PREFIX_LIMIT], 0);
  assert_int_equal(st.restarts, 19);
  assert_int_equal(st.peers, 1);
  assert_int_equal(st.cookies_verified, 20);
  udpt_net_free(c.net);
  free(f);
}

/* Non-DTLS datagrams from a peer's address reach the callback with the
 * peer; garbage, wrong-epoch and truncated records to an established peer
 * are dropped and the peer keeps working. */
static void test_established_bad_input(void **state) {
  ctx c;
  mstls_udp_stats st;
  struct sockaddr_storage ca;
  socklen_t cl;
  uint8_t junk[200];
  size_t i;
  static const uint8_t rtp[] = {0x80, 0x60, 0, 1, 0, 0, 0, 1};
  static const uint8_t stun[] = {0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42};
  (void)state;
  setup_ctx(&c, NULL, NULL);
  add_client(&c, 0, NULL, NULL);
  connect_client(&c, 0, 0);
  c.target = 1;
  assert_true(udpt_net_run(c.net, all_done, &c, 1000));
  udpt_addr(&ca, &cl, CLIENT_BASE, 0);
  assert_int_equal(mstls_udp_endpoint_feed(c.server, (struct sockaddr *)&ca, cl,
                                           rtp, sizeof(rtp),
                                           udpt_net_now(c.net)),
                   0);
  assert_int_equal(mstls_udp_endpoint_feed(c.server, (struct sockaddr *)&ca, cl,
                                           stun, sizeof(stun),
                                           udpt_net_now(c.net)),
                   0);
  assert_int_equal(c.nd, 2);
  for (i = 0; i < 2000; i++) {
    size_t len = 1 + (i * 7919) % sizeof(junk);
    size_t j;
    for (j = 0; j < len; j++) {
      junk[j] = (uint8_t)(i * 31 + j * 17);
    }
    junk[0] = (uint8_t)(20 + i % 44);
    if (len > 13 && i % 2) {
      junk[1] = 0xfe;
      junk[2] = 0xfd;
      junk[3] = 0;
      junk[4] = (uint8_t)(i % 3); /* epochs 0, 1 and a wrong one */
      junk[11] = (uint8_t)((len - 13) >> 8);
      junk[12] = (uint8_t)(len - 13 + (i % 5 == 0)); /* some truncated */
    }
    mstls_udp_endpoint_feed(c.server, (struct sockaddr *)&ca, cl, junk, len,
                            udpt_net_now(c.net));
  }
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.peers, 1);
  assert_int_equal(mstls_udp_peer_send(c.cpeer[0], "still", 5), 5);
  assert_true(udpt_net_run(c.net, all_echoed, &c, 1000));
  assert_memory_equal(c.echo[0], "still", 5);
  udpt_net_free(c.net);
}

static void test_cert_verify_failure(void **state) {
  ctx c;
  (void)state;
  setup_ctx(&c, NULL, NULL);
  add_client(&c, 0, NULL, g_notrust);
  connect_client(&c, 0, 0);
  udpt_net_run(c.net, nothing, &c, 1000);
  assert_int_equal(c.c_closed, 1);
  assert_int_equal(c.last_c_reason, MSTLS_E_CERT_VERIFY);
  assert_int_equal(c.c_done, 0);
  udpt_net_free(c.net);
}

static int refuse(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                  void *ud) {
  (void)ep;
  (void)f;
  (void)p;
  (void)ud;
  return -1;
}

static void test_peer_refused(void **state) {
  ctx c;
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_udp_stats st;
  (void)state;
  memset(&c, 0, sizeof(c));
  c.net = udpt_net_new(NULL);
  mstls_udp_settings_default(&s);
  memset(&cb, 0, sizeof(cb));
  cb.peer_new = refuse;
  cb.closed = s_closed;
  c.server = udpt_net_add(c.net, SERVER_INDEX, 0, &s, &cb, g_scred, &c);
  add_client(&c, 0, NULL, NULL);
  connect_client(&c, 0, 0);
  udpt_net_step(c.net, 10);
  udpt_net_step(c.net, 10);
  udpt_net_step(c.net, 10);
  mstls_udp_endpoint_get_stats(c.server, &st);
  assert_int_equal(st.peers, 0);
  assert_int_equal(st.peers_accepted, 1);
  assert_int_equal(c.s_closed, 0);
  udpt_net_free(c.net);
}

/* ---- loss ---------------------------------------------------------------- */

static void run_lossy(uint32_t seed, size_t n) {
  ctx *c = calloc(1, sizeof(*c));
  mstls_udp_settings s;
  mstls_udp_stats st;
  udpt_loss loss = {seed, 20, 5, 10};
  size_t i;

  mstls_udp_settings_default(&s);
  s.retrans_timeout_ms = 5;
  s.handshake_timeout = LOAD_PROOF_TIMEOUT;
  setup_ctx(c, &loss, &s);
  udpt_net_use_real_clock(c->net);
  for (i = 0; i < n; i++) {
    add_client(c, 0, &s, NULL);
    connect_client(c, i, 0);
  }
  c->target = n;
  i = (size_t)udpt_net_run(c->net, all_done, c, 200000);
  mstls_udp_endpoint_get_stats(c->server, &st);
  if (!i) {
    print_message("seed %u: c_done %llu s_done %llu c_closed %llu reason %d "
                  "server failed %llu timeouts %llu drops %llu\n",
                  seed, (unsigned long long)c->c_done,
                  (unsigned long long)c->s_done,
                  (unsigned long long)c->c_closed, c->last_c_reason,
                  (unsigned long long)st.handshakes_failed,
                  (unsigned long long)st.handshake_timeouts,
                  (unsigned long long)st.dropped_total);
  }
  assert_true(i);
  assert_int_equal(st.handshakes_done, n);
  assert_int_equal(st.handshakes_failed, 0);
  assert_true(udpt_net_dropped(c->net) > 0);
  udpt_net_free(c->net);
  free(c);
}

static void test_loss_20pct(void **state) {
  (void)state;
  run_lossy(1, 16);
  run_lossy(7, 16);
  run_lossy(2024, 16);
}

typedef struct ff_ctx {
  ctx *c;
  int dropping;
  int dropped;
  int client_resent;
} ff_ctx;

/* Lose every server datagram sent after the server finished its handshake
 * (its final flight: NewSessionTicket, ChangeCipherSpec, Finished) until
 * the client has retransmitted its own flight. */
static int drop_final_flight(int from, int to, const uint8_t *d, size_t len,
                             void *ud) {
  ff_ctx *f = ud;
  (void)to;
  (void)d;
  (void)len;
  if (from == 0 && !f->client_resent &&
      (d[0] == 20 || (d[0] == 22 && (d[4] == 1 || (len > 13 && d[13] == 4))))) {
    f->dropped++;
    return 1;
  }
  if (from != 0 && f->dropped) {
    f->client_resent = 1;
  }
  return 0;
}

static void test_final_flight_lost(void **state) {
  ctx *c = calloc(1, sizeof(*c));
  mstls_udp_settings s;
  mstls_udp_stats st;
  ff_ctx f;
  (void)state;
  mstls_udp_settings_default(&s);
  s.retrans_timeout_ms = 20;
  s.handshake_timeout = LOAD_PROOF_TIMEOUT;
  setup_ctx(c, NULL, &s);
  udpt_net_use_real_clock(c->net);
  memset(&f, 0, sizeof(f));
  f.c = c;
  udpt_net_set_filter(c->net, drop_final_flight, &f);
  add_client(c, 0, &s, NULL);
  connect_client(c, 0, 0);
  c->target = 1;
  assert_true(udpt_net_run(c->net, all_done, c, 100000));
  assert_true(f.dropped >= 1);
  assert_true(f.client_resent);
  mstls_udp_endpoint_get_stats(c->server, &st);
  assert_int_equal(st.handshakes_done, 1);
  assert_int_equal(st.restarts, 0);
  /* And the session works. */
  assert_int_equal(mstls_udp_peer_send(c->cpeer[0], "ok", 2), 2);
  assert_true(udpt_net_run(c->net, all_echoed, c, 1000));
  udpt_net_free(c->net);
  free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_echo_v4),
      cmocka_unit_test(test_echo_v6),
      cmocka_unit_test(test_500_peers),
      cmocka_unit_test(test_idle_reaping),
      cmocka_unit_test(test_handshake_timeout),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_restart),
      cmocka_unit_test(test_replayed_handshake),
      cmocka_unit_test(test_replayed_old_session),
      cmocka_unit_test(test_spoofed_victim_flood),
      cmocka_unit_test(test_established_bad_input),
      cmocka_unit_test(test_cert_verify_failure),
      cmocka_unit_test(test_peer_refused),
      cmocka_unit_test(test_loss_20pct),
      cmocka_unit_test(test_final_flight_lost),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
