/* usrsctp backend: closing sockets whose association may still exist
 * (see "Closing" below and in docs/sctp.md).
 *
 * usrsctp exports hundreds of unprefixed symbols: every name here is
 * static or carries the mstls_ prefix. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <usrsctp.h>

#include <mstls/sctp.h>

#include "clock.h"
#include "usrsctp_sock.h"

/* Send an ABORT: a send with SCTP_ABORT, which frees the association
 * under the lock that packet processing holds, so a packet in flight took
 * its reference to the socket before it and a later one finds no
 * association. An association still being set up cannot be aborted that
 * way (EINVAL: @return -1); the closer then waits for it to come up or
 * give up. Linger 0 makes a close in NOTHREADS mode abort it. */
int mstls_usctp_abort_so(struct socket *so) {
  static const uint8_t none;
  struct sctp_sndinfo si;
  struct linger l = {1, 0};
  int refused;

  memset(&si, 0, sizeof(si));
  si.snd_flags = SCTP_ABORT;
  refused = usrsctp_sendv(so, &none, 0, NULL, 0, &si, sizeof(si),
                          SCTP_SENDV_SNDINFO, 0) < 0 &&
            errno == EINVAL;
  (void)usrsctp_setsockopt(so, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  return refused ? -1 : 0;
}

/* Closing -------------------------------------------------------------------
 *
 * usrsctp_close() drops the socket's last reference and frees it before
 * the stack marks the socket gone. A packet (or timer) of a live
 * association that usrsctp's own thread processes in that moment takes a
 * new reference and frees the socket a second time (usrsctp issue 709;
 * seen under ASan with both cores busy as a double free in sofree()). With
 * no association left, nothing in the stack takes a reference. So a socket
 * is closed only once SCTP_STATUS finds no association; until then the
 * closer, a thread, holds it:
 * - a graceful close is shut down first (SCTP SHUTDOWN once the queued
 *   data is acknowledged); the closer reads and discards what still
 *   arrives, so the peer's last data cannot stall the SHUTDOWN;
 * - when its linger_ms runs out, or at the release, it is aborted;
 * - an association that cannot be aborted yet (still being set up) is
 *   aborted once it is up, or freed once SCTP gives up on it.
 * The closer sleeps until an upcall of one of its sockets, the nearest
 * deadline, or a tick a second while it holds any (usrsctp frees some
 * associations from a timer, without an upcall). */

/* Longest time mstls_sctp_usrsctp_release() gives the closer to finish
 * graceful closes before it aborts what is left. */
#define USCTP_RELEASE_WAIT_MS 6000u
/* Release gives up waiting for aborted associations to be freed after
 * this much more (usrsctp frees them from its timer, at once normally). */
#define USCTP_RELEASE_GUARD_MS 60000u
/* The closer looks at every socket it holds at least this often. */
#define USCTP_CLOSER_TICK_MS 1000u

static struct {
  pthread_once_t once;
  pthread_mutex_t lock;
  pthread_cond_t cond; /* wakes the closer; CLOCK_MONOTONIC */
  pthread_cond_t done; /* the closer ended; CLOCK_MONOTONIC */
  int running;
  uint64_t gen;          /* bumped by upcalls, new sockets and release */
  uint64_t drain_by;     /* release: abort what is left by then (0: none) */
  int drained;           /* a round after drain_by has run */
  uint64_t next_tick;    /* when every socket is looked at again */
  mstls_sctp_sock *head; /* sockets waiting for their association to end */
  mstls_sctp_usrsctp_stats stats;
} usctp_closer = {.once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER};

static void usctp_closer_init(void) {
  pthread_condattr_t attr;

  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&usctp_closer.cond, &attr);
  pthread_cond_init(&usctp_closer.done, &attr);
  pthread_condattr_destroy(&attr);
}

/* Wait on @p cond until @p ms (monotonic): pthread_cond_timedwait's
 * result. */
static int usctp_wait_until(pthread_cond_t *cond, uint64_t ms) {
  struct timespec ts;

  ts.tv_sec = (time_t)(ms / 1000u);
  ts.tv_nsec = (long)(ms % 1000u) * 1000000L;
  return pthread_cond_timedwait(cond, &usctp_closer.lock, &ts);
}

/* The readiness callback of a socket the closer holds (in the upcall,
 * under s->lock). */
static void usctp_closer_wake(void *arg) {
  mstls_sctp_sock *s = arg;

  pthread_mutex_lock(&usctp_closer.lock);
  s->close_dirty = 1;
  usctp_closer.gen++;
  pthread_cond_signal(&usctp_closer.cond);
  pthread_mutex_unlock(&usctp_closer.lock);
}

/* Read and drop what arrived (at most 64 reads a round; the next upcall
 * or tick brings the closer back). */
static void usctp_discard(mstls_sctp_sock *s) {
  uint8_t buf[4096];
  int i;

  for (i = 0; i < 64; i++) {
    struct sctp_rcvinfo rcv;
    socklen_t rlen = sizeof(rcv);
    unsigned int type = 0;
    int flags = 0;

    if (usrsctp_recvv(s->so, buf, sizeof(buf), NULL, NULL, &rcv, &rlen, &type,
                      &flags) <= 0)
      return;
  }
}

/* One round over @p list, without the closer's lock (every call into
 * usrsctp runs without it: the upcall takes it under usrsctp's locks).
 * @return the sockets still held; *next is their nearest deadline, *busy
 * how many of them are not known to be stuck in set-up past their
 * deadline. Release's drain deadline becomes each socket's own. */
static mstls_sctp_sock *usctp_closer_round(mstls_sctp_sock *list,
                                           uint64_t drain_by, uint64_t *next,
                                           uint64_t *closed, uint64_t *aborted,
                                           uint64_t *busy) {
  const uint64_t now = mstls_clock_monotonic_ms();
  mstls_sctp_sock *keep = NULL;

  while (list != NULL) {
    mstls_sctp_sock *s = list;
    uint64_t by = s->close_deadline;
    int expired;

    list = s->close_next;
    if (drain_by != 0 && (by == 0 || drain_by < by))
      by = s->close_deadline = drain_by;
    expired = by != 0 && now >= by;
    if (s->close_check || expired) {
      usctp_discard(s);
      if (expired && mstls_usctp_has_assoc(s)) {
        s->close_stuck = mstls_usctp_abort_so(s->so) < 0;
        s->close_aborted = 1;
      }
      if (!mstls_usctp_has_assoc(s)) {
        if (s->close_aborted)
          (*aborted)++;
        else
          (*closed)++;
        mstls_usctp_free(s);
        continue;
      }
    }
    s->close_next = keep;
    keep = s;
    if (!expired && by != 0 && (*next == 0 || by < *next))
      *next = by;
    /* Aborted but not yet freed (usrsctp frees it from a timer when the
     * association was in use): gone at a later tick. */
    if (!expired || !s->close_stuck)
      (*busy)++;
  }
  return keep;
}

static void *usctp_closer_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&usctp_closer.lock);
  for (;;) {
    mstls_sctp_sock *list = usctp_closer.head, *keep, *s;
    const uint64_t gen = usctp_closer.gen, drain_by = usctp_closer.drain_by;
    const uint64_t now = mstls_clock_monotonic_ms();
    const int tick = now >= usctp_closer.next_tick;
    uint64_t next = 0, closed = 0, aborted = 0, busy = 0;

    if (list == NULL && drain_by != 0)
      break;
    if (tick)
      usctp_closer.next_tick = now + USCTP_CLOSER_TICK_MS;
    for (s = list; s != NULL; s = s->close_next) {
      s->close_check = s->close_dirty || tick;
      s->close_dirty = 0;
    }
    usctp_closer.head = NULL;
    pthread_mutex_unlock(&usctp_closer.lock);
    keep = usctp_closer_round(list, drain_by, &next, &closed, &aborted, &busy);
    pthread_mutex_lock(&usctp_closer.lock);
    usctp_closer.stats.lingering -= closed + aborted;
    usctp_closer.stats.linger_closed += closed;
    usctp_closer.stats.linger_aborted += aborted;
    if (drain_by != 0 && now >= drain_by && busy == 0) {
      /* All that is left is still being set up: release may judge. */
      usctp_closer.drained = 1;
      pthread_cond_broadcast(&usctp_closer.done);
    }
    while (keep != NULL) {
      s = keep;
      keep = s->close_next;
      s->close_next = usctp_closer.head;
      usctp_closer.head = s;
    }
    if (usctp_closer.head == NULL && usctp_closer.drain_by != 0)
      break; /* released, and nothing left */
    if (usctp_closer.head != NULL &&
        (next == 0 || usctp_closer.next_tick < next))
      next = usctp_closer.next_tick;
    /* Sleep until an upcall, a new socket or release (each bumps gen),
     * the nearest deadline or the tick; with nothing held, until woken. */
    while (usctp_closer.gen == gen) {
      if (next == 0)
        pthread_cond_wait(&usctp_closer.cond, &usctp_closer.lock);
      else if (usctp_wait_until(&usctp_closer.cond, next) != 0)
        break;
    }
  }
  usctp_closer.running = 0;
  pthread_cond_broadcast(&usctp_closer.done);
  pthread_mutex_unlock(&usctp_closer.lock);
  return NULL;
}

/* Start the closer if it is not running (with its lock held). */
static int usctp_closer_start(void) {
  pthread_attr_t attr;
  pthread_t thread;
  int rc;

  if (usctp_closer.running)
    return 0;
  if (pthread_attr_init(&attr) != 0)
    return -1;
  /* Detached: release waits for its end on `done`. */
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  rc = pthread_create(&thread, &attr, usctp_closer_main, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0)
    return -1;
  usctp_closer.running = 1;
  usctp_closer.drain_by = 0;
  return 0;
}

/* Hand a socket whose association is still there to the closer: to be
 * shut down gracefully, or (@p abort_now) already aborted but not yet
 * gone. */
static void usctp_hand_over(mstls_sctp_sock *s, int abort_now) {
  int efd;

  /* Before usctp_closer_wake can run on the closer's condition. */
  pthread_once(&usctp_closer.once, usctp_closer_init);
  if (!abort_now && usrsctp_shutdown(s->so, SHUT_WR) < 0 && errno != ENOTCONN) {
    (void)mstls_usctp_abort_so(s->so);
    abort_now = 1;
  }
  s->close_aborted = abort_now;
  s->close_deadline = abort_now      ? mstls_clock_monotonic_ms()
                      : s->linger_ms ? mstls_clock_monotonic_ms() + s->linger_ms
                                     : 0;
  /* The owner is gone: its readiness callback and its fd with it. */
  pthread_mutex_lock(&s->lock);
  s->ready = usctp_closer_wake;
  s->ready_arg = s;
  __atomic_store_n(&s->efd_used, 0, __ATOMIC_RELEASE);
  efd = s->efd;
  s->efd = -1;
  pthread_mutex_unlock(&s->lock);
  if (efd >= 0)
    close(efd);
  pthread_mutex_lock(&usctp_closer.lock);
  usctp_closer.stats.lingering++;
  if (usctp_closer_start() == 0) {
    s->close_next = usctp_closer.head;
    s->close_dirty = 1;
    usctp_closer.head = s;
    usctp_closer.gen++;
    pthread_cond_signal(&usctp_closer.cond);
    pthread_mutex_unlock(&usctp_closer.lock);
    return;
  }
  /* No thread to wait with: the last resort is the close itself. */
  usctp_closer.stats.lingering--;
  usctp_closer.stats.linger_aborted++;
  pthread_mutex_unlock(&usctp_closer.lock);
  if (!abort_now)
    (void)mstls_usctp_abort_so(s->so);
  mstls_usctp_free(s);
}

void mstls_usctp_close(mstls_sctp_sock *s) {
  if (mstls_sctp_usrsctp_is_nothreads() || !mstls_usctp_has_assoc(s))
    mstls_usctp_free(s);
  else
    usctp_hand_over(s, 0);
}

/* ABORT the association, then free the socket -- once it is gone. */
void mstls_usctp_abort(mstls_sctp_sock *s) {
  (void)mstls_usctp_abort_so(s->so);
  if (mstls_sctp_usrsctp_is_nothreads() || !mstls_usctp_has_assoc(s))
    mstls_usctp_free(s);
  else
    usctp_hand_over(s, 1);
}

/* Release: let the closer finish graceful closes for a bounded time and
 * abort the rest. @return 0 once it ended, MSTLS_E_AGAIN if it still
 * holds associations that could not be aborted yet (still being set up):
 * it keeps them, and a later release tries again. */
int mstls_usctp_closer_stop(void) {
  uint64_t until;
  int rc = 0;

  pthread_once(&usctp_closer.once, usctp_closer_init);
  pthread_mutex_lock(&usctp_closer.lock);
  if (usctp_closer.running) {
    usctp_closer.drain_by = mstls_clock_monotonic_ms() + USCTP_RELEASE_WAIT_MS;
    usctp_closer.drained = 0;
    usctp_closer.gen++;
    pthread_cond_signal(&usctp_closer.cond);
    /* Until it ends, or holds only associations still being set up once
     * drain_by has passed: events, whatever the load. The bound is only
     * against a stack that never frees an aborted association. */
    until = usctp_closer.drain_by + USCTP_RELEASE_GUARD_MS;
    while (usctp_closer.running && !usctp_closer.drained &&
           usctp_wait_until(&usctp_closer.done, until) == 0) {
    }
    rc = usctp_closer.running ? MSTLS_E_AGAIN : 0;
    /* What it keeps has its deadline (the closer wrote drain_by into
     * each); later closes get their own linger_ms again. */
    if (rc != 0)
      usctp_closer.drain_by = 0;
  }
  pthread_mutex_unlock(&usctp_closer.lock);
  return rc;
}

int mstls_sctp_usrsctp_get_stats(mstls_sctp_usrsctp_stats *stats) {
  if (stats == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  pthread_mutex_lock(&usctp_closer.lock);
  stats->lingering = usctp_closer.stats.lingering;
  stats->linger_closed = usctp_closer.stats.linger_closed;
  stats->linger_aborted = usctp_closer.stats.linger_aborted;
  pthread_mutex_unlock(&usctp_closer.lock);
  mstls_usctp_udp_stats(stats);
  return 0;
}
