/* In-process SCTP harness: a client and a server association over an
 * AF_CONN link pair on a NOTHREADS usrsctp stack, driven step by step. */
#ifndef TEST_SCTP_HARNESS_H
#define TEST_SCTP_HARNESS_H

#include <mstls/sctp.h>

typedef struct sctp_h {
  mstls_sctp_link_pair *pair;
  mstls_sctp_listener *lst;
  mstls_sctp_assoc *cli;
  mstls_sctp_assoc *srv;
  mstls_credentials *ccred;
  mstls_credentials *scred;
  mstls_sctp_config ccfg;
  mstls_sctp_config scfg;
  mstls_settings cs;
  mstls_settings ss;
  mstls_callbacks ccb;
  mstls_callbacks scb;
  void *cud;
  void *sud;
  uint16_t port;
  int cli_rc; /* last error of the client association */
  int srv_rc;
} sctp_h;

/* Start the process's NOTHREADS stack (group setup) / stop it. */
int sctp_h_stack_up(void);
void sctp_h_stack_down(void);
/* The same as CMocka group setup and teardown functions. */
int sctp_h_group_setup(void **state);
int sctp_h_group_teardown(void **state);

/* Fill defaults: @p n streams both ways, policy @p pol, non-blocking. */
void sctp_h_defaults(sctp_h *h, uint16_t n, mstls_policy pol);
/* Create the link pair, listener and client (after adjusting h's configs).
 * @return 0 or an MSTLS_E_* code. */
int sctp_h_start(sctp_h *h);
/* One step: deliver packets, accept, process both sides, advance timers. */
void sctp_h_step(sctp_h *h);
/* Step until both sessions finished their handshakes. @return the client's
 * mstls_session_handshake() result (or an association error). */
int sctp_h_handshake(sctp_h *h, int max_steps);
/* Shut down both ends and free everything. */
void sctp_h_close(sctp_h *h);

/* Count DATA chunks and forbidden ones in an SCTP packet. */
typedef struct sctp_h_wire {
  unsigned data_chunks;
  unsigned unordered;
  unsigned forward_tsn;
  unsigned ppid_seen[64]; /* last PPID seen per stream (< 64) */
} sctp_h_wire;
void sctp_h_inspect(sctp_h_wire *w, const uint8_t *pkt, size_t len);

#endif
