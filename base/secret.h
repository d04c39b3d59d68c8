/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private files: the one reader of every secret cordon keeps in a file (keys, the admin
 * token, the server secret, agent keys, key-holding profiles). It opens with O_NOFOLLOW (a
 * symlink planted in the file's place is refused, not followed), takes only a regular file
 * that grants nothing to group or others, reads through the descriptor it checked, and
 * wipes every byte it read on every path out: the secret exists only in the buffer it hands
 * back, which secret_free wipes too. libc only (explicit_bzero), so the shim may use it.
 */
#ifndef CORDON_BASE_SECRET_H
#define CORDON_BASE_SECRET_H

#include <stddef.h>

#define SECRET_MAX_FILE (64u << 10) /* no secret file cordon reads is larger */

/*
 * Read the private file at path (what names it in messages: "the admin token"). At most max
 * bytes (0: SECRET_MAX_FILE); trailing newlines and carriage returns are dropped. On success
 * *out is a malloc'd NUL-terminated copy (free it with secret_free) and *len its length.
 * Returns 0 or a negative errno with err set to what failed and what to do: -ELOOP a symlink,
 * -EINVAL not a regular file, -EPERM readable or writable by group or others (with the fix
 * `chmod 600`), -EFBIG too large, -ENODATA empty, or open's own errno.
 */
__attribute__((warn_unused_result)) int secret_read_file(const char *what, const char *path,
                                                         size_t max, char **out, size_t *len,
                                                         char *err, size_t errlen);

/*
 * secret_read_file, with the bytes kept as they are: no newline dropped, and an empty file is
 * read (*len 0) rather than refused, for a caller whose format says what a line must be (a
 * private key file holds exactly one) and for binary secrets (cordond's server secret, whose
 * random bytes may end in a newline).
 */
__attribute__((warn_unused_result)) int secret_read_file_exact(const char *what, const char *path,
                                                               size_t max, char **out, size_t *len,
                                                               char *err, size_t errlen);

/*
 * secret_read_file_exact, refusing also (-EPERM, with the chown that fixes it) a file owned by
 * a user other than the effective one: for a key that must be this user's alone, such as
 * cordond's deployment CA key (policy/server/mint.h).
 */
__attribute__((warn_unused_result)) int secret_read_file_owned(const char *what, const char *path,
                                                               size_t max, char **out, size_t *len,
                                                               char *err, size_t errlen);

/* Wipe len bytes of buf, then free it. NULL is accepted. */
void secret_free(char *buf, size_t len);

#endif
