/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A line iterator over a buffer in memory (a config file, a keys file, /proc text): each
 * line without its '\n' (and without a '\r' before it), the last one also when it has no
 * '\n'. Lines are not copied and the buffer need not be NUL-terminated.
 */
#ifndef CORDON_BASE_LINES_H
#define CORDON_BASE_LINES_H

#include <stddef.h>

struct lines {
    const char *p, *end;
    size_t number; /* 1-based number of the line last returned */
};

void lines_init(struct lines *it, const char *buf, size_t len);
/* The next line in *line, of *len bytes (not NUL-terminated). Returns 1, or 0 at the end. */
int lines_next(struct lines *it, const char **line, size_t *len);

#endif
