/* SPDX-License-Identifier: Apache-2.0 */
/* Array growth (see grow.h). */
#include "base/grow.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -EOVERFLOW;
        n *= 2;
    }
    if (elem && n > SIZE_MAX / elem)
        return -EOVERFLOW;
    void *nv = realloc(*v, n * elem);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = n;
    return 0;
}
