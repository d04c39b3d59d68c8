/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ready file (policy/server/ready.h): what cordond writes is what the reader takes back;
 * malformed, oversized and hostile texts are refused with the line named; the file is written
 * atomically, mode 0600, never through a symlink.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/server/ready.h"

static char err[512];

static int parse(const char *text, struct ready *r)
{
    err[0] = '\0';
    return ready_parse(text, strlen(text), r, err, sizeof err);
}

static void full(struct ready *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->http[0], sizeof r->http[0], "127.0.0.1:41234");
    snprintf(r->http[1], sizeof r->http[1], "[::1]:41236");
    r->n_http = 2;
    snprintf(r->tunnel, sizeof r->tunnel, "127.0.0.1:41235");
    snprintf(r->admin, sizeof r->admin, "unix:/run/cordond/admin.sock");
    snprintf(r->events, sizeof r->events, "unix:/var/lib/cordond/events.sock");
}

Test(ready, what_is_written_is_read_back)
{
    struct ready r, back;
    char text[READY_MAX_BYTES + 1];
    full(&r);
    cr_assert_eq(ready_format(&r, text, sizeof text), 0);
    cr_assert_str_eq(text, "http=127.0.0.1:41234\nhttp=[::1]:41236\ntunnel=127.0.0.1:41235\n"
                           "admin=unix:/run/cordond/admin.sock\n"
                           "events=unix:/var/lib/cordond/events.sock\n");
    cr_assert_eq(parse(text, &back), 0, "%s", err);
    cr_assert_eq(memcmp(&r, &back, sizeof r), 0);

    /* admin and events are optional */
    memset(r.admin, 0, sizeof r.admin);
    memset(r.events, 0, sizeof r.events);
    r.n_http = 1;
    memset(r.http[1], 0, sizeof r.http[1]);
    cr_assert_eq(ready_format(&r, text, sizeof text), 0);
    cr_assert_str_eq(text, "http=127.0.0.1:41234\ntunnel=127.0.0.1:41235\n");
    cr_assert_eq(parse(text, &back), 0, "%s", err);
    cr_assert_eq(memcmp(&r, &back, sizeof r), 0);
}

Test(ready, a_unix_listener_with_spaces_and_utf8_round_trips)
{
    struct ready r, back;
    char text[READY_MAX_BYTES + 1];
    memset(&r, 0, sizeof r);
    snprintf(r.http[0], sizeof r.http[0], "unix:/tmp/my dir/\xc3\xa9\tsock");
    r.n_http = 1;
    snprintf(r.tunnel, sizeof r.tunnel, "127.0.0.1:1");
    cr_assert_eq(ready_format(&r, text, sizeof text), 0);
    cr_assert_eq(parse(text, &back), 0, "%s", err);
    cr_assert_str_eq(back.http[0], r.http[0]);
}

Test(ready, the_writer_refuses_what_the_reader_would)
{
    struct ready r;
    char text[READY_MAX_BYTES + 1];
    full(&r);
    /* a listen path with a newline would forge a line */
    snprintf(r.http[1], sizeof r.http[1], "unix:/tmp/x\ntunnel=evil:1");
    cr_assert_eq(ready_format(&r, text, sizeof text), -EINVAL);
    cr_assert_str_eq(text, "");
    full(&r);
    r.tunnel[0] = '\0';
    cr_assert_eq(ready_format(&r, text, sizeof text), -EINVAL, "no tunnel");
    full(&r);
    r.n_http = 0;
    cr_assert_eq(ready_format(&r, text, sizeof text), -EINVAL, "no http");
    full(&r);
    r.n_http = READY_MAX_HTTP + 1;
    cr_assert_eq(ready_format(&r, text, sizeof text), -EINVAL, "too many http");
    full(&r);
    snprintf(r.events, sizeof r.events, "127.0.0.1:9");
    cr_assert_eq(ready_format(&r, text, sizeof text), -EINVAL, "events is a unix socket");
    full(&r);
    cr_assert_eq(ready_format(&r, text, 20), -ENOSPC);
    cr_assert_str_eq(text, "");
}

Test(ready, malformed_text_is_refused_naming_the_line)
{
    struct ready r;
    cr_assert_eq(parse("", &r), -EINVAL);
    cr_assert(strstr(err, "no http"), "%s", err);
    cr_assert_eq(parse("http=127.0.0.1:1\n", &r), -EINVAL);
    cr_assert(strstr(err, "no tunnel"), "%s", err);
    cr_assert_eq(parse("http=127.0.0.1:1\ntunnel=127.0.0.1:2", &r), -EINVAL);
    cr_assert(strstr(err, "line 2: no newline"), "%s", err);
    cr_assert_eq(parse("http=127.0.0.1:1\n\ntunnel=127.0.0.1:2\n", &r), -EINVAL);
    cr_assert(strstr(err, "line 2: expected KEY=VALUE"), "%s", err);
    cr_assert_eq(parse("http 127.0.0.1:1\ntunnel=127.0.0.1:2\n", &r), -EINVAL);
    cr_assert(strstr(err, "line 1: expected KEY=VALUE"), "%s", err);
    cr_assert_eq(parse("=x\nhttp=127.0.0.1:1\ntunnel=127.0.0.1:2\n", &r), -EINVAL);
    cr_assert_eq(parse("HTTP=127.0.0.1:1\ntunnel=127.0.0.1:2\n", &r), -EINVAL, "upper case");
    cr_assert_eq(parse("http=\ntunnel=127.0.0.1:2\n", &r), -EINVAL);
    cr_assert(strstr(err, "line 1: the value is empty"), "%s", err);
    cr_assert_eq(parse("http=127.0.0.1:1\ntunnel=127.0.0.1:2\ntunnel=127.0.0.1:3\n", &r), -EINVAL);
    cr_assert(strstr(err, "line 3: tunnel appears twice"), "%s", err);
    cr_assert_eq(parse("http=127.0.0.1:1\ntunnel=127.0.0.1:2\nevents=/tmp/e.sock\n", &r), -EINVAL);
    cr_assert(strstr(err, "events is not unix:/PATH"), "%s", err);
    /* on failure nothing half-parsed is left */
    cr_assert_eq(r.n_http, 0);
    cr_assert_str_eq(r.http[0], "");
}

Test(ready, hostile_text_is_refused)
{
    struct ready r;
    /* a control character in a value (an escape sequence for a terminal, a CR) */
    cr_assert_eq(parse("http=127.0.0.1:1\x1b[2J\ntunnel=127.0.0.1:2\n", &r), -EINVAL);
    cr_assert_eq(parse("http=127.0.0.1:1\r\ntunnel=127.0.0.1:2\r\n", &r), -EINVAL);
    cr_assert_eq(parse("http=127.0.0.1:1\x7f\ntunnel=127.0.0.1:2\n", &r), -EINVAL);
    /* a NUL byte, which would hide the rest from a C string reader */
    static const char nul[] = "http=127.0.0.1:1\n\0tunnel=evil:2\ntunnel=127.0.0.1:2\n";
    cr_assert_eq(ready_parse(nul, sizeof nul - 1, &r, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "NUL"), "%s", err);
    /* a value one byte too long, and the longest that fits */
    char text[2 * READY_ADDR_MAX + 64];
    char v[READY_ADDR_MAX + 1];
    memset(v, 'a', READY_ADDR_MAX);
    v[READY_ADDR_MAX] = '\0';
    snprintf(text, sizeof text, "http=%s\ntunnel=127.0.0.1:2\n", v);
    cr_assert_eq(parse(text, &r), -EINVAL);
    v[READY_ADDR_MAX - 1] = '\0';
    snprintf(text, sizeof text, "http=%s\ntunnel=127.0.0.1:2\n", v);
    cr_assert_eq(parse(text, &r), 0, "%s", err);
    cr_assert_eq(strlen(r.http[0]), READY_ADDR_MAX - 1);
    /* a key over 32 characters */
    cr_assert_eq(parse("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1\nhttp=127.0.0.1:1\ntunnel=1:2\n", &r),
                 -EINVAL);
    /* no NUL terminator needed: len bounds the text */
    cr_assert_eq(ready_parse("http=127.0.0.1:1\ntunnel=127.0.0.1:2\nXXXX", 36, &r, err, sizeof err),
                 0, "%s", err);
}

Test(ready, too_many_lines_and_oversized_text_are_refused)
{
    struct ready r;
    size_t cap = READY_MAX_BYTES * 2, at = 0;
    char *text = calloc(1, cap);
    cr_assert_not_null(text);
    for (int i = 0; i <= READY_MAX_HTTP; i++)
        at += (size_t)snprintf(text + at, cap - at, "http=127.0.0.1:%d\n", 1000 + i);
    at += (size_t)snprintf(text + at, cap - at, "tunnel=127.0.0.1:2\n");
    cr_assert_eq(parse(text, &r), -EINVAL);
    cr_assert(strstr(err, "more than 8 http"), "%s", err);
    /* READY_MAX_BYTES + 1 bytes of otherwise well-formed lines */
    at = (size_t)snprintf(text, cap, "http=127.0.0.1:1\ntunnel=127.0.0.1:2\n");
    while (at < READY_MAX_BYTES + 1)
        at += (size_t)snprintf(text + at, cap - at, "pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
    cr_assert_eq(ready_parse(text, READY_MAX_BYTES + 1, &r, err, sizeof err), -EFBIG);
    free(text);
}

Test(ready, unknown_keys_of_a_newer_server_are_skipped)
{
    struct ready r;
    cr_assert_eq(parse("http=127.0.0.1:1\nmodel_proxy=127.0.0.1:9\ntunnel=127.0.0.1:2\n", &r), 0,
                 "%s", err);
    cr_assert_eq(r.n_http, 1);
    cr_assert_str_eq(r.tunnel, "127.0.0.1:2");
}

static char dir[64], path[128], tmp[140];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/cordon-ready-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ready", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
}

static void teardown(void)
{
    unlink(path);
    unlink(tmp);
    rmdir(dir);
}

Test(ready_file, written_atomically_0600_and_read_back, .init = setup, .fini = teardown)
{
    struct ready r, back;
    full(&r);
    cr_assert_eq(ready_read(path, &back, err, sizeof err), -ENOENT);
    cr_assert(strstr(err, path), "%s", err);
    /* a file left behind with a wide mode is replaced, and the new one is private */
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "old\n", 4), 4);
    close(fd);
    chmod(path, 0644);
    fd = open(tmp, O_WRONLY | O_CREAT, 0666);
    cr_assert(fd >= 0);
    close(fd);
    chmod(tmp, 0666);
    cr_assert_eq(ready_write(path, &r, err, sizeof err), 0, "%s", err);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_neq(access(tmp, F_OK), 0, "the temporary file is renamed, not left");
    cr_assert_eq(ready_read(path, &back, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(&r, &back, sizeof r), 0);
}

Test(ready_file, never_through_a_symlink, .init = setup, .fini = teardown)
{
    struct ready r, back;
    char victim[160];
    full(&r);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    cr_assert_eq(symlink(victim, tmp), 0);
    cr_assert_eq(ready_write(path, &r, err, sizeof err), -ELOOP);
    cr_assert(strstr(err, "cannot write the ready file"), "%s", err);
    cr_assert_neq(access(victim, F_OK), 0, "nothing written where the link points");
    unlink(tmp);
    /* the reader does not follow one either */
    cr_assert_eq(ready_write(victim, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(symlink(victim, path), 0);
    cr_assert_eq(ready_read(path, &back, err, sizeof err), -ELOOP);
    unlink(victim);
}

Test(ready_file, an_oversized_or_malformed_file_is_refused, .init = setup, .fini = teardown)
{
    struct ready back;
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("http=127.0.0.1:1\ntunnel=127.0.0.1:2\n", f);
    for (int i = 0; i < READY_MAX_BYTES; i++)
        fputc('#', f);
    fclose(f);
    cr_assert_eq(ready_read(path, &back, err, sizeof err), -EFBIG);
    f = fopen(path, "w");
    fputs("http=127.0.0.1:1\n", f);
    fclose(f);
    cr_assert_eq(ready_read(path, &back, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "no tunnel"), "%s", err);
}
