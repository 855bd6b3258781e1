/* A counting allocator that fails the n-th allocation, for failmalloc
 * tests: run a scenario once to count its allocations, then once per
 * allocation with that one failing, and require a clean MSTLS_E_* result
 * and no leak each time (nghttp2's failmalloc pattern). */
#ifndef TEST_FAILMEM_H
#define TEST_FAILMEM_H

#include <mstls/mstls.h>

typedef struct failmem {
  mstls_mem mem; /* hand &mem to the code under test */
  long fail_at;  /* 1-based index of the allocation to fail; 0: none */
  long count;    /* allocations attempted */
  long live;     /* allocations not yet freed */
  long failed;   /* allocations failed */
} failmem;

/* Reset the counters; fail allocation @p fail_at (0: none). */
void failmem_init(failmem *f, long fail_at);
/* 1 if @p rv is 0 or an MSTLS_E_* code other than MSTLS_E_AGAIN. */
int failmem_clean(long rv);

/* Run @p scenario (returning 0 or an MSTLS_E_* code) with every
 * allocation failed in turn; fails the test on a crash, an unclean result
 * or a leak. @p name labels the report line. @return allocations of a
 * clean run. */
long failmem_run(const char *name,
                 long (*scenario)(const mstls_mem *mem, void *ctx), void *ctx);

#endif
