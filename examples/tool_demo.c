/* mstls demo: a client and a server session in one process. They handshake
 * 16 streams over an in-memory message link (which keeps message
 * boundaries and stream ids, like SCTP), exchange data on each stream, and
 * print the per-stream table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int tool_demo(int argc, char **argv) {
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
  (void)argc;
  (void)argv;

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
