/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CONNECT request heads (see connect.h). Strict on purpose: one request line of three tokens
 * separated by single spaces, a host of letters, digits, dots, dashes and underscores or a
 * bracketed IPv6 literal, a decimal port, and "Name: value" header lines. Anything else is a 400
 * that names what was wrong.
 */
#include "policy/server/connect.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Letters, digits, '-', '_' and '.' (docs/POLICY.md section 7 allows '_' in names), no
 * empty label: the characters a policy's names are made of. */
static int valid_host(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == '.' && (i == 0 || h[i - 1] == '.' || i == n - 1))
            return 0;
        if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-' && h[i] != '_')
            return 0;
    }
    return 1;
}

int connect_parse_request(const char *hdr, char *host, size_t hostlen, unsigned *port, char *key,
                          size_t keylen, char *session, size_t sessionlen, const char **why)
{
    key[0] = session[0] = host[0] = '\0';
    const char *eol = strstr(hdr, "\r\n");
    char line[512], method[32], target[300], version[16], extra[2];
    if (!eol || (size_t)(eol - hdr) >= sizeof line) {
        *why = "the request line is missing or too long";
        return 400;
    }
    memcpy(line, hdr, (size_t)(eol - hdr));
    line[eol - hdr] = '\0';
    if (sscanf(line, "%31s %299s %15s %1s", method, target, version, extra) != 3 ||
        strchr(line, '\t') || strstr(line, "  ")) {
        *why = "malformed request line; expected CONNECT HOST:PORT HTTP/1.1";
        return 400;
    }
    if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0) {
        *why = "unsupported HTTP version; use HTTP/1.1";
        return 400;
    }
    if (strcmp(method, "CONNECT") != 0) {
        *why = "this port only tunnels: the method must be CONNECT (the HTTP API is on the "
               "other port)";
        return 405;
    }
    char *colon;
    if (target[0] == '[') {
        char *rb = strchr(target, ']');
        if (!rb || rb[1] != ':') {
            *why = "malformed target; expected [IPV6]:PORT";
            return 400;
        }
        *rb = '\0';
        unsigned char a[16];
        if (inet_pton(AF_INET6, target + 1, a) != 1 || strlen(target + 1) >= hostlen) {
            *why = "malformed IPv6 address in the target";
            return 400;
        }
        snprintf(host, hostlen, "%s", target + 1);
        colon = rb + 1;
    } else {
        colon = strrchr(target, ':');
        if (!colon) {
            *why = "the target has no port; expected HOST:PORT";
            return 400;
        }
        *colon = '\0';
        if (!valid_host(target) || strlen(target) >= hostlen) {
            *why = "malformed host name in the target";
            return 400;
        }
        snprintf(host, hostlen, "%s", target);
    }
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *ps = colon + 1;
    char *end;
    unsigned long pv = strtoul(ps, &end, 10);
    if (!isdigit((unsigned char)ps[0]) || *end || pv == 0 || pv > 65535 || strlen(ps) > 5) {
        *why = "the port must be a number from 1 to 65535";
        return 400;
    }
    *port = (unsigned)pv;
    /* Headers. */
    const char *p = eol + 2;
    while (strncmp(p, "\r\n", 2) != 0) {
        const char *e = strstr(p, "\r\n");
        const char *c = memchr(p, ':', e ? (size_t)(e - p) : 0);
        if (!e || !c || c == p) {
            *why = "malformed header line; expected Name: value";
            return 400;
        }
        size_t nl = (size_t)(c - p);
        const char *v = c + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = (size_t)(e - v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        if (nl == 19 && strncasecmp(p, "Proxy-Authorization", 19) == 0) {
            if (vl > 7 && strncasecmp(v, "Bearer ", 7) == 0) {
                if (vl - 7 >= keylen) {
                    *why = "the Proxy-Authorization value is too long";
                    return 400;
                }
                memcpy(key, v + 7, vl - 7);
                key[vl - 7] = '\0';
            } else if (vl > 6 && strncasecmp(v, "Basic ", 6) == 0) {
                unsigned char dec[256];
                size_t dl;
                if (sodium_base642bin(dec, sizeof dec - 1, v + 6, vl - 6, NULL, &dl, NULL,
                                      sodium_base64_VARIANT_ORIGINAL) != 0) {
                    *why = "the Proxy-Authorization Basic value is not base64";
                    return 400;
                }
                dec[dl] = '\0';
                char *pw = memchr(dec, ':', dl);
                if (!pw || strlen(pw + 1) >= keylen) {
                    *why = "the Proxy-Authorization Basic value is not USER:KEY";
                    return 400;
                }
                snprintf(key, keylen, "%s", pw + 1);
                sodium_memzero(dec, sizeof dec);
            }
        } else if (nl == 14 && strncasecmp(p, "Cordon-Session", 14) == 0) {
            int ok = vl == 32;
            for (size_t i = 0; ok && i < vl; i++)
                ok = isdigit((unsigned char)v[i]) || (v[i] >= 'a' && v[i] <= 'f');
            if (!ok || vl >= sessionlen) {
                *why = "Cordon-Session must be 32 lowercase hex characters";
                return 400;
            }
            memcpy(session, v, vl);
            session[vl] = '\0';
        }
        p = e + 2;
    }
    return 0;
}
