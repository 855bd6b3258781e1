#ifndef MSTLS_CREDS_H
#define MSTLS_CREDS_H

#include <mstls/mstls.h>

#include "scache.h"

struct mstls_credentials {
  const mstls_mem *mem;
  gnutls_certificate_credentials_t x509;
  uint8_t ticket_key_buf[MSTLS_TICKET_KEY_SIZE];
  gnutls_datum_t ticket_key;
  int have_key;        /* a certificate and key are loaded */
  int have_trust;      /* at least one trust anchor is loaded */
  mstls_scache scache; /* TLS 1.2 session-ID resumption (servers) */
};

#endif
