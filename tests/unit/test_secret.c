/* SPDX-License-Identifier: Apache-2.0 */
/* The private-file reader: what it takes and what it refuses, each with its reason. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/secret.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/cordon-secret-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static const char *file(const char *name, const char *text, mode_t mode)
{
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
    return p;
}

static void refused(const char *path, size_t max, int want, const char *why)
{
    char *out = (char *)1, err[512] = "";
    size_t len = 99;
    int rc = secret_read_file("the test key", path, max, &out, &len, err, sizeof err);
    cr_assert_eq(rc, want, "%s: rc %d, want %d (%s)", path, rc, want, err);
    cr_assert_null(out);
    cr_assert_eq(len, 0);
    cr_assert(strstr(err, why), "reason '%s' lacks '%s'", err, why);
}

TestSuite(secret, .init = setup, .fini = teardown);

Test(secret, reads_a_private_file_without_its_newline)
{
    char *out, err[256];
    size_t len;
    const char *p = file("k", "ck_secret\r\n\n", 0600);
    cr_assert_eq(secret_read_file("the test key", p, 0, &out, &len, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out, "ck_secret");
    cr_assert_eq(len, 9);
    secret_free(out, len);
    p = file("ro", "x", 0400);
    cr_assert_eq(secret_read_file("the test key", p, 0, &out, &len, err, sizeof err), 0);
    secret_free(out, len);
    secret_free(NULL, 0);
}

Test(secret, refuses_what_others_may_read_or_change)
{
    refused(file("g", "x", 0640), 0, -EPERM, "chmod 600");
    refused(file("o", "x", 0604), 0, -EPERM, "may read");
    refused(file("w", "x", 0620), 0, -EPERM, "may change");
}

Test(secret, refuses_a_symlink_a_directory_a_large_an_empty_and_a_missing_file)
{
    const char *p = file("target", "x", 0600);
    char link[128];
    snprintf(link, sizeof link, "%s/link", dir);
    cr_assert_eq(symlink(p, link), 0);
    refused(link, 0, -ELOOP, "symbolic link");
    refused(dir, 0, -EINVAL, "not a regular file");
    refused(file("big", "0123456789", 0600), 9, -EFBIG, "more than the 9");
    refused(file("empty", "\n", 0600), 0, -ENODATA, "empty");
    char missing[128];
    snprintf(missing, sizeof missing, "%s/none", dir);
    refused(missing, 0, -ENOENT, "cannot open");
}

Test(secret, exact_keeps_every_byte_and_reads_an_empty_file)
{
    char err[256] = "", *out = NULL;
    size_t len = 0;
    const char *p = file("two", "line\n\n", 0600);
    cr_assert_eq(secret_read_file_exact("the test key", p, 0, &out, &len, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(len, 6);
    cr_assert_str_eq(out, "line\n\n");
    secret_free(out, len);
    p = file("empty", "", 0600);
    cr_assert_eq(secret_read_file_exact("the test key", p, 0, &out, &len, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(out, "");
    secret_free(out, len);
    p = file("open", "x", 0644);
    cr_assert_eq(secret_read_file_exact("the test key", p, 0, &out, &len, err, sizeof err), -EPERM);
    cr_assert_null(out);
}

Test(secret, a_binary_secret_keeps_every_byte)
{
    char *out, err[256];
    size_t len;
    /* 32 bytes whose last ones are a carriage return and a newline, as random ones may be */
    const char *p = file("bin", "0123456789abcdef0123456789abc\r\n\n", 0600);
    cr_assert_eq(secret_read_file_exact("the test secret", p, 64, &out, &len, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(len, 32);
    cr_assert_eq(memcmp(out, "0123456789abcdef0123456789abc\r\n\n", 32), 0);
    secret_free(out, len);
    /* and it is refused as the text reader refuses */
    p = file("loose", "0123456789abcdef0123456789abcdef", 0640);
    out = NULL;
    cr_assert_eq(secret_read_file_exact("the test secret", p, 64, &out, &len, err, sizeof err),
                 -EPERM);
    cr_assert_null(out);
    cr_assert(strstr(err, "chmod 600"), "%s", err);
}

Test(secret, owned_refuses_a_file_another_user_owns)
{
    char *out = NULL, err[512] = "";
    size_t len = 0;
    const char *p = file("mine", "-----BEGIN PRIVATE KEY-----\n", 0600);
    cr_assert_eq(secret_read_file_owned("the CA key", p, 0, &out, &len, err, sizeof err), 0, "%s",
                 err);
    cr_assert_str_eq(out, "-----BEGIN PRIVATE KEY-----\n", "the bytes are kept as they are");
    secret_free(out, len);
    out = NULL;
    cr_assert_eq(chmod(p, 0640), 0);
    cr_assert_eq(secret_read_file_owned("the CA key", p, 0, &out, &len, err, sizeof err), -EPERM);
    cr_assert(strstr(err, "chmod 600"), "%s", err);
    if (geteuid() != 0)
        return; /* only root can give a file away */
    cr_assert_eq(chmod(p, 0600), 0);
    cr_assert_eq(chown(p, 1, 1), 0);
    cr_assert_eq(secret_read_file_owned("the CA key", p, 0, &out, &len, err, sizeof err), -EPERM);
    cr_assert_null(out);
    cr_assert(strstr(err, "owned by uid 1") && strstr(err, "chown 0"), "%s", err);
    /* the readers that do not ask about the owner still take it */
    cr_assert_eq(secret_read_file_exact("the CA key", p, 0, &out, &len, err, sizeof err), 0, "%s",
                 err);
    secret_free(out, len);
}
