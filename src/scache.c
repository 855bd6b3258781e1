/* A bounded session cache for TLS 1.2 session-ID resumption (RFC 5246
 * §7.4.1.2): GnuTLS's db callbacks over a hash table, the oldest entry
 * evicted when full. GnuTLS checks each entry's age against the lifetime
 * set on the session, so the cache itself reads no clock. */
#include "scache.h"

#include <string.h>

#include "mem.h"

struct mstls_scache_entry {
  uint8_t key[MSTLS_HASH_KEY_MAX];
  size_t keylen;
  uint8_t *data;
  size_t size;
  uint32_t slot; /* index in the ring */
};

void mstls_scache_init(mstls_scache *c, const mstls_mem *mem) {
  memset(c, 0, sizeof(*c));
  c->mem = mem;
  pthread_mutex_init(&c->lock, NULL);
  c->max_entries = 1024;
  c->lifetime = 3600;
}

static void scache_entry_free(mstls_scache *c, mstls_scache_entry *e) {
  mstls_mem_free(c->mem, e->data);
  mstls_mem_free(c->mem, e);
}

/* Drop every entry and the storage (lock held or not shared yet). */
static void scache_clear(mstls_scache *c) {
  uint32_t i;
  if (c->ring) {
    for (i = 0; i < c->max_entries; i++) {
      if (c->ring[i]) {
        scache_entry_free(c, c->ring[i]);
      }
    }
    mstls_mem_free(c->mem, c->ring);
    c->ring = NULL;
  }
  if (c->table.buckets) {
    mstls_hash_free(&c->table);
  }
  c->head = 0;
  c->count = 0;
  c->stats.entries = 0;
}

void mstls_scache_free(mstls_scache *c) {
  scache_clear(c);
  pthread_mutex_destroy(&c->lock);
}

int mstls_scache_configure(mstls_scache *c, uint32_t max_entries,
                           uint32_t lifetime) {
  pthread_mutex_lock(&c->lock);
  scache_clear(c);
  c->max_entries = max_entries;
  c->lifetime = lifetime;
  pthread_mutex_unlock(&c->lock);
  return 0;
}

/* Storage is allocated on the first store, so credentials that never
 * serve TLS 1.2 pay nothing. Lock held. */
static int scache_ready(mstls_scache *c) {
  if (c->ring) {
    return 0;
  }
  c->ring = mstls_mem_calloc(c->mem, c->max_entries, sizeof(*c->ring));
  if (!c->ring) {
    return -1;
  }
  if (mstls_hash_init(&c->table, c->mem) < 0) {
    mstls_mem_free(c->mem, c->ring);
    c->ring = NULL;
    return -1;
  }
  return 0;
}

static void scache_unlink(mstls_scache *c, mstls_scache_entry *e) {
  mstls_hash_remove(&c->table, e->key, e->keylen);
  c->ring[e->slot] = NULL;
  c->stats.entries--;
  scache_entry_free(c, e);
}

static int scache_store(void *ptr, gnutls_datum_t key, gnutls_datum_t data) {
  mstls_scache *c = ptr;
  mstls_scache_entry *e;
  uint32_t slot;
  int rv = -1;

  if (key.size == 0 || key.size > MSTLS_HASH_KEY_MAX) {
    return -1;
  }
  pthread_mutex_lock(&c->lock);
  if (scache_ready(c) < 0) {
    goto out;
  }
  e = mstls_hash_get(&c->table, key.data, key.size);
  if (e) {
    scache_unlink(c, e);
  }
  /* The ring is in insertion order: the slot at head is the oldest. */
  slot = (c->head + c->count) % c->max_entries;
  if (c->count == c->max_entries) {
    slot = c->head;
    c->head = (c->head + 1) % c->max_entries;
    c->count--;
    if (c->ring[slot]) {
      scache_unlink(c, c->ring[slot]);
      c->stats.evicted++;
    }
  }
  e = mstls_mem_calloc(c->mem, 1, sizeof(*e));
  if (!e) {
    goto out;
  }
  e->data = mstls_mem_malloc(c->mem, data.size);
  if (!e->data) {
    mstls_mem_free(c->mem, e);
    goto out;
  }
  memcpy(e->key, key.data, key.size);
  e->keylen = key.size;
  memcpy(e->data, data.data, data.size);
  e->size = data.size;
  e->slot = slot;
  if (mstls_hash_put(&c->table, e->key, e->keylen, e) < 0) {
    scache_entry_free(c, e);
    goto out;
  }
  c->ring[slot] = e;
  c->count++;
  c->stats.entries++;
  c->stats.stored++;
  rv = 0;
out:
  pthread_mutex_unlock(&c->lock);
  return rv;
}

static gnutls_datum_t scache_retrieve(void *ptr, gnutls_datum_t key) {
  mstls_scache *c = ptr;
  gnutls_datum_t out = {NULL, 0};
  mstls_scache_entry *e = NULL;

  pthread_mutex_lock(&c->lock);
  if (c->ring && key.size <= MSTLS_HASH_KEY_MAX) {
    e = mstls_hash_get(&c->table, key.data, key.size);
  }
  if (e) {
    /* GnuTLS frees what it is given with gnutls_free(). */
    out.data = gnutls_malloc(e->size);
    if (out.data) {
      memcpy(out.data, e->data, e->size);
      out.size = (unsigned)e->size;
    }
    c->stats.hits++;
  } else {
    c->stats.misses++;
  }
  pthread_mutex_unlock(&c->lock);
  return out;
}

static int scache_remove(void *ptr, gnutls_datum_t key) {
  mstls_scache *c = ptr;
  mstls_scache_entry *e = NULL;
  pthread_mutex_lock(&c->lock);
  if (c->ring && key.size <= MSTLS_HASH_KEY_MAX) {
    e = mstls_hash_get(&c->table, key.data, key.size);
  }
  if (e) {
    scache_unlink(c, e);
  }
  pthread_mutex_unlock(&c->lock);
  return e ? 0 : -1;
}

void mstls_scache_attach(mstls_scache *c, gnutls_session_t tls) {
  if (!c->max_entries) {
    return;
  }
  gnutls_db_set_ptr(tls, c);
  gnutls_db_set_store_function(tls, scache_store);
  gnutls_db_set_retrieve_function(tls, scache_retrieve);
  gnutls_db_set_remove_function(tls, scache_remove);
  gnutls_db_set_cache_expiration(tls, (int)c->lifetime);
}

void mstls_scache_get_stats(mstls_scache *c, mstls_session_cache_stats *st) {
  pthread_mutex_lock(&c->lock);
  *st = c->stats;
  pthread_mutex_unlock(&c->lock);
}
