#include "sctp_e2e.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certs.h"
#include "pair.h"

static void e2e_pattern(uint8_t *buf, size_t len, uint16_t stream,
                        unsigned round) {
  size_t i;
  for (i = 0; i < len; i++)
    buf[i] = (uint8_t)(i * 13u + stream * 5u + round * 3u + 1u);
}

static int e2e_udp_free(uint16_t port) {
  struct sockaddr_in sin;
  int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

  if (fd < 0)
    return 0;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  rc = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
  close(fd);
  return rc == 0;
}

/* A port pair (server, server + 1 for the client) unique to this process. */
static uint16_t e2e_pick_port(void) {
  static unsigned next;
  unsigned base = 20000u + ((unsigned)getpid() * 37u) % 30000u;
  unsigned i;

  for (i = 0; i < 200; i++) {
    uint16_t p = (uint16_t)((base + 2u * (next++)) & ~1u);
    if (p > 1024 && e2e_udp_free(p) && e2e_udp_free((uint16_t)(p + 1)))
      return p;
  }
  return 0;
}

int e2e_backend_available(mstls_sctp_backend b) {
  if (b == MSTLS_SCTP_BACKEND_KERNEL && !mstls_sctp_kernel_available()) {
    printf("skip: the kernel has no SCTP (EPROTONOSUPPORT); run in the VM\n");
    return 0;
  }
  return 1;
}

static void e2e_config(mstls_sctp_config *cfg, const e2e_case *c) {
  mstls_sctp_config_default(cfg);
  cfg->backend = c->backend;
  cfg->streams_in = c->streams;
  cfg->streams_out = c->streams;
  cfg->blocking = 1;
}

static int e2e_server(const e2e_case *c, uint16_t port) {
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;
  mstls_sctp_assoc *a = NULL;
  mstls_credentials *cred = test_server_creds(NULL);
  mstls_settings st;
  mstls_session *s;
  uint8_t *buf = malloc(1u << 20);
  unsigned closed = 0;
  int rc;

  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP &&
      mstls_sctp_usrsctp_init(port, 0) != 0)
    return 10;
  e2e_config(&cfg, c);
  test_server_settings(&st, c->streams, c->policy);
  if (mstls_sctp_listen(&l, &cfg, "127.0.0.1", port) != 0)
    return 11;
  rc = mstls_sctp_accept(l, &a, &st, NULL, cred, NULL);
  if (rc != 0) {
    fprintf(stderr, "server: accept: %s\n", mstls_strerror(rc));
    return 12;
  }
  s = mstls_sctp_assoc_get_session(a);
  /* Echo every message back on its own stream until all are closed. */
  while (closed < c->streams) {
    uint16_t k = 0;
    long n = mstls_session_recv_any_blocking(s, &k, buf, 1u << 20);
    if (n == 0) {
      closed++;
      continue;
    }
    if (n < 0) {
      fprintf(stderr, "server: recv: %s\n", mstls_strerror((int)n));
      return 13;
    }
    if (mstls_stream_send_blocking(s, k, buf, (size_t)n) != n)
      return 14;
  }
  (void)mstls_sctp_assoc_shutdown(a);
  mstls_sctp_assoc_del(a);
  mstls_sctp_listener_del(l);
  mstls_credentials_del(cred);
  free(buf);
  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  return 0;
}

static int e2e_client(const e2e_case *c, uint16_t port) {
  mstls_sctp_config cfg;
  mstls_sctp_assoc *a = NULL;
  mstls_credentials *cred = test_client_creds(NULL, NULL, 0);
  mstls_settings st;
  mstls_session *s;
  uint8_t *src = malloc(c->msg_size + 1), *dst = malloc(c->msg_size + 1);
  unsigned r;
  uint32_t k;
  int rc, i;

  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP &&
      mstls_sctp_usrsctp_init((uint16_t)(port + 1), 0) != 0)
    return 20;
  e2e_config(&cfg, c);
  cfg.remote_udp_port = port;
  test_client_settings(&st, c->streams, c->policy);
  /* The server may still be starting: retry a bounded number of times. */
  for (i = 0; i < 50; i++) {
    rc = mstls_sctp_connect(&a, &cfg, "127.0.0.1", port, &st, NULL, cred, NULL);
    if (rc != MSTLS_E_PEER_GONE && rc != MSTLS_E_TRANSPORT)
      break;
    usleep(100 * 1000);
  }
  if (rc != 0) {
    fprintf(stderr, "client: connect: %s\n", mstls_strerror(rc));
    mstls_sctp_assoc_del(a); /* tell the server: SHUTDOWN */
    if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP)
      (void)mstls_sctp_usrsctp_release();
    return 21;
  }
  s = mstls_sctp_assoc_get_session(a);
  if (mstls_session_get_nstreams(s) != c->streams)
    return 22;
  for (r = 0; r < c->rounds; r++) {
    for (k = 0; k < c->streams; k++) {
      size_t got = 0;
      e2e_pattern(src, c->msg_size, (uint16_t)k, r);
      if (mstls_stream_send_blocking(s, (uint16_t)k, src, c->msg_size) !=
          (long)c->msg_size)
        return 23;
      while (got < c->msg_size) {
        long n = mstls_stream_recv_blocking(s, (uint16_t)k, dst + got,
                                            c->msg_size - got);
        if (n <= 0) {
          fprintf(stderr, "client: recv %u: %s\n", k, mstls_strerror((int)n));
          return 24;
        }
        got += (size_t)n;
      }
      if (memcmp(src, dst, c->msg_size) != 0)
        return 25;
    }
  }
  rc = mstls_sctp_assoc_shutdown(a);
  if (rc != 0)
    return 26;
  /* Wait for the server's SHUTDOWN to complete the association. */
  for (i = 0; i < 100 && mstls_sctp_assoc_process(a) == 0; i++)
    (void)mstls_sctp_assoc_wait(a, 100);
  mstls_sctp_assoc_del(a);
  mstls_credentials_del(cred);
  free(src);
  free(dst);
  if (c->backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  return 0;
}

/* Seconds a child may live. A software-emulated guest under the sanitizers
 * is far slower than the host: the VM runner raises this through
 * MSTLS_E2E_TIMEOUT. */
static unsigned e2e_child_timeout(void) {
  const char *v = getenv("MSTLS_E2E_TIMEOUT");
  long n = v ? strtol(v, NULL, 10) : 0;
  return n > 0 && n < 3600 ? (unsigned)n : 60;
}

static pid_t e2e_spawn(int (*fn)(const e2e_case *, uint16_t), const e2e_case *c,
                       uint16_t port) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(e2e_child_timeout()); /* never outlive the test */
    _exit(fn(c, port));
  }
  return pid;
}

int e2e_run(const e2e_case *c) {
  uint16_t port = e2e_pick_port();
  pid_t pids[2];
  int codes[2] = {-1, -1};
  int left = 2, i;
  unsigned t, ticks = (e2e_child_timeout() + 10) * 100;

  if (port == 0)
    return 1;
  /* One PKI for both processes: build it before forking. */
  if (test_pki_get() == NULL)
    return 1;
  fflush(NULL);
  pids[0] = e2e_spawn(e2e_server, c, port);
  pids[1] = e2e_spawn(e2e_client, c, port);
  /* Reap both, bounded: the children's own limit plus 10 s, then kill. */
  for (t = 0; t < ticks && left > 0; t++) {
    for (i = 0; i < 2; i++) {
      int st;
      if (codes[i] != -1 || pids[i] <= 0)
        continue;
      if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
        codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
        left--;
      }
    }
    if (left > 0)
      usleep(10 * 1000);
  }
  for (i = 0; i < 2; i++) {
    if (codes[i] == -1 && pids[i] > 0) {
      kill(pids[i], SIGKILL);
      (void)waitpid(pids[i], NULL, 0);
      codes[i] = 99;
    }
  }
  if (codes[0] != 0 || codes[1] != 0)
    fprintf(stderr, "e2e: server exit %d, client exit %d\n", codes[0],
            codes[1]);
  return codes[0] != 0 || codes[1] != 0;
}
