/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A decision and its refusal (decision.h); srv_decide() in server.c counts, audits and renders
 * it, always in that order, so that no handler can count a refusal it forgot to record or
 * record one it answers differently.
 * Records and refusal bodies are written with the JSON text writer (base/jbuf.h): whatever a
 * client sent ends up escaped, never formatted into JSON.
 */
#include "policy/server/decision.h"
#include "policy/server/httpstatus.h"
#include "policy/server/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"

void decision_init(struct decision *d, enum decision_kind kind, const char *audit_kind)
{
    memset(d, 0, offsetof(struct decision, fields));
    d->kind = kind;
    d->outcome = DECISION_ALLOW;
    d->status = 200;
    d->reply = DECISION_REPLY_JSON;
    d->audit_kind = audit_kind;
    jbuf_init(&d->fields, d->fields_mem, sizeof d->fields_mem);
    jbuf_raw(&d->fields, "{");
    d->audit_rc = 0;
    d->body = NULL;
    d->body_len = 0;
}

__attribute__((format(printf, 6, 0))) static void
set_refusal(struct decision *d, enum decision_outcome outcome, unsigned status, const char *code,
            const char *rule, const char *fmt, va_list ap)
{
    d->outcome = outcome;
    d->status = status;
    d->code = code;
    d->rule = rule;
    vsnprintf(d->message, sizeof d->message, fmt, ap);
}

void decision_refuse(struct decision *d, unsigned status, const char *code, const char *rule,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_refusal(d, DECISION_DENY, status, code, rule, fmt, ap);
    va_end(ap);
}

void decision_fail(struct decision *d, unsigned status, const char *code, const char *rule,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_refusal(d, DECISION_ERROR, status, code, rule, fmt, ap);
    va_end(ap);
}

const char *decision_status_text(unsigned status)
{
    return http_status_text(status);
}

const char *decision_kind_name(enum decision_kind kind)
{
    static const char *const names[DECISION_KIND_N] = {"policy.fetch", "tunnel", "event", NULL,
                                                       NULL};
    return kind < DECISION_KIND_N ? names[kind] : NULL;
}

const char *decision_outcome_name(enum decision_outcome outcome)
{
    static const char *const names[DECISION_OUTCOME_N] = {"allow", "deny", "error"};
    return outcome < DECISION_OUTCOME_N ? names[outcome] : "error";
}

void decision_close_record(struct decision *d)
{
    struct jbuf *f = &d->fields;
    if (d->rule) {
        jbuf_key(f, "rule");
        jbuf_str(f, d->rule, 256);
    }
    if (d->peer) {
        jbuf_key(f, "peer");
        jbuf_str(f, d->peer, 128);
    }
    jbuf_raw(f, "}");
}

void decision_unrecorded(struct decision *d, int invalid)
{
    if (invalid)
        decision_fail(d, 500, "audit_invalid", "audit",
                      "cordond could not record this decision (an internal error, reported in "
                      "the server's log), so it refuses it; retry, and report the server's log "
                      "to the operator if it persists");
    else
        decision_fail(d, 503, "audit_failed", "audit", "%s",
                      d->audit_failed_msg ? d->audit_failed_msg
                                          : "the audit log cannot be written, so the request "
                                            "is refused");
}

/* Most refusals are a few hundred bytes; diagnostics (a refused policy push) add a line each,
 * and each byte may grow sixfold when escaped. */
static size_t body_cap(const struct decision *d)
{
    size_t cap = 512 + 6 * strlen(d->message);
    if (d->diag)
        cap += (d->diag->count + 1) * (6 * (DIAG_PATH_MAX + DIAG_MSG_MAX + 4) + 8);
    return cap;
}

/* The error type an SDK reads beside the status: OpenAI's and Anthropic's names for it. */
static const char *api_error_type(enum decision_shape shape, unsigned status)
{
    int anth = shape == DECISION_SHAPE_ANTHROPIC;
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return anth ? "not_found_error" : "invalid_request_error";
    case 413:
        return anth ? "request_too_large" : "invalid_request_error";
    case 429:
        return "rate_limit_error";
    default:
        if (status >= 500)
            return anth ? "api_error" : "server_error";
        return "invalid_request_error";
    }
}

/* A refusal on a model API endpoint, in the error shape of that API (code cordon.CODE). */
static void render_api(struct decision *d, struct jbuf *b)
{
    const char *type = api_error_type(d->shape, d->status);
    if (d->shape == DECISION_SHAPE_ANTHROPIC) {
        jbuf_raw(b, "{\"type\":\"error\",\"error\":{\"type\":");
        jbuf_str(b, type, 0);
        jbuf_raw(b, ",\"message\":");
        jbuf_str(b, d->message, 0);
    } else {
        jbuf_raw(b, "{\"error\":{\"message\":");
        jbuf_str(b, d->message, 0);
        jbuf_raw(b, ",\"type\":");
        jbuf_str(b, type, 0);
        jbuf_raw(b, ",\"param\":null");
    }
    jbuf_raw(b, ",\"code\":\"cordon.");
    jbuf_raw(b, d->code ? d->code : "error"); /* codes are fixed words of cordond's */
    jbuf_raw(b, "\"}}");
}

static void render_json(struct decision *d, struct jbuf *b)
{
    if (d->shape != DECISION_SHAPE_CORDON) {
        render_api(d, b);
        return;
    }
    jbuf_raw(b, "{\"error\":{\"code\":\"cordon.");
    jbuf_raw(b, d->code ? d->code : "error"); /* codes are fixed words of cordond's */
    jbuf_raw(b, "\",\"message\":");
    jbuf_str(b, d->message, 0);
    if (d->diag && diag_total(d->diag)) {
        jbuf_raw(b, ",\"diagnostics\":[");
        for (size_t i = 0; i < d->diag->count; i++) {
            char line[DIAG_PATH_MAX + DIAG_MSG_MAX + 4];
            diag_format(d->diag, i, line, sizeof line);
            if (i)
                jbuf_raw(b, ",");
            jbuf_str(b, line, 0);
        }
        if (d->diag->dropped) {
            char line[64];
            snprintf(line, sizeof line, "... and %zu more", d->diag->dropped);
            if (d->diag->count)
                jbuf_raw(b, ",");
            jbuf_str(b, line, 0);
        }
        jbuf_raw(b, "]");
    }
    jbuf_raw(b, "}}");
}

static void render_plain(struct decision *d, struct jbuf *b)
{
    size_t body = strlen("cordon: \n") + strlen(d->message);
    jbuf_raw(b, "HTTP/1.1 ");
    jbuf_u64(b, d->status);
    jbuf_raw(b, " ");
    jbuf_raw(b, decision_status_text(d->status));
    jbuf_raw(b, "\r\nContent-Type: text/plain\r\nContent-Length: ");
    jbuf_u64(b, body);
    jbuf_raw(b, "\r\n");
    if (d->status == 407)
        jbuf_raw(b, "Proxy-Authenticate: Basic realm=\"cordon\"\r\n");
    jbuf_raw(b, "Connection: close\r\n\r\ncordon: ");
    jbuf_raw(b, d->message); /* text/plain: the sentence as it is */
    jbuf_raw(b, "\n");
}

void decision_render(struct decision *d)
{
    if (d->reply == DECISION_REPLY_NONE)
        return;
    size_t cap = body_cap(d);
    char *mem = malloc(cap);
    if (!mem)
        return;
    struct jbuf b;
    jbuf_init(&b, mem, cap);
    if (d->reply == DECISION_REPLY_JSON)
        render_json(d, &b);
    else
        render_plain(d, &b);
    if (b.overflow) { /* body_cap is an upper bound: this is a bug, and nothing is sent */
        log_msg(LOG_LEVEL_ERROR, "BUG: the %u refusal did not fit %zu bytes", d->status, cap);
        free(mem);
        return;
    }
    d->body = mem;
    d->body_len = b.len;
}

void decision_done(struct decision *d)
{
    free(d->body);
    d->body = NULL;
    d->body_len = 0;
}
