/* Shared parts of the DTLS-over-UDP benchmarks that drive real sockets
 * (bench_udp, hs_rate_udp, attack_udp): plain GnuTLS DTLS 1.2 clients,
 * each handshake on a new connected non-blocking socket, driven many at
 * a time; and the mstls tool started as the server process. GnuTLS and
 * libc only: hs_rate_udp does not link the library. */
#ifndef BENCHUDP_H
#define BENCHUDP_H

#include <netinet/in.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>

/* Clients one bench_dtls_run_clients() call drives at most. */
#define BENCH_DTLS_MAXC 600

typedef struct bench_dtls_client {
  int fd;
  gnutls_session_t s;
  int busy; /* 1 handshaking, 2 established and held open */
} bench_dtls_client;

/* A run of client handshakes: the caller fills what it asks for and
 * zeroes the counters. */
typedef struct bench_dtls_run {
  const struct sockaddr_in *srv;         /* the server */
  gnutls_priority_t prio;                /* the clients' */
  gnutls_certificate_credentials_t cred; /* the clients' */
  long total;                            /* handshakes to start */
  int hold;      /* keep completed sessions open (busy 2) instead of
                  * closing them and starting the next handshake */
  unsigned nsrc; /* > 0: bind each socket to 127.0.1.1 + (next_src++ %
                  * nsrc) first, so that a server's per-source rate
                  * limit does not bind; 0: no bind */
  unsigned next_src;
  double seconds;             /* bound on the run */
  long started, done, failed; /* counters */
} bench_dtls_run;

/* Run @p r: @p conc (1..BENCH_DTLS_MAXC) handshakes in flight on the
 * clients @p cl, each one that ends replaced by a new one until
 * r->total were started and have ended, or r->seconds have passed. The
 * clients still busy at the end are closed unless r->hold. */
void bench_dtls_run_clients(bench_dtls_run *r, bench_dtls_client *cl, int conc);
/* Close one client, with close_notify when @p bye. */
void bench_dtls_client_end(bench_dtls_client *c, int bye);

/* Start the mstls tool @p tool (argv[0] "mstls", then @p args, NULL-
 * terminated) with its stderr on a pipe, and read that until it says
 * "listening on" (10 s at most). *pid and *err_fd receive the child and
 * the pipe's read end. @return 0, or -1 (what it said is printed after
 * @p who). */
int bench_tool_start(const char *who, const char *tool,
                     const char *const args[], pid_t *pid, int *err_fd);

#endif
