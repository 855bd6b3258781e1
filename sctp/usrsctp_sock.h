/* The usrsctp backend's socket wrapper, shared by usrsctp.c (the stack,
 * links and socket operations) and usrsctp_closer.c (closing sockets whose
 * association may still exist). Private to the library; after <usrsctp.h>
 * every name carries the mstls_ prefix (see usrsctp.c). */
#ifndef MSTLS_SCTP_USRSCTP_SOCK_H
#define MSTLS_SCTP_USRSCTP_SOCK_H

#include <pthread.h>
#include <stdint.h>

#include <usrsctp.h>

#include "backend.h"

struct mstls_sctp_sock {
  struct socket *so;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  uint64_t gen; /* bumped by every upcall */
  /* A send found no room (EWOULDBLOCK) when gen was blocked_gen. */
  int write_blocked;
  uint64_t blocked_gen;
  void (*ready)(void *);
  void *ready_arg;
  /* An eventfd that is readable while the socket has something to
   * process (mstls_sctp_assoc_get_fd(), mstls_sctp_listener_get_fd()), so
   * that one poll()/epoll integration serves both backends. Signalled by
   * the upcall once someone asked for it (efd_used), and re-armed after
   * each processing round while the socket stays readable. */
  int efd;
  int efd_used;
  /* mstls_sctp_config.linger_ms, and while the closer holds the socket:
   * its place in the closer's list and when it is aborted (monotonic ms;
   * 0: no limit). */
  uint32_t linger_ms;
  uint64_t close_deadline;
  struct mstls_sctp_sock *close_next;
  int close_dirty;   /* an upcall came (under the closer's lock) */
  int close_check;   /* look at it this round (the closer's own) */
  int close_aborted; /* an ABORT was sent (the closer's own) */
  int close_stuck;   /* the ABORT was refused: still being set up */
  int refs;          /* upcalls that found it in the registry (atomic) */
};

/* usrsctp.c */

/* Free the socket. Only safe once the stack holds no association of it
 * (or in NOTHREADS mode, where no other thread runs the stack). */
void mstls_usctp_free(mstls_sctp_sock *s);

/* Whether SCTP_STATUS still finds the socket's association. */
int mstls_usctp_has_assoc(mstls_sctp_sock *s);

/* The UDP encapsulation sockets' buffer sizes and drops, into @p stats. */
void mstls_usctp_udp_stats(mstls_sctp_usrsctp_stats *stats);

/* usrsctp_closer.c */

/* Send an ABORT; -1 when the association is still being set up and
 * cannot be aborted yet. */
int mstls_usctp_abort_so(struct socket *so);

/* Close gracefully (SHUTDOWN), freeing the socket once its association
 * is gone; aborted after the socket's linger_ms. */
void mstls_usctp_close(mstls_sctp_sock *s);

/* ABORT the association, then free the socket once it is gone. */
void mstls_usctp_abort(mstls_sctp_sock *s);

/* At the last release: finish graceful closes for a bounded time, abort
 * the rest. 0, or MSTLS_E_AGAIN while associations still being set up are
 * held (a later release tries again). */
int mstls_usctp_closer_stop(void);

#endif
