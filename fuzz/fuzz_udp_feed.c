/* Fuzz the UDP endpoint's input path: arbitrary datagrams from a few source
 * addresses (IPv4 and IPv6) fed to a server endpoint and to a client
 * endpoint that has started a handshake, with timers run on an advancing
 * fake clock. The input is a sequence of records: length (2 bytes), a
 * selector (1 byte: bits 0-1 the source address, bit 2 the client
 * endpoint, bits 3-7 how many 50 ms steps the clock advances first), data.
 * The cookie secret and the start time are fixed so that a corpus entry
 * carrying a valid cookie stays valid. */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <mstls/udp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                   socklen_t tolen, const uint8_t *buf, size_t len, void *ud) {
  (void)ep;
  (void)to;
  (void)tolen;
  (void)buf;
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

static void fz_addrs(struct sockaddr_storage *a, socklen_t *al) {
  int i;
  memset(a, 0, 4 * sizeof(*a));
  for (i = 0; i < 2; i++) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a[i];
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a[i + 2];
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)(4433 + i));
    v4->sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)i);
    al[i] = sizeof(*v4);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)(4433 + i));
    v6->sin6_addr.s6_addr[15] = (uint8_t)(1 + i);
    al[i + 2] = sizeof(*v6);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t secret[MSTLS_UDP_COOKIE_SECRET_SIZE] = {1, 2, 3};
  mstls_udp_endpoint *ep[2] = {NULL, NULL};
  mstls_udp_settings st;
  mstls_udp_callbacks cb;
  mstls_credentials *cred = fz_credentials();
  struct sockaddr_storage addr[4];
  socklen_t alen[4];
  mstls_tstamp now = 1000000000ull;
  int i;

  if (!cred) {
    return 0;
  }
  fz_addrs(addr, alen);
  memset(&cb, 0, sizeof(cb));
  cb.send = fz_send;
  mstls_udp_settings_default(&st);
  /* Small limits so that the limit paths run too. */
  st.max_peers = 4;
  st.max_half_open = 3;
  st.rate_limit = 50;
  if (mstls_udp_endpoint_new(&ep[0], &st, &cb, cred, NULL) < 0) {
    goto out;
  }
  st.flags = MSTLS_UDP_INSECURE;
  if (mstls_udp_endpoint_new(&ep[1], &st, &cb, cred, NULL) < 0) {
    goto out;
  }
  mstls_udp_endpoint_set_cookie_secret(ep[0], secret, sizeof(secret));
  mstls_udp_endpoint_connect(ep[1], (const struct sockaddr *)&addr[0], alen[0],
                             NULL, now, NULL);
  while (size >= 3) {
    size_t len = ((size_t)data[0] << 8) | data[1];
    uint8_t sel = data[2];
    int a = sel & 3, e = (sel >> 2) & 1;
    data += 3;
    size -= 3;
    if (len > size) {
      len = size;
    }
    now += (mstls_tstamp)(sel >> 3) * 50000000ull;
    for (i = 0; i < 2; i++) {
      if (mstls_udp_endpoint_get_expiry(ep[i]) <= now) {
        mstls_udp_endpoint_handle_expiry(ep[i], now);
      }
    }
    mstls_udp_endpoint_feed(ep[e], (const struct sockaddr *)&addr[a], alen[a],
                            data, len, now);
    data += len;
    size -= len;
  }
  /* Let every timer run out: handshake timeouts and idle reaping. */
  for (i = 0; i < 2; i++) {
    mstls_udp_endpoint_handle_expiry(ep[i], now + 3600000000000ull);
  }
out:
  mstls_udp_endpoint_del(ep[0]);
  mstls_udp_endpoint_del(ep[1]);
  return 0;
}

#ifdef FUZZ_SEED_MAIN
/* Seed writer: a real client endpoint at address 0 handshakes with a
 * server configured as ep[0] above (same secret, limits and start time);
 * every datagram the client sends after the HelloVerifyRequest is recorded
 * in the input format, so the seeds carry a cookie that stays valid.
 * Build: cc -DFUZZ_SEED_MAIN fuzz_udp_feed.c -lmstls ...; run with the
 * corpus directory as argument. */
#include <stdio.h>

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

int main(int argc, char **argv) {
  static const uint8_t secret[MSTLS_UDP_COOKIE_SECRET_SIZE] = {1, 2, 3};
  static uint8_t rec[1 << 16];
  static seed_q cq, sq;
  struct sockaddr_storage addr[4], srv;
  socklen_t alen[4];
  mstls_udp_endpoint *c = NULL, *s = NULL;
  mstls_udp_settings st;
  mstls_udp_callbacks cb;
  mstls_tstamp now = 1000000000ull;
  size_t reclen = 0;
  int round, i, seeds = 0, hvr_seen = 0;
  char path[4096];

  if (argc != 2 || !fz_credentials()) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  fz_addrs(addr, alen);
  memset(&srv, 0, sizeof(srv));
  ((struct sockaddr_in *)&srv)->sin_family = AF_INET;
  ((struct sockaddr_in *)&srv)->sin_port = htons(5684);
  ((struct sockaddr_in *)&srv)->sin_addr.s_addr = htonl(0x7f000064u);
  memset(&cb, 0, sizeof(cb));
  cb.send = seed_send;
  mstls_udp_settings_default(&st);
  st.max_peers = 4;
  st.max_half_open = 3;
  st.rate_limit = 50;
  mstls_udp_endpoint_new(&s, &st, &cb, fz_cred, &sq);
  mstls_udp_endpoint_set_cookie_secret(s, secret, sizeof(secret));
  st.flags = MSTLS_UDP_INSECURE;
  mstls_udp_endpoint_new(&c, &st, &cb, fz_cred, &cq);
  mstls_udp_endpoint_connect(c, (struct sockaddr *)&srv, sizeof(srv), NULL, now,
                             NULL);
  for (round = 0; round < 10; round++) {
    for (i = 0; i < cq.n; i++) {
      if (hvr_seen) {
        rec[reclen++] = (uint8_t)(cq.len[i] >> 8);
        rec[reclen++] = (uint8_t)cq.len[i];
        rec[reclen++] = 0; /* address 0, server, no clock step */
        memcpy(rec + reclen, cq.buf[i], cq.len[i]);
        reclen += cq.len[i];
        snprintf(path, sizeof(path), "%s/cookie-%02d", argv[1], seeds++);
        FILE *f = fopen(path, "wb");
        if (f) {
          fwrite(rec, 1, reclen, f);
          fclose(f);
        }
      }
      mstls_udp_endpoint_feed(s, (struct sockaddr *)&addr[0], alen[0],
                              cq.buf[i], cq.len[i], now);
    }
    cq.n = 0;
    for (i = 0; i < sq.n; i++) {
      if (sq.len[i] > 13 && sq.buf[i][0] == 22 && sq.buf[i][13] == 3) {
        hvr_seen = 1;
      }
      mstls_udp_endpoint_feed(c, (struct sockaddr *)&srv, sizeof(srv),
                              sq.buf[i], sq.len[i], now);
    }
    sq.n = 0;
  }
  printf("%d seeds written\n", seeds);
  mstls_udp_endpoint_del(c);
  mstls_udp_endpoint_del(s);
  return seeds > 0 ? 0 : 1;
}
#endif
