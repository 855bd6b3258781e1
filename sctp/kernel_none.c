/* Built without lksctp: the kernel backend reports MSTLS_E_UNSUPPORTED. */
#include <string.h>

#include "backend.h"

int mstls_sctp_kernel_available(void) {
  return 0;
}
int mstls_sctp_kernel_connect(mstls_sctp_sock **ps, const mstls_sctp_ops **pops,
                              const mstls_sctp_config *cfg,
                              const mstls_sctp_addrs *remote,
                              const mstls_sctp_addrs *local, uint16_t port) {
  (void)ps;
  (void)pops;
  (void)cfg;
  (void)remote;
  (void)local;
  (void)port;
  return MSTLS_E_UNSUPPORTED;
}
int mstls_sctp_kernel_listen(mstls_sctp_sock **ps, const mstls_sctp_ops **pops,
                             const mstls_sctp_config *cfg,
                             const mstls_sctp_addrs *local, uint16_t port) {
  (void)ps;
  (void)pops;
  (void)cfg;
  (void)local;
  (void)port;
  return MSTLS_E_UNSUPPORTED;
}
void mstls_sctp_kernel_parse_event(const uint8_t *buf, size_t len,
                                   mstls_sctp_rcv *ri) {
  (void)buf;
  (void)len;
  memset(ri, 0, sizeof(*ri));
  ri->is_event = 1;
  ri->event_stream = 0xffff;
}
