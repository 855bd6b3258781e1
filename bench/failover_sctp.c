/* failover_sctp: how long a TLS-over-SCTP client takes to learn that its
 * peer died, against the bound its settings promise.
 *
 * Each trial starts a server process (this program with --serve: listen,
 * accept, echo every message) on usrsctp over UDP on loopback, connects a
 * client in this process with four streams, and kills the server with
 * SIGKILL at a random moment: during the association and TLS set-up, or
 * while the client exchanges 512-byte messages with it. A dead process
 * answers nothing, so the client learns of it only from its own
 * retransmission and heartbeat timers. The client runs in one of two
 * modes: blocking (mstls_sctp_connect, mstls_stream_send_blocking and
 * mstls_stream_recv_blocking) or an event loop (non-blocking association,
 * usrsctp's ready callback on an eventfd, poll()). Some trials connect to
 * a port where nothing listens.
 *
 * Printed per case: trials, how each ended (MSTLS_E_PEER_GONE expected),
 * detection time after the kill (min, median, max) and max / bound, where
 * the bound is what the settings promise: with data outstanding (during a
 * transfer, where the client always has a message in flight),
 * (Association.Max.Retrans + 1) retransmission timeouts of at most
 * RTO.Max; for a client that may have had nothing outstanding (during the
 * set-up it often waits for the server's flight), the heartbeat in flight
 * at the kill and Association.Max.Retrans + 1 more, each sent one interval
 * plus one RTO (jittered by up to half an RTO) after the last; for an
 * unanswered connect, Max.Init.Retransmits + 1 timeouts of at most
 * max_init_timeo. With the failover profile it also counts the kills
 * reported within 3 s, what the profile promises on a short path. A
 * client still blocked 60 s after the kill is counted as hung (none may
 * be).
 *
 * Kernel SCTP (--backend kernel, in the QEMU guest): a killed process's
 * kernel would still answer or abort the association, so each trial runs
 * --cut (e.g. "ip link set lo down": the peer host vanishes) just before
 * the kill and --restore once the client has seen the failure.
 *
 * Usage: failover_sctp [--trials N] [--profile failover|default]
 *        [--seed S] [--backend usrsctp|kernel --cut CMD --restore CMD]
 *        (default 100 trials, failover profile, usrsctp)
 * Exit status 0 when every trial ended with MSTLS_E_PEER_GONE. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mstls/sctp.h>

#include "certs.h"

#define FO_STREAMS 4
#define FO_MSG 512
#define FO_HANG_MS 60000

extern char **environ;

static uint64_t fo_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A UDP port that is free now (the kernel's choice of an ephemeral one),
 * for a usrsctp stack to bind: no fixed port to collide with. */
static uint16_t fo_free_port(void) {
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  uint16_t port = 0;

  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
      getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
    port = ntohs(sin.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

/* Kernel SCTP (in the QEMU guest) or usrsctp. */
static int fo_kernel;

/* What the failover profile promises on a short path (its RTO at RTO.Min),
 * whether data was outstanding or not. */
#define FO_TARGET_MS 3000
/* Kernel SCTP: a killed process's kernel still answers (or aborts), so a
 * trial cuts the network with this command before the kill and restores
 * it after the client has seen the failure. */
static const char *fo_cut, *fo_restore;

static void fo_config(mstls_sctp_config *cfg, int failover, int blocking,
                      uint16_t port) {
  mstls_sctp_config_default(cfg);
  if (failover)
    mstls_sctp_config_failover(cfg);
  cfg->backend =
      fo_kernel ? MSTLS_SCTP_BACKEND_KERNEL : MSTLS_SCTP_BACKEND_USRSCTP;
  cfg->streams_in = FO_STREAMS;
  cfg->streams_out = FO_STREAMS;
  cfg->blocking = blocking;
  cfg->remote_udp_port = port;
}

/* The server: echo every message on its stream until the association
 * ends. Prints "ready" once it listens. */
static int fo_serve(uint16_t port, int failover) {
  mstls_sctp_config cfg;
  mstls_sctp_listener *l = NULL;
  mstls_sctp_assoc *a = NULL;
  mstls_credentials *cred = NULL;
  mstls_settings st;
  static uint8_t buf[1 << 16];
  /* The client's test PKI, handed over in the environment. */
  const char *cert = getenv("FO_CERT"), *key = getenv("FO_KEY");

  if (cert == NULL || key == NULL || mstls_credentials_new(&cred, NULL) != 0 ||
      mstls_credentials_set_key_mem(cred, cert, strlen(cert), key,
                                    strlen(key)) != 0 ||
      (!fo_kernel && mstls_sctp_usrsctp_init(port, 0) != 0))
    return 1;
  fo_config(&cfg, failover, 1, 0);
  if (mstls_sctp_listen(&l, &cfg, "127.0.0.1", port) != 0)
    return 1;
  printf("ready\n");
  fflush(stdout);
  mstls_settings_default(&st);
  if (mstls_sctp_accept(l, &a, &st, NULL, cred, NULL) == 0) {
    mstls_session *s = mstls_sctp_assoc_get_session(a);
    for (;;) {
      uint16_t k;
      long n = mstls_session_recv_any_blocking(s, &k, buf, sizeof(buf));
      if (n <= 0 || mstls_stream_send_blocking(s, k, buf, (size_t)n) < 0)
        break;
    }
  }
  mstls_sctp_assoc_del(a);
  mstls_sctp_listener_del(l);
  mstls_credentials_del(cred);
  return 0;
}

/* One trial ---------------------------------------------------------------- */

enum { FO_BLOCKING, FO_LOOP };
enum { FO_KILL_HANDSHAKE, FO_KILL_TRANSFER, FO_NO_LISTENER };

typedef struct fo_trial {
  int mode;
  int kill_at;
  uint16_t port;
  int failover;
  mstls_credentials *cred;
  /* shared between the client thread and the killer */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int up;     /* handshake done, exchanging data */
  int ended;  /* the client saw an error */
  int result; /* that error */
  uint64_t t_err;
  long exchanged;
} fo_trial;

static void fo_mark_up(fo_trial *t) {
  pthread_mutex_lock(&t->lock);
  t->up = 1;
  pthread_cond_broadcast(&t->cond);
  pthread_mutex_unlock(&t->lock);
}

static void fo_end(fo_trial *t, int rc) {
  pthread_mutex_lock(&t->lock);
  t->ended = 1;
  t->result = rc;
  t->t_err = fo_now_ms();
  pthread_cond_broadcast(&t->cond);
  pthread_mutex_unlock(&t->lock);
}

static void fo_settings(mstls_settings *st) {
  mstls_settings_default(st);
  st->server_name = "server.test";
  st->policy = MSTLS_POLICY_RESUME;
}

static void fo_client_blocking(fo_trial *t) {
  mstls_sctp_config cfg;
  mstls_sctp_assoc *a = NULL;
  mstls_settings st;
  uint8_t buf[FO_MSG];
  int rc;

  fo_config(&cfg, t->failover, 1, t->port);
  fo_settings(&st);
  memset(buf, 'x', sizeof(buf));
  rc = mstls_sctp_connect(&a, &cfg, "127.0.0.1", t->port, &st, NULL, t->cred,
                          NULL);
  if (rc == 0) {
    mstls_session *s = mstls_sctp_assoc_get_session(a);
    uint16_t k = 0;
    fo_mark_up(t);
    for (;;) {
      long n = mstls_stream_send_blocking(s, k, buf, sizeof(buf));
      if (n < 0) {
        rc = (int)n;
        break;
      }
      n = mstls_stream_recv_blocking(s, k, buf, sizeof(buf));
      if (n <= 0) {
        rc = n == 0 ? MSTLS_E_CLOSED : (int)n;
        break;
      }
      t->exchanged++;
      k = (uint16_t)((k + 1) % FO_STREAMS);
    }
  }
  /* Report the association's own error when it has one. */
  if (a != NULL && mstls_sctp_assoc_get_error(a) != 0)
    rc = mstls_sctp_assoc_get_error(a);
  fo_end(t, rc);
  mstls_sctp_assoc_del(a);
}

static void fo_ready(mstls_sctp_assoc *a, void *ud) {
  uint64_t one = 1;
  (void)a;
  if (write(*(int *)ud, &one, sizeof(one)) < 0) {
    /* the counter is saturated: the loop wakes anyway */
  }
}

static void fo_client_loop(fo_trial *t) {
  mstls_sctp_config cfg;
  mstls_sctp_assoc *a = NULL;
  mstls_settings st;
  uint8_t buf[FO_MSG];
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int rc, waiting = 0, is_up = 0;
  uint16_t k = 0;

  fo_config(&cfg, t->failover, 0, t->port);
  cfg.ready = fo_ready;
  fo_settings(&st);
  memset(buf, 'x', sizeof(buf));
  /* The ready callback (usrsctp) gets the association's user data. */
  rc = mstls_sctp_connect(&a, &cfg, "127.0.0.1", t->port, &st, NULL, t->cred,
                          &efd);
  while (rc == 0) {
    struct pollfd pfd = {fo_kernel ? mstls_sctp_assoc_get_fd(a) : efd, POLLIN,
                         0};
    mstls_session *s;
    uint64_t v;
    int timeout = 1000;

    s = mstls_sctp_assoc_get_session(a);
    if (s != NULL) {
      mstls_tstamp exp = mstls_session_get_expiry(s);
      if (exp != MSTLS_TSTAMP_NEVER) {
        mstls_tstamp now = (mstls_tstamp)fo_now_ms() * MSTLS_MILLISECONDS;
        timeout = exp <= now ? 0 : (int)((exp - now) / MSTLS_MILLISECONDS) + 1;
        if (timeout > 1000)
          timeout = 1000;
      }
    }
    (void)poll(&pfd, 1, timeout);
    if (!fo_kernel && read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
      break;
    rc = mstls_sctp_assoc_process(a);
    if (rc != 0)
      break;
    s = mstls_sctp_assoc_get_session(a);
    if (s == NULL)
      continue;
    (void)mstls_session_handle_expiry(s, (mstls_tstamp)fo_now_ms() *
                                             MSTLS_MILLISECONDS);
    if (!is_up) {
      rc = mstls_session_handshake(s);
      if (rc == MSTLS_E_AGAIN) {
        rc = 0;
        continue;
      }
      if (rc != 0)
        break;
      is_up = 1;
      fo_mark_up(t);
    }
    for (;;) {
      uint16_t from;
      long n = mstls_session_recv_any(s, &from, buf, sizeof(buf));
      if (n == MSTLS_E_AGAIN)
        break;
      if (n <= 0) {
        rc = n == 0 ? MSTLS_E_CLOSED : (int)n;
        break;
      }
      t->exchanged++;
      waiting = 0;
      k = (uint16_t)((k + 1) % FO_STREAMS);
    }
    /* The next message as soon as the last one came back. */
    if (rc == 0 && !waiting) {
      long n = mstls_stream_send(s, k, buf, sizeof(buf));
      if (n < 0 && n != MSTLS_E_AGAIN) {
        rc = (int)n;
        break;
      }
      waiting = n > 0;
    }
  }
  if (a != NULL && mstls_sctp_assoc_get_error(a) != 0)
    rc = mstls_sctp_assoc_get_error(a);
  fo_end(t, rc);
  mstls_sctp_assoc_del(a);
  close(efd);
}

static void *fo_client(void *p) {
  fo_trial *t = p;
  if (t->mode == FO_BLOCKING)
    fo_client_blocking(t);
  else
    fo_client_loop(t);
  return NULL;
}

/* Start the server process; @return its pid, or -1. */
static pid_t fo_spawn(char *self, uint16_t port, int failover) {
  static char serve[] = "--serve", fo[] = "failover", def[] = "default",
              ker[] = "kernel", usr[] = "usrsctp";
  char portbuf[16];
  char *argv[] = {
      self, serve, portbuf, failover ? fo : def, fo_kernel ? ker : usr, NULL};
  posix_spawn_file_actions_t fa;
  int pfd[2];
  pid_t pid;
  char line[16] = {0};
  FILE *f;

  snprintf(portbuf, sizeof(portbuf), "%u", port);
  if (pipe(pfd) != 0)
    return -1;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
  posix_spawn_file_actions_addclose(&fa, pfd[0]);
  if (posix_spawn(&pid, self, &fa, NULL, argv, environ) != 0)
    pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  f = fdopen(pfd[0], "r");
  if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
      strcmp(line, "ready\n") != 0) {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
    }
    pid = -1;
  }
  if (f != NULL)
    fclose(f);
  else
    close(pfd[0]);
  return pid;
}

static uint64_t fo_rng = 0x9E3779B97F4A7C15ULL;
static uint32_t fo_rand(uint32_t n) {
  fo_rng ^= fo_rng << 13;
  fo_rng ^= fo_rng >> 7;
  fo_rng ^= fo_rng << 17;
  return (uint32_t)(fo_rng % n);
}

static void fo_sleep_ms(uint32_t ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Run one trial. @return detection time in ms, or -1 if the client hung
 * (it is left blocked: the process exits with failure at the end). */
static long fo_run(fo_trial *t, char *self) {
  pthread_t th;
  pid_t pid = -1;
  uint64_t t_kill;
  struct timespec until;
  int hung = 0;

  pthread_mutex_init(&t->lock, NULL);
  pthread_cond_init(&t->cond, NULL);
  if (t->kill_at != FO_NO_LISTENER) {
    pid = fo_spawn(self, t->port, t->failover);
    if (pid < 0) {
      fprintf(stderr, "failover_sctp: server on port %u did not start\n",
              t->port);
      exit(2);
    }
  }
  t_kill = fo_now_ms();
  pthread_create(&th, NULL, fo_client, t);
  if (t->kill_at == FO_KILL_HANDSHAKE) {
    fo_sleep_ms(fo_rand(30)); /* within the set-up on loopback */
  } else if (t->kill_at == FO_KILL_TRANSFER) {
    pthread_mutex_lock(&t->lock);
    while (!t->up && !t->ended)
      pthread_cond_wait(&t->cond, &t->lock);
    pthread_mutex_unlock(&t->lock);
    fo_sleep_ms(1 + fo_rand(200));
  }
  if (pid > 0) {
    if (fo_cut != NULL && system(fo_cut) != 0) {
      fprintf(stderr, "failover_sctp: %s failed\n", fo_cut);
      exit(2);
    }
    t_kill = fo_now_ms();
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
  }
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += FO_HANG_MS / 1000;
  pthread_mutex_lock(&t->lock);
  while (!t->ended && !hung)
    hung = pthread_cond_timedwait(&t->cond, &t->lock, &until) == ETIMEDOUT;
  pthread_mutex_unlock(&t->lock);
  if (pid > 0 && fo_restore != NULL && system(fo_restore) != 0) {
    fprintf(stderr, "failover_sctp: %s failed\n", fo_restore);
    exit(2);
  }
  if (hung && !t->ended) {
    pthread_detach(th);
    return -1;
  }
  pthread_join(th, NULL);
  pthread_cond_destroy(&t->cond);
  pthread_mutex_destroy(&t->lock);
  return t->t_err >= t_kill ? (long)(t->t_err - t_kill) : 0;
}

/* Results ------------------------------------------------------------------ */

#define FO_CASES 5
static const char *const fo_case_name[FO_CASES] = {
    "blocking, killed during set-up", "blocking, killed during transfer",
    "event loop, killed during set-up", "event loop, killed during transfer",
    "connect, no listener"};

typedef struct fo_case {
  long ms[1024];
  int n, peer_gone, other, hung;
  int other_code;
} fo_case;

static int fo_cmp(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  static fo_case cases[FO_CASES];
  static char self[] = "/proc/self/exe";
  mstls_sctp_config prof;
  int trials = 100, failover = 1, i, bad = 0;
  uint32_t bound_data, bound_idle, bound_init;

  if (argc == 5 && strcmp(argv[1], "--serve") == 0) {
    fo_kernel = strcmp(argv[4], "kernel") == 0;
    return fo_serve((uint16_t)atoi(argv[2]), strcmp(argv[3], "failover") == 0);
  }
  for (i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--trials") == 0) {
      trials = atoi(argv[i + 1]);
    } else if (strcmp(argv[i], "--profile") == 0) {
      failover = strcmp(argv[i + 1], "default") != 0;
    } else if (strcmp(argv[i], "--backend") == 0) {
      fo_kernel = strcmp(argv[i + 1], "kernel") == 0;
    } else if (strcmp(argv[i], "--cut") == 0) {
      fo_cut = argv[i + 1];
    } else if (strcmp(argv[i], "--restore") == 0) {
      fo_restore = argv[i + 1];
    } else if (strcmp(argv[i], "--seed") == 0) {
      fo_rng = strtoull(argv[i + 1], NULL, 0) | 1u;
    } else {
      break;
    }
  }
  if (i < argc || trials < 1 || trials > 1000) {
    fprintf(stderr, "usage: failover_sctp [--trials 1..1000] "
                    "[--profile failover|default] [--seed S]\n"
                    "       [--backend usrsctp|kernel --cut CMD "
                    "--restore CMD]\n");
    return 2;
  }
  if (fo_kernel && (fo_cut == NULL || fo_restore == NULL)) {
    fprintf(stderr, "failover_sctp: kernel SCTP needs --cut and --restore "
                    "(a killed process's kernel still answers)\n");
    return 2;
  }
  if (fo_kernel && !mstls_sctp_kernel_available()) {
    printf("skip: the kernel has no SCTP (EPROTONOSUPPORT); run in the VM\n");
    return 77;
  }
  signal(SIGPIPE, SIG_IGN);
  if (test_pki_get() == NULL ||
      setenv("FO_CERT", test_pki_get()->server_cert_pem, 1) != 0 ||
      setenv("FO_KEY", test_pki_get()->server_key_pem, 1) != 0) {
    fprintf(stderr, "failover_sctp: test certificates\n");
    return 2;
  }
  if (!fo_kernel &&
      mstls_sctp_usrsctp_init(0, MSTLS_SCTP_USRSCTP_ANY_PORT) != 0) {
    fprintf(stderr, "failover_sctp: usrsctp on an ephemeral UDP port\n");
    return 2;
  }
  fo_config(&prof, failover, 1, 0);
  if (!failover) {
    /* RFC 9260 §16 defaults, which usrsctp uses. */
    prof.rto_max_ms = 60000;
    prof.assoc_max_retrans = 10;
    prof.heartbeat_interval_ms = 30000;
    prof.init_max_attempts = 8;
    prof.init_max_timeout_ms = 60000;
  }
  bound_data = (prof.assoc_max_retrans + 1u) * prof.rto_max_ms;
  bound_idle = (prof.assoc_max_retrans + 2u) *
               (prof.heartbeat_interval_ms + prof.rto_max_ms * 3u / 2u);
  bound_init =
      (prof.init_max_attempts + 1u) * (uint32_t)prof.init_max_timeout_ms;

  for (i = 0; i < trials; i++) {
    fo_trial t;
    fo_case *c;
    long ms;
    int ci;

    memset(&t, 0, sizeof(t));
    t.failover = failover;
    t.cred = test_client_creds(NULL, NULL, 0);
    t.port = fo_free_port();
    if (i % 10 == 9) {
      t.kill_at = FO_NO_LISTENER;
      t.mode = i % 20 == 19 ? FO_LOOP : FO_BLOCKING;
      ci = 4;
    } else {
      t.mode = (int)fo_rand(2);
      t.kill_at = (int)fo_rand(2);
      ci = t.mode * 2 + t.kill_at;
    }
    ms = fo_run(&t, self);
    c = &cases[ci];
    if (ms < 0) {
      c->hung++;
      bad++;
      fprintf(stderr, "trial %d (%s): still blocked %d s after the kill\n", i,
              fo_case_name[ci], FO_HANG_MS / 1000);
      continue; /* the credentials stay with the blocked client */
    }
    mstls_credentials_del(t.cred);
    if (t.result == MSTLS_E_PEER_GONE) {
      c->peer_gone++;
      c->ms[c->n++] = ms;
    } else {
      c->other++;
      c->other_code = t.result;
      bad++;
      fprintf(stderr, "trial %d (%s): ended with %s after %ld ms\n", i,
              fo_case_name[ci], mstls_strerror(t.result), ms);
    }
  }

  printf("failover_sctp: %d trials, %s profile (RTO %u/%u/%u ms, "
         "association retransmissions %u, heartbeat %u ms, INIT %u x %u "
         "ms)\n",
         trials, failover ? "failover" : "default", prof.rto_initial_ms,
         prof.rto_min_ms, prof.rto_max_ms, prof.assoc_max_retrans,
         prof.heartbeat_interval_ms, prof.init_max_attempts,
         prof.init_max_timeout_ms);
  printf("%-36s %6s %9s %5s %5s %8s %8s %8s %8s %9s\n", "case", "trials",
         "peer_gone", "other", "hung", "min_ms", "med_ms", "max_ms", "bound_ms",
         "max/bound");
  for (i = 0; i < FO_CASES; i++) {
    fo_case *c = &cases[i];
    uint32_t bound = i == 4 ? bound_init : i % 2 == 1 ? bound_data : bound_idle;
    int total = c->peer_gone + c->other + c->hung;
    if (total == 0)
      continue;
    if (c->n > 0) {
      qsort(c->ms, (size_t)c->n, sizeof(c->ms[0]), fo_cmp);
      printf("%-36s %6d %9d %5d %5d %8ld %8ld %8ld %8u %9.2f\n",
             fo_case_name[i], total, c->peer_gone, c->other, c->hung, c->ms[0],
             c->ms[c->n / 2], c->ms[c->n - 1], bound,
             (double)c->ms[c->n - 1] / bound);
    } else {
      printf("%-36s %6d %9d %5d %5d %8s %8s %8s %8u %9s\n", fo_case_name[i],
             total, c->peer_gone, c->other, c->hung, "-", "-", "-", bound, "-");
    }
  }
  printf("bound: data outstanding %u ms, idle client %u ms (heartbeats), "
         "connect %u ms\n",
         bound_data, bound_idle, bound_init);
  if (failover) {
    int within = 0, kills = 0, k;
    for (i = 0; i < 4; i++) {
      kills += cases[i].n;
      for (k = 0; k < cases[i].n; k++)
        within += cases[i].ms[k] < FO_TARGET_MS;
    }
    printf("target: %d of %d kills reported within %d ms\n", within, kills,
           FO_TARGET_MS);
  }
  if (bad != 0) {
    printf("FAILED: %d trials did not end with MSTLS_E_PEER_GONE\n", bad);
    _exit(1); /* hung clients may still hold the stack */
  }
  if (!fo_kernel)
    (void)mstls_sctp_usrsctp_release();
  return 0;
}
