/* Address lists of multihomed associations: the comma-separated host of
 * mstls_sctp_connect() / mstls_sctp_listen() and config.local_addrs,
 * parsed and resolved once for both backends (sockaddr_in and sockaddr_in6
 * are the same for the kernel and usrsctp). */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"

/* Longest entry: a host name (RFC 1035: 255 bytes). */
#define ADDRS_ENTRY_MAX 255

socklen_t mstls_sctp_sa_len(const struct sockaddr *sa) {
  switch (sa->sa_family) {
  case AF_INET:
    return sizeof(struct sockaddr_in);
  case AF_INET6:
    return sizeof(struct sockaddr_in6);
  default:
    return 0;
  }
}

int mstls_sctp_sa_same_host(const struct sockaddr *a,
                            const struct sockaddr *b) {
  if (a->sa_family != b->sa_family)
    return 0;
  switch (a->sa_family) {
  case AF_INET:
    return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                  &((const struct sockaddr_in *)b)->sin_addr,
                  sizeof(struct in_addr)) == 0;
  case AF_INET6:
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
  default:
    return 0;
  }
}

void mstls_sctp_sa_text(const struct sockaddr *sa, char *text, size_t len) {
  char buf[MSTLS_SCTP_ADDR_TEXT];
  const void *src = NULL;

  if (len == 0)
    return;
  switch (sa->sa_family) {
  case AF_INET:
    src = &((const struct sockaddr_in *)sa)->sin_addr;
    break;
  case AF_INET6:
    src = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    break;
  default:
    break;
  }
  /* Written whole, then truncated to the caller's room. */
  if (src == NULL || inet_ntop(sa->sa_family, src, buf, sizeof(buf)) == NULL)
    snprintf(buf, sizeof(buf), "?");
  snprintf(text, len, "%s", buf);
}

void mstls_sctp_addrs_pack(const mstls_sctp_addrs *l, uint8_t *buf) {
  size_t i, off = 0;

  for (i = 0; i < l->n; i++) {
    socklen_t sl = mstls_sctp_sa_len((const struct sockaddr *)&l->a[i]);
    memcpy(buf + off, &l->a[i], sl);
    off += sl;
  }
}

/* Resolve one entry: the first address getaddrinfo gives, with @p port. */
static int addrs_resolve(const char *host, uint16_t port,
                         struct sockaddr_storage *ss) {
  struct addrinfo hints, *res = NULL;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
    return MSTLS_E_TRANSPORT;
  memset(ss, 0, sizeof(*ss));
  if (res->ai_addrlen > sizeof(*ss) ||
      mstls_sctp_sa_len(res->ai_addr) != res->ai_addrlen) {
    freeaddrinfo(res);
    return MSTLS_E_TRANSPORT;
  }
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (ss->ss_family == AF_INET)
    ((struct sockaddr_in *)ss)->sin_port = htons(port);
  else
    ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
  return 0;
}

int mstls_sctp_addrs_parse(const char *list, uint16_t port,
                           mstls_sctp_addrs *out) {
  char entries[MSTLS_SCTP_MAX_ADDRS][ADDRS_ENTRY_MAX + 1];
  const char *p = list;
  size_t n = 0, i, j;

  memset(out, 0, sizeof(*out));
  if (list == NULL)
    return 0;
  /* The whole list is checked before anything is resolved, so that a
   * malformed one is always refused the same way. */
  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

    if (len == 0 || len > ADDRS_ENTRY_MAX || n == MSTLS_SCTP_MAX_ADDRS)
      return MSTLS_E_INVALID_ARGUMENT;
    for (i = 0; i < len; i++) {
      /* No blanks or control bytes: "a, b" is a typo, not a name. */
      if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f)
        return MSTLS_E_INVALID_ARGUMENT;
    }
    memcpy(entries[n], p, len);
    entries[n][len] = '\0';
    n++;
    if (end == NULL)
      break;
    p = end + 1;
  }
  for (i = 0; i < n; i++) {
    int rc = addrs_resolve(entries[i], port, &out->a[i]);
    if (rc != 0) {
      memset(out, 0, sizeof(*out));
      return rc;
    }
  }
  for (i = 0; i < n; i++) {
    const struct sockaddr *a = (const struct sockaddr *)&out->a[i];
    /* One family per list: an AF_INET socket cannot carry IPv6 paths,
     * and v4-mapped addresses on an AF_INET6 socket behave differently on
     * the two stacks. */
    if (a->sa_family != out->a[0].ss_family)
      goto invalid;
    for (j = 0; j < i; j++) {
      if (mstls_sctp_sa_same_host(a, (const struct sockaddr *)&out->a[j]))
        goto invalid;
    }
  }
  out->n = n;
  return 0;
invalid:
  memset(out, 0, sizeof(*out));
  return MSTLS_E_INVALID_ARGUMENT;
}
