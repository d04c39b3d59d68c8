/* SPDX-License-Identifier: Apache-2.0 */
/* Diagnostics: bounded, counted, and safe to print whatever the input held. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/diag.h"

Test(diag, formats_path_and_message)
{
    struct diag d;
    char line[512];
    diag_init(&d);
    diag_add(&d, "sandbox.network.mode", "expected one of %s, got %s", "none|proxy|host",
             "\"proxi\"");
    diag_add(&d, "", "whole document");
    cr_assert_eq(diag_total(&d), 2);
    diag_format(&d, 0, line, sizeof line);
    cr_assert_str_eq(line, "sandbox.network.mode: expected one of none|proxy|host, got \"proxi\"");
    diag_format(&d, 1, line, sizeof line);
    cr_assert_str_eq(line, "whole document");
}

Test(diag, overflow_is_counted_not_stored)
{
    struct diag d;
    diag_init(&d);
    for (int i = 0; i < DIAG_MAX + 25; i++)
        diag_add(&d, "x", "error %d", i);
    cr_assert_eq(d.count, DIAG_MAX);
    cr_assert_eq(d.dropped, 25);
    cr_assert_eq(diag_total(&d), DIAG_MAX + 25);
}

Test(diag, quote_escapes_and_truncates)
{
    char q[128];
    diag_quote("a\"b\\c\x1b[31m\n", q, sizeof q);
    cr_assert_str_eq(q, "\"a\\\"b\\\\c\\x1b[31m\\x0a\"");
    char longs[200];
    memset(longs, 'z', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    diag_quote(longs, q, sizeof q);
    cr_assert(strstr(q, "...\""), "long value not cut: %s", q);
    cr_assert_leq(strlen(q), 66);
}

Test(diag, quote_respects_tiny_buffers)
{
    char q[10];
    diag_quote("abcdefghijklmnop", q, sizeof q);
    cr_assert_lt(strlen(q), sizeof q);
}

Test(diag, paths_quote_odd_keys)
{
    char p[DIAG_PATH_MAX];
    diag_path_key(p, "", "api");
    cr_assert_str_eq(p, "api");
    diag_path_key(p, "api", "models");
    cr_assert_str_eq(p, "api.models");
    diag_path_key(p, "api.data", "pii.email");
    cr_assert_str_eq(p, "api.data[\"pii.email\"]");
    diag_path_index(p, "api.models", 3);
    cr_assert_str_eq(p, "api.models[3]");
}

Test(diag, long_messages_are_cut_not_overflowed)
{
    struct diag d;
    char big[2000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    diag_init(&d);
    diag_add(&d, big, "%s", big);
    cr_assert_eq(strlen(d.e[0].path), DIAG_PATH_MAX - 1);
    cr_assert_eq(strlen(d.e[0].msg), DIAG_MSG_MAX - 1);
}
