/* mstls demo: a client and a server in one process. By default they run
 * over real SCTP: two usrsctp associations endpoints joined by an in-process
 * AF_CONN link (deterministic, no ports). They handshake 16 streams,
 * exchange data on each stream and print the per-stream table.
 * `mstls demo --memory` runs the same over an in-memory message link
 * without SCTP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mstls/sctp.h>

#include "tool.h"

typedef struct demo_msg {
  struct demo_msg *next;
  uint16_t stream;
  size_t len;
  uint8_t data[];
} demo_msg;

/* One queue per direction: q[0] towards the client, q[1] to the server. */
typedef struct demo_link {
  demo_msg *head[2], *tail[2];
} demo_link;

static int demo_push(demo_link *l, int to, uint16_t stream,
                     const mstls_iovec *iov, size_t iovcnt) {
  size_t len = 0, off = 0, i;
  demo_msg *m;
  for (i = 0; i < iovcnt; i++) {
    len += iov[i].len;
  }
  m = malloc(sizeof(*m) + len);
  if (!m) {
    return MSTLS_E_NOMEM;
  }
  for (i = 0; i < iovcnt; i++) {
    memcpy(m->data + off, iov[i].base, iov[i].len);
    off += iov[i].len;
  }
  m->next = NULL;
  m->stream = stream;
  m->len = len;
  if (l->tail[to]) {
    l->tail[to]->next = m;
  } else {
    l->head[to] = m;
  }
  l->tail[to] = m;
  return 0;
}

static int demo_push_client(mstls_session *s, uint16_t stream,
                            const mstls_iovec *iov, size_t iovcnt, void *ud) {
  (void)s;
  return demo_push(ud, 1, stream, iov, iovcnt);
}

static int demo_push_server(mstls_session *s, uint16_t stream,
                            const mstls_iovec *iov, size_t iovcnt, void *ud) {
  (void)s;
  return demo_push(ud, 0, stream, iov, iovcnt);
}

/* Deliver everything queued; the server echoes what it receives. */
static int demo_pump(demo_link *l, mstls_session *cli, mstls_session *srv) {
  int moved = 0;
  int to;
  for (to = 0; to < 2; to++) {
    while (l->head[to]) {
      demo_msg *m = l->head[to];
      l->head[to] = m->next;
      if (!l->head[to]) {
        l->tail[to] = NULL;
      }
      mstls_session_feed(to ? srv : cli, 0, m->stream, m->data, m->len);
      free(m);
      moved = 1;
    }
  }
  return moved;
}

static void demo_echo(mstls_session *srv) {
  uint8_t buf[4096];
  uint16_t stream;
  long n;
  while ((n = mstls_session_recv_any(srv, &stream, buf, sizeof(buf))) > 0) {
    mstls_stream_send(srv, stream, buf, (size_t)n);
  }
}

static int demo_memory(void) {
  enum { NSTREAMS = 16 };
  demo_link link = {{NULL, NULL}, {NULL, NULL}};
  mstls_credentials *scred = NULL, *ccred = NULL;
  mstls_session *cli = NULL, *srv = NULL;
  mstls_settings cs, ss;
  mstls_callbacks ccb, scb;
  char pem[4096];
  size_t pemlen = sizeof(pem);
  uint32_t i;
  int rv, ok = 1;
  size_t received[NSTREAMS] = {0};

  if ((rv = tool_server_credentials(&scred, NULL, NULL, "demo.mstls")) < 0 ||
      (rv = mstls_credentials_get_cert_pem(scred, pem, &pemlen)) < 0 ||
      (rv = mstls_credentials_new(&ccred, NULL)) < 0 ||
      (rv = mstls_credentials_set_trust_mem(ccred, pem, pemlen - 1)) < 0) {
    fprintf(stderr, "mstls demo: credentials: %s\n", mstls_strerror(rv));
    goto out;
  }
  mstls_settings_default(&cs);
  cs.nstreams = NSTREAMS;
  cs.server_name = "demo.mstls";
  mstls_settings_default(&ss);
  ss.nstreams = NSTREAMS;
  memset(&ccb, 0, sizeof(ccb));
  ccb.push = demo_push_client;
  memset(&scb, 0, sizeof(scb));
  scb.push = demo_push_server;
  if ((rv = mstls_session_new(&cli, MSTLS_ROLE_CLIENT, &cs, &ccb, ccred,
                              &link)) < 0 ||
      (rv = mstls_session_new(&srv, MSTLS_ROLE_SERVER, &ss, &scb, scred,
                              &link)) < 0) {
    fprintf(stderr, "mstls demo: session: %s\n", mstls_strerror(rv));
    goto out;
  }
  printf("mstls demo: %d streams over an in-memory message link, policy "
         "RESUME\n",
         NSTREAMS);
  while ((rv = mstls_session_handshake(cli)) == MSTLS_E_AGAIN) {
    if (!demo_pump(&link, cli, srv)) {
      break;
    }
  }
  if (rv < 0) {
    fprintf(stderr, "mstls demo: handshake: %s\n", mstls_strerror(rv));
    goto out;
  }
  for (i = 0; i < NSTREAMS; i++) {
    char msg[128];
    int len = snprintf(msg, sizeof(msg),
                       "message on stream %u, protected by its own TLS "
                       "session",
                       i);
    if (mstls_stream_send(cli, (uint16_t)i, msg, (size_t)len) != len) {
      ok = 0;
    }
  }
  do {
    demo_echo(srv);
  } while (demo_pump(&link, cli, srv));
  for (i = 0; i < NSTREAMS; i++) {
    char buf[256];
    long n;
    while ((n = mstls_stream_recv(cli, (uint16_t)i, buf, sizeof(buf))) > 0) {
      received[i] += (size_t)n;
    }
    if (received[i] == 0) {
      ok = 0;
    }
  }
  mstls_session_bye(cli);
  mstls_session_bye(srv);
  demo_pump(&link, cli, srv);
  printf("\nserver view:\n");
  tool_print_stream_table(srv);
  printf("\nclient view:\n");
  tool_print_stream_table(cli);
  printf("\n%s: %d streams, each with its own TLS session; data echoed on "
         "every stream\n",
         ok ? "ok" : "FAILED", NSTREAMS);
  rv = ok ? 0 : MSTLS_E_TLS;
out:
  while (demo_pump(&link, NULL, NULL)) {
  }
  mstls_session_del(cli);
  mstls_session_del(srv);
  mstls_credentials_del(ccred);
  mstls_credentials_del(scred);
  return rv < 0 ? 1 : 0;
}

/* The same demo over real SCTP (usrsctp, AF_CONN link in process). */

typedef struct demo_sctp {
  mstls_sctp_link_pair *pair;
  mstls_sctp_listener *lst;
  mstls_sctp_assoc *cli;
  mstls_sctp_assoc *srv;
  int err;
} demo_sctp;

/* Deliver packets, accept, read both associations, advance SCTP timers. */
static void demo_sctp_step(demo_sctp *d, const mstls_settings *ss,
                           mstls_credentials *scred) {
  int rv;

  (void)mstls_sctp_link_pair_pump(d->pair);
  if (d->srv == NULL) {
    rv = mstls_sctp_accept(d->lst, &d->srv, ss, NULL, scred, NULL);
    if (rv < 0 && rv != MSTLS_E_AGAIN)
      d->err = rv;
  }
  if ((rv = mstls_sctp_assoc_process(d->cli)) < 0)
    d->err = rv;
  if (d->srv != NULL && (rv = mstls_sctp_assoc_process(d->srv)) < 0)
    d->err = rv;
  (void)mstls_sctp_link_pair_pump(d->pair);
  mstls_sctp_usrsctp_handle_timers(10);
}

static int demo_over_sctp(void) {
  enum { NSTREAMS = 16, PORT = 5001, MAX_STEPS = 100000 };
  demo_sctp d;
  mstls_credentials *scred = NULL, *ccred = NULL;
  mstls_sctp_config cfg;
  mstls_settings cs, ss;
  mstls_session *cli = NULL, *srv = NULL;
  size_t received[NSTREAMS] = {0};
  char pem[4096];
  size_t pemlen = sizeof(pem);
  uint16_t in = 0, out = 0;
  int rv, i, steps, ok = 1, stack = 0;

  memset(&d, 0, sizeof(d));
  if ((rv = tool_server_credentials(&scred, NULL, NULL, "demo.mstls")) < 0 ||
      (rv = mstls_credentials_get_cert_pem(scred, pem, &pemlen)) < 0 ||
      (rv = mstls_credentials_new(&ccred, NULL)) < 0 ||
      (rv = mstls_credentials_set_trust_mem(ccred, pem, pemlen - 1)) < 0) {
    fprintf(stderr, "mstls demo: credentials: %s\n", mstls_strerror(rv));
    goto out;
  }
  if ((rv = mstls_sctp_usrsctp_init(0, MSTLS_SCTP_USRSCTP_NOTHREADS)) < 0) {
    fprintf(stderr, "mstls demo: usrsctp: %s\n", mstls_strerror(rv));
    goto out;
  }
  stack = 1;
  if ((rv = mstls_sctp_link_pair_new(&d.pair)) < 0)
    goto out;
  mstls_sctp_config_default(&cfg);
  cfg.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  cfg.blocking = 0; /* one thread drives both ends */
  cfg.streams_in = NSTREAMS;
  cfg.streams_out = NSTREAMS;
  mstls_settings_default(&cs);
  cs.server_name = "demo.mstls";
  mstls_settings_default(&ss);
  cfg.link = mstls_sctp_link_pair_get(d.pair, 1);
  if ((rv = mstls_sctp_listen(&d.lst, &cfg, NULL, PORT)) < 0) {
    fprintf(stderr, "mstls demo: listen: %s\n", mstls_strerror(rv));
    goto out;
  }
  cfg.link = mstls_sctp_link_pair_get(d.pair, 0);
  if ((rv = mstls_sctp_connect(&d.cli, &cfg, NULL, PORT, &cs, NULL, ccred,
                               NULL)) < 0) {
    fprintf(stderr, "mstls demo: connect: %s\n", mstls_strerror(rv));
    goto out;
  }
  printf("mstls demo: usrsctp association over an in-process AF_CONN link\n");
  rv = MSTLS_E_AGAIN;
  for (steps = 0; steps < MAX_STEPS && rv == MSTLS_E_AGAIN && d.err == 0;
       steps++) {
    demo_sctp_step(&d, &ss, scred);
    cli = mstls_sctp_assoc_get_session(d.cli);
    srv = mstls_sctp_assoc_get_session(d.srv);
    if (cli != NULL && srv != NULL &&
        mstls_session_handshake(srv) != MSTLS_E_AGAIN)
      rv = mstls_session_handshake(cli);
  }
  if (d.err < 0)
    rv = d.err;
  if (rv < 0) {
    fprintf(stderr, "mstls demo: handshake: %s\n", mstls_strerror(rv));
    goto out;
  }
  (void)mstls_sctp_assoc_get_streams(d.cli, &in, &out);
  printf("SCTP streams negotiated: in %u, out %u -> %u TLS streams, policy "
         "RESUME\n",
         in, out, mstls_session_get_nstreams(cli));
  for (i = 0; i < NSTREAMS; i++) {
    char msg[128];
    int len = snprintf(msg, sizeof(msg),
                       "message on SCTP stream %d, protected by its own TLS "
                       "session",
                       i);
    if (mstls_stream_send(cli, (uint16_t)i, msg, (size_t)len) != len)
      ok = 0;
  }
  for (steps = 0; steps < 1000; steps++) {
    demo_sctp_step(&d, &ss, scred);
    demo_echo(srv);
  }
  for (i = 0; i < NSTREAMS; i++) {
    char buf[256];
    long n;
    while ((n = mstls_stream_recv(cli, (uint16_t)i, buf, sizeof(buf))) > 0)
      received[i] += (size_t)n;
    if (received[i] == 0)
      ok = 0;
  }
  printf("\nserver view:\n");
  tool_print_stream_table(srv);
  printf("\nclient view:\n");
  tool_print_stream_table(cli);
  printf("\n%s: %d SCTP streams, each with its own TLS session; data echoed "
         "on every stream\n",
         ok ? "ok" : "FAILED", NSTREAMS);
  rv = ok ? 0 : MSTLS_E_TLS;
  /* close_notify on every stream, then SCTP SHUTDOWN. */
  (void)mstls_sctp_assoc_shutdown(d.cli);
  for (steps = 0; steps < 200; steps++)
    demo_sctp_step(&d, &ss, scred);
out:
  mstls_sctp_assoc_del(d.cli);
  mstls_sctp_assoc_del(d.srv);
  mstls_sctp_listener_del(d.lst);
  for (steps = 0; d.pair != NULL && steps < 100; steps++) {
    (void)mstls_sctp_link_pair_pump(d.pair);
    mstls_sctp_usrsctp_handle_timers(100);
  }
  mstls_sctp_link_pair_del(d.pair);
  if (stack)
    (void)mstls_sctp_usrsctp_release();
  mstls_credentials_del(ccred);
  mstls_credentials_del(scred);
  return rv < 0 ? 1 : 0;
}

int tool_demo(int argc, char **argv) {
  tool_demo_opts o;
  tool_err err;
  int rv = tool_demo_parse(argc, argv, &o, &err);

  if (rv == 1) {
    printf("usage: mstls demo [--memory]\n"
           "  handshake 16 streams between a client and a server in one\n"
           "  process (over usrsctp, or an in-memory link with --memory),\n"
           "  echo data on each and print the per-stream table\n");
    return 0;
  }
  if (rv < 0) {
    fprintf(stderr, "mstls demo: %s\nusage: mstls demo [--memory]\n", err.msg);
    return 2;
  }
  return o.memory ? demo_memory() : demo_over_sctp();
}
