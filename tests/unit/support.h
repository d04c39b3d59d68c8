/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the Criterion suites. Header-only: each suite is one translation unit. */
#ifndef CORDON_TESTS_SUPPORT_H
#define CORDON_TESTS_SUPPORT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

/* The whole file, NUL-terminated (caller frees); the test fails if it cannot be read. */
static inline char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

#endif
