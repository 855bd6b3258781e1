/* Multihoming failover peer: one program, two roles, for
 * tests/vm/multihoming.sh (two network namespaces joined by two veth
 * pairs in the QEMU guest).
 *
 *   mh_peer server --listen A1,A2 --port P [options]
 *   mh_peer client --connect A1,A2 [--local L1,L2] --port P [options]
 *            [--cut-at S --cut CMD] [--restore CMD --expect-down ADDR
 *            [--cut-deadline S]]
 *
 * The client sends a known byte pattern on every stream without pause, the
 * server echoes it, the client checks every byte that comes back. --cut-at
 * seconds after every stream is up the client runs --cut (the script takes
 * the primary path down). It runs --restore once the cut is done, ADDR
 * has been reported unreachable (ADDR_UNREACHABLE), the paths show it
 * inactive, and every stream has carried echoed data since that report;
 * if that has not all happened --cut-deadline seconds (default 90) after
 * the cut was done, it says what is missing, fails, and restores. It keeps
 * sending while the path is cut and until the restored path is reported
 * available again. It prints each path event with its time and address,
 * the paths, the longest stall of the echo after the cut and a summary,
 * and exits 0 only when every check passed: no stream and no association
 * error, every byte echoed intact, every stream moving while the path was
 * down, the path reported unreachable and then available again. The
 * server exits 0 when the client closed in order with nothing failed.
 *
 * Options: --backend kernel|usrsctp (default kernel), --udp-port N
 * (usrsctp: local UDP encapsulation port; the client also needs
 * --remote-udp-port), --streams N (default 8, at most 128), --max-retrans N
 * (Association.Max.Retrans and Path.Max.Retrans; default: the failover
 * profile's 3 and 2), --rto-max MS and --heartbeat MS (RTO.Max and the
 * heartbeat interval; default: the failover profile's 1000 and 100),
 * --duration S
 * (client: how
 * long to send at least, default 15), --timeout S (server: longest run,
 * default 120). The test PKI is made afresh in each process: the server writes
 * its CA certificate to --ca-out FILE before it listens, the client verifies
 * the server's certificate (name "server.test") with --ca FILE. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mstls/sctp.h>

#include "certs.h"
#include "peer_args.h"
#include "pair.h"

#define MH_MAX_STREAMS 128
#define MH_CHUNK 4096
#define MH_WINDOW (48 * 1024) /* bytes in flight per stream */
/* How long (s) every stream's handshake may take, the restored path to be
 * reported available again, and the echo to drain once sending stopped:
 * bounds against a hang. */
#define MH_HS_WAIT 60
#define MH_UP_WAIT 60
#define MH_DRAIN_WAIT 50

typedef struct mh_opts {
  int server;
  const char *addrs;
  const char *local;
  uint16_t port;
  mstls_sctp_backend backend;
  uint16_t udp_port;
  uint16_t remote_udp_port;
  unsigned streams;
  unsigned max_retrans; /* 0: the failover profile's */
  unsigned rto_max_ms;  /* 0: the failover profile's */
  unsigned hb_ms;       /* 0: the failover profile's */
  double duration;
  double timeout;
  double cut_at;
  const char *cut;
  double cut_deadline;
  const char *restore;
  const char *expect_down;
  const char *ca_out; /* server: where to write its CA certificate */
  const char *ca;     /* client: the CA certificate to verify with */
} mh_opts;

static double mh_t0;

static double mh_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - mh_t0;
}

/* What the path events told us. */
typedef struct mh_state {
  const mh_opts *o;
  double cut_time;     /* < 0 until the cut ran */
  double restore_time; /* < 0 until the restore ran */
  double down_at;      /* expect_down reported unreachable (after the cut) */
  double up_at;        /* expect_down reported available (after restore) */
  unsigned path_events;
} mh_state;

static const char *mh_event_name(mstls_sctp_event ev) {
  switch (ev) {
  case MSTLS_SCTP_EVENT_UP:
    return "UP";
  case MSTLS_SCTP_EVENT_COMM_LOST:
    return "COMM_LOST";
  case MSTLS_SCTP_EVENT_RESTART:
    return "RESTART";
  case MSTLS_SCTP_EVENT_SHUTDOWN:
    return "SHUTDOWN";
  case MSTLS_SCTP_EVENT_SEND_FAILED:
    return "SEND_FAILED";
  case MSTLS_SCTP_EVENT_STREAM_RESET:
    return "STREAM_RESET";
  case MSTLS_SCTP_EVENT_PDAPI_ABORTED:
    return "PDAPI_ABORTED";
  case MSTLS_SCTP_EVENT_CANT_START:
    return "CANT_START";
  case MSTLS_SCTP_EVENT_SHUTDOWN_COMPLETE:
    return "SHUTDOWN_COMPLETE";
  case MSTLS_SCTP_EVENT_OVERSIZED:
    return "OVERSIZED";
  case MSTLS_SCTP_EVENT_ADDR_AVAILABLE:
    return "ADDR_AVAILABLE";
  case MSTLS_SCTP_EVENT_ADDR_UNREACHABLE:
    return "ADDR_UNREACHABLE";
  case MSTLS_SCTP_EVENT_ADDR_REMOVED:
    return "ADDR_REMOVED";
  case MSTLS_SCTP_EVENT_ADDR_ADDED:
    return "ADDR_ADDED";
  case MSTLS_SCTP_EVENT_ADDR_MADE_PRIMARY:
    return "ADDR_MADE_PRIMARY";
  case MSTLS_SCTP_EVENT_ADDR_CONFIRMED:
    return "ADDR_CONFIRMED";
  case MSTLS_SCTP_EVENT_ADDR_POTENTIALLY_FAILED:
    return "ADDR_POTENTIALLY_FAILED";
  default:
    return "?";
  }
}

static void mh_on_event(mstls_sctp_assoc *a, mstls_sctp_event ev,
                        uint16_t stream, int error, void *user_data) {
  mh_state *st = user_data;
  char text[MSTLS_SCTP_ADDR_TEXT] = "";
  double t = mh_now();

  if (ev >= MSTLS_SCTP_EVENT_ADDR_AVAILABLE &&
      mstls_sctp_assoc_get_event_addr(a, NULL, text, sizeof(text)) == 0) {
    st->path_events++;
    if (st->o->expect_down != NULL && strcmp(text, st->o->expect_down) == 0) {
      if (ev == MSTLS_SCTP_EVENT_ADDR_UNREACHABLE && st->cut_time >= 0 &&
          st->down_at < 0)
        st->down_at = t;
      if ((ev == MSTLS_SCTP_EVENT_ADDR_AVAILABLE ||
           ev == MSTLS_SCTP_EVENT_ADDR_CONFIRMED) &&
          st->restore_time >= 0 && st->up_at < 0)
        st->up_at = t;
    }
  }
  printf("t=%.3f event %s%s%s stream=%u error=%d\n", t, mh_event_name(ev),
         text[0] ? " " : "", text, (unsigned)stream, error);
  fflush(stdout);
}

/* The library's account of how the association ended (a peer's ABORT
 * and its cause, or a peer that stopped answering); its other lines are
 * told by the events. */
static void mh_on_log(int level, const char *line, void *user_data) {
  (void)level;
  (void)user_data;
  if (strstr(line, ": down: ") != NULL) {
    printf("t=%.3f %s\n", mh_now(), line);
    fflush(stdout);
  }
}

static void mh_print_paths(mstls_sctp_assoc *a, const char *when) {
  mstls_sctp_path p[MSTLS_SCTP_MAX_ADDRS];
  static const char *const names[] = {
      "?",      "active", "inactive", "unconfirmed", "potentially-failed",
      "unknown"};
  size_t n = 0, i;
  int rc = mstls_sctp_assoc_get_paths(a, p, MSTLS_SCTP_MAX_ADDRS, &n);

  if (rc != 0) {
    printf("t=%.3f paths (%s): error %d\n", mh_now(), when, rc);
    return;
  }
  for (i = 0; i < n && i < MSTLS_SCTP_MAX_ADDRS; i++)
    printf("t=%.3f path (%s) %s %s%s srtt=%ums rto=%ums cwnd=%u mtu=%u\n",
           mh_now(), when, p[i].text,
           (unsigned)p[i].state < 6 ? names[p[i].state] : "?",
           p[i].primary ? " primary" : "", p[i].srtt_ms, p[i].rto_ms, p[i].cwnd,
           p[i].mtu);
  fflush(stdout);
}

/* The state of @p addr among the paths, or 0. */
static int mh_path_state(mstls_sctp_assoc *a, const char *addr) {
  mstls_sctp_path p[MSTLS_SCTP_MAX_ADDRS];
  size_t n = 0, i;

  if (addr == NULL ||
      mstls_sctp_assoc_get_paths(a, p, MSTLS_SCTP_MAX_ADDRS, &n) != 0)
    return 0;
  for (i = 0; i < n && i < MSTLS_SCTP_MAX_ADDRS; i++) {
    if (strcmp(p[i].text, addr) == 0)
      return (int)p[i].state;
  }
  return 0;
}

/* The GnuTLS error behind a stream's failure, for the FAIL lines: " (GnuTLS:
 * ...)", or "" when there is none. */
static const char *mh_tls_why(mstls_session *s, unsigned stream) {
  static char why[160];
  int e = s != NULL ? mstls_stream_get_tls_error(s, (uint16_t)stream) : 0;

  if (e == 0)
    return "";
  snprintf(why, sizeof(why), " (GnuTLS %d: %s)", e, gnutls_strerror(e));
  return why;
}

static uint8_t mh_byte(unsigned stream, uint64_t off) {
  return (uint8_t)(off * 31u + stream * 7u + (off >> 9));
}

static void mh_wait(mstls_sctp_assoc *a, mstls_sctp_listener *l, int ms) {
  struct pollfd p[2];
  int n = 0;

  if (a != NULL && mstls_sctp_assoc_get_fd(a) >= 0) {
    p[n].fd = mstls_sctp_assoc_get_fd(a);
    p[n].events = POLLIN;
    n++;
  }
  if (l != NULL) {
    p[n].fd = mstls_sctp_listener_get_fd(l);
    p[n].events = POLLIN;
    n++;
  }
  (void)poll(p, (nfds_t)n, ms);
}

static void mh_config(const mh_opts *o, mstls_sctp_config *cfg) {
  mstls_sctp_config_default(cfg);
  /* Quick path failure detection: Path.Max.Retrans 2, RTO 100..1000 ms,
   * a heartbeat a second. */
  mstls_sctp_config_failover(cfg);
  if (o->max_retrans > 0) {
    cfg->assoc_max_retrans = (uint16_t)o->max_retrans;
    cfg->path_max_retrans = (uint16_t)o->max_retrans;
  }
  if (o->rto_max_ms > 0)
    cfg->rto_max_ms = o->rto_max_ms;
  if (o->hb_ms > 0)
    cfg->heartbeat_interval_ms = o->hb_ms;
  cfg->backend = o->backend;
  cfg->blocking = 0;
  cfg->streams_in = cfg->streams_out = (uint16_t)o->streams;
  cfg->event = mh_on_event;
  cfg->remote_udp_port = o->remote_udp_port;
  cfg->local_addrs = o->local;
}

/* A shell command run beside the event loop, so that the loop (and the
 * measured stall) never waits for it: under emulation `ip netns exec` and
 * `tc` take about a second. */
typedef struct mh_cmd {
  const char *what;
  pid_t pid; /* 0: not started; -1: finished */
  int status;
  double done_at;
} mh_cmd;

static int mh_cmd_start(mh_cmd *c, const char *what, const char *cmd) {
  c->what = what;
  printf("t=%.3f %s: %s\n", mh_now(), what, cmd);
  fflush(stdout);
  c->pid = fork();
  if (c->pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  return c->pid > 0 ? 0 : -1;
}

/* 1 once the command finished (status in c->status). */
static int mh_cmd_poll(mh_cmd *c, int block) {
  int st;

  if (c->pid <= 0)
    return c->pid < 0;
  if (waitpid(c->pid, &st, block ? 0 : WNOHANG) != c->pid)
    return 0;
  c->pid = -1;
  c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  c->done_at = mh_now();
  printf("t=%.3f %s done (status %d)\n", c->done_at, c->what, c->status);
  fflush(stdout);
  return 1;
}

/* Client --------------------------------------------------------------- */

static int mh_read_ca(const char *path, char *buf, size_t cap) {
  FILE *f = path != NULL ? fopen(path, "r") : NULL;
  size_t n;

  if (f == NULL)
    return -1;
  n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = '\0';
  return n > 0 ? 0 : -1;
}

typedef struct mh_stream {
  uint64_t tx;         /* bytes taken by mstls_stream_send */
  uint64_t rx;         /* echoed bytes checked */
  uint64_t rx_at_cut;  /* rx when the cut ran */
  uint64_t rx_at_down; /* rx when expect_down was reported unreachable */
  uint64_t rx_at_rest; /* rx when the restore ran */
  double last_rx;      /* time of the last echo */
  double stall;        /* longest gap between echoes after the cut */
  int bad;             /* a byte differed */
} mh_stream;

/* Whether the cut has done its work: expect_down reported unreachable,
 * inactive in the paths, and every stream echoed since the report (@p
 * down_snap: rx_at_down holds the counts at the report). With @p say,
 * prints what is missing. */
static int mh_cut_seen(mstls_sctp_assoc *a, const mh_opts *o,
                       const mh_state *st, const mh_stream *ms, int down_snap,
                       int say) {
  unsigned i, still = 0;
  int ok = 1;

  if (st->down_at < 0 || !down_snap) {
    if (say)
      printf("FAIL %s not reported unreachable\n", o->expect_down);
    return 0;
  }
  for (i = 0; i < o->streams; i++) {
    if (ms[i].rx <= ms[i].rx_at_down) {
      if (say)
        printf("FAIL stream %u carried nothing since %s was reported "
               "unreachable\n",
               i, o->expect_down);
      still++;
    }
  }
  if (still > 0)
    ok = 0;
  if (ok || say) {
    if (mh_path_state(a, o->expect_down) != MSTLS_SCTP_PATH_INACTIVE) {
      if (say)
        printf("FAIL %s not inactive in the paths\n", o->expect_down);
      ok = 0;
    }
  }
  return ok;
}

static int mh_client(const mh_opts *o) {
  mstls_sctp_config cfg;
  mstls_settings set;
  mstls_sctp_assoc *a = NULL;
  mstls_session *s;
  mstls_credentials *cred;
  mh_state st = {o, -1, -1, -1, -1, 0};
  mh_stream ms[MH_MAX_STREAMS];
  uint8_t buf[16384];
  double end_send, deadline, worst = 0, t_connect, t_up, t_drained = -1;
  double t_stop = -1; /* when sending stopped */
  unsigned i;
  int rc, failed = 0, down_seen = 0, handshaken = 0, down_snap = 0;
  uint64_t total = 0;
  mh_cmd cut = {NULL, 0, 0, 0}, restore = {NULL, 0, 0, 0};
  memset(ms, 0, sizeof(ms));
  if (mh_read_ca(o->ca, (char *)buf, sizeof(buf)) != 0) {
    printf("FAIL cannot read the CA certificate %s\n", o->ca ? o->ca : "");
    return 1;
  }
  cred = test_client_creds(NULL, (const char *)buf, 0);
  if (cred == NULL) {
    printf("FAIL client credentials\n");
    return 1;
  }
  mh_config(o, &cfg);
  test_client_settings(&set, o->streams, MSTLS_POLICY_RESUME);
  set.handshake_timeout = MH_HS_WAIT * MSTLS_SECONDS;
  t_connect = mh_now();
  rc = mstls_sctp_connect(&a, &cfg, o->addrs, o->port, &set, NULL, cred, &st);
  if (rc != 0) {
    printf("FAIL connect: %s\n", mstls_strerror(rc));
    return 1;
  }
  /* Set-up and handshake, bounded (generous: 100 streams on an emulated
   * CPU over a lossy path). */
  deadline = mh_now() + MH_HS_WAIT;
  while (!handshaken && mh_now() < deadline) {
    mh_wait(a, NULL, 20);
    rc = mstls_sctp_assoc_process(a);
    if (rc != 0) {
      printf("FAIL set-up: %s\n", mstls_strerror(rc));
      return 1;
    }
    s = mstls_sctp_assoc_get_session(a);
    if (s != NULL) {
      rc = mstls_session_handshake(s);
      if (rc == 0)
        handshaken = 1;
      else if (rc != MSTLS_E_AGAIN) {
        printf("FAIL handshake: %s\n", mstls_strerror(rc));
        return 1;
      }
    }
  }
  if (!handshaken) {
    printf("FAIL handshake: not done in %d s\n", MH_HS_WAIT);
    return 1;
  }
  s = mstls_sctp_assoc_get_session(a);
  t_up = mh_now();
  printf("t=%.3f up: %u TLS streams\n", t_up, o->streams);
  mh_print_paths(a, "start");
  end_send = mh_now() + o->duration;
  for (i = 0; i < o->streams; i++)
    ms[i].last_rx = mh_now();
  for (;;) {
    double now = mh_now();
    /* Send for --duration, on while the path is cut, and on until the
     * restored path is reported available (bounded by MH_UP_WAIT) and one
     * second past that, so the path's return is seen under traffic. */
    int cutting = o->restore != NULL && st.cut_time >= 0 && st.restore_time < 0;
    int waiting_up = o->expect_down != NULL && st.restore_time >= 0 &&
                     st.up_at < 0 && now < st.restore_time + MH_UP_WAIT;
    int sending = now < end_send || cutting || waiting_up ||
                  (st.up_at >= 0 && now < st.up_at + 1);
    int drained = 1;

    if (sending)
      t_stop = -1;
    else if (t_stop < 0)
      t_stop = now;
    if (o->cut != NULL && st.cut_time < 0 && now >= t_up + o->cut_at) {
      mh_print_paths(a, "before cut");
      for (i = 0; i < o->streams; i++) {
        ms[i].rx_at_cut = ms[i].rx;
        ms[i].last_rx = now;
      }
      st.cut_time = mh_now();
      if (mh_cmd_start(&cut, "cut", o->cut) != 0) {
        printf("FAIL cannot run the cut command\n");
        failed = 1;
        break;
      }
    }
    (void)mh_cmd_poll(&cut, 0);
    (void)mh_cmd_poll(&restore, 0);
    /* Restore once the cut has done its work, or, failing, when it has
     * had --cut-deadline seconds (a bound against a hang). */
    if (o->restore != NULL && st.restore_time < 0 && st.cut_time >= 0 &&
        cut.pid < 0) {
      int seen = cut.status == 0 && mh_cut_seen(a, o, &st, ms, down_snap, 0);
      int late = !seen && now > cut.done_at + o->cut_deadline;
      if (cut.status != 0) {
        printf("FAIL t=%.3f the cut command failed (status %d)\n", now,
               cut.status);
        failed = 1;
      } else if (late) {
        printf("FAIL t=%.3f the path has been cut for %.0f s, and:\n", now,
               now - cut.done_at);
        (void)mh_cut_seen(a, o, &st, ms, down_snap, 1);
        failed = 1;
      }
      if (seen || late || cut.status != 0) {
        mh_print_paths(a, "before restore");
        if (mh_path_state(a, o->expect_down) == MSTLS_SCTP_PATH_INACTIVE)
          down_seen = 1;
        for (i = 0; i < o->streams; i++)
          ms[i].rx_at_rest = ms[i].rx;
        st.restore_time = mh_now();
        if (mh_cmd_start(&restore, "restore", o->restore) != 0) {
          printf("FAIL cannot run the restore command\n");
          failed = 1;
          break;
        }
      }
    }
    rc = mstls_sctp_assoc_process(a);
    if (rc != 0) {
      printf("FAIL t=%.3f association: %s\n", mh_now(), mstls_strerror(rc));
      failed = 1;
      break;
    }
    /* The path events came with that call: take the streams' counts at
     * the unreachable report before reading more. */
    if (st.down_at >= 0 && !down_snap) {
      for (i = 0; i < o->streams; i++)
        ms[i].rx_at_down = ms[i].rx;
      down_snap = 1;
    }
    for (i = 0; i < o->streams; i++) {
      mh_stream *m = &ms[i];
      long n;
      /* Send while the window has room. */
      while (sending && m->tx - m->rx < MH_WINDOW) {
        size_t len = MH_CHUNK, k;
        for (k = 0; k < len; k++)
          buf[k] = mh_byte(i, m->tx + k);
        n = mstls_stream_send(s, (uint16_t)i, buf, len);
        if (n == MSTLS_E_AGAIN)
          break;
        if (n < 0) {
          printf("FAIL t=%.3f stream %u send: %s%s\n", mh_now(), i,
                 mstls_strerror((int)n), mh_tls_why(s, i));
          failed = 1;
          break;
        }
        m->tx += (uint64_t)n;
      }
      for (;;) {
        size_t k;
        n = mstls_stream_recv(s, (uint16_t)i, buf, sizeof(buf));
        if (n == MSTLS_E_AGAIN)
          break;
        if (n <= 0) {
          printf("FAIL t=%.3f stream %u recv: %s%s\n", mh_now(), i,
                 n == 0 ? "closed" : mstls_strerror((int)n), mh_tls_why(s, i));
          failed = 1;
          break;
        }
        for (k = 0; k < (size_t)n; k++) {
          if (buf[k] != mh_byte(i, m->rx + k) && !m->bad) {
            printf("FAIL stream %u byte %llu differs\n", i,
                   (unsigned long long)(m->rx + k));
            m->bad = 1;
            failed = 1;
          }
        }
        m->rx += (uint64_t)n;
        now = mh_now();
        if (st.cut_time >= 0 && now - m->last_rx > m->stall)
          m->stall = now - m->last_rx;
        m->last_rx = now;
      }
      if (m->rx != m->tx)
        drained = 0;
    }
    if (failed)
      break;
    if (!sending && drained) {
      t_drained = mh_now();
      break;
    }
    if (!sending && mh_now() > t_stop + MH_DRAIN_WAIT) {
      printf("FAIL echo not drained %d s after sending stopped\n",
             MH_DRAIN_WAIT);
      failed = 1;
      break;
    }
    mh_wait(a, NULL, 10);
  }
  mh_print_paths(a, "end");
  (void)mh_cmd_poll(&cut, 1);
  (void)mh_cmd_poll(&restore, 1);
  if ((o->cut != NULL && cut.status != 0) ||
      (o->restore != NULL && restore.status != 0)) {
    printf("FAIL the cut or restore command failed\n");
    failed = 1;
  }
  /* Close in order: close_notify on every stream, then SCTP SHUTDOWN. */
  if (!failed) {
    deadline = mh_now() + 10;
    do {
      rc = mstls_sctp_assoc_shutdown(a);
      if (rc == MSTLS_E_AGAIN)
        mh_wait(a, NULL, 10);
    } while (rc == MSTLS_E_AGAIN && mh_now() < deadline);
    if (rc != 0) {
      printf("FAIL shutdown: %s\n", mstls_strerror(rc));
      failed = 1;
    }
    while (mh_now() < deadline && (rc = mstls_sctp_assoc_process(a)) == 0)
      mh_wait(a, NULL, 10);
  }
  printf("summary: streams=%u\n", o->streams);
  for (i = 0; i < o->streams; i++) {
    mh_stream *m = &ms[i];
    total += m->rx;
    if (m->stall > worst)
      worst = m->stall;
    printf("  stream %u: sent %llu echoed %llu (%llu while the path was "
           "down) longest stall after the cut %.3f s%s\n",
           i, (unsigned long long)m->tx, (unsigned long long)m->rx,
           (unsigned long long)(m->rx_at_rest - m->rx_at_cut), m->stall,
           mstls_stream_get_error(s, (uint16_t)i) ? " ERROR" : "");
    if (m->tx == 0 || m->rx != m->tx ||
        mstls_stream_get_error(s, (uint16_t)i) != 0)
      failed = 1;
    if (o->restore != NULL && m->rx_at_rest <= m->rx_at_cut) {
      printf("FAIL stream %u carried nothing while the path was down\n", i);
      failed = 1;
    }
  }
  printf("summary: %llu bytes echoed and checked, %u path events\n",
         (unsigned long long)total, st.path_events);
  printf("summary: handshake of all %u streams %.3f s after connect\n",
         o->streams, t_up - t_connect);
  if (t_drained > t_up)
    printf("summary: throughput %.1f KB/s each way (%llu bytes echoed in "
           "%.3f s)\n",
           (double)total / 1024.0 / (t_drained - t_up),
           (unsigned long long)total, t_drained - t_up);
  if (o->expect_down != NULL) {
    if (st.down_at < 0) {
      printf("FAIL %s never reported unreachable\n", o->expect_down);
      failed = 1;
    } else {
      printf("summary: %s unreachable %.3f s after the cut started "
             "(%.3f s after it was done)\n",
             o->expect_down, st.down_at - st.cut_time,
             st.down_at - cut.done_at);
    }
    if (!down_seen) {
      printf("FAIL %s was not inactive in the paths before the restore\n",
             o->expect_down);
      failed = 1;
    }
    if (o->restore != NULL && st.up_at < 0) {
      printf("FAIL %s never reported available again\n", o->expect_down);
      failed = 1;
    } else if (o->restore != NULL) {
      printf("summary: %s available %.3f s after the restore started "
             "(%.3f s after it was done)\n",
             o->expect_down, st.up_at - st.restore_time,
             st.up_at - restore.done_at);
    }
  }
  if (st.cut_time >= 0)
    printf("summary: failover: longest echo stall on any stream after the "
           "cut %.3f s (cut command took %.3f s)\n",
           worst, cut.done_at - st.cut_time);
  printf("summary: %s\n", failed ? "FAILED" : "PASSED");
  mstls_sctp_assoc_del(a);
  mstls_credentials_del(cred);
  return failed ? 1 : 0;
}

/* Server --------------------------------------------------------------- */

typedef struct mh_echo {
  uint8_t pend[32768];
  size_t plen;
  size_t poff;
  int closed;
  uint64_t bytes;
} mh_echo;

static int mh_server(const mh_opts *o) {
  mstls_sctp_config cfg;
  mstls_settings set;
  mstls_sctp_listener *l = NULL;
  mstls_sctp_assoc *a = NULL;
  mstls_credentials *cred = test_server_creds(NULL);
  mh_state st = {o, -1, -1, -1, -1, 0};
  static mh_echo echo[MH_MAX_STREAMS];
  double deadline = mh_now() + o->timeout;
  uint64_t total = 0;
  unsigned i, closed = 0;
  int rc, failed = 0, done = 0;

  if (o->ca_out != NULL) {
    FILE *f = fopen(o->ca_out, "w");
    if (f == NULL || fputs(test_pki_get()->ca_pem, f) < 0 || fclose(f) != 0) {
      printf("FAIL cannot write %s\n", o->ca_out);
      return 1;
    }
  }
  mh_config(o, &cfg);
  cfg.local_addrs = NULL;
  test_server_settings(&set, o->streams, MSTLS_POLICY_RESUME);
  set.handshake_timeout = MH_HS_WAIT * MSTLS_SECONDS;
  rc = mstls_sctp_listen(&l, &cfg, o->addrs, o->port);
  if (rc != 0) {
    printf("FAIL listen: %s\n", mstls_strerror(rc));
    return 1;
  }
  printf("t=%.3f listening on %s port %u\n", mh_now(), o->addrs,
         (unsigned)o->port);
  fflush(stdout);
  while (a == NULL && mh_now() < deadline) {
    mh_wait(NULL, l, 50);
    rc = mstls_sctp_accept(l, &a, &set, NULL, cred, &st);
    if (rc != 0 && rc != MSTLS_E_AGAIN) {
      printf("FAIL accept: %s\n", mstls_strerror(rc));
      return 1;
    }
  }
  if (a == NULL) {
    printf("FAIL no client\n");
    return 1;
  }
  printf("t=%.3f accepted\n", mh_now());
  while (!done && mh_now() < deadline) {
    mstls_session *s;
    rc = mstls_sctp_assoc_process(a);
    if (rc == MSTLS_E_CLOSED)
      break;
    if (rc != 0) {
      printf("FAIL t=%.3f association: %s\n", mh_now(), mstls_strerror(rc));
      failed = 1;
      break;
    }
    s = mstls_sctp_assoc_get_session(a);
    if (s != NULL && mstls_session_handshake(s) == 0) {
      for (i = 0; i < o->streams; i++) {
        mh_echo *e = &echo[i];
        for (;;) {
          long n;
          if (e->poff < e->plen) {
            n = mstls_stream_send(s, (uint16_t)i, e->pend + e->poff,
                                  e->plen - e->poff);
            if (n == MSTLS_E_AGAIN)
              break;
            if (n < 0) {
              printf("FAIL t=%.3f stream %u echo: %s%s\n", mh_now(), i,
                     mstls_strerror((int)n), mh_tls_why(s, i));
              failed = 1;
              break;
            }
            e->poff += (size_t)n;
            continue;
          }
          if (e->closed)
            break;
          n = mstls_stream_recv(s, (uint16_t)i, e->pend, sizeof(e->pend));
          if (n == MSTLS_E_AGAIN)
            break;
          if (n == 0) {
            e->closed = 1;
            closed++;
            break;
          }
          if (n < 0) {
            printf("FAIL t=%.3f stream %u recv: %s%s\n", mh_now(), i,
                   mstls_strerror((int)n), mh_tls_why(s, i));
            failed = 1;
            break;
          }
          e->plen = (size_t)n;
          e->poff = 0;
          e->bytes += (uint64_t)n;
        }
      }
      if (failed)
        break;
      if (closed == o->streams)
        done = 1; /* every stream closed by close_notify */
    }
    if (!done)
      mh_wait(a, NULL, 10);
  }
  if (!done && !failed && rc != MSTLS_E_CLOSED) {
    printf("FAIL the client did not close within %.0f s\n", o->timeout);
    failed = 1;
  }
  mh_print_paths(a, "end");
  for (i = 0; i < o->streams; i++) {
    total += echo[i].bytes;
    if (mstls_sctp_assoc_get_session(a) != NULL &&
        mstls_stream_get_error(mstls_sctp_assoc_get_session(a), (uint16_t)i) !=
            0) {
      printf("FAIL stream %u: %s%s\n", i,
             mstls_strerror(mstls_stream_get_error(
                 mstls_sctp_assoc_get_session(a), (uint16_t)i)),
             mh_tls_why(mstls_sctp_assoc_get_session(a), i));
      failed = 1;
    }
  }
  printf("summary: server echoed %llu bytes on %u streams, %u path events: "
         "%s\n",
         (unsigned long long)total, o->streams, st.path_events,
         failed ? "FAILED" : "PASSED");
  mstls_sctp_assoc_del(a);
  mstls_sctp_listener_del(l);
  mstls_credentials_del(cred);
  return failed ? 1 : 0;
}

static int mh_usage(void) {
  fprintf(stderr, "usage: mh_peer server|client --port P (--listen|--connect) "
                  "A1[,A2...] [--local L1,L2] [--backend kernel|usrsctp] "
                  "[--udp-port N] [--remote-udp-port N] [--streams N] "
                  "[--max-retrans N] [--rto-max MS] [--heartbeat MS] "
                  "[--duration S] [--timeout S] [--cut-at S --cut CMD] "
                  "[--restore CMD --expect-down ADDR [--cut-deadline S]] "
                  "[--ca-out FILE] [--ca FILE]\n");
  return 2;
}

int main(int argc, char **argv) {
  mh_opts o;
  unsigned long u;
  int i, rc;

  memset(&o, 0, sizeof(o));
  mstls_set_log(mh_on_log, MSTLS_LOG_INFO, NULL);
  o.backend = MSTLS_SCTP_BACKEND_KERNEL;
  o.streams = 8;
  o.duration = 15;
  o.timeout = 120;
  o.cut_deadline = 90;
  if (argc < 2)
    return mh_usage();
  if (strcmp(argv[1], "server") == 0)
    o.server = 1;
  else if (strcmp(argv[1], "client") != 0)
    return mh_usage();
  for (i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "--listen") == 0 || strcmp(k, "--connect") == 0)
      o.addrs = v;
    else if (strcmp(k, "--local") == 0)
      o.local = v;
    else if (strcmp(k, "--port") == 0) {
      if (peer_arg_uint(k, v, 1, 65535, &u) != 0)
        return 2;
      o.port = (uint16_t)u;
    } else if (strcmp(k, "--backend") == 0)
      o.backend = strcmp(v, "usrsctp") == 0 ? MSTLS_SCTP_BACKEND_USRSCTP
                                            : MSTLS_SCTP_BACKEND_KERNEL;
    else if (strcmp(k, "--udp-port") == 0) {
      if (peer_arg_uint(k, v, 0, 65535, &u) != 0)
        return 2;
      o.udp_port = (uint16_t)u;
    } else if (strcmp(k, "--remote-udp-port") == 0) {
      if (peer_arg_uint(k, v, 0, 65535, &u) != 0)
        return 2;
      o.remote_udp_port = (uint16_t)u;
    } else if (strcmp(k, "--streams") == 0) {
      if (peer_arg_uint(k, v, 1, MH_MAX_STREAMS, &u) != 0)
        return 2;
      o.streams = (unsigned)u;
    } else if (strcmp(k, "--max-retrans") == 0) {
      if (peer_arg_uint(k, v, 0, 65535, &u) != 0)
        return 2;
      o.max_retrans = (unsigned)u;
    } else if (strcmp(k, "--rto-max") == 0) {
      if (peer_arg_uint(k, v, 0, 3600000, &u) != 0)
        return 2;
      o.rto_max_ms = (unsigned)u;
    } else if (strcmp(k, "--heartbeat") == 0) {
      if (peer_arg_uint(k, v, 0, 3600000, &u) != 0)
        return 2;
      o.hb_ms = (unsigned)u;
    } else if (strcmp(k, "--duration") == 0) {
      if (peer_arg_seconds(k, v, 86400, &o.duration) != 0)
        return 2;
    } else if (strcmp(k, "--timeout") == 0) {
      if (peer_arg_seconds(k, v, 86400, &o.timeout) != 0)
        return 2;
    } else if (strcmp(k, "--cut-at") == 0) {
      if (peer_arg_seconds(k, v, 86400, &o.cut_at) != 0)
        return 2;
    } else if (strcmp(k, "--cut") == 0)
      o.cut = v;
    else if (strcmp(k, "--cut-deadline") == 0) {
      if (peer_arg_seconds(k, v, 86400, &o.cut_deadline) != 0)
        return 2;
    } else if (strcmp(k, "--restore") == 0)
      o.restore = v;
    else if (strcmp(k, "--expect-down") == 0)
      o.expect_down = v;
    else if (strcmp(k, "--ca-out") == 0)
      o.ca_out = v;
    else if (strcmp(k, "--ca") == 0)
      o.ca = v;
    else
      return mh_usage();
  }
  if (i != argc || o.addrs == NULL || o.port == 0 || o.streams == 0 ||
      o.streams > MH_MAX_STREAMS ||
      (o.restore != NULL && (o.cut == NULL || o.expect_down == NULL)))
    return mh_usage();
  mh_t0 = mh_now();
  if (o.backend == MSTLS_SCTP_BACKEND_USRSCTP) {
    rc = mstls_sctp_usrsctp_init(o.udp_port, 0);
    if (rc != 0) {
      printf("FAIL usrsctp on UDP port %u: %s\n", (unsigned)o.udp_port,
             mstls_strerror(rc));
      return 1;
    }
  } else if (!mstls_sctp_kernel_available()) {
    printf("no kernel SCTP here\n");
    return 77;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  rc = o.server ? mh_server(&o) : mh_client(&o);
  if (o.backend == MSTLS_SCTP_BACKEND_USRSCTP)
    (void)mstls_sctp_usrsctp_release();
  return rc;
}
