/* Stateless cookies (RFC 6347 §4.2.1). GnuTLS computes the cookie as an
 * HMAC over "client data" with a key we give it, but never expires it. So
 * the client data is the peer's address followed by the number of the
 * current period, and the key of each period is derived from a secret:
 * key(p) = HMAC-SHA256(secret, "mstls-cookie" || p). The key therefore
 * rotates every period, a cookie is accepted in its own period and the
 * next one only, and endpoints sharing the secret accept each other's
 * cookies. An accept-only secret (fleet keys being replaced, see
 * src/fleet.c) verifies cookies but never mints them. The period number
 * comes from the cookie clock the endpoint passes: its time plus a wall
 * offset, so that endpoints on several machines agree on the periods.
 * Nothing here allocates. */
#include <string.h>

#include <gnutls/crypto.h>

#include "udp_int.h"

static const char cookie_label[] = "mstls-cookie";

int mstls_udp_cookies_init(mstls_udp_cookies *c, mstls_tstamp period_len) {
  memset(c, 0, sizeof(*c));
  c->period_len = period_len;
  if (gnutls_rnd(GNUTLS_RND_KEY, c->cur.secret, sizeof(c->cur.secret)) < 0) {
    return MSTLS_E_TLS;
  }
  return 0;
}

static void cookie_secret_set(mstls_udp_cookie_secret *cs,
                              const uint8_t *secret) {
  memcpy(cs->secret, secret, sizeof(cs->secret));
  cs->cache[0].valid = 0;
  cs->cache[1].valid = 0;
}

void mstls_udp_cookies_set_secret(mstls_udp_cookies *c, const uint8_t *secret,
                                  const uint8_t *accept) {
  cookie_secret_set(&c->cur, secret);
  if (accept) {
    cookie_secret_set(&c->accept, accept);
  } else {
    gnutls_memset(&c->accept, 0, sizeof(c->accept));
  }
  c->have_accept = accept != NULL;
}

static const mstls_udp_cookie_key *cookie_key(mstls_udp_cookie_secret *c,
                                              uint64_t period) {
  mstls_udp_cookie_key *k = &c->cache[period & 1];
  uint8_t in[sizeof(cookie_label) - 1 + 8];
  int i;

  if (k->valid && k->period == period) {
    return k;
  }
  memcpy(in, cookie_label, sizeof(cookie_label) - 1);
  for (i = 0; i < 8; i++) {
    in[sizeof(cookie_label) - 1 + (size_t)i] =
        (uint8_t)(period >> (56 - 8 * i));
  }
  if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, c->secret, sizeof(c->secret), in,
                       sizeof(in), k->key) < 0) {
    k->valid = 0;
    return NULL;
  }
  k->period = period;
  k->valid = 1;
  return k;
}

/* Client data: address key || period number. */
static size_t cookie_client_data(uint8_t *out, const uint8_t *addrkey,
                                 size_t keylen, uint64_t period) {
  int i;
  memcpy(out, addrkey, keylen);
  for (i = 0; i < 8; i++) {
    out[keylen + (size_t)i] = (uint8_t)(period >> (56 - 8 * i));
  }
  return keylen + 8;
}

int mstls_udp_cookie_send(mstls_udp_cookies *c, const uint8_t *addrkey,
                          size_t keylen, mstls_tstamp now,
                          gnutls_dtls_prestate_st *prestate, void *ptr,
                          gnutls_push_func push) {
  uint64_t period = now / c->period_len;
  const mstls_udp_cookie_key *k = cookie_key(&c->cur, period);
  uint8_t cd[MSTLS_UDP_KEY_MAX + 8];
  gnutls_datum_t key;
  size_t n;

  if (!k) {
    return GNUTLS_E_INTERNAL_ERROR;
  }
  key.data = (unsigned char *)(uintptr_t)k->key;
  key.size = sizeof(k->key);
  n = cookie_client_data(cd, addrkey, keylen, period);
  return gnutls_dtls_cookie_send(&key, cd, n, prestate, ptr, push);
}

static int cookie_verify_period(mstls_udp_cookie_secret *c,
                                const uint8_t *addrkey, size_t keylen,
                                uint64_t period, const uint8_t *msg, size_t len,
                                gnutls_dtls_prestate_st *prestate) {
  const mstls_udp_cookie_key *k = cookie_key(c, period);
  uint8_t cd[MSTLS_UDP_KEY_MAX + 8];
  gnutls_datum_t key;
  size_t n;

  if (!k) {
    return -1;
  }
  key.data = (unsigned char *)(uintptr_t)k->key;
  key.size = sizeof(k->key);
  n = cookie_client_data(cd, addrkey, keylen, period);
  memset(prestate, 0, sizeof(*prestate));
  if (gnutls_dtls_cookie_verify(&key, cd, n, (void *)(uintptr_t)msg, len,
                                prestate) < 0) {
    return -1;
  }
  return 0;
}

static int cookie_verify_secret(mstls_udp_cookie_secret *c,
                                const uint8_t *addrkey, size_t keylen,
                                uint64_t period, const uint8_t *msg, size_t len,
                                gnutls_dtls_prestate_st *prestate) {
  if (cookie_verify_period(c, addrkey, keylen, period, msg, len, prestate) ==
      0) {
    return 0;
  }
  /* The previous period's key stays valid for one more period, so a cookie
   * issued just before a rotation still works. */
  if (period > 0 && cookie_verify_period(c, addrkey, keylen, period - 1, msg,
                                         len, prestate) == 0) {
    return 0;
  }
  return -1;
}

int mstls_udp_cookie_verify(mstls_udp_cookies *c, const uint8_t *addrkey,
                            size_t keylen, mstls_tstamp now, const uint8_t *msg,
                            size_t len, gnutls_dtls_prestate_st *prestate) {
  uint64_t period = now / c->period_len;

  if (cookie_verify_secret(&c->cur, addrkey, keylen, period, msg, len,
                           prestate) == 0) {
    return 0;
  }
  if (c->have_accept && cookie_verify_secret(&c->accept, addrkey, keylen,
                                             period, msg, len, prestate) == 0) {
    return 0;
  }
  return -1;
}
