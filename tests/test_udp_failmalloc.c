/* failmalloc over the UDP endpoint: a server endpoint and a client
 * endpoint, both on the failing allocator (mstls_udp_settings.mem), go
 * through create, cookie exchange, handshake, data both ways,
 * close_notify and a second handshake that resumes from the client's
 * cache, with every allocation failed in turn. Each run must end in
 * success or a clean MSTLS_E_* error (a failed peer, a refused connect, a
 * timed-out handshake), never a crash, and free everything. GnuTLS's own
 * allocations do not go through the hooks; LeakSanitizer covers them.
 *
 * Deterministic: the two endpoints exchange datagrams through an
 * in-memory queue, the clock is simulated and jumps to the next timer. */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "failmem.h"
#include "udp_helpers.h"

#define Q_MAX 256

typedef struct fm_dgram {
  int to;
  size_t len;
  uint8_t data[2048];
} fm_dgram;

typedef struct fm_net {
  mstls_udp_endpoint *ep[2]; /* 0: server, 1: client */
  struct sockaddr_in addr[2];
  fm_dgram q[Q_MAX];
  size_t head, n;
  mstls_tstamp now;
  /* progress */
  int hs_done[2];
  int closed[2];
  int close_reason[2];
  int got_ping; /* server */
  int got_pong; /* client */
  mstls_udp_peer *cpeer;
} fm_net;

static int fm_node(fm_net *net, mstls_udp_endpoint *ep) {
  return net->ep[1] == ep ? 1 : 0;
}

static int fm_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                   socklen_t tolen, const uint8_t *data, size_t len, void *ud) {
  fm_net *net = ud;
  fm_dgram *d;
  (void)to;
  (void)tolen;
  if (net->n == Q_MAX || len > sizeof(d->data)) {
    return -1; /* lost */
  }
  d = &net->q[(net->head + net->n) % Q_MAX];
  d->to = 1 - fm_node(net, ep);
  d->len = len;
  memcpy(d->data, data, len);
  net->n++;
  return 0;
}

static void fm_hs_done(mstls_udp_endpoint *ep, uint32_t flags,
                       mstls_udp_peer *peer, void *ud) {
  fm_net *net = ud;
  (void)flags;
  (void)peer;
  net->hs_done[fm_node(net, ep)] = 1;
}

static void fm_recv(mstls_udp_endpoint *ep, uint32_t flags,
                    mstls_udp_peer *peer, const uint8_t *data, size_t len,
                    void *ud) {
  fm_net *net = ud;
  (void)flags;
  if (fm_node(net, ep) == 0) {
    if (len == 4 && memcmp(data, "ping", 4) == 0) {
      net->got_ping = 1;
      (void)mstls_udp_peer_send(peer, "pong", 4); /* may fail: no memory */
    }
  } else if (len == 4 && memcmp(data, "pong", 4) == 0) {
    net->got_pong = 1;
  }
}

static void fm_closed(mstls_udp_endpoint *ep, uint32_t flags,
                      mstls_udp_peer *peer, int reason, void *ud) {
  fm_net *net = ud;
  int k = fm_node(net, ep);
  (void)flags;
  net->closed[k] = 1;
  net->close_reason[k] = reason;
  if (k == 1 && peer == net->cpeer) {
    net->cpeer = NULL;
  }
}

/* Deliver datagrams and run timers until @p done or nothing is left. */
static void fm_run(fm_net *net, int (*done)(fm_net *)) {
  int rounds;
  for (rounds = 0; rounds < 10000 && !done(net); rounds++) {
    if (net->n) {
      fm_dgram *d = &net->q[net->head];
      net->head = (net->head + 1) % Q_MAX;
      net->n--;
      (void)mstls_udp_endpoint_feed(
          net->ep[d->to], (const struct sockaddr *)&net->addr[1 - d->to],
          sizeof(net->addr[0]), d->data, d->len, net->now);
    } else {
      mstls_tstamp e0 = mstls_udp_endpoint_get_expiry(net->ep[0]);
      mstls_tstamp e1 = mstls_udp_endpoint_get_expiry(net->ep[1]);
      mstls_tstamp next = e0 < e1 ? e0 : e1;
      if (next == MSTLS_TSTAMP_NEVER) {
        return;
      }
      if (next > net->now) {
        net->now = next;
      }
      (void)mstls_udp_endpoint_handle_expiry(net->ep[0], net->now);
      (void)mstls_udp_endpoint_handle_expiry(net->ep[1], net->now);
    }
  }
}

static int fm_hs_over(fm_net *net) {
  return (net->hs_done[1] && net->hs_done[0]) || net->closed[1];
}

static int fm_pong_over(fm_net *net) {
  return net->got_pong || net->closed[1] || net->closed[0];
}

static int fm_close_over(fm_net *net) {
  return net->closed[0];
}

static mstls_credentials *g_scred, *g_ccred;

static long udp_scenario(const mstls_mem *mem, void *ctx) {
  static fm_net net;
  mstls_udp_settings st;
  mstls_udp_callbacks cb;
  mstls_udp_stats stats;
  long rv;
  int i;
  (void)ctx;

  memset(&net, 0, sizeof(net));
  for (i = 0; i < 2; i++) {
    net.addr[i].sin_family = AF_INET;
    net.addr[i].sin_port = htons((uint16_t)(4433 + i));
    net.addr[i].sin_addr.s_addr = htonl(0x0a000001u + (uint32_t)i);
  }
  net.now = 1000 * MSTLS_SECONDS;
  memset(&cb, 0, sizeof(cb));
  cb.send = fm_send;
  cb.handshake_done = fm_hs_done;
  cb.recv_data = fm_recv;
  cb.closed = fm_closed;
  mstls_udp_settings_default(&st);
  st.mem = mem;
  rv = mstls_udp_endpoint_new(&net.ep[0], &st, &cb, g_scred, &net);
  if (rv < 0) {
    return rv;
  }
  st.flags = 0; /* client: accepts no peers */
  rv = mstls_udp_endpoint_new(&net.ep[1], &st, &cb, g_ccred, &net);
  if (rv < 0) {
    goto out;
  }
  rv = mstls_udp_endpoint_connect(
      net.ep[1], (const struct sockaddr *)&net.addr[0], sizeof(net.addr[0]),
      "localhost", net.now, &net.cpeer);
  if (rv < 0) {
    goto out;
  }
  /* Handshake (a server peer that cannot be created leaves the client to
   * retransmit and finally time out). */
  fm_run(&net, fm_hs_over);
  if (!net.hs_done[1]) {
    rv = net.close_reason[1] ? net.close_reason[1] : MSTLS_E_TIMEOUT;
    goto out;
  }
  /* Data both ways. */
  rv = mstls_udp_peer_send(net.cpeer, "ping", 4);
  if (rv < 0) {
    goto out;
  }
  fm_run(&net, fm_pong_over);
  if (!net.got_pong) {
    rv = net.closed[1]   ? net.close_reason[1]
         : net.closed[0] ? net.close_reason[0]
                         : MSTLS_E_TIMEOUT; /* the pong could not be sent */
    if (rv == 0) {
      rv = MSTLS_E_CLOSED;
    }
    goto out;
  }
  /* close_notify: the server learns of it (reason 0). */
  rv = mstls_udp_peer_close(net.cpeer);
  if (rv < 0) {
    goto out;
  }
  fm_run(&net, fm_close_over);
  rv = net.closed[0] && net.close_reason[0] == 0 ? 0 : MSTLS_E_TIMEOUT;
  if (mstls_udp_endpoint_get_stats(net.ep[0], &stats) == 0 &&
      stats.handshakes_done != 1) {
    rv = MSTLS_E_HANDSHAKE;
  }
  if (rv < 0) {
    goto out;
  }
  /* Again: the client offers the session its cache kept and the server
   * resumes it. Without memory for the cache entry the second handshake
   * is a full one (reported as MSTLS_E_HANDSHAKE here, a clean result). */
  memset(net.hs_done, 0, sizeof(net.hs_done));
  memset(net.closed, 0, sizeof(net.closed));
  rv = mstls_udp_endpoint_connect(
      net.ep[1], (const struct sockaddr *)&net.addr[0], sizeof(net.addr[0]),
      "localhost", net.now, &net.cpeer);
  if (rv < 0) {
    goto out;
  }
  fm_run(&net, fm_hs_over);
  if (!net.hs_done[1]) {
    rv = net.close_reason[1] ? net.close_reason[1] : MSTLS_E_TIMEOUT;
    goto out;
  }
  rv = mstls_udp_endpoint_get_stats(net.ep[1], &stats) == 0 &&
               stats.handshakes_resumed == 1
           ? 0
           : MSTLS_E_HANDSHAKE;
out:
  mstls_udp_endpoint_del(net.ep[0]);
  mstls_udp_endpoint_del(net.ep[1]);
  return rv;
}

static void t_udp_failmalloc(void **state) {
  long total;
  (void)state;
  g_scred = udpt_server_creds();
  g_ccred = udpt_client_creds(g_scred);
  assert_non_null(g_scred);
  assert_non_null(g_ccred);
  total = failmem_run("udp endpoint", udp_scenario, NULL);
  assert_true(total > 5);
  mstls_credentials_del(g_scred);
  mstls_credentials_del(g_ccred);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(t_udp_failmalloc)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
