/* SPDX-License-Identifier: Apache-2.0 */
/* Array growth: items kept, capacity doubled, overflow refused without touching the array. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/grow.h"

Test(grow, keeps_items_and_doubles)
{
    int *v = NULL;
    size_t cap = 0;
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(GROW(&v, &cap, (size_t)i + 1), 0);
        v[i] = i;
    }
    cr_assert_eq(cap, 1024);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(v[i], i);
    cr_assert_eq(GROW(&v, &cap, 10), 0);
    cr_assert_eq(cap, 1024, "no shrink");
    free(v);
}

Test(grow, overflow_is_refused_and_the_array_kept)
{
    char *v = NULL;
    size_t cap = 0;
    cr_assert_eq(GROW(&v, &cap, 4), 0);
    char *before = v;
    cr_assert_eq(grow((void **)&v, &cap, SIZE_MAX, 1), -EOVERFLOW);
    cr_assert_eq(grow((void **)&v, &cap, SIZE_MAX / 4, 16), -EOVERFLOW);
    cr_assert_eq(v, before);
    cr_assert_eq(cap, 8);
    free(v);
}

Test(grow, errno_and_module_codes_stay_apart)
{
    cr_assert(err_is_errno(-EINVAL));
    cr_assert(err_is_errno(-EHWPOISON));
    cr_assert_not(err_is_errno(0));
    cr_assert_not(err_is_errno(ERR_BLOCK_DSSE - 1));
    cr_assert_not(err_is_errno(ERR_BLOCK_ENGINE - 99));
}
