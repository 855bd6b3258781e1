/* Blocking convenience over the non-blocking core: loop over the operation,
 * the pull callback and the timers. One lock per session; one thread pulls
 * at a time while the others wait for it, so blocking calls on different
 * streams may run in different threads. The push callback runs with the
 * lock held. */
#include "session.h"

#include <errno.h>
#include <time.h>

#include "clock.h"
#include "mem.h"

/* Longest single wait in the pull callback, so that a thread waiting on
 * a push that would block (MSTLS_E_AGAIN) retries soon. */
#define BLOCKING_PUSH_RETRY_MS 1

mstls_tstamp mstls_clock_now(mstls_session *s) {
  return s->cb.clock ? s->cb.clock(s->user_data) : mstls_clock_monotonic();
}

static int blk_timeout_ms(mstls_session *s, mstls_tstamp now,
                          mstls_tstamp deadline) {
  mstls_tstamp exp = mstls_session_get_expiry(s);
  mstls_tstamp ms;
  if (deadline < exp) {
    exp = deadline;
  }
  if (s->push_blocked) {
    return BLOCKING_PUSH_RETRY_MS;
  }
  if (exp == MSTLS_TSTAMP_NEVER) {
    return 1000; /* wake up now and then; the pull may block longer */
  }
  if (exp <= now) {
    return 0;
  }
  ms = (exp - now + MSTLS_MILLISECONDS - 1) / MSTLS_MILLISECONDS;
  return ms > 1000 ? 1000 : (int)ms;
}

/* Pull one message (or let another thread do it) and feed it, waiting no
 * later than @p deadline (MSTLS_TSTAMP_NEVER: only the session's timers
 * bound the wait). Called and returns with the lock held. @return 0 to
 * retry the operation, or a fatal session error. */
static int blk_step_until(mstls_session *s, mstls_tstamp deadline) {
  uint32_t flags = 0;
  uint16_t stream = 0;
  mstls_tstamp now;
  int timeout;
  int n;

  if (s->puller_active) {
    pthread_cond_wait(&s->cond, &s->lock);
    return s->err;
  }
  if (!s->pullbuf) {
    s->pullbuf = mstls_mem_malloc(s->mem, s->settings.max_message);
    if (!s->pullbuf) {
      return mstls_sess_fail(s, MSTLS_E_NOMEM);
    }
  }
  now = mstls_clock_now(s);
  if (mstls_session_get_expiry(s) <= now) {
    int rv = mstls_session_handle_expiry(s, now);
    if (rv < 0) {
      return rv;
    }
    return 0;
  }
  timeout = blk_timeout_ms(s, now, deadline);
  s->push_blocked = 0;
  s->puller_active = 1;
  pthread_mutex_unlock(&s->lock);
  n = s->cb.pull(s, &flags, &stream, s->pullbuf, s->settings.max_message,
                 timeout, s->user_data);
  pthread_mutex_lock(&s->lock);
  s->puller_active = 0;
  pthread_cond_broadcast(&s->cond);
  if (n >= 0 && (size_t)n > s->settings.max_message) {
    /* The callback claims more than the buffer holds: it is broken, and
     * nothing it returned can be trusted. */
    return mstls_sess_fail(s, MSTLS_E_TRANSPORT);
  }
  if (n >= 0) {
    /* Errors of other streams stay with those streams. */
    mstls_session_feed(s, flags, stream, s->pullbuf, (size_t)n);
    return s->err;
  }
  if (n == MSTLS_E_AGAIN || n == MSTLS_E_MSG_SIZE) {
    return 0;
  }
  /* Keep what the callback named (the peer is gone, the association was
   * aborted or closed in order -- a stream without close_notify then
   * reports MSTLS_E_CLOSED, never a clean end); anything else means the
   * transport failed. */
  return mstls_sess_fail(s, n == MSTLS_E_PEER_GONE || n == MSTLS_E_ABORTED ||
                                    n == MSTLS_E_CLOSED
                                ? n
                                : MSTLS_E_TRANSPORT);
}

static int blk_step(mstls_session *s) {
  return blk_step_until(s, MSTLS_TSTAMP_NEVER);
}

/* The end of a blocking receive's wait (settings.recv_timeout). */
static mstls_tstamp blk_recv_deadline(mstls_session *s) {
  if (s->settings.recv_timeout == 0) {
    return MSTLS_TSTAMP_NEVER;
  }
  return mstls_clock_now(s) + s->settings.recv_timeout;
}

static int blk_check(mstls_session *s) {
  if (!s) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (!s->cb.pull) {
    return MSTLS_E_INVALID_STATE;
  }
  return 0;
}

int mstls_session_handshake_blocking(mstls_session *s) {
  int rv = blk_check(s);
  if (rv < 0) {
    return rv;
  }
  pthread_mutex_lock(&s->lock);
  for (;;) {
    rv = mstls_session_handshake(s);
    if (rv != MSTLS_E_AGAIN) {
      break;
    }
    rv = blk_step(s);
    if (rv < 0) {
      break;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return rv;
}

long mstls_stream_send_blocking(mstls_session *s, uint16_t stream,
                                const void *data, size_t len) {
  const uint8_t *p = data;
  size_t done = 0;
  long rv = blk_check(s);
  if (rv < 0) {
    return rv;
  }
  if (!data || len == 0) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  pthread_mutex_lock(&s->lock);
  while (done < len) {
    rv = mstls_stream_send(s, stream, p + done, len - done);
    if (rv > 0) {
      done += (size_t)rv;
      continue;
    }
    if (rv != MSTLS_E_AGAIN) {
      break;
    }
    rv = blk_step(s);
    if (rv < 0) {
      break;
    }
  }
  /* All taken; the last record may still be kept for a full transport. */
  while (done == len && (rv = mstls_stream_flush(s, stream)) == MSTLS_E_AGAIN) {
    rv = blk_step(s);
    if (rv < 0) {
      break;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return done == len && rv == 0 ? (long)len : rv;
}

long mstls_stream_recv_blocking(mstls_session *s, uint16_t stream, void *buf,
                                size_t len) {
  mstls_tstamp deadline;
  long rv = blk_check(s);
  if (rv < 0) {
    return rv;
  }
  pthread_mutex_lock(&s->lock);
  deadline = blk_recv_deadline(s);
  for (;;) {
    rv = mstls_stream_recv(s, stream, buf, len);
    if (rv != MSTLS_E_AGAIN) {
      break;
    }
    if (deadline != MSTLS_TSTAMP_NEVER && mstls_clock_now(s) >= deadline) {
      break; /* MSTLS_E_AGAIN: recv_timeout passed */
    }
    rv = blk_step_until(s, deadline);
    if (rv == MSTLS_E_CLOSED) {
      /* The step that found the end may have brought the last data. */
      rv = mstls_stream_recv(s, stream, buf, len);
      rv = rv == MSTLS_E_AGAIN ? MSTLS_E_CLOSED : rv;
      break;
    }
    if (rv < 0) {
      break;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return rv;
}

static int blk_stream_open(void *p, void *ctx) {
  const mstls_strm *st = p;
  (void)ctx;
  return st->state == MSTLS_STREAM_HANDSHAKING ||
         st->state == MSTLS_STREAM_OPEN ||
         st->state == MSTLS_STREAM_PLAINTEXT || st->plain.bytes ||
         (st->state == MSTLS_STREAM_CLOSED && !st->peer_closed) ||
         (st->peer_closed && !st->eof_reported) || st->waiting_resume;
}

/* Whether any stream can still deliver something. */
static int blk_any_open(mstls_session *s) {
  if (mstls_dense_foreach(&s->streams, blk_stream_open, NULL)) {
    return 1;
  }
  /* A server whose client has not opened any stream yet. */
  return s->role == MSTLS_ROLE_SERVER && s->stats.streams_established == 0 &&
         s->stats.streams_failed == 0;
}

long mstls_session_recv_any_blocking(mstls_session *s, uint16_t *pstream,
                                     void *buf, size_t len) {
  mstls_tstamp deadline;
  long rv = blk_check(s);
  if (rv < 0) {
    return rv;
  }
  pthread_mutex_lock(&s->lock);
  deadline = blk_recv_deadline(s);
  for (;;) {
    rv = mstls_session_recv_any(s, pstream, buf, len);
    if (rv != MSTLS_E_AGAIN) {
      break;
    }
    if (!blk_any_open(s)) {
      rv = MSTLS_E_CLOSED;
      break;
    }
    if (deadline != MSTLS_TSTAMP_NEVER && mstls_clock_now(s) >= deadline) {
      break; /* MSTLS_E_AGAIN: recv_timeout passed */
    }
    rv = blk_step_until(s, deadline);
    if (rv == MSTLS_E_CLOSED) {
      /* The step that found the end may have brought the last data. */
      rv = mstls_session_recv_any(s, pstream, buf, len);
      rv = rv == MSTLS_E_AGAIN ? MSTLS_E_CLOSED : rv;
      break;
    }
    if (rv < 0) {
      break;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return rv;
}
