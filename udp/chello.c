/* Stateless checks on datagrams from unknown addresses: the RFC 7983
 * classifier and the ClientHello validation that must precede
 * gnutls_dtls_cookie_verify(), which reads the message without checking
 * it. Nothing here allocates. */
#include <stddef.h>
#include <stdint.h>

#include "udp_int.h"

#define CH_RECORD_HEADER 13
#define CH_HS_HEADER 12
#define CH_CONTENT_HANDSHAKE 22
#define CH_HS_CLIENT_HELLO 1
#define CH_RANDOM 32

static uint32_t chello_u16(const uint8_t *p) {
  return ((uint32_t)p[0] << 8) | p[1];
}

static uint32_t chello_u24(const uint8_t *p) {
  return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

int mstls_udp_is_dtls(const uint8_t *data, size_t len) {
  /* RFC 7983 §7: "If the value of the first byte is in the range 20 to 63
   * (inclusive), then the packet is DTLS." Everything else (STUN 0..3,
   * ZRTP 16..19, TURN channels 64..79, RTP/RTCP 128..191) is not. */
  if (len == 0) {
    return 0;
  }
  return data[0] >= 20 && data[0] <= 63;
}

/* Walk the ClientHello body; every length must stay inside it. */
static int chello_body(const uint8_t *b, size_t len, mstls_udp_chello *ch) {
  size_t pos = 0;
  size_t n;

  if (len < 2 + CH_RANDOM + 1) {
    return MSTLS_UDP_DROP_MALFORMED;
  }
  /* client_version: a DTLS version has major 254 (RFC 6347 §4.1). */
  if (b[0] != 0xfe) {
    return MSTLS_UDP_DROP_MALFORMED;
  }
  ch->random = b + 2;
  pos = 2 + CH_RANDOM;
  n = b[pos++]; /* session_id<0..32> */
  if (n > 32 || pos + n + 1 > len) {
    return MSTLS_UDP_DROP_MALFORMED;
  }
  pos += n;
  n = b[pos++]; /* cookie<0..2^8-1> */
  if (pos + n + 2 > len) {
    return MSTLS_UDP_DROP_MALFORMED;
  }
  ch->cookie_len = n;
  pos += n;
  n = chello_u16(b + pos); /* cipher_suites<2..2^16-2> */
  pos += 2;
  if (n < 2 || (n & 1) || pos + n + 1 > len) {
    return MSTLS_UDP_DROP_MALFORMED;
  }
  pos += n;
  n = b[pos++]; /* compression_methods<1..2^8-1> */
  if (n < 1 || pos + n > len) {
    return MSTLS_UDP_DROP_MALFORMED;
  }
  pos += n;
  if (pos == len) {
    return -1; /* no extensions */
  }
  if (pos + 2 > len || pos + 2 + chello_u16(b + pos) != len) {
    return MSTLS_UDP_DROP_MALFORMED;
  }
  return -1;
}

int mstls_udp_check_client_hello(const uint8_t *data, size_t len,
                                 mstls_udp_chello *ch) {
  size_t rec_len, hs_len;
  const uint8_t *hs;

  ch->record_len = 0;
  ch->cookie_len = 0;
  ch->random = NULL;
  if (len < CH_RECORD_HEADER) {
    return MSTLS_UDP_DROP_TRUNCATED;
  }
  /* RFC 6347 §4.1: DTLS versions have major 254; a ClientHello record may
   * carry {254, 255} (DTLS 1.0) or {254, 253} (DTLS 1.2). */
  if (data[1] != 0xfe || (data[2] != 0xff && data[2] != 0xfd)) {
    return MSTLS_UDP_DROP_MALFORMED;
  }
  /* A new association starts in epoch 0 (RFC 6347 §4.1). */
  if (data[3] != 0 || data[4] != 0) {
    return MSTLS_UDP_DROP_BAD_EPOCH;
  }
  if (data[0] != CH_CONTENT_HANDSHAKE) {
    return MSTLS_UDP_DROP_NOT_CLIENT_HELLO;
  }
  rec_len = chello_u16(data + 11);
  if (rec_len > len - CH_RECORD_HEADER) {
    return MSTLS_UDP_DROP_TRUNCATED;
  }
  if (rec_len < CH_HS_HEADER) {
    return MSTLS_UDP_DROP_TRUNCATED;
  }
  hs = data + CH_RECORD_HEADER;
  if (hs[0] != CH_HS_CLIENT_HELLO) {
    return MSTLS_UDP_DROP_NOT_CLIENT_HELLO;
  }
  hs_len = chello_u24(hs + 1);
  /* The cookie covers the whole ClientHello: accept only unfragmented
   * ones (fragment_offset 0, fragment_length == length). */
  if (chello_u24(hs + 6) != 0 || chello_u24(hs + 9) != hs_len) {
    return MSTLS_UDP_DROP_FRAGMENTED;
  }
  if (CH_HS_HEADER + hs_len > rec_len) {
    return MSTLS_UDP_DROP_TRUNCATED;
  }
  if (CH_HS_HEADER + hs_len != rec_len) {
    return MSTLS_UDP_DROP_MALFORMED;
  }
  ch->record_len = CH_RECORD_HEADER + rec_len;
  return chello_body(hs + CH_HS_HEADER, hs_len, ch);
}
