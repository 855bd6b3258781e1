/* Pieces shared by the tool's subcommands. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netinet/in.h>

#include <gnutls/x509.h>

#include <mstls/sctp.h>

#include "tool.h"

/* Credentials files larger than this are not PEM a person wrote. */
#define COMMON_MAX_PEM (4u << 20)

/* Read @p path whole; on failure print why (missing, unreadable, not a
 * regular file, too large) naming the option and the file. */
static int common_read(const char *opt, const char *path, gnutls_datum_t *d) {
  struct stat st;
  FILE *f;
  size_t n;

  d->data = NULL;
  d->size = 0;
  f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "mstls: %s %s: %s\n", opt, path,
            errno == ENOENT   ? "no such file"
            : errno == EACCES ? "not readable (permission denied)"
                              : strerror(errno));
    return -1;
  }
  if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
    fprintf(stderr, "mstls: %s %s: not a regular file\n", opt, path);
    fclose(f);
    return -1;
  }
  if ((unsigned long long)st.st_size > COMMON_MAX_PEM) {
    fprintf(stderr, "mstls: %s %s: too large for a PEM file (%lld bytes)\n",
            opt, path, (long long)st.st_size);
    fclose(f);
    return -1;
  }
  d->data = gnutls_malloc((size_t)st.st_size + 1);
  if (d->data == NULL) {
    fclose(f);
    fprintf(stderr, "mstls: %s %s: out of memory\n", opt, path);
    return -1;
  }
  n = fread(d->data, 1, (size_t)st.st_size, f);
  if (ferror(f)) {
    fprintf(stderr, "mstls: %s %s: read error: %s\n", opt, path,
            strerror(errno));
    fclose(f);
    gnutls_free(d->data);
    d->data = NULL;
    return -1;
  }
  fclose(f);
  d->data[n] = 0;
  d->size = (unsigned)n;
  return 0;
}

/* The first certificate of a PEM file (the leaf), or NULL after saying
 * why. */
static gnutls_x509_crt_t common_load_cert(const char *opt, const char *path,
                                          unsigned *count) {
  gnutls_x509_crt_t *list = NULL, leaf = NULL;
  gnutls_datum_t d;
  unsigned n = 0, i;
  int rv;

  if (common_read(opt, path, &d) < 0) {
    return NULL;
  }
  rv = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
  gnutls_free(d.data);
  if (rv < 0 || n == 0) {
    fprintf(stderr, "mstls: %s %s: not a PEM certificate (%s)\n", opt, path,
            rv < 0 ? gnutls_strerror(rv) : "no certificate found");
    return NULL;
  }
  leaf = list[0];
  for (i = 1; i < n; i++) {
    gnutls_x509_crt_deinit(list[i]);
  }
  gnutls_free(list);
  if (count) {
    *count = n;
  }
  return leaf;
}

int tool_check_cert_key(const char *cert, const char *key) {
  gnutls_x509_crt_t crt;
  gnutls_x509_privkey_t pk = NULL;
  gnutls_datum_t d;
  unsigned char id1[64], id2[64];
  size_t l1 = sizeof(id1), l2 = sizeof(id2);
  int rv, ok = -1;

  crt = common_load_cert("--cert", cert, NULL);
  if (crt == NULL) {
    return -1;
  }
  if (common_read("--key", key, &d) < 0) {
    goto out;
  }
  rv = gnutls_x509_privkey_init(&pk);
  if (rv >= 0) {
    rv = gnutls_x509_privkey_import2(pk, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
  }
  gnutls_free(d.data);
  if (rv < 0) {
    fprintf(stderr, "mstls: --key %s: not a PEM private key (%s)\n", key,
            gnutls_strerror(rv));
    goto out;
  }
  if (gnutls_x509_crt_get_key_id(crt, 0, id1, &l1) < 0 ||
      gnutls_x509_privkey_get_key_id(pk, 0, id2, &l2) < 0 || l1 != l2 ||
      memcmp(id1, id2, l1) != 0) {
    fprintf(stderr,
            "mstls: --key %s does not match the certificate in --cert %s\n",
            key, cert);
    goto out;
  }
  ok = 0;
out:
  gnutls_x509_privkey_deinit(pk);
  gnutls_x509_crt_deinit(crt);
  return ok;
}

int tool_check_ca(const char *ca) {
  gnutls_x509_crt_t crt = common_load_cert("--ca", ca, NULL);
  if (crt == NULL) {
    return -1;
  }
  gnutls_x509_crt_deinit(crt);
  return 0;
}

/* getaddrinfo @p host with a numeric port; the first answer into *ss
 * (may be NULL). 0, or a message for the user in @p why. */
static int common_resolve(const char *host, uint16_t port, int socktype,
                          struct sockaddr_storage *ss, socklen_t *sl, char *why,
                          size_t whylen) {
  struct addrinfo hints, *res = NULL;
  char ps[8];
  int rv;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_NUMERICSERV | (host == NULL ? AI_PASSIVE : 0);
  snprintf(ps, sizeof(ps), "%u", (unsigned)port);
  rv = getaddrinfo(host, ps, &hints, &res);
  if (rv != 0 || res == NULL || res->ai_addrlen > sizeof(*ss)) {
    snprintf(why, whylen, "%s",
             rv == EAI_SYSTEM ? strerror(errno)
             : rv != 0        ? gai_strerror(rv)
                              : "no address");
    if (res != NULL)
      freeaddrinfo(res);
    return -1;
  }
  if (ss != NULL) {
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
  }
  freeaddrinfo(res);
  return 0;
}

int tool_resolve(const char *host, uint16_t port, int socktype,
                 struct sockaddr_storage *ss, socklen_t *sl) {
  char why[128];

  if (common_resolve(host, port, socktype, ss, sl, why, sizeof(why)) < 0) {
    fprintf(stderr, "mstls: cannot resolve %s: %s\n", host ? host : "*", why);
    return -1;
  }
  return 0;
}

static const char *common_family(const struct sockaddr_storage *ss) {
  return ss->ss_family == AF_INET6 ? "IPv6" : "IPv4";
}

/* The same host address (ports aside). */
static int common_same_host(const struct sockaddr_storage *a,
                            const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family)
    return 0;
  if (a->ss_family == AF_INET)
    return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                  &((const struct sockaddr_in *)b)->sin_addr,
                  sizeof(struct in_addr)) == 0;
  if (a->ss_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
  return 0;
}

int tool_check_addr_list(const char *opt, const char *list) {
  struct sockaddr_storage ss[MSTLS_SCTP_MAX_ADDRS];
  char entry[MSTLS_SCTP_MAX_ADDRS][256];
  const char *p = list;
  size_t n = 0, i, j;
  socklen_t sl;

  /* The library's rules (mstls_sctp_connect()), said for each entry:
   * it would refuse the whole list with MSTLS_E_INVALID_ARGUMENT. */
  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    if (len == 0) {
      fprintf(stderr, "mstls: %s %s: an empty entry in the address list\n", opt,
              list);
      return -1;
    }
    if (n == MSTLS_SCTP_MAX_ADDRS) {
      fprintf(stderr, "mstls: %s: more than %d addresses\n", opt,
              MSTLS_SCTP_MAX_ADDRS);
      return -1;
    }
    if (len >= sizeof(entry[n])) {
      fprintf(stderr, "mstls: %s: an address of %zu bytes is too long\n", opt,
              len);
      return -1;
    }
    memcpy(entry[n], p, len);
    entry[n][len] = '\0';
    for (i = 0; i < len; i++) {
      if ((unsigned char)entry[n][i] <= ' ' || entry[n][i] == 0x7f) {
        fprintf(stderr, "mstls: %s \"%s\": no blanks in an address list\n", opt,
                list);
        return -1;
      }
    }
    n++;
    if (end == NULL)
      break;
    p = end + 1;
  }
  for (i = 0; i < n; i++) {
    char why[128];
    if (common_resolve(entry[i], 1, SOCK_STREAM, &ss[i], &sl, why,
                       sizeof(why)) < 0) {
      fprintf(stderr, "mstls: %s: cannot resolve %s: %s\n", opt, entry[i], why);
      return -1;
    }
    for (j = 0; j < i; j++) {
      if (ss[j].ss_family != ss[i].ss_family) {
        fprintf(stderr,
                "mstls: %s: %s is %s and %s is %s: list addresses of one "
                "family\n",
                opt, entry[j], common_family(&ss[j]), entry[i],
                common_family(&ss[i]));
        return -1;
      }
      if (common_same_host(&ss[j], &ss[i])) {
        fprintf(stderr, "mstls: %s: %s and %s are the same address\n", opt,
                entry[j], entry[i]);
        return -1;
      }
    }
  }
  return 0;
}

int tool_sctp_preflight(int kernel, const char *opt, const char *host) {
  if (kernel) {
    int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
    if (fd < 0) {
      int e = errno;
      if (e == EPROTONOSUPPORT || e == ESOCKTNOSUPPORT) {
        fprintf(stderr,
                "mstls: --backend kernel: the kernel has no SCTP "
                "(socket(IPPROTO_SCTP): %s); use --backend usrsctp\n",
                strerror(e));
      } else {
        fprintf(stderr,
                "mstls: --backend kernel: cannot open an SCTP socket (%s)\n",
                strerror(e));
      }
      return 1;
    }
    close(fd);
  }
  if (host != NULL && tool_check_addr_list(opt, host) < 0) {
    return 1;
  }
  return -1;
}

void tool_print_stream_table(mstls_session *session) {
  uint32_t n = mstls_session_get_nstreams(session);
  uint32_t i;
  printf("%-7s %-10s %-18s %-8s %12s %12s\n", "stream", "version", "cipher",
         "resumed", "bytes out", "bytes in");
  for (i = 0; i < n; i++) {
    mstls_stream_info info;
    if (mstls_stream_get_info(session, (uint16_t)i, &info) < 0 ||
        info.state == MSTLS_STREAM_IDLE) {
      continue;
    }
    if (info.state == MSTLS_STREAM_FAILED) {
      printf("%-7u failed: %s\n", i, mstls_strerror(info.error));
      continue;
    }
    printf("%-7u %-10s %-18s %-8s %12llu %12llu\n", i, info.version,
           info.cipher, info.resumed ? "yes" : "no",
           (unsigned long long)info.bytes_sent,
           (unsigned long long)info.bytes_received);
  }
}

int tool_server_credentials(mstls_credentials **pcred, const char *cert,
                            const char *key, const char *name) {
  mstls_credentials *c;
  int rv = mstls_credentials_new(&c, NULL);
  if (rv < 0) {
    return rv;
  }
  if (cert || key) {
    if (!cert || !key) {
      fprintf(stderr, "mstls: --cert and --key go together\n");
      mstls_credentials_del(c);
      return MSTLS_E_INVALID_ARGUMENT;
    }
    if (tool_check_cert_key(cert, key) < 0) {
      mstls_credentials_del(c);
      return MSTLS_E_CREDENTIALS;
    }
    rv = mstls_credentials_set_key_file(c, cert, key);
  } else {
    rv = mstls_credentials_set_self_signed(c, name ? name : "localhost");
  }
  if (rv < 0) {
    fprintf(stderr, "mstls: server credentials %s / %s: %s\n",
            cert ? cert : "(self-signed)", key ? key : "-", mstls_strerror(rv));
    mstls_credentials_del(c);
    return rv;
  }
  *pcred = c;
  return 0;
}

int tool_client_credentials(mstls_credentials **pcred, const char *ca,
                            const char *cert, const char *key) {
  mstls_credentials *c;
  int rv = mstls_credentials_new(&c, NULL);
  if (rv < 0) {
    return rv;
  }
  if (ca && tool_check_ca(ca) < 0) {
    rv = MSTLS_E_CREDENTIALS;
  } else if (ca) {
    rv = mstls_credentials_set_trust_file(c, ca);
    if (rv < 0) {
      fprintf(stderr, "mstls: --ca %s: %s\n", ca, mstls_strerror(rv));
    }
  }
  if (rv >= 0 && (cert || key)) {
    if (!cert || !key) {
      fprintf(stderr, "mstls: --cert and --key go together\n");
      rv = MSTLS_E_INVALID_ARGUMENT;
    } else if (tool_check_cert_key(cert, key) < 0) {
      rv = MSTLS_E_CREDENTIALS;
    } else {
      rv = mstls_credentials_set_key_file(c, cert, key);
      if (rv < 0) {
        fprintf(stderr, "mstls: client certificate %s / %s: %s\n", cert, key,
                mstls_strerror(rv));
      }
    }
  }
  if (rv < 0) {
    mstls_credentials_del(c);
    return rv;
  }
  *pcred = c;
  return 0;
}

size_t tool_session_load(const char *path, uint8_t *buf, size_t cap) {
  ssize_t got;
  int fd = open(path, O_RDONLY | O_CLOEXEC);

  if (fd < 0) {
    if (errno != ENOENT)
      fprintf(stderr, "mstls: --session %s: %s\n", path, strerror(errno));
    return 0;
  }
  got = read(fd, buf, cap);
  close(fd);
  if (got < 0) {
    fprintf(stderr, "mstls: --session %s: %s\n", path, strerror(errno));
    return 0;
  }
  return (size_t)got;
}

void tool_session_save(const char *path, const uint8_t *buf, size_t len) {
  char tmp[4096];
  int fd;

  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd) < 0 ||
      rename(tmp, path) < 0) {
    fprintf(stderr, "mstls: --session %s: %s\n", path, strerror(errno));
    if (fd >= 0)
      (void)unlink(tmp);
  }
}
