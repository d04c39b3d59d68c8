/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Glob matching with '*' and '?' for the names a policy lists (models, tools, programs,
 * hosts, environment variables). It lives in the base so that libcordon.so decides exec
 * rules without linking the policy compiler and cJSON.
 */
#include "base/glob.h"

#include <stddef.h>

static int same(char a, char b, int fold)
{
    if (fold) {
        if (a >= 'a' && a <= 'z')
            a = (char)(a - 'a' + 'A');
        if (b >= 'a' && b <= 'z')
            b = (char)(b - 'a' + 'A');
    }
    return a == b;
}

/* The one matcher: s is the n bytes at s (it need not end there), fold ignores ASCII case. */
static int match(const char *g, const char *s, size_t n, int fold)
{
    const char *star = NULL, *ss = NULL, *end = s + n;
    while (s < end) {
        if (*g == '?' || (*g && *g != '*' && same(*g, *s, fold))) {
            g++;
            s++;
        } else if (*g == '*') {
            star = g++;
            ss = s;
        } else if (star) {
            g = star + 1;
            s = ++ss;
        } else {
            return 0;
        }
    }
    while (*g == '*')
        g++;
    return *g == '\0';
}

int glob_match(const char *g, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return match(g, s, n, 0);
}

int glob_match_fold(const char *g, const char *s, size_t n)
{
    return match(g, s, n, 1);
}
