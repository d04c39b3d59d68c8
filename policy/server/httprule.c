/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.network.http's rules applied to a request (see httprule.h). The compiled set holds
 * only what matching needs beyond the policy itself: one vectorscan database per query
 * pattern, in the order of hosts, rules and conditions.
 */
#include "policy/server/httprule.h"
#include "base/glob.h"
#include "policy/deep.h"
#include "policy/server/httppath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct httprule_set {
    const struct policy *p;
    size_t n;
    struct deep_regex **re; /* every query condition of every rule of every host, in order */
    size_t **first;         /* first[h][r]: the index in re of host h's rule r's conditions */
};

void httprule_free(struct httprule_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        deep_regex_free(s->re[i]);
    free(s->re);
    if (s->first)
        for (size_t h = 0; h < s->p->sandbox.net.n_http; h++)
            free(s->first[h]);
    free(s->first);
    free(s);
}

int httprule_compile(const struct policy *p, struct httprule_set **out, char *err, size_t errlen)
{
    int rc = -ENOMEM;
    *out = NULL;
    struct httprule_set *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->p = p;
    size_t nh = p->sandbox.net.n_http, total = 0;
    for (size_t h = 0; h < nh; h++)
        for (size_t r = 0; r < p->sandbox.net.http[h].n_rules; r++)
            total += p->sandbox.net.http[h].rules[r].n_query;
    s->re = calloc(total ? total : 1, sizeof *s->re);
    s->first = calloc(nh ? nh : 1, sizeof *s->first);
    if (!s->re || !s->first)
        goto out;
    for (size_t h = 0; h < nh; h++) {
        const struct policy_http_host *e = &p->sandbox.net.http[h];
        s->first[h] = calloc(e->n_rules ? e->n_rules : 1, sizeof *s->first[h]);
        if (!s->first[h])
            goto out;
        for (size_t r = 0; r < e->n_rules; r++) {
            s->first[h][r] = s->n;
            for (size_t q = 0; q < e->rules[r].n_query; q++) {
                const struct policy_http_query *c = &e->rules[r].query[q];
                if (c->op == POLICY_HTTP_QUERY_MATCH) {
                    char why[256];
                    if ((rc = deep_regex_compile(c->pattern, &s->re[s->n], why, sizeof why)) != 0) {
                        snprintf(err, errlen,
                                 "sandbox.network.http[%zu].rules[%zu].query: pattern /%s/ "
                                 "cannot be used: %s",
                                 h, r, c->pattern, why);
                        goto out;
                    }
                }
                s->n++;
            }
        }
    }
    *out = s;
    s = NULL; /* transferred */
    rc = 0;
out:
    httprule_free(s);
    return rc;
}

int httprule_host(const struct policy *p, const char *host, unsigned port)
{
    int loopback = strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0;
    for (size_t i = 0; i < p->sandbox.net.n_http; i++) {
        const struct policy_endpoint *e = &p->sandbox.net.http[i].host;
        if (e->port != 0 && e->port != port)
            continue;
        if (!e->wildcard) {
            if (strcmp(e->host, host) == 0 || (loopback && strcmp(e->host, "localhost") == 0))
                return (int)i;
            continue;
        }
        const char *suf = e->host + 1; /* ".git.example.com" */
        size_t ls = strlen(suf), lh = strlen(host);
        if (lh > ls && strcmp(host + lh - ls, suf) == 0)
            return (int)i;
    }
    return -1;
}

/* A path for a message: at most 100 bytes, bytes outside printable ASCII as '?'. */
static void show(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 4 < cap && i < 100; i++)
        out[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
    if (s[i] && i + 4 < cap) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

int httprule_check_host(const char *conn_host, unsigned conn_port, const char *host_field,
                        unsigned default_port, char *err, size_t errlen)
{
    char h[256], shown[128];
    unsigned port = 0;
    const char *why = "";
    show(host_field, shown, sizeof shown);
    int rc = httppath_host(host_field, h, sizeof h, &port, &why);
    if (rc != 0) {
        snprintf(err, errlen, "Host \"%s\" cannot be read: %s", shown,
                 rc == -ENAMETOOLONG ? "the name is too long" : why);
        return -EINVAL;
    }
    if (!port)
        port = default_port;
    if (strcmp(h, conn_host) != 0 || port != conn_port) {
        snprintf(err, errlen,
                 "Host \"%s\" is not %s%s%s:%u, the endpoint this connection was opened to; "
                 "the rules judge requests for that host only",
                 shown, strchr(conn_host, ':') ? "[" : "", conn_host,
                 strchr(conn_host, ':') ? "]" : "", conn_port);
        return -EINVAL;
    }
    return 0;
}

void httprule_verdict_free(struct httprule_verdict *v)
{
    free(v->path);
    v->path = NULL;
}

/* Does condition c (compiled re, or NULL) hold for the parameters? deny: the rule denies. */
static int cond_holds(const struct policy_http_query *c, const struct deep_regex *re,
                      const struct httppath_param *pv, size_t np, int deny)
{
    size_t seen = 0, matched = 0;
    for (size_t i = 0; i < np; i++) {
        if (strcmp(pv[i].name, c->name) != 0)
            continue;
        seen++;
        if (c->op == POLICY_HTTP_QUERY_MATCH) {
            int m = deep_regex_match(re, pv[i].value, strlen(pv[i].value));
            if (m < 0)
                return m;
            matched += (size_t)m;
        }
    }
    switch (c->op) {
    case POLICY_HTTP_QUERY_PRESENT:
        return seen > 0;
    case POLICY_HTTP_QUERY_ABSENT:
        return seen == 0;
    case POLICY_HTTP_QUERY_MATCH:
        return seen > 0 && (deny ? matched > 0 : matched == seen);
    }
    return 0;
}

/* The first rule of entry e (index h) that matches, -1 for none, or a negative errno - 1. */
static int first_match(const struct httprule_set *s, size_t h, const char *method, const char *path,
                       const struct httppath_param *pv, size_t np, int *err)
{
    const struct policy_http_host *e = &s->p->sandbox.net.http[h];
    *err = 0;
    for (size_t r = 0; r < e->n_rules; r++) {
        const struct policy_http_rule *ru = &e->rules[r];
        if (ru->methods.n) {
            int any = 0;
            for (size_t m = 0; m < ru->methods.n && !any; m++)
                any = strcmp(ru->methods.v[m], method) == 0;
            if (!any)
                continue;
        }
        if (ru->path && !glob_match(ru->path, path))
            continue;
        int all = 1;
        for (size_t q = 0; q < ru->n_query && all; q++) {
            int hold = cond_holds(&ru->query[q], s->re[s->first[h][r] + q], pv, np,
                                  ru->action == POLICY_HTTP_DENY);
            if (hold < 0) {
                *err = hold;
                return -1;
            }
            all = hold;
        }
        if (all)
            return (int)r;
    }
    return -1;
}

/* What rule r says, for a reason: "deny method GET path /api/orders/x query id~/[0-9]+/". */
static void describe(const struct policy_http_rule *r, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "%s", policy_http_action_name(r->action));
    for (size_t m = 0; m < r->methods.n && o < cap; m++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", m ? "|" : " method ", r->methods.v[m]);
    if (r->path && o < cap)
        o += (size_t)snprintf(out + o, cap - o, " path %s", r->path);
    for (size_t q = 0; q < r->n_query && o < cap; q++) {
        const struct policy_http_query *c = &r->query[q];
        if (c->op == POLICY_HTTP_QUERY_PRESENT)
            o += (size_t)snprintf(out + o, cap - o, " query %s", c->name);
        else if (c->op == POLICY_HTTP_QUERY_ABSENT)
            o += (size_t)snprintf(out + o, cap - o, " query !%s", c->name);
        else
            o += (size_t)snprintf(out + o, cap - o, " query %s~/%s/", c->name, c->pattern);
    }
    if (r->methods.n == 0 && !r->path && r->n_query == 0 && o < cap)
        snprintf(out + o, cap - o, " every request");
}

int httprule_judge(const struct httprule_set *s, size_t host, const struct httprule_request *rq,
                   struct httprule_verdict *v)
{
    int rc = -ENOMEM;
    const char *why = "";
    char *alt = NULL, *qbuf = NULL;
    struct httppath_param *pv = NULL;
    size_t np = 0;
    v->action = POLICY_HTTP_DENY;
    v->rule = -1;
    v->path = NULL;
    snprintf(v->reason, sizeof v->reason, "sandbox.network.http[%zu]: cannot judge the request",
             host);
    if (host >= s->p->sandbox.net.n_http)
        return -EINVAL;
    const struct policy_http_host *e = &s->p->sandbox.net.http[host];
    size_t pl = strlen(rq->path);
    v->path = malloc(pl + 2);
    if (!v->path)
        goto out;
    if ((rc = httppath_normalize(rq->path, pl, 0, v->path, pl + 2, &why)) != 0) {
        snprintf(v->reason, sizeof v->reason, "sandbox.network.http[%zu]: refused: %s", host, why);
        rc = -EINVAL;
        goto out;
    }
    int has_params = memchr(rq->path, ';', pl) != NULL;
    if (has_params) {
        if (!(alt = malloc(pl + 2)))
            goto out;
        if ((rc = httppath_normalize(rq->path, pl, HTTPPATH_STRIP_PARAMS, alt, pl + 2, &why)) !=
            0) {
            snprintf(v->reason, sizeof v->reason,
                     "sandbox.network.http[%zu]: refused: read without its path parameters, %s",
                     host, why);
            rc = -EINVAL;
            goto out;
        }
    }
    if (rq->query) {
        size_t ql = strlen(rq->query), cap = ql + 2 * HTTPRULE_PARAMS_MAX + 1;
        qbuf = malloc(cap);
        pv = malloc(sizeof *pv * HTTPRULE_PARAMS_MAX);
        if (!qbuf || !pv) {
            rc = -ENOMEM;
            goto out;
        }
        if ((rc = httppath_query(rq->query, ql, pv, HTTPRULE_PARAMS_MAX, &np, qbuf, cap, &why)) !=
            0) {
            snprintf(v->reason, sizeof v->reason, "sandbox.network.http[%zu]: refused: %s", host,
                     why);
            rc = -EINVAL;
            goto out;
        }
    }
    int err = 0;
    int r = first_match(s, host, rq->method, v->path, pv, np, &err);
    if (err) {
        rc = -EIO;
        snprintf(v->reason, sizeof v->reason,
                 "sandbox.network.http[%zu]: a query pattern could not run; refused", host);
        goto out;
    }
    enum policy_http_action act = r >= 0 ? e->rules[r].action : e->def;
    int decided_by_alt = 0;
    if (has_params && act == POLICY_HTTP_ALLOW) {
        /* allowed as written: the reading without parameters must be allowed too */
        int r2 = first_match(s, host, rq->method, alt, pv, np, &err);
        if (err) {
            rc = -EIO;
            snprintf(v->reason, sizeof v->reason,
                     "sandbox.network.http[%zu]: a query pattern could not run; refused", host);
            goto out;
        }
        enum policy_http_action act2 = r2 >= 0 ? e->rules[r2].action : e->def;
        if (act2 == POLICY_HTTP_DENY) {
            r = r2;
            act = act2;
            decided_by_alt = 1;
        }
    }
    v->action = act;
    v->rule = r;
    char shown[128], extra[200] = "";
    if (decided_by_alt) {
        show(alt, shown, sizeof shown);
        snprintf(extra, sizeof extra, " (the path read without its ;parameters, as %s)", shown);
    }
    if (r >= 0) {
        char d[240];
        describe(&e->rules[r], d, sizeof d);
        snprintf(v->reason, sizeof v->reason, "sandbox.network.http[%zu].rules[%d]: %s%s", host, r,
                 d, extra);
    } else {
        show(decided_by_alt ? alt : v->path, shown, sizeof shown);
        snprintf(v->reason, sizeof v->reason,
                 "sandbox.network.http[%zu].default: %s (no rule matches %s %s)", host,
                 policy_http_action_name(act), rq->method, shown);
    }
    rc = 0;
out:
    if (rc != 0) {
        v->action = POLICY_HTTP_DENY;
        v->rule = -1;
        httprule_verdict_free(v);
    }
    free(alt);
    free(qbuf);
    free(pv);
    return rc;
}
