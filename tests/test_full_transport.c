/* A transport that is full at random moments: before every step of the
 * link, each side's transport takes a random number of messages (often
 * none) and refuses the rest with MSTLS_E_AGAIN, as a busy SCTP socket
 * does. Over that, every stream handshakes (TLS 1.3 and 1.2, full and
 * resumed, up front and lazily), the client sends on every stream, the
 * server echoes what it reads, and both close. No stream may fail, every
 * byte must come back once and in order, and nothing may be left waiting.
 *
 * A close_notify that met a full transport goes out from
 * mstls_session_flush() alone (t_flush_offers_bye).
 *
 * This is the path behind a server's echo that failed with MSTLS_E_TLS on
 * a lossy link: a handshake flight that met a full transport stays with
 * GnuTLS, and gnutls_record_send() then flushes it and returns 0.
 *
 * Load-proof: no sockets, no threads, no clock; the memlink's simulated
 * time and one seeded generator per case pick every budget and step, so a
 * run takes the same steps whatever the load. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

#define NSTREAMS 12
#define BYTES_PER_STREAM (3 * 16384 + 777)
#define MAX_STEPS 400000

typedef struct ft_case {
  const char *name;
  mstls_policy policy;
  const char *priority; /* NULL: the default (TLS 1.3 and 1.2) */
  int client_cert;      /* the server asks for one: no early start */
  uint64_t seed;
} ft_case;

static uint64_t rng;
static uint32_t rnd(uint32_t n) {
  return test_rand(&rng, n);
}

typedef struct ft_state {
  uint64_t sent[NSTREAMS];   /* client: bytes taken by mstls_stream_send */
  uint64_t echoed[NSTREAMS]; /* client: echo bytes read back and checked */
  uint8_t *echo[NSTREAMS];   /* server: bytes read, not yet echoed */
  size_t echo_len[NSTREAMS];
  uint64_t srv_read[NSTREAMS];
  uint8_t buf[16384 + 1024];
} ft_state;

/* Budget of one side for the next step: mostly a little, sometimes none,
 * sometimes unlimited. */
static long ft_budget(void) {
  uint32_t r = rnd(10);
  if (r < 4) {
    return 0;
  }
  if (r < 8) {
    return (long)rnd(3) + 1;
  }
  return -1;
}

static void ft_client(test_pair *p, ft_state *st) {
  uint16_t id;
  for (id = 0; id < NSTREAMS; id++) {
    long r;
    if (st->sent[id] < BYTES_PER_STREAM) {
      size_t n = 1 + rnd(20000);
      size_t i;
      if (n > BYTES_PER_STREAM - st->sent[id]) {
        n = (size_t)(BYTES_PER_STREAM - st->sent[id]);
      }
      if (n > sizeof(st->buf)) {
        n = sizeof(st->buf);
      }
      for (i = 0; i < n; i++) {
        st->buf[i] = test_pattern(id, st->sent[id] + i);
      }
      r = mstls_stream_send(p->client, id, st->buf, n);
      if (r != MSTLS_E_AGAIN) {
        if (r <= 0) {
          fail_msg("client send on stream %u: %s", id, mstls_strerror((int)r));
        }
        st->sent[id] += (uint64_t)r;
      }
    }
    while ((r = mstls_stream_recv(p->client, id, st->buf,
                                  1 + rnd(sizeof(st->buf) - 1))) > 0) {
      long i;
      for (i = 0; i < r; i++) {
        if (st->buf[i] != test_pattern(id, st->echoed[id] + (uint64_t)i)) {
          fail_msg("stream %u: wrong echo byte at %llu", id,
                   (unsigned long long)(st->echoed[id] + (uint64_t)i));
        }
      }
      st->echoed[id] += (uint64_t)r;
    }
    if (r != MSTLS_E_AGAIN) {
      fail_msg("client recv on stream %u: %s", id, mstls_strerror((int)r));
    }
  }
}

static void ft_server(test_pair *p, ft_state *st) {
  uint16_t id;
  for (id = 0; id < NSTREAMS; id++) {
    long r;
    while ((r = mstls_stream_recv(p->server, id, st->buf, sizeof(st->buf))) >
           0) {
      uint8_t *e = realloc(st->echo[id], st->echo_len[id] + (size_t)r);
      assert_non_null(e);
      memcpy(e + st->echo_len[id], st->buf, (size_t)r);
      st->echo[id] = e;
      st->echo_len[id] += (size_t)r;
      st->srv_read[id] += (uint64_t)r;
    }
    if (r != MSTLS_E_AGAIN) {
      fail_msg("server recv on stream %u: %s", id, mstls_strerror((int)r));
    }
    if (st->echo_len[id] > 0) {
      r = mstls_stream_send(p->server, id, st->echo[id], st->echo_len[id]);
      if (r != MSTLS_E_AGAIN) {
        if (r <= 0) {
          fail_msg("server echo on stream %u: %s (GnuTLS %d)", id,
                   mstls_strerror((int)r),
                   mstls_stream_get_tls_error(p->server, id));
        }
        memmove(st->echo[id], st->echo[id] + r, st->echo_len[id] - (size_t)r);
        st->echo_len[id] -= (size_t)r;
      }
    }
  }
}

static int ft_done(const ft_state *st) {
  int i;
  for (i = 0; i < NSTREAMS; i++) {
    if (st->echoed[i] != BYTES_PER_STREAM) {
      return 0;
    }
  }
  return 1;
}

typedef struct ft_totals {
  uint64_t steps, refused, kept;
} ft_totals;

static void ft_run(const ft_case *c, ft_totals *tot) {
  mstls_settings cs, ss;
  memlink_config lc = {0, 5 * MSTLS_MILLISECONDS, 20 * MSTLS_MILLISECONDS};
  test_pair p;
  ft_state *st = calloc(1, sizeof(*st));
  mstls_session_stats cst, sst;
  long steps;
  int i, hs = MSTLS_E_AGAIN;

  assert_non_null(st);
  rng = c->seed;
  lc.seed = c->seed;
  test_client_settings(&cs, NSTREAMS, c->policy);
  test_server_settings(&ss, NSTREAMS, c->policy);
  cs.priority = c->priority;
  ss.priority = c->priority;
  if (c->client_cert) {
    ss.flags |= MSTLS_SETTINGS_REQUIRE_CLIENT_CERT;
  }
  assert_int_equal(
      test_pair_new_creds(&p, &cs, &ss, &lc, NULL, NULL,
                          test_client_creds(NULL, NULL, c->client_cert),
                          test_server_creds(NULL)),
      0);

  for (steps = 0; steps < MAX_STEPS && !ft_done(st); steps++) {
    memlink_set_push_budget(p.link, MEMLINK_CLIENT, ft_budget());
    memlink_set_push_budget(p.link, MEMLINK_SERVER, ft_budget());
    if (hs == MSTLS_E_AGAIN) {
      hs = mstls_session_handshake(p.client);
      if (hs != 0 && hs != MSTLS_E_AGAIN) {
        fail_msg("%s: client handshake: %s", c->name, mstls_strerror(hs));
      }
    }
    ft_client(&p, st);
    ft_server(&p, st);
    /* What waits for the transport goes out when it has room again. */
    i = mstls_session_flush(p.client);
    if (i != 0 && i != MSTLS_E_AGAIN) {
      fail_msg("%s: client flush: %s", c->name, mstls_strerror(i));
    }
    i = mstls_session_flush(p.server);
    if (i != 0 && i != MSTLS_E_AGAIN) {
      fail_msg("%s: server flush: %s", c->name, mstls_strerror(i));
    }
    memlink_advance(p.link, 0);
    if (!memlink_step(p.link, NULL)) {
      mstls_tstamp e1, e2, e;
      /* Nothing in flight. Time runs on only once the transports have
       * taken all that waited for them: a flight that waits is not late. */
      memlink_set_push_budget(p.link, MEMLINK_CLIENT, -1);
      memlink_set_push_budget(p.link, MEMLINK_SERVER, -1);
      assert_int_equal(mstls_session_flush(p.client), 0);
      assert_int_equal(mstls_session_flush(p.server), 0);
      if (memlink_in_flight(p.link) > 0) {
        continue;
      }
      e1 = mstls_session_get_expiry(p.client);
      e2 = mstls_session_get_expiry(p.server);
      e = e1 < e2 ? e1 : e2;
      if (e != MSTLS_TSTAMP_NEVER && e > memlink_now(p.link)) {
        memlink_advance(p.link, e - memlink_now(p.link));
      }
    }
  }
  if (!ft_done(st)) {
    fail_msg("%s: not done after %ld steps", c->name, steps);
  }
  assert_int_equal(hs, 0);
  for (i = 0; i < NSTREAMS; i++) {
    assert_int_equal(st->srv_read[i], BYTES_PER_STREAM);
    assert_int_equal(st->echo_len[i], 0);
    assert_int_equal(mstls_stream_get_error(p.client, (uint16_t)i), 0);
    assert_int_equal(mstls_stream_get_error(p.server, (uint16_t)i), 0);
  }
  assert_int_equal(mstls_session_get_stats(p.client, &cst), 0);
  assert_int_equal(mstls_session_get_stats(p.server, &sst), 0);
  assert_int_equal(cst.streams_established, NSTREAMS);
  assert_int_equal(sst.streams_established, NSTREAMS);
  /* Every echo came back: nothing is left waiting on either side. */
  assert_int_equal(cst.streams_kept, 0);
  assert_int_equal(sst.streams_kept, 0);
  /* The transport was full often enough to matter, on both sides. */
  assert_true(memlink_push_refused(p.link, MEMLINK_CLIENT) > 20);
  assert_true(memlink_push_refused(p.link, MEMLINK_SERVER) > 20);
  if (c->policy == MSTLS_POLICY_RESUME) {
    assert_int_equal(cst.streams_resumed, NSTREAMS - 1);
  }
  tot->steps += (uint64_t)steps;
  tot->refused += memlink_push_refused(p.link, MEMLINK_CLIENT) +
                  memlink_push_refused(p.link, MEMLINK_SERVER);
  tot->kept += cst.records_kept + sst.records_kept;

  /* Orderly close of every stream over the same transport. */
  for (steps = 0; steps < MAX_STEPS; steps++) {
    int open = 0;
    memlink_set_push_budget(p.link, MEMLINK_CLIENT, ft_budget());
    memlink_set_push_budget(p.link, MEMLINK_SERVER, ft_budget());
    for (i = 0; i < NSTREAMS; i++) {
      mstls_stream_info info;
      int r;
      assert_int_equal(mstls_stream_get_info(p.client, (uint16_t)i, &info), 0);
      if (info.state == MSTLS_STREAM_OPEN) {
        r = mstls_stream_bye(p.client, (uint16_t)i);
        if (r != 0 && r != MSTLS_E_AGAIN) {
          fail_msg("%s: bye on stream %d: %s", c->name, i, mstls_strerror(r));
        }
        open++;
      }
      r = (int)mstls_stream_recv(p.server, (uint16_t)i, st->buf,
                                 sizeof(st->buf));
      if (r != 0 && r != MSTLS_E_AGAIN) {
        fail_msg("%s: server recv at close on stream %d: %s", c->name, i,
                 mstls_strerror(r));
      }
      open += r != 0;
    }
    if (!open) {
      break;
    }
    (void)mstls_session_flush(p.client);
    memlink_advance(p.link, 0);
    (void)memlink_step(p.link, NULL);
  }
  assert_true(steps < MAX_STEPS);
  /* What is still in flight arrives without an error, and every stream
   * stays closed (one close_notify each). */
  memlink_set_push_budget(p.link, MEMLINK_CLIENT, -1);
  memlink_set_push_budget(p.link, MEMLINK_SERVER, -1);
  assert_int_equal(mstls_session_flush(p.client), 0);
  test_pair_flush(&p);
  for (i = 0; i < NSTREAMS; i++) {
    assert_int_equal(
        mstls_stream_recv(p.server, (uint16_t)i, st->buf, sizeof(st->buf)), 0);
  }
  assert_int_equal(mstls_session_get_error(p.client), 0);
  assert_int_equal(mstls_session_get_error(p.server), 0);
  for (i = 0; i < NSTREAMS; i++) {
    free(st->echo[i]);
  }
  free(st);
  test_pair_free(&p);
}

#define TLS12 "NORMAL:-VERS-ALL:+VERS-TLS1.2"
#define TLS13 "NORMAL:-VERS-ALL:+VERS-TLS1.3"

static const ft_case cases[] = {
    {"tls13 parallel", MSTLS_POLICY_PARALLEL, TLS13, 0, 1},
    {"tls13 resume", MSTLS_POLICY_RESUME, TLS13, 0, 2},
    {"tls13 lazy", MSTLS_POLICY_LAZY, TLS13, 0, 3},
    {"tls13 resume, client certificate", MSTLS_POLICY_RESUME, TLS13, 1, 4},
    {"tls13 parallel, client certificate", MSTLS_POLICY_PARALLEL, TLS13, 1, 5},
    {"tls12 parallel", MSTLS_POLICY_PARALLEL, TLS12, 0, 6},
    {"tls12 resume", MSTLS_POLICY_RESUME, TLS12, 0, 7},
    {"default resume", MSTLS_POLICY_RESUME, NULL, 0, 8},
};

#define ROUNDS 20

static void t_cases(void **state) {
  size_t i, k;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ft_totals tot = {0, 0, 0};
    for (k = 0; k < ROUNDS; k++) {
      ft_case c = cases[i];
      c.seed = c.seed * 7919 + k * 104729 + 1;
      ft_run(&c, &tot);
    }
    print_message("%s: %d runs, %llu steps, %llu pushes refused, %llu "
                  "records kept\n",
                  cases[i].name, ROUNDS, (unsigned long long)tot.steps,
                  (unsigned long long)tot.refused,
                  (unsigned long long)tot.kept);
  }
}

/* A close_notify that met a full transport is GnuTLS's to offer again:
 * mstls_session_flush() reports it as waiting and, once there is room,
 * sends it, without mstls_stream_bye() being called again (an event loop
 * that flushes when the transport has room then closes the stream). */
static void t_flush_offers_bye(void **state) {
  mstls_settings cs, ss;
  test_pair p;
  uint8_t buf[64];
  (void)state;
  test_client_settings(&cs, 2, MSTLS_POLICY_PARALLEL);
  test_server_settings(&ss, 2, MSTLS_POLICY_PARALLEL);
  assert_int_equal(test_pair_new(&p, &cs, &ss, NULL, NULL, NULL), 0);
  assert_int_equal(test_pair_handshake(&p, 10000), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_session_flush(p.client), 0);
  memlink_set_push_budget(p.link, MEMLINK_CLIENT, 0);
  assert_int_equal(mstls_stream_bye(p.client, 1), MSTLS_E_AGAIN);
  assert_int_equal(mstls_session_flush(p.client), MSTLS_E_AGAIN);
  assert_int_equal(mstls_session_flush(p.client), MSTLS_E_AGAIN);
  memlink_set_push_budget(p.link, MEMLINK_CLIENT, -1);
  assert_int_equal(mstls_session_flush(p.client), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv(p.server, 1, buf, sizeof(buf)), 0);
  assert_int_equal(mstls_stream_get_state(p.client, 1), MSTLS_STREAM_CLOSED);
  /* The other stream is untouched; once sent, nothing waits. */
  assert_int_equal(mstls_stream_get_state(p.client, 0), MSTLS_STREAM_OPEN);
  assert_int_equal(mstls_stream_send(p.client, 0, "x", 1), 1);
  assert_int_equal(mstls_session_flush(p.client), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv(p.server, 0, buf, sizeof(buf)), 1);
  /* A close_notify behind a kept record: the bye meets the record first,
   * and the flush sends both, in order. */
  memlink_set_push_budget(p.link, MEMLINK_CLIENT, 0);
  assert_int_equal(mstls_stream_send(p.client, 0, "yz", 2), 2); /* kept */
  assert_int_equal(mstls_stream_bye(p.client, 0), MSTLS_E_AGAIN);
  assert_int_equal(mstls_session_flush(p.client), MSTLS_E_AGAIN);
  memlink_set_push_budget(p.link, MEMLINK_CLIENT, -1);
  assert_int_equal(mstls_session_flush(p.client), 0);
  test_pair_flush(&p);
  assert_int_equal(mstls_stream_recv(p.server, 0, buf, sizeof(buf)), 2);
  assert_memory_equal(buf, "yz", 2);
  assert_int_equal(mstls_stream_recv(p.server, 0, buf, sizeof(buf)), 0);
  assert_int_equal(mstls_stream_get_state(p.client, 0), MSTLS_STREAM_CLOSED);
  assert_int_equal(mstls_session_get_error(p.client), 0);
  test_pair_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_cases),
      cmocka_unit_test(t_flush_offers_bye),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
