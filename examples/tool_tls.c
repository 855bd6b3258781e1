/* --alpn, --keylog, --pin, --psk, --rawpk, --log-level: the TLS options
 * every subcommand shares. */
#include "tool_tls.h"

#include <errno.h>
#include <string.h>

#include "tool.h"

/* Quote at most this much of a bad value in a message. */
#define TLS_QUOTE 64

static int tls_hexval(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

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
  if (strcmp(opt, "--rawpk") == 0) {
    if (val[0] == '\0') {
      return tool_fail(err, "--rawpk: a PEM private key file is needed");
    }
    t->rawpk = val;
    return 0;
  }
  if (strcmp(opt, "--log-level") == 0) {
    static const char *const levels[] = {"error", "info", "debug", NULL};
    int k;
    if (tool_parse_choice("--log-level", val, levels, &k, err) < 0) {
      return -1;
    }
    t->log_level = MSTLS_LOG_ERROR + k;
    return 0;
  }
  if (strcmp(opt, "--psk") == 0) {
    const char *p = val;
    for (;;) {
      const char *end = strchr(p, ',');
      size_t len = end ? (size_t)(end - p) : strlen(p);
      const char *colon = memchr(p, ':', len);
      size_t idlen = colon ? (size_t)(colon - p) : 0;
      size_t hexlen = colon ? len - idlen - 1 : 0;
      size_t i;
      if (t->npsk == TOOL_MAX_PINS) {
        return tool_fail(err, "--psk: at most %d keys", TOOL_MAX_PINS);
      }
      if (!colon || idlen == 0 || idlen > MSTLS_PSK_IDENTITY_MAX ||
          hexlen % 2 != 0 || hexlen / 2 < MSTLS_PSK_KEY_MIN ||
          hexlen / 2 > MSTLS_PSK_KEY_MAX) {
        return tool_fail(
            err,
            "--psk: \"%.*s\" is not IDENTITY:HEXKEY (identity 1..%d"
            " bytes, key %d..%d bytes in hex)",
            TLS_QUOTE, p, MSTLS_PSK_IDENTITY_MAX, MSTLS_PSK_KEY_MIN,
            MSTLS_PSK_KEY_MAX);
      }
      memcpy(t->psk_id[t->npsk], p, idlen);
      t->psk_id[t->npsk][idlen] = '\0';
      for (i = 0; i < hexlen / 2; i++) {
        int hi = tls_hexval(colon[1 + 2 * i]),
            lo = tls_hexval(colon[2 + 2 * i]);
        if (hi < 0 || lo < 0) {
          return tool_fail(err, "--psk: the key of \"%s\" is not hex",
                           t->psk_id[t->npsk]);
        }
        t->psk_key[t->npsk][i] = (uint8_t)(hi << 4 | lo);
      }
      t->psk_len[t->npsk++] = hexlen / 2;
      if (end == NULL) {
        return 0;
      }
      p = end + 1;
    }
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

/* One NSS key-log line per call, flushed at once (the connection may
 * never close in order). */
static void tls_keylog(const mstls_tls_ctx *ctx, const char *line, void *ud) {
  (void)ctx;
  fprintf(ud, "%s\n", line);
  fflush(ud);
}

/* --log-level: one line per event on stderr. */
static void tls_log(int level, const char *line, void *ud) {
  static const char *const names[] = {"off", "error", "info", "debug"};
  (void)ud;
  fprintf(stderr, "mstls: [%s] %s\n",
          level >= 0 && level <= MSTLS_LOG_DEBUG ? names[level] : "debug",
          line);
}

int tool_tls_apply(const tool_tls *t, mstls_tls_options *o, FILE **pf) {
  o->alpn = t->alpn;
  o->raw_public_keys = t->rawpk != NULL;
  if (t->log_level > MSTLS_LOG_OFF) {
    mstls_set_log(tls_log, t->log_level, NULL);
  }
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
    o->keylog = tls_keylog;
    o->user_data = *pf;
  }
  return 0;
}

/* --rawpk: the key pair, and its pin for the peer's --pin. */
static int tls_add_rawpk(const tool_tls *t, mstls_credentials *cred) {
  uint8_t pin[MSTLS_SHA256_LEN];
  char hex[2 * MSTLS_SHA256_LEN + 1];
  size_t i;
  int rv = mstls_credentials_set_rawpk_file(cred, NULL, t->rawpk);
  if (rv < 0) {
    fprintf(stderr, "mstls: --rawpk %s: %s\n", t->rawpk, mstls_strerror(rv));
    return -1;
  }
  (void)mstls_credentials_get_rawpk_sha256(cred, pin);
  for (i = 0; i < MSTLS_SHA256_LEN; i++) {
    snprintf(hex + 2 * i, 3, "%02x", pin[i]);
  }
  fprintf(stderr, "mstls: raw public key pin %s\n", hex);
  return 0;
}

int tool_tls_add_psk(const tool_tls *t, mstls_credentials *cred) {
  size_t i;
  if (t->rawpk != NULL && tls_add_rawpk(t, cred) < 0) {
    return -1;
  }
  for (i = 0; i < t->npsk; i++) {
    int rv = mstls_credentials_add_psk(cred, t->psk_id[i], t->psk_key[i],
                                       t->psk_len[i]);
    if (rv < 0) {
      fprintf(stderr, "mstls: --psk %s: %s\n", t->psk_id[i],
              mstls_strerror(rv));
      return -1;
    }
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
