/* TLS options on DTLS peers (mstls_udp_settings.tls), the same shape as on
 * SCTP streams: ALPN, keying-material export, identity, pins, callbacks
 * naming the peer and its address, info; client certificates requested
 * and required. One server and one client endpoint on the simulated
 * network of udp_helpers.c, fake clock, no loss: deterministic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "certs.h"
#include "udp_helpers.h"

#define SERVER_INDEX 1
#define CLIENT_INDEX 7

typedef struct side {
  mstls_udp_endpoint *ep;
  mstls_udp_peer *peer; /* the established peer */
  int done, closed, reason;
  int keylines, configured, verify_calls, verify_answer, last_verdict;
  int ctx_ok; /* every callback's ctx named this side's peer correctly */
  char detail[MSTLS_DETAIL_MAX]; /* why it closed */
} side;

typedef struct world {
  udpt_net *net;
  side s, c;
} world;

static void on_done(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                    void *ud) {
  world *w = ud;
  side *sd = (f & MSTLS_UDP_PEER_CLIENT) ? &w->c : &w->s;
  (void)ep;
  sd->done++;
  sd->peer = p;
}

static void on_closed(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                      int reason, void *ud) {
  world *w = ud;
  side *sd = (f & MSTLS_UDP_PEER_CLIENT) ? &w->c : &w->s;
  (void)ep;
  sd->closed++;
  sd->reason = reason;
  (void)mstls_udp_peer_get_error_detail(p, sd->detail, sizeof(sd->detail));
}

static side *side_of(world *w, const mstls_tls_ctx *ctx) {
  side *sd = ctx->role == MSTLS_ROLE_CLIENT ? &w->c : &w->s;
  /* A UDP peer: no session, no stream, the peer and its address. */
  if (ctx->session == NULL && ctx->stream == -1 && ctx->peer != NULL &&
      ctx->addr != NULL && ctx->addrlen > 0) {
    sd->ctx_ok++;
  }
  return sd;
}

static int cb_configure(gnutls_session_t tls, const mstls_tls_ctx *ctx,
                        void *ud) {
  assert_non_null(tls);
  side_of(ud, ctx)->configured++;
  return 0;
}

static void cb_keylog(const mstls_tls_ctx *ctx, const char *line, void *ud) {
  assert_non_null(strchr(line, ' '));
  side_of(ud, ctx)->keylines++;
}

static int cb_verify(const mstls_tls_ctx *ctx, const mstls_peer_identity *id,
                     int verdict, void *ud) {
  side *sd = side_of(ud, ctx);
  assert_true(id->chain_len >= 1);
  sd->verify_calls++;
  sd->last_verdict = verdict;
  return sd->verify_answer;
}

static void world_new(world *w, const mstls_udp_settings *ss,
                      const mstls_udp_settings *cs, mstls_credentials *scred,
                      mstls_credentials *ccred) {
  mstls_udp_callbacks cb;
  memset(w, 0, sizeof(*w));
  w->net = udpt_net_new(NULL);
  assert_non_null(w->net);
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = on_done;
  cb.closed = on_closed;
  w->s.ep = udpt_net_add(w->net, SERVER_INDEX, 0, ss, &cb, scred, w);
  w->c.ep = udpt_net_add(w->net, CLIENT_INDEX, 0, cs, &cb, ccred, w);
  assert_non_null(w->s.ep);
  assert_non_null(w->c.ep);
}

static int settled(void *ud) {
  world *w = ud;
  return (w->c.done && w->s.done) || w->c.closed || w->s.closed;
}

static void world_connect(world *w, const char *name) {
  struct sockaddr_storage sa;
  socklen_t sl;
  mstls_udp_peer *p = NULL;
  size_t i;
  udpt_addr(&sa, &sl, SERVER_INDEX, 0);
  assert_int_equal(mstls_udp_endpoint_connect(w->c.ep, (struct sockaddr *)&sa,
                                              sl, name, udpt_net_now(w->net),
                                              &p),
                   0);
  assert_true(udpt_net_run(w->net, settled, w, 100000));
  /* Let the last flight and any alert arrive, without moving the clock
   * (a jump would reap the idle peers). */
  for (i = 0; i < 1000 && udpt_net_in_flight(w->net) > 0; i++) {
    (void)udpt_net_step(w->net, 100);
  }
}

static void world_free(world *w) {
  udpt_net_free(w->net);
}

static void settings(mstls_udp_settings *ss, mstls_udp_settings *cs) {
  mstls_udp_settings_default(ss);
  mstls_udp_settings_default(cs);
  cs->flags &= ~MSTLS_UDP_ACCEPT;
}

static void der_sha256(const char *pem_text, uint8_t fp[MSTLS_SHA256_LEN]) {
  gnutls_datum_t pem = {(unsigned char *)(uintptr_t)pem_text,
                        (unsigned)strlen(pem_text)};
  gnutls_datum_t der = {NULL, 0};
  assert_int_equal(gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der), 0);
  assert_int_equal(mstls_cert_sha256(&der, fp), 0);
  gnutls_free(der.data);
}

static void t_alpn_export_info(void **state) {
  mstls_udp_settings ss, cs;
  mstls_credentials *scred = test_server_creds(NULL);
  mstls_credentials *ccred = test_client_creds(NULL, NULL, 0);
  mstls_udp_peer_info info;
  mstls_peer_identity id;
  uint8_t a[32], b[32];
  char buf[16];
  world w;
  (void)state;
  settings(&ss, &cs);
  ss.tls.alpn = "coap,webrtc";
  cs.tls.alpn = "webrtc,coap";
  ss.tls.configure = cs.tls.configure = cb_configure;
  ss.tls.keylog = cs.tls.keylog = cb_keylog;
  ss.tls.user_data = cs.tls.user_data = &w;
  world_new(&w, &ss, &cs, scred, ccred);
  world_connect(&w, "server.test");
  assert_int_equal(w.c.done, 1);
  assert_int_equal(w.s.done, 1);
  /* The server's order decides. */
  assert_int_equal(mstls_udp_peer_get_alpn(w.c.peer, buf, sizeof(buf)), 4);
  assert_string_equal(buf, "coap");
  assert_int_equal(mstls_udp_peer_get_alpn(w.s.peer, buf, sizeof(buf)), 4);
  assert_string_equal(buf, "coap");
  assert_int_equal(mstls_udp_peer_get_alpn(w.s.peer, buf, 4),
                   MSTLS_E_INVALID_ARGUMENT);
  /* Same exported bytes at both ends. */
  assert_int_equal(mstls_udp_peer_export_keying_material(
                       w.c.peer, "EXTRACTOR-dtls_srtp", NULL, 0, a, sizeof(a)),
                   0);
  assert_int_equal(mstls_udp_peer_export_keying_material(
                       w.s.peer, "EXTRACTOR-dtls_srtp", NULL, 0, b, sizeof(b)),
                   0);
  assert_memory_equal(a, b, sizeof(a));
  assert_int_equal(mstls_udp_peer_export_keying_material(w.c.peer, NULL, NULL,
                                                         0, a, sizeof(a)),
                   MSTLS_E_INVALID_ARGUMENT);
  /* Info and identity. */
  assert_int_equal(mstls_udp_peer_get_info(w.c.peer, &info), 0);
  assert_string_equal(info.version, "DTLS1.2");
  assert_string_not_equal(info.cipher, "-");
  assert_int_equal(info.resumed, 0);
  assert_int_equal(mstls_udp_peer_get_peer_identity(w.c.peer, &id), 0);
  assert_true(id.chain_len >= 1);
  assert_non_null(strstr(id.alt_names, "DNS:server.test"));
  assert_int_equal(id.verified, 1);
  assert_int_equal(mstls_udp_peer_get_peer_identity(w.s.peer, &id), 0);
  assert_int_equal(id.chain_len, 0); /* no client certificate asked for */
  /* Callbacks: once per peer each side, keys logged, ctx names the peer. */
  assert_int_equal(w.c.configured, 1);
  assert_int_equal(w.s.configured, 1);
  assert_true(w.c.keylines >= 1);
  assert_true(w.s.keylines >= 1);
  assert_int_equal(w.c.ctx_ok, w.c.configured + w.c.keylines);
  assert_int_equal(w.s.ctx_ok, w.s.configured + w.s.keylines);
  /* Bad arguments. */
  assert_int_equal(mstls_udp_peer_get_info(NULL, &info),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_udp_peer_get_alpn(NULL, buf, sizeof(buf)),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_udp_peer_get_peer_identity(w.c.peer, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  world_free(&w);
  mstls_credentials_del(scred);
  mstls_credentials_del(ccred);
}

static void t_pins_and_verify(void **state) {
  const test_pki *pki = test_pki_get();
  mstls_udp_settings ss, cs;
  mstls_credentials *scred = test_server_creds(NULL);
  mstls_credentials *untrusting = test_client_creds(NULL, NULL, 0);
  mstls_peer_identity id;
  uint8_t pin[MSTLS_SHA256_LEN], wrong[MSTLS_SHA256_LEN];
  world w;
  (void)state;
  assert_non_null(pki);
  mstls_credentials_del(untrusting);
  untrusting = test_client_creds(NULL, pki->other_ca_pem, 0);
  der_sha256(pki->server_cert_pem, pin);
  memset(wrong, 0xa5, sizeof(wrong));
  /* Pinned: the unrelated CA and the wrong name do not matter. */
  settings(&ss, &cs);
  cs.tls.pins = pin;
  cs.tls.npins = 1;
  world_new(&w, &ss, &cs, scred, untrusting);
  world_connect(&w, "wrong.name");
  assert_int_equal(w.c.done, 1);
  assert_int_equal(mstls_udp_peer_get_peer_identity(w.c.peer, &id), 0);
  assert_int_equal(id.verified, 1);
  assert_memory_equal(id.sha256, pin, sizeof(pin));
  world_free(&w);
  /* A wrong pin: the client fails and tells the server. */
  settings(&ss, &cs);
  cs.tls.pins = wrong;
  cs.tls.npins = 1;
  world_new(&w, &ss, &cs, scred, untrusting);
  world_connect(&w, "server.test");
  assert_int_equal(w.c.done, 0);
  assert_int_equal(w.c.closed, 1);
  assert_int_equal(w.c.reason, MSTLS_E_CERT_VERIFY);
  assert_non_null(strstr(w.c.detail, "matches no pin"));
  assert_non_null(strstr(w.s.detail, "the peer sent a fatal alert"));
  assert_int_equal(w.s.done, 0);
  world_free(&w);
  /* A verify callback overrules the untrusted CA; then refuses. */
  settings(&ss, &cs);
  cs.tls.verify = cb_verify;
  cs.tls.user_data = &w;
  world_new(&w, &ss, &cs, scred, untrusting);
  world_connect(&w, "server.test");
  assert_int_equal(w.c.done, 1);
  assert_int_equal(w.c.verify_calls, 1);
  assert_int_equal(w.c.last_verdict, MSTLS_E_CERT_VERIFY);
  world_free(&w);
  settings(&ss, &cs);
  cs.tls.verify = cb_verify;
  cs.tls.user_data = &w;
  world_new(&w, &ss, &cs, scred, untrusting);
  w.c.verify_answer = MSTLS_E_CERT_VERIFY;
  world_connect(&w, "server.test");
  assert_int_equal(w.c.done, 0);
  assert_int_equal(w.c.reason, MSTLS_E_CERT_VERIFY);
  world_free(&w);
  mstls_credentials_del(scred);
  mstls_credentials_del(untrusting);
}

/* Raw public keys (RFC 7250) on DTLS peers: both ends raw and pinned;
 * a wrong pin and a missing pin refuse the key with a readable detail; a
 * client that does not negotiate raw keys gets the certificate. */
static void t_raw_public_keys(void **state) {
  char *skey = test_new_key_pem(), *ckey = test_new_key_pem();
  mstls_credentials *scred = NULL, *ccred = NULL, *both;
  mstls_credentials *trusting = test_client_creds(NULL, NULL, 0);
  uint8_t spin[MSTLS_SHA256_LEN], cpin[MSTLS_SHA256_LEN];
  uint8_t wrong[MSTLS_SHA256_LEN];
  mstls_udp_settings ss, cs;
  mstls_peer_identity id;
  world w;
  (void)state;
  assert_non_null(skey);
  assert_non_null(ckey);
  assert_int_equal(mstls_credentials_new(&scred, NULL), 0);
  assert_int_equal(mstls_credentials_new(&ccred, NULL), 0);
  assert_non_null(test_add_rawpk(scred, skey, spin));
  assert_non_null(test_add_rawpk(ccred, ckey, cpin));
  both = test_add_rawpk(test_server_creds(NULL), skey, NULL);
  assert_non_null(both);
  memcpy(wrong, spin, sizeof(wrong));
  wrong[0] ^= 0x80;
  /* Both ends raw, each pinning the other's key. */
  settings(&ss, &cs);
  ss.tls.raw_public_keys = cs.tls.raw_public_keys = 1;
  cs.tls.pins = spin;
  cs.tls.npins = 1;
  ss.tls.pins = cpin;
  ss.tls.npins = 1;
  world_new(&w, &ss, &cs, scred, ccred);
  world_connect(&w, "server.test");
  assert_int_equal(w.c.done, 1);
  assert_int_equal(w.s.done, 1);
  assert_int_equal(mstls_udp_peer_get_peer_identity(w.c.peer, &id), 0);
  assert_int_equal(id.raw_public_key, 1);
  assert_int_equal(id.verified, 1);
  assert_memory_equal(id.sha256, spin, sizeof(spin));
  assert_int_equal(mstls_udp_peer_get_peer_identity(w.s.peer, &id), 0);
  assert_int_equal(id.raw_public_key, 1);
  assert_int_equal(id.verified, 1);
  assert_memory_equal(id.sha256, cpin, sizeof(cpin));
  world_free(&w);
  /* A wrong pin. */
  settings(&ss, &cs);
  ss.tls.raw_public_keys = cs.tls.raw_public_keys = 1;
  cs.tls.pins = wrong;
  cs.tls.npins = 1;
  world_new(&w, &ss, &cs, scred, ccred);
  world_connect(&w, "server.test");
  assert_int_equal(w.c.done, 0);
  assert_int_equal(w.c.reason, MSTLS_E_CERT_VERIFY);
  assert_non_null(strstr(w.c.detail, "raw public key"));
  assert_non_null(strstr(w.c.detail, "matches no pin"));
  assert_non_null(strstr(w.s.detail, "the peer sent a fatal alert"));
  world_free(&w);
  /* No pin, no verify callback: refused even by an insecure client. */
  settings(&ss, &cs);
  ss.tls.raw_public_keys = cs.tls.raw_public_keys = 1;
  cs.flags |= MSTLS_UDP_INSECURE;
  world_new(&w, &ss, &cs, scred, ccred);
  world_connect(&w, "server.test");
  assert_int_equal(w.c.done, 0);
  assert_int_equal(w.c.reason, MSTLS_E_CERT_VERIFY);
  assert_non_null(strstr(w.c.detail, "without a pin or a verify callback"));
  world_free(&w);
  /* The server offers both kinds; a client without raw keys gets the
   * certificate and verifies it against the CA. */
  settings(&ss, &cs);
  ss.tls.raw_public_keys = 1;
  world_new(&w, &ss, &cs, both, trusting);
  world_connect(&w, "server.test");
  assert_int_equal(w.c.done, 1);
  assert_int_equal(mstls_udp_peer_get_peer_identity(w.c.peer, &id), 0);
  assert_int_equal(id.raw_public_key, 0);
  assert_int_equal(id.verified, 1);
  assert_non_null(strstr(id.alt_names, "server.test"));
  world_free(&w);
  mstls_credentials_del(scred);
  mstls_credentials_del(ccred);
  mstls_credentials_del(both);
  mstls_credentials_del(trusting);
  free(skey);
  free(ckey);
}

static void t_client_certificates(void **state) {
  const test_pki *pki = test_pki_get();
  mstls_udp_settings ss, cs;
  mstls_credentials *scred = test_server_creds(NULL);
  mstls_credentials *with = test_client_creds(NULL, NULL, 1);
  mstls_credentials *without = test_client_creds(NULL, NULL, 0);
  mstls_credentials *stranger = NULL;
  mstls_peer_identity id;
  uint8_t cfp[MSTLS_SHA256_LEN];
  world w;
  (void)state;
  assert_non_null(pki);
  der_sha256(pki->client_cert_pem, cfp);
  /* REQUEST: optional, verified when sent. */
  settings(&ss, &cs);
  ss.flags |= MSTLS_UDP_REQUEST_CLIENT_CERT;
  world_new(&w, &ss, &cs, scred, without);
  world_connect(&w, "server.test");
  assert_int_equal(w.s.done, 1);
  assert_int_equal(mstls_udp_peer_get_peer_identity(w.s.peer, &id), 0);
  assert_int_equal(id.chain_len, 0);
  world_free(&w);
  settings(&ss, &cs);
  ss.flags |= MSTLS_UDP_REQUEST_CLIENT_CERT;
  world_new(&w, &ss, &cs, scred, with);
  world_connect(&w, "server.test");
  assert_int_equal(w.s.done, 1);
  assert_int_equal(mstls_udp_peer_get_peer_identity(w.s.peer, &id), 0);
  assert_true(id.chain_len >= 1);
  assert_memory_equal(id.sha256, cfp, sizeof(cfp));
  assert_int_equal(id.verified, 1);
  world_free(&w);
  /* REQUIRE: a certificate from a CA the server does not trust fails
   * (before, REQUIRE only asked for one and never checked it). */
  assert_int_equal(mstls_credentials_new(&stranger, NULL), 0);
  assert_int_equal(mstls_credentials_set_self_signed(stranger, "stranger"), 0);
  assert_int_equal(mstls_credentials_set_trust_mem(stranger, pki->ca_pem,
                                                   strlen(pki->ca_pem)),
                   0);
  settings(&ss, &cs);
  ss.flags |= MSTLS_UDP_REQUIRE_CLIENT_CERT;
  world_new(&w, &ss, &cs, scred, stranger);
  world_connect(&w, "server.test");
  assert_int_equal(w.s.done, 0);
  assert_int_equal(w.s.closed, 1);
  assert_int_equal(w.s.reason, MSTLS_E_CERT_VERIFY);
  world_free(&w);
  settings(&ss, &cs);
  ss.flags |= MSTLS_UDP_REQUIRE_CLIENT_CERT;
  world_new(&w, &ss, &cs, scred, with);
  world_connect(&w, "server.test");
  assert_int_equal(w.s.done, 1);
  world_free(&w);
  mstls_credentials_del(scred);
  mstls_credentials_del(with);
  mstls_credentials_del(without);
  mstls_credentials_del(stranger);
}

static void t_srtp(void **state) {
  mstls_udp_settings ss, cs;
  mstls_credentials *scred = test_server_creds(NULL);
  mstls_credentials *ccred = test_client_creds(NULL, NULL, 0);
  mstls_srtp_keys ck, sk;
  world w;
  (void)state;
  settings(&ss, &cs);
  ss.tls.srtp_profiles =
      "SRTP_AES128_CM_HMAC_SHA1_32:SRTP_AES128_CM_HMAC_SHA1_80";
  cs.tls.srtp_profiles = "SRTP_AES128_CM_HMAC_SHA1_80";
  world_new(&w, &ss, &cs, scred, ccred);
  assert_int_equal(mstls_udp_peer_get_srtp(NULL, &ck),
                   MSTLS_E_INVALID_ARGUMENT);
  world_connect(&w, "server.test");
  assert_int_equal(w.c.done, 1);
  assert_int_equal(mstls_udp_peer_get_srtp(w.c.peer, &ck), 1);
  assert_int_equal(mstls_udp_peer_get_srtp(w.s.peer, &sk), 1);
  assert_string_equal(ck.profile, "SRTP_AES128_CM_HMAC_SHA1_80");
  assert_string_equal(sk.profile, ck.profile);
  assert_int_equal(ck.key_len, 16);
  assert_int_equal(ck.salt_len, 14);
  /* Both ends derive the same keys for each direction. */
  assert_memory_equal(&ck.client_key, &sk.client_key, ck.key_len);
  assert_memory_equal(&ck.server_key, &sk.server_key, ck.key_len);
  assert_memory_equal(&ck.client_salt, &sk.client_salt, ck.salt_len);
  assert_memory_equal(&ck.server_salt, &sk.server_salt, ck.salt_len);
  assert_memory_not_equal(&ck.client_key, &ck.server_key, ck.key_len);
  world_free(&w);
  /* No common profile: DTLS still comes up, without SRTP. */
  settings(&ss, &cs);
  ss.tls.srtp_profiles = "SRTP_NULL_HMAC_SHA1_80";
  cs.tls.srtp_profiles = "SRTP_AES128_CM_HMAC_SHA1_80";
  world_new(&w, &ss, &cs, scred, ccred);
  world_connect(&w, "server.test");
  assert_int_equal(w.c.done, 1);
  assert_int_equal(mstls_udp_peer_get_srtp(w.c.peer, &ck), 0);
  assert_null(ck.profile);
  world_free(&w);
  mstls_credentials_del(scred);
  mstls_credentials_del(ccred);
}

static void t_psk(void **state) {
  uint8_t key[32], wrong[32];
  mstls_udp_settings ss, cs;
  mstls_credentials *scred = NULL, *ccred = NULL, *bad = NULL;
  mstls_udp_peer_info info;
  mstls_peer_identity id;
  world w;
  (void)state;
  memset(key, 0x17, sizeof(key));
  memset(wrong, 0x18, sizeof(wrong));
  /* DTLS 1.2 with a pre-shared key only: no certificates anywhere. */
  assert_int_equal(mstls_credentials_new(&scred, NULL), 0);
  assert_int_equal(mstls_credentials_add_psk(scred, "sensor-7", key, 32), 0);
  assert_int_equal(mstls_credentials_new(&ccred, NULL), 0);
  assert_int_equal(mstls_credentials_add_psk(ccred, "sensor-7", key, 32), 0);
  assert_int_equal(mstls_credentials_new(&bad, NULL), 0);
  assert_int_equal(mstls_credentials_add_psk(bad, "sensor-7", wrong, 32), 0);
  settings(&ss, &cs);
  world_new(&w, &ss, &cs, scred, ccred);
  world_connect(&w, "server.test");
  assert_int_equal(w.c.done, 1);
  assert_int_equal(w.s.done, 1);
  assert_int_equal(mstls_udp_peer_get_peer_identity(w.s.peer, &id), 0);
  assert_string_equal(id.psk_identity, "sensor-7");
  assert_int_equal(id.chain_len, 0);
  assert_int_equal(mstls_udp_peer_get_info(w.c.peer, &info), 0);
  assert_string_equal(info.version, "DTLS1.2");
  world_free(&w);
  settings(&ss, &cs);
  world_new(&w, &ss, &cs, scred, bad);
  world_connect(&w, "server.test");
  assert_int_equal(w.c.done, 0);
  assert_int_equal(w.s.done, 0);
  world_free(&w);
  mstls_credentials_del(scred);
  mstls_credentials_del(ccred);
  mstls_credentials_del(bad);
}

/* ---- certificate reload -------------------------------------------------- */

#define RELOAD_PEERS 100

typedef struct reload {
  int s_done, c_done, s_bytes;
  mstls_udp_peer *last_client_peer;
} reload;

static void rl_done(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                    void *ud) {
  reload *r = ud;
  (void)ep;
  if (f & MSTLS_UDP_PEER_CLIENT) {
    r->c_done++;
    r->last_client_peer = p;
  } else {
    r->s_done++;
  }
}

static void rl_data(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                    const uint8_t *d, size_t len, void *ud) {
  reload *r = ud;
  (void)ep;
  (void)p;
  (void)d;
  if (!(f & MSTLS_UDP_PEER_CLIENT)) {
    r->s_bytes += (int)len;
  }
}

static int rl_all_done(void *ud) {
  reload *r = ud;
  return r->c_done >= RELOAD_PEERS && r->s_done >= RELOAD_PEERS;
}

static int rl_one_more(void *ud) {
  reload *r = ud;
  return r->c_done > RELOAD_PEERS && r->s_done > RELOAD_PEERS;
}

static int rl_all_data(void *ud) {
  reload *r = ud;
  return r->s_bytes >= RELOAD_PEERS * 4;
}

static void fingerprint_of(mstls_credentials *c, uint8_t fp[MSTLS_SHA256_LEN]) {
  char pem[4096];
  size_t len = sizeof(pem);
  assert_int_equal(mstls_credentials_get_cert_pem(c, pem, &len), 0);
  der_sha256(pem, fp);
}

/* A server replaces its certificate while 100 peers are up: they stay up
 * and keep exchanging data on the old credentials (whose last outside
 * reference is dropped at once), and a new peer sees the new
 * certificate. */
static void t_reload(void **state) {
  mstls_udp_settings ss, cs;
  mstls_udp_callbacks cb;
  mstls_credentials *a = NULL, *b = NULL, *ccred = NULL;
  mstls_udp_peer *cpeer[RELOAD_PEERS + 1];
  mstls_peer_identity id;
  uint8_t fpa[MSTLS_SHA256_LEN], fpb[MSTLS_SHA256_LEN];
  struct sockaddr_storage sa;
  socklen_t sl;
  mstls_udp_endpoint *server, *cl[RELOAD_PEERS + 1];
  udpt_net *net = udpt_net_new(NULL);
  reload r;
  int i;
  (void)state;
  memset(&r, 0, sizeof(r));
  assert_non_null(net);
  assert_int_equal(mstls_credentials_new(&a, NULL), 0);
  assert_int_equal(mstls_credentials_set_self_signed(a, "server.test"), 0);
  assert_int_equal(mstls_credentials_new(&b, NULL), 0);
  assert_int_equal(mstls_credentials_set_self_signed(b, "server.test"), 0);
  assert_int_equal(mstls_credentials_new(&ccred, NULL), 0);
  fingerprint_of(a, fpa);
  fingerprint_of(b, fpb);
  assert_memory_not_equal(fpa, fpb, sizeof(fpa));
  settings(&ss, &cs);
  cs.flags |= MSTLS_UDP_INSECURE;
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = rl_done;
  cb.recv_data = rl_data;
  server = udpt_net_add(net, SERVER_INDEX, 0, &ss, &cb, a, &r);
  assert_non_null(server);
  udpt_addr(&sa, &sl, SERVER_INDEX, 0);
  for (i = 0; i <= RELOAD_PEERS; i++) {
    cl[i] = udpt_net_add(net, (uint32_t)(100 + i), 0, &cs, &cb, ccred, &r);
    assert_non_null(cl[i]);
  }
  for (i = 0; i < RELOAD_PEERS; i++) {
    assert_int_equal(mstls_udp_endpoint_connect(cl[i], (struct sockaddr *)&sa,
                                                sl, NULL, udpt_net_now(net),
                                                &cpeer[i]),
                     0);
  }
  assert_true(udpt_net_run(net, rl_all_done, &r, 1000000));
  /* The swap: new credentials in, the application's old reference out. */
  assert_int_equal(mstls_udp_endpoint_set_credentials(server, b), 0);
  mstls_credentials_del(a);
  a = NULL;
  assert_int_equal(
      mstls_udp_endpoint_connect(cl[RELOAD_PEERS], (struct sockaddr *)&sa, sl,
                                 NULL, udpt_net_now(net), &cpeer[RELOAD_PEERS]),
      0);
  assert_true(udpt_net_run(net, rl_one_more, &r, 1000000));
  assert_int_equal(mstls_udp_peer_get_peer_identity(cpeer[RELOAD_PEERS], &id),
                   0);
  assert_memory_equal(id.sha256, fpb, sizeof(fpb));
  /* The old peers still run, on the old certificate. */
  for (i = 0; i < RELOAD_PEERS; i++) {
    assert_int_equal(mstls_udp_peer_get_peer_identity(cpeer[i], &id), 0);
    assert_memory_equal(id.sha256, fpa, sizeof(fpa));
    assert_int_equal(mstls_udp_peer_send(cpeer[i], "data", 4), 4);
  }
  assert_true(udpt_net_run(net, rl_all_data, &r, 1000000));
  assert_int_equal(r.s_bytes, RELOAD_PEERS * 4);
  assert_int_equal(mstls_udp_endpoint_set_credentials(server, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_udp_endpoint_set_credentials(server, ccred),
                   MSTLS_E_CREDENTIALS); /* a server needs a key */
  udpt_net_free(net); /* the last peers of the old credentials free them */
  mstls_credentials_del(b);
  mstls_credentials_del(ccred);
}

static int no_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                   socklen_t tolen, const uint8_t *data, size_t len, void *ud) {
  (void)ep;
  (void)to;
  (void)tolen;
  (void)data;
  (void)ud;
  return (int)len;
}

static void t_bad_options(void **state) {
  static const char *const bad_alpn[] = {"", "a,,b", "a,"};
  mstls_udp_settings ss;
  mstls_udp_callbacks cb;
  mstls_udp_endpoint *ep = NULL;
  mstls_credentials *scred = test_server_creds(NULL);
  size_t i;
  (void)state;
  memset(&cb, 0, sizeof(cb));
  cb.send = no_send;
  for (i = 0; i < sizeof(bad_alpn) / sizeof(bad_alpn[0]); i++) {
    mstls_udp_settings_default(&ss);
    ss.tls.alpn = bad_alpn[i];
    assert_int_equal(mstls_udp_endpoint_new(&ep, &ss, &cb, scred, NULL),
                     MSTLS_E_INVALID_ARGUMENT);
    assert_null(ep);
  }
  mstls_udp_settings_default(&ss);
  /* Not a profile; and GnuTLS 3.7 has no AEAD profiles (RFC 7714). */
  ss.tls.srtp_profiles = "SRTP_AEAD_AES_128_GCM";
  assert_int_equal(mstls_udp_endpoint_new(&ep, &ss, &cb, scred, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  mstls_udp_settings_default(&ss);
  ss.tls.srtp_profiles = "";
  assert_int_equal(mstls_udp_endpoint_new(&ep, &ss, &cb, scred, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  mstls_udp_settings_default(&ss);
  ss.tls.npins = 2; /* and no pins */
  assert_int_equal(mstls_udp_endpoint_new(&ep, &ss, &cb, scred, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  mstls_udp_settings_default(&ss);
  ss.tls.alpn = "h2";
  assert_int_equal(mstls_udp_endpoint_new(&ep, &ss, &cb, scred, NULL), 0);
  mstls_udp_endpoint_del(ep);
  mstls_credentials_del(scred);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_alpn_export_info),
      cmocka_unit_test(t_pins_and_verify),
      cmocka_unit_test(t_client_certificates),
      cmocka_unit_test(t_raw_public_keys),
      cmocka_unit_test(t_srtp),
      cmocka_unit_test(t_psk),
      cmocka_unit_test(t_reload),
      cmocka_unit_test(t_bad_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
