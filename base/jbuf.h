/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bounded JSON text under construction. The caller owns the memory; nothing is allocated,
 * so it may be used inside a hook or a signal handler. A piece that does not fit sets
 * overflow and is not written, and every later write is refused too; the text may then end
 * in the middle of a value, so check overflow before using p, and never send a text that
 * overflowed.
 *
 *     char mem[512];
 *     struct jbuf b;
 *     jbuf_init(&b, mem, sizeof mem);
 *     jbuf_raw(&b, "{\"path\":");
 *     jbuf_str(&b, path, 0);
 *     jbuf_raw(&b, "}");
 */
#ifndef CORDON_BASE_JBUF_H
#define CORDON_BASE_JBUF_H

#include <stddef.h>
#include <stdint.h>

struct jbuf {
    char *p;      /* the text, NUL-terminated */
    size_t len;   /* bytes in p, the NUL excluded */
    size_t cap;   /* size of the memory */
    int overflow; /* 1 once something did not fit */
};

void jbuf_init(struct jbuf *b, char *mem, size_t cap);
/* Bytes as they are (JSON punctuation, keys the caller wrote). */
void jbuf_raw(struct jbuf *b, const char *s);
/* A JSON string: quotes, backslashes and control characters escaped; cut at max bytes with
 * "..." (max 0: no limit). NULL writes "". */
void jbuf_str(struct jbuf *b, const char *s, size_t max);
void jbuf_u64(struct jbuf *b, uint64_t v);
void jbuf_i64(struct jbuf *b, int64_t v);

/* An object member's key: a comma first unless an object or array was just opened, then
 * "key": (escaped like jbuf_str). The value follows with jbuf_str, jbuf_u64, ... */
void jbuf_key(struct jbuf *b, const char *key);
/* true or false. */
void jbuf_bool(struct jbuf *b, int v);

#endif
