/* session_example: a client and a server session in one process, joined by
 * a small in-memory message queue. Four streams: handshake, one message
 * each way on every stream, close_notify. Public API only, non-blocking
 * (sans-IO) mode: the program moves the messages itself.
 *
 * Build: part of the mstls build (target session_example), or
 *   cc session_example.c $(pkg-config --cflags --libs mstls gnutls)
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mstls/mstls.h>

#define NSTREAMS 4
#define SERVER_NAME "example.test"

/* One direction of the "transport": messages with their stream id, in
 * order. A real program would use an SCTP socket (sendmsg/recvmsg with the
 * stream id in the ancillary data) instead. */
typedef struct msg {
  struct msg *next;
  uint16_t stream;
  size_t len;
  uint8_t data[];
} msg;

typedef struct queue {
  msg *head, *tail;
} queue;

/* Push callback: the session hands over one whole message (one TLS record)
 * for @p stream. It is copied, so the session may reuse its buffers. */
static int on_push(mstls_session *session, uint16_t stream,
                   const mstls_iovec *iov, size_t iovcnt, void *user_data) {
  queue *q = user_data; /* the queue towards the peer */
  size_t len = 0, off = 0, i;
  msg *m;
  (void)session;
  for (i = 0; i < iovcnt; i++) {
    len += iov[i].len;
  }
  m = malloc(sizeof(*m) + len);
  if (!m) {
    return MSTLS_E_NOMEM; /* any negative value: transport failure */
  }
  for (i = 0; i < iovcnt; i++) {
    memcpy(m->data + off, iov[i].base, iov[i].len);
    off += iov[i].len;
  }
  m->next = NULL;
  m->stream = stream;
  m->len = len;
  if (q->tail) {
    q->tail->next = m;
  } else {
    q->head = m;
  }
  q->tail = m;
  return 0;
}

static msg *queue_pop(queue *q) {
  msg *m = q->head;
  if (m) {
    q->head = m->next;
    if (!q->head) {
      q->tail = NULL;
    }
  }
  return m;
}

static void queue_clear(queue *q) {
  msg *m;
  while ((m = queue_pop(q))) {
    free(m);
  }
}

static mstls_tstamp now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (mstls_tstamp)ts.tv_sec * MSTLS_SECONDS + (mstls_tstamp)ts.tv_nsec;
}

/* Hand one message to a session. A stream error concerns that stream
 * only; a fatal error ends the session. */
static int deliver(mstls_session *to, msg *m, const char *who) {
  uint16_t stream = m->stream;
  int rv = mstls_session_feed(to, 0, stream, m->data, m->len);
  free(m);
  if (rv < 0) {
    fprintf(stderr, "%s: stream %u: %s\n", who, stream, mstls_strerror(rv));
    if (mstls_err_is_fatal(rv)) {
      return rv;
    }
  }
  return 0;
}

/* Move messages both ways until nothing is in flight, running the timers
 * of both sessions as an event loop would. */
static int pump(mstls_session *client, queue *to_client, mstls_session *server,
                queue *to_server) {
  for (;;) {
    msg *m;
    mstls_tstamp now = now_ns();
    int rv;
    if (mstls_session_get_expiry(client) <= now &&
        (rv = mstls_session_handle_expiry(client, now)) < 0) {
      return rv;
    }
    if (mstls_session_get_expiry(server) <= now &&
        (rv = mstls_session_handle_expiry(server, now)) < 0) {
      return rv;
    }
    if ((m = queue_pop(to_server))) {
      if ((rv = deliver(server, m, "server")) < 0) {
        return rv;
      }
    } else if ((m = queue_pop(to_client))) {
      if ((rv = deliver(client, m, "client")) < 0) {
        return rv;
      }
    } else {
      return 0;
    }
  }
}

static int fail(const char *what, long rv) {
  fprintf(stderr, "%s: %s\n", what, mstls_strerror((int)rv));
  return 1;
}

int main(void) {
  mstls_credentials *scred = NULL, *ccred = NULL;
  mstls_session *client = NULL, *server = NULL;
  mstls_settings cs, ss;
  mstls_callbacks cb;
  queue to_client = {NULL, NULL}, to_server = {NULL, NULL};
  char pem[4096], buf[256];
  size_t pemlen = sizeof(pem);
  int rv, result = 1;
  uint16_t i;

  /* Server: a throw-away self-signed certificate; the client trusts
   * exactly that certificate. Real deployments load files instead
   * (mstls_credentials_set_key_file, mstls_credentials_set_trust_file). */
  if (mstls_credentials_new(&scred, NULL) < 0 ||
      mstls_credentials_set_self_signed(scred, SERVER_NAME) < 0 ||
      mstls_credentials_get_cert_pem(scred, pem, &pemlen) < 0 ||
      mstls_credentials_new(&ccred, NULL) < 0 ||
      mstls_credentials_set_trust_mem(ccred, pem, pemlen - 1) < 0) {
    fprintf(stderr, "credentials failed\n");
    goto out;
  }

  mstls_settings_default(&cs);
  cs.nstreams = NSTREAMS;
  cs.server_name = SERVER_NAME; /* SNI and certificate verification */
  cs.policy = MSTLS_POLICY_RESUME;
  mstls_settings_default(&ss);
  ss.nstreams = NSTREAMS;

  memset(&cb, 0, sizeof(cb));
  cb.push = on_push;
  rv = mstls_session_new(&client, MSTLS_ROLE_CLIENT, &cs, &cb, ccred,
                         &to_server);
  if (rv < 0) {
    result = fail("client session", rv);
    goto out;
  }
  rv = mstls_session_new(&server, MSTLS_ROLE_SERVER, &ss, &cb, scred,
                         &to_client);
  if (rv < 0) {
    result = fail("server session", rv);
    goto out;
  }

  /* Handshake: the client starts stream 0, then resumes its session on
   * streams 1..3 once stream 0's ticket has arrived. */
  while ((rv = mstls_session_handshake(client)) == MSTLS_E_AGAIN) {
    if (!to_client.head && !to_server.head) {
      result = fail("handshake", MSTLS_E_AGAIN); /* nothing moves */
      goto out;
    }
    if ((rv = pump(client, &to_client, server, &to_server)) < 0) {
      result = fail("transport", rv);
      goto out;
    }
  }
  if (rv < 0) {
    result = fail("handshake", rv);
    goto out;
  }
  for (i = 0; i < NSTREAMS; i++) {
    mstls_stream_info info;
    mstls_stream_get_info(client, i, &info);
    printf("stream %u: %s %s%s\n", i, info.version, info.cipher,
           info.resumed ? " (resumed)" : "");
  }

  /* One request per stream, client to server. */
  for (i = 0; i < NSTREAMS; i++) {
    long n;
    snprintf(buf, sizeof(buf), "request on stream %u", i);
    n = mstls_stream_send(client, i, buf, strlen(buf));
    if (n < 0) {
      result = fail("client send", n);
      goto out;
    }
  }
  if ((rv = pump(client, &to_client, server, &to_server)) < 0) {
    result = fail("transport", rv);
    goto out;
  }

  /* The server reads each stream and answers on the same stream. */
  for (i = 0; i < NSTREAMS; i++) {
    long n = mstls_stream_recv(server, i, buf, sizeof(buf) - 1);
    if (n < 0) {
      result = fail("server recv", n);
      goto out;
    }
    buf[n] = '\0';
    printf("server got on stream %u: \"%s\"\n", i, buf);
    snprintf(buf, sizeof(buf), "answer on stream %u", i);
    n = mstls_stream_send(server, i, buf, strlen(buf));
    if (n < 0) {
      result = fail("server send", n);
      goto out;
    }
  }
  if ((rv = pump(client, &to_client, server, &to_server)) < 0) {
    result = fail("transport", rv);
    goto out;
  }
  for (i = 0; i < NSTREAMS; i++) {
    long n = mstls_stream_recv(client, i, buf, sizeof(buf) - 1);
    if (n < 0) {
      result = fail("client recv", n);
      goto out;
    }
    buf[n] = '\0';
    printf("client got on stream %u: \"%s\"\n", i, buf);
  }

  /* Close: close_notify on every stream at once; the server sees end of
   * stream (0) on each, then closes its side too. */
  if ((rv = mstls_session_bye(client)) < 0) {
    result = fail("client bye", rv);
    goto out;
  }
  if ((rv = pump(client, &to_client, server, &to_server)) < 0) {
    result = fail("transport", rv);
    goto out;
  }
  for (i = 0; i < NSTREAMS; i++) {
    long n = mstls_stream_recv(server, i, buf, sizeof(buf));
    if (n != 0) {
      result = fail("server expected close_notify", n);
      goto out;
    }
  }
  if ((rv = mstls_session_bye(server)) < 0) {
    result = fail("server bye", rv);
    goto out;
  }
  if ((rv = pump(client, &to_client, server, &to_server)) < 0) {
    result = fail("transport", rv);
    goto out;
  }
  printf("all %u streams closed\n", NSTREAMS);
  result = 0;

out:
  mstls_session_del(client);
  mstls_session_del(server);
  mstls_credentials_del(ccred);
  mstls_credentials_del(scred);
  queue_clear(&to_client);
  queue_clear(&to_server);
  return result;
}
