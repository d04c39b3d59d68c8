/* SPDX-License-Identifier: Apache-2.0 */
/* The event-stream parser: WHATWG fields and line ends, every split of the input giving the
 * same events, raw bytes adding up to the input, and the line and event bounds. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/engine/engine.h"
#include "policy/engine/sse.h"

struct got {
    char log[8192];
    size_t len;
    char raw[8192];
    size_t raw_len;
    int n;
};

static int record(void *ud, const struct sse_event *ev)
{
    struct got *g = ud;
    memcpy(g->raw + g->raw_len, ev->raw, ev->raw_len);
    g->raw_len += ev->raw_len;
    if (ev->dispatch) {
        int n = snprintf(g->log + g->len, sizeof g->log - g->len, "[%.*s|%.*s|%.*s|%ld%s]",
                         (int)ev->event_len, ev->event, (int)ev->data_len, ev->data,
                         (int)ev->id_len, ev->id, ev->retry, ev->complete ? "" : "|partial");
        g->len += (size_t)n;
        g->n++;
    }
    return 0;
}

static void run(const char *in, size_t len, size_t max_line, struct got *g, size_t split)
{
    struct sse_parser *p;
    memset(g, 0, sizeof *g);
    cr_assert_eq(sse_new(max_line, &p), 0);
    if (split == 0) {
        cr_assert_eq(sse_feed(p, in, len, record, g), 0);
    } else {
        /* one byte at a time after the split point, to hit every state */
        cr_assert_eq(sse_feed(p, in, split, record, g), 0);
        for (size_t i = split; i < len; i++)
            cr_assert_eq(sse_feed(p, in + i, 1, record, g), 0);
    }
    cr_assert_eq(sse_finish(p, record, g), 0);
    sse_free(p);
}

static const char k_stream[] = "\xEF\xBB\xBF: a comment first\r\n"
                               "event: message_start\n"
                               "data: {\"a\":1}\n\n"
                               "data: one\r\ndata: two\r\n\r\n"
                               "id: 7\rretry: 1500\rdata:no-space\r\r"
                               "event: ping\ndata\n\n"
                               ": keep-alive\n\n"
                               "data: [DONE]\n\n"
                               "field-unknown: x\nevent: x\n\n"
                               "data: tail without blank line";

static const char k_expect[] =
    "[message_start|{\"a\":1}||-1][message|one\ntwo||-1][message|no-space|7|1500]"
    "[ping||7|1500][message|[DONE]|7|1500][message|tail without blank line|7|1500|partial]";

Test(sse, fields_line_ends_and_comments)
{
    struct got g;
    run(k_stream, sizeof k_stream - 1, 0, &g, 0);
    cr_assert_str_eq(g.log, k_expect);
    cr_assert_eq(g.raw_len, sizeof k_stream - 1);
    cr_assert_eq(memcmp(g.raw, k_stream, g.raw_len), 0, "raw bytes add up to the input");
}

Test(sse, every_split_gives_the_same_events_and_bytes)
{
    for (size_t split = 1; split < sizeof k_stream - 1; split++) {
        struct got g;
        run(k_stream, sizeof k_stream - 1, 0, &g, split);
        cr_assert_str_eq(g.log, k_expect, "split at %zu", split);
        cr_assert_eq(g.raw_len, sizeof k_stream - 1, "split at %zu", split);
        cr_assert_eq(memcmp(g.raw, k_stream, g.raw_len), 0, "split at %zu", split);
    }
}

Test(sse, crlf_split_between_cr_and_lf_stays_in_its_block)
{
    struct sse_parser *p;
    struct got g = {0};
    cr_assert_eq(sse_new(0, &p), 0);
    cr_assert_eq(sse_feed(p, "data: x\r\n\r", 10, record, &g), 0);
    cr_assert_eq(g.n, 0, "the blank line's CR waits for its LF");
    cr_assert_eq(sse_feed(p, "\ndata: y\n\n", 10, record, &g), 0);
    cr_assert_eq(g.n, 2);
    cr_assert_eq(g.raw_len, 20);
    cr_assert_eq(memcmp(g.raw, "data: x\r\n\r\n", 11), 0);
    sse_free(p);
}

Test(sse, a_line_over_the_limit_is_refused_and_stays_refused)
{
    struct sse_parser *p;
    struct got g = {0};
    cr_assert_eq(sse_new(64, &p), 0);
    char line[200];
    memset(line, 'a', sizeof line);
    memcpy(line, "data: ", 6);
    cr_assert_eq(sse_feed(p, line, 60, record, &g), 0);
    cr_assert_eq(sse_feed(p, line + 60, 10, record, &g), ENGINE_ERR_SSE_LINE);
    cr_assert_eq(sse_feed(p, "\n\n", 2, record, &g), ENGINE_ERR_SSE_LINE);
    cr_assert_eq(sse_finish(p, record, &g), ENGINE_ERR_SSE_LINE);
    cr_assert_str_eq(engine_strerror(ENGINE_ERR_SSE_LINE),
                     "an event-stream line is longer than the line limit");
    sse_free(p);
}

Test(sse, an_event_of_many_short_lines_is_bounded_too)
{
    struct sse_parser *p;
    struct got g = {0};
    cr_assert_eq(sse_new(64, &p), 0);
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++)
        rc = sse_feed(p, "data: 0123456789\n", 17, record, &g);
    cr_assert_eq(rc, ENGINE_ERR_SSE_EVENT);
    sse_free(p);
}

Test(sse, a_line_exactly_at_the_limit_passes)
{
    struct sse_parser *p;
    struct got g = {0};
    cr_assert_eq(sse_new(16, &p), 0);
    cr_assert_eq(sse_feed(p, "data: 0123456789\n\n", 18, record, &g), 0);
    cr_assert_eq(g.n, 1);
    sse_free(p);
}

static int stop(void *ud, const struct sse_event *ev)
{
    (void)ud;
    (void)ev;
    return 5;
}

Test(sse, a_callback_stop_is_returned)
{
    struct sse_parser *p;
    cr_assert_eq(sse_new(0, &p), 0);
    cr_assert_eq(sse_feed(p, "data: a\n\ndata: b\n\n", 18, stop, NULL), 5);
    sse_free(p);
}

Test(sse, nul_bytes_and_binary_do_not_break_the_bounds)
{
    static const char in[] = "data: a\0b\n\nid: x\0y\ndata: z\n\n";
    struct got g;
    run(in, sizeof in - 1, 0, &g, 0);
    cr_assert_eq(g.n, 2);
    cr_assert_eq(g.raw_len, sizeof in - 1);
    cr_assert(strstr(g.log, "[message|z||-1]") != NULL, "an id with NUL is ignored: %s", g.log);
}

static int empty_data(void *ud, const struct sse_event *ev)
{
    int *n = ud;
    if ((*n)++ == 1)
        cr_assert_eq(ev->data[0], '\0', "a block without data has empty, terminated data");
    return 0;
}

Test(sse, a_block_without_data_after_one_with_data_has_empty_data)
{
    struct sse_parser *p;
    int n = 0;
    cr_assert_eq(sse_new(0, &p), 0);
    cr_assert_eq(sse_feed(p, "data: abc\n\nevent: x\n\n", 21, empty_data, &n), 0);
    cr_assert_eq(n, 2);
    sse_free(p);
}
