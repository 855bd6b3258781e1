/* mstls sctp-server / sctp-client: what the option parser (tool_sctp.c)
 * shares with the server's event loop (tool_sctp_serve.c). */
#ifndef MSTLS_TOOL_SCTP_H
#define MSTLS_TOOL_SCTP_H

#include <stddef.h>
#include <stdint.h>

#include <mstls/sctp.h>

/* Server defaults (mstls sctp-server --help, docs/sctp.md). */
#define TSCTP_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000u
#define TSCTP_DEFAULT_MAX_ASSOCS 1024u
#define TSCTP_DEFAULT_ECHO_BACKLOG ((uint32_t)256 << 10)
#define TSCTP_DEFAULT_STALL_TIMEOUT_MS 10000u
/* Highest --max-assocs: the loop's association ids keep 17 bits for the
 * slot. */
#define TSCTP_MAX_ASSOCS_LIMIT 65536u

typedef struct tsctp_opts {
  char hostbuf[256];
  const char *host;
  uint16_t port;
  uint16_t udp_port; /* usrsctp: local UDP encapsulation port */
  uint16_t streams;
  mstls_policy policy;
  mstls_sctp_backend backend;
  int echo;
  int insecure;
  int once;
  uint16_t stream;
  uint32_t linger_ms; /* client: wait for replies after stdin ends */
  const char *cert;
  const char *key;
  const char *ca;
  const char *name;
  /* server */
  uint32_t handshake_timeout_ms; /* whole handshake of an association */
  uint32_t max_assocs;           /* associations served at once */
  uint32_t echo_backlog;     /* bytes queued for a peer that does not read */
  uint32_t stall_timeout_ms; /* queued data untaken this long: abort */
  uint16_t backlog;          /* listen backlog (unaccepted associations) */
} tsctp_opts;

/* The SCTP configuration both sides start from. */
void tool_sctp_config(mstls_sctp_config *cfg, const tsctp_opts *o);

/* Start the usrsctp stack when that is the backend. 0 or an error. */
int tool_sctp_stack(const tsctp_opts *o);

/* The server: one event loop for every association. Exit code. */
int tool_sctp_serve(const tsctp_opts *o);

#endif
