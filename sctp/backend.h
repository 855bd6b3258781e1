/* Internal interface between the common association code (assoc.c) and the
 * two SCTP implementations (usrsctp.c, kernel.c). Neither the kernel's nor
 * usrsctp's header may be included here: they conflict. */
#ifndef MSTLS_SCTP_BACKEND_H
#define MSTLS_SCTP_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <mstls/sctp.h>

/* One read from a socket, normalised. */
typedef struct mstls_sctp_rcv {
  uint16_t sid;
  uint32_t ppid;
  uint32_t flags; /* MSTLS_MSG_UNORDERED */
  int eor;        /* the read ended a message */
  int is_event;   /* a notification, parsed into the fields below */
  mstls_sctp_event event;
  uint16_t event_stream; /* 0xffff: all streams */
  uint16_t event_in;     /* stream counts of COMM_UP/RESTART */
  uint16_t event_out;
  /* COMM_LOST/CANT_START: the error the stack gave (sac_error: the cause
   * code of a received ABORT, else 0) and whether the peer sent an ABORT
   * (RFC 6458 §6.1.1: sac_info then holds that chunk); not aborted means
   * the peer stopped answering. */
  uint16_t event_cause;
  int event_peer_abort;
  /* STREAM_RESET: the reset streams (event_count 16-bit ids, unaligned,
   * pointing into the read buffer; 0 ids: every stream), and whether the
   * reset was denied or failed (nothing was reset). */
  const uint8_t *event_list;
  size_t event_count;
  int event_refused;
  /* Path events (ADDR_*): the peer address. */
  struct sockaddr_storage event_addr;
} mstls_sctp_rcv;

/* A resolved address list (the host of connect/listen, local_addrs): all
 * of one family, each with the port. n == 0 only for an absent list. */
typedef struct mstls_sctp_addrs {
  size_t n;
  struct sockaddr_storage a[MSTLS_SCTP_MAX_ADDRS];
} mstls_sctp_addrs;

/* Parse and resolve a comma-separated list (mstls_sctp_connect()'s rules).
 * NULL gives n = 0. 0, MSTLS_E_INVALID_ARGUMENT (malformed: empty entry,
 * too many or too long, duplicates, mixed families), MSTLS_E_TRANSPORT (an
 * entry does not resolve). */
int mstls_sctp_addrs_parse(const char *list, uint16_t port,
                           mstls_sctp_addrs *out);

/* The length of a sockaddr of family AF_INET or AF_INET6; 0 otherwise. */
socklen_t mstls_sctp_sa_len(const struct sockaddr *sa);

/* Pack the list back to back, as sctp_bindx and sctp_connectx want it,
 * into @p buf (room for n sockaddr_storage). */
void mstls_sctp_addrs_pack(const mstls_sctp_addrs *l, uint8_t *buf);

/* 1 when two addresses are the same host address (ports ignored). */
int mstls_sctp_sa_same_host(const struct sockaddr *a, const struct sockaddr *b);

/* The host address as text (no port); "?" for an unknown family. */
void mstls_sctp_sa_text(const struct sockaddr *sa, char *text, size_t len);

/* Readiness for wait(). */
#define MSTLS_SCTP_WAIT_READ 0x01
#define MSTLS_SCTP_WAIT_WRITE 0x02

typedef struct mstls_sctp_sock mstls_sctp_sock;

/* Socket operations of a backend. Every socket is non-blocking. */
typedef struct mstls_sctp_ops {
  mstls_sctp_backend backend;
  /* Bytes read (>= 0), MSTLS_E_AGAIN, or a negative error. */
  long (*recv)(mstls_sctp_sock *s, uint8_t *buf, size_t len,
               mstls_sctp_rcv *ri);
  /* One whole ordered message: 0, MSTLS_E_AGAIN, or a negative error. */
  int (*send)(mstls_sctp_sock *s, uint16_t sid, uint32_t ppid,
              const uint8_t *data, size_t len);
  /* 0 when ready (or error), MSTLS_E_AGAIN on timeout,
   * MSTLS_E_INVALID_STATE when waiting is impossible. */
  int (*wait)(mstls_sctp_sock *s, int events, int timeout_ms);
  /* SCTP_STATUS: 0 when established, MSTLS_E_AGAIN while setting up. */
  int (*status)(mstls_sctp_sock *s, uint16_t *in, uint16_t *out);
  /* Accept on a listening socket: 0, MSTLS_E_AGAIN, error. */
  int (*accept)(mstls_sctp_sock *s, mstls_sctp_sock **pnew,
                const mstls_sctp_config *cfg);
  int (*shutdown)(mstls_sctp_sock *s);
  /* Send an ABORT and free the socket. */
  void (*abort)(mstls_sctp_sock *s);
  void (*close)(mstls_sctp_sock *s);
  int (*fd)(mstls_sctp_sock *s);
  /* Readiness callback: fn(arg) on any event (usrsctp). */
  void (*set_ready)(mstls_sctp_sock *s, void (*fn)(void *), void *arg);
  /* RFC 6525: request a reset of outgoing streams (tests only). */
  int (*reset_streams)(mstls_sctp_sock *s, const uint16_t *sids, size_t n);
  /* After a processing round (optional): make fd() readable again if the
   * socket still has work (usrsctp's eventfd); NULL where fd() is the
   * socket itself. */
  void (*rearm)(mstls_sctp_sock *s);
  /* SCTP_STATUS: DATA chunks unacknowledged plus pending. 0 or
   * MSTLS_E_TRANSPORT. */
  int (*outstanding)(mstls_sctp_sock *s, uint32_t *chunks);
  /* The peer's addresses and their state; *n is the total. 0,
   * MSTLS_E_TRANSPORT. */
  int (*paths)(mstls_sctp_sock *s, mstls_sctp_path *paths, size_t max,
               size_t *n);
  /* SCTP_PRIMARY_ADDR to one of the peer's addresses (as paths() gave
   * it). 0, MSTLS_E_TRANSPORT. */
  int (*set_primary)(mstls_sctp_sock *s, const struct sockaddr_storage *addr);
  /* Optional: the session keeps a record that met a full socket (on 1)
   * or nothing (0), and whether it does: the application must then wait
   * for room on fd() too. NULL where fd() signals room by itself
   * (usrsctp's eventfd, from its upcalls). */
  void (*want_write)(mstls_sctp_sock *s, int on);
  int (*wants_write)(mstls_sctp_sock *s);
} mstls_sctp_ops;

/* Reset outgoing streams of an association (RFC 6525), as a peer may do.
 * Not part of the API: the library never resets a stream itself; tests use
 * this to make the other end see a reset. 0 or MSTLS_E_TRANSPORT. */
int mstls_sctp_assoc_reset_streams(mstls_sctp_assoc *a, const uint16_t *sids,
                                   size_t n);

/* Send one raw message on any stream, TLS streams included, bypassing the
 * session (tests only: a peer that breaks RFC 3436). 0, MSTLS_E_AGAIN,
 * MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE, or a send error. */
int mstls_sctp_assoc_send_raw(mstls_sctp_assoc *a, uint16_t sid,
                              const void *data, size_t len);

/* An association on a socket the caller made with its own ops
 * (non-blocking only). For the fuzz harness, which feeds the association's
 * receive path (reassembly, receive metadata, notifications) from a fake
 * socket. Errors as mstls_sctp_accept(). */
int mstls_sctp_assoc_new_sock(mstls_sctp_assoc **passoc,
                              const mstls_sctp_ops *ops, mstls_sctp_sock *sock,
                              const mstls_sctp_config *config, mstls_role role,
                              const mstls_settings *settings,
                              const mstls_callbacks *callbacks,
                              mstls_credentials *cred, void *user_data);

/* Parse a notification read from a socket the way each backend does:
 * usrsctp's and the kernel's constants differ (fuzz harness). The kernel
 * one only marks an event when built without lksctp. */
void mstls_sctp_usrsctp_parse_event(const uint8_t *buf, size_t len,
                                    mstls_sctp_rcv *ri);
void mstls_sctp_kernel_parse_event(const uint8_t *buf, size_t len,
                                   mstls_sctp_rcv *ri);

/* Socket constructors of each backend; MSTLS_E_UNSUPPORTED when not built.
 * Connect: @p remote has n >= 1 (ignored with a link), @p local n >= 0
 * (0: the stack's choice, with cfg->local_port). Listen: @p local n >= 0
 * (0: any address). */
int mstls_sctp_usrsctp_connect(mstls_sctp_sock **ps,
                               const mstls_sctp_ops **pops,
                               const mstls_sctp_config *cfg,
                               const mstls_sctp_addrs *remote,
                               const mstls_sctp_addrs *local, uint16_t port);
int mstls_sctp_usrsctp_listen(mstls_sctp_sock **ps, const mstls_sctp_ops **pops,
                              const mstls_sctp_config *cfg,
                              const mstls_sctp_addrs *local, uint16_t port);
int mstls_sctp_kernel_connect(mstls_sctp_sock **ps, const mstls_sctp_ops **pops,
                              const mstls_sctp_config *cfg,
                              const mstls_sctp_addrs *remote,
                              const mstls_sctp_addrs *local, uint16_t port);
int mstls_sctp_kernel_listen(mstls_sctp_sock **ps, const mstls_sctp_ops **pops,
                             const mstls_sctp_config *cfg,
                             const mstls_sctp_addrs *local, uint16_t port);
/* A socket buffer size from the configuration: @p def when 0, else the
 * value clamped to what setsockopt takes. */
static inline int backend_buffer_size(size_t configured, int def) {
  if (configured == 0)
    return def;
  return configured > (size_t)(1 << 30) ? 1 << 30 : (int)configured;
}

/* 1 when the usrsctp stack runs without threads (cannot block). */
int mstls_sctp_usrsctp_is_nothreads(void);

#endif
