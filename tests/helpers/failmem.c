#include "failmem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int fm_should_fail(failmem *f) {
  f->count++;
  if (f->fail_at && f->count == f->fail_at) {
    f->failed++;
    return 1;
  }
  return 0;
}

static void *fm_malloc(size_t n, void *ud) {
  failmem *f = ud;
  void *p;
  if (fm_should_fail(f)) {
    return NULL;
  }
  p = malloc(n);
  if (p) {
    f->live++;
  }
  return p;
}

static void *fm_calloc(size_t m, size_t n, void *ud) {
  failmem *f = ud;
  void *p;
  if (fm_should_fail(f)) {
    return NULL;
  }
  p = calloc(m, n);
  if (p) {
    f->live++;
  }
  return p;
}

static void *fm_realloc(void *ptr, size_t n, void *ud) {
  failmem *f = ud;
  void *p;
  if (fm_should_fail(f)) {
    return NULL;
  }
  p = realloc(ptr, n);
  if (p && !ptr) {
    f->live++;
  }
  return p;
}

static void fm_free(void *ptr, void *ud) {
  failmem *f = ud;
  if (ptr) {
    f->live--;
  }
  free(ptr);
}

void failmem_init(failmem *f, long fail_at) {
  memset(f, 0, sizeof(*f));
  f->mem.user_data = f;
  f->mem.malloc = fm_malloc;
  f->mem.free = fm_free;
  f->mem.calloc = fm_calloc;
  f->mem.realloc = fm_realloc;
  f->fail_at = fail_at;
}

int failmem_clean(long rv) {
  return rv == 0 ||
         (rv >= MSTLS_ERR_MIN && rv <= MSTLS_ERR_MAX && rv != MSTLS_E_AGAIN);
}

long failmem_run(const char *name,
                 long (*scenario)(const mstls_mem *mem, void *ctx), void *ctx) {
  failmem f;
  long i, total, errors = 0, rv;

  /* A clean run counts the allocations of the scenario. */
  failmem_init(&f, 0);
  rv = scenario(&f.mem, ctx);
  if (rv != 0) {
    fail_msg("%s: the scenario fails without failed allocations: %ld", name,
             rv);
  }
  if (f.live != 0) {
    fail_msg("%s: %ld allocations leaked in a clean run", name, f.live);
  }
  total = f.count;
  assert_true(total > 0);
  for (i = 1; i <= total + 1; i++) {
    failmem_init(&f, i);
    rv = scenario(&f.mem, ctx);
    if (f.failed == 0) {
      /* The scenario made fewer allocations this time and all went well:
       * allocation counts vary with what the peers do (retransmissions,
       * timers); what counts is that no run ends unclean. */
      if (rv != 0) {
        fail_msg("%s: run %ld failed without a failed allocation: %ld", name, i,
                 rv);
      }
      continue;
    }
    if (!failmem_clean(rv)) {
      fail_msg("%s: allocation %ld failed: unclean result %ld", name, i, rv);
    }
    if (rv != 0) {
      errors++;
    }
    if (f.live != 0) {
      fail_msg("%s: allocation %ld failed: %ld allocations leaked", name, i,
               f.live);
    }
  }
  assert_true(errors > 0);
  printf("%s: %ld allocations, each failed in turn; %ld runs ended in a "
         "clean error, the others recovered\n",
         name, total, errors);
  return total;
}
