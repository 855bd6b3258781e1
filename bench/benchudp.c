#include "benchudp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <gnutls/dtls.h>

static double bu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- clients ---------------------------------------------------------------
 */

/* The sockets are non-blocking and GnuTLS must never wait: the pull
 * timeout only reports whether a datagram is queued. */
static int bu_pull_timeout(gnutls_transport_ptr_t p, unsigned ms) {
  bench_dtls_client *c = p;
  struct pollfd pfd = {c->fd, POLLIN, 0};
  (void)ms;
  return poll(&pfd, 1, 0);
}

static ssize_t bu_push(gnutls_transport_ptr_t p, const void *buf, size_t len) {
  bench_dtls_client *c = p;
  return send(c->fd, buf, len, 0);
}

static ssize_t bu_pull(gnutls_transport_ptr_t p, void *buf, size_t len) {
  bench_dtls_client *c = p;
  return recv(c->fd, buf, len, 0);
}

/* A new handshake on a new socket, counted in r->started. */
static int bu_start(bench_dtls_run *r, bench_dtls_client *c) {
  struct sockaddr_in src;
  memset(&src, 0, sizeof(src));
  src.sin_family = AF_INET;
  if (r->nsrc) {
    /* 127.0.1.1 ...: loopback, one rate-limit bucket each. */
    src.sin_addr.s_addr = htonl(0x7f000101u + (r->next_src++ % r->nsrc));
  }
  c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0 ||
      (r->nsrc && bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0) ||
      connect(c->fd, (const struct sockaddr *)r->srv, sizeof(*r->srv)) < 0) {
    if (c->fd >= 0) {
      close(c->fd);
    }
    return -1;
  }
  gnutls_init(&c->s, GNUTLS_CLIENT | GNUTLS_DATAGRAM | GNUTLS_NONBLOCK);
  gnutls_priority_set(c->s, r->prio);
  gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, r->cred);
  gnutls_transport_set_ptr(c->s, c);
  gnutls_transport_set_push_function(c->s, bu_push);
  gnutls_transport_set_pull_function(c->s, bu_pull);
  gnutls_transport_set_pull_timeout_function(c->s, bu_pull_timeout);
  gnutls_dtls_set_timeouts(c->s, 200, 30000);
  c->busy = 1;
  r->started++;
  return 0;
}

void bench_dtls_client_end(bench_dtls_client *c, int bye) {
  if (bye) {
    gnutls_bye(c->s, GNUTLS_SHUT_WR);
  }
  gnutls_deinit(c->s);
  close(c->fd);
  c->busy = 0;
}

/* Advance one client, replacing it by a new one when its handshake ends.
 * The result of every gnutls_handshake() call counts, the first one
 * included: with the server answering within microseconds GnuTLS often
 * completes the whole handshake inside one call (it checks the socket
 * between flights), and calling gnutls_handshake() again on an
 * established session starts a renegotiation that the servers refuse.
 * Ignoring that first result made clients renegotiate and back off until
 * the run's deadline. */
static void bu_drive(bench_dtls_run *r, bench_dtls_client *c) {
  for (;;) {
    int rv = gnutls_handshake(c->s);
    if (rv == GNUTLS_E_AGAIN || (rv < 0 && !gnutls_error_is_fatal(rv))) {
      return;
    }
    if (rv == 0) {
      r->done++;
      if (r->hold) {
        c->busy = 2; /* stays open, no longer driven */
        return;
      }
      bench_dtls_client_end(c, 1);
    } else {
      r->failed++;
      bench_dtls_client_end(c, 0);
    }
    if (r->started >= r->total || bu_start(r, c) < 0) {
      return;
    }
  }
}

void bench_dtls_run_clients(bench_dtls_run *r, bench_dtls_client *cl,
                            int conc) {
  struct pollfd pfd[BENCH_DTLS_MAXC];
  int idx[BENCH_DTLS_MAXC];
  double end = bu_now() + r->seconds, tick = bu_now();
  int i;
  if (conc > BENCH_DTLS_MAXC) {
    conc = BENCH_DTLS_MAXC;
  }
  for (i = 0; i < conc && r->started < r->total; i++) {
    if (bu_start(r, &cl[i]) == 0) {
      bu_drive(r, &cl[i]);
    }
  }
  while (r->done + r->failed < r->total && bu_now() < end) {
    int n = 0, all;
    for (i = 0; i < conc; i++) {
      if (cl[i].busy == 1) {
        pfd[n].fd = cl[i].fd;
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        idx[n++] = i;
      }
    }
    if (n == 0) {
      break;
    }
    poll(pfd, (nfds_t)n, 5);
    /* Readable clients now; all of them every 10 ms so that GnuTLS can
     * run its retransmission timers. */
    all = bu_now() >= tick;
    if (all) {
      tick = bu_now() + 0.010;
    }
    for (i = 0; i < n; i++) {
      if (all || pfd[i].revents) {
        bu_drive(r, &cl[idx[i]]);
      }
    }
  }
  for (i = 0; i < conc && !r->hold; i++) {
    if (cl[i].busy) {
      bench_dtls_client_end(&cl[i], 0);
    }
  }
}

/* ---- the mstls tool as the server ------------------------------------------
 */

/* Read the tool's stderr until @p text (10 s at most). */
static int bu_wait_text(const char *who, int fd, const char *text) {
  char buf[8192];
  size_t have = 0;
  double end = bu_now() + 10;
  while (bu_now() < end && have < sizeof(buf) - 1) {
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;
    if (poll(&p, 1, 100) <= 0) {
      continue;
    }
    if ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0) {
      break;
    }
    have += (size_t)n;
    buf[have] = '\0';
    if (strstr(buf, text)) {
      return 0;
    }
  }
  fprintf(stderr, "%s: the server did not start: %.*s\n", who, (int)have, buf);
  return -1;
}

/* In the child: a copy of @p s at *used in @p store (execv() takes
 * writable strings; nothing is allocated after the fork). */
static char *bu_arg(char *store, size_t cap, size_t *used, const char *s) {
  size_t len = strlen(s) + 1;
  char *copy = store + *used;
  if (len > cap - *used) {
    fprintf(stderr, "bench: the tool's arguments are too long\n");
    _exit(127);
  }
  memcpy(copy, s, len);
  *used += len;
  return copy;
}

/* In the child: exec @p tool as "mstls" @p args; never returns. */
__attribute__((noreturn)) static void bu_exec(const char *tool,
                                              const char *const args[]) {
  char store[2048], *argv[32];
  size_t used = 0, n = 0, i;
  argv[n++] = bu_arg(store, sizeof(store), &used, "mstls");
  for (i = 0; args[i]; i++) {
    if (n == sizeof(argv) / sizeof(argv[0]) - 1) {
      fprintf(stderr, "bench: the tool has too many arguments\n");
      _exit(127);
    }
    argv[n++] = bu_arg(store, sizeof(store), &used, args[i]);
  }
  argv[n] = NULL;
  execv(tool, argv);
  fprintf(stderr, "exec %s: %s\n", tool, strerror(errno));
  _exit(127);
}

int bench_tool_start(const char *who, const char *tool,
                     const char *const args[], pid_t *pid, int *err_fd) {
  int p[2];
  if (pipe(p) < 0 || (*pid = fork()) < 0) {
    return -1;
  }
  if (*pid == 0) {
    dup2(p[1], 2);
    close(p[0]);
    close(p[1]);
    bu_exec(tool, args);
  }
  close(p[1]);
  *err_fd = p[0];
  return bu_wait_text(who, *err_fd, "listening on");
}
