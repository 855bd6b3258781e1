/* The DTLS-over-UDP endpoint: settings, the datagram entry point (classify,
 * route by address, stateless cookie exchange for unknown addresses), the
 * merged timers and the counters. */
#include <netinet/in.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "udp_int.h"

#include "creds.h"
#include "fleet.h"
#include "log.h"

#define EP_DEFAULT_PRIORITY "NORMAL:-VERS-ALL:+VERS-DTLS1.2"
/* Appended to every priority string, the caller's too: DTLS 1.0 (RFC 4347)
 * and the pre-standard DTLS 0.9 lack the replay and downgrade protections
 * that RFC 6347 and RFC 9147 rely on. */
#define EP_MIN_VERSION ":-VERS-DTLS1.0:-VERS-DTLS0.9"

/* Build the endpoint's priority: @p base with the versions below DTLS 1.2
 * removed. Returns MSTLS_E_TLS when GnuTLS rejects the string or nothing
 * of DTLS 1.2 or later is left, MSTLS_E_NOMEM. */
static int ep_priority(mstls_udp_endpoint *ep, const char *base,
                       const char *extra) {
  size_t n = strlen(base) + strlen(extra) + sizeof(EP_MIN_VERSION);
  const unsigned *vers = NULL;
  int i, nvers, usable = 0;

  ep->priority_str = mstls_mem_malloc(ep->mem, n);
  if (!ep->priority_str) {
    return MSTLS_E_NOMEM;
  }
  memcpy(ep->priority_str, base, strlen(base));
  memcpy(ep->priority_str + strlen(base), extra, strlen(extra));
  memcpy(ep->priority_str + strlen(base) + strlen(extra), EP_MIN_VERSION,
         sizeof(EP_MIN_VERSION));
  if (gnutls_priority_init(&ep->priority, ep->priority_str, NULL) < 0) {
    ep->priority = NULL;
    return MSTLS_E_TLS;
  }
  nvers = gnutls_priority_protocol_list(ep->priority, &vers);
  for (i = 0; i < nvers; i++) {
    usable |= vers[i] >= GNUTLS_DTLS1_2 && vers[i] < GNUTLS_VERSION_UNKNOWN;
  }
  return usable ? 0 : MSTLS_E_TLS;
}

void mstls_udp_settings_default(mstls_udp_settings *s) {
  memset(s, 0, sizeof(*s));
  s->flags = MSTLS_UDP_ACCEPT;
  s->priority = NULL;
  s->mtu = 1200;
  s->max_datagram = MSTLS_UDP_RECORD_MAX;
  s->max_peers = 10000;
  s->max_half_open = 1000;
  s->rate_limit = 100;
  s->max_peers_per_prefix = 0;
  s->max_half_open_per_prefix = 0;
  s->prefix_len_v4 = 32;
  s->prefix_len_v6 = 64;
  s->hvr_rate_limit = 1000000;
  s->handshake_timeout = 20 * MSTLS_SECONDS;
  s->idle_timeout = 180 * MSTLS_SECONDS;
  s->cookie_period = 30 * MSTLS_SECONDS;
  s->retrans_timeout_ms = 1000;
  s->mem = NULL;
  s->resumption_cache = 1000;
}

const char *mstls_udp_drop_reason_str(mstls_udp_drop_reason r) {
  switch (r) {
  case MSTLS_UDP_DROP_TRUNCATED:
    return "truncated";
  case MSTLS_UDP_DROP_MALFORMED:
    return "malformed";
  case MSTLS_UDP_DROP_FRAGMENTED:
    return "fragmented ClientHello";
  case MSTLS_UDP_DROP_NOT_CLIENT_HELLO:
    return "not a ClientHello";
  case MSTLS_UDP_DROP_BAD_EPOCH:
    return "bad epoch";
  case MSTLS_UDP_DROP_OVERSIZED:
    return "oversized";
  case MSTLS_UDP_DROP_NON_DTLS:
    return "not DTLS";
  case MSTLS_UDP_DROP_RATE_LIMITED:
    return "rate limited";
  case MSTLS_UDP_DROP_PEER_LIMIT:
    return "peer limit";
  case MSTLS_UDP_DROP_HALF_OPEN_LIMIT:
    return "half-open limit";
  case MSTLS_UDP_DROP_AMPLIFICATION:
    return "amplification";
  case MSTLS_UDP_DROP_UNKNOWN_PEER:
    return "unknown peer";
  case MSTLS_UDP_DROP_NOMEM:
    return "out of memory";
  case MSTLS_UDP_DROP_PEER_RECORD:
    return "bad record";
  case MSTLS_UDP_DROP_PREFIX_LIMIT:
    return "prefix share";
  case MSTLS_UDP_DROP_HVR_LIMIT:
    return "HelloVerifyRequest budget";
  case MSTLS_UDP_DROP_REPLAY:
    return "replayed ClientHello";
  case MSTLS_UDP_DROP_COUNT:
  default:
    return "unknown";
  }
}

size_t mstls_udp_addr_key(const struct sockaddr *sa, socklen_t len,
                          uint8_t *key) {
  if (sa->sa_family == AF_INET &&
      len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    key[0] = 4;
    memcpy(key + 1, &in->sin_port, 2);
    memcpy(key + 3, &in->sin_addr, 4);
    return 7;
  }
  if (sa->sa_family == AF_INET6 &&
      len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    key[0] = 6;
    memcpy(key + 1, &in6->sin6_port, 2);
    memcpy(key + 3, &in6->sin6_addr, 16);
    memcpy(key + 19, &in6->sin6_scope_id, 4);
    return 23;
  }
  return 0;
}

void mstls_udp_enter(mstls_udp_endpoint *ep) {
  ep->depth++;
}

void mstls_udp_leave(mstls_udp_endpoint *ep) {
  if (--ep->depth > 0) {
    return;
  }
  while (ep->dead) {
    mstls_udp_peer *p = ep->dead;
    ep->dead = p->next_dead;
    mstls_udp_peer_free(p);
  }
}

void mstls_udp_drop(mstls_udp_endpoint *ep, int reason) {
  ep->stats.dropped[reason]++;
  ep->stats.dropped_total++;
  /* A summary, not a line per datagram: at the 1st, 2nd, 4th, ... drop of
   * each reason, so that a flood cannot flood the log. */
  if (mstls_log_on(MSTLS_LOG_INFO) &&
      mstls_log_count_due(ep->stats.dropped[reason])) {
    mstls_log(MSTLS_LOG_INFO, "udp endpoint %p: %llu datagram(s) dropped: %s",
              (void *)ep, (unsigned long long)ep->stats.dropped[reason],
              mstls_udp_drop_reason_str(reason));
  }
}

void mstls_udp_transmit(mstls_udp_endpoint *ep, const struct sockaddr *to,
                        socklen_t tolen, const uint8_t *data, size_t len) {
  if (ep->cb.send(ep, to, tolen, data, len, ep->user_data) < 0) {
    ep->stats.send_failures++;
    return;
  }
  ep->stats.datagrams_out++;
}

/* A prefix's share of a table: explicit, or an eighth of the table. */
static uint32_t ep_share(uint32_t explicit_share, uint32_t table) {
  if (explicit_share) {
    return explicit_share;
  }
  return table / 8 ? table / 8 : 1;
}

int mstls_udp_endpoint_new(mstls_udp_endpoint **pep,
                           const mstls_udp_settings *settings,
                           const mstls_udp_callbacks *callbacks,
                           mstls_credentials *cred, void *user_data) {
  mstls_udp_endpoint *ep;
  const mstls_mem *mem;
  uint64_t k[2];
  int rv;

  if (!pep) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  *pep = NULL;
  if (!settings || !callbacks || !callbacks->send || !cred ||
      settings->mtu < 256 || settings->mtu > 65535 ||
      !settings->cookie_period || !settings->max_datagram ||
      settings->prefix_len_v4 < 1 || settings->prefix_len_v4 > 32 ||
      settings->prefix_len_v6 < 1 || settings->prefix_len_v6 > 128) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  mem = settings->mem ? settings->mem : mstls_mem_default();
  ep = mstls_mem_calloc(mem, 1, sizeof(*ep));
  if (!ep) {
    return MSTLS_E_NOMEM;
  }
  ep->settings = *settings;
  ep->settings.priority = NULL;
  memset(&ep->settings.tls, 0, sizeof(ep->settings.tls));
  ep->cb = *callbacks;
  ep->user_data = user_data;
  ep->mem = mem;
  ep->cred = mstls_credentials_ref(cred);
  mstls_udp_rcache_init(&ep->rcache, mem, settings->resumption_cache);
  rv = MSTLS_E_NOMEM;
  ep->rate = mstls_mem_calloc(mem, MSTLS_UDP_RATE_SLOTS, sizeof(*ep->rate));
  ep->rxbuf = mstls_mem_malloc(mem, MSTLS_UDP_RECORD_MAX);
  ep->txbuf = mstls_mem_malloc(mem, MSTLS_UDP_RECORD_MAX);
  if (!ep->rate || !ep->rxbuf || !ep->txbuf) {
    goto fail;
  }
  if ((rv = mstls_hash_init(&ep->peers, mem)) < 0 ||
      (rv = mstls_hash_init(&ep->prefixes, mem)) < 0) {
    goto fail;
  }
  ep->peers_per_prefix =
      ep_share(settings->max_peers_per_prefix, settings->max_peers);
  ep->half_open_per_prefix =
      ep_share(settings->max_half_open_per_prefix, settings->max_half_open);
  if ((rv = mstls_udp_heap_reserve(ep)) < 0) {
    goto fail;
  }
  if ((rv = ep_priority(
           ep, settings->priority ? settings->priority : EP_DEFAULT_PRIORITY,
           mstls_tlsopt_priority_extra(cred->npsk > 0,
                                       settings->tls.raw_public_keys))) < 0) {
    goto fail;
  }
  if ((rv = mstls_tlsopt_init(&ep->tlsopt, mem, &settings->tls, 1)) < 0) {
    goto fail;
  }
  rv = MSTLS_E_TLS;
  if (mstls_udp_cookies_init(&ep->cookies, settings->cookie_period) < 0 ||
      gnutls_rnd(GNUTLS_RND_NONCE, k, sizeof(k)) < 0) {
    goto fail;
  }
  ep->rate_k0 = k[0];
  ep->rate_k1 = k[1];
  *pep = ep;
  return 0;
fail:
  mstls_udp_endpoint_del(ep);
  return rv;
}

static void ep_free_peer(void *value, void *ctx) {
  mstls_udp_peer *p = value;
  (void)ctx;
  if (p->successor) {
    mstls_udp_peer_free(p->successor);
  }
  mstls_udp_peer_free(p);
}

void mstls_udp_endpoint_del(mstls_udp_endpoint *ep) {
  const mstls_mem *mem;
  if (!ep) {
    return;
  }
  mem = ep->mem;
  if (ep->peers.buckets) {
    mstls_hash_foreach(&ep->peers, ep_free_peer, NULL);
    mstls_hash_free(&ep->peers);
  }
  mstls_udp_prefixes_free(ep);
  mstls_udp_rcache_free(&ep->rcache);
  while (ep->dead) {
    mstls_udp_peer *p = ep->dead;
    ep->dead = p->next_dead;
    mstls_udp_peer_free(p);
  }
  if (ep->priority) {
    gnutls_priority_deinit(ep->priority);
  }
  gnutls_memset(&ep->cookies, 0, sizeof(ep->cookies));
  mstls_mem_free(mem, ep->heap);
  mstls_mem_free(mem, ep->rate);
  mstls_mem_free(mem, ep->rxbuf);
  mstls_mem_free(mem, ep->txbuf);
  mstls_mem_free(mem, ep->priority_str);
  mstls_tlsopt_deinit(&ep->tlsopt, mem);
  mstls_credentials_del(ep->cred);
  mstls_mem_free(mem, ep);
}

int mstls_udp_endpoint_set_credentials(mstls_udp_endpoint *ep,
                                       mstls_credentials *cred) {
  mstls_credentials *old;
  if (!ep || !cred) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if ((ep->settings.flags & MSTLS_UDP_ACCEPT) && !cred->have_key &&
      cred->npsk == 0) {
    return MSTLS_E_CREDENTIALS;
  }
  old = ep->cred;
  ep->cred = mstls_credentials_ref(cred);
  mstls_credentials_del(old);
  return 0;
}

/* ---- stateless path ---------------------------------------------------- */

/* Per-prefix rate limit of handshakes started by cookie-verified sources,
 * over a fixed table: the source prefix picks a slot; each slot counts per
 * second. */
static int ep_rate_ok(mstls_udp_endpoint *ep, const uint8_t *pkey,
                      size_t plen) {
  mstls_udp_rate_slot *slot;
  uint64_t second = ep->now / MSTLS_SECONDS;

  if (!ep->settings.rate_limit) {
    return 1;
  }
  slot = &ep->rate[mstls_siphash13(ep->rate_k0, ep->rate_k1, pkey, plen) &
                   (MSTLS_UDP_RATE_SLOTS - 1)];
  if (slot->second != second) {
    slot->second = second;
    slot->count = 0;
  }
  if (slot->count >= ep->settings.rate_limit) {
    return 0;
  }
  slot->count++;
  return 1;
}

/* The global budget of stateless answers: sources that have not shown a
 * cookie share it, and none of them can take it from a verified one. */
static int ep_hvr_budget_ok(mstls_udp_endpoint *ep) {
  uint64_t second = ep->now / MSTLS_SECONDS;
  if (!ep->settings.hvr_rate_limit) {
    return 1;
  }
  if (ep->hvr_second != second) {
    ep->hvr_second = second;
    ep->hvr_count = 0;
  }
  if (ep->hvr_count >= ep->settings.hvr_rate_limit) {
    return 0;
  }
  ep->hvr_count++;
  return 1;
}

typedef struct ep_hvr_ctx {
  mstls_udp_endpoint *ep;
  const struct sockaddr *to;
  socklen_t tolen;
  size_t limit;
} ep_hvr_ctx;

static ssize_t ep_hvr_push(gnutls_transport_ptr_t ptr, const void *data,
                           size_t size) {
  ep_hvr_ctx *c = ptr;
  /* RFC 6347 §4.2.1: the HelloVerifyRequest is kept small "to avoid
   * creating an amplification attack"; RFC 9147 §5.1 makes it a rule
   * that the server's answer to an unverified address is no larger than
   * what it received. */
  if (size > c->limit) {
    mstls_udp_drop(c->ep, MSTLS_UDP_DROP_AMPLIFICATION);
    return (ssize_t)size;
  }
  c->ep->stats.cookies_sent++;
  mstls_udp_transmit(c->ep, c->to, c->tolen, data, size);
  return (ssize_t)size;
}

/* Answer a ClientHello without a valid cookie: statelessly, from the
 * global budget only. */
static int ep_send_cookie(mstls_udp_endpoint *ep, const struct sockaddr *from,
                          socklen_t fromlen, const uint8_t *key, size_t keylen,
                          const mstls_udp_chello *ch) {
  gnutls_dtls_prestate_st prestate;
  ep_hvr_ctx c = {ep, from, fromlen, ch->record_len};

  /* RFC 6347 §4.2.1: "If the server receives a ClientHello with an
   * invalid cookie, it SHOULD treat it the same as a ClientHello with no
   * cookie": answer with a fresh HelloVerifyRequest. */
  if (ch->cookie_len) {
    ep->stats.cookies_rejected++;
  }
  if (!ep_hvr_budget_ok(ep)) {
    mstls_udp_drop(ep, MSTLS_UDP_DROP_HVR_LIMIT);
    return MSTLS_E_LIMIT;
  }
  memset(&prestate, 0, sizeof(prestate));
  (void)mstls_udp_cookie_send(&ep->cookies, key, keylen,
                              ep->now + ep->wall_offset, &prestate, &c,
                              ep_hvr_push);
  return 0;
}

/* Limits for a source that proved its address with a cookie. @p old is
 * the peer the new one would replace (it does not count against it). */
static int ep_admit(mstls_udp_endpoint *ep, const uint8_t *pkey, size_t plen,
                    const mstls_udp_peer *old) {
  mstls_udp_prefix *pre = mstls_udp_prefix_find(ep, pkey, plen);
  uint32_t peers = ep->stats.peers - (old ? 1 : 0);
  uint32_t pre_peers = pre ? pre->peers - (old ? 1 : 0) : 0;

  if (peers >= ep->settings.max_peers) {
    mstls_udp_drop(ep, MSTLS_UDP_DROP_PEER_LIMIT);
    return MSTLS_E_LIMIT;
  }
  if (ep->stats.half_open >= ep->settings.max_half_open) {
    mstls_udp_drop(ep, MSTLS_UDP_DROP_HALF_OPEN_LIMIT);
    return MSTLS_E_LIMIT;
  }
  if (pre && (pre_peers >= ep->peers_per_prefix ||
              pre->half_open >= ep->half_open_per_prefix)) {
    mstls_udp_drop(ep, MSTLS_UDP_DROP_PREFIX_LIMIT);
    return MSTLS_E_LIMIT;
  }
  if (!ep_rate_ok(ep, pkey, plen)) {
    mstls_udp_drop(ep, MSTLS_UDP_DROP_RATE_LIMITED);
    return MSTLS_E_LIMIT;
  }
  return 0;
}

/* A valid ClientHello that starts a new handshake: from an address
 * without a peer, or (@p old) from the address of an existing one. */
static int ep_client_hello(mstls_udp_endpoint *ep, const struct sockaddr *from,
                           socklen_t fromlen, const uint8_t *key, size_t keylen,
                           const uint8_t *data, size_t len,
                           const mstls_udp_chello *ch, mstls_udp_peer *old) {
  gnutls_dtls_prestate_st prestate;
  uint8_t pkey[MSTLS_UDP_PREFIX_KEY_MAX];
  mstls_udp_prefix *pre;
  mstls_udp_peer *peer;
  size_t plen;
  int rv;

  if (ch->cookie_len == 0 ||
      mstls_udp_cookie_verify(&ep->cookies, key, keylen,
                              ep->now + ep->wall_offset, data, ch->record_len,
                              &prestate) < 0) {
    return ep_send_cookie(ep, from, fromlen, key, keylen, ch);
  }
  ep->stats.cookies_verified++;
  if (old && old->state == MSTLS_UDP_PEER_HANDSHAKING) {
    /* A client that restarted before its handshake finished: the old
     * attempt carries no data, so the new one replaces it at once. */
    mstls_udp_peer_finish(old, MSTLS_E_PEER_GONE, 0);
    old = NULL;
  }
  if (old && old->successor) {
    /* Newest wins: an earlier restart attempt that has not completed. */
    mstls_udp_peer_finish(old->successor, MSTLS_E_PEER_GONE, 0);
  }
  plen = mstls_udp_prefix_key(ep, key, pkey);
  if ((rv = ep_admit(ep, pkey, plen, old)) < 0) {
    return rv;
  }
  pre = mstls_udp_prefix_get(ep, pkey, plen);
  if (!pre) {
    mstls_udp_drop(ep, MSTLS_UDP_DROP_NOMEM);
    return MSTLS_E_NOMEM;
  }
  /* RFC 6347 §4.2.8: the server "MUST NOT destroy the existing
   * association until the client has demonstrated reachability either by
   * completing a cookie exchange or by completing a complete handshake".
   * A cookie proves reachability but not that this ClientHello is fresh
   * (it may be a replay within the cookie's lifetime), so the established
   * peer stays until the new handshake completes (peer.c). */
  rv = mstls_udp_peer_create(ep, from, fromlen, key, keylen, 0, NULL, NULL, 0,
                             &prestate, ch->random, pre, old, &peer);
  if (rv < 0) {
    mstls_udp_prefix_release(ep, pre);
    mstls_udp_drop(ep, MSTLS_UDP_DROP_NOMEM);
    return rv == MSTLS_E_NOMEM ? MSTLS_E_NOMEM : MSTLS_E_MALFORMED;
  }
  if (ep->cb.peer_new &&
      ep->cb.peer_new(ep, peer->flags, peer, ep->user_data) < 0) {
    /* Refused: forget it without a closed callback. */
    mstls_udp_closed_cb saved = ep->cb.closed;
    ep->cb.closed = NULL;
    mstls_udp_peer_finish(peer, MSTLS_E_CLOSED, 0);
    ep->cb.closed = saved;
    return 0;
  }
  return mstls_udp_peer_input(peer, data, len);
}

/* A valid ClientHello from the address of a server peer. */
static int ep_known_client_hello(mstls_udp_endpoint *ep,
                                 const struct sockaddr *from, socklen_t fromlen,
                                 const uint8_t *key, size_t keylen,
                                 const uint8_t *data, size_t len,
                                 const mstls_udp_chello *ch,
                                 mstls_udp_peer *peer) {
  mstls_udp_peer *next = peer->successor;

  if (memcmp(ch->random, peer->random, MSTLS_UDP_RANDOM_SIZE) == 0) {
    if (peer->state == MSTLS_UDP_PEER_HANDSHAKING) {
      /* Its own ClientHello again: GnuTLS answers a retransmission. */
      return mstls_udp_peer_input(peer, data, len);
    }
    /* RFC 6347 §4.2.8: a duplicate or a replay of the ClientHello that
     * opened this session is not a restart. */
    mstls_udp_drop(ep, MSTLS_UDP_DROP_REPLAY);
    return MSTLS_E_MALFORMED;
  }
  if (next && memcmp(ch->random, next->random, MSTLS_UDP_RANDOM_SIZE) == 0) {
    return mstls_udp_peer_input(next, data, len);
  }
  return ep_client_hello(ep, from, fromlen, key, keylen, data, len, ch, peer);
}

/* A datagram for the address of an existing peer. While a restart is
 * pending, both sessions see it: the new handshake takes its messages,
 * the established session its records; each discards what fails its
 * keys. */
static int ep_peer_datagram(mstls_udp_peer *peer, const uint8_t *data,
                            size_t len) {
  mstls_udp_peer *next = peer->successor;
  int rv;

  if (!next) {
    return mstls_udp_peer_input(peer, data, len);
  }
  rv = mstls_udp_peer_input(next, data, len);
  if (peer->state != MSTLS_UDP_PEER_CLOSED) {
    int rv2 = mstls_udp_peer_input(peer, data, len);
    rv = rv < 0 ? rv : rv2;
  }
  return rv;
}

static int ep_feed(mstls_udp_endpoint *ep, const struct sockaddr *from,
                   socklen_t fromlen, const uint8_t *data, size_t len) {
  uint8_t key[MSTLS_UDP_KEY_MAX];
  mstls_udp_chello ch;
  mstls_udp_peer *peer;
  size_t keylen;
  int reason;

  keylen = mstls_udp_addr_key(from, fromlen, key);
  if (!keylen) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  ep->stats.datagrams_in++;
  if (len == 0) {
    mstls_udp_drop(ep, MSTLS_UDP_DROP_TRUNCATED);
    return MSTLS_E_MALFORMED;
  }
  if (len > ep->settings.max_datagram) {
    mstls_udp_drop(ep, MSTLS_UDP_DROP_OVERSIZED);
    return MSTLS_E_MALFORMED;
  }
  peer = mstls_hash_get(&ep->peers, key, keylen);
  if (!mstls_udp_is_dtls(data, len)) {
    if (!ep->cb.non_dtls) {
      mstls_udp_drop(ep, MSTLS_UDP_DROP_NON_DTLS);
      return MSTLS_E_MALFORMED;
    }
    ep->stats.non_dtls++;
    ep->cb.non_dtls(ep, 0, peer, from, fromlen, data, len, ep->user_data);
    return 0;
  }
  if (peer && !(peer->flags & MSTLS_UDP_PEER_CLIENT) &&
      (ep->settings.flags & MSTLS_UDP_ACCEPT) &&
      mstls_udp_check_client_hello(data, len, &ch) < 0) {
    return ep_known_client_hello(ep, from, fromlen, key, keylen, data, len, &ch,
                                 peer);
  }
  if (peer) {
    return ep_peer_datagram(peer, data, len);
  }
  if (!(ep->settings.flags & MSTLS_UDP_ACCEPT)) {
    mstls_udp_drop(ep, MSTLS_UDP_DROP_UNKNOWN_PEER);
    return MSTLS_E_MALFORMED;
  }
  /* No per-peer state before a valid cookie: validate the ClientHello
   * before gnutls_dtls_cookie_verify() reads it. */
  reason = mstls_udp_check_client_hello(data, len, &ch);
  if (reason >= 0) {
    mstls_udp_drop(ep, reason);
    return MSTLS_E_MALFORMED;
  }
  return ep_client_hello(ep, from, fromlen, key, keylen, data, len, &ch, NULL);
}

int mstls_udp_endpoint_feed(mstls_udp_endpoint *ep, const struct sockaddr *from,
                            socklen_t fromlen, const uint8_t *data, size_t len,
                            mstls_tstamp now) {
  int rv;
  if (!ep || !from || (!data && len)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  ep->now = now;
  mstls_udp_enter(ep);
  rv = ep_feed(ep, from, fromlen, data, len);
  mstls_udp_leave(ep);
  return rv;
}

mstls_tstamp mstls_udp_endpoint_get_expiry(mstls_udp_endpoint *ep) {
  if (!ep || ep->heap_len == 0) {
    return MSTLS_TSTAMP_NEVER;
  }
  return ep->heap[0]->deadline;
}

int mstls_udp_endpoint_handle_expiry(mstls_udp_endpoint *ep, mstls_tstamp now) {
  size_t budget;
  if (!ep) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  ep->now = now;
  mstls_udp_enter(ep);
  /* Each peer is handled at most once per call: a peer whose timer GnuTLS
   * re-arms lands later in the heap. */
  budget = ep->heap_len;
  while (budget-- > 0 && ep->heap_len > 0 && ep->heap[0]->deadline <= now) {
    mstls_udp_peer *p = ep->heap[0];
    mstls_udp_peer_expire(p, now);
    if (p->state != MSTLS_UDP_PEER_CLOSED && p->heap_idx == 0 &&
        p->deadline <= now) {
      break; /* would spin: leave it for the next call */
    }
  }
  mstls_udp_leave(ep);
  return 0;
}

int mstls_udp_endpoint_connect(mstls_udp_endpoint *ep,
                               const struct sockaddr *to, socklen_t tolen,
                               const char *server_name, mstls_tstamp now,
                               mstls_udp_peer **ppeer) {
  return mstls_udp_endpoint_connect2(ep, to, tolen, server_name, NULL, 0, now,
                                     ppeer);
}

int mstls_udp_endpoint_connect2(mstls_udp_endpoint *ep,
                                const struct sockaddr *to, socklen_t tolen,
                                const char *server_name,
                                const uint8_t *resumption_data,
                                size_t resumption_data_len, mstls_tstamp now,
                                mstls_udp_peer **ppeer) {
  uint8_t key[MSTLS_UDP_KEY_MAX];
  mstls_udp_peer *peer;
  size_t keylen;
  int rv;

  if (ppeer) {
    *ppeer = NULL;
  }
  if (!ep || !to || (resumption_data && resumption_data_len == 0)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (!server_name && !(ep->settings.flags & MSTLS_UDP_INSECURE) &&
      ep->cred->npsk == 0) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  keylen = mstls_udp_addr_key(to, tolen, key);
  if (!keylen) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (mstls_hash_get(&ep->peers, key, keylen)) {
    return MSTLS_E_INVALID_STATE;
  }
  if (ep->stats.peers >= ep->settings.max_peers ||
      ep->stats.half_open >= ep->settings.max_half_open) {
    return MSTLS_E_LIMIT;
  }
  ep->now = now;
  mstls_udp_enter(ep);
  rv = mstls_udp_peer_create(ep, to, tolen, key, keylen, 1, server_name,
                             resumption_data, resumption_data_len, NULL, NULL,
                             NULL, NULL, &peer);
  if (rv == 0) {
    if (ppeer) {
      *ppeer = peer;
    }
    mstls_udp_peer_start(peer);
  }
  mstls_udp_leave(ep);
  return rv;
}

int mstls_udp_endpoint_get_stats(mstls_udp_endpoint *ep,
                                 mstls_udp_stats *stats) {
  if (!ep || !stats) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  *stats = ep->stats;
  return 0;
}

mstls_udp_peer *mstls_udp_endpoint_find_peer(mstls_udp_endpoint *ep,
                                             const struct sockaddr *addr,
                                             socklen_t addrlen) {
  uint8_t key[MSTLS_UDP_KEY_MAX];
  size_t keylen;
  if (!ep || !addr) {
    return NULL;
  }
  keylen = mstls_udp_addr_key(addr, addrlen, key);
  if (!keylen) {
    return NULL;
  }
  return mstls_hash_get(&ep->peers, key, keylen);
}

int mstls_udp_endpoint_set_cookie_secret(mstls_udp_endpoint *ep,
                                         const uint8_t *secret, size_t len) {
  if (!ep || !secret || len != MSTLS_UDP_COOKIE_SECRET_SIZE) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  mstls_udp_cookies_set_secret(&ep->cookies, secret, NULL);
  return 0;
}

int mstls_udp_endpoint_set_fleet(mstls_udp_endpoint *ep,
                                 const mstls_fleet *fleet) {
  if (!ep || !fleet) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  mstls_udp_cookies_set_secret(&ep->cookies, fleet->cookie,
                               fleet->have_accept ? fleet->accept_cookie
                                                  : NULL);
  return 0;
}

int mstls_udp_endpoint_set_wall_offset(mstls_udp_endpoint *ep,
                                       mstls_tstamp offset) {
  if (!ep) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  ep->wall_offset = offset;
  return 0;
}

void *mstls_udp_endpoint_get_user_data(mstls_udp_endpoint *ep) {
  return ep ? ep->user_data : NULL;
}
