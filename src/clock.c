#include "clock.h"

#include <time.h>

mstls_tstamp mstls_clock_monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (mstls_tstamp)ts.tv_sec * MSTLS_SECONDS + (mstls_tstamp)ts.tv_nsec;
}

uint64_t mstls_clock_monotonic_ms(void) {
  return mstls_clock_monotonic() / MSTLS_MILLISECONDS;
}

mstls_tstamp mstls_clock_realtime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (mstls_tstamp)ts.tv_sec * MSTLS_SECONDS + (mstls_tstamp)ts.tv_nsec;
}
