#ifndef MSTLS_ERR_H
#define MSTLS_ERR_H

/** Map a fatal GnuTLS error code to the MSTLS_E_* code that describes it
 *  for the application. @p handshaking says whether it happened during a
 *  handshake. */
int mstls_err_from_gnutls(int gerr, int handshaking);

#endif
