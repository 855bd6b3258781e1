/* One DTLS peer of an endpoint: its channel (GnuTLS session over an
 * in-memory queue), handshake and record processing, and its timers in
 * the endpoint's merged deadline heap. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "udp_int.h"

#include "creds.h"
#include "log.h"

#define PEER_HS_STEPS 32
#define PEER_READ_STEPS 64
/* GnuTLS's own handshake limit (about 24 days): never the one that acts. */
#define PEER_GNUTLS_TOTAL_MS 0x7fffffffu

/* ---- timer heap -------------------------------------------------------- */

static void heap_swap(mstls_udp_endpoint *ep, size_t a, size_t b) {
  mstls_udp_peer *t = ep->heap[a];
  ep->heap[a] = ep->heap[b];
  ep->heap[b] = t;
  ep->heap[a]->heap_idx = a;
  ep->heap[b]->heap_idx = b;
}

static void heap_up(mstls_udp_endpoint *ep, size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (ep->heap[parent]->deadline <= ep->heap[i]->deadline) {
      return;
    }
    heap_swap(ep, i, parent);
    i = parent;
  }
}

static void heap_down(mstls_udp_endpoint *ep, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1;
    size_t r = l + 1;
    size_t m = i;
    if (l < ep->heap_len && ep->heap[l]->deadline < ep->heap[m]->deadline) {
      m = l;
    }
    if (r < ep->heap_len && ep->heap[r]->deadline < ep->heap[m]->deadline) {
      m = r;
    }
    if (m == i) {
      return;
    }
    heap_swap(ep, i, m);
    i = m;
  }
}

int mstls_udp_heap_reserve(mstls_udp_endpoint *ep) {
  mstls_udp_peer **h;
  size_t cap;
  if (ep->heap_len < ep->heap_cap) {
    return 0;
  }
  cap = ep->heap_cap ? ep->heap_cap * 2 : 64;
  h = mstls_mem_realloc(ep->mem, ep->heap, cap * sizeof(*h));
  if (!h) {
    return MSTLS_E_NOMEM;
  }
  ep->heap = h;
  ep->heap_cap = cap;
  return 0;
}

void mstls_udp_heap_remove(mstls_udp_endpoint *ep, mstls_udp_peer *peer) {
  size_t i = peer->heap_idx;
  if (i == SIZE_MAX) {
    return;
  }
  peer->heap_idx = SIZE_MAX;
  ep->heap_len--;
  if (i == ep->heap_len) {
    return;
  }
  ep->heap[i] = ep->heap[ep->heap_len];
  ep->heap[i]->heap_idx = i;
  heap_up(ep, i);
  heap_down(ep, ep->heap[i]->heap_idx);
}

/* Capacity was reserved when the peer was created, so insertion never
 * allocates. */
void mstls_udp_heap_update(mstls_udp_endpoint *ep, mstls_udp_peer *peer) {
  if (peer->deadline == MSTLS_TSTAMP_NEVER) {
    mstls_udp_heap_remove(ep, peer);
    return;
  }
  if (peer->heap_idx == SIZE_MAX) {
    peer->heap_idx = ep->heap_len;
    ep->heap[ep->heap_len++] = peer;
    heap_up(ep, peer->heap_idx);
    return;
  }
  heap_up(ep, peer->heap_idx);
  heap_down(ep, peer->heap_idx);
}

/* ---- scheduling ------------------------------------------------------- */

static void peer_schedule(mstls_udp_peer *peer) {
  mstls_udp_endpoint *ep = peer->ep;
  mstls_tstamp d = MSTLS_TSTAMP_NEVER;

  switch (peer->state) {
  case MSTLS_UDP_PEER_HANDSHAKING:
    d = peer->hs_deadline < peer->dtls_deadline ? peer->hs_deadline
                                                : peer->dtls_deadline;
    break;
  case MSTLS_UDP_PEER_OPEN:
    if (ep->settings.idle_timeout) {
      d = peer->last_active + ep->settings.idle_timeout;
    }
    break;
  case MSTLS_UDP_PEER_CLOSED:
  default:
    d = MSTLS_TSTAMP_NEVER;
    break;
  }
  peer->deadline = d;
  mstls_udp_heap_update(ep, peer);
}

/* ---- transport -------------------------------------------------------- */

static int peer_push(void *ctx, const giovec_t *iov, int iovcnt) {
  mstls_udp_peer *peer = ctx;
  mstls_udp_endpoint *ep = peer->ep;
  size_t total = 0;
  int i;

  if (iovcnt == 1) {
    mstls_udp_transmit(ep, (const struct sockaddr *)&peer->addr, peer->addrlen,
                       iov[0].iov_base, iov[0].iov_len);
    return 0;
  }
  for (i = 0; i < iovcnt; i++) {
    if (iov[i].iov_len > MSTLS_UDP_RECORD_MAX - total) {
      ep->stats.send_failures++;
      return 0; /* cannot be one datagram: lost */
    }
    memcpy(ep->txbuf + total, iov[i].iov_base, iov[i].iov_len);
    total += iov[i].iov_len;
  }
  mstls_udp_transmit(ep, (const struct sockaddr *)&peer->addr, peer->addrlen,
                     ep->txbuf, total);
  return 0;
}

/* ---- lifecycle -------------------------------------------------------- */

int mstls_udp_peer_create(mstls_udp_endpoint *ep, const struct sockaddr *sa,
                          socklen_t salen, const uint8_t *key, size_t keylen,
                          int client, const char *server_name,
                          const uint8_t *resume, size_t resume_len,
                          const gnutls_dtls_prestate_st *prestate,
                          const uint8_t *random, mstls_udp_prefix *prefix,
                          mstls_udp_peer *replaces, mstls_udp_peer **ppeer) {
  mstls_udp_peer *peer;
  unsigned flags = (client ? GNUTLS_CLIENT : GNUTLS_SERVER) | GNUTLS_DATAGRAM;
  gnutls_session_t tls;
  int rv;

  *ppeer = NULL;
  if (mstls_udp_heap_reserve(ep) < 0) {
    return MSTLS_E_NOMEM;
  }
  peer = mstls_mem_calloc(ep->mem, 1, sizeof(*peer));
  if (!peer) {
    return MSTLS_E_NOMEM;
  }
  peer->ep = ep;
  peer->heap_idx = SIZE_MAX;
  memcpy(&peer->addr, sa, salen);
  peer->addrlen = salen;
  memcpy(peer->key, key, keylen);
  peer->keylen = keylen;
  peer->state = MSTLS_UDP_PEER_HANDSHAKING;
  peer->flags = client ? MSTLS_UDP_PEER_CLIENT : 0;
  flags |= mstls_tlsopt_init_flags(&ep->tlsopt);
  rv = mstls_chan_init(&peer->ch, ep->mem, flags, peer_push, peer);
  if (rv < 0) {
    mstls_mem_free(ep->mem, peer);
    return rv;
  }
  tls = peer->ch.tls;
  peer->cred = mstls_credentials_ref(ep->cred);
  peer->ch.psk_cred = peer->cred;
  if (gnutls_priority_set(tls, ep->priority) < 0 ||
      gnutls_credentials_set(tls, GNUTLS_CRD_CERTIFICATE,
                             mstls_credentials_get_gnutls(peer->cred)) < 0 ||
      mstls_creds_attach_psk(peer->cred, tls, !client) < 0) {
    rv = MSTLS_E_TLS;
    goto fail;
  }
  if (client && server_name) {
    peer->server_name = mstls_mem_strdup(ep->mem, server_name);
    if (!peer->server_name) {
      rv = MSTLS_E_NOMEM;
      goto fail;
    }
    if (gnutls_server_name_set(tls, GNUTLS_NAME_DNS, server_name,
                               strlen(server_name)) < 0) {
      rv = MSTLS_E_TLS;
      goto fail;
    }
  }
  if (!client) {
    gnutls_certificate_server_set_request(
        tls, (ep->settings.flags & MSTLS_UDP_REQUIRE_CLIENT_CERT)
                 ? GNUTLS_CERT_REQUIRE
             : (ep->settings.flags & MSTLS_UDP_REQUEST_CLIENT_CERT)
                 ? GNUTLS_CERT_REQUEST
                 : GNUTLS_CERT_IGNORE);
    /* The ClientHello with the cookie is the second one: GnuTLS continues
     * from the sequence numbers the cookie exchange used. */
    gnutls_dtls_prestate_set(tls,
                             (gnutls_dtls_prestate_st *)(uintptr_t)prestate);
    /* Resumption: RFC 5077 tickets sealed with the credentials' ticket
     * key (servers sharing it resume each other's sessions) and the
     * credentials' session-ID cache. */
    mstls_scache_attach(&peer->cred->scache, tls);
    if (!(ep->settings.flags & MSTLS_UDP_NO_TICKETS) &&
        gnutls_session_ticket_enable_server(tls, &peer->cred->ticket_key) < 0) {
      rv = MSTLS_E_TLS;
      goto fail;
    }
  }
  {
    mstls_tls_ctx ctx = {client ? MSTLS_ROLE_CLIENT : MSTLS_ROLE_SERVER,
                         NULL,
                         -1,
                         peer,
                         (const struct sockaddr *)&peer->addr,
                         (unsigned)peer->addrlen};
    mstls_verify_mode mode =
        client
            ? ((ep->settings.flags & MSTLS_UDP_INSECURE) ? MSTLS_VERIFY_INSECURE
                                                         : MSTLS_VERIFY_REQUIRE)
        : (ep->settings.flags & MSTLS_UDP_REQUIRE_CLIENT_CERT)
            ? MSTLS_VERIFY_REQUIRE
        : (ep->settings.flags & MSTLS_UDP_REQUEST_CLIENT_CERT)
            ? MSTLS_VERIFY_OPTIONAL
            : MSTLS_VERIFY_NONE;
    rv = mstls_tlsopt_apply(&ep->tlsopt, &peer->ch, &ctx, !client,
                            peer->server_name, mode);
    if (rv < 0) {
      goto fail;
    }
  }
  if (client && (rv = mstls_udp_resume_offer(peer, resume, resume_len)) < 0) {
    goto fail;
  }
  gnutls_dtls_set_mtu(tls, ep->settings.mtu);
  /* Never gnutls_handshake_set_timeout(): it resets the retransmission
   * timeout to 1 s. The handshake deadline is ours (hs_deadline, on the
   * caller's clock); GnuTLS's own total, which it measures on the real
   * clock, is set out of reach so that only the caller's time decides. */
  gnutls_dtls_set_timeouts(tls, ep->settings.retrans_timeout_ms,
                           PEER_GNUTLS_TOTAL_MS);
  if (replaces) {
    /* Out of the table until its handshake completes. */
    peer->replaces = replaces;
    replaces->successor = peer;
    ep->stats.restarts_pending++;
  } else {
    rv = mstls_hash_put(&ep->peers, peer->key, peer->keylen, peer);
    if (rv < 0) {
      goto fail;
    }
    peer->in_table = 1;
  }
  if (random) {
    memcpy(peer->random, random, MSTLS_UDP_RANDOM_SIZE);
  }
  if (prefix) {
    peer->prefix = prefix;
    prefix->peers++;
    prefix->half_open++;
  }
  peer->hs_deadline = ep->now + ep->settings.handshake_timeout;
  peer->dtls_deadline = MSTLS_TSTAMP_NEVER;
  peer->last_active = ep->now;
  ep->stats.peers++;
  ep->stats.half_open++;
  if (client) {
    ep->stats.peers_connected++;
    ep->stats.resumption_offers += peer->resume_offered;
  } else {
    ep->stats.peers_accepted++;
  }
  *ppeer = peer;
  return 0;
fail:
  mstls_chan_deinit(&peer->ch);
  mstls_credentials_del(peer->cred);
  mstls_mem_free(ep->mem, peer->server_name);
  mstls_mem_free(ep->mem, peer);
  return rv;
}

void mstls_udp_peer_free(mstls_udp_peer *peer) {
  const mstls_mem *mem = peer->ep->mem;
  mstls_chan_deinit(&peer->ch);
  mstls_credentials_del(peer->cred);
  mstls_mem_free(mem, peer->server_name);
  mstls_mem_free(mem, peer);
}

/* The address's table entry passes from @p old to @p next, the restart
 * that ran beside it (no allocation: the key stays). */
static void peer_hand_over(mstls_udp_peer *old, mstls_udp_peer *next) {
  mstls_udp_endpoint *ep = old->ep;
  (void)mstls_hash_replace(&ep->peers, old->key, old->keylen, next);
  next->in_table = 1;
  next->replaces = NULL;
  old->in_table = 0;
  old->successor = NULL;
  ep->stats.restarts_pending--;
}

static void peer_leave_prefix(mstls_udp_peer *peer, mstls_udp_peer_state was) {
  mstls_udp_prefix *pre = peer->prefix;
  if (!pre) {
    return;
  }
  peer->prefix = NULL;
  pre->peers--;
  if (was == MSTLS_UDP_PEER_HANDSHAKING) {
    pre->half_open--;
  }
  mstls_udp_prefix_release(peer->ep, pre);
}

/* MSTLS_LOG_INFO: why the peer ends (@p why, or from @p reason). */
static void peer_log_end(mstls_udp_peer *peer, mstls_udp_peer_state was,
                         int reason, const char *why) {
  char text[160];
  if (!mstls_log_on(MSTLS_LOG_INFO)) {
    return;
  }
  if (why == NULL && reason == 0) {
    why = "closed by the peer (close_notify)";
  } else if (why == NULL && reason == MSTLS_E_CLOSED) {
    why = "closed";
  }
  if (why != NULL) {
    snprintf(text, sizeof(text), "%s", why);
  } else {
    snprintf(text, sizeof(text), "%s: %s",
             was == MSTLS_UDP_PEER_HANDSHAKING ? "handshake failed" : "closed",
             mstls_strerror(reason));
  }
  mstls_chan_log(&peer->ch, MSTLS_LOG_INFO, text);
}

static void peer_finish(mstls_udp_peer *peer, int reason, int bye,
                        const char *why);

void mstls_udp_peer_finish(mstls_udp_peer *peer, int reason, int bye) {
  peer_finish(peer, reason, bye, NULL);
}

static void peer_finish(mstls_udp_peer *peer, int reason, int bye,
                        const char *why) {
  mstls_udp_endpoint *ep = peer->ep;
  mstls_udp_peer_state was = peer->state;

  if (was == MSTLS_UDP_PEER_CLOSED) {
    return;
  }
  peer_log_end(peer, was, reason, why);
  if (bye && was == MSTLS_UDP_PEER_OPEN) {
    /* Best effort: with GNUTLS_NONBLOCK and a push that never blocks this
     * sends the close_notify alert and returns. */
    (void)gnutls_bye(peer->ch.tls, GNUTLS_SHUT_WR);
  }
  peer->state = MSTLS_UDP_PEER_CLOSED;
  peer->error = reason;
  if (was == MSTLS_UDP_PEER_HANDSHAKING) {
    ep->stats.half_open--;
    ep->stats.handshakes_failed++;
    if (reason == MSTLS_E_TIMEOUT) {
      ep->stats.handshake_timeouts++;
    }
    mstls_udp_resume_failed(peer, reason);
  }
  peer_leave_prefix(peer, was);
  if (peer->replaces) {
    /* A restart attempt that failed: the established peer stays. */
    peer->replaces->successor = NULL;
    peer->replaces = NULL;
    ep->stats.restarts_pending--;
  }
  if (peer->in_table && peer->successor) {
    /* The established peer ends while a new handshake from its address
     * runs: that one takes its place. */
    peer_hand_over(peer, peer->successor);
  }
  if (peer->in_table) {
    mstls_hash_remove(&ep->peers, peer->key, peer->keylen);
    peer->in_table = 0;
  }
  mstls_udp_heap_remove(ep, peer);
  ep->stats.peers--;
  ep->stats.closed++;
  peer->next_dead = ep->dead;
  ep->dead = peer;
  if (ep->cb.closed) {
    ep->cb.closed(ep, peer->flags, peer, reason, ep->user_data);
  }
}

/* ---- input ------------------------------------------------------------ */

static void peer_read(mstls_udp_peer *peer) {
  mstls_udp_endpoint *ep = peer->ep;
  int i;

  for (i = 0; i < PEER_READ_STEPS && peer->state == MSTLS_UDP_PEER_OPEN; i++) {
    ssize_t rv =
        gnutls_record_recv(peer->ch.tls, ep->rxbuf, MSTLS_UDP_RECORD_MAX);
    if (rv > 0) {
      peer->last_active = ep->now;
      if (ep->cb.recv_data) {
        ep->cb.recv_data(ep, peer->flags, peer, ep->rxbuf, (size_t)rv,
                         ep->user_data);
      }
      continue;
    }
    if (rv == 0) {
      /* close_notify received: answer with ours and forget the peer. */
      mstls_udp_peer_finish(peer, 0, 1);
      return;
    }
    if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) {
      /* GnuTLS answers a repeated final flight of the peer from in here
       * (RFC 6347 §4.2.4), which is why every datagram is fed to it. */
      if (peer->ch.rxq.count == 0) {
        return;
      }
      continue;
    }
    if (rv == GNUTLS_E_REHANDSHAKE) {
      /* Renegotiation is refused (RFC 5746 is not worth the state). */
      (void)gnutls_alert_send(peer->ch.tls, GNUTLS_AL_WARNING,
                              GNUTLS_A_NO_RENEGOTIATION);
      continue;
    }
    if (!gnutls_error_is_fatal((int)rv)) {
      mstls_udp_drop(ep, MSTLS_UDP_DROP_PEER_RECORD);
      continue;
    }
    mstls_udp_peer_finish(peer, mstls_chan_map_error(&peer->ch, (int)rv, 0), 0);
    return;
  }
}

/* A restart completed (Finished verified): the new session takes the
 * address and the old one ends. RFC 6347 §4.2.8. */
static void peer_take_over(mstls_udp_peer *peer) {
  mstls_udp_peer *old = peer->replaces;
  peer_hand_over(old, peer);
  peer->ep->stats.restarts++;
  mstls_udp_peer_finish(old, MSTLS_E_PEER_GONE, 0);
}

static void peer_handshake_done(mstls_udp_peer *peer) {
  mstls_udp_endpoint *ep = peer->ep;
  peer->state = MSTLS_UDP_PEER_OPEN;
  peer->dtls_deadline = MSTLS_TSTAMP_NEVER;
  peer->last_active = ep->now;
  ep->stats.half_open--;
  ep->stats.handshakes_done++;
  mstls_udp_resume_done(peer);
  if (peer->prefix) {
    peer->prefix->half_open--;
  }
  mstls_chan_log_handshake(&peer->ch);
  if (peer->replaces) {
    peer_take_over(peer);
  }
  if (ep->cb.handshake_done) {
    ep->cb.handshake_done(ep, peer->flags, peer, ep->user_data);
  }
  peer_read(peer);
}

static void peer_handshake(mstls_udp_peer *peer) {
  mstls_udp_endpoint *ep = peer->ep;
  unsigned ms;
  int i;

  for (i = 0; i < PEER_HS_STEPS; i++) {
    int rv = gnutls_handshake(peer->ch.tls);
    if (rv == 0) {
      peer_handshake_done(peer);
      return;
    }
    if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) {
      if (peer->ch.rxq.count) {
        continue;
      }
      break;
    }
    if (gnutls_error_is_fatal(rv)) {
      /* The address answered a cookie: tell it why, so that a client
       * offering only what we refuse (DTLS 1.0, say) fails at once. */
      mstls_chan_send_fail_alert(&peer->ch, rv);
      mstls_udp_peer_finish(peer, mstls_chan_map_error(&peer->ch, rv, 1), 0);
      return;
    }
  }
  /* DTLS timers only while handshaking: gnutls_dtls_get_timeout() returns
   * 0 forever once the handshake is over. A 0 now still means "soon". */
  ms = gnutls_dtls_get_timeout(peer->ch.tls);
  peer->dtls_deadline =
      ep->now + (mstls_tstamp)(ms ? ms : 1) * MSTLS_MILLISECONDS;
}

void mstls_udp_peer_start(mstls_udp_peer *peer) {
  peer_handshake(peer);
  if (peer->state != MSTLS_UDP_PEER_CLOSED) {
    peer_schedule(peer);
  }
}

int mstls_udp_peer_input(mstls_udp_peer *peer, const uint8_t *data,
                         size_t len) {
  if (mstls_chan_enqueue(&peer->ch, data, len) < 0) {
    mstls_udp_drop(peer->ep, MSTLS_UDP_DROP_NOMEM);
    return MSTLS_E_NOMEM;
  }
  switch (peer->state) {
  case MSTLS_UDP_PEER_HANDSHAKING:
    peer_handshake(peer);
    break;
  case MSTLS_UDP_PEER_OPEN:
    peer_read(peer);
    break;
  case MSTLS_UDP_PEER_CLOSED:
  default:
    break;
  }
  if (peer->state != MSTLS_UDP_PEER_CLOSED) {
    peer_schedule(peer);
  }
  return 0;
}

void mstls_udp_peer_expire(mstls_udp_peer *peer, mstls_tstamp now) {
  mstls_udp_endpoint *ep = peer->ep;

  switch (peer->state) {
  case MSTLS_UDP_PEER_HANDSHAKING:
    if (now >= peer->hs_deadline) {
      peer_finish(peer, MSTLS_E_TIMEOUT, 0, "handshake timed out");
      return;
    }
    if (now >= peer->dtls_deadline) {
      /* RFC 6347 §4.2.4: retransmit the last flight when the timer
       * expires; GnuTLS does it from inside the handshake call. */
      peer_handshake(peer);
    }
    break;
  case MSTLS_UDP_PEER_OPEN:
    if (ep->settings.idle_timeout &&
        now >= peer->last_active + ep->settings.idle_timeout) {
      ep->stats.reaped++;
      peer_finish(peer, MSTLS_E_PEER_GONE, 1, "reaped: idle timeout");
      return;
    }
    break;
  case MSTLS_UDP_PEER_CLOSED:
  default:
    return;
  }
  if (peer->state != MSTLS_UDP_PEER_CLOSED) {
    peer_schedule(peer);
  }
}

/* ---- public peer API ---------------------------------------------------- */

long mstls_udp_peer_send(mstls_udp_peer *peer, const void *data, size_t len) {
  mstls_udp_endpoint *ep;
  ssize_t rv;

  if (!peer || (!data && len)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (peer->state != MSTLS_UDP_PEER_OPEN) {
    return MSTLS_E_INVALID_STATE;
  }
  if (len > gnutls_dtls_get_data_mtu(peer->ch.tls)) {
    return MSTLS_E_MSG_SIZE;
  }
  ep = peer->ep;
  mstls_udp_enter(ep);
  rv = gnutls_record_send(peer->ch.tls, data, len);
  if (rv >= 0) {
    peer->last_active = ep->now;
    peer_schedule(peer);
  }
  mstls_udp_leave(ep);
  if (rv < 0) {
    return rv == GNUTLS_E_LARGE_PACKET ? MSTLS_E_MSG_SIZE : MSTLS_E_TLS;
  }
  return (long)rv;
}

size_t mstls_udp_peer_get_data_mtu(mstls_udp_peer *peer) {
  if (!peer || peer->state != MSTLS_UDP_PEER_OPEN) {
    return 0;
  }
  return gnutls_dtls_get_data_mtu(peer->ch.tls);
}

int mstls_udp_peer_close(mstls_udp_peer *peer) {
  mstls_udp_endpoint *ep;
  if (!peer) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (peer->state == MSTLS_UDP_PEER_CLOSED) {
    return MSTLS_E_INVALID_STATE;
  }
  ep = peer->ep;
  mstls_udp_enter(ep);
  mstls_udp_peer_finish(peer, MSTLS_E_CLOSED, 1);
  mstls_udp_leave(ep);
  return 0;
}

mstls_udp_peer_state mstls_udp_peer_get_state(mstls_udp_peer *peer) {
  return peer ? peer->state : MSTLS_UDP_PEER_CLOSED;
}

const struct sockaddr *mstls_udp_peer_get_addr(mstls_udp_peer *peer,
                                               socklen_t *plen) {
  if (plen) {
    *plen = peer ? peer->addrlen : 0;
  }
  return peer ? (const struct sockaddr *)&peer->addr : NULL;
}

mstls_udp_endpoint *mstls_udp_peer_get_endpoint(mstls_udp_peer *peer) {
  return peer ? peer->ep : NULL;
}

void mstls_udp_peer_set_user_data(mstls_udp_peer *peer, void *data) {
  if (peer) {
    peer->user_data = data;
  }
}

void *mstls_udp_peer_get_user_data(mstls_udp_peer *peer) {
  return peer ? peer->user_data : NULL;
}

gnutls_session_t mstls_udp_peer_get_gnutls(mstls_udp_peer *peer) {
  return peer ? peer->ch.tls : NULL;
}

int mstls_udp_peer_get_error(mstls_udp_peer *peer) {
  return peer ? peer->error : MSTLS_E_INVALID_ARGUMENT;
}

static int peer_established(const mstls_udp_peer *peer) {
  return peer->state == MSTLS_UDP_PEER_OPEN;
}

int mstls_udp_peer_get_error_detail(mstls_udp_peer *peer, char *buf,
                                    size_t len) {
  if (!peer || !buf || len == 0) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  buf[0] = '\0';
  if (peer->error == 0 || peer->error == MSTLS_E_CLOSED) {
    return 0;
  }
  snprintf(buf, len, "%s",
           peer->ch.detail[0] ? peer->ch.detail : mstls_strerror(peer->error));
  return (int)strlen(buf);
}

int mstls_udp_peer_get_info(mstls_udp_peer *peer, mstls_udp_peer_info *info) {
  const char *name;
  if (!peer || !info) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  info->version = info->cipher = info->group = "-";
  info->resumed = 0;
  if (!peer_established(peer)) {
    return MSTLS_E_INVALID_STATE;
  }
  name = gnutls_protocol_get_name(gnutls_protocol_get_version(peer->ch.tls));
  info->version = name ? name : "-";
  name = gnutls_cipher_get_name(gnutls_cipher_get(peer->ch.tls));
  info->cipher = name ? name : "-";
  name = gnutls_group_get_name(gnutls_group_get(peer->ch.tls));
  info->group = name ? name : "-";
  info->resumed = gnutls_session_is_resumed(peer->ch.tls) != 0;
  return 0;
}

int mstls_udp_peer_get_alpn(mstls_udp_peer *peer, char *buf, size_t len) {
  if (!peer || !buf || len == 0) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  buf[0] = '\0';
  if (!peer_established(peer)) {
    return MSTLS_E_INVALID_STATE;
  }
  return mstls_chan_get_alpn(&peer->ch, buf, len);
}

int mstls_udp_peer_get_peer_identity(mstls_udp_peer *peer,
                                     mstls_peer_identity *id) {
  if (!peer || !id) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  memset(id, 0, sizeof(*id));
  if (!peer_established(peer)) {
    return MSTLS_E_INVALID_STATE;
  }
  return mstls_chan_get_identity(&peer->ch, id);
}

int mstls_udp_peer_get_srtp(mstls_udp_peer *peer, mstls_srtp_keys *keys) {
  if (!peer || !keys) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  memset(keys, 0, sizeof(*keys));
  if (!peer_established(peer)) {
    return MSTLS_E_INVALID_STATE;
  }
  return mstls_chan_get_srtp(&peer->ch, keys);
}

int mstls_udp_peer_export_keying_material(mstls_udp_peer *peer,
                                          const char *label,
                                          const uint8_t *context,
                                          size_t context_len, uint8_t *out,
                                          size_t out_len) {
  if (!peer) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (!peer_established(peer)) {
    return label && out && out_len ? MSTLS_E_INVALID_STATE
                                   : MSTLS_E_INVALID_ARGUMENT;
  }
  return mstls_chan_export(&peer->ch, label, context, context_len, out,
                           out_len);
}
