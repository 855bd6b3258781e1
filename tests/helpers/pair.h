/* A client and a server session joined by a memlink. */
#ifndef TEST_PAIR_H
#define TEST_PAIR_H

#include "certs.h"
#include "memlink.h"

typedef struct test_pair {
  memlink *link;
  mstls_session *client;
  mstls_session *server;
  mstls_credentials *ccred;
  mstls_credentials *scred;
} test_pair;

/* Settings for a test client of "server.test" with @p n streams. */
void test_client_settings(mstls_settings *s, uint32_t n, mstls_policy p);
void test_server_settings(mstls_settings *s, uint32_t n, mstls_policy p);

/* Create both sessions. @p ccb / @p scb may carry extra callbacks
 * (recv_data, stream_event); push/pull are set by the pair. @p user_data
 * is given to both sessions' callbacks (NULL: the link). @return 0 or an
 * MSTLS_E_* code (all created objects freed). */
int test_pair_new(test_pair *p, const mstls_settings *cs,
                  const mstls_settings *ss, const memlink_config *lc,
                  const mstls_callbacks *ccb, const mstls_callbacks *scb);
/* Drive the client's handshake over the link. @return its final result. */
/* As test_pair_new with the given credentials (taken over by the pair,
 * freed by test_pair_free even on failure). */
int test_pair_new_creds(test_pair *p, const mstls_settings *cs,
                        const mstls_settings *ss, const memlink_config *lc,
                        const mstls_callbacks *ccb, const mstls_callbacks *scb,
                        mstls_credentials *ccred, mstls_credentials *scred);
int test_pair_handshake(test_pair *p, size_t max_msgs);
/* Deliver everything in flight (bounded), running timers. */
void test_pair_flush(test_pair *p);

/* Deterministic content of byte @p off of stream @p stream's data. */
uint8_t test_pattern(uint16_t stream, uint64_t off);
/* A seeded xorshift64 generator: the next value of @p state, in [0, n). */
uint32_t test_rand(uint64_t *state, uint32_t n);
void test_pair_free(test_pair *p);

#endif
