/* The one place the library reads a clock. The sans-IO core never does:
 * only the blocking forms and the backends' ready-made loops call this. */
#ifndef MSTLS_CLOCK_H
#define MSTLS_CLOCK_H

#include <mstls/mstls.h>

/** CLOCK_MONOTONIC in mstls_tstamp units (nanoseconds). */
mstls_tstamp mstls_clock_monotonic(void);

/** CLOCK_MONOTONIC in milliseconds (the backends' deadlines). */
uint64_t mstls_clock_monotonic_ms(void);

/** CLOCK_REALTIME in mstls_tstamp units (nanoseconds since 1970). */
mstls_tstamp mstls_clock_realtime(void);

#endif
