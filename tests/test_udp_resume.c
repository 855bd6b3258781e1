/* Client resumption over DTLS: the endpoint's per-server cache (the
 * second connect to a server resumes; another ticket key means a full
 * handshake; the least recently used entry goes when the cache is full),
 * resumption data stored and restored by the application (across two
 * client endpoints, as across a restart; damaged blobs refused), and the
 * scale-out case: a session resumed on another server that shares the
 * ticket key.
 *
 * Deterministic: sans-IO endpoints on the simulated network of
 * udp_helpers.c, on its fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "udp_helpers.h"

#define CLIENT_INDEX 1
#define SERVER_BASE 100
#define NSERVERS 4

/* What a test starts from (its cmocka initial state; NULL: k_default):
 * a client endpoint and server 0. */
typedef struct fixture {
  uint32_t cache;        /* the client's resumption_cache */
  int count_allocs;      /* the client allocates through ctx.cm, which must
                          * have no leak at teardown */
  uint32_t server_flags; /* server 0's */
  int shared_key;        /* server 0 has the fleet's ticket key */
} fixture;

static fixture k_default = {1000, 0, 0, 0};

/* The test's state: the simulated network, the client, the servers. */
typedef struct ctx {
  int count_allocs;
  udpt_counting_mem cm;
  udpt_net *net;
  mstls_udp_endpoint *client;
  mstls_udp_endpoint *server[NSERVERS];
  mstls_credentials *scred[NSERVERS];
  int c_done, c_closed, c_reason;
  int s_done;
  /* mstls_udp_peer_get_resumption_data() from inside the closed
   * callback. */
  int closed_get_rv;
  size_t closed_get_len;
} ctx;

static mstls_credentials *g_scred, *g_ccred;
static uint8_t g_ticket_key[MSTLS_TICKET_KEY_SIZE];

static void c_done(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                   void *ud) {
  ctx *c = ud;
  (void)ep;
  (void)p;
  assert_true(f & MSTLS_UDP_PEER_CLIENT);
  c->c_done++;
}

static void c_closed(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                     int reason, void *ud) {
  ctx *c = ud;
  uint8_t buf[4096];
  (void)ep;
  (void)f;
  c->c_closed++;
  c->c_reason = reason;
  c->closed_get_len = sizeof(buf);
  c->closed_get_rv =
      mstls_udp_peer_get_resumption_data(p, buf, &c->closed_get_len);
}

static void s_done(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                   void *ud) {
  ctx *c = ud;
  size_t len = 0;
  (void)ep;
  assert_false(f & MSTLS_UDP_PEER_CLIENT);
  /* Resumption data are a client's. */
  assert_int_equal(mstls_udp_peer_get_resumption_data(p, NULL, &len),
                   MSTLS_E_INVALID_ARGUMENT);
  c->s_done++;
}

static mstls_udp_callbacks client_cb(void) {
  mstls_udp_callbacks cb;
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = c_done;
  cb.closed = c_closed;
  return cb;
}

static mstls_udp_callbacks server_cb(void) {
  mstls_udp_callbacks cb;
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = s_done;
  return cb;
}

/* Server credentials: the shared certificate, and the fleet's ticket key
 * (@p shared) or a random one of their own. A separate object each, so
 * that the session-ID cache is not shared: only a ticket resumes. */
static mstls_credentials *server_creds(int shared) {
  mstls_credentials *c = udpt_server_creds();
  assert_non_null(c);
  if (shared) {
    assert_int_equal(
        mstls_credentials_set_ticket_key(c, g_ticket_key, sizeof(g_ticket_key)),
        0);
  }
  return c;
}

/* Server @p i at its own address with credentials @p cred (referenced). */
static void add_server(ctx *c, int i, mstls_credentials *cred, uint32_t flags) {
  mstls_udp_settings s;
  mstls_udp_callbacks cb = server_cb();
  mstls_udp_settings_default(&s);
  s.flags |= flags;
  c->scred[i] = cred;
  c->server[i] =
      udpt_net_add(c->net, (uint32_t)(SERVER_BASE + i), 0, &s, &cb, cred, c);
  assert_non_null(c->server[i]);
}

/* Per test: the network, the client and server 0 of the fixture. */
static int ctx_setup(void **state) {
  const fixture *f = *state ? *state : &k_default;
  mstls_udp_settings s;
  mstls_udp_callbacks cb = client_cb();
  ctx *c = calloc(1, sizeof(*c));
  assert_non_null(c);
  c->count_allocs = f->count_allocs;
  udpt_counting_mem_init(&c->cm);
  c->net = udpt_net_new(NULL);
  assert_non_null(c->net);
  mstls_udp_settings_default(&s);
  assert_int_equal(s.resumption_cache, 1000);
  s.flags = 0;
  s.resumption_cache = f->cache;
  s.mem = f->count_allocs ? &c->cm.mem : NULL;
  c->client = udpt_net_add(c->net, CLIENT_INDEX, 0, &s, &cb, g_ccred, c);
  assert_non_null(c->client);
  add_server(c, 0, server_creds(f->shared_key), f->server_flags);
  *state = c;
  return 0;
}

/* The server at @p i's address restarts (or another machine behind the
 * same address takes over) with credentials @p cred. */
static void replace_server(ctx *c, int i, mstls_credentials *cred) {
  mstls_udp_settings s;
  mstls_udp_callbacks cb = server_cb();
  mstls_udp_settings_default(&s);
  c->server[i] = udpt_net_renew(c->net, c->server[i], &s, &cb, cred, c);
  assert_non_null(c->server[i]);
  mstls_credentials_del(c->scred[i]);
  c->scred[i] = cred;
}

/* Everything freed; with count_allocs, the client's allocator must then
 * have nothing live. */
static int ctx_teardown(void **state) {
  ctx *c = *state;
  udpt_counting_mem cm;
  int counted, i;
  udpt_net_free(c->net);
  for (i = 0; i < NSERVERS; i++) {
    mstls_credentials_del(c->scred[i]);
  }
  cm = c->cm;
  counted = c->count_allocs;
  free(c);
  if (counted) {
    assert_int_equal(cm.live, 0);
    assert_int_equal(cm.allocs, cm.frees);
  }
  return 0;
}

static int client_settled(void *ud) {
  ctx *c = ud;
  return c->c_done > 0 || c->c_closed > 0;
}

/* Connect to server @p i (with @p blob when not NULL), complete the
 * handshake, and return whether it resumed. The peer is left open in
 * *ppeer when ppeer is not NULL, else closed. */
static int handshake(ctx *c, int i, const uint8_t *blob, size_t len,
                     mstls_udp_peer **ppeer) {
  struct sockaddr_storage sa;
  socklen_t sl;
  mstls_udp_peer *peer = NULL;
  mstls_udp_peer_info info;

  udpt_addr(&sa, &sl, (uint32_t)(SERVER_BASE + i), 0);
  c->c_done = c->c_closed = 0;
  assert_int_equal(mstls_udp_endpoint_connect2(
                       c->client, (struct sockaddr *)&sa, sl, "localhost", blob,
                       len, udpt_net_now(c->net), &peer),
                   0);
  assert_non_null(peer);
  assert_true(udpt_net_run(c->net, client_settled, c, 1000));
  assert_int_equal(c->c_done, 1);
  assert_int_equal(mstls_udp_peer_get_info(peer, &info), 0);
  assert_string_equal(info.version, "DTLS1.2");
  if (ppeer) {
    *ppeer = peer;
    return info.resumed;
  }
  assert_int_equal(mstls_udp_peer_close(peer), 0);
  assert_int_equal(c->c_reason, MSTLS_E_CLOSED);
  /* The session was complete when closed: its data can still be taken. */
  assert_int_equal(c->closed_get_rv, 0);
  assert_true(c->closed_get_len > 0);
  udpt_net_run(c->net, NULL, NULL, 100); /* deliver the close_notify */
  return info.resumed;
}

static mstls_udp_stats client_stats(ctx *c) {
  mstls_udp_stats st;
  assert_int_equal(mstls_udp_endpoint_get_stats(c->client, &st), 0);
  return st;
}

/* The second connect to the same server offers the session the first
 * one left in the cache, and resumes; so does the third. */
static void test_second_connect_resumes(void **state) {
  ctx *c = *state;
  mstls_udp_stats st;
  assert_false(handshake(c, 0, NULL, 0, NULL));
  st = client_stats(c);
  assert_int_equal(st.resumption_offers, 0);
  assert_int_equal(st.resumption_cached, 1);
  assert_true(handshake(c, 0, NULL, 0, NULL));
  assert_true(handshake(c, 0, NULL, 0, NULL));
  st = client_stats(c);
  assert_int_equal(st.handshakes_done, 3);
  assert_int_equal(st.resumption_offers, 2);
  assert_int_equal(st.handshakes_resumed, 2);
  assert_int_equal(st.resumption_rejected, 0);
  assert_int_equal(st.resumption_cached, 1);
  assert_int_equal(st.resumption_evictions, 0);
  assert_int_equal(mstls_udp_endpoint_get_stats(c->server[0], &st), 0);
  assert_int_equal(st.handshakes_done, 3);
  assert_int_equal(st.handshakes_resumed, 2);
}

/* Without tickets the server's session-ID cache (its credentials') lets
 * the client resume too. */
static void test_session_id_resumes(void **state) {
  ctx *c = *state;
  mstls_udp_stats st;
  mstls_session_cache_stats cs;
  assert_false(handshake(c, 0, NULL, 0, NULL));
  assert_true(handshake(c, 0, NULL, 0, NULL));
  st = client_stats(c);
  assert_int_equal(st.handshakes_resumed, 1);
  assert_int_equal(mstls_credentials_get_session_cache_stats(c->scred[0], &cs),
                   0);
  assert_true(cs.hits >= 1);
}

/* A server with neither tickets nor a session cache: GnuTLS still gives
 * a session ID (so the client keeps the session), but cannot resume it.
 * The offer turns into a full handshake, silently, and is counted. */
static void test_server_without_cache(void **state) {
  ctx *c = *state;
  mstls_udp_stats st;
  assert_int_equal(mstls_credentials_set_session_cache(c->scred[0], 0, 0), 0);
  assert_false(handshake(c, 0, NULL, 0, NULL));
  assert_false(handshake(c, 0, NULL, 0, NULL));
  st = client_stats(c);
  assert_int_equal(st.resumption_offers, 1);
  assert_int_equal(st.resumption_rejected, 1);
  assert_int_equal(st.handshakes_failed, 0);
  assert_int_equal(st.handshakes_resumed, 0);
}

/* Behind one address, the server is replaced by one with another ticket
 * key (a restart with a fresh key): the offer is refused, the handshake
 * is a full one without any error, and it is counted. Its new session
 * replaces the cached one, so the next connect resumes again. Then a
 * server with the same ticket key as that one (another machine of the
 * fleet behind the address) resumes it. */
static void test_ticket_key(void **state) {
  ctx *c = *state;
  mstls_udp_stats st;
  assert_false(handshake(c, 0, NULL, 0, NULL));
  replace_server(c, 0, server_creds(1)); /* another key */
  assert_false(handshake(c, 0, NULL, 0, NULL));
  st = client_stats(c);
  assert_int_equal(st.resumption_offers, 1);
  assert_int_equal(st.resumption_rejected, 1);
  assert_int_equal(st.handshakes_resumed, 0);
  assert_int_equal(st.handshakes_failed, 0);
  assert_true(handshake(c, 0, NULL, 0, NULL));
  /* The same ticket key in other credentials (no shared session cache). */
  replace_server(c, 0, server_creds(1));
  assert_true(handshake(c, 0, NULL, 0, NULL));
  st = client_stats(c);
  assert_int_equal(st.resumption_offers, 3);
  assert_int_equal(st.resumption_rejected, 1);
  assert_int_equal(st.handshakes_resumed, 2);
}

static int g_blackhole;

/* Drops every datagram to node g_blackhole. */
static int blackhole(int from, int to, const uint8_t *d, size_t len, void *ud) {
  (void)from;
  (void)d;
  (void)len;
  (void)ud;
  return to == g_blackhole;
}

/* A handshake that fails after an offer (here: the server behind the
 * address now has a certificate the client does not trust) drops the
 * offered session; one that merely times out keeps it. */
static void test_failure_forgets(void **state) {
  ctx *c = *state;
  struct sockaddr_storage sa;
  socklen_t sl;
  mstls_udp_peer *peer = NULL;
  mstls_credentials *other = NULL;
  mstls_udp_stats st;
  assert_false(handshake(c, 0, NULL, 0, NULL));
  udpt_addr(&sa, &sl, SERVER_BASE, 0);
  /* The server does not answer: the handshake times out, the session
   * stays. */
  g_blackhole = udpt_net_node_of(c->net, c->server[0]);
  udpt_net_set_filter(c->net, blackhole, NULL);
  c->c_done = c->c_closed = 0;
  assert_int_equal(mstls_udp_endpoint_connect(c->client, (struct sockaddr *)&sa,
                                              sl, "localhost",
                                              udpt_net_now(c->net), &peer),
                   0);
  assert_true(udpt_net_run(c->net, client_settled, c, 100000));
  assert_int_equal(c->c_reason, MSTLS_E_TIMEOUT);
  udpt_net_set_filter(c->net, NULL, NULL);
  assert_int_equal(client_stats(c).resumption_cached, 1);
  assert_int_equal(mstls_credentials_new(&other, NULL), 0);
  assert_int_equal(mstls_credentials_set_self_signed(other, "localhost"), 0);
  replace_server(c, 0, other);
  c->c_done = c->c_closed = 0;
  assert_int_equal(mstls_udp_endpoint_connect(c->client, (struct sockaddr *)&sa,
                                              sl, "localhost",
                                              udpt_net_now(c->net), &peer),
                   0);
  assert_true(udpt_net_run(c->net, client_settled, c, 1000));
  assert_int_equal(c->c_done, 0);
  assert_int_equal(c->c_reason, MSTLS_E_CERT_VERIFY);
  st = client_stats(c);
  assert_int_equal(st.resumption_offers, 2);
  assert_int_equal(st.handshake_timeouts, 1);
  assert_int_equal(st.resumption_cached, 0);
}

/* A cache of two entries and three servers: the least recently used
 * server's session goes first. */
static void test_cache_lru(void **state) {
  ctx *c = *state;
  mstls_udp_stats st;
  int i;
  for (i = 1; i < 3; i++) {
    add_server(c, i, server_creds(0), 0);
  }
  assert_false(handshake(c, 0, NULL, 0, NULL)); /* cache: A */
  assert_false(handshake(c, 1, NULL, 0, NULL)); /* B A */
  assert_false(handshake(c, 2, NULL, 0, NULL)); /* C B, A evicted */
  st = client_stats(c);
  assert_int_equal(st.resumption_cached, 2);
  assert_int_equal(st.resumption_evictions, 1);
  assert_true(handshake(c, 1, NULL, 0, NULL));  /* B C */
  assert_false(handshake(c, 0, NULL, 0, NULL)); /* A B, C evicted */
  assert_false(handshake(c, 2, NULL, 0, NULL)); /* C A, B evicted */
  assert_true(handshake(c, 0, NULL, 0, NULL));  /* A C */
  st = client_stats(c);
  assert_int_equal(st.resumption_cached, 2);
  assert_int_equal(st.resumption_evictions, 3);
  assert_int_equal(st.resumption_offers, 2);
  assert_int_equal(st.handshakes_resumed, 2);
}

/* resumption_cache 0: nothing is kept or offered. */
static void test_cache_off(void **state) {
  ctx *c = *state;
  mstls_udp_stats st;
  assert_false(handshake(c, 0, NULL, 0, NULL));
  assert_false(handshake(c, 0, NULL, 0, NULL));
  st = client_stats(c);
  assert_int_equal(st.resumption_cached, 0);
  assert_int_equal(st.resumption_offers, 0);
}

/* Take a peer's resumption data: size query, too small a buffer, then
 * the blob. */
static size_t take_blob(mstls_udp_peer *peer, uint8_t *buf, size_t cap) {
  size_t len = 0, small = 8;
  uint8_t tiny[8];
  assert_int_equal(mstls_udp_peer_get_resumption_data(peer, NULL, &len),
                   MSTLS_E_MSG_SIZE);
  assert_true(len > small && len <= cap);
  assert_int_equal(mstls_udp_peer_get_resumption_data(peer, tiny, &small),
                   MSTLS_E_MSG_SIZE);
  assert_int_equal(small, len);
  small = cap;
  assert_int_equal(mstls_udp_peer_get_resumption_data(peer, buf, &small), 0);
  assert_int_equal(small, len);
  return len;
}

/* The application keeps the blob; a new client endpoint (a restarted
 * process, with an empty cache) resumes with it. */
static void test_store_restore(void **state) {
  ctx *c = *state;
  mstls_udp_peer *peer;
  mstls_udp_settings s;
  mstls_udp_callbacks cb = client_cb();
  mstls_udp_stats st;
  uint8_t blob[4096];
  size_t len;
  assert_false(handshake(c, 0, NULL, 0, &peer));
  len = take_blob(peer, blob, sizeof(blob));
  assert_int_equal(mstls_udp_peer_close(peer), 0);
  udpt_net_run(c->net, NULL, NULL, 100);
  /* Restart: the client endpoint and its cache are gone. */
  mstls_udp_settings_default(&s);
  s.flags = 0;
  c->client = udpt_net_renew(c->net, c->client, &s, &cb, g_ccred, c);
  assert_non_null(c->client);
  assert_false(handshake(c, 0, NULL, 0, NULL)); /* nothing cached */
  c->client = udpt_net_renew(c->net, c->client, &s, &cb, g_ccred, c);
  assert_true(handshake(c, 0, blob, len, NULL));
  st = client_stats(c);
  assert_int_equal(st.resumption_offers, 1);
  assert_int_equal(st.handshakes_resumed, 1);
  /* The blob stays valid for more than one connection. */
  c->client = udpt_net_renew(c->net, c->client, &s, &cb, g_ccred, c);
  assert_true(handshake(c, 0, blob, len, NULL));
}

/* Not a peer's data: refused before any peer exists, nothing leaks (the
 * counting allocator and ASan), the endpoint stays usable. */
static void test_bad_blob(void **state) {
  ctx *c = *state;
  mstls_udp_peer *peer = (mstls_udp_peer *)c;
  mstls_udp_stats st;
  struct sockaddr_storage sa;
  socklen_t sl;
  uint8_t blob[4096], bad[4096];
  size_t len, cut;
  assert_false(handshake(c, 0, NULL, 0, &peer));
  len = take_blob(peer, blob, sizeof(blob));
  assert_int_equal(mstls_udp_peer_close(peer), 0);
  udpt_net_run(c->net, NULL, NULL, 100);
  udpt_addr(&sa, &sl, SERVER_BASE, 0);
  /* Truncated at every length. */
  for (cut = 1; cut < len; cut++) {
    peer = (mstls_udp_peer *)c;
    assert_int_equal(mstls_udp_endpoint_connect2(
                         c->client, (struct sockaddr *)&sa, sl, "localhost",
                         blob, cut, udpt_net_now(c->net), &peer),
                     MSTLS_E_INVALID_ARGUMENT);
    assert_null(peer);
  }
  /* Damaged header, and garbage. */
  memcpy(bad, blob, len);
  bad[0] ^= 0xff;
  assert_int_equal(mstls_udp_endpoint_connect2(
                       c->client, (struct sockaddr *)&sa, sl, "localhost", bad,
                       len, udpt_net_now(c->net), NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  memset(bad, 0x5a, sizeof(bad));
  assert_int_equal(mstls_udp_endpoint_connect2(
                       c->client, (struct sockaddr *)&sa, sl, "localhost", bad,
                       sizeof(bad), udpt_net_now(c->net), NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  /* An empty blob is an error, not "no blob". */
  assert_int_equal(mstls_udp_endpoint_connect2(
                       c->client, (struct sockaddr *)&sa, sl, "localhost", blob,
                       0, udpt_net_now(c->net), NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  st = client_stats(c);
  assert_int_equal(st.peers, 0);
  assert_int_equal(st.peers_connected, 1);
  assert_int_equal(st.resumption_offers, 0);
  assert_null(
      mstls_udp_endpoint_find_peer(c->client, (struct sockaddr *)&sa, sl));
  /* Still usable, and the good blob still resumes. */
  assert_true(handshake(c, 0, blob, len, NULL));
  /* Peers that cannot give data: NULL arguments, a handshake that has
   * not completed. */
  len = 0;
  assert_int_equal(mstls_udp_peer_get_resumption_data(NULL, NULL, &len),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_udp_endpoint_connect2(
                       c->client, (struct sockaddr *)&sa, sl, "localhost", NULL,
                       0, udpt_net_now(c->net), &peer),
                   0);
  assert_int_equal(mstls_udp_peer_get_resumption_data(peer, NULL, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_udp_peer_get_resumption_data(peer, NULL, &len),
                   MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_udp_loop_connect2(NULL, (struct sockaddr *)&sa, sl,
                                           "localhost", blob, len, &peer),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_null(peer);
}

/* Scale-out: two servers at different addresses share the ticket key
 * (not the credentials, so no session cache): a session made with one
 * resumes on the other. A server with its own key answers with a full
 * handshake. */
static void test_other_server_same_key(void **state) {
  ctx *c = *state;
  mstls_udp_peer *peer;
  mstls_udp_stats st;
  uint8_t blob[4096];
  size_t len;
  add_server(c, 1, server_creds(1), 0);
  add_server(c, 2, server_creds(0), 0);
  assert_false(handshake(c, 0, NULL, 0, &peer));
  len = take_blob(peer, blob, sizeof(blob));
  assert_int_equal(mstls_udp_peer_close(peer), 0);
  udpt_net_run(c->net, NULL, NULL, 100);
  assert_true(handshake(c, 1, blob, len, NULL));
  assert_false(handshake(c, 2, blob, len, NULL));
  st = client_stats(c);
  assert_int_equal(st.resumption_offers, 2);
  assert_int_equal(st.handshakes_resumed, 1);
  assert_int_equal(st.resumption_rejected, 1);
  assert_int_equal(mstls_udp_endpoint_get_stats(c->server[1], &st), 0);
  assert_int_equal(st.handshakes_resumed, 1);
}

static int group_setup(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(g_ticket_key); i++) {
    g_ticket_key[i] = (uint8_t)(0xa5 ^ i);
  }
  g_scred = udpt_server_creds();
  g_ccred = udpt_client_creds(g_scred);
  return g_scred && g_ccred ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  mstls_credentials_del(g_scred);
  mstls_credentials_del(g_ccred);
  return 0;
}

/* A test on the default fixture, or on fixture @p f. */
#define CASE(t) cmocka_unit_test_setup_teardown(t, ctx_setup, ctx_teardown)
#define CASE_ON(t, f)                                                          \
  cmocka_unit_test_prestate_setup_teardown(t, ctx_setup, ctx_teardown, f)

static fixture k_no_tickets = {1000, 0, MSTLS_UDP_NO_TICKETS, 0};
static fixture k_cache_2 = {2, 0, 0, 0};
static fixture k_cache_off = {0, 0, 0, 0};
static fixture k_counted = {1000, 1, 0, 0};
static fixture k_shared_key = {1000, 0, 0, 1};

int main(void) {
  const struct CMUnitTest tests[] = {
      CASE(test_second_connect_resumes),
      CASE_ON(test_session_id_resumes, &k_no_tickets),
      CASE_ON(test_server_without_cache, &k_no_tickets),
      CASE(test_ticket_key),
      CASE(test_failure_forgets),
      CASE_ON(test_cache_lru, &k_cache_2),
      CASE_ON(test_cache_off, &k_cache_off),
      CASE(test_store_restore),
      CASE_ON(test_bad_blob, &k_counted),
      CASE_ON(test_other_server_same_key, &k_shared_key),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
