#include "pair.h"

#include <string.h>

void test_client_settings(mstls_settings *s, uint32_t n, mstls_policy p) {
  mstls_settings_default(s);
  s->nstreams = n;
  s->policy = p;
  s->server_name = "server.test";
}

void test_server_settings(mstls_settings *s, uint32_t n, mstls_policy p) {
  mstls_settings_default(s);
  s->nstreams = n;
  s->policy = p;
}

int test_pair_new(test_pair *p, const mstls_settings *cs,
                  const mstls_settings *ss, const memlink_config *lc,
                  const mstls_callbacks *ccb, const mstls_callbacks *scb) {
  return test_pair_new_creds(p, cs, ss, lc, ccb, scb,
                             test_client_creds(NULL, NULL, 0),
                             test_server_creds(NULL));
}

int test_pair_new_creds(test_pair *p, const mstls_settings *cs,
                        const mstls_settings *ss, const memlink_config *lc,
                        const mstls_callbacks *ccb, const mstls_callbacks *scb,
                        mstls_credentials *ccred, mstls_credentials *scred) {
  mstls_callbacks cb;
  int rv;

  memset(p, 0, sizeof(*p));
  p->link = memlink_new(lc);
  p->scred = scred;
  p->ccred = ccred;
  if (!p->link || !p->scred || !p->ccred) {
    test_pair_free(p);
    return MSTLS_E_NOMEM;
  }
  memlink_callbacks(&cb, MEMLINK_CLIENT);
  if (ccb) {
    cb.recv_data = ccb->recv_data;
    cb.stream_event = ccb->stream_event;
  }
  rv = mstls_session_new(&p->client, MSTLS_ROLE_CLIENT, cs, &cb, p->ccred,
                         p->link);
  if (rv < 0) {
    test_pair_free(p);
    return rv;
  }
  memlink_callbacks(&cb, MEMLINK_SERVER);
  if (scb) {
    cb.recv_data = scb->recv_data;
    cb.stream_event = scb->stream_event;
  }
  rv = mstls_session_new(&p->server, MSTLS_ROLE_SERVER, ss, &cb, p->scred,
                         p->link);
  if (rv < 0) {
    test_pair_free(p);
    return rv;
  }
  memlink_attach(p->link, MEMLINK_CLIENT, p->client);
  memlink_attach(p->link, MEMLINK_SERVER, p->server);
  return 0;
}

int test_pair_handshake(test_pair *p, size_t max_msgs) {
  size_t n = 0;
  int rv;
  for (;;) {
    rv = mstls_session_handshake(p->client);
    if (rv == 0) {
      /* The server's streams are established only by the client's
       * Finished (TLS 1.3 early start or not): deliver what is in flight
       * so that both ends agree when this returns. */
      while (n < max_msgs && memlink_step(p->link, NULL)) {
        n++;
      }
    }
    if (rv != MSTLS_E_AGAIN) {
      return rv;
    }
    if (n >= max_msgs) {
      return MSTLS_E_TIMEOUT;
    }
    /* As an event loop does: timers that are due now (a session asks for
     * a time stamp by returning 0) run before waiting for input. */
    memlink_advance(p->link, 0);
    if (!memlink_step(p->link, NULL)) {
      mstls_tstamp e1 = mstls_session_get_expiry(p->client);
      mstls_tstamp e2 = mstls_session_get_expiry(p->server);
      mstls_tstamp e = e1 < e2 ? e1 : e2;
      if (e == MSTLS_TSTAMP_NEVER) {
        return MSTLS_E_AGAIN; /* stuck: nothing in flight, no timer */
      }
      if (e > memlink_now(p->link)) {
        memlink_advance(p->link, e - memlink_now(p->link));
      } else {
        memlink_advance(p->link, 0);
      }
    } else {
      memlink_advance(p->link, 0);
    }
    n++;
  }
}

void test_pair_flush(test_pair *p) {
  memlink_run(p->link, 10000000);
}

uint32_t test_rand(uint64_t *state, uint32_t n) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return (uint32_t)(x % n);
}

uint8_t test_pattern(uint16_t stream, uint64_t off) {
  uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)stream << 40);
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 32;
  return (uint8_t)x;
}

void test_pair_free(test_pair *p) {
  mstls_session_del(p->client);
  mstls_session_del(p->server);
  mstls_credentials_del(p->ccred);
  mstls_credentials_del(p->scred);
  memlink_free(p->link);
  memset(p, 0, sizeof(*p));
}
