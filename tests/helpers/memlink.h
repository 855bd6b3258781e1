/* In-memory message link between two sessions, for tests and benchmarks.
 *
 * Keeps message boundaries and stream ids. Each message gets a one-way
 * delay of latency + a seeded random jitter in simulated time; messages of
 * one stream never overtake each other (SCTP ordered delivery), messages
 * of different streams may. memlink_run() delivers in simulated-time order
 * and runs both sessions' timers, so round trips can be counted. */
#ifndef MEMLINK_H
#define MEMLINK_H

#include <pthread.h>
#include <stdint.h>

#include <mstls/mstls.h>

#define MEMLINK_CLIENT 0
#define MEMLINK_SERVER 1

typedef struct memlink memlink;

typedef struct memlink_config {
  uint64_t seed;
  mstls_tstamp latency; /* one-way, default 10 ms */
  mstls_tstamp jitter;  /* extra random delay in [0, jitter) */
} memlink_config;

/* Called for every message before it is queued; may change it in place,
 * set *drop to discard it. */
typedef void (*memlink_tamper_fn)(int from, uint16_t stream, uint32_t *flags,
                                  uint8_t *data, size_t len, int *drop,
                                  void *ctx);

memlink *memlink_new(const memlink_config *cfg);
void memlink_free(memlink *l);
/* Attach the session of one side (MEMLINK_CLIENT / MEMLINK_SERVER); the
 * session's push callback must be memlink_push_client/_server with the
 * link as user data (see memlink_callbacks). */
void memlink_attach(memlink *l, int side, mstls_session *s);
/* Fill callbacks with push (and pull, for blocking use) of a side. */
void memlink_callbacks(mstls_callbacks *cb, int side);
void memlink_set_tamper(memlink *l, memlink_tamper_fn fn, void *ctx);
/* Drop everything sent by a side from now on (a vanished peer). */
void memlink_set_blackhole(memlink *l, int side, int on);
/* The transport towards @p side ended in order: once the messages queued
 * for it are pulled, its blocking pull returns MSTLS_E_CLOSED. */
void memlink_set_closed(memlink *l, int side);
/* Make pushes of a side fail with this error (0: normal). */
void memlink_set_push_error(memlink *l, int side, int err);
/* A transport that fills up: the next @p n pushes of a side are taken,
 * later ones return MSTLS_E_AGAIN (-1: no limit, the default). */
void memlink_set_push_budget(memlink *l, int side, long n);
/* Pushes of a side refused for the budget. */
uint64_t memlink_push_refused(memlink *l, int side);

/* Deliver the next message (earliest in simulated time). @return 1 if one
 * was delivered, 0 if none is in flight. The feed result goes to
 * *feed_rv when not NULL. */
int memlink_step(memlink *l, int *feed_rv);
/* The side (MEMLINK_CLIENT / MEMLINK_SERVER) the next memlink_step()
 * delivers to, -1 if nothing is in flight. */
int memlink_next_side(memlink *l);
/* Deliver until nothing is in flight or @p max_msgs were delivered; when
 * idle, advance time to the sessions' next expiry while @p run_timers.
 * @return number of messages delivered. */
size_t memlink_run(memlink *l, size_t max_msgs);
mstls_tstamp memlink_now(memlink *l);
void memlink_advance(memlink *l, mstls_tstamp dt);
size_t memlink_in_flight(memlink *l);
uint64_t memlink_msgs(memlink *l, int from);
uint64_t memlink_bytes(memlink *l, int from);

/* Inject a raw message towards side @p to (bypassing any session). */
int memlink_inject(memlink *l, int to, uint16_t stream, uint32_t flags,
                   const void *data, size_t len);

#endif
