/* Session pairs for the benchmarks, all in one process and in memory:
 * two plain GnuTLS sessions over a byte pipe (the baselines), and an
 * mstls client and server session over the memlink (tests/helpers). */
#ifndef BENCHPAIR_H
#define BENCHPAIR_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include "memlink.h"

#define BENCH_SERVER_NAME "server.test"
/* The library's default priority, used for the baselines as well. */
#define BENCH_PRIO_DEFAULT "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Process CPU time in seconds (CLOCK_PROCESS_CPUTIME_ID). */
double bench_cpu_now(void);
/* Print what failed with @p rv read as an mstls and a GnuTLS code, exit. */
__attribute__((noreturn)) void bench_die(const char *what, int rv);

/* Credentials of both kinds of pair: the test PKI's (server "server.test",
 * a client trusting its CA); the plain pairs use their GnuTLS handles. */
extern mstls_credentials *bench_ccred, *bench_scred;
void bench_creds_init(void);
void bench_creds_free(void);

/* ------------------------------------------------------------------------
 * Plain GnuTLS over an in-memory byte pipe
 * ---------------------------------------------------------------------- */

typedef struct pipe_buf {
  unsigned char *data;
  size_t cap, head, tail; /* bytes [head, tail) are waiting */
} pipe_buf;

typedef struct pipe_end {
  gnutls_session_t tls;
  pipe_buf *in;
  pipe_buf *out;
} pipe_end;

typedef struct plain_pair {
  pipe_buf c2s, s2c;
  pipe_end client, server;
} plain_pair;

/* Both sessions with the bench credentials and @p prio; the client
 * verifies the server as an mstls client does. */
void plain_pair_init(plain_pair *p, gnutls_priority_t prio);
/* Drive both handshakes to the end. */
void plain_pair_handshake(plain_pair *p);
/* Free the pipe's buffers when nothing waits in them (a held pair then
 * keeps only its sessions). */
void plain_pair_drop_buffers(plain_pair *p);
void plain_pair_deinit(plain_pair *p);

/* ------------------------------------------------------------------------
 * mstls session pair over the memlink
 * ---------------------------------------------------------------------- */

typedef struct ms_pair {
  memlink *link;
  mstls_session *client, *server;
} ms_pair;

typedef struct ms_pair_opts {
  uint32_t nstreams;
  mstls_policy policy;
  uint32_t flags;                 /* MSTLS_SETTINGS_* of both sides */
  const char *priority;           /* NULL: the library's default */
  mstls_stream_event_cb on_event; /* client's; NULL: none */
  const uint8_t *resumption_data; /* client; NULL: none */
  size_t resumption_data_len;
} ms_pair_opts;

void ms_pair_new(ms_pair *p, const ms_pair_opts *o);
void ms_pair_free(ms_pair *p);
/* Deliver one message, or run the timers when nothing is in flight.
 * @return 0 when stuck (nothing in flight and no timer). */
int ms_step(ms_pair *p);
/* The client's mstls_session_handshake() driven to its end over the link,
 * then everything in flight delivered (the server's last work too). */
void ms_pair_handshake(ms_pair *p);

#endif
