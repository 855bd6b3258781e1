/* Several DTLS server workers on one address: with SO_REUSEPORT the kernel
 * may hand a client's second ClientHello (the one with the cookie) to
 * another worker than the first. Workers that share the cookie secret
 * accept it and complete the handshake; a worker with a secret of its own
 * rejects it. And two loops bind one port only with MSTLS_UDP_REUSEPORT.
 *
 * Deterministic: sans-IO endpoints fed by hand on one fake clock (the
 * datagrams are carried by this test, which picks the worker), and real
 * sockets only for binding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <mstls/udp.h>

#include "certs.h"
#include "udp_helpers.h"

static void addr(struct sockaddr_in *sa, uint8_t last) {
  memset(sa, 0, sizeof(*sa));
  sa->sin_family = AF_INET;
  sa->sin_port = htons(4433);
  sa->sin_addr.s_addr = htonl(0x0a000000u | last);
}

/* A worker with cookie secret @p secret (a client: NULL). */
static mstls_udp_endpoint *endpoint(int server, mstls_credentials *cred,
                                    udpt_queue *q, const uint8_t *secret) {
  mstls_udp_endpoint *ep = udpt_queue_endpoint(server, cred, q);
  if (secret != NULL)
    assert_int_equal(mstls_udp_endpoint_set_cookie_secret(
                         ep, secret, MSTLS_UDP_COOKIE_SECRET_SIZE),
                     0);
  return ep;
}

/* The first ClientHello goes to worker A, everything after to worker B. */
static void handoff(int shared, int *b_done, mstls_udp_stats *bst) {
  uint8_t sa_secret[MSTLS_UDP_COOKIE_SECRET_SIZE];
  uint8_t sb_secret[MSTLS_UDP_COOKIE_SECRET_SIZE];
  mstls_credentials *scred = test_server_creds(NULL);
  mstls_credentials *ccred = NULL;
  static udpt_queue qa, qb, qc;
  struct sockaddr_in server, client;
  mstls_udp_endpoint *a, *b, *c;
  mstls_udp_peer *peer = NULL;
  mstls_tstamp now = 1000 * MSTLS_SECONDS;
  int round;

  memset(&qa, 0, sizeof(qa));
  memset(&qb, 0, sizeof(qb));
  memset(&qc, 0, sizeof(qc));
  memset(sa_secret, 0x11, sizeof(sa_secret));
  memset(sb_secret, shared ? 0x11 : 0x22, sizeof(sb_secret));
  assert_int_equal(mstls_credentials_new(&ccred, NULL), 0);
  addr(&server, 1);
  addr(&client, 2);
  /* Both workers share the credentials (one ticket key). */
  a = endpoint(1, scred, &qa, sa_secret);
  b = endpoint(1, scred, &qb, sb_secret);
  c = endpoint(0, ccred, &qc, NULL);
  assert_int_equal(mstls_udp_endpoint_connect(c, (struct sockaddr *)&server,
                                              sizeof(server), NULL, now, &peer),
                   0);
  /* ClientHello -> A: HelloVerifyRequest */
  udpt_queue_carry(&qc, a, &client, now);
  assert_int_equal(qa.n, 1);
  udpt_queue_carry(&qa, c, &server, now);
  for (round = 0; round < 10; round++) { /* the rest: C <-> B */
    udpt_queue_carry(&qc, b, &client, now);
    udpt_queue_carry(&qb, c, &server, now);
  }
  *b_done = qb.done;
  mstls_udp_endpoint_get_stats(b, bst);
  mstls_udp_endpoint_del(a);
  mstls_udp_endpoint_del(b);
  mstls_udp_endpoint_del(c);
  mstls_credentials_del(scred);
  mstls_credentials_del(ccred);
}

static void test_shared_secret(void **state) {
  mstls_udp_stats st;
  int done = 0;
  (void)state;
  handoff(1, &done, &st);
  assert_int_equal(done, 1);
  assert_int_equal(st.cookies_verified, 1);
  assert_int_equal(st.handshakes_done, 1);
}

static void test_own_secret(void **state) {
  mstls_udp_stats st;
  int done = 0;
  (void)state;
  handoff(0, &done, &st);
  assert_int_equal(done, 0);
  assert_int_equal(st.cookies_verified, 0);
  assert_true(st.cookies_rejected >= 1);
}

static void on_nothing(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                       void *ud) {
  (void)ep;
  (void)f;
  (void)p;
  (void)ud;
}

/* Two loops on one port: only with MSTLS_UDP_REUSEPORT on both. */
static void test_reuseport_bind(void **state) {
  mstls_credentials *cred = test_server_creds(NULL);
  struct sockaddr_storage ss;
  struct sockaddr_in any;
  socklen_t sl = sizeof(ss);
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_udp_loop *l1 = NULL, *l2 = NULL, *l3 = NULL;
  (void)state;
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = on_nothing;
  memset(&any, 0, sizeof(any));
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  mstls_udp_settings_default(&s);
  s.flags |= MSTLS_UDP_REUSEPORT;
  assert_int_equal(mstls_udp_loop_new(&l1, (struct sockaddr *)&any, sizeof(any),
                                      &s, &cb, cred, NULL),
                   0);
  assert_int_equal(mstls_udp_loop_get_local_addr(l1, &ss, &sl), 0);
  any.sin_port = ((struct sockaddr_in *)&ss)->sin_port;
  assert_int_equal(mstls_udp_loop_new(&l2, (struct sockaddr *)&any, sizeof(any),
                                      &s, &cb, cred, NULL),
                   0);
  s.flags &= ~MSTLS_UDP_REUSEPORT;
  assert_int_equal(mstls_udp_loop_new(&l3, (struct sockaddr *)&any, sizeof(any),
                                      &s, &cb, cred, NULL),
                   MSTLS_E_TRANSPORT);
  mstls_udp_loop_del(l1);
  mstls_udp_loop_del(l2);
  mstls_credentials_del(cred);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shared_secret),
      cmocka_unit_test(test_own_secret),
      cmocka_unit_test(test_reuseport_bind),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
