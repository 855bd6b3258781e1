/* Test PKI: a CA, a server certificate for a name, a client certificate,
 * and an unrelated CA, all generated in memory (ECDSA P-256). */
#ifndef TEST_CERTS_H
#define TEST_CERTS_H

#include <mstls/mstls.h>

typedef struct test_pki {
  char *ca_pem;
  char *other_ca_pem; /* a CA that signed nothing here */
  char *server_cert_pem;
  char *server_key_pem;
  char *client_cert_pem;
  char *client_key_pem;
} test_pki;

/* Build once per process; returns the shared PKI (server name
 * "server.test"), or NULL on failure. */
const test_pki *test_pki_get(void);

/* Server credentials with the server certificate; trusts the CA (for
 * client certificates). NULL on failure. */
mstls_credentials *test_server_creds(const mstls_mem *mem);
/* Client credentials trusting @p ca_pem (NULL: the test CA), with the client
 * certificate when @p with_cert. */
mstls_credentials *test_client_creds(const mstls_mem *mem, const char *ca_pem,
                                     int with_cert);

/* Raw public keys (RFC 7250). A new ECDSA P-256 private key in PEM, and
 * the PEM public key of a private key (free() both; NULL on failure). */
char *test_new_key_pem(void);
char *test_pubkey_pem(const char *key_pem);
/* Load @p key_pem as the raw public key of @p c and copy its pin (SPKI
 * SHA-256) to @p pin (NULL: not wanted). @return @p c, or NULL (and @p c
 * freed) on failure. */
mstls_credentials *test_add_rawpk(mstls_credentials *c, const char *key_pem,
                                  uint8_t pin[MSTLS_SHA256_LEN]);

#endif
