/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: cordond's log line writer (policy/server/log.h) on hostile values. The
 * input is split at NUL bytes into msg and key/value strings. Whatever they hold, each form
 * must give exactly one line that ends with '\n' within the buffer, with no other newline,
 * no control character and no byte that is not UTF-8; and the text form's quoting must hold:
 * outside quotes only key=value tokens, inside them only escapes the reader knows.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/server/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        if (!k || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

static void check_line(const char *out, size_t n, size_t cap)
{
    if (n == 0 || n >= cap || out[n - 1] != '\n' || out[n] != '\0' || strlen(out) != n)
        __builtin_trap();
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c < 0x20 || c == 0x7f)
            __builtin_trap(); /* a control character, a newline above all, got through */
    }
    if (!utf8_ok((const unsigned char *)out, n))
        __builtin_trap();
}

/* The text form: key=value tokens separated by one space, quoted values escaped. */
static void check_text(const char *out, size_t n)
{
    size_t i = 0;
    while (i + 1 < n) {
        size_t k = i;
        while (out[i] == '_' || (out[i] >= 'a' && out[i] <= 'z') ||
               (out[i] >= '0' && out[i] <= '9'))
            i++;
        if (i == k || out[i] != '=')
            __builtin_trap();
        i++;
        if (out[i] == '"') {
            for (i++; out[i] != '"'; i++) {
                if (out[i] == '\n')
                    __builtin_trap(); /* the quote never closed */
                if (out[i] == '\\') {
                    char e = out[++i];
                    if (e == 'x')
                        i += 2;
                    else if (e != '"' && e != '\\' && e != 'n' && e != 'r' && e != 't')
                        __builtin_trap();
                }
            }
            i++;
        } else {
            size_t v = i;
            while (out[i] != ' ' && out[i] != '\n') {
                if (out[i] == '"' || out[i] == '=' || out[i] == '\\')
                    __builtin_trap();
                i++;
            }
            if (i == v)
                __builtin_trap(); /* an empty value must be quoted */
        }
        if (out[i] == ' ')
            i++;
        else if (out[i] != '\n')
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[1 << 16];
    static char out[LOG_LINE_MAX];
    if (size >= sizeof buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *parts[33];
    size_t np = 0;
    for (size_t i = 0; np < 33;) {
        parts[np++] = buf + i;
        const char *z = memchr(buf + i, '\0', size + 1 - i);
        i = (size_t)(z - buf) + 1;
        if (i > size)
            break;
    }
    const char *msg = parts[0];
    size_t nkv = (np - 1) / 2;
    /* a small buffer as well as the real one: cutting must keep the line whole */
    size_t caps[] = {64, 200, sizeof out};
    for (int f = 0; f < 2; f++)
        for (size_t c = 0; c < 3; c++) {
            size_t n = log_format((enum log_form)f, (size & 1) ? "2026-01-01T00:00:00.000Z" : NULL,
                                  (enum log_level)(size % 5), msg, parts + 1, nkv, out, caps[c]);
            check_line(out, n, caps[c]);
            if (f == LOG_FORM_TEXT)
                check_text(out, n);
            else if (out[0] != '{' || out[n - 2] != '}')
                __builtin_trap();
        }
    return 0;
}
