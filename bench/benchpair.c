#include "benchpair.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certs.h"

mstls_credentials *bench_ccred, *bench_scred;

double bench_cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_die(const char *what, int rv) {
  fprintf(stderr, "bench: %s failed: %d (%s / %s)\n", what, rv,
          mstls_strerror(rv), gnutls_strerror(rv));
  exit(1);
}

void bench_creds_init(void) {
  bench_scred = test_server_creds(NULL);
  bench_ccred = test_client_creds(NULL, NULL, 0);
  if (!bench_scred || !bench_ccred) {
    bench_die("test credentials", MSTLS_E_CREDENTIALS);
  }
}

void bench_creds_free(void) {
  mstls_credentials_del(bench_ccred);
  mstls_credentials_del(bench_scred);
  bench_ccred = bench_scred = NULL;
}

/* ------------------------------------------------------------------------
 * Plain GnuTLS over an in-memory byte pipe
 * ---------------------------------------------------------------------- */

static ssize_t pipe_push(gnutls_transport_ptr_t ptr, const void *buf,
                         size_t len) {
  pipe_end *e = ptr;
  pipe_buf *b = e->out;
  if (b->head == b->tail) {
    b->head = b->tail = 0;
  }
  if (b->tail + len > b->cap) {
    size_t used = b->tail - b->head;
    if (used + len > b->cap) {
      size_t cap = b->cap ? b->cap : 65536;
      unsigned char *p;
      while (cap < used + len) {
        cap *= 2;
      }
      p = malloc(cap);
      if (!p) {
        gnutls_transport_set_errno(e->tls, ENOMEM);
        return -1;
      }
      if (used) {
        memcpy(p, b->data + b->head, used);
      }
      free(b->data);
      b->data = p;
      b->cap = cap;
    } else {
      memmove(b->data, b->data + b->head, used);
    }
    b->tail = used;
    b->head = 0;
  }
  memcpy(b->data + b->tail, buf, len);
  b->tail += len;
  return (ssize_t)len;
}

static ssize_t pipe_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len) {
  pipe_end *e = ptr;
  pipe_buf *b = e->in;
  size_t n = b->tail - b->head;
  if (n == 0) {
    gnutls_transport_set_errno(e->tls, EAGAIN);
    return -1;
  }
  if (n > len) {
    n = len;
  }
  memcpy(buf, b->data + b->head, n);
  b->head += n;
  return (ssize_t)n;
}

void plain_pair_init(plain_pair *p, gnutls_priority_t prio) {
  gnutls_certificate_credentials_t cc = mstls_credentials_get_gnutls(
                                       bench_ccred),
                                   sc = mstls_credentials_get_gnutls(
                                       bench_scred);
  int rv;
  memset(p, 0, sizeof(*p));
  p->client.in = &p->s2c;
  p->client.out = &p->c2s;
  p->server.in = &p->c2s;
  p->server.out = &p->s2c;
  if ((rv = gnutls_init(&p->client.tls, GNUTLS_CLIENT)) < 0 ||
      (rv = gnutls_init(&p->server.tls, GNUTLS_SERVER)) < 0 ||
      (rv = gnutls_priority_set(p->client.tls, prio)) < 0 ||
      (rv = gnutls_priority_set(p->server.tls, prio)) < 0 ||
      (rv = gnutls_credentials_set(p->client.tls, GNUTLS_CRD_CERTIFICATE, cc)) <
          0 ||
      (rv = gnutls_credentials_set(p->server.tls, GNUTLS_CRD_CERTIFICATE, sc)) <
          0 ||
      (rv = gnutls_server_name_set(p->client.tls, GNUTLS_NAME_DNS,
                                   BENCH_SERVER_NAME,
                                   strlen(BENCH_SERVER_NAME))) < 0) {
    bench_die("plain session setup", rv);
  }
  /* Verified like an mstls client verifies its server. */
  gnutls_session_set_verify_cert(p->client.tls, BENCH_SERVER_NAME, 0);
  gnutls_transport_set_ptr(p->client.tls, &p->client);
  gnutls_transport_set_ptr(p->server.tls, &p->server);
  gnutls_transport_set_push_function(p->client.tls, pipe_push);
  gnutls_transport_set_push_function(p->server.tls, pipe_push);
  gnutls_transport_set_pull_function(p->client.tls, pipe_pull);
  gnutls_transport_set_pull_function(p->server.tls, pipe_pull);
}

void plain_pair_handshake(plain_pair *p) {
  int cdone = 0, sdone = 0;
  while (!cdone || !sdone) {
    int rv;
    if (!cdone) {
      rv = gnutls_handshake(p->client.tls);
      if (rv == 0) {
        cdone = 1;
      } else if (rv != GNUTLS_E_AGAIN && gnutls_error_is_fatal(rv)) {
        bench_die("plain client handshake", rv);
      }
    }
    if (!sdone) {
      rv = gnutls_handshake(p->server.tls);
      if (rv == 0) {
        sdone = 1;
      } else if (rv != GNUTLS_E_AGAIN && gnutls_error_is_fatal(rv)) {
        bench_die("plain server handshake", rv);
      }
    }
  }
}

static void pipe_drop(pipe_buf *b) {
  if (b->head == b->tail) {
    free(b->data);
    memset(b, 0, sizeof(*b));
  }
}

void plain_pair_drop_buffers(plain_pair *p) {
  pipe_drop(&p->c2s);
  pipe_drop(&p->s2c);
}

void plain_pair_deinit(plain_pair *p) {
  gnutls_deinit(p->client.tls);
  gnutls_deinit(p->server.tls);
  free(p->c2s.data);
  free(p->s2c.data);
}

/* ------------------------------------------------------------------------
 * mstls session pair over the memlink
 * ---------------------------------------------------------------------- */

void ms_pair_new(ms_pair *p, const ms_pair_opts *o) {
  mstls_settings cs, ss;
  mstls_callbacks cb;
  int rv;
  mstls_settings_default(&cs);
  cs.nstreams = o->nstreams;
  cs.policy = o->policy;
  cs.server_name = BENCH_SERVER_NAME;
  cs.priority = o->priority;
  cs.flags = o->flags;
  ss = cs;
  ss.server_name = NULL;
  cs.resumption_data = o->resumption_data;
  cs.resumption_data_len = o->resumption_data_len;
  p->link = memlink_new(NULL);
  if (!p->link) {
    bench_die("memlink_new", MSTLS_E_NOMEM);
  }
  memlink_callbacks(&cb, MEMLINK_CLIENT);
  cb.stream_event = o->on_event;
  rv = mstls_session_new(&p->client, MSTLS_ROLE_CLIENT, &cs, &cb, bench_ccred,
                         p->link);
  if (rv < 0) {
    bench_die("client session", rv);
  }
  memlink_callbacks(&cb, MEMLINK_SERVER);
  rv = mstls_session_new(&p->server, MSTLS_ROLE_SERVER, &ss, &cb, bench_scred,
                         p->link);
  if (rv < 0) {
    bench_die("server session", rv);
  }
  memlink_attach(p->link, MEMLINK_CLIENT, p->client);
  memlink_attach(p->link, MEMLINK_SERVER, p->server);
}

void ms_pair_free(ms_pair *p) {
  mstls_session_del(p->client);
  mstls_session_del(p->server);
  memlink_free(p->link);
}

int ms_step(ms_pair *p) {
  mstls_tstamp e1, e2, e, now;
  if (memlink_step(p->link, NULL)) {
    memlink_advance(p->link, 0);
    return 1;
  }
  e1 = mstls_session_get_expiry(p->client);
  e2 = mstls_session_get_expiry(p->server);
  e = e1 < e2 ? e1 : e2;
  if (e == MSTLS_TSTAMP_NEVER) {
    return 0;
  }
  now = memlink_now(p->link);
  memlink_advance(p->link, e > now ? e - now : 0);
  return 1;
}

void ms_pair_handshake(ms_pair *p) {
  int rv;
  while ((rv = mstls_session_handshake(p->client)) == MSTLS_E_AGAIN) {
    if (!ms_step(p)) {
      bench_die("handshake stuck", rv);
    }
  }
  if (rv < 0) {
    bench_die("handshake", rv);
  }
  memlink_run(p->link, (size_t)-1);
}
