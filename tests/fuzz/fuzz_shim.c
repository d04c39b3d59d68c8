/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the parsers of the shim that read bytes from outside, the policy
 * fetch's HTTP response parser (what a server, or anything answering on its port, sends),
 * the profile file parser, and the host name check and CONNECT head of network mode proxy
 * (names come from the program, and from a map every process of the tree can write). Each
 * must accept or refuse with a reason, never crash; an accepted response must describe
 * itself consistently (a header length within the input, a status from 100 to 599), an
 * accepted name must hold only name characters, and a CONNECT head built from it must be
 * one request line of three tokens and CRLF-terminated header lines, ending at its only
 * blank line.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shim/decide.h"
#include "shim/dnsmap.h"
#include "shim/fetch.h"
#include "shim/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fetch_response r;
    char err[512] = "";
    int rc = fetch_parse_response((const char *)data, size, &r, err, sizeof err);
    if (rc == 0 && (r.header_len > size || r.status < 100 || r.status > 599))
        __builtin_trap();
    if (rc == -EPROTO && err[0] == '\0')
        __builtin_trap();
    if (rc != 0 && rc != -EPROTO && rc != -EAGAIN)
        __builtin_trap();

    static struct profile p;
    memset(&p, 0, sizeof p);
    err[0] = '\0';
    rc = profile_parse((const char *)data, size, &p, err, sizeof err);
    if (rc != 0 && err[0] == '\0')
        __builtin_trap();

    char name[512], low[DNSMAP_NAME_MAX + 1], head[1024];
    size_t nl = size < sizeof name - 1 ? size : sizeof name - 1;
    memcpy(name, data, nl);
    name[nl] = '\0';
    const char *why = NULL;
    (void)dnsmap_is_literal(name);
    if (dnsmap_name_check(name, low, sizeof low, &why) != 0) {
        if (!why)
            __builtin_trap();
        /* a refused name can never become a request either (a bracketed IPv6 literal is
         * no name, but a destination the head takes) */
        if (name[0] != '[' &&
            decide_connect_head(name, 443, "ck_k", "", head, sizeof head, &why) >= 0)
            __builtin_trap();
        return 0;
    }
    size_t ll = strlen(low);
    if (ll == 0 || ll > DNSMAP_NAME_MAX || low[0] == '.' || strstr(low, ".."))
        __builtin_trap();
    for (size_t i = 0; i < ll; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-_.", low[i]))
            __builtin_trap();
    uint16_t port = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 80;
    int n = decide_connect_head(low, port ? port : 1, "ck_abc", "", head, sizeof head - 1, &why);
    if (n <= 0)
        __builtin_trap(); /* every checked name fits the hook's buffer */
    head[n] = '\0';
    const char *eol = strstr(head, "\r\n"), *blank = strstr(head, "\r\n\r\n");
    if (!eol || !blank || blank + 4 != head + n || memchr(head, '\n', (size_t)(eol - head)))
        __builtin_trap();
    int spaces = 0;
    for (const char *c = head; c < eol; c++)
        spaces += *c == ' ';
    if (spaces != 2)
        __builtin_trap();
    for (const char *c = head; c < head + n; c++)
        if ((*c == '\n' && (c == head || c[-1] != '\r')) || (*c == '\r' && c[1] != '\n'))
            __builtin_trap();
    return 0;
}
