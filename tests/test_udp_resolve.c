/* mstls_udp_resolve(): accepted forms and every kind of bad port or
 * address. Numeric addresses only, so no test depends on a resolver.
 *
 * Load-proof: no clock, no sockets, no threads; getaddrinfo() only parses
 * numeric addresses (anything else is refused before it), and every step
 * is synchronous. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include <mstls/udp.h>

static void resolve_ok(const char *hp, int family, const char *addr,
                       unsigned port) {
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  char buf[INET6_ADDRSTRLEN];

  assert_int_equal(mstls_udp_resolve(hp, &ss, &sl), 0);
  assert_int_equal(ss.ss_family, family);
  if (family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    assert_int_equal(sl, sizeof(*in));
    assert_int_equal(ntohs(in->sin_port), port);
    assert_non_null(inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf)));
  } else {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
    assert_int_equal(sl, sizeof(*in6));
    assert_int_equal(ntohs(in6->sin6_port), port);
    assert_non_null(inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf)));
  }
  assert_string_equal(buf, addr);
}

static void test_resolve_good(void **state) {
  (void)state;
  resolve_ok("127.0.0.1:4433", AF_INET, "127.0.0.1", 4433);
  resolve_ok("127.0.0.1:1", AF_INET, "127.0.0.1", 1);
  resolve_ok("127.0.0.1:65535", AF_INET, "127.0.0.1", 65535);
  resolve_ok("[::1]:5684", AF_INET6, "::1", 5684);
  resolve_ok("4433", AF_INET, "0.0.0.0", 4433);
  resolve_ok(":4433", AF_INET, "0.0.0.0", 4433);
  resolve_ok("127.0.0.1:00080", AF_INET, "127.0.0.1", 80);
}

static void test_resolve_bad_port(void **state) {
  static const char *const bad[] = {
      "127.0.0.1:99999", /* getaddrinfo alone wraps this to 34463 */
      "127.0.0.1:65536",
      "127.0.0.1:0",
      "127.0.0.1:00000",
      "127.0.0.1:-1",
      "127.0.0.1:+80",
      "127.0.0.1:80x",
      "127.0.0.1: 80",
      "127.0.0.1:http",
      "127.0.0.1:",
      ":",
      "",
      "0",
      "70000",
      "[::1]:99999",
      "[::1]:",
      "[::1]",
      "[::1",
      "127.0.0.1:4294967377",
      "127.0.0.1:18446744073709551617"};
  struct sockaddr_storage ss;
  socklen_t sl;
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    sl = 0;
    if (mstls_udp_resolve(bad[i], &ss, &sl) != MSTLS_E_INVALID_ARGUMENT) {
      fail_msg("accepted \"%s\"", bad[i]);
    }
  }
}

static void test_resolve_bad_args(void **state) {
  struct sockaddr_storage ss;
  socklen_t sl;
  char longhost[400];
  (void)state;
  assert_int_equal(mstls_udp_resolve(NULL, &ss, &sl), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_udp_resolve("127.0.0.1:1", NULL, &sl),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_udp_resolve("127.0.0.1:1", &ss, NULL),
                   MSTLS_E_INVALID_ARGUMENT);
  memset(longhost, 'a', sizeof(longhost));
  strcpy(longhost + 300, ":443");
  assert_int_equal(mstls_udp_resolve(longhost, &ss, &sl),
                   MSTLS_E_INVALID_ARGUMENT);
  /* Not an address and not a name: refused without a DNS lookup. */
  assert_int_equal(mstls_udp_resolve("999.1.1.1.:", &ss, &sl),
                   MSTLS_E_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resolve_good),
      cmocka_unit_test(test_resolve_bad_port),
      cmocka_unit_test(test_resolve_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
