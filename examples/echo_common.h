/* The echo client and server behind examples/epoll_echo.c and
 * examples/uv_echo.c: everything but the event loop.
 *
 * The two programs differ only in how they wait. Each object here
 * (echo_conn on the server, echo_client) is driven by one function, *_run,
 * which the loop calls whenever the association's fd is ready or the
 * session's timer is due; afterwards the loop asks which events to wait
 * for (echo_*_want_write) and how long (echo_timeout_ms). Public API only.
 */
#ifndef MSTLS_EXAMPLES_ECHO_COMMON_H
#define MSTLS_EXAMPLES_ECHO_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include <mstls/sctp.h>

/* Most streams the server accepts and the client may ask for. */
#define ECHO_MAX_STREAMS 1024u
/* Bytes the client sends on every stream (largest, default). */
#define ECHO_MAX_BYTES ((uint64_t)1 << 32)
#define ECHO_DEFAULT_STREAMS 4u
#define ECHO_DEFAULT_BYTES ((uint64_t)256 << 10)

/* Exit codes of both programs. */
#define ECHO_EXIT_OK 0
#define ECHO_EXIT_FAIL 1  /* a network, TLS or data failure */
#define ECHO_EXIT_USAGE 2 /* bad arguments */

/* Command line: PROG server PORT [options] | PROG client PORT [STREAMS]
 * [BYTES] [options]. */
typedef struct echo_opts {
  const char *prog;
  int server;
  uint16_t port;
  uint16_t streams;
  uint64_t bytes;
  mstls_sctp_backend backend; /* resolved: never DEFAULT after parsing */
  const char *host;           /* client: server address; server: bind address */
  const char *name;           /* the server's name in its certificate */
  const char *cert, *key, *ca;
  const char *cert_out; /* server: write the certificate's PEM here */
  int insecure;         /* client: skip verification (testing only) */
  int stack_timers;     /* --profile default: the stack's own timers */
} echo_opts;

/* Parse the command line. On bad arguments print the usage to stderr and
 * return ECHO_EXIT_USAGE; for --help print it to stdout and return -1
 * (exit 0); else 0. */
int echo_parse(echo_opts *o, int argc, char **argv);

/* Start the usrsctp stack if that is the backend (server: UDP port = its
 * SCTP port; client: an ephemeral UDP port), and load the credentials.
 * @return 0, or -1 after printing why. */
int echo_setup(const echo_opts *o, mstls_credentials **pcred);
/* Undo echo_setup(). */
void echo_teardown(const echo_opts *o, mstls_credentials *cred);

/* Association settings of both programs: non-blocking, the failover
 * profile (a dead peer or an unanswered INIT is noticed in seconds). */
void echo_sctp_config(const echo_opts *o, mstls_sctp_config *cfg);

/* Milliseconds until the session's next timer (0: due now), or -1: none,
 * which is what epoll_wait() and uv_timer_start() want. */
int echo_timeout_ms(mstls_session *s);

/* Server ----------------------------------------------------------------- */

/* One accepted association: per stream, the bytes read and not yet echoed. */
typedef struct echo_stream_buf {
  uint8_t *data;
  size_t off, len;
  int ended; /* closed by the client, or failed (reported once) */
} echo_stream_buf;

typedef struct echo_conn {
  unsigned id; /* for the log */
  mstls_sctp_assoc *assoc;
  int handshaken;
  uint32_t nstreams;         /* 0 until the session exists */
  echo_stream_buf *pending;  /* nstreams entries */
  unsigned long long echoed; /* bytes echoed, all streams */
  /* For the event loop's own use. */
  void *loop_data;
  size_t loop_slot;
  int loop_write; /* the loop waits for writability now */
} echo_conn;

/* Accept the next waiting association (non-blocking).
 * @return a new echo_conn, or NULL: nobody waits (*err = MSTLS_E_AGAIN)
 * or the accept failed (*err says why). */
echo_conn *echo_conn_accept(mstls_sctp_listener *l, mstls_credentials *cred,
                            int *err);

/* Process whatever the association has, run the session's due timers,
 * echo every message on its own stream, push what waits.
 * @return 0 (keep going), MSTLS_E_CLOSED (the client closed in order), or
 * the error that ended the association. */
int echo_conn_run(echo_conn *c);

/* The association's fd, to poll. */
int echo_conn_fd(echo_conn *c);
/* Also wait for POLLOUT now (mstls_sctp_assoc_get_events()): kernel SCTP
 * with something that met a full socket (usrsctp's eventfd is signalled
 * when room appears). */
int echo_conn_want_write(echo_conn *c);
/* Milliseconds until the session's next timer, or -1. */
int echo_conn_timeout_ms(echo_conn *c);

/* Log how the association ended (from the last echo_conn_run() result)
 * and free it. */
void echo_conn_end(echo_conn *c, int rc);

/* Client ----------------------------------------------------------------- */

typedef enum echo_stage {
  ECHO_CONNECTING,  /* SCTP association being set up */
  ECHO_HANDSHAKING, /* TLS handshakes on every stream */
  ECHO_TRANSFER,    /* sending BYTES per stream, checking the echo */
  ECHO_CLOSING,     /* close_notify + SHUTDOWN sent, waiting for the end */
  ECHO_DONE
} echo_stage;

typedef struct echo_client {
  const echo_opts *o;
  mstls_sctp_assoc *assoc;
  echo_stage stage;
  int shutdown_sent;
  uint64_t *sent, *echoed; /* per stream */
  uint64_t moved;          /* bytes sent + echoed, all streams */
  uint64_t window;         /* bytes a stream may have in flight */
  uint32_t done;           /* streams whose whole echo arrived */
  uint8_t *pattern;        /* what stream k sends: pattern + k % 256 */
  uint8_t *rbuf;
} echo_client;

/* Start a non-blocking connect. @return 0, or -1 after printing why. */
int echo_client_start(echo_client *cl, const echo_opts *o,
                      mstls_credentials *cred);

/* Drive the client as echo_conn_run() drives a server association.
 * @return 0 (keep going), 1 (done: every byte came back and the
 * association closed in order), or -1 (failed; printed why). */
int echo_client_run(echo_client *cl);

/* Print to stderr where the client stopped: its stage, each stream's
 * bytes sent and echoed, and what the association holds. For a client
 * stopped by a signal. */
void echo_client_report(echo_client *cl);

int echo_client_fd(echo_client *cl);
int echo_client_want_write(echo_client *cl);
int echo_client_timeout_ms(echo_client *cl);
void echo_client_free(echo_client *cl);

#endif
