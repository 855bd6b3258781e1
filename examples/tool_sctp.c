/* mstls sctp-server / sctp-client: TLS over SCTP (RFC 3436), in the spirit
 * of gnutls-serv / gnutls-cli. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mstls/sctp.h>

#include "tool.h"

typedef struct tsctp_opts {
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
  const char *cert;
  const char *key;
  const char *ca;
  const char *name;
} tsctp_opts;

static void tsctp_usage(const char *cmd) {
  fprintf(
      stderr,
      "usage: mstls %s [options]\n"
      "  --listen ADDR:PORT | --connect ADDR:PORT\n"
      "  --streams N          streams requested each way (default 10)\n"
      "  --policy resume|parallel|lazy   handshakes (client; default resume)\n"
      "  --backend usrsctp|kernel        (default: kernel if available)\n"
      "  --udp-port P         usrsctp local UDP port (server: PORT,\n"
      "                       client: PORT+1)\n"
      "  --echo               server: echo every message on its stream\n"
      "  --once               server: exit after one association\n"
      "  --cert F --key F     certificate and key (server default: a\n"
      "                       self-signed ECDSA certificate in memory)\n"
      "  --ca F | --insecure  client: trust anchors, or no verification\n"
      "  --name NAME          server name (default localhost)\n"
      "  --stream K           client: send stdin lines on stream K\n",
      cmd);
}

static int tsctp_addr(const char *arg, const char **host, uint16_t *port) {
  static char buf[256];
  char *colon;
  long p;

  if (strlen(arg) >= sizeof(buf))
    return -1;
  strcpy(buf, arg);
  colon = strrchr(buf, ':');
  if (colon == NULL)
    return -1;
  *colon = '\0';
  p = strtol(colon + 1, NULL, 10);
  if (p <= 0 || p > 65535)
    return -1;
  *host = buf[0] != '\0' ? buf : NULL;
  if (*host != NULL && (*host)[0] == '[') { /* [v6]:port */
    (*host)++;
    buf[strlen(buf) - 1] = '\0';
  }
  *port = (uint16_t)p;
  return 0;
}

static int tsctp_parse(int argc, char **argv, tsctp_opts *o, int server) {
  int i;

  memset(o, 0, sizeof(*o));
  o->streams = 10;
  o->policy = MSTLS_POLICY_RESUME;
  o->backend = MSTLS_SCTP_BACKEND_DEFAULT;
  o->name = "localhost";
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--echo") == 0) {
      o->echo = 1;
      continue;
    }
    if (strcmp(a, "--insecure") == 0) {
      o->insecure = 1;
      continue;
    }
    if (strcmp(a, "--once") == 0) {
      o->once = 1;
      continue;
    }
    if (v == NULL)
      return -1;
    i++;
    if (strcmp(a, server ? "--listen" : "--connect") == 0) {
      if (tsctp_addr(v, &o->host, &o->port) < 0)
        return -1;
    } else if (strcmp(a, "--streams") == 0) {
      long n = strtol(v, NULL, 10);
      if (n < 1 || n > 65535)
        return -1;
      o->streams = (uint16_t)n;
    } else if (strcmp(a, "--stream") == 0) {
      o->stream = (uint16_t)strtol(v, NULL, 10);
    } else if (strcmp(a, "--udp-port") == 0) {
      o->udp_port = (uint16_t)strtol(v, NULL, 10);
    } else if (strcmp(a, "--policy") == 0) {
      if (strcmp(v, "resume") == 0)
        o->policy = MSTLS_POLICY_RESUME;
      else if (strcmp(v, "parallel") == 0)
        o->policy = MSTLS_POLICY_PARALLEL;
      else if (strcmp(v, "lazy") == 0)
        o->policy = MSTLS_POLICY_LAZY;
      else
        return -1;
    } else if (strcmp(a, "--backend") == 0) {
      if (strcmp(v, "usrsctp") == 0)
        o->backend = MSTLS_SCTP_BACKEND_USRSCTP;
      else if (strcmp(v, "kernel") == 0)
        o->backend = MSTLS_SCTP_BACKEND_KERNEL;
      else
        return -1;
    } else if (strcmp(a, "--cert") == 0) {
      o->cert = v;
    } else if (strcmp(a, "--key") == 0) {
      o->key = v;
    } else if (strcmp(a, "--ca") == 0) {
      o->ca = v;
    } else if (strcmp(a, "--name") == 0) {
      o->name = v;
    } else {
      return -1;
    }
  }
  if (o->port == 0)
    return -1;
  if (o->backend == MSTLS_SCTP_BACKEND_DEFAULT)
    o->backend = mstls_sctp_kernel_available() ? MSTLS_SCTP_BACKEND_KERNEL
                                               : MSTLS_SCTP_BACKEND_USRSCTP;
  if (o->udp_port == 0)
    o->udp_port = server ? o->port : (uint16_t)(o->port + 1);
  return 0;
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

  if (tsctp_parse(argc, argv, &o, 1) < 0) {
    tsctp_usage(argv[0]);
    return 2;
  }
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

/* Print whatever the server sent within @p ms milliseconds. */
static void tsctp_drain(mstls_sctp_assoc *a, int ms) {
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
      waited = ms - 300; /* got an answer: a short grace period */
    }
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
  int rv;

  if (tsctp_parse(argc, argv, &o, 0) < 0 || o.host == NULL) {
    tsctp_usage(argv[0]);
    return 2;
  }
  if (o.ca == NULL && !o.insecure) {
    fprintf(stderr, "mstls: give --ca FILE or --insecure\n");
    return 2;
  }
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
    tsctp_drain(a, 1000);
  }
  tsctp_drain(a, 300);
  if (rv >= 0)
    tool_print_stream_table(s);
  (void)mstls_sctp_assoc_shutdown(a);
  tsctp_drain(a, 300);
out:
  mstls_sctp_assoc_del(a);
  if (o.backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  mstls_credentials_del(cred);
  return rv < 0 ? 1 : 0;
}
