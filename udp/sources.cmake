# DTLS-over-UDP endpoint sources.
set(MSTLS_UDP_SOURCES
  udp/chello.c
  udp/cookie.c
  udp/prefix.c
  udp/peer.c
  udp/resume.c
  udp/endpoint.c
  udp/loop.c
)
