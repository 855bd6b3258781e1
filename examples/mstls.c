/* mstls: command-line tool. Subcommands:
 *   demo          client and server over real SCTP in one process
 *   sctp-server   TLS over SCTP server (RFC 3436)
 *   sctp-client   TLS over SCTP client
 *   dtls-server   DTLS over UDP server, many peers on one socket
 *   dtls-client   DTLS over UDP client
 */
#include <stdio.h>
#include <string.h>

#include "tool.h"

static void usage(FILE *f) {
  int num;
  fprintf(f,
          "mstls %s: TLS over SCTP streams and DTLS over UDP\n"
          "usage: mstls COMMAND [options]\n"
          "commands:\n"
          "  demo          handshake 16 streams in one process, print a table\n"
          "  sctp-server   serve TLS over SCTP (--help for options)\n"
          "  sctp-client   connect with TLS over SCTP\n"
          "  dtls-server   serve DTLS over UDP\n"
          "  dtls-client   connect with DTLS over UDP\n",
          mstls_version(&num));
}

#ifndef MSTLS_TOOL_SCTP
int tool_sctp_server(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "mstls: built without SCTP support\n");
  return 2;
}
int tool_sctp_client(int argc, char **argv) {
  return tool_sctp_server(argc, argv);
}
#endif

#ifndef MSTLS_TOOL_DTLS
int tool_dtls_server(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "mstls: built without DTLS support\n");
  return 2;
}
int tool_dtls_client(int argc, char **argv) {
  return tool_dtls_server(argc, argv);
}
#endif

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    int (*fn)(int, char **);
  } cmds[] = {{"demo", tool_demo},
              {"sctp-server", tool_sctp_server},
              {"sctp-client", tool_sctp_client},
              {"dtls-server", tool_dtls_server},
              {"dtls-client", tool_dtls_client}};
  size_t i;

  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("mstls %s\n", mstls_version(NULL));
    return 0;
  }
  for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
    if (!strcmp(argv[1], cmds[i].name)) {
      return cmds[i].fn(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "mstls: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
