/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who is on the other end of an admin connection. A governed process (anything cordon
 * sandboxes) must never use the admin API, even holding the admin token: the token is a file
 * on the host, and an agent that reads it (or is handed it) would otherwise rewrite its own
 * policy. cordond cannot ask the peer's seccomp filter whether it is cordon's (the canary of
 * sandbox/sandbox.h answers only a prctl() the peer itself makes), so it refuses every peer
 * that runs with no_new_privs and a seccomp filter, the two facts every governed process
 * carries and no process can shed, and every local peer it cannot identify.
 *
 * Unix sockets: the peer's pid from SO_PEERCRED, pinned by SO_PEERPIDFD (Linux 6.5+) so that
 * a pid reused after the peer exited is never judged in its place. TCP: the peer socket is
 * found in /proc/net/tcp{,6} by the connection's addresses, and its owners through
 * /proc/PID/fd. docs/SECURITY.md, "cordond", says what this cannot see.
 */
#ifndef CORDON_SERVER_PEER_H
#define CORDON_SERVER_PEER_H

#include <stddef.h>
#include <sys/types.h>

#define PEER_STATUS_MAX (64u * 1024) /* /proc/PID/status is about 1.5 KiB */
#define PEER_TCP_TABLE_MAX (32u << 20)

enum peer_verdict {
    PEER_OUTSIDE = 0,  /* a local process outside every sandbox: the token decides */
    PEER_GOVERNED = 1, /* no_new_privs and a seccomp filter: refused */
    PEER_UNKNOWN = 2,  /* local, but its process cannot be named: refused */
    PEER_REMOTE = 3,   /* TCP from an address of no local interface: the token decides */
};

/* The two lines of /proc/PID/status the check reads. */
struct peer_status {
    int no_new_privs; /* NoNewPrivs: 0 or 1 */
    int seccomp;      /* Seccomp: 0 none, 1 strict, 2 filter (0 when the kernel has no line) */
};

/*
 * Parse the text of /proc/PID/status (len bytes, need not be NUL-terminated). A key counts
 * only at the start of a line; its value must be one decimal digit. Returns 0, or -EINVAL when
 * the text is larger than PEER_STATUS_MAX, holds a NUL byte, lacks NoNewPrivs, or gives
 * NoNewPrivs or Seccomp twice or with another value: a status that cannot be read plainly is
 * never taken for an ungoverned one.
 */
__attribute__((warn_unused_result)) int peer_status_parse(const char *text, size_t len,
                                                          struct peer_status *out);

/*
 * Find a socket in the text of /proc/net/tcp or /proc/net/tcp6: the line whose local address
 * is local and remote address is remote, both in the table's own form ("0100007F:1F90",
 * or 32 hex digits and the port for tcp6, as peer_tcp_hex() writes them). Lines that do not
 * parse (the header) are skipped. Returns 0 with *inode and *uid, -ENOENT when no line
 * matches, -EINVAL when the text is larger than PEER_TCP_TABLE_MAX or holds a NUL byte.
 */
__attribute__((warn_unused_result)) int peer_tcp_find(const char *text, size_t len,
                                                      const char *local, const char *remote,
                                                      unsigned long *inode, unsigned *uid);

struct sockaddr;
/* addr (AF_INET or AF_INET6) in the form of /proc/net/tcp{,6} into out (at least 48 bytes).
 * v4 selects the IPv4 form of an IPv4-mapped IPv6 address. Returns 0 or -EINVAL. */
int peer_tcp_hex(const struct sockaddr *addr, int v4, char *out, size_t len);

/*
 * Judge the peer of the connected socket fd (AF_UNIX or TCP). *pid gets the pid judged (0 when
 * none), why a sentence for the log and the refusal (what was found, or why nothing could be).
 */
enum peer_verdict peer_check(int fd, pid_t *pid, char *why, size_t whylen);

#endif
