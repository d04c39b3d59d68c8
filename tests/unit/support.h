/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the Criterion suites. Header-only: each suite is one translation unit. */
#ifndef CORDON_TESTS_SUPPORT_H
#define CORDON_TESTS_SUPPORT_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/sign/key.h"

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

static inline int support_remove_entry(const char *path, const struct stat *st, int flag,
                                       struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove dir and everything beneath it, following no symlink. */
static inline void remove_tree(const char *dir)
{
    nftw(dir, support_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The checked-in test key (tests/data/dsse/test.key), loaded through a 0600 copy in dir: git
 * does not keep file modes, and key_secret_load refuses a key others could read. */
static inline struct key_secret *golden_key(const char *dir)
{
    char path[4096], err[512] = "";
    struct key_secret *k = NULL;
    size_t len;
    char *text = read_file(CORDON_TEST_DATA "/dsse/test.key", &len);
    snprintf(path, sizeof path, "%s/golden.key", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0, "cannot create %s", path);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    free(text);
    cr_assert_eq(key_secret_load(path, &k, err, sizeof err), 0, "%s", err);
    unlink(path);
    return k;
}

#endif
