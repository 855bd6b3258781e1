/* Source prefixes: what one network (IPv4 /32 or /24, IPv6 /64, settable)
 * holds of the peer and half-open tables, so that one network cannot fill
 * them. Only cookie-verified sources get an entry: an entry exists while
 * its prefix holds at least one server peer. */
#include <string.h>

#include "udp_int.h"

static void prefix_mask(uint8_t *addr, size_t len, unsigned bits) {
  size_t i;
  for (i = 0; i < len; i++) {
    if (bits >= 8) {
      bits -= 8;
      continue;
    }
    addr[i] &= (uint8_t)(0xff00u >> bits);
    bits = 0;
  }
}

size_t mstls_udp_prefix_key(const mstls_udp_endpoint *ep, const uint8_t *key,
                            uint8_t *out) {
  /* Peer keys are family(1) port(2) address(4 or 16) [scope(4)]; the
   * prefix drops the port and the scope and masks the address. */
  size_t alen = key[0] == 4 ? 4 : 16;
  out[0] = key[0];
  memcpy(out + 1, key + 3, alen);
  prefix_mask(out + 1, alen,
              key[0] == 4 ? ep->settings.prefix_len_v4
                          : ep->settings.prefix_len_v6);
  return 1 + alen;
}

mstls_udp_prefix *mstls_udp_prefix_find(mstls_udp_endpoint *ep,
                                        const uint8_t *pkey, size_t len) {
  return mstls_hash_get(&ep->prefixes, pkey, len);
}

mstls_udp_prefix *mstls_udp_prefix_get(mstls_udp_endpoint *ep,
                                       const uint8_t *pkey, size_t len) {
  mstls_udp_prefix *p = mstls_hash_get(&ep->prefixes, pkey, len);
  if (p) {
    return p;
  }
  p = mstls_mem_calloc(ep->mem, 1, sizeof(*p));
  if (!p) {
    return NULL;
  }
  memcpy(p->key, pkey, len);
  p->keylen = len;
  if (mstls_hash_put(&ep->prefixes, p->key, p->keylen, p) < 0) {
    mstls_mem_free(ep->mem, p);
    return NULL;
  }
  ep->stats.prefixes++;
  return p;
}

void mstls_udp_prefix_release(mstls_udp_endpoint *ep, mstls_udp_prefix *p) {
  if (p->peers || p->half_open) {
    return;
  }
  mstls_hash_remove(&ep->prefixes, p->key, p->keylen);
  ep->stats.prefixes--;
  mstls_mem_free(ep->mem, p);
}

static void prefix_free(void *value, void *ctx) {
  mstls_udp_endpoint *ep = ctx;
  mstls_mem_free(ep->mem, value);
}

void mstls_udp_prefixes_free(mstls_udp_endpoint *ep) {
  if (!ep->prefixes.buckets) {
    return;
  }
  mstls_hash_foreach(&ep->prefixes, prefix_free, ep);
  mstls_hash_free(&ep->prefixes);
}
