/* The mstls command-line tool: shared declarations. */
#ifndef MSTLS_TOOL_H
#define MSTLS_TOOL_H

#include <mstls/mstls.h>

/* Subcommands. Each returns a process exit code. */
int tool_demo(int argc, char **argv);
int tool_sctp_server(int argc, char **argv);
int tool_sctp_client(int argc, char **argv);
int tool_dtls_server(int argc, char **argv);
int tool_dtls_client(int argc, char **argv);

/* Print the per-stream table of a session (stream, TLS version, cipher,
 * resumed, bytes each way) to stdout. */
void tool_print_stream_table(mstls_session *session);

/* Load credentials for a server: cert/key files, or a generated
 * self-signed certificate for @p name when both are NULL. */
int tool_server_credentials(mstls_credentials **pcred, const char *cert,
                            const char *key, const char *name);
/* Load credentials for a client: trust @p ca (may be NULL with insecure),
 * optional client cert/key. */
int tool_client_credentials(mstls_credentials **pcred, const char *ca,
                            const char *cert, const char *key);

#endif
