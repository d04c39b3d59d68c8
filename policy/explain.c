/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The explanation of a compiled policy. It shows what will be enforced rather than what was
 * written: defaults are printed with their origin, paths with their expansion and symlink
 * target, exec names with the programs they hit, wildcards with what they cover. Text and
 * JSON are built from the same walk so they cannot drift apart.
 */
#include "base/glob.h"
#include "policy/explain.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

extern char **environ;

/* ---------------------------------------------------------------- exec matches */

void policy_exec_matches(const struct policy *p, const char *glob,
                         void (*fn)(const char *path, void *arg), void *arg)
{
    const struct policy_paths *s = &p->sandbox.exec.search;
    const char *seen[64];
    size_t nseen = 0;
    for (size_t i = 0; i < s->n; i++) {
        const char *dir = s->v[i].real ? s->v[i].real : s->v[i].path;
        int dup = 0;
        for (size_t j = 0; j < nseen; j++)
            if (strcmp(seen[j], dir) == 0)
                dup = 1;
        if (dup)
            continue;
        if (nseen < sizeof seen / sizeof seen[0])
            seen[nseen++] = dir;
        DIR *dh = opendir(dir);
        if (!dh)
            continue;
        struct dirent *de;
        while ((de = readdir(dh))) {
            if (de->d_name[0] == '.' || !glob_match(glob, de->d_name))
                continue;
            char full[PATH_MAXLEN];
            struct stat st;
            if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, de->d_name) >= sizeof full)
                continue;
            /* lstat: a symlinked directory such as /usr/bin/X11 is not a program */
            if (lstat(full, &st) != 0 || S_ISDIR(st.st_mode))
                continue;
            if (S_ISLNK(st.st_mode) && (stat(full, &st) != 0 || !S_ISREG(st.st_mode)))
                continue;
            fn(full, arg);
        }
        closedir(dh);
    }
}

/* ---------------------------------------------------------------- JSON */

static cJSON *str_array(const struct policy_list *l)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < l->n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(l->v[i]));
    return a;
}

static cJSON *path_json(const struct policy_path *pp)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "as_written", pp->raw);
    cJSON_AddStringToObject(o, "path", pp->path);
    if (pp->real)
        cJSON_AddStringToObject(o, "resolved", pp->real);
    else
        cJSON_AddNullToObject(o, "resolved");
    cJSON_AddBoolToObject(o, "exists", pp->real != NULL);
    cJSON_AddStringToObject(o, "origin", policy_origin_name(pp->origin));
    return o;
}

static cJSON *paths_json(const struct policy_paths *l)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < l->n; i++)
        cJSON_AddItemToArray(a, path_json(&l->v[i]));
    return a;
}

static void add_match(const char *path, void *arg)
{
    cJSON_AddItemToArray((cJSON *)arg, cJSON_CreateString(path));
}

static cJSON *exec_names_json(const struct policy *p, const struct policy_list *l, int list)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < l->n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", l->v[i]);
        if (list) {
            cJSON *m = cJSON_AddArrayToObject(o, "programs");
            policy_exec_matches(p, l->v[i], add_match, m);
        }
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* "action" when both directions agree, "request" and "response" always, "allow" and "deny". */
static void actions_json(cJSON *o, enum policy_action req, enum policy_action resp,
                         const struct policy_list *allow, const struct policy_list *deny)
{
    if (req == resp)
        cJSON_AddStringToObject(o, "action", policy_action_name(req));
    cJSON_AddStringToObject(o, "request", policy_action_name(req));
    cJSON_AddStringToObject(o, "response", policy_action_name(resp));
    cJSON_AddItemToObject(o, "allow", str_array(allow));
    cJSON_AddItemToObject(o, "deny", str_array(deny));
}

static cJSON *data_json(const struct policy *p, const struct policy_data *d)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < d->n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "class", d->v[i].cls);
        actions_json(o, d->v[i].request, d->v[i].response, &d->v[i].allow, &d->v[i].deny);
        cJSON *m = cJSON_AddArrayToObject(o, "covers");
        for (size_t j = 0; policy_data_classes[j]; j++)
            if (glob_match(d->v[i].cls, policy_data_classes[j]))
                cJSON_AddItemToArray(m, cJSON_CreateString(policy_data_classes[j]));
        for (size_t j = 0; j < p->api.n_custom; j++)
            if (glob_match(d->v[i].cls, p->api.custom[j].cls))
                cJSON_AddItemToArray(m, cJSON_CreateString(p->api.custom[j].cls));
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* api.budget beyond session and day, and api.rate: shown only when set, so that an
 * explanation of a policy without them reads as it did. */
static void explain_budget_json(const struct policy *p, cJSON *bu)
{
    if (p->api.month_usd >= 0)
        cJSON_AddNumberToObject(bu, "month_usd", p->api.month_usd);
    const int64_t tok[] = {p->api.session_tokens, p->api.day_tokens, p->api.month_tokens};
    static const char *const tk[] = {"session_tokens", "day_tokens", "month_tokens"};
    for (int i = 0; i < 3; i++)
        if (tok[i] >= 0)
            cJSON_AddNumberToObject(bu, tk[i], (double)tok[i]);
    if (p->api.has_budget) {
        cJSON_AddStringToObject(bu, "tz", p->api.budget_tz ? p->api.budget_tz : "UTC");
        cJSON_AddNumberToObject(bu, "max_tokens_default",
                                p->api.max_tokens_default ? (double)p->api.max_tokens_default
                                                          : POLICY_MAX_TOKENS_DEFAULT);
    }
    if (p->api.n_models_max) {
        cJSON *mm = cJSON_AddObjectToObject(bu, "models_max_output");
        for (size_t i = 0; mm && i < p->api.n_models_max; i++)
            cJSON_AddNumberToObject(mm, p->api.models_max[i].model,
                                    (double)p->api.models_max[i].max_output);
    }
    if (p->api.rate_requests_per_minute || p->api.rate_tokens_per_minute ||
        p->api.rate_concurrent_per_agent || p->api.rate_concurrent_per_session) {
        cJSON *r = cJSON_CreateObject();
        if (!r)
            return;
        cJSON_AddNumberToObject(r, "requests_per_minute", p->api.rate_requests_per_minute);
        cJSON_AddNumberToObject(r, "tokens_per_minute", (double)p->api.rate_tokens_per_minute);
        cJSON_AddNumberToObject(r, "concurrent_per_agent", p->api.rate_concurrent_per_agent);
        cJSON_AddNumberToObject(r, "concurrent_per_session", p->api.rate_concurrent_per_session);
        cJSON_AddItemToObject(bu, "rate", r);
    }
}

static void explain_price_json(const struct policy_price *pr, cJSON *o)
{
    if (pr->cached_input_per_mtok >= 0)
        cJSON_AddNumberToObject(o, "cached_input_per_mtok", pr->cached_input_per_mtok);
    if (pr->reasoning_per_mtok >= 0)
        cJSON_AddNumberToObject(o, "reasoning_per_mtok", pr->reasoning_per_mtok);
    if (pr->cache_write_per_mtok >= 0)
        cJSON_AddNumberToObject(o, "cache_write_per_mtok", pr->cache_write_per_mtok);
}

static const char *const day_abbr[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

/* sandbox.env and what it hides from this process's environment: names and rules, never a
 * value. */
static cJSON *env_json(const struct policy *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "hide", str_array(&p->sandbox.env.hide));
    cJSON_AddItemToObject(o, "allow", str_array(&p->sandbox.env.allow));
    cJSON_AddBoolToObject(o, "hide_credentials", p->sandbox.env.hide_credentials);
    cJSON *hid = cJSON_AddArrayToObject(o, "hidden_now");
    cJSON *kept = cJSON_AddArrayToObject(o, "allowed_now");
    for (char **e = environ; e && *e; e++) {
        struct policy_env_verdict v;
        int hidden = policy_env_hides(p, *e, &v);
        if (!v.hide)
            continue;
        char *name = strndup(*e, strcspn(*e, "="));
        if (!name)
            continue;
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "name", name);
        free(name);
        cJSON_AddStringToObject(it, "rule", v.hide);
        cJSON_AddBoolToObject(it, "default", v.is_default);
        if (!hidden)
            cJSON_AddStringToObject(it, "allowed_by", v.allow);
        cJSON_AddItemToArray(hidden ? hid : kept, it);
    }
    return o;
}

cJSON *policy_explain_json(const struct policy *p)
{
    char hex[65];
    cJSON *r = cJSON_CreateObject();
    if (!r)
        return NULL;
    cJSON_AddNumberToObject(r, "cordon_policy", p->schema);
    cJSON_AddStringToObject(r, "agent", p->agent);
    cJSON_AddStringToObject(r, "mode", policy_mode_name(p->mode));
    cJSON_AddNumberToObject(r, "poll_seconds", p->poll_seconds);
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", p->digest[i]);
    cJSON_AddStringToObject(r, "digest", hex);
    if (p->version) {
        cJSON_AddNumberToObject(r, "version", (double)p->version);
        cJSON_AddStringToObject(r, "issued_at", p->issued_at ? p->issued_at : "");
        cJSON_AddStringToObject(r, "expires_at", p->expires_at ? p->expires_at : "");
    }

    cJSON *sb = cJSON_AddObjectToObject(r, "sandbox");
    cJSON_AddStringToObject(sb, "enforcement", policy_enforcement_name(p->sandbox.enforcement));
    cJSON *fs = cJSON_AddObjectToObject(sb, "filesystem");
    cJSON_AddItemToObject(fs, "read_write", paths_json(&p->sandbox.fs.read_write));
    cJSON_AddItemToObject(fs, "read_only", paths_json(&p->sandbox.fs.read_only));
    cJSON_AddItemToObject(fs, "deny", paths_json(&p->sandbox.fs.deny));
    cJSON_AddBoolToObject(fs, "deny_credentials", p->sandbox.fs.deny_credentials);
    cJSON *pre = cJSON_AddArrayToObject(sb, "presets");
    for (size_t i = 0; pre && i < p->sandbox.presets.n; i++)
        cJSON_AddItemToArray(pre, cJSON_CreateString(p->sandbox.presets.v[i]));
    cJSON *ex = cJSON_AddObjectToObject(sb, "exec");
    int allowlist =
        !(p->sandbox.exec.allow_names.n == 1 && strcmp(p->sandbox.exec.allow_names.v[0], "*") == 0);
    cJSON_AddBoolToObject(ex, "allowlist", allowlist);
    cJSON_AddItemToObject(ex, "allow_names",
                          exec_names_json(p, &p->sandbox.exec.allow_names, allowlist));
    cJSON_AddItemToObject(ex, "allow_paths", paths_json(&p->sandbox.exec.allow_paths));
    cJSON_AddItemToObject(ex, "deny_names", exec_names_json(p, &p->sandbox.exec.deny_names, 1));
    cJSON_AddItemToObject(ex, "deny_paths", paths_json(&p->sandbox.exec.deny_paths));
    cJSON_AddItemToObject(ex, "search", paths_json(&p->sandbox.exec.search));
    cJSON *net = cJSON_AddObjectToObject(sb, "network");
    cJSON_AddStringToObject(net, "mode", policy_net_name(p->sandbox.net.mode));
    cJSON *al = cJSON_AddArrayToObject(net, "allow");
    for (size_t i = 0; i < p->sandbox.net.n_allow; i++) {
        const struct policy_endpoint *e = &p->sandbox.net.allow[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "as_written", e->raw);
        cJSON_AddStringToObject(o, "host", e->host);
        cJSON_AddBoolToObject(o, "wildcard", e->wildcard);
        if (e->port)
            cJSON_AddNumberToObject(o, "port", e->port);
        else
            cJSON_AddStringToObject(o, "port", "*");
        cJSON_AddItemToArray(al, o);
    }
    if (p->sandbox.net.n_http) {
        cJSON *ha = cJSON_AddArrayToObject(net, "http");
        for (size_t i = 0; i < p->sandbox.net.n_http; i++) {
            const struct policy_http_host *h = &p->sandbox.net.http[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "host", h->host.raw);
            cJSON_AddStringToObject(o, "tls", policy_http_tls_name(h->tls));
            cJSON_AddStringToObject(o, "default", policy_http_action_name(h->def));
            cJSON_AddBoolToObject(o, "scan", h->scan);
            cJSON *rules = cJSON_AddArrayToObject(o, "rules");
            for (size_t k = 0; k < h->n_rules; k++) {
                const struct policy_http_rule *ru = &h->rules[k];
                cJSON *ro = cJSON_CreateObject();
                cJSON_AddItemToObject(ro, "methods", str_array(&ru->methods));
                if (ru->path)
                    cJSON_AddStringToObject(ro, "path", ru->path);
                cJSON *qo = cJSON_AddObjectToObject(ro, "query");
                for (size_t q = 0; q < ru->n_query; q++) {
                    const struct policy_http_query *c = &ru->query[q];
                    if (c->op == POLICY_HTTP_QUERY_MATCH)
                        cJSON_AddStringToObject(qo, c->name, c->pattern);
                    else
                        cJSON_AddBoolToObject(qo, c->name, c->op == POLICY_HTTP_QUERY_PRESENT);
                }
                cJSON_AddStringToObject(ro, "action", policy_http_action_name(ru->action));
                cJSON_AddItemToArray(rules, ro);
            }
            cJSON_AddItemToArray(ha, o);
        }
    }
    cJSON *ipc = cJSON_AddObjectToObject(sb, "ipc");
    cJSON_AddStringToObject(ipc, "signals", policy_scope_name(p->sandbox.ipc.signals));
    cJSON_AddStringToObject(ipc, "abstract_unix", policy_scope_name(p->sandbox.ipc.abstract_unix));
    cJSON_AddStringToObject(ipc, "unix_sockets", policy_unix_name(p->sandbox.ipc.unix_sockets));
    cJSON_AddStringToObject(ipc, "sysv", policy_sysv_name(p->sandbox.ipc.sysv));
    cJSON_AddItemToObject(sb, "env", env_json(p));
    cJSON *lim = cJSON_AddObjectToObject(sb, "limits");
    const struct {
        const char *name;
        uint64_t v;
    } lims[] = {{"processes", p->sandbox.limits.processes},
                {"memory", p->sandbox.limits.memory},
                {"cpu_seconds", p->sandbox.limits.cpu_seconds},
                {"open_files", p->sandbox.limits.open_files}};
    for (size_t i = 0; i < sizeof lims / sizeof lims[0]; i++) {
        if (lims[i].v)
            cJSON_AddNumberToObject(lim, lims[i].name, (double)lims[i].v);
        else
            cJSON_AddNullToObject(lim, lims[i].name);
    }

    cJSON *api = cJSON_AddObjectToObject(r, "api");
    cJSON_AddItemToObject(api, "models", str_array(&p->api.models));
    cJSON_AddItemToObject(api, "data", data_json(p, &p->api.data));
    cJSON *cu = cJSON_AddArrayToObject(api, "custom");
    for (size_t i = 0; i < p->api.n_custom; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "class", p->api.custom[i].cls);
        const struct policy_custom_class *cc = &p->api.custom[i];
        if (cc->pattern)
            cJSON_AddStringToObject(o, "pattern", cc->pattern);
        else if (cc->edm)
            cJSON_AddStringToObject(o, "edm", cc->edm);
        else
            cJSON_AddItemToObject(o, "words", str_array(&cc->words));
        actions_json(o, cc->request, cc->response, &cc->allow, &cc->deny);
        cJSON_AddItemToArray(cu, o);
    }
    cJSON *tools = cJSON_AddObjectToObject(api, "tools");
    cJSON_AddItemToObject(tools, "allow", str_array(&p->api.tools_allow));
    cJSON_AddItemToObject(tools, "deny", str_array(&p->api.tools_deny));
    cJSON *cs = cJSON_AddArrayToObject(tools, "constraints");
    for (size_t i = 0; i < p->api.n_constraints; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "tool", p->api.constraints[i].tool);
        cJSON_AddStringToObject(o, "argument", p->api.constraints[i].arg);
        const struct policy_constraint *k = &p->api.constraints[i];
        if (k->pattern)
            cJSON_AddStringToObject(o, "pattern", k->pattern);
        else
            cJSON_AddNullToObject(o, "pattern");
        if (k->n_enum) {
            cJSON *ev = cJSON_AddArrayToObject(o, "enum");
            for (size_t j = 0; j < k->n_enum; j++)
                cJSON_AddItemToArray(ev, cJSON_CreateString(k->enum_v[j]));
        }
        if (k->has_min)
            cJSON_AddNumberToObject(o, "min", k->min);
        if (k->has_max)
            cJSON_AddNumberToObject(o, "max", k->max);
        cJSON_AddBoolToObject(o, "optional", k->optional);
        cJSON_AddItemToArray(cs, o);
    }
    cJSON_AddStringToObject(tools, "on_denied_definition",
                            policy_denied_definition_name(p->api.on_denied_definition));
    cJSON_AddStringToObject(tools, "on_denied_call",
                            policy_denied_call_name(p->api.on_denied_call));
    cJSON_AddStringToObject(api, "previous_response_id",
                            policy_stored_context_name(p->api.previous_response_id));
    cJSON *bu = cJSON_AddObjectToObject(api, "budget");
    if (p->api.session_usd >= 0)
        cJSON_AddNumberToObject(bu, "session_usd", p->api.session_usd);
    else
        cJSON_AddNullToObject(bu, "session_usd");
    if (p->api.day_usd >= 0)
        cJSON_AddNumberToObject(bu, "day_usd", p->api.day_usd);
    else
        cJSON_AddNullToObject(bu, "day_usd");
    explain_budget_json(p, bu);
    cJSON *pr = cJSON_AddObjectToObject(bu, "prices");
    for (size_t i = 0; i < p->api.n_prices; i++) {
        cJSON *o = cJSON_AddObjectToObject(pr, p->api.prices[i].model);
        cJSON_AddNumberToObject(o, "input_per_mtok", p->api.prices[i].input_per_mtok);
        cJSON_AddNumberToObject(o, "output_per_mtok", p->api.prices[i].output_per_mtok);
        explain_price_json(&p->api.prices[i], o);
    }
    cJSON *sc = cJSON_AddArrayToObject(api, "schedule");
    for (size_t i = 0; i < p->api.n_schedule; i++) {
        const struct policy_window *w = &p->api.schedule[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, w->outside ? "outside" : "inside", w->spec);
        cJSON *days = cJSON_AddArrayToObject(o, "days");
        for (int d = 0; d < 7; d++)
            if (w->days & (1u << d))
                cJSON_AddItemToArray(days, cJSON_CreateString(day_abbr[d]));
        cJSON_AddNumberToObject(o, "start_minute", w->start_min);
        cJSON_AddNumberToObject(o, "end_minute", w->end_min);
        cJSON_AddStringToObject(o, "tz", w->tz);
        cJSON_AddBoolToObject(o, "block", w->block);
        cJSON_AddItemToObject(o, "data", data_json(p, &w->data));
        cJSON_AddItemToObject(o, "tools_deny", str_array(&w->tools_deny));
        if (w->has_models)
            cJSON_AddItemToObject(o, "models", str_array(&w->models));
        cJSON_AddItemToArray(sc, o);
    }
    if (p->api.has_anomaly) {
        cJSON *an = cJSON_AddObjectToObject(api, "anomaly");
        cJSON_AddNumberToObject(an, "requests_per_minute", p->api.requests_per_minute);
        cJSON_AddNumberToObject(an, "denials_per_10_minutes", p->api.denials_per_10_minutes);
        cJSON_AddNumberToObject(an, "tokens_per_minute", (double)p->api.tokens_per_minute);
        if (p->api.usd_per_hour >= 0)
            cJSON_AddNumberToObject(an, "usd_per_hour", p->api.usd_per_hour);
        else
            cJSON_AddNullToObject(an, "usd_per_hour");
        cJSON_AddNumberToObject(an, "distinct_tools_per_10_minutes",
                                p->api.distinct_tools_per_10_minutes);
        cJSON_AddNumberToObject(an, "new_egress_hosts_per_hour", p->api.new_egress_hosts_per_hour);
        cJSON_AddStringToObject(an, "on_trigger", policy_trigger_name(p->api.on_trigger));
        cJSON_AddNumberToObject(an, "throttle_seconds", p->api.throttle_seconds);
    } else {
        cJSON_AddNullToObject(api, "anomaly");
    }
    cJSON *au = cJSON_AddObjectToObject(api, "audit");
    cJSON_AddStringToObject(au, "prompts", policy_record_name(p->api.record_prompts));
    cJSON_AddStringToObject(au, "tool_arguments", policy_record_name(p->api.record_tool_arguments));
    return r;
}

/* ---------------------------------------------------------------- text */

struct text {
    FILE *f;
    int err;
};

__attribute__((format(printf, 2, 3))) static void out(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(t->f, fmt, ap) < 0)
        t->err = 1;
    va_end(ap);
}

/* The text form of explain_budget_json's keys, each line only when its key is set. */
static void explain_budget_text(struct text *t, const struct policy *p)
{
    if (p->api.month_usd >= 0)
        out(t, "            month $%.2f\n", p->api.month_usd);
    const int64_t tok[] = {p->api.session_tokens, p->api.day_tokens, p->api.month_tokens};
    static const char *const tk[] = {"session", "day", "month"};
    for (int i = 0; i < 3; i++)
        if (tok[i] >= 0)
            out(t, "            %s %lld tokens\n", tk[i], (long long)tok[i]);
    if (p->api.has_budget && p->api.budget_tz && strcmp(p->api.budget_tz, "UTC") != 0)
        out(t, "            days and months in %s\n", p->api.budget_tz);
    if (p->api.rate_requests_per_minute)
        out(t, "  rate      %u requests a minute\n", p->api.rate_requests_per_minute);
    if (p->api.rate_tokens_per_minute)
        out(t, "  rate      %llu tokens a minute\n",
            (unsigned long long)p->api.rate_tokens_per_minute);
    if (p->api.rate_concurrent_per_agent)
        out(t, "  rate      %u calls at once for the agent\n", p->api.rate_concurrent_per_agent);
    if (p->api.rate_concurrent_per_session)
        out(t, "  rate      %u calls at once per session\n", p->api.rate_concurrent_per_session);
}

static void text_paths(struct text *t, const char *title, const struct policy_paths *l)
{
    out(t, "    %s:%s\n", title, l->n ? "" : " (none)");
    for (size_t i = 0; i < l->n; i++) {
        const struct policy_path *pp = &l->v[i];
        out(t, "      %-22s %s", pp->raw, pp->path);
        if (!pp->real)
            out(t, "  (does not exist yet)");
        else if (strcmp(pp->real, pp->path) != 0)
            out(t, "  -> %s (symlink resolved)", pp->real);
        if (pp->origin != POLICY_ORIGIN_POLICY)
            out(t, "  [%s]", policy_origin_name(pp->origin));
        out(t, "\n");
    }
}

struct match_print {
    struct text *t;
    size_t n;
};

static void print_match(const char *path, void *arg)
{
    struct match_print *m = arg;
    if (m->n < 8)
        m->t->err |= fprintf(m->t->f, "%s%s", m->n ? ", " : "", path) < 0;
    m->n++;
}

static void text_names(struct text *t, const struct policy *p, const char *title,
                       const struct policy_list *l)
{
    out(t, "    %s:%s\n", title, l->n ? "" : " (none)");
    for (size_t i = 0; i < l->n; i++) {
        struct match_print m = {t, 0};
        out(t, "      %-22s ", l->v[i]);
        if (strcmp(l->v[i], "*") == 0) {
            out(t, "every program in the search directories\n");
            continue;
        }
        policy_exec_matches(p, l->v[i], print_match, &m);
        if (m.n > 8)
            out(t, " and %zu more", m.n - 8);
        out(t, "%s\n", m.n ? "" : "(no such program in the search directories now)");
    }
}

static void text_actions(struct text *t, enum policy_action req, enum policy_action resp,
                         const struct policy_list *allow, const struct policy_list *deny)
{
    if (req == resp)
        out(t, "%s", policy_action_name(req));
    else
        out(t, "request %s, response %s", policy_action_name(req), policy_action_name(resp));
    if (allow->n)
        out(t, "  (%zu allowed value%s)", allow->n, allow->n == 1 ? "" : "s");
    if (deny->n)
        out(t, "  (%zu denied value%s)", deny->n, deny->n == 1 ? "" : "s");
}

static void text_data(struct text *t, const struct policy *p, const char *indent,
                      const struct policy_data *d)
{
    for (size_t i = 0; i < d->n; i++) {
        out(t, "%s%-22s ", indent, d->v[i].cls);
        text_actions(t, d->v[i].request, d->v[i].response, &d->v[i].allow, &d->v[i].deny);
        if (strpbrk(d->v[i].cls, "*?")) {
            out(t, "  (covers");
            for (size_t j = 0; policy_data_classes[j]; j++)
                if (glob_match(d->v[i].cls, policy_data_classes[j]))
                    out(t, " %s", policy_data_classes[j]);
            for (size_t j = 0; j < p->api.n_custom; j++)
                if (glob_match(d->v[i].cls, p->api.custom[j].cls))
                    out(t, " %s", p->api.custom[j].cls);
            out(t, ")");
        }
        out(t, "\n");
    }
}

/* 536870912 -> "512M (536870912 bytes)"; a size that is no whole number of K/M/G/T in
 * bytes alone. */
static void text_size(struct text *t, uint64_t bytes)
{
    static const char units[] = "KMGT";
    int u = -1;
    for (int i = 3; i >= 0; i--)
        if (bytes % (1ULL << (10 * (i + 1))) == 0) {
            u = i;
            break;
        }
    if (u >= 0)
        out(t, "%llu%c (%llu bytes)", (unsigned long long)(bytes >> (10 * (u + 1))), units[u],
            (unsigned long long)bytes);
    else
        out(t, "%llu bytes", (unsigned long long)bytes);
}

static void text_limits(struct text *t, const struct policy *p)
{
    const uint64_t np = p->sandbox.limits.processes, mem = p->sandbox.limits.memory;
    const uint64_t cpu = p->sandbox.limits.cpu_seconds, nof = p->sandbox.limits.open_files;
    if (!np && !mem && !cpu && !nof) {
        out(t, "  limits    none: no process, memory, CPU time or open-file limit\n");
        return;
    }
    const char *lead = "  limits    ";
    if (np) {
        out(t,
            "%sprocesses   %llu, the sandbox together (a cgroup; else RLIMIT_NPROC, per "
            "user)\n",
            lead, (unsigned long long)np);
        lead = "            ";
    }
    if (mem) {
        out(t, "%smemory      ", lead);
        text_size(t, mem);
        out(t, ", the sandbox together (a cgroup; else RLIMIT_AS, per process)\n");
        lead = "            ";
    }
    if (cpu) {
        out(t, "%scpu_seconds %llu, each process (RLIMIT_CPU)\n", lead, (unsigned long long)cpu);
        lead = "            ";
    }
    if (nof)
        out(t, "%sopen_files  %llu, each process (RLIMIT_NOFILE)\n", lead, (unsigned long long)nof);
}

static void text_list(struct text *t, const struct policy_list *l, const char *empty)
{
    if (!l->n)
        out(t, "%s", empty);
    for (size_t i = 0; i < l->n; i++)
        out(t, "%s%s", i ? ", " : "", l->v[i]);
    out(t, "\n");
}

static void text_env(struct text *t, const struct policy *p)
{
    out(t, "  env       hide ");
    text_list(t, &p->sandbox.env.hide, "(no rules of the policy's own)");
    out(t, "            allow ");
    text_list(t, &p->sandbox.env.allow, "none");
    out(t, "            credential set: %s\n",
        p->sandbox.env.hide_credentials ? "on (*_API_KEY, *_TOKEN, *_SECRET*, *PASSWORD*, ...)"
                                        : "OFF (hide_credentials is false)");
    size_t hidden = 0;
    for (char **e = environ; e && *e; e++) {
        struct policy_env_verdict v;
        int h = policy_env_hides(p, *e, &v);
        if (!v.hide)
            continue;
        int n = (int)strcspn(*e, "=");
        if (h)
            out(t, "    hidden now   %.*s (%s%s)\n", n, *e, v.hide,
                v.is_default ? ", the credential set" : "");
        else
            out(t, "    shown now    %.*s (%s, allowed by %s)\n", n, *e, v.hide, v.allow);
        hidden += (size_t)h;
    }
    if (!hidden)
        out(t, "    (nothing in this environment would be hidden)\n");
}

int policy_explain_text(const struct policy *p, FILE *f)
{
    struct text t = {f, 0};
    out(&t, "policy for agent \"%s\" (cordon_policy %d), mode %s%s\n", p->agent, p->schema,
        policy_mode_name(p->mode),
        p->mode == POLICY_MODE_OBSERVE ? ": decisions are logged, nothing is blocked" : "");
    out(&t, "  digest    sha256:");
    for (size_t i = 0; i < 32; i++)
        out(&t, "%02x", p->digest[i]);
    out(&t, "\n");
    if (p->version)
        out(&t, "  version   %llu, issued %s, expires %s\n", (unsigned long long)p->version,
            p->issued_at ? p->issued_at : "?", p->expires_at ? p->expires_at : "?");
    else
        out(&t, "  version   none (an unsigned source document; `cordon sign` stamps it)\n");
    out(&t, "  poll      every %u s\n\n", p->poll_seconds);

    out(&t, "sandbox (enforcement %s%s)\n", policy_enforcement_name(p->sandbox.enforcement),
        p->sandbox.enforcement == POLICY_STRICT
            ? ": refuse to start if the kernel cannot enforce a rule"
            : ": degrade and report what the kernel cannot enforce");
    out(&t, "  filesystem (paths resolved now; symlinks are followed and the rule names the "
            "target)\n");
    text_paths(&t, "read_write", &p->sandbox.fs.read_write);
    text_paths(&t, "read_only", &p->sandbox.fs.read_only);
    text_paths(&t, "deny", &p->sandbox.fs.deny);
    out(&t, "    credential deny set: %s\n",
        p->sandbox.fs.deny_credentials ? "on" : "OFF (deny_credentials is false)");
    out(&t, "    host secret set: on (cordond's keys, token, state and audit log; no policy "
            "switches it off)\n");
    out(&t, "  exec\n");
    for (size_t i = 0; i < p->sandbox.presets.n; i++)
        out(&t, "    preset %s: read and execute, never write, beneath its [preset] paths\n",
            p->sandbox.presets.v[i]);
    text_names(&t, p, "allow (names)", &p->sandbox.exec.allow_names);
    if (p->sandbox.exec.allow_paths.n)
        text_paths(&t, "allow (paths)", &p->sandbox.exec.allow_paths);
    text_names(&t, p, "deny (names)", &p->sandbox.exec.deny_names);
    if (p->sandbox.exec.deny_paths.n)
        text_paths(&t, "deny (paths)", &p->sandbox.exec.deny_paths);
    text_paths(&t, "search", &p->sandbox.exec.search);
    out(&t, "  network   mode %s", policy_net_name(p->sandbox.net.mode));
    switch (p->sandbox.net.mode) {
    case POLICY_NET_NONE:
        out(&t, ": no network sockets\n");
        break;
    case POLICY_NET_PROXY:
        out(&t, ": TCP only, through cordond, to the hosts below\n");
        break;
    case POLICY_NET_HOST:
        out(&t, ": unrestricted (the allow list is not enforced)\n");
        break;
    }
    for (size_t i = 0; i < p->sandbox.net.n_allow; i++) {
        const struct policy_endpoint *e = &p->sandbox.net.allow[i];
        char port[16];
        if (e->port)
            snprintf(port, sizeof port, "port %u", e->port);
        else
            snprintf(port, sizeof port, "any port");
        if (e->wildcard)
            out(&t, "    allow   %-28s any name under %s, %s\n", e->raw, e->host + 2, port);
        else
            out(&t, "    allow   %-28s %s, %s\n", e->raw, e->host, port);
    }
    if (p->sandbox.net.mode == POLICY_NET_PROXY && !p->sandbox.net.n_allow)
        out(&t, "    (no host is allowed: only model calls to cordond leave the sandbox)\n");
    for (size_t i = 0; i < p->sandbox.net.n_http; i++) {
        const struct policy_http_host *h = &p->sandbox.net.http[i];
        out(&t, "    http    %-28s rules per request, tls %s%s\n", h->host.raw,
            policy_http_tls_name(h->tls), h->scan ? ", bodies scanned by api.data" : "");
        for (size_t r = 0; r < h->n_rules; r++) {
            const struct policy_http_rule *ru = &h->rules[r];
            out(&t, "      [%zu] %s", r, policy_http_action_name(ru->action));
            for (size_t m = 0; m < ru->methods.n; m++)
                out(&t, "%s%s", m ? "|" : " method ", ru->methods.v[m]);
            if (ru->path)
                out(&t, " path %s", ru->path);
            for (size_t q = 0; q < ru->n_query; q++) {
                const struct policy_http_query *c = &ru->query[q];
                if (c->op == POLICY_HTTP_QUERY_PRESENT)
                    out(&t, " query %s present", c->name);
                else if (c->op == POLICY_HTTP_QUERY_ABSENT)
                    out(&t, " query %s absent", c->name);
                else
                    out(&t, " query %s matching /%s/", c->name, c->pattern);
            }
            if (!ru->methods.n && !ru->path && !ru->n_query)
                out(&t, " every request");
            out(&t, "\n");
        }
        out(&t, "      otherwise %s\n", policy_http_action_name(h->def));
    }
    out(&t, "  ipc       signals %s, abstract unix sockets %s, new unix sockets %s\n",
        policy_scope_name(p->sandbox.ipc.signals), policy_scope_name(p->sandbox.ipc.abstract_unix),
        p->sandbox.ipc.unix_sockets == POLICY_UNIX_PAIRS ? "only as stream pairs" : "open");
    out(&t, "            SysV IPC %s\n",
        p->sandbox.ipc.sysv == POLICY_SYSV_PRIVATE
            ? "in an IPC namespace of the sandbox's own (objects outside are invisible)"
            : "refused (shm, message queues, semaphores)");
    text_env(&t, p);
    text_limits(&t, p);
    out(&t, "\n");

    out(&t, "api\n  models    ");
    text_list(&t, &p->api.models, "none allowed (api.models is empty; [\"*\"] allows all)");
    out(&t, "  data%s\n",
        p->api.data.n || p->api.n_custom ? "" : "      no rules (nothing is classified)");
    text_data(&t, p, "    ", &p->api.data);
    for (size_t i = 0; i < p->api.n_custom; i++) {
        const struct policy_custom_class *cc = &p->api.custom[i];
        out(&t, "    %-22s ", cc->cls);
        text_actions(&t, cc->request, cc->response, &cc->allow, &cc->deny);
        if (cc->pattern)
            out(&t, "  (custom: /%s/)\n", cc->pattern);
        else if (cc->edm)
            out(&t, "  (custom: exact-data-match file %s)\n", cc->edm);
        else
            out(&t, "  (custom: %zu word%s)\n", cc->words.n, cc->words.n == 1 ? "" : "s");
    }
    out(&t, "  tools     allow ");
    text_list(&t, &p->api.tools_allow,
              "none (api.tools.allow is empty; every tool call is refused)");
    out(&t, "            deny  ");
    text_list(&t, &p->api.tools_deny, "none");
    for (size_t i = 0; i < p->api.n_constraints; i++) {
        const struct policy_constraint *k = &p->api.constraints[i];
        const char *sep = "";
        out(&t, "            %s: argument %s must", k->tool, k->arg);
        if (k->pattern) {
            out(&t, " match /%s/", k->pattern);
            sep = ",";
        }
        if (k->n_enum) {
            out(&t, "%s be one of", sep);
            for (size_t j = 0; j < k->n_enum; j++)
                out(&t, "%s \"%s\"", j ? "," : "", k->enum_v[j]);
            sep = ",";
        }
        if (k->has_min && k->has_max)
            out(&t, "%s be a number from %g to %g", sep, k->min, k->max);
        else if (k->has_min)
            out(&t, "%s be a number of at least %g", sep, k->min);
        else if (k->has_max)
            out(&t, "%s be a number of at most %g", sep, k->max);
        out(&t, "%s\n", k->optional ? " (it may be absent)" : "");
    }
    out(&t, "            a denied tool definition is %s, a denied tool call is %s\n",
        p->api.on_denied_definition == POLICY_DEFINITION_REFUSE ? "refused (403)"
                                                                : "stripped from the request",
        p->api.on_denied_call == POLICY_CALL_NOTICE ? "removed with a notice in its place"
                                                    : "removed");
    out(&t, "  stored context  previous_response_id / conversation / stored prompts %s\n",
        p->api.previous_response_id == POLICY_STORED_ALLOW
            ? "allowed (the proxy does not see that context)"
            : "refused (api.previous_response_id is refuse)");
    out(&t, "  budget    ");
    if (p->api.session_usd >= 0)
        out(&t, "session $%.2f", p->api.session_usd);
    else
        out(&t, "session unlimited");
    if (p->api.day_usd >= 0)
        out(&t, ", day $%.2f\n", p->api.day_usd);
    else
        out(&t, ", day unlimited\n");
    for (size_t i = 0; i < p->api.n_prices; i++)
        out(&t, "            %s: $%g in, $%g out per million tokens\n", p->api.prices[i].model,
            p->api.prices[i].input_per_mtok, p->api.prices[i].output_per_mtok);
    explain_budget_text(&t, p);
    for (size_t i = 0; i < p->api.n_schedule; i++) {
        const struct policy_window *w = &p->api.schedule[i];
        out(&t, "  schedule  %s %s (%s)%s\n", w->outside ? "outside" : "inside", w->spec, w->tz,
            w->block ? ": every model call is refused" : ":");
        text_data(&t, p, "            ", &w->data);
        if (w->tools_deny.n) {
            out(&t, "            tools deny ");
            text_list(&t, &w->tools_deny, "");
        }
        if (w->has_models) {
            out(&t, "            models only ");
            text_list(&t, &w->models, "none");
        }
    }
    if (p->api.has_anomaly) {
        out(&t, "  anomaly   ");
        const char *sep = "";
        if (p->api.requests_per_minute) {
            out(&t, "%smore than %u requests a minute", sep, p->api.requests_per_minute);
            sep = " or ";
        }
        if (p->api.tokens_per_minute) {
            out(&t, "%smore than %llu tokens a minute", sep,
                (unsigned long long)p->api.tokens_per_minute);
            sep = " or ";
        }
        if (p->api.usd_per_hour >= 0) {
            out(&t, "%smore than $%g an hour", sep, p->api.usd_per_hour);
            sep = " or ";
        }
        if (p->api.denials_per_10_minutes) {
            out(&t, "%smore than %u denials in 10 minutes", sep, p->api.denials_per_10_minutes);
            sep = " or ";
        }
        if (p->api.distinct_tools_per_10_minutes) {
            out(&t, "%smore than %u distinct tools in 10 minutes", sep,
                p->api.distinct_tools_per_10_minutes);
            sep = " or ";
        }
        if (p->api.new_egress_hosts_per_hour)
            out(&t, "%smore than %u new egress hosts an hour", sep,
                p->api.new_egress_hosts_per_hour);
        out(&t, " -> %s", policy_trigger_name(p->api.on_trigger));
        if (p->api.on_trigger == POLICY_TRIGGER_THROTTLE)
            out(&t, " for %u s", p->api.throttle_seconds);
        out(&t, "\n");
    } else {
        out(&t, "  anomaly   off\n");
    }
    out(&t, "  audit     prompts as %s, tool arguments as %s\n",
        policy_record_name(p->api.record_prompts),
        policy_record_name(p->api.record_tool_arguments));
    return t.err || fflush(f) != 0 ? -EIO : 0;
}
