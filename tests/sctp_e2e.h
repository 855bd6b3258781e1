/* End-to-end suite between two processes over real SCTP, parameterised by
 * backend: usrsctp (UDP encapsulation on loopback) or kernel SCTP. */
#ifndef TEST_SCTP_E2E_H
#define TEST_SCTP_E2E_H

#include <mstls/sctp.h>

typedef struct e2e_case {
  mstls_sctp_backend backend;
  uint16_t streams;
  mstls_policy policy;
  size_t msg_size; /* bytes echoed on each stream */
  unsigned rounds; /* messages per stream */
  /* 0: blocking API. 1: both processes run non-blocking associations
   * (config.blocking = 0) from a poll() loop on the association's fd
   * (mstls_sctp_assoc_get_fd(), mstls_sctp_assoc_get_events()). */
  int event_loop;
  /* Blocking API only. Nonzero: both sockets get send and receive buffers
   * of this many bytes, the client asserts that its blocked sends read
   * ahead (stats.parked > 0), and the server reads ahead at most
   * park_max bytes (plus one message). */
  size_t sock_buffer;
  size_t srv_park_max;
} e2e_case;

/* Fork a server and a client process, run the case, reap both.
 * @return 0 on success, else a description-free failure code. */
int e2e_run(const e2e_case *c);

/* Two server processes sharing only a ticket key; a client process makes
 * an association with the first, then resumes every stream (stream 0
 * included) of a new association with the second from the resumption
 * data. @return 0 on success. */
int e2e_run_fleet(mstls_sctp_backend backend, uint16_t streams);

/* A UDP port pair (p, p + 1) free now and unique to this process, for
 * usrsctp's UDP encapsulation (server, client). 0 if none was found. */
uint16_t e2e_pick_port(void);

/* 1 if the backend can run here; else prints a one-line reason. */
int e2e_backend_available(mstls_sctp_backend b);

#endif
