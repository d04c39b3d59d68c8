/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the judged egress tunnel's HTTP/1.1 parser (policy/server/httpreq.c) on
 * arbitrary bytes, as requests or (the first byte's top bit) as responses to a mix of GET and
 * HEAD requests, fed whole and again in pieces whose sizes the first byte chooses, and then
 * told the connection ended. Both feedings must give the same transcript (heads, body bytes, ends,
 * the refusal); every step stays within its input; a refusal has a reason and a status.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/server/httpreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
    unsigned char h[32]; /* a running digest of the transcript, cheap to compare */
    uint64_t events, body;
};

static void mix(struct out *o, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        o->h[i % 32] = (unsigned char)(o->h[i % 32] * 31 + b[i] + 1);
        o->h[(i + 7) % 32] ^= o->h[i % 32];
    }
}

static void run(const uint8_t *data, size_t size, size_t piece, int response, struct out *o)
{
    struct httpreq_limits lim = {
        .request_line = 512, .field_line = 256, .fields = 16, .head = 2048, .chunk = 4096};
    struct httpreq_parser *p = NULL;
    memset(o, 0, sizeof *o);
    if ((response ? httpreq_new_response(&lim, &p) : httpreq_new(&lim, &p)) != 0)
        return;
    for (int i = 0; response && i < 64; i++)
        if (httpreq_expect(p, i % 3 == 2) != 0)
            __builtin_trap();
    size_t at = 0;
    int rc = 0;
    while (rc == 0) {
        size_t n = size - at < piece ? size - at : piece;
        const char *buf = (const char *)data + at;
        size_t len = n;
        at += n;
        for (;;) {
            struct httpreq_step st;
            rc = httpreq_feed(p, buf, len, &st);
            if (rc != 0)
                break;
            if (st.used > len)
                __builtin_trap();
            if (st.event == HTTPREQ_BODY &&
                (st.len == 0 || st.data < buf || st.data + st.len > buf + len))
                __builtin_trap();
            buf += st.used;
            len -= st.used;
            if (st.event == HTTPREQ_MORE) {
                if (len)
                    __builtin_trap();
                break;
            }
            if (st.event != HTTPREQ_BODY) {
                /* body bytes come in pieces that depend on the feeding: counted, not mixed */
                o->events++;
                mix(o, &st.event, sizeof st.event);
            }
            const struct httpreq *r = httpreq_request(p);
            if (st.event == HTTPREQ_HEAD) {
                if (!r || (!response && (!r->method || !r->target || !r->path || !r->host)) ||
                    (response && (r->status < 100 || r->status > 599 || !r->reason_phrase)))
                    __builtin_trap();
                if (!response) {
                    mix(o, r->method, strlen(r->method));
                    mix(o, r->path, strlen(r->path));
                    mix(o, r->host, strlen(r->host));
                } else {
                    mix(o, &r->status, sizeof r->status);
                }
                for (size_t i = 0; i < r->n_fields; i++) {
                    mix(o, r->fields[i].name, strlen(r->fields[i].name));
                    mix(o, r->fields[i].value, strlen(r->fields[i].value));
                }
            } else if (st.event == HTTPREQ_BODY) {
                o->body += st.len;
            } else if (st.event == HTTPREQ_END) {
                if (!r)
                    __builtin_trap();
                mix(o, &o->body, sizeof o->body);
                for (size_t i = 0; i < r->n_trailers; i++)
                    mix(o, r->trailers[i].name, strlen(r->trailers[i].name));
            }
        }
        if (rc != 0) {
            int s = httpreq_status(p);
            const char *why = httpreq_reason(p);
            if (!why || !why[0] || s < 400 || s > 505)
                __builtin_trap();
            mix(o, &rc, sizeof rc);
            mix(o, why, strlen(why));
        }
        if (at == size)
            break;
    }
    if (rc == 0) {
        struct httpreq_step st;
        rc = httpreq_eof(p, &st);
        if (rc != 0 && !httpreq_reason(p)[0])
            __builtin_trap();
        mix(o, &rc, sizeof rc);
        mix(o, &st.event, sizeof st.event);
    }
    httpreq_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384)
        return 0;
    size_t piece = (size_t)(data[0] & 0x7f) % 17 + 1;
    int response = data[0] >> 7;
    struct out whole, parts;
    run(data + 1, size - 1, size, response, &whole);
    run(data + 1, size - 1, piece, response, &parts);
    if (memcmp(&whole, &parts, sizeof whole) != 0)
        __builtin_trap();
    return 0;
}
