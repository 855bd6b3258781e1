/*
 * mstls - DTLS over UDP: many peers on one socket.
 *
 * An endpoint serves (or connects to) any number of DTLS peers over one
 * UDP socket, keyed by the peer's address. The endpoint itself is sans-IO:
 * datagrams go in through mstls_udp_endpoint_feed() with the time, leave
 * through the send callback, and the single merged deadline of all peers is
 * read with mstls_udp_endpoint_get_expiry(). mstls_udp_loop_* is a
 * ready-made poll(2) loop that owns a real UDP socket on top of it.
 *
 * Servers answer a ClientHello with a stateless HelloVerifyRequest; no
 * per-peer memory exists before a valid cookie came back (RFC 6347 §4.2.1).
 * Limits that count per source (rate, table shares) apply only to sources
 * that returned a valid cookie, so spoofed traffic cannot use up a
 * victim's share.
 * Datagrams whose first byte is outside 20..63 are not DTLS (RFC 7983) and
 * go to the application untouched.
 */
#ifndef MSTLS_UDP_H
#define MSTLS_UDP_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <mstls/mstls.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A DTLS endpoint on one UDP socket. */
typedef struct mstls_udp_endpoint mstls_udp_endpoint;
/** One DTLS peer of an endpoint, keyed by its address. */
typedef struct mstls_udp_peer mstls_udp_peer;

/** Why a datagram was dropped; indexes mstls_udp_stats.dropped. */
typedef enum mstls_udp_drop_reason {
  /** Empty, or shorter than the record/handshake headers it announces. */
  MSTLS_UDP_DROP_TRUNCATED = 0,
  /** Inconsistent lengths or fields in a ClientHello. */
  MSTLS_UDP_DROP_MALFORMED = 1,
  /** A fragmented ClientHello from an unknown address (cookies need the
   *  whole message). */
  MSTLS_UDP_DROP_FRAGMENTED = 2,
  /** A DTLS record from an unknown address that is not a ClientHello. */
  MSTLS_UDP_DROP_NOT_CLIENT_HELLO = 3,
  /** A record from an unknown address with an epoch other than 0. */
  MSTLS_UDP_DROP_BAD_EPOCH = 4,
  /** Larger than settings.max_datagram. */
  MSTLS_UDP_DROP_OVERSIZED = 5,
  /** Not DTLS (RFC 7983) and no non_dtls callback is set. */
  MSTLS_UDP_DROP_NON_DTLS = 6,
  /** A valid cookie, but its source prefix started rate_limit handshakes
   *  in this second already. */
  MSTLS_UDP_DROP_RATE_LIMITED = 7,
  /** A valid cookie but settings.max_peers peers exist. */
  MSTLS_UDP_DROP_PEER_LIMIT = 8,
  /** A valid cookie but settings.max_half_open handshakes run. */
  MSTLS_UDP_DROP_HALF_OPEN_LIMIT = 9,
  /** The HelloVerifyRequest would be larger than the ClientHello. */
  MSTLS_UDP_DROP_AMPLIFICATION = 10,
  /** From an unknown address while the endpoint does not accept peers. */
  MSTLS_UDP_DROP_UNKNOWN_PEER = 11,
  /** Memory ran out while creating a peer or queueing the datagram. */
  MSTLS_UDP_DROP_NOMEM = 12,
  /** A record of a known peer that GnuTLS discarded (bad MAC, replay,
   *  unexpected message). */
  MSTLS_UDP_DROP_PEER_RECORD = 13,
  /** A valid cookie, but the source prefix holds its whole share of the
   *  peer or half-open table (max_peers_per_prefix,
   *  max_half_open_per_prefix). */
  MSTLS_UDP_DROP_PREFIX_LIMIT = 14,
  /** A ClientHello without a valid cookie while settings.hvr_rate_limit
   *  HelloVerifyRequests went out in this second already. */
  MSTLS_UDP_DROP_HVR_LIMIT = 15,
  /** A copy of the ClientHello that opened an established peer (a
   *  duplicate or a replay, RFC 6347 §4.2.8): ignored. */
  MSTLS_UDP_DROP_REPLAY = 16,
  /** Number of reasons. */
  MSTLS_UDP_DROP_COUNT = 17
} mstls_udp_drop_reason;

/** Counters of an endpoint. */
typedef struct mstls_udp_stats {
  uint32_t peers;           /**< peers that exist now */
  uint32_t half_open;       /**< of which are handshaking */
  uint64_t peers_accepted;  /**< server peers created after a cookie */
  uint64_t peers_connected; /**< client peers created by connect */
  uint64_t handshakes_done;
  uint64_t handshakes_failed; /**< includes timeouts */
  uint64_t handshake_timeouts;
  uint64_t reaped;           /**< established peers closed as idle */
  uint64_t closed;           /**< peers closed for any reason */
  uint64_t restarts;         /**< established peers replaced by a new
                                  handshake from the same address, counted
                                  when the new handshake completed */
  uint32_t restarts_pending; /**< new handshakes from the address of an
                                  established peer that run now */
  uint32_t prefixes;         /**< source prefixes that hold peers */
  uint64_t cookies_sent;     /**< HelloVerifyRequests sent */
  uint64_t cookies_verified;
  uint64_t cookies_rejected; /**< wrong or expired cookies */
  uint64_t datagrams_in;
  uint64_t datagrams_out;
  uint64_t send_failures; /**< send callback failures (datagram lost) */
  uint64_t non_dtls;      /**< handed to the non_dtls callback */
  uint64_t dropped_total;
  uint64_t dropped[MSTLS_UDP_DROP_COUNT];
  uint64_t handshakes_resumed;   /**< handshakes (client or server) that
                                      resumed a session */
  uint64_t resumption_offers;    /**< client handshakes that offered
                                      resumption data (from the cache or
                                      given to mstls_udp_endpoint_connect2()) */
  uint64_t resumption_rejected;  /**< of those, the ones the server answered
                                      with a full handshake */
  uint64_t resumption_evictions; /**< resumption cache entries dropped, least
                                      recently used first, to make room */
  uint32_t resumption_cached;    /**< resumption cache entries now */
} mstls_udp_stats;

/** The endpoint accepts new peers (server). Without it, datagrams from
 *  unknown addresses are dropped and only mstls_udp_endpoint_connect()
 *  creates peers. */
#define MSTLS_UDP_ACCEPT 0x01u
/** Client peers skip certificate verification (explicit, never default). */
#define MSTLS_UDP_INSECURE 0x02u
/** Server: require a valid client certificate. */
#define MSTLS_UDP_REQUIRE_CLIENT_CERT 0x04u
/** Server: ask for a client certificate; verify it if one is sent. */
#define MSTLS_UDP_REQUEST_CLIENT_CERT 0x08u
/** mstls_udp_loop_new(): bind with SO_REUSEPORT, so that several loops
 *  (worker threads or processes) share one address; the kernel keeps each
 *  peer's flow on one of them. Give them the same cookie secret
 *  (mstls_udp_endpoint_set_cookie_secret()) and the same credentials (one
 *  ticket key), so that a cookie minted by one verifies on any and a
 *  session resumes on any: mstls_udp_endpoint_set_fleet() and
 *  mstls_credentials_set_fleet() derive both from one fleet secret. */
#define MSTLS_UDP_REUSEPORT 0x10u
/** Server: issue no session tickets (RFC 5077). Clients then resume only
 *  through the credentials' session cache (TLS 1.2 session IDs,
 *  mstls_credentials_set_session_cache()), which no other worker or
 *  machine shares. */
#define MSTLS_UDP_NO_TICKETS 0x20u

/** Settings of an endpoint. Fill with mstls_udp_settings_default(). */
typedef struct mstls_udp_settings {
  /** MSTLS_UDP_* flags. Default MSTLS_UDP_ACCEPT. */
  uint32_t flags;
  /** GnuTLS priority string; NULL for DTLS 1.2 with GnuTLS's defaults
   *  ("NORMAL:-VERS-ALL:+VERS-DTLS1.2"). Versions below DTLS 1.2 are always
   *  removed ("-VERS-DTLS1.0:-VERS-DTLS0.9" is appended). Copied. */
  const char *priority;
  /** Path MTU for outgoing datagrams. Default 1200 (GnuTLS's default). */
  unsigned mtu;
  /** Largest datagram accepted by feed. Default 18445 (one full record:
   *  2^14 + 2048 + 13 header bytes). */
  size_t max_datagram;
  /** Maximum number of peers. Default 10000. */
  uint32_t max_peers;
  /** Maximum number of peers whose handshake runs. Default 1000. */
  uint32_t max_half_open;
  /** Handshakes started per second from one source prefix (see
   *  prefix_len_v4), counted only for ClientHellos that carried a valid
   *  cookie: an address that has not answered a cookie proves nothing,
   *  so nothing sent in its name counts against it. 0 disables.
   *  Default 100. */
  uint32_t rate_limit;
  /** Share of the peer table (max_peers) one source prefix may hold.
   *  0: max_peers / 8, at least 1. Default 0. */
  uint32_t max_peers_per_prefix;
  /** Share of the half-open table (max_half_open) one source prefix may
   *  hold. 0: max_half_open / 8, at least 1. Default 0. */
  uint32_t max_half_open_per_prefix;
  /** Length in bits of the IPv4 source prefix that rate_limit and the
   *  table shares count by (1..32). Default 32. */
  unsigned prefix_len_v4;
  /** Length in bits of the IPv6 source prefix (1..128). Default 64: one
   *  /64 is one subscriber. */
  unsigned prefix_len_v6;
  /** HelloVerifyRequests sent per second in all, to sources that have not
   *  shown a valid cookie: the global budget of stateless work (it bounds
   *  reflection; no answer is ever larger than its ClientHello). 0
   *  disables. Default 1000000: above what one core answers, so by
   *  default the CPU, not the budget, is the limit; lower it to cap
   *  reflection. */
  uint32_t hvr_rate_limit;
  /** Handshake deadline from the first datagram. Default 20 s. */
  mstls_tstamp handshake_timeout;
  /** An established peer that neither sends nor receives data for this
   *  long is reaped; 0 disables. Default 180 s. */
  mstls_tstamp idle_timeout;
  /** Cookie period: a cookie binds the current period number and is valid
   *  in its period and the next; the cookie key rotates every period.
   *  Default 30 s. */
  mstls_tstamp cookie_period;
  /** Initial DTLS retransmission timeout in ms (RFC 6347 §4.2.4.1 says
   *  1 s). Default 1000. */
  unsigned retrans_timeout_ms;
  /** Allocator, NULL for libc. */
  const mstls_mem *mem;
  /** ALPN, pins, and the configure, keylog and verify callbacks of every
   *  peer's DTLS session (mstls_tls_options, as for SCTP streams; the
   *  callbacks' ctx names the peer and its address). Default: none. */
  mstls_tls_options tls;
  /** Client: how many servers' resumption data the endpoint keeps. When
   *  a client peer's handshake completes, its session (with the ticket
   *  or session ID the server gave) is kept under the server's address
   *  and server name, and the next mstls_udp_endpoint_connect() to that
   *  server offers it; when the cache is full the least recently used
   *  entry goes (mstls_udp_stats.resumption_evictions). 0 disables the
   *  cache. Default 1000. */
  uint32_t resumption_cache;
} mstls_udp_settings;

/** @brief Fill @p settings with defaults. @param settings not NULL. */
MSTLS_EXTERN void mstls_udp_settings_default(mstls_udp_settings *settings);

/**
 * Send callback (required): send one datagram to @p to. Return 0 when it
 * was sent; any negative value means it was lost (counted in
 * send_failures; DTLS retransmission covers handshake flights).
 */
typedef int (*mstls_udp_send_cb)(mstls_udp_endpoint *ep,
                                 const struct sockaddr *to, socklen_t tolen,
                                 const uint8_t *data, size_t len,
                                 void *user_data);

/** Flag of the peer callbacks: the peer was created by connect. */
#define MSTLS_UDP_PEER_CLIENT 0x01u

/**
 * Accept callback (optional): a server peer was created after a valid
 * cookie and its handshake starts. Return 0 to go on, negative to refuse
 * the peer (it is freed without a closed callback).
 */
typedef int (*mstls_udp_peer_new_cb)(mstls_udp_endpoint *ep, uint32_t flags,
                                     mstls_udp_peer *peer, void *user_data);

/** Handshake-done callback (optional). */
typedef void (*mstls_udp_handshake_done_cb)(mstls_udp_endpoint *ep,
                                            uint32_t flags,
                                            mstls_udp_peer *peer,
                                            void *user_data);

/** Data callback (optional): decrypted application data of one record. */
typedef void (*mstls_udp_recv_data_cb)(mstls_udp_endpoint *ep, uint32_t flags,
                                       mstls_udp_peer *peer,
                                       const uint8_t *data, size_t len,
                                       void *user_data);

/**
 * Closed callback (optional): the peer is gone. @p reason is 0 when the
 * peer sent close_notify, MSTLS_E_CLOSED after mstls_udp_peer_close(),
 * MSTLS_E_PEER_GONE when reaped as idle or replaced by a new handshake
 * from its address (only once that handshake completed: a ClientHello
 * alone never ends an established peer), MSTLS_E_TIMEOUT when the handshake
 * timed out, or the error that failed it (MSTLS_E_HANDSHAKE,
 * MSTLS_E_CERT_VERIFY, MSTLS_E_ALERT, ...). The peer pointer stays valid until
 * the endpoint call that reported it returns.
 */
typedef void (*mstls_udp_closed_cb)(mstls_udp_endpoint *ep, uint32_t flags,
                                    mstls_udp_peer *peer, int reason,
                                    void *user_data);

/**
 * Non-DTLS callback (optional): a datagram whose first byte is not in
 * 20..63 (RFC 7983: STUN 0..3, ZRTP 16..19, TURN channel 64..79,
 * RTP/RTCP 128..191). @p peer is the DTLS peer of that address or NULL.
 * Without this callback such datagrams are dropped and counted.
 */
typedef void (*mstls_udp_non_dtls_cb)(mstls_udp_endpoint *ep, uint32_t flags,
                                      mstls_udp_peer *peer,
                                      const struct sockaddr *from,
                                      socklen_t fromlen, const uint8_t *data,
                                      size_t len, void *user_data);

/** Callbacks of an endpoint; copied by mstls_udp_endpoint_new(). */
typedef struct mstls_udp_callbacks {
  mstls_udp_send_cb send;                     /**< required */
  mstls_udp_peer_new_cb peer_new;             /**< optional */
  mstls_udp_handshake_done_cb handshake_done; /**< optional */
  mstls_udp_recv_data_cb recv_data;           /**< optional */
  mstls_udp_closed_cb closed;                 /**< optional */
  mstls_udp_non_dtls_cb non_dtls;             /**< optional */
} mstls_udp_callbacks;

/**
 * @brief Create an endpoint.
 * @param pep receives the endpoint.
 * @param settings from mstls_udp_settings_default(), copied.
 * @param callbacks copied; send is required.
 * @param cred certificates (a server needs a key), trust anchors (a client
 *        needs them unless MSTLS_UDP_INSECURE). Must outlive the endpoint.
 * @param user_data passed to every callback.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL argument, no send callback,
 *         mtu < 256, zero cookie_period or max_datagram, prefix_len_v4
 *         outside 1..32, prefix_len_v6 outside 1..128), MSTLS_E_NOMEM,
 *         MSTLS_E_TLS (priority string rejected by GnuTLS or leaving no
 *         version from DTLS 1.2 on, or no randomness).
 */
MSTLS_EXTERN int mstls_udp_endpoint_new(mstls_udp_endpoint **pep,
                                        const mstls_udp_settings *settings,
                                        const mstls_udp_callbacks *callbacks,
                                        mstls_credentials *cred,
                                        void *user_data);

/**
 * @brief Replace the endpoint's credentials: peers created from now on
 *        (new handshakes, client or server) use @p cred; established and
 *        half-open peers keep the credentials of their handshake. The
 *        endpoint takes a reference to @p cred and drops its reference to
 *        the old ones (freed when their last peer goes). The key exchanges
 *        stay those chosen at creation (pre-shared keys enable PSK only if
 *        the first credentials had some).
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL), MSTLS_E_CREDENTIALS (a
 *         server endpoint's new credentials have neither a certificate
 *         and key nor a pre-shared key).
 */
MSTLS_EXTERN int mstls_udp_endpoint_set_credentials(mstls_udp_endpoint *ep,
                                                    mstls_credentials *cred);

/** @brief Free an endpoint and all its peers, without sending anything
 *  and without callbacks. NULL is ignored. */
MSTLS_EXTERN void mstls_udp_endpoint_del(mstls_udp_endpoint *ep);

/**
 * @brief Process one received datagram.
 *
 * Datagrams are untrusted: a datagram that is dropped is counted in the
 * statistics and reported by the return value, and the endpoint stays
 * usable.
 * @param from the source address (AF_INET or AF_INET6).
 * @param now the current time.
 * @return 0 when the datagram was used (or handed to the non_dtls
 *         callback); MSTLS_E_INVALID_ARGUMENT (NULL pointers, unsupported
 *         address family); MSTLS_E_MALFORMED (dropped: truncated,
 *         malformed, fragmented, oversized, wrong epoch, not a
 *         ClientHello, non-DTLS without callback, unknown peer, a replay
 *         of the ClientHello that opened an established peer);
 *         MSTLS_E_LIMIT (dropped by a peer, half-open, prefix-share, rate
 *         or HelloVerifyRequest limit, or to avoid amplification);
 *         MSTLS_E_NOMEM (dropped for lack of memory).
 */
MSTLS_EXTERN int mstls_udp_endpoint_feed(mstls_udp_endpoint *ep,
                                         const struct sockaddr *from,
                                         socklen_t fromlen, const uint8_t *data,
                                         size_t len, mstls_tstamp now);

/**
 * @brief The earliest deadline of all peers (DTLS retransmission,
 *        handshake timeout, idle reaping).
 * @return the deadline, or MSTLS_TSTAMP_NEVER when no timer runs.
 */
MSTLS_EXTERN mstls_tstamp mstls_udp_endpoint_get_expiry(mstls_udp_endpoint *ep);

/**
 * @brief Run every timer due at @p now: retransmit flights, fail
 *        handshakes that timed out, reap idle peers.
 * @return 0, MSTLS_E_INVALID_ARGUMENT.
 */
MSTLS_EXTERN int mstls_udp_endpoint_handle_expiry(mstls_udp_endpoint *ep,
                                                  mstls_tstamp now);

/**
 * @brief Start a DTLS client handshake with the server at @p to.
 *
 * When the endpoint's resumption cache (settings.resumption_cache) holds
 * a session with this server -- the same address and server name -- the
 * handshake offers it; a server that does not take it answers with a
 * full handshake (mstls_udp_stats.resumption_rejected).
 * @param server_name expected name (SNI and certificate check); required
 *        unless MSTLS_UDP_INSECURE or the credentials hold a pre-shared
 *        key (mstls_credentials_add_psk()). Copied.
 * @param ppeer receives the peer (may be NULL).
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE (a peer with
 *         that address exists), MSTLS_E_LIMIT (max_peers or max_half_open
 *         reached), MSTLS_E_NOMEM, MSTLS_E_TLS.
 */
MSTLS_EXTERN int
mstls_udp_endpoint_connect(mstls_udp_endpoint *ep, const struct sockaddr *to,
                           socklen_t tolen, const char *server_name,
                           mstls_tstamp now, mstls_udp_peer **ppeer);

/**
 * @brief mstls_udp_endpoint_connect() offering resumption data an
 *        application kept, e.g. across a restart
 *        (mstls_udp_peer_get_resumption_data()).
 *
 * The data is offered instead of what the endpoint's cache holds for the
 * server. A server that does not accept it (another ticket key, a
 * forgotten session) answers with a full handshake, as in TLS; that is
 * no error (mstls_udp_stats.resumption_rejected counts it, and
 * mstls_udp_peer_get_info() tells which one happened).
 * @param resumption_data a blob from mstls_udp_peer_get_resumption_data();
 *        NULL offers what the cache holds, as mstls_udp_endpoint_connect()
 *        does. Copied.
 * @param resumption_data_len its length.
 * @return the errors of mstls_udp_endpoint_connect(), and
 *         MSTLS_E_INVALID_ARGUMENT when @p resumption_data is not a blob
 *         GnuTLS can read (damaged, truncated) or its length is 0; no peer
 *         is created then.
 */
MSTLS_EXTERN int mstls_udp_endpoint_connect2(
    mstls_udp_endpoint *ep, const struct sockaddr *to, socklen_t tolen,
    const char *server_name, const uint8_t *resumption_data,
    size_t resumption_data_len, mstls_tstamp now, mstls_udp_peer **ppeer);

/** @brief Copy the counters. @return 0, MSTLS_E_INVALID_ARGUMENT. */
MSTLS_EXTERN int mstls_udp_endpoint_get_stats(mstls_udp_endpoint *ep,
                                              mstls_udp_stats *stats);

/** @brief Name of a drop reason ("truncated", ...); "unknown" if out of
 *  range. */
MSTLS_EXTERN const char *mstls_udp_drop_reason_str(mstls_udp_drop_reason r);

/** @brief The peer with address @p addr, or NULL. */
MSTLS_EXTERN mstls_udp_peer *
mstls_udp_endpoint_find_peer(mstls_udp_endpoint *ep,
                             const struct sockaddr *addr, socklen_t addrlen);

/** Size of a cookie secret. */
#define MSTLS_UDP_COOKIE_SECRET_SIZE 32

/**
 * @brief Set the secret from which each period's cookie key is derived.
 *        Endpoints (processes, machines) sharing a secret verify each
 *        other's cookies. Without it, a random secret is used.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (len != MSTLS_UDP_COOKIE_SECRET_SIZE).
 */
MSTLS_EXTERN int mstls_udp_endpoint_set_cookie_secret(mstls_udp_endpoint *ep,
                                                      const uint8_t *secret,
                                                      size_t len);

/**
 * @brief Take the cookie secrets from fleet keys (mstls_fleet_new(),
 *        mstls_fleet_load()): cookies are minted under the fleet's current
 *        secret and verified under it or its accept-only secret, in the
 *        current or the previous cookie period. Every endpoint of a fleet
 *        must use the same settings.cookie_period and a cookie clock that
 *        follows wall-clock time (mstls_udp_endpoint_set_wall_offset();
 *        mstls_udp_loop does it), so that endpoints on several machines
 *        accept each other's cookies. The keys are copied: @p fleet may be
 *        freed afterwards, and calling this again with new fleet keys
 *        takes effect for the next datagram.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL).
 */
MSTLS_EXTERN int mstls_udp_endpoint_set_fleet(mstls_udp_endpoint *ep,
                                              const mstls_fleet *fleet);

/**
 * @brief Set the offset from the endpoint's time (the @p now of
 *        mstls_udp_endpoint_feed(), a monotonic clock) to wall-clock time:
 *        cookie periods are counted on now + @p offset (modulo 2^64).
 *        The endpoint stays sans-IO: the backend reads the clocks. Default
 *        0 (periods on the monotonic clock, fine for one machine).
 *        mstls_udp_loop sets it to CLOCK_REALTIME - CLOCK_MONOTONIC before
 *        each batch of datagrams, so stepping the wall clock moves the
 *        periods as it should.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL).
 */
MSTLS_EXTERN int mstls_udp_endpoint_set_wall_offset(mstls_udp_endpoint *ep,
                                                    mstls_tstamp offset);

/** @brief The user_data given to mstls_udp_endpoint_new(). */
MSTLS_EXTERN void *mstls_udp_endpoint_get_user_data(mstls_udp_endpoint *ep);

/* Peers ------------------------------------------------------------------ */

/** State of a peer. */
typedef enum mstls_udp_peer_state {
  MSTLS_UDP_PEER_HANDSHAKING = 1,
  MSTLS_UDP_PEER_OPEN = 2,
  MSTLS_UDP_PEER_CLOSED = 3
} mstls_udp_peer_state;

/**
 * @brief Send application data as one DTLS record.
 * @return @p len, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE (not
 *         established), MSTLS_E_MSG_SIZE (larger than the record payload
 *         that fits the MTU, see mstls_udp_peer_get_data_mtu()),
 *         MSTLS_E_TLS.
 */
MSTLS_EXTERN long mstls_udp_peer_send(mstls_udp_peer *peer, const void *data,
                                      size_t len);

/** @brief Largest payload of mstls_udp_peer_send(), 0 if not open. */
MSTLS_EXTERN size_t mstls_udp_peer_get_data_mtu(mstls_udp_peer *peer);

/**
 * @brief Close a peer: send close_notify if established, report it to the
 *        closed callback with MSTLS_E_CLOSED and forget it.
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE (already
 *         closed).
 */
MSTLS_EXTERN int mstls_udp_peer_close(mstls_udp_peer *peer);

/** @brief State of a peer. */
MSTLS_EXTERN mstls_udp_peer_state
mstls_udp_peer_get_state(mstls_udp_peer *peer);

/** @brief The peer's address; *plen receives its length. */
MSTLS_EXTERN const struct sockaddr *
mstls_udp_peer_get_addr(mstls_udp_peer *peer, socklen_t *plen);

/** @brief The peer's endpoint. */
MSTLS_EXTERN mstls_udp_endpoint *
mstls_udp_peer_get_endpoint(mstls_udp_peer *peer);

/** @brief Attach application data. */
MSTLS_EXTERN void mstls_udp_peer_set_user_data(mstls_udp_peer *peer,
                                               void *data);

/** @brief Application data of the peer, or NULL. */
MSTLS_EXTERN void *mstls_udp_peer_get_user_data(mstls_udp_peer *peer);

/** @brief The peer's GnuTLS session (escape hatch; do not change its
 *  transport). */
MSTLS_EXTERN gnutls_session_t mstls_udp_peer_get_gnutls(mstls_udp_peer *peer);

/** @brief The error that closed the peer, or 0. */
MSTLS_EXTERN int mstls_udp_peer_get_error(mstls_udp_peer *peer);

/**
 * @brief Why a peer failed, in words; see mstls_stream_get_error_detail().
 *        Valid until the closed callback returns (the peer is freed
 *        after it).
 * @return its length, 0 when it has not failed (or was closed in order);
 *         MSTLS_E_INVALID_ARGUMENT.
 */
MSTLS_EXTERN int mstls_udp_peer_get_error_detail(mstls_udp_peer *peer,
                                                 char *buf, size_t len);

/** What an established peer's DTLS session negotiated. */
typedef struct mstls_udp_peer_info {
  const char *version; /**< "DTLS1.2", ... or "-" */
  const char *cipher;  /**< e.g. "AES-256-GCM", or "-" */
  const char *group;   /**< key-exchange group, or "-" */
  int resumed;         /**< 1 if the handshake resumed a session */
} mstls_udp_peer_info;

/**
 * @brief Version, cipher, group and resumption of an established peer.
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE (not
 *         established).
 */
MSTLS_EXTERN int mstls_udp_peer_get_info(mstls_udp_peer *peer,
                                         mstls_udp_peer_info *info);

/**
 * @brief Take a client peer's resumption data: a blob that lets a later
 *        mstls_udp_endpoint_connect2() -- in this process or another, on
 *        this endpoint or another -- resume the session with this server
 *        or any server that shares its ticket key
 *        (mstls_credentials_set_ticket_key()).
 *
 * The blob is GnuTLS's session data, the same form as
 * mstls_session_get_resumption_data() gives on SCTP. It holds the
 * session's secrets: keep it like a private key. Valid once the handshake
 * completed, also from the closed callback. A resumed handshake checks no
 * certificate, and the blob does not record the server's name: offer it
 * only to the server (the name) it came from -- keep it keyed by that
 * name, as the endpoint's own cache does.
 * @param buf receives the blob; NULL to ask for its size.
 * @param plen in: size of @p buf; out: size of the blob.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL peer or plen, a server
 *         peer), MSTLS_E_INVALID_STATE (nothing to resume yet: the
 *         handshake has not completed, or the server gave neither a
 *         ticket nor a session ID), MSTLS_E_MSG_SIZE (@p buf too small or
 *         NULL; *plen set), MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_udp_peer_get_resumption_data(mstls_udp_peer *peer,
                                                    uint8_t *buf, size_t *plen);

/**
 * @brief The application protocol ALPN chose for an established peer
 *        (settings.tls.alpn); see mstls_stream_get_alpn().
 * @return its length, 0 when none; MSTLS_E_INVALID_ARGUMENT (NULL, or
 *         @p len too small), MSTLS_E_INVALID_STATE (not established).
 */
MSTLS_EXTERN int mstls_udp_peer_get_alpn(mstls_udp_peer *peer, char *buf,
                                         size_t len);

/**
 * @brief The identity of an established peer; see
 *        mstls_stream_get_peer_identity().
 * @return 0 (chain_len 0 when it sent no certificate),
 *         MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE, MSTLS_E_NOMEM,
 *         MSTLS_E_TLS.
 */
MSTLS_EXTERN int mstls_udp_peer_get_peer_identity(mstls_udp_peer *peer,
                                                  mstls_peer_identity *id);

/**
 * @brief The SRTP profile an established peer negotiated
 *        (settings.tls.srtp_profiles) and the SRTP master keys and salts
 *        derived for each direction.
 * @return 1 with @p keys filled, 0 when no SRTP profile was negotiated,
 *         MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE (not
 *         established), MSTLS_E_TLS.
 */
MSTLS_EXTERN int mstls_udp_peer_get_srtp(mstls_udp_peer *peer,
                                         mstls_srtp_keys *keys);

/**
 * @brief Keying material exported from an established peer's DTLS
 *        session (RFC 5705); see mstls_stream_export_keying_material().
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE,
 *         MSTLS_E_TLS, MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_udp_peer_export_keying_material(
    mstls_udp_peer *peer, const char *label, const uint8_t *context,
    size_t context_len, uint8_t *out, size_t out_len);

/* Ready-made poll loop ------------------------------------------------------
 */

/** An endpoint on a real UDP socket, driven by poll(2) and
 *  CLOCK_MONOTONIC; cookie periods follow CLOCK_REALTIME
 *  (mstls_udp_endpoint_set_wall_offset()). */
typedef struct mstls_udp_loop mstls_udp_loop;

/** @brief CLOCK_MONOTONIC now, in mstls_tstamp units. */
MSTLS_EXTERN mstls_tstamp mstls_udp_now(void);

/**
 * @brief Resolve "host:port", "[v6]:port" or "port" to an address.
 *
 * The port must be decimal digits only, in 1..65535 ("0", "99999",
 * "80x", "http" and an empty port are refused rather than wrapped or
 * looked up). "port" alone and an empty host mean 0.0.0.0.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL argument, malformed address,
 *         port not a number in 1..65535, host longer than 255 bytes, or
 *         a host name that does not resolve).
 */
MSTLS_EXTERN int mstls_udp_resolve(const char *hostport,
                                   struct sockaddr_storage *ss,
                                   socklen_t *plen);

/**
 * @brief Open a non-blocking UDP socket bound to @p bind_addr (port 0
 *        picks a free port) and an endpoint on it. callbacks->send is
 *        ignored (the loop sends with sendto).
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_TRANSPORT (socket or bind
 *         failed; errno tells why), and the errors of
 *         mstls_udp_endpoint_new().
 */
MSTLS_EXTERN int mstls_udp_loop_new(mstls_udp_loop **ploop,
                                    const struct sockaddr *bind_addr,
                                    socklen_t bind_len,
                                    const mstls_udp_settings *settings,
                                    const mstls_udp_callbacks *callbacks,
                                    mstls_credentials *cred, void *user_data);

/** @brief Close the socket and free the endpoint. NULL is ignored. */
MSTLS_EXTERN void mstls_udp_loop_del(mstls_udp_loop *loop);

/** @brief The loop's endpoint. */
MSTLS_EXTERN mstls_udp_endpoint *
mstls_udp_loop_get_endpoint(mstls_udp_loop *loop);

/** @brief The loop's socket (to add it to another event loop, call
 *  mstls_udp_loop_read() when readable). */
MSTLS_EXTERN int mstls_udp_loop_get_fd(mstls_udp_loop *loop);

/** @brief The bound local address. @return 0, MSTLS_E_TRANSPORT. */
MSTLS_EXTERN int mstls_udp_loop_get_local_addr(mstls_udp_loop *loop,
                                               struct sockaddr_storage *ss,
                                               socklen_t *plen);

/**
 * @brief Read and feed every datagram waiting on the socket (bounded
 *        batch), then run due timers.
 * @return number of datagrams read (>= 0), MSTLS_E_TRANSPORT.
 */
MSTLS_EXTERN int mstls_udp_loop_read(mstls_udp_loop *loop);

/**
 * @brief Wait up to @p timeout_ms (-1: until the next deadline or a
 *        datagram) for datagrams, feed them, run due timers.
 * @return number of datagrams read (>= 0), MSTLS_E_TRANSPORT.
 */
MSTLS_EXTERN int mstls_udp_loop_run_once(mstls_udp_loop *loop, int timeout_ms);

/**
 * @brief Run until mstls_udp_loop_stop() is called (from a callback or a
 *        signal handler) or @p timeout_ms passes (-1: no limit).
 * @return 0, MSTLS_E_TRANSPORT.
 */
MSTLS_EXTERN int mstls_udp_loop_run(mstls_udp_loop *loop, int timeout_ms);

/** @brief Make mstls_udp_loop_run() return (async-signal-safe). */
MSTLS_EXTERN void mstls_udp_loop_stop(mstls_udp_loop *loop);

/** @brief mstls_udp_endpoint_connect() with the loop's clock. */
MSTLS_EXTERN int mstls_udp_loop_connect(mstls_udp_loop *loop,
                                        const struct sockaddr *to,
                                        socklen_t tolen,
                                        const char *server_name,
                                        mstls_udp_peer **ppeer);

/** @brief mstls_udp_endpoint_connect2() with the loop's clock. */
MSTLS_EXTERN int
mstls_udp_loop_connect2(mstls_udp_loop *loop, const struct sockaddr *to,
                        socklen_t tolen, const char *server_name,
                        const uint8_t *resumption_data,
                        size_t resumption_data_len, mstls_udp_peer **ppeer);

#ifdef __cplusplus
}
#endif

#endif /* MSTLS_UDP_H */
