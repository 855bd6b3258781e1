/* Fleet keys: one secret shared by every worker on every machine gives
 * the DTLS cookie secret and the session-ticket key.
 *
 * - Cookies: a client's first ClientHello goes to endpoint A (which mints
 *   the cookie), the rest to endpoint B, as when a flow moves between
 *   machines. Endpoints with the same fleet accept each other's cookies
 *   although their monotonic clocks differ (the wall offset makes them
 *   agree); other fleets reject them; the previous cookie period is
 *   accepted, the one before it not; the secret replacement procedure of
 *   docs/scale-out.md keeps a handshake in flight working at every step.
 * - Tickets: a session made with a server of one fleet resumes on another
 *   server (another credentials object, as on another machine) of the
 *   same fleet, and falls back to a full handshake with another fleet:
 *   TLS sessions (the multistream session API) and DTLS peers.
 * - The fleet file: accepted forms and every kind of bad file.
 *
 * Deterministic: sans-IO endpoints on fake clocks, sessions on an
 * in-memory link with a simulated clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mstls/udp.h>

#include "failmem.h"
#include "pair.h"
#include "udp_helpers.h"

#define PERIOD (30 * MSTLS_SECONDS) /* the default cookie_period */

/* Wall time of the tests: the start of some cookie period, in 2026. */
#define WALL0 ((mstls_tstamp)59000000 * PERIOD)

/* ---- endpoints on fake clocks ------------------------------------------ */

typedef struct node {
  udpt_queue q; /* what it sent, its completed handshakes */
  mstls_udp_endpoint *ep;
  mstls_tstamp mono; /* this node's monotonic clock */
} node;

static struct sockaddr_in addr_of(uint8_t last) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons(4433);
  sa.sin_addr.s_addr = htonl(0x0a000000u | last);
  return sa;
}

/* A node whose monotonic clock reads @p mono at wall time WALL0 + @p at:
 * its wall offset is WALL0 - mono (as mstls_udp_loop would compute). */
static void node_new(node *q, int server, mstls_credentials *cred,
                     const mstls_fleet *fleet, mstls_tstamp mono) {
  memset(q, 0, sizeof(*q));
  q->ep = udpt_queue_endpoint(server, cred, &q->q);
  q->mono = mono;
  assert_int_equal(mstls_udp_endpoint_set_wall_offset(q->ep, WALL0 - mono), 0);
  if (fleet)
    assert_int_equal(mstls_udp_endpoint_set_fleet(q->ep, fleet), 0);
}

/* Feed what @p from queued to @p to, at wall time WALL0 + @p at. */
static void carry(node *from, node *to, const struct sockaddr_in *src,
                  mstls_tstamp at) {
  udpt_queue_carry(&from->q, to->ep, src, to->mono + at);
}

static mstls_fleet *fleet_of(uint8_t byte) {
  uint8_t secret[MSTLS_FLEET_SECRET_MIN];
  mstls_fleet *f = NULL;
  memset(secret, byte, sizeof(secret));
  assert_int_equal(mstls_fleet_new(&f, secret, sizeof(secret), NULL), 0);
  return f;
}

static mstls_fleet *fleet_with_accept(uint8_t cur, uint8_t acc) {
  uint8_t secret[MSTLS_FLEET_SECRET_MAX];
  mstls_fleet *f = fleet_of(cur);
  memset(secret, acc, MSTLS_FLEET_SECRET_MIN);
  assert_int_equal(mstls_fleet_set_accept(f, secret, MSTLS_FLEET_SECRET_MIN),
                   0);
  return f;
}

/* The servers of one scenario: A mints the cookie, B receives the rest. */
typedef struct rig {
  node a, b, c;
  mstls_credentials *scred, *ccred;
  struct sockaddr_in server, client;
} rig;

static rig g_rig;

static void rig_new(rig *r, const mstls_fleet *fa, mstls_tstamp mono_a,
                    const mstls_fleet *fb, mstls_tstamp mono_b) {
  r->scred = test_server_creds(NULL);
  assert_int_equal(mstls_credentials_new(&r->ccred, NULL), 0);
  r->server = addr_of(1);
  r->client = addr_of(2);
  node_new(&r->a, 1, r->scred, fa, mono_a);
  node_new(&r->b, 1, r->scred, fb, mono_b);
  node_new(&r->c, 0, r->ccred, NULL, 7 * MSTLS_SECONDS);
}

static void rig_free(rig *r) {
  mstls_udp_endpoint_del(r->a.ep);
  mstls_udp_endpoint_del(r->b.ep);
  mstls_udp_endpoint_del(r->c.ep);
  mstls_credentials_del(r->scred);
  mstls_credentials_del(r->ccred);
}

/* The client's first ClientHello reaches A at WALL0 + @p at; A answers
 * with a HelloVerifyRequest that reaches the client. */
static void rig_hello(rig *r, mstls_tstamp at) {
  assert_int_equal(
      mstls_udp_endpoint_connect(r->c.ep, (struct sockaddr *)&r->server,
                                 sizeof(r->server), NULL, r->c.mono + at, NULL),
      0);
  carry(&r->c, &r->a, &r->client, at);
  assert_int_equal(r->a.q.n, 1);
  carry(&r->a, &r->c, &r->server, at);
  assert_true(r->c.q.n >= 1); /* the ClientHello with the cookie */
}

/* The rest of the handshake runs between the client and B at WALL0 +
 * @p at. @return B's completed handshakes; @p st receives B's counters. */
static int rig_finish(rig *r, mstls_tstamp at, mstls_udp_stats *st) {
  int round;
  for (round = 0; round < 10; round++) {
    carry(&r->c, &r->b, &r->client, at);
    carry(&r->b, &r->c, &r->server, at);
  }
  assert_int_equal(mstls_udp_endpoint_get_stats(r->b.ep, st), 0);
  return r->b.q.done;
}

/* Mint on A (fleet @p fa, monotonic clock @p mono_a) at WALL0 + @p at_a,
 * verify on B (fleet @p fb, @p mono_b) at WALL0 + @p at_b. @return 1 when
 * B accepted the cookie and completed the handshake, 0 when it rejected
 * the cookie (and nothing else). */
static int handoff(const mstls_fleet *fa, mstls_tstamp mono_a,
                   mstls_tstamp at_a, const mstls_fleet *fb,
                   mstls_tstamp mono_b, mstls_tstamp at_b) {
  rig *r = &g_rig;
  mstls_udp_stats st;
  int done;
  memset(r, 0, sizeof(*r));
  rig_new(r, fa, mono_a, fb, mono_b);
  rig_hello(r, at_a);
  done = rig_finish(r, at_b, &st);
  rig_free(r);
  if (done) {
    assert_int_equal(done, 1);
    assert_int_equal(st.cookies_verified, 1);
    assert_int_equal(st.cookies_rejected, 0);
    assert_int_equal(st.handshakes_done, 1);
    return 1;
  }
  assert_int_equal(st.cookies_verified, 0);
  assert_true(st.cookies_rejected >= 1);
  assert_int_equal(st.peers_accepted, 0);
  return 0;
}

/* Same fleet, monotonic clocks days apart (machines booted at different
 * times): the wall offset makes them agree on the cookie period. */
static void test_same_fleet_other_clocks(void **state) {
  mstls_fleet *f1 = fleet_of(0x11), *f1b = fleet_of(0x11);
  (void)state;
  assert_int_equal(
      handoff(f1, 5 * MSTLS_SECONDS, 0, f1b, 86400 * 9 * MSTLS_SECONDS, 0), 1);
  assert_int_equal(handoff(f1b, 86400 * 9 * MSTLS_SECONDS, 0, f1,
                           123 * MSTLS_MILLISECONDS, 2 * MSTLS_SECONDS),
                   1);
  mstls_fleet_del(f1);
  mstls_fleet_del(f1b);
}

/* Without the wall offset (the monotonic clocks alone) machines whose
 * clocks are far apart disagree on the period: the cookie is rejected.
 * This is what the offset is for. */
static void test_without_wall_offset(void **state) {
  mstls_fleet *f1 = fleet_of(0x11);
  rig *r = &g_rig;
  mstls_udp_stats st;
  (void)state;
  memset(r, 0, sizeof(*r));
  rig_new(r, f1, 5 * MSTLS_SECONDS, f1, 86400 * MSTLS_SECONDS);
  assert_int_equal(mstls_udp_endpoint_set_wall_offset(r->a.ep, 0), 0);
  assert_int_equal(mstls_udp_endpoint_set_wall_offset(r->b.ep, 0), 0);
  assert_int_equal(mstls_udp_endpoint_set_wall_offset(NULL, 0),
                   MSTLS_E_INVALID_ARGUMENT);
  rig_hello(r, 0);
  assert_int_equal(rig_finish(r, 0, &st), 0);
  assert_int_equal(st.cookies_verified, 0);
  assert_true(st.cookies_rejected >= 1);
  rig_free(r);
  mstls_fleet_del(f1);
}

static void test_other_fleet_rejects(void **state) {
  mstls_fleet *f1 = fleet_of(0x11), *f2 = fleet_of(0x22);
  (void)state;
  assert_int_equal(handoff(f1, 0, 0, f2, 0, 0), 0);
  /* An endpoint without fleet keys (a random cookie secret) too. */
  assert_int_equal(handoff(f1, 0, 0, NULL, 0, 0), 0);
  assert_int_equal(mstls_udp_endpoint_set_fleet(NULL, f1),
                   MSTLS_E_INVALID_ARGUMENT);
  mstls_fleet_del(f1);
  mstls_fleet_del(f2);
}

/* Minted at the very end of period p: accepted through period p+1 (the
 * previous period is valid), rejected from period p+2 on. */
static void test_rotation_boundary(void **state) {
  mstls_fleet *f1 = fleet_of(0x11);
  const mstls_tstamp late = PERIOD - MSTLS_MILLISECONDS;
  const mstls_tstamp m_a = 50 * MSTLS_SECONDS, m_b = 4000 * MSTLS_SECONDS;
  (void)state;
  assert_int_equal(handoff(f1, m_a, late, f1, m_b, late), 1);
  assert_int_equal(handoff(f1, m_a, late, f1, m_b, PERIOD), 1);
  assert_int_equal(handoff(f1, m_a, late, f1, m_b, 2 * PERIOD - 1), 1);
  assert_int_equal(handoff(f1, m_a, late, f1, m_b, 2 * PERIOD), 0);
  assert_int_equal(handoff(f1, m_a, 0, f1, m_b, 3 * PERIOD), 0);
  mstls_fleet_del(f1);
}

/* Replacing secret S1 by S2 (docs/scale-out.md): 1. every machine gets
 * "S1 current, S2 accept-only"; 2. every machine gets "S2 current, S1
 * accept-only"; 3. after two cookie periods, "S2" alone. At each step
 * machines are at both the old and the new stage, and a handshake whose
 * cookie was minted before a machine moved on completes after it did. */
static void test_replacement_procedure(void **state) {
  mstls_fleet *s1 = fleet_of(0x11);                   /* before */
  mstls_fleet *step1 = fleet_with_accept(0x11, 0x22); /* S1, accept S2 */
  mstls_fleet *step2 = fleet_with_accept(0x22, 0x11); /* S2, accept S1 */
  mstls_fleet *s2 = fleet_of(0x22);                   /* after */
  const mstls_tstamp ma = 10 * MSTLS_SECONDS, mb = 999 * MSTLS_SECONDS;
  rig *r = &g_rig;
  mstls_udp_stats st;
  (void)state;

  /* Step 1 rolls out: old and step-1 machines mint under S1. */
  assert_int_equal(handoff(s1, ma, 0, step1, mb, 1), 1);
  assert_int_equal(handoff(step1, ma, 0, s1, mb, 1), 1);
  /* Step 2 rolls out (all machines have step 1): step-2 machines mint
   * under S2, which step-1 machines accept, and accept S1 from them. */
  assert_int_equal(handoff(step2, ma, 0, step1, mb, 1), 1);
  assert_int_equal(handoff(step1, ma, 0, step2, mb, 1), 1);
  /* Step 3 rolls out once step 2 is everywhere and two periods passed:
   * no cookie under S1 is still valid, S2 cookies verify everywhere. */
  assert_int_equal(handoff(step2, ma, 0, s2, mb, 1), 1);
  assert_int_equal(handoff(s2, ma, 0, step2, mb, 1), 1);
  assert_int_equal(handoff(step1, ma, 0, s2, mb, 2 * PERIOD), 0);

  /* Skipping step 1 breaks handshakes: a machine minting under S2 while
   * another knows only S1. */
  assert_int_equal(handoff(s2, ma, 0, s1, mb, 1), 0);

  /* One machine moving through the steps while a handshake is in flight
   * on it: minted under S1, verified after step 1, after step 2. */
  memset(r, 0, sizeof(*r));
  rig_new(r, s1, ma, s1, mb);
  rig_hello(r, 0);
  assert_int_equal(mstls_udp_endpoint_set_fleet(r->b.ep, step1), 0);
  assert_int_equal(mstls_udp_endpoint_set_fleet(r->b.ep, step2), 0);
  assert_int_equal(rig_finish(r, MSTLS_SECONDS, &st), 1);
  assert_int_equal(st.cookies_verified, 1);
  rig_free(r);
  /* ... but not after step 3. */
  memset(r, 0, sizeof(*r));
  rig_new(r, s1, ma, s1, mb);
  rig_hello(r, 0);
  assert_int_equal(mstls_udp_endpoint_set_fleet(r->b.ep, s2), 0);
  assert_int_equal(rig_finish(r, MSTLS_SECONDS, &st), 0);
  assert_int_equal(st.cookies_verified, 0);
  rig_free(r);

  mstls_fleet_del(s1);
  mstls_fleet_del(step1);
  mstls_fleet_del(step2);
  mstls_fleet_del(s2);
}

/* ---- the ready-made loop counts cookie periods on wall-clock time ---------
 */

/* A server loop with fleet keys on a real socket; the cookie is minted by
 * a sans-IO endpoint whose cookie clock is CLOCK_REALTIME read here (as
 * another machine's would be). The loop accepts it only because it set
 * its own endpoint's wall offset; minted on the monotonic clock alone the
 * cookie is rejected. A cookie period boundary between minting and
 * verifying is harmless (the previous period is valid), so the outcome
 * does not depend on timing. */
static int loop_handoff(int mint_on_wall_time, mstls_udp_stats *st) {
  mstls_fleet *f = fleet_of(0x55);
  mstls_credentials *scred = test_server_creds(NULL);
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_udp_loop *loop = NULL;
  struct sockaddr_storage ss;
  struct sockaddr_in srv, me;
  socklen_t sl = sizeof(ss);
  node a, *c = calloc(1, sizeof(node));
  struct timespec rt, mt;
  int fd, i, done = 0;

  assert_non_null(c);
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = udpt_queue_done;
  mstls_udp_settings_default(&s);
  memset(&srv, 0, sizeof(srv));
  srv.sin_family = AF_INET;
  srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(mstls_udp_loop_new(&loop, (struct sockaddr *)&srv,
                                      sizeof(srv), &s, &cb, scred, &c->q),
                   0);
  assert_int_equal(
      mstls_udp_endpoint_set_fleet(mstls_udp_loop_get_endpoint(loop), f), 0);
  assert_int_equal(mstls_udp_loop_get_local_addr(loop, &ss, &sl), 0);
  memcpy(&srv, &ss, sizeof(srv));

  /* The client: a sans-IO endpoint whose datagrams this test carries
   * over a real socket. */
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  assert_true(fd >= 0);
  memset(&me, 0, sizeof(me));
  me.sin_family = AF_INET;
  me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
  sl = sizeof(me);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &sl), 0);
  {
    mstls_credentials *ccred = NULL;
    assert_int_equal(mstls_credentials_new(&ccred, NULL), 0);
    node_new(c, 0, ccred, NULL, 0);
    mstls_credentials_del(ccred);
  }
  /* The minter: same fleet, cookie clock = wall time (or not). */
  node_new(&a, 1, scred, f, 0);
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mt);
  assert_int_equal(
      mstls_udp_endpoint_set_wall_offset(
          a.ep, mint_on_wall_time
                    ? (mstls_tstamp)(rt.tv_sec - mt.tv_sec) * MSTLS_SECONDS +
                          (mstls_tstamp)(rt.tv_nsec - mt.tv_nsec)
                    : 0),
      0);
  assert_int_equal(mstls_udp_endpoint_connect(c->ep, (struct sockaddr *)&srv,
                                              sizeof(srv), NULL,
                                              mstls_udp_now(), NULL),
                   0);
  udpt_queue_carry(&c->q, a.ep, &me, mstls_udp_now());
  assert_int_equal(a.q.n, 1); /* the HelloVerifyRequest */
  (void)mstls_udp_endpoint_feed(c->ep, (struct sockaddr *)&srv, sizeof(srv),
                                a.q.data[0], a.q.len[0], mstls_udp_now());
  /* From here on the client talks to the loop over the sockets. */
  for (i = 0; i < 200 && !done; i++) {
    uint8_t buf[4096];
    size_t k;
    ssize_t n;
    for (k = 0; k < c->q.n; k++)
      assert_true(sendto(fd, c->q.data[k], c->q.len[k], 0,
                         (struct sockaddr *)&srv, sizeof(srv)) >= 0);
    c->q.n = 0;
    assert_true(mstls_udp_loop_run_once(loop, 50) >= 0);
    (void)mstls_udp_endpoint_handle_expiry(c->ep, mstls_udp_now());
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
      (void)mstls_udp_endpoint_feed(c->ep, (struct sockaddr *)&srv, sizeof(srv),
                                    buf, (size_t)n, mstls_udp_now());
    assert_int_equal(
        mstls_udp_endpoint_get_stats(mstls_udp_loop_get_endpoint(loop), st), 0);
    /* Done when the server completed, or when it answered the cookie
     * with a new HelloVerifyRequest (rejected). */
    done = st->handshakes_done > 0 || st->cookies_rejected > 0;
  }
  close(fd);
  mstls_udp_endpoint_del(a.ep);
  mstls_udp_endpoint_del(c->ep);
  mstls_udp_loop_del(loop);
  mstls_credentials_del(scred);
  mstls_fleet_del(f);
  free(c);
  return done;
}

static void test_loop_wall_clock(void **state) {
  mstls_udp_stats st;
  (void)state;
  assert_int_equal(loop_handoff(1, &st), 1);
  assert_int_equal(st.cookies_verified, 1);
  assert_int_equal(st.cookies_rejected, 0);
  assert_int_equal(st.handshakes_done, 1);
  assert_int_equal(loop_handoff(0, &st), 1);
  assert_int_equal(st.cookies_verified, 0);
  assert_int_equal(st.cookies_rejected, 1);
  assert_int_equal(st.peers_accepted, 0);
}

/* ---- session tickets ----------------------------------------------------- */

#define NSTREAMS 4

static mstls_credentials *server_creds_fleet(const mstls_fleet *f) {
  mstls_credentials *c = test_server_creds(NULL);
  assert_non_null(c);
  assert_int_equal(mstls_credentials_set_fleet(c, f), 0);
  return c;
}

static void pair_up(test_pair *p, mstls_credentials *scred) {
  mstls_settings cs, ss;
  memlink_config lc = {42, 10 * MSTLS_MILLISECONDS, 0};
  test_client_settings(&cs, NSTREAMS, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, NSTREAMS, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new_creds(p, &cs, &ss, &lc, NULL, NULL,
                                       test_client_creds(NULL, NULL, 0), scred),
                   0);
}

/* A full handshake with a server of fleet @p made; the session's data
 * taken to a server of fleet @p other (another credentials object, as on
 * another machine). @return 1 when every stream resumed there, 0 when
 * every stream made a full handshake; any failure fails the test. */
static int ticket_across(const mstls_fleet *made, const mstls_fleet *other) {
  uint8_t blob[4096];
  size_t len = sizeof(blob);
  mstls_session_stats st;
  test_pair p;
  uint32_t i;
  int resumed = -1;

  pair_up(&p, server_creds_fleet(made));
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  assert_int_equal(mstls_session_get_resumption_data(p.client, blob, &len), 0);
  test_pair_free(&p);

  pair_up(&p, server_creds_fleet(other));
  assert_int_equal(mstls_session_set_resumption_data(p.client, blob, len), 0);
  assert_int_equal(test_pair_handshake(&p, 100000), 0);
  test_pair_flush(&p);
  for (i = 0; i < NSTREAMS; i++) {
    mstls_stream_info ci, si;
    assert_int_equal(mstls_stream_get_info(p.client, (uint16_t)i, &ci), 0);
    assert_int_equal(mstls_stream_get_info(p.server, (uint16_t)i, &si), 0);
    assert_int_equal(ci.state, MSTLS_STREAM_OPEN);
    assert_int_equal(si.state, MSTLS_STREAM_OPEN);
    assert_int_equal(ci.resumed, si.resumed);
    if (resumed < 0)
      resumed = ci.resumed;
    assert_int_equal(ci.resumed, resumed);
  }
  assert_int_equal(mstls_session_get_stats(p.server, &st), 0);
  assert_int_equal(st.full_handshakes, resumed ? 0 : NSTREAMS);
  test_pair_free(&p);
  return resumed;
}

static void test_ticket_same_fleet(void **state) {
  mstls_fleet *f1 = fleet_of(0x11), *f1b = fleet_of(0x11);
  mstls_fleet *f2 = fleet_of(0x22), *step2 = fleet_with_accept(0x22, 0x11);
  (void)state;
  assert_int_equal(ticket_across(f1, f1b), 1);
  /* Another fleet: a full handshake, not a failure. */
  assert_int_equal(ticket_across(f1, f2), 0);
  /* Tickets follow the current secret only: after step 2 of a
   * replacement, a ticket made under S1 means a full handshake. */
  assert_int_equal(ticket_across(f1, step2), 0);
  assert_int_equal(ticket_across(step2, f2), 1);
  assert_int_equal(mstls_credentials_set_fleet(NULL, f1),
                   MSTLS_E_INVALID_ARGUMENT);
  mstls_fleet_del(f1);
  mstls_fleet_del(f1b);
  mstls_fleet_del(f2);
  mstls_fleet_del(step2);
}

/* DTLS: a client's ticket from server A resumes on server B (another
 * credentials object, as on another machine) when both have the same
 * fleet keys; with another fleet B makes a full handshake instead. */
static void dtls_run(node *c, node *srv, const struct sockaddr_in *from,
                     const struct sockaddr_in *to, mstls_tstamp at) {
  int round;
  for (round = 0; round < 10; round++) {
    carry(c, srv, from, at);
    carry(srv, c, to, at);
  }
}

static int dtls_ticket_across(const mstls_fleet *fa, const mstls_fleet *fb,
                              mstls_udp_stats *cst) {
  mstls_credentials *ca = server_creds_fleet(fa), *cb = server_creds_fleet(fb);
  mstls_credentials *ccred = NULL;
  struct sockaddr_in server = addr_of(1), client = addr_of(2);
  static node a, b, c;
  mstls_udp_peer *peer = NULL;
  mstls_udp_peer_info info;
  mstls_udp_stats st;
  int resumed;

  assert_int_equal(mstls_credentials_new(&ccred, NULL), 0);
  node_new(&a, 1, ca, fa, 0);
  node_new(&b, 1, cb, fb, 0);
  node_new(&c, 0, ccred, NULL, 0);
  /* Full handshake with A; the client keeps A's ticket. */
  assert_int_equal(mstls_udp_endpoint_connect(c.ep, (struct sockaddr *)&server,
                                              sizeof(server), NULL, 0, &peer),
                   0);
  dtls_run(&c, &a, &client, &server, 0);
  assert_int_equal(a.q.done, 1);
  assert_int_equal(mstls_udp_peer_get_info(peer, &info), 0);
  assert_int_equal(info.resumed, 0);
  assert_int_equal(mstls_udp_peer_close(peer), 0);
  carry(&c, &a, &client, 0);
  /* The same client, the same server address, now served by B. */
  peer = NULL;
  assert_int_equal(mstls_udp_endpoint_connect(c.ep, (struct sockaddr *)&server,
                                              sizeof(server), NULL,
                                              MSTLS_SECONDS, &peer),
                   0);
  dtls_run(&c, &b, &client, &server, MSTLS_SECONDS);
  assert_int_equal(b.q.done, 1);
  assert_int_equal(mstls_udp_peer_get_info(peer, &info), 0);
  resumed = info.resumed;
  assert_int_equal(mstls_udp_endpoint_get_stats(b.ep, &st), 0);
  assert_int_equal(st.handshakes_resumed, (uint64_t)resumed);
  assert_int_equal(st.handshakes_failed, 0);
  assert_int_equal(mstls_udp_endpoint_get_stats(c.ep, cst), 0);
  mstls_udp_endpoint_del(a.ep);
  mstls_udp_endpoint_del(b.ep);
  mstls_udp_endpoint_del(c.ep);
  mstls_credentials_del(ca);
  mstls_credentials_del(cb);
  mstls_credentials_del(ccred);
  return resumed;
}

static void test_dtls_ticket_fleet(void **state) {
  mstls_fleet *f1 = fleet_of(0x11), *f1b = fleet_of(0x11);
  mstls_fleet *f2 = fleet_of(0x22);
  mstls_udp_stats cst;
  (void)state;
  assert_int_equal(dtls_ticket_across(f1, f1b, &cst), 1);
  assert_int_equal(cst.resumption_offers, 1);
  assert_int_equal(cst.resumption_rejected, 0);
  assert_int_equal(cst.handshakes_resumed, 1);
  /* Another fleet: a full handshake, not a failure. */
  assert_int_equal(dtls_ticket_across(f1, f2, &cst), 0);
  assert_int_equal(cst.resumption_offers, 1);
  assert_int_equal(cst.resumption_rejected, 1);
  assert_int_equal(cst.handshakes_resumed, 0);
  mstls_fleet_del(f1);
  mstls_fleet_del(f1b);
  mstls_fleet_del(f2);
}

/* ---- the fleet object and its file ----------------------------------------
 */

static void test_fleet_new_args(void **state) {
  uint8_t secret[MSTLS_FLEET_SECRET_MAX + 1];
  mstls_fleet *f = (mstls_fleet *)1;
  char id[MSTLS_FLEET_ID_SIZE], id2[MSTLS_FLEET_ID_SIZE];
  (void)state;
  memset(secret, 0x33, sizeof(secret));
  assert_int_equal(mstls_fleet_new(NULL, secret, 32, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_fleet_new(&f, NULL, 32, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_null(f);
  assert_int_equal(
      mstls_fleet_new(&f, secret, MSTLS_FLEET_SECRET_MIN - 1, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(
      mstls_fleet_new(&f, secret, MSTLS_FLEET_SECRET_MAX + 1, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_fleet_new(&f, secret, MSTLS_FLEET_SECRET_MAX, NULL),
                   0);
  assert_int_equal(mstls_fleet_set_accept(f, secret, 31),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_fleet_set_accept(NULL, secret, 32),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_fleet_set_accept(f, secret, 32), 0);
  assert_int_equal(mstls_fleet_set_accept(f, NULL, 0), 0);
  assert_int_equal(mstls_fleet_get_id(f, id, sizeof(id) - 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_fleet_get_id(NULL, id, sizeof(id)),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_fleet_get_id(f, id, sizeof(id)), 0);
  assert_int_equal(strlen(id), 16);
  mstls_fleet_del(f);
  /* The id depends on the current secret only. */
  assert_int_equal(mstls_fleet_new(&f, secret, MSTLS_FLEET_SECRET_MAX, NULL),
                   0);
  assert_int_equal(mstls_fleet_get_id(f, id2, sizeof(id2)), 0);
  assert_string_equal(id, id2);
  mstls_fleet_del(f);
  secret[0] ^= 1;
  assert_int_equal(mstls_fleet_new(&f, secret, MSTLS_FLEET_SECRET_MAX, NULL),
                   0);
  assert_int_equal(mstls_fleet_get_id(f, id2, sizeof(id2)), 0);
  assert_string_not_equal(id, id2);
  mstls_fleet_del(f);
  mstls_fleet_del(NULL);
}

static char g_dir[64];

static int setup_dir(void **state) {
  (void)state;
  strcpy(g_dir, "/tmp/mstls-fleet-XXXXXX");
  return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state) {
  (void)state;
  return rmdir(g_dir);
}

/* Write @p text to a file of mode @p mode; @return its path (static). */
static const char *write_file(const char *name, const char *text, mode_t mode) {
  static char path[128];
  FILE *fp;
  snprintf(path, sizeof(path), "%s/%s", g_dir, name);
  fp = fopen(path, "w");
  assert_non_null(fp);
  assert_int_equal(fputs(text, fp) >= 0, 1);
  assert_int_equal(fclose(fp), 0);
  assert_int_equal(chmod(path, mode), 0);
  return path;
}

#define HEX32 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* Load @p text (mode 0600); @return the result; @p err gets the message. */
static int load_text(const char *text, mstls_fleet **pf, char *err,
                     size_t errlen) {
  const char *path = write_file("fleet.key", text, 0600);
  int rv = mstls_fleet_load(pf, path, NULL, err, errlen);
  unlink(path);
  return rv;
}

static void expect_bad(const char *text, const char *words) {
  char err[256];
  mstls_fleet *f = (mstls_fleet *)1;
  assert_int_equal(load_text(text, &f, err, sizeof(err)), MSTLS_E_CREDENTIALS);
  assert_null(f);
  /* The message names the file (and line) and says what is wrong. */
  if (strstr(err, "fleet.key") == NULL || strstr(err, words) == NULL)
    fail_msg("message '%s' lacks '%s'", err, words);
}

static void test_file_good(void **state) {
  char err[256], id1[MSTLS_FLEET_ID_SIZE], id2[MSTLS_FLEET_ID_SIZE];
  uint8_t secret[32];
  mstls_fleet *f = NULL, *g = NULL;
  const char *path;
  size_t i;
  (void)state;
  /* Comments, blank lines, spaces, CRLF, upper case, no final newline. */
  assert_int_equal(
      load_text("# fleet secret\n\n  " HEX32 " \r\n", &f, err, sizeof(err)), 0);
  for (i = 0; i < sizeof(secret); i++)
    secret[i] = (uint8_t)((i % 16) * 0x11);
  assert_int_equal(mstls_fleet_new(&g, secret, sizeof(secret), NULL), 0);
  assert_int_equal(mstls_fleet_get_id(f, id1, sizeof(id1)), 0);
  assert_int_equal(mstls_fleet_get_id(g, id2, sizeof(id2)), 0);
  assert_string_equal(id1, id2);
  mstls_fleet_del(f);
  f = NULL;
  assert_int_equal(load_text("00112233445566778899AABBCCDDEEFF"
                             "00112233445566778899AABBCCDDEEFF",
                             &f, err, sizeof(err)),
                   0);
  assert_int_equal(mstls_fleet_get_id(f, id1, sizeof(id1)), 0);
  assert_string_equal(id1, id2);
  mstls_fleet_del(f);
  f = NULL;
  /* Current and accept-only: cookies minted under either verify. */
  assert_int_equal(
      load_text(HEX32 "\n# next\n" HEX32 HEX32 "\n", &f, err, sizeof(err)), 0);
  assert_int_equal(handoff(g, 0, 0, f, 0, 1), 1);
  mstls_fleet_del(g);
  g = NULL;
  assert_int_equal(load_text(HEX32 HEX32, &g, err, sizeof(err)), 0);
  assert_int_equal(handoff(g, 0, 0, f, 0, 1), 1);
  assert_int_equal(handoff(f, 0, 0, g, 0, 1), 0); /* g: no accept secret */
  mstls_fleet_del(f);
  mstls_fleet_del(g);
  /* Group-readable is fine (a service group). */
  path = write_file("g.key", HEX32, 0640);
  assert_int_equal(mstls_fleet_load(&f, path, NULL, err, sizeof(err)), 0);
  mstls_fleet_del(f);
  assert_int_equal(unlink(path), 0);
}

/* A NUL byte hides nothing: "HEX32\0junk" is refused, not read as HEX32. */
static void test_file_nul(void **state) {
  static const char text[] = HEX32 "\0junk\n";
  const char *path;
  char err[256];
  mstls_fleet *f = NULL;
  FILE *fp;
  (void)state;
  path = write_file("nul.key", "", 0600);
  fp = fopen(path, "w");
  assert_non_null(fp);
  assert_int_equal(fwrite(text, 1, sizeof(text) - 1, fp), sizeof(text) - 1);
  assert_int_equal(fclose(fp), 0);
  assert_int_equal(mstls_fleet_load(&f, path, NULL, err, sizeof(err)),
                   MSTLS_E_CREDENTIALS);
  assert_null(f);
  assert_non_null(strstr(err, "nul.key:1: a NUL byte"));
  assert_int_equal(unlink(path), 0);
}

static void test_file_bad(void **state) {
  char err[256], longline[400];
  mstls_fleet *f = (mstls_fleet *)1;
  const char *path;
  (void)state;
  expect_bad("", "no secret");
  expect_bad("# only a comment\n\n", "no secret");
  expect_bad("0011223344\n", "fleet.key:1: secret of 5 bytes");
  expect_bad("# c\n" HEX32 "0\n", "fleet.key:2: odd number");
  expect_bad(HEX32 "zz\n", "fleet.key:1: not hexadecimal (character 65)");
  expect_bad("0x" HEX32 "\n", "fleet.key:1: not hexadecimal");
  expect_bad(HEX32 " " HEX32 "\n", "fleet.key:1: not hexadecimal");
  expect_bad(HEX32 HEX32 "00\n", "fleet.key:1: secret of 65 bytes");
  expect_bad(HEX32 "\n" HEX32 "\n" HEX32 "\n", "fleet.key:3: a third secret");
  expect_bad(HEX32 "\nabc\n", "fleet.key:2: odd number");
  memset(longline, 'a', sizeof(longline) - 2);
  longline[sizeof(longline) - 2] = '\n';
  longline[sizeof(longline) - 1] = '\0';
  expect_bad(longline, "fleet.key:1: line longer than 256");
  longline[256] = '\n'; /* 256 characters and a newline: the longest */
  longline[257] = '\0';
  expect_bad(longline, "fleet.key:1: secret of 128 bytes");

  /* Readable or writable by other users. */
  path = write_file("w.key", HEX32, 0644);
  assert_int_equal(mstls_fleet_load(&f, path, NULL, err, sizeof(err)),
                   MSTLS_E_CREDENTIALS);
  assert_null(f);
  assert_non_null(strstr(err, "w.key: other users may read"));
  assert_int_equal(chmod(path, 0602), 0);
  assert_int_equal(mstls_fleet_load(&f, path, NULL, err, sizeof(err)),
                   MSTLS_E_CREDENTIALS);
  /* Writable by the group: a member could plant a secret. */
  assert_int_equal(chmod(path, 0620), 0);
  assert_int_equal(mstls_fleet_load(&f, path, NULL, err, sizeof(err)),
                   MSTLS_E_CREDENTIALS);
  assert_null(f);
  assert_non_null(strstr(err, "w.key: group members may write it"));
  /* Readable by the group (a service group): fine. */
  assert_int_equal(chmod(path, 0640), 0);
  assert_int_equal(mstls_fleet_load(&f, path, NULL, err, sizeof(err)), 0);
  mstls_fleet_del(f);
  f = NULL;
  assert_int_equal(unlink(path), 0);

  /* Missing file, a directory, NULL arguments. */
  path = "/tmp/mstls-fleet-does-not-exist/fleet.key";
  assert_int_equal(mstls_fleet_load(&f, path, NULL, err, sizeof(err)),
                   MSTLS_E_TRANSPORT);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "No such file"));
  assert_int_equal(mstls_fleet_load(&f, g_dir, NULL, err, sizeof(err)),
                   MSTLS_E_CREDENTIALS);
  assert_non_null(strstr(err, "not a regular file"));
  assert_int_equal(mstls_fleet_load(&f, NULL, NULL, err, sizeof(err)),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_fleet_load(NULL, path, NULL, err, sizeof(err)),
                   MSTLS_E_INVALID_ARGUMENT);
  /* No message buffer: same result. */
  assert_int_equal(mstls_fleet_load(&f, path, NULL, NULL, 0),
                   MSTLS_E_TRANSPORT);
}

/* Every allocation of making and loading fleet keys failed in turn: a
 * clean MSTLS_E_NOMEM, nothing leaked. */
static const char *g_fm_path;

static long fm_scenario(const mstls_mem *mem, void *ctx) {
  uint8_t secret[MSTLS_FLEET_SECRET_MIN];
  mstls_fleet *f = NULL;
  int rv;
  (void)ctx;
  memset(secret, 0x44, sizeof(secret));
  rv = mstls_fleet_new(&f, secret, sizeof(secret), mem);
  if (rv < 0)
    return rv;
  mstls_fleet_del(f);
  f = NULL;
  rv = mstls_fleet_load(&f, g_fm_path, mem, NULL, 0);
  if (rv < 0)
    return rv;
  rv = mstls_fleet_set_accept(f, secret, sizeof(secret));
  mstls_fleet_del(f);
  return rv;
}

static void test_failmalloc(void **state) {
  char path[128];
  (void)state;
  strcpy(path, write_file("fm.key", HEX32 "\n" HEX32 "\n", 0600));
  g_fm_path = path;
  assert_true(failmem_run("fleet", fm_scenario, NULL) >= 2);
  assert_int_equal(unlink(path), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_fleet_other_clocks),
      cmocka_unit_test(test_without_wall_offset),
      cmocka_unit_test(test_other_fleet_rejects),
      cmocka_unit_test(test_rotation_boundary),
      cmocka_unit_test(test_replacement_procedure),
      cmocka_unit_test(test_loop_wall_clock),
      cmocka_unit_test(test_ticket_same_fleet),
      cmocka_unit_test(test_dtls_ticket_fleet),
      cmocka_unit_test(test_fleet_new_args),
      cmocka_unit_test(test_file_good),
      cmocka_unit_test(test_file_bad),
      cmocka_unit_test(test_file_nul),
      cmocka_unit_test(test_failmalloc),
  };
  return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
