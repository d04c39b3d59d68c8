/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: a judged connection (policy/server/httpjudge.c) fed hostile bytes from
 * both sides. The input is a list of records: a byte whose low bit picks the side (client or
 * origin; 0xfe and 0xff: that side's end), a length byte, then that many bytes. Whatever comes,
 * what the judge sends the origin must read back, with a fresh parser, as well-formed requests
 * that the rules allow: nothing refused and nothing unreadable ever reaches the origin. An
 * input of odd size is judged with scan on, api.data redacting card numbers in requests,
 * blocking them in responses and tokenizing e-mail addresses, so that bodies are held,
 * re-framed and rewritten: the origin's stream must still parse, and no body in it may hold a
 * card number the scanner finds.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/data/data.h"
#include "policy/policy.h"
#include "policy/server/httpjudge.h"
#include "policy/server/httpreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *policy_text =
    "{\"cordon_policy\": 1, \"agent\": \"f\", \"sandbox\": {\"network\": {\"mode\": \"proxy\", "
    "\"allow\": [\"crm.internal:80\"], \"http\": [{\"host\": \"crm.internal:80\", \"rules\": ["
    "{\"method\": [\"GET\", \"HEAD\"], \"path\": \"/api/orders/*\", \"action\": \"allow\"},"
    "{\"method\": \"POST\", \"path\": \"/api/notes\", \"query\": {\"k\": \"[a-z]+\"}, "
    "\"action\": \"allow\"},"
    "{\"path\": \"/api/customers/export*\", \"action\": \"deny\"}], \"default\": \"deny\"}]}}}";

static struct data_scanner *scanner;
static struct policy *pol;
static struct httprule_set *rules;
static const char *names[2];
static int acts[2][2];
static struct engine_data_view view;

/* A body that went to the origin, under scan: no card number in it. */
static void check_body(const char *b, size_t n)
{
    struct data_match *m = NULL;
    long k = data_scan(scanner, b, n, &m);
    for (long i = 0; i < k; i++)
        if (strcmp(data_scanner_class_name(scanner, m[i].cls), "pii.credit_card") == 0)
            __builtin_trap(); /* a card number the policy redacts reached the origin */
    free(m);
}

/* Every request in what went to the origin parses and is allowed (and, under scan, no body
 * holds a card number). */
static void check_origin_side(const char *buf, size_t len, int scan)
{
    struct httpreq_parser *p = NULL;
    char *body = NULL;
    size_t blen = 0;
    if (httpreq_new(NULL, &p) != 0)
        return;
    size_t pos = 0;
    for (;;) {
        struct httpreq_step st;
        int rc = httpreq_feed(p, buf + pos, len - pos, &st);
        if (rc == -ENOMEM)
            break;
        if (rc != 0)
            __builtin_trap(); /* the judge forwarded what does not parse */
        pos += st.used;
        if (st.event == HTTPREQ_HEAD) {
            const struct httpreq *r = httpreq_request(p);
            struct httprule_request rq = {r->method, r->path, r->query};
            struct httprule_verdict v;
            int jr = httprule_judge(rules, 0, &rq, &v);
            int ok = jr == 0 && v.action == POLICY_HTTP_ALLOW;
            httprule_verdict_free(&v);
            if (jr != -ENOMEM && !ok)
                __builtin_trap(); /* a refused request reached the origin */
        }
        if (st.event == HTTPREQ_BODY && scan) {
            char *g = realloc(body, blen + st.len + 1);
            if (!g)
                break;
            body = g;
            memcpy(body + blen, st.data, st.len);
            blen += st.len;
        }
        if (st.event == HTTPREQ_END && scan) {
            check_body(body ? body : "", blen);
            blen = 0;
        }
        if (st.event == HTTPREQ_MORE)
            break;
    }
    free(body);
    httpreq_free(p);
}

static void noop(void *ctx, const struct httpjudge_rec *r)
{
    (void)ctx;
    if (!r->method || !r->path || !r->reason)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!pol) {
        static const struct policy_env env = {.vars = {"/h", "/c", "/w", "/tmp"}};
        struct diag d;
        diag_init(&d);
        char err[256];
        if (policy_load(policy_text, strlen(policy_text), &env, &pol, &d) != 0 ||
            httprule_compile(pol, &rules, err, sizeof err) != 0)
            abort();
        struct data_class_spec spec[2] = {{.name = "pii.credit_card"}, {.name = "pii.email"}};
        struct data_config cfg = {.classes = spec, .n_classes = 2};
        if (data_scanner_new(&cfg, &scanner, err, sizeof err) != 0)
            abort();
        for (size_t k = 0; k < 2; k++) {
            names[k] = data_scanner_class_name(scanner, k);
            int card = strcmp(names[k], "pii.credit_card") == 0;
            acts[0][k] = card ? 2 /* redact */ : 5 /* tokenize */;
            acts[1][k] = card ? 6 /* block */ : 5;
        }
        view = (struct engine_data_view){
            .scanner = scanner, .n = 2, .names = names, .act = {acts[0], acts[1]}};
    }
    int scan = size & 1;
    struct httpjudge_conf c = {.policy = pol,
                               .rules = rules,
                               .host = "crm.internal",
                               .port = 80,
                               .default_port = 80,
                               .agent = "f",
                               .data = scan ? &view : NULL,
                               .record = noop};
    struct httpjudge *j = NULL;
    if (httpjudge_new(&c, &j) != 0)
        return 0;
    char *sent = NULL;
    size_t sent_len = 0;
    size_t i = 0;
    while (i + 2 <= size && !httpjudge_done(j)) {
        uint8_t side = data[i], n = data[i + 1];
        i += 2;
        size_t len = n <= size - i ? n : size - i;
        size_t used = 0;
        int rc = 0;
        if (side == 0xfe)
            rc = httpjudge_client_eof(j);
        else if (side == 0xff)
            rc = httpjudge_origin_eof(j);
        else if (side & 1)
            rc = httpjudge_from_origin(j, (const char *)data + i, len, &used);
        else
            rc = httpjudge_from_client(j, (const char *)data + i, len, &used);
        if (side < 0xfe)
            i += len;
        if (rc != 0)
            break;
        if (used > len)
            __builtin_trap();
        size_t on, cn;
        const char *o = httpjudge_to_origin(j, &on);
        char *grown = realloc(sent, sent_len + on + 1);
        if (!grown)
            break;
        sent = grown;
        memcpy(sent + sent_len, o, on);
        sent_len += on;
        httpjudge_sent_origin(j, on);
        httpjudge_to_client(j, &cn);
        httpjudge_sent_client(j, cn);
    }
    if (sent)
        check_origin_side(sent, sent_len, scan);
    free(sent);
    httpjudge_free(j);
    return 0;
}
