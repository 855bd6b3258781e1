#include "sctp_harness.h"

#include <arpa/inet.h>
#include <string.h>

#include "certs.h"
#include "pair.h"

int sctp_h_stack_up(void) {
  return mstls_sctp_usrsctp_init(0, MSTLS_SCTP_USRSCTP_NOTHREADS);
}

void sctp_h_stack_down(void) {
  (void)mstls_sctp_usrsctp_release();
}

void sctp_h_defaults(sctp_h *h, uint16_t n, mstls_policy pol) {
  memset(h, 0, sizeof(*h));
  mstls_sctp_config_default(&h->ccfg);
  h->ccfg.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  h->ccfg.blocking = 0;
  h->ccfg.streams_in = n;
  h->ccfg.streams_out = n;
  h->scfg = h->ccfg;
  test_client_settings(&h->cs, n, pol);
  test_server_settings(&h->ss, n, pol);
  h->port = 5001;
}

int sctp_h_start(sctp_h *h) {
  int rc = mstls_sctp_link_pair_new(&h->pair);

  if (rc != 0)
    return rc;
  h->ccred = test_client_creds(NULL, NULL, 0);
  h->scred = test_server_creds(NULL);
  if (h->ccred == NULL || h->scred == NULL)
    return MSTLS_E_CREDENTIALS;
  h->scfg.link = mstls_sctp_link_pair_get(h->pair, 1);
  h->ccfg.link = mstls_sctp_link_pair_get(h->pair, 0);
  rc = mstls_sctp_listen(&h->lst, &h->scfg, NULL, h->port);
  if (rc != 0)
    return rc;
  return mstls_sctp_connect(&h->cli, &h->ccfg, NULL, h->port, &h->cs, &h->ccb,
                            h->ccred, h->cud);
}

void sctp_h_step(sctp_h *h) {
  (void)mstls_sctp_link_pair_pump(h->pair);
  if (h->srv == NULL && h->lst != NULL) {
    int rc =
        mstls_sctp_accept(h->lst, &h->srv, &h->ss, &h->scb, h->scred, h->sud);
    if (rc != 0 && rc != MSTLS_E_AGAIN)
      h->srv_rc = rc;
  }
  if (h->cli != NULL)
    h->cli_rc = mstls_sctp_assoc_process(h->cli);
  if (h->srv != NULL)
    h->srv_rc = mstls_sctp_assoc_process(h->srv);
  (void)mstls_sctp_link_pair_pump(h->pair);
  mstls_sctp_usrsctp_handle_timers(10);
}

int sctp_h_handshake(sctp_h *h, int max_steps) {
  int i, rc = MSTLS_E_AGAIN;

  for (i = 0; i < max_steps; i++) {
    mstls_session *c, *s;
    sctp_h_step(h);
    if (h->cli_rc != 0)
      return h->cli_rc;
    c = mstls_sctp_assoc_get_session(h->cli);
    s = mstls_sctp_assoc_get_session(h->srv);
    if (c == NULL || s == NULL)
      continue;
    rc = mstls_session_handshake(c);
    if (rc != MSTLS_E_AGAIN && mstls_session_handshake(s) != MSTLS_E_AGAIN)
      return rc;
  }
  return rc;
}

void sctp_h_close(sctp_h *h) {
  int i;

  if (h->cli != NULL)
    (void)mstls_sctp_assoc_shutdown(h->cli);
  for (i = 0; i < 50 && h->pair != NULL; i++)
    sctp_h_step(h);
  mstls_sctp_assoc_del(h->cli);
  mstls_sctp_assoc_del(h->srv);
  mstls_sctp_listener_del(h->lst);
  /* Let closing associations finish before the links go. */
  for (i = 0; i < 50 && h->pair != NULL; i++) {
    (void)mstls_sctp_link_pair_pump(h->pair);
    mstls_sctp_usrsctp_handle_timers(100);
  }
  mstls_sctp_link_pair_del(h->pair);
  mstls_credentials_del(h->ccred);
  mstls_credentials_del(h->scred);
  memset(h, 0, sizeof(*h));
}

void sctp_h_inspect(sctp_h_wire *w, const uint8_t *pkt, size_t len) {
  size_t off = 12; /* common header */

  while (off + 4 <= len) {
    uint8_t type = pkt[off];
    uint8_t flags = pkt[off + 1];
    uint16_t clen = (uint16_t)(pkt[off + 2] << 8 | pkt[off + 3]);
    if (clen < 4)
      break;
    if (type == 0 && off + 16 <= len) { /* DATA */
      uint16_t sid = (uint16_t)(pkt[off + 8] << 8 | pkt[off + 9]);
      uint32_t ppid;
      memcpy(&ppid, pkt + off + 12, 4);
      w->data_chunks++;
      if (flags & 0x04)
        w->unordered++;
      if (sid < 64)
        w->ppid_seen[sid] = ntohl(ppid);
    }
    if (type == 64) { /* I-DATA */
      w->data_chunks++;
      if (flags & 0x04)
        w->unordered++;
    }
    if (type == 192 || type == 194) /* FORWARD-TSN, I-FORWARD-TSN */
      w->forward_tsn++;
    off += (size_t)(clen + 3) & ~(size_t)3;
  }
}

int sctp_h_group_setup(void **state) {
  (void)state;
  return sctp_h_stack_up();
}

int sctp_h_group_teardown(void **state) {
  (void)state;
  sctp_h_stack_down();
  return 0;
}
