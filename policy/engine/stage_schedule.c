/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schedule stage (api.schedule): time windows in a zone of the tz database, and what
 * changes while a rule applies. The zones are read once, when the engine is built for a
 * policy (base/tz.h: no TZ variable, no localtime, so any thread may convert); each call
 * converts its own instant (engine_call_info.now_ms, or the real clock) and keeps which rules
 * apply for the whole call, request and response alike, so that one call is judged by one
 * set of rules and its record says which.
 *
 * While a rule applies: "block" refuses the call; "models" narrows the allowlist (a model
 * must match api.models, checked by the models stage, and the rule's list, checked here);
 * "tools.deny" adds denials that the tools stage asks for (engine_schedule_tool_denied); and
 * "data" gives the data stage actions that override api.data's (engine_schedule_data_action).
 *
 * A window is read on the local wall clock: the rule applies when the local weekday and
 * minute of the day fall in it. On the day clocks go forward, a window's times that do not
 * exist are never reached; on the day they go back, the repeated hour is inside a window
 * both times it passes (docs/POLICY.md, section 10).
 */
#include "policy/engine/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/clock.h"
#include "base/glob.h"
#include "base/tz.h"
#include "policy/engine/engine.h"

static const char *const k_days[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

int schedule_engine_init(struct engine *e, char *err, size_t errlen)
{
    const struct policy *p = e->p;
    size_t n = p->api.n_schedule;
    if (!n)
        return 0;
    const char *dir = e->o.zoneinfo ? e->o.zoneinfo : TZ_DEFAULT_DIR;
    if (!(e->rule_tz = calloc(n, sizeof *e->rule_tz)) ||
        !(e->tz_own = calloc(n, sizeof *e->tz_own)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *name = p->api.schedule[i].tz;
        for (size_t k = 0; k < e->n_tz_own && !e->rule_tz[i]; k++)
            if (strcmp(tz_name(e->tz_own[k]), name) == 0)
                e->rule_tz[i] = e->tz_own[k];
        if (e->rule_tz[i])
            continue;
        char why[400] = "";
        struct tz *z = NULL;
        int rc = tz_load(dir, name, &z, why, sizeof why);
        if (rc == -ENOMEM)
            return rc;
        if (rc) {
            /* the sentence must fit cordond's reload message: what, then why */
            snprintf(err, errlen,
                     "api.schedule[%zu].tz: %s; the policy cannot be used until its "
                     "zones can be read",
                     i, why);
            return rc;
        }
        e->tz_own[e->n_tz_own++] = z;
        e->rule_tz[i] = z;
    }
    return 0;
}

void schedule_engine_free(struct engine *e)
{
    for (size_t i = 0; i < e->n_tz_own; i++)
        tz_free(e->tz_own[i]);
    free(e->tz_own);
    free(e->rule_tz);
}

/* Inside the window at local time l? A window that wraps past midnight ("Fri 22:00-06:00")
 * belongs to the day it starts on: its morning part is on the day after a named day. */
static int in_window(const struct policy_window *w, const struct tz_local *l)
{
    int m = l->min_of_day, d = l->wday, yd = (l->wday + 6) % 7;
    if (w->start_min < w->end_min)
        return (w->days >> d & 1) && m >= w->start_min && m < w->end_min;
    return ((w->days >> d & 1) && m >= w->start_min) || ((w->days >> yd & 1) && m < w->end_min);
}

static int rule_applies_at(const struct engine *e, size_t i, int64_t t)
{
    const struct policy_window *w = &e->p->api.schedule[i];
    struct tz_local l;
    if (tz_convert(e->rule_tz[i], t, &l) != 0)
        return 1; /* beyond the calendar this module reads (never with a real clock) */
    return in_window(w, &l) != w->outside;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int engine_schedule_active(const struct engine *e, size_t i, int64_t now_ms)
{
    if (!e || i >= e->p->api.n_schedule || i >= POLICY_MAX_ITEMS)
        return -1;
    return rule_applies_at(e, i, floor_div(now_ms ? now_ms : clock_real_ms(), 1000));
}

void schedule_call_init(struct engine_call *c, int64_t now_ms)
{
    const struct engine *e = c->e;
    c->now_ms = now_ms ? now_ms : clock_real_ms();
    c->n_sched_on = 0;
    memset(c->sched_on, 0, sizeof c->sched_on);
    int64_t t = floor_div(c->now_ms, 1000);
    for (size_t i = 0; i < e->p->api.n_schedule && i < POLICY_MAX_ITEMS; i++)
        if (rule_applies_at(e, i, t)) {
            c->sched_on[i / 64] |= UINT64_C(1) << (i % 64);
            c->n_sched_on++;
        }
}

static int rule_on(const struct engine_call *c, size_t i)
{
    return i < POLICY_MAX_ITEMS && (c->sched_on[i / 64] >> (i % 64) & 1);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The first instant after t at which rule i no longer applies, within the next eight days;
 * 0 and *end, or -1 when it applies all that time. The candidates are the window's starts
 * and ends on each local day, turned into instants with the zone's rules. */
static int rule_end(const struct engine *e, size_t i, int64_t t, int64_t *end)
{
    const struct policy_window *w = &e->p->api.schedule[i];
    const struct tz *z = e->rule_tz[i];
    struct tz_local l;
    if (tz_convert(z, t, &l) != 0)
        return -1;
    int64_t day0 = tz_days_from_civil(l.year, l.month, l.mday), cand[2 * 10];
    size_t n = 0;
    for (int k = -1; k < 9; k++) {
        int64_t y;
        int mo, md;
        tz_civil_from_days(day0 + k, &y, &mo, &md);
        int32_t secs[2] = {w->start_min * 60, w->end_min * 60};
        for (int s = 0; s < 2; s++) {
            int64_t u;
            if (tz_local_to_utc(z, y, mo, md, secs[s], &u) == 0 && u > t)
                cand[n++] = u;
        }
    }
    qsort(cand, n, sizeof *cand, cmp_i64);
    for (size_t k = 0; k < n; k++)
        if (!rule_applies_at(e, i, cand[k])) {
            *end = cand[k];
            return 0;
        }
    return -1;
}

/* "api.schedule[0] (outside "Mon-Fri 08:00-18:00" in Europe/Brussels, where it is Sat 10:12;
 * it ends Mon 2026-12-07 08:00 there, 07:00 UTC)" */
static void rule_desc(const struct engine_call *c, size_t i, char *buf, size_t cap)
{
    const struct engine *e = c->e;
    const struct policy_window *w = &e->p->api.schedule[i];
    int64_t t = floor_div(c->now_ms, 1000), end;
    struct tz_local l, x;
    char when[120] = "";
    if (rule_end(e, i, t, &end) == 0 && tz_convert(e->rule_tz[i], end, &x) == 0) {
        int64_t s = end - floor_div(end, 86400) * 86400;
        snprintf(when, sizeof when, "; it ends %s %04lld-%02d-%02d %02d:%02d there, %02d:%02d UTC",
                 k_days[x.wday], (long long)x.year, x.month, x.mday, x.hour, x.min, (int)(s / 3600),
                 (int)(s / 60 % 60));
    } else {
        snprintf(when, sizeof when, "; it applies at every time of the coming week");
    }
    if (tz_convert(e->rule_tz[i], t, &l) != 0)
        memset(&l, 0, sizeof l);
    snprintf(buf, cap, "api.schedule[%zu] (%s \"%s\" in %s, where it is %s %02d:%02d%s)", i,
             w->outside ? "outside" : "inside", w->spec ? w->spec : "", w->tz, k_days[l.wday],
             l.hour, l.min, when);
}

static int listed(const struct policy_list *l, const char *s, const char **hit)
{
    for (size_t i = 0; i < l->n; i++)
        if (glob_match(l->v[i], s)) {
            if (hit)
                *hit = l->v[i];
            return 1;
        }
    return 0;
}

static void list_text(const struct policy_list *m, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    if (!m->n) {
        snprintf(buf, cap, "none");
        return;
    }
    for (size_t i = 0; i < m->n && off < cap - 8; i++) {
        int k = snprintf(buf + off, cap - off, "%s\"%s\"", i ? ", " : "", m->v[i]);
        if (k < 0 || (size_t)k >= cap - off) {
            snprintf(buf + off, cap - off, ", ...");
            break;
        }
        off += (size_t)k;
    }
}

static enum engine_verdict schedule_request(struct engine_call *c, struct engine_request *rq,
                                            struct engine_reason *why)
{
    const struct engine *e = c->e;
    const struct policy *p = e->p;
    if (!p->api.n_schedule)
        return ENGINE_ALLOW;
    char tag[160], desc[400], list[200];
    engine_policy_tag(c, tag, sizeof tag);
    for (size_t i = 0; i < p->api.n_schedule; i++)
        if (rule_on(c, i) && p->api.schedule[i].block) {
            rule_desc(c, i, desc, sizeof desc);
            reason_set(why, 403, "cordon.schedule_block",
                       "model calls are refused while %s applies (\"block\": true in the %s); "
                       "call again once the rule's time is over",
                       desc, tag);
            return ENGINE_REFUSE;
        }
    const char *model = rq->model ? rq->model : "";
    for (size_t i = 0; i < p->api.n_schedule; i++) {
        const struct policy_window *w = &p->api.schedule[i];
        if (!rule_on(c, i) || !w->has_models || listed(&w->models, model, NULL))
            continue;
        rule_desc(c, i, desc, sizeof desc);
        list_text(&w->models, list, sizeof list);
        reason_set(why, 403, "cordon.schedule_model",
                   "model \"%.100s\" is not allowed while %s applies: its \"models\" allow %s "
                   "(the %s); call one of those models or call again once the rule's time is "
                   "over",
                   model, desc, list, tag);
        return ENGINE_REFUSE;
    }
    if (c->n_sched_on) {
        /* allowed, with the rules that apply named in the record */
        size_t off = 0;
        char on[ENGINE_MESSAGE_MAX - 64] = "";
        for (size_t i = 0; i < p->api.n_schedule && off < sizeof on - 24; i++)
            if (rule_on(c, i)) {
                int k =
                    snprintf(on + off, sizeof on - off, "%sapi.schedule[%zu]", off ? ", " : "", i);
                if (k < 0 || (size_t)k >= sizeof on - off)
                    break;
                off += (size_t)k;
            }
        reason_set(why, 0, "cordon.schedule_active", "rules that apply to this call: %s", on);
    }
    return ENGINE_ALLOW;
}

int engine_schedule_tool_denied(const struct engine_call *c, const char *name,
                                struct engine_reason *why)
{
    const struct policy *p = c->e->p;
    if (!c->n_sched_on)
        return 0;
    for (size_t i = 0; i < p->api.n_schedule; i++) {
        const char *hit = NULL;
        if (!rule_on(c, i) || !listed(&p->api.schedule[i].tools_deny, name ? name : "", &hit))
            continue;
        char tag[160], desc[400];
        engine_policy_tag(c, tag, sizeof tag);
        rule_desc(c, i, desc, sizeof desc);
        reason_set(why, 403, "cordon.tool_denied",
                   "tool \"%.100s\" matches \"%s\" in the tools.deny of %s (the %s); it may be "
                   "called once the rule's time is over",
                   name ? name : "", hit, desc, tag);
        return 1;
    }
    return 0;
}

/* The action of entry r for the side asked: a rule's data entry, as api.data's, may set the
 * request and the response apart. */
static enum policy_action rule_action(const struct policy_data_rule *r, int response)
{
    return response ? r->response : r->request;
}

enum policy_action engine_schedule_data_action(const struct engine_call *c, const char *cls,
                                               int response, int *found)
{
    const struct policy *p = c->e->p;
    enum policy_action best = POLICY_ACTION_ALLOW;
    *found = 0;
    if (!c->n_sched_on || !cls)
        return best;
    for (size_t i = 0; i < p->api.n_schedule; i++) {
        if (!rule_on(c, i))
            continue;
        const struct policy_data *d = &p->api.schedule[i].data;
        /* in one rule the most specific entry decides, as in api.data: the exact name, else
         * the longest glob that covers the class (the strongest of equals); across the rules
         * that apply, the strongest action wins */
        size_t spec = 0; /* 0: none; SIZE_MAX: exact; else the glob's length */
        int hit = 0;
        enum policy_action a = POLICY_ACTION_ALLOW;
        for (size_t k = 0; k < d->n; k++) {
            size_t sp;
            if (strcmp(d->v[k].cls, cls) == 0)
                sp = SIZE_MAX;
            else if (glob_match(d->v[k].cls, cls))
                sp = strlen(d->v[k].cls);
            else
                continue;
            enum policy_action v = rule_action(&d->v[k], response);
            if (!hit || sp > spec || (sp == spec && v > a)) {
                a = v;
                spec = sp;
            }
            hit = 1;
        }
        if (hit && (!*found || a > best))
            best = a;
        *found |= hit;
    }
    return best;
}

const struct engine_stage engine_stage_schedule = {"schedule", schedule_request, NULL, NULL};
