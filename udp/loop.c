/* A ready-made event loop: one non-blocking UDP socket (IPv4 or IPv6),
 * poll(2) and CLOCK_MONOTONIC around the sans-IO endpoint. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "udp_int.h"

#define LOOP_BUF 65536
#define LOOP_BATCH 256

struct mstls_udp_loop {
  mstls_udp_endpoint *ep;
  const mstls_mem *mem;
  int fd;
  volatile sig_atomic_t stop;
  uint8_t *buf;
};

mstls_tstamp mstls_udp_now(void) {
  return mstls_clock_monotonic();
}

/* A decimal port in 1..65535: getaddrinfo() alone takes "99999" modulo
 * 65536 and "0" as "any port". */
static int loop_port_ok(const char *port) {
  unsigned long v = 0;
  size_t i;
  if (port[0] == '\0' || strlen(port) > 5) {
    return 0;
  }
  for (i = 0; port[i]; i++) {
    if (port[i] < '0' || port[i] > '9') {
      return 0;
    }
    v = v * 10 + (unsigned long)(port[i] - '0');
  }
  return v >= 1 && v <= 65535;
}

int mstls_udp_resolve(const char *hostport, struct sockaddr_storage *ss,
                      socklen_t *plen) {
  char host[256];
  const char *port;
  const char *colon;
  struct addrinfo hints, *res = NULL;
  size_t hl;

  if (!hostport || !ss || !plen) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (hostport[0] == '[') {
    const char *end = strchr(hostport, ']');
    if (!end || end[1] != ':') {
      return MSTLS_E_INVALID_ARGUMENT;
    }
    hl = (size_t)(end - hostport - 1);
    if (hl >= sizeof(host)) {
      return MSTLS_E_INVALID_ARGUMENT;
    }
    memcpy(host, hostport + 1, hl);
    host[hl] = 0;
    port = end + 2;
  } else if ((colon = strrchr(hostport, ':')) != NULL) {
    hl = (size_t)(colon - hostport);
    if (hl >= sizeof(host)) {
      return MSTLS_E_INVALID_ARGUMENT;
    }
    memcpy(host, hostport, hl);
    host[hl] = 0;
    port = colon + 1;
  } else {
    strcpy(host, "0.0.0.0");
    port = hostport;
  }
  if (!loop_port_ok(port)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  if (getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res) != 0 ||
      !res) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *plen = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static int loop_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                     socklen_t tolen, const uint8_t *data, size_t len,
                     void *user_data) {
  mstls_udp_loop *loop = ep->transport;
  ssize_t n;
  (void)user_data;
  do {
    n = sendto(loop->fd, data, len, 0, to, tolen);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    /* A full socket buffer loses the datagram, as the network may. */
    return errno == EAGAIN || errno == EWOULDBLOCK ? MSTLS_E_AGAIN
                                                   : MSTLS_E_TRANSPORT;
  }
  return 0;
}

int mstls_udp_loop_new(mstls_udp_loop **ploop, const struct sockaddr *bind_addr,
                       socklen_t bind_len, const mstls_udp_settings *settings,
                       const mstls_udp_callbacks *callbacks,
                       mstls_credentials *cred, void *user_data) {
  mstls_udp_callbacks cb;
  mstls_udp_loop *loop;
  const mstls_mem *mem;
  int rv;

  if (!ploop) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  *ploop = NULL;
  if (!bind_addr || !settings || !callbacks ||
      (bind_addr->sa_family != AF_INET && bind_addr->sa_family != AF_INET6)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  mem = settings->mem ? settings->mem : mstls_mem_default();
  loop = mstls_mem_calloc(mem, 1, sizeof(*loop));
  if (!loop) {
    return MSTLS_E_NOMEM;
  }
  loop->mem = mem;
  loop->buf = mstls_mem_malloc(mem, LOOP_BUF);
  if (!loop->buf) {
    mstls_mem_free(mem, loop);
    return MSTLS_E_NOMEM;
  }
  loop->fd = socket(bind_addr->sa_family,
                    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (loop->fd >= 0 && (settings->flags & MSTLS_UDP_REUSEPORT)) {
    int one = 1;
    if (setsockopt(loop->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
      mstls_udp_loop_del(loop);
      return MSTLS_E_TRANSPORT;
    }
  }
  if (loop->fd < 0 || bind(loop->fd, bind_addr, bind_len) < 0) {
    mstls_udp_loop_del(loop);
    return MSTLS_E_TRANSPORT;
  }
  cb = *callbacks;
  cb.send = loop_send;
  rv = mstls_udp_endpoint_new(&loop->ep, settings, &cb, cred, user_data);
  if (rv < 0) {
    mstls_udp_loop_del(loop);
    return rv;
  }
  loop->ep->transport = loop;
  *ploop = loop;
  return 0;
}

void mstls_udp_loop_del(mstls_udp_loop *loop) {
  if (!loop) {
    return;
  }
  mstls_udp_endpoint_del(loop->ep);
  if (loop->fd >= 0) {
    close(loop->fd);
  }
  mstls_mem_free(loop->mem, loop->buf);
  mstls_mem_free(loop->mem, loop);
}

mstls_udp_endpoint *mstls_udp_loop_get_endpoint(mstls_udp_loop *loop) {
  return loop ? loop->ep : NULL;
}

int mstls_udp_loop_get_fd(mstls_udp_loop *loop) {
  return loop ? loop->fd : -1;
}

int mstls_udp_loop_get_local_addr(mstls_udp_loop *loop,
                                  struct sockaddr_storage *ss,
                                  socklen_t *plen) {
  if (!loop || !ss || !plen) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  *plen = sizeof(*ss);
  if (getsockname(loop->fd, (struct sockaddr *)ss, plen) < 0) {
    return MSTLS_E_TRANSPORT;
  }
  return 0;
}

/* Cookie periods follow wall-clock time, so that loops on several
 * machines sharing fleet keys agree on them; the offset is read again for
 * every batch so that a stepped wall clock moves them too. */
static void loop_set_wall_offset(mstls_udp_loop *loop) {
  (void)mstls_udp_endpoint_set_wall_offset(
      loop->ep, mstls_clock_realtime() - mstls_clock_monotonic());
}

int mstls_udp_loop_read(mstls_udp_loop *loop) {
  int count = 0;
  if (!loop) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  loop_set_wall_offset(loop);
  while (count < LOOP_BATCH) {
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    ssize_t n = recvfrom(loop->fd, loop->buf, LOOP_BUF, MSG_TRUNC,
                         (struct sockaddr *)&from, &fromlen);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED) {
        break;
      }
      return MSTLS_E_TRANSPORT;
    }
    count++;
    /* MSG_TRUNC reports the real length; no UDP payload exceeds the
     * buffer, but never feed a cut datagram. */
    if ((size_t)n > LOOP_BUF) {
      mstls_udp_drop(loop->ep, MSTLS_UDP_DROP_OVERSIZED);
      continue;
    }
    (void)mstls_udp_endpoint_feed(loop->ep, (struct sockaddr *)&from, fromlen,
                                  loop->buf, (size_t)n, mstls_udp_now());
  }
  (void)mstls_udp_endpoint_handle_expiry(loop->ep, mstls_udp_now());
  return count;
}

int mstls_udp_loop_run_once(mstls_udp_loop *loop, int timeout_ms) {
  struct pollfd pfd;
  mstls_tstamp exp, now;
  int wait = timeout_ms;
  int rv;

  if (!loop) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  exp = mstls_udp_endpoint_get_expiry(loop->ep);
  now = mstls_udp_now();
  if (exp != MSTLS_TSTAMP_NEVER) {
    mstls_tstamp d = exp > now ? exp - now : 0;
    /* Round up so the timer is due when poll returns. */
    uint64_t ms = (d + MSTLS_MILLISECONDS - 1) / MSTLS_MILLISECONDS;
    if (ms > 60000) {
      ms = 60000;
    }
    if (wait < 0 || (uint64_t)wait > ms) {
      wait = (int)ms;
    }
  }
  pfd.fd = loop->fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  rv = poll(&pfd, 1, wait);
  if (rv < 0 && errno != EINTR) {
    return MSTLS_E_TRANSPORT;
  }
  if (rv > 0) {
    return mstls_udp_loop_read(loop);
  }
  (void)mstls_udp_endpoint_handle_expiry(loop->ep, mstls_udp_now());
  return 0;
}

int mstls_udp_loop_run(mstls_udp_loop *loop, int timeout_ms) {
  mstls_tstamp end;
  if (!loop) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  end = timeout_ms < 0
            ? MSTLS_TSTAMP_NEVER
            : mstls_udp_now() + (mstls_tstamp)timeout_ms * MSTLS_MILLISECONDS;
  while (!loop->stop) {
    mstls_tstamp now = mstls_udp_now();
    int wait = 1000;
    int rv;
    if (now >= end) {
      break;
    }
    if (end != MSTLS_TSTAMP_NEVER && (end - now) / MSTLS_MILLISECONDS < 1000) {
      wait = (int)((end - now) / MSTLS_MILLISECONDS) + 1;
    }
    rv = mstls_udp_loop_run_once(loop, wait);
    if (rv < 0) {
      return rv;
    }
  }
  loop->stop = 0;
  return 0;
}

void mstls_udp_loop_stop(mstls_udp_loop *loop) {
  if (loop) {
    loop->stop = 1;
  }
}

int mstls_udp_loop_connect(mstls_udp_loop *loop, const struct sockaddr *to,
                           socklen_t tolen, const char *server_name,
                           mstls_udp_peer **ppeer) {
  if (!loop) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  return mstls_udp_endpoint_connect(loop->ep, to, tolen, server_name,
                                    mstls_udp_now(), ppeer);
}

int mstls_udp_loop_connect2(mstls_udp_loop *loop, const struct sockaddr *to,
                            socklen_t tolen, const char *server_name,
                            const uint8_t *resumption_data,
                            size_t resumption_data_len,
                            mstls_udp_peer **ppeer) {
  if (!loop) {
    if (ppeer) {
      *ppeer = NULL;
    }
    return MSTLS_E_INVALID_ARGUMENT;
  }
  return mstls_udp_endpoint_connect2(loop->ep, to, tolen, server_name,
                                     resumption_data, resumption_data_len,
                                     mstls_udp_now(), ppeer);
}
