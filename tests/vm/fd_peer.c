/* A Diameter peer on mstls, for the interop suite against freeDiameter
 * (tests/vm/fd_interop.sh): TLS over kernel SCTP (RFC 3436) through the
 * public API, then a capabilities exchange (CER/CEA, RFC 6733 §5.3) and a
 * disconnect (DPR/DPA, §5.4) on stream 0, then an orderly close.
 *
 *   fd_peer client --connect ADDR:PORT [options]
 *   fd_peer server --listen ADDR:PORT [options]
 *
 * Options: --streams N (both directions), --policy resume|parallel|lazy,
 * --ca F, --cert F, --key F, --name NAME (client: the server's name),
 * --identity FQDN, --realm REALM (Origin-Host, Origin-Realm),
 * --priority STRING, --handshake-timeout S, --wait S (bound on every
 * Diameter exchange), --client-cert require|none (server: whether the
 * peer must present a certificate; default require).
 *
 * It prints the per-stream table and one "fd_peer:" line per fact (streams
 * up, resumed, failed; the answers and their Result-Code; the close).
 * Exit status: 0 if every TLS stream came up, the capabilities exchange
 * succeeded (Result-Code 2001), DPR/DPA went through and the close
 * returned success or MSTLS_E_CLOSED; 3 if all of that held except the
 * close, which returned another error; 1 otherwise; 2 on a usage error;
 * 77 when the kernel has no SCTP. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mstls/sctp.h>

#include "peer_args.h"

/* RFC 6733: header flags, command codes, AVP codes, result codes. */
#define FDP_FLAG_REQUEST 0x80u
#define FDP_AVP_MANDATORY 0x40u
#define FDP_CMD_CE 257u
#define FDP_CMD_DP 282u
#define FDP_CMD_DW 280u
#define FDP_AVP_HOST_IP_ADDRESS 257u
#define FDP_AVP_AUTH_APP_ID 258u
#define FDP_AVP_ORIGIN_HOST 264u
#define FDP_AVP_VENDOR_ID 266u
#define FDP_AVP_RESULT_CODE 268u
#define FDP_AVP_PRODUCT_NAME 269u
#define FDP_AVP_DISCONNECT_CAUSE 273u
#define FDP_AVP_ORIGIN_REALM 296u
#define FDP_SUCCESS 2001u
/* RFC 6733 §7: Diameter over SCTP uses PPID 46. */
#define FDP_PPID_DIAMETER 46u
#define FDP_HDR_LEN 20u
#define FDP_MAX_MSG 4096u

typedef struct fdp_opts {
  int server;
  const char *host;
  uint16_t port;
  uint16_t streams;
  mstls_policy policy;
  const char *ca, *cert, *key, *name;
  const char *identity, *realm, *priority;
  int handshake_timeout_s;
  int wait_s;
  int no_client_cert;
} fdp_opts;

/* One Diameter message being built. */
typedef struct fdp_msg {
  uint8_t b[FDP_MAX_MSG];
  size_t len;
} fdp_msg;

/* A parsed message: header fields and the AVPs that matter here. */
typedef struct fdp_parsed {
  uint8_t flags;
  uint32_t cmd;
  uint32_t hbh, e2e;
  int have_result;
  uint32_t result;
  char origin_host[256];
  char origin_realm[256];
} fdp_parsed;

/* Bytes received on one stream, until whole messages are there. */
typedef struct fdp_rx {
  uint8_t b[2 * FDP_MAX_MSG];
  size_t len;
} fdp_rx;

static uint32_t fdp_next_id = 0x4d53544cu; /* hop-by-hop / end-to-end */

static void fdp_put24(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 16);
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)v;
}

static void fdp_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t fdp_get24(const uint8_t *p) {
  return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t fdp_get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static void fdp_begin(fdp_msg *m, uint8_t flags, uint32_t cmd, uint32_t hbh,
                      uint32_t e2e) {
  memset(m, 0, sizeof(*m));
  m->b[0] = 1; /* version */
  m->b[4] = flags;
  fdp_put24(m->b + 5, cmd);
  fdp_put32(m->b + 8, 0); /* Application-Id: common messages */
  fdp_put32(m->b + 12, hbh);
  fdp_put32(m->b + 16, e2e);
  m->len = FDP_HDR_LEN;
}

/* RFC 6733 §4.1: code, flags, 24-bit length without padding, data padded
 * to 32 bits. */
static void fdp_avp(fdp_msg *m, uint32_t code, uint8_t flags, const void *data,
                    size_t len) {
  size_t padded = (len + 3u) & ~(size_t)3u;

  if (m->len + 8 + padded > sizeof(m->b)) {
    fprintf(stderr, "fd_peer: message too large\n");
    exit(1);
  }
  fdp_put32(m->b + m->len, code);
  m->b[m->len + 4] = flags;
  fdp_put24(m->b + m->len + 5, (uint32_t)(8 + len));
  memcpy(m->b + m->len + 8, data, len);
  m->len += 8 + padded;
}

static void fdp_avp_u32(fdp_msg *m, uint32_t code, uint8_t flags, uint32_t v) {
  uint8_t b[4];
  fdp_put32(b, v);
  fdp_avp(m, code, flags, b, 4);
}

static void fdp_avp_str(fdp_msg *m, uint32_t code, uint8_t flags,
                        const char *s) {
  fdp_avp(m, code, flags, s, strlen(s));
}

static void fdp_finish(fdp_msg *m) {
  fdp_put24(m->b + 1, (uint32_t)m->len);
}

/* The AVPs of CER and CEA (RFC 6733 §5.3.1, §5.3.2), after Result-Code. */
static void fdp_ce_avps(fdp_msg *m, const fdp_opts *o) {
  uint8_t addr[6] = {0, 1}; /* AddressType 1: IPv4 */

  fdp_avp_str(m, FDP_AVP_ORIGIN_HOST, FDP_AVP_MANDATORY, o->identity);
  fdp_avp_str(m, FDP_AVP_ORIGIN_REALM, FDP_AVP_MANDATORY, o->realm);
  if (inet_pton(AF_INET, o->host, addr + 2) != 1)
    memset(addr + 2, 0, 4);
  fdp_avp(m, FDP_AVP_HOST_IP_ADDRESS, FDP_AVP_MANDATORY, addr, sizeof(addr));
  fdp_avp_u32(m, FDP_AVP_VENDOR_ID, FDP_AVP_MANDATORY, 0);
  /* Product-Name: the M bit must not be set (RFC 6733 §5.3). */
  fdp_avp_str(m, FDP_AVP_PRODUCT_NAME, 0, "mstls fd_peer");
  /* The relay application: lets the peer accept us without a common
   * application. */
  fdp_avp_u32(m, FDP_AVP_AUTH_APP_ID, FDP_AVP_MANDATORY, 0xffffffffu);
}

/* Parse one whole message. @return 0, or -1 if it is malformed. */
static int fdp_parse(const uint8_t *b, size_t len, fdp_parsed *p) {
  size_t off = FDP_HDR_LEN;

  memset(p, 0, sizeof(*p));
  if (len < FDP_HDR_LEN || b[0] != 1 || fdp_get24(b + 1) != len)
    return -1;
  p->flags = b[4];
  p->cmd = fdp_get24(b + 5);
  p->hbh = fdp_get32(b + 12);
  p->e2e = fdp_get32(b + 16);
  while (off + 8 <= len) {
    uint32_t code = fdp_get32(b + off);
    uint8_t fl = b[off + 4];
    size_t alen = fdp_get24(b + off + 5);
    size_t hdr = (fl & 0x80u) ? 12 : 8; /* V bit: Vendor-Id follows */
    const uint8_t *d = b + off + hdr;
    size_t dlen;

    if (alen < hdr || off + alen > len)
      return -1;
    dlen = alen - hdr;
    if (!(fl & 0x80u)) {
      if (code == FDP_AVP_RESULT_CODE && dlen == 4) {
        p->have_result = 1;
        p->result = fdp_get32(d);
      } else if (code == FDP_AVP_ORIGIN_HOST && dlen < sizeof(p->origin_host)) {
        memcpy(p->origin_host, d, dlen);
      } else if (code == FDP_AVP_ORIGIN_REALM &&
                 dlen < sizeof(p->origin_realm)) {
        memcpy(p->origin_realm, d, dlen);
      }
    }
    off += (alen + 3u) & ~(size_t)3u;
  }
  return off == len ? 0 : -1;
}

static const char *fdp_cmd_name(uint32_t cmd, uint8_t flags) {
  int req = (flags & FDP_FLAG_REQUEST) != 0;
  switch (cmd) {
  case FDP_CMD_CE:
    return req ? "CER" : "CEA";
  case FDP_CMD_DP:
    return req ? "DPR" : "DPA";
  case FDP_CMD_DW:
    return req ? "DWR" : "DWA";
  default:
    return req ? "request" : "answer";
  }
}

static double fdp_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int fdp_send(mstls_session *s, uint16_t stream, const fdp_msg *m) {
  long n = mstls_stream_send_blocking(s, stream, m->b, m->len);
  fdp_parsed p;

  (void)fdp_parse(m->b, m->len, &p);
  if (n != (long)m->len) {
    printf("fd_peer: sending %s on stream %u failed: %s\n",
           fdp_cmd_name(p.cmd, p.flags), stream,
           n < 0 ? mstls_strerror((int)n) : "short send");
    return -1;
  }
  printf("fd_peer: sent %s on stream %u (%zu bytes)\n",
         fdp_cmd_name(p.cmd, p.flags), stream, m->len);
  fflush(stdout);
  return 0;
}

/* Answer a watchdog so that a long wait never ends the peer. */
static void fdp_answer_dwr(mstls_session *s, uint16_t stream,
                           const fdp_parsed *req, const fdp_opts *o) {
  fdp_msg m;

  fdp_begin(&m, 0, FDP_CMD_DW, req->hbh, req->e2e);
  fdp_avp_u32(&m, FDP_AVP_RESULT_CODE, FDP_AVP_MANDATORY, FDP_SUCCESS);
  fdp_avp_str(&m, FDP_AVP_ORIGIN_HOST, FDP_AVP_MANDATORY, o->identity);
  fdp_avp_str(&m, FDP_AVP_ORIGIN_REALM, FDP_AVP_MANDATORY, o->realm);
  fdp_finish(&m);
  (void)fdp_send(s, stream, &m);
}

/* Wait at most o->wait_s for a message with command @p cmd and request
 * flag @p want_req, on any stream; watchdogs are answered on the way.
 * @return 0 with *out and *pstream set, or -1 (timeout, error, close). */
static int fdp_wait_for(mstls_sctp_assoc *a, fdp_rx *rx, uint32_t cmd,
                        int want_req, const fdp_opts *o, fdp_parsed *out,
                        uint16_t *pstream) {
  mstls_session *s = mstls_sctp_assoc_get_session(a);
  uint32_t n = mstls_session_get_nstreams(s);
  double deadline = fdp_now_ms() + o->wait_s * 1000.0;

  while (fdp_now_ms() < deadline) {
    uint16_t k;
    int rv = mstls_sctp_assoc_process(a);

    if (rv < 0 && rv != MSTLS_E_AGAIN) {
      printf("fd_peer: association error while waiting for %s: %s\n",
             fdp_cmd_name(cmd, want_req ? FDP_FLAG_REQUEST : 0),
             mstls_strerror(rv));
      return -1;
    }
    for (k = 0; k < n; k++) {
      fdp_rx *r = &rx[k];
      long got = mstls_stream_recv(s, k, r->b + r->len, sizeof(r->b) - r->len);

      if (got == MSTLS_E_AGAIN)
        continue;
      if (got == 0) {
        printf("fd_peer: stream %u closed by the peer while waiting\n", k);
        continue;
      }
      if (got < 0) {
        if (got != MSTLS_E_INVALID_STATE)
          printf("fd_peer: stream %u: %s\n", k, mstls_strerror((int)got));
        continue;
      }
      r->len += (size_t)got;
      while (r->len >= FDP_HDR_LEN) {
        size_t mlen = fdp_get24(r->b + 1);
        fdp_parsed p;

        if (mlen < FDP_HDR_LEN || mlen > sizeof(r->b)) {
          printf("fd_peer: stream %u: bad Diameter length %zu\n", k, mlen);
          return -1;
        }
        if (r->len < mlen)
          break;
        if (fdp_parse(r->b, mlen, &p) < 0) {
          printf("fd_peer: stream %u: malformed Diameter message\n", k);
          return -1;
        }
        memmove(r->b, r->b + mlen, r->len - mlen);
        r->len -= mlen;
        printf("fd_peer: received %s on stream %u",
               fdp_cmd_name(p.cmd, p.flags), k);
        if (p.have_result)
          printf(", Result-Code %u", p.result);
        if (p.origin_host[0] != '\0')
          printf(", Origin-Host %s", p.origin_host);
        printf("\n");
        fflush(stdout);
        if (p.cmd == cmd && ((p.flags & FDP_FLAG_REQUEST) != 0) == want_req) {
          *out = p;
          *pstream = k;
          return 0;
        }
        if (p.cmd == FDP_CMD_DW && (p.flags & FDP_FLAG_REQUEST))
          fdp_answer_dwr(s, k, &p, o);
      }
    }
    if (mstls_sctp_assoc_get_error(a) != 0) {
      printf("fd_peer: association failed while waiting for %s: %s\n",
             fdp_cmd_name(cmd, want_req ? FDP_FLAG_REQUEST : 0),
             mstls_strerror(mstls_sctp_assoc_get_error(a)));
      return -1;
    }
    (void)mstls_sctp_assoc_wait(a, 100);
  }
  printf("fd_peer: no %s within %d s\n",
         fdp_cmd_name(cmd, want_req ? FDP_FLAG_REQUEST : 0), o->wait_s);
  return -1;
}

/* Print the table and the summary line. @return the number of TLS streams
 * that are not up. */
static uint32_t fdp_report_streams(mstls_sctp_assoc *a, double ms) {
  mstls_session *s = mstls_sctp_assoc_get_session(a);
  uint16_t in = 0, out = 0;
  uint32_t n, i, up = 0, resumed = 0, failed = 0, idle = 0;
  const char *version = "-";
  mstls_session_stats st;

  if (s == NULL) {
    printf("fd_peer: no session\n");
    return 1;
  }
  n = mstls_session_get_nstreams(s);
  (void)mstls_sctp_assoc_get_streams(a, &in, &out);
  printf("fd_peer: association up: streams in %u, out %u -> %u TLS streams\n",
         in, out, n);
  printf("%-7s %-8s %-18s %-8s %s\n", "stream", "version", "cipher", "resumed",
         "state");
  for (i = 0; i < n; i++) {
    mstls_stream_info info;

    if (mstls_stream_get_info(s, (uint16_t)i, &info) < 0)
      continue;
    if (info.state == MSTLS_STREAM_OPEN) {
      up++;
      resumed += info.resumed != 0;
      if (i == 0)
        version = info.version;
      printf("%-7u %-8s %-18s %-8s open\n", i, info.version, info.cipher,
             info.resumed ? "yes" : "no");
    } else if (info.state == MSTLS_STREAM_FAILED) {
      failed++;
      printf("%-7u failed: %s\n", i, mstls_strerror(info.error));
    } else {
      idle++;
      printf("%-7u not up (state %d)\n", i, (int)info.state);
    }
  }
  if (mstls_session_get_stats(s, &st) < 0)
    memset(&st, 0, sizeof(st));
  printf("fd_peer: streams total=%u up=%u resumed=%u full=%u failed=%u "
         "not_up=%u version=%s handshake_ms=%.0f ticket_waits_expired=%u "
         "anchor_ms=%.1f\n",
         n, up, resumed, up - resumed, failed, idle, version, ms,
         st.ticket_waits_expired, (double)st.anchor_handshake_time / 1e6);
  fflush(stdout);
  return n - up;
}

/* DPR/DPA (RFC 6733 §5.4), then close_notify on every stream and SCTP
 * SHUTDOWN. The sender of the DPR closes the transport.
 * @return 0, -1 if DPR/DPA failed, -3 if only the close failed. */
static int fdp_close(mstls_sctp_assoc *a, fdp_rx *rx, const fdp_opts *o) {
  mstls_session *s = mstls_sctp_assoc_get_session(a);
  fdp_parsed p;
  fdp_msg m;
  uint16_t k = 0;
  int rv, ok = 1;

  fdp_begin(&m, FDP_FLAG_REQUEST, FDP_CMD_DP, fdp_next_id, fdp_next_id);
  fdp_next_id++;
  fdp_avp_str(&m, FDP_AVP_ORIGIN_HOST, FDP_AVP_MANDATORY, o->identity);
  fdp_avp_str(&m, FDP_AVP_ORIGIN_REALM, FDP_AVP_MANDATORY, o->realm);
  fdp_avp_u32(&m, FDP_AVP_DISCONNECT_CAUSE, FDP_AVP_MANDATORY,
              2 /* DO_NOT_WANT_TO_TALK_TO_YOU */);
  fdp_finish(&m);
  if (fdp_send(s, 0, &m) < 0 ||
      fdp_wait_for(a, rx, FDP_CMD_DP, 0, o, &p, &k) < 0)
    ok = 0;
  else if (!p.have_result || p.result != FDP_SUCCESS)
    ok = 0;
  printf("fd_peer: DPA %s\n", ok ? "ok" : "missing or not 2001");
  rv = mstls_sctp_assoc_shutdown(a);
  printf("fd_peer: shutdown: %s\n", rv == 0 ? "ok" : mstls_strerror(rv));
  fflush(stdout);
  if (!ok)
    return -1;
  return rv < 0 && rv != MSTLS_E_CLOSED ? -3 : 0;
}

static int fdp_addr(const char *arg, fdp_opts *o) {
  static char buf[128];
  char *colon;
  unsigned long p;

  if (strlen(arg) >= sizeof(buf))
    return -1;
  strcpy(buf, arg);
  colon = strrchr(buf, ':');
  if (colon == NULL)
    return -1;
  *colon = '\0';
  if (buf[0] == '\0' || peer_arg_uint("the port", colon + 1, 1, 65535, &p) != 0)
    return -1;
  o->host = buf;
  o->port = (uint16_t)p;
  return 0;
}

static int fdp_parse_args(int argc, char **argv, fdp_opts *o) {
  unsigned long u;
  int i;

  memset(o, 0, sizeof(*o));
  o->streams = 10;
  o->policy = MSTLS_POLICY_RESUME;
  o->identity = "peer.mstls.test";
  o->realm = "mstls.test";
  o->handshake_timeout_s = 30;
  o->wait_s = 20;
  if (argc < 2)
    return -1;
  if (strcmp(argv[1], "server") == 0)
    o->server = 1;
  else if (strcmp(argv[1], "client") != 0)
    return -1;
  for (i = 2; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (strcmp(a, o->server ? "--listen" : "--connect") == 0) {
      if (fdp_addr(v, o) < 0)
        return -1;
    } else if (strcmp(a, "--streams") == 0) {
      if (peer_arg_uint(a, v, 1, 65535, &u) != 0)
        return -1;
      o->streams = (uint16_t)u;
    } else if (strcmp(a, "--policy") == 0) {
      if (strcmp(v, "resume") == 0)
        o->policy = MSTLS_POLICY_RESUME;
      else if (strcmp(v, "parallel") == 0)
        o->policy = MSTLS_POLICY_PARALLEL;
      else if (strcmp(v, "lazy") == 0)
        o->policy = MSTLS_POLICY_LAZY;
      else
        return -1;
    } else if (strcmp(a, "--ca") == 0) {
      o->ca = v;
    } else if (strcmp(a, "--cert") == 0) {
      o->cert = v;
    } else if (strcmp(a, "--key") == 0) {
      o->key = v;
    } else if (strcmp(a, "--name") == 0) {
      o->name = v;
    } else if (strcmp(a, "--identity") == 0) {
      o->identity = v;
    } else if (strcmp(a, "--realm") == 0) {
      o->realm = v;
    } else if (strcmp(a, "--priority") == 0) {
      o->priority = v;
    } else if (strcmp(a, "--handshake-timeout") == 0) {
      if (peer_arg_uint(a, v, 1, 3600, &u) != 0)
        return -1;
      o->handshake_timeout_s = (int)u;
    } else if (strcmp(a, "--client-cert") == 0) {
      if (strcmp(v, "none") == 0)
        o->no_client_cert = 1;
      else if (strcmp(v, "require") != 0)
        return -1;
    } else if (strcmp(a, "--wait") == 0) {
      if (peer_arg_uint(a, v, 1, 3600, &u) != 0)
        return -1;
      o->wait_s = (int)u;
    } else {
      return -1;
    }
  }
  if (i != argc || o->host == NULL || o->ca == NULL || o->cert == NULL ||
      o->key == NULL || (!o->server && o->name == NULL))
    return -1;
  return 0;
}

int main(int argc, char **argv) {
  fdp_rx *rx = NULL;
  fdp_opts o;
  mstls_sctp_config cfg;
  mstls_settings st;
  mstls_credentials *cred = NULL;
  mstls_sctp_listener *l = NULL;
  mstls_sctp_assoc *a = NULL;
  fdp_parsed p;
  fdp_msg m;
  uint16_t k = 0;
  double t0, ms;
  int rv, ok = 0;

  if (fdp_parse_args(argc, argv, &o) < 0) {
    fprintf(stderr, "usage: fd_peer client|server --connect|--listen ADDR:PORT "
                    "--ca F --cert F --key F [--name NAME] [--streams N]\n"
                    "       [--policy resume|parallel|lazy] [--identity FQDN] "
                    "[--realm R] [--priority P]\n"
                    "       [--handshake-timeout S] [--wait S] "
                    "[--client-cert require|none]\n");
    return 2;
  }
  if (!mstls_sctp_kernel_available()) {
    printf("fd_peer: the kernel has no SCTP\n");
    return 77;
  }
  if (mstls_credentials_new(&cred, NULL) < 0 ||
      mstls_credentials_set_trust_file(cred, o.ca) < 0 ||
      mstls_credentials_set_key_file(cred, o.cert, o.key) < 0) {
    fprintf(stderr, "fd_peer: cannot load the credentials\n");
    mstls_credentials_del(cred);
    return 1;
  }
  mstls_sctp_config_default(&cfg);
  cfg.backend = MSTLS_SCTP_BACKEND_KERNEL;
  cfg.streams_in = o.streams;
  cfg.streams_out = o.streams;
  cfg.blocking = 1;
  cfg.ppid = FDP_PPID_DIAMETER;
  mstls_settings_default(&st);
  st.policy = o.policy;
  st.priority = o.priority;
  st.handshake_timeout = (mstls_tstamp)o.handshake_timeout_s * MSTLS_SECONDS;

  t0 = fdp_now_ms();
  if (o.server) {
    /* freeDiameter authenticates with its certificate in both roles. */
    if (!o.no_client_cert)
      st.flags |= MSTLS_SETTINGS_REQUIRE_CLIENT_CERT;
    rv = mstls_sctp_listen(&l, &cfg, o.host, o.port);
    if (rv < 0) {
      printf("fd_peer: listen: %s\n", mstls_strerror(rv));
      goto out;
    }
    printf("fd_peer: listening on %s:%u\n", o.host, o.port);
    fflush(stdout);
    rv = mstls_sctp_listener_wait(l, o.wait_s * 1000);
    if (rv < 0) {
      printf("fd_peer: nobody connected within %d s\n", o.wait_s);
      goto out;
    }
    t0 = fdp_now_ms();
    rv = mstls_sctp_accept(l, &a, &st, NULL, cred, NULL);
  } else {
    st.server_name = o.name;
    rv = mstls_sctp_connect(&a, &cfg, o.host, o.port, &st, NULL, cred, NULL);
  }
  ms = fdp_now_ms() - t0;
  printf("fd_peer: %s returned %s after %.0f ms\n",
         o.server ? "accept" : "connect", rv == 0 ? "0" : mstls_strerror(rv),
         ms);
  if (a == NULL || mstls_sctp_assoc_get_session(a) == NULL)
    goto out;
  if (fdp_report_streams(a, ms) != 0 || rv < 0)
    goto out;
  rx = calloc(mstls_session_get_nstreams(mstls_sctp_assoc_get_session(a)),
              sizeof(*rx));
  if (rx == NULL)
    goto out;

  if (o.server) {
    if (fdp_wait_for(a, rx, FDP_CMD_CE, 1, &o, &p, &k) < 0)
      goto out;
    fdp_begin(&m, 0, FDP_CMD_CE, p.hbh, p.e2e);
    fdp_avp_u32(&m, FDP_AVP_RESULT_CODE, FDP_AVP_MANDATORY, FDP_SUCCESS);
    fdp_ce_avps(&m, &o);
    fdp_finish(&m);
    if (fdp_send(mstls_sctp_assoc_get_session(a), k, &m) < 0)
      goto out;
  } else {
    fdp_begin(&m, FDP_FLAG_REQUEST, FDP_CMD_CE, fdp_next_id, fdp_next_id);
    fdp_next_id++;
    fdp_ce_avps(&m, &o);
    fdp_finish(&m);
    if (fdp_send(mstls_sctp_assoc_get_session(a), 0, &m) < 0 ||
        fdp_wait_for(a, rx, FDP_CMD_CE, 0, &o, &p, &k) < 0)
      goto out;
    if (!p.have_result || p.result != FDP_SUCCESS) {
      printf("fd_peer: CEA without success\n");
      goto out;
    }
  }
  printf("fd_peer: capabilities exchange done with %s\n", p.origin_host);
  fflush(stdout);
  rv = fdp_close(a, rx, &o);
  if (rv == -1)
    goto out;
  ok = rv == 0 ? 1 : 3;
out:
  printf("fd_peer: RESULT %s\n", ok == 1   ? "ok"
                                 : ok == 3 ? "ok except the close"
                                           : "failed");
  fflush(stdout);
  free(rx);
  mstls_sctp_assoc_del(a);
  mstls_sctp_listener_del(l);
  mstls_credentials_del(cred);
  return ok == 1 ? 0 : ok == 3 ? 3 : 1;
}
