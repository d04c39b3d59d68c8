/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control side of the stub upstream, shared by every worker thread under one mutex: the
 * FIFO of scenarios queued by POST /__stub/queue, the record of every model API request
 * (kept in memory for GET /__stub/requests, bounded by --keep, and written to --log as one
 * JSON line each), and the counters of GET /__stub/stats. A queued scenario is checked when
 * it is queued, so a test that queues a typo hears about it at once.
 */
#include "tests/support/stub.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stub_stats stub_stats;

struct qent {
    struct qent *next;
    char *path; /* NULL: any model API path */
    char *spec; /* "NAME key=value ..." */
};

struct rec {
    uint64_t index;
    char *line; /* JSON, no newline */
    size_t len;
};

static struct {
    pthread_mutex_t mu;
    struct qent *head, **tail;
    size_t queued;
    struct rec *ring;
    size_t keep;
    uint64_t next; /* index of the next record */
    size_t body_max;
    FILE *log;
} C = {.mu = PTHREAD_MUTEX_INITIALIZER};

int ctl_init(const char *log_path, size_t keep, size_t body_max, const char **why)
{
    C.tail = &C.head;
    C.keep = keep ? keep : 1;
    C.body_max = body_max;
    C.ring = calloc(C.keep, sizeof *C.ring);
    if (!C.ring) {
        *why = "out of memory for the request records";
        return -ENOMEM;
    }
    if (log_path) {
        C.log = fopen(log_path, "we");
        if (!C.log) {
            *why = "cannot open the --log file";
            return -errno;
        }
    }
    return 0;
}

static void queue_clear(void)
{
    for (struct qent *q = C.head, *n; q; q = n) {
        n = q->next;
        free(q->path);
        free(q->spec);
        free(q);
    }
    C.head = NULL;
    C.tail = &C.head;
    C.queued = 0;
}

static void ring_clear(void)
{
    for (size_t i = 0; i < C.keep; i++) {
        free(C.ring[i].line);
        C.ring[i].line = NULL;
    }
    C.next = 0;
}

void ctl_fini(void)
{
    pthread_mutex_lock(&C.mu);
    queue_clear();
    ring_clear();
    free(C.ring);
    C.ring = NULL;
    if (C.log)
        fclose(C.log);
    C.log = NULL;
    pthread_mutex_unlock(&C.mu);
}

char *ctl_queue_take(const char *path, size_t plen)
{
    char *spec = NULL;
    pthread_mutex_lock(&C.mu);
    for (struct qent **pp = &C.head; *pp; pp = &(*pp)->next) {
        struct qent *q = *pp;
        if (q->path && !(strlen(q->path) == plen && memcmp(q->path, path, plen) == 0))
            continue;
        *pp = q->next;
        if (C.tail == &q->next)
            C.tail = pp;
        spec = q->spec; /* transferred */
        free(q->path);
        free(q);
        C.queued--;
        break;
    }
    pthread_mutex_unlock(&C.mu);
    return spec;
}

/* One queue element as marker text: a string as it is, or an object {"scenario": NAME,
 * "path": P, key: value...} whose values become key="value" (numbers and booleans as text,
 * objects and arrays as their JSON). */
static int element_spec(const cJSON *e, struct sbuf *spec, char **path, const char **why)
{
    *path = NULL;
    if (cJSON_IsString(e)) {
        sbuf_puts(spec, e->valuestring);
        return 0;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "scenario");
    if (!cJSON_IsObject(e) || !cJSON_IsString(name)) {
        *why = "each queue entry must be a string \"NAME key=value ...\" or an object with "
               "\"scenario\": NAME";
        return -EINVAL;
    }
    sbuf_puts(spec, name->valuestring);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, e)
    {
        if (strcmp(kv->string, "scenario") == 0)
            continue;
        if (strcmp(kv->string, "path") == 0) {
            if (!cJSON_IsString(kv)) {
                *why = "a queue entry's path must be a string such as \"/v1/messages\"";
                return -EINVAL;
            }
            free(*path);
            *path = strdup(kv->valuestring);
            if (!*path)
                return -ENOMEM;
            continue;
        }
        char *own = NULL;
        const char *v;
        char num[64];
        if (cJSON_IsString(kv)) {
            v = kv->valuestring;
        } else if (cJSON_IsBool(kv)) {
            v = cJSON_IsTrue(kv) ? "1" : "0";
        } else if (cJSON_IsNumber(kv)) {
            double d = kv->valuedouble;
            if (d == (double)(long long)d)
                snprintf(num, sizeof num, "%lld", (long long)d);
            else
                snprintf(num, sizeof num, "%.17g", d);
            v = num;
        } else {
            v = own = cJSON_PrintUnformatted(kv);
            if (!v)
                return -ENOMEM;
        }
        sbuf_printf(spec, " %s=\"", kv->string);
        for (const char *p = v; *p; p++) {
            if (*p == '"' || *p == '\\')
                sbuf_put(spec, "\\", 1);
            sbuf_put(spec, p, 1);
        }
        sbuf_put(spec, "\"", 1);
        free(own);
    }
    return 0;
}

int ctl_check_spec(const char *spec, size_t len, char *whybuf, size_t wl, const char **why)
{
    struct stub_params sp;
    struct apireq rq;
    struct plan pl;
    int rc;
    char *arena = malloc(len + 1);
    if (!arena)
        return -ENOMEM;
    memset(&rq, 0, sizeof rq);
    memset(&pl, 0, sizeof pl);
    rq.api = API_CHAT;
    rc = stub_parse_params(spec, len, &sp, arena, why);
    if (rc == 0)
        rc = scen_build(&pl, &sp, &rq, whybuf, wl, why);
    sbuf_free(&pl.arena);
    free(arena);
    return rc;
}

static const char *api_name(enum stub_api api)
{
    static const char *const names[] = {"none",       "chat",   "responses", "messages",
                                        "embeddings", "models", "model"};
    return names[api];
}

void ctl_record(const char *buf, const struct stub_head *h, const char *body, size_t blen,
                enum stub_api api, int stream, const struct stub_params *sp, const char *source,
                int status)
{
    struct sbuf l = {0};
    sbuf_printf(&l, "\"t_ns\":%lld,\"method\":", (long long)stub_mono_ns());
    sbuf_json(&l, buf + h->method.off, h->method.len);
    sbuf_puts(&l, ",\"path\":");
    sbuf_json(&l, buf + h->path.off, h->path.len);
    sbuf_puts(&l, ",\"query\":");
    sbuf_json(&l, buf + h->query.off, h->query.len);
    sbuf_puts(&l, ",\"headers\":[");
    for (int k = 0; k < h->nheaders; k++) {
        sbuf_puts(&l, k ? ",[" : "[");
        sbuf_json(&l, buf + h->h[k].name.off, h->h[k].name.len);
        sbuf_put(&l, ",", 1);
        sbuf_json(&l, buf + h->h[k].value.off, h->h[k].value.len);
        sbuf_put(&l, "]", 1);
    }
    sbuf_printf(&l, "],\"body_len\":%zu,\"body_sha256\":\"", blen);
    unsigned char md[crypto_hash_sha256_BYTES];
    char hex[2 * sizeof md + 1];
    crypto_hash_sha256(md, (const unsigned char *)(blen ? body : ""), blen);
    sbuf_puts(&l, sodium_bin2hex(hex, sizeof hex, md, sizeof md));
    sbuf_put(&l, "\"", 1);
    if (blen <= C.body_max) {
        if (stub_utf8_valid(body, blen)) {
            sbuf_puts(&l, ",\"body\":");
            sbuf_json(&l, blen ? body : "", blen);
        } else {
            size_t bl = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL);
            sbuf_puts(&l, ",\"body_b64\":\"");
            if (sbuf_reserve(&l, bl) == 0) {
                sodium_bin2base64(l.p + l.len, bl, (const unsigned char *)body, blen,
                                  sodium_base64_VARIANT_ORIGINAL);
                l.len += bl - 1;
            }
            sbuf_put(&l, "\"", 1);
        }
    }
    sbuf_printf(&l, ",\"api\":\"%s\",\"stream\":%s,\"status\":%d,\"scenario\":", api_name(api),
                stream ? "true" : "false", status);
    sbuf_json_str(&l, sp ? sp->name : NULL);
    sbuf_puts(&l, ",\"source\":");
    sbuf_json_str(&l, sp ? source : NULL);
    sbuf_puts(&l, ",\"params\":{");
    for (int k = 0; sp && k < sp->n; k++) {
        if (k)
            sbuf_put(&l, ",", 1);
        sbuf_json_str(&l, sp->p[k].key);
        sbuf_put(&l, ":", 1);
        sbuf_json(&l, sp->p[k].vlen ? sp->p[k].val : "", sp->p[k].vlen);
    }
    sbuf_puts(&l, "}}");
    if (l.oom) {
        sbuf_free(&l);
        return;
    }
    pthread_mutex_lock(&C.mu);
    uint64_t idx = C.next++;
    char pre[40];
    int pl = snprintf(pre, sizeof pre, "{\"index\":%llu,", (unsigned long long)idx);
    char *line = malloc((size_t)pl + l.len + 1);
    if (line) {
        memcpy(line, pre, (size_t)pl);
        memcpy(line + pl, l.p, l.len);
        line[(size_t)pl + l.len] = '\n';
        struct rec *r = &C.ring[idx % C.keep];
        free(r->line);
        r->index = idx;
        r->line = line;
        r->len = (size_t)pl + l.len + 1;
        if (C.log) {
            fwrite(line, 1, r->len, C.log);
            fflush(C.log);
        }
    }
    pthread_mutex_unlock(&C.mu);
    sbuf_free(&l);
}

static void answer(struct sbuf *out, int status, const char *ctype, const struct sbuf *body,
                   int close, uint64_t reqno)
{
    stub_head_begin(out, status, PROV_OPENAI, ctype, (long long)body->len, close, reqno);
    sbuf_puts(out, "\r\n");
    sbuf_put(out, body->p, body->len);
}

static void answer_error(struct sbuf *out, int status, const char *msg, int close, uint64_t reqno)
{
    struct sbuf b = {0};
    sbuf_puts(&b, "{\"error\":");
    sbuf_json_str(&b, msg);
    sbuf_puts(&b, "}");
    answer(out, status, "application/json", &b, close, reqno);
    sbuf_free(&b);
}

static void push_queue(const char *body, size_t blen, struct sbuf *res, int *status)
{
    const char *why = NULL;
    char whybuf[512];
    struct qent *first = NULL, **last = &first;
    size_t n = 0;
    cJSON *root = cJSON_ParseWithLength(body, blen);
    *status = 400;
    if (!root) {
        why = "the queue body is not valid JSON: send a JSON list of scenarios";
        goto out;
    }
    const cJSON *list = root;
    const cJSON *one[1] = {root};
    int many = cJSON_IsArray(root);
    const cJSON *e = many ? list->child : one[0];
    for (; e; e = many ? e->next : NULL) {
        struct sbuf spec = {0};
        char *path = NULL;
        int rc = element_spec(e, &spec, &path, &why);
        if (rc == 0 && spec.oom)
            rc = -ENOMEM, why = "out of memory";
        if (rc == 0)
            rc = ctl_check_spec(spec.p, spec.len, whybuf, sizeof whybuf, &why);
        struct qent *q = rc == 0 ? calloc(1, sizeof *q) : NULL;
        if (rc == 0 && !q)
            why = "out of memory", rc = -ENOMEM;
        if (rc != 0) {
            free(path);
            sbuf_free(&spec);
            goto out;
        }
        sbuf_put(&spec, "", 1); /* NUL */
        q->spec = spec.p;
        q->path = path;
        *last = q;
        last = &q->next;
        n++;
    }
    pthread_mutex_lock(&C.mu);
    *C.tail = first;
    if (first)
        C.tail = last;
    C.queued += n;
    size_t total = C.queued;
    pthread_mutex_unlock(&C.mu);
    first = NULL;
    sbuf_printf(res, "{\"queued\":%zu,\"pending\":%zu}", n, total);
    *status = 200;
out:
    if (*status != 200) {
        sbuf_puts(res, "{\"error\":");
        sbuf_json_str(res, why ? why : "bad queue entry");
        sbuf_puts(res, "}");
    }
    for (struct qent *q = first, *nx; q; q = nx) {
        nx = q->next;
        free(q->path);
        free(q->spec);
        free(q);
    }
    cJSON_Delete(root);
}

static int span_is(const char *buf, struct stub_span s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(buf + s.off, lit, s.len) == 0;
}

/* since=N in a query string; 0 when absent. -1 when malformed. */
static long long query_since(const char *q, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && q[e] != '&')
            e++;
        if (e - i > 6 && memcmp(q + i, "since=", 6) == 0) {
            long long v;
            if (stub_parse_int(q + i + 6, e - i - 6, 0, (1ll << 62), &v) != 0)
                return -1;
            return v;
        }
        i = e + 1;
    }
    return 0;
}

static void list_requests(long long since, struct sbuf *b)
{
    pthread_mutex_lock(&C.mu);
    uint64_t from = (uint64_t)since;
    if (C.next > C.keep && from < C.next - C.keep)
        from = C.next - C.keep;
    for (uint64_t i = from; i < C.next; i++) {
        struct rec *r = &C.ring[i % C.keep];
        if (r->line && r->index == i)
            sbuf_put(b, r->line, r->len);
    }
    pthread_mutex_unlock(&C.mu);
}

static void stats_json(struct sbuf *b)
{
    pthread_mutex_lock(&C.mu);
    size_t queued = C.queued;
    uint64_t recorded = C.next;
    pthread_mutex_unlock(&C.mu);
    sbuf_printf(b,
                "{\"requests\":%lld,\"recorded\":%llu,\"bytes_in\":%lld,\"bytes_out\":%lld,"
                "\"open_streams\":%lld,\"open_connections\":%lld,\"connections\":%lld,"
                "\"queued\":%zu}",
                atomic_load(&stub_stats.requests), (unsigned long long)recorded,
                atomic_load(&stub_stats.bytes_in), atomic_load(&stub_stats.bytes_out),
                atomic_load(&stub_stats.open_streams), atomic_load(&stub_stats.open_conns),
                atomic_load(&stub_stats.conns), queued);
}

static void scenarios_json(struct sbuf *b)
{
    sbuf_puts(b, "{\"common_params\":");
    sbuf_json_str(b, scen_common_keys);
    sbuf_puts(b, ",\"scenarios\":[");
    for (int i = 0; scen_name(i); i++) {
        sbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        sbuf_json_str(b, scen_name(i));
        sbuf_puts(b, ",\"params\":");
        sbuf_json_str(b, scen_keys(i));
        sbuf_puts(b, ",\"summary\":");
        sbuf_json_str(b, scen_summary(i));
        sbuf_puts(b, "}");
    }
    sbuf_puts(b, "]}");
}

void ctl_handle(const char *buf, const struct stub_head *h, const char *body, size_t blen,
                struct sbuf *out, int close, uint64_t reqno)
{
    struct sbuf b = {0};
    int post = span_is(buf, h->method, "POST"), get = span_is(buf, h->method, "GET");
    int status = 200;
    const char *ctype = "application/json";
    if (span_is(buf, h->path, "/__stub/queue")) {
        if (!post)
            goto not_allowed;
        push_queue(body, blen, &b, &status);
    } else if (span_is(buf, h->path, "/__stub/requests")) {
        if (!get)
            goto not_allowed;
        long long since = query_since(buf + h->query.off, h->query.len);
        if (since < 0) {
            answer_error(out, 400, "since must be a record index (a decimal number)", close, reqno);
            goto out;
        }
        list_requests(since, &b);
        ctype = "application/x-ndjson";
    } else if (span_is(buf, h->path, "/__stub/reset")) {
        if (!post)
            goto not_allowed;
        pthread_mutex_lock(&C.mu);
        queue_clear();
        ring_clear();
        pthread_mutex_unlock(&C.mu);
        atomic_store(&stub_stats.requests, 0);
        atomic_store(&stub_stats.bytes_in, 0);
        atomic_store(&stub_stats.bytes_out, 0);
        atomic_store(&stub_stats.conns, 0);
        sbuf_puts(&b, "{\"reset\":true}");
    } else if (span_is(buf, h->path, "/__stub/stats")) {
        if (!get)
            goto not_allowed;
        stats_json(&b);
    } else if (span_is(buf, h->path, "/__stub/scenarios")) {
        if (!get)
            goto not_allowed;
        scenarios_json(&b);
    } else {
        answer_error(out, 404,
                     "unknown control path: the stub has /__stub/queue, /__stub/requests, "
                     "/__stub/reset, /__stub/stats and /__stub/scenarios",
                     close, reqno);
        goto out;
    }
    if (b.oom) {
        answer_error(out, 500, "out of memory", close, reqno);
        goto out;
    }
    answer(out, status, ctype, &b, close, reqno);
    goto out;
not_allowed:
    answer_error(out, 405, "wrong method for this control path (see tests/support/README.md)",
                 close, reqno);
out:
    sbuf_free(&b);
}
