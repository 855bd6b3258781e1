/* Numeric options of the guest's peer programs (mh_peer.c, ipvs_peer.c):
 * the whole value must be a number in range, or the option is refused
 * with a message that names it, the value and the range. */
#ifndef MSTLS_TESTS_VM_PEER_ARGS_H
#define MSTLS_TESTS_VM_PEER_ARGS_H

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Parse @p v, the value of option @p k, as an integer in [@p min, @p max]
 * into @p out. @return 0, or -1 after printing why to stderr. */
static inline int peer_arg_uint(const char *k, const char *v, unsigned long min,
                                unsigned long max, unsigned long *out) {
  char *end = NULL;
  unsigned long n;

  errno = 0;
  n = (v[0] >= '0' && v[0] <= '9') ? strtoul(v, &end, 10) : 0;
  if (end == NULL || *end != '\0' || errno != 0 || n < min || n > max) {
    fprintf(stderr, "%s must be a number in %lu..%lu, not \"%s\"\n", k, min,
            max, v);
    return -1;
  }
  *out = n;
  return 0;
}

/* Parse @p v, the value of option @p k, as seconds in [0, @p max] into
 * @p out. @return 0, or -1 after printing why to stderr. */
static inline int peer_arg_seconds(const char *k, const char *v, double max,
                                   double *out) {
  char *end = NULL;
  double d;

  errno = 0;
  d = (v[0] >= '0' && v[0] <= '9') ? strtod(v, &end) : -1;
  if (end == NULL || *end != '\0' || errno != 0 || !isfinite(d) || d < 0 ||
      d > max) {
    fprintf(stderr, "%s must be seconds in 0..%g, not \"%s\"\n", k, max, v);
    return -1;
  }
  *out = d;
  return 0;
}

#endif
