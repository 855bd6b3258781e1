/* TLS options shared by streams and UDP peers: ALPN, pins, and the
 * configure, keylog and verify callbacks; the accessors both share. */
#include "tlsopt.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "creds.h"
#include "err.h"
#include "hex.h"

int mstls_cert_sha256(const gnutls_datum_t *der,
                      uint8_t out[MSTLS_SHA256_LEN]) {
  if (der == NULL || der->data == NULL || der->size == 0 || out == NULL) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der->data, der->size, out) < 0) {
    return MSTLS_E_TLS;
  }
  return 0;
}

int mstls_spki_sha256(const gnutls_datum_t *key,
                      uint8_t out[MSTLS_SHA256_LEN]) {
  gnutls_pubkey_t pub;
  gnutls_datum_t der = {NULL, 0};
  gnutls_x509_crt_fmt_t fmt = GNUTLS_X509_FMT_DER;
  int rv;

  if (key == NULL || key->data == NULL || key->size == 0 || out == NULL) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (key->size > 10 && memmem(key->data, key->size, "-----BEGIN", 10)) {
    fmt = GNUTLS_X509_FMT_PEM;
  }
  if (gnutls_pubkey_init(&pub) < 0) {
    return MSTLS_E_TLS;
  }
  /* Imported and exported again: the hash is over the DER encoding, and
   * anything that is not a public key is refused. */
  if (gnutls_pubkey_import(pub, key, fmt) < 0) {
    gnutls_pubkey_deinit(pub);
    return MSTLS_E_INVALID_ARGUMENT;
  }
  rv = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der);
  gnutls_pubkey_deinit(pub);
  if (rv < 0) {
    return MSTLS_E_TLS;
  }
  rv = gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, out);
  gnutls_free(der.data);
  return rv < 0 ? MSTLS_E_TLS : 0;
}

int mstls_sha256_from_hex(const char *hex, uint8_t out[MSTLS_SHA256_LEN]) {
  size_t i;
  const char *p = hex;

  if (hex == NULL || out == NULL) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  for (i = 0; i < MSTLS_SHA256_LEN; i++) {
    int hi, lo;
    if (i > 0 && *p == ':') {
      p++;
    }
    hi = mstls_hexval(p[0]);
    lo = hi < 0 ? -1 : mstls_hexval(p[1]);
    if (lo < 0) {
      return MSTLS_E_INVALID_ARGUMENT;
    }
    out[i] = (uint8_t)(hi << 4 | lo);
    p += 2;
  }
  return *p == '\0' ? 0 : MSTLS_E_INVALID_ARGUMENT;
}

/* ---- options ------------------------------------------------------------ */

static int tlsopt_parse_alpn(mstls_tlsopt *o, const mstls_mem *mem,
                             const char *list) {
  char *p;

  o->alpn_buf = mstls_mem_strdup(mem, list);
  if (o->alpn_buf == NULL) {
    return MSTLS_E_NOMEM;
  }
  p = o->alpn_buf;
  for (;;) {
    char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == 0 || len > 255 || o->nalpn == MSTLS_ALPN_MAX) {
      return MSTLS_E_INVALID_ARGUMENT;
    }
    o->alpn[o->nalpn].data = (unsigned char *)p;
    o->alpn[o->nalpn].size = (unsigned)len;
    o->nalpn++;
    if (end == NULL) {
      return 0;
    }
    *end = '\0';
    p = end + 1;
  }
}

/* GnuTLS knows the profile names: try them on a throwaway session. */
static int tlsopt_check_srtp(const char *profiles) {
  gnutls_session_t t;
  int rv;
  if (profiles[0] == '\0') {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (gnutls_init(&t, GNUTLS_CLIENT | GNUTLS_DATAGRAM) < 0) {
    return MSTLS_E_NOMEM;
  }
  rv = gnutls_srtp_set_profile_direct(t, profiles, NULL);
  gnutls_deinit(t);
  return rv < 0 ? MSTLS_E_INVALID_ARGUMENT : 0;
}

int mstls_tlsopt_init(mstls_tlsopt *o, const mstls_mem *mem,
                      const mstls_tls_options *in, int datagram) {
  int rv;

  memset(o, 0, sizeof(*o));
  if (in == NULL) {
    return 0;
  }
  if ((in->npins > 0 && in->pins == NULL) || in->npins > 1024 ||
      (in->alpn_required && in->alpn == NULL) ||
      (in->srtp_profiles != NULL && !datagram)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (in->srtp_profiles != NULL) {
    if ((rv = tlsopt_check_srtp(in->srtp_profiles)) < 0) {
      return rv;
    }
    if ((o->srtp = mstls_mem_strdup(mem, in->srtp_profiles)) == NULL) {
      return MSTLS_E_NOMEM;
    }
  }
  if (in->alpn != NULL && (rv = tlsopt_parse_alpn(o, mem, in->alpn)) < 0) {
    mstls_tlsopt_deinit(o, mem);
    return rv;
  }
  if (in->npins > 0) {
    o->pins = mstls_mem_malloc(mem, in->npins * MSTLS_SHA256_LEN);
    if (o->pins == NULL) {
      mstls_tlsopt_deinit(o, mem);
      return MSTLS_E_NOMEM;
    }
    memcpy(o->pins, in->pins, in->npins * MSTLS_SHA256_LEN);
    o->npins = in->npins;
  }
  o->alpn_required = in->alpn_required != 0;
  o->rawpk = in->raw_public_keys != 0;
  o->configure = in->configure;
  o->keylog = in->keylog;
  o->verify = in->verify;
  o->sni = in->sni;
  o->user_data = in->user_data;
  return 0;
}

void mstls_tlsopt_deinit(mstls_tlsopt *o, const mstls_mem *mem) {
  mstls_mem_free(mem, o->alpn_buf);
  mstls_mem_free(mem, o->pins);
  mstls_mem_free(mem, o->srtp);
  memset(o, 0, sizeof(*o));
}

int mstls_tlsopt_owns_verify(const mstls_tlsopt *o) {
  return o != NULL && (o->npins > 0 || o->verify != NULL || o->rawpk);
}

const char *mstls_tlsopt_priority_extra(int psk, int rawpk) {
  if (psk) {
    return rawpk ? MSTLS_PRIORITY_PSK MSTLS_PRIORITY_RAWPK : MSTLS_PRIORITY_PSK;
  }
  return rawpk ? MSTLS_PRIORITY_RAWPK : "";
}

unsigned mstls_tlsopt_init_flags(const mstls_tlsopt *o) {
  return o != NULL && o->rawpk ? GNUTLS_ENABLE_RAWPK : 0;
}

/* ---- identity ----------------------------------------------------------- */

/* Append "TYPE:value" to the comma-separated list in @p buf. */
static void tlsopt_append(char *buf, size_t cap, const char *type,
                          const char *val, size_t len) {
  size_t used = strlen(buf);
  int n = snprintf(buf + used, cap - used, "%s%s:%.*s", used ? "," : "", type,
                   (int)len, val);
  if (n < 0 || (size_t)n >= cap - used) {
    buf[used] = '\0'; /* does not fit: leave it out whole */
  }
}

static void tlsopt_alt_names(gnutls_x509_crt_t crt, char *buf, size_t cap) {
  unsigned i;

  buf[0] = '\0';
  for (i = 0;; i++) {
    char name[256];
    size_t len = sizeof(name);
    unsigned crit = 0;
    int type = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &len, &crit);
    if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
      return;
    }
    if (type == GNUTLS_E_SHORT_MEMORY_BUFFER) {
      continue; /* a name longer than any host name: skipped */
    }
    if (type < 0) {
      return;
    }
    switch (type) {
    case GNUTLS_SAN_DNSNAME:
      tlsopt_append(buf, cap, "DNS", name, len);
      break;
    case GNUTLS_SAN_URI:
      tlsopt_append(buf, cap, "URI", name, len);
      break;
    case GNUTLS_SAN_RFC822NAME:
      tlsopt_append(buf, cap, "email", name, len);
      break;
    case GNUTLS_SAN_IPADDRESS: {
      char text[64];
      if (len == 4) {
        snprintf(text, sizeof(text), "%u.%u.%u.%u", (uint8_t)name[0],
                 (uint8_t)name[1], (uint8_t)name[2], (uint8_t)name[3]);
        tlsopt_append(buf, cap, "IP", text, strlen(text));
      } else if (len == 16) {
        size_t k, off = 0;
        for (k = 0; k < 16; k += 2) {
          off += (size_t)snprintf(
              text + off, sizeof(text) - off, "%s%x", k ? ":" : "",
              (unsigned)((uint8_t)name[k] << 8 | (uint8_t)name[k + 1]));
        }
        tlsopt_append(buf, cap, "IP", text, strlen(text));
      }
      break;
    }
    default:
      break;
    }
  }
}

/* Fill @p id from the peer's chain @p certs (n > 0) of session @p tls:
 * certificates, or one raw public key (RFC 7250 §3: a
 * SubjectPublicKeyInfo in place of the certificate). */
static int tlsopt_identity(gnutls_session_t tls, const gnutls_datum_t *certs,
                           unsigned n, mstls_peer_identity *id) {
  gnutls_x509_crt_t crt;
  gnutls_datum_t dn = {NULL, 0};

  memset(id, 0, sizeof(*id));
  id->chain_len = n;
  if (gnutls_certificate_type_get2(tls, GNUTLS_CTYPE_PEERS) ==
      GNUTLS_CRT_RAWPK) {
    id->raw_public_key = 1;
    return mstls_spki_sha256(&certs[0], id->sha256) < 0 ? MSTLS_E_TLS : 0;
  }
  if (mstls_cert_sha256(&certs[0], id->sha256) < 0) {
    return MSTLS_E_TLS;
  }
  if (gnutls_x509_crt_init(&crt) < 0) {
    return MSTLS_E_NOMEM;
  }
  if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
    gnutls_x509_crt_deinit(crt);
    return MSTLS_E_TLS;
  }
  if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
    snprintf(id->subject, sizeof(id->subject), "%.*s", (int)dn.size,
             (const char *)dn.data);
    gnutls_free(dn.data);
  }
  dn.data = NULL;
  if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) == 0) {
    snprintf(id->issuer, sizeof(id->issuer), "%.*s", (int)dn.size,
             (const char *)dn.data);
    gnutls_free(dn.data);
  }
  tlsopt_alt_names(crt, id->alt_names, sizeof(id->alt_names));
  gnutls_x509_crt_deinit(crt);
  return 0;
}

/* ---- callbacks ---------------------------------------------------------- */

static int tlsopt_pinned(const mstls_tlsopt *o, const uint8_t *fp) {
  size_t i;
  for (i = 0; i < o->npins; i++) {
    if (memcmp(o->pins + i * MSTLS_SHA256_LEN, fp, MSTLS_SHA256_LEN) == 0) {
      return 1;
    }
  }
  return 0;
}

static void tlsopt_hex(char *out, const uint8_t *in, size_t len) {
  static const char digits[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < len; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * len] = '\0';
}

/* GnuTLS's verify function of a channel whose options own verification. */
static int tlsopt_verify(gnutls_session_t tls) {
  mstls_channel *ch = gnutls_session_get_ptr(tls);
  const mstls_tlsopt *o = ch->opt;
  const gnutls_datum_t *certs;
  mstls_peer_identity id;
  unsigned n = 0;
  int verdict;

  certs = gnutls_certificate_get_peers(tls, &n);
  if (certs == NULL || n == 0) {
    if (ch->verify_mode == MSTLS_VERIFY_OPTIONAL ||
        ch->verify_mode == MSTLS_VERIFY_NONE) {
      return 0;
    }
    return GNUTLS_E_NO_CERTIFICATE_FOUND;
  }
  if (tlsopt_identity(tls, certs, n, &id) < 0) {
    return GNUTLS_E_CERTIFICATE_ERROR;
  }
  if (o != NULL && o->npins > 0) {
    verdict = tlsopt_pinned(o, id.sha256) ? 0 : MSTLS_E_CERT_VERIFY;
    id.verified = verdict == 0;
    if (verdict != 0) {
      char hex[2 * MSTLS_SHA256_LEN + 1], text[MSTLS_DETAIL_MAX];
      tlsopt_hex(hex, id.sha256, MSTLS_SHA256_LEN);
      snprintf(text, sizeof(text), "the peer's %s (sha256 %s) matches no pin",
               id.raw_public_key ? "raw public key" : "certificate", hex);
      mstls_chan_set_detail(ch, text);
    }
  } else if (id.raw_public_key) {
    /* RFC 7250 §6: "Without a secure binding between identity and key,
     * the protocol will be vulnerable to impersonation attacks." The
     * binding is out of band: a pin, or the verify callback; never the
     * trust anchors, never MSTLS_*_INSECURE. */
    verdict = MSTLS_E_CERT_VERIFY;
    if (o == NULL || o->verify == NULL) {
      char hex[2 * MSTLS_SHA256_LEN + 1], text[MSTLS_DETAIL_MAX];
      tlsopt_hex(hex, id.sha256, MSTLS_SHA256_LEN);
      snprintf(text, sizeof(text),
               "the peer's raw public key (sha256 %s) cannot be trusted "
               "without a pin or a verify callback",
               hex);
      mstls_chan_set_detail(ch, text);
    }
  } else if (ch->verify_mode == MSTLS_VERIFY_INSECURE) {
    verdict = 0;
  } else {
    unsigned status = 0;
    int rv = gnutls_certificate_verify_peers3(tls, ch->verify_name, &status);
    verdict = rv == 0 && status == 0 ? 0 : MSTLS_E_CERT_VERIFY;
    id.verified = verdict == 0;
    if (verdict != 0 && (o == NULL || o->verify == NULL)) {
      mstls_chan_set_verify_detail(ch, status);
    }
  }
  if (o != NULL && o->verify != NULL) {
    int rv = o->verify(&ch->ctx, &id, verdict, o->user_data);
    verdict = rv < 0 ? rv : 0;
    id.verified = verdict == 0;
    if (verdict != 0) {
      mstls_chan_set_detail(ch, "the verify callback refused the peer");
    }
  }
  ch->verified = verdict == 0 && id.verified;
  return verdict == 0 ? 0 : GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
}

/* GnuTLS hands each secret as it derives it: one NSS key-log line. */
static int tlsopt_keylog(gnutls_session_t tls, const char *label,
                         const gnutls_datum_t *secret) {
  mstls_channel *ch = gnutls_session_get_ptr(tls);
  gnutls_datum_t crandom = {NULL, 0}, srandom = {NULL, 0};
  char line[64 + 1 + 64 + 1 + 2 * 64 + 1];
  size_t off;

  if (ch == NULL || ch->opt == NULL || ch->opt->keylog == NULL ||
      secret->size > 64 || strlen(label) > 63) {
    return 0;
  }
  gnutls_session_get_random(tls, &crandom, &srandom);
  if (crandom.size != 32) {
    return 0;
  }
  off = (size_t)snprintf(line, sizeof(line), "%s ", label);
  tlsopt_hex(line + off, crandom.data, crandom.size);
  off += 2 * crandom.size;
  line[off++] = ' ';
  tlsopt_hex(line + off, secret->data, secret->size);
  ch->opt->keylog(&ch->ctx, line, ch->opt->user_data);
  return 0;
}

/* Server: the client's SNI name picks the credentials (sni callback). */
static int tlsopt_post_client_hello(gnutls_session_t tls) {
  mstls_channel *ch = gnutls_session_get_ptr(tls);
  mstls_credentials *cred = NULL;
  char name[256];
  size_t len = sizeof(name) - 1;
  unsigned type = 0;
  int rv;

  if (gnutls_server_name_get(tls, name, &len, &type, 0) < 0 ||
      type != GNUTLS_NAME_DNS) {
    len = 0;
  }
  name[len] = '\0';
  rv = ch->opt->sni(&ch->ctx, name, &cred, ch->opt->user_data);
  if (rv < 0) {
    return GNUTLS_E_UNRECOGNIZED_NAME;
  }
  if (cred != NULL &&
      gnutls_credentials_set(tls, GNUTLS_CRD_CERTIFICATE,
                             mstls_credentials_get_gnutls(cred)) < 0) {
    return GNUTLS_E_CERTIFICATE_ERROR;
  }
  return 0;
}

/* Verification without pins or a verify callback. */
static void tlsopt_default_verify(mstls_channel *ch, mstls_verify_mode mode) {
  switch (mode) {
  case MSTLS_VERIFY_REQUIRE:
    gnutls_session_set_verify_cert(ch->tls, ch->verify_name, 0);
    break;
  case MSTLS_VERIFY_OPTIONAL:
    /* gnutls_session_set_verify_cert fails a handshake without a peer
     * certificate; a merely requested one is optional, and verified when
     * sent. */
    gnutls_session_set_verify_function(ch->tls, tlsopt_verify);
    break;
  default:
    break;
  }
}

int mstls_tlsopt_apply(const mstls_tlsopt *o, mstls_channel *ch,
                       const mstls_tls_ctx *ctx, int server, const char *name,
                       mstls_verify_mode mode) {
  gnutls_session_t tls = ch->tls;
  int rv;

  ch->opt = o;
  ch->ctx = *ctx;
  ch->verify_name = name;
  ch->verify_mode = mode;
  ch->verified = 0;
  gnutls_session_set_ptr(tls, ch);
  if (o == NULL) {
    tlsopt_default_verify(ch, mode);
    return 0;
  }
  if (o->nalpn > 0) {
    unsigned flags = server ? GNUTLS_ALPN_SERVER_PRECEDENCE : 0;
    if (o->alpn_required) {
      flags |= GNUTLS_ALPN_MANDATORY;
    }
    rv = gnutls_alpn_set_protocols(tls, o->alpn, o->nalpn, flags);
    if (rv < 0) {
      ch->last_gnutls = rv;
      return rv == GNUTLS_E_MEMORY_ERROR ? MSTLS_E_NOMEM : MSTLS_E_TLS;
    }
  }
  if (o->keylog != NULL) {
    gnutls_session_set_keylog_function(tls, tlsopt_keylog);
  }
  if (server && o->sni != NULL) {
    gnutls_handshake_set_post_client_hello_function(tls,
                                                    tlsopt_post_client_hello);
  }
  if (o->srtp != NULL && ch->datagram) {
    rv = gnutls_srtp_set_profile_direct(tls, o->srtp, NULL);
    if (rv < 0) {
      ch->last_gnutls = rv;
      return rv == GNUTLS_E_MEMORY_ERROR ? MSTLS_E_NOMEM : MSTLS_E_TLS;
    }
  }
  if (mstls_tlsopt_owns_verify(o)) {
    if (server && o->npins > 0 && mode != MSTLS_VERIFY_REQUIRE) {
      ch->verify_mode = MSTLS_VERIFY_REQUIRE;
      gnutls_certificate_server_set_request(tls, GNUTLS_CERT_REQUIRE);
    }
    gnutls_session_set_verify_function(tls, tlsopt_verify);
  } else {
    tlsopt_default_verify(ch, mode);
  }
  if (o->configure != NULL) {
    rv = o->configure(tls, &ch->ctx, o->user_data);
    if (rv < 0) {
      return rv >= MSTLS_ERR_MIN && rv <= MSTLS_ERR_MAX
                 ? rv
                 : MSTLS_E_CALLBACK_FAILURE;
    }
  }
  return 0;
}

/* ---- accessors ---------------------------------------------------------- */

int mstls_chan_get_alpn(mstls_channel *ch, char *buf, size_t len) {
  gnutls_datum_t proto = {NULL, 0};

  if (buf == NULL || len == 0) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  buf[0] = '\0';
  if (gnutls_alpn_get_selected_protocol(ch->tls, &proto) < 0) {
    return 0; /* none negotiated */
  }
  if (proto.size >= len) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  memcpy(buf, proto.data, proto.size);
  buf[proto.size] = '\0';
  return (int)proto.size;
}

/* The PSK identity of a handshake that used a pre-shared key. */
static void tlsopt_psk_identity(mstls_channel *ch, mstls_peer_identity *id) {
  gnutls_datum_t user = {NULL, 0};
  const struct mstls_credentials *c = ch->psk_cred;

  if (gnutls_auth_get_type(ch->tls) != GNUTLS_CRD_PSK) {
    return;
  }
  if (gnutls_psk_server_get_username2(ch->tls, &user) == 0 && user.size > 0) {
    snprintf(id->psk_identity, sizeof(id->psk_identity), "%.*s", (int)user.size,
             (const char *)user.data);
  } else if (c != NULL && c->npsk > 0 &&
             gnutls_session_is_resumed(ch->tls) == 0) {
    /* A client offers its first key. */
    snprintf(id->psk_identity, sizeof(id->psk_identity), "%s",
             c->psk[0].identity);
  }
}

int mstls_chan_get_identity(mstls_channel *ch, mstls_peer_identity *id) {
  const gnutls_datum_t *certs;
  unsigned n = 0;
  int rv;

  if (id == NULL) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  memset(id, 0, sizeof(*id));
  tlsopt_psk_identity(ch, id);
  certs = gnutls_certificate_get_peers(ch->tls, &n);
  if (certs == NULL || n == 0) {
    return 0; /* the peer sent no certificate: chain_len 0 */
  }
  if ((rv = tlsopt_identity(ch->tls, certs, n, id)) < 0) {
    return rv;
  }
  if (gnutls_session_is_resumed(ch->tls)) {
    /* Resumed from a session whose certificate was checked when it was
     * set up (the certificate is not sent again). */
    id->verified = ch->verify_mode != MSTLS_VERIFY_INSECURE &&
                   ch->verify_mode != MSTLS_VERIFY_NONE;
  } else if (mstls_tlsopt_owns_verify(ch->opt) ||
             ch->verify_mode == MSTLS_VERIFY_OPTIONAL) {
    id->verified = ch->verified;
  } else {
    /* GnuTLS's own verification ran and the handshake completed. */
    id->verified = ch->verify_mode == MSTLS_VERIFY_REQUIRE;
  }
  return 0;
}

int mstls_chan_get_srtp(mstls_channel *ch, mstls_srtp_keys *keys) {
  gnutls_srtp_profile_t profile;
  gnutls_datum_t ck, cs, sk, ss;
  uint8_t material[2 * (32 + 14)];
  int rv;

  memset(keys, 0, sizeof(*keys));
  if (gnutls_srtp_get_selected_profile(ch->tls, &profile) < 0) {
    return 0; /* none negotiated */
  }
  rv = gnutls_srtp_get_keys(ch->tls, material, sizeof(material), &ck, &cs, &sk,
                            &ss);
  if (rv < 0 || ck.size > sizeof(keys->client_key) ||
      cs.size > sizeof(keys->client_salt) || sk.size != ck.size ||
      ss.size != cs.size) {
    ch->last_gnutls = rv < 0 ? rv : 0;
    return MSTLS_E_TLS;
  }
  keys->profile = gnutls_srtp_get_profile_name(profile);
  memcpy(keys->client_key, ck.data, ck.size);
  memcpy(keys->client_salt, cs.data, cs.size);
  memcpy(keys->server_key, sk.data, sk.size);
  memcpy(keys->server_salt, ss.data, ss.size);
  keys->key_len = ck.size;
  keys->salt_len = cs.size;
  gnutls_memset(material, 0, sizeof(material));
  return 1;
}

int mstls_chan_export(mstls_channel *ch, const char *label,
                      const uint8_t *context, size_t context_len, uint8_t *out,
                      size_t out_len) {
  int rv;

  if (label == NULL || out == NULL || out_len == 0 ||
      (context == NULL && context_len > 0)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  rv = gnutls_prf_rfc5705(ch->tls, strlen(label), label,
                          context ? context_len : 0, (const char *)context,
                          out_len, (char *)out);
  if (rv < 0) {
    ch->last_gnutls = rv;
    return rv == GNUTLS_E_MEMORY_ERROR ? MSTLS_E_NOMEM : MSTLS_E_TLS;
  }
  return 0;
}
