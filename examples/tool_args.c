/* Option parsing of the mstls tool: see tool_args.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tool_args.h"

/* Longest value quoted back in a message; longer ones are cut. */
#define ARGS_QUOTE 64

int tool_fail(tool_err *err, const char *fmt, ...) {
  va_list ap;
  if (err) {
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
  }
  return -1;
}

void tool_scan_init(tool_scan *sc, int argc, char **argv) {
  sc->argc = argc;
  sc->argv = argv;
  sc->i = 1;
}

int tool_scan_next(tool_scan *sc, const tool_opt *opts, const char **val,
                   tool_err *err) {
  const char *a, *name, *eq;
  size_t nlen;
  const tool_opt *o;

  *val = NULL;
  if (sc->i >= sc->argc || sc->argv[sc->i] == NULL) {
    return 0;
  }
  a = sc->argv[sc->i++];
  if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
    return tool_fail(err, "unexpected argument \"%.*s\"", ARGS_QUOTE, a);
  }
  name = a + 2;
  eq = strchr(name, '=');
  nlen = eq ? (size_t)(eq - name) : strlen(name);
  for (o = opts; o->name != NULL; o++) {
    if (strlen(o->name) == nlen && strncmp(o->name, name, nlen) == 0) {
      break;
    }
  }
  if (o->name == NULL) {
    return tool_fail(err, "unknown option --%.*s",
                     (int)(nlen > ARGS_QUOTE ? ARGS_QUOTE : nlen), name);
  }
  if (!o->has_arg) {
    if (eq) {
      return tool_fail(err, "--%s takes no value", o->name);
    }
    return o->id;
  }
  if (eq) {
    *val = eq + 1;
    return o->id;
  }
  if (sc->i >= sc->argc || sc->argv[sc->i] == NULL) {
    return tool_fail(err, "--%s needs a value", o->name);
  }
  *val = sc->argv[sc->i++];
  return o->id;
}

int tool_parse_u64(const char *opt, const char *val, uint64_t min, uint64_t max,
                   uint64_t *out, tool_err *err) {
  uint64_t v = 0;
  const char *p = val;

  if (p == NULL || *p == '\0') {
    return tool_fail(err, "%s: a number is needed (%llu..%llu)", opt,
                     (unsigned long long)min, (unsigned long long)max);
  }
  for (; *p; p++) {
    unsigned d;
    if (*p < '0' || *p > '9') {
      return tool_fail(err, "%s: \"%.*s\" is not a number (%llu..%llu)", opt,
                       ARGS_QUOTE, val, (unsigned long long)min,
                       (unsigned long long)max);
    }
    d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return tool_fail(err, "%s: %.*s is out of range (%llu..%llu)", opt,
                       ARGS_QUOTE, val, (unsigned long long)min,
                       (unsigned long long)max);
    }
    v = v * 10 + d;
  }
  if (v < min || v > max) {
    return tool_fail(err, "%s: %.*s is out of range (%llu..%llu)", opt,
                     ARGS_QUOTE, val, (unsigned long long)min,
                     (unsigned long long)max);
  }
  *out = v;
  return 0;
}

int tool_parse_u32(const char *opt, const char *val, uint32_t min, uint32_t max,
                   uint32_t *out, tool_err *err) {
  uint64_t v;
  if (tool_parse_u64(opt, val, min, max, &v, err) < 0) {
    return -1;
  }
  *out = (uint32_t)v;
  return 0;
}

int tool_parse_u16(const char *opt, const char *val, uint16_t min, uint16_t max,
                   uint16_t *out, tool_err *err) {
  uint64_t v;
  if (tool_parse_u64(opt, val, min, max, &v, err) < 0) {
    return -1;
  }
  *out = (uint16_t)v;
  return 0;
}

static int args_digits(const char *val) {
  const char *p = val;
  if (p == NULL || *p == '\0') {
    return 0;
  }
  for (; *p; p++) {
    if (*p < '0' || *p > '9') {
      return 0;
    }
  }
  return 1;
}

int tool_parse_duration(const char *opt, const char *val, mstls_tstamp unit,
                        uint64_t min, uint64_t max, mstls_tstamp *out,
                        tool_err *err) {
  const char *what = unit == MSTLS_SECONDS ? "seconds" : "milliseconds";
  uint64_t v;

  if (!args_digits(val)) {
    return tool_fail(err, "%s: \"%.*s\" is not a number of %s (%llu..%llu)",
                     opt, ARGS_QUOTE, val ? val : "", what,
                     (unsigned long long)min, (unsigned long long)max);
  }
  if (tool_parse_u64(opt, val, min, max, &v, NULL) < 0) {
    return tool_fail(err, "%s: %.*s is out of range (%llu..%llu %s)", opt,
                     ARGS_QUOTE, val, (unsigned long long)min,
                     (unsigned long long)max, what);
  }
  if (unit != 0 && v > MSTLS_TSTAMP_NEVER / unit) {
    return tool_fail(err, "%s: %.*s %s is too long", opt, ARGS_QUOTE, val,
                     what);
  }
  *out = (mstls_tstamp)v * unit;
  return 0;
}

int tool_parse_choice(const char *opt, const char *val,
                      const char *const *names, int *out, tool_err *err) {
  char list[128];
  size_t used = 0;
  int i;

  for (i = 0; names[i] != NULL; i++) {
    if (strcmp(val, names[i]) == 0) {
      *out = i;
      return 0;
    }
  }
  list[0] = '\0';
  for (i = 0; names[i] != NULL && used < sizeof(list); i++) {
    int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? "|" : "",
                     names[i]);
    if (n < 0) {
      break;
    }
    used += (size_t)n;
  }
  return tool_fail(err, "%s: \"%.*s\" is not one of %s", opt, ARGS_QUOTE, val,
                   list);
}

/* "[A]:" or "[A],[B],...:" (IPv6 addresses in brackets): the addresses
 * joined with commas into @p host; *ps gets what follows the ':' (NULL on
 * failure, so that it is set on every path). */
static int args_bracket_list(const char *opt, const char *val, char *host,
                             size_t hostlen, const char **ps, tool_err *err) {
  const char *p = val;
  size_t used = 0;

  *ps = NULL;
  for (;;) {
    const char *end = strchr(p + 1, ']');
    size_t len;
    if (end == NULL || end == p + 1 || (end[1] != ':' && end[1] != ',')) {
      return tool_fail(err,
                       "%s: \"%.*s\" is not [ADDRESS]:PORT (a list: "
                       "[ADDRESS],[ADDRESS]:PORT)",
                       opt, ARGS_QUOTE, val);
    }
    len = (size_t)(end - (p + 1));
    if (used + (used != 0) + len >= hostlen) {
      return tool_fail(err, "%s: the host is too long (at most %zu bytes)", opt,
                       hostlen - 1);
    }
    if (used != 0) {
      host[used++] = ',';
    }
    memcpy(host + used, p + 1, len);
    used += len;
    host[used] = '\0';
    if (end[1] == ':') {
      *ps = end + 2;
      return 0;
    }
    if (end[2] != '[') {
      return tool_fail(err,
                       "%s: \"%.*s\": a list that starts with [ADDRESS] has "
                       "every address in "
                       "brackets ([ADDRESS],[ADDRESS]:PORT)",
                       opt, ARGS_QUOTE, val);
    }
    p = end + 2;
  }
}

int tool_parse_hostport(const char *opt, const char *val, int host_optional,
                        char *host, size_t hostlen, uint16_t *port,
                        tool_err *err) {
  const char *ps;
  size_t hl;

  if (val[0] == '[') {
    if (args_bracket_list(opt, val, host, hostlen, &ps, err) < 0) {
      return -1;
    }
    hl = strlen(host);
  } else if ((ps = strrchr(val, ':')) != NULL) {
    hl = (size_t)(ps - val);
    ps++;
    if (memchr(val, ':', hl) != NULL) {
      return tool_fail(err,
                       "%s: \"%.*s\": write IPv6 addresses as [ADDRESS]:PORT, "
                       "a list as [ADDRESS],[ADDRESS]:PORT",
                       opt, ARGS_QUOTE, val);
    }
  } else if (host_optional) {
    hl = 0;
    ps = val;
  } else {
    return tool_fail(err, "%s: \"%.*s\" is not HOST:PORT", opt, ARGS_QUOTE,
                     val);
  }
  if (hl == 0 && !host_optional) {
    return tool_fail(err, "%s: \"%.*s\" has no host (HOST:PORT)", opt,
                     ARGS_QUOTE, val);
  }
  if (hl >= hostlen) {
    return tool_fail(err, "%s: the host is too long (at most %zu bytes)", opt,
                     hostlen - 1);
  }
  if (*ps == '\0') {
    return tool_fail(err, "%s: \"%.*s\" has no port (1..65535)", opt,
                     ARGS_QUOTE, val);
  }
  if (tool_parse_u16(opt, ps, 1, 65535, port, NULL) < 0) {
    return tool_fail(err, "%s: port \"%.*s\" is not a number in 1..65535", opt,
                     ARGS_QUOTE, ps);
  }
  if (val[0] != '[') {
    memcpy(host, val, hl);
    host[hl] = '\0';
  }
  return 0;
}

int tool_demo_parse(int argc, char **argv, tool_demo_opts *o, tool_err *err) {
  enum { DEMO_MEMORY = 1, DEMO_HELP };
  static const tool_opt opts[] = {
      {"memory", 0, DEMO_MEMORY}, {"help", 0, DEMO_HELP}, {NULL, 0, 0}};
  tool_scan sc;
  const char *v;
  int id;

  memset(o, 0, sizeof(*o));
  tool_scan_init(&sc, argc, argv);
  while ((id = tool_scan_next(&sc, opts, &v, err)) > 0) {
    switch (id) {
    case DEMO_MEMORY:
      o->memory = 1;
      break;
    case DEMO_HELP:
      return 1;
    default:
      return tool_fail(err, "internal: option %d", id);
    }
  }
  return id;
}
