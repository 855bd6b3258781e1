# DTLS-over-UDP endpoint sources.
set(MSTLS_UDP_SOURCES)
