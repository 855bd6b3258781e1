/* Interop with DTLS peers nobody here wrote: gnutls-cli and
 * openssl s_client against the endpoint's server; the endpoint's client
 * against gnutls-serv and openssl s_server. Children run on loopback with
 * ports picked by the kernel, bounded in time and always killed.
 *
 * Load-proof: assertions are on outcomes (handshakes, echoed markers, exit
 * codes, the endpoint's counters), never on elapsed time. Each wait pumps
 * the loop in 10 ms rounds until its event, within DEADLINE_MS (20 s, as
 * the endpoint's handshake timeout) as a hang guard; a server child that
 * may start late is met by our ClientHello retransmitted from 100 ms on. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "certs.h"
#include "udp_helpers.h"

#define DEADLINE_MS 20000

typedef struct child {
  pid_t pid;
  int in;  /* its stdin */
  int out; /* its stdout + stderr */
  char buf[65536];
  size_t len;
} child;

static mstls_credentials *g_scred, *g_ccred;
static char g_dir[64], g_cert[128], g_key[128];

static int have(const char *prog) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
  return system(cmd) == 0;
}

/* Skip the test when @p prog is not installed. */
static void need(const char *prog) {
  if (!have(prog)) {
    skip();
  }
}

static void spawn(child *c, const char *const argv[]) {
  int in[2], out[2];
  memset(c, 0, sizeof(*c));
  assert_int_equal(pipe(in), 0);
  assert_int_equal(pipe(out), 0);
  c->pid = fork();
  assert_true(c->pid >= 0);
  if (c->pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    close(in[1]);
    close(out[0]);
    {
      char *v[16];
      size_t i;
      for (i = 0; argv[i] && i < 15; i++) {
        v[i] = strdup(argv[i]);
      }
      v[i] = NULL;
      execvp(v[0], v);
    }
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  c->in = in[1];
  c->out = out[0];
  fcntl(c->out, F_SETFL, O_NONBLOCK);
  signal(SIGPIPE, SIG_IGN);
}

/* spawn() with the argv @p head, then @p opts, then @p tail (each
 * NULL-terminated; @p opts and @p tail may be NULL). */
static void spawn_join(child *c, const char *const *head,
                       const char *const *opts, const char *const *tail) {
  const char *const *parts[3] = {head, opts, tail};
  const char *argv[16];
  size_t n = 0, i, j;
  for (i = 0; i < 3; i++) {
    for (j = 0; parts[i] && parts[i][j]; j++) {
      assert_true(n < 15);
      argv[n++] = parts[i][j];
    }
  }
  argv[n] = NULL;
  spawn(c, argv);
}

static void child_pump(child *c) {
  for (;;) {
    ssize_t n;
    if (c->len + 1 >= sizeof(c->buf)) {
      return;
    }
    n = read(c->out, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
    if (n <= 0) {
      return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = 0;
  }
}

static void child_kill(child *c) {
  if (c->pid > 0) {
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    c->pid = 0;
  }
  if (c->in >= 0) {
    close(c->in);
  }
  close(c->out);
  c->in = -1;
}

static void child_write(child *c, const char *s) {
  assert_int_equal(write(c->in, s, strlen(s)), (ssize_t)strlen(s));
}

static mstls_tstamp deadline(void) {
  return mstls_udp_now() + DEADLINE_MS * MSTLS_MILLISECONDS;
}

/* One round before @p end: the loop for 10 ms (a sleep without one), then
 * the child's output. @return 0, without a round, once @p end has passed. */
static int pump(mstls_udp_loop *loop, child *c, mstls_tstamp end) {
  if (mstls_udp_now() >= end) {
    return 0;
  }
  if (loop) {
    mstls_udp_loop_run_once(loop, 10);
  } else {
    usleep(10000);
  }
  child_pump(c);
  return 1;
}

/* ---- our server ------------------------------------------------------------
 */

typedef struct srv {
  uint64_t done, closed, bytes;
  int last_reason;
  char detail[MSTLS_DETAIL_MAX]; /* why the last peer closed */
  mstls_udp_peer *peer;          /* the last peer whose handshake completed */
} srv;

static void srv_done(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                     void *ud) {
  srv *s = ud;
  (void)ep;
  (void)f;
  s->done++;
  s->peer = p;
}

static void srv_data(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                     const uint8_t *d, size_t len, void *ud) {
  srv *s = ud;
  (void)ep;
  (void)f;
  s->bytes += len;
  mstls_udp_peer_send(p, d, len);
}

static void srv_closed(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                       int reason, void *ud) {
  srv *s = ud;
  (void)ep;
  (void)f;
  s->closed++;
  s->last_reason = reason;
  (void)mstls_udp_peer_get_error_detail(p, s->detail, sizeof(s->detail));
}

/* Loopback with port 0 (the kernel picks a free port); not through
 * mstls_udp_resolve(), which takes only ports 1..65535. */
static void loopback_any_port(int v6, struct sockaddr_storage *ss,
                              socklen_t *sl) {
  memset(ss, 0, sizeof(*ss));
  if (v6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    *sl = sizeof(*in6);
  } else {
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *sl = sizeof(*in);
  }
}

static const char *g_srtp;            /* the next server's SRTP profiles */
static mstls_credentials *g_psk_cred; /* the next server's, when not NULL */

/* Our server on loopback (a port the kernel picks, written to @p port)
 * with @p set and @p cred, reporting to @p s. */
static mstls_udp_loop *srv_loop_new(srv *s, int v6,
                                    const mstls_udp_settings *set,
                                    mstls_credentials *cred, char *port,
                                    size_t plen) {
  struct sockaddr_storage ss;
  socklen_t sl;
  mstls_udp_callbacks cb;
  mstls_udp_loop *loop = NULL;

  loopback_any_port(v6, &ss, &sl);
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = srv_done;
  cb.recv_data = srv_data;
  cb.closed = srv_closed;
  memset(s, 0, sizeof(*s));
  assert_int_equal(
      mstls_udp_loop_new(&loop, (struct sockaddr *)&ss, sl, set, &cb, cred, s),
      0);
  assert_int_equal(mstls_udp_loop_get_local_addr(loop, &ss, &sl), 0);
  snprintf(port, plen, "%u",
           ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                    : ((struct sockaddr_in *)&ss)->sin_port));
  return loop;
}

static mstls_udp_loop *start_server_alpn(srv *s, int v6, const char *priority,
                                         const char *alpn, char *port,
                                         size_t plen) {
  mstls_udp_settings set;
  mstls_udp_settings_default(&set);
  set.priority = priority;
  set.tls.alpn = alpn;
  set.tls.srtp_profiles = g_srtp;
  return srv_loop_new(s, v6, &set, g_psk_cred ? g_psk_cred : g_scred, port,
                      plen);
}

static mstls_udp_loop *start_server(srv *s, int v6, const char *priority,
                                    char *port, size_t plen) {
  return start_server_alpn(s, v6, priority, NULL, port, plen);
}

/* Pump the loop and the child until the server's handshake is done
 * (bounded), and require it. */
static void wait_handshake(mstls_udp_loop *loop, child *c, srv *s) {
  mstls_tstamp end = deadline();
  while (s->done == 0 && pump(loop, c, end)) {
  }
  assert_int_equal(s->done, 1);
}

/* Pump the loop and the child until @p want appears in its output. */
static int wait_output(mstls_udp_loop *loop, child *c, const char *want) {
  mstls_tstamp end = deadline();
  while (pump(loop, c, end)) {
    if (strstr(c->buf, want)) {
      return 1;
    }
  }
  print_message("child output:\n%s\n", c->buf);
  return 0;
}

/* A client of our server at loopback:@p port: openssl s_client (DTLS 1.2)
 * or gnutls-cli, with the test's own options @p opts (NULL-terminated, or
 * NULL) after the fixed ones. */
static void spawn_client(child *c, int use_openssl, int v6, const char *port,
                         const char *const *opts) {
  char hostport[64];
  if (use_openssl) {
    const char *const head[] = {"openssl",  "s_client", "-dtls1_2",
                                "-connect", hostport,   NULL};
    snprintf(hostport, sizeof(hostport), v6 ? "[::1]:%s" : "127.0.0.1:%s",
             port);
    spawn_join(c, head, opts, NULL);
  } else {
    const char *const head[] = {"gnutls-cli", "--udp", NULL};
    const char *const tail[] = {"--port", port, v6 ? "::1" : "127.0.0.1", NULL};
    spawn_join(c, head, opts, tail);
  }
}

static void server_vs(int v6, int use_openssl) {
  static const char *const gnutls_opts[] = {"--insecure", NULL};
  char port[16], marker[64];
  srv s;
  child c;
  mstls_udp_loop *loop;
  mstls_udp_stats st;
  mstls_tstamp end;

  need(use_openssl ? "openssl" : "gnutls-cli");
  loop = start_server(&s, v6, NULL, port, sizeof(port));
  snprintf(marker, sizeof(marker), "interop-%s-%s-%d\n",
           use_openssl ? "openssl" : "gnutls", v6 ? "v6" : "v4", getpid());
  /* s_client without -quiet: it implies -ign_eof, and the end of stdin
   * must make s_client close with close_notify. */
  spawn_client(&c, use_openssl, v6, port, use_openssl ? NULL : gnutls_opts);
  /* Send once the handshake is done (the peer reads stdin only then). */
  wait_handshake(loop, &c, &s);
  child_write(&c, marker);
  assert_true(wait_output(loop, &c, marker));
  /* Its stdin ends: it closes with close_notify. */
  close(c.in);
  c.in = -1;
  end = deadline();
  while (s.closed == 0 && pump(loop, &c, end)) {
  }
  mstls_udp_endpoint_get_stats(mstls_udp_loop_get_endpoint(loop), &st);
  assert_int_equal(st.handshakes_done, 1);
  assert_int_equal(st.cookies_verified, 1);
  assert_int_equal(s.bytes, strlen(marker));
  assert_int_equal(s.closed, 1);
  assert_int_equal(s.last_reason, 0);
  child_kill(&c);
  mstls_udp_loop_del(loop);
}

/* ALPN and RFC 5705 keying-material export against a real client: the
 * client offers "h2" from a server list "coap,h2"; both sides then name
 * the same protocol and print the same exported bytes. */
static void server_alpn_export(int use_openssl) {
  static const char *const openssl_opts[] = {
      "-alpn", "h2", "-keymatexport", "EXPERIMENTAL-mstls", "-keymatexportlen",
      "20",    NULL};
  static const char *const gnutls_opts[] = {"--insecure", "--alpn=h2",
                                            "--keymatexport=EXPERIMENTAL-mstls",
                                            "--keymatexportsize=20", NULL};
  char port[16], hex[2 * 20 + 1], proto[16];
  uint8_t km[20];
  srv s;
  child c;
  mstls_udp_loop *loop;
  size_t i;

  need(use_openssl ? "openssl" : "gnutls-cli");
  loop = start_server_alpn(&s, 0, NULL, "coap,h2", port, sizeof(port));
  spawn_client(&c, use_openssl, 0, port,
               use_openssl ? openssl_opts : gnutls_opts);
  wait_handshake(loop, &c, &s);
  assert_int_equal(mstls_udp_peer_get_alpn(s.peer, proto, sizeof(proto)), 2);
  assert_string_equal(proto, "h2");
  assert_int_equal(mstls_udp_peer_export_keying_material(
                       s.peer, "EXPERIMENTAL-mstls", NULL, 0, km, sizeof(km)),
                   0);
  /* gnutls-cli prints the bytes in lower case, openssl in upper case. */
  for (i = 0; i < sizeof(km); i++) {
    snprintf(hex + 2 * i, 3, use_openssl ? "%02X" : "%02x", km[i]);
  }
  assert_true(wait_output(loop, &c, hex));
  assert_true(wait_output(loop, &c,
                          use_openssl ? "ALPN protocol: h2"
                                      : "Application protocol: h2"));
  child_kill(&c);
  mstls_udp_loop_del(loop);
}

static void test_alpn_export_vs_gnutls_cli(void **state) {
  (void)state;
  server_alpn_export(0);
}

static void test_alpn_export_vs_openssl_s_client(void **state) {
  (void)state;
  server_alpn_export(1);
}

/* DTLS-SRTP (RFC 5764) against a real client: the profile both name, and
 * the SRTP keys mstls gives equal the client's export of
 * "EXTRACTOR-dtls_srtp" (client key, server key, client salt, server
 * salt: 60 bytes for AES128_CM_HMAC_SHA1_80). */
static void server_srtp(int use_openssl) {
  static const char *const openssl_opts[] = {"-use_srtp",
                                             "SRTP_AES128_CM_SHA1_80",
                                             "-keymatexport",
                                             "EXTRACTOR-dtls_srtp",
                                             "-keymatexportlen",
                                             "60",
                                             NULL};
  static const char *const gnutls_opts[] = {
      "--insecure", "--srtp-profiles=SRTP_AES128_CM_HMAC_SHA1_80",
      "--keymatexport=EXTRACTOR-dtls_srtp", "--keymatexportsize=60", NULL};
  char port[16], hex[2 * 60 + 1], *h = hex;
  mstls_srtp_keys k;
  srv s;
  child c;
  mstls_udp_loop *loop;
  size_t i;

  need(use_openssl ? "openssl" : "gnutls-cli");
  g_srtp = "SRTP_AES128_CM_HMAC_SHA1_32:SRTP_AES128_CM_HMAC_SHA1_80";
  loop = start_server(&s, 0, NULL, port, sizeof(port));
  g_srtp = NULL;
  spawn_client(&c, use_openssl, 0, port,
               use_openssl ? openssl_opts : gnutls_opts);
  wait_handshake(loop, &c, &s);
  assert_int_equal(mstls_udp_peer_get_srtp(s.peer, &k), 1);
  assert_string_equal(k.profile, "SRTP_AES128_CM_HMAC_SHA1_80");
  assert_int_equal(k.key_len, 16);
  assert_int_equal(k.salt_len, 14);
  {
    const uint8_t *parts[4] = {k.client_key, k.server_key, k.client_salt,
                               k.server_salt};
    const size_t lens[4] = {k.key_len, k.key_len, k.salt_len, k.salt_len};
    int j;
    for (j = 0; j < 4; j++) {
      for (i = 0; i < lens[j]; i++) {
        h += snprintf(h, 3, use_openssl ? "%02X" : "%02x", parts[j][i]);
      }
    }
  }
  assert_true(wait_output(loop, &c, hex));
  assert_true(wait_output(loop, &c,
                          use_openssl ? "SRTP Extension negotiated, "
                                        "profile=SRTP_AES128_CM_SHA1_80"
                                      : "SRTP_AES128_CM_HMAC_SHA1_80"));
  child_kill(&c);
  mstls_udp_loop_del(loop);
}

static void test_srtp_vs_gnutls_cli(void **state) {
  (void)state;
  server_srtp(0);
}

static void test_srtp_vs_openssl_s_client(void **state) {
  (void)state;
  server_srtp(1);
}

/* DTLS 1.2 with a pre-shared key against a real client: a server whose
 * credentials hold only the key (no certificate), the client's identity
 * seen on the server, data both ways. */
static void server_psk(int use_openssl) {
  static const char hexkey[] = "000102030405060708090a0b0c0d0e0f"
                               "101112131415161718191a1b1c1d1e1f";
  static const char *const openssl_opts[] = {"-psk_identity", "coap-node",
                                             "-psk", hexkey, NULL};
  /* Plain PSK: gnutls-cli 3.7.9 itself crashes (SIGSEGV) in a DTLS
   * ECDHE-PSK handshake right after the server's key share, against any
   * server; openssl covers ECDHE-PSK below. */
  static const char *const gnutls_opts[] = {"--priority=NORMAL:-KX-ALL:+PSK",
                                            "--pskusername=coap-node",
                                            "--pskkey", hexkey, NULL};
  char port[16];
  uint8_t key[32];
  mstls_peer_identity id;
  srv s;
  child c;
  mstls_udp_loop *loop;
  size_t i;

  need(use_openssl ? "openssl" : "gnutls-cli");
  for (i = 0; i < sizeof(key); i++) {
    key[i] = (uint8_t)i;
  }
  assert_int_equal(mstls_credentials_new(&g_psk_cred, NULL), 0);
  assert_int_equal(
      mstls_credentials_add_psk(g_psk_cred, "coap-node", key, sizeof(key)), 0);
  loop = start_server(&s, 0, NULL, port, sizeof(port));
  spawn_client(&c, use_openssl, 0, port,
               use_openssl ? openssl_opts : gnutls_opts);
  wait_handshake(loop, &c, &s);
  assert_int_equal(mstls_udp_peer_get_peer_identity(s.peer, &id), 0);
  assert_string_equal(id.psk_identity, "coap-node");
  assert_int_equal(id.chain_len, 0);
  child_write(&c, "psk-echo-marker\n");
  assert_true(wait_output(loop, &c, "psk-echo-marker"));
  child_kill(&c);
  mstls_udp_loop_del(loop);
  mstls_credentials_del(g_psk_cred);
  g_psk_cred = NULL;
}

static void test_psk_vs_gnutls_cli(void **state) {
  (void)state;
  server_psk(0);
}

static void test_psk_vs_openssl_s_client(void **state) {
  (void)state;
  server_psk(1);
}

static void test_server_vs_gnutls_cli_v4(void **state) {
  (void)state;
  server_vs(0, 0);
}

static void test_server_vs_gnutls_cli_v6(void **state) {
  (void)state;
  server_vs(1, 0);
}

static void test_server_vs_openssl_s_client_v4(void **state) {
  (void)state;
  server_vs(0, 1);
}

static void test_server_vs_openssl_s_client_v6(void **state) {
  (void)state;
  server_vs(1, 1);
}

/* A server whose caller asks for DTLS 1.0 as well still refuses it: the
 * endpoint removes every version below DTLS 1.2 from the priority string.
 * gnutls-cli offering DTLS 1.0 only must fail its handshake. */
static void test_server_refuses_dtls10(void **state) {
  char port[16];
  srv s;
  child c;
  mstls_udp_loop *loop;
  mstls_udp_stats st;
  mstls_tstamp end;
  int status = 0;
  pid_t done = 0;
  static const char *const opts[] = {"--insecure", "--priority",
                                     "NORMAL:-VERS-ALL:+VERS-DTLS1.0", NULL};

  (void)state;
  need("gnutls-cli");
  loop = start_server(&s, 0, "NORMAL:+VERS-DTLS1.0", port, sizeof(port));
  spawn_client(&c, 0, 0, port, opts);
  /* Bounded wait for the client to give up (a failure guard only). */
  end = deadline();
  while (done == 0 && pump(loop, &c, end)) {
    done = waitpid(c.pid, &status, WNOHANG);
  }
  child_pump(&c);
  if (done == 0) {
    print_message("gnutls-cli still running:\n%s\n", c.buf);
  }
  assert_true(done == c.pid);
  c.pid = 0;
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  mstls_udp_endpoint_get_stats(mstls_udp_loop_get_endpoint(loop), &st);
  assert_int_equal(s.done, 0);
  assert_int_equal(st.handshakes_done, 0);
  child_kill(&c);
  mstls_udp_loop_del(loop);
}

/* ---- our client ------------------------------------------------------------
 */

typedef struct cli {
  int done, closed, reason;
  char detail[MSTLS_DETAIL_MAX]; /* why it closed */
  char got[256];
  size_t len;
} cli;

static void cli_done(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                     void *ud) {
  cli *c = ud;
  (void)ep;
  (void)f;
  (void)p;
  c->done = 1;
}

static void cli_data(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                     const uint8_t *d, size_t len, void *ud) {
  cli *c = ud;
  (void)ep;
  (void)f;
  (void)p;
  if (c->len + len < sizeof(c->got)) {
    memcpy(c->got + c->len, d, len);
    c->len += len;
    c->got[c->len] = 0;
  }
}

static void cli_closed(mstls_udp_endpoint *ep, uint32_t f, mstls_udp_peer *p,
                       int reason, void *ud) {
  cli *c = ud;
  (void)ep;
  (void)f;
  c->closed = 1;
  c->reason = reason;
  (void)mstls_udp_peer_get_error_detail(p, c->detail, sizeof(c->detail));
}

static void free_port(char *port, size_t plen) {
  struct sockaddr_in a;
  socklen_t al = sizeof(a);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  getsockname(fd, (struct sockaddr *)&a, &al);
  snprintf(port, plen, "%u", ntohs(a.sin_port));
  close(fd);
}

/* The address of a server child at 127.0.0.1:@p port. */
static void loopback_target(const char *port, struct sockaddr_storage *ts,
                            socklen_t *tl) {
  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%s", port);
  assert_int_equal(mstls_udp_resolve(target, ts, tl), 0);
}

/* gnutls-serv echoing, with @p opts (NULL-terminated, the port among
 * them), once it says it listens. */
static void spawn_gnutls_serv(child *c, const char *const *opts) {
  static const char *const head[] = {"gnutls-serv", "--udp", "--echo", NULL};
  spawn_join(c, head, opts, NULL);
  assert_true(wait_output(NULL, c, "listening"));
}

/* A server for our client on 127.0.0.1:@p port with the test certificate:
 * openssl s_server (DTLS 1.2; it prints what it gets, the test echoes) or
 * gnutls-serv (it echoes). */
static void spawn_server(child *c, int use_openssl, const char *port) {
  if (use_openssl) {
    const char *const argv[] = {"openssl", "s_server", "-dtls1_2", "-quiet",
                                "-accept", port,       "-cert",    g_cert,
                                "-key",    g_key,      NULL};
    spawn(c, argv);
  } else {
    const char *const opts[] = {
        "--port", port, "--x509certfile", g_cert, "--x509keyfile", g_key, NULL};
    spawn_gnutls_serv(c, opts);
  }
}

/* Client settings: the child may not listen yet, so the ClientHello is
 * retransmitted quickly. */
static void cli_settings(mstls_udp_settings *set) {
  mstls_udp_settings_default(set);
  set->flags = 0;
  set->retrans_timeout_ms = 100;
}

static mstls_udp_loop *cli_loop_new(cli *st, const mstls_udp_settings *set,
                                    mstls_credentials *cred) {
  struct sockaddr_storage ss;
  socklen_t sl;
  mstls_udp_callbacks cb;
  mstls_udp_loop *loop = NULL;
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = cli_done;
  cb.recv_data = cli_data;
  cb.closed = cli_closed;
  loopback_any_port(0, &ss, &sl);
  assert_int_equal(
      mstls_udp_loop_new(&loop, (struct sockaddr *)&ss, sl, set, &cb, cred, st),
      0);
  return loop;
}

static mstls_udp_loop *cli_loop(cli *st) {
  mstls_udp_settings set;
  cli_settings(&set);
  return cli_loop_new(st, &set, g_ccred);
}

static int cli_settled(cli *st) {
  return st->done || st->closed;
}

/* Pump until the client's handshake completed or it closed (bounded). */
static void cli_settle(mstls_udp_loop *loop, child *c, cli *st) {
  mstls_tstamp end = deadline();
  while (!cli_settled(st) && pump(loop, c, end)) {
  }
}

/* Require the completed handshake, saying why when there is none. */
static void cli_require_done(const cli *st, const child *c) {
  if (!st->done) {
    print_message("closed %d reason %d, child:\n%s\n", st->closed, st->reason,
                  c->buf);
  }
  assert_true(st->done);
}

/* Pump until @p want is among the data the client received (bounded). */
static void cli_wait_got(mstls_udp_loop *loop, child *c, const cli *st,
                         const char *want) {
  mstls_tstamp end = deadline();
  while (!strstr(st->got, want) && pump(loop, c, end)) {
  }
}

static void client_vs(int use_openssl) {
  char port[16], marker[64];
  struct sockaddr_storage ts;
  socklen_t tl;
  mstls_udp_loop *loop;
  mstls_udp_peer *peer = NULL;
  child c;
  cli st;

  need(use_openssl ? "openssl" : "gnutls-serv");
  free_port(port, sizeof(port));
  spawn_server(&c, use_openssl, port);
  memset(&st, 0, sizeof(st));
  loop = cli_loop(&st);
  loopback_target(port, &ts, &tl);
  assert_int_equal(mstls_udp_loop_connect(loop, (struct sockaddr *)&ts, tl,
                                          "localhost", &peer),
                   0);
  cli_settle(loop, &c, &st);
  cli_require_done(&st, &c);
  snprintf(marker, sizeof(marker), "interop-client-%s-%d\n",
           use_openssl ? "openssl" : "gnutls", getpid());
  assert_int_equal(mstls_udp_peer_send(peer, marker, strlen(marker)),
                   (long)strlen(marker));
  if (use_openssl) {
    /* s_server prints what it got; the test echoes it back on stdin. */
    assert_true(wait_output(loop, &c, marker));
    child_write(&c, marker);
  }
  cli_wait_got(loop, &c, &st, marker);
  assert_int_equal(st.len, strlen(marker));
  assert_memory_equal(st.got, marker, strlen(marker));
  assert_int_equal(mstls_udp_peer_close(peer), 0);
  assert_int_equal(st.reason, MSTLS_E_CLOSED);
  mstls_udp_loop_run_once(loop, 0);
  child_kill(&c);
  mstls_udp_loop_del(loop);
}

/* ---- raw public keys (RFC 7250) ---------------------------------------------
 * gnutls-cli and gnutls-serv present raw keys with --rawpkfile and
 * --rawpkkeyfile (OpenSSL 3.0 has no RFC 7250). Each side pins the other's
 * key; a real peer on the other end must negotiate the raw type. */

/* Raw keys only: with "+CTYPE-CLI-RAWPK" alone gnutls-cli would list X.509
 * first as its own type (the list is in the client's order of preference,
 * RFC 7250 §4.1), and a GnuTLS server takes the first type it supports:
 * X.509, for which the client then has no certificate. */
#define RAWPK_PRIORITY "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-CTYPE-ALL:+CTYPE-RAWPK"

/* Write a new key pair to g_dir/@p name.key and .pub; @p pin receives its
 * SPKI SHA-256. */
static void rawpk_files(const char *name, char *key, char *pub, size_t cap,
                        uint8_t pin[MSTLS_SHA256_LEN]) {
  char *kp = test_new_key_pem(), *pp;
  mstls_credentials *c = NULL;
  FILE *f;
  assert_non_null(kp);
  pp = test_pubkey_pem(kp);
  assert_non_null(pp);
  snprintf(key, cap, "%s/%s.key", g_dir, name);
  snprintf(pub, cap, "%s/%s.pub", g_dir, name);
  assert_non_null(f = fopen(key, "w"));
  fputs(kp, f);
  fclose(f);
  assert_non_null(f = fopen(pub, "w"));
  fputs(pp, f);
  fclose(f);
  assert_int_equal(mstls_credentials_new(&c, NULL), 0);
  assert_int_equal(mstls_credentials_set_rawpk_file(c, pub, key), 0);
  assert_int_equal(mstls_credentials_get_rawpk_sha256(c, pin), 0);
  mstls_credentials_del(c);
  free(kp);
  free(pp);
}

/* Our server, a raw key only, pinning gnutls-cli's raw key. */
static void test_rawpk_server_vs_gnutls_cli(void **state) {
  char port[16], skey[128], spub[128], ckey[128], cpub[128];
  char kf[160], pf[160];
  /* --insecure: gnutls-cli has no way to pin a raw key. */
  const char *const opts[] = {"--insecure", "--priority=" RAWPK_PRIORITY, kf,
                              pf, NULL};
  uint8_t spin[MSTLS_SHA256_LEN], cpin[MSTLS_SHA256_LEN];
  mstls_udp_settings set;
  mstls_udp_loop *loop;
  mstls_credentials *cred = NULL;
  mstls_peer_identity id;
  mstls_tstamp end;
  srv s;
  child c;
  (void)state;
  need("gnutls-cli");
  rawpk_files("srv", skey, spub, sizeof(skey), spin);
  rawpk_files("cli", ckey, cpub, sizeof(ckey), cpin);
  assert_int_equal(mstls_credentials_new(&cred, NULL), 0);
  assert_int_equal(mstls_credentials_set_rawpk_file(cred, NULL, skey), 0);
  mstls_udp_settings_default(&set);
  set.tls.raw_public_keys = 1;
  set.tls.pins = cpin; /* and so requires the client's key */
  set.tls.npins = 1;
  loop = srv_loop_new(&s, 0, &set, cred, port, sizeof(port));
  mstls_credentials_del(cred);
  snprintf(kf, sizeof(kf), "--rawpkkeyfile=%s", ckey);
  snprintf(pf, sizeof(pf), "--rawpkfile=%s", cpub);
  spawn_client(&c, 0, 0, port, opts);
  end = deadline();
  while (s.done == 0 && s.closed == 0 && pump(loop, &c, end)) {
  }
  if (s.done == 0) {
    print_message("closed %d reason %d (%s), child:\n%s\n", (int)s.closed,
                  s.last_reason, s.detail, c.buf);
  }
  assert_int_equal(s.done, 1);
  assert_int_equal(mstls_udp_peer_get_peer_identity(s.peer, &id), 0);
  assert_int_equal(id.raw_public_key, 1);
  assert_int_equal(id.verified, 1);
  assert_memory_equal(id.sha256, cpin, sizeof(cpin));
  assert_true(wait_output(loop, &c, "Certificate type: Raw Public Key"));
  child_write(&c, "rawpk-echo-marker\n");
  assert_true(wait_output(loop, &c, "rawpk-echo-marker"));
  child_kill(&c);
  mstls_udp_loop_del(loop);
  unlink(skey);
  unlink(spub);
  unlink(ckey);
  unlink(cpub);
}

/* Our client, pinning gnutls-serv's raw key (and a wrong pin refused). */
static void test_rawpk_client_vs_gnutls_serv(void **state) {
  char port[16], skey[128], spub[128], kf[160], pf[160];
  const char *const opts[] = {
      "--priority=" RAWPK_PRIORITY, kf, pf, "--port", port, NULL};
  uint8_t spin[MSTLS_SHA256_LEN], wrong[MSTLS_SHA256_LEN];
  struct sockaddr_storage ts;
  socklen_t tl;
  mstls_udp_settings set;
  mstls_credentials *cred = NULL;
  mstls_peer_identity id;
  int round;
  child c;
  (void)state;
  need("gnutls-serv");
  rawpk_files("serv", skey, spub, sizeof(skey), spin);
  memcpy(wrong, spin, sizeof(wrong));
  wrong[5] ^= 0x10;
  free_port(port, sizeof(port));
  snprintf(kf, sizeof(kf), "--rawpkkeyfile=%s", skey);
  snprintf(pf, sizeof(pf), "--rawpkfile=%s", spub);
  spawn_gnutls_serv(&c, opts);
  assert_int_equal(mstls_credentials_new(&cred, NULL), 0);
  for (round = 0; round < 2; round++) {
    mstls_udp_loop *loop;
    mstls_udp_peer *peer = NULL;
    cli st;
    memset(&st, 0, sizeof(st));
    cli_settings(&set);
    set.tls.raw_public_keys = 1;
    set.tls.pins = round == 0 ? spin : wrong;
    set.tls.npins = 1;
    loop = cli_loop_new(&st, &set, cred);
    loopback_target(port, &ts, &tl);
    assert_int_equal(mstls_udp_loop_connect(loop, (struct sockaddr *)&ts, tl,
                                            "localhost", &peer),
                     0);
    cli_settle(loop, &c, &st);
    if (round == 1) {
      assert_false(st.done);
      assert_int_equal(st.reason, MSTLS_E_CERT_VERIFY);
      assert_non_null(strstr(st.detail, "raw public key"));
      assert_non_null(strstr(st.detail, "matches no pin"));
      mstls_udp_loop_del(loop);
      break;
    }
    cli_require_done(&st, &c);
    assert_int_equal(mstls_udp_peer_get_peer_identity(peer, &id), 0);
    assert_int_equal(id.raw_public_key, 1);
    assert_int_equal(id.verified, 1);
    assert_int_equal(mstls_udp_peer_send(peer, "rawpk\n", 6), 6);
    cli_wait_got(loop, &c, &st, "rawpk");
    assert_string_equal(st.got, "rawpk\n");
    assert_int_equal(mstls_udp_peer_close(peer), 0);
    mstls_udp_loop_run_once(loop, 0);
    mstls_udp_loop_del(loop);
  }
  mstls_credentials_del(cred);
  child_kill(&c);
  unlink(skey);
  unlink(spub);
}

static void test_client_vs_gnutls_serv(void **state) {
  (void)state;
  client_vs(0);
}

static void test_client_vs_openssl_s_server(void **state) {
  (void)state;
  client_vs(1);
}

/* Client resumption against a real server: the second connection takes
 * the session the first left in the endpoint's cache, and a new client
 * endpoint (a restarted process) resumes with the blob the application
 * kept. All three handshakes must agree with the server's view: the
 * first full, the others resumed. */
static mstls_udp_peer *cli_handshake(mstls_udp_loop *loop, child *c, cli *st,
                                     const struct sockaddr *to, socklen_t tl,
                                     const uint8_t *blob, size_t blen) {
  mstls_udp_peer *peer = NULL;
  memset(st, 0, sizeof(*st));
  assert_int_equal(
      mstls_udp_loop_connect2(loop, to, tl, "localhost", blob, blen, &peer), 0);
  cli_settle(loop, c, st);
  cli_require_done(st, c);
  return peer;
}

/* Close the peer and let the server see the close_notify: the next
 * handshake comes from the same address. */
static void cli_close(mstls_udp_loop *loop, child *c, mstls_udp_peer *peer) {
  assert_int_equal(mstls_udp_peer_close(peer), 0);
  mstls_udp_loop_run_once(loop, 0);
  child_pump(c);
}

static void client_resume_vs(int use_openssl) {
  char port[16];
  struct sockaddr_storage ts;
  socklen_t tl;
  mstls_udp_loop *loop;
  mstls_udp_peer *peer;
  mstls_udp_peer_info info;
  mstls_udp_stats stats;
  uint8_t blob[8192];
  size_t blen = sizeof(blob);
  child c;
  cli st;
  int i;

  need(use_openssl ? "openssl" : "gnutls-serv");
  free_port(port, sizeof(port));
  spawn_server(&c, use_openssl, port);
  loopback_target(port, &ts, &tl);
  loop = cli_loop(&st);
  for (i = 0; i < 2; i++) {
    peer = cli_handshake(loop, &c, &st, (struct sockaddr *)&ts, tl, NULL, 0);
    assert_int_equal(mstls_udp_peer_get_info(peer, &info), 0);
    assert_int_equal(info.resumed, i == 1);
    if (i == 1) {
      assert_int_equal(mstls_udp_peer_get_resumption_data(peer, blob, &blen),
                       0);
    }
    cli_close(loop, &c, peer);
  }
  mstls_udp_endpoint_get_stats(mstls_udp_loop_get_endpoint(loop), &stats);
  assert_int_equal(stats.resumption_offers, 1);
  assert_int_equal(stats.handshakes_resumed, 1);
  assert_int_equal(stats.resumption_rejected, 0);
  mstls_udp_loop_del(loop);
  /* A restarted client with only the blob. */
  loop = cli_loop(&st);
  peer = cli_handshake(loop, &c, &st, (struct sockaddr *)&ts, tl, blob, blen);
  assert_int_equal(mstls_udp_peer_get_info(peer, &info), 0);
  assert_int_equal(info.resumed, 1);
  cli_close(loop, &c, peer);
  child_kill(&c);
  mstls_udp_loop_del(loop);
}

static void test_client_resume_vs_gnutls_serv(void **state) {
  (void)state;
  client_resume_vs(0);
}

static void test_client_resume_vs_openssl_s_server(void **state) {
  (void)state;
  client_resume_vs(1);
}

static int group_setup(void **state) {
  (void)state;
  snprintf(g_dir, sizeof(g_dir), "/tmp/mstls-udp-interop-XXXXXX");
  if (!mkdtemp(g_dir)) {
    return -1;
  }
  if (udpt_write_pem_pair(g_dir, g_cert, g_key, sizeof(g_cert)) < 0) {
    return -1;
  }
  g_scred = udpt_server_creds();
  g_ccred = udpt_client_creds(g_scred);
  return g_scred && g_ccred ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  mstls_credentials_del(g_scred);
  mstls_credentials_del(g_ccred);
  unlink(g_cert);
  unlink(g_key);
  rmdir(g_dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_server_vs_gnutls_cli_v4),
      cmocka_unit_test(test_alpn_export_vs_gnutls_cli),
      cmocka_unit_test(test_alpn_export_vs_openssl_s_client),
      cmocka_unit_test(test_srtp_vs_gnutls_cli),
      cmocka_unit_test(test_srtp_vs_openssl_s_client),
      cmocka_unit_test(test_psk_vs_gnutls_cli),
      cmocka_unit_test(test_psk_vs_openssl_s_client),
      cmocka_unit_test(test_server_vs_gnutls_cli_v6),
      cmocka_unit_test(test_server_vs_openssl_s_client_v4),
      cmocka_unit_test(test_server_vs_openssl_s_client_v6),
      cmocka_unit_test(test_server_refuses_dtls10),
      cmocka_unit_test(test_client_vs_gnutls_serv),
      cmocka_unit_test(test_client_vs_openssl_s_server),
      cmocka_unit_test(test_client_resume_vs_gnutls_serv),
      cmocka_unit_test(test_client_resume_vs_openssl_s_server),
      cmocka_unit_test(test_rawpk_server_vs_gnutls_cli),
      cmocka_unit_test(test_rawpk_client_vs_gnutls_serv),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
