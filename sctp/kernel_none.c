/* Built without lksctp: the kernel backend reports MSTLS_E_UNSUPPORTED. */
#include "backend.h"

int mstls_sctp_kernel_available(void) {
  return 0;
}
int mstls_sctp_kernel_connect(mstls_sctp_sock **ps, const mstls_sctp_ops **pops,
                              const mstls_sctp_config *cfg, const char *host,
                              uint16_t port) {
  (void)ps;
  (void)pops;
  (void)cfg;
  (void)host;
  (void)port;
  return MSTLS_E_UNSUPPORTED;
}
int mstls_sctp_kernel_listen(mstls_sctp_sock **ps, const mstls_sctp_ops **pops,
                             const mstls_sctp_config *cfg, const char *host,
                             uint16_t port) {
  (void)ps;
  (void)pops;
  (void)cfg;
  (void)host;
  (void)port;
  return MSTLS_E_UNSUPPORTED;
}
