/*
 * mstls - TLS over SCTP streams (RFC 3436) and DTLS over UDP on GnuTLS.
 *
 * This header is the transport-agnostic core: the multistream session.
 * The core is sans-IO. It never touches a socket or a clock: messages
 * arrive through mstls_session_feed() (or the optional pull callback used
 * by the blocking functions), records leave through the push callback, and
 * time is an argument of mstls_session_handle_expiry().
 */
#ifndef MSTLS_H
#define MSTLS_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include <mstls/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MSTLS_STATICLIB)
#define MSTLS_EXTERN
#elif defined(BUILDING_MSTLS)
#define MSTLS_EXTERN __attribute__((visibility("default")))
#else
#define MSTLS_EXTERN
#endif

/* ------------------------------------------------------------------------
 * Errors
 *
 * Every function that can fail returns a negative MSTLS_E_* code. The codes
 * live in [MSTLS_ERR_MIN, MSTLS_ERR_MAX]. GnuTLS codes are never returned;
 * mstls_stream_get_tls_error() exposes the last one of a stream.
 * ---------------------------------------------------------------------- */

/** An argument was NULL, out of range or inconsistent. */
#define MSTLS_E_INVALID_ARGUMENT -201
/** Memory allocation failed. */
#define MSTLS_E_NOMEM -202
/** The operation would block; call again when more input arrived or the
 *  transport can take more output. */
#define MSTLS_E_AGAIN -203
/** The stream id is not a bidirectional stream of this session. */
#define MSTLS_E_INVALID_STREAM -204
/** The operation is not allowed in the stream's or session's state. */
#define MSTLS_E_INVALID_STATE -205
/** A message is larger than the configured maximum. Over SCTP an inbound
 *  message larger than settings.max_message (at least one full TLS record,
 *  18437 bytes) is discarded and fails its stream with this error: the
 *  stream lost a record (mstls_sctp_stats.oversized). */
#define MSTLS_E_MSG_SIZE -206
/** A stream's receive cap or the session's receive budget was exceeded;
 *  the stream has failed with this error. */
#define MSTLS_E_BUFFER_FULL -207
/** The TLS handshake failed (see mstls_stream_get_tls_error()). */
#define MSTLS_E_HANDSHAKE -208
/** The peer's certificate could not be verified (untrusted issuer, name
 *  mismatch, expired, ...). */
#define MSTLS_E_CERT_VERIFY -209
/** No protocol version acceptable to both sides (TLS 1.2 is the minimum). */
#define MSTLS_E_VERSION -210
/** A record failed decryption or was malformed. */
#define MSTLS_E_BAD_RECORD -211
/** RFC 3436: a message arrived unordered on a TLS stream (TLS streams use
 *  ordered delivery only). The stream failed after sending a fatal
 *  unexpected_message alert to the peer. */
#define MSTLS_E_UNORDERED -212
/** A handshake did not complete in time. */
#define MSTLS_E_TIMEOUT -213
/** The stream was closed (close_notify sent or received). */
#define MSTLS_E_CLOSED -214
/** The push or pull callback reported a transport failure. */
#define MSTLS_E_TRANSPORT -215
/** The peer sent a fatal alert. */
#define MSTLS_E_ALERT -216
/** The session was aborted: another stream failed while
 *  MSTLS_SETTINGS_ABORT_ON_FAILURE was set, or the transport failed. */
#define MSTLS_E_ABORTED -217
/** Another TLS failure (see mstls_stream_get_tls_error()). */
#define MSTLS_E_TLS -218
/** Credentials could not be loaded or are unusable. */
#define MSTLS_E_CREDENTIALS -219
/** An application callback returned an error. */
#define MSTLS_E_CALLBACK_FAILURE -220
/** The transport ended without close_notify. */
#define MSTLS_E_PREMATURE_EOF -221
/** A configured limit was reached (peers, half-open handshakes, rate). */
#define MSTLS_E_LIMIT -222
/** A datagram or message was malformed and was dropped. */
#define MSTLS_E_MALFORMED -223
/** The feature is not available in this build or on this system. */
#define MSTLS_E_UNSUPPORTED -224
/** The peer (association, UDP peer) is gone. */
#define MSTLS_E_PEER_GONE -225
/** The transport lost a message of this stream (an SCTP send failure or an
 *  aborted partial delivery): its TLS connection cannot go on. */
#define MSTLS_E_STREAM_LOST -226
/** The transport stream was reset (RFC 6525): its TLS connection ended. */
#define MSTLS_E_STREAM_RESET -227
/** The handshake finished but some streams failed to come up (the others
 *  are usable); see mstls_session_stats.streams_failed and each stream's
 *  mstls_stream_get_info().error. Not returned with
 *  MSTLS_SETTINGS_ACCEPT_PARTIAL. */
#define MSTLS_E_PARTIAL -228

/** Smallest (most negative) error code. */
#define MSTLS_ERR_MIN -299
/** Largest error code. */
#define MSTLS_ERR_MAX -201

/**
 * @brief Describe an error code.
 * @param err an MSTLS_E_* code (any int is accepted).
 * @return a static, human-readable string; "unknown error" for codes
 *         outside the range. Never NULL.
 */
MSTLS_EXTERN const char *mstls_strerror(int err);

/**
 * @brief Tell whether an error ends the whole session.
 * @param err an MSTLS_E_* code.
 * @return 1 if the session can no longer be used after @p err (NOMEM during
 *         session-wide work, TRANSPORT, ABORTED, CALLBACK_FAILURE,
 *         PEER_GONE), 0 if the
 *         error concerns one call or one stream only, or is not an error.
 */
MSTLS_EXTERN int mstls_err_is_fatal(int err);

/* ------------------------------------------------------------------------
 * Basic types
 * ---------------------------------------------------------------------- */

/** Time in nanoseconds since an arbitrary epoch chosen by the caller. */
typedef uint64_t mstls_tstamp;

/** No deadline. */
#define MSTLS_TSTAMP_NEVER UINT64_MAX

/** One second in mstls_tstamp units. */
#define MSTLS_SECONDS ((mstls_tstamp)1000000000ULL)
/** One millisecond in mstls_tstamp units. */
#define MSTLS_MILLISECONDS ((mstls_tstamp)1000000ULL)

/** A piece of an outgoing message. */
typedef struct mstls_iovec {
  const void *base;
  size_t len;
} mstls_iovec;

/**
 * Allocator hooks. Pass NULL wherever a `const mstls_mem *` is taken to use
 * malloc/free. The struct must outlive every object created with it.
 */
typedef struct mstls_mem {
  void *user_data;
  void *(*malloc)(size_t size, void *user_data);
  void (*free)(void *ptr, void *user_data);
  void *(*calloc)(size_t nmemb, size_t size, void *user_data);
  void *(*realloc)(void *ptr, size_t size, void *user_data);
} mstls_mem;

/** Size of the buffers of mstls_stream_get_error_detail() and
 *  mstls_udp_peer_get_error_detail() (a detail is cut to fit). */
#define MSTLS_DETAIL_MAX 256

/** Log levels of mstls_set_log(); each includes the ones before it.
 *  OFF and ERROR keep their values; INFO took the value 2, so DEBUG is
 *  3 now. */
typedef enum mstls_log_level {
  MSTLS_LOG_OFF = 0,
  /** A stream or peer failed: the error and its detail. */
  MSTLS_LOG_ERROR = 1,
  /** mstls's own events: a handshake completed (stream or peer address,
   *  version, cipher, full or resumed), a stream, peer or session closed
   *  or failed (and why), a peer reaped (idle) or timed out in its
   *  handshake, SCTP association and path events, and datagrams dropped
   *  or refused by a limit, summarised per reason (a line at the 1st,
   *  2nd, 4th, 8th, ... of each reason, with the count so far: a flood of
   *  n datagrams gives about log2(n) lines). */
  MSTLS_LOG_INFO = 2,
  /** Also GnuTLS's own log at its level n - 2 (3: GnuTLS level 1, ...). */
  MSTLS_LOG_DEBUG = 3
} mstls_log_level;

/** A log line (no newline) at @p level. Called from whichever thread
 *  runs the connection; keep it short and thread-safe. */
typedef void (*mstls_log_cb)(int level, const char *line, void *user_data);

/**
 * @brief Send mstls's log (and, from MSTLS_LOG_DEBUG on, GnuTLS's) to
 *        @p cb; off by default, and then free: nothing is formatted.
 *        Process-wide, like GnuTLS's own log. @p level MSTLS_LOG_OFF or a
 *        NULL callback turns it off.
 *
 * Thread-safe: it may be called from any thread while connections run.
 * Each line reaches a callback with the user data and the level given
 * with it in the same call, never with another call's. A line that
 * another thread was logging at that moment may still reach the previous
 * callback with its user data, so keep that data valid (static data is
 * the simple way).
 */
MSTLS_EXTERN void mstls_set_log(mstls_log_cb cb, int level, void *user_data);

/** Which side of the TLS handshake a session plays. */
typedef enum mstls_role {
  MSTLS_ROLE_CLIENT = 0,
  MSTLS_ROLE_SERVER = 1
} mstls_role;

/* ------------------------------------------------------------------------
 * Credentials
 * ---------------------------------------------------------------------- */

/** Certificates, keys, trust anchors, pre-shared keys and the
 *  session-ticket key. Reference counted: every session, endpoint and peer
 *  that uses them holds a reference, so the application may drop its own
 *  (mstls_credentials_del()) while connections still use them; they are
 *  freed with the last reference. To replace a server's certificate while
 *  it serves, load new credentials and hand them to the next
 *  mstls_sctp_accept() / mstls_session_new(), or to
 *  mstls_udp_endpoint_set_credentials(): new handshakes use them, running
 *  connections keep theirs. Do not change credentials (add keys,
 *  certificates, trust) once a connection uses them. */
typedef struct mstls_credentials mstls_credentials;

/**
 * @brief Create empty credentials.
 * @param pcred receives the new object.
 * @param mem allocator, or NULL.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (pcred NULL), MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_credentials_new(mstls_credentials **pcred,
                                       const mstls_mem *mem);

/** @brief Drop a reference (the creator's, or one taken with
 *  mstls_credentials_ref()); the last one frees them. NULL is ignored.
 *  Thread-safe. */
MSTLS_EXTERN void mstls_credentials_del(mstls_credentials *cred);

/** @brief Take a reference to @p cred (thread-safe).
 *  @return @p cred (NULL for NULL). */
MSTLS_EXTERN mstls_credentials *mstls_credentials_ref(mstls_credentials *cred);

/**
 * @brief Load a certificate chain and its private key from PEM files.
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_CREDENTIALS (unreadable or
 *         mismatched files), MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_credentials_set_key_file(mstls_credentials *cred,
                                                const char *cert_file,
                                                const char *key_file);

/**
 * @brief Load a certificate chain and its private key from PEM in memory.
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_CREDENTIALS, MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_credentials_set_key_mem(mstls_credentials *cred,
                                               const char *cert_pem,
                                               size_t cert_len,
                                               const char *key_pem,
                                               size_t key_len);

/**
 * @brief Generate an ECDSA P-256 key and a self-signed certificate for
 *        @p name (subject CN and DNS subjectAltName), valid for one day.
 *
 * Meant for tests and demos. The certificate can be exported with
 * mstls_credentials_get_cert_pem() and trusted by a peer.
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_CREDENTIALS, MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_credentials_set_self_signed(mstls_credentials *cred,
                                                   const char *name);

/**
 * @brief Copy the PEM of the first certificate of the loaded chain.
 * @param buf destination, may be NULL to query the size.
 * @param plen in: size of @p buf; out: bytes needed (including a NUL).
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE (no
 *         certificate), MSTLS_E_MSG_SIZE (buffer too small, *plen set),
 *         MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_credentials_get_cert_pem(mstls_credentials *cred,
                                                char *buf, size_t *plen);

/**
 * @brief Trust the CA certificates of a PEM file.
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_CREDENTIALS (unreadable or
 *         no certificate in it).
 */
MSTLS_EXTERN int mstls_credentials_set_trust_file(mstls_credentials *cred,
                                                  const char *ca_file);

/**
 * @brief Trust the CA certificates of PEM data in memory.
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_CREDENTIALS.
 */
MSTLS_EXTERN int mstls_credentials_set_trust_mem(mstls_credentials *cred,
                                                 const char *pem, size_t len);

/**
 * @brief Trust the system's CA store.
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_CREDENTIALS.
 */
MSTLS_EXTERN int mstls_credentials_set_system_trust(mstls_credentials *cred);

/** Size of a session-ticket key. */
#define MSTLS_TICKET_KEY_SIZE 64

/**
 * @brief Set the key that encrypts session tickets (servers).
 *
 * Without it, a random key is generated on first use. Share one key between
 * processes so that any of them resumes a session another one made.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (len != MSTLS_TICKET_KEY_SIZE).
 */
MSTLS_EXTERN int mstls_credentials_set_ticket_key(mstls_credentials *cred,
                                                  const uint8_t *key,
                                                  size_t len);

/* ------------------------------------------------------------------------
 * Fleet keys
 *
 * One secret shared by every worker on every machine of a service (a
 * "fleet"), from which the DTLS cookie secret
 * (mstls_udp_endpoint_set_fleet()) and the session-ticket key
 * (mstls_credentials_set_fleet()) are derived with HKDF-SHA256 under
 * distinct labels. Both rotate with wall-clock time without any
 * coordination: cookie keys every settings.cookie_period (the current and
 * the previous period are valid), ticket keys inside GnuTLS every three
 * session lifetimes (18 h by default; the current and the previous key
 * are valid). A fleet may hold a second, accept-only secret so that the
 * secret can be replaced without failing handshakes in flight (see
 * docs/scale-out.md).
 * ---------------------------------------------------------------------- */

/** Fleet keys: a current secret and an optional accept-only one. */
typedef struct mstls_fleet mstls_fleet;

/** Shortest fleet secret in bytes. */
#define MSTLS_FLEET_SECRET_MIN 32
/** Longest fleet secret in bytes. */
#define MSTLS_FLEET_SECRET_MAX 64
/** Length of the text of mstls_fleet_get_id(), with its terminating 0. */
#define MSTLS_FLEET_ID_SIZE 17

/**
 * @brief Create fleet keys from a secret in memory.
 * @param pfleet receives the object.
 * @param secret the current secret: cookies are minted and tickets
 *        encrypted with keys derived from it. Copied.
 * @param len its length, MSTLS_FLEET_SECRET_MIN..MSTLS_FLEET_SECRET_MAX.
 * @param mem allocator, or NULL.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL argument, length out of
 *         range), MSTLS_E_NOMEM, MSTLS_E_TLS (key derivation failed).
 */
MSTLS_EXTERN int mstls_fleet_new(mstls_fleet **pfleet, const uint8_t *secret,
                                 size_t len, const mstls_mem *mem);

/**
 * @brief Set (or with @p secret NULL, clear) the accept-only secret:
 *        cookies made under it are still accepted, nothing new is made
 *        under it. Used while the fleet secret is replaced.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (@p fleet NULL, length out of
 *         MSTLS_FLEET_SECRET_MIN..MSTLS_FLEET_SECRET_MAX), MSTLS_E_TLS.
 */
MSTLS_EXTERN int mstls_fleet_set_accept(mstls_fleet *fleet,
                                        const uint8_t *secret, size_t len);

/**
 * @brief Load fleet keys from a file.
 *
 * The file is text: blank lines and lines starting with '#' are ignored;
 * the first other line is the current secret, an optional second one the
 * accept-only secret, each as hexadecimal digits (64..128 digits, that is
 * 32..64 bytes; spaces around them are ignored). A file that other users
 * may read or write, or the group may write (mode o+r, o+w or g+w), is
 * refused: it holds the key to every cookie and session ticket of the
 * fleet. A path that is not a regular file (a FIFO too) is refused
 * without blocking.
 * @param pfleet receives the object.
 * @param path the file.
 * @param mem allocator, or NULL.
 * @param err if not NULL, receives a message naming the file (and the
 *        line) of the problem, e.g. "fleet.key:3: not hexadecimal".
 * @param errlen size of @p err.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL argument), MSTLS_E_TRANSPORT
 *         (the file cannot be opened or read; errno tells why),
 *         MSTLS_E_CREDENTIALS (readable or writable by others, writable
 *         by the group, not a regular file, no secret,
 *         more than two, a line that is not hexadecimal, an odd number of
 *         digits, a secret shorter or longer than allowed, a line longer
 *         than 256 characters, a NUL byte), MSTLS_E_NOMEM, MSTLS_E_TLS.
 */
MSTLS_EXTERN int mstls_fleet_load(mstls_fleet **pfleet, const char *path,
                                  const mstls_mem *mem, char *err,
                                  size_t errlen);

/** @brief Free fleet keys (wiping them). NULL is ignored. Objects that
 *  were given the fleet keep their copies of the derived keys. */
MSTLS_EXTERN void mstls_fleet_del(mstls_fleet *fleet);

/**
 * @brief A short public fingerprint of the current secret (16 hex digits
 *        and a 0), so that operators can check that every worker loaded
 *        the same file. It reveals nothing about the secret.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL, @p len < MSTLS_FLEET_ID_SIZE).
 */
MSTLS_EXTERN int mstls_fleet_get_id(const mstls_fleet *fleet, char *buf,
                                    size_t len);

/**
 * @brief Set the session-ticket key of @p cred to the one derived from the
 *        fleet's current secret (mstls_credentials_set_ticket_key() with a
 *        derived key). Servers with the same fleet resume each other's
 *        sessions; a ticket made under another secret leads to a full
 *        handshake, never to a failure. GnuTLS rotates the key with
 *        wall-clock time; servers must use the same session lifetime
 *        (mstls_credentials_set_session_cache()) to agree on its periods.
 *        Call it before the credentials are used.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL).
 */
MSTLS_EXTERN int mstls_credentials_set_fleet(mstls_credentials *cred,
                                             const mstls_fleet *fleet);

/** Counters of a credentials object's TLS 1.2 session cache. */
typedef struct mstls_session_cache_stats {
  uint32_t entries; /**< sessions held now */
  uint64_t stored;  /**< sessions stored by full handshakes */
  uint64_t hits;    /**< lookups that found the session */
  uint64_t misses;  /**< lookups of unknown (or evicted) session IDs */
  uint64_t evicted; /**< oldest sessions dropped to make room */
} mstls_session_cache_stats;

/**
 * @brief Size the server-side session cache for TLS 1.2 session-ID
 *        resumption (RFC 5246 §7.4.1.2).
 *
 * Every server session that uses these credentials stores its TLS 1.2
 * session here, so a client that resumes by session ID (instead of with
 * a ticket) resumes on any stream and any later association served with
 * the same credentials. When full, the oldest entry is dropped. Default:
 * 1024 entries, 3600 s. Changing the size drops every entry.
 * @param max_entries 0 turns the cache off.
 * @param lifetime_seconds how long a session may be resumed (GnuTLS
 *        checks it on lookup).
 * @return 0, MSTLS_E_INVALID_ARGUMENT (cred NULL, or lifetime 0 with a
 *         non-zero size).
 */
MSTLS_EXTERN int mstls_credentials_set_session_cache(mstls_credentials *cred,
                                                     uint32_t max_entries,
                                                     uint32_t lifetime_seconds);

/** @brief Copy the session cache's counters.
 *  @return 0, MSTLS_E_INVALID_ARGUMENT. */
MSTLS_EXTERN int
mstls_credentials_get_session_cache_stats(mstls_credentials *cred,
                                          mstls_session_cache_stats *stats);

/** Longest PSK identity accepted (RFC 4279 allows 2^16-1; real
 *  deployments use short names). */
#define MSTLS_PSK_IDENTITY_MAX 128
/** PSK sizes accepted, in bytes. */
#define MSTLS_PSK_KEY_MIN 16
#define MSTLS_PSK_KEY_MAX 64

/**
 * @brief Add a pre-shared key (TLS 1.3 external PSK, RFC 8446 §2.2; DTLS
 *        1.2 PSK cipher suites, RFC 4279) to the credentials.
 *
 * A client offers the first key added, under its identity. A server
 * accepts every identity added (call it once per peer) and looks the key
 * up by the identity the client sends. Sessions and endpoints created with
 * such credentials enable the PSK key exchanges (with (EC)DHE first, then
 * plain PSK for constrained peers); a certificate is then optional: a
 * client needs no server_name, and a server no certificate, when both
 * sides use PSK. The identity a client used is in
 * mstls_peer_identity.psk_identity.
 * @param identity 1..MSTLS_PSK_IDENTITY_MAX bytes of text, copied.
 * @param key MSTLS_PSK_KEY_MIN..MSTLS_PSK_KEY_MAX bytes, copied.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL, sizes, an identity added
 *         twice), MSTLS_E_NOMEM, MSTLS_E_CREDENTIALS.
 */
MSTLS_EXTERN int mstls_credentials_add_psk(mstls_credentials *cred,
                                           const char *identity,
                                           const uint8_t *key, size_t keylen);

/**
 * @brief Load a raw public key (RFC 7250) and its private key from PEM
 *        files: the key this side presents, instead of a certificate, to
 *        a peer that accepts raw public keys (mstls_tls_options
 *        .raw_public_keys on both sides).
 *
 * The credentials may hold a certificate as well: the handshake then uses
 * the raw key with peers that negotiate raw keys and the certificate with
 * the others.
 * @param pubkey_file a SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----",
 *        as `certtool --pubkey-info` or `openssl pkey -pubout` write it),
 *        or NULL to take the public half of @p key_file.
 * @param key_file the private key (PKCS #8, or the RSA or EC form).
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL), MSTLS_E_CREDENTIALS
 *         (unreadable files, not such keys, or a public key that is not
 *         the private key's), MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_credentials_set_rawpk_file(mstls_credentials *cred,
                                                  const char *pubkey_file,
                                                  const char *key_file);

/**
 * @brief mstls_credentials_set_rawpk_file() from PEM in memory.
 * @param pubkey_pem the public key, or NULL (with @p pubkey_len 0) to take
 *        the public half of the private key.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL or empty key, a length
 *         without a public key), MSTLS_E_CREDENTIALS, MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_credentials_set_rawpk_mem(mstls_credentials *cred,
                                                 const char *pubkey_pem,
                                                 size_t pubkey_len,
                                                 const char *key_pem,
                                                 size_t key_len);

/** @brief The underlying GnuTLS credentials (escape hatch). */
MSTLS_EXTERN gnutls_certificate_credentials_t
mstls_credentials_get_gnutls(mstls_credentials *cred);

/* ------------------------------------------------------------------------
 * Multistream session
 * ---------------------------------------------------------------------- */

/**
 * One association (or any multistream transport) with one TLS channel per
 * bidirectional stream.
 *
 * Threads: the *_blocking functions take the session's lock, so blocking
 * send and receive on different streams may run in different threads at
 * once. Callbacks called from inside them run with the lock held and must
 * not call *_blocking functions. The non-blocking functions take no lock:
 * call them from one thread at a time per session.
 */
typedef struct mstls_session mstls_session;

/** How the streams of a session get their TLS sessions. */
typedef enum mstls_policy {
  /** Full handshake on stream 0; every other stream then resumes that
   *  session in parallel. Cheapest in CPU. The default. */
  MSTLS_POLICY_RESUME = 0,
  /** Full handshakes on every stream at once. Fewest round trips. */
  MSTLS_POLICY_PARALLEL = 1,
  /** A stream handshakes on first use (RFC 3436 §5 allows the delay);
   *  resumes stream 0's session when one is available. */
  MSTLS_POLICY_LAZY = 2
} mstls_policy;

/* ------------------------------------------------------------------------
 * TLS options shared by SCTP streams and UDP peers
 *
 * The same options, callbacks and accessors serve a stream of a multistream
 * session and a DTLS peer of a UDP endpoint: mstls_settings.tls and
 * mstls_udp_settings.tls.
 * ---------------------------------------------------------------------- */

struct mstls_udp_peer;
struct sockaddr;

/** Which TLS connection a callback is about. */
typedef struct mstls_tls_ctx {
  /** MSTLS_ROLE_CLIENT or MSTLS_ROLE_SERVER (an mstls_role). */
  int role;
  /** Multistream session: the session and the stream id; NULL and -1 for
   *  a UDP peer. */
  mstls_session *session;
  int stream;
  /** UDP: the peer and its address; NULL otherwise. */
  struct mstls_udp_peer *peer;
  const struct sockaddr *addr;
  unsigned addrlen;
} mstls_tls_ctx;

/**
 * Called with each new GnuTLS session after mstls has set it up (priority,
 * credentials, verification, ALPN) and before its first handshake message,
 * for whatever mstls does not offer itself.
 * Do not change the session's transport or its pointer
 * (gnutls_session_set_ptr()): mstls uses both.
 * @return 0, or a negative MSTLS_E_* code that fails the stream or peer
 *         (a fatal one, mstls_err_is_fatal(), fails the whole session;
 *         a value outside the MSTLS_E_* range counts as
 *         MSTLS_E_CALLBACK_FAILURE).
 */
typedef int (*mstls_configure_cb)(gnutls_session_t tls,
                                  const mstls_tls_ctx *ctx, void *user_data);

/**
 * One line of the NSS key log format ("LABEL CLIENT_RANDOM SECRET" in
 * hex, no newline), as SSLKEYLOGFILE files hold them, for the connection
 * @p ctx. Wireshark and tshark decrypt a capture with such a file.
 */
typedef void (*mstls_keylog_cb)(const mstls_tls_ctx *ctx, const char *line,
                                void *user_data);

/**
 * Server: the name a client asked for with SNI ("" when it sent none),
 * before the server's certificate is chosen. Set *@p cred to the
 * credentials to present for that name (their certificate and key; they
 * must outlive the connection), or leave it NULL for the session's or
 * endpoint's own.
 * @return 0 to go on, or a negative MSTLS_E_* code to refuse the client
 *         (the handshake ends with an unrecognized_name alert).
 */
typedef int (*mstls_sni_cb)(const mstls_tls_ctx *ctx, const char *name,
                            mstls_credentials **cred, void *user_data);

/** Size of a SHA-256 certificate fingerprint. */
#define MSTLS_SHA256_LEN 32

/** What a peer's certificate says about it. */
typedef struct mstls_peer_identity {
  /** Certificates the peer sent (0: none). */
  unsigned chain_len;
  /** Subject and issuer of the peer's own certificate (RFC 4514 text),
   *  "" when none; cut at the buffer's size. */
  char subject[256];
  char issuer[256];
  /** The subjectAltName entries of type dNSName, iPAddress, URI and
   *  rfc822Name, comma separated ("DNS:a.example,IP:192.0.2.1"); cut at
   *  the buffer's size. */
  char alt_names[512];
  /** SHA-256 of the peer's certificate (DER). */
  uint8_t sha256[MSTLS_SHA256_LEN];
  /** 1 when the certificate was verified: against the trust anchors and
   *  the expected name, by a pinned fingerprint, or by the verify
   *  callback's acceptance. */
  int verified;
  /** The PSK identity of the handshake (mstls_credentials_add_psk()),
   *  "" when no pre-shared key was used. */
  char psk_identity[MSTLS_PSK_IDENTITY_MAX + 1];
  /** 1 when the peer presented a raw public key (RFC 7250) instead of a
   *  certificate: chain_len is 1, sha256 is the SHA-256 of its
   *  SubjectPublicKeyInfo (mstls_spki_sha256()), subject, issuer and
   *  alt_names are "". */
  int raw_public_key;
} mstls_peer_identity;

/**
 * A custom verification step. Called during the handshake with the peer's
 * identity and mstls's own verdict: 0 when the certificate verified
 * against the trust anchors (or matched a pin), MSTLS_E_CERT_VERIFY when
 * it did not (with MSTLS_SETTINGS_INSECURE / MSTLS_UDP_INSECURE nothing is
 * checked and the verdict is 0). Return 0 to accept the peer, a negative
 * MSTLS_E_* code to refuse it (the handshake fails with a bad_certificate
 * alert and the stream or peer with MSTLS_E_CERT_VERIFY).
 */
typedef int (*mstls_verify_cb)(const mstls_tls_ctx *ctx,
                               const mstls_peer_identity *id, int verdict,
                               void *user_data);

/** SRTP keys of a DTLS-SRTP peer (RFC 5764 §4.2), from
 *  mstls_udp_peer_get_srtp(). */
typedef struct mstls_srtp_keys {
  const char *profile; /**< e.g. "SRTP_AES128_CM_HMAC_SHA1_80" */
  uint8_t client_key[32];
  uint8_t client_salt[14];
  uint8_t server_key[32];
  uint8_t server_salt[14];
  size_t key_len;  /**< bytes used of each key */
  size_t salt_len; /**< bytes used of each salt */
} mstls_srtp_keys;

/** TLS options: mstls_settings.tls, mstls_udp_settings.tls. Zero (the
 *  default) turns each off. */
typedef struct mstls_tls_options {
  /** ALPN (RFC 7301): the protocols, comma separated ("diameter,h2"), each
   *  1..255 bytes, at most 16. A client offers them in this order; a
   *  server picks the first of its list that the client offered. Copied.
   *  Read the result with mstls_stream_get_alpn() /
   *  mstls_udp_peer_get_alpn(). */
  const char *alpn;
  /** 1: fail the handshake (no_application_protocol alert) when the peer
   *  offers or accepts none of alpn. */
  int alpn_required;
  /** Pins: SHA-256 fingerprints of the certificates the peer may present,
   *  npins x MSTLS_SHA256_LEN bytes, copied. When set, the peer's own
   *  certificate must match one of them and trust anchors and names are
   *  not consulted (RFC 6353's SNMP fingerprints, WebRTC's
   *  a=fingerprint). A server with pins requires a client certificate.
   *  A peer's raw public key (raw_public_keys) matches the SHA-256 of its
   *  SubjectPublicKeyInfo (mstls_spki_sha256()); both kinds may share the
   *  list. */
  const uint8_t *pins;
  size_t npins;
  /** See mstls_configure_cb, mstls_keylog_cb, mstls_verify_cb,
   *  mstls_sni_cb (servers); NULL: none. */
  mstls_configure_cb configure;
  mstls_keylog_cb keylog;
  mstls_verify_cb verify;
  mstls_sni_cb sni;
  /** Passed to the callbacks. */
  void *user_data;
  /** DTLS-SRTP (RFC 5764), DTLS peers only: the SRTP protection profiles a
   *  client offers or a server accepts, colon separated, as GnuTLS names
   *  them ("SRTP_AES128_CM_HMAC_SHA1_80:SRTP_AES128_CM_HMAC_SHA1_32";
   *  GnuTLS 3.7 has no AEAD profiles of RFC 7714). Read the
   *  chosen profile and the keys with mstls_udp_peer_get_srtp(). Copied;
   *  a session of SCTP streams refuses it. */
  const char *srtp_profiles;
  /** 1: negotiate raw public keys (RFC 7250) for both sides' certificate
   *  types, preferred to X.509 when both sides allow them. This side
   *  presents the raw key of its credentials
   *  (mstls_credentials_set_rawpk_file()) when the peer takes raw keys,
   *  its certificate otherwise; a peer that does not negotiate raw keys
   *  gets X.509 as before. No trust anchor vouches for a raw key: a peer's
   *  raw key is accepted only when it matches one of pins or the verify
   *  callback accepts it (its verdict is then MSTLS_E_CERT_VERIFY unless a
   *  pin matched). Without pins and a verify callback a raw key is
   *  refused, MSTLS_SETTINGS_INSECURE / MSTLS_UDP_INSECURE included. */
  int raw_public_keys;
} mstls_tls_options;

/**
 * @brief SHA-256 fingerprint of a DER certificate, the value to pin.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL or empty), MSTLS_E_TLS.
 */
MSTLS_EXTERN int mstls_cert_sha256(const gnutls_datum_t *der,
                                   uint8_t out[MSTLS_SHA256_LEN]);

/**
 * @brief SHA-256 of a public key's SubjectPublicKeyInfo (DER), the value
 *        to pin for a raw public key (RFC 7250; also RFC 7469's pin-sha256
 *        before base64).
 * @param key the public key, PEM ("-----BEGIN PUBLIC KEY-----") or DER.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL, empty, or not a public key),
 *         MSTLS_E_TLS.
 */
MSTLS_EXTERN int mstls_spki_sha256(const gnutls_datum_t *key,
                                   uint8_t out[MSTLS_SHA256_LEN]);

/**
 * @brief The SHA-256 of the credentials' raw public key
 *        (mstls_credentials_set_rawpk_file()): the value a peer pins
 *        (mstls_tls_options.pins) to accept it.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL), MSTLS_E_INVALID_STATE (no
 *         raw public key loaded).
 */
MSTLS_EXTERN int
mstls_credentials_get_rawpk_sha256(mstls_credentials *cred,
                                   uint8_t out[MSTLS_SHA256_LEN]);

/**
 * @brief Parse a fingerprint written as 64 hex digits, optionally in
 *        pairs separated by ':' (as `openssl x509 -fingerprint -sha256`
 *        prints it), case-insensitive.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (not such a fingerprint).
 */
MSTLS_EXTERN int mstls_sha256_from_hex(const char *hex,
                                       uint8_t out[MSTLS_SHA256_LEN]);

/** Skip certificate verification (explicit, never the default). */
#define MSTLS_SETTINGS_INSECURE 0x01u
/** Any stream failure aborts the whole session. */
#define MSTLS_SETTINGS_ABORT_ON_FAILURE 0x02u
/** Server: ask for a client certificate; verify it if one is sent. */
#define MSTLS_SETTINGS_REQUEST_CLIENT_CERT 0x04u
/** Server: require a valid client certificate. */
#define MSTLS_SETTINGS_REQUIRE_CLIENT_CERT 0x08u
/** Kept for compatibility: resumed streams use an (EC)DHE exchange
 *  (psk_dhe_ke) by default now, so this flag changes nothing. */
#define MSTLS_SETTINGS_RESUME_DHE 0x10u
/** Cheaper resumption (TLS 1.3 psk_ke: no (EC)DHE on resumed streams).
 *  Client: resumed streams offer psk_ke first and psk_dhe_ke second (a
 *  server that refuses psk_ke, as OpenSSL's do by default, still
 *  resumes). Server: accept psk_ke when the client prefers it; without
 *  the flag a server always resumes with psk_dhe_ke. Every resumed
 *  stream's keys then hang on stream 0's resumption secret, without
 *  forward secrecy of their own; see docs/policies.md for the cost. */
#define MSTLS_SETTINGS_RESUME_PSK_KE 0x20u
/** Server: issue no TLS session tickets (clients then resume TLS 1.2
 *  sessions by session ID from the credentials' session cache, and TLS
 *  1.3 clients do full handshakes). */
#define MSTLS_SETTINGS_NO_TICKETS 0x40u
/** mstls_session_handshake() succeeds when at least one stream came up,
 *  instead of returning MSTLS_E_PARTIAL when some failed. */
#define MSTLS_SETTINGS_ACCEPT_PARTIAL 0x80u

/** Settings of a session. Fill with mstls_settings_default() first. */
typedef struct mstls_settings {
  /** Handshake policy. The client's policy decides which streams
   *  handshake when; a server's only decides what its
   *  mstls_session_handshake() waits for: every stream (RESUME, PARALLEL)
   *  or none (LAZY). Give both sides the same policy. */
  mstls_policy policy;
  /** Number of bidirectional streams, 1..65535. Default 10. */
  uint32_t nstreams;
  /** Client: the server's expected name, used for SNI and verification.
   *  Required unless MSTLS_SETTINGS_INSECURE, or the credentials hold a
   *  pre-shared key (mstls_credentials_add_psk()). Copied. */
  const char *server_name;
  /** GnuTLS priority string; NULL for the default (TLS 1.3 and 1.2).
   *  Versions below TLS 1.2 are always removed. Copied. */
  const char *priority;
  /** MSTLS_SETTINGS_* flags. Default 0. */
  uint32_t flags;
  /** Handshake timeout per stream. Default 30 s. */
  mstls_tstamp handshake_timeout;
  /** Largest message accepted by mstls_session_feed(). Default 256 KiB;
   *  at least 18437 (RFC 3436 §3.2: a full record fits in one message). */
  size_t max_message;
  /** Bytes that may wait on one stream (received, not yet read).
   *  Default 1 MiB. */
  size_t stream_rx_cap;
  /** Bytes that may wait on all streams together. Default 64 MiB. */
  size_t session_rx_budget;
  /** Allocator, NULL for libc. */
  const mstls_mem *mem;
  /** Client: resumption data of an earlier association
   *  (mstls_session_get_resumption_data()), as if given to
   *  mstls_session_set_resumption_data() right after creation -- the way
   *  to resume through mstls_sctp_connect(). NULL: none. Copied. */
  const uint8_t *resumption_data;
  /** Length of resumption_data. */
  size_t resumption_data_len;
  /** Client, RESUME and LAZY: how long the other streams wait for stream
   *  0's TLS 1.3 ticket once its handshake is done, before they do full
   *  handshakes. 0 (default): twice stream 0's measured handshake time
   *  (one round trip plus the server's work). Never longer than
   *  handshake_timeout. Counted in mstls_session_stats.ticket_waits_expired
   *  when it runs out. */
  mstls_tstamp ticket_wait;
  /** Blocking receives (mstls_stream_recv_blocking(),
   *  mstls_session_recv_any_blocking()): the longest one call waits for
   *  data before it returns MSTLS_E_AGAIN, as recv(2) does with
   *  SO_RCVTIMEO; nothing fails, the next call waits again. 0 (default):
   *  no limit -- a call then returns when data arrives, the stream closes
   *  or fails, or the transport reports the peer gone (over SCTP within the
   *  failure-detection bound of mstls_sctp_config, docs/sctp.md). Measured
   *  with the clock callback (or CLOCK_MONOTONIC); while another thread
   *  pulls, a call notices its deadline when that pull returns. */
  mstls_tstamp recv_timeout;
  /** ALPN, pins, and the configure, keylog and verify callbacks of every
   *  stream's TLS session (mstls_tls_options). Default: none. */
  mstls_tls_options tls;
} mstls_settings;

/**
 * @brief Fill @p settings with defaults.
 * @param settings must not be NULL.
 */
MSTLS_EXTERN void mstls_settings_default(mstls_settings *settings);

/** Flag of a message: it was delivered unordered. */
#define MSTLS_MSG_UNORDERED 0x01u

/**
 * Push callback (required): send one message on @p stream. The message is
 * the concatenation of @p iov. Return 0 when the whole message was taken,
 * MSTLS_E_AGAIN when it would block (nothing taken; it is offered again
 * later), any other negative value on a transport failure: the session
 * then ends with that value if it is MSTLS_E_CLOSED (the transport closed
 * in order), MSTLS_E_PEER_GONE or MSTLS_E_TIMEOUT, else with
 * MSTLS_E_TRANSPORT.
 */
typedef int (*mstls_push_cb)(mstls_session *session, uint16_t stream,
                             const mstls_iovec *iov, size_t iovcnt,
                             void *user_data);

/**
 * Pull callback (optional; needed by the *_blocking functions): wait at most
 * @p timeout_ms (-1: no limit) for one whole message, copy it into @p buf
 * (@p len is the session's max_message) and set @p stream and @p flags
 * (MSTLS_MSG_*). Return the message length, MSTLS_E_AGAIN on timeout,
 * MSTLS_E_MSG_SIZE if the message did not fit (it is dropped), or another
 * negative value on a transport failure: the session then ends with that
 * value if it is MSTLS_E_CLOSED (the transport closed in order; streams
 * that saw no close_notify report it, never a clean end),
 * MSTLS_E_PEER_GONE or MSTLS_E_ABORTED, else with MSTLS_E_TRANSPORT. A
 * length above @p len fails the session with MSTLS_E_TRANSPORT.
 */
typedef int (*mstls_pull_cb)(mstls_session *session, uint32_t *flags,
                             uint16_t *stream, uint8_t *buf, size_t len,
                             int timeout_ms, void *user_data);

/**
 * Receive-data callback (optional): plaintext for @p stream. When set, data
 * is delivered here as soon as it is decrypted (callback mode) and
 * mstls_stream_recv() is not used. Return 0, or a negative value to fail
 * the session with MSTLS_E_CALLBACK_FAILURE.
 */
typedef int (*mstls_recv_data_cb)(mstls_session *session, uint16_t stream,
                                  const uint8_t *data, size_t len,
                                  void *user_data);

/** Stream events for mstls_stream_event_cb. */
typedef enum mstls_stream_event {
  /** The stream's handshake completed (or it became plaintext). */
  MSTLS_EVENT_HANDSHAKE_DONE = 1,
  /** The peer closed the stream with close_notify. */
  MSTLS_EVENT_CLOSED = 2,
  /** The stream failed; @p error says why. */
  MSTLS_EVENT_FAILED = 3,
  /** The peer asked to renegotiate (TLS 1.2: a HelloRequest from a server,
   *  a ClientHello from a client after the handshake). It was refused with
   *  a no_renegotiation warning alert (RFC 5246 §7.2.2) and the stream
   *  goes on with its session; @p error is 0. Counted in
   *  mstls_session_stats.renegotiations_refused. */
  MSTLS_EVENT_RENEGOTIATION_REFUSED = 4
} mstls_stream_event;

/** Stream event callback (optional). */
typedef void (*mstls_stream_event_cb)(mstls_session *session,
                                      mstls_stream_event event, uint16_t stream,
                                      int error, void *user_data);

/** Clock callback (optional): used only by the *_blocking functions to run
 *  timers. NULL means CLOCK_MONOTONIC. */
typedef mstls_tstamp (*mstls_clock_cb)(void *user_data);

/** Callbacks of a session. Zero it, then set what you use. */
typedef struct mstls_callbacks {
  mstls_push_cb push;                 /**< required */
  mstls_pull_cb pull;                 /**< optional: blocking functions */
  mstls_recv_data_cb recv_data;       /**< optional: callback mode */
  mstls_stream_event_cb stream_event; /**< optional */
  mstls_clock_cb clock;               /**< optional */
} mstls_callbacks;

/**
 * @brief Create a session.
 *
 * No TLS session is created yet: each stream gets its own when it starts
 * its handshake (so 65535 streams cost nothing until used).
 * @param psession receives the session.
 * @param role client or server.
 * @param settings copied; NULL for defaults.
 * @param callbacks copied; push is required.
 * @param cred credentials, must outlive the session.
 * @param user_data passed to every callback.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL pointer, no push, nstreams out
 *         of range, client without server_name and not INSECURE,
 *         max_message below 18437, stream_rx_cap below max_message,
 *         session_rx_budget below stream_rx_cap, handshake_timeout 0,
 *         resumption_data on a server or with length 0),
 *         MSTLS_E_CREDENTIALS (server credentials without a key),
 *         MSTLS_E_TLS (priority string rejected), MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_session_new(mstls_session **psession, mstls_role role,
                                   const mstls_settings *settings,
                                   const mstls_callbacks *callbacks,
                                   mstls_credentials *cred, void *user_data);

/** @brief Free a session and every stream's TLS state (NULL ignored).
 *  Sends nothing: call mstls_session_bye() first for a clean close. */
MSTLS_EXTERN void mstls_session_del(mstls_session *session);

/**
 * @brief Hand one received message to its stream (sans-IO input).
 *
 * Handshakes progress and, in callback mode, plaintext is delivered from
 * inside this call. A failure of the stream is reported here and through
 * the stream event callback; other streams are unaffected (unless
 * MSTLS_SETTINGS_ABORT_ON_FAILURE).
 * @param flags MSTLS_MSG_* flags from the transport.
 * @param stream stream id from the transport's metadata.
 * @return 0 (accepted; also when only part of a record arrived),
 *         MSTLS_E_INVALID_ARGUMENT (NULL session or data, empty message),
 *         MSTLS_E_INVALID_STREAM (not a
 *         bidirectional stream; message dropped), MSTLS_E_MSG_SIZE (larger
 *         than max_message; dropped, stream unaffected), MSTLS_E_INVALID_STATE
 *         (stream already failed or closed; dropped), or the error that failed
 *         the stream: MSTLS_E_UNORDERED, MSTLS_E_BUFFER_FULL,
 *         MSTLS_E_BAD_RECORD, MSTLS_E_HANDSHAKE, MSTLS_E_CERT_VERIFY,
 *         MSTLS_E_VERSION, MSTLS_E_ALERT, MSTLS_E_TLS; fatal session errors:
 *         MSTLS_E_ABORTED, MSTLS_E_TRANSPORT, MSTLS_E_CALLBACK_FAILURE,
 *         MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_session_feed(mstls_session *session, uint32_t flags,
                                    uint16_t stream, const uint8_t *data,
                                    size_t len);

/**
 * @brief Start and drive the handshakes of all streams (non-blocking).
 *
 * Client: starts stream 0 (RESUME), every stream (PARALLEL) or nothing
 * (LAZY). Server: waits for the client. Progress then happens in
 * mstls_session_feed(); call this again to learn the state. A handshake
 * whose output met a full transport (push returned MSTLS_E_AGAIN) is driven
 * again by this call: call it when the transport can take more.
 * @return 0 when every stream the policy handshakes up front is
 *         established (with MSTLS_SETTINGS_ACCEPT_PARTIAL: when they have
 *         all finished and at least one is established), MSTLS_E_AGAIN
 *         while some are still running, MSTLS_E_PARTIAL when they have
 *         all finished and some failed (the established ones are usable;
 *         mstls_session_get_stats() counts the failed ones and
 *         mstls_stream_get_info() gives each one's error), the first
 *         stream error if every stream failed
 *         (MSTLS_E_CERT_VERIFY, MSTLS_E_VERSION, MSTLS_E_TIMEOUT,
 *         MSTLS_E_HANDSHAKE, ...), or a fatal error (MSTLS_E_ABORTED,
 *         MSTLS_E_TRANSPORT, MSTLS_E_NOMEM, MSTLS_E_CALLBACK_FAILURE,
 *         MSTLS_E_CLOSED when the transport ended in order first). Once
 *         every such stream was established, it stays 0 after an orderly
 *         end of the transport (a peer that closes as soon as it is up):
 *         the end is then reported by the transport's calls
 *         (mstls_sctp_assoc_process()) and by sends and receives.
 */
MSTLS_EXTERN int mstls_session_handshake(mstls_session *session);

/**
 * @brief Blocking form of mstls_session_handshake(): pulls messages and runs
 *        timers until it returns something other than MSTLS_E_AGAIN.
 * @return as mstls_session_handshake(), never MSTLS_E_AGAIN;
 *         MSTLS_E_INVALID_STATE if no pull callback is set.
 */
MSTLS_EXTERN int mstls_session_handshake_blocking(mstls_session *session);

/**
 * @brief Encrypt and send application data on a stream (non-blocking).
 *
 * Like send(2): takes as much of @p data as the transport accepts, split
 * into records of at most 16384 bytes (each its own message), and returns
 * how much it took. When the push callback returns MSTLS_E_AGAIN, the
 * record it was offered is already encrypted: the session keeps it (one
 * application record per stream at most; TLS's own records that met a full
 * transport, such as NewSessionTickets, are kept the same way and go
 * first), counts its bytes as taken and stops there.
 * It goes out first on the stream's next send, mstls_stream_flush(),
 * mstls_session_flush() or close; until it has, further sends on the
 * stream return MSTLS_E_AGAIN. The application never offers the same
 * bytes twice. Under LAZY, the first send on a stream starts its
 * handshake.
 * @return bytes taken (> 0, at most @p len), MSTLS_E_AGAIN (handshake not
 *         done, or a kept record still waits for the transport),
 *         MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STREAM, MSTLS_E_CLOSED,
 *         MSTLS_E_MSG_SIZE (plaintext stream, @p len above max_message),
 *         on a failed stream the error that failed it (as
 *         mstls_stream_get_error(): MSTLS_E_TIMEOUT, MSTLS_E_BAD_RECORD, ...),
 *         MSTLS_E_TRANSPORT, MSTLS_E_NOMEM.
 */
MSTLS_EXTERN long mstls_stream_send(mstls_session *session, uint16_t stream,
                                    const void *data, size_t len);

/**
 * @brief Push the record that mstls_stream_send() kept for a stream when
 *        the transport was full. Call it when the transport can take more
 *        and the application has nothing else to send on the stream.
 * @return 0 (nothing is kept any more), MSTLS_E_AGAIN (the transport is
 *         still full), MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STREAM,
 *         on a failed stream the error that failed it, or the session's
 *         fatal error (MSTLS_E_TRANSPORT, ...).
 */
MSTLS_EXTERN int mstls_stream_flush(mstls_session *session, uint16_t stream);

/**
 * @brief Everything that waits for the transport, on every stream: kept
 *        application records (as mstls_stream_flush()), handshake flights
 *        and close_notify alerts (of mstls_stream_bye() and
 *        mstls_session_bye() that returned MSTLS_E_AGAIN) that met a full
 *        transport. Call it when the transport can take more; an
 *        application that only waits for that need not call bye again.
 * @return 0 (nothing waits), MSTLS_E_AGAIN (something still waits),
 *         MSTLS_E_INVALID_ARGUMENT, or the session's fatal error.
 */
MSTLS_EXTERN int mstls_session_flush(mstls_session *session);

/**
 * @brief Blocking send of all @p len bytes: returns once every record has
 *        been pushed (none is kept). May be called from several threads
 *        at once for different streams.
 * @return @p len, or the errors of mstls_stream_send() except
 *         MSTLS_E_AGAIN; MSTLS_E_TIMEOUT if the stream's handshake times
 *         out; MSTLS_E_INVALID_STATE without a pull callback.
 */
MSTLS_EXTERN long mstls_stream_send_blocking(mstls_session *session,
                                             uint16_t stream, const void *data,
                                             size_t len);

/**
 * @brief Read decrypted data of one stream (non-blocking, pull mode).
 * @return bytes read (> 0), 0 when the peer closed the stream with
 *         close_notify, MSTLS_E_AGAIN, MSTLS_E_INVALID_ARGUMENT,
 *         MSTLS_E_INVALID_STREAM, MSTLS_E_INVALID_STATE (callback mode),
 *         or the error that failed the stream, now or earlier (as
 *         mstls_stream_get_error(): MSTLS_E_BAD_RECORD, MSTLS_E_ALERT,
 *         MSTLS_E_TIMEOUT, MSTLS_E_TLS, ...). After the session ended in
 *         order (mstls_session_get_error() MSTLS_E_CLOSED: the transport
 *         closed once it had delivered everything) what the stream
 *         received is still returned, then 0 if the peer sent
 *         close_notify, else MSTLS_E_CLOSED; after any other fatal error,
 *         that error.
 */
MSTLS_EXTERN long mstls_stream_recv(mstls_session *session, uint16_t stream,
                                    void *buf, size_t len);

/**
 * @brief Blocking form of mstls_stream_recv(). While it waits, messages for
 *        other streams are queued for them (up to their caps). May be
 *        called from several threads at once for different streams.
 * @return as mstls_stream_recv(), with MSTLS_E_AGAIN only when
 *         settings.recv_timeout passed without data; MSTLS_E_TIMEOUT if
 *         the handshake timed out; MSTLS_E_INVALID_STATE without a pull
 *         callback.
 */
MSTLS_EXTERN long mstls_stream_recv_blocking(mstls_session *session,
                                             uint16_t stream, void *buf,
                                             size_t len);

/**
 * @brief Read decrypted data from whichever stream has some.
 * @param pstream receives the stream id.
 * @return bytes (> 0), 0 when a stream was closed by the peer (*pstream
 *         says which; reported once), MSTLS_E_AGAIN, MSTLS_E_INVALID_ARGUMENT,
 *         MSTLS_E_INVALID_STATE (callback mode), or a stream's error
 *         (*pstream says which). After an orderly end of the session
 *         (MSTLS_E_CLOSED) what the streams received is still returned,
 *         then MSTLS_E_CLOSED; after another fatal error, that error.
 */
MSTLS_EXTERN long mstls_session_recv_any(mstls_session *session,
                                         uint16_t *pstream, void *buf,
                                         size_t len);

/** @brief Blocking form of mstls_session_recv_any().
 *  @return as mstls_session_recv_any(), with MSTLS_E_AGAIN only when
 *  settings.recv_timeout passed without data; MSTLS_E_CLOSED when every
 *  stream is closed or failed; MSTLS_E_INVALID_STATE without a pull
 *  callback. */
MSTLS_EXTERN long mstls_session_recv_any_blocking(mstls_session *session,
                                                  uint16_t *pstream, void *buf,
                                                  size_t len);

/**
 * @brief Send close_notify on every established stream, all at once.
 *
 * Streams still handshaking are skipped (close them with
 * mstls_stream_bye() once established, or free the session).
 * @return 0 when every alert was pushed, MSTLS_E_AGAIN if push would block
 *         (call again, or mstls_session_flush(), when there is room),
 *         MSTLS_E_TRANSPORT.
 */
MSTLS_EXTERN int mstls_session_bye(mstls_session *session);

/** @brief Send close_notify on one stream.
 *
 *  MSTLS_E_AGAIN: a kept record or the alert itself met a full transport;
 *  call again, or mstls_session_flush(), when it has room (the SCTP
 *  backends' mstls_sctp_assoc_process() does the latter). Once the alert
 *  has been offered, sends on
 *  the stream return MSTLS_E_CLOSED, even before this returns 0.
 *  @return 0, MSTLS_E_AGAIN, MSTLS_E_INVALID_STREAM, MSTLS_E_INVALID_STATE
 *  (not established), MSTLS_E_TRANSPORT. */
MSTLS_EXTERN int mstls_stream_bye(mstls_session *session, uint16_t stream);

/**
 * @brief The earliest time at which mstls_session_handle_expiry() must run.
 * @return a deadline, 0 meaning "now", or MSTLS_TSTAMP_NEVER.
 */
MSTLS_EXTERN mstls_tstamp mstls_session_get_expiry(mstls_session *session);

/**
 * @brief Run the timers due at @p now: handshake timeouts (a stream whose
 *        handshake outlives settings.handshake_timeout fails with
 *        MSTLS_E_TIMEOUT; so do the streams mstls_session_handshake() waits
 *        for that have not started within that time after its first call,
 *        e.g. on a server whose client never opens them).
 * @return 0, MSTLS_E_INVALID_ARGUMENT, or a fatal error (MSTLS_E_ABORTED
 *         when a timeout aborts the session).
 */
MSTLS_EXTERN int mstls_session_handle_expiry(mstls_session *session,
                                             mstls_tstamp now);

/** @brief Number of bidirectional streams. */
MSTLS_EXTERN uint32_t mstls_session_get_nstreams(mstls_session *session);

/** @brief The error that ended the session, or 0. */
MSTLS_EXTERN int mstls_session_get_error(mstls_session *session);

/**
 * @brief Take the session's resumption data (client): a blob that lets a
 *        later association -- in this process or another -- resume every
 *        stream, stream 0 included (RFC 3436 §8, fourth example).
 *
 * The blob holds the session's secrets: keep it like a private key. It is
 * stream 0's session (with the ticket a TLS 1.3 server sent, or the TLS
 * 1.2 ticket or session ID). It resumes against any server that shares
 * the ticket key (mstls_credentials_set_ticket_key()) or, for TLS 1.2
 * session IDs, the session cache. A resumed handshake checks no
 * certificate, and the blob does not record the server's name: give it
 * only to connections to the server (the name) it came from.
 * @param buf receives the blob; NULL to ask for its size.
 * @param plen in: size of @p buf; out: size of the blob.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL session or plen, a server),
 *         MSTLS_E_INVALID_STATE (nothing to resume yet: stream 0 is not up
 *         or the server sent no ticket and no session ID),
 *         MSTLS_E_MSG_SIZE (@p buf too small or NULL; *plen set),
 *         MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_session_get_resumption_data(mstls_session *session,
                                                   uint8_t *buf, size_t *plen);

/**
 * @brief Give a client session resumption data from an earlier one
 *        (mstls_session_get_resumption_data()) before its handshake
 *        starts: every stream then resumes at once, stream 0 included
 *        (RESUME starts them all in parallel; LAZY resumes each on first
 *        use). A server that does not accept it answers with full
 *        handshakes. Copied.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL or empty data, a server),
 *         MSTLS_E_INVALID_STATE (the handshake has started),
 *         MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_session_set_resumption_data(mstls_session *session,
                                                   const uint8_t *data,
                                                   size_t len);

/** @brief The role given to mstls_session_new(). */
MSTLS_EXTERN mstls_role mstls_session_get_role(mstls_session *session);

/** Counters of a session. */
typedef struct mstls_session_stats {
  uint32_t streams_active; /**< streams with a TLS session now */
  uint32_t streams_handshaking;
  uint32_t streams_established; /**< includes plaintext streams */
  uint32_t streams_failed;
  uint32_t streams_resumed;
  uint32_t full_handshakes;
  uint64_t msgs_in;
  uint64_t msgs_out;
  uint64_t bytes_in;      /**< wire bytes fed */
  uint64_t bytes_out;     /**< wire bytes pushed */
  uint64_t msgs_dropped;  /**< messages refused by feed */
  size_t rx_buffered;     /**< bytes waiting on all streams */
  size_t rx_buffered_max; /**< high-water mark */
  /** Client, RESUME and LAZY: stream 0's handshake completed without a
   *  TLS 1.3 ticket and the bounded wait for one ran out (twice the
   *  measured handshake time), so the other streams started without. */
  uint32_t ticket_waits_expired;
  /** Client: the measured handshake time of the stream whose session the
   *  others resume (first timer run after it began to the first after it
   *  completed), 0 before it is known. */
  mstls_tstamp anchor_handshake_time;
  /** Client: streams that could not use the resumption data (given with
   *  mstls_session_set_resumption_data() or from stream 0) and did a full
   *  handshake instead. */
  uint32_t resume_data_rejected;
  /** Messages that arrived unordered on a TLS stream (RFC 3436 §3.1): each
   *  failed its stream with MSTLS_E_UNORDERED after a fatal
   *  unexpected_message alert to the peer. */
  uint32_t unordered_msgs;
  /** Renegotiation requests refused with a no_renegotiation warning
   *  (MSTLS_EVENT_RENEGOTIATION_REFUSED). */
  uint32_t renegotiations_refused;
  /** Records that met a full transport and were kept until it had room:
   *  application records of mstls_stream_send() (at most one per stream)
   *  and TLS's own records of an established stream (NewSessionTickets,
   *  the no_renegotiation alert). */
  uint64_t records_kept;
  /** Streams that have a kept record now. */
  uint32_t streams_kept;
} mstls_session_stats;

/** @brief Copy the session's counters.
 *  @return 0, MSTLS_E_INVALID_ARGUMENT. */
MSTLS_EXTERN int mstls_session_get_stats(mstls_session *session,
                                         mstls_session_stats *stats);

/* Streams ---------------------------------------------------------------- */

/** State of a stream. */
typedef enum mstls_stream_state {
  MSTLS_STREAM_IDLE = 0, /**< no TLS session yet */
  MSTLS_STREAM_HANDSHAKING = 1,
  MSTLS_STREAM_OPEN = 2,      /**< established, TLS */
  MSTLS_STREAM_PLAINTEXT = 3, /**< RFC 3436 §6 plaintext stream */
  MSTLS_STREAM_CLOSED = 4,    /**< close_notify sent and/or received */
  MSTLS_STREAM_FAILED = 5
} mstls_stream_state;

/** @brief State of a stream; MSTLS_STREAM_FAILED for an invalid id. */
MSTLS_EXTERN mstls_stream_state mstls_stream_get_state(mstls_session *session,
                                                       uint16_t stream);

/** @brief The error that failed or closed the stream, or 0. */
MSTLS_EXTERN int mstls_stream_get_error(mstls_session *session,
                                        uint16_t stream);

/** @brief The last GnuTLS error code seen on the stream, or 0. */
MSTLS_EXTERN int mstls_stream_get_tls_error(mstls_session *session,
                                            uint16_t stream);

/** What mstls_stream_get_info() reports. */
typedef struct mstls_stream_info {
  mstls_stream_state state;
  const char *version; /**< "TLS1.3", "TLS1.2", "plaintext" or "-" */
  const char *cipher;  /**< e.g. "AES-256-GCM", or "-" */
  int resumed;         /**< 1 if the handshake resumed a session */
  uint64_t bytes_sent; /**< application bytes */
  uint64_t bytes_received;
  int error; /**< as mstls_stream_get_error() */
  /** Key-exchange group of the handshake ("X25519", "SECP256R1", ...),
   *  or "-" when there was none: a TLS 1.3 psk_ke resumption, or not
   *  established. */
  const char *group;
} mstls_stream_info;

/** @brief Describe a stream.
 *  @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STREAM. */
MSTLS_EXTERN int mstls_stream_get_info(mstls_session *session, uint16_t stream,
                                       mstls_stream_info *info);

/**
 * @brief The peer's certificate chain on an established stream.
 * @param pcerts receives an array owned by the stream (DER).
 * @param pn receives its length.
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STREAM,
 *         MSTLS_E_INVALID_STATE (not established or no certificate).
 */
MSTLS_EXTERN int
mstls_stream_get_peer_certificate(mstls_session *session, uint16_t stream,
                                  const gnutls_datum_t **pcerts, unsigned *pn);

/**
 * @brief Why a stream failed, in words: the alert the peer sent (and what
 *        it means for this side), why the peer's certificate was refused
 *        (GnuTLS's verification status: "The certificate is NOT trusted.
 *        The name in the certificate does not match the expected."),
 *        "the peer sent no certificate", GnuTLS's error text, or
 *        mstls_strerror() of the stream's error when nothing more is
 *        known. Cut to @p len (MSTLS_DETAIL_MAX holds any).
 * @return its length, 0 (and "") when the stream has not failed;
 *         MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STREAM.
 */
MSTLS_EXTERN int mstls_stream_get_error_detail(mstls_session *session,
                                               uint16_t stream, char *buf,
                                               size_t len);

/**
 * @brief The application protocol ALPN chose on an established stream
 *        (settings.tls.alpn), as a NUL-terminated string.
 * @return its length, 0 when none was negotiated (@p buf is then "");
 *         MSTLS_E_INVALID_ARGUMENT (NULL, or @p len too small for the
 *         name and its NUL), MSTLS_E_INVALID_STREAM,
 *         MSTLS_E_INVALID_STATE (not established).
 */
MSTLS_EXTERN int mstls_stream_get_alpn(mstls_session *session, uint16_t stream,
                                       char *buf, size_t len);

/**
 * @brief Who the peer of an established stream is: its certificate's
 *        subject, issuer, subjectAltNames, SHA-256 fingerprint, and
 *        whether it was verified (mstls_peer_identity).
 * @return 0 (chain_len 0 when the peer sent no certificate),
 *         MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STREAM,
 *         MSTLS_E_INVALID_STATE (not established), MSTLS_E_NOMEM,
 *         MSTLS_E_TLS (a certificate GnuTLS cannot parse).
 */
MSTLS_EXTERN int mstls_stream_get_peer_identity(mstls_session *session,
                                                uint16_t stream,
                                                mstls_peer_identity *id);

/**
 * @brief Keying material exported from an established stream's TLS
 *        session (RFC 5705; RFC 8446 §7.5 for TLS 1.3): both ends that
 *        give the same label and context get the same bytes.
 * @param label the exporter label (e.g. "EXPORTER-my-protocol").
 * @param context NULL for no context (TLS 1.3 treats it as empty).
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL label or output, empty
 *         output, a length without context), MSTLS_E_INVALID_STREAM,
 *         MSTLS_E_INVALID_STATE (not established), MSTLS_E_TLS (GnuTLS
 *         refused: mstls_stream_get_tls_error()), MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_stream_export_keying_material(
    mstls_session *session, uint16_t stream, const char *label,
    const uint8_t *context, size_t context_len, uint8_t *out, size_t out_len);

/** @brief Attach application data to a stream.
 *  @return 0, MSTLS_E_INVALID_STREAM, MSTLS_E_NOMEM. */
MSTLS_EXTERN int mstls_stream_set_user_data(mstls_session *session,
                                            uint16_t stream, void *data);

/** @brief Application data of a stream, or NULL. */
MSTLS_EXTERN void *mstls_stream_get_user_data(mstls_session *session,
                                              uint16_t stream);

/** @brief The stream's GnuTLS session (escape hatch), or NULL before its
 *  handshake started or on a plaintext stream. */
MSTLS_EXTERN gnutls_session_t mstls_stream_get_gnutls(mstls_session *session,
                                                      uint16_t stream);

/**
 * @brief Declare a stream plaintext (RFC 3436 §6). Both sides must agree.
 * @return 0, MSTLS_E_INVALID_STREAM, MSTLS_E_INVALID_STATE (the stream
 *         already started TLS), MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_stream_set_plaintext(mstls_session *session,
                                            uint16_t stream);

/**
 * @brief Upgrade a plaintext stream to TLS (STARTTLS style). The client
 *        starts the handshake at once; a server expects it. Plaintext the
 *        application has not read yet stays readable.
 * @return 0, MSTLS_E_INVALID_STREAM, MSTLS_E_INVALID_STATE (not plaintext),
 *         MSTLS_E_NOMEM, MSTLS_E_TLS, MSTLS_E_TRANSPORT.
 */
MSTLS_EXTERN int mstls_stream_starttls(mstls_session *session, uint16_t stream);

/**
 * @brief Stop delivering a stream's data in callback mode. Its messages
 *        wait (up to stream_rx_cap) while the other streams go on.
 * @return 0, MSTLS_E_INVALID_STREAM.
 */
MSTLS_EXTERN int mstls_stream_pause(mstls_session *session, uint16_t stream);

/**
 * @brief Fail one stream on behalf of the transport: its TLS connection
 *        ends with @p error and the other streams go on (unless @p error is
 *        fatal or MSTLS_SETTINGS_ABORT_ON_FAILURE is set). For backends whose
 *        transport loses a stream: an SCTP send failure, a stream reset, an
 *        aborted partial delivery. A closed or already failed stream is left
 *        as it is.
 *
 * In blocking mode (a pull callback is set) this takes the session lock, so
 * it may be called from the pull callback or any thread, but never from a
 * session callback (push, recv_data, stream_event, clock).
 * @param error a negative MSTLS_E_* code other than MSTLS_E_AGAIN, such as
 *        MSTLS_E_STREAM_LOST or MSTLS_E_STREAM_RESET.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (NULL session or @p error not an
 *         error code), MSTLS_E_INVALID_STREAM (not a stream of the session),
 *         MSTLS_E_NOMEM (the stream's state could not be created).
 */
MSTLS_EXTERN int mstls_stream_fail(mstls_session *session, uint16_t stream,
                                   int error);

/**
 * @brief End the whole session on behalf of the transport (the association
 *        or the peer is gone): every later call returns @p error. Data not
 *        read yet is discarded. The same locking rule as mstls_stream_fail().
 * @param error a negative MSTLS_E_* code other than MSTLS_E_AGAIN; the first
 *        error set stays.
 * @return the session's error (the first one set), MSTLS_E_INVALID_ARGUMENT.
 */
MSTLS_EXTERN int mstls_session_fail(mstls_session *session, int error);

/** @brief Resume delivery of a paused stream; waiting data is delivered
 *         from inside this call.
 *
 * After an orderly end of the session (MSTLS_E_CLOSED: the transport
 * delivered everything the peer sent), the data a stream still held,
 * paused or not, is delivered by this call until the stream is paused
 * again or has nothing more; it then returns MSTLS_E_CLOSED. Called from a
 * recv_data callback it only lifts the pause (the callback's data would be
 * overwritten) and returns MSTLS_E_CLOSED: call it again once the callback
 * returned. After any other end the data is discarded.
 *  @return 0, MSTLS_E_INVALID_ARGUMENT (NULL session),
 *  MSTLS_E_INVALID_STREAM, MSTLS_E_CLOSED (see above),
 *  MSTLS_E_CALLBACK_FAILURE (recv_data failed), or a stream/fatal error
 *  from delivering its data (such as a record that failed decryption). */
MSTLS_EXTERN int mstls_stream_resume(mstls_session *session, uint16_t stream);

#ifdef __cplusplus
}
#endif

#endif /* MSTLS_H */
