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

#endif
