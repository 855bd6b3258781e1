/* Driver for the fuzz harnesses without libFuzzer: replays the files given
 * on the command line (a directory: every file in it, a corpus), or, with
 * none, a fixed number of inputs from a seeded generator (deterministic, so
 * a failure reproduces). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t next(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ULL;
}

static uint8_t buf[1 << 20];

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  size_t n;
  if (!f) {
    perror(path);
    return 1;
  }
  n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  LLVMFuzzerTestOneInput(buf, n);
  return 0;
}

/* @return files replayed, or -1 when @p path is not a directory. */
static int replay_dir(const char *path) {
  DIR *d = opendir(path);
  struct dirent *e;
  char name[4096];
  int n = 0;
  if (!d) {
    return -1;
  }
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') {
      continue;
    }
    snprintf(name, sizeof(name), "%s/%s", path, e->d_name);
    if (replay_file(name) != 0) {
      closedir(d);
      return -1;
    }
    n++;
  }
  closedir(d);
  return n;
}

int main(int argc, char **argv) {
  int i;
  if (argc > 1) {
    for (i = 1; i < argc; i++) {
      int n = replay_dir(argv[i]);
      if (n > 0) {
        printf("replayed %d files of %s\n", n, argv[i]);
      } else if (n == 0) {
        fprintf(stderr, "%s: empty corpus\n", argv[i]);
        return 1;
      } else if (replay_file(argv[i]) != 0) {
        return 1;
      }
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
