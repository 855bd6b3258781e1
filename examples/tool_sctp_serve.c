/* mstls sctp-server: every association served at once from one event loop.
 *
 * The listener and every association are non-blocking. The loop sleeps in
 * poll() until something is ready or the nearest deadline: kernel SCTP
 * gives pollable fds (listener and associations); usrsctp has none and
 * calls readiness callbacks from its own threads instead, which write the
 * ready association's id into a pipe that the loop polls. Signals write
 * into the same pipe.
 *
 * Slow peers cannot stall the others:
 *  - an association whose streams are not all established within
 *    --handshake-timeout is aborted (a server stream counts as established
 *    only once the client's Finished has been verified);
 *  - beyond --max-assocs a new association is aborted at once;
 *  - echo data queued for a peer that does not read is bounded by
 *    --echo-backlog: beyond it the loop stops reading from that peer, so
 *    SCTP flow control holds the peer back;
 *  - a peer that takes none of its queued data for --stall-timeout is
 *    aborted;
 *  - associations set up but not accepted yet are bounded by --backlog and
 *    by the listener's pending receive buffer (64 KiB each).
 * Each of these is counted; the counters are printed on SIGUSR1 and at
 * exit. SIGHUP reads --fleet-secret (and --cert/--key) again: new
 * associations get the new credentials, running ones keep theirs.
 *
 * --workers N runs this loop in N processes (tool_sctp_workers.c), each
 * with its own listener bound with SO_REUSEPORT: the loop keeps its state
 * in statics (the pipe, the server for the event callback), one per
 * process. A worker reports its counters to the parent instead of
 * printing them, and prefixes its lines with "worker N: ". */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/random.h>

#include <mstls/sctp.h>

#include "tool.h"
#include "tool_sctp.h"

/* Ids written into the wakeup pipe: 0 a signal, 1 the listener, else an
 * association (slot + 2, and a generation so that a late wakeup of a
 * finished association cannot touch the next one in its slot). */
#define TSRV_ID_SIGNAL 0u
#define TSRV_ID_LISTENER 1u
#define TSRV_SLOT_BITS 17
#define TSRV_CHUNK 16384 /* one TLS record of plaintext */
/* Bound of one socket read, above the largest default receive window
 * (usrsctp's 1 MiB), with room for the records' overhead. */
#define TSRV_RX_WINDOW ((size_t)2 << 20)
/* Taking this much of its queued data resets a peer's stall clock, and so
 * does acknowledging TSRV_PROGRESS_CHUNKS DATA chunks (about as much) of
 * what the socket holds for it once the queue is empty, or all of it.
 * Less does not: SCTP's zero-window probes let a peer that never reads
 * take a message now and then. */
#define TSRV_PROGRESS ((size_t)64 << 10)
#define TSRV_PROGRESS_CHUNKS 48u

typedef struct tsrv_chunk {
  struct tsrv_chunk *next;
  uint16_t stream;
  size_t off, len;
  uint8_t data[];
} tsrv_chunk;

/* How an association ended, for the counters. */
typedef enum tsrv_end {
  TSRV_END_COMPLETED = 0,
  TSRV_END_FAILED,
  TSRV_END_HS_TIMEOUT,
  TSRV_END_STALLED
} tsrv_end;

typedef struct tsrv_conn {
  mstls_sctp_assoc *a; /* NULL: free slot */
  uintptr_t id;
  uint32_t gen;
  uint64_t serial;   /* association number printed to the user */
  int ready;         /* readiness signalled since the last service */
  int established;   /* every stream's handshake done */
  int paused;        /* echo backlog full: not reading from the peer */
  int shutdown;      /* our SHUTDOWN is under way */
  int clean;         /* every stream closed in order */
  int stream_failed; /* a stream ended with an error */
  uint32_t nstreams, closed;
  mstls_tstamp hs_deadline;
  mstls_tstamp progress; /* last time the peer took TSRV_PROGRESS bytes */
  size_t taken;          /* bytes the peer took since then */
  uint32_t outstanding;  /* DATA chunks the peer has not acknowledged */
  uint32_t out_mark;     /* outstanding when the echo queue last drained */
  tsrv_chunk *head, *tail;
  size_t queued; /* bytes in the echo queue */
} tsrv_conn;

typedef struct tsrv {
  const tsctp_opts *o;
  mstls_sctp_listener *l;
  mstls_credentials *cred;
  mstls_settings st;
  tsrv_conn *conns; /* max_assocs slots */
  uint32_t live;
  uint64_t serial;
  int listener_ready;
  int lfd; /* kernel listener fd, -1 for usrsctp */
  tsctp_counters n;
  unsigned worker; /* 1..N in a worker process, 0 alone */
  int report_fd;   /* a worker's pipe to the parent, else -1 */
  char tag[32];    /* "worker N: " before a worker's lines, else "" */
  struct pollfd *pfd;
  uint32_t *pslot; /* slot of pfd[i], for the association fds */
  uint8_t *buf;
} tsrv;

static int tsrv_pipe[2] = {-1, -1};
/* The server of this process (one per process, like the pipe), for the
 * event callback, which has only the association and its id. */
static tsrv *tsrv_self;
/* The pipe was full: some readiness went unsaid, look at everything. */
static atomic_int tsrv_overflow;
static volatile sig_atomic_t tsrv_sig_stop, tsrv_sig_stats, tsrv_sig_reload;

static mstls_tstamp tsrv_now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (mstls_tstamp)ts.tv_sec * MSTLS_SECONDS + (mstls_tstamp)ts.tv_nsec;
}

/* May run on a usrsctp thread or in a signal handler: write() only. A
 * write of 8 bytes into a pipe is atomic, so the reader sees whole ids. */
static void tsrv_wake(uintptr_t id) {
  uint64_t v = id;
  int saved = errno;

  if (write(tsrv_pipe[1], &v, sizeof(v)) != (ssize_t)sizeof(v))
    atomic_store(&tsrv_overflow, 1);
  errno = saved;
}

static void tsrv_on_signal(int sig) {
  if (sig == SIGUSR1)
    tsrv_sig_stats = 1;
  else if (sig == SIGHUP)
    tsrv_sig_reload = 1;
  else
    tsrv_sig_stop = 1;
  tsrv_wake(TSRV_ID_SIGNAL);
}

static void tsrv_assoc_ready(mstls_sctp_assoc *a, void *user_data) {
  (void)a;
  tsrv_wake((uintptr_t)user_data);
}

static void tsrv_listener_ready(mstls_sctp_listener *l, void *user_data) {
  (void)l;
  (void)user_data;
  tsrv_wake(TSRV_ID_LISTENER);
}

static int tsrv_setup_wakeup(void) {
  struct sigaction sa;
  int i;

  if (pipe(tsrv_pipe) != 0)
    return -1;
  for (i = 0; i < 2; i++) {
    int fl = fcntl(tsrv_pipe[i], F_GETFL);
    if (fl < 0 || fcntl(tsrv_pipe[i], F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(tsrv_pipe[i], F_SETFD, FD_CLOEXEC) < 0)
      return -1;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = tsrv_on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  /* A worker process starts with them blocked (tool_sctp_workers.c):
   * they may come now. */
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaddset(&sa.sa_mask, SIGUSR1);
  sigaddset(&sa.sa_mask, SIGHUP);
  sigprocmask(SIG_UNBLOCK, &sa.sa_mask, NULL);
  return 0;
}

void tool_sctp_print_counters(const tsctp_counters *n, const char *when) {
  printf("counters (%s): accepted %llu, refused %llu, handshake timeouts "
         "%llu, stalls aborted %llu, echo backlog full %llu, completed %llu, "
         "failed %llu, bytes in %llu, bytes out %llu, live %u\n",
         when, (unsigned long long)n->accepted, (unsigned long long)n->refused,
         (unsigned long long)n->hs_timeouts, (unsigned long long)n->stalls,
         (unsigned long long)n->backlog_full, (unsigned long long)n->completed,
         (unsigned long long)n->failed, (unsigned long long)n->bytes_in,
         (unsigned long long)n->bytes_out, n->live);
  fflush(stdout);
}

/* The counters: printed, or in a worker sent to the parent, which sums
 * and prints them. */
static void tsrv_print_counters(tsrv *sv, const char *when,
                                tsctp_report_kind kind) {
  tsctp_report r;

  sv->n.live = sv->live;
  if (sv->report_fd < 0) {
    mstls_sctp_usrsctp_stats us;

    tool_sctp_print_counters(&sv->n, when);
    /* Associations this process deleted while still up, closing in the
     * background (mstls_sctp_config.linger_ms). */
    if (sv->o->backend == MSTLS_SCTP_BACKEND_USRSCTP &&
        mstls_sctp_usrsctp_get_stats(&us) == 0) {
      printf("closing in the background (%s): now %llu, closed %llu, "
             "aborted %llu\n",
             when, (unsigned long long)us.lingering,
             (unsigned long long)us.linger_closed,
             (unsigned long long)us.linger_aborted);
      /* Packets lost at usrsctp's UDP socket before SCTP saw them. */
      printf("usrsctp UDP (%s): receive buffer %llu, dropped %llu\n", when,
             (unsigned long long)us.udp_rcvbuf,
             (unsigned long long)us.udp_drops);
      fflush(stdout);
    }
    return;
  }
  memset(&r, 0, sizeof(r));
  r.kind = kind;
  r.n = sv->n;
  /* Whole or not at all (sizeof(r) < PIPE_BUF); a parent that is gone
   * does not read it anyway. */
  (void)!write(sv->report_fd, &r, sizeof(r));
}

static const char *tsrv_end_name(tsrv_end e) {
  switch (e) {
  case TSRV_END_COMPLETED:
    return "all streams closed";
  case TSRV_END_HS_TIMEOUT:
    return "handshake timeout";
  case TSRV_END_STALLED:
    return "peer takes no data";
  case TSRV_END_FAILED:
  default:
    return "failed";
  }
}

/* Free the association and its slot, and count how it ended. @p err is
 * the error that ended it (0 when there is none to show). */
static void tsrv_end_conn(tsrv *sv, tsrv_conn *c, tsrv_end how, int err) {
  tsrv_chunk *k;

  switch (how) {
  case TSRV_END_COMPLETED:
    sv->n.completed++;
    break;
  case TSRV_END_HS_TIMEOUT:
    sv->n.hs_timeouts++;
    break;
  case TSRV_END_STALLED:
    sv->n.stalls++;
    break;
  case TSRV_END_FAILED:
  default:
    sv->n.failed++;
    break;
  }
  if (how != TSRV_END_COMPLETED)
    mstls_sctp_assoc_abort(c->a);
  printf("%sassociation %llu closed (%s%s%s)\n", sv->tag,
         (unsigned long long)c->serial, tsrv_end_name(how),
         err != 0 ? ": " : "", err != 0 ? mstls_strerror(err) : "");
  fflush(stdout);
  mstls_sctp_assoc_del(c->a);
  while ((k = c->head) != NULL) {
    c->head = k->next;
    free(k);
  }
  c->a = NULL;
  c->tail = NULL;
  c->queued = 0;
  sv->live--;
  if (sv->o->once)
    tsrv_sig_stop = 1;
}

static void tsrv_up(const tsrv *sv, tsrv_conn *c) {
  mstls_session *s = mstls_sctp_assoc_get_session(c->a);
  uint32_t n = mstls_session_get_nstreams(s), i, resumed = 0;
  uint16_t in = 0, out = 0;
  char more[32] = "";

  (void)mstls_sctp_assoc_get_streams(c->a, &in, &out);
  for (i = 0; i < n; i++) {
    mstls_stream_info info;
    if (mstls_stream_get_info(s, (uint16_t)i, &info) == 0 && info.resumed)
      resumed++;
  }
  /* Streams that resumed a session: stream 0's within the association
   * (RESUME policy), or one of an earlier association (RFC 3436 §8), with
   * a fleet secret possibly one that another worker or server served. */
  if (resumed > 0)
    snprintf(more, sizeof(more), " (%u resumed)", resumed);
  printf("%sassociation %llu up over %s: streams in %u, out %u -> %u TLS "
         "streams established%s\n",
         sv->tag, (unsigned long long)c->serial,
         mstls_sctp_assoc_get_backend(c->a) == MSTLS_SCTP_BACKEND_KERNEL
             ? "kernel SCTP"
             : "usrsctp (UDP encapsulation)",
         in, out, n, more);
  fflush(stdout);
}

/* Path events (the notifications are handled in mstls_sctp_assoc_process()
 * and mstls_sctp_accept(), on the loop's thread): one line each, with the
 * association's number once it has a slot. The association's own ends are
 * said by tsrv_end_conn, its start by tsrv_up. */
static void tsrv_event(mstls_sctp_assoc *a, mstls_sctp_event ev,
                       uint16_t stream, int error, void *user_data) {
  uintptr_t id = (uintptr_t)user_data;
  uintptr_t slot = id & ((1u << TSRV_SLOT_BITS) - 1u);
  const char *what = tool_sctp_path_event(ev);
  char addr[MSTLS_SCTP_ADDR_TEXT];
  const tsrv_conn *c = NULL;

  (void)stream;
  (void)error;
  if (what == NULL || tsrv_self == NULL ||
      mstls_sctp_assoc_get_event_addr(a, NULL, addr, sizeof(addr)) != 0)
    return;
  if (slot >= 2 && slot - 2 < tsrv_self->o->max_assocs)
    c = &tsrv_self->conns[slot - 2];
  if (c != NULL && c->a == a)
    printf("%sassociation %llu: path %s %s\n", tsrv_self->tag,
           (unsigned long long)c->serial, addr, what);
  else
    printf("%snew association: path %s %s\n", tsrv_self->tag, addr, what);
  fflush(stdout);
}

/* Accept until nobody waits. Beyond --max-assocs an association is
 * aborted at once: it never gets a slot. */
static void tsrv_accept(tsrv *sv, mstls_tstamp now) {
  for (;;) {
    mstls_sctp_assoc *a = NULL;
    tsrv_conn *c = NULL;
    uintptr_t id = 0;
    uint32_t i;
    int rc;

    if (sv->live < sv->o->max_assocs) {
      for (i = 0; i < sv->o->max_assocs; i++)
        if (sv->conns[i].a == NULL)
          break;
      c = &sv->conns[i];
      id = ((uintptr_t)(c->gen + 1) << TSRV_SLOT_BITS) | (uintptr_t)(i + 2);
    }
    rc = mstls_sctp_accept(sv->l, &a, &sv->st, NULL, sv->cred, (void *)id);
    if (rc == MSTLS_E_AGAIN)
      return;
    if (rc != 0) {
      /* The accept failed for this association only (its socket, its
       * memory); the listener goes on. */
      fprintf(stderr, "mstls: %saccept: %s\n", sv->tag, mstls_strerror(rc));
      continue;
    }
    if (c == NULL) {
      sv->n.refused++;
      mstls_sctp_assoc_abort(a);
      mstls_sctp_assoc_del(a);
      continue;
    }
    memset(c, 0, sizeof(*c));
    c->a = a;
    c->id = id;
    c->gen = (uint32_t)(id >> TSRV_SLOT_BITS);
    c->serial = ++sv->serial;
    c->ready = 1; /* what arrived before the callback was set */
    c->hs_deadline = now + sv->o->handshake_timeout_ms * MSTLS_MILLISECONDS;
    c->progress = now;
    sv->live++;
    sv->n.accepted++;
  }
}

static int tsrv_queue(tsrv_conn *c, uint16_t k, const uint8_t *d, size_t n) {
  tsrv_chunk *ch = malloc(sizeof(*ch) + n);

  if (ch == NULL)
    return MSTLS_E_NOMEM;
  ch->next = NULL;
  ch->stream = k;
  ch->off = 0;
  ch->len = n;
  memcpy(ch->data, d, n);
  if (c->tail != NULL)
    c->tail->next = ch;
  else
    c->head = ch;
  c->tail = ch;
  c->queued += n;
  return 0;
}

/* Echo what is queued until done or the socket is full. A send that
 * returned MSTLS_E_AGAIN is repeated with the same bytes. @return 0 or a
 * stream's error. */
static int tsrv_flush(tsrv *sv, tsrv_conn *c, mstls_session *s,
                      mstls_tstamp now) {
  tsrv_chunk *ch;

  while ((ch = c->head) != NULL) {
    long n =
        mstls_stream_send(s, ch->stream, ch->data + ch->off, ch->len - ch->off);
    if (n == MSTLS_E_AGAIN)
      return 0; /* the room to wait for is in tsrv_events() */
    if (n < 0)
      return (int)n;
    sv->n.bytes_out += (uint64_t)n;
    c->queued -= (size_t)n;
    c->taken += (size_t)n;
    if (c->taken >= TSRV_PROGRESS) {
      c->progress = now;
      c->taken = 0;
    }
    ch->off += (size_t)n;
    if (ch->off == ch->len) {
      c->head = ch->next;
      if (c->head == NULL)
        c->tail = NULL;
      free(ch);
    }
  }
  return 0;
}

/* Read what the session has: echo it (bounded by --echo-backlog) or print
 * it. @return 0 or an error that ends the association. */
static int tsrv_read(tsrv *sv, tsrv_conn *c, mstls_session *s,
                     mstls_tstamp now) {
  for (;;) {
    uint16_t k = 0;
    long r;

    if (sv->o->echo && c->queued >= sv->o->echo_backlog) {
      /* Stop reading: SCTP flow control now holds the peer back. */
      if (!c->paused)
        sv->n.backlog_full++;
      c->paused = 1;
      return 0;
    }
    r = mstls_session_recv_any(s, &k, sv->buf, TSRV_CHUNK);
    if (r == MSTLS_E_AGAIN)
      return 0;
    if (r == 0) {
      c->closed++;
      continue;
    }
    if (r < 0) {
      /* One stream's failure is its own (RFC 3436 stream isolation);
       * only a session error ends the association. */
      int se = mstls_session_get_error(s);
      /* MSTLS_E_CLOSED: the association ended in order (see the caller). */
      if (se == MSTLS_E_CLOSED)
        return 0;
      if (se != 0)
        return se;
      c->closed++;
      /* The association's orderly end closes the streams whose
       * close_notify had not come: that is no failure. */
      if (r == MSTLS_E_CLOSED)
        continue;
      c->stream_failed = 1;
      fprintf(stderr, "%sassociation %llu stream %u: %s\n", sv->tag,
              (unsigned long long)c->serial, k, mstls_strerror((int)r));
      continue;
    }
    sv->n.bytes_in += (uint64_t)r;
    if (!sv->o->echo) {
      printf("%s[%llu stream %u] %.*s", sv->tag, (unsigned long long)c->serial,
             k, (int)r, (const char *)sv->buf);
      if (sv->buf[r - 1] != '\n')
        printf("\n");
      fflush(stdout);
      continue;
    }
    if (c->queued == 0) {
      c->progress = now; /* the stall clock starts with queued data */
      c->taken = 0;
    }
    if (tsrv_queue(c, k, sv->buf, (size_t)r) != 0)
      return MSTLS_E_NOMEM;
  }
}

/* Data waits for the peer to take it: in the echo queue, in the socket,
 * or the end of our SHUTDOWN. */
static int tsrv_waits_on_peer(const tsrv_conn *c) {
  return c->head != NULL || c->outstanding > 0 || c->shutdown;
}

/* Once the echo queue is empty the data may still wait in the socket for
 * a peer that does not read: follow what SCTP has not had acknowledged.
 * Nothing is added to it while the queue is empty, so it only falls. */
static void tsrv_track_socket(const tsrv *sv, tsrv_conn *c, mstls_tstamp now) {
  uint32_t o = 0;

  if (!sv->o->echo || !c->established)
    return;
  if (c->head != NULL) {
    c->out_mark = 0;
    return;
  }
  if (mstls_sctp_assoc_get_outstanding(c->a, &o) != 0)
    o = 0;
  c->outstanding = o;
  if (o == 0) {
    c->progress = now; /* the peer took everything */
    c->taken = 0;
    c->out_mark = 0;
  } else if (c->out_mark == 0 || o > c->out_mark) {
    c->out_mark = o;
  } else if (o + TSRV_PROGRESS_CHUNKS <= c->out_mark) {
    c->progress = now;
    c->out_mark = o;
  }
}

/* The session holds an echo backlog's worth of received data already:
 * read that first. Reading the socket now would move a whole receive
 * window more into the session and open SCTP's window to the peer. */
static int tsrv_session_full(const tsrv *sv, const tsrv_conn *c) {
  mstls_session_stats st;
  mstls_session *s = mstls_sctp_assoc_get_session(c->a);

  if (!sv->o->echo || s == NULL || !c->established ||
      mstls_session_get_stats(s, &st) != 0)
    return 0;
  return st.rx_buffered >= sv->o->echo_backlog;
}

/* Run one association: read, handshake, echo, close, deadlines. Frees it
 * when it ended. */
static void tsrv_service(tsrv *sv, tsrv_conn *c, mstls_tstamp now) {
  mstls_session *s;
  int rc = 0, hs, skipped = 0;

  c->ready = 0;
  if (c->paused && c->queued < sv->o->echo_backlog)
    c->paused = 0;
  if (!c->paused && !tsrv_session_full(sv, c))
    rc = mstls_sctp_assoc_process(c->a);
  else
    skipped = 1;
  s = mstls_sctp_assoc_get_session(c->a);
  if (s != NULL && mstls_session_get_expiry(s) <= now) {
    int e = mstls_session_handle_expiry(s, now);
    if (e != 0 && rc == 0)
      rc = e;
  }
  if (s != NULL && !c->established && (rc == 0 || rc == MSTLS_E_CLOSED)) {
    /* 0 only once every stream is established: a server stream is, after
     * the client's Finished was verified. Asked after an orderly end too:
     * a peer that shuts down the moment its handshakes finish ends the
     * association in the call that completed them, and they did. */
    hs = mstls_session_handshake(s);
    if (rc == 0)
      rc = mstls_session_get_error(s); /* it may have ended in this call */
    if (hs == MSTLS_E_AGAIN && rc != 0)
      hs = rc;
    if (hs == MSTLS_E_TIMEOUT) {
      tsrv_end_conn(sv, c, TSRV_END_HS_TIMEOUT, hs);
      return;
    }
    if (hs != 0 && hs != MSTLS_E_AGAIN) {
      tsrv_end_conn(sv, c, TSRV_END_FAILED, hs);
      return;
    }
    if (hs == 0) {
      c->established = 1;
      c->nstreams = mstls_session_get_nstreams(s);
      tsrv_up(sv, c);
    }
  }
  if (!c->established) {
    if (rc != 0) {
      tsrv_end_conn(sv, c, TSRV_END_FAILED, rc);
      return;
    }
    if (now >= c->hs_deadline)
      tsrv_end_conn(sv, c, TSRV_END_HS_TIMEOUT, 0);
    return;
  }
  if (!c->paused) {
    int e = tsrv_read(sv, c, s, now);
    if (e != 0) {
      tsrv_end_conn(sv, c, TSRV_END_FAILED, e);
      return;
    }
  }
  if (rc == 0 && c->head != NULL) {
    int e = tsrv_flush(sv, c, s, now);
    if (e != 0) {
      tsrv_end_conn(sv, c, TSRV_END_FAILED, e);
      return;
    }
    /* Room again: read what was held back. */
    if (c->paused && c->queued < sv->o->echo_backlog) {
      c->paused = 0;
      c->ready = 1;
    }
  }
  if (c->closed >= c->nstreams && c->head == NULL && !c->stream_failed)
    c->clean = 1;
  if (rc == MSTLS_E_CLOSED) {
    /* An orderly SCTP shutdown is success (a stream that failed is not). */
    tsrv_end_conn(sv, c,
                  c->stream_failed ? TSRV_END_FAILED : TSRV_END_COMPLETED, 0);
    return;
  }
  if (rc != 0) {
    /* The peer closed every stream with close_notify and took all its
     * echo, then vanished before the SCTP shutdown finished (its last
     * SHUTDOWN COMPLETE lost after it exited): nothing was lost. */
    if (c->clean && rc == MSTLS_E_PEER_GONE)
      tsrv_end_conn(sv, c, TSRV_END_COMPLETED, 0);
    else
      tsrv_end_conn(sv, c, TSRV_END_FAILED, rc);
    return;
  }
  if (c->clean && !c->shutdown) {
    int e = mstls_sctp_assoc_shutdown(c->a);
    if (e == 0) {
      c->shutdown = 1;
      c->progress = now; /* the stall clock bounds the close too */
    } else if (e != MSTLS_E_AGAIN) {
      /* Every stream closed in order: the peer is done with us. */
      tsrv_end_conn(sv, c, TSRV_END_COMPLETED, 0);
      return;
    }
  }
  tsrv_track_socket(sv, c, now);
  /* The socket was left unread while the session was full: its readiness
   * was signalled once and will not be again, so come back to it as soon
   * as reading is allowed. */
  if (skipped && !c->paused)
    c->ready = 1;
  if (tsrv_waits_on_peer(c) &&
      now - c->progress >= sv->o->stall_timeout_ms * MSTLS_MILLISECONDS)
    tsrv_end_conn(sv, c,
                  c->head != NULL || c->outstanding > 0 ? TSRV_END_STALLED
                                                        : TSRV_END_COMPLETED,
                  0);
}

/* The nearest deadline of an association, or MSTLS_TSTAMP_NEVER. */
static mstls_tstamp tsrv_deadline(const tsrv *sv, const tsrv_conn *c) {
  mstls_session *s = mstls_sctp_assoc_get_session(c->a);
  mstls_tstamp d = MSTLS_TSTAMP_NEVER, e;

  if (!c->established)
    d = c->hs_deadline;
  if (s != NULL && (e = mstls_session_get_expiry(s)) < d)
    d = e;
  if (tsrv_waits_on_peer(c)) {
    e = c->progress + sv->o->stall_timeout_ms * MSTLS_MILLISECONDS;
    if (e < d)
      d = e;
  }
  return d;
}

/* The events to poll an association's fd for: the library's
 * (mstls_sctp_assoc_get_events(): POLLIN, and with kernel SCTP POLLOUT
 * while the session keeps a record, a flight or a close_notify for want
 * of room), without POLLIN while paused, since the fd stays readable as
 * long as the socket holds messages left unread. With usrsctp that leaves
 * nothing to poll the fd for while paused (its eventfd is always
 * writable, so POLLOUT would return at once, every time): the ready
 * callback, through the pipe, wakes the server on every upcall of the
 * stack, room freed by the peer's acknowledgements included. */
static short tsrv_events(const tsrv_conn *c) {
  int ev = mstls_sctp_assoc_get_events(c->a);

  return (short)(c->paused ? ev & ~POLLIN : ev);
}

/* Read the ids in the pipe and mark what they name ready. */
static void tsrv_drain(tsrv *sv) {
  uint64_t ids[256];
  ssize_t n;

  while ((n = read(tsrv_pipe[0], ids, sizeof(ids))) > 0) {
    size_t i;
    for (i = 0; i < (size_t)n / sizeof(ids[0]); i++) {
      uint64_t slot = (ids[i] & ((1u << TSRV_SLOT_BITS) - 1u));
      tsrv_conn *c;
      if (ids[i] == TSRV_ID_LISTENER) {
        sv->listener_ready = 1;
        continue;
      }
      if (slot < 2 || slot - 2 >= sv->o->max_assocs)
        continue;
      c = &sv->conns[slot - 2];
      if (c->a != NULL && c->id == (uintptr_t)ids[i])
        c->ready = 1;
    }
  }
}

/* One round: wait for readiness or the nearest deadline, then serve what
 * is ready or due. */
static int tsrv_round(tsrv *sv) {
  mstls_tstamp now = tsrv_now(), next = MSTLS_TSTAMP_NEVER;
  nfds_t np = 0, i;
  int timeout = -1, n;
  uint32_t k;

  sv->pfd[np].fd = tsrv_pipe[0];
  sv->pfd[np].events = POLLIN;
  np++;
  if (sv->lfd >= 0) {
    sv->pfd[np].fd = sv->lfd;
    sv->pfd[np].events = POLLIN;
    np++;
  }
  for (k = 0; k < sv->o->max_assocs; k++) {
    tsrv_conn *c = &sv->conns[k];
    mstls_tstamp d;
    int fd;
    if (c->a == NULL)
      continue;
    if (c->ready)
      next = 0;
    d = tsrv_deadline(sv, c);
    if (d < next)
      next = d;
    fd = mstls_sctp_assoc_get_fd(c->a);
    if (fd < 0)
      continue;
    sv->pfd[np].fd = fd;
    sv->pfd[np].events = tsrv_events(c);
    sv->pslot[np] = k;
    np++;
  }
  if (sv->listener_ready)
    next = 0;
  if (next != MSTLS_TSTAMP_NEVER) {
    mstls_tstamp ms = next <= now ? 0
                                  : (next - now + MSTLS_MILLISECONDS - 1) /
                                        MSTLS_MILLISECONDS;
    timeout = ms > 3600000 ? 3600000 : (int)ms;
  }
  for (i = 0; i < np; i++)
    sv->pfd[i].revents = 0;
  n = poll(sv->pfd, np, timeout);
  if (n < 0 && errno != EINTR) {
    fprintf(stderr, "mstls: poll: %s\n", strerror(errno));
    return -1;
  }
  tsrv_drain(sv);
  if (atomic_exchange(&tsrv_overflow, 0)) {
    sv->listener_ready = 1;
    for (k = 0; k < sv->o->max_assocs; k++)
      sv->conns[k].ready = 1;
  }
  for (i = 1; n > 0 && i < np; i++) {
    if (sv->pfd[i].revents == 0)
      continue;
    if (sv->pfd[i].fd == sv->lfd && sv->lfd >= 0 && i == 1) {
      sv->listener_ready = 1;
      continue;
    }
    sv->conns[sv->pslot[i]].ready = 1;
  }
  now = tsrv_now();
  if (sv->listener_ready && !tsrv_sig_stop) {
    sv->listener_ready = 0;
    tsrv_accept(sv, now);
  }
  for (k = 0; k < sv->o->max_assocs; k++) {
    tsrv_conn *c = &sv->conns[k];
    if (c->a == NULL)
      continue;
    if (c->ready || tsrv_deadline(sv, c) <= now)
      tsrv_service(sv, c, now);
  }
  return 0;
}

/* --keylog FILE of the server (opened once; the workers write whole
 * lines to it, in append mode). */
static FILE *tsrv_keylog;

static int tsrv_init(tsrv *sv, const tsctp_opts *o,
                     const mstls_tls_options *tls, mstls_credentials *cred,
                     unsigned worker, int report_fd) {
  size_t nfd = (size_t)o->max_assocs + 2;

  memset(sv, 0, sizeof(*sv));
  sv->o = o;
  sv->lfd = -1;
  sv->cred = mstls_credentials_ref(cred);
  sv->worker = worker;
  sv->report_fd = report_fd;
  if (worker > 0)
    snprintf(sv->tag, sizeof(sv->tag), "worker %u: ", worker);
  sv->conns = calloc(o->max_assocs, sizeof(*sv->conns));
  sv->pfd = calloc(nfd, sizeof(*sv->pfd));
  sv->pslot = calloc(nfd, sizeof(*sv->pslot));
  sv->buf = malloc(TSRV_CHUNK);
  if (sv->conns == NULL || sv->pfd == NULL || sv->pslot == NULL ||
      sv->buf == NULL) {
    fprintf(stderr, "mstls: out of memory\n");
    return -1;
  }
  mstls_settings_default(&sv->st);
  sv->st.nstreams = o->streams;
  sv->st.handshake_timeout = o->handshake_timeout_ms * MSTLS_MILLISECONDS;
  /* Received data waiting in a session: at most the echo backlog plus
   * one read of the socket (its receive window, 1 MiB for usrsctp). */
  sv->st.stream_rx_cap = (size_t)o->echo_backlog + TSRV_RX_WINDOW;
  sv->st.session_rx_budget = sv->st.stream_rx_cap;
  sv->st.tls = *tls;
  return 0;
}

/* At exit: the associations still served are aborted (the exit counters,
 * printed before, show them as live). */
static void tsrv_free(tsrv *sv) {
  uint32_t k;

  for (k = 0; sv->conns != NULL && k < sv->o->max_assocs; k++) {
    tsrv_conn *c = &sv->conns[k];
    tsrv_chunk *ch;
    if (c->a == NULL)
      continue;
    mstls_sctp_assoc_abort(c->a);
    mstls_sctp_assoc_del(c->a);
    while ((ch = c->head) != NULL) {
      c->head = ch->next;
      free(ch);
    }
  }
  mstls_sctp_listener_del(sv->l);
  mstls_credentials_del(sv->cred);
  free(sv->conns);
  free(sv->pfd);
  free(sv->pslot);
  free(sv->buf);
}

/* The server's credentials: --cert/--key or a self-signed certificate,
 * the --psk and --rawpk keys, and the ticket key of @p fleet (NULL: their
 * own random one). 0 or -1 (printed). */
static int tsrv_credentials(const tsctp_opts *o, const mstls_fleet *fleet,
                            mstls_credentials **pcred) {
  *pcred = NULL;
  if (tool_server_credentials(pcred, o->cert, o->key, o->name) < 0 ||
      tool_tls_add_psk(&o->tls, *pcred) < 0) {
    mstls_credentials_del(*pcred);
    *pcred = NULL;
    return -1;
  }
  if (fleet != NULL)
    (void)mstls_credentials_set_fleet(*pcred, fleet);
  return 0;
}

/* The fleet keys: --fleet-secret FILE, else with several workers one
 * random secret for all of them, else none (the credentials' own random
 * ticket key). @p id gets what the listening line says of it. 0 or -1
 * (printed). */
static int tsrv_fleet(const tsctp_opts *o, mstls_fleet **pfleet, char *id,
                      size_t idlen) {
  uint8_t secret[MSTLS_FLEET_SECRET_MIN];
  char err[512];

  *pfleet = NULL;
  snprintf(id, idlen, "-");
  if (o->fleet_secret != NULL) {
    if (mstls_fleet_load(pfleet, o->fleet_secret, NULL, err, sizeof(err)) < 0) {
      fprintf(stderr, "mstls: --fleet-secret %s\n", err);
      return -1;
    }
    (void)mstls_fleet_get_id(*pfleet, id, idlen);
    return 0;
  }
  if (o->workers <= 1)
    return 0;
  if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret) ||
      mstls_fleet_new(pfleet, secret, sizeof(secret), NULL) < 0) {
    fprintf(stderr, "mstls: no random fleet secret\n");
    return -1;
  }
  memset(secret, 0, sizeof(secret));
  snprintf(id, idlen, "random");
  return 0;
}

/* SIGHUP: load --fleet-secret again and make new credentials with its
 * ticket key for the associations accepted from now on (credentials in
 * use are never changed: each session holds its own reference). A file
 * that does not load is reported and the keys in use stay. */
static void tsrv_reload(tsrv *sv) {
  const tsctp_opts *o = sv->o;
  char err[512], id[MSTLS_FLEET_ID_SIZE], who[48] = "";
  mstls_fleet *fleet = NULL;
  mstls_credentials *cred = NULL;

  if (sv->worker > 0)
    snprintf(who, sizeof(who), " (worker %u)", sv->worker);
  if (o->fleet_secret == NULL) {
    fprintf(stderr,
            "mstls sctp-server%s: SIGHUP: no --fleet-secret to read "
            "again\n",
            who);
    return;
  }
  if (mstls_fleet_load(&fleet, o->fleet_secret, NULL, err, sizeof(err)) < 0) {
    fprintf(stderr,
            "mstls sctp-server%s: SIGHUP: --fleet-secret %s; the keys in "
            "use stay\n",
            who, err);
    return;
  }
  if (tsrv_credentials(o, fleet, &cred) < 0) {
    fprintf(stderr, "mstls sctp-server%s: SIGHUP: the keys in use stay\n", who);
    mstls_fleet_del(fleet);
    return;
  }
  (void)mstls_fleet_get_id(fleet, id, sizeof(id));
  mstls_fleet_del(fleet);
  mstls_credentials_del(sv->cred);
  sv->cred = cred;
  fprintf(stderr,
          "mstls sctp-server%s: SIGHUP: fleet secret read again (fleet "
          "%s)\n",
          who, id);
}

/* Listen and serve until SIGINT/SIGTERM (or --once). @p worker 0: the
 * one loop of the process; 1..N: worker N, reporting to @p report_fd.
 * Exit code. */
static int tsrv_run(const tsctp_opts *o, const mstls_tls_options *tls,
                    mstls_credentials *cred, unsigned worker, int report_fd,
                    const char *fleet_id) {
  mstls_sctp_config cfg;
  tsrv sv;
  int rv = 1;

  if (tsrv_setup_wakeup() < 0) {
    fprintf(stderr, "mstls: pipe: %s\n", strerror(errno));
    return 1;
  }
  if (tsrv_init(&sv, o, tls, cred, worker, report_fd) < 0)
    goto out;
  if (tool_sctp_stack(o) < 0)
    goto out;
  tool_sctp_config(&cfg, o);
  cfg.blocking = 0;
  cfg.ready = tsrv_assoc_ready;
  cfg.event = tsrv_event;
  tsrv_self = &sv;
  cfg.backlog = o->backlog;
  /* Workers share the port: the kernel spreads new associations over
   * their listeners. One listener alone binds without SO_REUSEPORT, so
   * that a second server on the port fails instead of sharing it. */
  cfg.reuseport = o->workers > 1;
  /* Until accepted, an association's window is this small receive
   * buffer (usrsctp): backlog x 64 KiB is all that unaccepted peers can
   * make the server hold. */
  cfg.pending_recv_buffer = MSTLS_SCTP_DEFAULT_PENDING_RECV_BUFFER;
  rv = mstls_sctp_listen(&sv.l, &cfg, o->host, o->port);
  if (rv < 0) {
    if (rv == MSTLS_E_TRANSPORT && o->host != NULL)
      fprintf(stderr,
              "mstls: %slisten: %s (is every --listen address one of this "
              "host's, and the port free?)\n",
              sv.tag, mstls_strerror(rv));
    else if (rv == MSTLS_E_TRANSPORT && worker > 0)
      fprintf(stderr,
              "mstls: %slisten: %s (is the port used by a server without "
              "--workers?)\n",
              sv.tag, mstls_strerror(rv));
    else
      fprintf(stderr, "mstls: %slisten: %s\n", sv.tag, mstls_strerror(rv));
    rv = 1;
    goto release;
  }
  sv.lfd = mstls_sctp_listener_get_fd(sv.l);
  if (sv.lfd < 0)
    (void)mstls_sctp_listener_set_ready(sv.l, tsrv_listener_ready, NULL);
  sv.listener_ready = 1; /* peers that came before the callback */
  if (worker > 0) {
    tsctp_report r;
    memset(&r, 0, sizeof(r));
    r.kind = TSCTP_REPORT_LISTENING;
    (void)!write(report_fd, &r, sizeof(r));
  } else {
    printf("listening on %s:%u (%s, profile %s%s%s)\n", o->host ? o->host : "*",
           o->port,
           o->backend == MSTLS_SCTP_BACKEND_KERNEL ? "kernel SCTP" : "usrsctp",
           o->tune.profile == TSCTP_PROFILE_FAILOVER ? "failover" : "default",
           o->fleet_secret != NULL ? ", fleet " : "",
           o->fleet_secret != NULL ? fleet_id : "");
    fflush(stdout);
  }
  rv = 0;
  while (!tsrv_sig_stop) {
    if (tsrv_sig_stats) {
      tsrv_sig_stats = 0;
      tsrv_print_counters(&sv, "SIGUSR1", TSCTP_REPORT_SIGUSR1);
    }
    if (tsrv_sig_reload) {
      tsrv_sig_reload = 0;
      tsrv_reload(&sv);
    }
    if (tsrv_round(&sv) < 0) {
      rv = 1;
      break;
    }
  }
  if (sv.lfd < 0)
    (void)mstls_sctp_listener_set_ready(sv.l, NULL, NULL);
  tsrv_print_counters(&sv, "exit", TSCTP_REPORT_EXIT);
release:
  tsrv_self = NULL;
  tsrv_free(&sv);
  if (o->backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  close(tsrv_pipe[0]);
  close(tsrv_pipe[1]);
  return rv;
out:
  tsrv_free(&sv);
  close(tsrv_pipe[0]);
  close(tsrv_pipe[1]);
  return rv;
}

/* The TLS options of the command line, applied once per process tree. */
static mstls_tls_options tsrv_tls;

int tool_sctp_serve_worker(const tsctp_opts *o, mstls_credentials *cred,
                           unsigned index, int report_fd) {
  return tsrv_run(o, &tsrv_tls, cred, index, report_fd, NULL);
}

int tool_sctp_serve(const tsctp_opts *o) {
  mstls_credentials *cred = NULL;
  mstls_fleet *fleet = NULL;
  char fleet_id[MSTLS_FLEET_ID_SIZE];
  mstls_settings st;
  int rv;

  /* Everything that can be wrong with the files is said once, before
   * any worker starts. */
  mstls_settings_default(&st);
  if (tool_tls_apply(&o->tls, &st.tls, &tsrv_keylog) < 0)
    return 1;
  tsrv_tls = st.tls;
  if (tsrv_fleet(o, &fleet, fleet_id, sizeof(fleet_id)) < 0 ||
      tsrv_credentials(o, fleet, &cred) < 0) {
    mstls_fleet_del(fleet);
    tool_tls_close(&tsrv_keylog);
    return 1;
  }
  mstls_fleet_del(fleet); /* the credentials keep the ticket key */
  if (o->workers > 1)
    rv = tool_sctp_workers(o, cred, fleet_id);
  else
    rv = tsrv_run(o, &tsrv_tls, cred, 0, -1, fleet_id);
  mstls_credentials_del(cred);
  tool_tls_close(&tsrv_keylog);
  return rv;
}
