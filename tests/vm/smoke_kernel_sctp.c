/*
 * Smoke test for the kernel SCTP stack, independent of mstls.
 *
 * It proves that the environment the lksctp backend's tests run in (normally
 * the QEMU guest started by run-in-vm.sh) really has kernel SCTP: a one-to-one
 * association over 127.0.0.1 with 8 streams each way, one user message on
 * stream 5, and the stream id read back from the SCTP_RCVINFO ancillary data,
 * which is exactly the metadata the backend routes by.
 *
 * Exit codes follow ctest: 0 pass, 77 skip (no SCTP in this kernel), 1 fail.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define SMOKE_SKIP 77
#define SMOKE_STREAMS 8
#define SMOKE_SID 5
#define SMOKE_PPID 0x6d73746cU /* "mstl" */

static const char smoke_payload[] = "mstls kernel sctp smoke";

static int smoke_fail(const char *what) {
  fprintf(stderr, "smoke_kernel_sctp: %s: %s\n", what, strerror(errno));
  return 1;
}

static int smoke_fail_msg(const char *what) {
  fprintf(stderr, "smoke_kernel_sctp: %s\n", what);
  return 1;
}

/* Ask for more streams than the default on both sides, so that stream 5 only
 * exists if the INIT/INIT-ACK negotiation really happened. */
static int smoke_socket(void) {
  struct sctp_initmsg init;
  struct timeval tv = {5, 0};
  int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);

  if (fd < 0)
    return -1;
  memset(&init, 0, sizeof(init));
  init.sinit_num_ostreams = SMOKE_STREAMS;
  init.sinit_max_instreams = SMOKE_STREAMS;
  /* A broken stack must fail the test, not hang it until the ctest timeout. */
  if (setsockopt(fd, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init)) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

static int smoke_run(int lfd, int cfd) {
  struct sockaddr_in addr;
  socklen_t alen = sizeof(addr);
  struct sctp_status status;
  socklen_t slen = sizeof(status);
  int on = 1;
  int afd;

  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
    return smoke_fail("bind");
  if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
    return smoke_fail("getsockname");
  if (listen(lfd, 1) < 0)
    return smoke_fail("listen");
  /* Without this option recvmsg() carries no stream id at all. */
  if (setsockopt(lfd, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on)) < 0)
    return smoke_fail("setsockopt(SCTP_RECVRCVINFO)");

  /* One thread is enough: the kernel completes the four-way handshake for a
   * listening socket before accept() is called. */
  if (connect(cfd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
    return smoke_fail("connect");
  afd = accept(lfd, NULL, NULL);
  if (afd < 0)
    return smoke_fail("accept");

  if (getsockopt(cfd, IPPROTO_SCTP, SCTP_STATUS, &status, &slen) < 0) {
    close(afd);
    return smoke_fail("getsockopt(SCTP_STATUS)");
  }
  if (status.sstat_outstrms != SMOKE_STREAMS ||
      status.sstat_instrms != SMOKE_STREAMS) {
    fprintf(stderr, "smoke_kernel_sctp: negotiated %u out / %u in streams\n",
            (unsigned)status.sstat_outstrms, (unsigned)status.sstat_instrms);
    close(afd);
    return 1;
  }

  if (sctp_sendmsg(cfd, smoke_payload, sizeof(smoke_payload), NULL, 0,
                   htonl(SMOKE_PPID), 0, SMOKE_SID, 0, 0) < 0) {
    close(afd);
    return smoke_fail("sctp_sendmsg");
  }

  {
    char buf[256];
    union {
      char raw[CMSG_SPACE(sizeof(struct sctp_rcvinfo))];
      struct cmsghdr align;
    } ctl;
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr msg;
    struct cmsghdr *cmsg;
    const struct sctp_rcvinfo *info = NULL;
    ssize_t n;

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.raw;
    msg.msg_controllen = sizeof(ctl.raw);
    n = recvmsg(afd, &msg, 0);
    close(afd);
    if (n < 0)
      return smoke_fail("recvmsg");
    for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
      if (cmsg->cmsg_level == IPPROTO_SCTP && cmsg->cmsg_type == SCTP_RCVINFO)
        info = (const struct sctp_rcvinfo *)CMSG_DATA(cmsg);
    }
    if (!info)
      return smoke_fail_msg("recvmsg returned no SCTP_RCVINFO");
    if (!(msg.msg_flags & MSG_EOR))
      return smoke_fail_msg("message not delivered whole (no MSG_EOR)");
    if (info->rcv_sid != SMOKE_SID || ntohl(info->rcv_ppid) != SMOKE_PPID) {
      fprintf(stderr, "smoke_kernel_sctp: got stream %u ppid 0x%x\n",
              (unsigned)info->rcv_sid, (unsigned)ntohl(info->rcv_ppid));
      return 1;
    }
    if ((size_t)n != sizeof(smoke_payload) ||
        memcmp(buf, smoke_payload, sizeof(smoke_payload)) != 0)
      return smoke_fail_msg("payload mismatch");
  }
  return 0;
}

int main(void) {
  int lfd, cfd, rc;

  lfd = smoke_socket();
  if (lfd < 0) {
    /* EPROTONOSUPPORT is what a kernel without CONFIG_IP_SCTP answers; the
     * others cover sctp being blocked or unloadable in a container. */
    if (errno == EPROTONOSUPPORT || errno == ESOCKTNOSUPPORT ||
        errno == EAFNOSUPPORT || errno == EPERM || errno == EACCES) {
      printf("kernel sctp unavailable: socket(IPPROTO_SCTP): %s\n",
             strerror(errno));
      return SMOKE_SKIP;
    }
    return smoke_fail("socket");
  }
  cfd = smoke_socket();
  if (cfd < 0) {
    close(lfd);
    return smoke_fail("socket");
  }
  rc = smoke_run(lfd, cfd);
  close(cfd);
  close(lfd);
  if (rc == 0)
    printf("kernel sctp ok\n");
  return rc;
}
