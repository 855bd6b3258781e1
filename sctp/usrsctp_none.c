/* Built without usrsctp: its entry points report MSTLS_E_UNSUPPORTED. */
#include <string.h>

#include "backend.h"

int mstls_sctp_usrsctp_init(uint16_t udp_port, unsigned flags) {
  (void)udp_port;
  (void)flags;
  return MSTLS_E_UNSUPPORTED;
}
uint16_t mstls_sctp_usrsctp_get_port(void) {
  return 0;
}
int mstls_sctp_usrsctp_release(void) {
  return MSTLS_E_INVALID_STATE;
}
int mstls_sctp_usrsctp_get_stats(mstls_sctp_usrsctp_stats *stats) {
  if (stats == NULL)
    return MSTLS_E_INVALID_ARGUMENT;
  memset(stats, 0, sizeof(*stats));
  return MSTLS_E_UNSUPPORTED;
}
int mstls_sctp_usrsctp_set_udp_buffer(size_t bytes) {
  (void)bytes;
  return MSTLS_E_UNSUPPORTED;
}
void mstls_sctp_usrsctp_handle_timers(uint32_t elapsed_ms) {
  (void)elapsed_ms;
}
int mstls_sctp_usrsctp_is_nothreads(void) {
  return 0;
}
int mstls_sctp_link_new(mstls_sctp_link **plink,
                        mstls_sctp_link_output_cb output, void *user_data) {
  (void)output;
  (void)user_data;
  if (plink != NULL)
    *plink = NULL;
  return MSTLS_E_UNSUPPORTED;
}
int mstls_sctp_link_input(mstls_sctp_link *link, const uint8_t *packet,
                          size_t len) {
  (void)link;
  (void)packet;
  (void)len;
  return MSTLS_E_UNSUPPORTED;
}
void mstls_sctp_link_del(mstls_sctp_link *link) {
  (void)link;
}
int mstls_sctp_link_pair_new(mstls_sctp_link_pair **ppair) {
  if (ppair != NULL)
    *ppair = NULL;
  return MSTLS_E_UNSUPPORTED;
}
mstls_sctp_link *mstls_sctp_link_pair_get(mstls_sctp_link_pair *p, int which) {
  (void)p;
  (void)which;
  return NULL;
}
void mstls_sctp_link_pair_set_tap(mstls_sctp_link_pair *p,
                                  mstls_sctp_tap_cb tap, void *user_data) {
  (void)p;
  (void)tap;
  (void)user_data;
}
size_t mstls_sctp_link_pair_pump(mstls_sctp_link_pair *p) {
  (void)p;
  return 0;
}
void mstls_sctp_link_pair_del(mstls_sctp_link_pair *p) {
  (void)p;
}
int mstls_sctp_usrsctp_connect(mstls_sctp_sock **ps,
                               const mstls_sctp_ops **pops,
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
int mstls_sctp_usrsctp_listen(mstls_sctp_sock **ps, const mstls_sctp_ops **pops,
                              const mstls_sctp_config *cfg,
                              const mstls_sctp_addrs *local, uint16_t port) {
  (void)ps;
  (void)pops;
  (void)cfg;
  (void)local;
  (void)port;
  return MSTLS_E_UNSUPPORTED;
}
void mstls_sctp_usrsctp_parse_event(const uint8_t *buf, size_t len,
                                    mstls_sctp_rcv *ri) {
  (void)buf;
  (void)len;
  memset(ri, 0, sizeof(*ri));
  ri->is_event = 1;
  ri->event_stream = 0xffff;
}
