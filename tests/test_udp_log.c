/* mstls's own log on DTLS peers (MSTLS_LOG_INFO): handshakes naming the
 * peer's address, closes and their reason, idle reaping, a handshake
 * timeout; and floods of dropped datagrams summarised per reason, so
 * that n datagrams give at most about log2(n) lines. Endpoints on the
 * simulated network of udp_helpers.c, fake clock: deterministic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "udp_helpers.h"

#define SERVER_INDEX 1
#define CLIENT_INDEX 7
#define MAXLINES 512

typedef struct logrec {
  int n;
  char lines[MAXLINES][512];
} logrec;

static logrec R;

static void cb_log(int level, const char *line, void *ud) {
  logrec *r = ud;
  assert_true(level == MSTLS_LOG_INFO || level == MSTLS_LOG_ERROR);
  if (r->n < MAXLINES) {
    snprintf(r->lines[r->n], sizeof(r->lines[0]), "%s", line);
  }
  r->n++;
}

static int count_lines(const char *a, const char *b) {
  int i, n = 0;
  for (i = 0; i < R.n && i < MAXLINES; i++) {
    n += strstr(R.lines[i], a) != NULL && (b == NULL || strstr(R.lines[i], b));
  }
  return n;
}

static void dump(void) {
  int i;
  for (i = 0; i < R.n && i < MAXLINES; i++) {
    print_message("log: %s\n", R.lines[i]);
  }
}

typedef struct world {
  udpt_net *net;
  mstls_udp_endpoint *s, *c;
  mstls_udp_peer *cpeer;
  int s_done, c_done, s_closed, c_closed;
} world;

static void on_done(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                    void *ud) {
  world *w = ud;
  (void)ep;
  (void)p;
  if (f & MSTLS_UDP_PEER_CLIENT) {
    w->c_done++;
  } else {
    w->s_done++;
  }
}

static void on_closed(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                      int reason, void *ud) {
  world *w = ud;
  (void)ep;
  (void)p;
  (void)reason;
  if (f & MSTLS_UDP_PEER_CLIENT) {
    w->c_closed++;
  } else {
    w->s_closed++;
  }
}

static int settled(void *ud) {
  world *w = ud;
  return (w->c_done && w->s_done) || w->c_closed || w->s_closed;
}

static int nothing(void *ud) {
  (void)ud;
  return 0;
}

static void world_new(world *w, const mstls_udp_settings *ss,
                      const mstls_udp_settings *cs, mstls_credentials *sc,
                      mstls_credentials *cc) {
  mstls_udp_callbacks cb;
  memset(w, 0, sizeof(*w));
  w->net = udpt_net_new(NULL);
  assert_non_null(w->net);
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = on_done;
  cb.closed = on_closed;
  w->s = udpt_net_add(w->net, SERVER_INDEX, 0, ss, &cb, sc, w);
  w->c = udpt_net_add(w->net, CLIENT_INDEX, 0, cs, &cb, cc, w);
  assert_non_null(w->s);
  assert_non_null(w->c);
}

static void world_connect(world *w) {
  struct sockaddr_storage sa;
  socklen_t sl;
  udpt_addr(&sa, &sl, SERVER_INDEX, 0);
  assert_int_equal(mstls_udp_endpoint_connect(w->c, (struct sockaddr *)&sa, sl,
                                              "localhost", udpt_net_now(w->net),
                                              &w->cpeer),
                   0);
}

static void settings(mstls_udp_settings *ss, mstls_udp_settings *cs) {
  mstls_udp_settings_default(ss);
  mstls_udp_settings_default(cs);
  cs->flags &= ~MSTLS_UDP_ACCEPT;
}

/* Handshake, close, reaping: one line each, naming the peer. */
static void t_peer_events(void **state) {
  mstls_credentials *sc = udpt_server_creds(), *cc = udpt_client_creds(sc);
  mstls_udp_settings ss, cs;
  char server_addr[64], client_addr[64];
  world w;
  (void)state;
  snprintf(server_addr, sizeof(server_addr),
           "client peer 10.0.0.%d:", SERVER_INDEX);
  snprintf(client_addr, sizeof(client_addr),
           "server peer 10.0.0.%d:", CLIENT_INDEX);
  memset(&R, 0, sizeof(R));
  mstls_set_log(cb_log, MSTLS_LOG_INFO, &R);
  /* A handshake and an orderly close by the client. */
  settings(&ss, &cs);
  world_new(&w, &ss, &cs, sc, cc);
  world_connect(&w);
  assert_true(udpt_net_run(w.net, settled, &w, 10000));
  assert_int_equal(mstls_udp_peer_close(w.cpeer), 0);
  udpt_net_step(w.net, 100);
  udpt_net_free(w.net);
  /* A peer reaped by the server after its idle timeout. */
  settings(&ss, &cs);
  ss.idle_timeout = 60 * MSTLS_SECONDS;
  world_new(&w, &ss, &cs, sc, cc);
  world_connect(&w);
  assert_true(udpt_net_run(w.net, settled, &w, 10000));
  udpt_net_advance(w.net, 61 * MSTLS_SECONDS);
  udpt_net_step(w.net, 100);
  udpt_net_step(w.net, 100);
  assert_int_equal(w.s_closed, 1);
  udpt_net_free(w.net);
  mstls_set_log(NULL, MSTLS_LOG_OFF, NULL);
  dump();
  assert_int_equal(count_lines(server_addr, "handshake done: DTLS1.2"), 2);
  assert_int_equal(count_lines(client_addr, "handshake done: DTLS1.2"), 2);
  /* The client closed its first peer, the second one was closed by the
   * server's reaping. */
  assert_int_equal(count_lines(server_addr, ": closed"), 2);
  assert_int_equal(
      count_lines(client_addr, "closed by the peer (close_notify)"), 1);
  assert_int_equal(count_lines(client_addr, "reaped: idle timeout"), 1);
  /* The reaped peer's close_notify reached the client. */
  assert_int_equal(count_lines(server_addr, "closed by the peer"), 1);
  /* Nothing per datagram: the stray ones are counted and summarised. */
  assert_true(R.n <= 10);
  mstls_credentials_del(cc);
  mstls_credentials_del(sc);
}

static int drop_server_after_hvr(int from, int to, const uint8_t *d, size_t len,
                                 void *ud) {
  (void)to;
  (void)len;
  (void)ud;
  /* Keep the HelloVerifyRequest (handshake type 3), lose the rest. */
  return from == 0 && !(d[0] == 22 && d[13] == 3);
}

/* A half-open handshake times out on both sides: said once per side. */
static void t_handshake_timeout(void **state) {
  mstls_credentials *sc = udpt_server_creds(), *cc = udpt_client_creds(sc);
  mstls_udp_settings ss, cs;
  world w;
  (void)state;
  memset(&R, 0, sizeof(R));
  mstls_set_log(cb_log, MSTLS_LOG_INFO, &R);
  settings(&ss, &cs);
  ss.handshake_timeout = cs.handshake_timeout = 5 * MSTLS_SECONDS;
  world_new(&w, &ss, &cs, sc, cc);
  udpt_net_set_filter(w.net, drop_server_after_hvr, NULL);
  world_connect(&w);
  udpt_net_run(w.net, nothing, &w, 10000);
  udpt_net_free(w.net);
  mstls_set_log(NULL, MSTLS_LOG_OFF, NULL);
  dump();
  assert_int_equal(count_lines("server peer", "handshake timed out"), 1);
  assert_int_equal(count_lines("client peer", "handshake timed out"), 1);
  mstls_credentials_del(cc);
  mstls_credentials_del(sc);
}

/* Floods: 100000 malformed datagrams and 5000 cookie-less ClientHellos
 * beyond the stateless-answer budget give a line at the 1st, 2nd, 4th,
 * ... of each reason -- 17 and 13 lines -- each with the count so far;
 * the counters hold every datagram. */
static void t_flood_is_summarised(void **state) {
  mstls_credentials *sc = udpt_server_creds();
  mstls_udp_settings ss;
  mstls_udp_callbacks cb;
  mstls_udp_endpoint *ep = NULL;
  mstls_udp_stats st;
  struct sockaddr_storage a;
  socklen_t al;
  uint8_t ch[1024], junk[13] = {22, 0xfe, 0xfd, 0};
  size_t chlen = udpt_client_hello(ch, sizeof(ch));
  const char *why_junk = mstls_udp_drop_reason_str(MSTLS_UDP_DROP_TRUNCATED);
  const char *why_hvr = mstls_udp_drop_reason_str(MSTLS_UDP_DROP_HVR_LIMIT);
  uint32_t i;
  (void)state;
  assert_true(chlen > 0);
  mstls_udp_settings_default(&ss);
  ss.hvr_rate_limit = 10; /* per second; the clock stands still */
  memset(&cb, 0, sizeof(cb));
  cb.send = NULL;
  {
    udpt_net *net = udpt_net_new(NULL);
    assert_non_null(net);
    ep = udpt_net_add(net, SERVER_INDEX, 0, &ss, &cb, sc, NULL);
    assert_non_null(ep);
    memset(&R, 0, sizeof(R));
    mstls_set_log(cb_log, MSTLS_LOG_INFO, &R);
    for (i = 0; i < 100000; i++) {
      udpt_addr(&a, &al, 100 + (i % 500), 0);
      (void)mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, al, junk,
                                    sizeof(junk), udpt_net_now(net));
    }
    for (i = 0; i < 5010; i++) {
      udpt_addr(&a, &al, 100 + (i % 500), 0);
      (void)mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, al, ch, chlen,
                                    udpt_net_now(net));
    }
    mstls_set_log(NULL, MSTLS_LOG_OFF, NULL);
    mstls_udp_endpoint_get_stats(ep, &st);
    dump();
    assert_int_equal(st.dropped[MSTLS_UDP_DROP_TRUNCATED], 100000);
    assert_int_equal(st.dropped[MSTLS_UDP_DROP_HVR_LIMIT], 5000);
    assert_int_equal(count_lines("dropped", why_junk), 17);
    assert_int_equal(count_lines("65536 datagram(s) dropped", why_junk), 1);
    assert_int_equal(count_lines("dropped", why_hvr), 13);
    assert_int_equal(count_lines("4096 datagram(s) dropped", why_hvr), 1);
    assert_int_equal(R.n, 17 + 13);
    udpt_net_free(net);
  }
  mstls_credentials_del(sc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_peer_events),
      cmocka_unit_test(t_handshake_timeout),
      cmocka_unit_test(t_flood_is_summarised),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
