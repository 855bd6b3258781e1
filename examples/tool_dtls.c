/* mstls dtls-server / dtls-client: DTLS over UDP with many peers on one
 * socket, on the public API (mstls/udp.h) only. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <mstls/udp.h>

#include "tool.h"

static mstls_udp_loop *g_loop;

static void dtls_on_signal(int sig) {
  (void)sig;
  mstls_udp_loop_stop(g_loop);
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
} dtls_tool;

static void dtls_on_done(mstls_udp_endpoint *ep, uint32_t flags,
                         mstls_udp_peer *peer, void *ud) {
  dtls_tool *t = ud;
  gnutls_session_t s = mstls_udp_peer_get_gnutls(peer);
  char a[80];
  (void)ep;
  (void)flags;
  t->done = 1;
  if (!t->quiet) {
    fprintf(stderr, "%s: handshake done, %s, %s\n", dtls_peer_str(peer, a, 80),
            gnutls_protocol_get_name(gnutls_protocol_get_version(s)),
            gnutls_cipher_get_name(gnutls_cipher_get(s)));
  }
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
    fprintf(stderr, "%s: closed (%s)\n", dtls_peer_str(peer, a, 80),
            reason == MSTLS_E_CLOSED ? "closed locally"
            : reason                 ? mstls_strerror(reason)
                                     : "close_notify");
  }
  if (t->exit_after > 0 && t->closed >= t->exit_after) {
    mstls_udp_loop_stop(g_loop);
  }
}

static void dtls_print_stats(mstls_udp_endpoint *ep) {
  mstls_udp_stats st;
  int r;
  mstls_udp_endpoint_get_stats(ep, &st);
  fprintf(stderr,
          "peers %u (half-open %u), handshakes %llu done / %llu failed "
          "(%llu timeouts), reaped %llu, cookies %llu sent / %llu verified / "
          "%llu rejected, datagrams %llu in / %llu out, dropped %llu\n",
          st.peers, st.half_open, (unsigned long long)st.handshakes_done,
          (unsigned long long)st.handshakes_failed,
          (unsigned long long)st.handshake_timeouts,
          (unsigned long long)st.reaped, (unsigned long long)st.cookies_sent,
          (unsigned long long)st.cookies_verified,
          (unsigned long long)st.cookies_rejected,
          (unsigned long long)st.datagrams_in,
          (unsigned long long)st.datagrams_out,
          (unsigned long long)st.dropped_total);
  for (r = 0; r < MSTLS_UDP_DROP_COUNT; r++) {
    if (st.dropped[r]) {
      fprintf(stderr, "  dropped %-24s %llu\n",
              mstls_udp_drop_reason_str((mstls_udp_drop_reason)r),
              (unsigned long long)st.dropped[r]);
    }
  }
}

static void dtls_server_usage(FILE *f) {
  fprintf(f,
          "usage: mstls dtls-server [--listen HOST:PORT] [--echo]\n"
          "         [--cert FILE --key FILE] [--mtu N] [--max-peers N]\n"
          "         [--idle SECONDS] [--exit-after N] [--quiet]\n"
          "  --listen      address to bind (default 0.0.0.0:4433; [::]:PORT"
          " for IPv6)\n"
          "  --echo        send every record back to its peer (default: print"
          " to stdout)\n"
          "  --cert/--key  PEM certificate chain and key (default: a generated"
          " self-signed\n"
          "                certificate for localhost)\n"
          "  --mtu         path MTU (default 1200)\n"
          "  --max-peers   peer limit (default 10000)\n"
          "  --idle        reap peers idle this long (default 180)\n"
          "  --exit-after  exit after N peers closed (0: run until SIGINT)\n");
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
  OPT_HELP
};

static const struct option dtls_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"connect", required_argument, NULL, OPT_CONNECT},
    {"echo", no_argument, NULL, OPT_ECHO},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"ca", required_argument, NULL, OPT_CA},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"mtu", required_argument, NULL, OPT_MTU},
    {"max-peers", required_argument, NULL, OPT_MAXPEERS},
    {"idle", required_argument, NULL, OPT_IDLE},
    {"exit-after", required_argument, NULL, OPT_EXIT},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"server-name", required_argument, NULL, OPT_NAME},
    {"linger", required_argument, NULL, OPT_LINGER},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0}};

int tool_dtls_server(int argc, char **argv) {
  const char *listen_at = "0.0.0.0:4433", *cert = NULL, *key = NULL;
  mstls_credentials *cred = NULL;
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  struct sockaddr_storage ss;
  socklen_t sl;
  dtls_tool t;
  char a[80];
  int opt, rv;

  memset(&t, 0, sizeof(t));
  mstls_udp_settings_default(&s);
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", dtls_opts, NULL)) != -1) {
    switch (opt) {
    case OPT_LISTEN:
      listen_at = optarg;
      break;
    case OPT_ECHO:
      t.echo = 1;
      break;
    case OPT_CERT:
      cert = optarg;
      break;
    case OPT_KEY:
      key = optarg;
      break;
    case OPT_MTU:
      s.mtu = (unsigned)atoi(optarg);
      break;
    case OPT_MAXPEERS:
      s.max_peers = (uint32_t)atol(optarg);
      break;
    case OPT_IDLE:
      s.idle_timeout = (mstls_tstamp)atol(optarg) * MSTLS_SECONDS;
      break;
    case OPT_EXIT:
      t.exit_after = atol(optarg);
      break;
    case OPT_QUIET:
      t.quiet = 1;
      break;
    case OPT_HELP:
      dtls_server_usage(stdout);
      return 0;
    default:
      dtls_server_usage(stderr);
      return 2;
    }
  }
  if (mstls_udp_resolve(listen_at, &ss, &sl) < 0) {
    fprintf(stderr, "mstls: cannot parse --listen %s\n", listen_at);
    return 2;
  }
  if (tool_server_credentials(&cred, cert, key, "localhost") < 0) {
    return 1;
  }
  memset(&cb, 0, sizeof(cb));
  cb.handshake_done = dtls_on_done;
  cb.recv_data = dtls_on_data;
  cb.closed = dtls_on_closed;
  rv = mstls_udp_loop_new(&g_loop, (struct sockaddr *)&ss, sl, &s, &cb, cred,
                          &t);
  if (rv < 0) {
    fprintf(stderr, "mstls: listen on %s: %s (%s)\n", listen_at,
            mstls_strerror(rv), strerror(errno));
    mstls_credentials_del(cred);
    return 1;
  }
  mstls_udp_loop_get_local_addr(g_loop, &ss, &sl);
  dtls_addr_str((struct sockaddr *)&ss, a, sizeof(a));
  fprintf(stderr, "mstls dtls-server: listening on %s\n", a);
  signal(SIGINT, dtls_on_signal);
  signal(SIGTERM, dtls_on_signal);
  rv = mstls_udp_loop_run(g_loop, -1);
  dtls_print_stats(mstls_udp_loop_get_endpoint(g_loop));
  mstls_udp_loop_del(g_loop);
  g_loop = NULL;
  mstls_credentials_del(cred);
  return rv < 0 ? 1 : 0;
}

static void dtls_client_usage(FILE *f) {
  fprintf(f,
          "usage: mstls dtls-client --connect HOST:PORT (--ca FILE |"
          " --insecure)\n"
          "         [--server-name NAME] [--cert FILE --key FILE] [--mtu N]\n"
          "         [--linger MS] [--quiet]\n"
          "  Sends each line of stdin as one record, prints what arrives.\n"
          "  At the end of stdin, waits --linger ms (default 1000) for replies"
          ",\n  then closes with close_notify.\n");
}

int tool_dtls_client(int argc, char **argv) {
  const char *target = NULL, *ca = NULL, *cert = NULL, *key = NULL;
  const char *name = "localhost";
  mstls_credentials *cred = NULL;
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  struct sockaddr_storage ss, bind_ss;
  socklen_t sl, bind_sl;
  mstls_udp_peer *peer = NULL;
  mstls_udp_endpoint *ep;
  mstls_tstamp linger = MSTLS_SECONDS, stop_at = MSTLS_TSTAMP_NEVER;
  int insecure = 0, stdin_open = 1, opt, rv, code = 0;
  dtls_tool t;

  memset(&t, 0, sizeof(t));
  t.quiet = 0;
  mstls_udp_settings_default(&s);
  s.flags = 0;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", dtls_opts, NULL)) != -1) {
    switch (opt) {
    case OPT_CONNECT:
      target = optarg;
      break;
    case OPT_CA:
      ca = optarg;
      break;
    case OPT_INSECURE:
      insecure = 1;
      break;
    case OPT_CERT:
      cert = optarg;
      break;
    case OPT_KEY:
      key = optarg;
      break;
    case OPT_MTU:
      s.mtu = (unsigned)atoi(optarg);
      break;
    case OPT_NAME:
      name = optarg;
      break;
    case OPT_LINGER:
      linger = (mstls_tstamp)atol(optarg) * MSTLS_MILLISECONDS;
      break;
    case OPT_QUIET:
      t.quiet = 1;
      break;
    case OPT_HELP:
      dtls_client_usage(stdout);
      return 0;
    default:
      dtls_client_usage(stderr);
      return 2;
    }
  }
  if (!target || (!ca && !insecure)) {
    dtls_client_usage(stderr);
    return 2;
  }
  if (insecure) {
    s.flags |= MSTLS_UDP_INSECURE;
  }
  if (mstls_udp_resolve(target, &ss, &sl) < 0) {
    fprintf(stderr, "mstls: cannot resolve %s\n", target);
    return 2;
  }
  if (tool_client_credentials(&cred, ca, cert, key) < 0) {
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
  rv = mstls_udp_loop_connect(g_loop, (struct sockaddr *)&ss, sl, name, &peer);
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
      if (now >= stop_at) {
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
  return code;
}
