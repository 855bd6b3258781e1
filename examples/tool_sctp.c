/* mstls sctp-server / sctp-client: TLS over SCTP (RFC 3436), in the spirit
 * of gnutls-serv / gnutls-cli. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mstls/sctp.h>

#include "tool.h"
#include "tool_args.h"

typedef struct tsctp_opts {
  char hostbuf[256];
  const char *host;
  uint16_t port;
  uint16_t udp_port; /* usrsctp: local UDP encapsulation port */
  uint16_t streams;
  mstls_policy policy;
  mstls_sctp_backend backend;
  int echo;
  int insecure;
  int once;
  uint16_t stream;
  uint32_t linger_ms; /* client: wait for replies after stdin ends */
  const char *cert;
  const char *key;
  const char *ca;
  const char *name;
} tsctp_opts;

static void tsctp_usage(FILE *f, const char *cmd) {
  fprintf(
      f,
      "usage: mstls %s [options]\n"
      "  --listen [ADDR:]PORT | --connect ADDR:PORT   (PORT 1..65535)\n"
      "  --streams N          streams requested each way (1..65535, default"
      " 10)\n"
      "  --policy resume|parallel|lazy   handshakes (client; default resume)\n"
      "  --backend usrsctp|kernel        (default: kernel if available)\n"
      "  --udp-port P         usrsctp local UDP port (1..65535; server: PORT,\n"
      "                       client: PORT+1)\n"
      "  --echo               server: echo every message on its stream\n"
      "  --once               server: exit after one association\n"
      "  --cert F --key F     certificate and key (server default: a\n"
      "                       self-signed ECDSA certificate in memory)\n"
      "  --ca F | --insecure  client: trust anchors, or no verification\n"
      "  --name NAME          server name (default localhost)\n"
      "  --stream K           client: send stdin lines on stream K"
      " (0..65534)\n"
      "  --linger MS          client: at the end of stdin wait up to MS ms"
      " (0..3600000,\n"
      "                       default 300) until every line has an answer\n"
      "  --help               this text\n",
      cmd);
}

enum {
  TSCTP_LISTEN = 1,
  TSCTP_CONNECT,
  TSCTP_STREAMS,
  TSCTP_STREAM,
  TSCTP_UDP_PORT,
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
  TSCTP_HELP
};

/* Returns 0 (run), 1 (--help) or -1 (err says why); never exits. */
static int tsctp_parse(int argc, char **argv, tsctp_opts *o, int server,
                       tool_err *err) {
  static const tool_opt opts[] = {{"listen", 1, TSCTP_LISTEN},
                                  {"connect", 1, TSCTP_CONNECT},
                                  {"streams", 1, TSCTP_STREAMS},
                                  {"stream", 1, TSCTP_STREAM},
                                  {"udp-port", 1, TSCTP_UDP_PORT},
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
                                  {"help", 0, TSCTP_HELP},
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
  if (!server && o->ca == NULL && !o->insecure)
    return tool_fail(err, "give --ca FILE or --insecure");
  if (o->stream >= o->streams)
    return tool_fail(err, "--stream %u: only %u streams (--streams)", o->stream,
                     o->streams);
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
  if (o->backend == MSTLS_SCTP_BACKEND_DEFAULT)
    o->backend = mstls_sctp_kernel_available() ? MSTLS_SCTP_BACKEND_KERNEL
                                               : MSTLS_SCTP_BACKEND_USRSCTP;
  return tool_sctp_preflight(o->backend == MSTLS_SCTP_BACKEND_KERNEL, o->host);
}

static int tsctp_stack(const tsctp_opts *o) {
  int rv;

  if (o->backend != MSTLS_SCTP_BACKEND_USRSCTP)
    return 0;
  rv = mstls_sctp_usrsctp_init(o->udp_port, 0);
  if (rv < 0)
    fprintf(stderr, "mstls: usrsctp on UDP port %u: %s\n", o->udp_port,
            mstls_strerror(rv));
  return rv;
}

static void tsctp_config(mstls_sctp_config *cfg, const tsctp_opts *o) {
  mstls_sctp_config_default(cfg);
  cfg->backend = o->backend;
  cfg->streams_in = o->streams;
  cfg->streams_out = o->streams;
  cfg->blocking = 1;
  cfg->remote_udp_port = o->port;
}

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
  fflush(stdout);
}

static void tsctp_serve(mstls_sctp_assoc *a, const tsctp_opts *o) {
  mstls_session *s = mstls_sctp_assoc_get_session(a);
  uint32_t n = mstls_session_get_nstreams(s), closed = 0;
  static uint8_t buf[1 << 16];

  while (closed < n) {
    uint16_t k = 0;
    long r = mstls_session_recv_any_blocking(s, &k, buf, sizeof(buf));
    if (r == 0) {
      closed++;
      continue;
    }
    if (r < 0) {
      if (r == MSTLS_E_CLOSED || mstls_err_is_fatal((int)r) ||
          mstls_sctp_assoc_get_error(a) != 0)
        break;
      fprintf(stderr, "stream %u: %s\n", k, mstls_strerror((int)r));
      continue;
    }
    if (o->echo) {
      if (mstls_stream_send_blocking(s, k, buf, (size_t)r) != r)
        break;
    } else {
      printf("[stream %u] %.*s", k, (int)r, (const char *)buf);
      if (buf[r - 1] != '\n')
        printf("\n");
      fflush(stdout);
    }
  }
  printf("association closed (%s)\n",
         mstls_sctp_assoc_get_error(a) != 0
             ? mstls_strerror(mstls_sctp_assoc_get_error(a))
             : "all streams closed");
  fflush(stdout);
}

int tool_sctp_server(int argc, char **argv) {
  tsctp_opts o;
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;
  mstls_credentials *cred = NULL;
  mstls_settings st;
  int rv;

  if ((rv = tsctp_args(argc, argv, &o, 1)) >= 0)
    return rv;
  if (tool_server_credentials(&cred, o.cert, o.key, o.name) < 0)
    return 1;
  if (tsctp_stack(&o) < 0) {
    mstls_credentials_del(cred);
    return 1;
  }
  tsctp_config(&cfg, &o);
  rv = mstls_sctp_listen(&l, &cfg, o.host, o.port);
  if (rv < 0) {
    fprintf(stderr, "mstls: listen: %s\n", mstls_strerror(rv));
    goto out;
  }
  printf("listening on %s:%u (%s)\n", o.host ? o.host : "*", o.port,
         o.backend == MSTLS_SCTP_BACKEND_KERNEL ? "kernel SCTP" : "usrsctp");
  fflush(stdout);
  mstls_settings_default(&st);
  st.nstreams = o.streams;
  do {
    mstls_sctp_assoc *a = NULL;
    rv = mstls_sctp_accept(l, &a, &st, NULL, cred, NULL);
    if (rv < 0) {
      fprintf(stderr, "mstls: accept: %s\n", mstls_strerror(rv));
    } else {
      tsctp_info(a);
      tsctp_serve(a, &o);
      (void)mstls_sctp_assoc_shutdown(a);
    }
    mstls_sctp_assoc_del(a);
  } while (!o.once);
out:
  mstls_sctp_listener_del(l);
  if (o.backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  mstls_credentials_del(cred);
  return rv < 0 ? 1 : 0;
}

/* Print whatever the server sent within @p ms milliseconds, counting
 * messages in *got; return early once *got reaches @p want (> 0). */
static void tsctp_drain(mstls_sctp_assoc *a, int ms, long *got, long want) {
  mstls_session *s = mstls_sctp_assoc_get_session(a);
  static uint8_t buf[1 << 16];
  int waited;

  for (waited = 0; waited < ms; waited += 100) {
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

int tool_sctp_client(int argc, char **argv) {
  tsctp_opts o;
  mstls_sctp_config cfg;
  mstls_sctp_assoc *a = NULL;
  mstls_credentials *cred = NULL;
  mstls_settings st;
  mstls_session *s;
  char line[4096];
  long sent = 0, got = 0;
  int rv;

  if ((rv = tsctp_args(argc, argv, &o, 0)) >= 0)
    return rv;
  if (tool_client_credentials(&cred, o.ca, NULL, NULL) < 0)
    return 1;
  if (tsctp_stack(&o) < 0) {
    mstls_credentials_del(cred);
    return 1;
  }
  tsctp_config(&cfg, &o);
  mstls_settings_default(&st);
  st.policy = o.policy;
  st.server_name = o.name;
  if (o.insecure)
    st.flags |= MSTLS_SETTINGS_INSECURE;
  rv = mstls_sctp_connect(&a, &cfg, o.host, o.port, &st, NULL, cred, NULL);
  if (rv < 0) {
    fprintf(stderr, "mstls: connect: %s\n", mstls_strerror(rv));
    goto out;
  }
  s = mstls_sctp_assoc_get_session(a);
  tsctp_info(a);
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
  (void)mstls_sctp_assoc_shutdown(a);
  tsctp_drain(a, 300, &got, 0);
out:
  mstls_sctp_assoc_del(a);
  if (o.backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  mstls_credentials_del(cred);
  return rv < 0 ? 1 : 0;
}
