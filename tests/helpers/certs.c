#include "certs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

static test_pki pki;
static int pki_ok;
static pthread_once_t pki_once = PTHREAD_ONCE_INIT;

static char *pem_dup(gnutls_datum_t *d) {
  char *s = malloc(d->size + 1);
  if (s) {
    memcpy(s, d->data, d->size);
    s[d->size] = 0;
  }
  gnutls_free(d->data);
  return s;
}

static int make_key(gnutls_x509_privkey_t *key, char **pem) {
  gnutls_datum_t d;
  if (gnutls_x509_privkey_init(key) < 0 ||
      gnutls_x509_privkey_generate(
          *key, GNUTLS_PK_ECDSA,
          GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0) {
    return -1;
  }
  if (pem) {
    if (gnutls_x509_privkey_export2(*key, GNUTLS_X509_FMT_PEM, &d) < 0) {
      return -1;
    }
    *pem = pem_dup(&d);
  }
  return 0;
}

static int make_cert(gnutls_x509_crt_t *crt, gnutls_x509_privkey_t key,
                     const char *cn, int ca, gnutls_x509_crt_t issuer,
                     gnutls_x509_privkey_t issuer_key, char **pem,
                     unsigned serial) {
  time_t now = time(NULL);
  unsigned char ser[4] = {0, 0, (unsigned char)(serial >> 8),
                          (unsigned char)serial};
  gnutls_datum_t d;
  if (gnutls_x509_crt_init(crt) < 0 ||
      gnutls_x509_crt_set_version(*crt, 3) < 0 ||
      gnutls_x509_crt_set_serial(*crt, ser, sizeof(ser)) < 0 ||
      gnutls_x509_crt_set_activation_time(*crt, now - 3600) < 0 ||
      gnutls_x509_crt_set_expiration_time(*crt, now + 86400) < 0 ||
      gnutls_x509_crt_set_dn_by_oid(*crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                    (unsigned)strlen(cn)) < 0 ||
      gnutls_x509_crt_set_key(*crt, key) < 0 ||
      gnutls_x509_crt_set_basic_constraints(*crt, ca, -1) < 0) {
    return -1;
  }
  if (ca) {
    if (gnutls_x509_crt_set_key_usage(*crt, GNUTLS_KEY_KEY_CERT_SIGN |
                                                GNUTLS_KEY_CRL_SIGN) < 0) {
      return -1;
    }
  } else if (gnutls_x509_crt_set_subject_alt_name(*crt, GNUTLS_SAN_DNSNAME, cn,
                                                  (unsigned)strlen(cn),
                                                  GNUTLS_FSAN_SET) < 0 ||
             gnutls_x509_crt_set_key_usage(*crt, GNUTLS_KEY_DIGITAL_SIGNATURE) <
                 0) {
    return -1;
  }
  if (gnutls_x509_crt_sign2(*crt, issuer ? issuer : *crt,
                            issuer_key ? issuer_key : key, GNUTLS_DIG_SHA256,
                            0) < 0 ||
      gnutls_x509_crt_export2(*crt, GNUTLS_X509_FMT_PEM, &d) < 0) {
    return -1;
  }
  *pem = pem_dup(&d);
  return 0;
}

static void pki_build(void) {
  gnutls_x509_privkey_t cak, ok, sk, ck;
  gnutls_x509_crt_t ca, oca, sc, cc;
  if (make_key(&cak, NULL) < 0 || make_key(&ok, NULL) < 0 ||
      make_key(&sk, &pki.server_key_pem) < 0 ||
      make_key(&ck, &pki.client_key_pem) < 0 ||
      make_cert(&ca, cak, "mstls test CA", 1, NULL, NULL, &pki.ca_pem, 1) < 0 ||
      make_cert(&oca, ok, "unrelated CA", 1, NULL, NULL, &pki.other_ca_pem, 2) <
          0 ||
      make_cert(&sc, sk, "server.test", 0, ca, cak, &pki.server_cert_pem, 3) <
          0 ||
      make_cert(&cc, ck, "client.test", 0, ca, cak, &pki.client_cert_pem, 4) <
          0) {
    return;
  }
  gnutls_x509_crt_deinit(ca);
  gnutls_x509_crt_deinit(oca);
  gnutls_x509_crt_deinit(sc);
  gnutls_x509_crt_deinit(cc);
  gnutls_x509_privkey_deinit(cak);
  gnutls_x509_privkey_deinit(ok);
  gnutls_x509_privkey_deinit(sk);
  gnutls_x509_privkey_deinit(ck);
  pki_ok = 1;
}

const test_pki *test_pki_get(void) {
  pthread_once(&pki_once, pki_build);
  return pki_ok ? &pki : NULL;
}

mstls_credentials *test_server_creds(const mstls_mem *mem) {
  const test_pki *p = test_pki_get();
  mstls_credentials *c = NULL;
  if (!p || mstls_credentials_new(&c, mem) < 0) {
    return NULL;
  }
  if (mstls_credentials_set_key_mem(
          c, p->server_cert_pem, strlen(p->server_cert_pem), p->server_key_pem,
          strlen(p->server_key_pem)) < 0 ||
      mstls_credentials_set_trust_mem(c, p->ca_pem, strlen(p->ca_pem)) < 0) {
    mstls_credentials_del(c);
    return NULL;
  }
  return c;
}

mstls_credentials *test_client_creds(const mstls_mem *mem, const char *ca_pem,
                                     int with_cert) {
  const test_pki *p = test_pki_get();
  mstls_credentials *c = NULL;
  if (!p || mstls_credentials_new(&c, mem) < 0) {
    return NULL;
  }
  if (!ca_pem) {
    ca_pem = p->ca_pem;
  }
  if (mstls_credentials_set_trust_mem(c, ca_pem, strlen(ca_pem)) < 0 ||
      (with_cert && mstls_credentials_set_key_mem(
                        c, p->client_cert_pem, strlen(p->client_cert_pem),
                        p->client_key_pem, strlen(p->client_key_pem)) < 0)) {
    mstls_credentials_del(c);
    return NULL;
  }
  return c;
}

char *test_new_key_pem(void) {
  gnutls_x509_privkey_t key;
  char *pem = NULL;
  if (make_key(&key, &pem) < 0) {
    pem = NULL;
  }
  gnutls_x509_privkey_deinit(key);
  return pem;
}

char *test_pubkey_pem(const char *key_pem) {
  gnutls_privkey_t priv = NULL;
  gnutls_pubkey_t pub = NULL;
  gnutls_datum_t k = {(unsigned char *)(uintptr_t)key_pem,
                      (unsigned)strlen(key_pem)};
  gnutls_datum_t d = {NULL, 0};
  char *out = NULL;
  if (gnutls_privkey_init(&priv) == 0 && gnutls_pubkey_init(&pub) == 0 &&
      gnutls_privkey_import_x509_raw(priv, &k, GNUTLS_X509_FMT_PEM, NULL, 0) ==
          0 &&
      gnutls_pubkey_import_privkey(pub, priv, 0, 0) == 0 &&
      gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &d) == 0) {
    out = pem_dup(&d);
  }
  gnutls_pubkey_deinit(pub);
  gnutls_privkey_deinit(priv);
  return out;
}

mstls_credentials *test_add_rawpk(mstls_credentials *c, const char *key_pem,
                                  uint8_t pin[MSTLS_SHA256_LEN]) {
  if (!c || !key_pem ||
      mstls_credentials_set_rawpk_mem(c, NULL, 0, key_pem, strlen(key_pem)) <
          0 ||
      (pin && mstls_credentials_get_rawpk_sha256(c, pin) < 0)) {
    mstls_credentials_del(c);
    return NULL;
  }
  return c;
}
