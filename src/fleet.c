/* Fleet keys. Every key is derived from a fleet secret with HKDF-SHA256
 * (RFC 5869): PRK = Extract(salt "mstls fleet v1", secret), then one
 * Expand per use with its own label, so that knowing one derived key (a
 * ticket key, say) tells nothing about another (the cookie secret).
 * Rotation needs no state here: cookie keys are derived per period from
 * the cookie secret (udp/cookie.c) and GnuTLS derives ticket keys per
 * period from the ticket key (its lib/stek.c), both from wall-clock
 * time. */
#include "fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "creds.h"
#include "hex.h"
#include "mem.h"

static const char fleet_salt[] = "mstls fleet v1";
static const char label_cookie[] = "mstls fleet cookie";
static const char label_ticket[] = "mstls fleet ticket";
static const char label_id[] = "mstls fleet id";

/* Longest line of a fleet file (a 64-byte secret is 128 digits). */
#define FLEET_LINE_MAX 256

static int fleet_expand(const uint8_t *prk, const char *label, uint8_t *out,
                        size_t len) {
  gnutls_datum_t k = {(unsigned char *)(uintptr_t)prk, 32};
  gnutls_datum_t info = {(unsigned char *)(uintptr_t)label,
                         (unsigned)strlen(label)};
  return gnutls_hkdf_expand(GNUTLS_MAC_SHA256, &k, &info, out, len) < 0
             ? MSTLS_E_TLS
             : 0;
}

/* Derive from @p secret: with @p current, the fleet's cookie secret,
 * ticket key and id; otherwise its accept-only cookie secret. */
static int fleet_derive(mstls_fleet *f, const uint8_t *secret, size_t len,
                        int current) {
  gnutls_datum_t ikm = {(unsigned char *)(uintptr_t)secret, (unsigned)len};
  gnutls_datum_t salt = {(unsigned char *)(uintptr_t)fleet_salt,
                         sizeof(fleet_salt) - 1};
  uint8_t prk[32];
  int rv = MSTLS_E_TLS;

  if (gnutls_hkdf_extract(GNUTLS_MAC_SHA256, &ikm, &salt, prk) < 0) {
    goto out;
  }
  if (!current) {
    rv = fleet_expand(prk, label_cookie, f->accept_cookie,
                      sizeof(f->accept_cookie));
    goto out;
  }
  if ((rv = fleet_expand(prk, label_cookie, f->cookie, sizeof(f->cookie))) <
          0 ||
      (rv = fleet_expand(prk, label_ticket, f->ticket, sizeof(f->ticket))) <
          0 ||
      (rv = fleet_expand(prk, label_id, f->id, sizeof(f->id))) < 0) {
    goto out;
  }
out:
  gnutls_memset(prk, 0, sizeof(prk));
  return rv;
}

static int fleet_len_ok(size_t len) {
  return len >= MSTLS_FLEET_SECRET_MIN && len <= MSTLS_FLEET_SECRET_MAX;
}

int mstls_fleet_new(mstls_fleet **pfleet, const uint8_t *secret, size_t len,
                    const mstls_mem *mem) {
  mstls_fleet *f;
  int rv;

  if (!pfleet) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  *pfleet = NULL;
  if (!secret || !fleet_len_ok(len)) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  if (!mem) {
    mem = mstls_mem_default();
  }
  f = mstls_mem_calloc(mem, 1, sizeof(*f));
  if (!f) {
    return MSTLS_E_NOMEM;
  }
  f->mem = mem;
  if ((rv = fleet_derive(f, secret, len, 1)) < 0) {
    mstls_fleet_del(f);
    return rv;
  }
  *pfleet = f;
  return 0;
}

int mstls_fleet_set_accept(mstls_fleet *fleet, const uint8_t *secret,
                           size_t len) {
  int rv;
  if (!fleet || (secret && !fleet_len_ok(len))) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  fleet->have_accept = 0;
  gnutls_memset(fleet->accept_cookie, 0, sizeof(fleet->accept_cookie));
  if (!secret) {
    return 0;
  }
  if ((rv = fleet_derive(fleet, secret, len, 0)) < 0) {
    return rv;
  }
  fleet->have_accept = 1;
  return 0;
}

void mstls_fleet_del(mstls_fleet *fleet) {
  const mstls_mem *mem;
  if (!fleet) {
    return;
  }
  mem = fleet->mem;
  gnutls_memset(fleet, 0, sizeof(*fleet));
  mstls_mem_free(mem, fleet);
}

int mstls_fleet_get_id(const mstls_fleet *fleet, char *buf, size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t i;
  if (!fleet || !buf || len < MSTLS_FLEET_ID_SIZE) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  for (i = 0; i < sizeof(fleet->id); i++) {
    buf[2 * i] = hex[fleet->id[i] >> 4];
    buf[2 * i + 1] = hex[fleet->id[i] & 15];
  }
  buf[2 * sizeof(fleet->id)] = '\0';
  return 0;
}

int mstls_credentials_set_fleet(mstls_credentials *cred,
                                const mstls_fleet *fleet) {
  if (!cred || !fleet) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  return mstls_credentials_set_ticket_key(cred, fleet->ticket,
                                          sizeof(fleet->ticket));
}

/* ---- the file ------------------------------------------------------------ */

static void fleet_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fleet_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (!err || !errlen) {
    return;
  }
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static int fleet_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One line: @return 0 for a blank or comment line, 1 with the secret in
 * @p out / @p plen, or an error (message in @p err). */
static int fleet_parse_line(char *line, const char *path, unsigned lineno,
                            uint8_t *out, size_t *plen, char *err,
                            size_t errlen) {
  char *s = line, *e;
  size_t digits, i;

  while (fleet_space(*s)) {
    s++;
  }
  e = s + strlen(s);
  while (e > s && fleet_space(e[-1])) {
    e--;
  }
  if (s == e || *s == '#') {
    return 0;
  }
  digits = (size_t)(e - s);
  for (i = 0; i < digits; i++) {
    if (mstls_hexval(s[i]) < 0) {
      fleet_err(err, errlen, "%s:%u: not hexadecimal (character %zu)", path,
                lineno, (size_t)(s - line) + i + 1);
      return MSTLS_E_CREDENTIALS;
    }
  }
  if (digits % 2) {
    fleet_err(err, errlen, "%s:%u: odd number of hexadecimal digits (%zu)",
              path, lineno, digits);
    return MSTLS_E_CREDENTIALS;
  }
  if (digits / 2 < MSTLS_FLEET_SECRET_MIN ||
      digits / 2 > MSTLS_FLEET_SECRET_MAX) {
    fleet_err(err, errlen,
              "%s:%u: secret of %zu bytes; it must have %d to %d bytes "
              "(%d to %d hexadecimal digits)",
              path, lineno, digits / 2, MSTLS_FLEET_SECRET_MIN,
              MSTLS_FLEET_SECRET_MAX, 2 * MSTLS_FLEET_SECRET_MIN,
              2 * MSTLS_FLEET_SECRET_MAX);
    return MSTLS_E_CREDENTIALS;
  }
  for (i = 0; i < digits / 2; i++) {
    out[i] =
        (uint8_t)(mstls_hexval(s[2 * i]) << 4 | mstls_hexval(s[2 * i + 1]));
  }
  *plen = digits / 2;
  return 1;
}

/* Read up to two secrets. @return their number (>= 1) or an error. */
static int fleet_read(FILE *fp, const char *path,
                      uint8_t sec[2][MSTLS_FLEET_SECRET_MAX], size_t len[2],
                      char *err, size_t errlen) {
  char line[FLEET_LINE_MAX + 2];
  unsigned lineno = 0;
  int n = 0, rv = 0;

  for (;;) {
    uint8_t tmp[MSTLS_FLEET_SECRET_MAX];
    size_t l = 0, tlen = 0;
    int c = EOF;
    /* One line, by hand: fgets() would hide a NUL byte in it. */
    while (l <= FLEET_LINE_MAX && (c = getc(fp)) != EOF && c != '\n' &&
           c != '\0') {
      line[l++] = (char)c;
    }
    if (l == 0 && c == EOF) {
      break;
    }
    line[l] = '\0';
    lineno++;
    if (c == '\0') {
      fleet_err(err, errlen, "%s:%u: a NUL byte", path, lineno);
      rv = MSTLS_E_CREDENTIALS;
      break;
    }
    if (l > FLEET_LINE_MAX) {
      fleet_err(err, errlen, "%s:%u: line longer than %d characters", path,
                lineno, FLEET_LINE_MAX);
      rv = MSTLS_E_CREDENTIALS;
      break;
    }
    rv = fleet_parse_line(line, path, lineno, tmp, &tlen, err, errlen);
    if (rv < 0) {
      break;
    }
    if (rv == 1) {
      if (n == 2) {
        fleet_err(err, errlen,
                  "%s:%u: a third secret (the file holds the current secret "
                  "and at most one accept-only secret)",
                  path, lineno);
        gnutls_memset(tmp, 0, sizeof(tmp));
        rv = MSTLS_E_CREDENTIALS;
        break;
      }
      memcpy(sec[n], tmp, tlen);
      len[n++] = tlen;
    }
    gnutls_memset(tmp, 0, sizeof(tmp));
    rv = 0;
  }
  gnutls_memset(line, 0, sizeof(line));
  if (rv < 0) {
    return rv;
  }
  if (ferror(fp)) {
    fleet_err(err, errlen, "%s: read error: %s", path, strerror(errno));
    return MSTLS_E_TRANSPORT;
  }
  if (n == 0) {
    fleet_err(err, errlen, "%s: no secret in the file", path);
    return MSTLS_E_CREDENTIALS;
  }
  return n;
}

int mstls_fleet_load(mstls_fleet **pfleet, const char *path,
                     const mstls_mem *mem, char *err, size_t errlen) {
  struct stat st;
  FILE *fp;
  int fd, rv;

  if (err && errlen) {
    err[0] = '\0';
  }
  if (!pfleet) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  *pfleet = NULL;
  if (!path) {
    return MSTLS_E_INVALID_ARGUMENT;
  }
  /* O_NONBLOCK: a FIFO at the path must not block the caller before it
   * is found not to be a regular file. */
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  fp = fd < 0 ? NULL : fdopen(fd, "r");
  if (!fp) {
    fleet_err(err, errlen, "%s: %s", path, strerror(errno));
    if (fd >= 0) {
      close(fd);
    }
    return MSTLS_E_TRANSPORT;
  }
  if (fstat(fileno(fp), &st) < 0) {
    fleet_err(err, errlen, "%s: %s", path, strerror(errno));
    fclose(fp);
    return MSTLS_E_TRANSPORT;
  }
  if (!S_ISREG(st.st_mode)) {
    fleet_err(err, errlen, "%s: not a regular file", path);
    fclose(fp);
    return MSTLS_E_CREDENTIALS;
  }
  if (st.st_mode & (S_IROTH | S_IWOTH)) {
    fleet_err(err, errlen,
              "%s: other users may read or write it (mode %03o); make it "
              "chmod 600 or 640",
              path, (unsigned)(st.st_mode & 0777));
    fclose(fp);
    return MSTLS_E_CREDENTIALS;
  }
  if (st.st_mode & S_IWGRP) {
    fleet_err(err, errlen,
              "%s: group members may write it (mode %03o); make it "
              "chmod 600 or 640",
              path, (unsigned)(st.st_mode & 0777));
    fclose(fp);
    return MSTLS_E_CREDENTIALS;
  }
  rv = mstls_fleet_read_stream(pfleet, fp, path, mem, err, errlen);
  fclose(fp);
  return rv;
}

int mstls_fleet_read_stream(mstls_fleet **pfleet, FILE *fp, const char *path,
                            const mstls_mem *mem, char *err, size_t errlen) {
  uint8_t sec[2][MSTLS_FLEET_SECRET_MAX];
  size_t len[2] = {0, 0};
  int n, rv;

  *pfleet = NULL;
  n = fleet_read(fp, path, sec, len, err, errlen);
  if (n < 0) {
    gnutls_memset(sec, 0, sizeof(sec));
    return n;
  }
  rv = mstls_fleet_new(pfleet, sec[0], len[0], mem);
  if (rv == 0 && n == 2) {
    rv = mstls_fleet_set_accept(*pfleet, sec[1], len[1]);
    if (rv < 0) {
      mstls_fleet_del(*pfleet);
      *pfleet = NULL;
    }
  }
  if (rv < 0) {
    fleet_err(err, errlen, "%s: %s", path, mstls_strerror(rv));
  }
  gnutls_memset(sec, 0, sizeof(sec));
  return rv;
}
