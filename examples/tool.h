/* The mstls command-line tool: shared declarations. */
#ifndef MSTLS_TOOL_H
#define MSTLS_TOOL_H

#include <stdint.h>

#include <sys/socket.h>

#include <mstls/mstls.h>

#include "tool_args.h"

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

/* Check credentials files before loading them, printing what is wrong
 * with which file: missing, unreadable, not a PEM certificate or key, or
 * a key that does not match the certificate. 0 or -1. */
int tool_check_cert_key(const char *cert, const char *key);
int tool_check_ca(const char *ca);

/* getaddrinfo @p host (NULL: the wildcard) with a numeric port; prints
 * "cannot resolve HOST: reason" on failure. 0 or -1. ss may be NULL. */
int tool_resolve(const char *host, uint16_t port, int socktype,
                 struct sockaddr_storage *ss, socklen_t *sl);

/* A comma-separated address list (the host of --connect / --listen,
 * --bind) as the SCTP calls will take it: no empty entry, at most
 * MSTLS_SCTP_MAX_ADDRS, each resolves, one address family, no address
 * twice. Prints what is wrong naming @p opt and the entry. 0 or -1. */
int tool_check_addr_list(const char *opt, const char *list);

/* Before starting SCTP: with @p kernel, check the kernel has SCTP (else
 * say so and suggest usrsctp); check the address list @p host of option
 * @p opt if not NULL (tool_check_addr_list). Returns -1 when all is well,
 * else an exit code. */
int tool_sctp_preflight(int kernel, const char *opt, const char *host);

/* --session FILE of the clients. tool_session_load: the resumption data
 * an earlier run kept; their length, 0 when the file does not exist (yet)
 * or cannot be read (said on stderr). tool_session_save: keep @p len
 * bytes in the file, written to a temporary file first and renamed, so
 * that a run that dies leaves the old data or the new, never half of
 * either; readable by the owner only, as the data hold the session's
 * secrets (a failure is said on stderr). */
size_t tool_session_load(const char *path, uint8_t *buf, size_t cap);
void tool_session_save(const char *path, const uint8_t *buf, size_t len);

/* The subcommands' option parsers as functions (for the fuzz harness):
 * 0 (valid), 1 (--help), -1 (usage error in err). */
int tool_sctp_check_args(int argc, char **argv, int server, tool_err *err);
int tool_dtls_check_args(int argc, char **argv, int server, tool_err *err);

#endif
