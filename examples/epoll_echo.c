/* epoll_echo: TLS over SCTP (RFC 3436) from one epoll loop.
 *
 *   epoll_echo server PORT [--backend usrsctp|kernel] [--cert-out F]
 *   epoll_echo client PORT [STREAMS] [BYTES] [--ca F | --insecure]
 *
 * The server accepts any number of associations and echoes every message
 * on its own stream; the client sends BYTES on each of STREAMS streams,
 * checks the echo byte for byte and closes in order. `--help` lists every
 * option. Try it over usrsctp on one machine:
 *
 *   epoll_echo server 5001 --backend usrsctp --cert-out /tmp/echo.pem &
 *   epoll_echo client 5001 4 262144 --backend usrsctp --ca /tmp/echo.pem
 *
 * Build: part of the mstls build, or
 *   cc epoll_echo.c echo_common.c $(pkg-config --cflags --libs mstls gnutls)
 *
 * How the loop works, the same on both SCTP backends:
 *  - every association (and the listener) gives one fd that is readable
 *    while it has work: poll it with EPOLLIN (level-triggered), plus
 *    EPOLLOUT while mstls_sctp_assoc_get_events() says so (kernel SCTP,
 *    whose fd is the socket itself, while something that met a full
 *    socket waits for room; usrsctp's fd is an eventfd that is signalled
 *    when room appears).
 *  - the epoll timeout is the nearest session timer
 *    (mstls_session_get_expiry(); handshake timeouts, the wait for a TLS
 *    1.3 ticket).
 *  - on readiness or a due timer, echo_conn_run() / echo_client_run()
 *    (echo_common.c) process the association and do the application's
 *    work with the non-blocking session calls.
 *  - SIGINT/SIGTERM stop the server, and stop the client with a report of
 *    where it was (echo_client_report()).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "echo_common.h"

#define MAX_EVENTS 64

/* Set by SIGINT/SIGTERM: the server stops; the client reports where it
 * was and fails. */
static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

/* Watch @p fd (op: EPOLL_CTL_ADD or _MOD) for reading, and for writing if
 * @p want_write. */
static int watch(int ep, int op, int fd, int want_write, void *ptr) {
  struct epoll_event ev;

  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN | (want_write ? EPOLLOUT : 0);
  ev.data.ptr = ptr;
  return epoll_ctl(ep, op, fd, &ev);
}

/* Server ------------------------------------------------------------------- */

/* The server's associations; the listener's epoll entry carries NULL. */
typedef struct server {
  int ep;
  echo_conn **conns;
  size_t n, cap;
} server;

/* Run one association; drop it when it ended, else update what epoll
 * waits for. */
static void server_run(server *sv, echo_conn *c) {
  int rc = echo_conn_run(c);

  if (rc != 0) {
    /* MSTLS_E_CLOSED: the client closed in order. Anything else ended
     * this association only: report it and serve the others. */
    (void)epoll_ctl(sv->ep, EPOLL_CTL_DEL, echo_conn_fd(c), NULL);
    sv->conns[c->loop_slot] = sv->conns[--sv->n];
    sv->conns[c->loop_slot]->loop_slot = c->loop_slot;
    echo_conn_end(c, rc);
    return;
  }
  if (echo_conn_want_write(c) != c->loop_write) {
    c->loop_write = !c->loop_write; /* EPOLLOUT on or off */
    (void)watch(sv->ep, EPOLL_CTL_MOD, echo_conn_fd(c), c->loop_write, c);
  }
}

/* Accept every waiting association and start watching it. */
static void server_accept(server *sv, mstls_sctp_listener *l,
                          mstls_credentials *cred) {
  echo_conn *c;
  int err;

  while ((c = echo_conn_accept(l, cred, &err)) != NULL) {
    if (sv->n == sv->cap) {
      size_t cap = sv->cap ? 2 * sv->cap : 16;
      echo_conn **nc = realloc(sv->conns, cap * sizeof(*nc));
      if (nc == NULL) {
        echo_conn_end(c, MSTLS_E_NOMEM);
        continue;
      }
      sv->conns = nc;
      sv->cap = cap;
    }
    if (watch(sv->ep, EPOLL_CTL_ADD, echo_conn_fd(c), 0, c) != 0) {
      echo_conn_end(c, MSTLS_E_TRANSPORT);
      continue;
    }
    c->loop_slot = sv->n;
    sv->conns[sv->n++] = c;
    server_run(sv, c); /* what arrived with the association */
  }
  if (err != MSTLS_E_AGAIN)
    fprintf(stderr, "accept: %s\n", mstls_strerror(err));
}

static int run_server(const echo_opts *o, mstls_credentials *cred,
                      const sigset_t *waitmask) {
  struct epoll_event evs[MAX_EVENTS];
  mstls_sctp_listener *l = NULL;
  mstls_sctp_config cfg;
  server sv;
  int rc, n, i;

  memset(&sv, 0, sizeof(sv));
  echo_sctp_config(o, &cfg);
  rc = mstls_sctp_listen(&l, &cfg, o->host, o->port);
  if (rc != 0) {
    fprintf(stderr, "%s: listen on port %u: %s\n", o->prog, o->port,
            mstls_strerror(rc));
    return ECHO_EXIT_FAIL;
  }
  sv.ep = epoll_create1(EPOLL_CLOEXEC);
  /* Readable while an association waits for mstls_sctp_accept(). */
  if (sv.ep < 0 ||
      watch(sv.ep, EPOLL_CTL_ADD, mstls_sctp_listener_get_fd(l), 0, NULL)) {
    perror("epoll");
    mstls_sctp_listener_del(l);
    return ECHO_EXIT_FAIL;
  }
  printf("listening on port %u (%s)\n", o->port,
         o->backend == MSTLS_SCTP_BACKEND_KERNEL ? "kernel SCTP" : "usrsctp");
  fflush(stdout);

  while (!stop) {
    size_t k;
    int timeout = -1;

    /* Sleep until an fd is ready or the nearest session timer. */
    for (k = 0; k < sv.n; k++) {
      int t = echo_conn_timeout_ms(sv.conns[k]);
      if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    }
    n = epoll_pwait(sv.ep, evs, MAX_EVENTS, timeout, waitmask);
    if (n < 0 && errno != EINTR) {
      perror("epoll_wait");
      break;
    }
    for (i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL)
        server_accept(&sv, l, cred);
      else
        server_run(&sv, evs[i].data.ptr);
    }
    /* Due timers (backwards: server_run may drop the entry). */
    for (k = sv.n; k-- > 0;)
      if (echo_conn_timeout_ms(sv.conns[k]) == 0)
        server_run(&sv, sv.conns[k]);
  }
  printf("stopping: %zu associations open\n", sv.n);
  while (sv.n > 0)
    echo_conn_end(sv.conns[--sv.n], MSTLS_E_ABORTED);
  free(sv.conns);
  close(sv.ep);
  mstls_sctp_listener_del(l);
  return ECHO_EXIT_OK;
}

/* Client ------------------------------------------------------------------- */

static int run_client(const echo_opts *o, mstls_credentials *cred,
                      const sigset_t *waitmask) {
  echo_client cl;
  int ep = -1, ww = 0, rc;

  if (echo_client_start(&cl, o, cred) != 0) {
    echo_client_free(&cl);
    return ECHO_EXIT_FAIL;
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0 || watch(ep, EPOLL_CTL_ADD, echo_client_fd(&cl), 0, NULL)) {
    perror("epoll");
    if (ep >= 0)
      close(ep);
    echo_client_free(&cl);
    return ECHO_EXIT_FAIL;
  }
  /* Run, then sleep until the fd is ready or the session's timer is due.
   * The association's failure detection bounds every wait: a server that
   * never answers ends the connect within seconds. */
  while ((rc = echo_client_run(&cl)) == 0) {
    struct epoll_event ev;

    if (echo_client_want_write(&cl) != ww) {
      ww = !ww;
      (void)watch(ep, EPOLL_CTL_MOD, echo_client_fd(&cl), ww, NULL);
    }
    if (epoll_pwait(ep, &ev, 1, echo_client_timeout_ms(&cl), waitmask) < 0 &&
        errno != EINTR) {
      perror("epoll_wait");
      rc = -1;
      break;
    }
    if (stop) {
      echo_client_report(&cl);
      rc = -1;
      break;
    }
  }
  close(ep);
  echo_client_free(&cl);
  return rc == 1 ? ECHO_EXIT_OK : ECHO_EXIT_FAIL;
}

int main(int argc, char **argv) {
  mstls_credentials *cred = NULL;
  struct sigaction sa;
  sigset_t stops, waitmask;
  echo_opts o;
  int rc = echo_parse(&o, argc, argv);

  if (rc != 0)
    return rc < 0 ? ECHO_EXIT_OK : rc; /* --help, or bad arguments */
  signal(SIGPIPE, SIG_IGN);
  /* SIGINT/SIGTERM stop the server cleanly, and stop the client with a
   * report of where it was. They are blocked everywhere (in usrsctp's
   * threads too, which inherit the mask: block before echo_setup() starts
   * them) except inside epoll_pwait(), so a stop request always wakes the
   * loop and is never lost between two waits. */
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  sigprocmask(SIG_BLOCK, &stops, &waitmask);
  if (echo_setup(&o, &cred) != 0)
    return ECHO_EXIT_FAIL;
  rc = o.server ? run_server(&o, cred, &waitmask)
                : run_client(&o, cred, &waitmask);
  echo_teardown(&o, cred);
  return rc;
}
