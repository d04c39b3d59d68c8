/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy paths: variable expansion (~, ${home}, ${cwd}, ${workspace}, ${tmp}), lexical
 * normalization and symlink resolution. A policy path must end up absolute and may not
 * contain "..": a rule that climbs out of the directory it names is a rule nobody can audit.
 */
#ifndef CORDON_BASE_PATH_H
#define CORDON_BASE_PATH_H

#include <stddef.h>

#include "base/err.h"

#define PATH_MAXLEN 4096

/* Values of the variables; each must be an absolute path, or NULL when unknown. */
struct path_vars {
    const char *home;
    const char *cwd;
    const char *workspace;
    const char *tmp;
};

/* The codes are in PATH's block of base/err.h, disjoint from every errno. */
enum path_status {
    PATH_OK = 0,
    PATH_ERR_SYNTAX = ERR_BLOCK_PATH - 1,   /* "${" without "}", an empty name, "~user" */
    PATH_ERR_VAR = ERR_BLOCK_PATH - 2,      /* an unknown variable name */
    PATH_ERR_UNSET = ERR_BLOCK_PATH - 3,    /* a known variable with no value here */
    PATH_ERR_RELATIVE = ERR_BLOCK_PATH - 4, /* the result is not absolute */
    PATH_ERR_DOTDOT = ERR_BLOCK_PATH - 5,   /* a ".." component */
    PATH_ERR_TOO_LONG = ERR_BLOCK_PATH - 6, /* longer than PATH_MAXLEN */
};

/*
 * Expand raw into out (PATH_MAXLEN bytes) and normalize it. On failure why receives the
 * reason in words (without the path prefix; the caller adds the JSON path).
 */
__attribute__((warn_unused_result)) int path_expand(const char *raw, const struct path_vars *v,
                                                    char out[PATH_MAXLEN], char *why,
                                                    size_t whylen);

/*
 * Normalize an absolute path in place: collapse "//", drop "." components and a trailing
 * "/". Returns PATH_ERR_DOTDOT on "..", PATH_ERR_RELATIVE when p does not start with "/".
 */
__attribute__((warn_unused_result)) int path_normalize(char *p);

/*
 * Resolve symlinks (realpath). Returns 0 with real filled, or a negative errno (-ENOENT when
 * the path does not exist, which is not an error for a policy: the rule is kept by name).
 */
int path_resolve(const char *p, char real[PATH_MAXLEN]);

/*
 * Read a whole regular file of at most max bytes into a malloc'd NUL-terminated buffer
 * (caller frees *out). Returns 0; -EINVAL when it is not a regular file; -EFBIG when it is
 * larger than max (*len then holds its size); or the negative errno of open/fstat. mode, when
 * not NULL, gets the file's mode bits as fstat saw them on the descriptor that was read.
 */
__attribute__((warn_unused_result)) int path_read_file(const char *path, size_t max, char **out,
                                                       size_t *len, unsigned *mode);

/*
 * The one canonical form a path is judged in, for paths that are about to be used rather than
 * written into a policy (an audit directory, a policy file): a relative p is taken from the
 * current directory; the longest prefix that exists is resolved component by component with
 * symlinks followed, as the kernel will follow them; whatever lies beyond, which does not
 * exist yet, has "//", "." and ".." folded by name ("mkdir -p" would create it that way). A
 * ".." that climbs back into the existing part is resolved there again, so "a/new/../link"
 * follows link. out receives an absolute path without a symlink in its existing part.
 *
 * Returns 0; -EINVAL for an empty path; -ELOOP after 40 symlinks; -ENAMETOOLONG when a step
 * or the result exceeds PATH_MAXLEN - 1 bytes; or the negative errno of a component that
 * could not be examined (-EACCES): a path whose prefix cannot be seen is not judged by name.
 */
__attribute__((warn_unused_result)) int path_canonical(const char *p, char out[PATH_MAXLEN]);

/*
 * Which part of the way to a program the file system refuses to the calling process, with its
 * credentials as they stand (uid, groups, capabilities; the kernel's own check, faccessat with
 * AT_EACCESS): every directory on the way must grant search, the program itself execute. A
 * relative path is taken from the current directory. When one refuses, why receives "/root is
 * mode 0700 (owner uid 0, gid 0), which grants no search to uid 65534 gid 65534" and 1 is
 * returned (a part whose mode grants the right and is refused anyway is named as such: a
 * noexec mount, an ACL); 0 when nothing on the way refuses (a refused exec then came from
 * elsewhere: the sandbox) or the path does not exist; -EINVAL for an empty path and
 * -ENAMETOOLONG when it exceeds PATH_MAXLEN - 1 bytes. Safe in a hook: no allocation, no
 * stdio beyond snprintf into why.
 */
__attribute__((warn_unused_result)) int path_exec_blocker(const char *path, char *why,
                                                          size_t whylen);

/* What a path_expand or path_normalize status means, in a few words: a path code, or a
 * negative errno (strerror). */
const char *path_strerror(int status);

/* True when path equals dir or lies beneath it ("/a/b" is beneath "/a", "/ab" is not). */
int path_within(const char *path, const char *dir);

/*
 * The i-th file execvp(3) would try for cmd (a bare name) on search path (PATH; NULL or ""
 * means "/bin:/usr/bin"): the i-th entry joined with cmd, an empty entry giving "./cmd" (the
 * current directory). 0 with out filled; -ENAMETOOLONG when that candidate does not fit
 * (skip it, the next may); -ENOENT when path has fewer entries. No allocation: safe in a hook.
 */
__attribute__((warn_unused_result)) int path_search_nth(const char *path, const char *cmd, size_t i,
                                                        char *out, size_t len);

#endif
