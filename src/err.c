#include "err.h"

#include <mstls/mstls.h>

const char *mstls_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
  case MSTLS_E_INVALID_ARGUMENT:
    return "invalid argument";
  case MSTLS_E_NOMEM:
    return "out of memory";
  case MSTLS_E_AGAIN:
    return "operation would block";
  case MSTLS_E_INVALID_STREAM:
    return "not a bidirectional stream of this session";
  case MSTLS_E_INVALID_STATE:
    return "operation not allowed in this state";
  case MSTLS_E_MSG_SIZE:
    return "message too large";
  case MSTLS_E_BUFFER_FULL:
    return "receive buffer limit exceeded";
  case MSTLS_E_HANDSHAKE:
    return "TLS handshake failed";
  case MSTLS_E_CERT_VERIFY:
    return "peer certificate verification failed";
  case MSTLS_E_VERSION:
    return "no acceptable protocol version (TLS 1.2 minimum)";
  case MSTLS_E_BAD_RECORD:
    return "TLS record failed decryption or was malformed";
  case MSTLS_E_UNORDERED:
    return "unordered message on a TLS stream";
  case MSTLS_E_TIMEOUT:
    return "timed out";
  case MSTLS_E_CLOSED:
    return "stream closed";
  case MSTLS_E_TRANSPORT:
    return "transport failure";
  case MSTLS_E_ALERT:
    return "peer sent a fatal alert";
  case MSTLS_E_ABORTED:
    return "session aborted";
  case MSTLS_E_TLS:
    return "TLS failure";
  case MSTLS_E_CREDENTIALS:
    return "credentials could not be loaded";
  case MSTLS_E_CALLBACK_FAILURE:
    return "application callback failed";
  case MSTLS_E_PREMATURE_EOF:
    return "transport ended without close_notify";
  case MSTLS_E_LIMIT:
    return "limit reached";
  case MSTLS_E_MALFORMED:
    return "malformed input";
  case MSTLS_E_UNSUPPORTED:
    return "not supported";
  case MSTLS_E_PEER_GONE:
    return "peer is gone";
  case MSTLS_E_STREAM_LOST:
    return "transport lost a message of this stream";
  case MSTLS_E_PARTIAL:
    return "some streams failed to come up";
  case MSTLS_E_STREAM_RESET:
    return "transport stream was reset";
  default:
    return "unknown error";
  }
}

int mstls_err_is_fatal(int err) {
  switch (err) {
  case MSTLS_E_NOMEM:
  case MSTLS_E_TRANSPORT:
  case MSTLS_E_ABORTED:
  case MSTLS_E_CALLBACK_FAILURE:
  case MSTLS_E_PEER_GONE:
    return 1;
  default:
    return 0;
  }
}

int mstls_err_from_gnutls(int gerr, int handshaking) {
  switch (gerr) {
  case GNUTLS_E_MEMORY_ERROR:
    return MSTLS_E_NOMEM;
  case GNUTLS_E_CERTIFICATE_ERROR:
  case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
  case GNUTLS_E_NO_CERTIFICATE_FOUND:
  case GNUTLS_E_CERTIFICATE_REQUIRED:
    return MSTLS_E_CERT_VERIFY;
  case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
  case GNUTLS_E_INSUFFICIENT_SECURITY:
    return MSTLS_E_VERSION;
  case GNUTLS_E_DECRYPTION_FAILED:
  case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
  case GNUTLS_E_UNEXPECTED_PACKET:
  case GNUTLS_E_RECORD_OVERFLOW:
  case GNUTLS_E_ERROR_IN_FINISHED_PACKET:
    return handshaking ? MSTLS_E_HANDSHAKE : MSTLS_E_BAD_RECORD;
  case GNUTLS_E_FATAL_ALERT_RECEIVED:
    return MSTLS_E_ALERT;
  case GNUTLS_E_PREMATURE_TERMINATION:
    return MSTLS_E_PREMATURE_EOF;
  case GNUTLS_E_PUSH_ERROR:
  case GNUTLS_E_PULL_ERROR:
    return MSTLS_E_TRANSPORT;
  default:
    return handshaking ? MSTLS_E_HANDSHAKE : MSTLS_E_TLS;
  }
}
