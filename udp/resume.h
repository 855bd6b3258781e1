/* Client resumption on a DTLS endpoint: the per-server cache of session
 * data (LRU, settings.resumption_cache entries) and the hooks a client
 * peer calls when it starts, completes or fails its handshake. */
#ifndef MSTLS_UDP_RESUME_H
#define MSTLS_UDP_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include <mstls/udp.h>

#include "demux.h"
#include "mem.h"

typedef struct mstls_udp_rentry mstls_udp_rentry;

typedef struct mstls_udp_rcache {
  const mstls_mem *mem;
  uint32_t max;     /* 0: off */
  mstls_hash table; /* server key -> entry; set up on first store */
  int table_ready;
  mstls_udp_rentry *head, *tail; /* most recently used first */
} mstls_udp_rcache;

void mstls_udp_rcache_init(mstls_udp_rcache *c, const mstls_mem *mem,
                           uint32_t max);
/** Forget every entry (their secrets are wiped). */
void mstls_udp_rcache_free(mstls_udp_rcache *c);

/** Client peer being created: offer @p data (the application's, checked:
 *  MSTLS_E_INVALID_ARGUMENT when GnuTLS cannot read it) or, without it,
 *  what the cache holds for the server. @return 0 or the error. */
int mstls_udp_resume_offer(mstls_udp_peer *peer, const uint8_t *data,
                           size_t len);
/** The peer's handshake completed: count, and keep a client's session. */
void mstls_udp_resume_done(mstls_udp_peer *peer);
/** A client peer's handshake failed with @p reason after an offer: the
 *  offer is not made again (unless the server merely did not answer). */
void mstls_udp_resume_failed(mstls_udp_peer *peer, int reason);

#endif
