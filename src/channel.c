#include "channel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mstls/mstls.h>

#include "err.h"
#include "log.h"
#include "mem.h"

/* One push of the transport; @return 0, or -1 with GnuTLS's errno set. */
static int chan_push_one(mstls_channel *ch, const giovec_t *iov, int iovcnt) {
  int rv = ch->push(ch->push_ctx, iov, iovcnt);
  if (rv == MSTLS_E_AGAIN) {
    ch->tls_holds = !ch->datagram; /* GnuTLS keeps what was not taken */
    gnutls_transport_set_errno(ch->tls, EAGAIN);
    return -1;
  }
  if (rv < 0) {
    ch->push_err = rv;
    gnutls_transport_set_errno(ch->tls, EIO);
    return -1;
  }
  return 0;
}

/* Copy @p n bytes starting at byte @p at of the vector into @p out.
 * @return 0, -1 if the vector is shorter. */
static int chan_peek(const giovec_t *iov, int iovcnt, size_t at, uint8_t *out,
                     size_t n) {
  int i;
  for (i = 0; i < iovcnt && n > 0; i++) {
    size_t len = iov[i].iov_len;
    size_t take;
    if (at >= len) {
      at -= len;
      continue;
    }
    take = len - at < n ? len - at : n;
    memcpy(out, (const uint8_t *)iov[i].iov_base + at, take);
    out += take;
    n -= take;
    at = 0;
  }
  return n == 0 ? 0 : -1;
}

/* Point @p part at bytes [at, at + n) of the vector. @return the number
 * of pieces. */
static int chan_slice(const giovec_t *iov, int iovcnt, size_t at, size_t n,
                      giovec_t *part) {
  int i, k = 0;
  for (i = 0; i < iovcnt && n > 0; i++) {
    size_t len = iov[i].iov_len;
    size_t take;
    if (at >= len) {
      at -= len;
      continue;
    }
    take = len - at < n ? len - at : n;
    part[k].iov_base = (uint8_t *)iov[i].iov_base + at;
    part[k].iov_len = take;
    k++;
    n -= take;
    at = 0;
  }
  return k;
}

/* RFC 3436 §3.2 and docs/sctp.md: each SCTP user message carries exactly
 * one TLS record. GnuTLS hands a whole flight (EncryptedExtensions ...
 * Finished, or two NewSessionTickets) to one push: split it at record
 * boundaries. When the transport blocks after some records went out, the
 * bytes taken so far are reported and GnuTLS offers the rest again. */
static ssize_t chan_push_records(mstls_channel *ch, const giovec_t *iov,
                                 int iovcnt, size_t total) {
  giovec_t small[8];
  giovec_t *part = small;
  size_t at = 0;
  ssize_t rv;

  if (iovcnt > 8) {
    part = mstls_mem_malloc(ch->mem, sizeof(*part) * (size_t)iovcnt);
    if (!part) {
      ch->push_err = MSTLS_E_NOMEM;
      gnutls_transport_set_errno(ch->tls, ENOMEM);
      return -1;
    }
  }
  while (at < total) {
    uint8_t hdr[5];
    size_t n = total - at;
    int k;
    if (chan_peek(iov, iovcnt, at, hdr, sizeof(hdr)) == 0) {
      size_t rec = sizeof(hdr) + (((size_t)hdr[3] << 8) | hdr[4]);
      n = rec < n ? rec : n;
    }
    k = chan_slice(iov, iovcnt, at, n, part);
    if (chan_push_one(ch, part, k) < 0) {
      break;
    }
    at += n;
  }
  if (part != small) {
    mstls_mem_free(ch->mem, part);
  }
  /* Records that went out before the transport blocked are sent. */
  rv = at > 0 ? (ssize_t)at : -1;
  return rv;
}

static ssize_t chan_vec_push(gnutls_transport_ptr_t ptr, const giovec_t *iov,
                             int iovcnt) {
  mstls_channel *ch = ptr;
  size_t total = 0;
  int i;

  for (i = 0; i < iovcnt; i++) {
    total += iov[i].iov_len;
  }
  if (!ch->datagram) {
    /* GnuTLS offers every byte it holds in one push (lib/buffers.c,
     * _gnutls_io_write_flush), so a push cut short by a full transport is
     * exactly what leaves it holding some (after a failed push it writes
     * no more). */
    ch->tls_holds = 0;
    return chan_push_records(ch, iov, iovcnt, total);
  }
  /* DTLS: several records of a flight share a datagram (RFC 6347 §4.1.1). */
  if (chan_push_one(ch, iov, iovcnt) < 0) {
    return -1;
  }
  return (ssize_t)total;
}

static ssize_t chan_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len) {
  mstls_channel *ch = ptr;
  if (ch->rxq.count == 0) {
    gnutls_transport_set_errno(ch->tls, EAGAIN);
    return -1;
  }
  if (ch->datagram) {
    return (ssize_t)mstls_rxq_read_msg(&ch->rxq, ch->mem, buf, len);
  }
  return (ssize_t)mstls_rxq_read(&ch->rxq, ch->mem, buf, len);
}

/* GnuTLS asks whether data is waiting; with GNUTLS_NONBLOCK a 0 answer
 * turns into GNUTLS_E_AGAIN, never into a sleep. */
static int chan_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms) {
  mstls_channel *ch = ptr;
  (void)ms;
  return ch->rxq.count ? 1 : 0;
}

int mstls_chan_init(mstls_channel *ch, const mstls_mem *mem,
                    unsigned gnutls_flags, mstls_chan_push_fn push,
                    void *push_ctx) {
  int rv;

  memset(ch, 0, sizeof(*ch));
  ch->mem = mem;
  ch->push = push;
  ch->push_ctx = push_ctx;
  ch->datagram = (gnutls_flags & GNUTLS_DATAGRAM) != 0;
  rv = gnutls_init(&ch->tls, gnutls_flags | GNUTLS_NONBLOCK);
  if (rv < 0) {
    ch->tls = NULL;
    return rv == GNUTLS_E_MEMORY_ERROR ? MSTLS_E_NOMEM : MSTLS_E_TLS;
  }
  gnutls_transport_set_ptr(ch->tls, ch);
  gnutls_transport_set_vec_push_function(ch->tls, chan_vec_push);
  gnutls_transport_set_pull_function(ch->tls, chan_pull);
  gnutls_transport_set_pull_timeout_function(ch->tls, chan_pull_timeout);
  return 0;
}

void mstls_chan_deinit(mstls_channel *ch) {
  if (ch->tls) {
    gnutls_deinit(ch->tls);
    ch->tls = NULL;
  }
  mstls_rxq_clear(&ch->rxq, ch->mem);
}

int mstls_chan_enqueue(mstls_channel *ch, const uint8_t *data, size_t len) {
  return mstls_rxq_push(&ch->rxq, ch->mem, data, len);
}

/* ---- failure details and the log ---------------------------------------- */

/* "client session 0x... stream 3" or "server peer 192.0.2.1:5684": whom
 * a line is about (a server peer is a client at that address). */
static void chan_who(const mstls_channel *ch, char *buf, size_t len) {
  const char *role = ch->ctx.role == MSTLS_ROLE_SERVER ? "server" : "client";
  if (ch->ctx.stream >= 0) {
    snprintf(buf, len, "%s session %p stream %d", role, (void *)ch->ctx.session,
             ch->ctx.stream);
  } else {
    char addr[64];
    mstls_log_addr(addr, sizeof(addr), ch->ctx.addr);
    snprintf(buf, len, "%s peer %s", role, addr);
  }
}

void mstls_chan_log(const mstls_channel *ch, int level, const char *text) {
  char who[96];
  if (!mstls_log_on(level)) {
    return;
  }
  chan_who(ch, who, sizeof(who));
  mstls_log(level, "%s: %s", who, text);
}

void mstls_chan_log_handshake(const mstls_channel *ch) {
  char who[96];
  gnutls_session_t tls = ch->tls;
  const char *vers, *cipher;
  unsigned npeer = 0;
  if (!mstls_log_on(MSTLS_LOG_INFO) || tls == NULL) {
    return;
  }
  /* The type is negotiated even when the peer then sends nothing. */
  (void)gnutls_certificate_get_peers(tls, &npeer);
  chan_who(ch, who, sizeof(who));
  vers = gnutls_protocol_get_name(gnutls_protocol_get_version(tls));
  cipher = gnutls_cipher_get_name(gnutls_cipher_get(tls));
  mstls_log(MSTLS_LOG_INFO, "%s: handshake done: %s %s, %s%s", who,
            vers ? vers : "?", cipher ? cipher : "?",
            gnutls_session_is_resumed(tls) ? "resumed" : "full",
            gnutls_auth_get_type(tls) == GNUTLS_CRD_PSK ? ", pre-shared key"
            : npeer > 0 && gnutls_certificate_type_get2(
                               tls, GNUTLS_CTYPE_PEERS) == GNUTLS_CRT_RAWPK
                ? ", peer's raw public key"
                : "");
}

void mstls_chan_set_detail(mstls_channel *ch, const char *text) {
  if (ch->detail[0] == '\0') {
    snprintf(ch->detail, sizeof(ch->detail), "%s", text);
  }
  mstls_chan_log(ch, MSTLS_LOG_ERROR, text);
}

void mstls_chan_set_verify_detail(mstls_channel *ch, unsigned status) {
  char text[MSTLS_DETAIL_MAX];
  gnutls_datum_t out = {NULL, 0};
  if (status != 0 && gnutls_certificate_verification_status_print(
                         status, GNUTLS_CRT_X509, &out, 0) == 0) {
    snprintf(text, sizeof(text), "the peer's certificate: %.*s", (int)out.size,
             (const char *)out.data);
    gnutls_free(out.data);
  } else {
    snprintf(text, sizeof(text), "the peer's certificate was refused");
  }
  mstls_chan_set_detail(ch, text);
}

/* What went wrong with GnuTLS error @p gerr, in words. */
static void chan_describe(mstls_channel *ch, int gerr) {
  char text[MSTLS_DETAIL_MAX];
  switch (gerr) {
  case GNUTLS_E_FATAL_ALERT_RECEIVED: {
    const char *name = gnutls_alert_get_name(gnutls_alert_get(ch->tls));
    snprintf(text, sizeof(text), "the peer sent a fatal alert: %s%s",
             name ? name : "unknown",
             gnutls_alert_get(ch->tls) == GNUTLS_A_CERTIFICATE_REQUIRED
                 ? " (it requires a certificate from this side)"
             : gnutls_alert_get(ch->tls) == GNUTLS_A_UNKNOWN_CA ||
                     gnutls_alert_get(ch->tls) == GNUTLS_A_BAD_CERTIFICATE
                 ? " (it did not accept this side's certificate)"
                 : "");
    break;
  }
  case GNUTLS_E_NO_CERTIFICATE_FOUND:
  case GNUTLS_E_CERTIFICATE_REQUIRED:
    snprintf(text, sizeof(text), "the peer sent no certificate");
    break;
  case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
  case GNUTLS_E_CERTIFICATE_ERROR:
    mstls_chan_set_verify_detail(
        ch, gnutls_session_get_verify_cert_status(ch->tls));
    return;
  default:
    snprintf(text, sizeof(text), "%s", gnutls_strerror(gerr));
    break;
  }
  mstls_chan_set_detail(ch, text);
}

int mstls_chan_map_error(mstls_channel *ch, int gerr, int handshaking) {
  ch->last_gnutls = gerr;
  if (gerr != GNUTLS_E_PUSH_ERROR && gerr != GNUTLS_E_PULL_ERROR) {
    chan_describe(ch, gerr);
  }
  if (gerr == GNUTLS_E_PUSH_ERROR && ch->push_err) {
    /* Keep what the transport said of the peer (gone, closed, too slow)
     * and a lack of memory; anything else is a transport failure. */
    switch (ch->push_err) {
    case MSTLS_E_NOMEM:
    case MSTLS_E_PEER_GONE:
    case MSTLS_E_CLOSED:
    case MSTLS_E_TIMEOUT:
      return ch->push_err;
    default:
      return MSTLS_E_TRANSPORT;
    }
  }
  if (gerr == GNUTLS_E_FATAL_ALERT_RECEIVED) {
    switch (gnutls_alert_get(ch->tls)) {
    case GNUTLS_A_PROTOCOL_VERSION:
    case GNUTLS_A_INSUFFICIENT_SECURITY:
      return MSTLS_E_VERSION;
    case GNUTLS_A_BAD_CERTIFICATE:
    case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
    case GNUTLS_A_CERTIFICATE_REVOKED:
    case GNUTLS_A_CERTIFICATE_EXPIRED:
    case GNUTLS_A_CERTIFICATE_UNKNOWN:
    case GNUTLS_A_UNKNOWN_CA:
    case GNUTLS_A_CERTIFICATE_REQUIRED:
      return MSTLS_E_CERT_VERIFY;
    default:
      return MSTLS_E_ALERT;
    }
  }
  return mstls_err_from_gnutls(gerr, handshaking);
}

void mstls_chan_send_fail_alert(mstls_channel *ch, int gerr) {
  if (gerr != GNUTLS_E_FATAL_ALERT_RECEIVED && gerr != GNUTLS_E_PUSH_ERROR &&
      gerr != GNUTLS_E_PULL_ERROR && gerr != GNUTLS_E_MEMORY_ERROR) {
    (void)gnutls_alert_send_appropriate(ch->tls, gerr);
  }
}
