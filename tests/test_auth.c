/* Certificates: verification of the server by default (name and issuer),
 * INSECURE as the explicit opt-out, and client certificates.
 *
 * Load-proof: no sockets, no threads; every session pair runs over the
 * memlink on its simulated clock, one step after the other. The only real
 * clock is GnuTLS's when it verifies a certificate, and every certificate
 * here is valid from an hour before the run to a day after it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <gnutls/x509.h>

#include "pair.h"

static void make_pair(test_pair *p, uint32_t n, const char *server_name,
                      uint32_t cflags, uint32_t sflags, const char *ca_pem,
                      int client_cert) {
  mstls_settings cs, ss;
  test_client_settings(&cs, n, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, n, MSTLS_POLICY_RESUME);
  cs.server_name = server_name;
  cs.flags = cflags;
  ss.flags = sflags;
  assert_int_equal(
      test_pair_new_creds(p, &cs, &ss, NULL, NULL, NULL,
                          test_client_creds(NULL, ca_pem, client_cert),
                          test_server_creds(NULL)),
      0);
}

static void assert_fails_verify(const char *name, const char *ca_pem) {
  test_pair p;
  char rb[8];
  make_pair(&p, 3, name, 0, 0, ca_pem, 0);
  assert_int_equal(test_pair_handshake(&p, 10000), MSTLS_E_CERT_VERIFY);
  assert_int_equal(mstls_stream_get_error(p.client, 0), MSTLS_E_CERT_VERIFY);
  assert_int_equal(mstls_stream_get_tls_error(p.client, 0),
                   GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR);
  /* The streams waiting to resume share the anchor's fate. */
  assert_int_equal(mstls_stream_get_error(p.client, 1), MSTLS_E_CERT_VERIFY);
  assert_int_equal(mstls_stream_get_error(p.client, 2), MSTLS_E_CERT_VERIFY);
  assert_int_equal(mstls_stream_send(p.client, 1, "x", 1), MSTLS_E_CERT_VERIFY);
  /* The server learns it from the client's alert. */
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv(p.server, 0, rb, sizeof(rb)),
                   MSTLS_E_CERT_VERIFY);
  test_pair_free(&p);
}

static void t_name_mismatch(void **state) {
  (void)state;
  assert_fails_verify("other.test", NULL);
}

static void t_untrusted_ca(void **state) {
  const test_pki *pki = test_pki_get();
  (void)state;
  assert_non_null(pki);
  assert_fails_verify("server.test", pki->other_ca_pem);
}

static void t_insecure(void **state) {
  const test_pki *pki = test_pki_get();
  test_pair p;
  char rb[8];
  (void)state;
  assert_non_null(pki);
  /* No name, an unrelated trust anchor: only INSECURE lets it through. */
  make_pair(&p, 2, NULL, MSTLS_SETTINGS_INSECURE, 0, pki->other_ca_pem, 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  assert_int_equal(mstls_stream_send(p.client, 1, "ok", 2), 2);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv(p.server, 1, rb, sizeof(rb)), 2);
  test_pair_free(&p);
  make_pair(&p, 2, "other.test", MSTLS_SETTINGS_INSECURE, 0, NULL, 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_free(&p);
}

static void assert_cert_is(const gnutls_datum_t *der, const char *pem) {
  gnutls_datum_t in, out;
  in.data = (unsigned char *)(uintptr_t)pem;
  in.size = (unsigned)strlen(pem);
  assert_int_equal(gnutls_pem_base64_decode2("CERTIFICATE", &in, &out), 0);
  assert_int_equal(der->size, out.size);
  assert_memory_equal(der->data, out.data, out.size);
  gnutls_free(out.data);
}

static void t_client_cert_required(void **state) {
  const test_pki *pki = test_pki_get();
  const gnutls_datum_t *certs;
  unsigned n = 0;
  test_pair p;
  (void)state;
  assert_non_null(pki);
  make_pair(&p, 4, "server.test", 0, MSTLS_SETTINGS_REQUIRE_CLIENT_CERT, NULL,
            1);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_session_handshake(p.server), 0);
  assert_int_equal(mstls_stream_get_peer_certificate(p.server, 0, &certs, &n),
                   0);
  assert_true(n >= 1);
  assert_cert_is(&certs[0], pki->client_cert_pem);
  assert_int_equal(mstls_stream_get_peer_certificate(p.client, 0, &certs, &n),
                   0);
  assert_cert_is(&certs[0], pki->server_cert_pem);
  /* Every stream is up, the resumed ones included. */
  assert_int_equal(mstls_stream_get_state(p.server, 3), MSTLS_STREAM_OPEN);
  assert_int_equal(mstls_stream_get_state(p.client, 3), MSTLS_STREAM_OPEN);
  test_pair_free(&p);
}

static void t_client_cert_missing(void **state) {
  test_pair p;
  char rb[8];
  (void)state;
  make_pair(&p, 1, "server.test", 0, MSTLS_SETTINGS_REQUIRE_CLIENT_CERT, NULL,
            0);
  (void)test_pair_handshake(&p, 10000);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_state(p.server, 0), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(p.server, 0), MSTLS_E_CERT_VERIFY);
  /* TLS 1.3: the client finished first; the server's alert fails it. */
  (void)mstls_stream_recv(p.client, 0, rb, sizeof(rb));
  assert_int_equal(mstls_stream_get_state(p.client, 0), MSTLS_STREAM_FAILED);
  assert_int_equal(mstls_stream_get_error(p.client, 0), MSTLS_E_CERT_VERIFY);
  test_pair_free(&p);
}

static void t_client_cert_requested(void **state) {
  const gnutls_datum_t *certs;
  unsigned n = 0;
  test_pair p;
  (void)state;
  make_pair(&p, 2, "server.test", 0, MSTLS_SETTINGS_REQUEST_CLIENT_CERT, NULL,
            0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_state(p.server, 0), MSTLS_STREAM_OPEN);
  assert_int_equal(mstls_stream_get_peer_certificate(p.server, 0, &certs, &n),
                   MSTLS_E_INVALID_STATE);
  test_pair_free(&p);
  /* With the trusted client certificate it is seen. */
  make_pair(&p, 2, "server.test", 0, MSTLS_SETTINGS_REQUEST_CLIENT_CERT, NULL,
            1);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_peer_certificate(p.server, 0, &certs, &n),
                   0);
  test_pair_free(&p);
}

/* A client certificate whose issuer name is the trusted CA's, signed by
 * another key: the client sends it (the name matches the server's CA
 * list), and only verification can refuse it. */
static void set_forged_cert(mstls_credentials *cc) {
  gnutls_x509_privkey_t fake_ca_key, key;
  gnutls_x509_crt_t fake_ca, crt;
  time_t now = time(NULL);
  unsigned char serial[1] = {9};
  const char *ca_cn = "mstls test CA", *cn = "client.test";
  assert_int_equal(gnutls_x509_privkey_init(&fake_ca_key), 0);
  assert_int_equal(gnutls_x509_privkey_init(&key), 0);
  assert_int_equal(
      gnutls_x509_privkey_generate(fake_ca_key, GNUTLS_PK_ECDSA, 256, 0), 0);
  assert_int_equal(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, 256, 0),
                   0);
  assert_int_equal(gnutls_x509_crt_init(&fake_ca), 0);
  assert_int_equal(
      gnutls_x509_crt_set_dn_by_oid(fake_ca, GNUTLS_OID_X520_COMMON_NAME, 0,
                                    ca_cn, (unsigned)strlen(ca_cn)),
      0);
  assert_int_equal(gnutls_x509_crt_set_key(fake_ca, fake_ca_key), 0);
  assert_int_equal(gnutls_x509_crt_init(&crt), 0);
  assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
  assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, 1), 0);
  assert_int_equal(gnutls_x509_crt_set_activation_time(crt, now - 3600), 0);
  assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, now + 86400), 0);
  assert_int_equal(gnutls_x509_crt_set_dn_by_oid(crt,
                                                 GNUTLS_OID_X520_COMMON_NAME, 0,
                                                 cn, (unsigned)strlen(cn)),
                   0);
  assert_int_equal(gnutls_x509_crt_set_key(crt, key), 0);
  assert_int_equal(
      gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE), 0);
  assert_int_equal(
      gnutls_x509_crt_sign2(crt, fake_ca, fake_ca_key, GNUTLS_DIG_SHA256, 0),
      0);
  assert_int_equal(gnutls_certificate_set_x509_key(
                       mstls_credentials_get_gnutls(cc), &crt, 1, key),
                   0);
  gnutls_x509_crt_deinit(crt);
  gnutls_x509_crt_deinit(fake_ca);
  gnutls_x509_privkey_deinit(key);
  gnutls_x509_privkey_deinit(fake_ca_key);
}

/* A requested certificate that is sent is verified. */
static void t_client_cert_untrusted(void **state) {
  mstls_settings cs, ss;
  mstls_credentials *cc = test_client_creds(NULL, NULL, 0);
  test_pair p;
  char rb[8];
  (void)state;
  assert_non_null(cc);
  set_forged_cert(cc);
  test_client_settings(&cs, 1, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 1, MSTLS_POLICY_RESUME);
  ss.flags = MSTLS_SETTINGS_REQUEST_CLIENT_CERT;
  assert_int_equal(test_pair_new_creds(&p, &cs, &ss, NULL, NULL, NULL, cc,
                                       test_server_creds(NULL)),
                   0);
  (void)test_pair_handshake(&p, 10000);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_error(p.server, 0), MSTLS_E_CERT_VERIFY);
  (void)mstls_stream_recv(p.client, 0, rb, sizeof(rb));
  assert_int_equal(mstls_stream_get_state(p.client, 0), MSTLS_STREAM_FAILED);
  test_pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_name_mismatch),
      cmocka_unit_test(t_untrusted_ca),
      cmocka_unit_test(t_insecure),
      cmocka_unit_test(t_client_cert_required),
      cmocka_unit_test(t_client_cert_missing),
      cmocka_unit_test(t_client_cert_requested),
      cmocka_unit_test(t_client_cert_untrusted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
