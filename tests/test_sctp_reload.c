/* A server replaces its certificate while an association with 100 TLS
 * streams stays up: the application drops its last reference to the old
 * credentials (the association keeps its own), every stream of the old
 * association still carries data, and the next association accepted with
 * the new credentials presents the new certificate.
 *
 * Deterministic: an in-process NOTHREADS usrsctp stack over an AF_CONN
 * link pair, stepped by the test (sctp_harness.c); no clock decides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "certs.h"
#include "sctp_harness.h"

#define NSTREAMS 100

static void fingerprint_of(mstls_credentials *c, uint8_t fp[MSTLS_SHA256_LEN]) {
  char pem[4096];
  size_t len = sizeof(pem);
  gnutls_datum_t in, der = {NULL, 0};
  assert_int_equal(mstls_credentials_get_cert_pem(c, pem, &len), 0);
  in.data = (unsigned char *)pem;
  in.size = (unsigned)strlen(pem);
  assert_int_equal(gnutls_pem_base64_decode2("CERTIFICATE", &in, &der), 0);
  assert_int_equal(mstls_cert_sha256(&der, fp), 0);
  gnutls_free(der.data);
}

static void test_reload(void **state) {
  mstls_credentials *b = NULL, *old;
  mstls_sctp_assoc *cli2 = NULL, *srv2 = NULL;
  mstls_settings cs2;
  mstls_session *c, *s, *c2;
  mstls_peer_identity id;
  uint8_t fpa[MSTLS_SHA256_LEN], fpb[MSTLS_SHA256_LEN];
  uint16_t k;
  int i, got = 0, rc = MSTLS_E_AGAIN;
  char buf[16];
  sctp_h h;

  (void)state;
  sctp_h_defaults(&h, NSTREAMS, MSTLS_POLICY_RESUME);
  assert_int_equal(sctp_h_start(&h), 0);
  assert_int_equal(sctp_h_handshake(&h, 20000), 0);
  fingerprint_of(h.scred, fpa);
  assert_int_equal(mstls_credentials_new(&b, NULL), 0);
  assert_int_equal(mstls_credentials_set_self_signed(b, "server.test"), 0);
  fingerprint_of(b, fpb);

  /* The swap: the next accept gets the new credentials; the application
   * drops its only reference to the old ones at once. */
  old = h.scred;
  h.scred = b;
  mstls_credentials_del(old);

  /* The old association: every stream still works. */
  c = mstls_sctp_assoc_get_session(h.cli);
  s = mstls_sctp_assoc_get_session(h.srv);
  for (k = 0; k < NSTREAMS; k++)
    assert_int_equal(mstls_stream_send(c, k, "after", 5), 5);
  for (i = 0; i < 2000 && got < NSTREAMS; i++) {
    sctp_h_step(&h);
    for (k = 0; k < NSTREAMS; k++) {
      long n;
      while ((n = mstls_stream_recv(s, k, buf, sizeof(buf))) > 0) {
        assert_int_equal(n, 5);
        got++;
      }
    }
  }
  assert_int_equal(got, NSTREAMS);
  assert_int_equal(mstls_stream_get_peer_identity(c, 0, &id), 0);
  assert_memory_equal(id.sha256, fpa, sizeof(fpa));

  /* A new association: the new certificate (the client takes it
   * unchecked, and compares its fingerprint). */
  cs2 = h.cs;
  cs2.flags |= MSTLS_SETTINGS_INSECURE;
  assert_int_equal(mstls_sctp_connect(&cli2, &h.ccfg, NULL, h.port, &cs2, NULL,
                                      h.ccred, NULL),
                   0);
  for (i = 0; i < 20000 && rc == MSTLS_E_AGAIN; i++) {
    sctp_h_step(&h);
    if (srv2 == NULL) {
      int a = mstls_sctp_accept(h.lst, &srv2, &h.ss, NULL, h.scred, NULL);
      assert_true(a == 0 || a == MSTLS_E_AGAIN);
    }
    assert_true(mstls_sctp_assoc_process(cli2) >= 0);
    if (srv2 != NULL)
      assert_true(mstls_sctp_assoc_process(srv2) >= 0);
    c2 = mstls_sctp_assoc_get_session(cli2);
    if (c2 != NULL && srv2 != NULL &&
        mstls_sctp_assoc_get_session(srv2) != NULL) {
      (void)mstls_session_handshake(mstls_sctp_assoc_get_session(srv2));
      rc = mstls_session_handshake(c2);
    }
  }
  assert_int_equal(rc, 0);
  c2 = mstls_sctp_assoc_get_session(cli2);
  assert_int_equal(mstls_stream_get_peer_identity(c2, 0, &id), 0);
  assert_memory_equal(id.sha256, fpb, sizeof(fpb));

  (void)mstls_sctp_assoc_shutdown(cli2);
  for (i = 0; i < 50; i++) {
    sctp_h_step(&h);
    (void)mstls_sctp_assoc_process(cli2);
    (void)mstls_sctp_assoc_process(srv2);
  }
  mstls_sctp_assoc_del(cli2);
  mstls_sctp_assoc_del(srv2);
  sctp_h_close(&h); /* frees b; the old credentials go with h.srv */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reload),
  };
  return cmocka_run_group_tests(tests, sctp_h_group_setup,
                                sctp_h_group_teardown);
}
