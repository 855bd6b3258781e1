/* mstls's own log (mstls_set_log): the level filter, and the INFO lines of
 * a multistream session's events -- handshakes (full and resumed, with
 * version and cipher), a stream failure and its reason, close_notify --
 * and GnuTLS's lines from MSTLS_LOG_DEBUG on. Both sessions run in this
 * process over a memlink: deterministic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pair.h"

#define NSTREAMS 4
#define MAXLINES 256

typedef struct logrec {
  int n, gnutls, by_level[4];
  char lines[MAXLINES][512];
} logrec;

static logrec R;

static void cb_log(int level, const char *line, void *ud) {
  logrec *r = ud;
  assert_true(level >= MSTLS_LOG_ERROR && level <= MSTLS_LOG_DEBUG);
  assert_null(strchr(line, '\n'));
  r->by_level[level]++;
  if (strncmp(line, "gnutls: ", 8) == 0) {
    r->gnutls++;
    return;
  }
  if (r->n < MAXLINES) {
    snprintf(r->lines[r->n], sizeof(r->lines[0]), "%s", line);
  }
  r->n++;
}

/* How many lines hold every one of the (NULL-ended) words. */
static int count_lines(const char *w1, ...) {
  int i, n = 0;
  for (i = 0; i < R.n && i < MAXLINES; i++) {
    va_list ap;
    const char *w = w1;
    int ok = 1;
    va_start(ap, w1);
    while (w != NULL) {
      if (strstr(R.lines[i], w) == NULL) {
        ok = 0;
      }
      w = va_arg(ap, const char *);
    }
    va_end(ap);
    n += ok;
  }
  return n;
}

static void dump(void) {
  int i;
  for (i = 0; i < R.n && i < MAXLINES; i++) {
    print_message("log: %s\n", R.lines[i]);
  }
}

static void run_pair(mstls_settings *cs, mstls_settings *ss, int expect) {
  test_pair p;
  assert_int_equal(test_pair_new_creds(&p, cs, ss, NULL, NULL, NULL,
                                       test_client_creds(NULL, NULL, 0),
                                       test_server_creds(NULL)),
                   0);
  assert_int_equal(test_pair_handshake(&p, 10000), expect);
  test_pair_flush(&p);
  if (expect == 0) {
    char buf[8];
    assert_int_equal(mstls_stream_bye(p.client, 1), 0);
    test_pair_flush(&p);
    /* The server reads the close_notify: end of stream. */
    assert_int_equal(mstls_stream_recv(p.server, 1, buf, sizeof(buf)), 0);
  }
  test_pair_free(&p);
}

static void settings_pair(mstls_settings *cs, mstls_settings *ss) {
  test_client_settings(cs, NSTREAMS, MSTLS_POLICY_RESUME);
  test_server_settings(ss, NSTREAMS, MSTLS_POLICY_RESUME);
}

/* Off by default and when turned off: nothing reaches the callback. */
static void t_off(void **state) {
  mstls_settings cs, ss;
  (void)state;
  memset(&R, 0, sizeof(R));
  settings_pair(&cs, &ss);
  run_pair(&cs, &ss, 0);
  mstls_set_log(cb_log, MSTLS_LOG_INFO, &R);
  mstls_set_log(cb_log, MSTLS_LOG_OFF, &R);
  settings_pair(&cs, &ss);
  cs.server_name = "wrong.test";
  run_pair(&cs, &ss, MSTLS_E_CERT_VERIFY);
  mstls_set_log(NULL, MSTLS_LOG_INFO, &R); /* no callback: off */
  settings_pair(&cs, &ss);
  run_pair(&cs, &ss, 0);
  assert_int_equal(R.n + R.gnutls, 0);
}

/* INFO: one handshake line per stream on each side (stream 0 full, the
 * others resumed, with the version and cipher), the close_notify of the
 * stream the client ended; no GnuTLS lines. */
static void t_info_handshakes(void **state) {
  mstls_settings cs, ss;
  (void)state;
  memset(&R, 0, sizeof(R));
  mstls_set_log(cb_log, MSTLS_LOG_INFO, &R);
  settings_pair(&cs, &ss);
  run_pair(&cs, &ss, 0);
  mstls_set_log(NULL, MSTLS_LOG_OFF, NULL);
  dump();
  assert_int_equal(count_lines("client session ",
                               " stream 0: handshake done: TLS1.3 ", "full",
                               NULL),
                   1);
  assert_int_equal(count_lines("server session ",
                               " stream 0: handshake done: TLS1.3 ", "full",
                               NULL),
                   1);
  assert_int_equal(count_lines("client session ",
                               " stream 3: handshake done: TLS1.3 ", "resumed",
                               NULL),
                   1);
  assert_int_equal(count_lines("server session ",
                               " stream 3: handshake done: TLS1.3 ", "resumed",
                               NULL),
                   1);
  assert_int_equal(count_lines("handshake done", "AES", NULL), 2 * NSTREAMS);
  assert_int_equal(count_lines("server session ",
                               " stream 1: closed by the peer (close_notify)",
                               NULL),
                   1);
  assert_int_equal(R.gnutls, 0);
  assert_int_equal(R.by_level[MSTLS_LOG_ERROR], 0);
}

/* A failed stream: the reason at ERROR (the detail) and the failure at
 * INFO; with the level at ERROR, the INFO lines are left out. */
static void t_failure_and_levels(void **state) {
  mstls_settings cs, ss;
  (void)state;
  memset(&R, 0, sizeof(R));
  mstls_set_log(cb_log, MSTLS_LOG_INFO, &R);
  settings_pair(&cs, &ss);
  cs.server_name = "wrong.test";
  run_pair(&cs, &ss, MSTLS_E_CERT_VERIFY);
  dump();
  assert_true(count_lines("client session ", " stream 0: failed: ",
                          mstls_strerror(MSTLS_E_CERT_VERIFY), NULL) >= 1);
  assert_int_equal(count_lines("client session ",
                               " stream 0: the peer's certificate",
                               "does not match", NULL),
                   1);
  assert_int_equal(count_lines("server session ",
                               " stream 0: the peer sent a fatal alert", NULL),
                   1);
  assert_int_equal(count_lines("handshake done", NULL), 0);
  memset(&R, 0, sizeof(R));
  mstls_set_log(cb_log, MSTLS_LOG_ERROR, &R);
  settings_pair(&cs, &ss);
  cs.server_name = "wrong.test";
  run_pair(&cs, &ss, MSTLS_E_CERT_VERIFY);
  settings_pair(&cs, &ss);
  run_pair(&cs, &ss, 0);
  mstls_set_log(NULL, MSTLS_LOG_OFF, NULL);
  assert_true(R.by_level[MSTLS_LOG_ERROR] >= 1);
  assert_int_equal(R.by_level[MSTLS_LOG_INFO], 0);
  assert_int_equal(count_lines("failed", NULL), 0);
  assert_int_equal(count_lines("handshake done", NULL), 0);
}

/* DEBUG adds GnuTLS's own lines (prefixed "gnutls: "; DEBUG + 3 is
 * GnuTLS's level 4, where it logs the handshake), and keeps INFO. */
static void t_debug(void **state) {
  mstls_settings cs, ss;
  (void)state;
  memset(&R, 0, sizeof(R));
  mstls_set_log(cb_log, MSTLS_LOG_DEBUG + 3, &R);
  settings_pair(&cs, &ss);
  run_pair(&cs, &ss, 0);
  mstls_set_log(NULL, MSTLS_LOG_OFF, NULL);
  assert_true(R.gnutls > 0);
  assert_int_equal(R.by_level[MSTLS_LOG_DEBUG], R.gnutls);
  assert_int_equal(count_lines("handshake done", NULL), 2 * NSTREAMS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(t_off),
      cmocka_unit_test(t_info_handshakes),
      cmocka_unit_test(t_failure_and_levels),
      cmocka_unit_test(t_debug),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
