/* TLS options shared by streams and UDP peers (mstls_tls_options): ALPN,
 * pins, and the configure, keylog and verify callbacks, applied to each
 * channel's GnuTLS session; and the accessors both kinds share (ALPN
 * result, peer identity, keying-material export). */
#ifndef MSTLS_TLSOPT_H
#define MSTLS_TLSOPT_H

#include <mstls/mstls.h>

#include "channel.h"
#include "mem.h"

#define MSTLS_ALPN_MAX 16

/** A session's or endpoint's own copy of mstls_tls_options. */
typedef struct mstls_tlsopt {
  gnutls_datum_t alpn[MSTLS_ALPN_MAX];
  unsigned nalpn;
  char *alpn_buf;
  int alpn_required;
  uint8_t *pins;
  size_t npins;
  mstls_configure_cb configure;
  mstls_keylog_cb keylog;
  mstls_verify_cb verify;
  mstls_sni_cb sni;
  void *user_data;
  char *srtp; /* DTLS-SRTP profiles, or NULL */
  int rawpk;  /* raw public keys (RFC 7250) are negotiated */
} mstls_tlsopt;

/** How a channel's peer certificate is verified. */
typedef enum mstls_verify_mode {
  MSTLS_VERIFY_NONE = 0,     /* no certificate asked for or checked */
  MSTLS_VERIFY_REQUIRE = 1,  /* a certificate must be sent and verify */
  MSTLS_VERIFY_OPTIONAL = 2, /* server: may be absent; verified if sent */
  MSTLS_VERIFY_INSECURE = 3  /* client: taken without checking */
} mstls_verify_mode;

/** Copy and check @p in (NULL: none) into @p o. @p datagram: for DTLS
 *  peers (SRTP profiles are refused otherwise).
 *  @return 0, MSTLS_E_INVALID_ARGUMENT (an ALPN list or pins that cannot
 *  work), MSTLS_E_NOMEM. */
int mstls_tlsopt_init(mstls_tlsopt *o, const mstls_mem *mem,
                      const mstls_tls_options *in, int datagram);
void mstls_tlsopt_deinit(mstls_tlsopt *o, const mstls_mem *mem);

/** 1 when the options decide verification themselves (pins, a verify
 *  callback, or raw public keys, which GnuTLS cannot verify): the caller
 *  then leaves GnuTLS's own verification off. */
int mstls_tlsopt_owns_verify(const mstls_tlsopt *o);

/** What a priority string gets appended for pre-shared keys (@p psk)
 *  and raw public keys (@p rawpk). */
const char *mstls_tlsopt_priority_extra(int psk, int rawpk);

/** Flags the options add to gnutls_init() (GNUTLS_ENABLE_RAWPK). */
unsigned mstls_tlsopt_init_flags(const mstls_tlsopt *o);

/**
 * Apply @p o to the channel's new GnuTLS session, after its priority and
 * credentials: ALPN, the keylog function, verification when the options
 * own it (@p name: the expected peer name, or NULL), then the configure
 * callback. Records @p ctx and @p mode in the channel for the callbacks
 * and the accessors.
 * @return 0, MSTLS_E_TLS, MSTLS_E_NOMEM, or the configure callback's error.
 */
int mstls_tlsopt_apply(const mstls_tlsopt *o, mstls_channel *ch,
                       const mstls_tls_ctx *ctx, int server, const char *name,
                       mstls_verify_mode mode);

/* Accessors on an established channel, shared by streams and peers. */
int mstls_chan_get_alpn(mstls_channel *ch, char *buf, size_t len);
int mstls_chan_get_identity(mstls_channel *ch, mstls_peer_identity *id);
int mstls_chan_get_srtp(mstls_channel *ch, mstls_srtp_keys *keys);
int mstls_chan_export(mstls_channel *ch, const char *label,
                      const uint8_t *context, size_t context_len, uint8_t *out,
                      size_t out_len);

#endif
