#include "channel.h"

#include <errno.h>
#include <string.h>

#include <mstls/mstls.h>

#include "err.h"

static ssize_t chan_vec_push(gnutls_transport_ptr_t ptr, const giovec_t *iov,
                             int iovcnt) {
  mstls_channel *ch = ptr;
  ssize_t total = 0;
  int rv;
  int i;

  for (i = 0; i < iovcnt; i++) {
    total += (ssize_t)iov[i].iov_len;
  }
  rv = ch->push(ch->push_ctx, iov, iovcnt);
  if (rv == MSTLS_E_AGAIN) {
    gnutls_transport_set_errno(ch->tls, EAGAIN);
    return -1;
  }
  if (rv < 0) {
    ch->push_err = rv;
    gnutls_transport_set_errno(ch->tls, EIO);
    return -1;
  }
  return total;
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

int mstls_chan_map_error(mstls_channel *ch, int gerr, int handshaking) {
  ch->last_gnutls = gerr;
  if (gerr == GNUTLS_E_PUSH_ERROR && ch->push_err) {
    return ch->push_err == MSTLS_E_NOMEM ? MSTLS_E_NOMEM : MSTLS_E_TRANSPORT;
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
