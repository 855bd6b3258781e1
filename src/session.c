/* The multistream session: stream table, handshake orchestration across
 * streams, the resume anchor, timers and counters. Per-stream TLS work is in
 * stream.c; the blocking forms are in blocking.c. */
#include "session.h"

#include <string.h>

#include "log.h"
#include "mem.h"

/* TLS 1.2 is the minimum (RFC 8996 updates RFC 3436). */
#define MSTLS_PRIORITY_DEFAULT "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define MSTLS_PRIORITY_MIN_VERSION ":-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1"

void mstls_settings_default(mstls_settings *settings) {
  if (!settings) {
    return;
  }
  memset(settings, 0, sizeof(*settings));
  settings->policy = MSTLS_POLICY_RESUME;
  settings->nstreams = 10;
  settings->handshake_timeout = 30 * MSTLS_SECONDS;
  settings->max_message = 256 * 1024;
  settings->stream_rx_cap = 1024 * 1024;
  settings->session_rx_budget = 64 * 1024 * 1024;
}

static int sess_priority(mstls_session *s, gnutls_priority_t *out,
                         const char *extra) {
  const char *base =
      s->settings.priority ? s->settings.priority : MSTLS_PRIORITY_DEFAULT;
  const char *ctype = s->tlsopt.rawpk ? MSTLS_PRIORITY_RAWPK : "";
  size_t n = strlen(base) + strlen(MSTLS_PRIORITY_MIN_VERSION) + strlen(extra) +
             strlen(ctype) + 1;
  char *str = mstls_mem_malloc(s->mem, n);
  int rv;
  if (!str) {
    return MSTLS_E_NOMEM;
  }
  memcpy(str, base, strlen(base) + 1);
  strcat(str, MSTLS_PRIORITY_MIN_VERSION);
  strcat(str, extra);
  strcat(str, ctype);
  rv = gnutls_priority_init2(out, str, NULL, 0);
  mstls_mem_free(s->mem, str);
  if (rv < 0) {
    *out = NULL;
    return rv == GNUTLS_E_MEMORY_ERROR ? MSTLS_E_NOMEM : MSTLS_E_TLS;
  }
  return 0;
}

static int sess_init_priorities(mstls_session *s) {
  int psk_ke = (s->settings.flags & MSTLS_SETTINGS_RESUME_PSK_KE) != 0;
  int ext_psk = s->cred->npsk > 0; /* pre-shared keys in the credentials */
  int rv;
  if (s->role == MSTLS_ROLE_SERVER) {
    /* A GnuTLS server takes the first mode the client lists among those
     * its priority allows. Without PSK it resumes with psk_dhe_ke only:
     * every stream gets keys of its own (forward secrecy per stream). */
    return sess_priority(s, &s->prio,
                         ext_psk  ? MSTLS_PRIORITY_PSK
                         : psk_ke ? ":+PSK:+ECDHE-PSK"
                                  : "");
  }
  rv = sess_priority(s, &s->prio, ext_psk ? MSTLS_PRIORITY_PSK : "");
  if (rv < 0) {
    return rv;
  }
  /* Resumed streams offer both modes (RFC 8446 §4.2.9), psk_dhe_ke first
   * by default: OpenSSL servers refuse psk_ke unless told otherwise, and
   * GnuTLS servers resume with either. The cheap setting lists psk_ke
   * first and keeps psk_dhe_ke so such servers still resume. */
  return sess_priority(s, &s->prio_resume,
                       psk_ke    ? ":+PSK:+ECDHE-PSK"
                       : ext_psk ? MSTLS_PRIORITY_PSK
                                 : "");
}

static void sess_free_fields(mstls_session *s) {
  if (s->prio) {
    gnutls_priority_deinit(s->prio);
  }
  if (s->prio_resume) {
    gnutls_priority_deinit(s->prio_resume);
  }
  mstls_mem_free(s->mem, (void *)(uintptr_t)s->settings.server_name);
  mstls_mem_free(s->mem, (void *)(uintptr_t)s->settings.priority);
  mstls_tlsopt_deinit(&s->tlsopt, s->mem);
  mstls_credentials_del(s->cred); /* the session's reference */
  mstls_mem_free(s->mem, s->scratch);
  mstls_mem_free(s->mem, s->pullbuf);
  if (s->resume_data.data) {
    gnutls_free(s->resume_data.data);
  }
}

int mstls_session_new(mstls_session **psession, mstls_role role,
                      const mstls_settings *settings,
                      const mstls_callbacks *callbacks, mstls_credentials *cred,
                      void *user_data) {
  mstls_settings defaults;
  const mstls_mem *mem;
  mstls_session *s;
  int rv;

  if (!psession) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  *psession = NULL;
  if (!settings) {
    mstls_settings_default(&defaults);
    settings = &defaults;
  }
  if (!callbacks || !callbacks->push || !cred ||
      (role != MSTLS_ROLE_CLIENT && role != MSTLS_ROLE_SERVER) ||
      settings->nstreams < 1 || settings->nstreams > 65535 ||
      settings->max_message < MSTLS_TLS_RECORD_WIRE_MAX ||
      settings->stream_rx_cap < settings->max_message ||
      settings->session_rx_budget < settings->stream_rx_cap ||
      settings->handshake_timeout == 0 ||
      (settings->policy != MSTLS_POLICY_RESUME &&
       settings->policy != MSTLS_POLICY_PARALLEL &&
       settings->policy != MSTLS_POLICY_LAZY)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  /* Certificates are verified unless the application explicitly opts out:
   * a client needs the name it expects the server to prove. */
  if (role == MSTLS_ROLE_CLIENT && !settings->server_name &&
      !(settings->flags & MSTLS_SETTINGS_INSECURE) && cred->npsk == 0) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (role == MSTLS_ROLE_SERVER && !cred->have_key && cred->npsk == 0) {
    return MSTLS_E_CREDENTIALS;
  }
  mem = settings->mem ? settings->mem : mstls_mem_default();
  s = mstls_mem_calloc(mem, 1, sizeof(*s));
  if (!s) {
    return MSTLS_E_NOMEM;
  }
  s->mem = mem;
  s->role = role;
  s->settings = *settings;
  s->settings.mem = mem;
  s->settings.server_name = NULL;
  s->settings.priority = NULL;
  s->cb = *callbacks;
  s->user_data = user_data;
  s->cred = mstls_credentials_ref(cred);
  s->nstreams = settings->nstreams;
  s->hs_min_deadline = MSTLS_TSTAMP_NEVER;
  s->anchor_t0 = MSTLS_TSTAMP_NEVER;
  rv = MSTLS_E_NOMEM;
  if (settings->server_name && !(s->settings.server_name = mstls_mem_strdup(
                                     mem, settings->server_name))) {
    goto fail;
  }
  if (settings->priority &&
      !(s->settings.priority = mstls_mem_strdup(mem, settings->priority))) {
    goto fail;
  }
  /* The session keeps its own copies; the caller's pointers are not
   * kept. */
  memset(&s->settings.tls, 0, sizeof(s->settings.tls));
  if ((rv = mstls_tlsopt_init(&s->tlsopt, mem, &settings->tls, 0)) < 0) {
    goto fail;
  }
  rv = MSTLS_E_NOMEM;
  s->scratch = mstls_mem_malloc(mem, MSTLS_RECORD_MAX);
  if (!s->scratch) {
    goto fail;
  }
  rv = sess_init_priorities(s);
  if (rv < 0) {
    goto fail;
  }
  s->settings.resumption_data = NULL;
  s->settings.resumption_data_len = 0;
  if (settings->resumption_data &&
      (rv = mstls_session_set_resumption_data(
           s, settings->resumption_data, settings->resumption_data_len)) < 0) {
    goto fail;
  }
  if (pthread_mutex_init(&s->lock, NULL) != 0) {
    rv = MSTLS_E_NOMEM;
    goto fail;
  }
  if (pthread_cond_init(&s->cond, NULL) != 0) {
    pthread_mutex_destroy(&s->lock);
    rv = MSTLS_E_NOMEM;
    goto fail;
  }
  *psession = s;
  return 0;
fail:
  sess_free_fields(s);
  mstls_mem_free(mem, s);
  return rv;
}

static int sess_free_stream(void *st, void *ctx) {
  (void)ctx;
  mstls_strm_free(st);
  return 0;
}

void mstls_session_del(mstls_session *s) {
  if (!s) {
    return;
  }
  mstls_dense_foreach(&s->streams, sess_free_stream, NULL);
  mstls_dense_free(&s->streams, s->mem);
  sess_free_fields(s);
  pthread_cond_destroy(&s->cond);
  pthread_mutex_destroy(&s->lock);
  mstls_mem_free(s->mem, s);
}

mstls_strm *mstls_sess_stream(mstls_session *s, uint16_t id, int create,
                              int *perr) {
  mstls_strm *st;
  int rv;
  if (id >= s->nstreams) {
    *perr = MSTLS_E_INVALID_STREAM;
    return NULL;
  }
  st = mstls_dense_get(&s->streams, id);
  if (st || !create) {
    *perr = 0;
    return st;
  }
  st = mstls_mem_calloc(s->mem, 1, sizeof(*st));
  if (!st) {
    *perr = MSTLS_E_NOMEM;
    return NULL;
  }
  st->sess = s;
  st->id = id;
  st->plain.total = &s->rx_total;
  st->state = MSTLS_STREAM_IDLE;
  rv = mstls_dense_set(&s->streams, s->mem, id, st);
  if (rv < 0) {
    mstls_mem_free(s->mem, st);
    *perr = rv;
    return NULL;
  }
  *perr = 0;
  return st;
}

/* A fatal session error: every stream is finished, nothing more is sent. */
/* The session ended. After an orderly close of the transport
 * (MSTLS_E_CLOSED) every stream is closed; when it died (the transport is
 * gone, an abort) every stream that was not closed in order reports
 * failed, with the session's cause. Only
 * state changes here -- this may run inside a stream's own GnuTLS call,
 * so nothing is released and no callback runs. */
static int sess_mark_failed(void *p, void *ctx) {
  mstls_strm *st = p;
  mstls_session *s = ctx;
  /* After an orderly end, what an established stream received stays
   * readable: an open one, or one we already said close_notify on. */
  st->drain = s->err == MSTLS_E_CLOSED && st->has_channel &&
              (st->state == MSTLS_STREAM_OPEN ||
               (st->state == MSTLS_STREAM_CLOSED && !st->peer_closed));
  switch (st->state) {
  case MSTLS_STREAM_IDLE:
  case MSTLS_STREAM_HANDSHAKING:
  case MSTLS_STREAM_OPEN:
  case MSTLS_STREAM_PLAINTEXT:
    if (s->err == MSTLS_E_CLOSED) {
      st->state = MSTLS_STREAM_CLOSED; /* the transport closed in order */
      break;
    }
    st->state = MSTLS_STREAM_FAILED;
    st->err = s->err;
    s->stats.streams_failed++;
    break;
  case MSTLS_STREAM_CLOSED:
  case MSTLS_STREAM_FAILED:
  default:
    break;
  }
  return 0;
}

int mstls_sess_fail(mstls_session *s, int err) {
  if (!s->err) {
    mstls_log(MSTLS_LOG_INFO, "%s session %p: failed: %s",
              s->role == MSTLS_ROLE_SERVER ? "server" : "client", (void *)s,
              mstls_strerror(err));
    s->err = err;
    mstls_dense_foreach(&s->streams, sess_mark_failed, s);
  }
  return s->err;
}

void mstls_sess_ready_add(mstls_session *s, mstls_strm *st) {
  if (st->in_ready) {
    return;
  }
  st->in_ready = 1;
  st->ready_next = NULL;
  if (s->ready_tail) {
    s->ready_tail->ready_next = st;
  } else {
    s->ready_head = st;
  }
  s->ready_tail = st;
}

void mstls_sess_ready_remove(mstls_session *s, mstls_strm *st) {
  mstls_strm **pp;
  mstls_strm *prev = NULL;
  if (!st->in_ready) {
    return;
  }
  for (pp = &s->ready_head; *pp; prev = *pp, pp = &(*pp)->ready_next) {
    if (*pp == st) {
      *pp = st->ready_next;
      if (s->ready_tail == st) {
        s->ready_tail = prev;
      }
      break;
    }
  }
  st->in_ready = 0;
  st->ready_next = NULL;
}

void mstls_sess_hs_add(mstls_session *s, mstls_strm *st) {
  if (st->in_hs) {
    return;
  }
  st->in_hs = 1;
  st->armed = 0;
  st->hs_prev = NULL;
  st->hs_next = s->hs_head;
  if (s->hs_head) {
    s->hs_head->hs_prev = st;
  }
  s->hs_head = st;
  s->n_unarmed++;
  s->stats.streams_handshaking++;
}

void mstls_sess_hs_remove(mstls_session *s, mstls_strm *st) {
  if (!st->in_hs) {
    return;
  }
  if (st->hs_prev) {
    st->hs_prev->hs_next = st->hs_next;
  } else {
    s->hs_head = st->hs_next;
  }
  if (st->hs_next) {
    st->hs_next->hs_prev = st->hs_prev;
  }
  if (!st->armed) {
    s->n_unarmed--;
  }
  st->in_hs = 0;
  st->hs_prev = st->hs_next = NULL;
  s->stats.streams_handshaking--;
}

static int sess_start_one(void *p, void *ctx) {
  mstls_strm *st = p;
  int rv;
  (void)ctx;
  if (!st->waiting_resume) {
    return 0;
  }
  st->waiting_resume = 0;
  rv = mstls_strm_start_tls(st);
  if (rv < 0 && mstls_err_is_fatal(rv)) {
    mstls_sess_fail(st->sess, rv);
  }
  return st->sess->err;
}

/* Start every stream that waited for the anchor's session data. */
static void sess_start_waiting(mstls_session *s) {
  mstls_dense_foreach(&s->streams, sess_start_one, NULL);
}

void mstls_sess_resume_ready(mstls_session *s, const gnutls_datum_t *data) {
  if (s->resume_state != 0) {
    return;
  }
  s->ticket_wait = 0;
  s->resume_data = *data;
  s->resume_state = 1;
  sess_start_waiting(s);
}

/* No ticket (the server issues none): the waiting streams do full
 * handshakes instead of hanging. */
void mstls_sess_resume_unavailable(mstls_session *s) {
  if (s->resume_state != 0) {
    return;
  }
  s->ticket_wait = 0;
  s->resume_state = -1;
  sess_start_waiting(s);
}

void mstls_sess_ticket_wait(mstls_session *s, mstls_strm *anchor) {
  if (s->resume_state != 0 || s->ticket_wait) {
    return;
  }
  if (s->anchor_t0 == MSTLS_TSTAMP_NEVER && anchor->armed) {
    /* LAZY: the anchor is the first stream to finish, chosen late. */
    s->anchor_t0 = anchor->deadline - s->settings.handshake_timeout;
  }
  /* Armed at the next timer run, which stamps the end of the anchor's
   * handshake (get_expiry asks for it at once). */
  s->ticket_wait = 1;
  s->ticket_wait_armed = 0;
}

/* The bounded wait for the anchor's ticket: settings.ticket_wait, else
 * twice the anchor's measured handshake time -- one round trip plus the
 * server's work, so a ticket sent after the client's Finished (OpenSSL)
 * still arrives in time -- and never longer than the handshake timeout. */
static void sess_ticket_timer(mstls_session *s, mstls_tstamp now) {
  mstls_tstamp hs, wait;
  if (!s->ticket_wait) {
    return;
  }
  if (!s->ticket_wait_armed) {
    s->ticket_wait_armed = 1;
    hs = s->anchor_t0 != MSTLS_TSTAMP_NEVER && now > s->anchor_t0
             ? now - s->anchor_t0
             : 0;
    s->stats.anchor_handshake_time = hs;
    wait = s->settings.ticket_wait ? s->settings.ticket_wait : 2 * hs;
    if (wait > s->settings.handshake_timeout) {
      wait = s->settings.handshake_timeout;
    }
    s->ticket_deadline = now + wait;
  }
  if (now >= s->ticket_deadline) {
    s->stats.ticket_waits_expired++;
    mstls_sess_resume_unavailable(s);
  }
}

int mstls_session_feed(mstls_session *s, uint32_t flags, uint16_t stream,
                       const uint8_t *data, size_t len) {
  mstls_strm *st;
  int rv;

  /* An empty message carries nothing, and queued it would read as the
   * end of the stream's transport. */
  if (!s || !data || len == 0) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (s->err) {
    return s->err;
  }
  if (stream >= s->nstreams) {
    s->stats.msgs_dropped++;
    return MSTLS_E_INVALID_STREAM;
  }
  if (len > s->settings.max_message) {
    s->stats.msgs_dropped++;
    return MSTLS_E_MSG_SIZE;
  }
  st = mstls_sess_stream(s, stream, 1, &rv);
  if (!st) {
    return mstls_sess_fail(s, rv);
  }
  s->stats.msgs_in++;
  s->stats.bytes_in += len;
  rv = mstls_strm_enqueue(st, flags, data, len);
  if (rv < 0) {
    if (rv == MSTLS_E_INVALID_STATE) {
      s->stats.msgs_dropped++;
    }
    return s->err ? s->err : rv;
  }
  rv = mstls_strm_process(st);
  return s->err ? s->err : rv;
}

/* Client: which streams start now under each policy. */
static int sess_start(mstls_session *s) {
  uint32_t i;
  int rv;

  s->started = 1;
  for (i = 0; i < s->nstreams; i++) {
    mstls_strm *st = mstls_dense_get(&s->streams, (uint16_t)i);
    if (st && (st->plaintext_declared || st->state != MSTLS_STREAM_IDLE)) {
      continue;
    }
    if (s->settings.policy == MSTLS_POLICY_LAZY) {
      continue;
    }
    s->target++;
    if (s->role == MSTLS_ROLE_SERVER) {
      continue; /* a server waits for its client */
    }
    st = mstls_sess_stream(s, (uint16_t)i, 1, &rv);
    if (!st) {
      return mstls_sess_fail(s, rv);
    }
    st->counted_target = 1;
    if (s->settings.policy == MSTLS_POLICY_RESUME && s->resume_state == 1) {
      /* Resumption data from an earlier association: no anchor, every
       * stream resumes at once. */
    } else if (s->settings.policy == MSTLS_POLICY_RESUME && s->have_anchor) {
      st->waiting_resume = 1;
      continue;
    } else if (s->settings.policy == MSTLS_POLICY_RESUME) {
      s->have_anchor = 1;
      st->ticket_anchor = 1;
    }
    rv = mstls_strm_start_tls(st);
    if (rv < 0 && mstls_err_is_fatal(rv)) {
      return mstls_sess_fail(s, rv);
    }
  }
  return 0;
}

/* Handshakes whose last flight met a full transport (push returned
 * MSTLS_E_AGAIN) make no progress until GnuTLS is called again. */
static int sess_redrive(mstls_session *s) {
  mstls_strm *st, *next;
  if (!s->redrive_pending) {
    return s->err; /* no stream of the list has out_blocked set */
  }
  /* Cleared first: a stream that blocks again during the walk sets it. */
  s->redrive_pending = 0;
  for (st = s->hs_head; st && !s->err; st = next) {
    next = st->hs_next;
    if (st->out_blocked) {
      st->out_blocked = 0;
      /* Streams that start now are added at the list's head, behind this
       * walk. A callback run from here may take other streams off the
       * list (a failed stream, a timer run): if @p next went, the walk
       * cannot go on from it, so leave the rest to the next call. */
      mstls_strm_process(st);
      if (next && !next->in_hs) {
        s->redrive_pending = 1;
        break;
      }
    }
  }
  return s->err;
}

int mstls_session_handshake(mstls_session *s) {
  int rv;
  if (!s) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (s->err) {
    /* A peer may close in order the moment its handshakes finish, even
     * before our answer to its last Finished goes out: those handshakes
     * completed, and the end is the transport's to report. */
    if (s->err == MSTLS_E_CLOSED && s->target > 0 &&
        s->target_done == s->target) {
      return 0;
    }
    return s->err;
  }
  if (!s->started) {
    rv = sess_start(s);
    if (rv < 0) {
      return rv;
    }
    s->all_pending = s->target > 0;
  }
  rv = sess_redrive(s);
  if (rv < 0) {
    return rv;
  }
  if (s->target_done + s->target_failed < s->target) {
    return MSTLS_E_AGAIN;
  }
  s->all_pending = 0;
  if ((s->settings.flags & MSTLS_SETTINGS_ABORT_ON_FAILURE) &&
      s->target_failed) {
    return mstls_sess_fail(s, MSTLS_E_ABORTED);
  }
  if (s->target && s->target_done == 0) {
    return s->first_target_err ? s->first_target_err : MSTLS_E_HANDSHAKE;
  }
  /* A bring-up in which a stream failed is not a success unless the
   * application said it can live with fewer streams. */
  if (s->target_failed &&
      !(s->settings.flags & MSTLS_SETTINGS_ACCEPT_PARTIAL)) {
    return MSTLS_E_PARTIAL;
  }
  return 0;
}

/* @p ctx: nonzero to offer close_notify alerts again too. */
static int sess_flush_one(void *p, void *ctx) {
  mstls_strm *st = p;
  const int *byes = ctx;
  if (st->txq.count) {
    (void)mstls_strm_flush(st);
  }
  if (*byes && st->bye_wanted && !st->sent_bye &&
      st->state != MSTLS_STREAM_FAILED) {
    (void)mstls_strm_bye(st); /* sets bye_pending again if still full */
  }
  return 0;
}

int mstls_session_flush(mstls_session *s) {
  int rv, byes;
  if (!s) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (s->err) {
    return s->err;
  }
  rv = sess_redrive(s);
  if (rv < 0) {
    return rv;
  }
  byes = s->bye_pending;
  s->bye_pending = 0;
  if (s->n_held || byes) {
    mstls_dense_foreach(&s->streams, sess_flush_one, &byes);
  }
  if (s->err) {
    return s->err;
  }
  /* Kept records, close_notify alerts, and handshake flights that met a
   * full transport again during the walk above. */
  return s->n_held || s->bye_pending || s->redrive_pending ? MSTLS_E_AGAIN : 0;
}

mstls_tstamp mstls_session_get_expiry(mstls_session *s) {
  mstls_tstamp e = MSTLS_TSTAMP_NEVER;
  if (!s || s->err) {
    return MSTLS_TSTAMP_NEVER;
  }
  if (s->all_pending) {
    if (!s->all_armed) {
      return 0;
    }
    e = s->all_deadline;
  }
  if (s->hs_head) {
    if (s->n_unarmed) {
      return 0;
    }
    if (s->hs_min_deadline < e) {
      e = s->hs_min_deadline;
    }
  }
  if (s->ticket_wait) {
    if (!s->ticket_wait_armed) {
      return 0;
    }
    if (s->ticket_deadline < e) {
      e = s->ticket_deadline;
    }
  }
  return e;
}

/* handshake() has waited too long: every stream it waits for that never
 * started fails with MSTLS_E_TIMEOUT. Streams without state are counted
 * without allocating any. */
static void sess_timeout_unstarted(mstls_session *s) {
  uint32_t i;
  for (i = 0; i < s->nstreams && !s->err; i++) {
    mstls_strm *st = mstls_dense_get(&s->streams, (uint16_t)i);
    if (!st) {
      s->target_failed++;
      if (!s->first_target_err) {
        s->first_target_err = MSTLS_E_TIMEOUT;
      }
      continue;
    }
    if ((st->state == MSTLS_STREAM_IDLE && !st->plaintext_declared) ||
        st->waiting_resume) {
      st->counted_target = 1;
      mstls_strm_fail(st, MSTLS_E_TIMEOUT);
    }
  }
  s->all_pending = 0;
}

/* A handshake's deadline starts at the first timer run after it began:
 * the core has no clock of its own. */
static void sess_arm(mstls_session *s, mstls_strm *st, mstls_tstamp now) {
  st->armed = 1;
  s->n_unarmed--;
  st->deadline = now + s->settings.handshake_timeout;
  if (st->ticket_anchor && s->anchor_t0 == MSTLS_TSTAMP_NEVER) {
    s->anchor_t0 = now;
  }
}

int mstls_session_handle_expiry(mstls_session *s, mstls_tstamp now) {
  mstls_strm *st, *next;
  mstls_tstamp min = MSTLS_TSTAMP_NEVER;
  if (!s) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (s->err) {
    return s->err;
  }
  if (now < s->hs_min_deadline) {
    /* No deadline has passed (hs_min_deadline is never later than the
     * earliest: streams only leave the list between full walks), so only
     * new streams need their deadline. They join at the head, unarmed,
     * and every walk arms all it passes: they are the list's prefix.
     * Visiting only them keeps a bring-up of N streams at N, not N^2,
     * visits. */
    min = s->hs_min_deadline;
    for (st = s->hs_head; st && !st->armed; st = st->hs_next) {
      sess_arm(s, st, now);
      if (st->deadline < min) {
        min = st->deadline;
      }
    }
    s->hs_min_deadline = min;
  } else {
    for (st = s->hs_head; st; st = next) {
      next = st->hs_next;
      if (!st->armed) {
        sess_arm(s, st, now);
      }
      if (st->deadline <= now) {
        mstls_strm_fail(st, MSTLS_E_TIMEOUT);
        if (s->err) {
          return s->err;
        }
        next = s->hs_head; /* the list changed; rescan from the start */
        min = MSTLS_TSTAMP_NEVER;
        continue;
      }
      if (st->deadline < min) {
        min = st->deadline;
      }
    }
    s->hs_min_deadline = min;
  }
  sess_ticket_timer(s, now);
  if (s->err) {
    return s->err;
  }
  if (s->all_pending) {
    if (!s->all_armed) {
      s->all_armed = 1;
      s->all_deadline = now + s->settings.handshake_timeout;
    } else if (s->all_deadline <= now &&
               s->target_done + s->target_failed < s->target) {
      sess_timeout_unstarted(s);
    }
  }
  return s->err;
}

uint32_t mstls_session_get_nstreams(mstls_session *s) {
  return s ? s->nstreams : 0;
}

int mstls_session_get_error(mstls_session *s) {
  return s ? s->err : MSTLS_E_INVALID_ARGUMENT;
}

mstls_role mstls_session_get_role(mstls_session *s) {
  return s ? s->role : MSTLS_ROLE_CLIENT;
}

int mstls_session_get_stats(mstls_session *s, mstls_session_stats *stats) {
  if (!s || !stats) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  *stats = s->stats;
  stats->rx_buffered = s->rx_total;
  stats->streams_kept = s->n_held;
  return 0;
}

static int sess_bye_one(void *p, void *ctx) {
  mstls_strm *st = p;
  int *result = ctx;
  int rv;
  if (st->state == MSTLS_STREAM_FAILED || st->state == MSTLS_STREAM_IDLE ||
      st->sent_bye) {
    return 0;
  }
  rv = mstls_strm_bye(st);
  if (rv == MSTLS_E_AGAIN) {
    *result = MSTLS_E_AGAIN;
  } else if (rv < 0 && mstls_err_is_fatal(rv)) {
    return mstls_sess_fail(st->sess, rv);
  }
  return 0;
}

int mstls_session_bye(mstls_session *s) {
  int result = 0;
  int rv;
  if (!s) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (s->err) {
    return s->err;
  }
  /* RFC 3436 §4.3: every stream's TLS connection is closed; the alerts go
   * out together, the association closes afterwards. */
  rv = mstls_dense_foreach(&s->streams, sess_bye_one, &result);
  return rv < 0 ? rv : result;
}

int mstls_stream_bye(mstls_session *s, uint16_t stream) {
  mstls_strm *st;
  int rv;
  if (!s) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (s->err) {
    return s->err;
  }
  st = mstls_sess_stream(s, stream, 0, &rv);
  if (rv < 0) {
    return rv;
  }
  if (!st || st->state == MSTLS_STREAM_IDLE ||
      st->state == MSTLS_STREAM_HANDSHAKING ||
      st->state == MSTLS_STREAM_FAILED) {
    return MSTLS_E_INVALID_STATE;
  }
  if (st->sent_bye) {
    return 0;
  }
  rv = mstls_strm_bye(st);
  if (rv < 0 && mstls_err_is_fatal(rv)) {
    return mstls_sess_fail(s, rv);
  }
  return rv;
}

int mstls_session_set_resumption_data(mstls_session *s, const uint8_t *data,
                                      size_t len) {
  uint8_t *copy;
  if (!s || !data || len == 0 || len > UINT32_MAX ||
      s->role != MSTLS_ROLE_CLIENT) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (s->started || s->resume_state != 0) {
    return MSTLS_E_INVALID_STATE;
  }
  /* GnuTLS frees resume_data with gnutls_free(). */
  copy = gnutls_malloc(len);
  if (!copy) {
    return MSTLS_E_NOMEM;
  }
  memcpy(copy, data, len);
  s->resume_data.data = copy;
  s->resume_data.size = (unsigned)len;
  s->resume_state = 1;
  return 0;
}

int mstls_session_get_resumption_data(mstls_session *s, uint8_t *buf,
                                      size_t *plen) {
  mstls_strm *st;
  gnutls_datum_t live = {NULL, 0};
  const gnutls_datum_t *d = NULL;
  int rv = 0;

  if (!s || !plen || s->role != MSTLS_ROLE_CLIENT) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  /* Stream 0's own session is the freshest: after an imported blob it
   * carries the ticket this association's server sent. */
  st = mstls_dense_get(&s->streams, 0);
  if (st && st->has_channel && st->state == MSTLS_STREAM_OPEN &&
      (gnutls_protocol_get_version(st->ch.tls) != GNUTLS_TLS1_3 ||
       (gnutls_session_get_flags(st->ch.tls) & GNUTLS_SFLAGS_SESSION_TICKET)) &&
      gnutls_session_get_data2(st->ch.tls, &live) == 0) {
    d = &live;
  } else if (s->resume_state == 1) {
    d = &s->resume_data;
  }
  if (!d) {
    return MSTLS_E_INVALID_STATE;
  }
  if (!buf || *plen < d->size) {
    rv = MSTLS_E_MSG_SIZE;
  } else {
    memcpy(buf, d->data, d->size);
  }
  *plen = d->size;
  gnutls_free(live.data);
  return rv;
}
