/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel's audit records as cordond reads them off the netlink socket (kaudit.h): the
 * parser on one record, and the mapper on a stream of them. The input is a series of records,
 * each "TYPE SPACE TEXT" up to a newline (TYPE decimal; a bad TYPE is fed as 1423), so seeds
 * are readable text. A root is noted for pid 100 so that attribution paths run too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/server/kaudit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int emit(void *ud, const char *kind, const char *agent, const char *fields)
{
    (void)ud;
    /* what the sink gets must be a NUL-terminated text */
    volatile size_t n = strlen(kind) + strlen(agent) + strlen(fields);
    return n % 7 == 0 ? -1 : 0; /* and a write that fails now and then changes nothing else */
}

static pid_t parent(void *ud, pid_t pid)
{
    (void)ud;
    return pid > 100 ? pid - 1 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kaudit_rec r;
    (void)kaudit_parse(1423, (const char *)data, size, &r);

    const struct kaudit_sink s = {.emit = emit, .parent = parent};
    struct kaudit *k;
    if (kaudit_new(&s, &k) != 0)
        return 0;
    kaudit_root(k, 100, "fuzz", "0123456789abcdef0123456789abcdef");
    const char *p = (const char *)data, *end = p + size;
    int64_t now = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        int type = 0;
        const char *q = p;
        while (q < line_end && *q >= '0' && *q <= '9' && type < 100000)
            type = type * 10 + (*q++ - '0');
        if (q < line_end && *q == ' ')
            q++;
        if (type == 0)
            type = 1423;
        (void)kaudit_feed(k, type, q, (size_t)(line_end - q), now);
        now += 100;
        if ((now / 100) % 7 == 0)
            kaudit_tick(k, now);
        p = nl ? nl + 1 : end;
    }
    kaudit_flush(k);
    kaudit_free(k);
    return 0;
}
