/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ready file: where a cordond that has started listens, written once every listener is
 * up (--ready-file) and read by whoever started it (`cordon run`'s private cordond,
 * tools/embedded.c; scripts and supervisors). The one definition of its format, for the
 * writer and every reader:
 *
 *     http=127.0.0.1:41234        one line per --listen, in order (at least one)
 *     tunnel=127.0.0.1:41235      exactly one
 *     admin=unix:/run/cordond/admin.sock   at most one: when the admin listener is open
 *     events=unix:/PATH           at most one: when the event socket is not off
 *
 * Each line is KEY=VALUE and ends with a newline; a key is lowercase letters, digits and '_';
 * a value is 1 to READY_ADDR_MAX - 1 bytes with no control character but the tab (a unix
 * socket path may hold spaces and UTF-8). A reader skips a well-formed line whose key it does
 * not know (a newer cordond may add some) and refuses everything else: the file is written
 * whole (a temporary file renamed into place, mode 0600), so a malformed one was not written
 * by cordond.
 */
#ifndef CORDON_SERVER_READY_H
#define CORDON_SERVER_READY_H

#include <stddef.h>

#define READY_MAX_BYTES 4096 /* a ready file larger than this is refused */
#define READY_ADDR_MAX 256   /* bytes of one value, the NUL included */
#define READY_MAX_HTTP 8     /* http= lines (cordond's CONFIG_MAX_LISTEN) */

struct ready {
    char http[READY_MAX_HTTP][READY_ADDR_MAX]; /* "127.0.0.1:PORT", "[::1]:PORT", "unix:/P" */
    size_t n_http;
    char tunnel[READY_ADDR_MAX];
    char admin[READY_ADDR_MAX];  /* "" when the admin listener is not open */
    char events[READY_ADDR_MAX]; /* "unix:/PATH", "" when the event socket is off */
};

/*
 * The text of r (the lines above, in that order) into out (len bytes, NUL-terminated).
 * Returns 0; -EINVAL when r is not one the format can carry (no http or tunnel, more than
 * READY_MAX_HTTP http, an empty or too long value or one with a control character, an
 * events value not unix:/...); -ENOSPC when out is too small.
 */
__attribute__((warn_unused_result)) int ready_format(const struct ready *r, char *out, size_t len);

/*
 * Write r to path atomically: PATH.tmp (created 0600, never through a symlink) renamed over
 * path, so a reader sees no file or the whole file. Returns 0 or a negative errno with err
 * set to "cannot write the ready file PATH: REASON".
 */
__attribute__((warn_unused_result)) int ready_write(const char *path, const struct ready *r,
                                                    char *err, size_t errlen);

/*
 * Parse ready-file text (len bytes, need not be NUL-terminated) into *out. Returns 0;
 * -EFBIG when len is over READY_MAX_BYTES; -EINVAL when the text breaks the format (a NUL
 * byte, a line that is not KEY=VALUE, an unterminated last line, a value empty, too long or
 * with a control character, tunnel, admin or events twice, more than READY_MAX_HTTP http,
 * no http or no tunnel). err (may be NULL) names the line and what is wrong.
 */
__attribute__((warn_unused_result)) int ready_parse(const char *text, size_t len, struct ready *out,
                                                    char *err, size_t errlen);

/*
 * Read and parse the ready file at path (never through a symlink). Returns 0; -ENOENT while
 * it does not exist; -EFBIG, -EINVAL as ready_parse; another negative errno when it cannot
 * be read. err (may be NULL) starts with the path.
 */
__attribute__((warn_unused_result)) int ready_read(const char *path, struct ready *out, char *err,
                                                   size_t errlen);

#endif
