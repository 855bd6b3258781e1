/* Real servers and clients behind Linux IPVS, for tests/vm/ipvs.sh (inside
 * the QEMU guest: a director, two real servers and a client in network
 * namespaces joined by veth pairs).
 *
 *   ipvs_peer pki DIR
 *       Writes the test PKI (ca.pem, cert.pem, key.pem for "server.test")
 *       and a fresh fleet secret file (fleet, mode 0600) into DIR.
 *   ipvs_peer server --name N --addr A --sctp-port P --udp-port U --dir DIR
 *            [--timeout S] [--workers W]
 *       One real server: TLS over kernel SCTP (4 streams, echo) and DTLS
 *       (echo) on A, every handshake said in one line ("N sctp ..." or
 *       "N dtls ..." with full or resumed), until SIGTERM or the timeout.
 *       Both services take their ticket key and cookie secret from the
 *       fleet secret DIR/fleet, as every other real server does.
 *   ipvs_peer client --vip V --sctp-port P --udp-port U --dir DIR
 *            --rounds R [--hold FIFO]
 *       R rounds, each a new SCTP association (4 streams, echo checked)
 *       and a new DTLS connection (echo checked) through the virtual
 *       address, each offering the resumption data of the previous one.
 *       With --hold: first one SCTP association and one DTLS connection
 *       are opened and echo once, "holding (dtls port N)" is printed (N:
 *       the DTLS connection's local UDP port, by which the script finds
 *       its real server), and the client waits for a line on FIFO (the
 *       script removes the real server that holds the association, kills
 *       it and waits until its processes are gone meanwhile). The line
 *       says whether the DTLS connection's real server is the killed one
 *       ("dtls-gone") or the other ("dtls-kept"). Then each echoes again:
 *       the association must fail (the killed server's kernel ends it, or
 *       SCTP's failure detection reports it gone) and the client
 *       reconnects and resumes; the DTLS connection must still be served
 *       when kept, and when gone (UDP says nothing, so only a bound can
 *       tell) it is reconnected and resumed after IV_GONE_WAIT.
 *
 * Every wait is bounded. The bounds of ordinary rounds (IV_HS_WAIT,
 * IV_ECHO_WAIT) only mean hung; the one short bound, IV_GONE_WAIT, is only
 * used where silence is the expected outcome. The client exits 0 only if
 * every round echoed intact and every round after the first resumed on
 * every stream with no full handshake. */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mstls/sctp.h>
#include <mstls/udp.h>

#include "certs.h"
#include "peer_args.h"

#define IV_STREAMS 4
#define IV_MAX_ASSOCS 32
#define IV_RESUME_MAX 8192
/* Bounds (s) of a handshake and of an echo in an ordinary round: long,
 * since the guest emulates its CPU in software, often under load; reaching
 * one means hung. */
#define IV_HS_WAIT 60
#define IV_ECHO_WAIT 30
/* How long the held DTLS connection waits for an echo from a server the
 * script has killed: no answer can come, and UDP reports nothing. */
#define IV_GONE_WAIT 3

static volatile sig_atomic_t iv_stop;

static void iv_on_term(int sig) {
  (void)sig;
  iv_stop = 1;
}

static double iv_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int iv_write(const char *dir, const char *name, const void *data,
                    size_t len) {
  char path[512];
  FILE *f;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "wb");
  if (f == NULL)
    return -1;
  if (fwrite(data, 1, len, f) != len) {
    fclose(f);
    return -1;
  }
  return fclose(f) == 0 ? 0 : -1;
}

static int iv_pki(const char *dir) {
  const test_pki *p = test_pki_get();
  uint8_t secret[32];
  char hex[2 * sizeof(secret) + 2], path[512];
  FILE *r = fopen("/dev/urandom", "rb");
  size_t i;
  int fd;

  if (p == NULL || r == NULL ||
      fread(secret, 1, sizeof(secret), r) != sizeof(secret))
    return 1;
  fclose(r);
  for (i = 0; i < sizeof(secret); i++)
    snprintf(hex + 2 * i, 3, "%02x", secret[i]);
  hex[2 * sizeof(secret)] = '\n';
  hex[2 * sizeof(secret) + 1] = '\0';
  /* The fleet secret: readable by its owner only, or mstls refuses it. */
  snprintf(path, sizeof(path), "%s/fleet", dir);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) ||
      close(fd) != 0 ||
      iv_write(dir, "ca.pem", p->ca_pem, strlen(p->ca_pem)) != 0 ||
      iv_write(dir, "cert.pem", p->server_cert_pem,
               strlen(p->server_cert_pem)) != 0 ||
      iv_write(dir, "key.pem", p->server_key_pem, strlen(p->server_key_pem)) !=
          0) {
    printf("FAIL cannot write into %s\n", dir);
    return 1;
  }
  return 0;
}

typedef struct iv_opts {
  const char *name;
  const char *addr;
  uint16_t sctp_port;
  uint16_t udp_port;
  const char *dir;
  double timeout;
  unsigned rounds;
  const char *hold;
  unsigned workers;
} iv_opts;

/* Server ------------------------------------------------------------------ */

typedef struct iv_conn {
  mstls_sctp_assoc *a;
  int up;
  unsigned closed;
  uint8_t closed_mask;
} iv_conn;

typedef struct iv_server {
  const iv_opts *o;
  unsigned sctp_full, sctp_resumed, dtls_full, dtls_resumed, failed;
} iv_server;

static void iv_dtls_done(mstls_udp_endpoint *ep, uint32_t flags,
                         mstls_udp_peer *peer, void *ud) {
  iv_server *sv = ud;
  mstls_udp_peer_info info;
  (void)ep;
  (void)flags;
  if (mstls_udp_peer_get_info(peer, &info) != 0)
    return;
  if (info.resumed)
    sv->dtls_resumed++;
  else
    sv->dtls_full++;
  printf("%s dtls handshake %s\n", sv->o->name,
         info.resumed ? "resumed" : "full");
  fflush(stdout);
}

static void iv_dtls_data(mstls_udp_endpoint *ep, uint32_t flags,
                         mstls_udp_peer *peer, const uint8_t *data, size_t len,
                         void *ud) {
  (void)ep;
  (void)flags;
  (void)ud;
  (void)mstls_udp_peer_send(peer, data, len);
}

/* Echo what every stream of @p c received; note streams closed. */
static int iv_serve_assoc(iv_server *sv, iv_conn *c) {
  mstls_session *s;
  uint8_t buf[4096];
  unsigned i;
  int rc = mstls_sctp_assoc_process(c->a);

  if (rc != 0)
    return rc;
  s = mstls_sctp_assoc_get_session(c->a);
  if (s == NULL)
    return 0;
  if (!c->up) {
    unsigned resumed = 0;
    rc = mstls_session_handshake(s);
    if (rc == MSTLS_E_AGAIN)
      return 0;
    if (rc != 0)
      return rc;
    c->up = 1;
    for (i = 0; i < IV_STREAMS; i++) {
      mstls_stream_info info;
      if (mstls_stream_get_info(s, (uint16_t)i, &info) == 0 && info.resumed)
        resumed++;
    }
    sv->sctp_full += IV_STREAMS - resumed;
    sv->sctp_resumed += resumed;
    printf("%s sctp association: %u streams, %u resumed, %u full\n",
           sv->o->name, IV_STREAMS, resumed, IV_STREAMS - resumed);
    fflush(stdout);
  }
  for (i = 0; i < IV_STREAMS; i++) {
    long n;
    if (c->closed_mask & (1u << i))
      continue;
    while ((n = mstls_stream_recv(s, (uint16_t)i, buf, sizeof(buf))) > 0) {
      long m = mstls_stream_send(s, (uint16_t)i, buf, (size_t)n);
      if (m != n)
        return m < 0 ? (int)m : MSTLS_E_AGAIN;
    }
    if (n == 0) {
      c->closed_mask |= (uint8_t)(1u << i);
      c->closed++;
    } else if (n != MSTLS_E_AGAIN) {
      return (int)n;
    }
  }
  return 0;
}

static int iv_server_run(const iv_opts *o) {
  iv_server sv;
  mstls_credentials *cred = NULL;
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;
  mstls_settings set;
  mstls_udp_settings us;
  mstls_udp_callbacks cb;
  mstls_udp_loop *loop = NULL;
  struct sockaddr_storage ss;
  socklen_t sslen;
  iv_conn conns[IV_MAX_ASSOCS];
  mstls_fleet *fleet = NULL;
  char path[3][512], hp[128], err[256];
  double deadline = iv_now() + o->timeout;
  int rc;
  size_t i;

  memset(&sv, 0, sizeof(sv));
  memset(conns, 0, sizeof(conns));
  sv.o = o;
  snprintf(path[0], sizeof(path[0]), "%s/cert.pem", o->dir);
  snprintf(path[1], sizeof(path[1]), "%s/key.pem", o->dir);
  snprintf(path[2], sizeof(path[2]), "%s/fleet", o->dir);
  err[0] = '\0';
  if (mstls_fleet_load(&fleet, path[2], NULL, err, sizeof(err)) != 0 ||
      mstls_credentials_new(&cred, NULL) != 0 ||
      mstls_credentials_set_key_file(cred, path[0], path[1]) != 0 ||
      mstls_credentials_set_fleet(cred, fleet) != 0) {
    printf("FAIL %s: credentials or fleet secret from %s %s\n", o->name, o->dir,
           err);
    return 1;
  }
  mstls_sctp_config_default(&cfg);
  cfg.backend = MSTLS_SCTP_BACKEND_KERNEL;
  cfg.blocking = 0;
  cfg.streams_in = IV_STREAMS;
  cfg.streams_out = IV_STREAMS;
  cfg.reuseport = o->workers > 1;
  mstls_sctp_config_failover(&cfg);
  mstls_settings_default(&set);
  set.policy = MSTLS_POLICY_RESUME;
  set.nstreams = IV_STREAMS;
  set.handshake_timeout = IV_HS_WAIT * MSTLS_SECONDS;
  rc = mstls_sctp_listen(&l, &cfg, o->addr, o->sctp_port);
  if (rc != 0) {
    printf("FAIL %s: sctp listen: %s\n", o->name, mstls_strerror(rc));
    return 1;
  }
  mstls_udp_settings_default(&us);
  us.handshake_timeout = IV_HS_WAIT * MSTLS_SECONDS;
  if (o->workers > 1)
    us.flags |= MSTLS_UDP_REUSEPORT;
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = iv_dtls_done;
  cb.recv_data = iv_dtls_data;
  snprintf(hp, sizeof(hp), "%s:%u", o->addr, (unsigned)o->udp_port);
  rc = mstls_udp_resolve(hp, &ss, &sslen);
  if (rc == 0)
    rc = mstls_udp_loop_new(&loop, (struct sockaddr *)&ss, sslen, &us, &cb,
                            cred, &sv);
  if (rc == 0)
    rc = mstls_udp_endpoint_set_fleet(mstls_udp_loop_get_endpoint(loop), fleet);
  if (rc != 0) {
    printf("FAIL %s: dtls on %s: %s\n", o->name, hp, mstls_strerror(rc));
    return 1;
  }
  printf("%s listening\n", o->name);
  fflush(stdout);
  while (!iv_stop && iv_now() < deadline) {
    struct pollfd pfd[2 + IV_MAX_ASSOCS];
    size_t np = 0;
    pfd[np].fd = mstls_udp_loop_get_fd(loop);
    pfd[np++].events = POLLIN;
    pfd[np].fd = mstls_sctp_listener_get_fd(l);
    pfd[np++].events = POLLIN;
    for (i = 0; i < IV_MAX_ASSOCS; i++) {
      if (conns[i].a == NULL)
        continue;
      pfd[np].fd = mstls_sctp_assoc_get_fd(conns[i].a);
      pfd[np++].events = POLLIN;
    }
    /* The tick runs DTLS timers and SCTP handshake deadlines. */
    (void)poll(pfd, (nfds_t)np, 20);
    if (mstls_udp_loop_run_once(loop, 0) < 0) {
      printf("FAIL %s: dtls loop\n", o->name);
      sv.failed++;
      break;
    }
    for (;;) {
      mstls_sctp_assoc *a = NULL;
      rc = mstls_sctp_accept(l, &a, &set, NULL, cred, NULL);
      if (rc != 0)
        break;
      for (i = 0; i < IV_MAX_ASSOCS && conns[i].a != NULL; i++) {
      }
      if (i == IV_MAX_ASSOCS) {
        mstls_sctp_assoc_abort(a);
        mstls_sctp_assoc_del(a);
        printf("FAIL %s: too many associations\n", o->name);
        sv.failed++;
        continue;
      }
      memset(&conns[i], 0, sizeof(conns[i]));
      conns[i].a = a;
    }
    if (rc != MSTLS_E_AGAIN && rc != 0) {
      printf("FAIL %s: accept: %s\n", o->name, mstls_strerror(rc));
      sv.failed++;
    }
    for (i = 0; i < IV_MAX_ASSOCS; i++) {
      iv_conn *c = &conns[i];
      if (c->a == NULL)
        continue;
      rc = iv_serve_assoc(&sv, c);
      if (rc == 0 && c->closed == IV_STREAMS)
        rc = mstls_sctp_assoc_shutdown(c->a);
      if (rc == 0 || rc == MSTLS_E_AGAIN)
        continue;
      if (rc != MSTLS_E_CLOSED) {
        printf("%s sctp association ended: %s\n", o->name, mstls_strerror(rc));
        fflush(stdout);
      }
      mstls_sctp_assoc_del(c->a);
      c->a = NULL;
    }
  }
  printf("%s summary: sctp streams full %u resumed %u, dtls full %u resumed "
         "%u, failures %u\n",
         o->name, sv.sctp_full, sv.sctp_resumed, sv.dtls_full, sv.dtls_resumed,
         sv.failed);
  for (i = 0; i < IV_MAX_ASSOCS; i++)
    mstls_sctp_assoc_del(conns[i].a);
  mstls_sctp_listener_del(l);
  mstls_udp_loop_del(loop);
  mstls_credentials_del(cred);
  mstls_fleet_del(fleet);
  return sv.failed ? 1 : 0;
}

/* --workers N: N processes, each its own SCTP listener and DTLS socket on
 * the same address (SO_REUSEPORT), named NAME/w0, NAME/w1, ... Workers die
 * with the first process (PR_SET_PDEATHSIG), as a killed server would. */
static int iv_server_workers(const iv_opts *o) {
  static char names[8][64];
  pid_t kids[8];
  unsigned i, n = o->workers < 1 ? 1 : o->workers > 8 ? 8 : o->workers;
  int status, failed = 0;
  iv_opts mine = *o;

  if (n == 1)
    return iv_server_run(o);
  for (i = 1; i < n; i++) {
    snprintf(names[i], sizeof(names[i]), "%s/w%u", o->name, i);
    kids[i] = fork();
    if (kids[i] < 0)
      return 1;
    if (kids[i] == 0) {
      iv_opts w = *o;
      (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
      w.name = names[i];
      _exit(iv_server_run(&w));
    }
  }
  snprintf(names[0], sizeof(names[0]), "%s/w0", o->name);
  mine.name = names[0];
  failed = iv_server_run(&mine);
  for (i = 1; i < n; i++) {
    kill(kids[i], SIGTERM);
    if (waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
      failed = 1;
  }
  return failed;
}

/* Client ------------------------------------------------------------------ */

typedef struct iv_client {
  const iv_opts *o;
  mstls_credentials *cred;
  uint8_t sctp_resume[IV_RESUME_MAX];
  size_t sctp_resume_len;
  uint8_t dtls_resume[IV_RESUME_MAX];
  size_t dtls_resume_len;
  unsigned sctp_rounds, sctp_resumed_rounds, dtls_rounds, dtls_resumed_rounds;
  unsigned failures, reconnects;
} iv_client;

/* One SCTP association through the virtual address: connect (offering the
 * last resumption data), handshake on every stream. */
static int iv_sctp_open(iv_client *cl, mstls_sctp_assoc **pa,
                        unsigned *resumed) {
  mstls_sctp_config cfg;
  mstls_settings set;
  mstls_session *s;
  unsigned i;
  int rc;

  mstls_sctp_config_default(&cfg);
  cfg.backend = MSTLS_SCTP_BACKEND_KERNEL;
  cfg.blocking = 1;
  cfg.streams_in = IV_STREAMS;
  cfg.streams_out = IV_STREAMS;
  mstls_sctp_config_failover(&cfg);
  mstls_settings_default(&set);
  set.policy = MSTLS_POLICY_RESUME;
  set.nstreams = IV_STREAMS;
  set.server_name = "server.test";
  set.handshake_timeout = IV_HS_WAIT * MSTLS_SECONDS;
  /* A hang guard: a killed server is noticed by the association's end
   * (its kernel aborts or shuts the association down, or SCTP's failure
   * detection reports the peer gone), never by this bound. */
  set.recv_timeout = IV_ECHO_WAIT * MSTLS_SECONDS;
  if (cl->sctp_resume_len > 0) {
    set.resumption_data = cl->sctp_resume;
    set.resumption_data_len = cl->sctp_resume_len;
  }
  rc = mstls_sctp_connect(pa, &cfg, cl->o->addr, cl->o->sctp_port, &set, NULL,
                          cl->cred, NULL);
  if (rc != 0)
    return rc;
  s = mstls_sctp_assoc_get_session(*pa);
  *resumed = 0;
  for (i = 0; i < IV_STREAMS; i++) {
    mstls_stream_info info;
    if (mstls_stream_get_info(s, (uint16_t)i, &info) == 0 && info.resumed)
      (*resumed)++;
  }
  return 0;
}

/* One message on every stream, the echo checked (bounded by recv_timeout,
 * IV_ECHO_WAIT: no echo in time counts as a failure). */
static int iv_sctp_echo(mstls_sctp_assoc *a, unsigned round) {
  mstls_session *s = mstls_sctp_assoc_get_session(a);
  unsigned i;

  for (i = 0; i < IV_STREAMS; i++) {
    char msg[64], back[64];
    size_t got = 0, len = (size_t)snprintf(msg, sizeof(msg),
                                           "round %u stream %u", round, i);
    long n = mstls_stream_send_blocking(s, (uint16_t)i, msg, len);
    if (n < 0)
      return (int)n;
    while (got < len) {
      n = mstls_stream_recv_blocking(s, (uint16_t)i, back + got, len - got);
      if (n == MSTLS_E_AGAIN)
        return MSTLS_E_TIMEOUT;
      if (n <= 0)
        return n == 0 ? MSTLS_E_CLOSED : (int)n;
      got += (size_t)n;
    }
    if (memcmp(msg, back, len) != 0)
      return MSTLS_E_TLS;
  }
  return 0;
}

static void iv_sctp_keep(iv_client *cl, mstls_sctp_assoc *a) {
  size_t len = sizeof(cl->sctp_resume);
  if (mstls_session_get_resumption_data(mstls_sctp_assoc_get_session(a),
                                        cl->sctp_resume, &len) == 0)
    cl->sctp_resume_len = len;
}

static void iv_sctp_close(mstls_sctp_assoc *a) {
  (void)mstls_sctp_assoc_shutdown(a);
  mstls_sctp_assoc_del(a);
}

/* A round: open, echo, keep the resumption data, close. */
static int iv_sctp_round(iv_client *cl, unsigned round) {
  mstls_sctp_assoc *a = NULL;
  unsigned resumed = 0;
  int rc = iv_sctp_open(cl, &a, &resumed);

  if (rc == 0)
    rc = iv_sctp_echo(a, round);
  if (rc != 0) {
    printf("FAIL sctp round %u: %s\n", round, mstls_strerror(rc));
    mstls_sctp_assoc_del(a);
    cl->failures++;
    return rc;
  }
  iv_sctp_keep(cl, a);
  cl->sctp_rounds++;
  if (resumed == IV_STREAMS)
    cl->sctp_resumed_rounds++;
  printf("sctp round %u: %u of %u streams resumed\n", round, resumed,
         IV_STREAMS);
  fflush(stdout);
  iv_sctp_close(a);
  return 0;
}

typedef struct iv_dtls {
  mstls_udp_loop *loop;
  mstls_udp_peer *peer;
  int done, closed, err;
  uint8_t echo[128];
  size_t echo_len;
} iv_dtls;

static void iv_cdtls_done(mstls_udp_endpoint *ep, uint32_t flags,
                          mstls_udp_peer *peer, void *ud) {
  iv_dtls *d = ud;
  (void)ep;
  (void)flags;
  (void)peer;
  d->done = 1;
}

static void iv_cdtls_data(mstls_udp_endpoint *ep, uint32_t flags,
                          mstls_udp_peer *peer, const uint8_t *data, size_t len,
                          void *ud) {
  iv_dtls *d = ud;
  (void)ep;
  (void)flags;
  (void)peer;
  if (len <= sizeof(d->echo)) {
    memcpy(d->echo, data, len);
    d->echo_len = len;
  }
}

static void iv_cdtls_closed(mstls_udp_endpoint *ep, uint32_t flags,
                            mstls_udp_peer *peer, int err, void *ud) {
  iv_dtls *d = ud;
  (void)ep;
  (void)flags;
  (void)peer;
  d->closed = 1;
  d->err = err;
  d->peer = NULL;
}

/* Run the loop until @p cond holds or @p secs pass. */
static int iv_dtls_wait(iv_dtls *d, int (*cond)(const iv_dtls *), double secs) {
  double until = iv_now() + secs;
  while (!cond(d) && !d->closed && iv_now() < until)
    if (mstls_udp_loop_run_once(d->loop, 50) < 0)
      return MSTLS_E_TRANSPORT;
  if (cond(d))
    return 0;
  return d->closed ? (d->err != 0 ? d->err : MSTLS_E_CLOSED) : MSTLS_E_TIMEOUT;
}

static int iv_is_done(const iv_dtls *d) {
  return d->done;
}
static int iv_has_echo(const iv_dtls *d) {
  return d->echo_len > 0;
}

static int iv_dtls_open(iv_client *cl, iv_dtls *d, int *resumed) {
  mstls_udp_settings us;
  mstls_udp_callbacks cb;
  struct sockaddr_storage any, to;
  socklen_t anylen, tolen;
  mstls_udp_peer_info info;
  char hp[128];
  int rc;

  memset(d, 0, sizeof(*d));
  mstls_udp_settings_default(&us);
  us.flags = 0;            /* a client */
  us.resumption_cache = 0; /* only the blob carried from the last one */
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = iv_cdtls_done;
  cb.recv_data = iv_cdtls_data;
  cb.closed = iv_cdtls_closed;
  snprintf(hp, sizeof(hp), "%s:%u", cl->o->addr, (unsigned)cl->o->udp_port);
  if ((rc = mstls_udp_resolve("0.0.0.0:1", &any, &anylen)) != 0 ||
      (rc = mstls_udp_resolve(hp, &to, &tolen)) != 0)
    return rc;
  ((struct sockaddr_in *)&any)->sin_port = 0;
  rc = mstls_udp_loop_new(&d->loop, (struct sockaddr *)&any, anylen, &us, &cb,
                          cl->cred, d);
  if (rc == 0)
    rc = mstls_udp_loop_connect2(
        d->loop, (struct sockaddr *)&to, tolen, "server.test",
        cl->dtls_resume_len > 0 ? cl->dtls_resume : NULL, cl->dtls_resume_len,
        &d->peer);
  if (rc == 0)
    rc = iv_dtls_wait(d, iv_is_done, IV_HS_WAIT);
  if (rc == 0 && mstls_udp_peer_get_info(d->peer, &info) == 0)
    *resumed = info.resumed;
  if (rc == 0) {
    /* Each connection is a new process's worth of state: the blob of the
     * last one is all the next one gets. */
    size_t len = sizeof(cl->dtls_resume);
    if (mstls_udp_peer_get_resumption_data(d->peer, cl->dtls_resume, &len) == 0)
      cl->dtls_resume_len = len;
  }
  return rc;
}

/* One message, the echo checked within @p secs. */
static int iv_dtls_echo(iv_dtls *d, unsigned round, double secs) {
  char msg[64];
  size_t len = (size_t)snprintf(msg, sizeof(msg), "dtls round %u", round);
  long n;

  if (d->peer == NULL)
    return d->err != 0 ? d->err : MSTLS_E_CLOSED;
  d->echo_len = 0;
  n = mstls_udp_peer_send(d->peer, msg, len);
  if (n < 0)
    return (int)n;
  n = iv_dtls_wait(d, iv_has_echo, secs);
  if (n != 0)
    return (int)n;
  return d->echo_len == len && memcmp(d->echo, msg, len) == 0 ? 0 : MSTLS_E_TLS;
}

static void iv_dtls_close(iv_dtls *d) {
  if (d->peer != NULL)
    (void)mstls_udp_peer_close(d->peer);
  mstls_udp_loop_del(d->loop);
  d->loop = NULL;
}

static int iv_dtls_round(iv_client *cl, unsigned round) {
  iv_dtls d;
  int resumed = 0, rc = iv_dtls_open(cl, &d, &resumed);

  if (rc == 0)
    rc = iv_dtls_echo(&d, round, IV_ECHO_WAIT);
  if (rc != 0) {
    printf("FAIL dtls round %u: %s\n", round, mstls_strerror(rc));
    iv_dtls_close(&d);
    cl->failures++;
    return rc;
  }
  cl->dtls_rounds++;
  if (resumed)
    cl->dtls_resumed_rounds++;
  printf("dtls round %u: %s\n", round, resumed ? "resumed" : "full");
  fflush(stdout);
  iv_dtls_close(&d);
  return 0;
}

/* The local UDP port of @p d's socket, or 0. */
static unsigned iv_dtls_port(iv_dtls *d) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  int fd = mstls_udp_loop_get_fd(d->loop);

  if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
      ss.ss_family != AF_INET)
    return 0;
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Hold one association and one DTLS connection while the script removes
 * the real server that holds the association; then echo on each. The
 * association's end is an event (the killed server's kernel aborts or shuts
 * it down, or SCTP's failure detection reports it gone): say so, reconnect
 * and resume. The DTLS connection must still be served where its real
 * server was kept; where it was killed, silence is the expected outcome
 * (UDP reports nothing), bounded by IV_GONE_WAIT, then reconnect and
 * resume. */
static void iv_hold(iv_client *cl, unsigned round) {
  mstls_sctp_assoc *a = NULL;
  iv_dtls d;
  unsigned resumed = 0;
  int dres = 0, rc, drc, gone = 0, kept = 0;
  char line[64];
  FILE *f;

  rc = iv_sctp_open(cl, &a, &resumed);
  if (rc == 0)
    rc = iv_sctp_echo(a, round);
  drc = iv_dtls_open(cl, &d, &dres);
  if (drc == 0)
    drc = iv_dtls_echo(&d, round, IV_ECHO_WAIT);
  if (rc != 0 || drc != 0) {
    printf("FAIL hold: sctp %s, dtls %s\n", mstls_strerror(rc),
           mstls_strerror(drc));
    cl->failures++;
    mstls_sctp_assoc_del(a);
    iv_dtls_close(&d);
    return;
  }
  printf("holding (dtls port %u)\n", iv_dtls_port(&d));
  fflush(stdout);
  f = fopen(cl->o->hold, "r"); /* blocks until the script opens it */
  if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
    printf("FAIL no word on %s\n", cl->o->hold);
    cl->failures++;
    line[0] = '\0';
  }
  if (f != NULL)
    fclose(f);
  gone = strstr(line, "dtls-gone") != NULL;
  kept = strstr(line, "dtls-kept") != NULL;
  if (gone == kept) {
    printf("FAIL the word on %s does not say where the DTLS connection "
           "was\n",
           cl->o->hold);
    cl->failures++;
  }
  round++;
  rc = iv_sctp_echo(a, round);
  if (rc == 0) {
    printf("held sctp association: still served\n");
    iv_sctp_keep(cl, a);
    iv_sctp_close(a);
  } else {
    printf("held sctp association: %s; reconnecting\n", mstls_strerror(rc));
    mstls_sctp_assoc_del(a);
    cl->reconnects++;
    (void)iv_sctp_round(cl, round);
  }
  drc = iv_dtls_echo(&d, round, kept ? IV_ECHO_WAIT : IV_GONE_WAIT);
  if (drc == 0) {
    printf("held dtls connection: still served\n");
    if (gone) {
      printf("FAIL the held DTLS connection was served by a killed server\n");
      cl->failures++;
    }
    iv_dtls_close(&d);
  } else if (kept) {
    printf("FAIL held dtls connection on the remaining server: %s\n",
           mstls_strerror(drc));
    cl->failures++;
    iv_dtls_close(&d);
  } else {
    printf("held dtls connection: %s; reconnecting\n", mstls_strerror(drc));
    iv_dtls_close(&d);
    cl->reconnects++;
    (void)iv_dtls_round(cl, round);
  }
  fflush(stdout);
}

static int iv_client_run(const iv_opts *o) {
  iv_client cl;
  char ca[512];
  unsigned r;
  int failed;

  memset(&cl, 0, sizeof(cl));
  cl.o = o;
  snprintf(ca, sizeof(ca), "%s/ca.pem", o->dir);
  if (mstls_credentials_new(&cl.cred, NULL) != 0 ||
      mstls_credentials_set_trust_file(cl.cred, ca) != 0) {
    printf("FAIL client credentials from %s\n", ca);
    return 1;
  }
  for (r = 1; r <= o->rounds; r++) {
    (void)iv_sctp_round(&cl, r);
    (void)iv_dtls_round(&cl, r);
  }
  if (o->hold != NULL) {
    iv_hold(&cl, o->rounds + 1);
    for (r = o->rounds + 3; r <= 2 * o->rounds + 2; r++) {
      (void)iv_sctp_round(&cl, r);
      (void)iv_dtls_round(&cl, r);
    }
  }
  printf("client summary: sctp %u rounds (%u resumed on every stream), dtls "
         "%u rounds (%u resumed), %u reconnects, %u failures\n",
         cl.sctp_rounds, cl.sctp_resumed_rounds, cl.dtls_rounds,
         cl.dtls_resumed_rounds, cl.reconnects, cl.failures);
  /* Only the very first association and connection may be full. */
  failed = cl.failures > 0 || cl.sctp_rounds == 0 ||
           cl.sctp_resumed_rounds + 1 < cl.sctp_rounds ||
           cl.dtls_resumed_rounds + 1 < cl.dtls_rounds;
  mstls_credentials_del(cl.cred);
  return failed ? 1 : 0;
}

static int iv_usage(void) {
  fprintf(stderr, "usage: ipvs_peer pki DIR\n"
                  "       ipvs_peer server --name N --addr A --sctp-port P "
                  "--udp-port U --dir DIR [--timeout S]\n"
                  "       ipvs_peer client --vip V --sctp-port P --udp-port U "
                  "--dir DIR --rounds R [--hold FIFO]\n");
  return 2;
}

int main(int argc, char **argv) {
  iv_opts o;
  unsigned long u;
  int i;

  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  if (argc == 3 && strcmp(argv[1], "pki") == 0)
    return iv_pki(argv[2]);
  if (argc < 2 || (argc % 2) != 0)
    return iv_usage();
  memset(&o, 0, sizeof(o));
  o.timeout = 600;
  o.rounds = 4;
  for (i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "--name") == 0)
      o.name = v;
    else if (strcmp(k, "--addr") == 0 || strcmp(k, "--vip") == 0)
      o.addr = v;
    else if (strcmp(k, "--sctp-port") == 0) {
      if (peer_arg_uint(k, v, 1, 65535, &u) != 0)
        return 2;
      o.sctp_port = (uint16_t)u;
    } else if (strcmp(k, "--udp-port") == 0) {
      if (peer_arg_uint(k, v, 1, 65535, &u) != 0)
        return 2;
      o.udp_port = (uint16_t)u;
    } else if (strcmp(k, "--dir") == 0)
      o.dir = v;
    else if (strcmp(k, "--timeout") == 0) {
      if (peer_arg_seconds(k, v, 86400, &o.timeout) != 0)
        return 2;
    } else if (strcmp(k, "--rounds") == 0) {
      if (peer_arg_uint(k, v, 1, 1000000, &u) != 0)
        return 2;
      o.rounds = (unsigned)u;
    } else if (strcmp(k, "--hold") == 0)
      o.hold = v;
    else if (strcmp(k, "--workers") == 0) {
      if (peer_arg_uint(k, v, 1, 8, &u) != 0)
        return 2;
      o.workers = (unsigned)u;
    } else
      return iv_usage();
  }
  if (o.addr == NULL || o.dir == NULL || o.sctp_port == 0 || o.udp_port == 0)
    return iv_usage();
  if (strcmp(argv[1], "server") == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = iv_on_term;
    sigaction(SIGTERM, &sa, NULL);
    if (o.name == NULL)
      o.name = "server";
    return iv_server_workers(&o);
  }
  if (strcmp(argv[1], "client") == 0)
    return iv_client_run(&o);
  return iv_usage();
}
