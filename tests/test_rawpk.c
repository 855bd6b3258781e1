/* Raw public keys (RFC 7250) on the streams of a multistream session:
 * both sides present raw keys and pin each other's; a wrong pin, or no pin
 * and no verify callback, refuses the key with a readable detail; a verify
 * callback may vouch for a key; a side that does not negotiate raw keys
 * gets X.509 as before; credentials loaders refuse bad keys. Both sessions
 * run in this process over a memlink: deterministic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "pair.h"

#define NSTREAMS 4

typedef struct keys {
  char *server_key, *client_key;
  uint8_t server_pin[MSTLS_SHA256_LEN], client_pin[MSTLS_SHA256_LEN];
} keys;

static keys K;

static int setup(void **state) {
  mstls_credentials *c = NULL;
  (void)state;
  K.server_key = test_new_key_pem();
  K.client_key = test_new_key_pem();
  if (!K.server_key || !K.client_key) {
    return -1;
  }
  /* The pins, as the peers' operators would compute them. */
  if (mstls_credentials_new(&c, NULL) < 0 ||
      !test_add_rawpk(c, K.server_key, K.server_pin)) {
    return -1;
  }
  mstls_credentials_del(c);
  if (mstls_credentials_new(&c, NULL) < 0 ||
      !test_add_rawpk(c, K.client_key, K.client_pin)) {
    return -1;
  }
  mstls_credentials_del(c);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  free(K.server_key);
  free(K.client_key);
  return 0;
}

static mstls_credentials *raw_creds(const char *key_pem) {
  mstls_credentials *c = NULL;
  assert_int_equal(mstls_credentials_new(&c, NULL), 0);
  c = test_add_rawpk(c, key_pem, NULL);
  assert_non_null(c);
  return c;
}

static void raw_settings(mstls_settings *cs, mstls_settings *ss,
                         mstls_policy pol) {
  test_client_settings(cs, NSTREAMS, pol);
  test_server_settings(ss, NSTREAMS, pol);
  cs->tls.raw_public_keys = 1;
  ss->tls.raw_public_keys = 1;
}

/* A pair over @p cs and @p ss with the client credentials @p cc and the
 * server's @p sc (the pair takes both); its handshake must return
 * @p want. */
static void raw_pair(test_pair *p, const mstls_settings *cs,
                     const mstls_settings *ss, mstls_credentials *cc,
                     mstls_credentials *sc, int want) {
  assert_int_equal(test_pair_new_creds(p, cs, ss, NULL, NULL, NULL, cc, sc), 0);
  assert_int_equal(test_pair_handshake(p, 10000), want);
}

/* The client verified the server of stream 0, which showed a raw key or
 * not (@p raw); @p id receives what the client saw. */
static void client_verified(test_pair *p, int raw, mstls_peer_identity *id) {
  assert_int_equal(mstls_stream_get_peer_identity(p->client, 0, id), 0);
  assert_int_equal(id->raw_public_key, raw);
  assert_int_equal(id->verified, 1);
}

static void detail_of(mstls_session *s, uint16_t k, char *buf) {
  assert_true(mstls_stream_get_error_detail(s, k, buf, MSTLS_DETAIL_MAX) > 0);
}

/* Both ends present raw keys and pin the other's, on every stream
 * (stream 0's full handshake, the others resumed) and with full
 * handshakes everywhere; TLS 1.3, and TLS 1.2 resuming with tickets. */
static void t_raw_both_sides(void **state) {
  static const mstls_policy pols[] = {
      MSTLS_POLICY_RESUME, MSTLS_POLICY_PARALLEL, MSTLS_POLICY_RESUME};
  static const char *const prios[] = {NULL, NULL,
                                      "NORMAL:-VERS-ALL:+VERS-TLS1.2"};
  size_t k;
  (void)state;
  for (k = 0; k < 3; k++) {
    mstls_settings cs, ss;
    mstls_peer_identity id;
    test_pair p;
    char buf[16];
    uint16_t i;
    mstls_stream_info info;
    raw_settings(&cs, &ss, pols[k]);
    cs.priority = ss.priority = prios[k];
    cs.server_name = NULL; /* a raw key names nobody */
    cs.flags |= MSTLS_SETTINGS_INSECURE;
    cs.tls.pins = K.server_pin;
    cs.tls.npins = 1;
    ss.tls.pins = K.client_pin; /* a server with pins requires a key */
    ss.tls.npins = 1;
    raw_pair(&p, &cs, &ss, raw_creds(K.client_key), raw_creds(K.server_key), 0);
    test_pair_flush(&p);
    for (i = 0; i < NSTREAMS; i++) {
      assert_int_equal(mstls_stream_get_state(p.client, i), MSTLS_STREAM_OPEN);
      assert_int_equal(mstls_stream_get_state(p.server, i), MSTLS_STREAM_OPEN);
    }
    assert_int_equal(mstls_stream_get_peer_identity(p.client, 0, &id), 0);
    assert_int_equal(id.raw_public_key, 1);
    assert_int_equal(id.chain_len, 1);
    assert_int_equal(id.verified, 1);
    assert_string_equal(id.subject, "");
    assert_memory_equal(id.sha256, K.server_pin, MSTLS_SHA256_LEN);
    assert_int_equal(mstls_stream_get_peer_identity(p.server, 0, &id), 0);
    assert_int_equal(id.raw_public_key, 1);
    assert_int_equal(id.verified, 1);
    assert_memory_equal(id.sha256, K.client_pin, MSTLS_SHA256_LEN);
    assert_int_equal(mstls_stream_get_info(p.client, NSTREAMS - 1, &info), 0);
    assert_string_equal(info.version, prios[k] ? "TLS1.2" : "TLS1.3");
    assert_int_equal(info.resumed, pols[k] == MSTLS_POLICY_RESUME);
    assert_int_equal(mstls_stream_send(p.client, NSTREAMS - 1, "raw", 3), 3);
    test_pair_flush(&p);
    assert_int_equal(
        mstls_stream_recv(p.server, NSTREAMS - 1, buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "raw", 3);
    test_pair_free(&p);
  }
}

/* A pin that does not match refuses the key and names the one seen. */
static void t_raw_wrong_pin(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  char d[MSTLS_DETAIL_MAX], hex[2 * MSTLS_SHA256_LEN + 1];
  uint8_t wrong[MSTLS_SHA256_LEN];
  size_t i;
  (void)state;
  memcpy(wrong, K.server_pin, sizeof(wrong));
  wrong[31] ^= 1;
  raw_settings(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.tls.pins = wrong;
  cs.tls.npins = 1;
  raw_pair(&p, &cs, &ss, test_client_creds(NULL, NULL, 0),
           raw_creds(K.server_key), MSTLS_E_CERT_VERIFY);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_error(p.client, 0), MSTLS_E_CERT_VERIFY);
  detail_of(p.client, 0, d);
  for (i = 0; i < MSTLS_SHA256_LEN; i++) {
    snprintf(hex + 2 * i, 3, "%02x", K.server_pin[i]);
  }
  assert_non_null(strstr(d, "raw public key"));
  assert_non_null(strstr(d, "matches no pin"));
  assert_non_null(strstr(d, hex));
  /* The server hears of it through the client's alert. */
  assert_true(mstls_stream_get_error(p.server, 0) < 0);
  test_pair_free(&p);
}

typedef struct vrec {
  int calls, verdict, raw, answer;
  uint8_t sha256[MSTLS_SHA256_LEN];
} vrec;

static int cb_verify(const mstls_tls_ctx *ctx, const mstls_peer_identity *id,
                     int verdict, void *ud) {
  vrec *r = ud;
  (void)ctx;
  r->calls++;
  r->verdict = verdict;
  r->raw = id->raw_public_key;
  memcpy(r->sha256, id->sha256, sizeof(r->sha256));
  return r->answer;
}

/* No pin and no verify callback: a raw key is never trusted, not even by
 * an INSECURE client, not by a server that only requests a key. With a
 * verify callback, the callback decides (its verdict says nothing
 * vouched for the key). */
static void t_raw_without_pin(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  char d[MSTLS_DETAIL_MAX];
  vrec vr;
  int insecure;
  (void)state;
  for (insecure = 0; insecure < 2; insecure++) {
    raw_settings(&cs, &ss, MSTLS_POLICY_RESUME);
    if (insecure) {
      cs.flags |= MSTLS_SETTINGS_INSECURE;
    }
    raw_pair(&p, &cs, &ss, test_client_creds(NULL, NULL, 0),
             raw_creds(K.server_key), MSTLS_E_CERT_VERIFY);
    test_pair_flush(&p);
    detail_of(p.client, 0, d);
    assert_non_null(strstr(d, "without a pin or a verify callback"));
    assert_true(mstls_stream_get_error(p.server, 0) < 0);
    test_pair_free(&p);
  }
  /* A server asking for a client key, with no pin: refused too. */
  raw_settings(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.tls.pins = K.server_pin;
  cs.tls.npins = 1;
  ss.flags |= MSTLS_SETTINGS_REQUEST_CLIENT_CERT;
  assert_int_equal(test_pair_new_creds(&p, &cs, &ss, NULL, NULL, NULL,
                                       raw_creds(K.client_key),
                                       raw_creds(K.server_key)),
                   0);
  (void)test_pair_handshake(&p, 10000);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_error(p.server, 0), MSTLS_E_CERT_VERIFY);
  detail_of(p.server, 0, d);
  assert_non_null(strstr(d, "without a pin or a verify callback"));
  test_pair_free(&p);
  /* A verify callback that refuses, then one that accepts. */
  for (vr.answer = MSTLS_E_CERT_VERIFY;; vr.answer = 0) {
    int ans = vr.answer;
    memset(&vr, 0, sizeof(vr));
    vr.answer = ans;
    raw_settings(&cs, &ss, MSTLS_POLICY_RESUME);
    cs.tls.verify = cb_verify;
    cs.tls.user_data = &vr;
    raw_pair(&p, &cs, &ss, test_client_creds(NULL, NULL, 0),
             raw_creds(K.server_key), ans == 0 ? 0 : MSTLS_E_CERT_VERIFY);
    assert_int_equal(vr.calls, 1); /* stream 0; the others resumed */
    assert_int_equal(vr.raw, 1);
    assert_int_equal(vr.verdict, MSTLS_E_CERT_VERIFY);
    assert_memory_equal(vr.sha256, K.server_pin, MSTLS_SHA256_LEN);
    test_pair_free(&p);
    if (ans == 0) {
      break;
    }
  }
}

/* A side without raw_public_keys negotiates X.509 with a side that has
 * them (and both a certificate and a raw key). */
static void t_raw_mixed_with_x509(void **state) {
  mstls_settings cs, ss;
  mstls_peer_identity id;
  test_pair p;
  (void)state;
  /* The server offers raw keys, the client does not. */
  raw_settings(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.tls.raw_public_keys = 0;
  raw_pair(&p, &cs, &ss, test_client_creds(NULL, NULL, 0),
           test_add_rawpk(test_server_creds(NULL), K.server_key, NULL), 0);
  client_verified(&p, 0, &id);
  assert_non_null(strstr(id.alt_names, "server.test"));
  test_pair_free(&p);
  /* The client offers raw keys (and pins a key the server never shows),
   * the server does not: the certificate, verified by the CA. */
  raw_settings(&cs, &ss, MSTLS_POLICY_RESUME);
  ss.tls.raw_public_keys = 0;
  raw_pair(&p, &cs, &ss,
           test_add_rawpk(test_client_creds(NULL, NULL, 0), K.client_key, NULL),
           test_server_creds(NULL), 0);
  client_verified(&p, 0, &id);
  test_pair_free(&p);
  /* Both offer raw keys, the server has both kinds: the raw key wins. */
  raw_settings(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.tls.pins = K.server_pin;
  cs.tls.npins = 1;
  raw_pair(&p, &cs, &ss, test_client_creds(NULL, NULL, 0),
           test_add_rawpk(test_server_creds(NULL), K.server_key, NULL), 0);
  client_verified(&p, 1, &id);
  test_pair_free(&p);
}

/* Loaders and helpers: bad input gets a clear error. */
static void t_raw_credentials(void **state) {
  mstls_credentials *c = NULL;
  char *other = test_new_key_pem();
  char *other_pub, *pub;
  uint8_t fp[MSTLS_SHA256_LEN];
  gnutls_datum_t d;
  char path[64], pubpath[64], buf[4096];
  size_t len = sizeof(buf);
  FILE *f;
  (void)state;
  assert_non_null(other);
  other_pub = test_pubkey_pem(other);
  pub = test_pubkey_pem(K.server_key);
  assert_non_null(other_pub);
  assert_non_null(pub);
  assert_int_equal(mstls_credentials_new(&c, NULL), 0);
  assert_int_equal(mstls_credentials_get_rawpk_sha256(c, fp),
                   MSTLS_E_INVALID_STATE);
  /* A public key that is not the private key's. */
  assert_int_equal(
      mstls_credentials_set_rawpk_mem(c, other_pub, strlen(other_pub),
                                      K.server_key, strlen(K.server_key)),
      MSTLS_E_CREDENTIALS);
  assert_int_equal(mstls_credentials_set_rawpk_mem(c, NULL, 0, "garbage", 7),
                   MSTLS_E_CREDENTIALS);
  assert_int_equal(mstls_credentials_set_rawpk_mem(c, "x", 1, K.server_key,
                                                   strlen(K.server_key)),
                   MSTLS_E_CREDENTIALS);
  assert_int_equal(mstls_credentials_set_rawpk_mem(c, NULL, 5, K.server_key,
                                                   strlen(K.server_key)),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_rawpk_mem(c, NULL, 0, NULL, 0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_rawpk_mem(NULL, NULL, 0, K.server_key,
                                                   strlen(K.server_key)),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_get_rawpk_sha256(c, fp),
                   MSTLS_E_INVALID_STATE);
  /* From files, with the public key given: the same pin. */
  snprintf(path, sizeof(path), "/tmp/mstls-rawpk-%d.key", (int)getpid());
  snprintf(pubpath, sizeof(pubpath), "/tmp/mstls-rawpk-%d.pub", (int)getpid());
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(K.server_key, f);
  fclose(f);
  f = fopen(pubpath, "w");
  assert_non_null(f);
  fputs(pub, f);
  fclose(f);
  assert_int_equal(mstls_credentials_set_rawpk_file(c, "/nonexistent", path),
                   MSTLS_E_CREDENTIALS);
  assert_int_equal(mstls_credentials_set_rawpk_file(c, NULL, "/nonexistent"),
                   MSTLS_E_CREDENTIALS);
  assert_int_equal(mstls_credentials_set_rawpk_file(c, NULL, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_set_rawpk_file(c, pubpath, path), 0);
  assert_int_equal(mstls_credentials_get_rawpk_sha256(c, fp), 0);
  assert_memory_equal(fp, K.server_pin, sizeof(fp));
  /* Only a raw key: no certificate to export. */
  assert_int_equal(mstls_credentials_get_cert_pem(c, buf, &len),
                   MSTLS_E_INVALID_STATE);
  mstls_credentials_del(c);
  unlink(path);
  unlink(pubpath);
  /* mstls_spki_sha256: PEM and DER give the pin; garbage is refused. */
  d.data = (unsigned char *)pub;
  d.size = (unsigned)strlen(pub);
  assert_int_equal(mstls_spki_sha256(&d, fp), 0);
  assert_memory_equal(fp, K.server_pin, sizeof(fp));
  {
    gnutls_datum_t der = {NULL, 0};
    assert_int_equal(gnutls_pem_base64_decode2("PUBLIC KEY", &d, &der), 0);
    memset(fp, 0, sizeof(fp));
    assert_int_equal(mstls_spki_sha256(&der, fp), 0);
    assert_memory_equal(fp, K.server_pin, sizeof(fp));
    der.size /= 2;
    assert_int_equal(mstls_spki_sha256(&der, fp), MSTLS_E_INVALID_ARGUMENT);
    gnutls_free(der.data);
  }
  d.data = (unsigned char *)(uintptr_t) "not a key";
  d.size = 9;
  assert_int_equal(mstls_spki_sha256(&d, fp), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_spki_sha256(NULL, fp), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_get_rawpk_sha256(NULL, fp),
                   MSTLS_E_INVALID_ARGUMENT);
  /* A certificate and a raw key in one credentials object: the
   * certificate is still the one exported. */
  c = test_add_rawpk(test_server_creds(NULL), K.server_key, NULL);
  assert_non_null(c);
  len = sizeof(buf);
  assert_int_equal(mstls_credentials_get_cert_pem(c, buf, &len), 0);
  assert_string_equal(buf, test_pki_get()->server_cert_pem);
  mstls_credentials_del(c);
  free(other);
  free(other_pub);
  free(pub);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_raw_both_sides),
      cmocka_unit_test(t_raw_wrong_pin),
      cmocka_unit_test(t_raw_without_pin),
      cmocka_unit_test(t_raw_mixed_with_x509),
      cmocka_unit_test(t_raw_credentials),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
