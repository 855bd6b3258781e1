#include "memlink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ml_msg {
  struct ml_msg *next;
  mstls_tstamp at;
  uint64_t seq;
  uint16_t stream;
  uint32_t flags;
  size_t len;
  uint8_t data[];
} ml_msg;

typedef struct ml_dir {
  ml_msg *head; /* sorted by (at, seq) */
  ml_msg *tail; /* the last of them, NULL when empty */
  mstls_tstamp last_at[65536];
} ml_dir;

struct memlink {
  memlink_config cfg;
  uint64_t rng;
  uint64_t seq;
  mstls_tstamp now;
  mstls_session *sess[2];
  ml_dir *dir[2]; /* dir[i]: messages towards side i */
  memlink_tamper_fn tamper;
  void *tamper_ctx;
  int blackhole[2];
  int closed[2]; /* pulls towards the side end with MSTLS_E_CLOSED */
  int push_err[2];
  long push_budget[2]; /* pushes still taken, -1: unlimited */
  uint64_t push_refused[2];
  uint64_t msgs[2];
  uint64_t bytes[2];
  size_t in_flight;
  pthread_mutex_t lock;
  pthread_cond_t cond;
};

static uint64_t ml_rand(memlink *l) {
  /* xorshift64*: seeded, reproducible */
  l->rng ^= l->rng >> 12;
  l->rng ^= l->rng << 25;
  l->rng ^= l->rng >> 27;
  return l->rng * 2685821657736338717ULL;
}

memlink *memlink_new(const memlink_config *cfg) {
  memlink *l = calloc(1, sizeof(*l));
  if (!l) {
    return NULL;
  }
  if (cfg) {
    l->cfg = *cfg;
  }
  if (!l->cfg.latency) {
    l->cfg.latency = 10 * MSTLS_MILLISECONDS;
  }
  l->rng = l->cfg.seed ? l->cfg.seed : 0x9e3779b97f4a7c15ULL;
  l->now = 1 * MSTLS_SECONDS;
  l->push_budget[0] = l->push_budget[1] = -1;
  l->dir[0] = calloc(1, sizeof(ml_dir));
  l->dir[1] = calloc(1, sizeof(ml_dir));
  if (!l->dir[0] || !l->dir[1]) {
    free(l->dir[0]);
    free(l->dir[1]);
    free(l);
    return NULL;
  }
  pthread_mutex_init(&l->lock, NULL);
  pthread_cond_init(&l->cond, NULL);
  return l;
}

void memlink_free(memlink *l) {
  int i;
  if (!l) {
    return;
  }
  for (i = 0; i < 2; i++) {
    ml_msg *m = l->dir[i]->head;
    while (m) {
      ml_msg *n = m->next;
      free(m);
      m = n;
    }
    free(l->dir[i]);
  }
  pthread_mutex_destroy(&l->lock);
  pthread_cond_destroy(&l->cond);
  free(l);
}

void memlink_attach(memlink *l, int side, mstls_session *s) {
  l->sess[side] = s;
}

void memlink_set_tamper(memlink *l, memlink_tamper_fn fn, void *ctx) {
  l->tamper = fn;
  l->tamper_ctx = ctx;
}

void memlink_set_blackhole(memlink *l, int side, int on) {
  l->blackhole[side] = on;
}

void memlink_set_closed(memlink *l, int side) {
  pthread_mutex_lock(&l->lock);
  l->closed[side] = 1;
  pthread_cond_broadcast(&l->cond);
  pthread_mutex_unlock(&l->lock);
}

void memlink_set_push_error(memlink *l, int side, int err) {
  l->push_err[side] = err;
}

void memlink_set_push_budget(memlink *l, int side, long n) {
  pthread_mutex_lock(&l->lock);
  l->push_budget[side] = n;
  pthread_mutex_unlock(&l->lock);
}

uint64_t memlink_push_refused(memlink *l, int side) {
  return l->push_refused[side];
}

static void ml_insert(ml_dir *d, ml_msg *m) {
  ml_msg **pp = &d->head;
  /* Usually the latest message (seq grows): append without a walk, which
   * would make N streams' handshakes cost N^2. */
  if (!d->tail || d->tail->at <= m->at) {
    pp = d->tail ? &d->tail->next : &d->head;
    m->next = NULL;
    *pp = m;
    d->tail = m;
    return;
  }
  while (*pp &&
         ((*pp)->at < m->at || ((*pp)->at == m->at && (*pp)->seq < m->seq))) {
    pp = &(*pp)->next;
  }
  m->next = *pp;
  *pp = m;
  if (!m->next) {
    d->tail = m;
  }
}

static int ml_queue(memlink *l, int from, uint16_t stream, uint32_t flags,
                    const mstls_iovec *iov, size_t iovcnt) {
  int to = !from;
  size_t len = 0, off = 0, i;
  ml_msg *m;
  int drop = 0;
  mstls_tstamp at;

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
  m->len = len;
  m->stream = stream;
  m->flags = flags;
  l->msgs[from]++;
  l->bytes[from] += len;
  if (l->tamper) {
    l->tamper(from, stream, &m->flags, m->data, m->len, &drop, l->tamper_ctx);
  }
  if (drop || l->blackhole[from]) {
    free(m);
    return 0;
  }
  at = l->now + l->cfg.latency +
       (l->cfg.jitter ? ml_rand(l) % l->cfg.jitter : 0);
  /* SCTP ordered delivery: never overtake an earlier message of the same
   * stream. */
  if (at < l->dir[to]->last_at[stream]) {
    at = l->dir[to]->last_at[stream];
  }
  l->dir[to]->last_at[stream] = at;
  m->at = at;
  m->seq = l->seq++;
  ml_insert(l->dir[to], m);
  l->in_flight++;
  pthread_cond_broadcast(&l->cond);
  return 0;
}

static int ml_push(mstls_session *s, int from, uint16_t stream,
                   const mstls_iovec *iov, size_t iovcnt, memlink *l) {
  int rv;
  (void)s;
  pthread_mutex_lock(&l->lock);
  if (l->push_err[from]) {
    rv = l->push_err[from];
  } else if (l->push_budget[from] == 0) {
    l->push_refused[from]++;
    rv = MSTLS_E_AGAIN;
  } else {
    if (l->push_budget[from] > 0) {
      l->push_budget[from]--;
    }
    rv = ml_queue(l, from, stream, 0, iov, iovcnt);
  }
  pthread_mutex_unlock(&l->lock);
  return rv;
}

static int ml_push_client(mstls_session *s, uint16_t stream,
                          const mstls_iovec *iov, size_t iovcnt, void *ud) {
  return ml_push(s, MEMLINK_CLIENT, stream, iov, iovcnt, ud);
}

static int ml_push_server(mstls_session *s, uint16_t stream,
                          const mstls_iovec *iov, size_t iovcnt, void *ud) {
  return ml_push(s, MEMLINK_SERVER, stream, iov, iovcnt, ud);
}

/* Blocking pull: the next message towards @p side, whatever its simulated
 * time (threads run in real time). */
static int ml_pull(mstls_session *s, int side, uint32_t *flags,
                   uint16_t *stream, uint8_t *buf, size_t len, int timeout_ms,
                   memlink *l) {
  struct timespec ts;
  ml_msg *m;
  int rv;
  (void)s;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += timeout_ms / 1000;
  ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&l->lock);
  while (!l->dir[side]->head) {
    if (l->closed[side]) {
      pthread_mutex_unlock(&l->lock);
      return MSTLS_E_CLOSED;
    }
    if (timeout_ms >= 0 &&
        pthread_cond_timedwait(&l->cond, &l->lock, &ts) == ETIMEDOUT) {
      pthread_mutex_unlock(&l->lock);
      return MSTLS_E_AGAIN;
    }
    if (timeout_ms < 0) {
      pthread_cond_wait(&l->cond, &l->lock);
    }
  }
  m = l->dir[side]->head;
  l->dir[side]->head = m->next;
  if (!m->next) {
    l->dir[side]->tail = NULL;
  }
  l->in_flight--;
  pthread_mutex_unlock(&l->lock);
  if (m->len > len) {
    free(m);
    return MSTLS_E_MSG_SIZE;
  }
  memcpy(buf, m->data, m->len);
  *stream = m->stream;
  *flags = m->flags;
  rv = (int)m->len;
  free(m);
  return rv;
}

static int ml_pull_client(mstls_session *s, uint32_t *flags, uint16_t *stream,
                          uint8_t *buf, size_t len, int timeout_ms, void *ud) {
  return ml_pull(s, MEMLINK_CLIENT, flags, stream, buf, len, timeout_ms, ud);
}

static int ml_pull_server(mstls_session *s, uint32_t *flags, uint16_t *stream,
                          uint8_t *buf, size_t len, int timeout_ms, void *ud) {
  return ml_pull(s, MEMLINK_SERVER, flags, stream, buf, len, timeout_ms, ud);
}

void memlink_callbacks(mstls_callbacks *cb, int side) {
  memset(cb, 0, sizeof(*cb));
  cb->push = side == MEMLINK_CLIENT ? ml_push_client : ml_push_server;
  cb->pull = side == MEMLINK_CLIENT ? ml_pull_client : ml_pull_server;
}

/* The side the next message goes to, -1 if none; called locked. */
static int ml_next_side(memlink *l) {
  if (l->dir[0]->head &&
      (!l->dir[1]->head || l->dir[0]->head->at < l->dir[1]->head->at ||
       (l->dir[0]->head->at == l->dir[1]->head->at &&
        l->dir[0]->head->seq < l->dir[1]->head->seq))) {
    return 0;
  }
  return l->dir[1]->head ? 1 : -1;
}

int memlink_next_side(memlink *l) {
  int to;
  pthread_mutex_lock(&l->lock);
  to = ml_next_side(l);
  pthread_mutex_unlock(&l->lock);
  return to;
}

int memlink_step(memlink *l, int *feed_rv) {
  ml_msg *m;
  int to, rv;

  pthread_mutex_lock(&l->lock);
  m = NULL;
  to = ml_next_side(l);
  if (to < 0) {
    pthread_mutex_unlock(&l->lock);
    return 0;
  }
  m = l->dir[to]->head;
  l->dir[to]->head = m->next;
  if (!m->next) {
    l->dir[to]->tail = NULL;
  }
  l->in_flight--;
  if (m->at > l->now) {
    l->now = m->at;
  }
  pthread_mutex_unlock(&l->lock);
  rv = MSTLS_E_INVALID_STATE;
  if (l->sess[to]) {
    rv = mstls_session_feed(l->sess[to], m->flags, m->stream, m->data, m->len);
  }
  if (feed_rv) {
    *feed_rv = rv;
  }
  free(m);
  return 1;
}

static void ml_timers(memlink *l) {
  int i;
  for (i = 0; i < 2; i++) {
    if (l->sess[i] && mstls_session_get_expiry(l->sess[i]) <= l->now) {
      mstls_session_handle_expiry(l->sess[i], l->now);
    }
  }
}

size_t memlink_run(memlink *l, size_t max_msgs) {
  size_t n = 0;
  ml_timers(l);
  while (n < max_msgs && memlink_step(l, NULL)) {
    n++;
    ml_timers(l);
  }
  return n;
}

mstls_tstamp memlink_now(memlink *l) {
  return l->now;
}

void memlink_advance(memlink *l, mstls_tstamp dt) {
  l->now += dt;
  ml_timers(l);
}

size_t memlink_in_flight(memlink *l) {
  return l->in_flight;
}

uint64_t memlink_msgs(memlink *l, int from) {
  return l->msgs[from];
}

uint64_t memlink_bytes(memlink *l, int from) {
  return l->bytes[from];
}

int memlink_inject(memlink *l, int to, uint16_t stream, uint32_t flags,
                   const void *data, size_t len) {
  mstls_iovec v;
  int rv;
  v.base = data;
  v.len = len;
  pthread_mutex_lock(&l->lock);
  rv = ml_queue(l, !to, stream, flags, &v, 1);
  pthread_mutex_unlock(&l->lock);
  return rv;
}
