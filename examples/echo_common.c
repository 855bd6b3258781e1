/* The echo client and server of epoll_echo and uv_echo, without the event
 * loop: see echo_common.h. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "echo_common.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Bytes the server reads from a stream before echoing them. */
#define ECHO_BUF (64u << 10)
/* The client's data repeats with this period; sends are up to this long. */
#define ECHO_PERIOD (1u << 20)
/* Bytes the client lets each stream have in flight (sent, echo not yet
 * back): ECHO_WINDOW, or less with many streams so that all of them
 * together stay within ECHO_WINDOW_ALL. mstls_sctp_assoc_process() hands
 * the session every message the socket has, and a stream whose unread
 * data would pass settings.stream_rx_cap (default 1 MiB), or all streams'
 * settings.session_rx_budget (default 64 MiB), fails with
 * MSTLS_E_BUFFER_FULL: a client that sends without limit could make a
 * busy server's streams fail. Keeping less than that in flight is this
 * protocol's flow control. */
#define ECHO_WINDOW ((uint64_t)256 << 10)
#define ECHO_WINDOW_ALL ((uint64_t)32 << 20)

/* Command line ------------------------------------------------------------ */

static void echo_usage(FILE *f, const char *prog) {
  fprintf(
      f,
      "usage: %s server PORT [options]\n"
      "       %s client PORT [STREAMS] [BYTES] [options]\n"
      "The server echoes every message on its stream, for any number of\n"
      "associations. The client opens STREAMS streams (1..%u, default %u),\n"
      "sends BYTES bytes (1..%llu, default %llu) on each, checks the echo\n"
      "and exits 0 only if every byte came back.\n"
      "  --backend usrsctp|kernel  SCTP stack (default: kernel if available)\n"
      "  --profile failover|default  SCTP failure detection: failover (a\n"
      "                dead peer is noticed in seconds; the default) or the\n"
      "                stack's own timers (minutes, patient with a peer that\n"
      "                is slow to answer)\n"
      "  --host ADDR   client: server address (default 127.0.0.1);\n"
      "                server: bind address (default: any)\n"
      "  --name NAME   server name in the certificate (default localhost)\n"
      "  --cert F --key F  server: certificate chain and key (default: a\n"
      "                self-signed certificate made in memory)\n"
      "  --cert-out F  server: write its certificate (PEM) to F for clients\n"
      "  --ca F        client: trust the CA certificates of F (default: the\n"
      "                system's trust store)\n"
      "  --insecure    client: do NOT verify the server (testing only)\n"
      "  --help        this text\n"
      "usrsctp: the server's UDP port is PORT; the client's is picked by the\n"
      "kernel.\n",
      prog, prog, ECHO_MAX_STREAMS, ECHO_DEFAULT_STREAMS,
      (unsigned long long)ECHO_MAX_BYTES,
      (unsigned long long)ECHO_DEFAULT_BYTES);
}

/* Report a bad argument and the usage. @return ECHO_EXIT_USAGE. */
static int echo_bad(const echo_opts *o, const char *what, const char *arg) {
  fprintf(stderr, "%s: %s%s%s%s\n", o->prog, what, arg ? " \"" : "",
          arg ? arg : "", arg ? "\"" : "");
  echo_usage(stderr, o->prog);
  return ECHO_EXIT_USAGE;
}

/* A decimal number in [min, max], nothing else. */
static int echo_number(const char *s, uint64_t min, uint64_t max,
                       uint64_t *out) {
  char *end;
  unsigned long long v;

  if (s[0] < '0' || s[0] > '9')
    return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

int echo_parse(echo_opts *o, int argc, char **argv) {
  const char *pos[4];
  int npos = 0, i;
  uint64_t v;

  memset(o, 0, sizeof(*o));
  o->prog = argc > 0 ? argv[0] : "echo";
  o->streams = ECHO_DEFAULT_STREAMS;
  o->bytes = ECHO_DEFAULT_BYTES;
  o->name = "localhost";
  o->backend = MSTLS_SCTP_BACKEND_DEFAULT;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = NULL;

    if (strcmp(a, "--help") == 0) {
      echo_usage(stdout, o->prog);
      return -1;
    }
    if (strcmp(a, "--insecure") == 0) {
      o->insecure = 1;
      continue;
    }
    if (strncmp(a, "--", 2) != 0) {
      if (npos == 4)
        return echo_bad(o, "too many arguments at", a);
      pos[npos++] = a;
      continue;
    }
    if (strcmp(a, "--host") == 0)
      slot = &o->host;
    else if (strcmp(a, "--name") == 0)
      slot = &o->name;
    else if (strcmp(a, "--cert") == 0)
      slot = &o->cert;
    else if (strcmp(a, "--key") == 0)
      slot = &o->key;
    else if (strcmp(a, "--ca") == 0)
      slot = &o->ca;
    else if (strcmp(a, "--cert-out") == 0)
      slot = &o->cert_out;
    else if (strcmp(a, "--backend") != 0 && strcmp(a, "--profile") != 0)
      return echo_bad(o, "unknown option", a);
    if (i + 1 == argc)
      return echo_bad(o, "missing value after", a);
    if (slot != NULL) {
      *slot = argv[++i];
      continue;
    }
    if (strcmp(a, "--profile") == 0) {
      a = argv[++i];
      if (strcmp(a, "failover") == 0)
        o->stack_timers = 0;
      else if (strcmp(a, "default") == 0)
        o->stack_timers = 1;
      else
        return echo_bad(o, "--profile must be failover or default, not", a);
      continue;
    }
    a = argv[++i];
    if (strcmp(a, "usrsctp") == 0)
      o->backend = MSTLS_SCTP_BACKEND_USRSCTP;
    else if (strcmp(a, "kernel") == 0)
      o->backend = MSTLS_SCTP_BACKEND_KERNEL;
    else
      return echo_bad(o, "--backend must be usrsctp or kernel, not", a);
  }

  if (npos == 0)
    return echo_bad(o, "say server or client", NULL);
  if (strcmp(pos[0], "server") == 0)
    o->server = 1;
  else if (strcmp(pos[0], "client") != 0)
    return echo_bad(o, "the mode is server or client, not", pos[0]);
  if (npos < 2)
    return echo_bad(o, "PORT is missing", NULL);
  if (echo_number(pos[1], 1, 65535, &v) != 0)
    return echo_bad(o, "PORT must be a number in 1..65535, not", pos[1]);
  o->port = (uint16_t)v;
  if (o->server && npos > 2)
    return echo_bad(o, "the server takes no STREAMS or BYTES:", pos[2]);
  if (npos > 2) {
    if (echo_number(pos[2], 1, ECHO_MAX_STREAMS, &v) != 0)
      return echo_bad(o, "STREAMS must be a number in 1..1024, not", pos[2]);
    o->streams = (uint16_t)v;
  }
  if (npos > 3) {
    if (echo_number(pos[3], 1, ECHO_MAX_BYTES, &v) != 0)
      return echo_bad(o, "BYTES must be a number in 1..4294967296, not",
                      pos[3]);
    o->bytes = v;
  }
  if (o->server && (o->ca != NULL || o->insecure))
    return echo_bad(o, "--ca and --insecure are client options", NULL);
  if (!o->server && (o->cert != NULL || o->key != NULL || o->cert_out))
    return echo_bad(o, "--cert, --key and --cert-out are server options", NULL);
  if ((o->cert == NULL) != (o->key == NULL))
    return echo_bad(o, "--cert and --key go together", NULL);
  if (o->ca != NULL && o->insecure)
    return echo_bad(o, "--ca and --insecure exclude each other", NULL);
  if (!o->server && o->host == NULL)
    o->host = "127.0.0.1";
  if (o->backend == MSTLS_SCTP_BACKEND_DEFAULT)
    o->backend = mstls_sctp_kernel_available() ? MSTLS_SCTP_BACKEND_KERNEL
                                               : MSTLS_SCTP_BACKEND_USRSCTP;
  return 0;
}

/* Stack and credentials ---------------------------------------------------- */

static int echo_write_cert(const echo_opts *o, mstls_credentials *cred) {
  char pem[8192];
  size_t len = sizeof(pem);
  FILE *f;
  int rv = mstls_credentials_get_cert_pem(cred, pem, &len);

  if (rv != 0) {
    fprintf(stderr, "%s: certificate: %s\n", o->prog, mstls_strerror(rv));
    return -1;
  }
  f = fopen(o->cert_out, "w");
  if (f == NULL || fputs(pem, f) == EOF || fclose(f) != 0) {
    fprintf(stderr, "%s: --cert-out %s: %s\n", o->prog, o->cert_out,
            strerror(errno));
    return -1;
  }
  return 0;
}

static int echo_credentials(const echo_opts *o, mstls_credentials **pcred) {
  mstls_credentials *cred = NULL;
  const char *what = "credentials";
  int rv = mstls_credentials_new(&cred, NULL);

  if (rv == 0 && o->server && o->cert != NULL) {
    what = o->cert;
    rv = mstls_credentials_set_key_file(cred, o->cert, o->key);
  } else if (rv == 0 && o->server) {
    what = "self-signed certificate";
    rv = mstls_credentials_set_self_signed(cred, o->name);
  } else if (rv == 0 && o->ca != NULL) {
    what = o->ca;
    rv = mstls_credentials_set_trust_file(cred, o->ca);
  } else if (rv == 0 && !o->insecure) {
    what = "system trust store";
    rv = mstls_credentials_set_system_trust(cred);
  }
  if (rv != 0) {
    fprintf(stderr, "%s: %s: %s\n", o->prog, what, mstls_strerror(rv));
    mstls_credentials_del(cred);
    return -1;
  }
  if (o->cert_out != NULL && echo_write_cert(o, cred) != 0) {
    mstls_credentials_del(cred);
    return -1;
  }
  *pcred = cred;
  return 0;
}

int echo_setup(const echo_opts *o, mstls_credentials **pcred) {
  int rv;

  if (o->backend == MSTLS_SCTP_BACKEND_KERNEL &&
      !mstls_sctp_kernel_available()) {
    fprintf(stderr, "%s: this kernel has no SCTP; try --backend usrsctp\n",
            o->prog);
    return -1;
  }
  if (echo_credentials(o, pcred) != 0)
    return -1;
  if (o->backend == MSTLS_SCTP_BACKEND_USRSCTP) {
    /* One usrsctp stack per process, over UDP (RFC 6951). The server's UDP
     * port is its SCTP port, so a client knows where to send; clients take
     * any free UDP port. */
    rv = o->server ? mstls_sctp_usrsctp_init(o->port, 0)
                   : mstls_sctp_usrsctp_init(0, MSTLS_SCTP_USRSCTP_ANY_PORT);
    if (rv != 0) {
      fprintf(stderr, "%s: usrsctp on UDP port %u: %s\n", o->prog,
              o->server ? o->port : 0, mstls_strerror(rv));
      mstls_credentials_del(*pcred);
      return -1;
    }
  }
  return 0;
}

void echo_teardown(const echo_opts *o, mstls_credentials *cred) {
  mstls_credentials_del(cred);
  if (o->backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
}

void echo_sctp_config(const echo_opts *o, mstls_sctp_config *cfg) {
  mstls_sctp_config_default(cfg);
  cfg->backend = o->backend;
  cfg->blocking = 0; /* everything is driven from the event loop */
  cfg->streams_in = o->server ? ECHO_MAX_STREAMS : o->streams;
  cfg->streams_out = cfg->streams_in;
  /* A dead peer is noticed in seconds, and a connect that nobody answers
   * gives up after about 2.4 s instead of minutes (unless --profile
   * default: a peer starved of CPU for seconds is not taken for dead). */
  if (!o->stack_timers)
    mstls_sctp_config_failover(cfg);
  if (!o->server)
    cfg->remote_udp_port = o->port; /* usrsctp: the server's UDP port */
}

/* Time --------------------------------------------------------------------- */

/* The sessions' clock: CLOCK_MONOTONIC in nanoseconds, as mstls uses by
 * default. */
static mstls_tstamp echo_now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (mstls_tstamp)ts.tv_sec * MSTLS_SECONDS + (mstls_tstamp)ts.tv_nsec;
}

int echo_timeout_ms(mstls_session *s) {
  mstls_tstamp e, now;

  if (s == NULL)
    return -1;
  e = mstls_session_get_expiry(s);
  if (e == MSTLS_TSTAMP_NEVER)
    return -1;
  now = echo_now();
  if (e <= now)
    return 0;
  e = (e - now + MSTLS_MILLISECONDS - 1) / MSTLS_MILLISECONDS;
  return e > 3600000 ? 3600000 : (int)e;
}

/* Run the session's timers if one is due (handshake timeouts, the wait for
 * a TLS 1.3 ticket). @return 0 or a fatal session error. */
static int echo_timers(mstls_session *s) {
  mstls_tstamp now = echo_now();

  if (mstls_session_get_expiry(s) > now)
    return 0;
  return mstls_session_handle_expiry(s, now);
}

/* One line of what an association holds now, to explain one that stopped
 * moving: records kept for room in the socket, bytes read and not taken,
 * DATA chunks the peer has not acknowledged, messages set aside. */
static void echo_assoc_report(FILE *f, const char *who,
                              mstls_sctp_assoc *assoc) {
  mstls_session *s = mstls_sctp_assoc_get_session(assoc);
  mstls_session_stats ss;
  mstls_sctp_stats st;
  uint32_t unacked = 0;

  memset(&ss, 0, sizeof(ss));
  memset(&st, 0, sizeof(st));
  if (s != NULL)
    (void)mstls_session_get_stats(s, &ss);
  (void)mstls_sctp_assoc_get_stats(assoc, &st);
  (void)mstls_sctp_assoc_get_outstanding(assoc, &unacked);
  fprintf(f,
          "%s: %u streams kept a record (%llu kept so far), %zu bytes "
          "read and not taken, %u DATA chunks unacknowledged, messages "
          "%llu in and %llu out, %llu set aside\n",
          who, ss.streams_kept, (unsigned long long)ss.records_kept,
          ss.rx_buffered, unacked, (unsigned long long)st.msgs_in,
          (unsigned long long)st.msgs_out, (unsigned long long)st.parked);
}

/* Server ------------------------------------------------------------------- */

echo_conn *echo_conn_accept(mstls_sctp_listener *l, mstls_credentials *cred,
                            int *err) {
  static unsigned next_id;
  mstls_sctp_assoc *a = NULL;
  mstls_settings st;
  echo_conn *c;

  mstls_settings_default(&st); /* nstreams: what the association has */
  *err = mstls_sctp_accept(l, &a, &st, NULL, cred, NULL);
  if (*err != 0) {
    mstls_sctp_assoc_del(a); /* may be set on a failed start */
    return NULL;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL) {
    *err = MSTLS_E_NOMEM;
    mstls_sctp_assoc_abort(a);
    mstls_sctp_assoc_del(a);
    return NULL;
  }
  c->id = ++next_id;
  c->assoc = a;
  printf("association %u: accepted\n", c->id);
  fflush(stdout);
  return c;
}

/* Stream @p k failed: report it once; the other streams go on (RFC 3436
 * streams are independent). */
static void echo_stream_failed(echo_conn *c, uint16_t k, long err) {
  fprintf(stderr, "association %u: stream %u: %s\n", c->id, k,
          mstls_strerror((int)err));
  c->pending[k].ended = 1;
}

/* Echo what stream @p k has, until it has nothing more or the socket is
 * full. Messages are read into one shared buffer and sent back at once;
 * only what the socket did not take is kept, and nothing more is read
 * from the stream until it is gone (so a client that does not read its
 * echo is not buffered without limit). */
static void echo_stream(echo_conn *c, mstls_session *s, uint16_t k) {
  static uint8_t buf[ECHO_BUF];
  echo_stream_buf *b = &c->pending[k];
  long n, sent;

  while (!b->ended) {
    if (b->off < b->len) {
      /* Like send(2): takes what the socket has room for. */
      sent = mstls_stream_send(s, k, b->data + b->off, b->len - b->off);
      if (sent == MSTLS_E_AGAIN)
        return; /* the rest goes once the client has read */
      if (sent < 0) {
        echo_stream_failed(c, k, sent);
        return;
      }
      b->off += (size_t)sent;
      c->echoed += (unsigned long long)sent;
      continue;
    }
    n = mstls_stream_recv(s, k, buf, sizeof(buf));
    if (n == MSTLS_E_AGAIN)
      return;
    if (n == 0) {
      b->ended = 1; /* the client closed it with close_notify */
      return;
    }
    if (n < 0) {
      echo_stream_failed(c, k, n);
      return;
    }
    sent = mstls_stream_send(s, k, buf, (size_t)n);
    if (sent < 0 && sent != MSTLS_E_AGAIN) {
      echo_stream_failed(c, k, sent);
      return;
    }
    sent = sent < 0 ? 0 : sent;
    c->echoed += (unsigned long long)sent;
    if (sent < n) {
      /* Keep the rest for later. */
      free(b->data);
      b->data = malloc((size_t)(n - sent));
      if (b->data == NULL) {
        echo_stream_failed(c, k, MSTLS_E_NOMEM);
        return;
      }
      memcpy(b->data, buf + sent, (size_t)(n - sent));
      b->off = 0;
      b->len = (size_t)(n - sent);
    }
  }
}

int echo_conn_run(echo_conn *c) {
  mstls_session *s;
  uint32_t k;
  int rc;

  /* Read everything that arrived, finish the association's set-up, push
   * records that met a full socket. MSTLS_E_CLOSED: ended in order. */
  rc = mstls_sctp_assoc_process(c->assoc);
  if (rc != 0)
    return rc;
  s = mstls_sctp_assoc_get_session(c->assoc);
  if (s == NULL)
    return 0; /* still being set up */
  if (c->pending == NULL) {
    c->nstreams = mstls_session_get_nstreams(s);
    c->pending = calloc(c->nstreams, sizeof(*c->pending));
    if (c->pending == NULL)
      return MSTLS_E_NOMEM;
  }
  rc = echo_timers(s);
  if (rc != 0)
    return rc;
  if (!c->handshaken) {
    rc = mstls_session_handshake(s); /* drives it; 0 once all are up */
    if (rc != 0 && rc != MSTLS_E_AGAIN)
      return rc;
    if (rc == 0) {
      c->handshaken = 1;
      printf("association %u: %u streams up\n", c->id, c->nstreams);
      fflush(stdout);
    }
  }
  for (k = 0; k < c->nstreams; k++)
    echo_stream(c, s, (uint16_t)k);
  rc = mstls_session_flush(s);
  return rc == MSTLS_E_AGAIN ? 0 : rc;
}

int echo_conn_fd(echo_conn *c) {
  return mstls_sctp_assoc_get_fd(c->assoc);
}

int echo_conn_want_write(echo_conn *c) {
  return (mstls_sctp_assoc_get_events(c->assoc) & POLLOUT) != 0;
}

int echo_conn_timeout_ms(echo_conn *c) {
  return echo_timeout_ms(mstls_sctp_assoc_get_session(c->assoc));
}

/* Whether the client closed every stream with close_notify (the server
 * sends none of its own, so a closed stream was closed by the client). */
static int echo_conn_all_closed(echo_conn *c) {
  mstls_session *s = mstls_sctp_assoc_get_session(c->assoc);
  uint32_t k;

  for (k = 0; k < c->nstreams; k++)
    if (mstls_stream_get_state(s, (uint16_t)k) != MSTLS_STREAM_CLOSED)
      return 0;
  return c->nstreams > 0;
}

void echo_conn_end(echo_conn *c, int rc) {
  uint32_t k;

  if (rc == MSTLS_E_CLOSED)
    printf("association %u: closed, %llu bytes echoed\n", c->id, c->echoed);
  else if (echo_conn_all_closed(c))
    /* The client had closed every stream and started the SHUTDOWN, and
     * SCTP had delivered all our data before answering it; only the last
     * packet (SHUTDOWN COMPLETE) went missing, from a client that had
     * already exited. The exchange itself was complete. */
    printf("association %u: closed, %llu bytes echoed (then: %s)\n", c->id,
           c->echoed, mstls_strerror(rc));
  else {
    char who[32];

    printf("association %u: dropped: %s, %llu bytes echoed\n", c->id,
           mstls_strerror(rc), c->echoed);
    snprintf(who, sizeof(who), "association %u", c->id);
    echo_assoc_report(stdout, who, c->assoc);
  }
  fflush(stdout);
  mstls_sctp_assoc_del(c->assoc);
  for (k = 0; k < c->nstreams; k++)
    free(c->pending[k].data);
  free(c->pending);
  free(c);
}

/* Client ------------------------------------------------------------------- */

int echo_client_start(echo_client *cl, const echo_opts *o,
                      mstls_credentials *cred) {
  mstls_sctp_config cfg;
  mstls_settings st;
  size_t i;
  int rv;

  memset(cl, 0, sizeof(*cl));
  cl->o = o;
  cl->sent = calloc(o->streams, sizeof(*cl->sent));
  cl->echoed = calloc(o->streams, sizeof(*cl->echoed));
  cl->pattern = malloc(ECHO_PERIOD + 256);
  cl->rbuf = malloc(ECHO_BUF);
  if (cl->sent == NULL || cl->echoed == NULL || cl->pattern == NULL ||
      cl->rbuf == NULL) {
    fprintf(stderr, "%s: out of memory\n", o->prog);
    return -1;
  }
  /* Stream k sends pattern[k % 256 + i % ECHO_PERIOD] as its byte i, so
   * an echo that came back on the wrong stream does not match. */
  for (i = 0; i < ECHO_PERIOD + 256; i++)
    cl->pattern[i] = (uint8_t)((i * 2654435761u) >> 11);
  cl->window = ECHO_WINDOW_ALL / o->streams;
  if (cl->window > ECHO_WINDOW)
    cl->window = ECHO_WINDOW;

  echo_sctp_config(o, &cfg);
  mstls_settings_default(&st);
  st.server_name = o->name;
  if (o->insecure)
    st.flags |= MSTLS_SETTINGS_INSECURE; /* testing only */
  /* Non-blocking: returns at once; the association comes up (or fails)
   * in mstls_sctp_assoc_process(). */
  rv = mstls_sctp_connect(&cl->assoc, &cfg, o->host, o->port, &st, NULL, cred,
                          NULL);
  if (rv != 0) {
    fprintf(stderr, "%s: connect to %s port %u: %s\n", o->prog, o->host,
            o->port, mstls_strerror(rv));
    return -1;
  }
  return 0;
}

/* The part of stream @p k's data at offset @p off: at most @p max bytes
 * from there, all in one piece of the pattern. */
static const uint8_t *echo_data(echo_client *cl, uint16_t k, uint64_t off,
                                uint64_t *max) {
  size_t at = (size_t)(off % ECHO_PERIOD);

  if (*max > ECHO_PERIOD - at)
    *max = ECHO_PERIOD - at;
  return cl->pattern + k % 256u + at;
}

/* Send what every stream still has, in large pieces, until the socket is
 * full or cl->window bytes are in flight. @return 0 or -1. */
static int echo_client_send(echo_client *cl, mstls_session *s) {
  uint32_t k;

  for (k = 0; k < cl->o->streams; k++) {
    while (cl->sent[k] < cl->o->bytes &&
           cl->sent[k] < cl->echoed[k] + cl->window) {
      uint64_t len = cl->o->bytes - cl->sent[k];
      if (len > cl->echoed[k] + cl->window - cl->sent[k])
        len = cl->echoed[k] + cl->window - cl->sent[k];
      const uint8_t *d = echo_data(cl, (uint16_t)k, cl->sent[k], &len);
      /* Any size: it takes what the socket has room for, like send(2). */
      long n = mstls_stream_send(s, (uint16_t)k, d, (size_t)len);

      if (n == MSTLS_E_AGAIN)
        break;
      if (n < 0) {
        fprintf(stderr, "%s: send on stream %u: %s\n", cl->o->prog, k,
                mstls_strerror((int)n));
        return -1;
      }
      cl->sent[k] += (uint64_t)n;
      cl->moved += (uint64_t)n;
    }
  }
  return 0;
}

/* Check @p n echoed bytes of stream @p k against what it sent. */
static int echo_client_check(echo_client *cl, uint16_t k, const uint8_t *p,
                             size_t n) {
  while (n > 0) {
    uint64_t len = n;
    const uint8_t *want = echo_data(cl, k, cl->echoed[k], &len);

    if (memcmp(p, want, (size_t)len) != 0) {
      fprintf(stderr, "%s: stream %u: echo differs near byte %llu\n",
              cl->o->prog, k, (unsigned long long)cl->echoed[k]);
      return -1;
    }
    cl->echoed[k] += len;
    p += len;
    n -= (size_t)len;
  }
  return 0;
}

/* Read every echo there is and check it. @return 0 or -1. */
static int echo_client_recv(echo_client *cl, mstls_session *s) {
  for (;;) {
    uint16_t k = 0;
    long n = mstls_session_recv_any(s, &k, cl->rbuf, ECHO_BUF);

    if (n == MSTLS_E_AGAIN)
      return 0;
    if (n <= 0) {
      fprintf(stderr, "%s: stream %u: %s\n", cl->o->prog, k,
              n == 0 ? "closed by the server before the whole echo"
                     : mstls_strerror((int)n));
      return -1;
    }
    if (k >= cl->o->streams || cl->echoed[k] + (uint64_t)n > cl->o->bytes) {
      fprintf(stderr, "%s: stream %u: more bytes than were sent\n", cl->o->prog,
              k);
      return -1;
    }
    if (echo_client_check(cl, k, cl->rbuf, (size_t)n) != 0)
      return -1;
    cl->moved += (uint64_t)n;
    if (cl->echoed[k] == cl->o->bytes)
      cl->done++;
  }
}

/* The association ended with @p rc (not in order, or too early). */
static int echo_client_fail(echo_client *cl, int rc) {
  const echo_opts *o = cl->o;

  if (cl->stage == ECHO_CONNECTING)
    fprintf(stderr,
            "%s: no SCTP association with %s port %u: %s (is the server "
            "running?)\n",
            o->prog, o->host, o->port, mstls_strerror(rc));
  else if (rc == MSTLS_E_CLOSED)
    fprintf(stderr, "%s: the server closed the association early\n", o->prog);
  else
    fprintf(stderr, "%s: association failed: %s\n", o->prog,
            mstls_strerror(rc));
  return -1;
}

int echo_client_run(echo_client *cl) {
  const echo_opts *o = cl->o;
  mstls_session *s;
  int rc;

  if (cl->stage == ECHO_DONE)
    return 1;
  rc = mstls_sctp_assoc_process(cl->assoc);
  if (rc == MSTLS_E_CLOSED && cl->stage == ECHO_CLOSING) {
    cl->stage = ECHO_DONE;
    printf("%s: %u streams x %llu bytes echoed and verified, closed in "
           "order\n",
           o->prog, o->streams, (unsigned long long)o->bytes);
    return 1;
  }
  if (rc != 0)
    return echo_client_fail(cl, rc);
  s = mstls_sctp_assoc_get_session(cl->assoc);
  if (s == NULL)
    return 0; /* the association is not up yet */
  if (cl->stage == ECHO_CONNECTING) {
    if (mstls_session_get_nstreams(s) != o->streams) {
      fprintf(stderr, "%s: the server granted %u of %u streams\n", o->prog,
              mstls_session_get_nstreams(s), o->streams);
      return -1;
    }
    cl->stage = ECHO_HANDSHAKING;
  }
  rc = echo_timers(s);
  if (rc != 0)
    return echo_client_fail(cl, rc);

  if (cl->stage == ECHO_HANDSHAKING) {
    rc = mstls_session_handshake(s);
    if (rc != 0 && rc != MSTLS_E_AGAIN) {
      fprintf(stderr, "%s: TLS handshake: %s\n", o->prog, mstls_strerror(rc));
      return -1;
    }
    if (rc == 0)
      cl->stage = ECHO_TRANSFER;
  }
  if (cl->stage == ECHO_TRANSFER) {
    /* Until nothing moves: an echo that arrived opens the window for more
     * sends, and no event would come for it. */
    uint64_t moved;
    do {
      moved = cl->moved;
      if (echo_client_send(cl, s) != 0 || echo_client_recv(cl, s) != 0)
        return -1;
    } while (cl->moved != moved);
    if (cl->done == o->streams)
      cl->stage = ECHO_CLOSING;
  }
  if (cl->stage == ECHO_CLOSING) {
    /* close_notify on every stream, then the SCTP SHUTDOWN; the end comes
     * as MSTLS_E_CLOSED from mstls_sctp_assoc_process(). */
    if (!cl->shutdown_sent) {
      rc = mstls_sctp_assoc_shutdown(cl->assoc);
      if (rc != 0 && rc != MSTLS_E_AGAIN)
        return echo_client_fail(cl, rc);
      cl->shutdown_sent = rc == 0;
    }
    return 0;
  }
  rc = mstls_session_flush(s);
  if (rc != 0 && rc != MSTLS_E_AGAIN)
    return echo_client_fail(cl, rc);
  return 0;
}

void echo_client_report(echo_client *cl) {
  static const char *const stage[] = {"connecting", "handshaking",
                                      "transferring", "closing", "done"};
  uint32_t k;

  fprintf(stderr, "%s: stopped while %s\n", cl->o->prog, stage[cl->stage]);
  if (cl->stage >= ECHO_TRANSFER)
    for (k = 0; k < cl->o->streams; k++)
      fprintf(stderr, "%s: stream %u: %llu bytes sent, %llu echoed\n",
              cl->o->prog, k, (unsigned long long)cl->sent[k],
              (unsigned long long)cl->echoed[k]);
  echo_assoc_report(stderr, cl->o->prog, cl->assoc);
}

int echo_client_fd(echo_client *cl) {
  return mstls_sctp_assoc_get_fd(cl->assoc);
}

int echo_client_want_write(echo_client *cl) {
  return (mstls_sctp_assoc_get_events(cl->assoc) & POLLOUT) != 0;
}

int echo_client_timeout_ms(echo_client *cl) {
  return echo_timeout_ms(mstls_sctp_assoc_get_session(cl->assoc));
}

void echo_client_free(echo_client *cl) {
  mstls_sctp_assoc_del(cl->assoc);
  free(cl->sent);
  free(cl->echoed);
  free(cl->pattern);
  free(cl->rbuf);
}
