/* Driver for the fuzz harnesses without libFuzzer: replays the files given
 * on the command line, or, with none, a fixed number of inputs from a
 * seeded generator (deterministic, so a failure reproduces). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t next(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ULL;
}

int main(int argc, char **argv) {
  static uint8_t buf[1 << 16];
  int i;
  if (argc > 1) {
    for (i = 1; i < argc; i++) {
      FILE *f = fopen(argv[i], "rb");
      size_t n;
      if (!f) {
        perror(argv[i]);
        return 1;
      }
      n = fread(buf, 1, sizeof(buf), f);
      fclose(f);
      LLVMFuzzerTestOneInput(buf, n);
    }
    return 0;
  }
  for (i = 0; i < 2000; i++) {
    size_t n = (size_t)(next() % 4096), j;
    for (j = 0; j < n; j++) {
      buf[j] = (uint8_t)next();
    }
    /* Plausible TLS record headers now and then reach deeper code. */
    if (n > 12 && (i & 1)) {
      buf[6] = 22;
      buf[7] = 3;
      buf[8] = (uint8_t)(1 + next() % 4);
    }
    LLVMFuzzerTestOneInput(buf, n);
  }
  printf("replayed 2000 generated inputs\n");
  return 0;
}
