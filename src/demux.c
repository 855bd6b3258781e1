#include "demux.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <mstls/mstls.h>

void *mstls_dense_get(const mstls_dense *d, uint16_t key) {
  void **blk = d->blocks[key >> 8];
  return blk ? blk[key & 0xff] : NULL;
}

int mstls_dense_set(mstls_dense *d, const mstls_mem *mem, uint16_t key,
                    void *value) {
  void **blk = d->blocks[key >> 8];
  if (!blk) {
    if (!value) {
      return 0;
    }
    blk = mstls_mem_calloc(mem, 256, sizeof(void *));
    if (!blk) {
      return MSTLS_E_NOMEM;
    }
    d->blocks[key >> 8] = blk;
  }
  blk[key & 0xff] = value;
  return 0;
}

void mstls_dense_free(mstls_dense *d, const mstls_mem *mem) {
  size_t i;
  for (i = 0; i < 256; i++) {
    mstls_mem_free(mem, d->blocks[i]);
    d->blocks[i] = NULL;
  }
}

int mstls_dense_foreach(const mstls_dense *d, int (*fn)(void *value, void *ctx),
                        void *ctx) {
  size_t b, i;
  for (b = 0; b < 256; b++) {
    void **blk = d->blocks[b];
    for (i = 0; blk && i < 256; i++) {
      int rv;
      if (blk[i] && (rv = fn(blk[i], ctx)) != 0) {
        return rv;
      }
    }
  }
  return 0;
}

/* SipHash-1-3. Debian 12's nettle (3.8) has no SipHash, and the table needs
 * a keyed hash: peer addresses are chosen by whoever sends datagrams. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
  do {                                                                         \
    v0 += v1;                                                                  \
    v1 = ROTL(v1, 13);                                                         \
    v1 ^= v0;                                                                  \
    v0 = ROTL(v0, 32);                                                         \
    v2 += v3;                                                                  \
    v3 = ROTL(v3, 16);                                                         \
    v3 ^= v2;                                                                  \
    v0 += v3;                                                                  \
    v3 = ROTL(v3, 21);                                                         \
    v3 ^= v0;                                                                  \
    v2 += v1;                                                                  \
    v1 = ROTL(v1, 17);                                                         \
    v1 ^= v2;                                                                  \
    v2 = ROTL(v2, 32);                                                         \
  } while (0)

static uint64_t load_le64(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; i--) {
    v = (v << 8) | p[i];
  }
  return v;
}

uint64_t mstls_siphash13(uint64_t k0, uint64_t k1, const uint8_t *in,
                         size_t len) {
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
  uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
  uint64_t v3 = 0x7465646279746573ULL ^ k1;
  uint64_t b = ((uint64_t)len) << 56;
  size_t left = len & 7;
  const uint8_t *end = in + len - left;
  uint8_t tail[8] = {0};

  for (; in != end; in += 8) {
    uint64_t m = load_le64(in);
    v3 ^= m;
    SIPROUND;
    v0 ^= m;
  }
  if (left) {
    memcpy(tail, in, left); /* never from NULL: an empty key may be NULL */
  }
  b |= load_le64(tail);
  v3 ^= b;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

int mstls_hash_init(mstls_hash *h, const mstls_mem *mem) {
  uint64_t k[2];
  memset(h, 0, sizeof(*h));
  h->mem = mem;
  if (gnutls_rnd(GNUTLS_RND_NONCE, k, sizeof(k)) < 0) {
    return MSTLS_E_TLS;
  }
  h->k0 = k[0];
  h->k1 = k[1];
  h->nbuckets = 64;
  h->buckets = mstls_mem_calloc(mem, h->nbuckets, sizeof(*h->buckets));
  return h->buckets ? 0 : MSTLS_E_NOMEM;
}

void mstls_hash_free(mstls_hash *h) {
  size_t i;
  if (!h->buckets) {
    return;
  }
  for (i = 0; i < h->nbuckets; i++) {
    mstls_hash_entry *e = h->buckets[i];
    while (e) {
      mstls_hash_entry *next = e->next;
      mstls_mem_free(h->mem, e);
      e = next;
    }
  }
  mstls_mem_free(h->mem, h->buckets);
  h->buckets = NULL;
  h->count = 0;
}

static mstls_hash_entry **hash_find(const mstls_hash *h, const void *key,
                                    size_t keylen, uint64_t hv) {
  mstls_hash_entry **pe = &h->buckets[hv & (h->nbuckets - 1)];
  for (; *pe; pe = &(*pe)->next) {
    if ((*pe)->hash == hv && (*pe)->keylen == keylen &&
        memcmp((*pe)->key, key, keylen) == 0) {
      return pe;
    }
  }
  return pe;
}

void *mstls_hash_get(const mstls_hash *h, const void *key, size_t keylen) {
  uint64_t hv;
  mstls_hash_entry **pe;
  if (keylen > MSTLS_HASH_KEY_MAX) {
    return NULL;
  }
  hv = mstls_siphash13(h->k0, h->k1, key, keylen);
  pe = hash_find(h, key, keylen, hv);
  return *pe ? (*pe)->value : NULL;
}

static void hash_grow(mstls_hash *h) {
  size_t n = h->nbuckets * 2;
  size_t i;
  mstls_hash_entry **nb = mstls_mem_calloc(h->mem, n, sizeof(*nb));
  if (!nb) {
    return; /* keep working with longer chains */
  }
  for (i = 0; i < h->nbuckets; i++) {
    mstls_hash_entry *e = h->buckets[i];
    while (e) {
      mstls_hash_entry *next = e->next;
      e->next = nb[e->hash & (n - 1)];
      nb[e->hash & (n - 1)] = e;
      e = next;
    }
  }
  mstls_mem_free(h->mem, h->buckets);
  h->buckets = nb;
  h->nbuckets = n;
}

int mstls_hash_put(mstls_hash *h, const void *key, size_t keylen, void *value) {
  uint64_t hv;
  mstls_hash_entry **pe;
  mstls_hash_entry *e;
  if (keylen > MSTLS_HASH_KEY_MAX) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  hv = mstls_siphash13(h->k0, h->k1, key, keylen);
  pe = hash_find(h, key, keylen, hv);
  if (*pe) {
    return MSTLS_E_INVALID_STATE;
  }
  e = mstls_mem_malloc(h->mem, sizeof(*e));
  if (!e) {
    return MSTLS_E_NOMEM;
  }
  e->next = NULL;
  e->hash = hv;
  e->keylen = keylen;
  memcpy(e->key, key, keylen);
  e->value = value;
  *pe = e;
  h->count++;
  if (h->count > h->nbuckets) {
    hash_grow(h);
  }
  return 0;
}

void *mstls_hash_replace(mstls_hash *h, const void *key, size_t keylen,
                         void *value) {
  mstls_hash_entry *e;
  void *old;
  if (keylen > MSTLS_HASH_KEY_MAX) {
    return NULL;
  }
  e = *hash_find(h, key, keylen, mstls_siphash13(h->k0, h->k1, key, keylen));
  if (!e) {
    return NULL;
  }
  old = e->value;
  e->value = value;
  return old;
}

void *mstls_hash_remove(mstls_hash *h, const void *key, size_t keylen) {
  uint64_t hv;
  mstls_hash_entry **pe;
  mstls_hash_entry *e;
  void *value;
  if (keylen > MSTLS_HASH_KEY_MAX) {
    return NULL;
  }
  hv = mstls_siphash13(h->k0, h->k1, key, keylen);
  pe = hash_find(h, key, keylen, hv);
  e = *pe;
  if (!e) {
    return NULL;
  }
  *pe = e->next;
  value = e->value;
  mstls_mem_free(h->mem, e);
  h->count--;
  return value;
}

void mstls_hash_foreach(mstls_hash *h, void (*fn)(void *value, void *ctx),
                        void *ctx) {
  size_t i;
  for (i = 0; i < h->nbuckets; i++) {
    mstls_hash_entry *e = h->buckets[i];
    while (e) {
      mstls_hash_entry *next = e->next;
      fn(e->value, ctx);
      e = next;
    }
  }
}
