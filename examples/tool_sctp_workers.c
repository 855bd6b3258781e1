/* mstls sctp-server --workers N: N processes, each running the server's
 * event loop (tool_sctp_serve.c) on a listener of its own bound with
 * SO_REUSEPORT to the same address, so that the kernel spreads new
 * associations over them. Kernel SCTP only: usrsctp is one SCTP stack per
 * process and cannot share its port (the option parser refuses it).
 *
 * Processes rather than threads: the loop keeps its state (the wakeup
 * pipe, the server the event callback reports to) in statics, one per
 * process. The parent loads everything first (credentials, the fleet's
 * ticket key, the key-log file), so that a bad file is said once and every
 * worker resumes the sessions of the others; then it forks the workers
 * and only supervises:
 *  - each worker reports over a pipe of its own: listening, its counters
 *    on SIGUSR1, its counters at exit (tsctp_report, one write each);
 *  - the parent says "listening" once every worker listens, forwards
 *    SIGINT, SIGTERM, SIGUSR1 and SIGHUP to the workers, prints the sum
 *    of their counters and a line per worker, and stops them all when one
 *    ends (--once, an error), as dtls-server's threads do. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/wait.h>

#include "tool_sctp.h"

typedef struct twrk_worker {
  pid_t pid;        /* 0: not started */
  int fd;           /* read end of its report pipe, -1 once at its end */
  int listening;    /* said TSCTP_REPORT_LISTENING */
  int answered;     /* sent its counters since the last SIGUSR1 */
  tsctp_counters n; /* its latest counters */
} twrk_worker;

/* The parent's signals: the handler stores a flag and writes into a pipe
 * that the supervising poll() watches. */
static int twrk_sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t twrk_sig_stop, twrk_sig_stats, twrk_sig_reload;

static void twrk_on_signal(int sig) {
  static const char b = 1;
  int saved = errno;

  if (sig == SIGUSR1)
    twrk_sig_stats = 1;
  else if (sig == SIGHUP)
    twrk_sig_reload = 1;
  else
    twrk_sig_stop = 1;
  (void)!write(twrk_sig_pipe[1], &b, 1);
  errno = saved;
}

static void twrk_signals(void) {
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = twrk_on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

static void twrk_kill(const twrk_worker *w, uint32_t n, int sig) {
  uint32_t i;

  for (i = 0; i < n; i++)
    if (w[i].pid > 0 && w[i].fd >= 0)
      (void)kill(w[i].pid, sig);
}

static void twrk_add(tsctp_counters *sum, const tsctp_counters *x) {
  sum->accepted += x->accepted;
  sum->refused += x->refused;
  sum->hs_timeouts += x->hs_timeouts;
  sum->stalls += x->stalls;
  sum->backlog_full += x->backlog_full;
  sum->completed += x->completed;
  sum->failed += x->failed;
  sum->bytes_in += x->bytes_in;
  sum->bytes_out += x->bytes_out;
  sum->live += x->live;
}

/* The sum of the workers' counters, then each worker's. */
static void twrk_print(const twrk_worker *w, uint32_t n, const char *when) {
  tsctp_counters sum;
  char label[64];
  uint32_t i;

  memset(&sum, 0, sizeof(sum));
  for (i = 0; i < n; i++)
    twrk_add(&sum, &w[i].n);
  tool_sctp_print_counters(&sum, when);
  for (i = 0; i < n; i++) {
    snprintf(label, sizeof(label), "%s, worker %u", when, i + 1);
    tool_sctp_print_counters(&w[i].n, label);
  }
}

/* In the child after fork(): the worker's own loop. Returns its exit
 * code to the caller, which frees what it holds and returns it from
 * main(), so the worker ends like any run of the tool. */
static int twrk_child(const tsctp_opts *o, mstls_credentials *cred,
                      twrk_worker *w, uint32_t index, int report_fd) {
  uint32_t i;
  int rv;

  /* A worker whose parent is gone stops too. */
  (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
  for (i = 0; i < index; i++)
    close(w[i].fd); /* the parent's ends of the earlier workers' pipes */
  close(twrk_sig_pipe[0]);
  close(twrk_sig_pipe[1]);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGUSR1, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  signal(SIGPIPE, SIG_IGN); /* a report to a parent that is gone */
  free(w);
  if (getppid() == 1) /* the parent died before prctl() */
    return 1;
  /* The signals, blocked since before the fork, stay blocked until the
   * loop has put its handlers in place (tsrv_setup_wakeup). */
  rv = tool_sctp_serve_worker(o, cred, index + 1, report_fd);
  close(report_fd);
  return rv;
}

/* Read what worker @p i reported. 0, or 1 at its end (EOF). */
static int twrk_read(twrk_worker *w, uint32_t i, uint32_t *nlistening) {
  tsctp_report r;
  ssize_t got = read(w[i].fd, &r, sizeof(r));

  if (got < 0 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (got != (ssize_t)sizeof(r)) {
    close(w[i].fd);
    w[i].fd = -1;
    return 1;
  }
  switch (r.kind) {
  case TSCTP_REPORT_LISTENING:
    if (!w[i].listening)
      (*nlistening)++;
    w[i].listening = 1;
    break;
  case TSCTP_REPORT_SIGUSR1:
    w[i].n = r.n;
    w[i].answered = 1;
    break;
  case TSCTP_REPORT_EXIT:
    w[i].n = r.n;
    break;
  default:
    break;
  }
  return 0;
}

int tool_sctp_workers(const tsctp_opts *o, mstls_credentials *cred,
                      const char *fleet_id) {
  uint32_t n = o->workers, i, nlistening = 0, nlive = 0;
  twrk_worker *w = calloc(n, sizeof(*w));
  struct pollfd *pfd = calloc((size_t)n + 1, sizeof(*pfd));
  sigset_t block, old;
  int code = 0, stopping = 0, said = 0, stats_pending = 0;

  if (w == NULL || pfd == NULL || pipe2(twrk_sig_pipe, O_CLOEXEC) < 0) {
    fprintf(stderr, "mstls: %s\n", strerror(errno));
    free(w);
    free(pfd);
    return 1;
  }
  for (i = 0; i < n; i++)
    w[i].fd = -1;
  (void)fcntl(twrk_sig_pipe[1], F_SETFL, O_NONBLOCK);
  /* Signals wait until the parent's handlers are in and each worker has
   * put its own. */
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGUSR1);
  sigaddset(&block, SIGHUP);
  sigprocmask(SIG_BLOCK, &block, &old);
  twrk_sig_stop = twrk_sig_stats = twrk_sig_reload = 0;
  twrk_signals();
  fflush(NULL); /* nothing buffered may be written twice */
  for (i = 0; i < n; i++) {
    int p[2];
    pid_t pid;
    if (pipe2(p, O_CLOEXEC) < 0) {
      fprintf(stderr, "mstls: pipe: %s\n", strerror(errno));
      code = 1;
      break;
    }
    pid = fork();
    if (pid == 0) {
      int rv;
      close(p[0]);
      free(pfd);
      rv = twrk_child(o, cred, w, i, p[1]);
      return rv;
    }
    close(p[1]);
    if (pid < 0) {
      fprintf(stderr, "mstls: cannot start worker %u: %s\n", i + 1,
              strerror(errno));
      close(p[0]);
      code = 1;
      break;
    }
    w[i].pid = pid;
    w[i].fd = p[0];
    nlive++;
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (code != 0) {
    stopping = 1;
    twrk_kill(w, n, SIGTERM);
  }
  while (nlive > 0) {
    nfds_t np = 0;
    pfd[np].fd = twrk_sig_pipe[0];
    pfd[np].events = POLLIN;
    pfd[np].revents = 0;
    np++;
    for (i = 0; i < n; i++) {
      if (w[i].fd < 0)
        continue;
      pfd[np].fd = w[i].fd;
      pfd[np].events = POLLIN;
      pfd[np].revents = 0;
      np++;
    }
    if (poll(pfd, np, -1) < 0 && errno != EINTR) {
      fprintf(stderr, "mstls: poll: %s\n", strerror(errno));
      code = 1;
      twrk_kill(w, n, SIGTERM);
      break;
    }
    if (pfd[0].revents != 0) {
      char b[64];
      (void)!read(twrk_sig_pipe[0], b, sizeof(b));
    }
    if (twrk_sig_stop && !stopping) {
      stopping = 1;
      twrk_kill(w, n, SIGTERM);
    }
    if (twrk_sig_stats) {
      twrk_sig_stats = 0;
      for (i = 0; i < n; i++)
        w[i].answered = 0;
      stats_pending = 1;
      twrk_kill(w, n, SIGUSR1);
    }
    if (twrk_sig_reload) {
      twrk_sig_reload = 0;
      twrk_kill(w, n, SIGHUP);
    }
    for (i = 0; i < n; i++) {
      short re = 0;
      nfds_t k;
      for (k = 1; k < np; k++)
        if (pfd[k].fd == w[i].fd && w[i].fd >= 0)
          re = pfd[k].revents;
      if (re == 0 || twrk_read(w, i, &nlistening) == 0)
        continue;
      /* A worker ended: --once, or it failed (it said why). */
      nlive--;
      if (!stopping) {
        stopping = 1;
        twrk_kill(w, n, SIGTERM);
      }
    }
    if (!said && nlistening == n) {
      said = 1;
      printf("listening on %s:%u (kernel SCTP, profile %s, %u workers, "
             "fleet %s)\n",
             o->host ? o->host : "*", o->port,
             o->tune.profile == TSCTP_PROFILE_FAILOVER ? "failover" : "default",
             n, fleet_id);
      fflush(stdout);
    }
    if (stats_pending) {
      uint32_t waiting = 0;
      for (i = 0; i < n; i++)
        waiting += w[i].fd >= 0 && !w[i].answered;
      if (waiting == 0) {
        stats_pending = 0;
        twrk_print(w, n, "SIGUSR1");
      }
    }
  }
  for (i = 0; i < n; i++) {
    int st;
    if (w[i].pid <= 0)
      continue;
    while (waitpid(w[i].pid, &st, 0) < 0 && errno == EINTR)
      ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      if (WIFSIGNALED(st))
        fprintf(stderr, "mstls: worker %u: killed by signal %d\n", i + 1,
                WTERMSIG(st));
      code = 1;
    }
    if (w[i].fd >= 0)
      close(w[i].fd);
  }
  if (said)
    twrk_print(w, n, "exit");
  close(twrk_sig_pipe[0]);
  close(twrk_sig_pipe[1]);
  twrk_sig_pipe[0] = twrk_sig_pipe[1] = -1;
  free(w);
  free(pfd);
  return code;
}
