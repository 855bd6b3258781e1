/* uv_echo: TLS over SCTP (RFC 3436) on libuv; the same server and client
 * as epoll_echo.c, with the same arguments and behaviour.
 *
 *   uv_echo server PORT [--backend usrsctp|kernel] [--cert-out F]
 *   uv_echo client PORT [STREAMS] [BYTES] [--ca F | --insecure]
 *
 * Build: part of the mstls build when libuv is found (Debian libuv1-dev),
 * or cc uv_echo.c echo_common.c $(pkg-config --cflags --libs mstls gnutls
 * libuv).
 *
 * Each association (and the listener) gives one fd that is readable while
 * it has work, on both SCTP backends: a uv_poll_t watches it for
 * UV_READABLE, plus UV_WRITABLE while mstls_sctp_assoc_get_events() says
 * so (kernel SCTP while something waits for room in the socket; usrsctp's
 * fd is an eventfd, signalled when room appears). A uv_timer_t per association
 * fires at the session's next timer (mstls_session_get_expiry()). Either runs
 * echo_conn_run() / echo_client_run() (echo_common.c), then re-arms both.
 */
#define _GNU_SOURCE /* uv.h needs POSIX threads types */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "echo_common.h"

static uv_loop_t *loop;

/* Server ------------------------------------------------------------------- */

/* One association and its two libuv handles. */
typedef struct echo_uv_conn {
  echo_conn *c;
  uv_poll_t poll;
  uv_timer_t timer;
  int events;  /* what poll waits for now */
  int handles; /* handles not yet closed */
  struct echo_uv_conn *prev, *next;
} echo_uv_conn;

typedef struct server {
  mstls_sctp_listener *l;
  mstls_credentials *cred;
  uv_poll_t listen_poll;
  uv_signal_t sigint, sigterm;
  echo_uv_conn *conns; /* open associations, a list */
} server;

static server sv;

static void conn_closed(uv_handle_t *h) {
  echo_uv_conn *uc = h->data;

  if (--uc->handles == 0)
    free(uc);
}

/* The association ended (@p rc: MSTLS_E_CLOSED when in order): report it,
 * free it, close its handles. */
static void conn_end(echo_uv_conn *uc, int rc) {
  if (uc->prev != NULL)
    uc->prev->next = uc->next;
  else
    sv.conns = uc->next;
  if (uc->next != NULL)
    uc->next->prev = uc->prev;
  /* uv_close() stops watching the fd at once, before it is closed. */
  uv_close((uv_handle_t *)&uc->poll, conn_closed);
  uv_close((uv_handle_t *)&uc->timer, conn_closed);
  echo_conn_end(uc->c, rc);
}

static void on_conn_poll(uv_poll_t *h, int status, int events);
static void on_conn_timer(uv_timer_t *t);

/* Run the association, then wait for what it needs next: its fd, and its
 * session's timer. */
static void conn_run(echo_uv_conn *uc) {
  int rc = echo_conn_run(uc->c);
  int events, t;

  if (rc != 0) {
    conn_end(uc, rc); /* ended in order, or failed: the others go on */
    return;
  }
  events = UV_READABLE | (echo_conn_want_write(uc->c) ? UV_WRITABLE : 0);
  if (events != uc->events) {
    uv_poll_start(&uc->poll, events, on_conn_poll);
    uc->events = events;
  }
  t = echo_conn_timeout_ms(uc->c);
  if (t >= 0)
    uv_timer_start(&uc->timer, on_conn_timer, (uint64_t)t, 0);
  else
    uv_timer_stop(&uc->timer);
}

static void on_conn_poll(uv_poll_t *h, int status, int events) {
  echo_uv_conn *uc = h->data;

  (void)events;
  if (status < 0) {
    fprintf(stderr, "association %u: poll: %s\n", uc->c->id,
            uv_strerror(status));
    conn_end(uc, MSTLS_E_TRANSPORT);
    return;
  }
  conn_run(uc);
}

static void on_conn_timer(uv_timer_t *t) {
  conn_run(t->data);
}

/* The listener's fd is readable: accept every waiting association. */
static void on_listen(uv_poll_t *h, int status, int events) {
  echo_conn *c;
  int err;

  (void)h;
  (void)status;
  (void)events;
  while ((c = echo_conn_accept(sv.l, sv.cred, &err)) != NULL) {
    echo_uv_conn *uc = calloc(1, sizeof(*uc));

    if (uc == NULL || uv_poll_init(loop, &uc->poll, echo_conn_fd(c)) != 0) {
      free(uc);
      echo_conn_end(c, MSTLS_E_NOMEM);
      continue;
    }
    uv_timer_init(loop, &uc->timer);
    uc->poll.data = uc->timer.data = uc;
    uc->handles = 2;
    uc->c = c;
    uc->next = sv.conns;
    if (sv.conns != NULL)
      sv.conns->prev = uc;
    sv.conns = uc;
    conn_run(uc); /* what arrived with the association; starts the poll */
  }
  if (err != MSTLS_E_AGAIN)
    fprintf(stderr, "accept: %s\n", mstls_strerror(err));
}

/* SIGINT/SIGTERM: leave uv_run(); run_server() then closes everything. */
static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  (void)signum;
  uv_stop(loop);
}

static int run_server(const echo_opts *o, mstls_credentials *cred) {
  mstls_sctp_config cfg;
  int rc;

  memset(&sv, 0, sizeof(sv));
  sv.cred = cred;
  echo_sctp_config(o, &cfg);
  rc = mstls_sctp_listen(&sv.l, &cfg, o->host, o->port);
  if (rc != 0) {
    fprintf(stderr, "%s: listen on port %u: %s\n", o->prog, o->port,
            mstls_strerror(rc));
    return ECHO_EXIT_FAIL;
  }
  /* Readable while an association waits for mstls_sctp_accept(). */
  uv_poll_init(loop, &sv.listen_poll, mstls_sctp_listener_get_fd(sv.l));
  uv_poll_start(&sv.listen_poll, UV_READABLE, on_listen);
  uv_signal_init(loop, &sv.sigint);
  uv_signal_start(&sv.sigint, on_signal, SIGINT);
  uv_signal_init(loop, &sv.sigterm);
  uv_signal_start(&sv.sigterm, on_signal, SIGTERM);
  printf("listening on port %u (%s)\n", o->port,
         o->backend == MSTLS_SCTP_BACKEND_KERNEL ? "kernel SCTP" : "usrsctp");
  fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT); /* until a signal stops it */
  printf("stopping\n");
  while (sv.conns != NULL)
    conn_end(sv.conns, MSTLS_E_ABORTED);
  uv_close((uv_handle_t *)&sv.listen_poll, NULL);
  uv_close((uv_handle_t *)&sv.sigint, NULL);
  uv_close((uv_handle_t *)&sv.sigterm, NULL);
  uv_run(loop, UV_RUN_DEFAULT); /* the close callbacks */
  mstls_sctp_listener_del(sv.l);
  return ECHO_EXIT_OK;
}

/* Client ------------------------------------------------------------------- */

typedef struct client {
  echo_client cl;
  uv_poll_t poll;
  uv_timer_t timer;
  uv_signal_t sigint, sigterm; /* stop with a report of where it was */
  int events;
  int result; /* of echo_client_run(): 1 done, -1 failed */
} client;

static void on_client_poll(uv_poll_t *h, int status, int events);
static void on_client_timer(uv_timer_t *t);

/* Done or failed: closing every handle ends uv_run(). */
static void client_end(client *c, int result) {
  c->result = result;
  uv_close((uv_handle_t *)&c->poll, NULL);
  uv_close((uv_handle_t *)&c->timer, NULL);
  uv_close((uv_handle_t *)&c->sigint, NULL);
  uv_close((uv_handle_t *)&c->sigterm, NULL);
}

static void client_run(client *c) {
  int rc = echo_client_run(&c->cl);
  int events, t;

  if (rc != 0) {
    client_end(c, rc);
    return;
  }
  events = UV_READABLE | (echo_client_want_write(&c->cl) ? UV_WRITABLE : 0);
  if (events != c->events) {
    uv_poll_start(&c->poll, events, on_client_poll);
    c->events = events;
  }
  /* The session's timer; a server that never answers is bounded by the
   * association's failure detection, which reports on the fd. */
  t = echo_client_timeout_ms(&c->cl);
  if (t >= 0)
    uv_timer_start(&c->timer, on_client_timer, (uint64_t)t, 0);
  else
    uv_timer_stop(&c->timer);
}

static void on_client_poll(uv_poll_t *h, int status, int events) {
  client *c = h->data;

  (void)events;
  if (status < 0) {
    fprintf(stderr, "poll: %s\n", uv_strerror(status));
    client_end(c, -1);
    return;
  }
  client_run(c);
}

static void on_client_timer(uv_timer_t *t) {
  client_run(t->data);
}

static void on_client_signal(uv_signal_t *h, int signum) {
  client *c = h->data;

  (void)signum;
  echo_client_report(&c->cl);
  client_end(c, -1);
}

static int run_client(const echo_opts *o, mstls_credentials *cred) {
  client c;

  memset(&c, 0, sizeof(c));
  if (echo_client_start(&c.cl, o, cred) != 0 ||
      uv_poll_init(loop, &c.poll, echo_client_fd(&c.cl)) != 0) {
    echo_client_free(&c.cl);
    return ECHO_EXIT_FAIL;
  }
  uv_timer_init(loop, &c.timer);
  uv_signal_init(loop, &c.sigint);
  uv_signal_init(loop, &c.sigterm);
  c.poll.data = c.timer.data = c.sigint.data = c.sigterm.data = &c;
  uv_signal_start(&c.sigint, on_client_signal, SIGINT);
  uv_signal_start(&c.sigterm, on_client_signal, SIGTERM);
  client_run(&c);
  uv_run(loop, UV_RUN_DEFAULT); /* until both handles are closed */
  echo_client_free(&c.cl);
  return c.result == 1 ? ECHO_EXIT_OK : ECHO_EXIT_FAIL;
}

int main(int argc, char **argv) {
  mstls_credentials *cred = NULL;
  echo_opts o;
  int rc = echo_parse(&o, argc, argv);

  if (rc != 0)
    return rc < 0 ? ECHO_EXIT_OK : rc; /* --help, or bad arguments */
  signal(SIGPIPE, SIG_IGN);
  if (echo_setup(&o, &cred) != 0)
    return ECHO_EXIT_FAIL;
  loop = uv_default_loop();
  rc = o.server ? run_server(&o, cred) : run_client(&o, cred);
  uv_loop_close(loop);
  echo_teardown(&o, cred);
  return rc;
}
