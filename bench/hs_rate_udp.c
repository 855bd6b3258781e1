/* hs_rate_udp: DTLS 1.2 handshakes per second of `mstls dtls-server
 * --workers N` (a process of its own) and its CPU time per handshake,
 * for each N asked. The clients are plain GnuTLS in this process, each
 * handshake on a new connected UDP socket (a new 4-tuple, so that
 * SO_REUSEPORT spreads them over the workers), spread over 200 loopback
 * source addresses (127.0.1.1 ...) so that the server's per-source rate
 * limit (100 handshakes/s per address by default) does not bind. Clients
 * and server share the machine's cores: the server's CPU per handshake
 * (utime + stime from /proc/PID/stat) is the figure that carries over.
 * Loopback only; prints a table. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>

#include "benchudp.h"

#define PRIO "NORMAL:-VERS-ALL:+VERS-DTLS1.2"
#define MAXC 512
#define NSRC 200

static gnutls_certificate_credentials_t g_anon;
static gnutls_priority_t g_prio;

static double hs_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- clients ---------------------------------------------------------------
 */

typedef struct hs_thread {
  pthread_t th;
  bench_dtls_run run;
  int conc;
  bench_dtls_client cl[MAXC];
} hs_thread;

static void *hs_thread_main(void *arg) {
  hs_thread *t = arg;
  bench_dtls_run_clients(&t->run, t->cl, t->conc);
  return NULL;
}

/* Run @p total handshakes from @p nthreads threads with @p conc clients
 * in flight in all. @return handshakes done; *failed gets the failures. */
static long hs_clients(const struct sockaddr_in *srv, int nthreads, int conc,
                       long total, long *failed) {
  hs_thread *t = calloc((size_t)nthreads, sizeof(*t));
  long done = 0;
  int i;
  *failed = 0;
  if (!t) {
    return 0;
  }
  for (i = 0; i < nthreads; i++) {
    bench_dtls_run *r = &t[i].run;
    r->srv = srv;
    r->prio = g_prio;
    r->cred = g_anon;
    r->total = total / nthreads + (i < total % nthreads);
    /* 200 loopback sources, each thread starting elsewhere. */
    r->nsrc = NSRC;
    r->next_src = (unsigned)i * 37;
    r->seconds = 120;
    t[i].conc = conc / nthreads + (i < conc % nthreads);
    pthread_create(&t[i].th, NULL, hs_thread_main, &t[i]);
  }
  for (i = 0; i < nthreads; i++) {
    pthread_join(t[i].th, NULL);
    done += t[i].run.done;
    *failed += t[i].run.failed;
  }
  free(t);
  return done;
}

/* ---- the server: the mstls tool -------------------------------------------
 */

typedef struct hs_server {
  pid_t pid;
  int fd; /* its stderr */
} hs_server;

/* CPU seconds (user + system) of process @p pid so far. */
static double hs_proc_cpu(pid_t pid) {
  char path[64], buf[1024], *p;
  unsigned long ut = 0, st = 0;
  FILE *f;
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  f = fopen(path, "r");
  if (!f) {
    return -1;
  }
  if (!fgets(buf, sizeof(buf), f)) {
    fclose(f);
    return -1;
  }
  fclose(f);
  p = strrchr(buf, ')'); /* the name may hold spaces */
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                   &ut, &st) != 2) {
    return -1;
  }
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double hs_self_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int hs_server_start(hs_server *s, const char *tool, unsigned port,
                           unsigned workers) {
  char listen[64], nw[16];
  const char *const args[] = {"dtls-server", "--listen", listen,
                              "--workers",   nw,         "--quiet",
                              "--max-peers", "100000",   NULL};
  snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
  snprintf(nw, sizeof(nw), "%u", workers);
  return bench_tool_start("hs_rate_udp", tool, args, &s->pid, &s->fd);
}

static void hs_server_stop(hs_server *s) {
  int status;
  kill(s->pid, SIGINT);
  waitpid(s->pid, &status, 0);
  close(s->fd);
}

/* ---- main -----------------------------------------------------------------
 */

static void hs_usage(void) {
  fprintf(stderr,
          "usage: hs_rate_udp --tool PATH [--workers LIST] [--handshakes N]\n"
          "         [--clients N] [--threads N] [--port P] [--runs N]\n"
          "  --workers     comma-separated worker counts (default 1,2)\n"
          "  --handshakes  per measurement (default 5000; 300 more warm up)\n"
          "  --clients     handshakes in flight (default 64, at most %d)\n"
          "  --threads     client threads (default 2)\n"
          "  --port        server port (default 44330)\n"
          "  --runs        measurements per worker count (default 2)\n",
          MAXC);
}

int main(int argc, char **argv) {
  const char *tool = NULL, *wlist = "1,2";
  long total = 5000;
  int conc = 64, threads = 2, runs = 2, i;
  unsigned port = 44330;
  char wbuf[128], *tok, *save = NULL;

  for (i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "--tool") && v) {
      tool = v;
    } else if (!strcmp(argv[i], "--workers") && v) {
      wlist = v;
    } else if (!strcmp(argv[i], "--handshakes") && v) {
      total = atol(v);
    } else if (!strcmp(argv[i], "--clients") && v) {
      conc = atoi(v);
    } else if (!strcmp(argv[i], "--threads") && v) {
      threads = atoi(v);
    } else if (!strcmp(argv[i], "--port") && v) {
      port = (unsigned)atoi(v);
    } else if (!strcmp(argv[i], "--runs") && v) {
      runs = atoi(v);
    } else {
      hs_usage();
      return 2;
    }
    i++;
  }
  if (!tool || total < 1 || conc < 1 || conc > MAXC || threads < 1 ||
      threads > conc || port < 1 || port > 65535 || runs < 1 ||
      strlen(wlist) >= sizeof(wbuf)) {
    hs_usage();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  gnutls_global_init();
  gnutls_certificate_allocate_credentials(&g_anon);
  gnutls_priority_init(&g_prio, PRIO, NULL);

  printf("DTLS 1.2 full handshakes (ECDSA P-256, ECDHE, cookie exchange) of "
         "`mstls dtls-server --workers N`,\n%d client threads, %d in "
         "flight, %ld handshakes per run, %ld online CPUs\n\n",
         threads, conc, total, sysconf(_SC_NPROCESSORS_ONLN));
  printf("| workers | run | handshakes/s | server CPU ms/handshake | server "
         "CPU (cores) | client CPU ms/handshake | failed |\n");
  printf("|---:|---:|---:|---:|---:|---:|---:|\n");
  strcpy(wbuf, wlist);
  for (tok = strtok_r(wbuf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    unsigned workers = (unsigned)atoi(tok);
    int run;
    for (run = 1; run <= runs; run++) {
      struct sockaddr_in srv;
      hs_server s;
      double t0, t1, s0, s1, c0, c1;
      long done, failed, wfailed;
      memset(&srv, 0, sizeof(srv));
      srv.sin_family = AF_INET;
      srv.sin_port = htons((uint16_t)port);
      srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (hs_server_start(&s, tool, port, workers) < 0) {
        return 1;
      }
      (void)hs_clients(&srv, threads, conc, 300, &wfailed); /* warm-up */
      t0 = hs_now();
      s0 = hs_proc_cpu(s.pid);
      c0 = hs_self_cpu();
      done = hs_clients(&srv, threads, conc, total, &failed);
      t1 = hs_now();
      s1 = hs_proc_cpu(s.pid);
      c1 = hs_self_cpu();
      hs_server_stop(&s);
      if (done == 0) {
        printf("| %u | %d | - | - | - | - | %ld |\n", workers, run, failed);
        continue;
      }
      printf("| %u | %d | %.0f | %.3f | %.2f | %.3f | %ld |\n", workers, run,
             (double)done / (t1 - t0), 1000.0 * (s1 - s0) / (double)done,
             (s1 - s0) / (t1 - t0), 1000.0 * (c1 - c0) / (double)done, failed);
      fflush(stdout);
    }
  }
  gnutls_priority_deinit(g_prio);
  gnutls_certificate_free_credentials(g_anon);
  gnutls_global_deinit();
  return 0;
}
