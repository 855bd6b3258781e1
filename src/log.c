/* mstls's own log and GnuTLS's, sent to one application callback. */
#include "log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>

int mstls_log_threshold = MSTLS_LOG_OFF;

/* The callback, its user data and its level are one setting, read and
 * written together under log_lock: connections log from any thread while
 * another may call mstls_set_log(), and a reader that took the function
 * from one call and the user data from another would hand the new
 * callback the old callback's data. mstls_log_threshold stays a separate
 * atomic copy of the level, so that a disabled level costs no lock; a
 * line that passes it is checked again against the level read with the
 * callback. The callback runs outside the lock (it may log, or call
 * mstls_set_log()). */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static mstls_log_cb log_cb;           /* under log_lock */
static void *log_ud;                  /* under log_lock */
static int log_level = MSTLS_LOG_OFF; /* under log_lock */

void mstls_log(int level, const char *fmt, ...) {
  char line[512];
  va_list ap;
  mstls_log_cb cb;
  void *ud;
  int on;

  if (!mstls_log_on(level)) {
    return;
  }
  pthread_mutex_lock(&log_lock);
  cb = log_cb;
  ud = log_ud;
  on = level <= log_level;
  pthread_mutex_unlock(&log_lock);
  if (cb == NULL || !on) {
    return;
  }
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  cb(level, line, ud);
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
    cb = NULL;
    user_data = NULL;
    level = MSTLS_LOG_OFF;
  }
  /* GnuTLS's level is set under the lock too, so that of two calls at
   * once the last one sets both logs. */
  pthread_mutex_lock(&log_lock);
  log_cb = cb;
  log_ud = user_data;
  log_level = level;
  __atomic_store_n(&mstls_log_threshold, level, __ATOMIC_RELAXED);
  if (level >= MSTLS_LOG_DEBUG) {
    /* MSTLS_LOG_DEBUG is GnuTLS's level 1, each level above one more. */
    gnutls_global_set_log_function(log_gnutls);
    gnutls_global_set_log_level(level - MSTLS_LOG_DEBUG + 1);
  } else {
    gnutls_global_set_log_level(0);
  }
  pthread_mutex_unlock(&log_lock);
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
