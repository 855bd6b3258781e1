/* Internal structures of the DTLS-over-UDP endpoint. */
#ifndef MSTLS_UDP_INT_H
#define MSTLS_UDP_INT_H

#include <stdint.h>

#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>

#include <mstls/udp.h>

#include "channel.h"
#include "demux.h"
#include "mem.h"
#include "resume.h"
#include "tlsopt.h"

/* Canonical peer key: family(1) port(2) address(4 or 16) scope(4). */
#define MSTLS_UDP_KEY_MAX 23

/* Largest record: 13-byte header + 2^14 + 2048 (RFC 6347 §4.1). */
#define MSTLS_UDP_RECORD_MAX (13 + 16384 + 2048)

/* ---- classify.c / chello.c -------------------------------------------- */

/** RFC 7983 §7: 1 if the first byte says DTLS (20..63), else 0. */
int mstls_udp_is_dtls(const uint8_t *data, size_t len);

/** What the ClientHello check found. */
typedef struct mstls_udp_chello {
  size_t record_len;     /* header + body of the first record */
  size_t cookie_len;     /* 0: no cookie yet */
  const uint8_t *random; /* the 32-byte client random */
} mstls_udp_chello;

#define MSTLS_UDP_RANDOM_SIZE 32

/** Check that a datagram starts with a whole, unfragmented DTLS ClientHello
 *  with sane lengths. @return -1 when valid, else the drop reason. */
int mstls_udp_check_client_hello(const uint8_t *data, size_t len,
                                 mstls_udp_chello *ch);

/* ---- cookie.c ---------------------------------------------------------- */

typedef struct mstls_udp_cookie_key {
  uint64_t period; /* period number the key belongs to */
  int valid;
  uint8_t key[32];
} mstls_udp_cookie_key;

typedef struct mstls_udp_cookie_secret {
  uint8_t secret[MSTLS_UDP_COOKIE_SECRET_SIZE];
  mstls_udp_cookie_key cache[2]; /* by period parity */
} mstls_udp_cookie_secret;

typedef struct mstls_udp_cookies {
  mstls_udp_cookie_secret cur;    /* mints and verifies */
  mstls_udp_cookie_secret accept; /* verifies only, when have_accept */
  int have_accept;
  mstls_tstamp period_len;
} mstls_udp_cookies;

int mstls_udp_cookies_init(mstls_udp_cookies *c, mstls_tstamp period_len);
/** Set the current secret and (NULL: none) the accept-only one. */
void mstls_udp_cookies_set_secret(mstls_udp_cookies *c, const uint8_t *secret,
                                  const uint8_t *accept);
/** Send a HelloVerifyRequest through @p push. @return GnuTLS code. */
int mstls_udp_cookie_send(mstls_udp_cookies *c, const uint8_t *addrkey,
                          size_t keylen, mstls_tstamp now,
                          gnutls_dtls_prestate_st *prestate, void *ptr,
                          gnutls_push_func push);
/** @return 0 and fills @p prestate when the cookie is valid for the current
 *  or the previous period under the current or the accept-only secret, -1
 *  otherwise. @p now is the cookie clock (the endpoint's time plus its wall
 *  offset). */
int mstls_udp_cookie_verify(mstls_udp_cookies *c, const uint8_t *addrkey,
                            size_t keylen, mstls_tstamp now, const uint8_t *msg,
                            size_t len, gnutls_dtls_prestate_st *prestate);

/* Per-source rate limit: a fixed table of counters allocated once with the
 * endpoint, indexed by a keyed hash of the source prefix, so a flood from
 * many addresses costs no memory. Only cookie-verified sources count. */
#define MSTLS_UDP_RATE_SLOTS 4096
typedef struct mstls_udp_rate_slot {
  uint64_t second;
  uint32_t count;
} mstls_udp_rate_slot;

/* ---- prefix.c ---------------------------------------------------------- */

/* Canonical prefix key: family(1) + masked address (4 or 16). */
#define MSTLS_UDP_PREFIX_KEY_MAX 17

/* What one verified source prefix holds of the peer tables. Exists while
 * it holds at least one server peer. */
typedef struct mstls_udp_prefix {
  uint8_t key[MSTLS_UDP_PREFIX_KEY_MAX];
  size_t keylen;
  uint32_t peers;
  uint32_t half_open;
} mstls_udp_prefix;

/** The prefix key of a peer key (settings.prefix_len_*). @return length. */
size_t mstls_udp_prefix_key(const mstls_udp_endpoint *ep, const uint8_t *key,
                            uint8_t *out);
/** @return the prefix entry of @p pkey, or NULL. */
mstls_udp_prefix *mstls_udp_prefix_find(mstls_udp_endpoint *ep,
                                        const uint8_t *pkey, size_t len);
/** Find or create. @return the entry, NULL without memory. */
mstls_udp_prefix *mstls_udp_prefix_get(mstls_udp_endpoint *ep,
                                       const uint8_t *pkey, size_t len);
/** Forget an entry that holds nothing any more. */
void mstls_udp_prefix_release(mstls_udp_endpoint *ep, mstls_udp_prefix *p);
void mstls_udp_prefixes_free(mstls_udp_endpoint *ep);

/* ---- peer.c ------------------------------------------------------------ */

struct mstls_udp_peer {
  mstls_udp_endpoint *ep;
  mstls_channel ch;
  mstls_credentials *cred; /* a reference: those of its handshake */
  struct sockaddr_storage addr;
  socklen_t addrlen;
  uint8_t key[MSTLS_UDP_KEY_MAX];
  size_t keylen;
  mstls_udp_peer_state state;
  uint32_t flags; /* MSTLS_UDP_PEER_CLIENT */
  int error;
  int in_table;
  /* Server peers: the client random of the ClientHello that created the
   * peer, to tell its duplicates from a new handshake. */
  uint8_t random[MSTLS_UDP_RANDOM_SIZE];
  /* A new handshake from the address of this established peer, not yet
   * complete (not in the table), and the way back. RFC 6347 §4.2.8. */
  struct mstls_udp_peer *successor;
  struct mstls_udp_peer *replaces;
  mstls_udp_prefix *prefix; /* server peers: the source's share */
  char *server_name;
  mstls_tstamp hs_deadline;   /* handshake timeout */
  mstls_tstamp dtls_deadline; /* GnuTLS retransmission */
  mstls_tstamp last_active;
  mstls_tstamp deadline; /* merged, the heap key */
  size_t heap_idx;       /* SIZE_MAX when not in the heap */
  void *user_data;
  struct mstls_udp_peer *next_dead;
  /* Client: resumption data were offered. Any: the handshake completed
   * (resumption data can be taken, also from the closed callback). */
  unsigned resume_offered : 1;
  unsigned was_open : 1;
};

struct mstls_udp_endpoint {
  mstls_udp_settings settings;
  mstls_udp_callbacks cb;
  void *user_data;
  const mstls_mem *mem;
  mstls_credentials *cred;
  char *priority_str;
  gnutls_priority_t priority;
  mstls_tlsopt tlsopt; /* settings.tls, copied */
  mstls_hash peers;
  mstls_udp_peer **heap;
  size_t heap_len, heap_cap;
  mstls_udp_cookies cookies;
  mstls_udp_rate_slot *rate;
  uint64_t rate_k0, rate_k1;
  mstls_hash prefixes;       /* prefix key -> mstls_udp_prefix */
  uint32_t peers_per_prefix; /* effective shares */
  uint32_t half_open_per_prefix;
  uint64_t hvr_second; /* global budget of stateless answers */
  uint32_t hvr_count;
  mstls_udp_stats stats;
  mstls_tstamp now;
  /* Cookie clock: now + wall_offset (mstls_udp_endpoint_set_wall_offset). */
  mstls_tstamp wall_offset;
  int depth;            /* nesting of public calls */
  mstls_udp_peer *dead; /* closed peers freed when depth returns 0 */
  uint8_t *rxbuf;       /* decrypted data */
  uint8_t *txbuf;       /* flattened outgoing datagram */
  void *transport;      /* the poll loop owning the endpoint */
  /* Client: the sessions of the servers it connected to (resume.c). */
  mstls_udp_rcache rcache;
};

/** Make the canonical key of an address. @return key length, 0 if the
 *  family is unsupported. */
size_t mstls_udp_addr_key(const struct sockaddr *sa, socklen_t len,
                          uint8_t *key);

void mstls_udp_drop(mstls_udp_endpoint *ep, int reason);
void mstls_udp_transmit(mstls_udp_endpoint *ep, const struct sockaddr *to,
                        socklen_t tolen, const uint8_t *data, size_t len);

/** Create a peer. Client peers offer @p resume (the application's
 *  resumption data; NULL: the cache's). Server peers (@p prestate set)
 *  take @p random and count in @p prefix; with @p replaces (an
 *  established peer of the same address) the new peer stays out of the
 *  table until its handshake completes. */
int mstls_udp_peer_create(mstls_udp_endpoint *ep, const struct sockaddr *sa,
                          socklen_t salen, const uint8_t *key, size_t keylen,
                          int client, const char *server_name,
                          const uint8_t *resume, size_t resume_len,
                          const gnutls_dtls_prestate_st *prestate,
                          const uint8_t *random, mstls_udp_prefix *prefix,
                          mstls_udp_peer *replaces, mstls_udp_peer **ppeer);
/** Start or continue the handshake (client: sends the ClientHello). */
void mstls_udp_peer_start(mstls_udp_peer *peer);
/** A datagram for an existing peer. @return 0 or MSTLS_E_NOMEM. */
int mstls_udp_peer_input(mstls_udp_peer *peer, const uint8_t *data, size_t len);
/** Run the peer's due timers. */
void mstls_udp_peer_expire(mstls_udp_peer *peer, mstls_tstamp now);
/** Close and forget a peer (reason for the callback; send close_notify if
 *  @p bye). */
void mstls_udp_peer_finish(mstls_udp_peer *peer, int reason, int bye);
void mstls_udp_peer_free(mstls_udp_peer *peer);

/* Timer heap (min-heap of peers by merged deadline). */
void mstls_udp_heap_update(mstls_udp_endpoint *ep, mstls_udp_peer *peer);
void mstls_udp_heap_remove(mstls_udp_endpoint *ep, mstls_udp_peer *peer);
/** @return 0 or MSTLS_E_NOMEM (capacity for one more peer). */
int mstls_udp_heap_reserve(mstls_udp_endpoint *ep);

/* Public-call nesting: closed peers are freed when the outermost call
 * returns, so callbacks may close peers safely. */
void mstls_udp_enter(mstls_udp_endpoint *ep);
void mstls_udp_leave(mstls_udp_endpoint *ep);

#endif
