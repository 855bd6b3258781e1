/* Internal structure of the multistream session and its streams. */
#ifndef MSTLS_SESSION_H
#define MSTLS_SESSION_H

#include <pthread.h>

#include <mstls/mstls.h>

#include "channel.h"
#include "creds.h"
#include "demux.h"
#include "rxq.h"
#include "tlsopt.h"

/* Largest plaintext of one TLS record. */
#define MSTLS_RECORD_MAX 16384
/* RFC 3436 §3.2: a full record (2^14 + 2048 + 5 bytes) fits in a message. */
#define MSTLS_TLS_RECORD_WIRE_MAX 18437

typedef struct mstls_strm mstls_strm;

struct mstls_strm {
  mstls_session *sess;
  uint16_t id;
  mstls_stream_state state;
  unsigned has_channel : 1;
  unsigned plaintext_declared : 1; /* set_plaintext before any TLS */
  unsigned paused : 1;
  unsigned armed : 1;          /* handshake deadline set */
  unsigned in_ready : 1;       /* on the session's ready list */
  unsigned in_hs : 1;          /* on the session's handshaking list */
  unsigned waiting_resume : 1; /* client: waits for stream 0's ticket */
  unsigned ticket_anchor : 1;  /* client: the stream whose ticket others use */
  unsigned sent_bye : 1;
  unsigned bye_started : 1; /* gnutls_bye() was called (it may be repeated) */
  unsigned bye_wanted : 1;  /* mstls_strm_bye() was asked, until sent_bye */
  unsigned peer_closed : 1;
  /* Open when the session ended in order (MSTLS_E_CLOSED): the records it
   * received are still read out (strm_recv_closed() in stream.c). */
  unsigned drain : 1;
  unsigned eof_reported : 1;
  unsigned counted_target : 1; /* counts toward handshake() completion */
  unsigned resumed : 1;
  unsigned out_blocked : 1; /* the last push returned MSTLS_E_AGAIN */
  unsigned in_send : 1;     /* inside mstls_strm_send()'s record loop */
  /* server, TLS 1.3 early start: gnutls_handshake() returned after our
   * Finished; the client's Finished is still to come */
  unsigned await_finished : 1;
  mstls_channel ch;
  mstls_rxq plain; /* plaintext waiting: plaintext streams, held TLS data */
  /* Application records encrypted while the transport was full: their
   * bytes were taken by mstls_stream_send(); they go out, in order and
   * before anything else of the stream, on its next send, flush or
   * close. At most one record (and a KeyUpdate) per stream. */
  mstls_rxq txq;
  int err;
  int last_gnutls;
  mstls_tstamp deadline;
  uint64_t bytes_sent;
  uint64_t bytes_recv;
  void *user_data;
  mstls_strm *ready_next;
  mstls_strm *hs_prev, *hs_next;
};

struct mstls_session {
  const mstls_mem *mem;
  mstls_role role;
  mstls_settings settings; /* server_name and priority point to copies */
  mstls_callbacks cb;
  void *user_data;
  mstls_credentials *cred;
  gnutls_priority_t prio;        /* full handshakes (and servers) */
  gnutls_priority_t prio_resume; /* client: resumed streams */
  mstls_tlsopt tlsopt;           /* settings.tls, copied */
  mstls_dense streams;
  uint32_t nstreams;
  int started;
  int err;         /* fatal error that ended the session */
  int have_anchor; /* client: a stream was chosen whose ticket others use */
  gnutls_datum_t resume_data; /* client: from the anchor stream */
  int resume_state;           /* 0 waiting, 1 ready, -1 not available */
  uint32_t target;            /* streams handshake() waits for */
  uint32_t target_done;
  uint32_t target_failed;
  int first_target_err;
  mstls_strm *ready_head, *ready_tail;
  mstls_strm *hs_head;
  uint32_t n_unarmed;
  mstls_tstamp hs_min_deadline;
  /* Deadline of handshake() as a whole: streams that never start (a
   * client that vanished before opening them, a ticket that never came)
   * fail with MSTLS_E_TIMEOUT instead of waiting forever. */
  int all_pending;
  int all_armed;
  mstls_tstamp all_deadline;
  /* Client: the bounded wait for a TLS 1.3 ticket on the anchor. The
   * anchor's handshake time is measured from the first timer run after
   * it began (anchor_t0) to the first after it completed; the others wait
   * at most twice that for the ticket (RESUME never stalls). */
  mstls_tstamp anchor_t0; /* MSTLS_TSTAMP_NEVER until known */
  int ticket_wait;        /* the anchor is done, no ticket yet */
  int ticket_wait_armed;
  mstls_tstamp ticket_deadline;
  size_t rx_total;
  uint32_t n_held; /* streams whose txq is not empty */
  mstls_session_stats stats;
  uint8_t *scratch; /* MSTLS_RECORD_MAX bytes for callback-mode reads */
  int delivering;   /* re-entrancy guard for recv_data */
  /* Blocking functions: one lock for the session, one puller at a time. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int puller_active;
  int push_blocked;
  /* A stream's push returned MSTLS_E_AGAIN since the last redrive walk:
   * without one, the walk over the handshaking streams is skipped (it
   * would cost N per call, N^2 for a bring-up of N streams). */
  int redrive_pending;
  /* A stream's gnutls_bye() met a full transport (its close_notify is
   * GnuTLS's to offer again): mstls_session_flush() calls it again. */
  int bye_pending;
  uint8_t *pullbuf;
};

/* session.c */
mstls_strm *mstls_sess_stream(mstls_session *s, uint16_t id, int create,
                              int *perr);
int mstls_sess_fail(mstls_session *s, int err);
void mstls_sess_ready_add(mstls_session *s, mstls_strm *st);
void mstls_sess_ready_remove(mstls_session *s, mstls_strm *st);
void mstls_sess_hs_add(mstls_session *s, mstls_strm *st);
void mstls_sess_hs_remove(mstls_session *s, mstls_strm *st);
void mstls_sess_resume_ready(mstls_session *s, const gnutls_datum_t *data);
void mstls_sess_resume_unavailable(mstls_session *s);
/* The anchor completed its handshake without a ticket: start the bounded
 * wait. */
void mstls_sess_ticket_wait(mstls_session *s, mstls_strm *anchor);

/* stream.c */
int mstls_strm_start_tls(mstls_strm *st);
int mstls_strm_process(mstls_strm *st);
int mstls_strm_fail(mstls_strm *st, int err);
int mstls_strm_enqueue(mstls_strm *st, uint32_t flags, const uint8_t *data,
                       size_t len);
long mstls_strm_recv(mstls_strm *st, uint8_t *buf, size_t len);
long mstls_strm_send(mstls_strm *st, const uint8_t *data, size_t len);
/* Push the stream's held records. @return 0 (none left), MSTLS_E_AGAIN,
 * or the session's error. */
int mstls_strm_flush(mstls_strm *st);
int mstls_strm_bye(mstls_strm *st);
void mstls_strm_free(mstls_strm *st);

/* blocking.c */
mstls_tstamp mstls_clock_now(mstls_session *s);

#endif
