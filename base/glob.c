/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Glob matching with '*' and '?' for the names a policy lists (models, tools, programs,
 * hosts). It lives in the base so that libcordon.so decides exec rules without linking the
 * policy compiler and cJSON.
 */
#include "base/glob.h"

#include <stddef.h>

int glob_match(const char *g, const char *s)
{
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*g == '?' || *g == *s) {
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
