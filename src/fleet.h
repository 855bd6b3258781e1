/* Fleet keys: what is derived from the fleet secrets. The secrets
 * themselves are not kept. */
#ifndef MSTLS_FLEET_H
#define MSTLS_FLEET_H

#include <stdio.h>

#include <mstls/mstls.h>

#define MSTLS_FLEET_COOKIE_SIZE 32

struct mstls_fleet {
  const mstls_mem *mem;
  uint8_t cookie[MSTLS_FLEET_COOKIE_SIZE];        /* current */
  uint8_t accept_cookie[MSTLS_FLEET_COOKIE_SIZE]; /* accept-only */
  int have_accept;
  uint8_t ticket[MSTLS_TICKET_KEY_SIZE];
  uint8_t id[8]; /* public fingerprint of the current secret */
};

/* Parse fleet keys from an open file (mstls_fleet_load() after its
 * checks of the file; the fuzz harness with a memory stream). @p path
 * names it in messages. Same results as mstls_fleet_load(). */
int mstls_fleet_read_stream(mstls_fleet **pfleet, FILE *fp, const char *path,
                            const mstls_mem *mem, char *err, size_t errlen);

#endif
