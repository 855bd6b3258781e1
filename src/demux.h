/* Key -> channel owner tables shared by both transports: a dense two-level
 * table for 16-bit SCTP stream ids (a block of 256 slots is allocated on
 * first use, so 65535 streams cost nothing until used) and a keyed hash
 * table for UDP peer addresses (SipHash-1-3 with a random key so that a
 * sender cannot choose colliding addresses). */
#ifndef MSTLS_DEMUX_H
#define MSTLS_DEMUX_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

typedef struct mstls_dense {
  void **blocks[256];
} mstls_dense;

void *mstls_dense_get(const mstls_dense *d, uint16_t key);
/** @return 0 or MSTLS_E_NOMEM. */
int mstls_dense_set(mstls_dense *d, const mstls_mem *mem, uint16_t key,
                    void *value);
void mstls_dense_free(mstls_dense *d, const mstls_mem *mem);
/** Call @p fn for every non-NULL value in key order until it returns
 *  non-zero; @return that value, or 0. @p fn may change the value it was
 *  given but must not add keys. */
int mstls_dense_foreach(const mstls_dense *d, int (*fn)(void *value, void *ctx),
                        void *ctx);

#define MSTLS_HASH_KEY_MAX 32

typedef struct mstls_hash_entry {
  struct mstls_hash_entry *next;
  uint64_t hash;
  size_t keylen;
  uint8_t key[MSTLS_HASH_KEY_MAX];
  void *value;
} mstls_hash_entry;

typedef struct mstls_hash {
  const mstls_mem *mem;
  mstls_hash_entry **buckets;
  size_t nbuckets; /* power of two */
  size_t count;
  uint64_t k0, k1;
} mstls_hash;

/** @return 0, MSTLS_E_NOMEM, MSTLS_E_TLS (no randomness). */
int mstls_hash_init(mstls_hash *h, const mstls_mem *mem);
void mstls_hash_free(mstls_hash *h);
void *mstls_hash_get(const mstls_hash *h, const void *key, size_t keylen);
/** @return 0, MSTLS_E_INVALID_ARGUMENT (key too long), MSTLS_E_INVALID_STATE
 *  (key present), MSTLS_E_NOMEM. */
int mstls_hash_put(mstls_hash *h, const void *key, size_t keylen, void *value);
/** Give an existing key a new value without allocating.
 *  @return the old value, or NULL when the key is absent (nothing set). */
void *mstls_hash_replace(mstls_hash *h, const void *key, size_t keylen,
                         void *value);
/** @return the removed value, or NULL. */
void *mstls_hash_remove(mstls_hash *h, const void *key, size_t keylen);
/** Call @p fn for every value; @p fn may remove the entry it was given. */
void mstls_hash_foreach(mstls_hash *h, void (*fn)(void *value, void *ctx),
                        void *ctx);

uint64_t mstls_siphash13(uint64_t k0, uint64_t k1, const uint8_t *in,
                         size_t len);

#endif
