# Core sources (transport-agnostic).
set(MSTLS_CORE_SOURCES
  src/mem.c
  src/err.c
  src/log.c
  src/version.c
  src/creds.c
  src/scache.c
  src/rxq.c
  src/channel.c
  src/tlsopt.c
  src/demux.c
  src/session.c
  src/stream.c
  src/blocking.c
  src/clock.c
  src/fleet.c
)
