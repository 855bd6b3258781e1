#include "udp_helpers.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/* ---- counting allocator ---------------------------------------------------
 */

typedef struct cm_hdr {
  size_t size;
  size_t pad;
} cm_hdr;

static void *cm_malloc(size_t size, void *ud) {
  udpt_counting_mem *c = ud;
  cm_hdr *h = malloc(sizeof(*h) + size);
  if (!h) {
    return NULL;
  }
  h->size = size;
  c->allocs++;
  c->live += (int64_t)size;
  return h + 1;
}

static void cm_free(void *p, void *ud) {
  udpt_counting_mem *c = ud;
  cm_hdr *h;
  if (!p) {
    return;
  }
  h = (cm_hdr *)p - 1;
  c->frees++;
  c->live -= (int64_t)h->size;
  free(h);
}

static void *cm_calloc(size_t n, size_t size, void *ud) {
  void *p;
  if (size && n > SIZE_MAX / size) {
    return NULL;
  }
  p = cm_malloc(n * size, ud);
  if (p) {
    memset(p, 0, n * size);
  }
  return p;
}

static void *cm_realloc(void *p, size_t size, void *ud) {
  udpt_counting_mem *c = ud;
  cm_hdr *h;
  void *q;
  if (!p) {
    return cm_malloc(size, ud);
  }
  h = (cm_hdr *)p - 1;
  q = cm_malloc(size, ud);
  if (!q) {
    return NULL;
  }
  memcpy(q, p, h->size < size ? h->size : size);
  cm_free(p, ud);
  (void)c;
  return q;
}

void udpt_counting_mem_init(udpt_counting_mem *c) {
  memset(c, 0, sizeof(*c));
  c->mem.user_data = c;
  c->mem.malloc = cm_malloc;
  c->mem.free = cm_free;
  c->mem.calloc = cm_calloc;
  c->mem.realloc = cm_realloc;
}

/* ---- credentials ------------------------------------------------------------
 */

static char g_cert_pem[8192];
static char g_key_pem[8192];
static int g_pem_ready;

static int make_pem_pair(void) {
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  uint8_t serial[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  size_t n;
  time_t now = time(NULL);
  int ok = -1;

  if (g_pem_ready) {
    return 0;
  }
  if (gnutls_x509_privkey_init(&key) < 0 ||
      gnutls_x509_privkey_generate(
          key, GNUTLS_PK_ECDSA,
          GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
      gnutls_x509_crt_init(&crt) < 0 ||
      gnutls_x509_crt_set_version(crt, 3) < 0 ||
      gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
      gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
      gnutls_x509_crt_set_expiration_time(crt, now + 86400) < 0 ||
      gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                    "localhost", 9) < 0 ||
      gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost",
                                           9, GNUTLS_FSAN_SET) < 0 ||
      gnutls_x509_crt_set_key(crt, key) < 0 ||
      gnutls_x509_crt_set_basic_constraints(crt, 1, -1) < 0 ||
      gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
                                             GNUTLS_KEY_KEY_CERT_SIGN) < 0 ||
      gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0) {
    goto out;
  }
  n = sizeof(g_cert_pem) - 1;
  if (gnutls_x509_crt_export(crt, GNUTLS_X509_FMT_PEM, g_cert_pem, &n) < 0) {
    goto out;
  }
  g_cert_pem[n] = 0;
  n = sizeof(g_key_pem) - 1;
  if (gnutls_x509_privkey_export_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
                                       GNUTLS_PKCS_PLAIN, g_key_pem, &n) < 0) {
    goto out;
  }
  g_key_pem[n] = 0;
  g_pem_ready = 1;
  ok = 0;
out:
  if (crt) {
    gnutls_x509_crt_deinit(crt);
  }
  if (key) {
    gnutls_x509_privkey_deinit(key);
  }
  return ok;
}

mstls_credentials *udpt_server_creds(void) {
  mstls_credentials *c = NULL;
  if (make_pem_pair() < 0 || mstls_credentials_new(&c, NULL) < 0) {
    return NULL;
  }
  if (mstls_credentials_set_key_mem(c, g_cert_pem, strlen(g_cert_pem),
                                    g_key_pem, strlen(g_key_pem)) < 0) {
    mstls_credentials_del(c);
    return NULL;
  }
  return c;
}

mstls_credentials *udpt_client_creds(mstls_credentials *server) {
  mstls_credentials *c = NULL;
  (void)server;
  if (make_pem_pair() < 0 || mstls_credentials_new(&c, NULL) < 0) {
    return NULL;
  }
  if (mstls_credentials_set_trust_mem(c, g_cert_pem, strlen(g_cert_pem)) < 0) {
    mstls_credentials_del(c);
    return NULL;
  }
  return c;
}

static int write_file(const char *path, const char *s) {
  FILE *f = fopen(path, "w");
  if (!f) {
    return -1;
  }
  fputs(s, f);
  return fclose(f) == 0 ? 0 : -1;
}

int udpt_write_pem_pair(const char *dir, char *cert_path, char *key_path,
                        size_t pathlen) {
  if (make_pem_pair() < 0) {
    return -1;
  }
  snprintf(cert_path, pathlen, "%s/cert.pem", dir);
  snprintf(key_path, pathlen, "%s/key.pem", dir);
  if (write_file(cert_path, g_cert_pem) < 0 ||
      write_file(key_path, g_key_pem) < 0) {
    return -1;
  }
  return 0;
}

/* ---- simulated network ------------------------------------------------------
 */

typedef struct udpt_pkt {
  int from;
  struct sockaddr_storage to;
  socklen_t tolen;
  size_t len;
  uint8_t *data;
} udpt_pkt;

typedef struct udpt_node {
  mstls_udp_endpoint *ep;
  struct sockaddr_storage addr;
  socklen_t addrlen;
} udpt_node;

struct udpt_net {
  udpt_loss loss;
  uint32_t rng;
  udpt_node nodes[UDPT_MAX_NODES];
  size_t nnodes;
  udpt_pkt *q;
  size_t qhead, qlen, qcap;
  mstls_tstamp now;
  int real_clock;
  udpt_filter_fn filter;
  void *filter_ctx;
  uint64_t sent, dropped;
};

static udpt_net *g_net;

static uint32_t net_rand(udpt_net *n) {
  uint32_t x = n->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  n->rng = x;
  return x;
}

void udpt_addr(struct sockaddr_storage *ss, socklen_t *len, uint32_t index,
               int v6) {
  memset(ss, 0, sizeof(*ss));
  if (v6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)(4000 + (index & 0x3fff)));
    /* Each node is a host of its own /64 (fd00:0:IIII:IIII::1). */
    a->sin6_addr.s6_addr[0] = 0xfd;
    a->sin6_addr.s6_addr[4] = (uint8_t)(index >> 24);
    a->sin6_addr.s6_addr[5] = (uint8_t)(index >> 16);
    a->sin6_addr.s6_addr[6] = (uint8_t)(index >> 8);
    a->sin6_addr.s6_addr[7] = (uint8_t)index;
    a->sin6_addr.s6_addr[15] = 1;
    *len = sizeof(*a);
    return;
  }
  {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    uint32_t ip = 0x0a000000u | (index & 0xffffffu);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)(4000 + (index & 0x3fff)));
    a->sin_addr.s_addr = htonl(ip);
    *len = sizeof(*a);
  }
}

static int net_find_addr(udpt_net *n, const struct sockaddr *sa,
                         socklen_t len) {
  size_t i;
  for (i = 0; i < n->nnodes; i++) {
    if (n->nodes[i].addrlen == len && memcmp(&n->nodes[i].addr, sa, len) == 0) {
      return (int)i;
    }
  }
  return -1;
}

int udpt_net_node_of(udpt_net *n, mstls_udp_endpoint *ep) {
  size_t i;
  for (i = 0; i < n->nnodes; i++) {
    if (n->nodes[i].ep == ep) {
      return (int)i;
    }
  }
  return -1;
}

static void net_enqueue(udpt_net *n, int from, const struct sockaddr *to,
                        socklen_t tolen, const uint8_t *data, size_t len) {
  udpt_pkt *p;
  if (n->qhead + n->qlen == n->qcap) {
    if (n->qhead > 0) {
      memmove(n->q, n->q + n->qhead, n->qlen * sizeof(*n->q));
      n->qhead = 0;
    } else {
      n->qcap = n->qcap ? n->qcap * 2 : 1024;
      n->q = realloc(n->q, n->qcap * sizeof(*n->q));
      if (!n->q) {
        abort();
      }
    }
  }
  p = &n->q[n->qhead + n->qlen++];
  p->from = from;
  memcpy(&p->to, to, tolen);
  p->tolen = tolen;
  p->len = len;
  p->data = malloc(len ? len : 1);
  if (!p->data) {
    abort();
  }
  memcpy(p->data, data, len);
  if (n->loss.reorder_pct && n->qlen > 1 &&
      net_rand(n) % 100 < n->loss.reorder_pct) {
    /* Swap with an earlier queued datagram: this one overtakes it. */
    size_t j = n->qhead + net_rand(n) % (n->qlen - 1);
    udpt_pkt t = n->q[j];
    n->q[j] = *p;
    *p = t;
  }
}

static int net_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                    socklen_t tolen, const uint8_t *data, size_t len,
                    void *ud) {
  udpt_net *n = g_net;
  int from = udpt_net_node_of(n, ep);
  (void)ud;
  n->sent++;
  if (n->filter &&
      n->filter(from, net_find_addr(n, to, tolen), data, len, n->filter_ctx)) {
    n->dropped++;
    return 0;
  }
  if (n->loss.drop_pct && net_rand(n) % 100 < n->loss.drop_pct) {
    n->dropped++;
    return 0;
  }
  net_enqueue(n, from, to, tolen, data, len);
  if (n->loss.dup_pct && net_rand(n) % 100 < n->loss.dup_pct) {
    net_enqueue(n, from, to, tolen, data, len);
  }
  return 0;
}

udpt_net *udpt_net_new(const udpt_loss *loss) {
  udpt_net *n = calloc(1, sizeof(*n));
  if (!n) {
    return NULL;
  }
  if (loss) {
    n->loss = *loss;
  }
  n->rng = n->loss.seed ? n->loss.seed : 12345;
  n->now = 1000 * MSTLS_SECONDS;
  g_net = n;
  return n;
}

void udpt_net_free(udpt_net *n) {
  size_t i;
  if (!n) {
    return;
  }
  for (i = 0; i < n->nnodes; i++) {
    mstls_udp_endpoint_del(n->nodes[i].ep);
  }
  for (i = 0; i < n->qlen; i++) {
    free(n->q[n->qhead + i].data);
  }
  free(n->q);
  if (g_net == n) {
    g_net = NULL;
  }
  free(n);
}

mstls_udp_endpoint *udpt_net_add(udpt_net *n, uint32_t index, int v6,
                                 const mstls_udp_settings *s,
                                 const mstls_udp_callbacks *cb,
                                 mstls_credentials *cred, void *user_data) {
  mstls_udp_callbacks c = *cb;
  udpt_node *node;
  if (n->nnodes == UDPT_MAX_NODES) {
    return NULL;
  }
  node = &n->nodes[n->nnodes];
  c.send = net_send;
  if (mstls_udp_endpoint_new(&node->ep, s, &c, cred, user_data) < 0) {
    return NULL;
  }
  udpt_addr(&node->addr, &node->addrlen, index, v6);
  n->nnodes++;
  return node->ep;
}

void udpt_net_set_filter(udpt_net *n, udpt_filter_fn fn, void *ctx) {
  n->filter = fn;
  n->filter_ctx = ctx;
}

static mstls_tstamp real_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (mstls_tstamp)ts.tv_sec * MSTLS_SECONDS + (mstls_tstamp)ts.tv_nsec;
}

mstls_tstamp udpt_net_now(udpt_net *n) {
  return n->real_clock ? real_now() : n->now;
}

void udpt_net_advance(udpt_net *n, mstls_tstamp dt) {
  n->now += dt;
}

void udpt_net_use_real_clock(udpt_net *n) {
  n->real_clock = 1;
}

size_t udpt_net_in_flight(udpt_net *n) {
  return n->qlen;
}

uint64_t udpt_net_sent(udpt_net *n) {
  return n->sent;
}

uint64_t udpt_net_dropped(udpt_net *n) {
  return n->dropped;
}

static void net_timers(udpt_net *n) {
  mstls_tstamp now = udpt_net_now(n);
  size_t i;
  for (i = 0; i < n->nnodes; i++) {
    if (mstls_udp_endpoint_get_expiry(n->nodes[i].ep) <= now) {
      mstls_udp_endpoint_handle_expiry(n->nodes[i].ep, now);
    }
  }
}

size_t udpt_net_step(udpt_net *n, size_t max) {
  size_t done = 0;
  while (n->qlen > 0 && done < max) {
    udpt_pkt p = n->q[n->qhead];
    int to;
    n->qhead++;
    n->qlen--;
    if (n->qlen == 0) {
      n->qhead = 0;
    }
    to = net_find_addr(n, (struct sockaddr *)&p.to, p.tolen);
    if (to >= 0 && p.from >= 0) {
      mstls_udp_endpoint_feed(
          n->nodes[to].ep, (struct sockaddr *)&n->nodes[p.from].addr,
          n->nodes[p.from].addrlen, p.data, p.len, udpt_net_now(n));
    }
    free(p.data);
    done++;
  }
  net_timers(n);
  return done;
}

int udpt_net_run(udpt_net *n, int (*done)(void *ctx), void *ctx,
                 size_t max_rounds) {
  size_t r;
  for (r = 0; r < max_rounds; r++) {
    mstls_tstamp next = MSTLS_TSTAMP_NEVER;
    size_t i;
    if (done && done(ctx)) {
      return 1;
    }
    if (n->qlen) {
      udpt_net_step(n, n->qlen);
      continue;
    }
    for (i = 0; i < n->nnodes; i++) {
      mstls_tstamp e = mstls_udp_endpoint_get_expiry(n->nodes[i].ep);
      if (e < next) {
        next = e;
      }
    }
    if (next == MSTLS_TSTAMP_NEVER) {
      break;
    }
    if (n->real_clock) {
      mstls_tstamp now = real_now();
      if (next > now) {
        mstls_tstamp d = next - now;
        struct timespec ts;
        if (d > 50 * MSTLS_MILLISECONDS) {
          d = 50 * MSTLS_MILLISECONDS;
        }
        ts.tv_sec = (time_t)(d / MSTLS_SECONDS);
        ts.tv_nsec = (long)(d % MSTLS_SECONDS);
        nanosleep(&ts, NULL);
      }
    } else if (next > n->now) {
      n->now = next;
    }
    net_timers(n);
  }
  return done ? done(ctx) : 0;
}

/* ---- a real ClientHello
 * -------------------------------------------------------- */

typedef struct ch_cap {
  uint8_t *buf;
  size_t cap;
  size_t len;
} ch_cap;

static ssize_t ch_push(gnutls_transport_ptr_t p, const void *data, size_t len) {
  ch_cap *c = p;
  if (c->len == 0 && len <= c->cap) {
    memcpy(c->buf, data, len);
    c->len = len;
  }
  return (ssize_t)len;
}

static ssize_t ch_pull(gnutls_transport_ptr_t p, void *data, size_t len) {
  (void)p;
  (void)data;
  (void)len;
  errno = EAGAIN;
  return -1;
}

static int ch_pull_timeout(gnutls_transport_ptr_t p, unsigned ms) {
  (void)p;
  (void)ms;
  return 0;
}

size_t udpt_client_hello(uint8_t *buf, size_t cap) {
  gnutls_session_t s;
  gnutls_certificate_credentials_t x;
  ch_cap c = {buf, cap, 0};
  if (gnutls_certificate_allocate_credentials(&x) < 0) {
    return 0;
  }
  if (gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_DATAGRAM | GNUTLS_NONBLOCK) < 0) {
    gnutls_certificate_free_credentials(x);
    return 0;
  }
  gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-DTLS1.2", NULL);
  gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, x);
  gnutls_transport_set_ptr(s, &c);
  gnutls_transport_set_push_function(s, ch_push);
  gnutls_transport_set_pull_function(s, ch_pull);
  gnutls_transport_set_pull_timeout_function(s, ch_pull_timeout);
  (void)gnutls_handshake(s);
  gnutls_deinit(s);
  gnutls_certificate_free_credentials(x);
  return c.len;
}

size_t udpt_with_cookie(const uint8_t *ch, size_t chlen, const uint8_t *cookie,
                        size_t clen, uint8_t *out) {
  size_t sid_pos = 13 + 12 + 2 + 32;
  size_t cookie_pos = sid_pos + 1 + ch[sid_pos];
  size_t rec = ((size_t)ch[11] << 8 | ch[12]) + clen;
  size_t hs = rec - 12;
  memcpy(out, ch, cookie_pos);
  out[cookie_pos] = (uint8_t)clen;
  memcpy(out + cookie_pos + 1, cookie, clen);
  memcpy(out + cookie_pos + 1 + clen, ch + cookie_pos + 1,
         chlen - cookie_pos - 1);
  out[11] = (uint8_t)(rec >> 8);
  out[12] = (uint8_t)rec;
  out[14] = out[22] = (uint8_t)(hs >> 16);
  out[15] = out[23] = (uint8_t)(hs >> 8);
  out[16] = out[24] = (uint8_t)hs;
  return chlen + clen;
}

mstls_udp_endpoint *udpt_net_renew(udpt_net *n, mstls_udp_endpoint *old,
                                   const mstls_udp_settings *s,
                                   const mstls_udp_callbacks *cb,
                                   mstls_credentials *cred, void *user_data) {
  mstls_udp_callbacks c = *cb;
  int i = udpt_net_node_of(n, old);
  if (i < 0) {
    return NULL;
  }
  mstls_udp_endpoint_del(old);
  n->nodes[i].ep = NULL;
  c.send = net_send;
  if (mstls_udp_endpoint_new(&n->nodes[i].ep, s, &c, cred, user_data) < 0) {
    return NULL;
  }
  return n->nodes[i].ep;
}

/* ---- hand-carried queues --------------------------------------------------
 */

static int queue_send(mstls_udp_endpoint *ep, const struct sockaddr *to,
                      socklen_t tolen, const uint8_t *d, size_t len, void *ud) {
  udpt_queue *q = ud;
  (void)ep;
  (void)to;
  (void)tolen;
  assert_true(q->n < UDPT_QUEUE_MAX && len <= sizeof(q->data[0]));
  memcpy(q->data[q->n], d, len);
  q->len[q->n++] = len;
  return 0;
}

void udpt_queue_done(mstls_udp_endpoint *ep, uint32_t flags,
                     mstls_udp_peer *peer, void *ud) {
  udpt_queue *q = ud;
  (void)ep;
  (void)flags;
  (void)peer;
  q->done++;
}

mstls_udp_endpoint *udpt_queue_endpoint(int server, mstls_credentials *cred,
                                        udpt_queue *q) {
  mstls_udp_settings s;
  mstls_udp_callbacks cb;
  mstls_udp_endpoint *ep = NULL;
  mstls_udp_settings_default(&s);
  if (!server) {
    s.flags = MSTLS_UDP_INSECURE;
  }
  memset(&cb, 0, sizeof(cb));
  cb.send = queue_send;
  cb.handshake_done = udpt_queue_done;
  assert_int_equal(mstls_udp_endpoint_new(&ep, &s, &cb, cred, q), 0);
  return ep;
}

void udpt_queue_carry(udpt_queue *from, mstls_udp_endpoint *to,
                      const struct sockaddr_in *src, mstls_tstamp now) {
  size_t i;
  for (i = 0; i < from->n; i++) {
    (void)mstls_udp_endpoint_feed(to, (const struct sockaddr *)src,
                                  sizeof(*src), from->data[i], from->len[i],
                                  now);
  }
  from->n = 0;
}
