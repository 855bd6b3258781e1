/* mstls sctp-server / sctp-client: TLS over SCTP (RFC 3436), in the spirit
 * of gnutls-serv / gnutls-cli. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mstls/sctp.h>

#include "tool.h"
#include "tool_args.h"
#include "tool_sctp.h"

/* Client: after its SHUTDOWN, longest wait for SCTP to complete it. */
#define TSCTP_CLOSE_WAIT_MS 10000
/* Largest --session file read: a session's resumption data are a few
 * KB. */
#define TSCTP_SESSION_MAX 65536

static void tsctp_usage(FILE *f, const char *cmd) {
  fprintf(
      f,
      "usage: mstls %s [options]\n"
      "  --listen [ADDR:]PORT | --connect ADDR:PORT   (PORT 1..65535)\n"
      "                       several addresses: A1,A2:PORT (multihoming;"
      " IPv6:\n"
      "                       [V6]:PORT, [V6A],[V6B]:PORT)\n"
      "  --bind ADDR[,ADDR...]  client: the local addresses to use (default:"
      " all)\n"
      "  --streams N          streams requested each way (1..65535, default"
      " 10)\n"
      "  --policy resume|parallel|lazy   handshakes (client; default resume)\n"
      "  --backend usrsctp|kernel        (default: kernel if available)\n"
      "  --udp-port P         usrsctp local UDP port (1..65535; server: PORT,\n"
      "                       client: PORT+1)\n"
      "  --udp-buffer BYTES   usrsctp: receive and send buffers of its UDP"
      " sockets\n"
      "                       (4096..1073741824, default 4194304; the"
      " kernel caps\n"
      "                       them at net.core.rmem_max without"
      " CAP_NET_ADMIN)\n"
      "  --echo               server: echo every message on its stream\n"
      "  --once               server: exit after one association\n"
      "  --handshake-timeout MS  server: an association whose streams are"
      " not all\n"
      "                       established after MS ms is aborted (1..3600000,\n"
      "                       default 10000)\n"
      "  --max-assocs N       server: associations served at once; more are"
      " aborted\n"
      "                       at once (1..65536, default 1024)\n"
      "  --echo-backlog BYTES server, --echo: echo data queued for a peer;"
      " beyond it\n"
      "                       the server stops reading from that peer"
      " (1..1073741824,\n"
      "                       default 262144)\n"
      "  --stall-timeout MS   server: a peer that takes less than 64 KiB of"
      " the data\n"
      "                       waiting for it in MS ms is aborted (1..3600000,\n"
      "                       default 10000)\n"
      "  --backlog N          server: associations set up and waiting to be\n"
      "                       accepted (1..65535, default 32)\n"
      "  --workers N          server, kernel SCTP: N processes, each with its"
      " own\n"
      "                       listener on the address (SO_REUSEPORT) and"
      " event loop\n"
      "                       (1..256, default 1: one loop, no SO_REUSEPORT);"
      " the\n"
      "                       counters are summed and printed per worker"
      " too\n"
      "  --fleet-secret FILE  server: the session-ticket key comes from this"
      " fleet\n"
      "                       secret (hex; docs/scale-out.md), so servers"
      " sharing\n"
      "                       it resume each other's sessions (default: a"
      " random\n"
      "                       key, shared by the workers); SIGHUP reads it"
      " (and\n"
      "                       --cert/--key) again for new associations\n"
      "  --session FILE       client: resume the session kept in FILE (if it"
      " exists)\n"
      "                       and keep the new one there (mode 0600)\n"
      "  --cert F --key F     certificate and key (server default: a\n"
      "                       self-signed ECDSA certificate in memory)\n"
      "  --ca F | --insecure  client: trust anchors, or no verification\n"
      "  --name NAME          server name (default localhost)\n"
      "  --stream K           client: send stdin lines on stream K"
      " (0..65534)\n"
      "  --linger MS          client: at the end of stdin wait up to MS ms"
      " (0..3600000,\n"
      "                       default 300) until every line has an answer\n"
      "SCTP tunables, both sides, each applied on top of --profile:\n"
      "  --profile default|failover  default: the stack's own values. "
      "failover:\n"
      "                       RTO 200/100/1000 ms, assoc/path max retrans "
      "3/2,\n"
      "                       heartbeat 100 ms, 3 INIT retransmissions at "
      "most\n"
      "                       1000 ms apart, SACK delay 50 ms (a connect to "
      "an\n"
      "                       address where nothing answers gives up in ~2.4 "
      "s)\n"
      "  --rto-initial MS     RTO.Initial (1..86400000; stack default 3000)\n"
      "  --rto-min MS         RTO.Min (1..86400000; stack default 1000)\n"
      "  --rto-max MS         RTO.Max (1..86400000; stack default 60000);\n"
      "                       RTO.Min <= RTO.Initial <= RTO.Max\n"
      "  --assoc-max-retrans N  timeouts in a row before the peer is gone\n"
      "                       (1..65535; stack default 10)\n"
      "  --path-max-retrans N   timeouts in a row before a path is down\n"
      "                       (1..65535; stack default 5)\n"
      "  --heartbeat MS       heartbeat interval (1..86400000; stack default "
      "30000)\n"
      "  --init-attempts N    INIT retransmissions (1..65535; stack default "
      "8)\n"
      "  --init-timeout MS    longest wait between INITs (1..65535; default "
      "60000)\n"
      "  --sack-delay MS      delayed SACK (1..500; stack default 200)\n"
      "  --nagle              let SCTP hold small messages back to bundle "
      "them\n"
      "                       (default: every TLS record leaves at "
      "once)\n" TOOL_TLS_HELP "  --help               this text\n"
      "The client prints its progress on stderr (connecting, association"
      " up, path\n"
      "events) and says how long it waited when nobody answers. The server"
      " serves\n"
      "every association at once from one event loop, prints path events"
      " and its\n"
      "counters on SIGUSR1 and at exit (SIGINT, SIGTERM).\n"
      "usrsctp is one SCTP stack per process: --workers needs kernel SCTP.\n",
      cmd);
}

enum {
  TSCTP_LISTEN = 1,
  TSCTP_CONNECT,
  TSCTP_STREAMS,
  TSCTP_STREAM,
  TSCTP_UDP_PORT,
  TSCTP_UDP_BUFFER,
  TSCTP_POLICY,
  TSCTP_BACKEND,
  TSCTP_ECHO,
  TSCTP_INSECURE,
  TSCTP_ONCE,
  TSCTP_CERT,
  TSCTP_KEY,
  TSCTP_CA,
  TSCTP_NAME,
  TSCTP_LINGER,
  TSCTP_HS_TIMEOUT,
  TSCTP_MAX_ASSOCS,
  TSCTP_ECHO_BACKLOG,
  TSCTP_STALL_TIMEOUT,
  TSCTP_BACKLOG,
  TSCTP_WORKERS,
  TSCTP_FLEET,
  TSCTP_BIND,
  TSCTP_SESSION,
  TSCTP_HELP,
  /* TLS options shared with the dtls subcommands (tool_tls.c). */
  TSCTP_ALPN = 100,
  TSCTP_KEYLOG,
  TSCTP_PIN,
  TSCTP_PSK,
  TSCTP_RAWPK,
  TSCTP_LOG_LEVEL
};

/* The server-only options. 0 or -1. */
static int tsctp_parse_server(int id, const char *v, tsctp_opts *o, int server,
                              tool_err *err) {
  static const char *const names[] = {"--handshake-timeout", "--max-assocs",
                                      "--echo-backlog",      "--stall-timeout",
                                      "--backlog",           "--workers",
                                      "--fleet-secret"};
  const char *name = names[id - TSCTP_HS_TIMEOUT];

  if (!server)
    return tool_fail(err, "%s is for sctp-server", name);
  switch (id) {
  case TSCTP_HS_TIMEOUT:
    return tool_parse_u32(name, v, 1, 3600000, &o->handshake_timeout_ms, err);
  case TSCTP_MAX_ASSOCS:
    return tool_parse_u32(name, v, 1, TSCTP_MAX_ASSOCS_LIMIT, &o->max_assocs,
                          err);
  case TSCTP_ECHO_BACKLOG:
    return tool_parse_u32(name, v, 1, (uint32_t)1 << 30, &o->echo_backlog, err);
  case TSCTP_STALL_TIMEOUT:
    return tool_parse_u32(name, v, 1, 3600000, &o->stall_timeout_ms, err);
  case TSCTP_BACKLOG:
    return tool_parse_u16(name, v, 1, 65535, &o->backlog, err);
  case TSCTP_WORKERS:
    return tool_parse_u32(name, v, 1, TSCTP_WORKERS_MAX, &o->workers, err);
  case TSCTP_FLEET:
    o->fleet_secret = v;
    return 0;
  default:
    return tool_fail(err, "internal: option %d", id);
  }
}

/* --workers N on usrsctp: why not, and what to do instead. -1. */
static int tsctp_no_usrsctp_workers(const tsctp_opts *o, tool_err *err) {
  return tool_fail(err,
                   "--workers %u: usrsctp is one SCTP stack per process, "
                   "and its listeners cannot share a port; use --backend "
                   "kernel (the workers share the port with SO_REUSEPORT), "
                   "or run several sctp-server processes on different UDP "
                   "encapsulation ports (--udp-port) behind a balancer",
                   o->workers);
}

/* Returns 0 (run), 1 (--help) or -1 (err says why); never exits. */
static int tsctp_parse(int argc, char **argv, tsctp_opts *o, int server,
                       tool_err *err) {
  static const tool_opt opts[] = {
      {"listen", 1, TSCTP_LISTEN},
      {"connect", 1, TSCTP_CONNECT},
      {"streams", 1, TSCTP_STREAMS},
      {"stream", 1, TSCTP_STREAM},
      {"udp-port", 1, TSCTP_UDP_PORT},
      {"udp-buffer", 1, TSCTP_UDP_BUFFER},
      {"policy", 1, TSCTP_POLICY},
      {"backend", 1, TSCTP_BACKEND},
      {"echo", 0, TSCTP_ECHO},
      {"insecure", 0, TSCTP_INSECURE},
      {"once", 0, TSCTP_ONCE},
      {"cert", 1, TSCTP_CERT},
      {"key", 1, TSCTP_KEY},
      {"ca", 1, TSCTP_CA},
      {"name", 1, TSCTP_NAME},
      {"linger", 1, TSCTP_LINGER},
      {"handshake-timeout", 1, TSCTP_HS_TIMEOUT},
      {"max-assocs", 1, TSCTP_MAX_ASSOCS},
      {"echo-backlog", 1, TSCTP_ECHO_BACKLOG},
      {"stall-timeout", 1, TSCTP_STALL_TIMEOUT},
      {"backlog", 1, TSCTP_BACKLOG},
      {"workers", 1, TSCTP_WORKERS},
      {"fleet-secret", 1, TSCTP_FLEET},
      {"session", 1, TSCTP_SESSION},
      {"bind", 1, TSCTP_BIND},
      {"profile", 1, TSCTP_PROFILE},
      {"rto-initial", 1, TSCTP_RTO_INITIAL},
      {"rto-min", 1, TSCTP_RTO_MIN},
      {"rto-max", 1, TSCTP_RTO_MAX},
      {"assoc-max-retrans", 1, TSCTP_ASSOC_MAX_RETRANS},
      {"path-max-retrans", 1, TSCTP_PATH_MAX_RETRANS},
      {"heartbeat", 1, TSCTP_HEARTBEAT},
      {"init-attempts", 1, TSCTP_INIT_ATTEMPTS},
      {"init-timeout", 1, TSCTP_INIT_TIMEOUT},
      {"sack-delay", 1, TSCTP_SACK_DELAY},
      {"nagle", 0, TSCTP_NAGLE},
      {"help", 0, TSCTP_HELP},
      {"alpn", 1, TSCTP_ALPN},
      {"keylog", 1, TSCTP_KEYLOG},
      {"pin", 1, TSCTP_PIN},
      {"psk", 1, TSCTP_PSK},
      {"rawpk", 1, TSCTP_RAWPK},
      {"log-level", 1, TSCTP_LOG_LEVEL},
      {NULL, 0, 0}};
  static const char *const policies[] = {"resume", "parallel", "lazy", NULL};
  static const mstls_policy policy_of[] = {
      MSTLS_POLICY_RESUME, MSTLS_POLICY_PARALLEL, MSTLS_POLICY_LAZY};
  static const char *const backends[] = {"usrsctp", "kernel", NULL};
  tool_scan sc;
  const char *v;
  int id, k;

  memset(o, 0, sizeof(*o));
  o->streams = 10;
  o->policy = MSTLS_POLICY_RESUME;
  o->backend = MSTLS_SCTP_BACKEND_DEFAULT;
  o->name = "localhost";
  o->linger_ms = 300;
  o->handshake_timeout_ms = TSCTP_DEFAULT_HANDSHAKE_TIMEOUT_MS;
  o->max_assocs = TSCTP_DEFAULT_MAX_ASSOCS;
  o->echo_backlog = TSCTP_DEFAULT_ECHO_BACKLOG;
  o->udp_buffer = MSTLS_SCTP_USRSCTP_DEFAULT_UDP_BUFFER;
  o->stall_timeout_ms = TSCTP_DEFAULT_STALL_TIMEOUT_MS;
  o->backlog = MSTLS_SCTP_DEFAULT_BACKLOG;
  o->workers = 1;
  tool_scan_init(&sc, argc, argv);
  while ((id = tool_scan_next(&sc, opts, &v, err)) > 0) {
    switch (id) {
    case TSCTP_HELP:
      return 1;
    case TSCTP_ECHO:
      o->echo = 1;
      break;
    case TSCTP_INSECURE:
      o->insecure = 1;
      break;
    case TSCTP_ONCE:
      o->once = 1;
      break;
    case TSCTP_LISTEN:
    case TSCTP_CONNECT:
      if ((id == TSCTP_LISTEN) != server)
        return tool_fail(err, "%s is for %s", server ? "--connect" : "--listen",
                         server ? "sctp-client" : "sctp-server");
      if (tool_parse_hostport(server ? "--listen" : "--connect", v, server,
                              o->hostbuf, sizeof(o->hostbuf), &o->port,
                              err) < 0)
        return -1;
      o->host = o->hostbuf[0] != '\0' ? o->hostbuf : NULL;
      break;
    case TSCTP_STREAMS:
      if (tool_parse_u16("--streams", v, 1, 65535, &o->streams, err) < 0)
        return -1;
      break;
    case TSCTP_STREAM:
      if (tool_parse_u16("--stream", v, 0, 65534, &o->stream, err) < 0)
        return -1;
      break;
    case TSCTP_UDP_PORT:
      if (tool_parse_u16("--udp-port", v, 1, 65535, &o->udp_port, err) < 0)
        return -1;
      break;
    case TSCTP_UDP_BUFFER:
      if (tool_parse_u32("--udp-buffer", v, 4096, (uint32_t)1 << 30,
                         &o->udp_buffer, err) < 0)
        return -1;
      break;
    case TSCTP_POLICY:
      if (tool_parse_choice("--policy", v, policies, &k, err) < 0)
        return -1;
      o->policy = policy_of[k];
      break;
    case TSCTP_BACKEND:
      if (tool_parse_choice("--backend", v, backends, &k, err) < 0)
        return -1;
      o->backend =
          k == 0 ? MSTLS_SCTP_BACKEND_USRSCTP : MSTLS_SCTP_BACKEND_KERNEL;
      break;
    case TSCTP_LINGER:
      if (tool_parse_u32("--linger", v, 0, 3600000, &o->linger_ms, err) < 0)
        return -1;
      break;
    case TSCTP_HS_TIMEOUT:
    case TSCTP_MAX_ASSOCS:
    case TSCTP_ECHO_BACKLOG:
    case TSCTP_STALL_TIMEOUT:
    case TSCTP_BACKLOG:
    case TSCTP_WORKERS:
    case TSCTP_FLEET:
      if (tsctp_parse_server(id, v, o, server, err) < 0)
        return -1;
      break;
    case TSCTP_PROFILE:
    case TSCTP_RTO_INITIAL:
    case TSCTP_RTO_MIN:
    case TSCTP_RTO_MAX:
    case TSCTP_ASSOC_MAX_RETRANS:
    case TSCTP_PATH_MAX_RETRANS:
    case TSCTP_HEARTBEAT:
    case TSCTP_INIT_ATTEMPTS:
    case TSCTP_INIT_TIMEOUT:
    case TSCTP_SACK_DELAY:
    case TSCTP_NAGLE:
      if (tool_sctp_tune_parse(id, v, &o->tune, err) < 0)
        return -1;
      break;
    case TSCTP_BIND:
      /* A listener's local addresses are its --listen host. */
      if (server)
        return tool_fail(err, "--bind is for sctp-client: the server binds "
                              "the addresses of --listen ADDR1,ADDR2:PORT");
      if (*v == '\0')
        return tool_fail(err, "--bind: an address is needed (ADDR[,ADDR...])");
      o->bind = v;
      break;
    case TSCTP_SESSION:
      if (server)
        return tool_fail(err, "--session is for sctp-client");
      if (*v == '\0')
        return tool_fail(err, "--session: a file name is needed");
      o->session = v;
      break;
    case TSCTP_ALPN:
    case TSCTP_KEYLOG:
    case TSCTP_PIN:
    case TSCTP_PSK:
    case TSCTP_RAWPK:
    case TSCTP_LOG_LEVEL: {
      static const char *const tls_names[] = {
          "--alpn", "--keylog", "--pin", "--psk", "--rawpk", "--log-level"};
      if (tool_tls_parse(&o->tls, tls_names[id - TSCTP_ALPN], v, err) < 0)
        return -1;
      break;
    }
    case TSCTP_CERT:
      o->cert = v;
      break;
    case TSCTP_KEY:
      o->key = v;
      break;
    case TSCTP_CA:
      o->ca = v;
      break;
    case TSCTP_NAME:
      o->name = v;
      break;
    default:
      return tool_fail(err, "internal: option %d", id);
    }
  }
  if (id < 0)
    return -1;
  if (o->port == 0)
    return tool_fail(err, "%s",
                     server ? "--listen [ADDR:]PORT is required"
                            : "--connect ADDR:PORT is required");
  if ((o->cert == NULL) != (o->key == NULL))
    return tool_fail(err, "--cert and --key go together");
  if (!server && o->ca == NULL && !o->insecure && o->tls.npins == 0 &&
      o->tls.npsk == 0)
    return tool_fail(err, "give --ca FILE, --pin SHA256, --psk ID:KEY or "
                          "--insecure");
  if (!server && o->tls.npsk > 1)
    return tool_fail(err, "--psk: a client offers one key");
  if (o->stream >= o->streams)
    return tool_fail(err, "--stream %u: only %u streams (--streams)", o->stream,
                     o->streams);
  if (tool_sctp_tune_check(&o->tune, err) < 0)
    return -1;
  if (o->workers > 1 && o->backend == MSTLS_SCTP_BACKEND_USRSCTP)
    return tsctp_no_usrsctp_workers(o, err);
  if (o->udp_port == 0)
    o->udp_port = server                 ? o->port
                  : o->port < UINT16_MAX ? (uint16_t)(o->port + 1)
                                         : (uint16_t)(o->port - 1);
  return 0;
}

int tool_sctp_check_args(int argc, char **argv, int server, tool_err *err) {
  tsctp_opts o;
  return tsctp_parse(argc, argv, &o, server, err);
}

/* Parse, and print help or the error: returns -1 to run, else the exit
 * code. Picks the backend after parsing (it probes the kernel). */
static int tsctp_args(int argc, char **argv, tsctp_opts *o, int server) {
  tool_err err;
  int rv = tsctp_parse(argc, argv, o, server, &err);

  if (rv == 1) {
    tsctp_usage(stdout, argv[0]);
    return 0;
  }
  if (rv < 0) {
    fprintf(stderr, "mstls %s: %s\n", argv[0], err.msg);
    fprintf(stderr, "(mstls %s --help lists the options)\n", argv[0]);
    return 2;
  }
  if (o->backend == MSTLS_SCTP_BACKEND_DEFAULT) {
    o->backend = mstls_sctp_kernel_available() ? MSTLS_SCTP_BACKEND_KERNEL
                                               : MSTLS_SCTP_BACKEND_USRSCTP;
    if (o->workers > 1 && o->backend == MSTLS_SCTP_BACKEND_USRSCTP) {
      (void)tsctp_no_usrsctp_workers(o, &err);
      fprintf(stderr,
              "mstls %s: %s\n(this kernel has no SCTP, so the backend is "
              "usrsctp)\n",
              argv[0], err.msg);
      return 2;
    }
  }
  rv = tool_sctp_preflight(o->backend == MSTLS_SCTP_BACKEND_KERNEL,
                           server ? "--listen" : "--connect", o->host);
  if (rv < 0 && o->bind != NULL && tool_check_addr_list("--bind", o->bind) < 0)
    rv = 1;
  return rv;
}

int tool_sctp_stack(const tsctp_opts *o) {
  int rv;

  if (o->backend != MSTLS_SCTP_BACKEND_USRSCTP)
    return 0;
  /* Before the stack starts: it applies the size at init. */
  rv = mstls_sctp_usrsctp_set_udp_buffer(o->udp_buffer);
  if (rv == 0)
    rv = mstls_sctp_usrsctp_init(o->udp_port, 0);
  if (rv < 0)
    fprintf(stderr, "mstls: usrsctp on UDP port %u: %s\n", o->udp_port,
            mstls_strerror(rv));
  return rv;
}

void tool_sctp_config(mstls_sctp_config *cfg, const tsctp_opts *o) {
  mstls_sctp_config_default(cfg);
  cfg->backend = o->backend;
  cfg->streams_in = o->streams;
  cfg->streams_out = o->streams;
  cfg->blocking = 1;
  cfg->remote_udp_port = o->port;
  cfg->local_addrs = o->bind;
  tool_sctp_tune_apply(cfg, &o->tune);
}

/* --keylog FILE of the client. */
static FILE *tsctp_keylog;

static void tsctp_info(mstls_sctp_assoc *a) {
  uint16_t in = 0, out = 0;
  mstls_session *s = mstls_sctp_assoc_get_session(a);

  (void)mstls_sctp_assoc_get_streams(a, &in, &out);
  printf("association up over %s: streams in %u, out %u -> %u TLS streams\n",
         mstls_sctp_assoc_get_backend(a) == MSTLS_SCTP_BACKEND_KERNEL
             ? "kernel SCTP"
             : "usrsctp (UDP encapsulation)",
         in, out, mstls_session_get_nstreams(s));
  tool_print_stream_table(s);
  {
    char alpn[256], fp[2 * MSTLS_SHA256_LEN + 1] = "";
    mstls_peer_identity id;
    size_t i;
    if (mstls_stream_get_alpn(s, 0, alpn, sizeof(alpn)) <= 0)
      strcpy(alpn, "-");
    if (mstls_stream_get_peer_identity(s, 0, &id) == 0) {
      for (i = 0; i < MSTLS_SHA256_LEN && id.chain_len > 0; i++)
        snprintf(fp + 2 * i, 3, "%02x", id.sha256[i]);
      printf("ALPN %s%s%s%s%s%s\n", alpn,
             !fp[0]              ? ""
             : id.raw_public_key ? ", peer raw public key sha256 "
                                 : ", peer certificate sha256 ",
             fp, fp[0] ? (id.verified ? " (verified)" : " (not verified)") : "",
             id.psk_identity[0] ? ", PSK identity " : "", id.psk_identity);
    }
  }
  fflush(stdout);
}

int tool_sctp_server(int argc, char **argv) {
  tsctp_opts o;
  int rv;

  if ((rv = tsctp_args(argc, argv, &o, 1)) >= 0)
    return rv;
  return tool_sctp_serve(&o);
}

static double tsctp_seconds(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Print whatever the server sent within @p ms milliseconds, counting
 * messages in *got; return early once *got reaches @p want (> 0), or once
 * the association has ended (an error, or MSTLS_E_CLOSED after a
 * completed shutdown). */
static void tsctp_drain(mstls_sctp_assoc *a, int ms, long *got, long want) {
  mstls_session *s = mstls_sctp_assoc_get_session(a);
  static uint8_t buf[1 << 16];
  double end = tsctp_seconds() + (double)ms / 1000.0;

  while (tsctp_seconds() < end) {
    uint16_t k = 0;
    long r;
    (void)mstls_sctp_assoc_process(a);
    while ((r = mstls_session_recv_any(s, &k, buf, sizeof(buf))) > 0) {
      printf("[stream %u] %.*s", k, (int)r, (const char *)buf);
      if (buf[r - 1] != '\n')
        printf("\n");
      fflush(stdout);
      (*got)++;
    }
    if (want > 0 && *got >= want)
      return;
    if (mstls_sctp_assoc_get_error(a) != 0)
      return;
    (void)mstls_sctp_assoc_wait(a, 100);
  }
}

/* What the client's event callback saw during the connect. */
typedef struct tsctp_client_state {
  int up; /* the association came up (the TLS handshakes then started) */
} tsctp_client_state;

/* Progress on stderr while connect() blocks: the library handles the
 * notifications while it waits, so this runs on our thread from inside
 * mstls_sctp_connect() (and later from the receive calls). */
static void tsctp_client_event(mstls_sctp_assoc *a, mstls_sctp_event ev,
                               uint16_t stream, int error, void *user_data) {
  tsctp_client_state *cs = user_data;
  char addr[MSTLS_SCTP_ADDR_TEXT];
  const char *what;

  (void)stream;
  (void)error;
  if (ev == MSTLS_SCTP_EVENT_UP) {
    cs->up = 1;
    fprintf(stderr, "SCTP association up, TLS handshakes on %u streams...\n",
            mstls_session_get_nstreams(mstls_sctp_assoc_get_session(a)));
    return;
  }
  what = tool_sctp_path_event(ev);
  if (what != NULL &&
      mstls_sctp_assoc_get_event_addr(a, NULL, addr, sizeof(addr)) == 0)
    fprintf(stderr, "path %s %s\n", addr, what);
}

/* Entries of a comma-separated list. */
static size_t tsctp_count(const char *list) {
  size_t n = 1;

  for (; *list != '\0'; list++)
    n += *list == ',';
  return n;
}

/* The line before connect(): where, how, and how long SCTP tries. */
static void tsctp_connecting(const tsctp_opts *o,
                             const mstls_sctp_config *cfg) {
  char bound[32];

  tool_sctp_duration(bound, sizeof(bound),
                     tool_sctp_giveup_ms(cfg, tsctp_count(o->host)));
  fprintf(stderr,
          "connecting to %s port %u%s%s (%s, profile %s: gives up "
          "after about %s)\n",
          o->host, o->port, o->bind != NULL ? " from " : "",
          o->bind != NULL ? o->bind : "",
          o->backend == MSTLS_SCTP_BACKEND_KERNEL ? "kernel SCTP" : "usrsctp",
          o->tune.profile == TSCTP_PROFILE_FAILOVER ? "failover" : "default",
          bound);
}

/* Why connect() failed, in the user's terms. */
static void tsctp_connect_failed(const tsctp_opts *o,
                                 const tsctp_client_state *cs, int rv,
                                 double elapsed) {
  if (rv == MSTLS_E_PEER_GONE && !cs->up) {
    /* INIT (or COOKIE-ECHO) never answered, or answered by an ABORT. */
    fprintf(stderr,
            "mstls: no answer from %s port %u after %.1f s: nothing listens "
            "there, or the host or the path is down\n",
            o->host, o->port, elapsed);
    if (o->tune.profile == TSCTP_PROFILE_DEFAULT) {
      mstls_sctp_config f;
      char bound[32];
      mstls_sctp_config_default(&f);
      mstls_sctp_config_failover(&f);
      f.backend = o->backend;
      tool_sctp_duration(bound, sizeof(bound),
                         tool_sctp_giveup_ms(&f, tsctp_count(o->host)));
      fprintf(stderr, "(--profile failover gives up in about %s)\n", bound);
    }
    return;
  }
  if (rv == MSTLS_E_TRANSPORT && o->bind != NULL && !cs->up) {
    fprintf(stderr,
            "mstls: connect: %s (is every --bind address one of this "
            "host's?)\n",
            mstls_strerror(rv));
    return;
  }
  fprintf(stderr, "mstls: connect: %s\n", mstls_strerror(rv));
}

/* --session: keep the session's resumption data in the file. */
static void tsctp_session_save(const char *path, mstls_session *s) {
  static uint8_t buf[TSCTP_SESSION_MAX];
  size_t len = sizeof(buf);
  int rv = mstls_session_get_resumption_data(s, buf, &len);

  if (rv < 0) {
    fprintf(stderr, "mstls: --session %s: nothing to keep (%s)\n", path,
            mstls_strerror(rv));
    return;
  }
  tool_session_save(path, buf, len);
}

/* --session: how many streams resumed the session of the file. */
static void tsctp_session_report(const char *path, mstls_session *s,
                                 size_t loaded) {
  uint32_t n = mstls_session_get_nstreams(s), i, resumed = 0;
  mstls_session_stats st;

  for (i = 0; i < n; i++) {
    mstls_stream_info info;
    if (mstls_stream_get_info(s, (uint16_t)i, &info) == 0 && info.resumed)
      resumed++;
  }
  if (loaded > 0 && mstls_session_get_stats(s, &st) == 0 &&
      st.resume_data_rejected > 0)
    fprintf(stderr,
            "mstls: --session %s: not resumption data this server takes; "
            "full handshakes instead\n",
            path);
  if (loaded > 0)
    fprintf(stderr, "--session %s: %u of %u streams resumed\n", path, resumed,
            n);
  else
    fprintf(stderr, "--session %s: no session kept yet (a full handshake)\n",
            path);
}

int tool_sctp_client(int argc, char **argv) {
  tsctp_opts o;
  mstls_sctp_config cfg;
  mstls_sctp_assoc *a = NULL;
  mstls_credentials *cred = NULL;
  mstls_settings st;
  mstls_session *s;
  tsctp_client_state cs = {0};
  static uint8_t blob[TSCTP_SESSION_MAX];
  size_t blen = 0;
  char line[4096];
  long sent = 0, got = 0;
  double t0;
  int rv;

  if ((rv = tsctp_args(argc, argv, &o, 0)) >= 0)
    return rv;
  mstls_settings_default(&st);
  if (tool_client_credentials(&cred, o.ca, NULL, NULL) < 0)
    return 1;
  if (tool_tls_add_psk(&o.tls, cred) < 0 ||
      tool_tls_apply(&o.tls, &st.tls, &tsctp_keylog) < 0) {
    mstls_credentials_del(cred);
    return 1;
  }
  if (tool_sctp_stack(&o) < 0) {
    mstls_credentials_del(cred);
    return 1;
  }
  tool_sctp_config(&cfg, &o);
  cfg.event = tsctp_client_event;
  st.policy = o.policy;
  st.server_name = o.tls.npsk > 0 && o.ca == NULL ? NULL : o.name;
  if (o.insecure)
    st.flags |= MSTLS_SETTINGS_INSECURE;
  if (o.session != NULL &&
      (blen = tool_session_load(o.session, blob, sizeof(blob))) > 0) {
    st.resumption_data = blob;
    st.resumption_data_len = blen;
  }
  tsctp_connecting(&o, &cfg);
  t0 = tsctp_seconds();
  rv = mstls_sctp_connect(&a, &cfg, o.host, o.port, &st, NULL, cred, &cs);
  if (rv < 0) {
    tsctp_connect_failed(&o, &cs, rv, tsctp_seconds() - t0);
    goto out;
  }
  s = mstls_sctp_assoc_get_session(a);
  tsctp_info(a);
  if (o.session != NULL)
    tsctp_session_report(o.session, s, blen);
  if (o.stream >= mstls_session_get_nstreams(s)) {
    fprintf(stderr, "mstls: --stream %u is not a TLS stream\n", o.stream);
    rv = MSTLS_E_INVALID_STREAM;
    goto out;
  }
  while (fgets(line, sizeof(line), stdin) != NULL) {
    long n = mstls_stream_send_blocking(s, o.stream, line, strlen(line));
    if (n < 0) {
      fprintf(stderr, "mstls: send: %s\n", mstls_strerror((int)n));
      rv = (int)n;
      break;
    }
    sent++;
    tsctp_drain(a, 1000, &got, sent);
  }
  tsctp_drain(a, (int)o.linger_ms, &got, sent);
  if (rv >= 0)
    tool_print_stream_table(s);
  /* The freshest data: stream 0 has read the server's new ticket by now
   * (it came with the handshake, before any echo). */
  if (o.session != NULL)
    tsctp_session_save(o.session, s);
  /* Read on until SCTP has completed the shutdown: the server answers
   * each close_notify with its own, and usrsctp closing a socket with
   * unread data in it sends an ABORT instead of finishing the SHUTDOWN
   * (the server would report the association lost, though every stream
   * closed in order). Bounded for a server that never completes it. */
  (void)mstls_sctp_assoc_shutdown(a);
  tsctp_drain(a, TSCTP_CLOSE_WAIT_MS, &got, 0);
out:
  mstls_sctp_assoc_del(a);
  if (o.backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  mstls_credentials_del(cred);
  tool_tls_close(&tsctp_keylog);
  return rv < 0 ? 1 : 0;
}
