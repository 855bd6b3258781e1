/* usrsctp backend: the process's usrsctp stack, AF_CONN links and sockets.
 *
 * usrsctp exports hundreds of unprefixed symbols (sctp_connect, hz, ...):
 * every name here is static or carries the mstls_ prefix. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/sock_diag.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <usrsctp.h>

#include "backend.h"
#include "clock.h"
#include "usrsctp_sock.h"

/* usrsctp has no potentially-failed notification: a state none takes. */
#define BACKEND_ADDR_PF 0xffffffffu
/* usrsctp follows RFC 6458 §6.1.1: the whole ABORT chunk (type 6) in
 * sac_info, sac_error in host byte order. (On COMM_UP sac_info lists
 * features instead.) */
#define BACKEND_SAC_ERROR(e) (e)
#define BACKEND_SAC_INFO_IS_ABORT(b) ((b) == 6)
#include "event_parse.inc"

typedef struct socket *backend_handle;
static int backend_setopt(struct socket *so, int level, int name,
                          const void *val, socklen_t len) {
  return usrsctp_setsockopt(so, level, name, val, len);
}
static int backend_getopt(struct socket *so, int level, int name, void *val,
                          socklen_t *len) {
  return usrsctp_getsockopt(so, level, name, val, len);
}
static int backend_getpaddrs(struct socket *so, struct sockaddr **addrs) {
  return usrsctp_getpaddrs(so, 0, addrs);
}
static void backend_freepaddrs(struct sockaddr *addrs) {
  usrsctp_freepaddrs(addrs);
}
static socklen_t backend_peer_len(const struct sockaddr *sa) {
  return sa->sa_family == AF_CONN ? (socklen_t)sizeof(struct sockaddr_conn)
                                  : mstls_sctp_sa_len(sa);
}
/* usrsctp reports one of three flags (sctp_usrreq.c, SCTP_GET_PEER_ADDR_INFO);
 * it has no potentially-failed state to report. */
static mstls_sctp_path_state backend_path_state(int32_t state) {
  switch (state) {
  case SCTP_ACTIVE:
    return MSTLS_SCTP_PATH_ACTIVE;
  case SCTP_INACTIVE:
    return MSTLS_SCTP_PATH_INACTIVE;
  case SCTP_UNCONFIRMED:
    return MSTLS_SCTP_PATH_UNCONFIRMED;
  default:
    return MSTLS_SCTP_PATH_UNKNOWN;
  }
}
#include "sockopt.inc"

void mstls_sctp_usrsctp_parse_event(const uint8_t *buf, size_t len,
                                    mstls_sctp_rcv *ri) {
  memset(ri, 0, sizeof(*ri));
  backend_parse_event(buf, len, ri);
}

/* The stack ----------------------------------------------------------------*/

/* Live links: conn_output may run for an address whose link is being freed,
 * so a link is only used after it is found here. */
#define USCTP_MAX_LINKS 256

static pthread_mutex_t usctp_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned usctp_refs;
static uint16_t usctp_port;
static unsigned usctp_flags;
static mstls_sctp_link *usctp_links[USCTP_MAX_LINKS];
/* The UDP buffer size to ask for, and the drops counted on the sockets of
 * stacks already released. */
static size_t usctp_udp_buffer = MSTLS_SCTP_USRSCTP_DEFAULT_UDP_BUFFER;
static uint64_t usctp_udp_drops_past;

struct mstls_sctp_link {
  mstls_sctp_link_output_cb output;
  void *user_data;
};

static int usctp_conn_output(void *addr, void *buf, size_t len, uint8_t tos,
                             uint8_t set_df) {
  size_t i;
  int found = 0;

  (void)tos;
  (void)set_df;
  pthread_mutex_lock(&usctp_lock);
  for (i = 0; i < USCTP_MAX_LINKS; i++) {
    if (usctp_links[i] == addr) {
      found = 1;
      break;
    }
  }
  if (found) {
    mstls_sctp_link *link = addr;
    /* Held across the call so the link cannot be freed meanwhile; the
     * output only queues (it must never call back into usrsctp). */
    link->output(link, buf, len, link->user_data);
  }
  pthread_mutex_unlock(&usctp_lock);
  return 0;
}

/* usrsctp_init() fails silently when the UDP port is taken: probe it. */
static int usctp_port_free(uint16_t port) {
  struct sockaddr_in sin;
  int fd, rc;

  if (port == 0)
    return 1;
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0)
    return 0;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  rc = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
  close(fd);
  return rc == 0;
}

/* A UDP port that is free now: the kernel's choice of an ephemeral one.
 * usrsctp binds it right after; @return 0 if none could be found. */
static uint16_t usctp_pick_port(void) {
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);
  uint16_t port = 0;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);

  if (fd < 0)
    return 0;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
      getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
    port = ntohs(sin.sin_port);
  close(fd);
  return port;
}

/* usrsctp's UDP encapsulation sockets --------------------------------------
 *
 * usrsctp sizes its UDP sockets' buffers to 128 KiB and keeps them to
 * itself. A burst larger than that overflows the receive buffer while
 * usrsctp's receive thread waits for a core, and each datagram lost there
 * is an SCTP packet to retransmit. They are found among the process's
 * descriptors by the port usrsctp bound them to. */
#define USCTP_UDP_MAX_FDS 2 /* IPv4 and IPv6 */

/* AF_INET or AF_INET6 if @p fd is a UDP socket bound to @p port, else 0. */
static int usctp_is_udp_on(int fd, uint16_t port) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  int type = 0, proto = 0;
  socklen_t tlen = sizeof(type), plen = sizeof(proto);

  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 ||
      type != SOCK_DGRAM ||
      getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) != 0 ||
      proto != IPPROTO_UDP ||
      getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
    return 0;
  if (ss.ss_family == AF_INET &&
      ntohs(((struct sockaddr_in *)&ss)->sin_port) == port)
    return AF_INET;
  if (ss.ss_family == AF_INET6 &&
      ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == port)
    return AF_INET6;
  return 0;
}

/* The UDP sockets bound to @p port (usrsctp's, as ours are closed), the
 * IPv4 one first. @return how many were found, into @p fds. */
static int usctp_find_udp(uint16_t port, int *fds) {
  DIR *d;
  struct dirent *e;
  int n = 0;

  if (port == 0 || (d = opendir("/proc/self/fd")) == NULL)
    return 0;
  while (n < USCTP_UDP_MAX_FDS && (e = readdir(d)) != NULL) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);

    if (*end != '\0' || end == e->d_name || fd < 0 || fd > INT_MAX ||
        fd == dirfd(d))
      continue;
    switch (usctp_is_udp_on((int)fd, port)) {
    case AF_INET:
      if (n > 0)
        fds[n] = fds[0];
      fds[0] = (int)fd;
      n++;
      break;
    case AF_INET6:
      fds[n++] = (int)fd;
      break;
    default:
      break;
    }
  }
  closedir(d);
  return n;
}

/* Set one buffer: within net.core.[rw]mem_max, and beyond it when the
 * process may (CAP_NET_ADMIN), as the kernel allows. */
static int usctp_set_buf(int fd, int opt, int force_opt, int bytes) {
  int got = 0;
  socklen_t len = sizeof(got);

  if (setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes)) != 0)
    return -1;
  /* Linux reports twice what was set (its bookkeeping overhead). */
  if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) == 0 && got / 2 < bytes)
    (void)setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes));
  return 0;
}

/* Whether the running stack opened UDP sockets (threads and a port);
 * without threads a socket on the port would be the caller's. Caller
 * holds usctp_lock. */
static int usctp_has_udp(void) {
  return usctp_refs > 0 && usctp_port != 0 &&
         !(usctp_flags & MSTLS_SCTP_USRSCTP_NOTHREADS);
}

/* Caller holds usctp_lock. */
static int usctp_udp_apply(size_t bytes) {
  int fds[USCTP_UDP_MAX_FDS];
  int n = usctp_find_udp(usctp_port, fds), i;
  /* The kernel takes at most INT_MAX / 2 (it doubles the value). */
  int size = bytes > INT_MAX / 2 ? INT_MAX / 2 : (int)bytes;

  if (n == 0)
    return MSTLS_E_TRANSPORT;
  for (i = 0; i < n; i++) {
    if (usctp_set_buf(fds[i], SO_RCVBUF, SO_RCVBUFFORCE, size) != 0 ||
        usctp_set_buf(fds[i], SO_SNDBUF, SO_SNDBUFFORCE, size) != 0)
      return MSTLS_E_TRANSPORT;
  }
  return 0;
}

/* Datagrams the kernel dropped on the sockets bound to @p port. */
static uint64_t usctp_udp_drops(uint16_t port, uint64_t *rcvbuf,
                                uint64_t *sndbuf) {
  int fds[USCTP_UDP_MAX_FDS];
  int n = usctp_find_udp(port, fds), i;
  uint64_t drops = 0;

  for (i = 0; i < n; i++) {
    uint32_t mem[SK_MEMINFO_VARS];
    socklen_t len = sizeof(mem);

    memset(mem, 0, sizeof(mem));
    if (getsockopt(fds[i], SOL_SOCKET, SO_MEMINFO, mem, &len) != 0)
      continue;
    drops += mem[SK_MEMINFO_DROPS];
    if (i == 0 && rcvbuf != NULL && sndbuf != NULL) {
      *rcvbuf = mem[SK_MEMINFO_RCVBUF];
      *sndbuf = mem[SK_MEMINFO_SNDBUF];
    }
  }
  return drops;
}

int mstls_sctp_usrsctp_set_udp_buffer(size_t bytes) {
  int rc;

  if (bytes == 0 || bytes > (size_t)1 << 30)
    return MSTLS_E_INVALID_ARGUMENT;
  pthread_mutex_lock(&usctp_lock);
  usctp_udp_buffer = bytes;
  if (usctp_refs == 0)
    rc = 0; /* applied by the next mstls_sctp_usrsctp_init() */
  else if (!usctp_has_udp())
    rc = MSTLS_E_INVALID_STATE; /* usrsctp opened no UDP socket */
  else
    rc = usctp_udp_apply(bytes);
  pthread_mutex_unlock(&usctp_lock);
  return rc;
}

void mstls_usctp_udp_stats(mstls_sctp_usrsctp_stats *stats) {
  pthread_mutex_lock(&usctp_lock);
  stats->udp_rcvbuf = 0;
  stats->udp_sndbuf = 0;
  stats->udp_drops = usctp_udp_drops_past;
  if (usctp_has_udp())
    stats->udp_drops +=
        usctp_udp_drops(usctp_port, &stats->udp_rcvbuf, &stats->udp_sndbuf);
  pthread_mutex_unlock(&usctp_lock);
}

int mstls_sctp_usrsctp_init(uint16_t udp_port, unsigned flags) {
  int any = (flags & MSTLS_SCTP_USRSCTP_ANY_PORT) != 0;

  if ((flags & ~(MSTLS_SCTP_USRSCTP_NOTHREADS | MSTLS_SCTP_USRSCTP_ANY_PORT)) ||
      (any && udp_port != 0))
    return MSTLS_E_INVALID_ARGUMENT;
  pthread_mutex_lock(&usctp_lock);
  if (usctp_refs > 0) {
    int ok = usctp_flags == flags && (any || usctp_port == udp_port);
    if (ok)
      usctp_refs++;
    pthread_mutex_unlock(&usctp_lock);
    return ok ? 0 : MSTLS_E_INVALID_STATE;
  }
  if (any)
    udp_port = usctp_pick_port();
  if ((any && udp_port == 0) || !usctp_port_free(udp_port)) {
    pthread_mutex_unlock(&usctp_lock);
    return MSTLS_E_TRANSPORT;
  }
  if (flags & MSTLS_SCTP_USRSCTP_NOTHREADS)
    usrsctp_init_nothreads(udp_port, usctp_conn_output, NULL);
  else
    usrsctp_init(udp_port, usctp_conn_output, NULL);
  /* As root usrsctp also opens raw SCTP sockets; two stacks on one host
   * then ABORT each other's packets. Never answer unknown packets. */
  usrsctp_sysctl_set_sctp_blackhole(2);
  usctp_port = udp_port;
  usctp_flags = flags;
  usctp_refs = 1;
  /* Best effort: where the sockets cannot be found (no /proc) they keep
   * usrsctp's size, and mstls_sctp_usrsctp_get_stats() shows it. */
  if (usctp_has_udp())
    (void)usctp_udp_apply(usctp_udp_buffer);
  pthread_mutex_unlock(&usctp_lock);
  return 0;
}

uint16_t mstls_sctp_usrsctp_get_port(void) {
  uint16_t port;

  pthread_mutex_lock(&usctp_lock);
  port = usctp_refs > 0 ? usctp_port : 0;
  pthread_mutex_unlock(&usctp_lock);
  return port;
}

int mstls_sctp_usrsctp_release(void) {
  uint64_t drops;
  int i;

  pthread_mutex_lock(&usctp_lock);
  if (usctp_refs == 0) {
    pthread_mutex_unlock(&usctp_lock);
    return MSTLS_E_INVALID_STATE;
  }
  if (usctp_refs > 1) {
    usctp_refs--;
    pthread_mutex_unlock(&usctp_lock);
    return 0;
  }
  /* Read before usrsctp_finish() closes the sockets. */
  drops = usctp_has_udp() ? usctp_udp_drops(usctp_port, NULL, NULL) : 0;
  pthread_mutex_unlock(&usctp_lock);
  if (mstls_usctp_closer_stop() != 0)
    return MSTLS_E_AGAIN;
  /* usrsctp_finish() refuses while associations exist: let their timers
   * run (closing associations time out) and retry, a bounded number of
   * times. */
  for (i = 0; i < 3000; i++) {
    if (usrsctp_finish() == 0) {
      pthread_mutex_lock(&usctp_lock);
      usctp_udp_drops_past += drops;
      usctp_refs = 0;
      pthread_mutex_unlock(&usctp_lock);
      return 0;
    }
    if (usctp_flags & MSTLS_SCTP_USRSCTP_NOTHREADS) {
      usrsctp_handle_timers(1000);
    } else {
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  return MSTLS_E_AGAIN;
}

void mstls_sctp_usrsctp_handle_timers(uint32_t elapsed_ms) {
  if (usctp_refs == 0 || !(usctp_flags & MSTLS_SCTP_USRSCTP_NOTHREADS))
    return;
  usrsctp_handle_timers(elapsed_ms);
}

int mstls_sctp_usrsctp_is_nothreads(void) {
  return (usctp_flags & MSTLS_SCTP_USRSCTP_NOTHREADS) != 0;
}

static int usctp_running(void) {
  int r;
  pthread_mutex_lock(&usctp_lock);
  r = usctp_refs > 0;
  pthread_mutex_unlock(&usctp_lock);
  return r;
}

/* Links ------------------------------------------------------------------- */

int mstls_sctp_link_new(mstls_sctp_link **plink,
                        mstls_sctp_link_output_cb output, void *user_data) {
  mstls_sctp_link *link;
  size_t i;

  if (plink == NULL || output == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  *plink = NULL;
  if (!usctp_running())
    return MSTLS_E_INVALID_STATE;
  link = calloc(1, sizeof(*link));
  if (link == NULL)
    return MSTLS_E_NOMEM;
  link->output = output;
  link->user_data = user_data;
  pthread_mutex_lock(&usctp_lock);
  for (i = 0; i < USCTP_MAX_LINKS; i++) {
    if (usctp_links[i] == NULL) {
      usctp_links[i] = link;
      break;
    }
  }
  pthread_mutex_unlock(&usctp_lock);
  if (i == USCTP_MAX_LINKS) {
    free(link);
    return MSTLS_E_NOMEM;
  }
  usrsctp_register_address(link);
  *plink = link;
  return 0;
}

int mstls_sctp_link_input(mstls_sctp_link *link, const uint8_t *packet,
                          size_t len) {
  if (link == NULL || packet == NULL || len == 0)
    return MSTLS_E_INVALID_ARGUMENT;
  usrsctp_conninput(link, packet, len, 0);
  return 0;
}

void mstls_sctp_link_del(mstls_sctp_link *link) {
  size_t i;

  if (link == NULL)
    return;
  /* After the last release the stack, and the address with it, is gone. */
  if (usctp_running())
    usrsctp_deregister_address(link);
  pthread_mutex_lock(&usctp_lock);
  for (i = 0; i < USCTP_MAX_LINKS; i++) {
    if (usctp_links[i] == link)
      usctp_links[i] = NULL;
  }
  pthread_mutex_unlock(&usctp_lock);
  free(link);
}

/* Link pairs -------------------------------------------------------------- */

typedef struct usctp_pkt {
  struct usctp_pkt *next;
  size_t len;
  uint8_t data[];
} usctp_pkt;

typedef struct usctp_queue {
  usctp_pkt *head;
  usctp_pkt *tail;
} usctp_queue;

struct mstls_sctp_link_pair {
  mstls_sctp_link *link[2];
  usctp_queue q[2]; /* q[0]: packets from link 0, for link 1 */
  pthread_mutex_t lock;
  mstls_sctp_tap_cb tap;
  void *tap_user;
};

static int usctp_pair_output(mstls_sctp_link *link, const uint8_t *packet,
                             size_t len, void *user_data) {
  mstls_sctp_link_pair *pair = user_data;
  int dir = pair->link[0] == link ? 0 : 1;
  usctp_pkt *p = malloc(sizeof(*p) + len);

  if (p == NULL)
    return -1; /* a lost packet: SCTP retransmits */
  p->next = NULL;
  p->len = len;
  memcpy(p->data, packet, len);
  pthread_mutex_lock(&pair->lock);
  if (pair->q[dir].tail != NULL)
    pair->q[dir].tail->next = p;
  else
    pair->q[dir].head = p;
  pair->q[dir].tail = p;
  pthread_mutex_unlock(&pair->lock);
  return 0;
}

int mstls_sctp_link_pair_new(mstls_sctp_link_pair **ppair) {
  mstls_sctp_link_pair *pair;
  int rc;

  if (ppair == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  *ppair = NULL;
  pair = calloc(1, sizeof(*pair));
  if (pair == NULL)
    return MSTLS_E_NOMEM;
  pthread_mutex_init(&pair->lock, NULL);
  rc = mstls_sctp_link_new(&pair->link[0], usctp_pair_output, pair);
  if (rc == 0)
    rc = mstls_sctp_link_new(&pair->link[1], usctp_pair_output, pair);
  if (rc != 0) {
    mstls_sctp_link_pair_del(pair);
    return rc;
  }
  *ppair = pair;
  return 0;
}

mstls_sctp_link *mstls_sctp_link_pair_get(mstls_sctp_link_pair *p, int which) {
  if (p == NULL || which < 0 || which > 1)
    return NULL;
  return p->link[which];
}

void mstls_sctp_link_pair_set_tap(mstls_sctp_link_pair *p,
                                  mstls_sctp_tap_cb tap, void *user_data) {
  if (p == NULL)
    return;
  p->tap = tap;
  p->tap_user = user_data;
}

static usctp_pkt *usctp_pair_pop(mstls_sctp_link_pair *p, int dir) {
  usctp_pkt *pkt;

  pthread_mutex_lock(&p->lock);
  pkt = p->q[dir].head;
  if (pkt != NULL) {
    p->q[dir].head = pkt->next;
    if (p->q[dir].head == NULL)
      p->q[dir].tail = NULL;
  }
  pthread_mutex_unlock(&p->lock);
  return pkt;
}

size_t mstls_sctp_link_pair_pump(mstls_sctp_link_pair *p) {
  size_t n = 0;
  int idle = 0;
  int dir = 0;

  if (p == NULL)
    return 0;
  /* Alternate directions until both queues stay empty. Bounded: a stack
   * that keeps answering forever is a bug, not a reason to hang. */
  while (idle < 2 && n < 1000000) {
    usctp_pkt *pkt = usctp_pair_pop(p, dir);
    if (pkt == NULL) {
      idle++;
    } else {
      idle = 0;
      n++;
      if (p->tap == NULL || p->tap(dir, pkt->data, pkt->len, p->tap_user) == 0)
        usrsctp_conninput(p->link[1 - dir], pkt->data, pkt->len, 0);
      free(pkt);
    }
    dir = 1 - dir;
  }
  return n;
}

void mstls_sctp_link_pair_del(mstls_sctp_link_pair *p) {
  int d;

  if (p == NULL)
    return;
  mstls_sctp_link_del(p->link[0]);
  mstls_sctp_link_del(p->link[1]);
  for (d = 0; d < 2; d++) {
    usctp_pkt *pkt;
    while ((pkt = usctp_pair_pop(p, d)) != NULL)
      free(pkt);
  }
  pthread_mutex_destroy(&p->lock);
  free(p);
}

/* Sockets ----------------------------------------------------------------- */

/* Live wrappers. usrsctp calls the upcall outside its locks, with the
 * function and argument it read before any usrsctp_set_upcall() that
 * changes them, so an upcall may start after mstls_usctp_free(): it looks its
 * wrapper up here, under the read lock, takes a reference and returns if
 * it is gone. The pointer is compared, never followed, until it is found.
 * The lock is held for the lookup only, never across a callback. */
static pthread_rwlock_t usctp_socks_lock = PTHREAD_RWLOCK_INITIALIZER;
static void *usctp_socks; /* tsearch() tree */

static int usctp_ptr_cmp(const void *a, const void *b) {
  const uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
  return x < y ? -1 : x > y;
}

static void usctp_signal(mstls_sctp_sock *s) {
  uint64_t one = 1;
  /* EAGAIN: the counter is saturated, the fd is readable anyway. */
  if (write(s->efd, &one, sizeof(one)) < 0) {
  }
}

static void usctp_upcall(struct socket *so, void *arg, int flags) {
  mstls_sctp_sock *s = arg;

  int found;

  (void)so;
  (void)flags;
  pthread_rwlock_rdlock(&usctp_socks_lock);
  found = s != NULL && tfind(s, &usctp_socks, usctp_ptr_cmp) != NULL;
  if (found)
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
  pthread_rwlock_unlock(&usctp_socks_lock);
  if (!found)
    return;
  /* The ready callback runs under s->lock so that set_ready(NULL) is a
   * barrier: once it returned, the owner may be freed. */
  pthread_mutex_lock(&s->lock);
  s->gen++;
  if (s->ready != NULL)
    s->ready(s->ready_arg);
  if (__atomic_load_n(&s->efd_used, __ATOMIC_ACQUIRE))
    usctp_signal(s);
  __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
  /* Wakes waiters on gen, and mstls_usctp_free() waiting for refs. */
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->lock);
}

static mstls_sctp_sock *usctp_sock_wrap(struct socket *so,
                                        const mstls_sctp_config *cfg) {
  mstls_sctp_sock *s = calloc(1, sizeof(*s));

  if (s == NULL)
    return NULL;
  s->so = so;
  s->linger_ms = cfg->linger_ms;
  s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s->efd < 0) {
    free(s);
    return NULL;
  }
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  pthread_rwlock_wrlock(&usctp_socks_lock);
  if (tsearch(s, &usctp_socks, usctp_ptr_cmp) == NULL) {
    pthread_rwlock_unlock(&usctp_socks_lock);
    close(s->efd);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
    return NULL;
  }
  pthread_rwlock_unlock(&usctp_socks_lock);
  usrsctp_set_upcall(so, usctp_upcall, s);
  return s;
}

static int usctp_setup(struct socket *so, const mstls_sctp_config *cfg,
                       int accepted) {
  if (usrsctp_set_non_blocking(so, 1) < 0)
    return -1;
  return backend_setup(so, cfg, 1 << 20, accepted);
}

static int usctp_errno_to_mstls(int e) {
  switch (e) {
  case EWOULDBLOCK:
    return MSTLS_E_AGAIN;
  case ENOENT: /* usrsctp_sendv: the association no longer exists */
  case ECONNRESET:
  case ENOTCONN:
  case EPIPE:
  case ECONNABORTED:
  case ESHUTDOWN:
    return MSTLS_E_PEER_GONE;
  case EINVAL:
    return MSTLS_E_INVALID_STREAM;
  default:
    return MSTLS_E_TRANSPORT;
  }
}

static long usctp_recv(mstls_sctp_sock *s, uint8_t *buf, size_t len,
                       mstls_sctp_rcv *ri) {
  struct sctp_rcvinfo rcv;
  struct sockaddr_storage from;
  socklen_t fromlen = sizeof(from);
  socklen_t infolen = sizeof(rcv);
  unsigned infotype = 0;
  int flags = 0;
  ssize_t n;

  memset(ri, 0, sizeof(*ri));
  memset(&rcv, 0, sizeof(rcv));
  n = usrsctp_recvv(s->so, buf, len, (struct sockaddr *)&from, &fromlen, &rcv,
                    &infolen, &infotype, &flags);
  if (n < 0)
    return usctp_errno_to_mstls(errno);
  if (n == 0 && !(flags & MSG_NOTIFICATION))
    return MSTLS_E_PEER_GONE; /* the association is gone (EOF) */
  ri->eor = (flags & MSG_EOR) != 0;
  if (flags & MSG_NOTIFICATION) {
    backend_parse_event(buf, (size_t)n, ri);
    return n;
  }
  if (infotype == SCTP_RECVV_RCVINFO) {
    ri->sid = rcv.rcv_sid;
    ri->ppid = ntohl(rcv.rcv_ppid);
    if (rcv.rcv_flags & SCTP_UNORDERED)
      ri->flags |= MSTLS_MSG_UNORDERED;
  }
  return n;
}

static int usctp_send(mstls_sctp_sock *s, uint16_t sid, uint32_t ppid,
                      const uint8_t *data, size_t len) {
  struct sctp_sndinfo si;
  uint64_t gen;
  ssize_t n;
  int err;

  memset(&si, 0, sizeof(si));
  si.snd_sid = sid;
  si.snd_ppid = htonl(ppid);
  /* RFC 3436 §6: unordered delivery MUST NOT be used on TLS streams, and
   * no PR-SCTP policy is ever attached: snd_flags stays 0, no PRINFO. */
  si.snd_flags = 0;
  pthread_mutex_lock(&s->lock);
  gen = s->gen;
  pthread_mutex_unlock(&s->lock);
  n = usrsctp_sendv(s->so, data, len, NULL, 0, &si, sizeof(si),
                    SCTP_SENDV_SNDINFO, 0);
  err = n < 0 ? errno : 0;
  /* usrsctp reports a socket writable (SCTP_EVENT_WRITE) as soon as any
   * room is free, but a non-blocking send of a whole message needs room
   * for all of it: waiting on SCTP_EVENT_WRITE would return at once and
   * the sender would spin. Remember the upcall generation the send saw;
   * room can only appear with a later upcall (an inbound SACK). */
  pthread_mutex_lock(&s->lock);
  s->write_blocked = n < 0 && err == EWOULDBLOCK;
  s->blocked_gen = gen;
  pthread_mutex_unlock(&s->lock);
  if (n < 0)
    return usctp_errno_to_mstls(err);
  return (size_t)n == len ? 0 : MSTLS_E_TRANSPORT;
}

/* Whether the socket is ready for @p events. A send that found no room is
 * ready for WRITE only once an upcall came after it. */
static int usctp_ready_now(mstls_sctp_sock *s, int events) {
  int ev = usrsctp_get_events(s->so);
  int blocked;
  uint64_t gen, bgen;

  if (ev < 0 || (ev & SCTP_EVENT_ERROR))
    return 1;
  if ((events & MSTLS_SCTP_WAIT_READ) && (ev & SCTP_EVENT_READ))
    return 1;
  if (!(events & MSTLS_SCTP_WAIT_WRITE))
    return 0;
  pthread_mutex_lock(&s->lock);
  blocked = s->write_blocked;
  gen = s->gen;
  bgen = s->blocked_gen;
  pthread_mutex_unlock(&s->lock);
  return blocked ? gen != bgen : (ev & SCTP_EVENT_WRITE) != 0;
}

/* Wait on the condition variable the upcall signals: no polling. */
static int usctp_wait(mstls_sctp_sock *s, int events, int timeout_ms) {
  struct timespec deadline;

  if (usctp_ready_now(s, events))
    return 0;
  if (mstls_sctp_usrsctp_is_nothreads())
    return MSTLS_E_INVALID_STATE;
  clock_gettime(CLOCK_REALTIME, &deadline);
  if (timeout_ms >= 0) {
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
  }
  for (;;) {
    uint64_t gen;
    int rc = 0;

    pthread_mutex_lock(&s->lock);
    gen = s->gen;
    pthread_mutex_unlock(&s->lock);
    /* Never call into usrsctp with s->lock held: the upcall takes it with
     * usrsctp's own locks held. */
    if (usctp_ready_now(s, events))
      return 0;
    pthread_mutex_lock(&s->lock);
    while (s->gen == gen && rc == 0) {
      if (timeout_ms < 0)
        rc = pthread_cond_wait(&s->cond, &s->lock);
      else
        rc = pthread_cond_timedwait(&s->cond, &s->lock, &deadline);
    }
    pthread_mutex_unlock(&s->lock);
    if (rc != 0)
      return usctp_ready_now(s, events) ? 0 : MSTLS_E_AGAIN;
  }
}

/* SCTP_STATUS of the socket's association: 0, or -1 when it has none
 * (SHUTDOWN complete, aborted, given up, or never set up). */
static int usctp_get_status(mstls_sctp_sock *s, struct sctp_status *st) {
  socklen_t len = sizeof(*st);

  memset(st, 0, sizeof(*st));
  return usrsctp_getsockopt(s->so, IPPROTO_SCTP, SCTP_STATUS, st, &len);
}

int mstls_usctp_has_assoc(mstls_sctp_sock *s) {
  struct sctp_status st;
  return usctp_get_status(s, &st) == 0;
}

static int usctp_status(mstls_sctp_sock *s, uint16_t *in, uint16_t *out) {
  struct sctp_status st;

  if (usctp_get_status(s, &st) < 0)
    return MSTLS_E_AGAIN;
  if (st.sstat_state != SCTP_ESTABLISHED || st.sstat_instrms == 0 ||
      st.sstat_outstrms == 0)
    return MSTLS_E_AGAIN;
  *in = st.sstat_instrms;
  *out = st.sstat_outstrms;
  return 0;
}

static int usctp_accept(mstls_sctp_sock *s, mstls_sctp_sock **pnew,
                        const mstls_sctp_config *cfg) {
  struct socket *so = usrsctp_accept(s->so, NULL, NULL);
  mstls_sctp_sock *ns;

  if (so == NULL)
    return usctp_errno_to_mstls(errno) == MSTLS_E_AGAIN ? MSTLS_E_AGAIN
                                                        : MSTLS_E_TRANSPORT;
  /* The association is up: the socket is wrapped first, so that every
   * failure below ends through mstls_usctp_abort() ("Closing" in
   * usrsctp_closer.c). */
  ns = usctp_sock_wrap(so, cfg);
  if (ns == NULL) {
    (void)mstls_usctp_abort_so(so);
    usrsctp_close(so); /* an accepted association takes the ABORT */
    return MSTLS_E_NOMEM;
  }
  if (usctp_setup(so, cfg, 1) < 0) {
    mstls_usctp_abort(ns);
    return MSTLS_E_TRANSPORT;
  }
  *pnew = ns;
  return 0;
}

static int usctp_shutdown(mstls_sctp_sock *s) {
  if (usrsctp_shutdown(s->so, SHUT_WR) < 0 && errno != ENOTCONN)
    return MSTLS_E_TRANSPORT;
  return 0;
}

static void usctp_set_ready(mstls_sctp_sock *s, void (*fn)(void *), void *arg);

/* Free the socket. Only safe once the stack holds no association of it
 * (or in NOTHREADS mode, where no other thread runs the stack). */
void mstls_usctp_free(mstls_sctp_sock *s) {
  /* Later upcalls find it gone; wait out those that found it. */
  pthread_rwlock_wrlock(&usctp_socks_lock);
  tdelete(s, &usctp_socks, usctp_ptr_cmp);
  pthread_rwlock_unlock(&usctp_socks_lock);
  pthread_mutex_lock(&s->lock);
  while (__atomic_load_n(&s->refs, __ATOMIC_ACQUIRE) != 0)
    pthread_cond_wait(&s->cond, &s->lock);
  pthread_mutex_unlock(&s->lock);
  /* Never a NULL function: usrsctp reads the pointer twice without a
   * lock. A NULL argument finds nothing in the registry. */
  usrsctp_set_upcall(s->so, usctp_upcall, NULL);
  usrsctp_close(s->so);
  if (s->efd >= 0)
    close(s->efd);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->cond);
  free(s);
}

/* Drain the eventfd, then signal it again if the socket still has
 * something to read (or an error): readable while there is work, as the
 * kernel's socket is. Called without s->lock (usrsctp's locks are taken
 * before it in the upcall). */
static void usctp_rearm(mstls_sctp_sock *s) {
  uint64_t v;
  int ev;

  if (!__atomic_load_n(&s->efd_used, __ATOMIC_ACQUIRE))
    return;
  if (read(s->efd, &v, sizeof(v)) < 0) {
    /* EAGAIN: it was not signalled */
  }
  ev = usrsctp_get_events(s->so);
  if (ev < 0 || (ev & (SCTP_EVENT_READ | SCTP_EVENT_ERROR)))
    usctp_signal(s);
}

static int usctp_fd(mstls_sctp_sock *s) {
  /* First use: anything that arrived before counts. */
  if (!__atomic_exchange_n(&s->efd_used, 1, __ATOMIC_ACQ_REL))
    usctp_rearm(s);
  return s->efd;
}

static void usctp_set_ready(mstls_sctp_sock *s, void (*fn)(void *), void *arg) {
  pthread_mutex_lock(&s->lock);
  s->ready = fn;
  s->ready_arg = arg;
  pthread_mutex_unlock(&s->lock);
}

static int usctp_reset_streams(mstls_sctp_sock *s, const uint16_t *sids,
                               size_t n) {
  return backend_reset_streams(s->so, sids, n);
}

static int usctp_outstanding(mstls_sctp_sock *s, uint32_t *chunks) {
  return backend_outstanding(s->so, chunks);
}

static int usctp_paths(mstls_sctp_sock *s, mstls_sctp_path *paths, size_t max,
                       size_t *n) {
  return backend_paths(s->so, paths, max, n);
}

static int usctp_set_primary(mstls_sctp_sock *s,
                             const struct sockaddr_storage *addr) {
  return backend_set_primary(s->so, addr);
}

static const mstls_sctp_ops usctp_ops = {MSTLS_SCTP_BACKEND_USRSCTP,
                                         usctp_recv,
                                         usctp_send,
                                         usctp_wait,
                                         usctp_status,
                                         usctp_accept,
                                         usctp_shutdown,
                                         mstls_usctp_abort,
                                         mstls_usctp_close,
                                         usctp_fd,
                                         usctp_set_ready,
                                         usctp_reset_streams,
                                         usctp_rearm,
                                         usctp_outstanding,
                                         usctp_paths,
                                         usctp_set_primary,
                                         NULL,
                                         NULL};

/* Bind the local addresses: one with usrsctp_bind(), several with
 * usrsctp_bindx() (RFC 6458 §9.1), all with the same port. */
static int usctp_bind(struct socket *so, const mstls_sctp_addrs *local) {
  uint8_t packed[sizeof(local->a)];

  if (local->n == 1)
    return usrsctp_bind(
        so, (struct sockaddr *)(uintptr_t)&local->a[0],
        mstls_sctp_sa_len((const struct sockaddr *)&local->a[0]));
  mstls_sctp_addrs_pack(local, packed);
  return usrsctp_bindx(so, (struct sockaddr *)packed, (int)local->n,
                       SCTP_BINDX_ADD_ADDR);
}

/* A list with one wildcard address of @p family and @p port. */
static void usctp_any(mstls_sctp_addrs *l, int family, uint16_t port) {
  memset(l, 0, sizeof(*l));
  l->n = 1;
  l->a[0].ss_family = (sa_family_t)family;
  if (family == AF_INET)
    ((struct sockaddr_in *)&l->a[0])->sin_port = htons(port);
  else
    ((struct sockaddr_in6 *)&l->a[0])->sin6_port = htons(port);
}

/* @p l with every port set to @p port. */
static void usctp_set_port(mstls_sctp_addrs *l, uint16_t port) {
  size_t i;
  for (i = 0; i < l->n; i++) {
    if (l->a[i].ss_family == AF_INET)
      ((struct sockaddr_in *)&l->a[i])->sin_port = htons(port);
    else
      ((struct sockaddr_in6 *)&l->a[i])->sin6_port = htons(port);
  }
}

static int usctp_open(struct socket **pso, int family,
                      const mstls_sctp_config *cfg) {
  struct socket *so;

  if (!usctp_running())
    return MSTLS_E_INVALID_STATE;
  if (cfg->blocking && mstls_sctp_usrsctp_is_nothreads())
    return MSTLS_E_INVALID_STATE;
  if (family != AF_CONN && usctp_port == 0)
    return MSTLS_E_INVALID_STATE; /* no UDP encapsulation port */
  so = usrsctp_socket(family, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
  if (so == NULL)
    return MSTLS_E_TRANSPORT;
  if (usctp_setup(so, cfg, 0) < 0) {
    usrsctp_close(so);
    return MSTLS_E_TRANSPORT;
  }
  *pso = so;
  return 0;
}

/* An AF_CONN socket bound to the link's own address: that address is both
 * ends' address, so a client binds it with its local port and connects to
 * it with the server's port. */
static int usctp_open_conn(struct socket **pso, const mstls_sctp_config *cfg,
                           uint16_t bind_port, struct sockaddr_conn *sc) {
  int rc = usctp_open(pso, AF_CONN, cfg);
  if (rc != 0)
    return rc;
  memset(sc, 0, sizeof(*sc));
  sc->sconn_family = AF_CONN;
  sc->sconn_port = htons(bind_port);
  sc->sconn_addr = cfg->link;
  if (usrsctp_bind(*pso, (struct sockaddr *)sc, sizeof(*sc)) < 0) {
    usrsctp_close(*pso);
    return MSTLS_E_TRANSPORT;
  }
  return 0;
}

static int usctp_finish_open(struct socket *so, const mstls_sctp_config *cfg,
                             mstls_sctp_sock **ps,
                             const mstls_sctp_ops **pops) {
  mstls_sctp_sock *s = usctp_sock_wrap(so, cfg);

  if (s == NULL) {
    usrsctp_close(so);
    return MSTLS_E_NOMEM;
  }
  *ps = s;
  *pops = &usctp_ops;
  return 0;
}

/* Connect the wrapped socket (an AF_CONN link, or UDP encapsulation).
 * @return 0 or -1 (errno). */
static int usctp_connect_to(mstls_sctp_sock *s, const mstls_sctp_config *cfg,
                            const mstls_sctp_addrs *remote,
                            const mstls_sctp_addrs *local, uint16_t port,
                            struct sockaddr_conn *sc) {
  struct sctp_udpencaps enc;
  mstls_sctp_addrs bound;

  if (cfg->link != NULL) {
    sc->sconn_port = htons(port);
    return usrsctp_connect(s->so, (struct sockaddr *)sc, sizeof(*sc));
  }
  /* RFC 6951 §5: one remote UDP port for every address of the peer. */
  memset(&enc, 0, sizeof(enc));
  enc.sue_address.ss_family = remote->a[0].ss_family;
  enc.sue_port = htons(cfg->remote_udp_port ? cfg->remote_udp_port : port);
  if (usrsctp_setsockopt(s->so, IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, &enc,
                         sizeof(enc)) < 0)
    return -1;
  if (local->n > 0) {
    bound = *local;
    usctp_set_port(&bound, cfg->local_port);
    if (usctp_bind(s->so, &bound) < 0)
      return -1;
  }
  if (remote->n == 1)
    return usrsctp_connect(
        s->so, (struct sockaddr *)(uintptr_t)&remote->a[0],
        mstls_sctp_sa_len((const struct sockaddr *)&remote->a[0]));
  {
    /* RFC 6458 §9.9: every peer address at once; the first is the
     * primary path. */
    uint8_t packed[sizeof(remote->a)];
    mstls_sctp_addrs_pack(remote, packed);
    return usrsctp_connectx(s->so, (const struct sockaddr *)packed,
                            (int)remote->n, NULL);
  }
}

int mstls_sctp_usrsctp_connect(mstls_sctp_sock **ps,
                               const mstls_sctp_ops **pops,
                               const mstls_sctp_config *cfg,
                               const mstls_sctp_addrs *remote,
                               const mstls_sctp_addrs *local, uint16_t port) {
  struct sockaddr_conn sc;
  struct socket *so = NULL;
  mstls_sctp_sock *s;
  int rc;

  if (cfg->link != NULL) {
    if (local->n > 0)
      return MSTLS_E_INVALID_ARGUMENT; /* a link has one address */
    rc = usctp_open_conn(&so, cfg, cfg->local_port, &sc);
  } else {
    if (remote->n == 0 ||
        (local->n > 0 && local->a[0].ss_family != remote->a[0].ss_family))
      return MSTLS_E_INVALID_ARGUMENT;
    rc = usctp_open(&so, remote->a[0].ss_family, cfg);
  }
  if (rc != 0)
    return rc;
  /* Wrapped before the connect: once an association exists, the socket
   * is closed only through mstls_usctp_close() ("Closing" in usrsctp_closer.c).
   */
  s = usctp_sock_wrap(so, cfg);
  if (s == NULL) {
    usrsctp_close(so);
    return MSTLS_E_NOMEM;
  }
  if (usctp_connect_to(s, cfg, remote, local, port, &sc) < 0 &&
      errno != EINPROGRESS) {
    mstls_usctp_close(s);
    return MSTLS_E_TRANSPORT;
  }
  *ps = s;
  *pops = &usctp_ops;
  return 0;
}

int mstls_sctp_usrsctp_listen(mstls_sctp_sock **ps, const mstls_sctp_ops **pops,
                              const mstls_sctp_config *cfg,
                              const mstls_sctp_addrs *local, uint16_t port) {
  mstls_sctp_config lcfg = *cfg;
  struct socket *so = NULL;
  int rc;

  /* An association waiting to be accepted lives in a socket cloned from
   * the listener, with the listener's buffers: a small receive buffer
   * bounds what a peer can make it hold before accept (the window it
   * advertises). Accept gives the socket the configured size. */
  lcfg.recv_buffer =
      cfg->pending_recv_buffer ? cfg->pending_recv_buffer : cfg->recv_buffer;
  if (cfg->link != NULL) {
    struct sockaddr_conn sc;
    if (local->n > 0)
      return MSTLS_E_INVALID_ARGUMENT; /* a link has one address */
    rc = usctp_open_conn(&so, &lcfg, port, &sc);
    if (rc != 0)
      return rc;
  } else {
    mstls_sctp_addrs any;
    if (local->n == 0) {
      usctp_any(&any, AF_INET, port);
      local = &any;
    }
    rc = usctp_open(&so, local->a[0].ss_family, &lcfg);
    if (rc != 0)
      return rc;
    if (usctp_bind(so, local) < 0)
      goto fail;
  }
  /* usrsctp drops a COOKIE-ECHO while `backlog` associations wait. */
  if (usrsctp_listen(so, cfg->backlog) < 0)
    goto fail;
  return usctp_finish_open(so, cfg, ps, pops);
fail:
  usrsctp_close(so);
  return MSTLS_E_TRANSPORT;
}
