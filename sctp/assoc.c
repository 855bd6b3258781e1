/* An SCTP association carrying a multistream TLS session: the glue between
 * a backend socket (usrsctp.c or kernel.c) and the sans-IO core. */
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "clock.h"
#include "log.h"
#include "mem.h"

/* Slack above max_message in the reassembly buffer: a read that crosses
 * max_message proves the message too large without a second buffer, and
 * notifications always have room. */
#define ASSOC_SLACK 65536

/* A whole inbound message read ahead by a send that waited for room. */
typedef struct assoc_parked {
  struct assoc_parked *next;
  uint16_t sid;
  uint32_t flags;
  uint32_t ppid;
  size_t len;
  uint8_t data[];
} assoc_parked;

struct mstls_sctp_assoc {
  const mstls_mem *mem; /* settings.mem, or libc */
  const mstls_sctp_ops *ops;
  mstls_sctp_sock *sock;
  mstls_sctp_config cfg;
  mstls_role role;
  mstls_settings settings;
  char *server_name;
  char *priority;
  char *alpn;    /* settings.tls.alpn, copied */
  uint8_t *pins; /* settings.tls.pins, copied */
  mstls_callbacks user_cb;
  mstls_credentials *cred;
  void *user_data;
  mstls_session *session;
  int up;
  int error;
  int peer_shutdown;
  int down_logged; /* MSTLS_LOG_INFO has said the association ended */
  uint16_t in;
  uint16_t out;
  uint16_t nbidi;
  uint32_t *ppid;  /* per outbound stream */
  int *stream_err; /* per stream, max(in, out) entries */
  /* TLS streams the transport lost, not yet failed in the session: the
   * session is told outside the read lock (assoc_apply_fails). */
  uint16_t *fail_q;
  size_t fail_n;
  /* Reassembly of one message (RFC 3436 §3.2: a TLS record must fit in one
   * SCTP user message; partial deliveries are joined until MSG_EOR). */
  uint8_t *rbuf;
  size_t rcap;
  size_t rlen;
  int discarding;
  uint16_t rsid;
  uint32_t rflags;
  uint32_t rppid;
  /* Messages set aside by blocked sends, oldest first; under rlock. */
  assoc_parked *park_head;
  assoc_parked **park_tail;
  size_t parked_bytes;
  pthread_mutex_t rlock;
  /* A send that failed while mstls_sctp_assoc_process() fed the session
   * (0: none), judged once it has read all that is waiting; under rlock. */
  int send_failed;
  uint8_t *sbuf;
  size_t scap;
  pthread_mutex_t slock;
  mstls_sctp_stats stats;
  /* The peer address of the latest path event. */
  struct sockaddr_storage event_addr;
  int have_event_addr;
};

struct mstls_sctp_listener {
  const mstls_sctp_ops *ops;
  mstls_sctp_sock *sock;
  mstls_sctp_config cfg;
  mstls_sctp_listener_ready_cb ready;
  void *ready_user;
  mstls_sctp_listener_stats stats;
};

void mstls_sctp_config_default(mstls_sctp_config *config) {
  if (config == NULL)
    return;
  memset(config, 0, sizeof(*config));
  config->backend = MSTLS_SCTP_BACKEND_DEFAULT;
  config->streams_out = 10;
  config->streams_in = 10;
  config->blocking = 1;
  config->park_max = MSTLS_SCTP_DEFAULT_PARK_MAX;
  config->send_timeout_ms = MSTLS_SCTP_DEFAULT_SEND_TIMEOUT_MS;
  config->backlog = MSTLS_SCTP_DEFAULT_BACKLOG;
  config->pending_recv_buffer = MSTLS_SCTP_DEFAULT_PENDING_RECV_BUFFER;
  config->linger_ms = MSTLS_SCTP_DEFAULT_LINGER_MS;
}

void mstls_sctp_config_failover(mstls_sctp_config *config) {
  if (config == NULL)
    return;
  config->rto_initial_ms = 200;
  config->rto_min_ms = 100;
  config->rto_max_ms = 1000;
  config->assoc_max_retrans = 3;
  config->path_max_retrans = 2;
  config->heartbeat_interval_ms = 100;
  config->init_max_attempts = 3;
  config->init_max_timeout_ms = 1000;
  config->sack_delay_ms = 50;
}

/* Callback wrappers: the session's user_data is the association; the
 * application's callbacks get its own user_data. */
static int assoc_cb_recv(mstls_session *s, uint16_t stream, const uint8_t *d,
                         size_t len, void *ud) {
  mstls_sctp_assoc *a = ud;
  return a->user_cb.recv_data(s, stream, d, len, a->user_data);
}

static void assoc_cb_event(mstls_session *s, mstls_stream_event ev,
                           uint16_t stream, int error, void *ud) {
  mstls_sctp_assoc *a = ud;
  a->user_cb.stream_event(s, ev, stream, error, a->user_data);
}

static mstls_tstamp assoc_cb_clock(void *ud) {
  mstls_sctp_assoc *a = ud;
  return a->user_cb.clock(a->user_data);
}

/* Streams in either direction: the size of the per-stream error table. */
static size_t assoc_nstreams(const mstls_sctp_assoc *a) {
  return a->in > a->out ? a->in : a->out;
}

static int assoc_fail(mstls_sctp_assoc *a, int err) {
  if (a->error == 0) {
    a->error = err;
    /* However it ended -- a notification, an error of the socket, a local
     * abort -- the log says so once. */
    if (!a->down_logged && mstls_log_on(MSTLS_LOG_INFO)) {
      a->down_logged = 1;
      mstls_log(MSTLS_LOG_INFO, "sctp association %p: down: %s",
                (const void *)a, mstls_strerror(err));
    }
  }
  return a->error;
}

static int assoc_read_msg(mstls_sctp_assoc *a);

/* Move the message in rbuf to the end of the park queue. */
static int assoc_park_msg(mstls_sctp_assoc *a) {
  assoc_parked *p = mstls_mem_malloc(a->mem, sizeof(*p) + a->rlen);

  if (p == NULL)
    return MSTLS_E_NOMEM;
  p->next = NULL;
  p->sid = a->rsid;
  p->flags = a->rflags;
  p->ppid = a->rppid;
  p->len = a->rlen;
  memcpy(p->data, a->rbuf, a->rlen);
  *a->park_tail = p;
  a->park_tail = &p->next;
  a->parked_bytes += a->rlen;
  a->rlen = 0;
  a->stats.parked++;
  if (a->parked_bytes > a->stats.parked_max)
    a->stats.parked_max = a->parked_bytes;
  return 0;
}

/* Read ahead while a send waits for room, so that two peers that both
 * send never wait on each other. @return 1 if reading may go on (wait for
 * the socket to become readable too), 0 if not: another thread reads, the
 * park limit is reached, or the association failed. */
static int assoc_park(mstls_sctp_assoc *a) {
  int more = 0;
  int rc;

  if (a->cfg.park_max == 0 || pthread_mutex_trylock(&a->rlock) != 0)
    return 0;
  for (;;) {
    if (a->parked_bytes >= a->cfg.park_max) {
      a->stats.park_full++;
      break;
    }
    rc = assoc_read_msg(a);
    if (rc == 0)
      more = 1;
    if (rc != 1)
      break;
    if (assoc_park_msg(a) != 0)
      break; /* out of memory: wait for room only */
  }
  pthread_mutex_unlock(&a->rlock);
  return more;
}

/* Blocking send found no room: wait for it, reading ahead meanwhile. The
 * backend's wait sleeps until the socket signals an event (an upcall or
 * poll()), so a peer that never reads costs no CPU. */
static void assoc_wait_room(mstls_sctp_assoc *a, int timeout_ms) {
  int events = MSTLS_SCTP_WAIT_WRITE;

  if (assoc_park(a))
    events |= MSTLS_SCTP_WAIT_READ;
  (void)a->ops->wait(a->sock, events, timeout_ms);
}

/* Send one message; in blocking mode wait for room, at most
 * config.send_timeout_ms. 0, MSTLS_E_AGAIN (non-blocking), MSTLS_E_TIMEOUT
 * or the backend's error. */
static int assoc_send_msg(mstls_sctp_assoc *a, uint16_t stream, uint32_t ppid,
                          const uint8_t *data, size_t len) {
  uint64_t deadline = 0;
  int rc;

  for (;;) {
    int wait_ms = -1;
    rc = a->ops->send(a->sock, stream, ppid, data, len);
    if (rc != MSTLS_E_AGAIN || !a->cfg.blocking)
      return rc;
    if (a->error != 0)
      return a->error; /* read while waiting (COMM_LOST, ...) */
    if (a->cfg.send_timeout_ms > 0) {
      uint64_t now = mstls_clock_monotonic_ms();
      if (deadline == 0)
        deadline = now + a->cfg.send_timeout_ms;
      if (now >= deadline) {
        a->stats.send_timeouts++;
        return MSTLS_E_TIMEOUT;
      }
      wait_ms = (int)(deadline - now);
    }
    assoc_wait_room(a, wait_ms);
  }
}

/* The association whose messages this thread is feeding to its session
 * in mstls_sctp_assoc_process(), with the read lock held; NULL if none. */
static _Thread_local const mstls_sctp_assoc *assoc_feeding;

/* How a refused send ends the association: in order if the peer has shut
 * down (the stack takes no data after its SHUTDOWN), else failed. */
static int assoc_judge_send(mstls_sctp_assoc *a, int rc) {
  if (a->peer_shutdown)
    return assoc_fail(a, MSTLS_E_CLOSED);
  return assoc_fail(a, rc == MSTLS_E_PEER_GONE || rc == MSTLS_E_TIMEOUT
                           ? rc
                           : MSTLS_E_TRANSPORT);
}

/* A send failed. The stack refuses data once the peer's SHUTDOWN has
 * arrived, and a peer that closes right after its last message (a
 * Diameter peer after its DPA) makes that race ordinary: read what is
 * waiting -- data is set aside, notifications handled -- and if the peer
 * did shut down, the association ends in order (MSTLS_E_CLOSED).
 * @return the association's error, or MSTLS_E_AGAIN when the judgement
 * is left to mstls_sctp_assoc_process() (below). */
static int assoc_send_failed(mstls_sctp_assoc *a, int rc) {
  /* The session answered a message that mstls_sctp_assoc_process() on
   * this thread is feeding it (a ticket after a client's Finished, say):
   * the read lock is ours and rbuf is in use, so the peer's SHUTDOWN may
   * still sit unread behind that message. Hold the record back; the
   * reader judges the failure once it has read all that is waiting. Not
   * in blocking mode, whose sends wait for room and must not see
   * MSTLS_E_AGAIN, and not for a send that already waited its
   * send_timeout_ms out. */
  if (!a->peer_shutdown && assoc_feeding == a && !a->cfg.blocking &&
      rc != MSTLS_E_TIMEOUT) {
    if (a->send_failed == 0)
      a->send_failed = rc;
    return MSTLS_E_AGAIN;
  }
  if (!a->peer_shutdown && pthread_mutex_trylock(&a->rlock) == 0) {
    while (assoc_read_msg(a) == 1 && assoc_park_msg(a) == 0) {
    }
    pthread_mutex_unlock(&a->rlock);
  }
  return assoc_judge_send(a, rc);
}

static int assoc_push(mstls_session *session, uint16_t stream,
                      const mstls_iovec *iov, size_t iovcnt, void *ud) {
  mstls_sctp_assoc *a = ud;
  const uint8_t *data;
  size_t len = 0;
  size_t i;
  int rc;

  (void)session;
  if (a->error != 0)
    return a->error;
  if (stream >= a->nbidi)
    return MSTLS_E_INVALID_STREAM;
  /* A send was refused during this feed: nothing more goes out before
   * process() has judged it. */
  if (assoc_feeding == a && a->send_failed != 0)
    return MSTLS_E_AGAIN;
  pthread_mutex_lock(&a->slock);
  if (iovcnt == 1) {
    data = iov[0].base;
    len = iov[0].len;
  } else {
    for (i = 0; i < iovcnt; i++)
      len += iov[i].len;
    if (len > a->scap) {
      uint8_t *nb = mstls_mem_realloc(a->mem, a->sbuf, len);
      if (nb == NULL) {
        pthread_mutex_unlock(&a->slock);
        return MSTLS_E_NOMEM;
      }
      a->sbuf = nb;
      a->scap = len;
    }
    len = 0;
    for (i = 0; i < iovcnt; i++) {
      memcpy(a->sbuf + len, iov[i].base, iov[i].len);
      len += iov[i].len;
    }
    data = a->sbuf;
  }
  /* RFC 3436 §3.2: each TLS record goes out as one SCTP user message,
   * ordered, on the stream of its TLS connection. */
  rc = assoc_send_msg(a, stream, a->ppid[stream], data, len);
  if (rc == 0)
    a->stats.msgs_out++;
  pthread_mutex_unlock(&a->slock);
  if (rc == MSTLS_E_AGAIN && a->ops->want_write != NULL)
    a->ops->want_write(a->sock, 1); /* the session keeps the record */
  if (rc == 0 || rc == MSTLS_E_AGAIN)
    return rc;
  return assoc_send_failed(a, rc);
}

static void assoc_report(mstls_sctp_assoc *a, mstls_sctp_event ev,
                         uint16_t stream, int err) {
  if (a->cfg.event != NULL)
    a->cfg.event(a, ev, stream, err, a->user_data);
}

static int assoc_pull(mstls_session *session, uint32_t *flags, uint16_t *stream,
                      uint8_t *buf, size_t len, int timeout_ms, void *ud);

/* The association is established: learn the stream counts and create the
 * session. */
static int assoc_become_up(mstls_sctp_assoc *a, uint16_t ev_in,
                           uint16_t ev_out) {
  mstls_callbacks cb;
  uint16_t in = ev_in, out = ev_out;
  size_t n, i;
  int rc;

  if (a->up)
    return 0;
  if (a->error != 0)
    return a->error; /* a failed set-up is not retried (COMM_UP after it) */
  /* SCTP_STATUS is authoritative; the COMM_UP counts are a fallback. */
  if (a->ops->status(a->sock, &in, &out) != 0 && (ev_in == 0 || ev_out == 0))
    return MSTLS_E_AGAIN;
  a->in = in;
  a->out = out;
  /* RFC 3436 §3.1: TLS needs a bi-directional stream; only streams that
   * exist in both directions, min(in, out), get a TLS connection. The
   * others are unidirectional and carry plaintext only. */
  a->nbidi = in < out ? in : out;
  n = assoc_nstreams(a);
  a->ppid = mstls_mem_calloc(a->mem, out, sizeof(*a->ppid));
  a->stream_err = mstls_mem_calloc(a->mem, n, sizeof(*a->stream_err));
  a->fail_q = mstls_mem_calloc(a->mem, n, sizeof(*a->fail_q));
  if (a->ppid == NULL || a->stream_err == NULL || a->fail_q == NULL)
    return assoc_fail(a, MSTLS_E_NOMEM);
  for (i = 0; i < out; i++)
    a->ppid[i] = a->cfg.ppid;
  memset(&cb, 0, sizeof(cb));
  cb.push = assoc_push;
  cb.pull = a->cfg.blocking ? assoc_pull : NULL;
  cb.recv_data = a->user_cb.recv_data ? assoc_cb_recv : NULL;
  cb.stream_event = a->user_cb.stream_event ? assoc_cb_event : NULL;
  cb.clock = a->user_cb.clock ? assoc_cb_clock : NULL;
  a->settings.nstreams = a->nbidi;
  a->settings.server_name = a->server_name;
  a->settings.priority = a->priority;
  a->settings.tls.alpn = a->alpn;
  a->settings.tls.pins = a->pins;
  rc = mstls_session_new(&a->session, a->role, &a->settings, &cb, a->cred, a);
  if (rc != 0)
    return assoc_fail(a, rc);
  a->up = 1;
  assoc_report(a, MSTLS_SCTP_EVENT_UP, 0xffff, 0);
  if (!a->cfg.blocking) {
    rc = mstls_session_handshake(a->session);
    if (rc < 0 && rc != MSTLS_E_AGAIN && mstls_err_is_fatal(rc))
      return assoc_fail(a, rc);
  }
  return 0;
}

/* The transport lost stream @p sid: remember its error; a TLS stream is
 * failed in the session later, outside the read lock. */
static void assoc_stream_lost(mstls_sctp_assoc *a, uint16_t sid, int err) {
  if (a->stream_err == NULL || sid >= assoc_nstreams(a) ||
      a->stream_err[sid] != 0)
    return;
  a->stream_err[sid] = err;
  if (sid < a->nbidi)
    a->fail_q[a->fail_n++] = sid;
}

/* RFC 6525 stream reset: the listed streams (none listed: all) restarted
 * their sequence numbers. A TLS connection cannot span a reset, which
 * starts the stream afresh, so each reset TLS stream ends. */
static void assoc_on_reset(mstls_sctp_assoc *a, const mstls_sctp_rcv *ri) {
  size_t i, n = assoc_nstreams(a);

  if (ri->event_refused)
    return;
  if (ri->event_count == 0) {
    for (i = 0; i < n; i++)
      assoc_stream_lost(a, (uint16_t)i, MSTLS_E_STREAM_RESET);
    return;
  }
  for (i = 0; i < ri->event_count; i++) {
    uint16_t sid;
    memcpy(&sid, ri->event_list + 2 * i, 2);
    assoc_stream_lost(a, sid, MSTLS_E_STREAM_RESET);
  }
}

static const char *assoc_event_name(mstls_sctp_event ev) {
  switch (ev) {
  case MSTLS_SCTP_EVENT_UP:
    return "up";
  case MSTLS_SCTP_EVENT_COMM_LOST:
    return "down: communication lost";
  case MSTLS_SCTP_EVENT_RESTART:
    return "restarted by the peer";
  case MSTLS_SCTP_EVENT_SHUTDOWN:
    return "shutdown started by the peer";
  case MSTLS_SCTP_EVENT_SEND_FAILED:
    return "send failed";
  case MSTLS_SCTP_EVENT_STREAM_RESET:
    return "stream reset";
  case MSTLS_SCTP_EVENT_PDAPI_ABORTED:
    return "partial delivery aborted";
  case MSTLS_SCTP_EVENT_CANT_START:
    return "down: could not start";
  case MSTLS_SCTP_EVENT_SHUTDOWN_COMPLETE:
    return "down: shutdown complete";
  case MSTLS_SCTP_EVENT_OVERSIZED:
    return "oversized message";
  case MSTLS_SCTP_EVENT_ADDR_AVAILABLE:
    return "available";
  case MSTLS_SCTP_EVENT_ADDR_UNREACHABLE:
    return "unreachable";
  case MSTLS_SCTP_EVENT_ADDR_REMOVED:
    return "removed";
  case MSTLS_SCTP_EVENT_ADDR_ADDED:
    return "added";
  case MSTLS_SCTP_EVENT_ADDR_MADE_PRIMARY:
    return "made primary";
  case MSTLS_SCTP_EVENT_ADDR_CONFIRMED:
    return "confirmed";
  case MSTLS_SCTP_EVENT_ADDR_POTENTIALLY_FAILED:
    return "potentially failed";
  default:
    return "unknown event";
  }
}

/* MSTLS_LOG_INFO: association and path events, as they arrive. */
static void assoc_log_event(mstls_sctp_assoc *a, const mstls_sctp_rcv *ri) {
  char addr[64];
  const char *name = assoc_event_name(ri->event);

  switch (ri->event) {
  case MSTLS_SCTP_EVENT_UP:
  case MSTLS_SCTP_EVENT_RESTART:
    /* The session's pointer ties the streams' lines to the association. */
    mstls_log(MSTLS_LOG_INFO,
              "sctp association %p: %s (%u in, %u out streams), session %p",
              (const void *)a, name, (unsigned)ri->event_in,
              (unsigned)ri->event_out, (void *)a->session);
    break;
  case MSTLS_SCTP_EVENT_ADDR_AVAILABLE:
  case MSTLS_SCTP_EVENT_ADDR_UNREACHABLE:
  case MSTLS_SCTP_EVENT_ADDR_REMOVED:
  case MSTLS_SCTP_EVENT_ADDR_ADDED:
  case MSTLS_SCTP_EVENT_ADDR_MADE_PRIMARY:
  case MSTLS_SCTP_EVENT_ADDR_CONFIRMED:
  case MSTLS_SCTP_EVENT_ADDR_POTENTIALLY_FAILED:
    mstls_log_addr(addr, sizeof(addr),
                   (const struct sockaddr *)&ri->event_addr);
    mstls_log(MSTLS_LOG_INFO, "sctp association %p: path %s: %s",
              (const void *)a, addr, name);
    break;
  case MSTLS_SCTP_EVENT_SEND_FAILED:
  case MSTLS_SCTP_EVENT_PDAPI_ABORTED:
  case MSTLS_SCTP_EVENT_STREAM_RESET:
    mstls_log(MSTLS_LOG_INFO, "sctp association %p: %s on stream %u",
              (const void *)a, name, (unsigned)ri->event_stream);
    break;
  case MSTLS_SCTP_EVENT_COMM_LOST:
  case MSTLS_SCTP_EVENT_CANT_START:
    /* Why: an ABORT from the peer (its cause code); an abort with a cause
     * the stack could not attribute (one of its own for a protocol
     * violation, or on Linux a peer's ABORT during set-up); or no cause:
     * a peer that stopped answering (retransmissions or INITs ran out). */
    if (ri->event_peer_abort)
      mstls_log(MSTLS_LOG_INFO,
                "sctp association %p: %s: the peer aborted (cause %u)",
                (const void *)a, name, (unsigned)ri->event_cause);
    else if (ri->event_cause != 0)
      mstls_log(MSTLS_LOG_INFO, "sctp association %p: %s: aborted (cause %u)",
                (const void *)a, name, (unsigned)ri->event_cause);
    else
      mstls_log(MSTLS_LOG_INFO,
                "sctp association %p: %s: no answer from the peer",
                (const void *)a, name);
    a->down_logged = 1;
    break;
  default:
    mstls_log(MSTLS_LOG_INFO, "sctp association %p: %s", (const void *)a, name);
    if (ri->event == MSTLS_SCTP_EVENT_SHUTDOWN_COMPLETE)
      a->down_logged = 1;
    break;
  }
}

static void assoc_on_event(mstls_sctp_assoc *a, const mstls_sctp_rcv *ri) {
  int err = 0;
  uint16_t sid = ri->event_stream;

  a->stats.notifications++;
  if (ri->event != MSTLS_SCTP_EVENT_UP && mstls_log_on(MSTLS_LOG_INFO))
    assoc_log_event(a, ri);
  switch (ri->event) {
  case MSTLS_SCTP_EVENT_UP:
    (void)assoc_become_up(a, ri->event_in, ri->event_out);
    /* With the session it made; without one, the down line said why. */
    if (a->error == 0 && mstls_log_on(MSTLS_LOG_INFO))
      assoc_log_event(a, ri);
    return;
  case MSTLS_SCTP_EVENT_COMM_LOST:
  case MSTLS_SCTP_EVENT_CANT_START:
    err = MSTLS_E_PEER_GONE;
    break;
  case MSTLS_SCTP_EVENT_RESTART:
    /* The peer lost its state: every TLS connection on this association
     * is gone with it. */
    err = MSTLS_E_PEER_GONE;
    break;
  case MSTLS_SCTP_EVENT_SHUTDOWN:
    a->peer_shutdown = 1;
    break;
  case MSTLS_SCTP_EVENT_SHUTDOWN_COMPLETE:
    a->peer_shutdown = 1;
    err = MSTLS_E_CLOSED;
    break;
  case MSTLS_SCTP_EVENT_PDAPI_ABORTED:
    /* A partly delivered TLS record was lost: its stream cannot go on
     * (one partial delivery at a time: the buffer held that message). */
    a->rlen = 0;
    a->discarding = 0;
    assoc_stream_lost(a, sid, MSTLS_E_STREAM_LOST);
    assoc_report(a, ri->event, sid, MSTLS_E_STREAM_LOST);
    return;
  case MSTLS_SCTP_EVENT_SEND_FAILED:
    /* A record that never reached the peer leaves a gap in the stream's
     * TLS record sequence. */
    assoc_stream_lost(a, sid, MSTLS_E_STREAM_LOST);
    assoc_report(a, ri->event, sid, MSTLS_E_STREAM_LOST);
    return;
  case MSTLS_SCTP_EVENT_STREAM_RESET:
    assoc_on_reset(a, ri);
    assoc_report(a, ri->event, sid,
                 ri->event_refused ? 0 : MSTLS_E_STREAM_RESET);
    return;
  case MSTLS_SCTP_EVENT_ADDR_AVAILABLE:
  case MSTLS_SCTP_EVENT_ADDR_UNREACHABLE:
  case MSTLS_SCTP_EVENT_ADDR_REMOVED:
  case MSTLS_SCTP_EVENT_ADDR_ADDED:
  case MSTLS_SCTP_EVENT_ADDR_MADE_PRIMARY:
  case MSTLS_SCTP_EVENT_ADDR_CONFIRMED:
  case MSTLS_SCTP_EVENT_ADDR_POTENTIALLY_FAILED:
    /* A path changed state. SCTP moves traffic to another active path on
     * its own, retransmitting what the lost one held, so no stream and no
     * byte is affected: report it, nothing more. Only when every path
     * fails does COMM_LOST end the association. */
    a->event_addr = ri->event_addr;
    a->have_event_addr = 1;
    assoc_report(a, ri->event, 0xffff, 0);
    return;
  default:
    return;
  }
  if (err != 0)
    assoc_fail(a, err);
  assoc_report(a, ri->event, sid, err);
}

/* Fail in the session the TLS streams the transport lost. Called without
 * the read lock: mstls_stream_fail takes the session lock in blocking
 * mode, and a blocked send holds that lock while it reads ahead. */
static void assoc_apply_fails(mstls_sctp_assoc *a) {
  for (;;) {
    uint16_t sid;

    pthread_mutex_lock(&a->rlock);
    if (a->fail_n == 0 || a->session == NULL) {
      int err = a->error;
      pthread_mutex_unlock(&a->rlock);
      /* The association is gone: so is every TLS connection on it. */
      if (a->session != NULL && mstls_err_is_fatal(err))
        (void)mstls_session_fail(a->session, err);
      return;
    }
    sid = a->fail_q[--a->fail_n];
    pthread_mutex_unlock(&a->rlock);
    (void)mstls_stream_fail(a->session, sid, a->stream_err[sid]);
  }
}

/* A message larger than max_message was discarded. On a TLS stream it held
 * one or more records (RFC 3436 §3.2: a record travels in one message), so
 * the stream's record sequence now has a gap: fail the stream at once with
 * the real cause rather than let its next record fail decryption. */
static void assoc_oversized(mstls_sctp_assoc *a, uint16_t sid) {
  a->stats.dropped++;
  a->stats.oversized++;
  if (sid < a->nbidi)
    assoc_stream_lost(a, sid, MSTLS_E_MSG_SIZE);
  assoc_report(a, MSTLS_SCTP_EVENT_OVERSIZED, sid, MSTLS_E_MSG_SIZE);
}

/* Read until one whole data message sits in rbuf (1), nothing more is
 * available (0), or the association failed (< 0). */
static int assoc_read_msg(mstls_sctp_assoc *a) {
  size_t max = a->settings.max_message;

  if (a->sock == NULL)
    return a->error != 0 ? a->error : MSTLS_E_INVALID_STATE;
  for (;;) {
    mstls_sctp_rcv ri;
    long n = a->ops->recv(a->sock, a->rbuf + a->rlen, a->rcap - a->rlen, &ri);

    if (n == MSTLS_E_AGAIN)
      return 0;
    if (n < 0) {
      if (n == MSTLS_E_PEER_GONE && a->peer_shutdown)
        n = MSTLS_E_CLOSED;
      return assoc_fail(a, (int)n);
    }
    if (ri.is_event) {
      assoc_on_event(a, &ri);
      if (a->error != 0)
        return a->error;
      continue;
    }
    if (a->rlen == 0 && !a->discarding) {
      a->rsid = ri.sid;
      a->rflags = ri.flags;
      a->rppid = ri.ppid;
    }
    a->rlen += (size_t)n;
    if (!ri.eor) {
      a->stats.partial_reads++;
      if (a->rlen > max) {
        a->discarding = 1;
        a->rlen = 0;
      }
      continue;
    }
    if (a->discarding || a->rlen > max) {
      a->discarding = 0;
      a->rlen = 0;
      assoc_oversized(a, a->rsid);
      continue;
    }
    a->stats.msgs_in++;
    return 1;
  }
}

/* One whole inbound message: a parked one (oldest first) or the one in
 * rbuf. */
typedef struct assoc_msg {
  const uint8_t *data;
  size_t len;
  uint16_t sid;
  uint32_t flags;
  uint32_t ppid;
  assoc_parked *parked; /* to free once consumed; NULL: rbuf */
} assoc_msg;

/* The next message (1), none yet (0), or the association's error (< 0).
 * Called with rlock held; release it with assoc_msg_done(). */
static int assoc_next_msg(mstls_sctp_assoc *a, assoc_msg *m) {
  assoc_parked *p = a->park_head;
  int rc;

  if (p != NULL) {
    /* Parked messages came before anything still in rbuf, which may hold
     * the start of a later one: leave rbuf alone. */
    a->park_head = p->next;
    if (a->park_head == NULL)
      a->park_tail = &a->park_head;
    a->parked_bytes -= p->len;
    *m = (assoc_msg){p->data, p->len, p->sid, p->flags, p->ppid, p};
    return 1;
  }
  rc = assoc_read_msg(a);
  if (rc == 1)
    *m = (assoc_msg){a->rbuf, a->rlen, a->rsid, a->rflags, a->rppid, NULL};
  return rc;
}

static void assoc_msg_done(mstls_sctp_assoc *a, assoc_msg *m) {
  if (m->parked != NULL)
    mstls_mem_free(a->mem, m->parked);
  else
    a->rlen = 0;
}

/* A message for a stream beyond the bidirectional ones. */
static void assoc_plain(mstls_sctp_assoc *a, const assoc_msg *m) {
  a->stats.plain_in++;
  if (a->cfg.plain_recv == NULL) {
    a->stats.dropped++;
    return;
  }
  a->cfg.plain_recv(a, m->sid, m->ppid, m->data, m->len, a->user_data);
}

/* One message for the session; MSTLS_E_AGAIN also when streams were lost,
 * so that they are failed before the session waits again. */
static int assoc_pull_msg(mstls_sctp_assoc *a, uint32_t *flags,
                          uint16_t *stream, uint8_t *buf, size_t len,
                          int timeout_ms) {
  uint64_t deadline =
      timeout_ms < 0 ? 0 : mstls_clock_monotonic_ms() + (uint64_t)timeout_ms;

  pthread_mutex_lock(&a->rlock);
  for (;;) {
    assoc_msg m;
    int rc = assoc_next_msg(a, &m);
    int wait_ms;

    if (rc < 0) {
      pthread_mutex_unlock(&a->rlock);
      return rc;
    }
    if (rc == 1) {
      int n = (int)m.len;
      if (m.sid >= a->nbidi) {
        assoc_plain(a, &m);
        assoc_msg_done(a, &m);
        continue;
      }
      if (m.len > len) {
        n = MSTLS_E_MSG_SIZE;
      } else {
        memcpy(buf, m.data, m.len);
        *stream = m.sid;
        *flags = m.flags;
      }
      assoc_msg_done(a, &m);
      pthread_mutex_unlock(&a->rlock);
      return n;
    }
    if (a->fail_n > 0) {
      pthread_mutex_unlock(&a->rlock);
      return MSTLS_E_AGAIN;
    }
    wait_ms = -1;
    if (timeout_ms >= 0) {
      uint64_t now = mstls_clock_monotonic_ms();
      if (now >= deadline) {
        pthread_mutex_unlock(&a->rlock);
        return MSTLS_E_AGAIN;
      }
      wait_ms = (int)(deadline - now);
    }
    pthread_mutex_unlock(&a->rlock);
    rc = a->ops->wait(a->sock, MSTLS_SCTP_WAIT_READ, wait_ms);
    if (rc == MSTLS_E_INVALID_STATE)
      return MSTLS_E_AGAIN;
    pthread_mutex_lock(&a->rlock);
  }
}

/* The session's pull callback (blocking mode). The session lock is not
 * held here, so lost streams can be failed in the session. */
static int assoc_pull(mstls_session *session, uint32_t *flags, uint16_t *stream,
                      uint8_t *buf, size_t len, int timeout_ms, void *ud) {
  mstls_sctp_assoc *a = ud;
  int rc;

  (void)session;
  assoc_apply_fails(a);
  rc = assoc_pull_msg(a, flags, stream, buf, len, timeout_ms);
  assoc_apply_fails(a);
  return rc;
}

static void assoc_ready(void *arg) {
  mstls_sctp_assoc *a = arg;
  if (a->cfg.ready != NULL)
    a->cfg.ready(a, a->user_data);
}

static char *assoc_strdup(const mstls_mem *mem, const char *s) {
  return s == NULL ? NULL : mstls_mem_strdup(mem, s);
}

static int assoc_probe_push(mstls_session *s, uint16_t stream,
                            const mstls_iovec *iov, size_t n, void *ud) {
  (void)s;
  (void)stream;
  (void)iov;
  (void)n;
  (void)ud;
  return MSTLS_E_TRANSPORT;
}

/* Settings and credentials that cannot work (a priority string GnuTLS
 * refuses, bad TLS options, a server without a key) fail before any
 * socket exists, not once the association is up: a session of one stream
 * is made with them and thrown away. */
static int assoc_probe(mstls_role role, const mstls_settings *settings,
                       mstls_credentials *cred) {
  mstls_settings probe;
  mstls_callbacks cb;
  mstls_session *s = NULL;
  int rc;

  if (settings != NULL)
    probe = *settings;
  else
    mstls_settings_default(&probe);
  probe.nstreams = 1;
  if (probe.max_message < 18437)
    probe.max_message = 18437;
  memset(&cb, 0, sizeof(cb));
  cb.push = assoc_probe_push;
  rc = mstls_session_new(&s, role, &probe, &cb, cred, NULL);
  mstls_session_del(s);
  return rc;
}

static int assoc_new(mstls_sctp_assoc **pa, const mstls_sctp_config *cfg,
                     mstls_role role, const mstls_settings *settings,
                     const mstls_callbacks *callbacks, mstls_credentials *cred,
                     void *user_data, int probe) {
  const mstls_mem *mem = settings != NULL && settings->mem != NULL
                             ? settings->mem
                             : mstls_mem_default();
  mstls_sctp_assoc *a;
  int rc = probe ? assoc_probe(role, settings, cred) : 0;

  if (rc < 0)
    return rc;
  a = mstls_mem_calloc(mem, 1, sizeof(*a));
  if (a == NULL)
    return MSTLS_E_NOMEM;
  a->mem = mem;
  a->cfg = *cfg;
  a->role = role;
  if (settings != NULL)
    a->settings = *settings;
  else
    mstls_settings_default(&a->settings);
  if (a->settings.max_message < 18437)
    a->settings.max_message = 18437;
  if (callbacks != NULL)
    a->user_cb = *callbacks;
  a->cred = mstls_credentials_ref(cred);
  a->user_data = user_data;
  a->server_name = assoc_strdup(mem, a->settings.server_name);
  a->priority = assoc_strdup(mem, a->settings.priority);
  a->alpn = assoc_strdup(mem, a->settings.tls.alpn);
  if (a->settings.tls.npins > 0 && a->settings.tls.pins != NULL) {
    size_t n = a->settings.tls.npins * MSTLS_SHA256_LEN;
    if ((a->pins = mstls_mem_malloc(mem, n)) != NULL)
      memcpy(a->pins, a->settings.tls.pins, n);
  }
  a->rcap = a->settings.max_message + ASSOC_SLACK;
  a->rbuf = mstls_mem_malloc(mem, a->rcap);
  a->park_tail = &a->park_head;
  pthread_mutex_init(&a->rlock, NULL);
  pthread_mutex_init(&a->slock, NULL);
  if (a->rbuf == NULL ||
      (a->settings.server_name != NULL && a->server_name == NULL) ||
      (a->settings.priority != NULL && a->priority == NULL) ||
      (a->settings.tls.alpn != NULL && a->alpn == NULL) ||
      (a->settings.tls.npins > 0 && a->pins == NULL)) {
    mstls_sctp_assoc_del(a);
    return MSTLS_E_NOMEM;
  }
  *pa = a;
  return 0;
}

static mstls_sctp_backend assoc_pick(const mstls_sctp_config *cfg) {
  if (cfg->backend != MSTLS_SCTP_BACKEND_DEFAULT)
    return cfg->backend;
  if (cfg->link != NULL)
    return MSTLS_SCTP_BACKEND_USRSCTP;
  return mstls_sctp_kernel_available() ? MSTLS_SCTP_BACKEND_KERNEL
                                       : MSTLS_SCTP_BACKEND_USRSCTP;
}

/* The RTO values that are set must be in order (RFC 9260 §6.3.1: RTO.Min
 * <= RTO.Initial <= RTO.Max); the stacks would refuse them one by one. */
static int assoc_check_rto(const mstls_sctp_config *cfg) {
  const uint32_t lo = cfg->rto_min_ms, mid = cfg->rto_initial_ms,
                 hi = cfg->rto_max_ms;
  return (lo && mid && lo > mid) || (mid && hi && mid > hi) ||
                 (lo && hi && lo > hi) || hi > INT32_MAX
             ? -1
             : 0;
}

static int assoc_check_config(const mstls_sctp_config *cfg) {
  if (cfg->streams_out == 0 || cfg->streams_in == 0 || cfg->backlog < 1 ||
      cfg->backlog > 65535 || cfg->send_timeout_ms > INT32_MAX ||
      cfg->linger_ms > INT32_MAX || assoc_check_rto(cfg) < 0 ||
      cfg->sack_delay_ms > 500 || cfg->heartbeat_interval_ms > INT32_MAX)
    return MSTLS_E_INVALID_ARGUMENT;
  switch (cfg->backend) {
  case MSTLS_SCTP_BACKEND_DEFAULT:
  case MSTLS_SCTP_BACKEND_USRSCTP:
  case MSTLS_SCTP_BACKEND_KERNEL:
    return 0;
  default:
    return MSTLS_E_INVALID_ARGUMENT;
  }
}

/* Wait (blocking mode) until the association is up or failed. SCTP bounds
 * this itself: INIT retransmissions end in CANT_STR_ASSOC. */
static int assoc_wait_up(mstls_sctp_assoc *a) {
  while (!a->up) {
    int rc = mstls_sctp_assoc_process(a);
    if (rc < 0)
      return rc;
    if (a->up)
      break;
    (void)a->ops->wait(a->sock, MSTLS_SCTP_WAIT_READ | MSTLS_SCTP_WAIT_WRITE,
                       100);
  }
  return 0;
}

int mstls_sctp_connect(mstls_sctp_assoc **passoc,
                       const mstls_sctp_config *config, const char *host,
                       uint16_t port, const mstls_settings *settings,
                       const mstls_callbacks *callbacks,
                       mstls_credentials *cred, void *user_data) {
  mstls_sctp_config cfg;
  mstls_sctp_addrs remote, local;
  mstls_sctp_assoc *a = NULL;
  int rc;

  if (passoc == NULL || cred == NULL || port == 0)
    return MSTLS_E_INVALID_ARGUMENT;
  *passoc = NULL;
  if (config != NULL)
    cfg = *config;
  else
    mstls_sctp_config_default(&cfg);
  rc = assoc_check_config(&cfg);
  if (rc != 0)
    return rc;
  if (cfg.link == NULL && host == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  /* A link has one address of its own: the host is ignored then. */
  rc = mstls_sctp_addrs_parse(cfg.link == NULL ? host : NULL, port, &remote);
  if (rc == 0)
    rc = mstls_sctp_addrs_parse(cfg.local_addrs, cfg.local_port, &local);
  if (rc != 0)
    return rc;
  cfg.local_addrs = NULL; /* not kept: the caller owns the string */
  rc = assoc_new(&a, &cfg, MSTLS_ROLE_CLIENT, settings, callbacks, cred,
                 user_data, 1);
  if (rc != 0)
    return rc;
  if (assoc_pick(&cfg) == MSTLS_SCTP_BACKEND_KERNEL)
    rc = mstls_sctp_kernel_connect(&a->sock, &a->ops, &a->cfg, &remote, &local,
                                   port);
  else
    rc = mstls_sctp_usrsctp_connect(&a->sock, &a->ops, &a->cfg, &remote, &local,
                                    port);
  if (rc != 0) {
    mstls_sctp_assoc_del(a);
    return rc;
  }
  a->ops->set_ready(a->sock, assoc_ready, a);
  if (!cfg.blocking) {
    /* Anything that arrived before the hook was set gave no signal. */
    assoc_ready(a);
    *passoc = a;
    return 0;
  }
  rc = assoc_wait_up(a);
  if (rc != 0) {
    mstls_sctp_assoc_del(a);
    return rc;
  }
  *passoc = a;
  return mstls_session_handshake_blocking(a->session);
}

int mstls_sctp_listen(mstls_sctp_listener **plistener,
                      const mstls_sctp_config *config, const char *host,
                      uint16_t port) {
  mstls_sctp_listener *l;
  mstls_sctp_addrs local;
  int rc;

  if (plistener == NULL || port == 0)
    return MSTLS_E_INVALID_ARGUMENT;
  *plistener = NULL;
  l = calloc(1, sizeof(*l));
  if (l == NULL)
    return MSTLS_E_NOMEM;
  if (config != NULL)
    l->cfg = *config;
  else
    mstls_sctp_config_default(&l->cfg);
  l->cfg.local_addrs = NULL; /* a listener's addresses are its host */
  rc = assoc_check_config(&l->cfg);
  if (rc == 0)
    rc =
        mstls_sctp_addrs_parse(l->cfg.link == NULL ? host : NULL, port, &local);
  if (rc == 0 && assoc_pick(&l->cfg) == MSTLS_SCTP_BACKEND_KERNEL)
    rc = mstls_sctp_kernel_listen(&l->sock, &l->ops, &l->cfg, &local, port);
  else if (rc == 0 && l->cfg.reuseport)
    rc = MSTLS_E_UNSUPPORTED; /* one usrsctp stack per process */
  else if (rc == 0)
    rc = mstls_sctp_usrsctp_listen(&l->sock, &l->ops, &l->cfg, &local, port);
  if (rc != 0) {
    free(l);
    return rc;
  }
  *plistener = l;
  return 0;
}

int mstls_sctp_listener_wait(mstls_sctp_listener *l, int timeout_ms) {
  if (l == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  return l->ops->wait(l->sock, MSTLS_SCTP_WAIT_READ, timeout_ms);
}

int mstls_sctp_listener_get_fd(mstls_sctp_listener *l) {
  return l == NULL ? -1 : l->ops->fd(l->sock);
}

static void assoc_listener_ready(void *arg) {
  mstls_sctp_listener *l = arg;
  if (l->ready != NULL)
    l->ready(l, l->ready_user);
}

int mstls_sctp_listener_set_ready(mstls_sctp_listener *l,
                                  mstls_sctp_listener_ready_cb cb,
                                  void *user_data) {
  if (l == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  /* Clear first: the backend's set_ready is a barrier against a running
   * callback, so the new pair is never seen half-written. */
  l->ops->set_ready(l->sock, NULL, NULL);
  l->ready = cb;
  l->ready_user = user_data;
  if (cb != NULL) {
    l->ops->set_ready(l->sock, assoc_listener_ready, l);
    /* Associations that came before the hook gave no signal. */
    cb(l, user_data);
  }
  return 0;
}

int mstls_sctp_listener_get_stats(mstls_sctp_listener *l,
                                  mstls_sctp_listener_stats *stats) {
  if (l == NULL || stats == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  *stats = l->stats;
  return 0;
}

void mstls_sctp_listener_del(mstls_sctp_listener *l) {
  if (l == NULL)
    return;
  l->ops->set_ready(l->sock, NULL, NULL);
  l->ops->close(l->sock);
  free(l);
}

int mstls_sctp_accept(mstls_sctp_listener *l, mstls_sctp_assoc **passoc,
                      const mstls_settings *settings,
                      const mstls_callbacks *callbacks, mstls_credentials *cred,
                      void *user_data) {
  mstls_sctp_sock *ns = NULL;
  mstls_sctp_assoc *a = NULL;
  int rc;

  if (l == NULL || passoc == NULL || cred == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  *passoc = NULL;
  for (;;) {
    rc = l->ops->accept(l->sock, &ns, &l->cfg);
    if (rc != MSTLS_E_AGAIN || !l->cfg.blocking)
      break;
    (void)l->ops->wait(l->sock, MSTLS_SCTP_WAIT_READ, -1);
  }
  if (l->ops->rearm != NULL)
    l->ops->rearm(l->sock); /* readable again while others wait */
  if (rc != 0) {
    if (rc != MSTLS_E_AGAIN)
      l->stats.accept_failed++;
    return rc;
  }
  /* No throwaway session here: the association is up when accepted, so its
   * session is made at once below and bad settings fail this call. */
  rc = assoc_new(&a, &l->cfg, MSTLS_ROLE_SERVER, settings, callbacks, cred,
                 user_data, 0);
  if (rc != 0) {
    l->stats.accept_failed++;
    l->ops->close(ns);
    return rc;
  }
  a->ops = l->ops;
  a->sock = ns;
  a->ops->set_ready(a->sock, assoc_ready, a);
  rc = assoc_become_up(a, 0, 0);
  if (rc == MSTLS_E_AGAIN) {
    /* The stack does not tell the streams yet, so the session comes
     * later: check the settings now all the same. */
    int p = assoc_probe(MSTLS_ROLE_SERVER, settings, cred);
    if (p < 0)
      rc = p;
  }
  if (rc != 0 && rc != MSTLS_E_AGAIN) {
    l->stats.accept_failed++;
    mstls_sctp_assoc_del(a);
    return rc;
  }
  l->stats.accepted++;
  if (!l->cfg.blocking)
    assoc_ready(a); /* anything that arrived before the hook gave no signal */
  *passoc = a;
  if (!l->cfg.blocking)
    return 0;
  rc = assoc_wait_up(a);
  if (rc != 0)
    return rc;
  return mstls_session_handshake_blocking(a->session);
}

int mstls_sctp_assoc_process(mstls_sctp_assoc *a) {
  const mstls_sctp_assoc *feeding;
  int rc;

  if (a == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  if (a->sock == NULL)
    return a->error;
  if (!a->up && a->error == 0)
    (void)assoc_become_up(a, 0, 0);
  pthread_mutex_lock(&a->rlock);
  feeding = assoc_feeding; /* another association's, in a callback */
  assoc_feeding = a;
  for (;;) {
    assoc_msg m;
    if (assoc_next_msg(a, &m) != 1)
      break;
    if (m.sid >= a->nbidi || a->session == NULL) {
      assoc_plain(a, &m);
    } else {
      rc = mstls_session_feed(a->session, m.flags, m.sid, m.data, m.len);
      if (rc < 0 && mstls_err_is_fatal(rc))
        assoc_fail(a, rc);
    }
    assoc_msg_done(a, &m);
    if (a->error != 0)
      break;
  }
  assoc_feeding = feeding;
  /* Everything waiting has been read: a SHUTDOWN of the peer among it
   * makes a send refused meanwhile an orderly end, anything else a
   * failure. */
  if (a->send_failed != 0 && a->error == 0)
    (void)assoc_judge_send(a, a->send_failed);
  a->send_failed = 0;
  pthread_mutex_unlock(&a->rlock);
  /* Records and flights that met a full socket go out once it has room. */
  if (a->session != NULL && a->error == 0 &&
      mstls_session_get_error(a->session) == 0) {
    rc = mstls_session_flush(a->session);
    if (rc < 0 && mstls_err_is_fatal(rc))
      assoc_fail(a, rc);
    if (a->sock != NULL && a->ops->want_write != NULL &&
        (rc == MSTLS_E_AGAIN || a->ops->wants_write(a->sock))) {
      /* Watch for room while anything waits for it. When the watch goes
       * off, a send on another thread may have kept a record since the
       * flush: look once more after. (Nothing to do, the usual case, when
       * nothing waited and nobody watched.) */
      a->ops->want_write(a->sock, rc == MSTLS_E_AGAIN);
      if (rc == 0) {
        rc = mstls_session_flush(a->session);
        if (rc == MSTLS_E_AGAIN)
          a->ops->want_write(a->sock, 1);
        else if (rc < 0 && mstls_err_is_fatal(rc))
          assoc_fail(a, rc);
      }
    }
  }
  assoc_apply_fails(a);
  if (a->sock != NULL && a->ops->rearm != NULL)
    a->ops->rearm(a->sock); /* readable again while work is left */
  return a->error;
}

/* Input, and room while the session keeps something that met a full
 * socket where fd() does not signal room by itself (kernel SCTP). */
static int assoc_wait_events(mstls_sctp_assoc *a) {
  int events = MSTLS_SCTP_WAIT_READ;

  /* Nothing goes out of an association or session that has ended (the
   * error is what mstls_sctp_assoc_process() returns): never room. */
  if (a->error != 0 ||
      (a->session != NULL && mstls_session_get_error(a->session) != 0))
    return events;
  if (a->ops->wants_write != NULL && a->ops->wants_write(a->sock))
    events |= MSTLS_SCTP_WAIT_WRITE;
  return events;
}

int mstls_sctp_assoc_wait(mstls_sctp_assoc *a, int timeout_ms) {
  if (a == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  if (a->sock == NULL || a->park_head != NULL)
    return 0; /* aborted (the error is ready) or messages set aside */
  return a->ops->wait(a->sock, assoc_wait_events(a), timeout_ms);
}

int mstls_sctp_assoc_get_events(mstls_sctp_assoc *a) {
  if (a == NULL || a->sock == NULL)
    return 0;
  return (assoc_wait_events(a) & MSTLS_SCTP_WAIT_WRITE) ? POLLIN | POLLOUT
                                                        : POLLIN;
}

mstls_session *mstls_sctp_assoc_get_session(mstls_sctp_assoc *a) {
  return a == NULL ? NULL : a->session;
}

int mstls_sctp_assoc_get_fd(mstls_sctp_assoc *a) {
  return a == NULL || a->sock == NULL ? -1 : a->ops->fd(a->sock);
}

int mstls_sctp_assoc_get_streams(mstls_sctp_assoc *a, uint16_t *in,
                                 uint16_t *out) {
  if (a == NULL || in == NULL || out == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  if (!a->up)
    return MSTLS_E_INVALID_STATE;
  *in = a->in;
  *out = a->out;
  return 0;
}

int mstls_sctp_assoc_get_outstanding(mstls_sctp_assoc *a, uint32_t *chunks) {
  if (a == NULL || chunks == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  *chunks = 0;
  if (!a->up || a->sock == NULL)
    return MSTLS_E_INVALID_STATE;
  return a->ops->outstanding(a->sock, chunks);
}

int mstls_sctp_assoc_get_error(mstls_sctp_assoc *a) {
  return a == NULL ? MSTLS_E_INVALID_ARGUMENT : a->error;
}

int mstls_sctp_assoc_get_stream_error(mstls_sctp_assoc *a, uint16_t stream) {
  if (a == NULL || a->stream_err == NULL)
    return 0;
  if (stream >= assoc_nstreams(a))
    return MSTLS_E_INVALID_STREAM;
  return a->stream_err[stream];
}

mstls_sctp_backend mstls_sctp_assoc_get_backend(mstls_sctp_assoc *a) {
  return a == NULL || a->ops == NULL ? MSTLS_SCTP_BACKEND_DEFAULT
                                     : a->ops->backend;
}

void *mstls_sctp_assoc_get_user_data(mstls_sctp_assoc *a) {
  return a == NULL ? NULL : a->user_data;
}

int mstls_sctp_assoc_set_ppid(mstls_sctp_assoc *a, uint16_t stream,
                              uint32_t ppid) {
  if (a == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  if (!a->up)
    return MSTLS_E_INVALID_STATE;
  if (stream >= a->out)
    return MSTLS_E_INVALID_STREAM;
  a->ppid[stream] = ppid;
  return 0;
}

int mstls_sctp_send_plain(mstls_sctp_assoc *a, uint16_t stream, uint32_t ppid,
                          const void *data, size_t len) {
  int rc;

  if (a == NULL || (data == NULL && len > 0))
    return MSTLS_E_INVALID_ARGUMENT;
  if (!a->up || a->sock == NULL)
    return MSTLS_E_INVALID_STATE;
  if (stream >= a->out)
    return MSTLS_E_INVALID_STREAM;
  /* RFC 3436 §6: only streams without TLS may carry plaintext. */
  if (stream < a->nbidi &&
      mstls_stream_get_state(a->session, stream) != MSTLS_STREAM_PLAINTEXT)
    return MSTLS_E_INVALID_STREAM;
  pthread_mutex_lock(&a->slock);
  rc = assoc_send_msg(a, stream, ppid, data, len);
  if (rc == 0)
    a->stats.msgs_out++;
  pthread_mutex_unlock(&a->slock);
  if (rc == 0 || rc == MSTLS_E_AGAIN || rc == MSTLS_E_TIMEOUT)
    return rc;
  return MSTLS_E_TRANSPORT;
}

int mstls_sctp_assoc_reset_streams(mstls_sctp_assoc *a, const uint16_t *sids,
                                   size_t n) {
  if (a == NULL || a->sock == NULL || (sids == NULL && n > 0))
    return MSTLS_E_INVALID_ARGUMENT;
  return a->ops->reset_streams(a->sock, sids, n);
}

int mstls_sctp_assoc_send_raw(mstls_sctp_assoc *a, uint16_t sid,
                              const void *data, size_t len) {
  if (a == NULL || (data == NULL && len > 0))
    return MSTLS_E_INVALID_ARGUMENT;
  if (!a->up || a->sock == NULL)
    return MSTLS_E_INVALID_STATE;
  return a->ops->send(a->sock, sid, a->cfg.ppid, data, len);
}

int mstls_sctp_assoc_new_sock(mstls_sctp_assoc **passoc,
                              const mstls_sctp_ops *ops, mstls_sctp_sock *sock,
                              const mstls_sctp_config *config, mstls_role role,
                              const mstls_settings *settings,
                              const mstls_callbacks *callbacks,
                              mstls_credentials *cred, void *user_data) {
  mstls_sctp_assoc *a = NULL;
  int rc;

  if (passoc == NULL || ops == NULL || config == NULL || cred == NULL ||
      config->blocking)
    return MSTLS_E_INVALID_ARGUMENT;
  *passoc = NULL;
  rc = assoc_new(&a, config, role, settings, callbacks, cred, user_data, 1);
  if (rc != 0)
    return rc;
  a->ops = ops;
  a->sock = sock;
  a->ops->set_ready(a->sock, assoc_ready, a);
  rc = assoc_become_up(a, 0, 0);
  if (rc != 0 && rc != MSTLS_E_AGAIN) {
    mstls_sctp_assoc_del(a);
    return rc;
  }
  *passoc = a;
  return 0;
}

int mstls_sctp_assoc_get_paths(mstls_sctp_assoc *a, mstls_sctp_path *paths,
                               size_t max, size_t *n) {
  if (a == NULL || n == NULL || (paths == NULL && max > 0))
    return MSTLS_E_INVALID_ARGUMENT;
  *n = 0;
  if (!a->up || a->sock == NULL || a->error != 0 || a->ops->paths == NULL)
    return MSTLS_E_INVALID_STATE;
  return a->ops->paths(a->sock, paths, max, n);
}

int mstls_sctp_assoc_set_primary(mstls_sctp_assoc *a, const char *addr) {
  mstls_sctp_path paths[MSTLS_SCTP_MAX_ADDRS * 2];
  struct sockaddr_storage want;
  struct addrinfo hints, *res = NULL;
  size_t n = 0, i;
  int rc;

  if (a == NULL || addr == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  if (!a->up || a->sock == NULL || a->error != 0 || a->ops->set_primary == NULL)
    return MSTLS_E_INVALID_STATE;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = AI_NUMERICHOST;
  if (getaddrinfo(addr, NULL, &hints, &res) != 0 || res == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  memset(&want, 0, sizeof(want));
  if (res->ai_addrlen <= sizeof(want))
    memcpy(&want, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  rc = a->ops->paths(a->sock, paths, sizeof(paths) / sizeof(paths[0]), &n);
  if (rc != 0)
    return rc;
  if (n > sizeof(paths) / sizeof(paths[0]))
    n = sizeof(paths) / sizeof(paths[0]);
  /* Only one of the peer's own addresses, with its port, can be made
   * primary; anything else is the caller's mistake. */
  for (i = 0; i < n; i++) {
    if (mstls_sctp_sa_same_host((const struct sockaddr *)&paths[i].addr,
                                (const struct sockaddr *)&want))
      return a->ops->set_primary(a->sock, &paths[i].addr);
  }
  return MSTLS_E_INVALID_ARGUMENT;
}

int mstls_sctp_assoc_get_event_addr(mstls_sctp_assoc *a,
                                    struct sockaddr_storage *addr, char *text,
                                    size_t textlen) {
  if (a == NULL || (text != NULL && textlen == 0))
    return MSTLS_E_INVALID_ARGUMENT;
  if (!a->have_event_addr)
    return MSTLS_E_INVALID_STATE;
  if (addr != NULL)
    *addr = a->event_addr;
  if (text != NULL)
    mstls_sctp_sa_text((const struct sockaddr *)&a->event_addr, text, textlen);
  return 0;
}

int mstls_sctp_assoc_get_stats(mstls_sctp_assoc *a, mstls_sctp_stats *st) {
  if (a == NULL || st == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  *st = a->stats;
  return 0;
}

int mstls_sctp_assoc_shutdown(mstls_sctp_assoc *a) {
  int rc;

  if (a == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  /* Learn of a SHUTDOWN the peer already sent: after it the stack takes no
   * more data, so there is no close_notify to send. */
  if (a->sock != NULL && a->error == 0)
    (void)mstls_sctp_assoc_process(a);
  if (a->session != NULL && a->error == 0 && !a->peer_shutdown) {
    /* Close_notify on every stream at once, then the SCTP SHUTDOWN. */
    rc = mstls_session_bye(a->session);
    if (rc == MSTLS_E_AGAIN)
      return rc;
    if (rc < 0 && mstls_err_is_fatal(rc))
      return rc;
  }
  if (a->peer_shutdown)
    return 0; /* SCTP completes the peer's SHUTDOWN on its own */
  if (a->sock == NULL)
    return MSTLS_E_INVALID_STATE;
  return a->ops->shutdown(a->sock);
}

void mstls_sctp_assoc_abort(mstls_sctp_assoc *a) {
  if (a == NULL || a->sock == NULL)
    return;
  assoc_fail(a, MSTLS_E_ABORTED);
  a->ops->set_ready(a->sock, NULL, NULL);
  a->ops->abort(a->sock);
  a->sock = NULL;
}

void mstls_sctp_assoc_del(mstls_sctp_assoc *a) {
  if (a == NULL)
    return;
  if (a->sock != NULL)
    a->ops->set_ready(a->sock, NULL, NULL);
  mstls_session_del(a->session);
  /* A send that timed out left data the peer does not take: a graceful
   * close would keep it queued until SCTP gives up on the peer. */
  if (a->sock != NULL && a->error == MSTLS_E_TIMEOUT)
    a->ops->abort(a->sock);
  else if (a->sock != NULL)
    a->ops->close(a->sock);
  while (a->park_head != NULL) {
    assoc_parked *p = a->park_head;
    a->park_head = p->next;
    mstls_mem_free(a->mem, p);
  }
  pthread_mutex_destroy(&a->rlock);
  pthread_mutex_destroy(&a->slock);
  mstls_mem_free(a->mem, a->ppid);
  mstls_mem_free(a->mem, a->stream_err);
  mstls_mem_free(a->mem, a->fail_q);
  mstls_mem_free(a->mem, a->rbuf);
  mstls_mem_free(a->mem, a->sbuf);
  mstls_mem_free(a->mem, a->server_name);
  mstls_mem_free(a->mem, a->priority);
  mstls_mem_free(a->mem, a->alpn);
  mstls_mem_free(a->mem, a->pins);
  mstls_credentials_del(a->cred); /* the association's reference */
  mstls_mem_free(a->mem, a);
}
