/* mstls sctp-server / sctp-client: what the option parser (tool_sctp.c)
 * shares with the server's event loop (tool_sctp_serve.c). */
#ifndef MSTLS_TOOL_SCTP_H
#define MSTLS_TOOL_SCTP_H

#include <stddef.h>
#include <stdint.h>

#include <mstls/sctp.h>

#include "tool_args.h"
#include "tool_tls.h"

/* Server defaults (mstls sctp-server --help, docs/sctp.md). */
#define TSCTP_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000u
#define TSCTP_DEFAULT_MAX_ASSOCS 1024u
#define TSCTP_DEFAULT_ECHO_BACKLOG ((uint32_t)256 << 10)
#define TSCTP_DEFAULT_STALL_TIMEOUT_MS 10000u
/* Highest --max-assocs: the loop's association ids keep 17 bits for the
 * slot. */
#define TSCTP_MAX_ASSOCS_LIMIT 65536u
/* Most --workers (processes) sctp-server takes, as dtls-server. */
#define TSCTP_WORKERS_MAX 256u

/* --profile: where the SCTP tunables start from. */
typedef enum tsctp_profile {
  TSCTP_PROFILE_DEFAULT = 0, /* the stack's own values */
  TSCTP_PROFILE_FAILOVER     /* mstls_sctp_config_failover() */
} tsctp_profile;

/* The SCTP tunables of the command line: the profile, then each option
 * given on top of it (0: not given, the profile's value stays). */
typedef struct tsctp_tune {
  tsctp_profile profile;
  uint32_t rto_initial_ms;
  uint32_t rto_min_ms;
  uint32_t rto_max_ms;
  uint16_t assoc_max_retrans;
  uint16_t path_max_retrans;
  uint32_t heartbeat_ms;
  uint16_t init_attempts;
  uint16_t init_timeout_ms;
  uint32_t sack_delay_ms;
  int nagle;
} tsctp_tune;

/* Option ids of the tunables, after those of tool_sctp.c's own table. */
enum {
  TSCTP_PROFILE = 64,
  TSCTP_RTO_INITIAL,
  TSCTP_RTO_MIN,
  TSCTP_RTO_MAX,
  TSCTP_ASSOC_MAX_RETRANS,
  TSCTP_PATH_MAX_RETRANS,
  TSCTP_HEARTBEAT,
  TSCTP_INIT_ATTEMPTS,
  TSCTP_INIT_TIMEOUT,
  TSCTP_SACK_DELAY,
  TSCTP_NAGLE
};

typedef struct tsctp_opts {
  char hostbuf[256];
  const char *host;
  uint16_t port;
  uint16_t udp_port;   /* usrsctp: local UDP encapsulation port */
  uint32_t udp_buffer; /* usrsctp: its UDP sockets' buffers, bytes */
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
  const char *bind; /* client: local addresses, comma-separated */
  tsctp_tune tune;
  tool_tls tls; /* --alpn, --keylog, --pin, --psk */
  /* server */
  uint32_t handshake_timeout_ms; /* whole handshake of an association */
  uint32_t max_assocs;           /* associations served at once */
  uint32_t echo_backlog;     /* bytes queued for a peer that does not read */
  uint32_t stall_timeout_ms; /* queued data untaken this long: abort */
  uint16_t backlog;          /* listen backlog (unaccepted associations) */
  /* Server: --workers N (processes, each with its own SO_REUSEPORT
   * listener; kernel SCTP only), --fleet-secret FILE (the ticket key). */
  uint32_t workers;
  const char *fleet_secret;
  /* Client: --session FILE (resumption data kept between runs). */
  const char *session;
} tsctp_opts;

/* The SCTP configuration both sides start from: backend, streams, the
 * profile and the tunables, the local addresses. */
void tool_sctp_config(mstls_sctp_config *cfg, const tsctp_opts *o);

/* Tunables (tool_sctp_tune.c). The value of option @p id (TSCTP_PROFILE
 * .. TSCTP_NAGLE; NULL for --nagle) into @p t: 0 or -1 (err says why). */
int tool_sctp_tune_parse(int id, const char *v, tsctp_tune *t, tool_err *err);
/* Once every option is in: the RTOs the stack will use, given, from the
 * profile or its defaults, in order (RTO.Min <= RTO.Initial <= RTO.Max).
 * 0 or -1 (err names the options). */
int tool_sctp_tune_check(const tsctp_tune *t, tool_err *err);
/* Set the profile, then the tunables given, on @p cfg. */
void tool_sctp_tune_apply(mstls_sctp_config *cfg, const tsctp_tune *t);
/* Milliseconds a connect with @p cfg to @p naddrs peer addresses where
 * nothing answers takes to give up: one INIT timeout per INIT sent (the
 * first and init_max_attempts retransmissions), from RTO.Initial,
 * doubling after each round over the addresses, up to the INIT timeout
 * cap (and RTO.Max on usrsctp: cfg->backend), with the stacks' defaults
 * for what is 0. */
uint64_t tool_sctp_giveup_ms(const mstls_sctp_config *cfg, size_t naddrs);
/* @p ms for people: "2.4 s", or whole minutes from 2 minutes up. */
void tool_sctp_duration(char *buf, size_t len, uint64_t ms);
/* The words for a path event ("unreachable", "confirmed"...), or NULL
 * when @p ev is no path event. */
const char *tool_sctp_path_event(mstls_sctp_event ev);

/* Start the usrsctp stack when that is the backend. 0 or an error. */
int tool_sctp_stack(const tsctp_opts *o);

/* The server: one event loop for every association, or --workers such
 * loops in as many processes. Exit code. */
int tool_sctp_serve(const tsctp_opts *o);

/* What a worker process tells the parent (tool_sctp_workers.c) over its
 * report pipe: one message per write(), smaller than PIPE_BUF, so each
 * arrives whole. */
typedef struct tsctp_counters {
  uint64_t accepted, refused, hs_timeouts, stalls, backlog_full, completed,
      failed, bytes_in, bytes_out;
  uint32_t live;
} tsctp_counters;

typedef enum tsctp_report_kind {
  TSCTP_REPORT_LISTENING = 1, /* its listener is bound: serving */
  TSCTP_REPORT_SIGUSR1,       /* its counters, asked for by SIGUSR1 */
  TSCTP_REPORT_EXIT           /* its counters at exit */
} tsctp_report_kind;

typedef struct tsctp_report {
  uint32_t kind; /* tsctp_report_kind */
  tsctp_counters n;
} tsctp_report;

/* One counters line: "counters (WHEN): accepted ..., live N". */
void tool_sctp_print_counters(const tsctp_counters *n, const char *when);

/* The server's loop in worker process @p index (1..workers): serves on
 * its own listener (reuseport when @p o asks for several workers) with
 * @p cred, reports to @p report_fd. Exit code of the process. */
int tool_sctp_serve_worker(const tsctp_opts *o, mstls_credentials *cred,
                           unsigned index, int report_fd);

/* --workers N: fork the workers, wait for them, forward the signals, sum
 * and print their counters (tool_sctp_workers.c). @p fleet_id: what the
 * listening line says of the fleet. Exit code; in a worker process, the
 * worker's exit code once it has served (the caller returns it). */
int tool_sctp_workers(const tsctp_opts *o, mstls_credentials *cred,
                      const char *fleet_id);

#endif
