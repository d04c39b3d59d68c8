/* SPDX-License-Identifier: Apache-2.0 */
/* The line iterator: every line, with and without a final newline, CR LF, empty lines. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/lines.h"

static void expect(const char *buf, size_t len, const char *const *want, size_t n)
{
    struct lines it;
    const char *l;
    size_t ll, i = 0;
    lines_init(&it, buf, len);
    while (lines_next(&it, &l, &ll)) {
        cr_assert_lt(i, n, "more lines than %zu", n);
        cr_assert_eq(ll, strlen(want[i]), "line %zu: length %zu, want %zu", i + 1, ll,
                     strlen(want[i]));
        cr_assert_eq(memcmp(l, want[i], ll), 0, "line %zu", i + 1);
        cr_assert_eq(it.number, i + 1);
        i++;
    }
    cr_assert_eq(i, n, "%zu lines, want %zu", i, n);
}

Test(lines, every_form)
{
    static const char *const a[] = {"one", "", "three"};
    expect("one\n\nthree\n", 11, a, 3);
    expect("one\n\nthree", 10, a, 3);
    expect("one\r\n\r\nthree\r\n", 14, a, 3);
    static const char *const none[] = {NULL};
    expect("", 0, none, 0);
    static const char *const empty[] = {""};
    expect("\n", 1, empty, 1);
}

Test(lines, a_nul_byte_is_part_of_the_line)
{
    static const char buf[] = {'a', '\0', 'b', '\n', 'c'};
    struct lines it;
    const char *l;
    size_t ll;
    lines_init(&it, buf, sizeof buf);
    cr_assert(lines_next(&it, &l, &ll));
    cr_assert_eq(ll, 3);
    cr_assert(lines_next(&it, &l, &ll));
    cr_assert_eq(ll, 1);
    cr_assert_not(lines_next(&it, &l, &ll));
}
