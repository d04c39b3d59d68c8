/* SPDX-License-Identifier: Apache-2.0 */
/* The line iterator (see lines.h). */
#include "base/lines.h"

#include <string.h>

void lines_init(struct lines *it, const char *buf, size_t len)
{
    it->p = buf;
    it->end = buf + len;
    it->number = 0;
}

int lines_next(struct lines *it, const char **line, size_t *len)
{
    if (it->p >= it->end)
        return 0;
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    const char *stop = nl ? nl : it->end;
    *line = it->p;
    *len = (size_t)(stop - it->p);
    if (*len && (*line)[*len - 1] == '\r')
        (*len)--;
    it->p = nl ? nl + 1 : it->end;
    it->number++;
    return 1;
}
