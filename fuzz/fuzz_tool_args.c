/* Fuzz the mstls tool's argument parsing: the input is split at '\n'
 * into an argv. The first line names the subcommand (sctp-server,
 * sctp-client, dtls-server, dtls-client, demo); any other first line
 * picks one by its first byte. The subcommands' own parsers run (they
 * neither print nor exit), then each argument goes through the checked
 * conversions of tool_args.c with assorted ranges. Invariants: a parser
 * returns 1, 0 or -1; on -1 it left a non-empty, terminated message; a
 * value accepted by a range check lies in that range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "tool_args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_ARGS 64
#define FZ_MAX_INPUT 4096

static void fz_check(int rv, const tool_err *err) {
  if (rv < -1 || rv > 1) {
    abort();
  }
  if (rv == -1 && (err->msg[0] == '\0' ||
                   memchr(err->msg, '\0', sizeof(err->msg)) == NULL)) {
    abort();
  }
}

/* The checked conversions on one value. */
static void fz_value(const char *v) {
  static const char *const names[] = {"resume", "parallel", "lazy", NULL};
  tool_err err;
  uint64_t u64;
  uint32_t u32;
  uint16_t u16, port;
  mstls_tstamp t;
  char host[64];
  int k;

  err.msg[0] = '\0';
  if (tool_parse_u64("--n", v, 0, UINT64_MAX, &u64, &err) < 0) {
    fz_check(-1, &err);
  }
  if (tool_parse_u64("--n", v, 7, 1000, &u64, &err) == 0 &&
      (u64 < 7 || u64 > 1000)) {
    abort();
  }
  if (tool_parse_u32("--n", v, 1, UINT32_MAX, &u32, &err) == 0 && u32 < 1) {
    abort();
  }
  if (tool_parse_u16("--n", v, 256, 65535, &u16, &err) == 0 && u16 < 256) {
    abort();
  }
  if (tool_parse_duration("--t", v, MSTLS_SECONDS, 0, 2592000, &t, &err) == 0 &&
      t > 2592000 * MSTLS_SECONDS) {
    abort();
  }
  if (tool_parse_duration("--t", v, MSTLS_MILLISECONDS, 0, UINT64_MAX, &t,
                          &err) == 0 &&
      t % MSTLS_MILLISECONDS != 0) {
    abort();
  }
  if (tool_parse_choice("--c", v, names, &k, &err) == 0 && (k < 0 || k > 2)) {
    abort();
  }
  for (k = 0; k < 2; k++) {
    if (tool_parse_hostport("--a", v, k, host, sizeof(host), &port, &err) ==
        0) {
      if (port == 0 || memchr(host, '\0', sizeof(host)) == NULL ||
          (!k && host[0] == '\0')) {
        abort();
      }
    } else {
      fz_check(-1, &err);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const cmds[] = {"sctp-server", "sctp-client",
                                     "dtls-server", "dtls-client", "demo"};
  static char buf[FZ_MAX_INPUT + 1];
  char *argv[FZ_MAX_ARGS + 1];
  int argc = 0, cmd = -1, rv, i;
  size_t start = 0, j;
  tool_err err;

  if (size > FZ_MAX_INPUT) {
    size = FZ_MAX_INPUT;
  }
  memcpy(buf, data, size);
  buf[size] = '\0';
  for (j = 0; j <= size && argc < FZ_MAX_ARGS; j++) {
    if (j == size || buf[j] == '\n') {
      buf[j] = '\0';
      argv[argc++] = buf + start;
      start = j + 1;
    }
  }
  argv[argc] = NULL;
  for (i = 0; i < 5; i++) {
    if (strcmp(argv[0], cmds[i]) == 0) {
      cmd = i;
    }
  }
  if (cmd < 0) {
    cmd = size ? data[0] % 5 : 4;
    argv[0] = (char *)(uintptr_t)cmds[cmd];
  }
  memset(&err, 0, sizeof(err));
  switch (cmd) {
#ifdef MSTLS_TOOL_SCTP
  case 0:
  case 1:
    rv = tool_sctp_check_args(argc, argv, cmd == 0, &err);
    break;
#endif
#ifdef MSTLS_TOOL_DTLS
  case 2:
  case 3:
    rv = tool_dtls_check_args(argc, argv, cmd == 2, &err);
    break;
#endif
  default: {
    tool_demo_opts o;
    rv = tool_demo_parse(argc, argv, &o, &err);
    break;
  }
  }
  fz_check(rv, &err);
  for (i = 1; i < argc; i++) {
    fz_value(argv[i]);
  }
  return 0;
}
