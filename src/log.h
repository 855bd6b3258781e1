/* mstls's own log: one process-wide callback and level (mstls_set_log()).
 * Off by default; a disabled level costs one load and one compare. */
#ifndef MSTLS_LOG_H
#define MSTLS_LOG_H

#include <stddef.h>
#include <stdint.h>

#include <mstls/mstls.h>

struct sockaddr;

/* The level set with mstls_set_log(), MSTLS_LOG_OFF when off. */
extern int mstls_log_threshold;

/** 1 when lines of @p level go to the callback. */
static inline int mstls_log_on(int level) {
  return level <= __atomic_load_n(&mstls_log_threshold, __ATOMIC_RELAXED);
}

/** Format and send one line (cut at 512 bytes) at @p level, if on. */
void mstls_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** 1 for the counts 1, 2, 4, 8, ...: a counter of refused or dropped
 *  input logs its summary only then, so that a flood of n packets yields
 *  about log2(n) lines and the core needs no clock. */
static inline int mstls_log_count_due(uint64_t n) {
  return n != 0 && (n & (n - 1)) == 0;
}

/** "192.0.2.1:5684" or "[2001:db8::1]:5684" for @p sa ("?" if NULL or of
 *  another family). */
void mstls_log_addr(char *buf, size_t len, const struct sockaddr *sa);

#endif
