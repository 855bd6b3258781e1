/* The TLS options every subcommand of the tool shares: --alpn, --keylog,
 * --pin (mstls_tls_options on the public API). */
#ifndef MSTLS_TOOL_TLS_H
#define MSTLS_TOOL_TLS_H

#include <stdio.h>

#include <mstls/mstls.h>

#include "tool_args.h"

#define TOOL_MAX_PINS 8

typedef struct tool_tls {
  const char *alpn;   /* comma-separated protocols, or NULL */
  const char *keylog; /* file for NSS key-log lines, or NULL */
  uint8_t pins[TOOL_MAX_PINS][MSTLS_SHA256_LEN];
  size_t npins;
  /* --psk IDENTITY:HEXKEY (several on a server: comma separated) */
  char psk_id[TOOL_MAX_PINS][MSTLS_PSK_IDENTITY_MAX + 1];
  uint8_t psk_key[TOOL_MAX_PINS][MSTLS_PSK_KEY_MAX];
  size_t psk_len[TOOL_MAX_PINS];
  size_t npsk;
  const char *rawpk; /* --rawpk: private key file of a raw public key */
  int log_level;     /* --log-level: an mstls_log_level (0: off) */
} tool_tls;

/* The help lines of the three options. */
#define TOOL_TLS_HELP                                                          \
  "  --alpn LIST   ALPN protocols, comma separated (a client offers them,\n"   \
  "                a server picks the first of its list the client offered)\n" \
  "  --keylog FILE append the TLS secrets of every connection in NSS "         \
  "key-log\n"                                                                  \
  "                format (for Wireshark/tshark; SSLKEYLOGFILE works too)\n"   \
  "  --pin SHA256  accept the peer only if its certificate has this SHA-256\n" \
  "                fingerprint (64 hex digits, ':' between pairs allowed;\n"   \
  "                several: comma separated); no CA or name check then\n"      \
  "  --psk ID:HEXKEY  a pre-shared key (16..64 bytes in hex) under identity\n" \
  "                ID; a server accepts several, comma separated\n"            \
  "  --rawpk FILE  negotiate raw public keys (RFC 7250) and present the key\n" \
  "                of this PEM private key file (its pin is printed); the\n"   \
  "                peer's raw key is accepted only when --pin names it\n"      \
  "  --log-level error|info|debug  mstls's log on stderr: failures, and\n"     \
  "                handshakes, closes, drops and SCTP events, and GnuTLS's\n"  \
  "                own log (default: off)\n"

/* Take one of --alpn, --keylog, --pin, --psk, --rawpk, --log-level (@p
 * opt) with value @p val. 0 or -1 (err says why). */
int tool_tls_parse(tool_tls *t, const char *opt, const char *val,
                   tool_err *err);

/* Add the --psk keys and the --rawpk key (printing its pin) to @p cred.
 * 0, or -1 after printing why. */
int tool_tls_add_psk(const tool_tls *t, mstls_credentials *cred);

/* Fill @p o from @p t; opens the key-log file into *@p pf and writes
 * every key-log line there (o->user_data is that file); turns on
 * --log-level. 0, or -1 after printing why. */
int tool_tls_apply(const tool_tls *t, mstls_tls_options *o, FILE **pf);

/* Close the key-log file, if open. */
void tool_tls_close(FILE **pf);

/* Trust the CA certificates of @p ca in @p cred (a server checking
 * client certificates). 0, or -1 after printing why. */
int tool_add_trust(mstls_credentials *cred, const char *ca);

#endif
