/* mstls's own log and GnuTLS's, sent to one application callback. */
#include "log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>

int mstls_log_threshold = MSTLS_LOG_OFF;
static mstls_log_cb log_cb;
static void *log_ud;

void mstls_log(int level, const char *fmt, ...) {
  char line[512];
  va_list ap;
  mstls_log_cb cb = log_cb;

  if (!mstls_log_on(level) || cb == NULL) {
    return;
  }
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  cb(level, line, log_ud);
}

static void log_gnutls(int level, const char *text) {
  char line[512];
  size_t n;
  (void)level;
  snprintf(line, sizeof(line), "gnutls: %s", text);
  n = strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
    line[--n] = '\0';
  }
  mstls_log(MSTLS_LOG_DEBUG, "%s", line);
}

void mstls_set_log(mstls_log_cb cb, int level, void *user_data) {
  if (cb == NULL || level <= MSTLS_LOG_OFF) {
    __atomic_store_n(&mstls_log_threshold, MSTLS_LOG_OFF, __ATOMIC_RELAXED);
    log_cb = NULL;
    gnutls_global_set_log_level(0);
    return;
  }
  log_ud = user_data;
  log_cb = cb;
  __atomic_store_n(&mstls_log_threshold, level, __ATOMIC_RELAXED);
  if (level >= MSTLS_LOG_DEBUG) {
    /* MSTLS_LOG_DEBUG is GnuTLS's level 1, each level above one more. */
    gnutls_global_set_log_function(log_gnutls);
    gnutls_global_set_log_level(level - MSTLS_LOG_DEBUG + 1);
  } else {
    gnutls_global_set_log_level(0);
  }
}

void mstls_log_addr(char *buf, size_t len, const struct sockaddr *sa) {
  char host[INET6_ADDRSTRLEN];

  if (sa != NULL && sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)(uintptr_t)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
  } else if (sa != NULL && sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(uintptr_t)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
  } else {
    snprintf(buf, len, "?");
  }
}
