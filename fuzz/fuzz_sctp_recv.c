/* Fuzz the SCTP association's receive path: reassembly of partial reads
 * until MSG_EOR, the receive metadata (stream id, unordered flag), routing
 * to TLS or unidirectional streams, the oversized-message limit, and the
 * parsing of SCTP notifications by both backends' parsers (usrsctp's and
 * the kernel's constants differ). The association runs on a fake socket
 * whose reads come from the input.
 *
 * Input: two setup bytes, then items.
 *  byte 0: bits 0-2 inbound streams (1 + 2n), bits 3-5 outbound streams
 *          (1 + 2n), bit 6 client role, bit 7 SCTP_STATUS fails (the
 *          stream counts then come from a COMM_UP notification).
 *  byte 1: bit 0 callback mode, bit 1 accept stream resets, bit 2 declare
 *          stream 1 plaintext once up.
 *  item:   kind (1 byte, bits 0-2):
 *          0 data piece: flags (sid = bits 0-4, bit 5 MSG_EOR, bit 6
 *            unordered), length (2), bytes;
 *          1 usrsctp notification, 2 kernel notification: length (2), bytes;
 *          3 filled data piece: flags as 0, count (2), fill byte: count*16
 *            bytes (reaches the oversized limit with a short input);
 *          4 recv fails (the association is gone);
 *          5-7 nothing more to read now: process, read, run timers. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mstls_sctp_sock {
  const uint8_t *in;
  size_t left;
  /* The rest of a piece larger than what recv was offered. */
  const uint8_t *piece;
  size_t piece_left;
  size_t fill_left;
  uint8_t fill;
  uint8_t piece_flags;
  int status_fails;
  uint16_t nin, nout;
};

static void fz_piece_meta(mstls_sctp_sock *s, mstls_sctp_rcv *ri, int last) {
  ri->sid = (uint16_t)(s->piece_flags & 0x1f);
  ri->eor = last && (s->piece_flags & 0x20) != 0;
  if (s->piece_flags & 0x40)
    ri->flags |= MSTLS_MSG_UNORDERED;
}

static long fz_recv(mstls_sctp_sock *s, uint8_t *buf, size_t len,
                    mstls_sctp_rcv *ri) {
  size_t n;
  uint8_t kind;

  memset(ri, 0, sizeof(*ri));
  if (len == 0)
    return MSTLS_E_AGAIN;
  if (s->piece_left > 0) {
    n = s->piece_left < len ? s->piece_left : len;
    memcpy(buf, s->piece, n);
    s->piece += n;
    s->piece_left -= n;
    fz_piece_meta(s, ri, s->piece_left == 0);
    return (long)n;
  }
  if (s->fill_left > 0) {
    n = s->fill_left < len ? s->fill_left : len;
    memset(buf, s->fill, n);
    s->fill_left -= n;
    fz_piece_meta(s, ri, s->fill_left == 0);
    return (long)n;
  }
  if (s->left == 0)
    return MSTLS_E_AGAIN;
  kind = s->in[0] & 7;
  s->in++;
  s->left--;
  switch (kind) {
  case 0:
  case 3:
    if (s->left < 3) {
      s->left = 0;
      return MSTLS_E_AGAIN;
    }
    s->piece_flags = s->in[0];
    n = ((size_t)s->in[1] << 8) | s->in[2];
    s->in += 3;
    s->left -= 3;
    if (kind == 3) {
      if (s->left < 1) {
        s->left = 0;
        return MSTLS_E_AGAIN;
      }
      s->fill = s->in[0];
      s->in++;
      s->left--;
      s->fill_left = n * 16;
    } else {
      if (n > s->left)
        n = s->left;
      s->piece = s->in;
      s->piece_left = n;
      s->in += n;
      s->left -= n;
    }
    if (n == 0)
      return MSTLS_E_AGAIN; /* a socket never reads 0 bytes of data */
    return fz_recv(s, buf, len, ri);
  case 1:
  case 2:
    if (s->left < 2) {
      s->left = 0;
      return MSTLS_E_AGAIN;
    }
    n = ((size_t)s->in[0] << 8) | s->in[1];
    s->in += 2;
    s->left -= 2;
    if (n > s->left)
      n = s->left;
    if (n > len)
      n = len;
    memcpy(buf, s->in, n);
    s->in += n;
    s->left -= n;
    if (kind == 1)
      mstls_sctp_usrsctp_parse_event(buf, n, ri);
    else
      mstls_sctp_kernel_parse_event(buf, n, ri);
    ri->eor = 1;
    return (long)n;
  case 4:
    s->left = 0;
    return MSTLS_E_PEER_GONE;
  default:
    return MSTLS_E_AGAIN;
  }
}

static int fz_send(mstls_sctp_sock *s, uint16_t sid, uint32_t ppid,
                   const uint8_t *d, size_t len) {
  (void)s;
  (void)sid;
  (void)ppid;
  (void)d;
  (void)len;
  return 0;
}

static int fz_wait(mstls_sctp_sock *s, int events, int timeout_ms) {
  (void)s;
  (void)events;
  (void)timeout_ms;
  return MSTLS_E_INVALID_STATE;
}

static int fz_status(mstls_sctp_sock *s, uint16_t *in, uint16_t *out) {
  if (s->status_fails)
    return MSTLS_E_AGAIN;
  *in = s->nin;
  *out = s->nout;
  return 0;
}

static int fz_accept(mstls_sctp_sock *s, mstls_sctp_sock **pnew,
                     const mstls_sctp_config *cfg) {
  (void)s;
  (void)pnew;
  (void)cfg;
  return MSTLS_E_AGAIN;
}

static int fz_shutdown(mstls_sctp_sock *s) {
  (void)s;
  return 0;
}

static void fz_close(mstls_sctp_sock *s) {
  (void)s;
}

static int fz_fd(mstls_sctp_sock *s) {
  (void)s;
  return -1;
}

static void fz_set_ready(mstls_sctp_sock *s, void (*fn)(void *), void *arg) {
  (void)s;
  (void)fn;
  (void)arg;
}

static int fz_reset(mstls_sctp_sock *s, const uint16_t *sids, size_t n) {
  (void)s;
  (void)sids;
  (void)n;
  return 0;
}

static int fz_outstanding(mstls_sctp_sock *s, uint32_t *chunks) {
  (void)s;
  *chunks = 0;
  return 0;
}

static const mstls_sctp_ops fz_ops = {MSTLS_SCTP_BACKEND_USRSCTP,
                                      fz_recv,
                                      fz_send,
                                      fz_wait,
                                      fz_status,
                                      fz_accept,
                                      fz_shutdown,
                                      fz_close,
                                      fz_close,
                                      fz_fd,
                                      fz_set_ready,
                                      fz_reset,
                                      NULL,
                                      fz_outstanding,
                                      NULL,
                                      NULL,
                                      NULL,
                                      NULL};

static int fz_recv_data(mstls_session *s, uint16_t stream, const uint8_t *d,
                        size_t len, void *ud) {
  (void)s;
  (void)stream;
  (void)d;
  (void)len;
  (void)ud;
  return 0;
}

static mstls_credentials *fz_cred;

static mstls_credentials *fz_credentials(void) {
  if (!fz_cred) {
    if (mstls_credentials_new(&fz_cred, NULL) < 0 ||
        mstls_credentials_set_self_signed(fz_cred, "fuzz.test") < 0) {
      return NULL;
    }
  }
  return fz_cred;
}

/* Read whatever the streams hold (pull mode), run the timers. */
static void fz_drain(mstls_sctp_assoc *a, mstls_tstamp now) {
  mstls_session *s = mstls_sctp_assoc_get_session(a);
  static uint8_t buf[4096];
  uint16_t sid;
  int i;

  if (s == NULL)
    return;
  for (i = 0; i < 64; i++) {
    if (mstls_session_recv_any(s, &sid, buf, sizeof(buf)) == MSTLS_E_AGAIN)
      break;
  }
  if (mstls_session_get_expiry(s) <= now)
    (void)mstls_session_handle_expiry(s, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mstls_credentials *cred = fz_credentials();
  mstls_sctp_sock sock;
  mstls_sctp_config cfg;
  mstls_settings st;
  mstls_callbacks cb;
  mstls_sctp_assoc *a = NULL;
  mstls_sctp_stats stats;
  mstls_tstamp now = MSTLS_SECONDS;
  mstls_role role;
  int plain_done = 0;
  int i;

  if (cred == NULL || size < 2)
    return 0;
  memset(&sock, 0, sizeof(sock));
  sock.nin = (uint16_t)(1 + 2 * (data[0] & 7));
  sock.nout = (uint16_t)(1 + 2 * ((data[0] >> 3) & 7));
  sock.status_fails = (data[0] & 0x80) != 0;
  role = (data[0] & 0x40) ? MSTLS_ROLE_CLIENT : MSTLS_ROLE_SERVER;
  mstls_sctp_config_default(&cfg);
  cfg.blocking = 0;
  cfg.accept_stream_reset = (data[1] & 2) != 0;
  mstls_settings_default(&st);
  st.flags = MSTLS_SETTINGS_INSECURE;
  st.max_message = 18437;
  st.stream_rx_cap = 65536;
  st.session_rx_budget = 262144;
  memset(&cb, 0, sizeof(cb));
  if (data[1] & 1)
    cb.recv_data = fz_recv_data;
  sock.in = data + 2;
  sock.left = size - 2;
  if (mstls_sctp_assoc_new_sock(&a, &fz_ops, &sock, &cfg, role, &st, &cb, cred,
                                NULL) != 0)
    return 0;
  /* Each round reads until the input says "nothing more now". */
  for (i = 0; i < 4096 && sock.left + sock.piece_left + sock.fill_left > 0;
       i++) {
    (void)mstls_sctp_assoc_process(a);
    if ((data[1] & 4) && !plain_done && mstls_sctp_assoc_get_session(a)) {
      (void)mstls_stream_set_plaintext(mstls_sctp_assoc_get_session(a), 1);
      plain_done = 1;
    }
    now += 100 * MSTLS_MILLISECONDS;
    fz_drain(a, now);
    if (mstls_sctp_assoc_get_error(a) != 0)
      break;
  }
  (void)mstls_sctp_assoc_process(a);
  fz_drain(a, now + 3600 * MSTLS_SECONDS);
  (void)mstls_sctp_assoc_get_stats(a, &stats);
  (void)mstls_sctp_assoc_get_stream_error(a, 1);
  (void)mstls_sctp_assoc_shutdown(a);
  mstls_sctp_assoc_del(a);
  return 0;
}
