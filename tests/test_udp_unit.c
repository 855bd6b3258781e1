/* Unit tests of the UDP endpoint's stateless path: RFC 7983 classifier,
 * ClientHello validation, cookies without allocation, expiry and key
 * rotation, rate limit of verified sources, the global budget of
 * HelloVerifyRequests, prefix shares, bad input, spoofed flood.
 *
 * Load-proof: no sockets, no threads; each datagram is fed by hand with
 * the time stamp the test chooses (cookie periods, expiry and rate limits
 * all follow it), and the ClientHello is written by a GnuTLS client into
 * memory. Nothing waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "udp_helpers.h"
#include "udp_int.h"

static uint8_t g_ch[2048];
static size_t g_chlen;

/* What the send callback saw. */
typedef struct sent_log {
  uint64_t count;
  size_t last_len;
  size_t max_len;
  uint8_t last[2048];
} sent_log;

static int log_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                    socklen_t tolen, const uint8_t *data, size_t len,
                    void *ud) {
  sent_log *l = ud;
  (void)ep;
  (void)to;
  (void)tolen;
  l->count++;
  l->last_len = len;
  if (len > l->max_len) {
    l->max_len = len;
  }
  if (len <= sizeof(l->last)) {
    memcpy(l->last, data, len);
  }
  return 0;
}

typedef struct nd_log {
  uint64_t count;
  uint8_t data[64];
  size_t len;
} nd_log;

static nd_log g_nd;

static void nd_cb(mstls_udp_endpoint *ep, uint32_t flags, mstls_udp_peer *peer,
                  const struct sockaddr *from, socklen_t fromlen,
                  const uint8_t *data, size_t len, void *ud) {
  (void)ep;
  (void)flags;
  (void)peer;
  (void)from;
  (void)fromlen;
  (void)ud;
  g_nd.count++;
  g_nd.len = len < sizeof(g_nd.data) ? len : sizeof(g_nd.data);
  memcpy(g_nd.data, data, g_nd.len);
}

static mstls_credentials *g_cred;

static mstls_udp_endpoint *new_server(const mstls_udp_settings *s,
                                      sent_log *log, int with_nd) {
  mstls_udp_callbacks cb;
  mstls_udp_endpoint *ep = NULL;
  memset(&cb, 0, sizeof(cb));
  cb.send = log_send;
  if (with_nd) {
    cb.non_dtls = nd_cb;
  }
  assert_int_equal(mstls_udp_endpoint_new(&ep, s, &cb, g_cred, log), 0);
  return ep;
}

static int group_setup(void **state) {
  (void)state;
  g_chlen = udpt_client_hello(g_ch, sizeof(g_ch));
  g_cred = udpt_server_creds();
  return g_chlen > 60 && g_cred ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  mstls_credentials_del(g_cred);
  return 0;
}

/* Insert a cookie into the real ClientHello, fixing every length. */
static size_t ch_with_cookie(const uint8_t *cookie, size_t clen, uint8_t *out) {
  return udpt_with_cookie(g_ch, g_chlen, cookie, clen, out);
}

static void test_classifier(void **state) {
  static const uint8_t not_dtls[] = {0, 1, 3, 16, 19, 64, 79, 128, 191, 255};
  size_t i;
  uint8_t b;
  (void)state;
  for (i = 0; i < sizeof(not_dtls); i++) {
    assert_int_equal(mstls_udp_is_dtls(&not_dtls[i], 1), 0);
  }
  for (b = 20; b <= 63; b++) {
    assert_int_equal(mstls_udp_is_dtls(&b, 1), 1);
  }
  assert_int_equal(mstls_udp_is_dtls(&b, 0), 0);
}

static void test_client_hello_checks(void **state) {
  uint8_t m[2048];
  mstls_udp_chello ch;
  size_t i;
  (void)state;

  assert_int_equal(mstls_udp_check_client_hello(g_ch, g_chlen, &ch), -1);
  assert_int_equal(ch.cookie_len, 0);
  assert_int_equal(ch.record_len, g_chlen);
  /* Every truncation is refused, never read past the end. */
  for (i = 0; i < g_chlen; i++) {
    uint8_t *cut = malloc(i ? i : 1);
    memcpy(cut, g_ch, i);
    assert_true(mstls_udp_check_client_hello(cut, i, &ch) >= 0);
    free(cut);
  }
  memcpy(m, g_ch, g_chlen);
  m[4] = 1; /* epoch 1 */
  assert_int_equal(mstls_udp_check_client_hello(m, g_chlen, &ch),
                   MSTLS_UDP_DROP_BAD_EPOCH);
  memcpy(m, g_ch, g_chlen);
  m[0] = 23; /* application data */
  assert_int_equal(mstls_udp_check_client_hello(m, g_chlen, &ch),
                   MSTLS_UDP_DROP_NOT_CLIENT_HELLO);
  memcpy(m, g_ch, g_chlen);
  m[13] = 2; /* ServerHello */
  assert_int_equal(mstls_udp_check_client_hello(m, g_chlen, &ch),
                   MSTLS_UDP_DROP_NOT_CLIENT_HELLO);
  memcpy(m, g_ch, g_chlen);
  m[1] = 3;
  m[2] = 3; /* TLS 1.2 record version */
  assert_int_equal(mstls_udp_check_client_hello(m, g_chlen, &ch),
                   MSTLS_UDP_DROP_MALFORMED);
  memcpy(m, g_ch, g_chlen);
  m[24] ^= 0x10; /* fragment_length != length */
  assert_int_equal(mstls_udp_check_client_hello(m, g_chlen, &ch),
                   MSTLS_UDP_DROP_FRAGMENTED);
  memcpy(m, g_ch, g_chlen);
  m[21] = 1; /* fragment_offset 1 */
  assert_int_equal(mstls_udp_check_client_hello(m, g_chlen, &ch),
                   MSTLS_UDP_DROP_FRAGMENTED);
  memcpy(m, g_ch, g_chlen);
  m[13 + 12 + 34] = 33; /* session_id longer than 32 */
  assert_int_equal(mstls_udp_check_client_hello(m, g_chlen, &ch),
                   MSTLS_UDP_DROP_MALFORMED);
  memcpy(m, g_ch, g_chlen);
  m[12] = (uint8_t)(m[12] + 1); /* record longer than the datagram */
  assert_int_equal(mstls_udp_check_client_hello(m, g_chlen, &ch),
                   MSTLS_UDP_DROP_TRUNCATED);
}

static void test_cookie_without_allocation(void **state) {
  udpt_counting_mem cm;
  mstls_udp_settings s;
  mstls_udp_stats st;
  struct sockaddr_storage a;
  socklen_t alen;
  sent_log log;
  mstls_udp_endpoint *ep;
  uint64_t allocs;
  int64_t live;
  (void)state;

  udpt_counting_mem_init(&cm);
  mstls_udp_settings_default(&s);
  s.mem = &cm.mem;
  memset(&log, 0, sizeof(log));
  ep = new_server(&s, &log, 0);
  allocs = cm.allocs;
  live = cm.live;
  udpt_addr(&a, &alen, 7, 0);
  assert_int_equal(mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen,
                                           g_ch, g_chlen, MSTLS_SECONDS),
                   0);
  assert_int_equal(log.count, 1);
  /* RFC 6347 §4.2.1 / RFC 9147 §5.1: no amplification. */
  assert_true(log.last_len <= g_chlen);
  assert_int_equal(log.last[0], 22);
  assert_int_equal(log.last[13], 3); /* HelloVerifyRequest */
  assert_int_equal(cm.allocs, allocs);
  assert_int_equal(cm.live, live);
  mstls_udp_endpoint_get_stats(ep, &st);
  assert_int_equal(st.cookies_sent, 1);
  assert_int_equal(st.peers, 0);
  mstls_udp_endpoint_del(ep);
  assert_int_equal(cm.live, 0);
}

/* Take the cookie of a HelloVerifyRequest. */
static size_t hvr_cookie(const sent_log *log, uint8_t *cookie) {
  size_t n = log->last[13 + 12 + 2];
  memcpy(cookie, log->last + 13 + 12 + 3, n);
  return n;
}

static void test_cookie_expiry_and_rotation(void **state) {
  static const uint8_t secret[MSTLS_UDP_COOKIE_SECRET_SIZE] = {42};
  mstls_udp_settings s;
  mstls_udp_stats st;
  struct sockaddr_storage a, b;
  socklen_t alen, blen;
  sent_log log;
  uint8_t cookie[64], ch2[2048];
  size_t clen, ch2len;
  mstls_tstamp t0 = 100 * MSTLS_SECONDS + 1; /* early in period 3 (30 s) */
  mstls_tstamp later[] = {t0 + 10 * MSTLS_SECONDS, t0 + 40 * MSTLS_SECONDS,
                          t0 + 70 * MSTLS_SECONDS};
  int expect_ok[] = {1, 1, 0};
  mstls_udp_endpoint *ep;
  size_t i;
  (void)state;

  mstls_udp_settings_default(&s);
  memset(&log, 0, sizeof(log));
  ep = new_server(&s, &log, 0);
  assert_int_equal(mstls_udp_endpoint_set_cookie_secret(ep, secret, 3),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(
      mstls_udp_endpoint_set_cookie_secret(ep, secret, sizeof(secret)), 0);
  udpt_addr(&a, &alen, 1, 1);
  udpt_addr(&b, &blen, 2, 1);
  mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen, g_ch, g_chlen, t0);
  clen = hvr_cookie(&log, cookie);
  assert_true(clen > 0);
  ch2len = ch_with_cookie(cookie, clen, ch2);
  mstls_udp_endpoint_del(ep);

  for (i = 0; i < 3; i++) {
    /* A fresh endpoint sharing the secret: any worker verifies it. */
    memset(&log, 0, sizeof(log));
    ep = new_server(&s, &log, 0);
    mstls_udp_endpoint_set_cookie_secret(ep, secret, sizeof(secret));
    mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen, ch2, ch2len,
                            later[i]);
    mstls_udp_endpoint_get_stats(ep, &st);
    assert_int_equal(st.cookies_verified, (uint64_t)expect_ok[i]);
    assert_int_equal(st.cookies_rejected, (uint64_t)!expect_ok[i]);
    assert_int_equal(st.peers, (uint32_t)expect_ok[i]);
    if (!expect_ok[i]) {
      /* An expired cookie is answered with a fresh one. */
      assert_int_equal(st.cookies_sent, 1);
    }
    /* The cookie is bound to the address. */
    mstls_udp_endpoint_feed(ep, (struct sockaddr *)&b, blen, ch2, ch2len,
                            later[i]);
    mstls_udp_endpoint_get_stats(ep, &st);
    assert_int_equal(st.cookies_rejected, (uint64_t)!expect_ok[i] + 1);
    mstls_udp_endpoint_del(ep);
  }
  /* Another secret does not verify it. */
  memset(&log, 0, sizeof(log));
  ep = new_server(&s, &log, 0);
  mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen, ch2, ch2len, t0);
  mstls_udp_endpoint_get_stats(ep, &st);
  assert_int_equal(st.cookies_rejected, 1);
  assert_int_equal(st.peers, 0);
  mstls_udp_endpoint_del(ep);
}

/* Feed the cookie-less ClientHello from @p a, then the same ClientHello
 * carrying the cookie the endpoint answered with. @return what feeding
 * the second one returned. */
static int verified_hello(mstls_udp_endpoint *ep, sent_log *log,
                          const struct sockaddr_storage *a, socklen_t alen,
                          mstls_tstamp now) {
  uint8_t cookie[64], ch2[2048];
  size_t clen, ch2len;
  uint64_t before = log->count;
  assert_int_equal(mstls_udp_endpoint_feed(ep, (const struct sockaddr *)a, alen,
                                           g_ch, g_chlen, now),
                   0);
  assert_int_equal(log->count, before + 1);
  clen = hvr_cookie(log, cookie);
  ch2len = ch_with_cookie(cookie, clen, ch2);
  return mstls_udp_endpoint_feed(ep, (const struct sockaddr *)a, alen, ch2,
                                 ch2len, now);
}

static void set_port(struct sockaddr_storage *a, uint16_t port) {
  if (a->ss_family == AF_INET) {
    ((struct sockaddr_in *)a)->sin_port = htons(port);
  } else {
    ((struct sockaddr_in6 *)a)->sin6_port = htons(port);
  }
}

/* The per-source rate limit counts only sources that returned a cookie:
 * cookie-less ClientHellos in a source's name never use up its rate. */
static void test_rate_limit(void **state) {
  mstls_udp_settings s;
  mstls_udp_stats st;
  struct sockaddr_storage a;
  socklen_t alen;
  sent_log log;
  mstls_udp_endpoint *ep;
  int i;
  (void)state;

  mstls_udp_settings_default(&s);
  s.rate_limit = 10;
  s.max_half_open_per_prefix = 100;
  memset(&log, 0, sizeof(log));
  ep = new_server(&s, &log, 0);
  udpt_addr(&a, &alen, 9, 0);
  for (i = 0; i < 50; i++) {
    /* Unverified: all answered, nothing counted against the source. */
    set_port(&a, (uint16_t)(1000 + i));
    assert_int_equal(mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen,
                                             g_ch, g_chlen, 5 * MSTLS_SECONDS),
                     0);
  }
  mstls_udp_endpoint_get_stats(ep, &st);
  assert_int_equal(st.cookies_sent, 50);
  assert_int_equal(st.dropped[MSTLS_UDP_DROP_RATE_LIMITED], 0);
  for (i = 0; i < 15; i++) {
    /* Same address, a new port each time: still one source. */
    set_port(&a, (uint16_t)(2000 + i));
    assert_int_equal(verified_hello(ep, &log, &a, alen, 5 * MSTLS_SECONDS),
                     i < 10 ? 0 : MSTLS_E_LIMIT);
  }
  mstls_udp_endpoint_get_stats(ep, &st);
  assert_int_equal(st.peers, 10);
  assert_int_equal(st.dropped[MSTLS_UDP_DROP_RATE_LIMITED], 5);
  set_port(&a, 3000);
  assert_int_equal(verified_hello(ep, &log, &a, alen, 6 * MSTLS_SECONDS), 0);
  mstls_udp_endpoint_get_stats(ep, &st);
  assert_int_equal(st.peers, 11);
  assert_int_equal(st.prefixes, 1);
  mstls_udp_endpoint_del(ep);
}

/* The global budget of HelloVerifyRequests: shared by every unverified
 * source, renewed every second. */
static void test_hvr_budget(void **state) {
  mstls_udp_settings s;
  mstls_udp_stats st;
  sent_log log;
  mstls_udp_endpoint *ep;
  uint32_t i;
  (void)state;

  mstls_udp_settings_default(&s);
  s.hvr_rate_limit = 10;
  memset(&log, 0, sizeof(log));
  ep = new_server(&s, &log, 0);
  for (i = 0; i < 15; i++) {
    struct sockaddr_storage a;
    socklen_t alen;
    udpt_addr(&a, &alen, 100 + i, (int)(i & 1));
    assert_int_equal(mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen,
                                             g_ch, g_chlen, 5 * MSTLS_SECONDS),
                     i < 10 ? 0 : MSTLS_E_LIMIT);
  }
  mstls_udp_endpoint_get_stats(ep, &st);
  assert_int_equal(st.cookies_sent, 10);
  assert_int_equal(st.dropped[MSTLS_UDP_DROP_HVR_LIMIT], 5);
  assert_int_equal(log.count, 10);
  {
    struct sockaddr_storage a;
    socklen_t alen;
    udpt_addr(&a, &alen, 100, 0);
    assert_int_equal(mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen,
                                             g_ch, g_chlen, 6 * MSTLS_SECONDS),
                     0);
  }
  assert_int_equal(log.count, 11);
  mstls_udp_endpoint_del(ep);
}

static void addr_v4(struct sockaddr_storage *ss, socklen_t *len, uint32_t ip,
                    uint16_t port) {
  struct sockaddr_in *in = (struct sockaddr_in *)ss;
  memset(ss, 0, sizeof(*ss));
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  in->sin_addr.s_addr = htonl(ip);
  *len = sizeof(*in);
}

static void addr_v6(struct sockaddr_storage *ss, socklen_t *len, uint64_t hi,
                    uint64_t lo, uint16_t port) {
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  int i;
  memset(ss, 0, sizeof(*ss));
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  for (i = 0; i < 8; i++) {
    in6->sin6_addr.s6_addr[i] = (uint8_t)(hi >> (56 - 8 * i));
    in6->sin6_addr.s6_addr[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
  }
  *len = sizeof(*in6);
}

/* One source prefix holds at most its share of the peer and half-open
 * tables: an IPv4 address (or /24 when set), an IPv6 /64. */
static void test_prefix_shares(void **state) {
  mstls_udp_settings s;
  mstls_udp_stats st;
  struct sockaddr_storage a;
  socklen_t alen;
  sent_log log;
  mstls_udp_endpoint *ep;
  uint16_t port;
  (void)state;

  /* Half-open share: max_half_open 16 -> 2 per prefix. */
  mstls_udp_settings_default(&s);
  s.max_half_open = 16;
  memset(&log, 0, sizeof(log));
  ep = new_server(&s, &log, 0);
  for (port = 1; port <= 3; port++) {
    addr_v4(&a, &alen, 0x0a000001, port);
    assert_int_equal(verified_hello(ep, &log, &a, alen, MSTLS_SECONDS),
                     port <= 2 ? 0 : MSTLS_E_LIMIT);
  }
  /* Another address of the same /24 is another prefix by default... */
  addr_v4(&a, &alen, 0x0a000002, 1);
  assert_int_equal(verified_hello(ep, &log, &a, alen, MSTLS_SECONDS), 0);
  /* ...and addresses of one IPv6 /64 are one prefix. */
  for (port = 1; port <= 3; port++) {
    addr_v6(&a, &alen, 0x20010db800000001ull, 0x1000u + port, 443);
    assert_int_equal(verified_hello(ep, &log, &a, alen, MSTLS_SECONDS),
                     port <= 2 ? 0 : MSTLS_E_LIMIT);
  }
  addr_v6(&a, &alen, 0x20010db800000002ull, 1, 443);
  assert_int_equal(verified_hello(ep, &log, &a, alen, MSTLS_SECONDS), 0);
  mstls_udp_endpoint_get_stats(ep, &st);
  assert_int_equal(st.half_open, 6);
  assert_int_equal(st.prefixes, 4);
  assert_int_equal(st.dropped[MSTLS_UDP_DROP_PREFIX_LIMIT], 2);
  assert_int_equal(st.dropped[MSTLS_UDP_DROP_HALF_OPEN_LIMIT], 0);
  mstls_udp_endpoint_del(ep);

  /* A /24 setting and an explicit peer share. */
  mstls_udp_settings_default(&s);
  s.prefix_len_v4 = 24;
  s.max_peers_per_prefix = 3;
  memset(&log, 0, sizeof(log));
  ep = new_server(&s, &log, 0);
  for (port = 1; port <= 4; port++) {
    addr_v4(&a, &alen, 0x0a000100u + port, 5000);
    assert_int_equal(verified_hello(ep, &log, &a, alen, MSTLS_SECONDS),
                     port <= 3 ? 0 : MSTLS_E_LIMIT);
  }
  addr_v4(&a, &alen, 0x0a000201u, 5000);
  assert_int_equal(verified_hello(ep, &log, &a, alen, MSTLS_SECONDS), 0);
  mstls_udp_endpoint_get_stats(ep, &st);
  assert_int_equal(st.peers, 4);
  assert_int_equal(st.prefixes, 2);
  assert_int_equal(st.dropped[MSTLS_UDP_DROP_PREFIX_LIMIT], 1);
  /* Handshakes time out: the shares are given back. */
  mstls_udp_endpoint_handle_expiry(ep, 60 * MSTLS_SECONDS);
  mstls_udp_endpoint_get_stats(ep, &st);
  assert_int_equal(st.peers, 0);
  assert_int_equal(st.prefixes, 0);
  addr_v4(&a, &alen, 0x0a000104u, 5000);
  assert_int_equal(verified_hello(ep, &log, &a, alen, 61 * MSTLS_SECONDS), 0);
  mstls_udp_endpoint_del(ep);
}

static void test_bad_input(void **state) {
  udpt_counting_mem cm;
  mstls_udp_settings s;
  mstls_udp_stats st;
  struct sockaddr_storage a;
  socklen_t alen;
  sent_log log;
  mstls_udp_endpoint *ep;
  uint8_t buf[2048], *big;
  uint64_t allocs;
  uint32_t rng = 99;
  int i;
  static const uint8_t stun[] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4,
                                 0x42, 1,    2,    3,    4,    5,    6,
                                 7,    8,    9,    10,   11,   12};
  static const uint8_t rtp[] = {0x80, 0x60, 0x00, 0x01, 0, 0, 0, 1, 9, 9};
  (void)state;

  udpt_counting_mem_init(&cm);
  mstls_udp_settings_default(&s);
  s.mem = &cm.mem;
  memset(&log, 0, sizeof(log));
  ep = new_server(&s, &log, 0);
  allocs = cm.allocs;
  udpt_addr(&a, &alen, 3, 0);
  assert_int_equal(mstls_udp_endpoint_feed(ep, NULL, alen, g_ch, g_chlen, 1),
                   MSTLS_E_INVALID_ARGUMENT);
  {
    struct sockaddr unix_like = {.sa_family = AF_UNIX};
    assert_int_equal(mstls_udp_endpoint_feed(ep, &unix_like, sizeof(unix_like),
                                             g_ch, g_chlen, 1),
                     MSTLS_E_INVALID_ARGUMENT);
  }
  assert_int_equal(
      mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen, buf, 0, 1),
      MSTLS_E_MALFORMED);
  big = calloc(1, s.max_datagram + 1);
  big[0] = 22;
  assert_int_equal(mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen, big,
                                           s.max_datagram + 1, 1),
                   MSTLS_E_MALFORMED);
  free(big);
  assert_int_equal(mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen,
                                           stun, sizeof(stun), 1),
                   MSTLS_E_MALFORMED);
  /* Garbage with a DTLS first byte, random lengths. */
  for (i = 0; i < 20000; i++) {
    size_t len, j;
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    len = 1 + rng % 300;
    for (j = 0; j < len; j++) {
      rng ^= rng << 13;
      rng ^= rng >> 17;
      rng ^= rng << 5;
      buf[j] = (uint8_t)rng;
    }
    buf[0] = (uint8_t)(20 + rng % 44);
    if (i % 3 == 0 && len > 13) {
      /* Plausible headers, random rest. */
      memcpy(buf, g_ch, 13 + (rng % 20));
    }
    mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen, buf, len,
                            (mstls_tstamp)i * MSTLS_MILLISECONDS);
  }
  mstls_udp_endpoint_get_stats(ep, &st);
  assert_int_equal(st.peers, 0);
  assert_int_equal(cm.allocs, allocs);
  assert_int_equal(st.dropped[MSTLS_UDP_DROP_TRUNCATED] > 0, 1);
  assert_int_equal(st.dropped[MSTLS_UDP_DROP_OVERSIZED], 1);
  assert_int_equal(st.dropped[MSTLS_UDP_DROP_NON_DTLS], 1);
  assert_int_equal(st.dropped_total + st.cookies_sent + st.cookies_rejected >=
                       st.datagrams_in - st.cookies_rejected,
                   1);
  mstls_udp_endpoint_del(ep);

  /* With a non-DTLS callback: STUN and RTP are handed over untouched. */
  memset(&log, 0, sizeof(log));
  memset(&g_nd, 0, sizeof(g_nd));
  ep = new_server(&s, &log, 1);
  assert_int_equal(mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen,
                                           stun, sizeof(stun), 1),
                   0);
  assert_int_equal(g_nd.len, sizeof(stun));
  assert_memory_equal(g_nd.data, stun, sizeof(stun));
  assert_int_equal(mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen, rtp,
                                           sizeof(rtp), 1),
                   0);
  assert_memory_equal(g_nd.data, rtp, sizeof(rtp));
  mstls_udp_endpoint_get_stats(ep, &st);
  assert_int_equal(st.non_dtls, 2);
  assert_int_equal(log.count, 0);
  mstls_udp_endpoint_del(ep);
  assert_int_equal(cm.live, 0);
}

/* 100,000 spoofed ClientHellos from distinct addresses: every one is
 * answered with a cookie, no peer and no byte is allocated. Half of them
 * carry a forged cookie. */
static void test_spoofed_flood(void **state) {
  udpt_counting_mem cm;
  mstls_udp_settings s;
  mstls_udp_stats st;
  sent_log log;
  mstls_udp_endpoint *ep;
  uint8_t forged[2048], fake_cookie[20];
  size_t forged_len;
  uint64_t allocs;
  int64_t live;
  uint32_t i;
  const uint32_t n = 100000;
  (void)state;

  memset(fake_cookie, 0xab, sizeof(fake_cookie));
  forged_len = ch_with_cookie(fake_cookie, sizeof(fake_cookie), forged);
  udpt_counting_mem_init(&cm);
  mstls_udp_settings_default(&s);
  s.mem = &cm.mem;
  memset(&log, 0, sizeof(log));
  ep = new_server(&s, &log, 0);
  allocs = cm.allocs;
  live = cm.live;
  for (i = 0; i < n; i++) {
    struct sockaddr_storage a;
    socklen_t alen;
    udpt_addr(&a, &alen, i, i & 2);
    if (i & 1) {
      mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen, forged,
                              forged_len,
                              (mstls_tstamp)i * 10 * MSTLS_MILLISECONDS);
    } else {
      mstls_udp_endpoint_feed(ep, (struct sockaddr *)&a, alen, g_ch, g_chlen,
                              (mstls_tstamp)i * 10 * MSTLS_MILLISECONDS);
    }
  }
  mstls_udp_endpoint_get_stats(ep, &st);
  assert_int_equal(st.peers, 0);
  assert_int_equal(st.half_open, 0);
  assert_int_equal(st.cookies_sent, n);
  assert_int_equal(st.cookies_rejected, n / 2);
  assert_int_equal(st.cookies_verified, 0);
  assert_true(log.max_len <= g_chlen);
  assert_int_equal(cm.allocs, allocs);
  assert_int_equal(cm.live, live);
  mstls_udp_endpoint_del(ep);
}

static void test_settings_validation(void **state) {
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_udp_endpoint *ep = (void *)1;
  (void)state;
  mstls_udp_settings_default(&s);
  memset(&cb, 0, sizeof(cb));
  assert_int_equal(mstls_udp_endpoint_new(&ep, &s, &cb, g_cred, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_null(ep);
  cb.send = log_send;
  s.mtu = 100;
  assert_int_equal(mstls_udp_endpoint_new(&ep, &s, &cb, g_cred, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  {
    static const unsigned bad4[] = {0, 33}, bad6[] = {0, 129};
    int i;
    for (i = 0; i < 2; i++) {
      mstls_udp_settings_default(&s);
      s.prefix_len_v4 = bad4[i];
      assert_int_equal(mstls_udp_endpoint_new(&ep, &s, &cb, g_cred, NULL),
                       MSTLS_E_INVALID_ARGUMENT);
      mstls_udp_settings_default(&s);
      s.prefix_len_v6 = bad6[i];
      assert_int_equal(mstls_udp_endpoint_new(&ep, &s, &cb, g_cred, NULL),
                       MSTLS_E_INVALID_ARGUMENT);
    }
  }
  {
    int r;
    for (r = 0; r < MSTLS_UDP_DROP_COUNT; r++) {
      assert_string_not_equal(mstls_udp_drop_reason_str(r), "unknown");
    }
  }
  mstls_udp_settings_default(&s);
  s.priority = "NOT-A-PRIORITY";
  assert_int_equal(mstls_udp_endpoint_new(&ep, &s, &cb, g_cred, NULL),
                   MSTLS_E_TLS);
  /* Versions below DTLS 1.2 are removed from every priority string: one
   * that allows nothing else is refused, not run with DTLS 1.0. */
  s.priority = "NORMAL:-VERS-ALL:+VERS-DTLS1.0";
  assert_int_equal(mstls_udp_endpoint_new(&ep, &s, &cb, g_cred, NULL),
                   MSTLS_E_TLS);
  s.priority = "NORMAL:+VERS-DTLS1.0";
  assert_int_equal(mstls_udp_endpoint_new(&ep, &s, &cb, g_cred, NULL), 0);
  mstls_udp_endpoint_del(ep);
  assert_int_equal(mstls_udp_endpoint_new(NULL, &s, &cb, g_cred, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_string_equal(mstls_udp_drop_reason_str(MSTLS_UDP_DROP_BAD_EPOCH),
                      "bad epoch");
  assert_string_equal(mstls_udp_drop_reason_str(MSTLS_UDP_DROP_COUNT),
                      "unknown");
  assert_int_equal(mstls_udp_endpoint_get_expiry(NULL), MSTLS_TSTAMP_NEVER);
  assert_int_equal(mstls_udp_peer_send(NULL, "x", 1), MSTLS_E_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classifier),
      cmocka_unit_test(test_client_hello_checks),
      cmocka_unit_test(test_cookie_without_allocation),
      cmocka_unit_test(test_cookie_expiry_and_rotation),
      cmocka_unit_test(test_rate_limit),
      cmocka_unit_test(test_hvr_budget),
      cmocka_unit_test(test_prefix_shares),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_spoofed_flood),
      cmocka_unit_test(test_settings_validation),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
