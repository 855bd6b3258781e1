/* Client resumption on a DTLS endpoint. A client peer whose handshake
 * completes leaves its session (GnuTLS's session data, with the RFC 5077
 * ticket or the session ID the server gave) in a per-endpoint cache keyed
 * by the server's address and server name; the next connect to that
 * server offers it. With DTLS 1.2 the ticket arrives inside the
 * handshake (NewSessionTicket precedes the server's Finished, RFC 5077
 * §3.3), so the data is complete when the handshake returns: no wait as
 * for TLS 1.3 tickets. The cache is bounded (settings.resumption_cache)
 * and drops the least recently used entry when full. */
#include <string.h>

#include "udp_int.h"

/* Fixed SipHash key for the server-name digest in cache keys: the digest
 * only shortens the key (the entry keeps the whole name and is compared),
 * so it need not be secret. */
#define RC_NAME_K0 0x6d73746c73726331ull
#define RC_NAME_K1 0x7365727665726e6dull

struct mstls_udp_rentry {
  mstls_udp_rentry *prev, *next;
  uint8_t key[MSTLS_HASH_KEY_MAX];
  size_t keylen;
  char *name;          /* server name, NULL when none was given */
  gnutls_datum_t data; /* from gnutls_session_get_data2() */
};

void mstls_udp_rcache_init(mstls_udp_rcache *c, const mstls_mem *mem,
                           uint32_t max) {
  memset(c, 0, sizeof(*c));
  c->mem = mem;
  c->max = max;
}

static void rc_entry_free(mstls_udp_rcache *c, mstls_udp_rentry *e) {
  if (e->data.data) {
    gnutls_memset(e->data.data, 0, e->data.size);
    gnutls_free(e->data.data);
  }
  mstls_mem_free(c->mem, e->name);
  mstls_mem_free(c->mem, e);
}

void mstls_udp_rcache_free(mstls_udp_rcache *c) {
  while (c->head) {
    mstls_udp_rentry *e = c->head;
    c->head = e->next;
    rc_entry_free(c, e);
  }
  c->tail = NULL;
  if (c->table_ready) {
    mstls_hash_free(&c->table);
    c->table_ready = 0;
  }
}

/* The cache key of a client peer's server: its address key, then whether
 * a server name was given and a digest of it. 23 + 1 + 8 bytes at most. */
static size_t rc_key(const mstls_udp_peer *peer, uint8_t *key) {
  uint64_t h;
  memcpy(key, peer->key, peer->keylen);
  if (!peer->server_name) {
    key[peer->keylen] = 0;
    return peer->keylen + 1;
  }
  key[peer->keylen] = 1;
  h = mstls_siphash13(RC_NAME_K0, RC_NAME_K1,
                      (const uint8_t *)peer->server_name,
                      strlen(peer->server_name));
  memcpy(key + peer->keylen + 1, &h, sizeof(h));
  return peer->keylen + 1 + sizeof(h);
}

static int rc_same_name(const char *a, const char *b) {
  if (!a || !b) {
    return a == b;
  }
  return strcmp(a, b) == 0;
}

static void rc_unlink(mstls_udp_rcache *c, mstls_udp_rentry *e) {
  if (e->prev) {
    e->prev->next = e->next;
  } else {
    c->head = e->next;
  }
  if (e->next) {
    e->next->prev = e->prev;
  } else {
    c->tail = e->prev;
  }
  e->prev = e->next = NULL;
}

static void rc_push_front(mstls_udp_rcache *c, mstls_udp_rentry *e) {
  e->prev = NULL;
  e->next = c->head;
  if (c->head) {
    c->head->prev = e;
  }
  c->head = e;
  if (!c->tail) {
    c->tail = e;
  }
}

static void rc_drop(mstls_udp_endpoint *ep, mstls_udp_rentry *e) {
  mstls_udp_rcache *c = &ep->rcache;
  rc_unlink(c, e);
  mstls_hash_remove(&c->table, e->key, e->keylen);
  rc_entry_free(c, e);
  ep->stats.resumption_cached--;
}

/* The entry for the peer's server, or NULL. */
static mstls_udp_rentry *rc_find(mstls_udp_peer *peer) {
  mstls_udp_rcache *c = &peer->ep->rcache;
  uint8_t key[MSTLS_HASH_KEY_MAX];
  size_t keylen;
  mstls_udp_rentry *e;

  if (!c->table_ready) {
    return NULL;
  }
  keylen = rc_key(peer, key);
  e = mstls_hash_get(&c->table, key, keylen);
  return e && rc_same_name(e->name, peer->server_name) ? e : NULL;
}

/* Keep @p data (taken over) for the peer's server. */
static void rc_store(mstls_udp_peer *peer, gnutls_datum_t *data) {
  mstls_udp_endpoint *ep = peer->ep;
  mstls_udp_rcache *c = &ep->rcache;
  mstls_udp_rentry *e;
  uint8_t key[MSTLS_HASH_KEY_MAX];
  size_t keylen = rc_key(peer, key);

  if (!c->table_ready) {
    if (mstls_hash_init(&c->table, c->mem) < 0) {
      goto drop;
    }
    c->table_ready = 1;
  }
  e = mstls_hash_get(&c->table, key, keylen);
  if (e) {
    /* The same server again (or a name whose digest collides): the newer
     * session replaces the older. */
    char *name = NULL;
    if (!rc_same_name(e->name, peer->server_name)) {
      if (peer->server_name &&
          !(name = mstls_mem_strdup(c->mem, peer->server_name))) {
        rc_drop(ep, e);
        goto drop;
      }
      mstls_mem_free(c->mem, e->name);
      e->name = name;
    }
    gnutls_memset(e->data.data, 0, e->data.size);
    gnutls_free(e->data.data);
    e->data = *data;
    rc_unlink(c, e);
    rc_push_front(c, e);
    return;
  }
  if (ep->stats.resumption_cached >= c->max) {
    rc_drop(ep, c->tail);
    ep->stats.resumption_evictions++;
  }
  e = mstls_mem_calloc(c->mem, 1, sizeof(*e));
  if (!e) {
    goto drop;
  }
  memcpy(e->key, key, keylen);
  e->keylen = keylen;
  if (peer->server_name &&
      !(e->name = mstls_mem_strdup(c->mem, peer->server_name))) {
    mstls_mem_free(c->mem, e);
    goto drop;
  }
  if (mstls_hash_put(&c->table, e->key, e->keylen, e) < 0) {
    mstls_mem_free(c->mem, e->name);
    mstls_mem_free(c->mem, e);
    goto drop;
  }
  e->data = *data;
  rc_push_front(c, e);
  ep->stats.resumption_cached++;
  return;
drop:
  /* Without memory the session is simply not kept: the next connect to
   * this server does a full handshake. */
  gnutls_memset(data->data, 0, data->size);
  gnutls_free(data->data);
}

/* Whether a completed client session can be resumed: DTLS 1.2 resumes
 * by the ticket the server sent (RFC 5077) or by the session ID it gave
 * (RFC 5246 §7.4.1.3: an empty one means "will not be cached"). GnuTLS
 * packs the session data either way. */
static int rc_resumable(gnutls_session_t tls) {
  uint8_t id[GNUTLS_MAX_SESSION_ID_SIZE];
  size_t idlen = sizeof(id);
  if (gnutls_session_get_flags(tls) & GNUTLS_SFLAGS_SESSION_TICKET) {
    return 1;
  }
  return gnutls_session_get_id(tls, id, &idlen) == 0 && idlen > 0;
}

int mstls_udp_resume_offer(mstls_udp_peer *peer, const uint8_t *data,
                           size_t len) {
  mstls_udp_rentry *e;
  int rv;

  if (data) {
    gnutls_datum_t d = {(unsigned char *)(uintptr_t)data, (unsigned)len};
    if (len == 0 || len > UINT32_MAX) {
      return MSTLS_E_INVALID_ARGUMENT;
    }
    rv = gnutls_session_set_data(peer->ch.tls, d.data, d.size);
    if (rv < 0) {
      peer->ch.last_gnutls = rv;
      return rv == GNUTLS_E_MEMORY_ERROR ? MSTLS_E_NOMEM
                                         : MSTLS_E_INVALID_ARGUMENT;
    }
    peer->resume_offered = 1;
    return 0;
  }
  e = rc_find(peer);
  if (!e) {
    return 0;
  }
  if (gnutls_session_set_data(peer->ch.tls, e->data.data, e->data.size) < 0) {
    /* GnuTLS cannot use it (any more): a full handshake, and forget it. */
    rc_drop(peer->ep, e);
    return 0;
  }
  rc_unlink(&peer->ep->rcache, e);
  rc_push_front(&peer->ep->rcache, e);
  peer->resume_offered = 1;
  return 0;
}

void mstls_udp_resume_done(mstls_udp_peer *peer) {
  mstls_udp_endpoint *ep = peer->ep;
  gnutls_datum_t d = {NULL, 0};
  int resumed = gnutls_session_is_resumed(peer->ch.tls) != 0;
  mstls_udp_rentry *e;

  peer->was_open = 1;
  if (resumed) {
    ep->stats.handshakes_resumed++;
  }
  if (!(peer->flags & MSTLS_UDP_PEER_CLIENT)) {
    return;
  }
  if (peer->resume_offered && !resumed) {
    /* As in TLS, a server that does not take the offer (another ticket
     * key, a forgotten session ID) answers with a full handshake. */
    ep->stats.resumption_rejected++;
  }
  if (!ep->rcache.max) {
    return;
  }
  if (!rc_resumable(peer->ch.tls) ||
      gnutls_session_get_data2(peer->ch.tls, &d) < 0) {
    /* Nothing to resume from this session (neither ticket nor session
     * ID): an older entry for the server is stale too. */
    if ((e = rc_find(peer)) != NULL) {
      rc_drop(ep, e);
    }
    return;
  }
  rc_store(peer, &d);
}

void mstls_udp_resume_failed(mstls_udp_peer *peer, int reason) {
  mstls_udp_rentry *e;
  /* A server that failed a handshake offered these data: do not offer
   * them again. A server that did not answer in time says nothing about
   * them. */
  if (!peer->resume_offered || reason == MSTLS_E_TIMEOUT) {
    return;
  }
  if ((e = rc_find(peer)) != NULL) {
    rc_drop(peer->ep, e);
  }
}

int mstls_udp_peer_get_resumption_data(mstls_udp_peer *peer, uint8_t *buf,
                                       size_t *plen) {
  gnutls_datum_t d = {NULL, 0};
  int rv = 0;

  if (!peer || !plen || !(peer->flags & MSTLS_UDP_PEER_CLIENT)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (!peer->was_open || !rc_resumable(peer->ch.tls)) {
    return MSTLS_E_INVALID_STATE;
  }
  rv = gnutls_session_get_data2(peer->ch.tls, &d);
  if (rv < 0) {
    return rv == GNUTLS_E_MEMORY_ERROR ? MSTLS_E_NOMEM : MSTLS_E_INVALID_STATE;
  }
  rv = 0;
  if (!buf || *plen < d.size) {
    rv = MSTLS_E_MSG_SIZE;
  } else {
    memcpy(buf, d.data, d.size);
  }
  *plen = d.size;
  gnutls_memset(d.data, 0, d.size);
  gnutls_free(d.data);
  return rv;
}
