# SCTP backend sources.
set(MSTLS_SCTP_SOURCES)
