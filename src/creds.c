#include "creds.h"

#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "channel.h"
#include "mem.h"

int mstls_credentials_new(mstls_credentials **pcred, const mstls_mem *mem) {
  mstls_credentials *c;
  if (!pcred) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  *pcred = NULL;
  if (!mem) {
    mem = mstls_mem_default();
  }
  c = mstls_mem_calloc(mem, 1, sizeof(*c));
  if (!c) {
    return MSTLS_E_NOMEM;
  }
  c->mem = mem;
  c->refs = 1;
  if (gnutls_certificate_allocate_credentials(&c->x509) < 0) {
    mstls_mem_free(mem, c);
    return MSTLS_E_NOMEM;
  }
  /* A random ticket key per credentials object; servers sharing one
   * credentials object (or the same key) resume each other's sessions. */
  if (gnutls_rnd(GNUTLS_RND_KEY, c->ticket_key_buf, sizeof(c->ticket_key_buf)) <
      0) {
    gnutls_certificate_free_credentials(c->x509);
    mstls_mem_free(mem, c);
    return MSTLS_E_TLS;
  }
  c->ticket_key.data = c->ticket_key_buf;
  c->ticket_key.size = sizeof(c->ticket_key_buf);
  mstls_scache_init(&c->scache, mem);
  *pcred = c;
  return 0;
}

mstls_credentials *mstls_credentials_ref(mstls_credentials *cred) {
  if (cred) {
    __atomic_add_fetch(&cred->refs, 1, __ATOMIC_RELAXED);
  }
  return cred;
}

void mstls_credentials_del(mstls_credentials *cred) {
  if (!cred || __atomic_sub_fetch(&cred->refs, 1, __ATOMIC_ACQ_REL) != 0) {
    return;
  }
  gnutls_certificate_free_credentials(cred->x509);
  gnutls_memset(cred->ticket_key_buf, 0, sizeof(cred->ticket_key_buf));
  if (cred->psk_client) {
    gnutls_psk_free_client_credentials(cred->psk_client);
  }
  if (cred->psk_server) {
    gnutls_psk_free_server_credentials(cred->psk_server);
  }
  if (cred->psk) {
    gnutls_memset(cred->psk, 0, cred->psk_cap * sizeof(*cred->psk));
    mstls_mem_free(cred->mem, cred->psk);
  }
  mstls_scache_free(&cred->scache);
  mstls_mem_free(cred->mem, cred);
}

static int creds_map(int grv) {
  if (grv == GNUTLS_E_MEMORY_ERROR) {
    return MSTLS_E_NOMEM;
  }
  return grv < 0 ? MSTLS_E_CREDENTIALS : 0;
}

/* A certificate and its key were added: GnuTLS numbers key pairs in the
 * order they were loaded. */
static void creds_added_cert(mstls_credentials *cred) {
  if (!cred->have_cert) {
    cred->have_cert = 1;
    cred->cert_index = cred->nkeys;
  }
  cred->nkeys++;
}

int mstls_credentials_set_key_file(mstls_credentials *cred,
                                   const char *cert_file,
                                   const char *key_file) {
  int rv;
  if (!cred || !cert_file || !key_file) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  rv = gnutls_certificate_set_x509_key_file(cred->x509, cert_file, key_file,
                                            GNUTLS_X509_FMT_PEM);
  if (rv < 0) {
    return creds_map(rv);
  }
  cred->have_key = 1;
  creds_added_cert(cred);
  return 0;
}

int mstls_credentials_set_key_mem(mstls_credentials *cred, const char *cert_pem,
                                  size_t cert_len, const char *key_pem,
                                  size_t key_len) {
  gnutls_datum_t c, k;
  int rv;
  if (!cred || !cert_pem || !key_pem || !cert_len || !key_len ||
      cert_len > UINT32_MAX || key_len > UINT32_MAX) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  c.data = (unsigned char *)(uintptr_t)cert_pem;
  c.size = (unsigned)cert_len;
  k.data = (unsigned char *)(uintptr_t)key_pem;
  k.size = (unsigned)key_len;
  rv = gnutls_certificate_set_x509_key_mem(cred->x509, &c, &k,
                                           GNUTLS_X509_FMT_PEM);
  if (rv < 0) {
    return creds_map(rv);
  }
  cred->have_key = 1;
  creds_added_cert(cred);
  return 0;
}

int mstls_credentials_set_self_signed(mstls_credentials *cred,
                                      const char *name) {
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  uint8_t serial[16];
  time_t now = time(NULL);
  int rv;

  if (!cred || !name || !*name) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if ((rv = gnutls_x509_privkey_init(&key)) < 0 ||
      (rv = gnutls_x509_privkey_generate(
           key, GNUTLS_PK_ECDSA,
           GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0 ||
      (rv = gnutls_x509_crt_init(&crt)) < 0 ||
      (rv = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
      (rv = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial))) < 0) {
    goto out;
  }
  serial[0] &= 0x7f; /* a positive serial number */
  if ((rv = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
      (rv = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
      (rv = gnutls_x509_crt_set_expiration_time(crt, now + 86400)) < 0 ||
      (rv = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                          name, (unsigned)strlen(name))) < 0 ||
      (rv = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
                                                 (unsigned)strlen(name),
                                                 GNUTLS_FSAN_SET)) < 0 ||
      (rv = gnutls_x509_crt_set_key(crt, key)) < 0 ||
      (rv = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
      (rv = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) <
          0 ||
      (rv = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER,
                                                0)) < 0 ||
      (rv = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT,
                                                0)) < 0 ||
      (rv = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0 ||
      (rv = gnutls_certificate_set_x509_key(cred->x509, &crt, 1, key)) < 0) {
    goto out;
  }
  cred->have_key = 1;
  creds_added_cert(cred);
out:
  if (crt) {
    gnutls_x509_crt_deinit(crt);
  }
  if (key) {
    gnutls_x509_privkey_deinit(key);
  }
  return creds_map(rv);
}

int mstls_credentials_get_cert_pem(mstls_credentials *cred, char *buf,
                                   size_t *plen) {
  gnutls_datum_t der, pem;
  int rv;
  if (!cred || !plen) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (!cred->have_cert || gnutls_certificate_get_crt_raw(
                              cred->x509, cred->cert_index, 0, &der) < 0) {
    return MSTLS_E_INVALID_STATE;
  }
  rv = gnutls_pem_base64_encode2("CERTIFICATE", &der, &pem);
  if (rv < 0) {
    return creds_map(rv);
  }
  if (!buf || *plen < (size_t)pem.size + 1) {
    *plen = (size_t)pem.size + 1;
    gnutls_free(pem.data);
    return MSTLS_E_MSG_SIZE;
  }
  memcpy(buf, pem.data, pem.size);
  buf[pem.size] = '\0';
  *plen = (size_t)pem.size + 1;
  gnutls_free(pem.data);
  return 0;
}

int mstls_credentials_set_trust_file(mstls_credentials *cred,
                                     const char *ca_file) {
  int rv;
  if (!cred || !ca_file) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  rv = gnutls_certificate_set_x509_trust_file(cred->x509, ca_file,
                                              GNUTLS_X509_FMT_PEM);
  if (rv <= 0) {
    return rv == GNUTLS_E_MEMORY_ERROR ? MSTLS_E_NOMEM : MSTLS_E_CREDENTIALS;
  }
  cred->have_trust = 1;
  return 0;
}

int mstls_credentials_set_trust_mem(mstls_credentials *cred, const char *pem,
                                    size_t len) {
  gnutls_datum_t d;
  int rv;
  if (!cred || !pem || !len || len > UINT32_MAX) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  d.data = (unsigned char *)(uintptr_t)pem;
  d.size = (unsigned)len;
  rv = gnutls_certificate_set_x509_trust_mem(cred->x509, &d,
                                             GNUTLS_X509_FMT_PEM);
  if (rv <= 0) {
    return rv == GNUTLS_E_MEMORY_ERROR ? MSTLS_E_NOMEM : MSTLS_E_CREDENTIALS;
  }
  cred->have_trust = 1;
  return 0;
}

int mstls_credentials_set_system_trust(mstls_credentials *cred) {
  int rv;
  if (!cred) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  rv = gnutls_certificate_set_x509_system_trust(cred->x509);
  if (rv <= 0) {
    return rv == GNUTLS_E_MEMORY_ERROR ? MSTLS_E_NOMEM : MSTLS_E_CREDENTIALS;
  }
  cred->have_trust = 1;
  return 0;
}

int mstls_credentials_set_ticket_key(mstls_credentials *cred,
                                     const uint8_t *key, size_t len) {
  if (!cred || !key || len != MSTLS_TICKET_KEY_SIZE) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  memcpy(cred->ticket_key_buf, key, len);
  return 0;
}

/* ---- raw public keys (RFC 7250) ------------------------------------------ */

static int creds_datum(gnutls_datum_t *d, const char *p, size_t len) {
  if (p == NULL || len == 0 || len > UINT32_MAX) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  d->data = (unsigned char *)(uintptr_t)p;
  d->size = (unsigned)len;
  return 0;
}

int mstls_credentials_set_rawpk_mem(mstls_credentials *cred,
                                    const char *pubkey_pem, size_t pubkey_len,
                                    const char *key_pem, size_t key_len) {
  gnutls_privkey_t priv = NULL;
  gnutls_pubkey_t pub = NULL;
  gnutls_datum_t k, p, der = {NULL, 0}, pem = {NULL, 0};
  int rv;

  if (!cred || creds_datum(&k, key_pem, key_len) < 0 ||
      (pubkey_pem == NULL && pubkey_len != 0) ||
      (pubkey_pem != NULL && creds_datum(&p, pubkey_pem, pubkey_len) < 0)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if ((rv = gnutls_privkey_init(&priv)) < 0 ||
      (rv = gnutls_pubkey_init(&pub)) < 0 ||
      (rv = gnutls_privkey_import_x509_raw(priv, &k, GNUTLS_X509_FMT_PEM, NULL,
                                           0)) < 0) {
    goto out;
  }
  /* Without a public key, the private key's public half. */
  rv = pubkey_pem ? gnutls_pubkey_import(pub, &p, GNUTLS_X509_FMT_PEM)
                  : gnutls_pubkey_import_privkey(pub, priv, 0, 0);
  if (rv < 0 ||
      (rv = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der)) < 0 ||
      (rv = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &pem)) < 0) {
    goto out;
  }
  /* GnuTLS checks that the public key belongs to the private key. */
  rv = gnutls_certificate_set_rawpk_key_mem(
      cred->x509, &pem, &k, GNUTLS_X509_FMT_PEM, NULL, 0, NULL, 0, 0);
  if (rv < 0) {
    goto out;
  }
  if ((rv = gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size,
                             cred->rawpk_sha256)) < 0) {
    goto out;
  }
  cred->have_rawpk = 1;
  cred->have_key = 1;
  cred->nkeys++;
out:
  gnutls_free(der.data);
  gnutls_free(pem.data);
  gnutls_pubkey_deinit(pub);
  gnutls_privkey_deinit(priv);
  return creds_map(rv);
}

int mstls_credentials_set_rawpk_file(mstls_credentials *cred,
                                     const char *pubkey_file,
                                     const char *key_file) {
  gnutls_datum_t pub = {NULL, 0}, key = {NULL, 0};
  int rv;

  if (!cred || !key_file) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if ((rv = gnutls_load_file(key_file, &key)) < 0 ||
      (pubkey_file && (rv = gnutls_load_file(pubkey_file, &pub)) < 0)) {
    rv = creds_map(rv);
  } else if (key.size == 0 || (pubkey_file && pub.size == 0)) {
    rv = MSTLS_E_CREDENTIALS;
  } else {
    rv = mstls_credentials_set_rawpk_mem(cred, (const char *)pub.data, pub.size,
                                         (const char *)key.data, key.size);
  }
  if (key.data) {
    gnutls_memset(key.data, 0, key.size);
  }
  gnutls_free(key.data);
  gnutls_free(pub.data);
  return rv;
}

int mstls_credentials_get_rawpk_sha256(mstls_credentials *cred,
                                       uint8_t out[MSTLS_SHA256_LEN]) {
  if (!cred || !out) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (!cred->have_rawpk) {
    return MSTLS_E_INVALID_STATE;
  }
  memcpy(out, cred->rawpk_sha256, MSTLS_SHA256_LEN);
  return 0;
}

gnutls_certificate_credentials_t
mstls_credentials_get_gnutls(mstls_credentials *cred) {
  return cred ? cred->x509 : NULL;
}

int mstls_credentials_set_session_cache(mstls_credentials *cred,
                                        uint32_t max_entries,
                                        uint32_t lifetime_seconds) {
  if (!cred || (max_entries && !lifetime_seconds)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  return mstls_scache_configure(&cred->scache, max_entries, lifetime_seconds);
}

int mstls_credentials_get_session_cache_stats(
    mstls_credentials *cred, mstls_session_cache_stats *stats) {
  if (!cred || !stats) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  mstls_scache_get_stats(&cred->scache, stats);
  return 0;
}

/* ---- pre-shared keys ----------------------------------------------------- */

/* GnuTLS asks a server for the key of @p username: the credentials are
 * those of the channel the session belongs to. */
static int creds_psk_lookup(gnutls_session_t tls,
                            const gnutls_datum_t *username,
                            gnutls_datum_t *key) {
  const mstls_channel *ch = gnutls_session_get_ptr(tls);
  const mstls_credentials *c = ch ? ch->psk_cred : NULL;
  size_t i;

  if (c == NULL) {
    return -1;
  }
  for (i = 0; i < c->npsk; i++) {
    const mstls_psk_entry *e = &c->psk[i];
    if (strlen(e->identity) == username->size &&
        memcmp(e->identity, username->data, username->size) == 0) {
      key->data = gnutls_malloc(e->keylen);
      if (key->data == NULL) {
        return -1;
      }
      memcpy(key->data, e->key, e->keylen);
      key->size = (unsigned)e->keylen;
      return 0;
    }
  }
  return -1; /* unknown identity: the handshake fails */
}

int mstls_credentials_add_psk(mstls_credentials *cred, const char *identity,
                              const uint8_t *key, size_t keylen) {
  size_t idlen, i;
  mstls_psk_entry *e;

  if (!cred || !identity || !key || keylen < MSTLS_PSK_KEY_MIN ||
      keylen > MSTLS_PSK_KEY_MAX) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  idlen = strlen(identity);
  if (idlen == 0 || idlen > MSTLS_PSK_IDENTITY_MAX) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  for (i = 0; i < cred->npsk; i++) {
    if (strcmp(cred->psk[i].identity, identity) == 0) {
      return MSTLS_E_INVALID_ARGUMENT;
    }
  }
  if (cred->npsk == cred->psk_cap) {
    size_t cap = cred->psk_cap ? cred->psk_cap * 2 : 4;
    mstls_psk_entry *n = mstls_mem_calloc(cred->mem, cap, sizeof(*n));
    if (!n) {
      return MSTLS_E_NOMEM;
    }
    if (cred->psk) {
      memcpy(n, cred->psk, cred->npsk * sizeof(*n));
      gnutls_memset(cred->psk, 0, cred->psk_cap * sizeof(*cred->psk));
      mstls_mem_free(cred->mem, cred->psk);
    }
    cred->psk = n;
    cred->psk_cap = cap;
  }
  if (!cred->psk_server) {
    if (gnutls_psk_allocate_server_credentials(&cred->psk_server) < 0) {
      return MSTLS_E_NOMEM;
    }
    gnutls_psk_set_server_credentials_function2(cred->psk_server,
                                                creds_psk_lookup);
  }
  if (!cred->psk_client) {
    gnutls_datum_t id = {(unsigned char *)(uintptr_t)identity, (unsigned)idlen};
    gnutls_datum_t k = {(unsigned char *)(uintptr_t)key, (unsigned)keylen};
    int rv;
    if (gnutls_psk_allocate_client_credentials(&cred->psk_client) < 0) {
      return MSTLS_E_NOMEM;
    }
    rv = gnutls_psk_set_client_credentials2(cred->psk_client, &id, &k,
                                            GNUTLS_PSK_KEY_RAW);
    if (rv < 0) {
      gnutls_psk_free_client_credentials(cred->psk_client);
      cred->psk_client = NULL;
      return creds_map(rv);
    }
  }
  e = &cred->psk[cred->npsk++];
  memcpy(e->identity, identity, idlen + 1);
  memcpy(e->key, key, keylen);
  e->keylen = keylen;
  return 0;
}

int mstls_creds_attach_psk(mstls_credentials *cred, gnutls_session_t tls,
                           int server) {
  if (cred->npsk == 0) {
    return 0;
  }
  return server ? gnutls_credentials_set(tls, GNUTLS_CRD_PSK, cred->psk_server)
                : gnutls_credentials_set(tls, GNUTLS_CRD_PSK, cred->psk_client);
}
