/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Glob matching for policy names: '*' matches any run of characters ('.' and '/' included),
 * '?' any one character; there are no character classes and no escapes.
 */
#ifndef CORDON_BASE_GLOB_H
#define CORDON_BASE_GLOB_H

#include <stddef.h>

/* 1 when s matches glob g in full, 0 otherwise. */
int glob_match(const char *g, const char *s);

/* 1 when the n bytes at s (not NUL-terminated) match g in full, ASCII case ignored. */
int glob_match_fold(const char *g, const char *s, size_t n);

#endif
