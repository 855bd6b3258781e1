/* Helpers of the UDP tests: a simulated network between sans-IO endpoints
 * (fake addresses, seeded loss/duplication/reordering), hand-carried
 * datagram queues, credentials, a counting allocator and a real
 * ClientHello. */
#ifndef MSTLS_UDP_HELPERS_H
#define MSTLS_UDP_HELPERS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include <mstls/mstls.h>
#include <mstls/udp.h>

/* Counting allocator: counts calls and live bytes. */
typedef struct udpt_counting_mem {
  mstls_mem mem;
  uint64_t allocs;
  uint64_t frees;
  int64_t live;
} udpt_counting_mem;
void udpt_counting_mem_init(udpt_counting_mem *c);

/* Credentials: a server with a self-signed certificate for "localhost",
 * and a client trusting it. */
mstls_credentials *udpt_server_creds(void);
mstls_credentials *udpt_client_creds(mstls_credentials *server);
/* Write the server's certificate and a matching key as PEM files (for
 * real peers). @return 0 or -1. */
int udpt_write_pem_pair(const char *dir, char *cert_path, char *key_path,
                        size_t pathlen);

/* A simulated network. Each node is an endpoint with an address. */
#define UDPT_MAX_NODES 1024
typedef struct udpt_net udpt_net;

typedef struct udpt_loss {
  uint32_t seed;
  unsigned drop_pct; /* 0..100 */
  unsigned dup_pct;
  unsigned reorder_pct; /* swap with a later datagram */
} udpt_loss;

/* Filter: return 1 to drop a datagram. */
typedef int (*udpt_filter_fn)(int from_node, int to_node, const uint8_t *data,
                              size_t len, void *ctx);

udpt_net *udpt_net_new(const udpt_loss *loss);
void udpt_net_free(udpt_net *n);
/* IPv4 address 10.x.y.z:port derived from @p index, or IPv6 for v6 (each
 * IPv6 node in a /64 of its own). */
void udpt_addr(struct sockaddr_storage *ss, socklen_t *len, uint32_t index,
               int v6);
/* Create an endpoint bound to @p index's address on the network. */
mstls_udp_endpoint *udpt_net_add(udpt_net *n, uint32_t index, int v6,
                                 const mstls_udp_settings *s,
                                 const mstls_udp_callbacks *cb,
                                 mstls_credentials *cred, void *user_data);
int udpt_net_node_of(udpt_net *n, mstls_udp_endpoint *ep);
/* Replace a node's endpoint by a new one at the same address (a process
 * restart): the old one is freed without sending anything. */
mstls_udp_endpoint *udpt_net_renew(udpt_net *n, mstls_udp_endpoint *old,
                                   const mstls_udp_settings *s,
                                   const mstls_udp_callbacks *cb,
                                   mstls_credentials *cred, void *user_data);
void udpt_net_set_filter(udpt_net *n, udpt_filter_fn fn, void *ctx);
/* Clock: fake unless udpt_net_use_real_clock(). */
mstls_tstamp udpt_net_now(udpt_net *n);
void udpt_net_advance(udpt_net *n, mstls_tstamp dt);
void udpt_net_use_real_clock(udpt_net *n);
/* Deliver queued datagrams (up to @p max); then run due timers.
 * @return datagrams delivered. */
size_t udpt_net_step(udpt_net *n, size_t max);
/* Run until @p done(ctx) or nothing is in flight and no timer is due within
 * @p max_wait (fake clock: time jumps to the next deadline), at most
 * @p max_rounds rounds. @return 1 if done() became true. */
int udpt_net_run(udpt_net *n, int (*done)(void *ctx), void *ctx,
                 size_t max_rounds);
size_t udpt_net_in_flight(udpt_net *n);
uint64_t udpt_net_sent(udpt_net *n);
uint64_t udpt_net_dropped(udpt_net *n);

/* A hand-carried link: an endpoint whose user_data is a udpt_queue keeps
 * every datagram it sends there, in order, until the test feeds them on
 * with udpt_queue_carry(); the queue counts completed handshakes too. */
#define UDPT_QUEUE_MAX 64
typedef struct udpt_queue {
  uint8_t data[UDPT_QUEUE_MAX][2048];
  size_t len[UDPT_QUEUE_MAX];
  size_t n;
  int done; /* handshakes completed */
} udpt_queue;

/* Handshake-done callback counting into the udpt_queue at @p ud. */
void udpt_queue_done(mstls_udp_endpoint *ep, uint32_t flags,
                     mstls_udp_peer *peer, void *ud);
/* A sans-IO endpoint sending into @p q: a server (@p server), or a client
 * that does not verify the server (MSTLS_UDP_INSECURE). */
mstls_udp_endpoint *udpt_queue_endpoint(int server, mstls_credentials *cred,
                                        udpt_queue *q);
/* Feed what @p from queued to @p to, from address @p src at @p now, and
 * empty @p from. */
void udpt_queue_carry(udpt_queue *from, mstls_udp_endpoint *to,
                      const struct sockaddr_in *src, mstls_tstamp now);

/* A real DTLS 1.2 ClientHello from GnuTLS (first flight, no cookie). */
size_t udpt_client_hello(uint8_t *buf, size_t cap);
/* The cookie-less ClientHello @p ch with @p cookie inserted, every length
 * fixed. @p out needs chlen + clen bytes. @return the new length. */
size_t udpt_with_cookie(const uint8_t *ch, size_t chlen, const uint8_t *cookie,
                        size_t clen, uint8_t *out);

#endif
