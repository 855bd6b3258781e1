/* One stream of a session: its TLS channel, handshake, input processing,
 * send and receive, and the public per-stream functions. */
#include "session.h"

#include <stdio.h>
#include <string.h>

#include "creds.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "tlsopt.h"

/* RFC 3436 §3.2: a record must fit in one SCTP user message. GnuTLS pushes
 * one record per call of the vector push function; each becomes one
 * message. */
/* One message to the application's push callback. */
static int strm_push_msg(mstls_strm *st, const mstls_iovec *v, size_t n) {
  mstls_session *s = st->sess;
  size_t i, total = 0;
  int rv;

  for (i = 0; i < n; i++) {
    total += v[i].len;
  }
  rv = s->cb.push(s, st->id, v, n, s->user_data);
  if (rv == MSTLS_E_AGAIN) {
    s->push_blocked = 1;
    s->redrive_pending = 1;
    st->out_blocked = 1;
    return MSTLS_E_AGAIN;
  }
  st->out_blocked = 0;
  if (rv < 0) {
    /* Keep the causes a transport names (a send that timed out, a peer
     * that is gone, an association that closed in order); anything else
     * is a transport failure. */
    if (rv != MSTLS_E_TIMEOUT && rv != MSTLS_E_PEER_GONE &&
        rv != MSTLS_E_CLOSED) {
      rv = MSTLS_E_TRANSPORT;
    }
    mstls_sess_fail(s, rv);
    return rv;
  }
  s->stats.msgs_out++;
  s->stats.bytes_out += total;
  return 0;
}

static void strm_txq_clear(mstls_strm *st) {
  if (st->txq.count) {
    mstls_rxq_clear(&st->txq, st->sess->mem);
    st->sess->n_held--;
  }
}

int mstls_strm_flush(mstls_strm *st) {
  mstls_session *s = st->sess;
  while (st->txq.count) {
    mstls_msg *m = st->txq.head;
    mstls_iovec v;
    int rv;
    if (s->err) {
      return s->err;
    }
    v.base = m->data;
    v.len = m->len;
    rv = strm_push_msg(st, &v, 1);
    if (rv < 0) {
      return rv;
    }
    mstls_rxq_pop(&st->txq, s->mem);
    if (!st->txq.count) {
      s->n_held--;
    }
  }
  return 0;
}

/* GnuTLS's push for a stream: one record (RFC 3436 §3.2, the channel
 * splits flights). Held application records go first. While
 * mstls_strm_send() runs, a record that meets a full transport is kept
 * here and reported sent, so GnuTLS never holds application data and the
 * application never has to offer the same bytes again; anything else
 * (handshake, alerts) stays with GnuTLS, which offers it again. */
static int strm_push(void *ctx, const giovec_t *iov, int iovcnt) {
  mstls_strm *st = ctx;
  mstls_session *s = st->sess;
  mstls_iovec small[8] = {{NULL, 0}};
  mstls_iovec *v = small;
  int i, rv;

  if (s->err) {
    return s->err;
  }
  if (iovcnt > 8) {
    v = mstls_mem_malloc(s->mem, sizeof(*v) * (size_t)iovcnt);
    if (!v) {
      return MSTLS_E_NOMEM;
    }
  }
  for (i = 0; i < iovcnt; i++) {
    v[i].base = iov[i].iov_base;
    v[i].len = iov[i].iov_len;
  }
  rv = mstls_strm_flush(st);
  if (rv == 0) {
    rv = strm_push_msg(st, v, (size_t)iovcnt);
  }
  if (rv == MSTLS_E_AGAIN && st->in_send) {
    int was_empty = st->txq.count == 0;
    rv = mstls_rxq_pushv(&st->txq, s->mem, v, (size_t)iovcnt);
    if (rv == 0) {
      s->stats.records_kept++;
      s->n_held += was_empty ? 1 : 0;
    }
  }
  if (v != small) {
    mstls_mem_free(s->mem, v);
  }
  return rv;
}

/* MSTLS_LOG_INFO: what happened to the stream. */
static void strm_log_event(mstls_strm *st, mstls_stream_event ev, int err) {
  const char *role = st->sess->role == MSTLS_ROLE_SERVER ? "server" : "client";
  void *sess = st->sess;
  unsigned id = st->id;
  switch (ev) {
  case MSTLS_EVENT_HANDSHAKE_DONE:
    if (st->state == MSTLS_STREAM_PLAINTEXT) {
      mstls_log(MSTLS_LOG_INFO,
                "%s session %p stream %u: plaintext (RFC 3436 §6)", role, sess,
                id);
    } else {
      mstls_chan_log_handshake(&st->ch);
    }
    break;
  case MSTLS_EVENT_CLOSED:
    mstls_log(MSTLS_LOG_INFO,
              "%s session %p stream %u: closed by the peer (close_notify)",
              role, sess, id);
    break;
  case MSTLS_EVENT_FAILED:
    mstls_log(MSTLS_LOG_INFO, "%s session %p stream %u: failed: %s", role, sess,
              id, mstls_strerror(err));
    break;
  case MSTLS_EVENT_RENEGOTIATION_REFUSED:
    mstls_log(MSTLS_LOG_INFO, "%s session %p stream %u: renegotiation refused",
              role, sess, id);
    break;
  default:
    break;
  }
}

static void strm_event(mstls_strm *st, mstls_stream_event ev, int err) {
  mstls_session *s = st->sess;
  if (mstls_log_on(MSTLS_LOG_INFO)) {
    strm_log_event(st, ev, err);
  }
  if (s->cb.stream_event) {
    s->cb.stream_event(s, ev, st->id, err, s->user_data);
  }
}

/* Bytes waiting on the stream. Both queues keep the session's rx_total in
 * step themselves, whoever consumes them (GnuTLS's pull included). */
static size_t strm_queued(const mstls_strm *st) {
  return st->ch.rxq.bytes + st->plain.bytes;
}

static void strm_release(mstls_strm *st) {
  mstls_session *s = st->sess;
  strm_txq_clear(st);
  if (st->has_channel) {
    mstls_chan_deinit(&st->ch);
    st->has_channel = 0;
    s->stats.streams_active--;
  }
  mstls_rxq_clear(&st->plain, s->mem);
}

void mstls_strm_free(mstls_strm *st) {
  strm_release(st);
  mstls_mem_free(st->sess->mem, st);
}

static int strm_fail_waiting(void *p, void *ctx) {
  mstls_strm *w = p;
  if (w->waiting_resume) {
    mstls_strm_fail(w, *(int *)ctx);
  }
  return 0;
}

int mstls_strm_fail(mstls_strm *st, int err) {
  mstls_session *s = st->sess;
  if (st->state == MSTLS_STREAM_FAILED) {
    return st->err;
  }
  if (st->has_channel && st->ch.last_gnutls) {
    st->last_gnutls = st->ch.last_gnutls;
  }
  if (st->counted_target) {
    /* A stream that failed right after its handshake returned (a TLS 1.3
     * peer rejecting our certificate, say) no longer counts as done. */
    if (st->state == MSTLS_STREAM_OPEN || st->state == MSTLS_STREAM_CLOSED) {
      s->target_done--;
    }
    s->target_failed++;
    if (!s->first_target_err) {
      s->first_target_err = err;
    }
  }
  st->state = MSTLS_STREAM_FAILED;
  st->err = err;
  st->waiting_resume = 0;
  mstls_sess_hs_remove(s, st);
  mstls_sess_ready_remove(s, st);
  strm_release(st);
  s->stats.streams_failed++;
  strm_event(st, MSTLS_EVENT_FAILED, err);
  if (mstls_err_is_fatal(err)) {
    mstls_sess_fail(s, err);
  } else if (s->settings.flags & MSTLS_SETTINGS_ABORT_ON_FAILURE) {
    mstls_sess_fail(s, MSTLS_E_ABORTED);
  }
  /* The anchor failed before its ticket arrived: the waiting streams
   * share its fate rather than repeat a handshake that failed. */
  if (st->ticket_anchor && s->resume_state == 0 && !s->err) {
    s->resume_state = -1;
    mstls_dense_foreach(&s->streams, strm_fail_waiting, &err);
  }
  return err;
}

/* A fatal GnuTLS error of the stream's own TLS session. */
static int strm_fail_tls(mstls_strm *st, int gerr, int handshaking) {
  int err = mstls_chan_map_error(&st->ch, gerr, handshaking);
  /* Not when the whole session has already failed. */
  if (!st->sess->err) {
    mstls_chan_send_fail_alert(&st->ch, gerr);
  }
  return mstls_strm_fail(st, err);
}

int mstls_strm_start_tls(mstls_strm *st) {
  mstls_session *s = st->sess;
  unsigned flags = s->role == MSTLS_ROLE_SERVER ? GNUTLS_SERVER : GNUTLS_CLIENT;
  int client_auth = (s->settings.flags & (MSTLS_SETTINGS_REQUEST_CLIENT_CERT |
                                          MSTLS_SETTINGS_REQUIRE_CLIENT_CERT));
  int resuming = 0;
  int rv;

  if (s->role == MSTLS_ROLE_SERVER && !client_auth) {
    /* TLS 1.3: the server sends its tickets right after its Finished,
     * so the client can resume every other stream one round trip after
     * the first handshake began. */
    flags |= GNUTLS_ENABLE_EARLY_START;
  }
  if (s->role == MSTLS_ROLE_CLIENT && s->resume_state == 1) {
    resuming = 1;
    /* psk_ke uses no key share, but GnuTLS sends one anyway: one share
     * (the top group) instead of two halves the key generation. */
    if (s->settings.flags & MSTLS_SETTINGS_RESUME_PSK_KE) {
      flags |= GNUTLS_KEY_SHARE_TOP;
    }
  }
  flags |= mstls_tlsopt_init_flags(&s->tlsopt);
  rv = mstls_chan_init(&st->ch, s->mem, flags, strm_push, st);
  if (rv < 0) {
    return mstls_strm_fail(st, rv);
  }
  st->has_channel = 1;
  st->ch.rxq.total = &s->rx_total;
  s->stats.streams_active++;
  if (s->role == MSTLS_ROLE_SERVER && s->settings.policy != MSTLS_POLICY_LAZY) {
    st->counted_target = 1; /* the client handshakes it up front */
  }
  rv = gnutls_priority_set(st->ch.tls, resuming ? s->prio_resume : s->prio);
  if (rv >= 0) {
    rv = gnutls_credentials_set(st->ch.tls, GNUTLS_CRD_CERTIFICATE,
                                s->cred->x509);
  }
  if (rv >= 0) {
    st->ch.psk_cred = s->cred;
    rv = mstls_creds_attach_psk(s->cred, st->ch.tls,
                                s->role == MSTLS_ROLE_SERVER);
  }
  if (rv >= 0 && s->role == MSTLS_ROLE_SERVER) {
    mstls_scache_attach(&s->cred->scache, st->ch.tls);
    if (!(s->settings.flags & MSTLS_SETTINGS_NO_TICKETS)) {
      rv =
          gnutls_session_ticket_enable_server(st->ch.tls, &s->cred->ticket_key);
    }
    if (rv >= 0 && client_auth) {
      gnutls_certificate_server_set_request(
          st->ch.tls, (s->settings.flags & MSTLS_SETTINGS_REQUIRE_CLIENT_CERT)
                          ? GNUTLS_CERT_REQUIRE
                          : GNUTLS_CERT_REQUEST);
    }
  }
  if (rv >= 0 && s->role == MSTLS_ROLE_CLIENT) {
    if (s->settings.server_name) {
      rv = gnutls_server_name_set(st->ch.tls, GNUTLS_NAME_DNS,
                                  s->settings.server_name,
                                  strlen(s->settings.server_name));
    }
    if (rv >= 0 && resuming &&
        gnutls_session_set_data(st->ch.tls, s->resume_data.data,
                                s->resume_data.size) < 0) {
      /* Resumption data GnuTLS cannot use (expired, from an older
       * version, damaged): a full handshake instead. */
      s->stats.resume_data_rejected++;
    }
  }
  if (rv < 0) {
    st->ch.last_gnutls = rv;
    return mstls_strm_fail(st, rv == GNUTLS_E_MEMORY_ERROR ? MSTLS_E_NOMEM
                                                           : MSTLS_E_TLS);
  }
  {
    mstls_tls_ctx ctx = {s->role, s, st->id, NULL, NULL, 0};
    mstls_verify_mode mode;
    if (s->role == MSTLS_ROLE_CLIENT) {
      mode = (s->settings.flags & MSTLS_SETTINGS_INSECURE)
                 ? MSTLS_VERIFY_INSECURE
                 : MSTLS_VERIFY_REQUIRE;
    } else if (s->settings.flags & MSTLS_SETTINGS_REQUIRE_CLIENT_CERT) {
      mode = MSTLS_VERIFY_REQUIRE;
    } else {
      mode = client_auth ? MSTLS_VERIFY_OPTIONAL : MSTLS_VERIFY_NONE;
    }
    rv = mstls_tlsopt_apply(&s->tlsopt, &st->ch, &ctx,
                            s->role == MSTLS_ROLE_SERVER,
                            s->settings.server_name, mode);
    if (rv < 0) {
      return mstls_strm_fail(st, rv);
    }
  }
  st->state = MSTLS_STREAM_HANDSHAKING;
  mstls_sess_hs_add(s, st);
  if (s->role == MSTLS_ROLE_CLIENT) {
    return mstls_strm_process(st); /* sends the ClientHello */
  }
  return 0;
}

/* The peer asked for a TLS 1.2 renegotiation: a HelloRequest from a
 * server, or a ClientHello from a client after the handshake. RFC 5246
 * §7.2.2: "no_renegotiation: Sent by the client in response to a hello
 * request or by the server in response to a client hello after initial
 * handshaking. [...] This message is always a warning." A stream keeps its
 * one handshake (RFC 3436 names no renegotiation, TLS 1.3 removed it):
 * refuse, count, report, and go on with the established session. */
static void strm_refuse_renegotiation(mstls_strm *st) {
  mstls_session *s = st->sess;
  uint8_t drop[64];

  s->stats.renegotiations_refused++;
  if (s->role == MSTLS_ROLE_SERVER &&
      gnutls_record_check_pending(st->ch.tls) > 0) {
    /* GnuTLS keeps the client's ClientHello queued for a handshake that
     * will not run; the next read discards it with
     * GNUTLS_E_UNEXPECTED_PACKET, which here is not an error. */
    (void)gnutls_record_recv(st->ch.tls, drop, sizeof(drop));
  }
  (void)gnutls_alert_send(st->ch.tls, GNUTLS_AL_WARNING,
                          GNUTLS_A_NO_RENEGOTIATION);
  strm_event(st, MSTLS_EVENT_RENEGOTIATION_REFUSED, 0);
}

/* A record of GnuTLS's own that met a full transport outside
 * mstls_strm_send() (a NewSessionTicket, the no_renegotiation alert) stays with
 * GnuTLS, which sends it first on the next gnutls_record_send() and
 * returns that record's size as if it were the caller's data (lib/record.c,
 * _gnutls_send_tlen_int: 0 for a handshake message, 2 for an alert). A
 * TLS 1.3 server's gnutls_handshake() can even report completion with a
 * NewSessionTicket still held: after a resumption (no early start) the
 * state that sends the tickets is skipped on the call that follows
 * GNUTLS_E_AGAIN, since the tickets count as sent once queued (GnuTLS
 * 3.7.9, lib/handshake-tls13.c, STATE115). Once a stream's handshake is
 * done, such a record is taken over as a kept record (strm_push under
 * in_send): it goes out in order with the stream's next push or flush, and
 * GnuTLS never holds one when the application sends. Not while gnutls_bye()
 * is under way, which offers its close_notify again itself.
 * @return 0, or a GnuTLS error code (the stream's push failed). */
static int strm_take_held(mstls_strm *st) {
  unsigned in_send = st->in_send;
  ssize_t n;
  if (!st->has_channel || !st->ch.tls_holds || st->bye_started ||
      st->sess->err) {
    return 0;
  }
  st->in_send = 1;
  n = gnutls_record_send(st->ch.tls, NULL, 0);
  st->in_send = in_send;
  if (n >= 0 || n == GNUTLS_E_INVALID_REQUEST) {
    st->ch.tls_holds = 0; /* taken, or GnuTLS held nothing after all */
    return 0;
  }
  if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
    return 0; /* still held: tried again on the next call */
  }
  return (int)n;
}

/* Read from the stream's TLS session. GnuTLS returns GNUTLS_E_AGAIN after
 * consuming a post-handshake message (a NewSessionTicket, a KeyUpdate) even
 * when more records are queued: read on while input remains. */
static long strm_tls_read(mstls_strm *st, uint8_t *buf, size_t len) {
  for (;;) {
    long n = gnutls_record_recv(st->ch.tls, buf, len);
    int held;
    if (n == GNUTLS_E_REHANDSHAKE) {
      strm_refuse_renegotiation(st);
      if (st->sess->err) {
        return st->sess->err;
      }
      n = GNUTLS_E_AGAIN;
    }
    /* The no_renegotiation alert sent while reading (a KeyUpdate answer
     * waits for GnuTLS's next gnutls_record_send(), under in_send). */
    if (n >= 0 || n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
      held = strm_take_held(st);
      if (held < 0) {
        return held;
      }
    }
    if ((n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) ||
        st->ch.rxq.count == 0) {
      return n;
    }
  }
}

/* Read post-handshake data on the anchor until its session ticket has
 * arrived; application data read meanwhile is held for the application. */
static int strm_capture_ticket(mstls_strm *st) {
  mstls_session *s = st->sess;
  gnutls_datum_t data;
  int tls13 = gnutls_protocol_get_version(st->ch.tls) == GNUTLS_TLS1_3;
  int rv;

  if (tls13) {
    while (!(gnutls_session_get_flags(st->ch.tls) &
             GNUTLS_SFLAGS_SESSION_TICKET)) {
      long n = strm_tls_read(st, s->scratch, MSTLS_RECORD_MAX);
      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
        /* The ticket may have been read by this very call. */
        if (gnutls_session_get_flags(st->ch.tls) &
            GNUTLS_SFLAGS_SESSION_TICKET) {
          break;
        }
        /* Wait for more input on the anchor, for a bounded time: a
         * server may send no ticket at all. */
        mstls_sess_ticket_wait(s, st);
        return 0;
      }
      if (n == 0) {
        st->peer_closed = 1;
        mstls_sess_resume_unavailable(s);
        return 0;
      }
      if (n < 0) {
        return strm_fail_tls(st, (int)n, 0);
      }
      rv = mstls_rxq_push(&st->plain, s->mem, s->scratch, (size_t)n);
      if (rv < 0) {
        return mstls_strm_fail(st, rv);
      }
    }
  } else if (!(gnutls_session_get_flags(st->ch.tls) &
               GNUTLS_SFLAGS_SESSION_TICKET)) {
    /* TLS 1.2 without a ticket: resume by session ID (RFC 5246
     * §7.4.1.2) if the server gave one; a server without a cache
     * answers with a full handshake. */
    uint8_t id[GNUTLS_MAX_SESSION_ID_SIZE];
    size_t idlen = sizeof(id);
    if (gnutls_session_get_id(st->ch.tls, id, &idlen) < 0 || idlen == 0) {
      mstls_sess_resume_unavailable(s);
      return 0;
    }
  }
  rv = gnutls_session_get_data2(st->ch.tls, &data);
  if (rv < 0) {
    mstls_sess_resume_unavailable(s);
    return 0;
  }
  mstls_sess_resume_ready(s, &data);
  return 0;
}

static int strm_handshake_done(mstls_strm *st) {
  mstls_session *s = st->sess;
  st->state = MSTLS_STREAM_OPEN;
  st->resumed = gnutls_session_is_resumed(st->ch.tls) != 0;
  mstls_sess_hs_remove(s, st);
  s->stats.streams_established++;
  if (st->resumed) {
    s->stats.streams_resumed++;
  } else {
    s->stats.full_handshakes++;
  }
  if (st->counted_target) {
    s->target_done++;
  }
  strm_event(st, MSTLS_EVENT_HANDSHAKE_DONE, 0);
  /* Under LAZY the first stream to finish provides the ticket;
   * mstls_strm_process() reads it. */
  if (s->role == MSTLS_ROLE_CLIENT && s->resume_state == 0 &&
      s->settings.policy == MSTLS_POLICY_LAZY) {
    st->ticket_anchor = 1;
  }
  return 0;
}

/* The peer's close_notify arrived (gnutls_record_recv returned 0). */
static void strm_peer_closed(mstls_strm *st) {
  st->peer_closed = 1;
  st->state = MSTLS_STREAM_CLOSED;
  mstls_sess_ready_remove(st->sess, st);
  strm_event(st, MSTLS_EVENT_CLOSED, 0);
}

/* Decrypt and deliver in callback mode. */
static int strm_deliver(mstls_strm *st) {
  mstls_session *s = st->sess;
  int rv;

  /* Data already held (plaintext stream, or read while waiting for a
   * ticket) goes first, in order. */
  while (st->plain.count && !st->paused && !s->err) {
    size_t n = mstls_rxq_read(&st->plain, s->mem, s->scratch, MSTLS_RECORD_MAX);
    if (st->state != MSTLS_STREAM_PLAINTEXT) {
      st->bytes_recv += n; /* plaintext was counted when it arrived */
    }
    rv = s->cb.recv_data(s, st->id, s->scratch, n, s->user_data);
    if (rv < 0) {
      return mstls_sess_fail(s, MSTLS_E_CALLBACK_FAILURE);
    }
  }
  if (st->state != MSTLS_STREAM_OPEN) {
    return 0;
  }
  while (!st->paused && !s->err && st->state == MSTLS_STREAM_OPEN) {
    long n = strm_tls_read(st, s->scratch, MSTLS_RECORD_MAX);
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
      return 0;
    }
    if (n == 0) {
      strm_peer_closed(st);
      return 0;
    }
    if (n < 0) {
      return strm_fail_tls(st, (int)n, 0);
    }
    st->bytes_recv += (uint64_t)n;
    rv = s->cb.recv_data(s, st->id, s->scratch, (size_t)n, s->user_data);
    if (rv < 0) {
      return mstls_sess_fail(s, MSTLS_E_CALLBACK_FAILURE);
    }
  }
  return 0;
}

/* Server under TLS 1.3 early start: gnutls_handshake() returned once our
 * Finished and tickets were out; GnuTLS reads the client's Finished inside
 * gnutls_record_recv(). The stream is established, and the handshake
 * timeout stops, only once that Finished has been read and verified (a
 * bad one fails the read). Application data read with it is kept for the
 * application. @return 0 (check st->await_finished) or a failure. */
static int strm_await_finished(mstls_strm *st) {
  mstls_session *s = st->sess;

  /* Until then the last handshake message in is the ClientHello; once
   * GnuTLS has read and verified the Finished it clears its handshake
   * state, and the last message in reads as -1. */
  for (;;) {
    int last = (int)gnutls_handshake_get_last_in(st->ch.tls);
    long n;
    if (last == -1 || last == GNUTLS_HANDSHAKE_FINISHED) {
      break;
    }
    if (st->ch.rxq.count == 0) {
      return 0;
    }
    n = gnutls_record_recv(st->ch.tls, s->scratch, MSTLS_RECORD_MAX);
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
      continue;
    }
    if (n == 0) {
      return mstls_strm_fail(st, MSTLS_E_PREMATURE_EOF);
    }
    if (n < 0) {
      return strm_fail_tls(st, (int)n, 1);
    }
    n = mstls_rxq_push(&st->plain, s->mem, s->scratch, (size_t)n);
    if (n < 0) {
      return mstls_strm_fail(st, (int)n);
    }
  }
  st->await_finished = 0;
  return 0;
}

int mstls_strm_process(mstls_strm *st) {
  mstls_session *s = st->sess;
  int rv;

  if (st->state == MSTLS_STREAM_HANDSHAKING) {
    if (!st->await_finished) {
      rv = gnutls_handshake(st->ch.tls);
      if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) {
        return 0;
      }
      if (rv < 0) {
        if (gnutls_error_is_fatal(rv) == 0) {
          return 0; /* warning alerts and the like: keep going */
        }
        return strm_fail_tls(st, rv, 1);
      }
      st->await_finished = s->role == MSTLS_ROLE_SERVER &&
                           (gnutls_session_get_flags(st->ch.tls) &
                            GNUTLS_SFLAGS_EARLY_START) != 0;
    }
    if (st->await_finished) {
      rv = strm_await_finished(st);
      if (rv < 0 || st->await_finished) {
        return rv;
      }
    }
    rv = strm_take_held(st); /* the tickets of a resumption */
    if (rv < 0) {
      return strm_fail_tls(st, rv, 1);
    }
    rv = strm_handshake_done(st);
    if (rv < 0 || st->state != MSTLS_STREAM_OPEN) {
      return rv;
    }
  }
  if (st->state == MSTLS_STREAM_OPEN && st->ticket_anchor &&
      s->resume_state == 0 && s->role == MSTLS_ROLE_CLIENT) {
    rv = strm_capture_ticket(st);
    if (rv < 0) {
      return rv;
    }
  }
  switch (st->state) {
  case MSTLS_STREAM_OPEN:
  case MSTLS_STREAM_PLAINTEXT:
  case MSTLS_STREAM_CLOSED:
    if (s->cb.recv_data) {
      if (s->delivering) {
        return 0; /* delivered by the outer call */
      }
      s->delivering = 1;
      rv = strm_deliver(st);
      s->delivering = 0;
      return rv;
    }
    if (strm_queued(st)) {
      mstls_sess_ready_add(s, st);
    }
    return 0;
  default:
    return 0;
  }
}

/* An unordered message arrived on a TLS stream. RFC 8446 §6.2 (RFC 5246
 * §7.2.2 alike): "unexpected_message: An inappropriate message (e.g., the wrong
 * handshake message, premature Application Data, etc.) was received. This
 * alert should never be observed in communication between proper
 * implementations." Tell the peer with that fatal alert on the stream
 * before failing it, so its side fails now and names the cause. */
static int strm_fail_unordered(mstls_strm *st) {
  mstls_session *s = st->sess;

  s->stats.unordered_msgs++;
  if (st->has_channel && !s->err) {
    (void)gnutls_alert_send(st->ch.tls, GNUTLS_AL_FATAL,
                            GNUTLS_A_UNEXPECTED_MESSAGE);
  }
  return mstls_strm_fail(st, MSTLS_E_UNORDERED);
}

int mstls_strm_enqueue(mstls_strm *st, uint32_t flags, const uint8_t *data,
                       size_t len) {
  mstls_session *s = st->sess;
  mstls_rxq *q;
  int rv;

  switch (st->state) {
  case MSTLS_STREAM_FAILED:
    return MSTLS_E_INVALID_STATE;
  case MSTLS_STREAM_CLOSED:
    if (st->peer_closed) {
      return MSTLS_E_INVALID_STATE; /* nothing follows close_notify */
    }
    break;
  case MSTLS_STREAM_IDLE:
    if (st->plaintext_declared) {
      st->state = MSTLS_STREAM_PLAINTEXT;
      break;
    }
    if ((flags & MSTLS_MSG_UNORDERED) && s->role == MSTLS_ROLE_CLIENT) {
      break; /* no TLS connection to alert on: failed below */
    }
    if (s->role == MSTLS_ROLE_CLIENT) {
      /* The server cannot open TLS on a stream; data before our
       * ClientHello is a protocol error on that stream. */
      return mstls_strm_fail(st, MSTLS_E_HANDSHAKE);
    }
    rv = mstls_strm_start_tls(st);
    if (rv < 0) {
      return rv;
    }
    break;
  default:
    break;
  }
  /* RFC 3436 §3.1: TLS streams use ordered delivery only; an unordered
   * message on a TLS stream is that stream's protocol error. */
  if ((flags & MSTLS_MSG_UNORDERED) && st->state != MSTLS_STREAM_PLAINTEXT) {
    return strm_fail_unordered(st);
  }
  if (strm_queued(st) + len > s->settings.stream_rx_cap ||
      s->rx_total + len > s->settings.session_rx_budget) {
    s->stats.msgs_dropped++;
    return mstls_strm_fail(st, MSTLS_E_BUFFER_FULL);
  }
  q = st->state == MSTLS_STREAM_PLAINTEXT ? &st->plain : &st->ch.rxq;
  rv = mstls_rxq_push(q, s->mem, data, len);
  if (rv < 0) {
    return mstls_strm_fail(st, rv);
  }
  if (s->rx_total > s->stats.rx_buffered_max) {
    s->stats.rx_buffered_max = s->rx_total;
  }
  if (st->state == MSTLS_STREAM_PLAINTEXT) {
    st->bytes_recv += len;
  }
  return 0;
}

/* Start a lazily handshaken stream on first use (client). */
static int strm_lazy_start(mstls_strm *st) {
  mstls_session *s = st->sess;
  int rv;
  if (st->state != MSTLS_STREAM_IDLE || st->plaintext_declared ||
      s->role != MSTLS_ROLE_CLIENT || st->waiting_resume) {
    return 0;
  }
  /* RFC 3436 §5: the handshake of a stream may be delayed until the
   * stream is first used. A known session is resumed. */
  if (s->resume_state == 0 && s->have_anchor) {
    st->waiting_resume = 1;
    return 0;
  }
  if (s->resume_state == 0 && !s->have_anchor) {
    s->have_anchor = 1;
    st->ticket_anchor = 1;
  }
  rv = mstls_strm_start_tls(st);
  return rv < 0 ? rv : 0;
}

long mstls_strm_recv(mstls_strm *st, uint8_t *buf, size_t len) {
  mstls_session *s = st->sess;
  long n;
  int rv;

  if (st->plain.bytes) {
    n = (long)mstls_rxq_read(&st->plain, s->mem, buf, len);
    if (st->state != MSTLS_STREAM_PLAINTEXT) {
      st->bytes_recv += (uint64_t)n;
    }
    return n;
  }
  switch (st->state) {
  case MSTLS_STREAM_IDLE:
    rv = strm_lazy_start(st);
    return rv < 0 ? rv : MSTLS_E_AGAIN;
  case MSTLS_STREAM_HANDSHAKING:
  case MSTLS_STREAM_PLAINTEXT:
    mstls_sess_ready_remove(s, st);
    return MSTLS_E_AGAIN;
  case MSTLS_STREAM_FAILED:
    return st->err;
  case MSTLS_STREAM_CLOSED:
    if (st->peer_closed) {
      return 0;
    }
    break;
  default:
    break;
  }
  n = strm_tls_read(st, buf, len);
  if (n > 0) {
    st->bytes_recv += (uint64_t)n;
    return n;
  }
  if (n == 0) {
    strm_peer_closed(st);
    return 0;
  }
  if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
    if (!strm_queued(st)) {
      mstls_sess_ready_remove(s, st);
    }
    return MSTLS_E_AGAIN;
  }
  if (!gnutls_error_is_fatal((int)n)) {
    return MSTLS_E_AGAIN;
  }
  return strm_fail_tls(st, (int)n, 0);
}

long mstls_strm_send(mstls_strm *st, const uint8_t *data, size_t len) {
  mstls_session *s = st->sess;
  size_t done = 0;
  long n;
  int rv = 0;

  switch (st->state) {
  case MSTLS_STREAM_IDLE:
    if (st->plaintext_declared) {
      st->state = MSTLS_STREAM_PLAINTEXT;
      return mstls_strm_send(st, data, len);
    }
    rv = strm_lazy_start(st);
    return rv < 0 ? rv : MSTLS_E_AGAIN;
  case MSTLS_STREAM_HANDSHAKING:
    return MSTLS_E_AGAIN;
  case MSTLS_STREAM_FAILED:
    return st->err;
  case MSTLS_STREAM_PLAINTEXT: {
    giovec_t v;
    if (len > s->settings.max_message) {
      return MSTLS_E_MSG_SIZE;
    }
    v.iov_base = (void *)(uintptr_t)data;
    v.iov_len = len;
    rv = strm_push(st, &v, 1);
    if (rv < 0) {
      return rv;
    }
    st->bytes_sent += len;
    return (long)len;
  }
  default:
    break;
  }
  if (st->bye_started) { /* set before sent_bye */
    return MSTLS_E_CLOSED;
  }
  rv = strm_take_held(st);
  if (rv < 0) {
    return strm_fail_tls(st, rv, 0);
  }
  rv = mstls_strm_flush(st);
  if (rv < 0) {
    return rv;
  }
  /* Like send(2): as many records as the transport takes, and the first
   * one that meets a full transport is kept (strm_push) and counted. */
  st->in_send = 1;
  while (done < len && !st->txq.count) {
    size_t chunk =
        len - done < MSTLS_RECORD_MAX ? len - done : MSTLS_RECORD_MAX;
    n = gnutls_record_send(st->ch.tls, data + done, chunk);
    if (n > 0) {
      done += (size_t)n;
      st->bytes_sent += (uint64_t)n;
      continue;
    }
    if (n == 0) {
      /* Only a record GnuTLS held could make it take none of ours, and
       * strm_take_held() leaves it none. Not an error code either. */
      mstls_chan_set_detail(&st->ch, "GnuTLS took no data of a record");
      rv = mstls_strm_fail(st, MSTLS_E_TLS);
      break;
    }
    if (s->err) {
      rv = s->err;
    } else if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
      rv = MSTLS_E_AGAIN; /* a held record could not be stored */
    } else {
      rv = strm_fail_tls(st, (int)n, 0);
    }
    break;
  }
  st->in_send = 0;
  return done > 0 ? (long)done : rv;
}

int mstls_strm_bye(mstls_strm *st) {
  mstls_session *s = st->sess;
  int rv;
  if (st->state == MSTLS_STREAM_PLAINTEXT) {
    st->sent_bye = 1;
    return 0;
  }
  if (!st->has_channel || st->state == MSTLS_STREAM_HANDSHAKING) {
    return MSTLS_E_INVALID_STATE;
  }
  st->bye_wanted = 1;
  rv = mstls_strm_flush(st);
  if (rv == MSTLS_E_AGAIN) {
    s->bye_pending = 1; /* a kept record goes first */
  }
  if (rv < 0) {
    return rv;
  }
  st->bye_started = 1;
  rv = gnutls_bye(st->ch.tls, GNUTLS_SHUT_WR);
  if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) {
    s->bye_pending = 1; /* mstls_session_flush() offers it again */
    return MSTLS_E_AGAIN;
  }
  if (s->err) {
    return s->err;
  }
  if (rv < 0) {
    return strm_fail_tls(st, rv, 0);
  }
  st->sent_bye = 1;
  if (st->state == MSTLS_STREAM_OPEN) {
    st->state = MSTLS_STREAM_CLOSED;
  }
  return 0;
}

/* Public per-stream functions ------------------------------------------ */

static mstls_strm *strm_lookup(mstls_session *s, uint16_t stream, int create,
                               int *perr) {
  if (!s) {
    *perr = MSTLS_E_INVALID_ARGUMENT;
    return NULL;
  }
  return mstls_sess_stream(s, stream, create, perr);
}

long mstls_stream_send(mstls_session *s, uint16_t stream, const void *data,
                       size_t len) {
  mstls_strm *st;
  int rv;
  if (!s || (!data && len) || len == 0) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (s->err) {
    return s->err;
  }
  st = strm_lookup(s, stream, 1, &rv);
  if (!st) {
    return rv == MSTLS_E_NOMEM ? mstls_sess_fail(s, rv) : rv;
  }
  return mstls_strm_send(st, data, len);
}

int mstls_stream_flush(mstls_session *s, uint16_t stream) {
  mstls_strm *st;
  int rv;
  if (!s) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (s->err) {
    return s->err;
  }
  st = strm_lookup(s, stream, 0, &rv);
  if (rv < 0) {
    return rv;
  }
  if (!st) {
    return 0;
  }
  rv = mstls_strm_flush(st);
  if (rv == 0 && st->state == MSTLS_STREAM_FAILED) {
    return st->err;
  }
  return rv;
}

/* After an orderly end of the session (MSTLS_E_CLOSED) -- the transport
 * delivered every message the peer sent before it ended -- what a stream
 * received is still read out: held plaintext, then the records queued for
 * it. Then the end is reported: 0 after the peer's close_notify, else
 * MSTLS_E_CLOSED. */
static long strm_recv_closed(mstls_strm *st, uint8_t *buf, size_t len) {
  long n;
  if (st->plain.bytes || st->drain) {
    n = mstls_strm_recv(st, buf, len);
    if (n != MSTLS_E_AGAIN) {
      st->drain = n > 0;
      return n;
    }
    st->drain = 0;
  }
  if (st->state == MSTLS_STREAM_FAILED) {
    return st->err;
  }
  return st->peer_closed ? 0 : MSTLS_E_CLOSED;
}

long mstls_stream_recv(mstls_session *s, uint16_t stream, void *buf,
                       size_t len) {
  mstls_strm *st;
  int rv;
  if (!s || !buf || len == 0) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (s->err && s->err != MSTLS_E_CLOSED) {
    return s->err;
  }
  if (s->cb.recv_data) {
    return s->err ? s->err : MSTLS_E_INVALID_STATE;
  }
  st = strm_lookup(s, stream, !s->err, &rv);
  if (!st) {
    if (s->err) {
      return rv < 0 ? rv : s->err;
    }
    return rv == MSTLS_E_NOMEM ? mstls_sess_fail(s, rv) : rv;
  }
  if (s->err) {
    return strm_recv_closed(st, buf, len);
  }
  return mstls_strm_recv(st, buf, len);
}

long mstls_session_recv_any(mstls_session *s, uint16_t *pstream, void *buf,
                            size_t len) {
  if (!s || !pstream || !buf || len == 0) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (s->err && s->err != MSTLS_E_CLOSED) {
    return s->err;
  }
  if (s->cb.recv_data) {
    return s->err ? s->err : MSTLS_E_INVALID_STATE;
  }
  while (s->ready_head) {
    mstls_strm *st = s->ready_head;
    long n;
    /* Round robin: a busy stream goes to the back of the list. */
    mstls_sess_ready_remove(s, st);
    n = s->err ? strm_recv_closed(st, buf, len) : mstls_strm_recv(st, buf, len);
    if (n == MSTLS_E_AGAIN || n == MSTLS_E_CLOSED) {
      continue;
    }
    if (n == 0 && st->eof_reported) {
      continue;
    }
    if (n == 0) {
      st->eof_reported = 1;
    }
    /* A stream still draining may hold the rest of a record in GnuTLS,
     * which strm_queued() does not see. */
    if ((strm_queued(st) || st->drain) && st->state != MSTLS_STREAM_FAILED) {
      mstls_sess_ready_add(s, st);
    }
    *pstream = st->id;
    return s->err && s->err != MSTLS_E_CLOSED && n < 0 ? s->err : n;
  }
  return s->err ? s->err : MSTLS_E_AGAIN;
}

/* A stream that never started shares the session's end, as
 * sess_mark_failed() gives it to the streams that exist. */
static mstls_stream_state strm_absent_state(const mstls_session *s) {
  if (!s->err) {
    return MSTLS_STREAM_IDLE;
  }
  return s->err == MSTLS_E_CLOSED ? MSTLS_STREAM_CLOSED : MSTLS_STREAM_FAILED;
}

mstls_stream_state mstls_stream_get_state(mstls_session *s, uint16_t stream) {
  int rv;
  mstls_strm *st = strm_lookup(s, stream, 0, &rv);
  if (rv < 0) {
    return MSTLS_STREAM_FAILED;
  }
  if (!st) {
    return strm_absent_state(s);
  }
  return st->state;
}

int mstls_stream_get_error(mstls_session *s, uint16_t stream) {
  int rv;
  mstls_strm *st = strm_lookup(s, stream, 0, &rv);
  if (rv < 0) {
    return rv;
  }
  if (!st) {
    return strm_absent_state(s) == MSTLS_STREAM_FAILED ? s->err : 0;
  }
  return st->err;
}

int mstls_stream_get_tls_error(mstls_session *s, uint16_t stream) {
  int rv;
  mstls_strm *st = strm_lookup(s, stream, 0, &rv);
  if (rv < 0 || !st) {
    return 0;
  }
  if (st->has_channel && st->ch.last_gnutls) {
    return st->ch.last_gnutls;
  }
  return st->last_gnutls;
}

int mstls_stream_get_info(mstls_session *s, uint16_t stream,
                          mstls_stream_info *info) {
  int rv;
  mstls_strm *st;
  if (!info) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  st = strm_lookup(s, stream, 0, &rv);
  if (rv < 0) {
    return rv;
  }
  memset(info, 0, sizeof(*info));
  info->version = "-";
  info->cipher = "-";
  info->group = "-";
  if (!st) {
    info->state = strm_absent_state(s);
    info->error = info->state == MSTLS_STREAM_FAILED ? s->err : 0;
    return 0;
  }
  info->state = st->state;
  info->resumed = st->resumed;
  info->bytes_sent = st->bytes_sent;
  info->bytes_received = st->bytes_recv;
  info->error = st->err;
  if (st->state == MSTLS_STREAM_PLAINTEXT) {
    info->version = "plaintext";
  } else if (st->has_channel && st->state != MSTLS_STREAM_HANDSHAKING) {
    const char *v =
        gnutls_protocol_get_name(gnutls_protocol_get_version(st->ch.tls));
    const char *c = gnutls_cipher_get_name(gnutls_cipher_get(st->ch.tls));
    const char *g = gnutls_group_get_name(gnutls_group_get(st->ch.tls));
    info->version = v ? v : "-";
    info->cipher = c ? c : "-";
    info->group = g ? g : "-";
  }
  return 0;
}

int mstls_stream_get_peer_certificate(mstls_session *s, uint16_t stream,
                                      const gnutls_datum_t **pcerts,
                                      unsigned *pn) {
  int rv;
  mstls_strm *st;
  const gnutls_datum_t *certs;
  if (!pcerts || !pn) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  st = strm_lookup(s, stream, 0, &rv);
  if (rv < 0) {
    return rv;
  }
  if (!st || !st->has_channel ||
      (st->state != MSTLS_STREAM_OPEN && st->state != MSTLS_STREAM_CLOSED)) {
    return MSTLS_E_INVALID_STATE;
  }
  certs = gnutls_certificate_get_peers(st->ch.tls, pn);
  if (!certs || *pn == 0) {
    return MSTLS_E_INVALID_STATE;
  }
  *pcerts = certs;
  return 0;
}

/* The channel of an established (or since closed) stream, or an error. */
static mstls_channel *strm_established(mstls_session *s, uint16_t stream,
                                       int *prv) {
  mstls_strm *st = strm_lookup(s, stream, 0, prv);
  if (*prv < 0) {
    return NULL;
  }
  if (!st || !st->has_channel ||
      (st->state != MSTLS_STREAM_OPEN && st->state != MSTLS_STREAM_CLOSED)) {
    *prv = MSTLS_E_INVALID_STATE;
    return NULL;
  }
  return &st->ch;
}

int mstls_stream_get_error_detail(mstls_session *s, uint16_t stream, char *buf,
                                  size_t len) {
  int rv;
  mstls_strm *st;
  if (!buf || len == 0) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  buf[0] = '\0';
  st = strm_lookup(s, stream, 0, &rv);
  if (rv < 0) {
    return rv;
  }
  if (!st || st->err == 0) {
    return 0;
  }
  snprintf(buf, len, "%s",
           st->ch.detail[0] ? st->ch.detail : mstls_strerror(st->err));
  return (int)strlen(buf);
}

int mstls_stream_get_alpn(mstls_session *s, uint16_t stream, char *buf,
                          size_t len) {
  int rv;
  mstls_channel *ch;
  if (!buf || len == 0) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  buf[0] = '\0';
  ch = strm_established(s, stream, &rv);
  return ch ? mstls_chan_get_alpn(ch, buf, len) : rv;
}

int mstls_stream_get_peer_identity(mstls_session *s, uint16_t stream,
                                   mstls_peer_identity *id) {
  int rv;
  mstls_channel *ch;
  if (!id) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  memset(id, 0, sizeof(*id));
  ch = strm_established(s, stream, &rv);
  return ch ? mstls_chan_get_identity(ch, id) : rv;
}

int mstls_stream_export_keying_material(mstls_session *s, uint16_t stream,
                                        const char *label,
                                        const uint8_t *context,
                                        size_t context_len, uint8_t *out,
                                        size_t out_len) {
  int rv;
  mstls_channel *ch;
  if (!label || !out || out_len == 0 || (!context && context_len > 0)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  ch = strm_established(s, stream, &rv);
  return ch ? mstls_chan_export(ch, label, context, context_len, out, out_len)
            : rv;
}

int mstls_stream_set_user_data(mstls_session *s, uint16_t stream, void *data) {
  int rv;
  mstls_strm *st = strm_lookup(s, stream, 1, &rv);
  if (!st) {
    return rv;
  }
  st->user_data = data;
  return 0;
}

void *mstls_stream_get_user_data(mstls_session *s, uint16_t stream) {
  int rv;
  mstls_strm *st = strm_lookup(s, stream, 0, &rv);
  return st ? st->user_data : NULL;
}

gnutls_session_t mstls_stream_get_gnutls(mstls_session *s, uint16_t stream) {
  int rv;
  mstls_strm *st = strm_lookup(s, stream, 0, &rv);
  return st && st->has_channel ? st->ch.tls : NULL;
}

int mstls_stream_set_plaintext(mstls_session *s, uint16_t stream) {
  int rv;
  mstls_strm *st = strm_lookup(s, stream, 1, &rv);
  if (!st) {
    return rv;
  }
  if (st->state != MSTLS_STREAM_IDLE || st->waiting_resume ||
      st->counted_target) {
    return st->state == MSTLS_STREAM_PLAINTEXT ? 0 : MSTLS_E_INVALID_STATE;
  }
  /* RFC 3436 §6: a stream may carry plaintext, by agreement of both
   * sides; it is never protected, and is declared before use. */
  st->plaintext_declared = 1;
  st->state = MSTLS_STREAM_PLAINTEXT;
  s->stats.streams_established++;
  strm_event(st, MSTLS_EVENT_HANDSHAKE_DONE, 0);
  return 0;
}

int mstls_stream_starttls(mstls_session *s, uint16_t stream) {
  int rv;
  mstls_strm *st = strm_lookup(s, stream, 0, &rv);
  if (rv < 0) {
    return rv;
  }
  if (!st || st->state != MSTLS_STREAM_PLAINTEXT) {
    return MSTLS_E_INVALID_STATE;
  }
  if (s->err) {
    return s->err;
  }
  /* Plaintext not read yet stays in st->plain and is read first. */
  st->plaintext_declared = 0;
  s->stats.streams_established--;
  if (s->role == MSTLS_ROLE_SERVER) {
    st->state = MSTLS_STREAM_IDLE; /* the client's ClientHello starts it */
    return 0;
  }
  rv = mstls_strm_start_tls(st);
  if (rv < 0) {
    return rv;
  }
  return s->err ? s->err : 0;
}

int mstls_stream_pause(mstls_session *s, uint16_t stream) {
  int rv;
  mstls_strm *st = strm_lookup(s, stream, 1, &rv);
  if (!st) {
    return rv;
  }
  st->paused = 1;
  return 0;
}

int mstls_stream_fail(mstls_session *s, uint16_t stream, int error) {
  int blocking, rv = 0;
  mstls_strm *st;

  if (!s || error >= 0 || error == MSTLS_E_AGAIN) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  blocking = s->cb.pull != NULL;
  if (blocking) {
    pthread_mutex_lock(&s->lock);
  }
  st = strm_lookup(s, stream, 1, &rv);
  if (st && st->state != MSTLS_STREAM_CLOSED &&
      st->state != MSTLS_STREAM_FAILED) {
    mstls_strm_fail(st, error);
  }
  if (blocking) {
    /* Wake threads waiting for the puller: their stream may be this one. */
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
  }
  return st ? 0 : rv;
}

int mstls_session_fail(mstls_session *s, int error) {
  int rv;

  if (!s || error >= 0 || error == MSTLS_E_AGAIN) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (!s->cb.pull) {
    return mstls_sess_fail(s, error);
  }
  pthread_mutex_lock(&s->lock);
  rv = mstls_sess_fail(s, error);
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
  return rv;
}

/* Callback mode after an orderly end (MSTLS_E_CLOSED): what a stream
 * still held -- plaintext, then the records queued for it -- goes to the
 * application, as mstls_stream_recv() would return it, until the stream
 * is paused again or has nothing more. Runs as the outermost delivery
 * (s->delivering): a callback's data points into s->scratch.
 * @return 0, or the stream's failure, or MSTLS_E_CALLBACK_FAILURE. */
static int strm_deliver_closed(mstls_strm *st) {
  mstls_session *s = st->sess;
  int rv = 0;

  s->delivering = 1;
  while (!st->paused && (st->plain.bytes || st->drain)) {
    long n = strm_recv_closed(st, s->scratch, MSTLS_RECORD_MAX);
    if (n <= 0) {
      /* the end (close_notify or not), or the stream's failure */
      rv = n == 0 || n == MSTLS_E_CLOSED ? 0 : (int)n;
      break;
    }
    if (s->cb.recv_data(s, st->id, s->scratch, (size_t)n, s->user_data) < 0) {
      rv = MSTLS_E_CALLBACK_FAILURE;
      break;
    }
  }
  s->delivering = 0;
  return rv;
}

int mstls_stream_resume(mstls_session *s, uint16_t stream) {
  int rv;
  mstls_strm *st = strm_lookup(s, stream, 1, &rv);
  if (!st) {
    return rv;
  }
  if (s->err == MSTLS_E_CLOSED && s->cb.recv_data) {
    /* Paused or not: what the stream holds is delivered here, unless
     * this is called from a callback (a later call outside one does it). */
    st->paused = 0;
    if (s->delivering) {
      return s->err;
    }
    rv = strm_deliver_closed(st);
    return rv < 0 ? rv : s->err;
  }
  if (!st->paused) {
    return 0;
  }
  st->paused = 0;
  if (s->err) {
    return s->err;
  }
  rv = mstls_strm_process(st);
  return s->err ? s->err : rv;
}
