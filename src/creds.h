#ifndef MSTLS_CREDS_H
#define MSTLS_CREDS_H

#include <mstls/mstls.h>

#include "scache.h"

/* One pre-shared key (mstls_credentials_add_psk()). */
typedef struct mstls_psk_entry {
  char identity[MSTLS_PSK_IDENTITY_MAX + 1];
  uint8_t key[MSTLS_PSK_KEY_MAX];
  size_t keylen;
} mstls_psk_entry;

struct mstls_credentials {
  const mstls_mem *mem;
  gnutls_certificate_credentials_t x509;
  uint8_t ticket_key_buf[MSTLS_TICKET_KEY_SIZE];
  gnutls_datum_t ticket_key;
  int have_key;        /* a certificate or a raw public key is loaded */
  int have_cert;       /* a certificate and its key are loaded */
  int have_rawpk;      /* a raw public key and its key are loaded */
  unsigned nkeys;      /* key pairs loaded (GnuTLS's index of the next) */
  unsigned cert_index; /* GnuTLS's index of the first certificate */
  uint8_t rawpk_sha256[MSTLS_SHA256_LEN]; /* of the raw key's SPKI */
  int have_trust;      /* at least one trust anchor is loaded */
  mstls_scache scache; /* TLS 1.2 session-ID resumption (servers) */
  /* Pre-shared keys: a client offers the first, a server looks up any. */
  mstls_psk_entry *psk;
  size_t npsk, psk_cap;
  gnutls_psk_client_credentials_t psk_client;
  gnutls_psk_server_credentials_t psk_server;
  unsigned refs; /* atomic; the creator's reference is 1 */
};

/* The priority-string addition that enables the PSK key exchanges. */
#define MSTLS_PRIORITY_PSK ":+ECDHE-PSK:+PSK"
/* The priority-string addition that negotiates raw public keys (RFC
 * 7250) before X.509 for both certificate types; GNUTLS_ENABLE_RAWPK must
 * be given to gnutls_init as well. */
#define MSTLS_PRIORITY_RAWPK ":-CTYPE-ALL:+CTYPE-RAWPK:+CTYPE-X509"

/* Attach the PSK credentials (if any) to a new session whose pointer is
 * (or will be, before the handshake) its mstls_channel. 0 or a GnuTLS
 * error. */
int mstls_creds_attach_psk(mstls_credentials *cred, gnutls_session_t tls,
                           int server);

#endif
