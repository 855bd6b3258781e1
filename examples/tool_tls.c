/* --alpn, --keylog, --pin: the TLS options every subcommand shares. */
#include "tool_tls.h"

#include <errno.h>
#include <string.h>

#include "tool.h"

/* Quote at most this much of a bad value in a message. */
#define TLS_QUOTE 64

static int tls_check_alpn(const char *val, tool_err *err) {
  const char *p = val;
  unsigned n = 0;

  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == 0 || len > 255) {
      return tool_fail(err,
                       "--alpn: \"%.*s\": each protocol name is 1..255 bytes,"
                       " comma separated",
                       TLS_QUOTE, val);
    }
    if (++n > 16) {
      return tool_fail(err, "--alpn: at most 16 protocols");
    }
    if (end == NULL) {
      return 0;
    }
    p = end + 1;
  }
}

int tool_tls_parse(tool_tls *t, const char *opt, const char *val,
                   tool_err *err) {
  if (strcmp(opt, "--alpn") == 0) {
    if (tls_check_alpn(val, err) < 0) {
      return -1;
    }
    t->alpn = val;
    return 0;
  }
  if (strcmp(opt, "--keylog") == 0) {
    if (val[0] == '\0') {
      return tool_fail(err, "--keylog: a file name is needed");
    }
    t->keylog = val;
    return 0;
  }
  /* --pin: one or more fingerprints, comma separated. */
  {
    const char *p = val;
    for (;;) {
      const char *end = strchr(p, ',');
      size_t len = end ? (size_t)(end - p) : strlen(p);
      char one[128];
      if (t->npins == TOOL_MAX_PINS) {
        return tool_fail(err, "--pin: at most %d fingerprints", TOOL_MAX_PINS);
      }
      if (len >= sizeof(one)) {
        len = sizeof(one) - 1;
      }
      memcpy(one, p, len);
      one[len] = '\0';
      if (mstls_sha256_from_hex(one, t->pins[t->npins]) < 0) {
        return tool_fail(err,
                         "--pin: \"%.*s\" is not a SHA-256 fingerprint (64 hex"
                         " digits, ':' between pairs allowed)",
                         TLS_QUOTE, one);
      }
      t->npins++;
      if (end == NULL) {
        return 0;
      }
      p = end + 1;
    }
  }
}

int tool_tls_apply(const tool_tls *t, mstls_tls_options *o,
                   mstls_keylog_cb keylog, FILE **pf) {
  o->alpn = t->alpn;
  if (t->npins > 0) {
    o->pins = &t->pins[0][0];
    o->npins = t->npins;
  }
  if (t->keylog != NULL) {
    *pf = fopen(t->keylog, "a");
    if (*pf == NULL) {
      fprintf(stderr, "mstls: --keylog %s: %s\n", t->keylog, strerror(errno));
      return -1;
    }
    o->keylog = keylog;
  }
  return 0;
}

void tool_tls_close(FILE **pf) {
  if (*pf != NULL) {
    fclose(*pf);
    *pf = NULL;
  }
}

int tool_add_trust(mstls_credentials *cred, const char *ca) {
  int rv;
  if (tool_check_ca(ca) < 0) {
    return -1;
  }
  rv = mstls_credentials_set_trust_file(cred, ca);
  if (rv < 0) {
    fprintf(stderr, "mstls: --ca %s: %s\n", ca, mstls_strerror(rv));
    return -1;
  }
  return 0;
}
