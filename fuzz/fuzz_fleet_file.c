/* Fuzz the fleet secret file parser (src/fleet.c) through a memory
 * stream: the checks of mstls_fleet_load() on the file itself (mode,
 * regular file) come before and read no content. Invariants: 0 gives fleet
 * keys with an id, a negative result is MSTLS_E_CREDENTIALS or
 * MSTLS_E_TRANSPORT (a read error) with a message that names the file,
 * and nothing is left behind. */
#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char path[] = "fuzz.key";
  mstls_fleet *f = (mstls_fleet *)1;
  char err[256], id[MSTLS_FLEET_ID_SIZE];
  FILE *fp;
  int rv;

  if (size == 0 || size > 65536) {
    return 0; /* fmemopen() refuses an empty buffer */
  }
  fp = fmemopen((void *)(uintptr_t)data, size, "r");
  if (!fp) {
    return 0;
  }
  memset(err, 0, sizeof(err));
  rv = mstls_fleet_read_stream(&f, fp, path, NULL, err, sizeof(err));
  fclose(fp);
  if (rv == 0) {
    if (f == NULL || mstls_fleet_get_id(f, id, sizeof(id)) != 0 ||
        strlen(id) != 16) {
      abort();
    }
    mstls_fleet_del(f);
    return 0;
  }
  if (f != NULL || (rv != MSTLS_E_CREDENTIALS && rv != MSTLS_E_TRANSPORT) ||
      strncmp(err, path, sizeof(path) - 1) != 0 ||
      memchr(err, '\0', sizeof(err)) == NULL) {
    abort();
  }
  return 0;
}
