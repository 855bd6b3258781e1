/* The public API's argument checking, error strings and version.
 *
 * Load-proof: no sockets, no threads; the one session pair
 * (t_session_args) runs over the memlink on its simulated clock, and every
 * step is synchronous. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

static void t_strerror(void **state) {
  int e, f;
  (void)state;
  for (e = MSTLS_E_INVALID_ARGUMENT; e >= MSTLS_E_PARTIAL; e--) {
    const char *m = mstls_strerror(e);
    assert_non_null(m);
    assert_string_not_equal(m, "unknown error");
    assert_true(strlen(m) > 3);
    for (f = MSTLS_E_INVALID_ARGUMENT; f > e; f--) {
      assert_string_not_equal(m, mstls_strerror(f)); /* all distinct */
    }
  }
  assert_string_equal(mstls_strerror(0), "success");
  assert_string_equal(mstls_strerror(MSTLS_E_PARTIAL - 1), "unknown error");
  assert_string_equal(mstls_strerror(MSTLS_ERR_MIN), "unknown error");
  assert_string_equal(mstls_strerror(-200), "unknown error");
  assert_string_equal(mstls_strerror(1), "unknown error");
  assert_string_equal(mstls_strerror(INT_MIN), "unknown error");
  assert_string_equal(mstls_strerror(INT_MAX), "unknown error");
  /* GnuTLS codes are not ours. */
  assert_string_equal(mstls_strerror(GNUTLS_E_AGAIN), "unknown error");
}

static void t_err_is_fatal(void **state) {
  int e;
  (void)state;
  for (e = MSTLS_E_INVALID_ARGUMENT; e >= MSTLS_ERR_MIN; e--) {
    int want = e == MSTLS_E_NOMEM || e == MSTLS_E_TRANSPORT ||
               e == MSTLS_E_ABORTED || e == MSTLS_E_CALLBACK_FAILURE ||
               e == MSTLS_E_PEER_GONE;
    assert_int_equal(mstls_err_is_fatal(e), want);
  }
  assert_int_equal(mstls_err_is_fatal(0), 0);
  assert_int_equal(mstls_err_is_fatal(5), 0);
}

static void t_version(void **state) {
  int num = 0;
  const char *v;
  char expect[32];
  (void)state;
  v = mstls_version(&num);
  assert_non_null(v);
  assert_string_equal(v, MSTLS_VERSION);
  assert_int_equal(num, MSTLS_VERSION_NUM);
  snprintf(expect, sizeof(expect), "%d.%d.%d", num >> 16, (num >> 8) & 0xff,
           num & 0xff);
  assert_string_equal(v, expect);
  assert_string_equal(mstls_version(NULL), v);
}

static void t_credentials_args(void **state) {
  mstls_credentials *c = NULL;
  const test_pki *pki = test_pki_get();
  uint8_t key[MSTLS_TICKET_KEY_SIZE] = {1};
  size_t len = 0;
  char small[8];
  (void)state;
  assert_non_null(pki);
  assert_int_equal(mstls_credentials_new(NULL, NULL), MSTLS_E_INVALID_ARGUMENT);
  mstls_credentials_del(NULL);
  assert_null(mstls_credentials_get_gnutls(NULL));
  assert_int_equal(mstls_credentials_new(&c, NULL), 0);
  assert_non_null(mstls_credentials_get_gnutls(c));
  assert_int_equal(mstls_credentials_set_key_file(NULL, "a", "b"),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_key_file(c, NULL, "b"),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_key_file(c, "/nonexistent/c.pem",
                                                  "/nonexistent/k.pem"),
                   MSTLS_E_CREDENTIALS);
  assert_int_equal(mstls_credentials_set_key_mem(c, NULL, 1, "k", 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_key_mem(c, "c", 0, "k", 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_key_mem(c, "junk", 4, "junk", 4),
                   MSTLS_E_CREDENTIALS);
  /* A certificate with another certificate's key. */
  assert_int_equal(mstls_credentials_set_key_mem(
                       c, pki->server_cert_pem, strlen(pki->server_cert_pem),
                       pki->client_key_pem, strlen(pki->client_key_pem)),
                   MSTLS_E_CREDENTIALS);
  assert_int_equal(mstls_credentials_get_cert_pem(c, NULL, &len),
                   MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_credentials_get_cert_pem(c, NULL, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_self_signed(c, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_self_signed(c, ""),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_self_signed(NULL, "x"),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_self_signed(c, "self.test"), 0);
  len = sizeof(small);
  assert_int_equal(mstls_credentials_get_cert_pem(c, small, &len),
                   MSTLS_E_MSG_SIZE);
  assert_true(len > sizeof(small));
  {
    char *pem = malloc(len);
    assert_non_null(pem);
    assert_int_equal(mstls_credentials_get_cert_pem(c, pem, &len), 0);
    assert_int_equal(strlen(pem) + 1, len);
    assert_non_null(strstr(pem, "BEGIN CERTIFICATE"));
    free(pem);
  }
  assert_int_equal(mstls_credentials_set_trust_file(c, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_trust_file(NULL, "x"),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_trust_file(c, "/nonexistent/ca.pem"),
                   MSTLS_E_CREDENTIALS);
  assert_int_equal(mstls_credentials_set_trust_mem(c, NULL, 3),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_trust_mem(c, "x", 0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_trust_mem(c, "no pem here", 11),
                   MSTLS_E_CREDENTIALS);
  assert_int_equal(mstls_credentials_set_system_trust(NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_ticket_key(NULL, key, sizeof(key)),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_ticket_key(c, NULL, sizeof(key)),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_ticket_key(c, key, sizeof(key) - 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_ticket_key(c, key, sizeof(key)), 0);
  mstls_credentials_del(c);
}

static int dummy_push(mstls_session *s, uint16_t stream, const mstls_iovec *iov,
                      size_t iovcnt, void *ud) {
  (void)s;
  (void)stream;
  (void)iov;
  (void)iovcnt;
  (void)ud;
  return 0;
}

static void t_session_new_args(void **state) {
  mstls_credentials *cc = test_client_creds(NULL, NULL, 0);
  mstls_credentials *sc = test_server_creds(NULL);
  mstls_settings set, good;
  mstls_callbacks cb;
  mstls_session *s = (mstls_session *)&set; /* must be reset to NULL */
  (void)state;
  assert_non_null(cc);
  assert_non_null(sc);
  memset(&cb, 0, sizeof(cb));
  cb.push = dummy_push;
  mstls_settings_default(NULL); /* ignored */
  mstls_settings_default(&good);
  assert_int_equal(good.nstreams, 10);
  assert_int_equal(good.policy, MSTLS_POLICY_RESUME);
  assert_true(good.max_message >= 18437);
  good.server_name = "server.test";

  assert_int_equal(
      mstls_session_new(NULL, MSTLS_ROLE_CLIENT, &good, &cb, cc, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &good, NULL, cc, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  assert_null(s);
  {
    mstls_callbacks nopush;
    memset(&nopush, 0, sizeof(nopush));
    assert_int_equal(
        mstls_session_new(&s, MSTLS_ROLE_CLIENT, &good, &nopush, cc, NULL),
        MSTLS_E_INVALID_ARGUMENT);
  }
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &good, &cb, NULL, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_new(&s, (mstls_role)7, &good, &cb, cc, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  set = good;
  set.nstreams = 0;
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &set, &cb, cc, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  set.nstreams = 65536;
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &set, &cb, cc, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  set = good;
  set.max_message = 18436;
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &set, &cb, cc, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  set = good;
  set.stream_rx_cap = set.max_message - 1;
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &set, &cb, cc, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  set = good;
  set.handshake_timeout = 0;
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &set, &cb, cc, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  set = good;
  set.policy = (mstls_policy)9;
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &set, &cb, cc, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  set = good;
  set.server_name = NULL;
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &set, &cb, cc, NULL),
      MSTLS_E_INVALID_ARGUMENT);
  set.flags = MSTLS_SETTINGS_INSECURE;
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &set, &cb, cc, NULL), 0);
  mstls_session_del(s);
  set = good;
  set.priority = "NOT-A-PRIORITY";
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &set, &cb, cc, NULL),
      MSTLS_E_TLS);
  /* A server needs a key. */
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_SERVER, &good, &cb, cc, NULL),
      MSTLS_E_CREDENTIALS);
  /* Bounds that are allowed. */
  set = good;
  set.nstreams = 65535;
  set.max_message = 18437;
  set.stream_rx_cap = 18437;
  set.session_rx_budget = 18437;
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_CLIENT, &set, &cb, cc, NULL), 0);
  assert_int_equal(mstls_session_get_nstreams(s), 65535);
  assert_int_equal(mstls_session_get_role(s), MSTLS_ROLE_CLIENT);
  mstls_session_del(s);
  /* NULL settings: defaults (a server needs no name). */
  assert_int_equal(
      mstls_session_new(&s, MSTLS_ROLE_SERVER, NULL, &cb, sc, NULL), 0);
  assert_int_equal(mstls_session_get_nstreams(s), 10);
  assert_int_equal(mstls_session_get_role(s), MSTLS_ROLE_SERVER);
  mstls_session_del(s);
  mstls_session_del(NULL);
  mstls_credentials_del(cc);
  mstls_credentials_del(sc);
}

static void t_session_args(void **state) {
  test_pair p;
  mstls_settings cs, ss;
  mstls_session_stats st;
  mstls_stream_info info;
  const gnutls_datum_t *certs;
  unsigned n;
  uint16_t sid;
  char buf[16];
  (void)state;
  /* NULL session everywhere. */
  assert_int_equal(mstls_session_feed(NULL, 0, 0, (const uint8_t *)"x", 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_handshake(NULL), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_send(NULL, 0, "x", 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_recv(NULL, 0, buf, 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_recv_any(NULL, &sid, buf, 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_bye(NULL), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_bye(NULL, 0), MSTLS_E_INVALID_ARGUMENT);
  assert_true(mstls_session_get_expiry(NULL) == MSTLS_TSTAMP_NEVER);
  assert_int_equal(mstls_session_handle_expiry(NULL, 0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_get_nstreams(NULL), 0);
  assert_int_equal(mstls_session_get_error(NULL), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_get_stats(NULL, &st),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_get_state(NULL, 0), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(NULL, 0), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_get_tls_error(NULL, 0), 0);
  assert_int_equal(mstls_stream_get_info(NULL, 0, &info),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_get_peer_certificate(NULL, 0, &certs, &n),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_set_user_data(NULL, 0, buf),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_null(mstls_stream_get_user_data(NULL, 0));
  assert_null(mstls_stream_get_gnutls(NULL, 0));
  assert_int_equal(mstls_stream_set_plaintext(NULL, 0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_starttls(NULL, 0), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_pause(NULL, 0), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_resume(NULL, 0), MSTLS_E_INVALID_ARGUMENT);

  test_client_settings(&cs, 2, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 2, MSTLS_POLICY_RESUME);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  /* Before the handshake. */
  assert_int_equal(mstls_stream_bye(p.client, 0), MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_stream_get_peer_certificate(p.client, 0, &certs, &n),
                   MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_stream_get_info(p.client, 0, &info), 0);
  assert_int_equal(info.state, MSTLS_STREAM_IDLE);
  assert_string_equal(info.version, "-");
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  /* NULL buffers and zero lengths. */
  assert_int_equal(mstls_session_feed(p.server, 0, 0, NULL, 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_feed(p.server, 0, 0, NULL, 0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_feed(p.server, 0, 0, (const uint8_t *)"", 0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_send(p.client, 0, NULL, 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_send(p.client, 0, "x", 0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_recv(p.client, 0, NULL, 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_recv(p.client, 0, buf, 0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_recv_any(p.client, NULL, buf, 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_recv_any(p.client, &sid, NULL, 1),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_recv_any(p.client, &sid, buf, 0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_session_get_stats(p.client, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_get_info(p.client, 0, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_get_peer_certificate(p.client, 0, NULL, &n),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_get_peer_certificate(p.client, 0, &certs, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  /* Nothing above hurt the session; user data round-trips. */
  assert_int_equal(mstls_stream_set_user_data(p.client, 1, buf), 0);
  assert_ptr_equal(mstls_stream_get_user_data(p.client, 1), buf);
  assert_null(mstls_stream_get_user_data(p.client, 0));
  assert_int_equal(mstls_session_get_error(p.client), 0);
  assert_int_equal(mstls_session_get_error(p.server), 0);
  assert_int_equal(mstls_stream_send(p.client, 1, "ok", 2), 2);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv(p.server, 1, buf, sizeof(buf)), 2);
  assert_int_equal(mstls_session_get_stats(p.client, &st), 0);
  assert_true(st.msgs_out > 0 && st.bytes_out > 0);
  assert_int_equal(st.streams_established, 2);
  test_pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_strerror),
      cmocka_unit_test(t_err_is_fatal),
      cmocka_unit_test(t_version),
      cmocka_unit_test(t_credentials_args),
      cmocka_unit_test(t_session_new_args),
      cmocka_unit_test(t_session_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
