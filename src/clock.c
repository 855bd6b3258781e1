#include "clock.h"

#include <time.h>

mstls_tstamp mstls_clock_monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (mstls_tstamp)ts.tv_sec * MSTLS_SECONDS + (mstls_tstamp)ts.tv_nsec;
}
