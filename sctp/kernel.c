/* Kernel SCTP backend (lksctp, one-to-one SOCK_STREAM sockets). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"

#define BACKEND_ADDR_PF SCTP_ADDR_POTENTIALLY_FAILED
/* Linux departs from RFC 6458 §6.1.1 here: sac_info holds only the body
 * of the peer's ABORT (its causes, chunk header stripped), and nothing
 * otherwise; sac_error is the first cause as it was on the wire. An
 * ABORT without causes reads like a peer that stopped answering. */
#define BACKEND_SAC_ERROR(e) ntohs(e)
#define BACKEND_SAC_INFO_IS_ABORT(b) 1
#include "event_parse.inc"

typedef int backend_handle;
static int backend_setopt(int fd, int level, int name, const void *val,
                          socklen_t len) {
  return setsockopt(fd, level, name, val, len);
}
static int backend_getopt(int fd, int level, int name, void *val,
                          socklen_t *len) {
  return getsockopt(fd, level, name, val, len);
}
static int backend_getpaddrs(int fd, struct sockaddr **addrs) {
  return sctp_getpaddrs(fd, 0, addrs);
}
static void backend_freepaddrs(struct sockaddr *addrs) {
  sctp_freepaddrs(addrs);
}
static socklen_t backend_peer_len(const struct sockaddr *sa) {
  return mstls_sctp_sa_len(sa);
}
static mstls_sctp_path_state backend_path_state(int32_t state) {
  switch (state) {
  case SCTP_ACTIVE:
    return MSTLS_SCTP_PATH_ACTIVE;
  case SCTP_INACTIVE:
    return MSTLS_SCTP_PATH_INACTIVE;
  case SCTP_UNCONFIRMED:
    return MSTLS_SCTP_PATH_UNCONFIRMED;
  case SCTP_PF:
    return MSTLS_SCTP_PATH_POTENTIALLY_FAILED;
  default:
    return MSTLS_SCTP_PATH_UNKNOWN;
  }
}
#include "sockopt.inc"

struct mstls_sctp_sock {
  int fd;
  /* The session keeps a record (or a flight, an alert) that met a full
   * socket: mstls_sctp_assoc_get_events() asks for POLLOUT, and
   * mstls_sctp_assoc_wait() waits for room too. Set by sends on any
   * thread, cleared by mstls_sctp_assoc_process(). */
  _Atomic int want_out;
};

int mstls_sctp_kernel_available(void) {
  int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);

  if (fd < 0)
    return 0;
  close(fd);
  return 1;
}

static int ksctp_errno(int e) {
  switch (e) {
  case EAGAIN:
    return MSTLS_E_AGAIN;
  case ECONNRESET:
  case ENOTCONN:
  case EPIPE:
  case ECONNREFUSED:
  case ETIMEDOUT:
  case ESHUTDOWN:
    return MSTLS_E_PEER_GONE;
  case EINVAL:
    return MSTLS_E_INVALID_STREAM;
  default:
    return MSTLS_E_TRANSPORT;
  }
}

static int ksctp_setup(int fd, const mstls_sctp_config *cfg, int accepted) {
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
    return -1;
  if (cfg->accept_stream_reset) {
    /* Linux negotiates RFC 6525 only when asked (net.sctp.reconf_enable
     * defaults to 0); usrsctp does by default. */
    struct sctp_assoc_value av;
    memset(&av, 0, sizeof(av));
    av.assoc_id = SCTP_FUTURE_ASSOC;
    av.assoc_value = 1;
    if (setsockopt(fd, IPPROTO_SCTP, SCTP_RECONFIG_SUPPORTED, &av, sizeof(av)) <
        0)
      return -1;
  }
  /* 0: the system's default buffers */
  return backend_setup(fd, cfg, 0, accepted);
}

void mstls_sctp_kernel_parse_event(const uint8_t *buf, size_t len,
                                   mstls_sctp_rcv *ri) {
  memset(ri, 0, sizeof(*ri));
  backend_parse_event(buf, len, ri);
}

static long ksctp_recv(mstls_sctp_sock *s, uint8_t *buf, size_t len,
                       mstls_sctp_rcv *ri) {
  union {
    char buf[CMSG_SPACE(sizeof(struct sctp_rcvinfo))];
    struct cmsghdr align;
  } cbuf;
  struct iovec iov = {buf, len};
  struct msghdr msg;
  struct cmsghdr *c;
  ssize_t n;

  memset(ri, 0, sizeof(*ri));
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf.buf;
  msg.msg_controllen = sizeof(cbuf.buf);
  n = recvmsg(s->fd, &msg, MSG_DONTWAIT);
  if (n < 0)
    return ksctp_errno(errno);
  if (n == 0 && !(msg.msg_flags & MSG_NOTIFICATION))
    return MSTLS_E_PEER_GONE;
  ri->eor = (msg.msg_flags & MSG_EOR) != 0;
  if (msg.msg_flags & MSG_NOTIFICATION) {
    backend_parse_event(buf, (size_t)n, ri);
    return n;
  }
  for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    struct sctp_rcvinfo rcv;
    if (c->cmsg_level != IPPROTO_SCTP || c->cmsg_type != SCTP_RCVINFO)
      continue;
    memcpy(&rcv, CMSG_DATA(c), sizeof(rcv));
    ri->sid = rcv.rcv_sid;
    ri->ppid = ntohl(rcv.rcv_ppid);
    if (rcv.rcv_flags & SCTP_UNORDERED)
      ri->flags |= MSTLS_MSG_UNORDERED;
  }
  return n;
}

static int ksctp_sendmsg(int fd, uint16_t sid, uint32_t ppid, uint16_t flags,
                         const uint8_t *data, size_t len) {
  union {
    char buf[CMSG_SPACE(sizeof(struct sctp_sndinfo))];
    struct cmsghdr align;
  } cbuf;
  struct iovec iov = {(void *)(uintptr_t)data, len};
  struct msghdr msg;
  struct cmsghdr *c;
  struct sctp_sndinfo si;
  ssize_t n;

  memset(&cbuf, 0, sizeof(cbuf));
  memset(&msg, 0, sizeof(msg));
  memset(&si, 0, sizeof(si));
  si.snd_sid = sid;
  si.snd_ppid = htonl(ppid);
  si.snd_flags = flags;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf.buf;
  msg.msg_controllen = sizeof(cbuf.buf);
  c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_SCTP;
  c->cmsg_type = SCTP_SNDINFO;
  c->cmsg_len = CMSG_LEN(sizeof(si));
  memcpy(CMSG_DATA(c), &si, sizeof(si));
  n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0)
    return ksctp_errno(errno);
  return (size_t)n == len ? 0 : MSTLS_E_TRANSPORT;
}

static int ksctp_send(mstls_sctp_sock *s, uint16_t sid, uint32_t ppid,
                      const uint8_t *data, size_t len) {
  /* RFC 3436 §6: unordered delivery MUST NOT be used on TLS streams, and
   * no PR-SCTP policy is ever attached: no SCTP_UNORDERED, no PRINFO. */
  return ksctp_sendmsg(s->fd, sid, ppid, 0, data, len);
}

static int ksctp_wait(mstls_sctp_sock *s, int events, int timeout_ms) {
  struct pollfd p;
  int rc;

  p.fd = s->fd;
  p.events = 0;
  p.revents = 0;
  if (events & MSTLS_SCTP_WAIT_READ)
    p.events |= POLLIN;
  if (events & MSTLS_SCTP_WAIT_WRITE)
    p.events |= POLLOUT;
  do {
    rc = poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0)
    return MSTLS_E_TRANSPORT;
  return rc == 0 ? MSTLS_E_AGAIN : 0;
}

static int ksctp_status(mstls_sctp_sock *s, uint16_t *in, uint16_t *out) {
  struct sctp_status st;
  socklen_t len = sizeof(st);

  memset(&st, 0, sizeof(st));
  if (getsockopt(s->fd, IPPROTO_SCTP, SCTP_STATUS, &st, &len) < 0)
    return MSTLS_E_AGAIN;
  if (st.sstat_state != SCTP_ESTABLISHED || st.sstat_instrms == 0 ||
      st.sstat_outstrms == 0)
    return MSTLS_E_AGAIN;
  *in = st.sstat_instrms;
  *out = st.sstat_outstrms;
  return 0;
}

static int ksctp_wrap(int fd, mstls_sctp_sock **ps) {
  mstls_sctp_sock *s = calloc(1, sizeof(*s));

  if (s == NULL) {
    close(fd);
    return MSTLS_E_NOMEM;
  }
  s->fd = fd;
  *ps = s;
  return 0;
}

static int ksctp_accept(mstls_sctp_sock *s, mstls_sctp_sock **pnew,
                        const mstls_sctp_config *cfg) {
  int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

  if (fd < 0) {
    /* An association the peer aborted before it was accepted, or a
     * signal: nothing waits now, and the listener is fine. */
    return errno == EAGAIN || errno == ECONNABORTED || errno == EINTR
               ? MSTLS_E_AGAIN
               : MSTLS_E_TRANSPORT;
  }
  if (ksctp_setup(fd, cfg, 1) < 0) {
    close(fd);
    return MSTLS_E_TRANSPORT;
  }
  return ksctp_wrap(fd, pnew);
}

static int ksctp_shutdown(mstls_sctp_sock *s) {
  if (shutdown(s->fd, SHUT_WR) < 0 && errno != ENOTCONN)
    return MSTLS_E_TRANSPORT;
  return 0;
}

/* ABORT the association: linger 0 makes close() send an ABORT. The socket
 * is freed. */
static void ksctp_abort(mstls_sctp_sock *s) {
  struct linger l = {1, 0};

  (void)setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  close(s->fd);
  free(s);
}

static void ksctp_close(mstls_sctp_sock *s) {
  close(s->fd);
  free(s);
}

static int ksctp_fd(mstls_sctp_sock *s) {
  return s->fd;
}

/* The session keeps a record for want of room (1), or nothing (0). */
static void ksctp_want_write(mstls_sctp_sock *s, int on) {
  atomic_store(&s->want_out, on != 0);
}

static int ksctp_wants_write(mstls_sctp_sock *s) {
  return atomic_load(&s->want_out);
}

static void ksctp_set_ready(mstls_sctp_sock *s, void (*fn)(void *), void *arg) {
  /* Kernel sockets are polled through their fd. */
  (void)s;
  (void)fn;
  (void)arg;
}

static int ksctp_reset_streams(mstls_sctp_sock *s, const uint16_t *sids,
                               size_t n) {
  return backend_reset_streams(s->fd, sids, n);
}

static int ksctp_outstanding(mstls_sctp_sock *s, uint32_t *chunks) {
  return backend_outstanding(s->fd, chunks);
}

static int ksctp_paths(mstls_sctp_sock *s, mstls_sctp_path *paths, size_t max,
                       size_t *n) {
  return backend_paths(s->fd, paths, max, n);
}

static int ksctp_set_primary(mstls_sctp_sock *s,
                             const struct sockaddr_storage *addr) {
  return backend_set_primary(s->fd, addr);
}

static const mstls_sctp_ops ksctp_ops = {MSTLS_SCTP_BACKEND_KERNEL,
                                         ksctp_recv,
                                         ksctp_send,
                                         ksctp_wait,
                                         ksctp_status,
                                         ksctp_accept,
                                         ksctp_shutdown,
                                         ksctp_abort,
                                         ksctp_close,
                                         ksctp_fd,
                                         ksctp_set_ready,
                                         ksctp_reset_streams,
                                         NULL,
                                         ksctp_outstanding,
                                         ksctp_paths,
                                         ksctp_set_primary,
                                         ksctp_want_write,
                                         ksctp_wants_write};

/* A non-blocking SCTP socket of @p family, set up from @p cfg. */
static int ksctp_socket(int family, const mstls_sctp_config *cfg, int *pfd) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP);

  if (fd < 0)
    return errno == EPROTONOSUPPORT ? MSTLS_E_UNSUPPORTED : MSTLS_E_TRANSPORT;
  if (ksctp_setup(fd, cfg, 0) < 0) {
    close(fd);
    return MSTLS_E_TRANSPORT;
  }
  *pfd = fd;
  return 0;
}

/* Bind the local addresses: one with bind(), several with sctp_bindx()
 * (RFC 6458 §9.1), all with the same port. */
static int ksctp_bind(int fd, const mstls_sctp_addrs *local) {
  uint8_t packed[sizeof(local->a)];

  if (local->n == 1)
    return bind(fd, (const struct sockaddr *)&local->a[0],
                mstls_sctp_sa_len((const struct sockaddr *)&local->a[0]));
  mstls_sctp_addrs_pack(local, packed);
  return sctp_bindx(fd, (struct sockaddr *)packed, (int)local->n,
                    SCTP_BINDX_ADD_ADDR);
}

/* The wildcard address of @p family with @p port. */
static void ksctp_any(mstls_sctp_addrs *l, int family, uint16_t port) {
  memset(l, 0, sizeof(*l));
  l->n = 1;
  l->a[0].ss_family = (sa_family_t)family;
  if (family == AF_INET)
    ((struct sockaddr_in *)&l->a[0])->sin_port = htons(port);
  else
    ((struct sockaddr_in6 *)&l->a[0])->sin6_port = htons(port);
}

int mstls_sctp_kernel_connect(mstls_sctp_sock **ps, const mstls_sctp_ops **pops,
                              const mstls_sctp_config *cfg,
                              const mstls_sctp_addrs *remote,
                              const mstls_sctp_addrs *local, uint16_t port) {
  const int family = remote->a[0].ss_family;
  mstls_sctp_addrs bound;
  int fd = -1;
  int rc;

  (void)port; /* in the addresses */
  if (cfg->link != NULL || remote->n == 0)
    return MSTLS_E_INVALID_ARGUMENT; /* links are usrsctp's */
  if (local->n > 0 && local->a[0].ss_family != family)
    return MSTLS_E_INVALID_ARGUMENT;
  rc = ksctp_socket(family, cfg, &fd);
  if (rc != 0)
    return rc;
  if (local->n > 0) {
    size_t i;
    bound = *local;
    for (i = 0; i < bound.n; i++) {
      if (family == AF_INET)
        ((struct sockaddr_in *)&bound.a[i])->sin_port = htons(cfg->local_port);
      else
        ((struct sockaddr_in6 *)&bound.a[i])->sin6_port =
            htons(cfg->local_port);
    }
  } else if (cfg->local_port != 0) {
    ksctp_any(&bound, family, cfg->local_port);
  } else {
    bound.n = 0;
  }
  if (bound.n > 0 && ksctp_bind(fd, &bound) < 0) {
    close(fd);
    return MSTLS_E_TRANSPORT;
  }
  if (remote->n == 1) {
    rc = connect(fd, (const struct sockaddr *)&remote->a[0],
                 mstls_sctp_sa_len((const struct sockaddr *)&remote->a[0]));
  } else {
    /* RFC 6458 §9.9: sctp_connectx() gives every peer address at once;
     * the association is set up through whichever answers, and the
     * first is the primary path. */
    uint8_t packed[sizeof(remote->a)];
    mstls_sctp_addrs_pack(remote, packed);
    rc = sctp_connectx(fd, (struct sockaddr *)packed, (int)remote->n, NULL);
  }
  if (rc < 0 && errno != EINPROGRESS) {
    close(fd);
    return MSTLS_E_TRANSPORT;
  }
  *pops = &ksctp_ops;
  return ksctp_wrap(fd, ps);
}

int mstls_sctp_kernel_listen(mstls_sctp_sock **ps, const mstls_sctp_ops **pops,
                             const mstls_sctp_config *cfg,
                             const mstls_sctp_addrs *local, uint16_t port) {
  mstls_sctp_addrs any;
  const int on = 1;
  int fd = -1;
  int rc;

  if (cfg->link != NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  if (local->n == 0) {
    /* Any address: the first wildcard getaddrinfo() gives. */
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(NULL, "1", &hints, &res) != 0 || res == NULL)
      return MSTLS_E_TRANSPORT;
    ksctp_any(&any, res->ai_family, port);
    freeaddrinfo(res);
    local = &any;
  }
  rc = ksctp_socket(local->a[0].ss_family, cfg, &fd);
  if (rc != 0)
    return rc;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (cfg->reuseport &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0) {
    close(fd);
    return MSTLS_E_UNSUPPORTED;
  }
  if (ksctp_bind(fd, local) < 0 || listen(fd, cfg->backlog) < 0) {
    close(fd);
    return MSTLS_E_TRANSPORT;
  }
  *pops = &ksctp_ops;
  return ksctp_wrap(fd, ps);
}
