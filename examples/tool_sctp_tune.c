/* mstls sctp-server / sctp-client: the SCTP tunables of the command line
 * (--profile, then one option per protocol field of mstls_sctp_config),
 * their checks, and how long a connect to a silent address takes.
 * Nothing here prints: the parsers leave their message in a tool_err. */
#include <stdio.h>
#include <string.h>

#include "tool_sctp.h"

/* The stacks' own defaults (RFC 9260 §16: usrsctp's, and Linux's net.sctp
 * sysctls), which apply where neither the profile nor an option sets a
 * value. */
#define TUNE_RTO_INITIAL 3000u
#define TUNE_RTO_MIN 1000u
#define TUNE_RTO_MAX 60000u
#define TUNE_INIT_ATTEMPTS 8u
#define TUNE_INIT_TIMEOUT 60000u
/* Longest time in milliseconds an option takes: a day, the bound of
 * Linux's net.sctp timer sysctls (the library takes up to INT32_MAX). */
#define TUNE_MS_MAX 86400000u

int tool_sctp_tune_parse(int id, const char *v, tsctp_tune *t, tool_err *err) {
  static const char *const profiles[] = {"default", "failover", NULL};
  int k;

  switch (id) {
  case TSCTP_PROFILE:
    if (tool_parse_choice("--profile", v, profiles, &k, err) < 0)
      return -1;
    t->profile = k == 1 ? TSCTP_PROFILE_FAILOVER : TSCTP_PROFILE_DEFAULT;
    return 0;
  case TSCTP_RTO_INITIAL:
    return tool_parse_u32("--rto-initial", v, 1, TUNE_MS_MAX,
                          &t->rto_initial_ms, err);
  case TSCTP_RTO_MIN:
    return tool_parse_u32("--rto-min", v, 1, TUNE_MS_MAX, &t->rto_min_ms, err);
  case TSCTP_RTO_MAX:
    return tool_parse_u32("--rto-max", v, 1, TUNE_MS_MAX, &t->rto_max_ms, err);
  case TSCTP_ASSOC_MAX_RETRANS:
    return tool_parse_u16("--assoc-max-retrans", v, 1, 65535,
                          &t->assoc_max_retrans, err);
  case TSCTP_PATH_MAX_RETRANS:
    return tool_parse_u16("--path-max-retrans", v, 1, 65535,
                          &t->path_max_retrans, err);
  case TSCTP_HEARTBEAT:
    return tool_parse_u32("--heartbeat", v, 1, TUNE_MS_MAX, &t->heartbeat_ms,
                          err);
  case TSCTP_INIT_ATTEMPTS:
    return tool_parse_u16("--init-attempts", v, 1, 65535, &t->init_attempts,
                          err);
  case TSCTP_INIT_TIMEOUT:
    /* sinit_max_init_timeo is 16 bits wide (RFC 6458 §8.1.3). */
    return tool_parse_u16("--init-timeout", v, 1, 65535, &t->init_timeout_ms,
                          err);
  case TSCTP_SACK_DELAY:
    /* RFC 9260 §6.2: the delay MUST NOT exceed 500 ms. */
    return tool_parse_u32("--sack-delay", v, 1, 500, &t->sack_delay_ms, err);
  case TSCTP_NAGLE:
    t->nagle = 1;
    return 0;
  default:
    return tool_fail(err, "internal: option %d", id);
  }
}

void tool_sctp_tune_apply(mstls_sctp_config *cfg, const tsctp_tune *t) {
  if (t->profile == TSCTP_PROFILE_FAILOVER)
    mstls_sctp_config_failover(cfg);
  if (t->rto_initial_ms)
    cfg->rto_initial_ms = t->rto_initial_ms;
  if (t->rto_min_ms)
    cfg->rto_min_ms = t->rto_min_ms;
  if (t->rto_max_ms)
    cfg->rto_max_ms = t->rto_max_ms;
  if (t->assoc_max_retrans)
    cfg->assoc_max_retrans = t->assoc_max_retrans;
  if (t->path_max_retrans)
    cfg->path_max_retrans = t->path_max_retrans;
  if (t->heartbeat_ms)
    cfg->heartbeat_interval_ms = t->heartbeat_ms;
  if (t->init_attempts)
    cfg->init_max_attempts = t->init_attempts;
  if (t->init_timeout_ms)
    cfg->init_max_timeout_ms = t->init_timeout_ms;
  if (t->sack_delay_ms)
    cfg->sack_delay_ms = t->sack_delay_ms;
  if (t->nagle)
    cfg->nagle = 1;
}

static const char *const tune_rto_opt[] = {"--rto-initial", "--rto-min",
                                           "--rto-max"};

/* One of the three RTO parameters (0 initial, 1 min, 2 max): the value the
 * stack will use, and in @p what the words that say where it comes from
 * (the option, the profile, the stack's default). *given: from an option. */
static uint32_t tune_rto(const tsctp_tune *t, const mstls_sctp_config *cfg,
                         int which, char *what, size_t len, int *given) {
  static const char *const rfc[] = {"RTO.Initial", "RTO.Min", "RTO.Max"};
  static const uint32_t stack[] = {TUNE_RTO_INITIAL, TUNE_RTO_MIN,
                                   TUNE_RTO_MAX};
  const uint32_t opt[] = {t->rto_initial_ms, t->rto_min_ms, t->rto_max_ms};
  const uint32_t set[] = {cfg->rto_initial_ms, cfg->rto_min_ms,
                          cfg->rto_max_ms};

  *given = opt[which] != 0;
  if (opt[which] != 0) {
    snprintf(what, len, "%s %u", tune_rto_opt[which], opt[which]);
    return opt[which];
  }
  if (set[which] != 0) {
    snprintf(what, len, "%s %u ms of --profile failover", rfc[which],
             set[which]);
    return set[which];
  }
  snprintf(what, len, "the default %s of %u ms", rfc[which], stack[which]);
  return stack[which];
}

int tool_sctp_tune_check(const tsctp_tune *t, tool_err *err) {
  /* Pairs checked in turn: min-max first, the one a user most likely set
   * both sides of. */
  static const int pairs[3][2] = {{1, 2}, {1, 0}, {0, 2}};
  mstls_sctp_config cfg;
  char lo[64], hi[64];
  size_t i;

  mstls_sctp_config_default(&cfg);
  tool_sctp_tune_apply(&cfg, t);
  for (i = 0; i < 3; i++) {
    int ga, gb;
    uint32_t a = tune_rto(t, &cfg, pairs[i][0], lo, sizeof(lo), &ga);
    uint32_t b = tune_rto(t, &cfg, pairs[i][1], hi, sizeof(hi), &gb);
    if (a <= b)
      continue;
    /* One side was not given (the other was: the profiles and the
     * defaults are in order): say which option would set it. */
    return tool_fail(
        err, "%s is above %s: RTO.Min <= RTO.Initial <= RTO.Max%s%s%s", lo, hi,
        ga && gb ? "" : " (set ",
        ga && gb ? "" : tune_rto_opt[ga ? pairs[i][1] : pairs[i][0]],
        ga && gb ? "" : " too)");
  }
  return 0;
}

uint64_t tool_sctp_giveup_ms(const mstls_sctp_config *cfg, size_t naddrs) {
  uint64_t rto = cfg->rto_initial_ms ? cfg->rto_initial_ms : TUNE_RTO_INITIAL;
  uint64_t cap =
      cfg->init_max_timeout_ms ? cfg->init_max_timeout_ms : TUNE_INIT_TIMEOUT;
  uint32_t inits =
      (cfg->init_max_attempts ? cfg->init_max_attempts : TUNE_INIT_ATTEMPTS) +
      1u;
  uint64_t sum = 0;
  uint32_t i;

  if (naddrs == 0)
    naddrs = 1;
  /* usrsctp bounds the INIT timer by RTO.Max too (measured: RTO.Max
   * 1000 ms and the default 8 retransmissions give up after 9 s); Linux
   * by sinit_max_init_timeo only, which starts at net.sctp.rto_max
   * (measured in the QEMU guest: RTO 500/100/500 ms and 4
   * retransmissions give up after 15.9 s, the estimate 15.5 s). */
  if (cfg->backend == MSTLS_SCTP_BACKEND_USRSCTP) {
    uint64_t max = cfg->rto_max_ms ? cfg->rto_max_ms : TUNE_RTO_MAX;
    if (max < cap)
      cap = max;
  }
  /* RFC 9260 §5.1: T1-init doubles on a retransmission (§6.3.3), up to
   * the cap. With several peer addresses the INITs go to each in turn
   * and the timer doubles once per round (usrsctp keeps an RTO per
   * address; Linux counts rounds). Measured with the failover profile:
   * 2.4 s for one address, 1.2 s for two on usrsctp; 2.5 s and 1.3 s on
   * kernel SCTP through a veth that drops everything. */
  for (i = 0; i < inits; i++) {
    uint64_t t = rto;
    uint32_t k;
    for (k = 0; k < i / naddrs && t < cap; k++)
      t *= 2;
    sum += t < cap ? t : cap;
  }
  return sum;
}

void tool_sctp_duration(char *buf, size_t len, uint64_t ms) {
  if (ms < 120000)
    snprintf(buf, len, "%.1f s", (double)ms / 1000.0);
  else
    snprintf(buf, len, "%llu minutes",
             (unsigned long long)(ms + 30000) / 60000);
}

const char *tool_sctp_path_event(mstls_sctp_event ev) {
  switch (ev) {
  case MSTLS_SCTP_EVENT_ADDR_AVAILABLE:
    return "available";
  case MSTLS_SCTP_EVENT_ADDR_UNREACHABLE:
    return "unreachable";
  case MSTLS_SCTP_EVENT_ADDR_REMOVED:
    return "removed by the peer";
  case MSTLS_SCTP_EVENT_ADDR_ADDED:
    return "added by the peer";
  case MSTLS_SCTP_EVENT_ADDR_MADE_PRIMARY:
    return "made primary";
  case MSTLS_SCTP_EVENT_ADDR_CONFIRMED:
    return "confirmed";
  case MSTLS_SCTP_EVENT_ADDR_POTENTIALLY_FAILED:
    return "potentially failed";
  default:
    return NULL;
  }
}
