/* Fuzz a DTLS server's handshake after a valid cookie: the input's
 * datagrams come from an address whose cookie the harness can mint, so the
 * fuzzer gets past the stateless cookie exchange into the per-peer
 * handshake (ClientHello with cookie, the client's second flight,
 * application data, alerts, retransmissions, timeouts).
 *
 * The cookie secret and the clock are fixed, so a cookie is the same in
 * every run: the committed seeds carry valid ones, and a ClientHello whose
 * cookie field has the right length can get the valid cookie patched in
 * (selector bit 0), so mutations of the rest of the message keep passing
 * the cookie check.
 *
 * Input: records of length (2 bytes), selector (1 byte), data.
 *  selector bit 0: patch the valid cookie into a ClientHello;
 *           bits 1-2: advance the clock by 0, 10 ms, 1 s or 5 s first;
 *           bit 3: source address B instead of A (each has its cookie);
 *           bit 4: run due timers first;
 *           bit 5: send application data to the peer of the address.
 *
 * Built with -DFUZZ_SEED_MAIN this file is instead a program that writes
 * seeds (a real client's datagrams against this harness's server) into
 * the directory given as its argument. */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <mstls/udp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The start of a cookie period (30 s), so that 5 s steps stay in it or the
 * next one for a while. */
#define FZ_T0 ((mstls_tstamp)3000 * MSTLS_SECONDS)
#define FZ_COOKIE_MAX 32

static const uint8_t fz_secret[MSTLS_UDP_COOKIE_SECRET_SIZE] = {
    0x6d, 0x73, 0x74, 0x6c, 0x73, 0x2d, 0x66, 0x75, 0x7a, 0x7a};

typedef struct fz_out {
  uint8_t buf[4096];
  size_t len;
  int n;
} fz_out;

static int fz_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                   socklen_t tolen, const uint8_t *buf, size_t len, void *ud) {
  fz_out *o = ud;
  (void)ep;
  (void)to;
  (void)tolen;
  if (o != NULL && len <= sizeof(o->buf)) {
    memcpy(o->buf, buf, len);
    o->len = len;
    o->n++;
  }
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

static struct sockaddr_in fz_addr[3]; /* A, B, the server */

static void fz_addrs(void) {
  int i;
  for (i = 0; i < 3; i++) {
    memset(&fz_addr[i], 0, sizeof(fz_addr[i]));
    fz_addr[i].sin_family = AF_INET;
    fz_addr[i].sin_port = htons((uint16_t)(5000 + i));
    fz_addr[i].sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)i);
  }
}

/* Offset and length of the cookie of a DTLS ClientHello datagram, or -1. */
static long fz_cookie_pos(const uint8_t *d, size_t len, size_t *clen) {
  size_t pos = 13 + 12 + 2 + 32; /* record, handshake header, version,
                                    random */
  if (len < pos + 1 || d[0] != 22 || d[13] != 1) {
    return -1;
  }
  pos += 1 + d[pos]; /* session_id */
  if (pos + 1 > len) {
    return -1;
  }
  *clen = d[pos];
  if (pos + 1 + *clen > len) {
    return -1;
  }
  return (long)pos + 1;
}

static mstls_udp_endpoint *fz_server(fz_out *out) {
  mstls_udp_endpoint *ep = NULL;
  mstls_udp_settings st;
  mstls_udp_callbacks cb;
  memset(&cb, 0, sizeof(cb));
  cb.send = fz_send;
  mstls_udp_settings_default(&st);
  st.max_peers = 4;
  st.max_half_open = 2;
  if (mstls_udp_endpoint_new(&ep, &st, &cb, fz_credentials(), out) < 0) {
    return NULL;
  }
  mstls_udp_endpoint_set_cookie_secret(ep, fz_secret, sizeof(fz_secret));
  return ep;
}

static mstls_udp_endpoint *fz_client(fz_out *out) {
  mstls_udp_endpoint *ep = NULL;
  mstls_udp_settings st;
  mstls_udp_callbacks cb;
  memset(&cb, 0, sizeof(cb));
  cb.send = fz_send;
  mstls_udp_settings_default(&st);
  st.flags = MSTLS_UDP_INSECURE;
  if (mstls_udp_endpoint_new(&ep, &st, &cb, fz_credentials(), out) < 0) {
    return NULL;
  }
  return ep;
}

/* The valid cookie of each source address at FZ_T0: a real client's
 * ClientHello from that address gets a HelloVerifyRequest from a server
 * with the fixed secret; the cookie is read out of it. */
static uint8_t fz_cookie[2][FZ_COOKIE_MAX];
static size_t fz_cookie_len[2];
static int fz_ready;

static int fz_mint(void) {
  int i;
  for (i = 0; i < 2; i++) {
    fz_out co, so;
    mstls_udp_endpoint *c, *s;
    int ok = 0;
    memset(&co, 0, sizeof(co));
    memset(&so, 0, sizeof(so));
    c = fz_client(&co);
    s = fz_server(&so);
    if (c && s &&
        mstls_udp_endpoint_connect(c, (struct sockaddr *)&fz_addr[2],
                                   sizeof(fz_addr[2]), NULL, FZ_T0,
                                   NULL) == 0 &&
        co.n == 1) {
      mstls_udp_endpoint_feed(s, (struct sockaddr *)&fz_addr[i],
                              sizeof(fz_addr[i]), co.buf, co.len, FZ_T0);
      /* HelloVerifyRequest: record header (13), handshake header (12),
       * server_version (2), cookie<0..2^8-1>. */
      if (so.n == 1 && so.len > 27 && so.buf[13] == 3 &&
          so.buf[27] <= FZ_COOKIE_MAX && 28 + (size_t)so.buf[27] <= so.len) {
        fz_cookie_len[i] = so.buf[27];
        memcpy(fz_cookie[i], so.buf + 28, fz_cookie_len[i]);
        ok = 1;
      }
    }
    mstls_udp_endpoint_del(c);
    mstls_udp_endpoint_del(s);
    if (!ok) {
      return -1;
    }
  }
  return 0;
}

static int fz_init(void) {
  if (fz_ready == 0) {
    fz_addrs();
    fz_ready = fz_credentials() && fz_mint() == 0 ? 1 : -1;
  }
  return fz_ready;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const mstls_tstamp steps[4] = {0, 10 * MSTLS_MILLISECONDS,
                                        MSTLS_SECONDS, 5 * MSTLS_SECONDS};
  static uint8_t dgram[65536];
  mstls_udp_endpoint *ep;
  mstls_tstamp now = FZ_T0;

  if (fz_init() != 1) {
    return 0;
  }
  ep = fz_server(NULL);
  if (!ep) {
    return 0;
  }
  while (size >= 3) {
    size_t len = ((size_t)data[0] << 8) | data[1];
    uint8_t sel = data[2];
    int a = (sel >> 3) & 1;
    data += 3;
    size -= 3;
    if (len > size) {
      len = size;
    }
    memcpy(dgram, data, len);
    data += len;
    size -= len;
    now += steps[(sel >> 1) & 3];
    if (sel & 1) {
      size_t clen;
      long pos = fz_cookie_pos(dgram, len, &clen);
      if (pos >= 0 && clen == fz_cookie_len[a]) {
        memcpy(dgram + pos, fz_cookie[a], clen);
      }
    }
    if ((sel & 0x10) && mstls_udp_endpoint_get_expiry(ep) <= now) {
      mstls_udp_endpoint_handle_expiry(ep, now);
    }
    mstls_udp_endpoint_feed(ep, (struct sockaddr *)&fz_addr[a],
                            sizeof(fz_addr[a]), dgram, len, now);
    if (sel & 0x20) {
      mstls_udp_peer *p = mstls_udp_endpoint_find_peer(
          ep, (struct sockaddr *)&fz_addr[a], sizeof(fz_addr[a]));
      if (p) {
        (void)mstls_udp_peer_send(p, "fuzz", 4);
      }
    }
  }
  /* Every timer runs out: retransmissions, handshake timeout, reaping. */
  mstls_udp_endpoint_handle_expiry(ep, now + 60 * MSTLS_SECONDS);
  mstls_udp_endpoint_handle_expiry(ep, now + 3600 * MSTLS_SECONDS);
  mstls_udp_endpoint_del(ep);
  return 0;
}

#ifdef FUZZ_SEED_MAIN
/* Seed writer: a real client endpoint (address A) handshakes with this
 * harness's server through in-memory queues at FZ_T0; every datagram the
 * client sends after the HelloVerifyRequest is recorded in the input
 * format, first as one seed per prefix of the exchange. */
typedef struct seed_q {
  uint8_t buf[64][4096];
  size_t len[64];
  int n;
} seed_q;

static int seed_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                     socklen_t tolen, const uint8_t *buf, size_t len,
                     void *ud) {
  seed_q *q = ud;
  (void)ep;
  (void)to;
  (void)tolen;
  if (q->n < 64 && len <= sizeof(q->buf[0])) {
    memcpy(q->buf[q->n], buf, len);
    q->len[q->n++] = len;
  }
  return 0;
}

static void seed_write(const char *dir, int idx, const uint8_t *d, size_t n) {
  char path[4096];
  FILE *f;
  snprintf(path, sizeof(path), "%s/seed-%02d", dir, idx);
  f = fopen(path, "wb");
  if (f) {
    fwrite(d, 1, n, f);
    fclose(f);
  }
}

int main(int argc, char **argv) {
  static uint8_t rec[1 << 16];
  size_t reclen = 0;
  seed_q cq, sq;
  mstls_udp_endpoint *c = NULL, *s = NULL;
  mstls_udp_settings st;
  mstls_udp_callbacks cb;
  int round, i, seeds = 0, hvr_seen = 0;

  if (argc != 2 || fz_init() != 1) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  memset(&cq, 0, sizeof(cq));
  memset(&sq, 0, sizeof(sq));
  memset(&cb, 0, sizeof(cb));
  cb.send = seed_send;
  mstls_udp_settings_default(&st);
  st.flags = MSTLS_UDP_INSECURE;
  mstls_udp_endpoint_new(&c, &st, &cb, fz_credentials(), &cq);
  mstls_udp_settings_default(&st);
  st.max_peers = 4;
  st.max_half_open = 2;
  mstls_udp_endpoint_new(&s, &st, &cb, fz_credentials(), &sq);
  mstls_udp_endpoint_set_cookie_secret(s, fz_secret, sizeof(fz_secret));
  mstls_udp_endpoint_connect(c, (struct sockaddr *)&fz_addr[2],
                             sizeof(fz_addr[2]), NULL, FZ_T0, NULL);
  for (round = 0; round < 10; round++) {
    for (i = 0; i < cq.n; i++) {
      if (hvr_seen) {
        rec[reclen++] = (uint8_t)(cq.len[i] >> 8);
        rec[reclen++] = (uint8_t)cq.len[i];
        rec[reclen++] = 1; /* patch the cookie when it is a ClientHello */
        memcpy(rec + reclen, cq.buf[i], cq.len[i]);
        reclen += cq.len[i];
        seed_write(argv[1], seeds++, rec, reclen);
      }
      mstls_udp_endpoint_feed(s, (struct sockaddr *)&fz_addr[0],
                              sizeof(fz_addr[0]), cq.buf[i], cq.len[i], FZ_T0);
    }
    cq.n = 0;
    for (i = 0; i < sq.n; i++) {
      if (sq.buf[i][0] == 22 && sq.len[i] > 13 && sq.buf[i][13] == 3) {
        hvr_seen = 1;
      }
      mstls_udp_endpoint_feed(c, (struct sockaddr *)&fz_addr[2],
                              sizeof(fz_addr[2]), sq.buf[i], sq.len[i], FZ_T0);
    }
    sq.n = 0;
  }
  {
    mstls_udp_peer *p = mstls_udp_endpoint_find_peer(
        c, (struct sockaddr *)&fz_addr[2], sizeof(fz_addr[2]));
    if (p && mstls_udp_peer_send(p, "hello", 5) == 5) {
      for (i = 0; i < cq.n; i++) {
        rec[reclen++] = (uint8_t)(cq.len[i] >> 8);
        rec[reclen++] = (uint8_t)cq.len[i];
        rec[reclen++] = 0x20; /* and answer with data */
        memcpy(rec + reclen, cq.buf[i], cq.len[i]);
        reclen += cq.len[i];
      }
      seed_write(argv[1], seeds++, rec, reclen);
    }
  }
  printf("%d seeds written\n", seeds);
  mstls_udp_endpoint_del(c);
  mstls_udp_endpoint_del(s);
  return seeds > 0 ? 0 : 1;
}
#endif
