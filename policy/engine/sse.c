/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server-sent events, parsed incrementally under a byte bound (sse.h). The current block's
 * raw bytes are kept whole until its blank line, because the proxy forwards an event it
 * does not change as exactly those bytes; the fields are parsed line by line as lines end.
 * A CR ends a line at once by the standard, but the parser waits for the next byte before
 * acting on it, so that the LF of a CRLF split across two reads stays in the block it ends.
 */
#include "policy/engine/sse.h"
#include "policy/engine/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t len, cap;
};

struct sse_parser {
    size_t max_line;
    struct buf raw;    /* the current block */
    size_t line_start; /* offset in raw of the current line */
    size_t line_end;   /* where the pending line's content ends (its terminator excluded) */
    int pending_cr;    /* a CR ended a line; an LF next belongs to it */
    int first_line;    /* a UTF-8 BOM may open the stream */
    struct buf data, type, id;
    int has_data;
    long retry;
    int err;
};

static int buf_put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return -ENOMEM;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int sse_new(size_t max_line, struct sse_parser **out)
{
    struct sse_parser *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->max_line = max_line ? max_line : ENGINE_DEFAULT_SSE_LINE;
    p->first_line = 1;
    p->retry = -1;
    if (buf_put(&p->id, "", 0) || buf_put(&p->raw, "", 0)) {
        sse_free(p);
        return -ENOMEM;
    }
    *out = p;
    return 0;
}

void sse_free(struct sse_parser *p)
{
    if (!p)
        return;
    free(p->raw.p);
    free(p->data.p);
    free(p->type.p);
    free(p->id.p);
    free(p);
}

static int hand_over(struct sse_parser *p, int complete, sse_block_fn cb, void *ud)
{
    struct sse_event ev = {0};
    ev.raw = p->raw.p;
    ev.raw_len = p->raw.len;
    ev.complete = complete;
    ev.dispatch = p->has_data;
    if (ev.dispatch && p->data.len && p->data.p[p->data.len - 1] == '\n')
        p->data.p[--p->data.len] = '\0';
    if (p->data.p)
        p->data.p[p->data.len] = '\0'; /* also when the block had no data line */
    ev.data = p->data.p ? p->data.p : "";
    ev.data_len = p->data.len;
    if (p->type.len) {
        ev.event = p->type.p;
        ev.event_len = p->type.len;
    } else {
        ev.event = "message";
        ev.event_len = 7;
    }
    ev.id = p->id.p;
    ev.id_len = p->id.len;
    ev.retry = p->retry;
    int rc = cb(ud, &ev);
    p->raw.len = 0;
    p->line_start = 0;
    p->data.len = 0;
    p->type.len = 0;
    p->has_data = 0;
    return rc;
}

static int field(struct sse_parser *p, const char *line, size_t n)
{
    if (p->first_line) {
        p->first_line = 0;
        if (n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            n -= 3;
        }
    }
    if (n == 0 || line[0] == ':')
        return 0; /* a BOM alone, or a comment */
    const char *colon = memchr(line, ':', n);
    size_t nlen = colon ? (size_t)(colon - line) : n;
    const char *v = colon ? colon + 1 : line + n;
    size_t vlen = colon ? n - nlen - 1 : 0;
    if (vlen && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (nlen == 4 && memcmp(line, "data", 4) == 0) {
        p->has_data = 1;
        if (buf_put(&p->data, v, vlen) || buf_put(&p->data, "\n", 1))
            return -ENOMEM;
    } else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
        p->type.len = 0;
        if (buf_put(&p->type, v, vlen))
            return -ENOMEM;
    } else if (nlen == 2 && memcmp(line, "id", 2) == 0) {
        if (!memchr(v, '\0', vlen)) {
            p->id.len = 0;
            if (buf_put(&p->id, v, vlen))
                return -ENOMEM;
        }
    } else if (nlen == 5 && memcmp(line, "retry", 5) == 0) {
        long r = 0;
        size_t i;
        for (i = 0; i < vlen && v[i] >= '0' && v[i] <= '9'; i++)
            r = r > 100000000L ? r : r * 10 + (v[i] - '0');
        if (vlen && i == vlen)
            p->retry = r;
    }
    return 0; /* other fields are ignored, as the standard says */
}

/* The line [line_start, line_end) has ended, its terminator already in raw. */
static int end_line(struct sse_parser *p, sse_block_fn cb, void *ud)
{
    size_t n = p->line_end - p->line_start;
    if (n == 0) {
        p->first_line = 0;
        return hand_over(p, 1, cb, ud);
    }
    int rc = field(p, p->raw.p + p->line_start, n);
    p->line_start = p->raw.len;
    return rc;
}

static int fail(struct sse_parser *p, int rc)
{
    p->err = rc;
    return rc;
}

int sse_feed(struct sse_parser *p, const char *buf, size_t len, sse_block_fn cb, void *ud)
{
    if (p->err)
        return p->err;
    size_t i = 0;
    int rc;
    while (i < len) {
        if (p->pending_cr) {
            p->pending_cr = 0;
            if (buf[i] == '\n') {
                if ((rc = buf_put(&p->raw, "\n", 1)) != 0)
                    return fail(p, rc);
                i++;
            }
            if ((rc = end_line(p, cb, ud)) != 0)
                return rc < 0 ? fail(p, rc) : rc;
            continue;
        }
        size_t j = i;
        while (j < len && buf[j] != '\n' && buf[j] != '\r')
            j++;
        if (p->raw.len - p->line_start + (j - i) > p->max_line)
            return fail(p, ENGINE_ERR_SSE_LINE);
        if (p->raw.len + (j - i) + 2 > 4 * p->max_line)
            return fail(p, ENGINE_ERR_SSE_EVENT);
        if ((rc = buf_put(&p->raw, buf + i, j - i)) != 0)
            return fail(p, rc);
        i = j;
        if (j == len)
            break;
        p->line_end = p->raw.len;
        if ((rc = buf_put(&p->raw, buf + j, 1)) != 0)
            return fail(p, rc);
        i++;
        if (buf[j] == '\r') {
            p->pending_cr = 1;
            continue;
        }
        if ((rc = end_line(p, cb, ud)) != 0)
            return rc < 0 ? fail(p, rc) : rc;
    }
    return 0;
}

int sse_finish(struct sse_parser *p, sse_block_fn cb, void *ud)
{
    if (p->err)
        return p->err;
    int rc;
    if (p->pending_cr) {
        p->pending_cr = 0;
        if ((rc = end_line(p, cb, ud)) != 0)
            return rc < 0 ? fail(p, rc) : rc;
    }
    if (p->raw.len > p->line_start) {
        p->line_end = p->raw.len;
        if ((rc = field(p, p->raw.p + p->line_start, p->line_end - p->line_start)) != 0)
            return fail(p, rc);
        p->line_start = p->raw.len;
    }
    if (p->raw.len)
        return hand_over(p, 0, cb, ud);
    return 0;
}
