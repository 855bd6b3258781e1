/* TLS options on the streams of a multistream session (settings.tls):
 * ALPN, keying-material export, the peer's identity, certificate pins,
 * and the configure, keylog and verify callbacks; bad options refused.
 * Both sessions run in this process over a memlink: no clock, no network,
 * deterministic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

#define NSTREAMS 4

static void settings_pair(mstls_settings *cs, mstls_settings *ss,
                          mstls_policy pol) {
  test_client_settings(cs, NSTREAMS, pol);
  test_server_settings(ss, NSTREAMS, pol);
}

static void start_pair(test_pair *p, const mstls_settings *cs,
                       const mstls_settings *ss, int client_cert,
                       const char *client_ca) {
  assert_int_equal(
      test_pair_new_creds(p, cs, ss, NULL, NULL, NULL,
                          test_client_creds(NULL, client_ca, client_cert),
                          test_server_creds(NULL)),
      0);
}

/* The fingerprint of a PEM certificate of the test PKI. */
static void pem_fingerprint(const char *pem_text,
                            uint8_t fp[MSTLS_SHA256_LEN]) {
  gnutls_datum_t pem, der = {NULL, 0};
  assert_non_null(pem_text);
  pem.data = (unsigned char *)(uintptr_t)pem_text;
  pem.size = (unsigned)strlen(pem_text);
  assert_int_equal(gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der), 0);
  assert_int_equal(mstls_cert_sha256(&der, fp), 0);
  gnutls_free(der.data);
}

static void server_fingerprint(uint8_t fp[MSTLS_SHA256_LEN]) {
  assert_non_null(test_pki_get());
  pem_fingerprint(test_pki_get()->server_cert_pem, fp);
}

static void client_fingerprint(uint8_t fp[MSTLS_SHA256_LEN]) {
  assert_non_null(test_pki_get());
  pem_fingerprint(test_pki_get()->client_cert_pem, fp);
}

/* ---- ALPN --------------------------------------------------------------- */

static void t_alpn(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  char buf[32];
  uint16_t i;
  (void)state;
  settings_pair(&cs, &ss, MSTLS_POLICY_PARALLEL);
  cs.tls.alpn = "diameter,h2";
  ss.tls.alpn = "h2,diameter"; /* the server's order decides */
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(mstls_stream_get_alpn(p.client, 0, buf, sizeof(buf)),
                   MSTLS_E_INVALID_STATE);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  for (i = 0; i < NSTREAMS; i++) {
    assert_int_equal(mstls_stream_get_alpn(p.client, i, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "h2");
    assert_int_equal(mstls_stream_get_alpn(p.server, i, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "h2");
  }
  /* A buffer without room for the name and its NUL. */
  assert_int_equal(mstls_stream_get_alpn(p.client, 0, buf, 2),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_get_alpn(p.client, 0, NULL, 8),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_get_alpn(p.client, NSTREAMS, buf, sizeof(buf)),
                   MSTLS_E_INVALID_STREAM);
  test_pair_free(&p);
}

static void t_alpn_none_in_common(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  char buf[32];
  (void)state;
  /* Not required: the handshake completes without a protocol. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.tls.alpn = "diameter";
  ss.tls.alpn = "h2";
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  assert_int_equal(mstls_stream_get_alpn(p.client, 1, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "");
  test_pair_free(&p);
  /* Required by the server: the handshake fails on both sides. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.tls.alpn = "diameter";
  ss.tls.alpn = "h2";
  ss.tls.alpn_required = 1;
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_true(test_pair_handshake(&p, 10000) < 0);
  test_pair_flush(&p);
  assert_true(mstls_stream_get_error(p.client, 0) < 0);
  assert_true(mstls_stream_get_error(p.server, 0) < 0);
  test_pair_free(&p);
}

/* ---- export ------------------------------------------------------------- */

static void t_export(void **state) {
  static const uint8_t ctx1[] = {1, 2, 3};
  mstls_settings cs, ss;
  test_pair p;
  uint8_t a[48], b[48], c[48], d[48];
  (void)state;
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(mstls_stream_export_keying_material(
                       p.client, 1, "EXPORTER-t", NULL, 0, a, sizeof(a)),
                   MSTLS_E_INVALID_STATE);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  /* Both ends derive the same bytes for the same label and context. */
  assert_int_equal(
      mstls_stream_export_keying_material(p.client, 1, "EXPORTER-t", ctx1,
                                          sizeof(ctx1), a, sizeof(a)),
      0);
  assert_int_equal(
      mstls_stream_export_keying_material(p.server, 1, "EXPORTER-t", ctx1,
                                          sizeof(ctx1), b, sizeof(b)),
      0);
  assert_memory_equal(a, b, sizeof(a));
  /* Another context, another stream: other bytes. */
  assert_int_equal(mstls_stream_export_keying_material(
                       p.client, 1, "EXPORTER-t", NULL, 0, c, sizeof(c)),
                   0);
  assert_memory_not_equal(a, c, sizeof(a));
  assert_int_equal(
      mstls_stream_export_keying_material(p.client, 2, "EXPORTER-t", ctx1,
                                          sizeof(ctx1), d, sizeof(d)),
      0);
  assert_memory_not_equal(a, d, sizeof(a));
  /* Bad arguments. */
  assert_int_equal(mstls_stream_export_keying_material(p.client, 1, NULL, NULL,
                                                       0, a, sizeof(a)),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_export_keying_material(
                       p.client, 1, "EXPORTER-t", NULL, 3, a, sizeof(a)),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_stream_export_keying_material(
                       p.client, 1, "EXPORTER-t", NULL, 0, a, 0),
                   MSTLS_E_INVALID_ARGUMENT);
  test_pair_free(&p);
}

/* ---- identity ----------------------------------------------------------- */

static void t_identity(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  mstls_peer_identity id;
  uint8_t sfp[MSTLS_SHA256_LEN], cfp[MSTLS_SHA256_LEN];
  uint16_t i;
  (void)state;
  server_fingerprint(sfp);
  client_fingerprint(cfp);
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  ss.flags |= MSTLS_SETTINGS_REQUIRE_CLIENT_CERT;
  start_pair(&p, &cs, &ss, 1, NULL);
  assert_int_equal(mstls_stream_get_peer_identity(p.client, 0, &id),
                   MSTLS_E_INVALID_STATE);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  for (i = 0; i < NSTREAMS; i++) {
    /* Stream 0 verified the chain; the others resumed its session. */
    assert_int_equal(mstls_stream_get_peer_identity(p.client, i, &id), 0);
    assert_true(id.chain_len >= 1);
    assert_non_null(strstr(id.alt_names, "DNS:server.test"));
    assert_true(id.subject[0] != '\0');
    assert_true(id.issuer[0] != '\0');
    assert_memory_equal(id.sha256, sfp, sizeof(sfp));
    assert_int_equal(id.verified, 1);
    assert_int_equal(mstls_stream_get_peer_identity(p.server, i, &id), 0);
    assert_true(id.chain_len >= 1);
    assert_memory_equal(id.sha256, cfp, sizeof(cfp));
    assert_int_equal(id.verified, 1);
  }
  assert_int_equal(mstls_stream_get_peer_identity(p.client, 0, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  test_pair_free(&p);
  /* No client certificate asked for: the server sees none; an INSECURE
   * client sees the server's, unverified. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.flags |= MSTLS_SETTINGS_INSECURE;
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_peer_identity(p.server, 0, &id), 0);
  assert_int_equal(id.chain_len, 0);
  assert_int_equal(id.verified, 0);
  assert_int_equal(mstls_stream_get_peer_identity(p.client, 0, &id), 0);
  assert_true(id.chain_len >= 1);
  assert_int_equal(id.verified, 0);
  test_pair_free(&p);
}

/* ---- pins --------------------------------------------------------------- */

static void t_pins(void **state) {
  const test_pki *pki = test_pki_get();
  mstls_settings cs, ss;
  test_pair p;
  mstls_peer_identity id;
  uint8_t pins[2][MSTLS_SHA256_LEN];
  (void)state;
  assert_non_null(pki);
  memset(pins[0], 0x5a, MSTLS_SHA256_LEN); /* pins nobody */
  server_fingerprint(pins[1]);
  /* The trust anchors are unrelated and the name is wrong: the pin alone
   * decides. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.server_name = "not.the.name";
  cs.tls.pins = &pins[0][0];
  cs.tls.npins = 2;
  start_pair(&p, &cs, &ss, 0, pki->other_ca_pem);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_peer_identity(p.client, 0, &id), 0);
  assert_int_equal(id.verified, 1);
  test_pair_free(&p);
  /* A pin that does not match fails, even with the right CA and name. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.tls.pins = &pins[0][0];
  cs.tls.npins = 1;
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(test_pair_handshake(&p, 10000), MSTLS_E_CERT_VERIFY);
  assert_int_equal(mstls_stream_get_error(p.client, 0), MSTLS_E_CERT_VERIFY);
  test_pair_flush(&p);
  assert_true(mstls_stream_get_error(p.server, 0) < 0);
  test_pair_free(&p);
}

static void t_server_pins(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  mstls_peer_identity id;
  uint8_t pin[MSTLS_SHA256_LEN];
  (void)state;
  client_fingerprint(pin);
  /* A server with pins requires a client certificate. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  ss.tls.pins = pin;
  ss.tls.npins = 1;
  start_pair(&p, &cs, &ss, 1, NULL);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_peer_identity(p.server, 0, &id), 0);
  assert_int_equal(id.verified, 1);
  assert_memory_equal(id.sha256, pin, sizeof(pin));
  test_pair_free(&p);
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  ss.tls.pins = pin;
  ss.tls.npins = 1;
  start_pair(&p, &cs, &ss, 0, NULL); /* no client certificate */
  (void)test_pair_handshake(&p, 10000);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_get_error(p.server, 0), MSTLS_E_CERT_VERIFY);
  assert_true(mstls_stream_get_error(p.client, 0) < 0);
  test_pair_free(&p);
}

/* ---- callbacks ---------------------------------------------------------- */

typedef struct cbrec {
  int configured[NSTREAMS];
  int configure_fail_stream; /* -1: none */
  int verify_calls;
  int last_verdict;
  int last_stream;
  int last_role;
  int verify_answer;
  int keylines;
  int keylog_streams[NSTREAMS];
  char lines[64][256];
} cbrec;

static int cb_configure(gnutls_session_t tls, const mstls_tls_ctx *ctx,
                        void *ud) {
  cbrec *r = ud;
  assert_non_null(tls);
  assert_non_null(ctx->session);
  assert_null(ctx->peer);
  assert_true(ctx->stream >= 0 && ctx->stream < NSTREAMS);
  r->configured[ctx->stream]++;
  if (ctx->stream == r->configure_fail_stream) {
    return MSTLS_E_TLS;
  }
  return 0;
}

static int cb_verify(const mstls_tls_ctx *ctx, const mstls_peer_identity *id,
                     int verdict, void *ud) {
  cbrec *r = ud;
  r->verify_calls++;
  r->last_verdict = verdict;
  r->last_stream = ctx->stream;
  r->last_role = ctx->role;
  assert_true(id->chain_len >= 1);
  assert_non_null(strstr(id->alt_names, "server.test"));
  return r->verify_answer;
}

static void cb_keylog(const mstls_tls_ctx *ctx, const char *line, void *ud) {
  cbrec *r = ud;
  if (r->keylines < 64) {
    snprintf(r->lines[r->keylines], sizeof(r->lines[0]), "%s", line);
  }
  r->keylines++;
  if (ctx->stream >= 0 && ctx->stream < NSTREAMS) {
    r->keylog_streams[ctx->stream]++;
  }
}

static void t_configure(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  cbrec cr, sr;
  int i;
  (void)state;
  memset(&cr, 0, sizeof(cr));
  memset(&sr, 0, sizeof(sr));
  cr.configure_fail_stream = -1;
  sr.configure_fail_stream = -1;
  settings_pair(&cs, &ss, MSTLS_POLICY_PARALLEL);
  cs.tls.configure = cb_configure;
  cs.tls.user_data = &cr;
  ss.tls.configure = cb_configure;
  ss.tls.user_data = &sr;
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  for (i = 0; i < NSTREAMS; i++) {
    assert_int_equal(cr.configured[i], 1);
    assert_int_equal(sr.configured[i], 1);
  }
  test_pair_free(&p);
  /* A configure error fails that stream only, with that error (a fatal
   * one, such as MSTLS_E_NOMEM, would end the session). */
  memset(&cr, 0, sizeof(cr));
  cr.configure_fail_stream = 2;
  settings_pair(&cs, &ss, MSTLS_POLICY_PARALLEL);
  cs.flags |= MSTLS_SETTINGS_ACCEPT_PARTIAL;
  cs.tls.configure = cb_configure;
  cs.tls.user_data = &cr;
  start_pair(&p, &cs, &ss, 0, NULL);
  (void)test_pair_handshake(&p, 10000);
  assert_int_equal(mstls_stream_get_error(p.client, 2), MSTLS_E_TLS);
  assert_int_equal(mstls_stream_get_state(p.client, 1), MSTLS_STREAM_OPEN);
  test_pair_free(&p);
}

static void t_verify_callback(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  mstls_peer_identity id;
  cbrec r;
  (void)state;
  /* Accepting what mstls verified: called once (stream 0; the others
   * resume), verdict 0. */
  memset(&r, 0, sizeof(r));
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.tls.verify = cb_verify;
  cs.tls.user_data = &r;
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  assert_int_equal(r.verify_calls, 1);
  assert_int_equal(r.last_verdict, 0);
  assert_int_equal(r.last_stream, 0);
  assert_int_equal(r.last_role, MSTLS_ROLE_CLIENT);
  test_pair_free(&p);
  /* Refusing a good certificate fails the handshake. */
  memset(&r, 0, sizeof(r));
  r.verify_answer = MSTLS_E_CERT_VERIFY;
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.tls.verify = cb_verify;
  cs.tls.user_data = &r;
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(test_pair_handshake(&p, 10000), MSTLS_E_CERT_VERIFY);
  test_pair_flush(&p);
  assert_true(mstls_stream_get_error(p.server, 0) < 0);
  test_pair_free(&p);
  /* Accepting a certificate for another name: the callback sees the
   * verdict and overrules it. */
  memset(&r, 0, sizeof(r));
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.server_name = "other.test";
  cs.tls.verify = cb_verify;
  cs.tls.user_data = &r;
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  assert_int_equal(r.last_verdict, MSTLS_E_CERT_VERIFY);
  assert_int_equal(mstls_stream_get_peer_identity(p.client, 0, &id), 0);
  assert_int_equal(id.verified, 1);
  test_pair_free(&p);
}

/* A key-log line: "LABEL <64 hex digits> <hex digits>". */
static void assert_keylog_line(const char *line) {
  const char *sp1 = strchr(line, ' '), *sp2;
  size_t i;
  assert_non_null(sp1);
  sp2 = strchr(sp1 + 1, ' ');
  assert_non_null(sp2);
  assert_int_equal(sp2 - sp1 - 1, 64);
  assert_true(strlen(sp2 + 1) >= 64);
  for (i = 1; sp1[i] != '\0'; i++) {
    if (sp1 + i == sp2) {
      continue;
    }
    assert_non_null(strchr("0123456789abcdef", sp1[i]));
  }
}

static void t_keylog(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  cbrec cr, sr;
  int i, j, found = 0;
  (void)state;
  memset(&cr, 0, sizeof(cr));
  memset(&sr, 0, sizeof(sr));
  settings_pair(&cs, &ss, MSTLS_POLICY_PARALLEL);
  cs.tls.keylog = cb_keylog;
  cs.tls.user_data = &cr;
  ss.tls.keylog = cb_keylog;
  ss.tls.user_data = &sr;
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  /* TLS 1.3: handshake and application secrets of every stream. */
  for (i = 0; i < NSTREAMS; i++) {
    assert_true(cr.keylog_streams[i] >= 4);
    assert_true(sr.keylog_streams[i] >= 4);
  }
  for (i = 0; i < cr.keylines && i < 64; i++) {
    assert_keylog_line(cr.lines[i]);
  }
  /* Both ends log the same secrets. */
  for (i = 0; i < cr.keylines && i < 64; i++) {
    if (strncmp(cr.lines[i], "CLIENT_TRAFFIC_SECRET_0 ", 24) != 0) {
      continue;
    }
    for (j = 0; j < sr.keylines && j < 64; j++) {
      found += strcmp(cr.lines[i], sr.lines[j]) == 0;
    }
  }
  assert_int_equal(found, NSTREAMS);
  test_pair_free(&p);
}

/* ---- SNI ---------------------------------------------------------------- */

typedef struct snirec {
  mstls_credentials *alt; /* presented for "alt.test" */
  char last[64];
  int calls;
} snirec;

static int cb_sni(const mstls_tls_ctx *ctx, const char *name,
                  mstls_credentials **cred, void *ud) {
  snirec *r = ud;
  assert_int_equal(ctx->role, MSTLS_ROLE_SERVER);
  r->calls++;
  snprintf(r->last, sizeof(r->last), "%s", name);
  if (strcmp(name, "alt.test") == 0) {
    *cred = r->alt;
  } else if (strcmp(name, "server.test") != 0) {
    return MSTLS_E_CERT_VERIFY; /* nobody of that name here */
  }
  return 0;
}

static void t_sni(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  snirec r;
  mstls_peer_identity id;
  uint8_t altfp[MSTLS_SHA256_LEN];
  char pem[4096];
  size_t len = sizeof(pem);
  (void)state;
  memset(&r, 0, sizeof(r));
  assert_int_equal(mstls_credentials_new(&r.alt, NULL), 0);
  assert_int_equal(mstls_credentials_set_self_signed(r.alt, "alt.test"), 0);
  assert_int_equal(mstls_credentials_get_cert_pem(r.alt, pem, &len), 0);
  pem_fingerprint(pem, altfp);
  /* "alt.test": the server presents the other certificate (the client
   * pins it, so only that one passes). */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.server_name = "alt.test";
  cs.tls.pins = altfp;
  cs.tls.npins = 1;
  ss.tls.sni = cb_sni;
  ss.tls.user_data = &r;
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  assert_string_equal(r.last, "alt.test");
  assert_int_equal(mstls_stream_get_peer_identity(p.client, 0, &id), 0);
  assert_memory_equal(id.sha256, altfp, sizeof(altfp));
  test_pair_free(&p);
  /* "server.test": the session's own credentials. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  ss.tls.sni = cb_sni;
  ss.tls.user_data = &r;
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  assert_string_equal(r.last, "server.test");
  test_pair_free(&p);
  /* An unknown name is refused. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.server_name = "nobody.test";
  cs.flags |= MSTLS_SETTINGS_INSECURE;
  ss.tls.sni = cb_sni;
  ss.tls.user_data = &r;
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_true(test_pair_handshake(&p, 10000) < 0);
  test_pair_flush(&p);
  assert_string_equal(r.last, "nobody.test");
  assert_true(mstls_stream_get_error(p.server, 0) < 0);
  test_pair_free(&p);
  mstls_credentials_del(r.alt);
}

/* ---- pre-shared keys ---------------------------------------------------- */

static const uint8_t k1[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                               12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                               23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static mstls_credentials *psk_creds(const char *id, const uint8_t *key) {
  mstls_credentials *c = NULL;
  assert_int_equal(mstls_credentials_new(&c, NULL), 0);
  assert_int_equal(mstls_credentials_add_psk(c, id, key, 32), 0);
  return c;
}

static void t_psk(void **state) {
  uint8_t k0[32], wrong[32];
  mstls_credentials *scred, *ccred;
  mstls_settings cs, ss;
  mstls_peer_identity id;
  test_pair p;
  uint16_t i;
  (void)state;
  memset(k0, 0x42, sizeof(k0));
  memcpy(wrong, k1, sizeof(wrong));
  wrong[0] ^= 1;
  /* A server that knows two devices, without a certificate; a client
   * with a key and no trust anchors or server name. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.server_name = NULL;
  scred = psk_creds("device-0", k0);
  assert_int_equal(mstls_credentials_add_psk(scred, "device-1", k1, 32), 0);
  ccred = psk_creds("device-1", k1);
  assert_int_equal(
      test_pair_new_creds(&p, &cs, &ss, NULL, NULL, NULL, ccred, scred), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  for (i = 0; i < NSTREAMS; i++) {
    assert_int_equal(mstls_stream_get_state(p.client, i), MSTLS_STREAM_OPEN);
  }
  assert_int_equal(mstls_stream_get_peer_identity(p.server, 0, &id), 0);
  assert_string_equal(id.psk_identity, "device-1");
  assert_int_equal(id.chain_len, 0);
  assert_int_equal(mstls_stream_get_peer_identity(p.client, 0, &id), 0);
  assert_string_equal(id.psk_identity, "device-1");
  assert_int_equal(id.chain_len, 0);
  assert_int_equal(mstls_stream_send(p.client, 2, "psk", 3), 3);
  test_pair_flush(&p);
  {
    char buf[8];
    assert_int_equal(mstls_stream_recv(p.server, 2, buf, sizeof(buf)), 3);
  }
  test_pair_free(&p);
  /* The wrong key: no stream comes up. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.server_name = NULL;
  scred = psk_creds("device-1", k1);
  ccred = psk_creds("device-1", wrong);
  assert_int_equal(
      test_pair_new_creds(&p, &cs, &ss, NULL, NULL, NULL, ccred, scred), 0);
  assert_true(test_pair_handshake(&p, 10000) < 0);
  test_pair_flush(&p);
  assert_true(mstls_stream_get_error(p.server, 0) < 0);
  test_pair_free(&p);
  /* An identity the server does not know: it has a certificate, but the
   * client has no trust anchor for it, so the fallback fails too. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.server_name = NULL;
  scred = test_server_creds(NULL);
  assert_int_equal(mstls_credentials_add_psk(scred, "device-0", k0, 32), 0);
  ccred = psk_creds("device-9", k1);
  assert_int_equal(
      test_pair_new_creds(&p, &cs, &ss, NULL, NULL, NULL, ccred, scred), 0);
  assert_true(test_pair_handshake(&p, 10000) < 0);
  test_pair_free(&p);
}

static void t_psk_bad(void **state) {
  mstls_credentials *c = NULL;
  char longid[MSTLS_PSK_IDENTITY_MAX + 2];
  (void)state;
  memset(longid, 'i', sizeof(longid) - 1);
  longid[sizeof(longid) - 1] = '\0';
  assert_int_equal(mstls_credentials_new(&c, NULL), 0);
  assert_int_equal(mstls_credentials_add_psk(c, "a", k1, 15),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_add_psk(c, "a", k1, 65),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_add_psk(c, "", k1, 32),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_add_psk(c, longid, k1, 32),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_add_psk(c, NULL, k1, 32),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_add_psk(c, "a", NULL, 32),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_add_psk(NULL, "a", k1, 32),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_credentials_add_psk(c, "a", k1, 32), 0);
  assert_int_equal(mstls_credentials_add_psk(c, "a", k1, 32),
                   MSTLS_E_INVALID_ARGUMENT); /* twice */
  {
    /* Many peers: the table grows. */
    char name[16];
    int i;
    for (i = 0; i < 100; i++) {
      snprintf(name, sizeof(name), "peer-%d", i);
      assert_int_equal(mstls_credentials_add_psk(c, name, k1, 32), 0);
    }
  }
  mstls_credentials_del(c);
}

/* ---- error details and the log --------------------------------------------
 */

typedef struct logrec {
  int lines;
  char last[MSTLS_DETAIL_MAX + 64];
} logrec;

static void cb_log(int level, const char *line, void *ud) {
  logrec *r = ud;
  assert_int_equal(level, MSTLS_LOG_ERROR);
  r->lines++;
  snprintf(r->last, sizeof(r->last), "%s", line);
}

static void detail_of(mstls_session *s, uint16_t k, char *buf) {
  assert_true(mstls_stream_get_error_detail(s, k, buf, MSTLS_DETAIL_MAX) > 0);
}

static void t_error_detail(void **state) {
  const test_pki *pki = test_pki_get();
  mstls_settings cs, ss;
  test_pair p;
  char d[MSTLS_DETAIL_MAX];
  uint8_t pin[MSTLS_SHA256_LEN];
  logrec lr;
  (void)state;
  assert_non_null(pki);
  memset(&lr, 0, sizeof(lr));
  mstls_set_log(cb_log, MSTLS_LOG_ERROR, &lr);
  /* The wrong name: the client says so; the server learns it from the
   * client's alert. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.server_name = "other.test";
  start_pair(&p, &cs, &ss, 0, NULL);
  assert_int_equal(mstls_stream_get_error_detail(p.client, 0, d, sizeof(d)), 0);
  assert_string_equal(d, "");
  assert_int_equal(test_pair_handshake(&p, 10000), MSTLS_E_CERT_VERIFY);
  test_pair_flush(&p);
  detail_of(p.client, 0, d);
  assert_non_null(strstr(d, "does not match"));
  detail_of(p.server, 0, d);
  assert_non_null(strstr(d, "the peer sent a fatal alert"));
  test_pair_free(&p);
  assert_true(lr.lines >= 2);
  /* An unknown issuer. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  start_pair(&p, &cs, &ss, 0, pki->other_ca_pem);
  (void)test_pair_handshake(&p, 10000);
  detail_of(p.client, 0, d);
  assert_non_null(strstr(d, "issuer"));
  test_pair_free(&p);
  /* A server that requires a client certificate, a client without one:
   * each side is told which side lacks it. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  ss.flags |= MSTLS_SETTINGS_REQUIRE_CLIENT_CERT;
  start_pair(&p, &cs, &ss, 0, NULL);
  (void)test_pair_handshake(&p, 10000);
  test_pair_flush(&p);
  detail_of(p.server, 0, d);
  assert_non_null(strstr(d, "the peer sent no certificate"));
  detail_of(p.client, 0, d);
  assert_non_null(strstr(d, "requires a certificate from this side"));
  test_pair_free(&p);
  /* A pin that does not match names the fingerprint seen. */
  memset(pin, 0x33, sizeof(pin));
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.tls.pins = pin;
  cs.tls.npins = 1;
  start_pair(&p, &cs, &ss, 0, NULL);
  (void)test_pair_handshake(&p, 10000);
  detail_of(p.client, 0, d);
  assert_non_null(strstr(d, "matches no pin"));
  test_pair_free(&p);
  /* Off again: nothing more is logged. */
  mstls_set_log(NULL, MSTLS_LOG_OFF, NULL);
  lr.lines = 0;
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.server_name = "other.test";
  start_pair(&p, &cs, &ss, 0, NULL);
  (void)test_pair_handshake(&p, 10000);
  test_pair_free(&p);
  assert_int_equal(lr.lines, 0);
  assert_int_equal(mstls_stream_get_error_detail(NULL, 0, d, sizeof(d)),
                   MSTLS_E_INVALID_ARGUMENT);
}

/* ---- bad options -------------------------------------------------------- */

static void t_bad_options(void **state) {
  static const char *const bad_alpn[] = {
      "", "a,,b", ",a", "a,", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"};
  char longname[300];
  uint8_t pin[MSTLS_SHA256_LEN] = {0};
  mstls_settings cs, ss;
  test_pair p;
  size_t i;
  (void)state;
  memset(longname, 'x', 256);
  longname[256] = '\0';
  for (i = 0; i <= sizeof(bad_alpn) / sizeof(bad_alpn[0]); i++) {
    settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
    cs.tls.alpn =
        i < sizeof(bad_alpn) / sizeof(bad_alpn[0]) ? bad_alpn[i] : longname;
    assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL),
                     MSTLS_E_INVALID_ARGUMENT);
  }
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.tls.npins = 1; /* and no pins */
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  cs.tls.srtp_profiles = "SRTP_AES128_CM_HMAC_SHA1_80"; /* DTLS only */
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  ss.tls.alpn_required = 1; /* and no list */
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  /* The session keeps its own copies: the caller's buffers may go. */
  settings_pair(&cs, &ss, MSTLS_POLICY_RESUME);
  {
    char alpn[] = "h2";
    cs.tls.alpn = alpn;
    ss.tls.alpn = "h2";
    server_fingerprint(pin);
    cs.tls.pins = pin;
    cs.tls.npins = 1;
    start_pair(&p, &cs, &ss, 0, NULL);
    alpn[0] = 'X';
    memset(pin, 0, sizeof(pin));
  }
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  {
    char buf[8];
    assert_int_equal(mstls_stream_get_alpn(p.client, 0, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "h2");
  }
  test_pair_free(&p);
}

static void t_sha256_hex(void **state) {
  uint8_t fp[MSTLS_SHA256_LEN], want[MSTLS_SHA256_LEN];
  char plain[65], colons[96];
  size_t i, off = 0;
  (void)state;
  for (i = 0; i < MSTLS_SHA256_LEN; i++) {
    want[i] = (uint8_t)(i * 7 + 1);
    snprintf(plain + 2 * i, 3, "%02x", want[i]);
    off += (size_t)snprintf(colons + off, sizeof(colons) - off, "%s%02X",
                            i ? ":" : "", want[i]);
  }
  assert_int_equal(mstls_sha256_from_hex(plain, fp), 0);
  assert_memory_equal(fp, want, sizeof(fp));
  assert_int_equal(mstls_sha256_from_hex(colons, fp), 0);
  assert_memory_equal(fp, want, sizeof(fp));
  plain[63] = '\0';
  assert_int_equal(mstls_sha256_from_hex(plain, fp), MSTLS_E_INVALID_ARGUMENT);
  plain[63] = 'g';
  assert_int_equal(mstls_sha256_from_hex(plain, fp), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sha256_from_hex("00", fp), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sha256_from_hex(NULL, fp), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_cert_sha256(NULL, fp), MSTLS_E_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_alpn),       cmocka_unit_test(t_alpn_none_in_common),
      cmocka_unit_test(t_export),     cmocka_unit_test(t_identity),
      cmocka_unit_test(t_pins),       cmocka_unit_test(t_server_pins),
      cmocka_unit_test(t_configure),  cmocka_unit_test(t_verify_callback),
      cmocka_unit_test(t_keylog),     cmocka_unit_test(t_sni),
      cmocka_unit_test(t_psk),        cmocka_unit_test(t_error_detail),
      cmocka_unit_test(t_psk_bad),    cmocka_unit_test(t_bad_options),
      cmocka_unit_test(t_sha256_hex),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
