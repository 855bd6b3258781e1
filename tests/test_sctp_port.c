/* usrsctp on an ephemeral UDP port (MSTLS_SCTP_USRSCTP_ANY_PORT): the stack
 * binds a port the kernel picks, reports it, refuses contradictory
 * requests, and a client on it talks to a server on a fixed port; its UDP
 * sockets' buffers are sized and their drops counted. The
 * stack is per process, so this is a program of its own.
 *
 * Load-proof: assertions are on outcomes (the port held, the echo, the
 * listener's counters), never on elapsed time. Each wait is a loop of at
 * most 600 waits for readiness of at most 100 ms each (about 60 s), which
 * only means hung, as does the sessions' 30 s handshake timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mstls/sctp.h>

#include "certs.h"
#include "pair.h"

/* Whether a UDP port can be bound now. */
static int udp_free(uint16_t port) {
  struct sockaddr_in sin;
  int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  rc = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
  close(fd);
  return rc == 0;
}

static void test_any_port(void **state) {
  uint16_t port;

  (void)state;
  assert_int_equal(mstls_sctp_usrsctp_get_port(), 0);
  /* A port and "any port" contradict each other; unknown flags too. */
  assert_int_equal(mstls_sctp_usrsctp_init(5000, MSTLS_SCTP_USRSCTP_ANY_PORT),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_usrsctp_init(0, 0x80u), MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_usrsctp_init(0, MSTLS_SCTP_USRSCTP_ANY_PORT), 0);
  port = mstls_sctp_usrsctp_get_port();
  assert_true(port > 0);
  assert_false(udp_free(port)); /* usrsctp holds it */
  /* Another reference in the same mode is fine; another mode is not. */
  assert_int_equal(mstls_sctp_usrsctp_init(0, MSTLS_SCTP_USRSCTP_ANY_PORT), 0);
  assert_int_equal(mstls_sctp_usrsctp_init(port, 0), MSTLS_E_INVALID_STATE);
  assert_int_equal(mstls_sctp_usrsctp_release(), 0);
  assert_int_equal(mstls_sctp_usrsctp_get_port(), port);
}

/* A listener and a client in this process share the stack on its
 * ephemeral port: the association comes up and carries TLS. */
static void test_connect_from_any_port(void **state) {
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;
  mstls_sctp_assoc *c = NULL, *s = NULL;
  mstls_credentials *ccred = test_client_creds(NULL, NULL, 0);
  mstls_credentials *scred = test_server_creds(NULL);
  mstls_settings cs, ss;
  uint16_t port = mstls_sctp_usrsctp_get_port();
  char buf[8];
  int i, rc = MSTLS_E_AGAIN;

  (void)state;
  assert_non_null(ccred);
  assert_non_null(scred);
  mstls_sctp_config_default(&cfg);
  cfg.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  cfg.blocking = 0;
  cfg.streams_in = cfg.streams_out = 2;
  test_client_settings(&cs, 2, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 2, MSTLS_POLICY_RESUME);
  assert_int_equal(mstls_sctp_listen(&l, &cfg, "127.0.0.1", port), 0);
  cfg.remote_udp_port = port;
  assert_int_equal(
      mstls_sctp_connect(&c, &cfg, "127.0.0.1", port, &cs, NULL, ccred, NULL),
      0);
  /* Bounded: each round waits on the fds at most 100 ms. */
  for (i = 0; i < 600 && rc == MSTLS_E_AGAIN; i++) {
    mstls_session *cses;
    (void)mstls_sctp_assoc_wait(c, 100);
    if (s == NULL)
      (void)mstls_sctp_accept(l, &s, &ss, NULL, scred, NULL);
    assert_int_equal(mstls_sctp_assoc_process(c), 0);
    if (s != NULL)
      assert_int_equal(mstls_sctp_assoc_process(s), 0);
    cses = mstls_sctp_assoc_get_session(c);
    if (cses != NULL && s != NULL && mstls_sctp_assoc_get_session(s) != NULL)
      rc = mstls_session_handshake(cses);
  }
  assert_int_equal(rc, 0);
  assert_int_equal(
      mstls_stream_send(mstls_sctp_assoc_get_session(c), 1, "hi", 2), 2);
  rc = MSTLS_E_AGAIN;
  for (i = 0; i < 600 && rc == MSTLS_E_AGAIN; i++) {
    (void)mstls_sctp_assoc_wait(s, 100);
    assert_int_equal(mstls_sctp_assoc_process(s), 0);
    assert_int_equal(mstls_sctp_assoc_process(c), 0);
    rc = (int)mstls_stream_recv(mstls_sctp_assoc_get_session(s), 1, buf,
                                sizeof(buf));
  }
  assert_int_equal(rc, 2);
  assert_memory_equal(buf, "hi", 2);
  mstls_sctp_assoc_abort(c);
  mstls_sctp_assoc_del(c);
  mstls_sctp_assoc_del(s);
  mstls_sctp_listener_del(l);
  mstls_credentials_del(ccred);
  mstls_credentials_del(scred);
}

/* A server's settings that cannot work fail mstls_sctp_accept() itself,
 * naming the cause, and are counted; the peer's association is closed. */
static void test_accept_bad_settings(void **state) {
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;
  mstls_sctp_listener_stats ls;
  mstls_sctp_assoc *c = NULL, *s = NULL;
  mstls_credentials *ccred = test_client_creds(NULL, NULL, 0);
  mstls_credentials *scred = test_server_creds(NULL);
  mstls_settings cs, ss;
  uint16_t port = mstls_sctp_usrsctp_get_port();
  int i, rc = MSTLS_E_AGAIN;

  (void)state;
  assert_non_null(ccred);
  assert_non_null(scred);
  mstls_sctp_config_default(&cfg);
  cfg.backend = MSTLS_SCTP_BACKEND_USRSCTP;
  cfg.blocking = 0;
  cfg.streams_in = cfg.streams_out = 2;
  test_client_settings(&cs, 2, MSTLS_POLICY_RESUME);
  test_server_settings(&ss, 2, MSTLS_POLICY_RESUME);
  ss.priority = "NO-SUCH-PRIORITY";
  assert_int_equal(mstls_sctp_listen(&l, &cfg, "127.0.0.1", port), 0);
  cfg.remote_udp_port = port;
  assert_int_equal(
      mstls_sctp_connect(&c, &cfg, "127.0.0.1", port, &cs, NULL, ccred, NULL),
      0);
  /* Bounded: each round waits on the fds at most 100 ms. */
  for (i = 0; i < 600 && rc == MSTLS_E_AGAIN; i++) {
    (void)mstls_sctp_listener_wait(l, 100);
    rc = mstls_sctp_accept(l, &s, &ss, NULL, scred, NULL);
    (void)mstls_sctp_assoc_process(c);
  }
  assert_int_equal(rc, MSTLS_E_TLS);
  assert_null(s);
  assert_int_equal(mstls_sctp_listener_get_stats(l, &ls), 0);
  assert_int_equal(ls.accept_failed, 1);
  assert_int_equal(ls.accepted, 0);
  mstls_sctp_assoc_abort(c);
  mstls_sctp_assoc_del(c);
  mstls_sctp_listener_del(l);
  mstls_credentials_del(ccred);
  mstls_credentials_del(scred);
}

/* What the kernel grants a UDP socket asked for @p bytes of receive
 * buffer the way the library asks: within net.core.rmem_max, and beyond it
 * if this process may (CAP_NET_ADMIN). */
static uint64_t granted_rcvbuf(int bytes) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0), got = 0;
  socklen_t len = sizeof(got);

  assert_true(fd >= 0);
  assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)),
                   0);
  assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len), 0);
  if (got / 2 < bytes) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes));
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len), 0);
  }
  close(fd);
  return (uint64_t)got;
}

/* usrsctp's UDP sockets get the default buffer at start and the size set
 * later; datagrams the kernel drops there are counted. */
static void test_udp_buffer(void **state) {
  mstls_sctp_usrsctp_stats st;
  struct sockaddr_in to;
  uint16_t port = mstls_sctp_usrsctp_get_port();
  uint8_t junk[1200];
  int fd, burst, i;

  (void)state;
  assert_true(port > 0);
  assert_int_equal(mstls_sctp_usrsctp_get_stats(&st), 0);
  assert_int_equal(st.udp_rcvbuf,
                   granted_rcvbuf(MSTLS_SCTP_USRSCTP_DEFAULT_UDP_BUFFER));
  assert_true(st.udp_sndbuf > 0);
  assert_int_equal(mstls_sctp_usrsctp_set_udp_buffer(0),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_usrsctp_set_udp_buffer((size_t)1 << 31),
                   MSTLS_E_INVALID_ARGUMENT);
  assert_int_equal(mstls_sctp_usrsctp_get_stats(&st), 0);
  assert_int_equal(st.udp_rcvbuf,
                   granted_rcvbuf(MSTLS_SCTP_USRSCTP_DEFAULT_UDP_BUFFER));
  /* The smallest buffer: a burst of datagrams that are not SCTP (usrsctp
   * drops them after reading) overflows it while the receive thread reads.
   * Bounded by a count of bursts; one is enough unless that thread keeps
   * pace with a sender that never waits. */
  assert_int_equal(mstls_sctp_usrsctp_set_udp_buffer(1), 0);
  assert_int_equal(mstls_sctp_usrsctp_get_stats(&st), 0);
  assert_int_equal(st.udp_rcvbuf, granted_rcvbuf(1));
  assert_int_equal(st.udp_drops, 0);
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  assert_true(fd >= 0);
  memset(&to, 0, sizeof(to));
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  memset(junk, 0xa5, sizeof(junk));
  for (burst = 0; burst < 100 && st.udp_drops == 0; burst++) {
    for (i = 0; i < 1000; i++)
      (void)sendto(fd, junk, sizeof(junk), 0, (struct sockaddr *)&to,
                   sizeof(to));
    assert_int_equal(mstls_sctp_usrsctp_get_stats(&st), 0);
  }
  close(fd);
  assert_true(st.udp_drops > 0);
  assert_int_equal(
      mstls_sctp_usrsctp_set_udp_buffer(MSTLS_SCTP_USRSCTP_DEFAULT_UDP_BUFFER),
      0);
  assert_int_equal(mstls_sctp_usrsctp_get_stats(&st), 0);
  assert_int_equal(st.udp_rcvbuf,
                   granted_rcvbuf(MSTLS_SCTP_USRSCTP_DEFAULT_UDP_BUFFER));
}

static int group_teardown(void **state) {
  (void)state;
  (void)mstls_sctp_usrsctp_release();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_any_port),
      cmocka_unit_test(test_connect_from_any_port),
      cmocka_unit_test(test_accept_bad_settings),
      cmocka_unit_test(test_udp_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, group_teardown);
}
