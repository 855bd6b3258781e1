/* Server-side session cache for TLS 1.2 session-ID resumption, shared by
 * every session that uses one credentials object. */
#ifndef MSTLS_SCACHE_H
#define MSTLS_SCACHE_H

#include <pthread.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include <mstls/mstls.h>

#include "demux.h"

typedef struct mstls_scache_entry mstls_scache_entry;

typedef struct mstls_scache {
  const mstls_mem *mem;
  pthread_mutex_t lock;
  uint32_t max_entries;      /* 0: off */
  uint32_t lifetime;         /* seconds, enforced by GnuTLS on retrieval */
  mstls_hash table;          /* session id -> entry; allocated on first store */
  mstls_scache_entry **ring; /* insertion order, for eviction */
  uint32_t head, count;
  mstls_session_cache_stats stats;
} mstls_scache;

void mstls_scache_init(mstls_scache *c, const mstls_mem *mem);
void mstls_scache_free(mstls_scache *c);
/** @return 0, MSTLS_E_NOMEM. Drops every entry. */
int mstls_scache_configure(mstls_scache *c, uint32_t max_entries,
                           uint32_t lifetime);
/** Make a server session store and look up sessions here (no-op when the
 *  cache is off). */
void mstls_scache_attach(mstls_scache *c, gnutls_session_t tls);
void mstls_scache_get_stats(mstls_scache *c, mstls_session_cache_stats *st);

#endif
