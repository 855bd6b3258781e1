/* Fail the i-th allocation made through the mstls_mem hooks, for every i,
 * in a scenario of credentials, sessions, a 4-stream RESUME handshake, an
 * exchange and close_notify. Every run must end in success or a clean
 * MSTLS_E_* error, and every allocation must be freed afterwards. GnuTLS's
 * own allocations do not go through the hooks; LeakSanitizer covers them.
 *
 * Load-proof: no sockets, no threads; the scenario runs over the memlink
 * on its simulated clock, which the test moves to the next expiry when
 * nothing is in flight, so no timer depends on how fast a run goes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

typedef struct counting {
  long fail_at; /* 1-based index of the allocation to fail; 0: none */
  long count;   /* allocations attempted */
  long live;    /* allocations not yet freed */
  long failed;
} counting;

static int should_fail(counting *c) {
  c->count++;
  if (c->fail_at && c->count == c->fail_at) {
    c->failed++;
    return 1;
  }
  return 0;
}

static void *cm_malloc(size_t n, void *ud) {
  counting *c = ud;
  void *p;
  if (should_fail(c)) {
    return NULL;
  }
  p = malloc(n);
  if (p) {
    c->live++;
  }
  return p;
}

static void *cm_calloc(size_t m, size_t n, void *ud) {
  counting *c = ud;
  void *p;
  if (should_fail(c)) {
    return NULL;
  }
  p = calloc(m, n);
  if (p) {
    c->live++;
  }
  return p;
}

static void *cm_realloc(void *ptr, size_t n, void *ud) {
  counting *c = ud;
  void *p;
  if (should_fail(c)) {
    return NULL;
  }
  p = realloc(ptr, n);
  if (p && !ptr) {
    c->live++;
  }
  return p;
}

static void cm_free(void *ptr, void *ud) {
  counting *c = ud;
  if (ptr) {
    c->live--;
  }
  free(ptr);
}

static int clean_error(long rv) {
  return rv >= MSTLS_ERR_MIN && rv <= MSTLS_ERR_MAX;
}

#define NS 4

/* @return 0 when the whole scenario succeeded, else the first error. */
static long scenario(const mstls_mem *mem) {
  mstls_settings cs, ss;
  mstls_callbacks cb;
  mstls_credentials *ccred = test_client_creds(mem, NULL, 0);
  mstls_credentials *scred = test_server_creds(mem);
  mstls_session *client = NULL, *server = NULL;
  memlink *link = memlink_new(NULL);
  long rv = 0;
  size_t steps;
  uint16_t i;
  char rb[64];

  assert_non_null(link);
  if (!ccred || !scred) {
    rv = MSTLS_E_NOMEM; /* the helpers return NULL on any failure */
    goto out;
  }
  test_client_settings(&cs, NS, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, NS, MSTLS_POLICY_RESUME);
  cs.mem = mem;
  ss.mem = mem;
  memlink_callbacks(&cb, MEMLINK_CLIENT);
  rv = mstls_session_new(&client, MSTLS_ROLE_CLIENT, &cs, &cb, ccred, link);
  if (rv < 0) {
    goto out;
  }
  memlink_callbacks(&cb, MEMLINK_SERVER);
  rv = mstls_session_new(&server, MSTLS_ROLE_SERVER, &ss, &cb, scred, link);
  if (rv < 0) {
    goto out;
  }
  memlink_attach(link, MEMLINK_CLIENT, client);
  memlink_attach(link, MEMLINK_SERVER, server);
  for (steps = 0; steps < 2000; steps++) {
    rv = mstls_session_handshake(client);
    if (rv != MSTLS_E_AGAIN) {
      break;
    }
    if (!memlink_step(link, NULL)) {
      mstls_tstamp e = mstls_session_get_expiry(client);
      if (e == MSTLS_TSTAMP_NEVER) {
        break;
      }
      memlink_advance(link, e > memlink_now(link) ? e - memlink_now(link) : 0);
    } else {
      memlink_advance(link, 0);
    }
  }
  if (rv < 0) {
    goto out;
  }
  memlink_run(link, 100000);
  if ((rv = mstls_session_get_error(server)) < 0) {
    goto out;
  }
  for (i = 0; i < NS; i++) {
    if (mstls_stream_get_state(client, i) != MSTLS_STREAM_OPEN) {
      rv = mstls_stream_get_error(client, i);
      assert_true(clean_error(rv));
      goto out;
    }
    rv = mstls_stream_send(client, i, "data", 4);
    if (rv < 0) {
      goto out;
    }
    assert_int_equal(rv, 4);
  }
  memlink_run(link, 100000);
  for (i = 0; i < NS; i++) {
    rv = mstls_stream_recv(server, i, rb, sizeof(rb));
    if (rv < 0) {
      goto out;
    }
    assert_int_equal(rv, 4);
    assert_memory_equal(rb, "data", 4);
  }
  rv = mstls_session_bye(client);
  if (rv < 0) {
    goto out;
  }
  memlink_run(link, 100000);
  for (i = 0; i < NS; i++) {
    rv = mstls_stream_recv(server, i, rb, sizeof(rb));
    if (rv < 0) {
      goto out;
    }
    assert_int_equal(rv, 0);
  }
  rv = 0;
out:
  mstls_session_del(client);
  mstls_session_del(server);
  mstls_credentials_del(ccred);
  mstls_credentials_del(scred);
  memlink_free(link);
  return rv;
}

static void t_failmalloc(void **state) {
  counting c;
  mstls_mem mem = {&c, cm_malloc, cm_free, cm_calloc, cm_realloc};
  long i, total, errors = 0;
  long rv;
  (void)state;

  /* A clean run counts the allocations of the scenario. */
  memset(&c, 0, sizeof(c));
  assert_int_equal(scenario(&mem), 0);
  assert_int_equal(c.live, 0);
  total = c.count;
  assert_true(total > 10);
  for (i = 1; i <= total + 1; i++) {
    memset(&c, 0, sizeof(c));
    c.fail_at = i;
    rv = scenario(&mem);
    if (c.failed == 0) {
      /* Allocations past the scenario's end: it completed untouched. */
      assert_int_equal(rv, 0);
      break;
    }
    if (rv != 0) {
      if (!clean_error(rv) || rv == MSTLS_E_AGAIN) {
        fail_msg("allocation %ld: unclean result %ld", i, rv);
      }
      errors++;
    }
    if (c.live != 0) {
      fail_msg("allocation %ld failed: %ld allocations leaked", i, c.live);
    }
  }
  /* Every allocation index was tried, and failures were really seen. */
  assert_true(i > total);
  assert_true(errors > 0);
  printf("failmalloc: %ld allocations, %ld runs ended in an error\n", total,
         errors);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(t_failmalloc)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
