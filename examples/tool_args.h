/* The mstls tool's option parsing: a small table-driven scanner and
 * checked conversions. Nothing here prints or exits: every function
 * returns 0 or -1 and, on -1, leaves a message for the user in a
 * tool_err that names the option, the value and what is allowed, e.g.
 *   --streams: "10x" is not a number (1..65535)
 * so the parsers can be fuzzed and tested as plain functions. */
#ifndef MSTLS_TOOL_ARGS_H
#define MSTLS_TOOL_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include <mstls/mstls.h>

typedef struct tool_err {
  char msg[320];
} tool_err;

/* Set err->msg printf-style; returns -1 so callers can `return tool_fail()`. */
int tool_fail(tool_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One option of a subcommand: "--name" with or without a value. */
typedef struct tool_opt {
  const char *name; /* without the leading "--" */
  int has_arg;
  int id; /* > 0 */
} tool_opt;

/* Scanner state over argv[1..argc-1] (argv[0] is the subcommand). */
typedef struct tool_scan {
  int argc;
  char **argv;
  int i;
} tool_scan;

void tool_scan_init(tool_scan *sc, int argc, char **argv);

/* Next option: returns its id and sets *val to its value ("--name VALUE"
 * or "--name=VALUE", NULL for options without one); 0 at the end; -1 for
 * an unknown option, a missing or unexpected value, or a positional
 * argument (err says which). */
int tool_scan_next(tool_scan *sc, const tool_opt *opts, const char **val,
                   tool_err *err);

/* Decimal unsigned integer in [min, max]; no sign, no spaces, no suffix. */
int tool_parse_u64(const char *opt, const char *val, uint64_t min, uint64_t max,
                   uint64_t *out, tool_err *err);
int tool_parse_u32(const char *opt, const char *val, uint32_t min, uint32_t max,
                   uint32_t *out, tool_err *err);
int tool_parse_u16(const char *opt, const char *val, uint16_t min, uint16_t max,
                   uint16_t *out, tool_err *err);

/* A duration given as a whole number of @p unit (MSTLS_SECONDS or
 * MSTLS_MILLISECONDS) in [min, max] units, converted to mstls_tstamp
 * without overflow. */
int tool_parse_duration(const char *opt, const char *val, mstls_tstamp unit,
                        uint64_t min, uint64_t max, mstls_tstamp *out,
                        tool_err *err);

/* One of @p names (NULL-terminated); *out gets its index. */
int tool_parse_choice(const char *opt, const char *val,
                      const char *const *names, int *out, tool_err *err);

/* "HOST:PORT", "[V6]:PORT" or, when @p host_optional, ":PORT" / "PORT".
 * HOST may be a comma-separated list ("10.0.1.2,10.0.2.2:PORT"); IPv6
 * addresses, one or several, each in brackets ("[V6],[V6]:PORT"). PORT
 * is decimal in 1..65535. @p host gets the host or the list without
 * brackets, commas between ("" when absent). */
int tool_parse_hostport(const char *opt, const char *val, int host_optional,
                        char *host, size_t hostlen, uint16_t *port,
                        tool_err *err);

/* The options of the demo subcommand. */
typedef struct tool_demo_opts {
  int memory;
} tool_demo_opts;

/* Subcommand parsers: 0 (run), 1 (--help given), -1 (usage error, err
 * says why). argv[0] is the subcommand name. Defined next to each
 * subcommand. */
int tool_demo_parse(int argc, char **argv, tool_demo_opts *o, tool_err *err);

#endif
