/* Fuzz the session's input path: arbitrary messages on arbitrary streams,
 * with arbitrary flags, fed to a server and to a client session. The input
 * is a sequence of records: role (1 byte), stream (2), flags (1),
 * length (2), data. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mstls/mstls.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_push(mstls_session *s, uint16_t stream, const mstls_iovec *iov,
                   size_t iovcnt, void *ud) {
  (void)s;
  (void)stream;
  (void)iov;
  (void)iovcnt;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mstls_session *sess[2] = {NULL, NULL};
  mstls_settings st;
  mstls_callbacks cb;
  mstls_credentials *cred = fz_credentials();
  uint8_t buf[512];
  int i;

  if (!cred) {
    return 0;
  }
  memset(&cb, 0, sizeof(cb));
  cb.push = fz_push;
  mstls_settings_default(&st);
  st.nstreams = 8;
  st.flags = MSTLS_SETTINGS_INSECURE;
  st.stream_rx_cap = st.max_message;
  st.session_rx_budget = st.max_message * 2;
  if (mstls_session_new(&sess[0], MSTLS_ROLE_SERVER, &st, &cb, cred, NULL) <
          0 ||
      mstls_session_new(&sess[1], MSTLS_ROLE_CLIENT, &st, &cb, cred, NULL) <
          0) {
    goto out;
  }
  mstls_session_handshake(sess[1]);
  while (size >= 6) {
    int role = data[0] & 1;
    uint16_t stream = (uint16_t)(data[1] << 8 | data[2]);
    uint32_t flags = data[3];
    size_t len = (size_t)(data[4] << 8 | data[5]);
    uint16_t out;
    data += 6;
    size -= 6;
    if (len > size) {
      len = size;
    }
    mstls_session_feed(sess[role], flags, stream, data, len);
    data += len;
    size -= len;
    /* Exercise the read side as an application would. */
    for (i = 0; i < 4; i++) {
      if (mstls_session_recv_any(sess[role], &out, buf, sizeof(buf)) < 0) {
        break;
      }
    }
    mstls_session_handle_expiry(sess[role], 1000 * MSTLS_SECONDS);
  }
  mstls_session_bye(sess[0]);
out:
  mstls_session_del(sess[0]);
  mstls_session_del(sess[1]);
  return 0;
}
