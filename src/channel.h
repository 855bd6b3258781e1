/* A channel: one GnuTLS session whose transport is an in-memory receive
 * queue and a push function carrying the channel's key. Shared by the
 * multistream session (key = stream id, byte-stream TLS) and the UDP
 * endpoint (key = peer address, DTLS). GnuTLS's pull for a channel reads
 * that channel's queue only, so one session never consumes another's
 * messages. */
#ifndef MSTLS_CHANNEL_H
#define MSTLS_CHANNEL_H

#include <gnutls/gnutls.h>

#include <mstls/mstls.h>

#include "rxq.h"

/** Push one record (or flight piece) for the channel's key.
 *  @return 0 when taken, MSTLS_E_AGAIN, or another negative error. */
typedef int (*mstls_chan_push_fn)(void *ctx, const giovec_t *iov, int iovcnt);

typedef struct mstls_channel {
  gnutls_session_t tls;
  const mstls_mem *mem;
  mstls_rxq rxq;
  mstls_chan_push_fn push;
  void *push_ctx;
  int datagram;
  int push_err; /* error of the last failed push, 0 if none */
  /* TLS over a stream transport: GnuTLS still holds bytes of records it
   * offered, because the last push took less than all it offered. */
  int tls_holds;
  int last_gnutls; /* last GnuTLS error code seen, 0 if none */
  /* TLS options (tlsopt.c), set by mstls_tlsopt_apply(). */
  const struct mstls_tlsopt *opt;
  mstls_tls_ctx ctx;
  const char *verify_name; /* expected peer name, owned by the caller */
  int verify_mode;         /* mstls_verify_mode */
  int verified;            /* the options' verify function accepted it */
  /* The credentials whose pre-shared keys a server looks up. */
  const struct mstls_credentials *psk_cred;
  /* Why the connection failed, in words ("" while it has not). */
  char detail[MSTLS_DETAIL_MAX];
} mstls_channel;

/**
 * Create the GnuTLS session (GNUTLS_NONBLOCK is always added; add
 * GNUTLS_DATAGRAM for DTLS) and wire its transport to the channel.
 * @return 0, MSTLS_E_NOMEM, MSTLS_E_TLS.
 */
int mstls_chan_init(mstls_channel *ch, const mstls_mem *mem,
                    unsigned gnutls_flags, mstls_chan_push_fn push,
                    void *push_ctx);
/** Record @p text as the channel's failure detail (the first one
 *  stays; later ones are only logged). */
void mstls_chan_set_detail(mstls_channel *ch, const char *text);

/** The detail of a refused certificate: GnuTLS's words for the
 *  verification @p status. */
void mstls_chan_set_verify_detail(mstls_channel *ch, unsigned status);

/** Log @p text at @p level as a line about the channel ("stream 3: ..."
 *  or "peer 192.0.2.1:5684: ..."). */
void mstls_chan_log(const mstls_channel *ch, int level, const char *text);

/** MSTLS_LOG_INFO: the channel's handshake completed (version, cipher,
 *  full or resumed, how the peer authenticated). */
void mstls_chan_log_handshake(const mstls_channel *ch);

/** Free the GnuTLS session and the queued messages. */
void mstls_chan_deinit(mstls_channel *ch);

/** Queue a received message. @return 0 or MSTLS_E_NOMEM. */
int mstls_chan_enqueue(mstls_channel *ch, const uint8_t *data, size_t len);

/**
 * Map a fatal GnuTLS code of this channel to MSTLS_E_*: a failed push gives
 * its own error, a received alert is examined (protocol_version gives
 * MSTLS_E_VERSION, certificate alerts MSTLS_E_CERT_VERIFY).
 */
int mstls_chan_map_error(mstls_channel *ch, int gerr, int handshaking);

/**
 * A connection that fails with GnuTLS error @p gerr is closed with the fatal
 * alert that fits it (RFC 8446 §6.2, RFC 5246 §7.2.2), so that the peer
 * fails now instead of at its own timeout. Nothing is sent when the peer's
 * alert ended it, or the transport or memory failed.
 */
void mstls_chan_send_fail_alert(mstls_channel *ch, int gerr);

#endif
