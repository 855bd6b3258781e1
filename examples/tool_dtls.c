/* mstls dtls-server / dtls-client: DTLS over UDP with many peers on one
 * socket, on the public API (mstls/udp.h) only. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>

#include <mstls/udp.h>

#include "tool.h"
#include "tool_args.h"
#include "tool_tls.h"

static mstls_udp_loop *g_loop;
/* --keylog FILE: NSS key-log lines of every peer, appended. */
static FILE *g_keylog;
/* Set by the signal handler, acted on by the server's loop: the handler
 * only stores a flag (async-signal-safe); poll() returns with EINTR, and
 * at the latest after its 1 s cap, so the loop sees it. */
static volatile sig_atomic_t dtls_sig_stop, dtls_sig_stats;
/* SIGHUP: read --fleet-secret (and --cert/--key) again. */
static volatile sig_atomic_t dtls_sig_reload;

static void dtls_on_signal(int sig) {
  if (sig == SIGUSR1) {
    dtls_sig_stats = 1;
    return;
  }
  if (sig == SIGHUP) {
    dtls_sig_reload = 1;
    return;
  }
  dtls_sig_stop = 1;
}

static void dtls_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = dtls_on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: poll() returns EINTR */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

static void dtls_addr_str(const struct sockaddr *sa, char *buf, size_t len) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    snprintf(buf, len, "%s:%u", host, port);
    return;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
  }
  snprintf(buf, len, "[%s]:%u", host, port);
}

static const char *dtls_peer_str(mstls_udp_peer *peer, char *buf, size_t len) {
  socklen_t sl;
  dtls_addr_str(mstls_udp_peer_get_addr(peer, &sl), buf, len);
  return buf;
}

typedef struct dtls_tool {
  int echo;
  int quiet;
  long exit_after; /* server: stop after this many peers closed */
  long closed;
  int done;        /* client: handshake done */
  int failed;      /* client: closed with an error */
  int peer_closed; /* client: the peer is gone */
  int stop;        /* server: --exit-after reached */
  long sent;       /* client: records sent */
  long received;   /* client: records received */
  /* client: --session FILE */
  const char *session;
  /* Server workers: peers closed by all of them (atomic), or NULL. */
  long *closed_total;
} dtls_tool;

/* Largest --session file read: GnuTLS's session data are a few KB. */
#define DTLS_SESSION_MAX 65536

/* --session: keep the peer's resumption data in the file. */
static void dtls_session_save(const char *path, mstls_udp_peer *peer) {
  uint8_t buf[DTLS_SESSION_MAX];
  size_t len = sizeof(buf);
  int rv = mstls_udp_peer_get_resumption_data(peer, buf, &len);
  if (rv < 0) {
    fprintf(stderr, "mstls: --session %s: nothing to keep (%s)\n", path,
            mstls_strerror(rv));
    return;
  }
  tool_session_save(path, buf, len);
}

static void dtls_on_done(mstls_udp_endpoint *ep, uint32_t flags,
                         mstls_udp_peer *peer, void *ud) {
  dtls_tool *t = ud;
  mstls_udp_peer_info info;
  mstls_peer_identity id;
  char a[80], alpn[256], fp[2 * MSTLS_SHA256_LEN + 1];
  size_t i;
  (void)ep;
  (void)flags;
  t->done = 1;
  if (t->session) {
    dtls_session_save(t->session, peer);
  }
  if (t->quiet || mstls_udp_peer_get_info(peer, &info) < 0) {
    return;
  }
  if (mstls_udp_peer_get_alpn(peer, alpn, sizeof(alpn)) <= 0) {
    strcpy(alpn, "-");
  }
  fp[0] = '\0';
  if (mstls_udp_peer_get_peer_identity(peer, &id) == 0 && id.chain_len > 0) {
    for (i = 0; i < MSTLS_SHA256_LEN; i++) {
      snprintf(fp + 2 * i, 3, "%02x", id.sha256[i]);
    }
  }
  fprintf(stderr, "%s: handshake done, %s, %s, ALPN %s, %s",
          dtls_peer_str(peer, a, 80), info.version, info.cipher, alpn,
          info.resumed ? "resumed" : "full handshake");
  if (fp[0] != '\0') {
    fprintf(stderr, ", peer %s sha256 %s%s",
            id.raw_public_key ? "raw public key" : "certificate", fp,
            id.verified ? " (verified)" : " (not verified)");
  }
  fprintf(stderr, "\n");
}

static void dtls_on_data(mstls_udp_endpoint *ep, uint32_t flags,
                         mstls_udp_peer *peer, const uint8_t *data, size_t len,
                         void *ud) {
  dtls_tool *t = ud;
  (void)ep;
  (void)flags;
  if (t->echo) {
    (void)mstls_udp_peer_send(peer, data, len);
    return;
  }
  t->received++;
  fwrite(data, 1, len, stdout);
  fflush(stdout);
}

static void dtls_on_closed(mstls_udp_endpoint *ep, uint32_t flags,
                           mstls_udp_peer *peer, int reason, void *ud) {
  dtls_tool *t = ud;
  char a[80];
  (void)ep;
  (void)flags;
  t->closed++;
  t->peer_closed = 1;
  if (reason != 0 && reason != MSTLS_E_CLOSED) {
    t->failed = 1;
  }
  if (!t->quiet) {
    char detail[MSTLS_DETAIL_MAX];
    int dl = mstls_udp_peer_get_error_detail(peer, detail, sizeof(detail));
    fprintf(stderr, "%s: closed (%s)%s%s\n", dtls_peer_str(peer, a, 80),
            reason == MSTLS_E_CLOSED ? "closed locally"
            : reason                 ? mstls_strerror(reason)
                                     : "close_notify",
            dl > 0 ? ": " : "", dl > 0 ? detail : "");
  }
  if (t->exit_after > 0 &&
      (t->closed_total
           ? __atomic_add_fetch(t->closed_total, 1, __ATOMIC_SEQ_CST)
           : t->closed) >= t->exit_after) {
    t->stop = 1;
  }
}

static void dtls_print_st(const mstls_udp_stats *stp, const char *when) {
  const mstls_udp_stats st = *stp;
  int r;
  fprintf(stderr,
          "stats (%s): peers %u (half-open %u), accepted %llu, handshakes "
          "%llu done / %llu failed (%llu timeouts), restarts %llu, "
          "closed %llu, reaped %llu, cookies %llu sent / %llu verified / "
          "%llu rejected, datagrams %llu in / %llu out, send failures %llu, "
          "dropped %llu\n",
          when, st.peers, st.half_open, (unsigned long long)st.peers_accepted,
          (unsigned long long)st.handshakes_done,
          (unsigned long long)st.handshakes_failed,
          (unsigned long long)st.handshake_timeouts,
          (unsigned long long)st.restarts, (unsigned long long)st.closed,
          (unsigned long long)st.reaped, (unsigned long long)st.cookies_sent,
          (unsigned long long)st.cookies_verified,
          (unsigned long long)st.cookies_rejected,
          (unsigned long long)st.datagrams_in,
          (unsigned long long)st.datagrams_out,
          (unsigned long long)st.send_failures,
          (unsigned long long)st.dropped_total);
  for (r = 0; r < MSTLS_UDP_DROP_COUNT; r++) {
    if (st.dropped[r]) {
      fprintf(stderr, "  dropped %-24s %llu\n",
              mstls_udp_drop_reason_str((mstls_udp_drop_reason)r),
              (unsigned long long)st.dropped[r]);
    }
  }
}

static void dtls_print_stats(mstls_udp_endpoint *ep, const char *when) {
  mstls_udp_stats st;
  mstls_udp_endpoint_get_stats(ep, &st);
  dtls_print_st(&st, when);
}

static void dtls_server_usage(FILE *f) {
  fprintf(
      f,
      "usage: mstls dtls-server [--listen [HOST:]PORT] [--echo]\n"
      "         [--cert FILE --key FILE] [--mtu N] [--max-peers N]\n"
      "         [--idle SECONDS] [--exit-after N] [--stats-interval S]\n"
      "         [--alpn LIST] [--keylog FILE] [--pin SHA256[,SHA256...]]\n"
      "         [--request-cert | --require-cert] [--ca FILE] [--quiet]\n"
      "         [--workers N] [--fleet-secret FILE]\n"
      "  --listen      address to bind (default 0.0.0.0:4433; [::]:PORT"
      " for IPv6;\n"
      "                PORT 1..65535)\n"
      "  --echo        send every record back to its peer (default: print"
      " to stdout)\n"
      "  --cert/--key  PEM certificate chain and key (default: a generated"
      " self-signed\n"
      "                certificate for localhost)\n"
      "  --mtu         path MTU, 256..65535 (default 1200)\n"
      "  --max-peers   peer limit, 1..4294967295 (default 10000)\n"
      "  --idle        reap peers idle this long, 0..2592000 s (0: never;"
      " default 180)\n"
      "  --exit-after  exit after N peers closed (0: run until SIGINT)\n"
      "  --stats-interval  print the counters every S seconds, 0..86400"
      " (0: off)\n"
      "  --request-cert / --require-cert  ask for a client certificate"
      " (verified\n"
      "                against --ca when sent) / insist on one\n" TOOL_TLS_HELP
      "  The counters are printed to stderr on SIGUSR1 and at exit.\n");
  fprintf(f, "  --workers     threads, each with its own socket on the address"
             " (SO_REUSEPORT),\n"
             "                1..256 (default: the number of online CPUs; 1:"
             " one socket,\n"
             "                without SO_REUSEPORT; with more, the counters"
             " are summed\n"
             "                and printed per worker too)\n"
             "  --fleet-secret  file of the fleet secret (hex; see"
             " docs/scale-out.md):\n"
             "                the cookie secret and the ticket key come from"
             " it (default:\n"
             "                a random secret shared by this process's"
             " workers). SIGHUP\n"
             "                reads it (and --cert/--key) again for new"
             " handshakes.\n");
}

static void dtls_client_usage(FILE *f) {
  fprintf(f,
          "usage: mstls dtls-client --connect HOST:PORT (--ca FILE |"
          " --insecure)\n"
          "         [--server-name NAME] [--cert FILE --key FILE] [--mtu N]\n"
          "         [--linger MS] [--alpn LIST] [--keylog FILE]\n"
          "         [--pin SHA256[,SHA256...]] [--session FILE] [--quiet]\n"
          "  Sends each line of stdin as one record, prints what arrives.\n"
          "  --session: resume the session kept in FILE (if it exists) and"
          " keep\n  the new one there (mode 0600: it holds the session's"
          " secrets).\n"
          "  At the end of stdin, waits --linger ms (0..3600000, default 1000)"
          "\n  for replies, then closes with close_notify. --mtu: "
          "256..65535.\n" TOOL_TLS_HELP);
}

enum {
  OPT_LISTEN = 1,
  OPT_CONNECT,
  OPT_ECHO,
  OPT_CERT,
  OPT_KEY,
  OPT_CA,
  OPT_INSECURE,
  OPT_MTU,
  OPT_MAXPEERS,
  OPT_IDLE,
  OPT_EXIT,
  OPT_QUIET,
  OPT_NAME,
  OPT_LINGER,
  OPT_STATS,
  OPT_ALPN,
  OPT_KEYLOG,
  OPT_PIN,
  OPT_PSK,
  OPT_RAWPK,
  OPT_LOG_LEVEL,
  OPT_REQUEST_CERT,
  OPT_REQUIRE_CERT,
  OPT_SESSION,
  OPT_WORKERS,
  OPT_FLEET,
  OPT_HELP
};

static const tool_opt dtls_server_opts[] = {
    {"listen", 1, OPT_LISTEN},
    {"echo", 0, OPT_ECHO},
    {"cert", 1, OPT_CERT},
    {"key", 1, OPT_KEY},
    {"mtu", 1, OPT_MTU},
    {"max-peers", 1, OPT_MAXPEERS},
    {"idle", 1, OPT_IDLE},
    {"exit-after", 1, OPT_EXIT},
    {"quiet", 0, OPT_QUIET},
    {"stats-interval", 1, OPT_STATS},
    {"alpn", 1, OPT_ALPN},
    {"keylog", 1, OPT_KEYLOG},
    {"pin", 1, OPT_PIN},
    {"psk", 1, OPT_PSK},
    {"rawpk", 1, OPT_RAWPK},
    {"log-level", 1, OPT_LOG_LEVEL},
    {"request-cert", 0, OPT_REQUEST_CERT},
    {"require-cert", 0, OPT_REQUIRE_CERT},
    {"ca", 1, OPT_CA},
    {"workers", 1, OPT_WORKERS},
    {"fleet-secret", 1, OPT_FLEET},
    {"help", 0, OPT_HELP},
    {NULL, 0, 0}};

static const tool_opt dtls_client_opts[] = {
    {"connect", 1, OPT_CONNECT},   {"ca", 1, OPT_CA},
    {"insecure", 0, OPT_INSECURE}, {"server-name", 1, OPT_NAME},
    {"cert", 1, OPT_CERT},         {"key", 1, OPT_KEY},
    {"mtu", 1, OPT_MTU},           {"linger", 1, OPT_LINGER},
    {"quiet", 0, OPT_QUIET},       {"alpn", 1, OPT_ALPN},
    {"keylog", 1, OPT_KEYLOG},     {"pin", 1, OPT_PIN},
    {"psk", 1, OPT_PSK},           {"session", 1, OPT_SESSION},
    {"rawpk", 1, OPT_RAWPK},       {"log-level", 1, OPT_LOG_LEVEL},
    {"help", 0, OPT_HELP},         {NULL, 0, 0}};

/* Everything both subcommands read from the command line. */
typedef struct dtls_opts {
  char host[256];
  uint16_t port;
  const char *cert, *key, *ca, *name;
  int insecure, echo, quiet;
  unsigned mtu;
  uint32_t max_peers;
  uint32_t exit_after;
  mstls_tstamp idle, linger, stats_interval;
  tool_tls tls; /* --alpn, --keylog, --pin */
  int request_cert, require_cert;
  const char *session; /* client: --session FILE */
  /* Server: --workers N (threads), --fleet-secret FILE. */
  uint32_t workers;
  const char *fleet_secret;
} dtls_opts;

/* Most workers --workers takes. */
#define DTLS_WORKERS_MAX 256

/* 0 (run), 1 (--help), -1 (err says why); never prints or exits. */
static int dtls_parse(int argc, char **argv, int server, dtls_opts *o,
                      tool_err *err) {
  const mstls_tstamp sec = MSTLS_SECONDS, ms = MSTLS_MILLISECONDS;
  mstls_udp_settings def;
  tool_scan sc;
  const char *v;
  int id, have_target = 0;
  uint16_t mtu;

  mstls_udp_settings_default(&def);
  memset(o, 0, sizeof(*o));
  strcpy(o->host, "0.0.0.0");
  o->port = 4433;
  o->name = "localhost";
  o->mtu = def.mtu;
  o->max_peers = def.max_peers;
  o->idle = def.idle_timeout;
  o->linger = MSTLS_SECONDS;
  {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = n < 1                  ? 1
                 : n > DTLS_WORKERS_MAX ? DTLS_WORKERS_MAX
                                        : (uint32_t)n;
  }
  tool_scan_init(&sc, argc, argv);
  while ((id = tool_scan_next(&sc, server ? dtls_server_opts : dtls_client_opts,
                              &v, err)) > 0) {
    switch (id) {
    case OPT_HELP:
      return 1;
    case OPT_LISTEN:
    case OPT_CONNECT:
      if (tool_parse_hostport(server ? "--listen" : "--connect", v, server,
                              o->host, sizeof(o->host), &o->port, err) < 0) {
        return -1;
      }
      if (o->host[0] == '\0') {
        strcpy(o->host, "0.0.0.0");
      }
      have_target = 1;
      break;
    case OPT_ECHO:
      o->echo = 1;
      break;
    case OPT_CERT:
      o->cert = v;
      break;
    case OPT_KEY:
      o->key = v;
      break;
    case OPT_CA:
      o->ca = v;
      break;
    case OPT_INSECURE:
      o->insecure = 1;
      break;
    case OPT_NAME:
      o->name = v;
      break;
    case OPT_QUIET:
      o->quiet = 1;
      break;
    case OPT_MTU:
      /* mstls_udp_endpoint_new() accepts 256..65535. */
      if (tool_parse_u16("--mtu", v, 256, 65535, &mtu, err) < 0) {
        return -1;
      }
      o->mtu = mtu;
      break;
    case OPT_MAXPEERS:
      if (tool_parse_u32("--max-peers", v, 1, UINT32_MAX, &o->max_peers, err) <
          0) {
        return -1;
      }
      break;
    case OPT_EXIT:
      if (tool_parse_u32("--exit-after", v, 0, UINT32_MAX, &o->exit_after,
                         err) < 0) {
        return -1;
      }
      break;
    case OPT_IDLE:
      if (tool_parse_duration("--idle", v, sec, 0, 2592000, &o->idle, err) <
          0) {
        return -1;
      }
      break;
    case OPT_LINGER:
      if (tool_parse_duration("--linger", v, ms, 0, 3600000, &o->linger, err) <
          0) {
        return -1;
      }
      break;
    case OPT_ALPN:
    case OPT_KEYLOG:
    case OPT_PIN:
    case OPT_PSK:
    case OPT_RAWPK:
    case OPT_LOG_LEVEL:
      if (tool_tls_parse(&o->tls,
                         id == OPT_ALPN        ? "--alpn"
                         : id == OPT_KEYLOG    ? "--keylog"
                         : id == OPT_PSK       ? "--psk"
                         : id == OPT_RAWPK     ? "--rawpk"
                         : id == OPT_LOG_LEVEL ? "--log-level"
                                               : "--pin",
                         v, err) < 0) {
        return -1;
      }
      break;
    case OPT_REQUEST_CERT:
      o->request_cert = 1;
      break;
    case OPT_REQUIRE_CERT:
      o->require_cert = 1;
      break;
    case OPT_SESSION:
      if (v[0] == '\0') {
        return tool_fail(err, "--session: a file name is needed");
      }
      o->session = v;
      break;
    case OPT_STATS:
      if (tool_parse_duration("--stats-interval", v, sec, 0, 86400,
                              &o->stats_interval, err) < 0) {
        return -1;
      }
      break;
    case OPT_WORKERS:
      if (tool_parse_u32("--workers", v, 1, DTLS_WORKERS_MAX, &o->workers,
                         err) < 0) {
        return -1;
      }
      break;
    case OPT_FLEET:
      o->fleet_secret = v;
      break;
    default:
      return tool_fail(err, "internal: option %d", id);
    }
  }
  if (id < 0) {
    return -1;
  }
  if ((o->cert == NULL) != (o->key == NULL)) {
    return tool_fail(err, "--cert and --key go together");
  }
  if (!server && !have_target) {
    return tool_fail(err, "--connect HOST:PORT is required");
  }
  if (!server && !o->ca && !o->insecure && o->tls.npins == 0 &&
      o->tls.npsk == 0) {
    return tool_fail(err, "give --ca FILE, --pin SHA256, --psk ID:KEY or"
                          " --insecure");
  }
  if (!server && o->tls.npsk > 1) {
    return tool_fail(err, "--psk: a client offers one key");
  }
  if (o->request_cert && o->require_cert) {
    return tool_fail(err, "--request-cert or --require-cert, not both");
  }
  if (server && (o->request_cert || o->require_cert) && !o->ca &&
      o->tls.npins == 0) {
    return tool_fail(err, "%s needs --ca FILE or --pin SHA256 to check it",
                     o->request_cert ? "--request-cert" : "--require-cert");
  }
  return 0;
}

int tool_dtls_check_args(int argc, char **argv, int server, tool_err *err) {
  dtls_opts o;
  return dtls_parse(argc, argv, server, &o, err);
}

/* Parse and handle --help and usage errors: -1 to run, else the exit
 * code. */
static int dtls_args(int argc, char **argv, int server, dtls_opts *o) {
  tool_err err;
  int rv = dtls_parse(argc, argv, server, o, &err);
  if (rv == 1) {
    (server ? dtls_server_usage : dtls_client_usage)(stdout);
    return 0;
  }
  if (rv < 0) {
    fprintf(stderr, "mstls %s: %s\n(mstls %s --help lists the options)\n",
            argv[0], err.msg, argv[0]);
    return 2;
  }
  return -1;
}

/* The server's credentials from the options. 0 or -1 (printed). */
static int dtls_server_creds(const dtls_opts *o, mstls_credentials **pcred) {
  *pcred = NULL;
  if (tool_server_credentials(pcred, o->cert, o->key, "localhost") < 0 ||
      (o->ca && tool_add_trust(*pcred, o->ca) < 0) ||
      tool_tls_add_psk(&o->tls, *pcred) < 0) {
    mstls_credentials_del(*pcred);
    *pcred = NULL;
    return -1;
  }
  return 0;
}

/* SIGHUP: load --fleet-secret again and make new credentials with its
 * ticket key (credentials in use are never changed). 0 with both, or -1
 * (printed; the keys in use stay). */
static int dtls_reload(const dtls_opts *o, mstls_fleet **pfleet,
                       mstls_credentials **pcred) {
  char err[512], id[MSTLS_FLEET_ID_SIZE];
  *pfleet = NULL;
  *pcred = NULL;
  if (!o->fleet_secret) {
    fprintf(stderr, "mstls dtls-server: SIGHUP: no --fleet-secret to read"
                    " again\n");
    return -1;
  }
  if (mstls_fleet_load(pfleet, o->fleet_secret, NULL, err, sizeof(err)) < 0) {
    fprintf(stderr,
            "mstls dtls-server: SIGHUP: --fleet-secret %s; the keys in use"
            " stay\n",
            err);
    return -1;
  }
  if (dtls_server_creds(o, pcred) < 0) {
    fprintf(stderr, "mstls dtls-server: SIGHUP: the keys in use stay\n");
    mstls_fleet_del(*pfleet);
    *pfleet = NULL;
    return -1;
  }
  mstls_credentials_set_fleet(*pcred, *pfleet);
  mstls_fleet_get_id(*pfleet, id, sizeof(id));
  fprintf(stderr,
          "mstls dtls-server: SIGHUP: fleet secret read again (fleet"
          " %s)\n",
          id);
  return 0;
}

/* Give an endpoint new fleet keys and credentials (from its own thread). */
static void dtls_apply_keys(mstls_udp_endpoint *ep, const mstls_fleet *fleet,
                            mstls_credentials *cred) {
  mstls_udp_endpoint_set_fleet(ep, fleet);
  mstls_udp_endpoint_set_credentials(ep, cred);
}

/* Run the server's loop until SIGINT/SIGTERM or --exit-after, printing
 * the counters on SIGUSR1 and every @p interval (0: never), reading the
 * fleet secret again on SIGHUP. */
static int dtls_serve(dtls_tool *t, const dtls_opts *o, mstls_tstamp interval) {
  mstls_udp_endpoint *ep = mstls_udp_loop_get_endpoint(g_loop);
  mstls_tstamp next =
      interval ? mstls_udp_now() + interval : MSTLS_TSTAMP_NEVER;
  while (!dtls_sig_stop && !t->stop) {
    mstls_tstamp now = mstls_udp_now();
    int wait = 1000, rv;
    if (next != MSTLS_TSTAMP_NEVER) {
      mstls_tstamp d = next > now ? next - now : 0;
      if (d / MSTLS_MILLISECONDS < 1000) {
        wait = (int)(d / MSTLS_MILLISECONDS) + 1;
      }
    }
    rv = mstls_udp_loop_run_once(g_loop, wait);
    if (rv < 0) {
      fprintf(stderr, "mstls: socket error: %s\n", mstls_strerror(rv));
      return rv;
    }
    if (dtls_sig_stats) {
      dtls_sig_stats = 0;
      dtls_print_stats(ep, "SIGUSR1");
    }
    if (dtls_sig_reload) {
      mstls_fleet *fleet;
      mstls_credentials *cred;
      dtls_sig_reload = 0;
      if (dtls_reload(o, &fleet, &cred) == 0) {
        dtls_apply_keys(ep, fleet, cred);
        mstls_fleet_del(fleet);
        mstls_credentials_del(cred); /* the endpoint holds them */
      }
    }
    now = mstls_udp_now();
    if (next != MSTLS_TSTAMP_NEVER && now >= next) {
      dtls_print_stats(ep, "interval");
      next += interval;
      if (next <= now) {
        next = now + interval;
      }
    }
  }
  return 0;
}

/* ---- --workers N: one thread and one SO_REUSEPORT socket per worker ---- */

/* One worker: its loop, its counters, and a copy of its endpoint's
 * counters that it refreshes after every turn, for the main thread. */
typedef struct dtls_worker {
  unsigned index;
  pthread_t thread;
  int started;
  mstls_udp_loop *loop;
  dtls_tool t;
  pthread_mutex_t lock;
  mstls_udp_stats snap;
  struct dtls_keys *pending; /* SIGHUP: keys to take, under lock */
  int error;
} dtls_worker;

/* New keys for the workers after SIGHUP: each worker takes them from
 * its thread and drops its reference; the last one frees them. */
typedef struct dtls_keys {
  mstls_fleet *fleet;
  mstls_credentials *cred;
  unsigned refs; /* atomic */
} dtls_keys;

static void dtls_keys_put(dtls_keys *k) {
  if (k && __atomic_sub_fetch(&k->refs, 1, __ATOMIC_SEQ_CST) == 0) {
    mstls_fleet_del(k->fleet);
    mstls_credentials_del(k->cred);
    free(k);
  }
}

/* In a worker's thread: apply keys the main thread left for it. */
static void dtls_worker_take_keys(dtls_worker *w) {
  dtls_keys *k;
  pthread_mutex_lock(&w->lock);
  k = w->pending;
  w->pending = NULL;
  pthread_mutex_unlock(&w->lock);
  if (k) {
    dtls_apply_keys(mstls_udp_loop_get_endpoint(w->loop), k->fleet, k->cred);
    dtls_keys_put(k);
  }
}

/* In the main thread: hand new keys to every worker. */
static void dtls_workers_reload(const dtls_opts *o, dtls_worker *w,
                                uint32_t n) {
  dtls_keys *k = calloc(1, sizeof(*k)), *old;
  uint32_t i;
  if (!k || dtls_reload(o, &k->fleet, &k->cred) < 0) {
    free(k);
    return;
  }
  k->refs = n;
  for (i = 0; i < n; i++) {
    pthread_mutex_lock(&w[i].lock);
    old = w[i].pending;
    w[i].pending = k;
    pthread_mutex_unlock(&w[i].lock);
    dtls_keys_put(old); /* never taken: newer keys replace them */
  }
}

/* Set when the workers must stop; the pipe wakes every poll() at once
 * (written once, never read: it stays readable). */
static int g_workers_stop;
static int g_stop_pipe[2] = {-1, -1};

static void dtls_workers_stop(void) {
  static const char b = 1;
  if (!__atomic_exchange_n(&g_workers_stop, 1, __ATOMIC_SEQ_CST)) {
    (void)!write(g_stop_pipe[1], &b, 1);
  }
}

static void dtls_stats_add(mstls_udp_stats *sum, const mstls_udp_stats *x) {
  int r;
  sum->peers += x->peers;
  sum->half_open += x->half_open;
  sum->peers_accepted += x->peers_accepted;
  sum->peers_connected += x->peers_connected;
  sum->handshakes_done += x->handshakes_done;
  sum->handshakes_failed += x->handshakes_failed;
  sum->handshake_timeouts += x->handshake_timeouts;
  sum->reaped += x->reaped;
  sum->closed += x->closed;
  sum->restarts += x->restarts;
  sum->restarts_pending += x->restarts_pending;
  sum->prefixes += x->prefixes;
  sum->cookies_sent += x->cookies_sent;
  sum->cookies_verified += x->cookies_verified;
  sum->cookies_rejected += x->cookies_rejected;
  sum->datagrams_in += x->datagrams_in;
  sum->datagrams_out += x->datagrams_out;
  sum->send_failures += x->send_failures;
  sum->non_dtls += x->non_dtls;
  sum->dropped_total += x->dropped_total;
  for (r = 0; r < MSTLS_UDP_DROP_COUNT; r++) {
    sum->dropped[r] += x->dropped[r];
  }
}

static void dtls_worker_publish(dtls_worker *w) {
  mstls_udp_stats st;
  mstls_udp_endpoint_get_stats(mstls_udp_loop_get_endpoint(w->loop), &st);
  pthread_mutex_lock(&w->lock);
  w->snap = st;
  pthread_mutex_unlock(&w->lock);
}

static void *dtls_worker_main(void *arg) {
  dtls_worker *w = arg;
  mstls_udp_endpoint *ep = mstls_udp_loop_get_endpoint(w->loop);
  while (!__atomic_load_n(&g_workers_stop, __ATOMIC_SEQ_CST) && !w->t.stop) {
    struct pollfd pfd[2];
    mstls_tstamp now = mstls_udp_now(), exp = mstls_udp_endpoint_get_expiry(ep);
    int wait = 1000, rv = 0;
    if (exp != MSTLS_TSTAMP_NEVER) {
      mstls_tstamp d = exp > now ? exp - now : 0;
      if (d < 1000 * MSTLS_MILLISECONDS) {
        wait = (int)((d + MSTLS_MILLISECONDS - 1) / MSTLS_MILLISECONDS);
      }
    }
    pfd[0].fd = mstls_udp_loop_get_fd(w->loop);
    pfd[0].events = POLLIN;
    pfd[0].revents = 0;
    pfd[1].fd = g_stop_pipe[0];
    pfd[1].events = POLLIN;
    pfd[1].revents = 0;
    if (poll(pfd, 2, wait) < 0 && errno != EINTR) {
      w->error = MSTLS_E_TRANSPORT;
      break;
    }
    dtls_worker_take_keys(w);
    if (pfd[0].revents) {
      rv = mstls_udp_loop_read(w->loop);
    } else {
      mstls_udp_endpoint_handle_expiry(ep, mstls_udp_now());
    }
    dtls_worker_publish(w);
    if (rv < 0) {
      fprintf(stderr, "mstls: worker %u: socket error: %s\n", w->index + 1,
              mstls_strerror(rv));
      w->error = rv;
      break;
    }
  }
  dtls_worker_publish(w);
  dtls_workers_stop();
  return NULL;
}

/* Print the sum of the workers' counters, then each worker's. */
static void dtls_print_workers(dtls_worker *w, uint32_t n, const char *when) {
  mstls_udp_stats sum, st;
  char label[64];
  uint32_t i;
  memset(&sum, 0, sizeof(sum));
  for (i = 0; i < n; i++) {
    pthread_mutex_lock(&w[i].lock);
    st = w[i].snap;
    pthread_mutex_unlock(&w[i].lock);
    dtls_stats_add(&sum, &st);
  }
  dtls_print_st(&sum, when);
  for (i = 0; i < n; i++) {
    pthread_mutex_lock(&w[i].lock);
    st = w[i].snap;
    pthread_mutex_unlock(&w[i].lock);
    snprintf(label, sizeof(label), "%s, worker %u", when, i + 1);
    dtls_print_st(&st, label);
  }
}

/* Open the workers' loops (the first one binds @p ss, the others the
 * address it got), start their threads, and wait for a signal, the
 * workers' end (--exit-after, an error) and the stats interval. */
static int dtls_serve_workers(const dtls_opts *o, const mstls_udp_settings *s0,
                              const mstls_udp_callbacks *cb,
                              mstls_credentials *cred, const mstls_fleet *fleet,
                              struct sockaddr_storage *ss, socklen_t sl,
                              const char *fleet_id) {
  uint32_t n = o->workers, i;
  dtls_worker *w = calloc(n, sizeof(*w));
  long closed_total = 0;
  mstls_udp_settings s = *s0;
  mstls_tstamp interval = o->stats_interval, next;
  sigset_t block, old;
  char a[80];
  int rv = 0, code = 0;

  if (!w || pipe2(g_stop_pipe, O_CLOEXEC) < 0) {
    fprintf(stderr, "mstls: %s\n", strerror(errno));
    free(w);
    return 1;
  }
  g_workers_stop = 0;
  s.flags |= MSTLS_UDP_REUSEPORT;
  for (i = 0; i < n; i++) {
    w[i].index = i;
    w[i].t.echo = o->echo;
    w[i].t.quiet = o->quiet;
    w[i].t.exit_after = (long)o->exit_after;
    w[i].t.closed_total = &closed_total;
    pthread_mutex_init(&w[i].lock, NULL);
    rv = mstls_udp_loop_new(&w[i].loop, (struct sockaddr *)ss, sl, &s, cb, cred,
                            &w[i].t);
    if (rv < 0) {
      dtls_addr_str((struct sockaddr *)ss, a, sizeof(a));
      fprintf(stderr, "mstls: listen on %s (worker %u): %s%s%s%s\n", a, i + 1,
              mstls_strerror(rv), rv == MSTLS_E_TRANSPORT ? " (" : "",
              rv == MSTLS_E_TRANSPORT ? strerror(errno) : "",
              rv == MSTLS_E_TRANSPORT ? ")" : "");
      code = 1;
      n = i + 1;
      goto out;
    }
    mstls_udp_endpoint_set_fleet(mstls_udp_loop_get_endpoint(w[i].loop), fleet);
    if (i == 0) {
      mstls_udp_loop_get_local_addr(w[0].loop, ss, &sl);
    }
  }
  dtls_addr_str((struct sockaddr *)ss, a, sizeof(a));
  /* Handlers first: whoever reads "listening" may signal at once. Only
   * this thread takes the signals: the workers block them. */
  dtls_sig_stop = 0;
  dtls_sig_stats = 0;
  dtls_sig_reload = 0;
  dtls_signals();
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGUSR1);
  sigaddset(&block, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  for (i = 0; i < n; i++) {
    if (pthread_create(&w[i].thread, NULL, dtls_worker_main, &w[i]) != 0) {
      fprintf(stderr, "mstls: cannot start worker %u\n", i + 1);
      code = 1;
      break;
    }
    w[i].started = 1;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (code == 0) {
    fprintf(stderr,
            "mstls dtls-server: listening on %s (%u workers, fleet %s)\n", a, n,
            fleet_id);
  }
  next = interval ? mstls_udp_now() + interval : MSTLS_TSTAMP_NEVER;
  while (code == 0 && !dtls_sig_stop &&
         !__atomic_load_n(&g_workers_stop, __ATOMIC_SEQ_CST)) {
    struct pollfd pfd;
    mstls_tstamp now = mstls_udp_now();
    int wait = 1000;
    if (next != MSTLS_TSTAMP_NEVER) {
      mstls_tstamp d = next > now ? next - now : 0;
      if (d / MSTLS_MILLISECONDS < 1000) {
        wait = (int)(d / MSTLS_MILLISECONDS) + 1;
      }
    }
    pfd.fd = g_stop_pipe[0];
    pfd.events = POLLIN;
    (void)poll(&pfd, 1, wait); /* EINTR on a signal */
    if (dtls_sig_stats) {
      dtls_sig_stats = 0;
      dtls_print_workers(w, n, "SIGUSR1");
    }
    if (dtls_sig_reload) {
      dtls_sig_reload = 0;
      dtls_workers_reload(o, w, n);
    }
    now = mstls_udp_now();
    if (next != MSTLS_TSTAMP_NEVER && now >= next) {
      dtls_print_workers(w, n, "interval");
      next += interval;
      if (next <= now) {
        next = now + interval;
      }
    }
  }
out:
  dtls_workers_stop();
  for (i = 0; i < n; i++) {
    if (w[i].started) {
      pthread_join(w[i].thread, NULL);
      if (w[i].error) {
        code = 1;
      }
    }
  }
  if (w[0].loop) {
    dtls_print_workers(w, n, "exit");
  }
  for (i = 0; i < n; i++) {
    dtls_keys_put(w[i].pending);
    mstls_udp_loop_del(w[i].loop);
    pthread_mutex_destroy(&w[i].lock);
  }
  close(g_stop_pipe[0]);
  close(g_stop_pipe[1]);
  g_stop_pipe[0] = g_stop_pipe[1] = -1;
  free(w);
  return code;
}

/* The fleet keys: --fleet-secret FILE, else with several workers one
 * random secret for all of them, else none (the endpoint's own random
 * cookie secret, the credentials' own ticket key). 0 or -1 (printed). */
static int dtls_fleet(const dtls_opts *o, mstls_fleet **pfleet, char *id,
                      size_t idlen) {
  char err[512];
  uint8_t secret[MSTLS_FLEET_SECRET_MIN];
  int rv;
  *pfleet = NULL;
  snprintf(id, idlen, "-");
  if (o->fleet_secret) {
    rv = mstls_fleet_load(pfleet, o->fleet_secret, NULL, err, sizeof(err));
    if (rv < 0) {
      fprintf(stderr, "mstls: --fleet-secret %s\n", err);
      return -1;
    }
  } else if (o->workers > 1) {
    if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret) ||
        mstls_fleet_new(pfleet, secret, sizeof(secret), NULL) < 0) {
      fprintf(stderr, "mstls: no random fleet secret\n");
      return -1;
    }
    memset(secret, 0, sizeof(secret));
    snprintf(id, idlen, "random");
    return 0;
  } else {
    return 0;
  }
  mstls_fleet_get_id(*pfleet, id, idlen);
  return 0;
}

int tool_dtls_server(int argc, char **argv) {
  mstls_credentials *cred = NULL;
  mstls_fleet *fleet = NULL;
  char fleet_id[MSTLS_FLEET_ID_SIZE];
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  struct sockaddr_storage ss;
  socklen_t sl;
  dtls_opts o;
  dtls_tool t;
  char a[80];
  int rv;

  if ((rv = dtls_args(argc, argv, 1, &o)) >= 0) {
    return rv;
  }
  memset(&t, 0, sizeof(t));
  t.echo = o.echo;
  t.quiet = o.quiet;
  t.exit_after = (long)o.exit_after;
  mstls_udp_settings_default(&s);
  s.mtu = o.mtu;
  s.max_peers = o.max_peers;
  s.idle_timeout = o.idle;
  if (o.require_cert) {
    s.flags |= MSTLS_UDP_REQUIRE_CLIENT_CERT;
  } else if (o.request_cert) {
    s.flags |= MSTLS_UDP_REQUEST_CLIENT_CERT;
  }
  if (tool_tls_apply(&o.tls, &s.tls, &g_keylog) < 0) {
    return 1;
  }
  if (tool_resolve(o.host, o.port, SOCK_DGRAM, &ss, &sl) < 0) {
    return 1;
  }
  if (dtls_server_creds(&o, &cred) < 0 ||
      dtls_fleet(&o, &fleet, fleet_id, sizeof(fleet_id)) < 0) {
    mstls_credentials_del(cred);
    tool_tls_close(&g_keylog);
    return 1;
  }
  if (fleet) {
    mstls_credentials_set_fleet(cred, fleet);
  }
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = dtls_on_done;
  cb.recv_data = dtls_on_data;
  cb.closed = dtls_on_closed;
  if (o.workers > 1) {
    rv = dtls_serve_workers(&o, &s, &cb, cred, fleet, &ss, sl, fleet_id);
    mstls_fleet_del(fleet);
    mstls_credentials_del(cred);
    tool_tls_close(&g_keylog);
    return rv;
  }
  rv = mstls_udp_loop_new(&g_loop, (struct sockaddr *)&ss, sl, &s, &cb, cred,
                          &t);
  if (rv == 0 && fleet) {
    mstls_udp_endpoint_set_fleet(mstls_udp_loop_get_endpoint(g_loop), fleet);
  }
  mstls_fleet_del(fleet);
  if (rv < 0) {
    dtls_addr_str((struct sockaddr *)&ss, a, sizeof(a));
    fprintf(stderr, "mstls: listen on %s: %s%s%s%s\n", a, mstls_strerror(rv),
            rv == MSTLS_E_TRANSPORT ? " (" : "",
            rv == MSTLS_E_TRANSPORT ? strerror(errno) : "",
            rv == MSTLS_E_TRANSPORT ? ")" : "");
    mstls_credentials_del(cred);
    return 1;
  }
  mstls_udp_loop_get_local_addr(g_loop, &ss, &sl);
  dtls_addr_str((struct sockaddr *)&ss, a, sizeof(a));
  /* Handlers first: whoever reads "listening" may signal at once. */
  dtls_sig_stop = 0;
  dtls_sig_stats = 0;
  dtls_sig_reload = 0;
  dtls_signals();
  if (o.fleet_secret) {
    fprintf(stderr, "mstls dtls-server: listening on %s (fleet %s)\n", a,
            fleet_id);
  } else {
    fprintf(stderr, "mstls dtls-server: listening on %s\n", a);
  }
  rv = dtls_serve(&t, &o, o.stats_interval);
  dtls_print_stats(mstls_udp_loop_get_endpoint(g_loop), "exit");
  mstls_udp_loop_del(g_loop);
  g_loop = NULL;
  mstls_credentials_del(cred);
  tool_tls_close(&g_keylog);
  return rv < 0 ? 1 : 0;
}

int tool_dtls_client(int argc, char **argv) {
  mstls_credentials *cred = NULL;
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  struct sockaddr_storage ss, bind_ss;
  socklen_t sl, bind_sl;
  mstls_udp_peer *peer = NULL;
  mstls_udp_endpoint *ep;
  mstls_tstamp linger, stop_at = MSTLS_TSTAMP_NEVER;
  int stdin_open = 1, rv, code = 0;
  dtls_opts o;
  dtls_tool t;

  if ((rv = dtls_args(argc, argv, 0, &o)) >= 0) {
    return rv;
  }
  memset(&t, 0, sizeof(t));
  t.quiet = o.quiet;
  t.session = o.session;
  linger = o.linger;
  mstls_udp_settings_default(&s);
  s.flags = o.insecure ? MSTLS_UDP_INSECURE : 0;
  s.mtu = o.mtu;
  if (tool_tls_apply(&o.tls, &s.tls, &g_keylog) < 0) {
    return 1;
  }
  if (tool_resolve(o.host, o.port, SOCK_DGRAM, &ss, &sl) < 0) {
    return 1;
  }
  if (tool_client_credentials(&cred, o.ca, o.cert, o.key) < 0) {
    return 1;
  }
  if (tool_tls_add_psk(&o.tls, cred) < 0) {
    mstls_credentials_del(cred);
    return 1;
  }
  memset(&bind_ss, 0, sizeof(bind_ss));
  bind_ss.ss_family = ss.ss_family;
  bind_sl = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                     : sizeof(struct sockaddr_in);
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = dtls_on_done;
  cb.recv_data = dtls_on_data;
  cb.closed = dtls_on_closed;
  rv = mstls_udp_loop_new(&g_loop, (struct sockaddr *)&bind_ss, bind_sl, &s,
                          &cb, cred, &t);
  if (rv < 0) {
    fprintf(stderr, "mstls: %s\n", mstls_strerror(rv));
    mstls_credentials_del(cred);
    return 1;
  }
  ep = mstls_udp_loop_get_endpoint(g_loop);
  {
    const char *name = o.tls.npsk > 0 && !o.ca ? NULL : o.name;
    static uint8_t blob[DTLS_SESSION_MAX];
    size_t blen =
        o.session ? tool_session_load(o.session, blob, sizeof(blob)) : 0;
    rv = mstls_udp_loop_connect2(g_loop, (struct sockaddr *)&ss, sl, name,
                                 blen ? blob : NULL, blen, &peer);
    if (rv == MSTLS_E_INVALID_ARGUMENT && blen) {
      fprintf(stderr,
              "mstls: --session %s: not resumption data; a full handshake"
              " instead\n",
              o.session);
      rv = mstls_udp_loop_connect(g_loop, (struct sockaddr *)&ss, sl, name,
                                  &peer);
    }
  }
  if (rv < 0) {
    fprintf(stderr, "mstls: connect: %s\n", mstls_strerror(rv));
    code = 1;
    goto out;
  }
  signal(SIGPIPE, SIG_IGN);
  while (!t.peer_closed) {
    struct pollfd pfd[2];
    mstls_tstamp now = mstls_udp_now(), exp = mstls_udp_endpoint_get_expiry(ep);
    int wait = 1000;
    nfds_t n = 1;
    if (exp != MSTLS_TSTAMP_NEVER) {
      wait = exp <= now ? 0 : (int)((exp - now) / MSTLS_MILLISECONDS) + 1;
      wait = wait > 1000 ? 1000 : wait;
    }
    if (stop_at != MSTLS_TSTAMP_NEVER) {
      /* Every record answered: no need to linger longer. */
      if (now >= stop_at || (t.sent > 0 && t.received >= t.sent)) {
        mstls_udp_peer_close(peer);
        break;
      }
      if ((int)((stop_at - now) / MSTLS_MILLISECONDS) + 1 < wait) {
        wait = (int)((stop_at - now) / MSTLS_MILLISECONDS) + 1;
      }
    }
    pfd[0].fd = mstls_udp_loop_get_fd(g_loop);
    pfd[0].events = POLLIN;
    if (t.done && stdin_open) {
      pfd[1].fd = 0;
      pfd[1].events = POLLIN;
      n = 2;
    }
    if (poll(pfd, n, wait) < 0 && errno != EINTR) {
      code = 1;
      break;
    }
    if (pfd[0].revents) {
      mstls_udp_loop_read(g_loop);
    } else {
      mstls_udp_endpoint_handle_expiry(ep, mstls_udp_now());
    }
    if (n == 2 && pfd[1].revents && !t.peer_closed) {
      char line[4096];
      size_t max = mstls_udp_peer_get_data_mtu(peer);
      ssize_t got = read(0, line, max < sizeof(line) ? max : sizeof(line));
      if (got <= 0) {
        stdin_open = 0;
        stop_at = mstls_udp_now() + linger;
      } else if (mstls_udp_peer_send(peer, line, (size_t)got) < 0) {
        fprintf(stderr, "mstls: send failed\n");
      } else {
        t.sent++;
      }
    }
  }
  if (t.failed || !t.done) {
    code = 1;
  }
out:
  mstls_udp_loop_del(g_loop);
  g_loop = NULL;
  mstls_credentials_del(cred);
  tool_tls_close(&g_keylog);
  return code;
}
