/* RESUME against TLS servers nobody here wrote: which TLS 1.3 resumption
 * mode (psk_dhe_ke or psk_ke, RFC 8446 §4.2.9) do servers built on OpenSSL
 * and on GnuTLS accept from mstls, with the default settings and with
 * MSTLS_SETTINGS_RESUME_PSK_KE?
 *
 * No such server speaks TLS over SCTP, so each stream of one mstls client
 * session is carried by a TCP connection of its own to `openssl s_server
 * -www` or `gnutls-serv --http`: the session's push callback writes a
 * stream's records to that stream's connection, and the TLS records read
 * from a connection are fed to the session as that stream's messages (one
 * record per message, as over SCTP). Stream 0 does a full handshake, the
 * others resume it (the RESUME policy); each stream then sends an HTTP GET.
 * openssl s_server serves one connection at a time, so a stream's
 * connection is served once the previous one got its page.
 *
 * The mode shows in the stream's key-exchange group: a psk_ke resumption
 * has none ("-"). openssl s_server's page says "Reused" for a resumed
 * connection, which checks the client's view from the server side.
 *
 * Deterministic: no timing decides an outcome. The wait for stream 0's
 * ticket is fixed (settings.ticket_wait) and long, and the other deadline
 * is only a guard against a peer that never answers. Skips (77) without the two
 * tools. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mstls/mstls.h>

#include "helpers/certs.h"

#define NSTREAMS 4
#define GUARD_MS 30000
#define PAGE_MAX 32768

static char g_dir[64], g_cert[128], g_key[128];
static pid_t g_server;     /* the running server, killed by the teardown */
static const char *g_alpn; /* the client's ALPN offer, NULL for none */

typedef struct tcp_stream {
  int fd;
  uint8_t in[PAGE_MAX]; /* bytes read, not yet a whole record */
  size_t inlen;
  char page[PAGE_MAX]; /* the HTTP answer */
  size_t pagelen;
  int sent_get;
  int done; /* handshake done: info taken */
  int resumed;
  char group[32];
  char alpn[32]; /* the protocol ALPN chose, "" for none */
} tcp_stream;

typedef struct tcp_client {
  uint16_t port;
  tcp_stream st[NSTREAMS];
} tcp_client;

static mstls_tstamp now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (mstls_tstamp)ts.tv_sec * MSTLS_SECONDS + (mstls_tstamp)ts.tv_nsec;
}

static int have(const char *prog) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
  return system(cmd) == 0;
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  int ok;
  if (!f) {
    return -1;
  }
  ok = fputs(text, f) >= 0;
  return fclose(f) == 0 && ok ? 0 : -1;
}

/* A TCP port that was free a moment ago (the server binds it next). */
static uint16_t free_port(void) {
  struct sockaddr_in a;
  socklen_t al = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  uint16_t port;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* Nagle off: a stream pushes one record per message, and a small record
 * held back until the previous one is acknowledged (delayed by the peer)
 * would delay the handshake by tens of milliseconds, longer than the
 * bounded wait for a ticket on loopback. SCTP associations turn it off
 * too. */
static int tcp_connect(uint16_t port) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (fd >= 0 &&
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 &&
      connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
    return fd;
  }
  if (fd >= 0) {
    close(fd);
  }
  return -1;
}

/* Start the server and wait (bounded) until it accepts connections. */
static pid_t start_server(const char *const argv[], uint16_t port) {
  mstls_tstamp end = now_ns() + GUARD_MS * MSTLS_MILLISECONDS;
  pid_t pid = fork();

  assert_true(pid >= 0);
  if (pid == 0) {
    int null = open("/dev/null", 0);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    char *v[16];
    size_t i;
    for (i = 0; argv[i] && i < 15; i++) {
      v[i] = strdup(argv[i]);
    }
    v[i] = NULL;
    execvp(v[0], v);
    _exit(127);
  }
  while (now_ns() < end) {
    int fd = tcp_connect(port);
    if (fd >= 0) {
      /* A probe without a ClientHello: both servers drop it and move on. */
      close(fd);
      return pid;
    }
    usleep(20000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  fail_msg("%s did not listen on port %u", argv[0], port);
  return -1;
}

/* Test teardown: also runs when an assertion ended the test early. */
static int stop_server(void **state) {
  (void)state;
  if (g_server > 0) {
    kill(g_server, SIGKILL);
    waitpid(g_server, NULL, 0);
    g_server = 0;
  }
  return 0;
}

/* Push: a stream's first record opens its connection. */
static int tcp_push(mstls_session *s, uint16_t stream, const mstls_iovec *iov,
                    size_t iovcnt, void *ud) {
  tcp_client *c = ud;
  tcp_stream *t = &c->st[stream];
  size_t i;

  (void)s;
  if (t->fd == -2) {
    return 0; /* the stream got its page and its connection is gone */
  }
  if (t->fd < 0 && (t->fd = tcp_connect(c->port)) < 0) {
    return MSTLS_E_TRANSPORT;
  }
  for (i = 0; i < iovcnt; i++) {
    const uint8_t *p = iov[i].base;
    size_t left = iov[i].len;
    while (left > 0) {
      ssize_t n = write(t->fd, p, left);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return MSTLS_E_TRANSPORT;
      }
      p += n;
      left -= (size_t)n;
    }
  }
  return 0;
}

/* Feed every whole TLS record (5-byte header, RFC 8446 §5.1) that has
 * arrived on stream @p k as one message. */
static void feed_records(mstls_session *s, tcp_stream *t, uint16_t k) {
  size_t off = 0;

  while (t->inlen - off >= 5) {
    size_t rlen = 5 + ((size_t)t->in[off + 3] << 8 | t->in[off + 4]);
    if (t->inlen - off < rlen) {
      break;
    }
    (void)mstls_session_feed(s, 0, k, t->in + off, rlen);
    off += rlen;
  }
  memmove(t->in, t->in + off, t->inlen - off);
  t->inlen -= off;
}

static void read_streams(mstls_session *s, tcp_client *c, int timeout_ms) {
  struct pollfd p[NSTREAMS];
  uint16_t map[NSTREAMS];
  int n = 0, i;

  for (i = 0; i < NSTREAMS; i++) {
    if (c->st[i].fd >= 0) {
      p[n].fd = c->st[i].fd;
      p[n].events = POLLIN;
      map[n++] = (uint16_t)i;
    }
  }
  if (poll(p, (nfds_t)n, timeout_ms) <= 0) {
    return;
  }
  for (i = 0; i < n; i++) {
    tcp_stream *t = &c->st[map[i]];
    ssize_t r;
    if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
      continue;
    }
    r = read(t->fd, t->in + t->inlen, sizeof(t->in) - t->inlen);
    if (r <= 0) {
      /* The server closed (after its page): stop polling this one. */
      close(t->fd);
      t->fd = -2;
      continue;
    }
    t->inlen += (size_t)r;
    feed_records(s, t, map[i]);
  }
}

/* Per stream: take the handshake's outcome once, send the GET, collect the
 * page. Returns 1 when every stream has its page. */
static int serve_streams(mstls_session *s, tcp_client *c) {
  static const char get[] = "GET / HTTP/1.0\r\n\r\n";
  int all = 1;
  uint16_t k;

  for (k = 0; k < NSTREAMS; k++) {
    tcp_stream *t = &c->st[k];
    mstls_stream_info info;
    long n;

    if (mstls_stream_get_info(s, k, &info) < 0) {
      all = 0;
      continue;
    }
    if (!t->done && info.state == MSTLS_STREAM_OPEN) {
      t->done = 1;
      t->resumed = info.resumed;
      snprintf(t->group, sizeof(t->group), "%s",
               info.group ? info.group : "(null)");
      assert_true(mstls_stream_get_alpn(s, k, t->alpn, sizeof(t->alpn)) >= 0);
    }
    if (t->done && !t->sent_get &&
        mstls_stream_send(s, k, get, sizeof(get) - 1) ==
            (long)(sizeof(get) - 1)) {
      t->sent_get = 1;
    }
    while ((n = mstls_stream_recv(s, k, t->page + t->pagelen,
                                  sizeof(t->page) - 1 - t->pagelen)) > 0) {
      t->pagelen += (size_t)n;
      t->page[t->pagelen] = '\0';
    }
    if (!strstr(t->page, "</HTML>") && !strstr(t->page, "</html>") &&
        !strstr(t->page, "</BODY>")) {
      all = 0;
    } else if (t->fd >= 0) {
      /* openssl s_server serves the next connection only once this one
       * has ended. */
      close(t->fd);
      t->fd = -2;
    }
  }
  return all;
}

/* Run one client session of NSTREAMS streams against the server on @p port
 * and fill @p c with each stream's outcome. */
static void run_client(tcp_client *c, uint16_t port, uint32_t flags) {
  mstls_credentials *cred = test_client_creds(NULL, NULL, 0);
  mstls_callbacks cb;
  mstls_settings st;
  mstls_session *s = NULL;
  mstls_tstamp end = now_ns() + GUARD_MS * MSTLS_MILLISECONDS;
  int i, complete = 0;

  assert_non_null(cred);
  memset(c, 0, sizeof(*c));
  c->port = port;
  for (i = 0; i < NSTREAMS; i++) {
    c->st[i].fd = -1;
  }
  memset(&cb, 0, sizeof(cb));
  cb.push = tcp_push;
  mstls_settings_default(&st);
  st.policy = MSTLS_POLICY_RESUME;
  st.nstreams = NSTREAMS;
  st.server_name = "server.test";
  st.flags = flags;
  st.tls.alpn = g_alpn;
  /* These servers always send a ticket: a fixed wait (a failure guard)
   * instead of twice the measured handshake time, so that a server
   * descheduled by a busy machine cannot turn a resumption into a full
   * handshake. */
  st.ticket_wait = 10 * MSTLS_SECONDS;
  assert_int_equal(mstls_session_new(&s, MSTLS_ROLE_CLIENT, &st, &cb, cred, c),
                   0);
  (void)mstls_session_handshake(s);
  while (!complete && now_ns() < end) {
    /* Timers first when they are due: the session's expiry says when (0
     * right after a handshake begins, which stamps its start). */
    mstls_tstamp due = mstls_session_get_expiry(s), t = now_ns();
    int wait_ms = due <= t ? 0 : (int)((due - t) / MSTLS_MILLISECONDS) + 1;
    (void)mstls_session_handle_expiry(s, t);
    read_streams(s, c, wait_ms < 20 ? wait_ms : 20);
    (void)mstls_session_handshake(s);
    complete = serve_streams(s, c);
  }
  for (i = 0; i < NSTREAMS; i++) {
    if (c->st[i].fd >= 0) {
      close(c->st[i].fd);
      c->st[i].fd = -2;
    }
  }
  mstls_session_del(s);
  mstls_credentials_del(cred);
  if (!complete) {
    for (i = 0; i < NSTREAMS; i++) {
      print_message("stream %d: done %d resumed %d group %s page %zu bytes\n",
                    i, c->st[i].done, c->st[i].resumed, c->st[i].group,
                    c->st[i].pagelen);
    }
    fail_msg("not every stream got its page within the guard");
  }
}

/* Streams 1.. resumed stream 0's session, with (EC)DHE (@p dhe) or
 * without. */
static void check_resumed(const tcp_client *c, int dhe) {
  int i;

  assert_int_equal(c->st[0].resumed, 0);
  for (i = 1; i < NSTREAMS; i++) {
    print_message("stream %d: resumed %d, group %s\n", i, c->st[i].resumed,
                  c->st[i].group);
    assert_int_equal(c->st[i].resumed, 1);
    if (dhe) {
      assert_string_not_equal(c->st[i].group, "-");
    } else {
      assert_string_equal(c->st[i].group, "-");
    }
  }
}

/* openssl s_server's page names each connection "New" or "Reused". */
static void check_openssl_pages(const tcp_client *c) {
  int i;

  assert_non_null(strstr(c->st[0].page, "New, TLSv1.3"));
  for (i = 1; i < NSTREAMS; i++) {
    assert_non_null(strstr(c->st[i].page, "Reused, TLSv1.3"));
  }
}

static void openssl_server(uint32_t flags) {
  char port[8];
  uint16_t p;
  tcp_client c;
  const char *argv[] = {"openssl", "s_server", "-accept", port,   "-cert",
                        g_cert,    "-key",     g_key,     "-www", NULL};

  if (!have("openssl")) {
    skip();
  }
  p = free_port();
  snprintf(port, sizeof(port), "%u", p);
  g_server = start_server(argv, p);
  run_client(&c, p, flags);
  check_openssl_pages(&c);
  /* OpenSSL refuses psk_ke unless SSL_OP_ALLOW_NO_DHE_KEX is set: both
   * settings resume, with psk_dhe_ke. */
  check_resumed(&c, 1);
}

static void gnutls_server(const char *priority, uint32_t flags, int dhe) {
  char port[8];
  uint16_t p;
  tcp_client c;
  const char *argv[] = {
      "gnutls-serv", "--http",        "--port", port,         "--x509certfile",
      g_cert,        "--x509keyfile", g_key,    "--priority", priority,
      NULL};

  if (!have("gnutls-serv")) {
    skip();
  }
  p = free_port();
  snprintf(port, sizeof(port), "%u", p);
  g_server = start_server(argv, p);
  run_client(&c, p, flags);
  check_resumed(&c, dhe);
}

/* ALPN against both servers: every stream, resumed ones included (TLS
 * 1.3 negotiates it again on each connection), gets the protocol the
 * server picked from the client's offer. */
static void check_alpn(const tcp_client *c, const char *want) {
  int i;
  for (i = 0; i < NSTREAMS; i++) {
    assert_string_equal(c->st[i].alpn, want);
  }
}

/* Start @p argv (a server whose port argument is @p port, filled here),
 * offer "x-unknown,http/1.1", and require http/1.1 on every stream. */
static void alpn_against(const char *const argv[], char *port, size_t plen) {
  uint16_t p;
  tcp_client c;
  if (!have(argv[0])) {
    skip();
  }
  p = free_port();
  snprintf(port, plen, "%u", p);
  g_server = start_server(argv, p);
  g_alpn = "x-unknown,http/1.1";
  run_client(&c, p, 0);
  g_alpn = NULL;
  check_alpn(&c, "http/1.1");
  check_resumed(&c, 1);
}

static void test_openssl_alpn(void **state) {
  char port[8];
  const char *argv[] = {"openssl", "s_server", "-accept",     port,
                        "-cert",   g_cert,     "-key",        g_key,
                        "-www",    "-alpn",    "h2,http/1.1", NULL};
  (void)state;
  alpn_against(argv, port, sizeof(port));
}

static void test_gnutls_alpn(void **state) {
  char port[8];
  const char *argv[] = {"gnutls-serv",
                        "--http",
                        "--port",
                        port,
                        "--x509certfile",
                        g_cert,
                        "--x509keyfile",
                        g_key,
                        "--alpn=http/1.1",
                        "--alpn-fatal",
                        NULL};
  (void)state;
  alpn_against(argv, port, sizeof(port));
}

static void test_openssl_default(void **state) {
  (void)state;
  openssl_server(0);
}

static void test_openssl_psk_ke_setting(void **state) {
  (void)state;
  openssl_server(MSTLS_SETTINGS_RESUME_PSK_KE);
}

/* A GnuTLS server with its NORMAL priority resumes with psk_dhe_ke only. */
static void test_gnutls_normal_default(void **state) {
  (void)state;
  gnutls_server("NORMAL", 0, 1);
}

static void test_gnutls_normal_psk_ke_setting(void **state) {
  (void)state;
  gnutls_server("NORMAL", MSTLS_SETTINGS_RESUME_PSK_KE, 1);
}

/* A GnuTLS server that allows both takes the client's first choice. */
static void test_gnutls_psk_default(void **state) {
  (void)state;
  gnutls_server("NORMAL:+PSK:+ECDHE-PSK", 0, 1);
}

static void test_gnutls_psk_psk_ke_setting(void **state) {
  (void)state;
  gnutls_server("NORMAL:+PSK:+ECDHE-PSK", MSTLS_SETTINGS_RESUME_PSK_KE, 0);
}

static int group_setup(void **state) {
  const test_pki *pki = test_pki_get();

  (void)state;
  signal(SIGPIPE, SIG_IGN);
  snprintf(g_dir, sizeof(g_dir), "/tmp/mstls-resume-interop-XXXXXX");
  if (!pki || !mkdtemp(g_dir)) {
    return -1;
  }
  snprintf(g_cert, sizeof(g_cert), "%s/cert.pem", g_dir);
  snprintf(g_key, sizeof(g_key), "%s/key.pem", g_dir);
  return write_file(g_cert, pki->server_cert_pem) < 0 ||
                 write_file(g_key, pki->server_key_pem) < 0
             ? -1
             : 0;
}

static int group_teardown(void **state) {
  (void)state;
  unlink(g_cert);
  unlink(g_key);
  rmdir(g_dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_openssl_default, stop_server),
      cmocka_unit_test_teardown(test_openssl_psk_ke_setting, stop_server),
      cmocka_unit_test_teardown(test_gnutls_normal_default, stop_server),
      cmocka_unit_test_teardown(test_gnutls_normal_psk_ke_setting, stop_server),
      cmocka_unit_test_teardown(test_gnutls_psk_default, stop_server),
      cmocka_unit_test_teardown(test_gnutls_psk_psk_ke_setting, stop_server),
      cmocka_unit_test_teardown(test_openssl_alpn, stop_server),
      cmocka_unit_test_teardown(test_gnutls_alpn, stop_server),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
