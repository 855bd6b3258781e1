/*
 * mstls - SCTP backends: put a multistream session (mstls.h) on a real SCTP
 * association.
 *
 * Two implementations share this interface:
 *  - usrsctp (the embedded default): the SCTP stack runs in this process.
 *    Between processes it encapsulates SCTP in UDP (RFC 6951); in-process, or
 *    over a transport the application owns, it uses AF_CONN links
 *    (mstls_sctp_link).
 *  - kernel SCTP through lksctp (one-to-one sockets), where the kernel has
 *    SCTP.
 *
 * An association object (mstls_sctp_assoc) owns the socket, the session and
 * the glue: every TLS record is sent as one ordered SCTP message on its
 * stream with the stream's PPID; every received message is reassembled
 * until MSG_EOR and routed to its stream's TLS session by the stream id of
 * the receive metadata; SCTP notifications become session or stream errors.
 */
#ifndef MSTLS_SCTP_H
#define MSTLS_SCTP_H

#include <sys/socket.h>

#include <mstls/mstls.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Which SCTP implementation carries an association. */
typedef enum mstls_sctp_backend {
  /** Kernel SCTP when the kernel has it, usrsctp otherwise. */
  MSTLS_SCTP_BACKEND_DEFAULT = 0,
  /** usrsctp: UDP encapsulation, or AF_CONN when a link is given. */
  MSTLS_SCTP_BACKEND_USRSCTP = 1,
  /** Kernel SCTP via lksctp, one-to-one (SOCK_STREAM) sockets. */
  MSTLS_SCTP_BACKEND_KERNEL = 2
} mstls_sctp_backend;

/** One SCTP association carrying a multistream TLS session. */
typedef struct mstls_sctp_assoc mstls_sctp_assoc;
/** A listening SCTP endpoint. */
typedef struct mstls_sctp_listener mstls_sctp_listener;
/** A usrsctp AF_CONN link: SCTP packets travel over the caller's transport. */
typedef struct mstls_sctp_link mstls_sctp_link;
/** Two AF_CONN links joined in memory (one process, deterministic). */
typedef struct mstls_sctp_link_pair mstls_sctp_link_pair;

/** Association events reported by mstls_sctp_event_cb. */
typedef enum mstls_sctp_event {
  /** The association is up; @p error is 0. */
  MSTLS_SCTP_EVENT_UP = 1,
  /** The association was lost (ABORT, timeout): session error
   *  MSTLS_E_PEER_GONE. */
  MSTLS_SCTP_EVENT_COMM_LOST = 2,
  /** The peer restarted the association; every TLS session is lost:
   *  session error MSTLS_E_PEER_GONE. */
  MSTLS_SCTP_EVENT_RESTART = 3,
  /** The peer started an SCTP shutdown: no more data will arrive. */
  MSTLS_SCTP_EVENT_SHUTDOWN = 4,
  /** A message could not be delivered on @p stream: that stream fails
   *  with MSTLS_E_STREAM_LOST (a lost TLS record breaks the stream); the
   *  others go on. */
  MSTLS_SCTP_EVENT_SEND_FAILED = 5,
  /** The SSNs of @p stream were reset by the peer. */
  MSTLS_SCTP_EVENT_STREAM_RESET = 6,
  /** Partial delivery of a message on @p stream was aborted: that stream
   *  fails with MSTLS_E_STREAM_LOST (a TLS record was lost); the others go
   *  on. */
  MSTLS_SCTP_EVENT_PDAPI_ABORTED = 7,
  /** The association could not be set up: MSTLS_E_PEER_GONE. */
  MSTLS_SCTP_EVENT_CANT_START = 8,
  /** The association ended by a completed shutdown. */
  MSTLS_SCTP_EVENT_SHUTDOWN_COMPLETE = 9,
  /** A message on @p stream was larger than settings.max_message and was
   *  discarded (counted in mstls_sctp_stats.oversized). A TLS stream fails
   *  with MSTLS_E_MSG_SIZE: it lost a record. */
  MSTLS_SCTP_EVENT_OVERSIZED = 10,
  /* Path events (SCTP_PEER_ADDR_CHANGE, RFC 6458 §6.1.2): a peer address
   * changed state. @p stream is 0xffff and @p error 0: a path event never
   * fails a stream or the association (SCTP carries on over the other
   * paths; only COMM_LOST ends it). The address is given by
   * mstls_sctp_assoc_get_event_addr(). */
  /** The peer address is reachable again (a heartbeat or data was
   *  acknowledged on it after it had been unreachable). */
  MSTLS_SCTP_EVENT_ADDR_AVAILABLE = 11,
  /** The peer address became unreachable: Path.Max.Retrans consecutive
   *  timeouts on it. Traffic moves to another active path (failover). */
  MSTLS_SCTP_EVENT_ADDR_UNREACHABLE = 12,
  /** The peer removed the address from the association (ASCONF). */
  MSTLS_SCTP_EVENT_ADDR_REMOVED = 13,
  /** The peer added the address to the association (ASCONF). */
  MSTLS_SCTP_EVENT_ADDR_ADDED = 14,
  /** The address became the primary path (ASCONF set-primary). */
  MSTLS_SCTP_EVENT_ADDR_MADE_PRIMARY = 15,
  /** An address the peer listed was confirmed by a heartbeat (RFC 9260
   *  §5.4): it may now carry data. */
  MSTLS_SCTP_EVENT_ADDR_CONFIRMED = 16,
  /** Kernel SCTP with the potentially-failed state exposed (RFC 7829,
   *  SCTP_EXPOSE_POTENTIALLY_FAILED_STATE): the path missed a
   *  heartbeat or retransmission but is not unreachable yet. */
  MSTLS_SCTP_EVENT_ADDR_POTENTIALLY_FAILED = 17
} mstls_sctp_event;

/** Event callback (optional). @p stream is meaningful for SEND_FAILED,
 *  STREAM_RESET, PDAPI_ABORTED and OVERSIZED (0xffff for all streams);
 *  @p error is the
 *  MSTLS_E_* code the event caused, or 0. Path events (ADDR_*) carry
 *  their peer address, read with mstls_sctp_assoc_get_event_addr(). */
typedef void (*mstls_sctp_event_cb)(mstls_sctp_assoc *assoc,
                                    mstls_sctp_event event, uint16_t stream,
                                    int error, void *user_data);

/** Plaintext message callback (optional): a message arrived on a stream
 *  beyond the bidirectional ones (RFC 3436 §4: usable in plaintext only).
 *  Without it such messages are counted and dropped. */
typedef void (*mstls_sctp_plain_cb)(mstls_sctp_assoc *assoc, uint16_t stream,
                                    uint32_t ppid, const uint8_t *data,
                                    size_t len, void *user_data);

/** Readiness callback (optional, usrsctp): the association's socket became
 *  readable, writable or has an error. May run on a usrsctp thread: do not
 *  call into the association from here; wake your loop and call
 *  mstls_sctp_assoc_process() there. A non-blocking connect or accept calls
 *  it once before returning, for whatever arrived before it was installed.
 *  mstls_sctp_assoc_get_fd() is the alternative on both backends. */
typedef void (*mstls_sctp_ready_cb)(mstls_sctp_assoc *assoc, void *user_data);

/** Settings of an association. Fill with mstls_sctp_config_default(). */
typedef struct mstls_sctp_config {
  /** Backend. Default MSTLS_SCTP_BACKEND_DEFAULT. */
  mstls_sctp_backend backend;
  /** Outbound streams requested (SCTP_INITMSG sinit_num_ostreams).
   *  Default 10. */
  uint16_t streams_out;
  /** Inbound streams accepted (sinit_max_instreams). Default 10. */
  uint16_t streams_in;
  /** 1 (default): connect/accept also run the TLS handshake and the
   *  blocking functions of mstls.h work (a pull callback is installed).
   *  0: everything is non-blocking; drive with mstls_sctp_assoc_process(). */
  int blocking;
  /** usrsctp AF_CONN: the link to use; host names are then ignored. */
  mstls_sctp_link *link;
  /** usrsctp over UDP, client: the peer's UDP encapsulation port.
   *  0 means the SCTP port. */
  uint16_t remote_udp_port;
  /** Client: local SCTP port to bind (0: any). */
  uint16_t local_port;
  /** Client: local addresses to bind (sctp_bindx), as a comma-separated
   *  list in the syntax of mstls_sctp_connect()'s host ("10.0.1.1,10.0.2.1").
   *  NULL (default): the stack chooses, which means every address of the
   *  host (the peer learns them all from INIT). Only read during
   *  mstls_sctp_connect(). */
  const char *local_addrs;
  /** Default PPID of every stream (RFC 3436 sets none). Default 0. */
  uint32_t ppid;
  mstls_sctp_event_cb event;      /**< optional */
  mstls_sctp_plain_cb plain_recv; /**< optional */
  mstls_sctp_ready_cb ready;      /**< optional (usrsctp) */
  /** Socket send buffer in bytes (SO_SNDBUF); 0 keeps the backend's own
   *  default: 1 MiB for usrsctp, the system's (net.core.wmem_default) for
   *  kernel SCTP, whose limit net.core.wmem_max also applies. */
  size_t send_buffer;
  /** Socket receive buffer in bytes (SO_RCVBUF); 0 as for send_buffer. */
  size_t recv_buffer;
  /** Blocking mode: bytes of inbound messages a send that waits for room
   *  may read ahead and set aside for later receive calls. Two peers that
   *  both send more than the socket buffers hold (an echo of a large
   *  message) would otherwise wait on each other forever. When the limit
   *  is reached the send waits for room only (counted in
   *  mstls_sctp_stats.park_full). Default MSTLS_SCTP_DEFAULT_PARK_MAX;
   *  0 disables. */
  size_t park_max;
  /** 1: process the peer's requests to reset streams (RFC 6525); each TLS
   *  stream reset ends with MSTLS_E_STREAM_RESET, a unidirectional stream
   *  only reports MSTLS_SCTP_EVENT_STREAM_RESET. 0 (default): deny them, as
   *  RFC 6525 §6.3.1 sets by default; nothing changes on our side. */
  int accept_stream_reset;
  /** Blocking mode: longest time in milliseconds one send may wait for
   *  room in the socket's send buffer (a peer that does not read). The
   *  wait sleeps on an event (usrsctp: the socket upcall after an inbound
   *  SACK; kernel SCTP: poll() for POLLOUT), never polls. When it elapses
   *  the send fails with MSTLS_E_TIMEOUT, the association's error becomes
   *  MSTLS_E_TIMEOUT (the TLS record is lost, so the session cannot go on;
   *  counted in mstls_sctp_stats.send_timeouts) and mstls_sctp_assoc_del()
   *  aborts the association instead of waiting for the peer to take the
   *  queued data. Default MSTLS_SCTP_DEFAULT_SEND_TIMEOUT_MS; 0: no limit
   *  (the send still ends when SCTP declares the peer gone). */
  uint32_t send_timeout_ms;
  /** Listener: associations set up by SCTP and waiting for
   *  mstls_sctp_accept(). Beyond it usrsctp drops the peer's COOKIE-ECHO
   *  (the peer retransmits it and gives up after its retransmission
   *  limit); the kernel behaves alike. Default MSTLS_SCTP_DEFAULT_BACKLOG.
   *  Must be 1..65535. */
  int backlog;
  /** Listener, usrsctp: receive buffer (and so the advertised window) of
   *  an association until it is accepted, bounding the data an
   *  unaccepted association can make the server hold to about this many
   *  bytes each (backlog x pending_recv_buffer in all). mstls_sctp_accept()
   *  then sets recv_buffer. Default MSTLS_SCTP_DEFAULT_PENDING_RECV_BUFFER;
   *  0: recv_buffer. Kernel SCTP ignores it: the kernel fixes an
   *  association's window when it is set up, so a smaller listener buffer
   *  would shrink every accepted association; there, recv_buffer of the
   *  listener (net.core.rmem_default when 0) bounds pending data. */
  size_t pending_recv_buffer;

  /* Protocol tunables (RFC 9260 §16, set through the RFC 6458 socket
   * options on both backends before connect or listen). 0 keeps the
   * stack's own default, given in brackets: usrsctp's, and Linux's
   * net.sctp.* sysctls. mstls_sctp_config_failover() sets a profile for
   * signalling. */

  /** RTO.Initial, RTO.Min, RTO.Max in milliseconds (SCTP_RTOINFO)
   *  [3000, 1000, 60000]. Where set, min <= initial <= max. */
  uint32_t rto_initial_ms;
  uint32_t rto_min_ms; /**< see rto_initial_ms */
  uint32_t rto_max_ms; /**< see rto_initial_ms */
  /** Association.Max.Retrans (SCTP_ASSOCINFO): consecutive timeouts over
   *  all paths after which the peer is declared gone [10]. */
  uint16_t assoc_max_retrans;
  /** Path.Max.Retrans (SCTP_PEER_ADDR_PARAMS): consecutive timeouts after
   *  which a path is inactive [5]. */
  uint16_t path_max_retrans;
  /** HB.interval in milliseconds (SCTP_PEER_ADDR_PARAMS, heartbeats on):
   *  how often an idle path is probed [30000]. */
  uint32_t heartbeat_interval_ms;
  /** Max.Init.Retransmits (SCTP_INITMSG sinit_max_attempts): INITs sent
   *  before a connect gives up [8]. */
  uint16_t init_max_attempts;
  /** Longest wait between two INITs in milliseconds (sinit_max_init_timeo,
   *  up to 65535) [60000]. */
  uint16_t init_max_timeout_ms;
  /** Delayed SACK in milliseconds (SCTP_DELAYED_SACK), 1..500 [200]. */
  uint32_t sack_delay_ms;
  /** 1: let SCTP hold small messages back to bundle them (Nagle). 0
   *  (default): SCTP_NODELAY, every TLS record leaves at once. */
  int nagle;
  /** Listener: 1 binds with SO_REUSEPORT, so that several listeners --
   *  worker threads or processes, each with its own listener and event
   *  loop -- share one address and port, and the kernel spreads new
   *  associations among them (docs/scale-out.md). Every listener on the
   *  port must set it. Kernel SCTP only (Linux 5.10 and later honour it
   *  for SCTP); usrsctp has one stack per process and refuses it with
   *  MSTLS_E_UNSUPPORTED: there, one listener hands accepted associations
   *  to workers. Default 0. */
  int reuseport;
  /** usrsctp: how long in milliseconds an association deleted while
   *  still up (mstls_sctp_assoc_del() without a completed close) may take
   *  to close gracefully in the background -- the queued data delivered,
   *  then SCTP SHUTDOWN -- before it is aborted. A peer that stops reading
   *  would otherwise hold it, and the memory of its queued data, as long as
   *  it keeps acknowledging. Counted in mstls_sctp_usrsctp_stats. Default
   *  MSTLS_SCTP_DEFAULT_LINGER_MS; 0: no limit but SCTP's own (and
   *  mstls_sctp_usrsctp_release(), which aborts what is still closing
   *  after 6 s). Kernel SCTP closes such an association on its own and
   *  ignores it. */
  uint32_t linger_ms;
} mstls_sctp_config;

/** Default of mstls_sctp_config.park_max: 4 MiB. */
#define MSTLS_SCTP_DEFAULT_PARK_MAX ((size_t)4 << 20)
/** Default of mstls_sctp_config.send_timeout_ms: 30 s. */
#define MSTLS_SCTP_DEFAULT_SEND_TIMEOUT_MS 30000u
/** Default of mstls_sctp_config.linger_ms: 30 s. */
#define MSTLS_SCTP_DEFAULT_LINGER_MS 30000u
/** Default of mstls_sctp_config.backlog. */
#define MSTLS_SCTP_DEFAULT_BACKLOG 32
/** Default of mstls_sctp_config.pending_recv_buffer: 64 KiB. */
#define MSTLS_SCTP_DEFAULT_PENDING_RECV_BUFFER ((size_t)64 << 10)

/** @brief Fill @p config with defaults (must not be NULL). */
MSTLS_EXTERN void mstls_sctp_config_default(mstls_sctp_config *config);

/**
 * @brief Set the failover profile for signalling (Diameter, SIGTRAN) on
 * @p config, leaving its other fields alone: RTO.Initial 200 ms, RTO.Min
 * 100 ms, RTO.Max 1000 ms, Association.Max.Retrans 3, Path.Max.Retrans 2,
 * HB.interval 100 ms, INIT retransmitted 3 times at most 1000 ms apart,
 * SACK delay 50 ms.
 *
 * On a path whose RTO sits at RTO.Min (a LAN), a peer that stops
 * answering is reported (MSTLS_E_PEER_GONE) in under 3 s whatever the
 * association was doing: 4 consecutive timeouts, retransmissions and
 * heartbeats alike, RTO doubling up to 1 s; about 0.7 s with data or a
 * handshake flight outstanding (heartbeats then time out beside the
 * retransmissions), about 2 s when idle. An association still being set
 * up, or a connect to an address where nothing answers, gives up after
 * 4 INITs (or COOKIE-ECHOs): about 0.2 + 0.4 + 0.8 + 1 = 2.4 s. Never more
 * than 4 x (RTO.Max + HB.interval) + RTO.Max.
 *
 * The price: a heartbeat on every idle path about five times a second,
 * and an outage longer than those times ends the association. Raise
 * assoc_max_retrans (each step adds up to RTO.Max) for more tolerance.
 * With two paths, a path that stops answering is left after 3 timeouts
 * and traffic carries on over the other (RFC 9260 §8.2: keep
 * assoc_max_retrans no higher than the sum of path_max_retrans).
 * @param config must not be NULL (nothing is done otherwise).
 */
MSTLS_EXTERN void mstls_sctp_config_failover(mstls_sctp_config *config);

/* usrsctp stack ----------------------------------------------------------- */

/** usrsctp stack flag: no threads; the caller delivers packets and calls
 *  mstls_sctp_usrsctp_handle_timers() (deterministic in-process mode). */
#define MSTLS_SCTP_USRSCTP_NOTHREADS 0x01u
/** usrsctp stack flag: bind an ephemeral UDP port that the kernel picks
 *  (udp_port must be 0); mstls_sctp_usrsctp_get_port() tells which. For
 *  clients, which need no fixed port: several processes on one host then
 *  never collide. */
#define MSTLS_SCTP_USRSCTP_ANY_PORT 0x02u

/**
 * @brief Start (or take another reference on) the process's usrsctp stack.
 *
 * usrsctp has one stack per process. The first call starts it; later calls
 * must ask for the same mode and port and only count references.
 * @param udp_port local UDP encapsulation port (RFC 6951), 0 for AF_CONN
 *        only. Give every process its own port.
 * @param flags MSTLS_SCTP_USRSCTP_* flags.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (unknown flags, or a port with
 *         MSTLS_SCTP_USRSCTP_ANY_PORT), MSTLS_E_INVALID_STATE (already
 *         running in another mode or on another port), MSTLS_E_TRANSPORT
 *         (the UDP port could not be bound), MSTLS_E_UNSUPPORTED (built
 *         without usrsctp).
 */
MSTLS_EXTERN int mstls_sctp_usrsctp_init(uint16_t udp_port, unsigned flags);

/** @brief The UDP encapsulation port of the running stack (the one picked
 *  with MSTLS_SCTP_USRSCTP_ANY_PORT), or 0 (not running, AF_CONN only, or
 *  built without usrsctp). */
MSTLS_EXTERN uint16_t mstls_sctp_usrsctp_get_port(void);

/**
 * @brief Drop a reference; the last one stops the stack: associations
 *        still closing in the background get up to 6 s more to close
 *        gracefully and are aborted after it (mstls_sctp_config.linger_ms),
 *        then usrsctp_finish, retried a bounded number of times while
 *        packets and timers are still processed.
 * @return 0, MSTLS_E_INVALID_STATE (not running), MSTLS_E_AGAIN
 *         (associations still alive after the retries, or one deleted
 *         while still being set up that can be neither aborted nor freed
 *         yet; the stack keeps running and may be released again).
 */
MSTLS_EXTERN int mstls_sctp_usrsctp_release(void);

/** Counters of the process's usrsctp stack, for the whole life of the
 *  process. */
typedef struct mstls_sctp_usrsctp_stats {
  /** Associations deleted while still up and closing in the background
   *  now (mstls_sctp_config.linger_ms). */
  uint64_t lingering;
  /** Of those, the ones SCTP closed gracefully (SHUTDOWN complete) or the
   *  peer ended. */
  uint64_t linger_closed;
  /** Of those, the ones aborted because linger_ms ran out, at
   *  mstls_sctp_usrsctp_release(), or because no thread could be started
   *  to wait for them. */
  uint64_t linger_aborted;
  /** Receive and send buffer sizes of usrsctp's UDP encapsulation socket
   *  (IPv4) as the kernel accounts them (on Linux twice the size set), or
   *  0 when the stack runs without one (AF_CONN only, NOTHREADS, not
   *  running) or it cannot be found (no /proc). */
  uint64_t udp_rcvbuf;
  uint64_t udp_sndbuf; /**< see udp_rcvbuf */
  /** Datagrams the kernel dropped at those UDP sockets (IPv4 and IPv6),
   *  mostly because the receive buffer was full: each is an SCTP packet
   *  lost before usrsctp saw it, to be retransmitted. Counted over every
   *  stack the process started. Raise mstls_sctp_usrsctp_set_udp_buffer()
   *  (and net.core.rmem_max) when it grows. */
  uint64_t udp_drops;
} mstls_sctp_usrsctp_stats;

/** Default of mstls_sctp_usrsctp_set_udp_buffer(): 4 MiB. */
#define MSTLS_SCTP_USRSCTP_DEFAULT_UDP_BUFFER (4u * 1024u * 1024u)

/**
 * @brief Size the receive and send buffers of usrsctp's UDP encapsulation
 *        sockets (RFC 6951), now if the stack runs and at every later
 *        mstls_sctp_usrsctp_init().
 *
 * usrsctp itself sets 128 KiB. A burst of SCTP packets larger than the
 * receive buffer, arriving while usrsctp's receive thread waits for a core,
 * is dropped by the kernel and must be retransmitted (counted in
 * mstls_sctp_usrsctp_stats.udp_drops). The kernel caps the size at
 * net.core.rmem_max / wmem_max unless the process holds CAP_NET_ADMIN;
 * mstls_sctp_usrsctp_stats.udp_rcvbuf shows what was granted. usrsctp does
 * not hand out its sockets: they are found among the process's descriptors
 * (/proc/self/fd) by their port.
 * @param bytes buffer size, 1 to 1 GiB (the kernel takes at most INT_MAX /
 *        2, one byte less); default MSTLS_SCTP_USRSCTP_DEFAULT_UDP_BUFFER.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (@p bytes 0 or above 1 GiB),
 *         MSTLS_E_INVALID_STATE (the running stack has no UDP socket:
 *         AF_CONN only or NOTHREADS; the size is kept for a later start),
 *         MSTLS_E_TRANSPORT (the sockets could not be found or set),
 *         MSTLS_E_UNSUPPORTED (built without usrsctp).
 */
MSTLS_EXTERN int mstls_sctp_usrsctp_set_udp_buffer(size_t bytes);

/**
 * @brief Copy the usrsctp stack's counters.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (@p stats NULL), MSTLS_E_UNSUPPORTED
 *         (built without usrsctp).
 */
MSTLS_EXTERN int mstls_sctp_usrsctp_get_stats(mstls_sctp_usrsctp_stats *stats);

/** @brief Advance usrsctp's timers by @p elapsed_ms (NOTHREADS mode only;
 *  a no-op otherwise). */
MSTLS_EXTERN void mstls_sctp_usrsctp_handle_timers(uint32_t elapsed_ms);

/** @brief 1 if the running kernel supports SCTP sockets, 0 if not. */
MSTLS_EXTERN int mstls_sctp_kernel_available(void);

/* AF_CONN links ----------------------------------------------------------- */

/** Output of a link: send the SCTP packet to the peer over your transport.
 *  Called from inside usrsctp: never call mstls_sctp_link_input() from
 *  here (it deadlocks); queue the packet instead. Return 0 or -1. */
typedef int (*mstls_sctp_link_output_cb)(mstls_sctp_link *link,
                                         const uint8_t *packet, size_t len,
                                         void *user_data);

/**
 * @brief Create an AF_CONN link (registers an address with usrsctp).
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE (the usrsctp
 *         stack is not running), MSTLS_E_NOMEM, MSTLS_E_UNSUPPORTED.
 */
MSTLS_EXTERN int mstls_sctp_link_new(mstls_sctp_link **plink,
                                     mstls_sctp_link_output_cb output,
                                     void *user_data);

/** @brief Hand an SCTP packet received from the peer to usrsctp.
 *  @return 0, MSTLS_E_INVALID_ARGUMENT. */
MSTLS_EXTERN int mstls_sctp_link_input(mstls_sctp_link *link,
                                       const uint8_t *packet, size_t len);

/** @brief Free a link (deregisters its address). Close its associations
 *  first. NULL is ignored. */
MSTLS_EXTERN void mstls_sctp_link_del(mstls_sctp_link *link);

/** Tap of a link pair: sees every packet, @p dir 0 for a->b, 1 for b->a.
 *  Return 1 to drop the packet, 0 to deliver it. */
typedef int (*mstls_sctp_tap_cb)(int dir, const uint8_t *packet, size_t len,
                                 void *user_data);

/**
 * @brief Two links joined by in-memory queues. Packets are delivered by
 *        mstls_sctp_link_pair_pump(), never from inside usrsctp.
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE, MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_sctp_link_pair_new(mstls_sctp_link_pair **ppair);
/** @brief Link 0 (a) or 1 (b) of a pair. */
MSTLS_EXTERN mstls_sctp_link *mstls_sctp_link_pair_get(mstls_sctp_link_pair *p,
                                                       int which);
/** @brief Set a tap that inspects (and may drop) every packet. */
MSTLS_EXTERN void mstls_sctp_link_pair_set_tap(mstls_sctp_link_pair *p,
                                               mstls_sctp_tap_cb tap,
                                               void *user_data);
/** @brief Deliver every queued packet (including those queued while
 *  delivering). @return the number of packets delivered. */
MSTLS_EXTERN size_t mstls_sctp_link_pair_pump(mstls_sctp_link_pair *p);
/** @brief Free a pair and its links. NULL is ignored. */
MSTLS_EXTERN void mstls_sctp_link_pair_del(mstls_sctp_link_pair *p);

/* Associations ------------------------------------------------------------ */

/**
 * @brief Open an association to @p host:@p port and put a client session
 *        on it.
 *
 * Blocking (config.blocking): returns once the association is up, the
 * session exists with settings.nstreams = min(inbound, outbound) and its
 * handshake (mstls_session_handshake_blocking) finished. Non-blocking:
 * returns at once; call mstls_sctp_assoc_process() when the association is
 * ready (fd or ready callback); the session appears
 * (mstls_sctp_assoc_get_session) when the association is up and its
 * handshake is started then.
 * @param passoc receives the association (also on a handshake failure,
 *        so the caller can inspect it; NULL on other errors).
 * @param config backend and SCTP parameters; NULL for defaults.
 * @param host numeric address or name (ignored with a link), or a
 *        comma-separated list of them for a multihomed peer
 *        ("10.0.1.2,10.0.2.2"; sctp_connectx): SCTP sets the association
 *        up through any of them and uses all the peer's addresses as
 *        paths, the first one as primary. At most MSTLS_SCTP_MAX_ADDRS
 *        entries, all of one address family, no empty entry and no
 *        duplicate, or MSTLS_E_INVALID_ARGUMENT. config.local_addrs
 *        chooses the local addresses.
 * @param port SCTP port.
 * @param settings session settings (nstreams is replaced); NULL for
 *        defaults.
 * @param callbacks optional recv_data, stream_event and clock; push and
 *        pull are the association's own and are ignored.
 * @param user_data passed to every callback.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (also a malformed address list in
 *         @p host or config.local_addrs), MSTLS_E_INVALID_STATE (usrsctp
 *         stack not running, or blocking with a NOTHREADS stack),
 *         MSTLS_E_UNSUPPORTED (backend not built or not available),
 *         MSTLS_E_TRANSPORT (socket, address or connect failure),
 *         MSTLS_E_PEER_GONE (association could not be set up),
 *         MSTLS_E_NOMEM, or an error of mstls_session_new() or of the
 *         handshake (MSTLS_E_HANDSHAKE, MSTLS_E_CERT_VERIFY, ...;
 *         MSTLS_E_PARTIAL when some streams failed to come up and the
 *         settings do not accept a partial bring-up: *passoc is set and
 *         the established streams are usable).
 */
MSTLS_EXTERN int mstls_sctp_connect(mstls_sctp_assoc **passoc,
                                    const mstls_sctp_config *config,
                                    const char *host, uint16_t port,
                                    const mstls_settings *settings,
                                    const mstls_callbacks *callbacks,
                                    mstls_credentials *cred, void *user_data);

/**
 * @brief Listen on @p host:@p port (host NULL: any address).
 *
 * @p host may list several local addresses, comma-separated
 * ("10.0.1.2,10.0.2.2"), with the rules of mstls_sctp_connect(): the
 * listener is bound to all of them (sctp_bindx) and every association it
 * accepts offers them all to the peer as paths.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (also a malformed address list),
 *         MSTLS_E_INVALID_STATE, MSTLS_E_UNSUPPORTED (also
 *         config->reuseport on usrsctp), MSTLS_E_TRANSPORT (an address
 *         that does not resolve or cannot be bound: in use by a listener
 *         without reuseport, or a kernel that does not share SCTP ports),
 *         MSTLS_E_NOMEM.
 */
MSTLS_EXTERN int mstls_sctp_listen(mstls_sctp_listener **plistener,
                                   const mstls_sctp_config *config,
                                   const char *host, uint16_t port);

/**
 * @brief Accept an association and put a server session on it.
 *
 * Blocking listener: waits for a peer and runs the handshake. Non-blocking:
 * MSTLS_E_AGAIN when nobody waits; otherwise the session exists and the
 * handshake progresses in mstls_sctp_assoc_process().
 * @return 0, MSTLS_E_AGAIN, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_TRANSPORT,
 *         MSTLS_E_NOMEM, an error of mstls_session_new() (settings or
 *         credentials that cannot work, e.g. MSTLS_E_TLS for a priority
 *         string GnuTLS refuses: the association is closed and counted in
 *         accept_failed), or an error of the handshake (the association is
 *         returned then too).
 */
MSTLS_EXTERN int mstls_sctp_accept(mstls_sctp_listener *listener,
                                   mstls_sctp_assoc **passoc,
                                   const mstls_settings *settings,
                                   const mstls_callbacks *callbacks,
                                   mstls_credentials *cred, void *user_data);

/** @brief Wait at most @p timeout_ms (-1: forever) for a peer to accept
 *  (kernel or threaded usrsctp). @return 0 (ready), MSTLS_E_AGAIN. */
MSTLS_EXTERN int mstls_sctp_listener_wait(mstls_sctp_listener *listener,
                                          int timeout_ms);

/** @brief A pollable fd that is readable while an association waits to be
 *  accepted: the listening socket (kernel SCTP) or an eventfd (usrsctp),
 *  so one poll()/epoll loop serves both backends. Poll it for POLLIN and
 *  call mstls_sctp_accept() until MSTLS_E_AGAIN. Owned by the listener.
 *  @return the fd, or -1 (listener NULL). */
MSTLS_EXTERN int mstls_sctp_listener_get_fd(mstls_sctp_listener *listener);

/** Listener readiness callback: something happened on an association
 *  that waits to be accepted (usrsctp). Runs on a usrsctp thread: only
 *  wake your loop, then call mstls_sctp_accept() until MSTLS_E_AGAIN. */
typedef void (*mstls_sctp_listener_ready_cb)(mstls_sctp_listener *listener,
                                             void *user_data);

/**
 * @brief Set (or clear, with NULL) the readiness callback of a usrsctp
 *        listener, so that an event loop can wait for new associations
 *        without polling. It is called once before this returns, for
 *        associations that were already waiting. Kernel listeners give a
 *        pollable fd instead (mstls_sctp_listener_get_fd()) and never
 *        call it. When set to NULL, the callback is not running any more
 *        once this returns.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (listener NULL).
 */
MSTLS_EXTERN int mstls_sctp_listener_set_ready(mstls_sctp_listener *listener,
                                               mstls_sctp_listener_ready_cb cb,
                                               void *user_data);

/** Counters of a listener. */
typedef struct mstls_sctp_listener_stats {
  uint64_t accepted; /**< associations returned by mstls_sctp_accept() */
  /** Accepts that failed (out of memory, socket setup, settings or
   *  credentials that cannot make a session). */
  uint64_t accept_failed;
} mstls_sctp_listener_stats;

/** @brief Copy the listener's counters.
 *  @return 0, MSTLS_E_INVALID_ARGUMENT. */
MSTLS_EXTERN int
mstls_sctp_listener_get_stats(mstls_sctp_listener *listener,
                              mstls_sctp_listener_stats *stats);

/** @brief Close a listener (NULL ignored). */
MSTLS_EXTERN void mstls_sctp_listener_del(mstls_sctp_listener *listener);

/**
 * @brief Read everything the association has (non-blocking): route data to
 *        the session, handle notifications, finish association setup, and
 *        push what met a full socket (mstls_session_flush()): call it when
 *        the fd is readable or writable, or the ready callback ran.
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_CLOSED (the association
 *         ended in order: the peer's SHUTDOWN completed -- not a
 *         failure), or the association's error (MSTLS_E_PEER_GONE: lost,
 *         aborted, restarted or never set up; MSTLS_E_TRANSPORT; a send
 *         that timed out; a fatal session error). Once the association
 *         ended, every stream that was not closed in order reports
 *         MSTLS_STREAM_FAILED with that error.
 */
MSTLS_EXTERN int mstls_sctp_assoc_process(mstls_sctp_assoc *assoc);

/** @brief Wait at most @p timeout_ms (-1: forever) for the association to
 *  become readable (kernel or threaded usrsctp), or, while a record waits
 *  for room, writable (mstls_sctp_assoc_get_events()). Returns at once
 *  while a blocked send has messages set aside
 *  (mstls_sctp_config.park_max).
 *  @return 0 (readable, room for a kept record, messages set aside or
 *  error pending),
 *  MSTLS_E_AGAIN (timeout),
 *  MSTLS_E_INVALID_STATE (NOTHREADS stack: cannot wait). */
MSTLS_EXTERN int mstls_sctp_assoc_wait(mstls_sctp_assoc *assoc, int timeout_ms);

/** @brief The session, or NULL while the association is being set up. */
MSTLS_EXTERN mstls_session *mstls_sctp_assoc_get_session(mstls_sctp_assoc *a);

/** @brief A pollable fd that is readable while the association has
 *  something to process: the socket (kernel SCTP) or an eventfd (usrsctp,
 *  signalled from the stack's upcalls, including room freed for sends).
 *  Poll it for the events mstls_sctp_assoc_get_events() gives (POLLIN,
 *  and with kernel SCTP POLLOUT while a record waits for room), then call
 *  mstls_sctp_assoc_process(). A send may keep a record that met a full
 *  socket and still count its bytes as taken, so an application that
 *  polls POLLIN alone on kernel SCTP can wait forever for an answer that
 *  the kept record holds back.
 *  Level-triggered on both backends: it stays readable while the socket
 *  holds unread messages. mstls_sctp_assoc_process() hands every message
 *  to the session, so read the streams on every wake-up: a stream whose
 *  unread data passes settings.stream_rx_cap fails with
 *  MSTLS_E_BUFFER_FULL. Owned by the association.
 *  @return the fd, or -1 (association NULL or closed). */
MSTLS_EXTERN int mstls_sctp_assoc_get_fd(mstls_sctp_assoc *assoc);

/** @brief The poll() events to wait for on mstls_sctp_assoc_get_fd() now:
 *  POLLIN, plus POLLOUT with kernel SCTP while the session keeps a record,
 *  a handshake flight or a close_notify that met a full socket (set by
 *  the send that met it, cleared by mstls_sctp_assoc_process() once
 *  mstls_session_flush() finds nothing waiting). usrsctp's fd signals room
 *  by itself, so it is POLLIN alone there. Ask again before every wait. An
 *  application that stops reading from a peer for a while (back-pressure)
 *  masks out POLLIN itself; with usrsctp nothing is then left to poll the
 *  fd for, and room comes through mstls_sctp_config.ready, which runs on
 *  every upcall of the stack. Never poll usrsctp's fd for POLLOUT: an
 *  eventfd is always writable, so the loop would spin.
 *  POLLIN alone once the association or its session has ended (the error
 *  is ready for mstls_sctp_assoc_process()).
 *  @return POLLIN or POLLIN | POLLOUT (as in <poll.h>; EPOLLIN and EPOLLOUT
 *  have the same values on Linux), 0 if @p assoc is NULL or aborted
 *  (mstls_sctp_assoc_abort()). */
MSTLS_EXTERN int mstls_sctp_assoc_get_events(mstls_sctp_assoc *assoc);

/** @brief Negotiated stream counts (SCTP_STATUS).
 *  @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE (not up). */
MSTLS_EXTERN int mstls_sctp_assoc_get_streams(mstls_sctp_assoc *assoc,
                                              uint16_t *in, uint16_t *out);

/**
 * @brief DATA chunks sent and not yet acknowledged by the peer (SCTP_STATUS
 *        sstat_unackdata). Messages the stack holds and has not sent yet
 *        are not counted. It stays above 0 while a peer that does not read
 *        keeps its window closed (the chunks in flight when it closed,
 *        then the zero-window probes), and returns to 0 once a reading
 *        peer has taken everything: an event loop can tell a stalled peer
 *        from an idle one without a send of its own.
 * @param chunks receives the count (0 on error).
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STATE (not up, or
 *         ended), MSTLS_E_TRANSPORT.
 */
MSTLS_EXTERN int mstls_sctp_assoc_get_outstanding(mstls_sctp_assoc *assoc,
                                                  uint32_t *chunks);

/** @brief The association's error, or 0. */
MSTLS_EXTERN int mstls_sctp_assoc_get_error(mstls_sctp_assoc *assoc);

/** @brief A stream's transport error (SEND_FAILED or PDAPI_ABORTED:
 *  MSTLS_E_STREAM_LOST; a reset: MSTLS_E_STREAM_RESET; an oversized
 *  message: MSTLS_E_MSG_SIZE), or 0. */
MSTLS_EXTERN int mstls_sctp_assoc_get_stream_error(mstls_sctp_assoc *assoc,
                                                   uint16_t stream);

/** @brief The backend actually used. */
MSTLS_EXTERN mstls_sctp_backend
mstls_sctp_assoc_get_backend(mstls_sctp_assoc *assoc);

/** @brief User data given at connect/accept. */
MSTLS_EXTERN void *mstls_sctp_assoc_get_user_data(mstls_sctp_assoc *assoc);

/**
 * @brief Set the PPID of an outbound stream (default config.ppid).
 * @return 0, MSTLS_E_INVALID_ARGUMENT, MSTLS_E_INVALID_STREAM (beyond the
 *         outbound streams), MSTLS_E_INVALID_STATE (not up).
 */
MSTLS_EXTERN int mstls_sctp_assoc_set_ppid(mstls_sctp_assoc *assoc,
                                           uint16_t stream, uint32_t ppid);

/**
 * @brief Send a plaintext message on a unidirectional stream (a stream id
 *        >= min(in, out) and < out), or on a stream declared plaintext
 *        with mstls_stream_set_plaintext().
 * @return 0, MSTLS_E_AGAIN (non-blocking, no room), MSTLS_E_INVALID_ARGUMENT,
 *         MSTLS_E_INVALID_STREAM (a TLS stream, or beyond the outbound
 *         streams), MSTLS_E_INVALID_STATE (not up), MSTLS_E_TRANSPORT.
 */
MSTLS_EXTERN int mstls_sctp_send_plain(mstls_sctp_assoc *assoc, uint16_t stream,
                                       uint32_t ppid, const void *data,
                                       size_t len);

/* Multihoming -------------------------------------------------------------- */

/** Most addresses in one list (host of mstls_sctp_connect() and
 *  mstls_sctp_listen(), mstls_sctp_config.local_addrs). */
#define MSTLS_SCTP_MAX_ADDRS 8
/** Room for an address as text, IPv6 included, with its terminator. */
#define MSTLS_SCTP_ADDR_TEXT 48

/** State of a path (a peer address), from SCTP_GET_PEER_ADDR_INFO. */
typedef enum mstls_sctp_path_state {
  /** Reachable: may carry data. */
  MSTLS_SCTP_PATH_ACTIVE = 1,
  /** Unreachable: Path.Max.Retrans consecutive timeouts; heartbeats go on
   *  and bring it back (MSTLS_SCTP_EVENT_ADDR_AVAILABLE). */
  MSTLS_SCTP_PATH_INACTIVE = 2,
  /** Listed by the peer but not yet confirmed by a heartbeat. */
  MSTLS_SCTP_PATH_UNCONFIRMED = 3,
  /** Kernel SCTP: missed a timeout, not yet inactive (RFC 7829). */
  MSTLS_SCTP_PATH_POTENTIALLY_FAILED = 4,
  /** A state the stack reported that none of the above names. */
  MSTLS_SCTP_PATH_UNKNOWN = 5
} mstls_sctp_path_state;

/** One path of an association: a peer address and its state. */
typedef struct mstls_sctp_path {
  /** The peer address with the SCTP port (AF_INET or AF_INET6; AF_CONN
   *  over a usrsctp link). */
  struct sockaddr_storage addr;
  /** The address as text, without the port ("10.0.1.2"). */
  char text[MSTLS_SCTP_ADDR_TEXT];
  mstls_sctp_path_state state;
  /** 1 for the primary path: where new data goes while it is active. */
  int primary;
  uint32_t srtt_ms; /**< smoothed round-trip time (0: not measured yet) */
  uint32_t rto_ms;  /**< current retransmission timeout */
  uint32_t cwnd;    /**< congestion window in bytes */
  uint32_t mtu;     /**< path MTU in bytes */
} mstls_sctp_path;

/**
 * @brief List the association's paths (the peer's addresses, from
 *        sctp_getpaddrs and SCTP_GET_PEER_ADDR_INFO) with their state.
 *
 * RFC 3436 §9: nothing in mstls rests a security decision on these
 * addresses; the peer is authenticated by TLS only.
 * @param paths receives up to @p max paths (may be NULL when @p max is 0,
 *        to learn the count).
 * @param n receives the number of paths the association has, which may
 *        be more than @p max (then only @p max are written).
 * @return 0, MSTLS_E_INVALID_ARGUMENT (assoc or @p n NULL, or paths NULL
 *         with max > 0), MSTLS_E_INVALID_STATE (not up, or gone),
 *         MSTLS_E_TRANSPORT (the stack refused the query).
 */
MSTLS_EXTERN int mstls_sctp_assoc_get_paths(mstls_sctp_assoc *assoc,
                                            mstls_sctp_path *paths, size_t max,
                                            size_t *n);

/**
 * @brief Make the peer address @p addr (numeric, as in get_paths' text)
 *        the primary path (SCTP_PRIMARY_ADDR): new data is sent there
 *        while it is active.
 * @return 0, MSTLS_E_INVALID_ARGUMENT (assoc or addr NULL, not a numeric
 *         address, or not one of the peer's addresses), MSTLS_E_INVALID_STATE
 *         (not up, or gone), MSTLS_E_TRANSPORT (the stack refused; for
 *         example an address that is not confirmed yet).
 */
MSTLS_EXTERN int mstls_sctp_assoc_set_primary(mstls_sctp_assoc *assoc,
                                              const char *addr);

/**
 * @brief The peer address of the latest path event (MSTLS_SCTP_EVENT_ADDR_*)
 *        of the association; call it from the event callback. It stays
 *        until the next path event.
 * @param addr receives the address with its port (may be NULL).
 * @param text receives it as text, truncated to @p textlen - 1 bytes and
 *        terminated (may be NULL; MSTLS_SCTP_ADDR_TEXT is always enough).
 * @return 0, MSTLS_E_INVALID_ARGUMENT (assoc NULL, or text non-NULL with
 *         textlen 0), MSTLS_E_INVALID_STATE (no path event yet).
 */
MSTLS_EXTERN int mstls_sctp_assoc_get_event_addr(mstls_sctp_assoc *assoc,
                                                 struct sockaddr_storage *addr,
                                                 char *text, size_t textlen);

/** Counters of an association. */
typedef struct mstls_sctp_stats {
  uint64_t msgs_in;       /**< whole messages received */
  uint64_t msgs_out;      /**< messages sent */
  uint64_t partial_reads; /**< reads that returned part of a message */
  uint64_t plain_in;      /**< messages on unidirectional streams */
  uint64_t dropped;       /**< messages dropped (too large, no taker) */
  /** Messages larger than settings.max_message (at least 18437 bytes, one
   *  full TLS record), discarded; each fails its TLS stream with
   *  MSTLS_E_MSG_SIZE. Also counted in dropped. */
  uint64_t oversized;
  uint64_t notifications;
  /** Messages a blocked send read ahead and set aside (park_max). */
  uint64_t parked;
  /** Times a blocked send found park_max reached and stopped reading. */
  uint64_t park_full;
  /** Most bytes set aside at once. */
  size_t parked_max;
  /** Blocked sends that gave up after config.send_timeout_ms. */
  uint64_t send_timeouts;
} mstls_sctp_stats;

/** @brief Copy the counters. @return 0, MSTLS_E_INVALID_ARGUMENT. */
MSTLS_EXTERN int mstls_sctp_assoc_get_stats(mstls_sctp_assoc *assoc,
                                            mstls_sctp_stats *stats);

/**
 * @brief Close cleanly: close_notify on every stream (mstls_session_bye),
 *        then SCTP SHUTDOWN. The association stays valid until deleted.
 *        After the peer's own SHUTDOWN (MSTLS_SCTP_EVENT_SHUTDOWN) nothing
 *        more can be sent: this returns 0 and SCTP completes the close.
 * @return 0, MSTLS_E_AGAIN (non-blocking: call again), MSTLS_E_TRANSPORT,
 *         MSTLS_E_PEER_GONE, or another fatal session error.
 */
MSTLS_EXTERN int mstls_sctp_assoc_shutdown(mstls_sctp_assoc *assoc);

/** @brief Abort the association at once (SCTP ABORT), no close_notify. */
MSTLS_EXTERN void mstls_sctp_assoc_abort(mstls_sctp_assoc *assoc);

/** @brief Free the association, its socket and its session (NULL ignored).
 *  The readiness callback and the fd of mstls_sctp_assoc_get_fd() end
 *  here. An association still up (no shutdown, or one not yet complete)
 *  is closed gracefully in the background: the queued data is delivered,
 *  then SCTP SHUTDOWN. With usrsctp the library keeps the socket until
 *  SCTP reports the association gone (closing the socket of a live
 *  association races usrsctp's own threads), discarding what still
 *  arrives, and aborts it after config.linger_ms
 *  (mstls_sctp_usrsctp_get_stats()). After a send that timed out
 *  (MSTLS_E_TIMEOUT) the association is aborted at once. */
MSTLS_EXTERN void mstls_sctp_assoc_del(mstls_sctp_assoc *assoc);

#ifdef __cplusplus
}
#endif

#endif /* MSTLS_SCTP_H */
