/* Pieces shared by the tool's subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

void tool_print_stream_table(mstls_session *session) {
  uint32_t n = mstls_session_get_nstreams(session);
  uint32_t i;
  printf("%-7s %-10s %-18s %-8s %12s %12s\n", "stream", "version", "cipher",
         "resumed", "bytes out", "bytes in");
  for (i = 0; i < n; i++) {
    mstls_stream_info info;
    if (mstls_stream_get_info(session, (uint16_t)i, &info) < 0 ||
        info.state == MSTLS_STREAM_IDLE) {
      continue;
    }
    if (info.state == MSTLS_STREAM_FAILED) {
      printf("%-7u failed: %s\n", i, mstls_strerror(info.error));
      continue;
    }
    printf("%-7u %-10s %-18s %-8s %12llu %12llu\n", i, info.version,
           info.cipher, info.resumed ? "yes" : "no",
           (unsigned long long)info.bytes_sent,
           (unsigned long long)info.bytes_received);
  }
}

int tool_server_credentials(mstls_credentials **pcred, const char *cert,
                            const char *key, const char *name) {
  mstls_credentials *c;
  int rv = mstls_credentials_new(&c, NULL);
  if (rv < 0) {
    return rv;
  }
  if (cert || key) {
    if (!cert || !key) {
      fprintf(stderr, "mstls: --cert and --key go together\n");
      mstls_credentials_del(c);
      return MSTLS_E_INVALID_ARGUMENT;
    }
    rv = mstls_credentials_set_key_file(c, cert, key);
  } else {
    rv = mstls_credentials_set_self_signed(c, name ? name : "localhost");
  }
  if (rv < 0) {
    fprintf(stderr, "mstls: server credentials: %s\n", mstls_strerror(rv));
    mstls_credentials_del(c);
    return rv;
  }
  *pcred = c;
  return 0;
}

int tool_client_credentials(mstls_credentials **pcred, const char *ca,
                            const char *cert, const char *key) {
  mstls_credentials *c;
  int rv = mstls_credentials_new(&c, NULL);
  if (rv < 0) {
    return rv;
  }
  if (ca) {
    rv = mstls_credentials_set_trust_file(c, ca);
    if (rv < 0) {
      fprintf(stderr, "mstls: --ca %s: %s\n", ca, mstls_strerror(rv));
    }
  }
  if (rv >= 0 && (cert || key)) {
    if (!cert || !key) {
      fprintf(stderr, "mstls: --cert and --key go together\n");
      rv = MSTLS_E_INVALID_ARGUMENT;
    } else {
      rv = mstls_credentials_set_key_file(c, cert, key);
      if (rv < 0) {
        fprintf(stderr, "mstls: client certificate: %s\n", mstls_strerror(rv));
      }
    }
  }
  if (rv < 0) {
    mstls_credentials_del(c);
    return rv;
  }
  *pcred = c;
  return 0;
}
