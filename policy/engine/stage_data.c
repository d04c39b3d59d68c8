/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data stage (api.data): every text position of the request and of the response is
 * scanned for the classes the policy names (policy/data/data.h), and each value found is
 * allowed, logged, redacted, masked, hashed, tokenized or blocked, per class and per
 * direction (policy/data/data_action.h).
 *
 *   - Request: every engine_request.texts position (history tool arguments and embeddings
 *     input included) is scanned whole and rewritten in the cJSON tree; a block refuses the
 *     call with 403 naming the class and the position, never the value.
 *   - Complete responses: the formats hand each text and each tool call's arguments to
 *     engine_data_node() / engine_data_args().
 *   - Streams: a lane per text position (internal.h) holds back at most the scanner's window;
 *     the released part has the actions applied, then the vault's tokens restored (in that
 *     order, so a response rule never acts on a value the user's own request carried), and
 *     the format emits it in its own event shape. With no response rule and nothing to
 *     restore the formats keep the raw, zero-copy path.
 *   - Fail closed: a scanner error, a budget, a full vault refuse the request or cut the
 *     stream with the format's in-stream error event; text that was not scanned never goes.
 *   - Observe mode: everything is scanned and recorded as enforce mode would act; nothing is
 *     rewritten, refused or tokenized.
 *
 * Tool arguments are JSON: each string inside is scanned as its decoded value (a PEM block's
 * newlines are newlines), and the arguments printed again when one changed.
 */
#include "policy/engine/engine.h"
#include "policy/engine/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/glob.h"
#include "base/jbuf.h"
#include "policy/data/data.h"
#include "policy/data/data_action.h"
#include "policy/data/data_edm.h"
#include "policy/data/data_vault.h"

#define MAX_POSITIONS 16 /* positions the audit record names per class and direction */
#define MAX_LANES 4096   /* text positions of one streamed response */

static const char *const k_dir_name[DATA_N_DIRS] = {"request", "response"};

struct engine_data {
    struct data_scanner *s;
    size_t n;                           /* classes in the scanner */
    const char **names;                 /* data_scanner_class_name() of each */
    enum data_action *act[DATA_N_DIRS]; /* the policy's action per class */
    const char **rule;                  /* the api.data key that gave the action */
    int on[DATA_N_DIRS];                /* some class acts in that direction */
    int needs_key, needs_vault;         /* a hash / tokenize action exists */
    struct data_edm **edm;
    size_t n_edm;
};

struct data_find {
    size_t cls;
    enum data_dir dir;
    enum data_action action;
    unsigned count;
    size_t n_pos;
    char *pos[MAX_POSITIONS];
    int pos_cut; /* more positions than the record names */
};

/* ---- the compiled part ---- */

static enum data_action to_data(enum policy_action a)
{
    return (enum data_action)a; /* the same order, by contract (data_action.h) */
}

/* The rule for class cls: the exact name wins, then the longest glob. */
static const struct policy_data_rule *rule_for(const struct policy_data *d, const char *cls)
{
    const struct policy_data_rule *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < d->n; i++) {
        const struct policy_data_rule *r = &d->v[i];
        if (!strcmp(r->cls, cls))
            return r;
        size_t l = strlen(r->cls);
        if (glob_match(r->cls, cls) && (!best || l > best_len)) {
            best = r;
            best_len = l;
        }
    }
    return best;
}

/* Whether some window of api.schedule may change the action of cls. */
static int in_windows(const struct policy *p, const char *cls)
{
    for (size_t i = 0; i < p->api.n_schedule; i++) {
        const struct policy_data_rule *r = rule_for(&p->api.schedule[i].data, cls);
        if (r && (r->request != POLICY_ACTION_ALLOW || r->response != POLICY_ACTION_ALLOW))
            return 1;
    }
    return 0;
}

void engine_data_free(struct engine_data *d)
{
    if (!d)
        return;
    data_scanner_free(d->s);
    for (size_t i = 0; i < d->n_edm; i++)
        data_edm_free(d->edm[i]);
    free(d->edm);
    free(d->names);
    free(d->act[0]);
    free(d->act[1]);
    free(d->rule);
    free(d);
}

int engine_data_new(const struct policy *p, const struct engine_options *o,
                    struct engine_data **out, char *err, size_t errlen)
{
    size_t nb = 0;
    while (data_builtin_classes[nb])
        nb++;
    size_t cap = nb + p->api.n_custom;
    struct data_class_spec *spec = calloc(cap ? cap : 1, sizeof *spec);
    enum data_action *act[DATA_N_DIRS] = {calloc(cap ? cap : 1, sizeof **act),
                                          calloc(cap ? cap : 1, sizeof **act)};
    const char **rule = calloc(cap ? cap : 1, sizeof *rule);
    struct engine_data *d = calloc(1, sizeof *d);
    size_t n = 0;
    int rc = -ENOMEM;
    *out = NULL;
    if (!spec || !act[0] || !act[1] || !rule || !d)
        goto out;
    if (p->api.n_custom && !(d->edm = calloc(p->api.n_custom, sizeof *d->edm)))
        goto out;
    for (size_t i = 0; i < nb; i++) {
        const char *name = data_builtin_classes[i];
        const struct policy_data_rule *r = rule_for(&p->api.data, name);
        enum data_action rq = r ? to_data(r->request) : DATA_ALLOW;
        enum data_action rs = r ? to_data(r->response) : DATA_ALLOW;
        if (rq == DATA_ALLOW && rs == DATA_ALLOW && !in_windows(p, name))
            continue;
        struct data_class_spec *c = &spec[n];
        c->name = name;
        if (r) {
            c->allow = r->allow.v;
            c->n_allow = r->allow.n;
            c->deny = r->deny.v;
            c->n_deny = r->deny.n;
        }
        act[0][n] = rq;
        act[1][n] = rs;
        rule[n] = r ? r->cls : name;
        n++;
    }
    for (size_t i = 0; i < p->api.n_custom; i++) {
        const struct policy_custom_class *k = &p->api.custom[i];
        const struct policy_data_rule *kr = rule_for(&p->api.data, k->cls);
        if (k->request == POLICY_ACTION_ALLOW && k->response == POLICY_ACTION_ALLOW &&
            (!kr || (kr->request == POLICY_ACTION_ALLOW && kr->response == POLICY_ACTION_ALLOW)) &&
            !in_windows(p, k->cls))
            continue;
        struct data_class_spec *c = &spec[n];
        c->name = k->cls;
        c->pattern = k->pattern;
        c->words = k->words.v;
        c->n_words = k->words.n;
        c->allow = k->allow.v;
        c->n_allow = k->allow.n;
        c->deny = k->deny.v;
        c->n_deny = k->deny.n;
        if (k->edm) {
            if (!o || !o->data_key) {
                snprintf(err, errlen,
                         "api.data class \"%s\" is an exact-data-match file (%s), and no data "
                         "key was given to read it; set data_key_file in cordond.conf",
                         k->cls, k->edm);
                rc = -EINVAL;
                goto out;
            }
            char m[256] = "";
            if ((rc = data_edm_load(k->edm, o->data_key, &d->edm[d->n_edm], m, sizeof m)) != 0) {
                snprintf(err, errlen, "api.data class \"%s\": %s", k->cls, m);
                goto out;
            }
            c->edm = d->edm[d->n_edm++];
        }
        /* named in api.data: an exact key gives the class another action; a glob that covers
         * it adds to its own (the stronger wins) */
        const struct policy_data_rule *r = rule_for(&p->api.data, k->cls);
        enum data_action rq = to_data(k->request), rs = to_data(k->response);
        if (r && !strcmp(r->cls, k->cls)) {
            rq = to_data(r->request);
            rs = to_data(r->response);
        } else if (r) {
            rq = to_data(r->request) > rq ? to_data(r->request) : rq;
            rs = to_data(r->response) > rs ? to_data(r->response) : rs;
        }
        act[0][n] = rq;
        act[1][n] = rs;
        rule[n] = r && !strcmp(r->cls, k->cls) ? r->cls : k->cls;
        n++;
    }
    if (!n) { /* api.data acts on nothing: no stage state, the raw paths everywhere */
        rc = 0;
        goto out;
    }
    struct data_config cfg = {.classes = spec, .n_classes = n};
    char m[256] = "";
    if ((rc = data_scanner_new(&cfg, &d->s, m, sizeof m)) != 0) {
        snprintf(err, errlen, "api.data cannot be compiled: %s", m[0] ? m : data_strerror(rc));
        goto out;
    }
    d->n = data_scanner_n_classes(d->s);
    if (!(d->names = calloc(d->n ? d->n : 1, sizeof *d->names))) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < d->n; i++)
        d->names[i] = data_scanner_class_name(d->s, i);
    for (size_t i = 0; i < n; i++)
        for (int dir = 0; dir < DATA_N_DIRS; dir++) {
            if (act[dir][i] != DATA_ALLOW || in_windows(p, spec[i].name))
                d->on[dir] = 1;
            if (act[dir][i] == DATA_HASH)
                d->needs_key = 1;
            if (act[dir][i] == DATA_TOKENIZE)
                d->needs_vault = 1;
        }
    d->act[0] = act[0];
    d->act[1] = act[1];
    d->rule = rule;
    act[0] = act[1] = NULL;
    rule = NULL; /* transferred */
    *out = d;
    d = NULL;
    rc = 0;
out:
    engine_data_free(d);
    free(spec);
    free(act[0]);
    free(act[1]);
    free(rule);
    return rc;
}

void engine_data_view(const struct engine *e, struct engine_data_view *v)
{
    memset(v, 0, sizeof *v);
    if (!e || !e->data)
        return;
    v->scanner = e->data->s;
    v->n = e->data->n;
    v->names = e->data->names;
    _Static_assert(sizeof(enum data_action) == sizeof(int), "actions are read as int");
    v->act[0] = (const int *)e->data->act[DATA_DIR_REQUEST];
    v->act[1] = (const int *)e->data->act[DATA_DIR_RESPONSE];
}

size_t engine_data_window(const struct engine *e)
{
    return e->data && e->data->on[DATA_DIR_RESPONSE] ? data_scanner_window(e->data->s) : 0;
}

/* ---- the call's part ---- */

/* Window overrides of data actions (api.schedule[].data): the schedule stage says which of
 * its rules apply to the call, and the one that names the class decides; else api.data's
 * action stands (the classes a window names are in the scanner already, so an override needs
 * no recompile). */
static enum data_action data_window_action(struct engine_call *c, const char *cls,
                                           enum data_dir dir, enum data_action base)
{
    int found = 0;
    enum policy_action a = engine_schedule_data_action(c, cls, dir == DATA_DIR_RESPONSE, &found);
    return found ? to_data(a) : base;
}

/* The call's action per class, once the schedule stage has read the call's time (its request
 * hook runs before this stage's). */
static void data_acts(struct engine_call *c)
{
    struct data_call *dc = &c->dc;
    const struct engine_data *d = c->e->data;
    if (!d || dc->acts_set)
        return;
    dc->acts_set = 1;
    for (int dir = 0; dir < DATA_N_DIRS; dir++)
        for (size_t i = 0; i < d->n; i++)
            dc->act[dir][i] = data_window_action(c, d->names[i], dir, d->act[dir][i]);
    for (size_t i = 0; i < d->n; i++)
        dc->resp_apply[i] = dc->act[DATA_DIR_RESPONSE][i] == DATA_TOKENIZE
                                ? DATA_LOG
                                : dc->act[DATA_DIR_RESPONSE][i];
}

int engine_data_call_init(struct engine_call *c, const struct engine_call_info *info)
{
    struct data_call *dc = &c->dc;
    const struct engine_data *d = c->e->data;
    dc->stream = -1;
    if (info->data_key) {
        memcpy(dc->key, info->data_key, sizeof dc->key);
        dc->has_key = 1;
    }
    dc->vault = info->vault;
    if (!d)
        return 0;
    if (!(dc->resp_apply = calloc(d->n ? d->n : 1, sizeof *dc->resp_apply)))
        return -ENOMEM;
    for (int dir = 0; dir < DATA_N_DIRS; dir++) {
        if (!(dc->act[dir] = calloc(d->n ? d->n : 1, sizeof *dc->act[dir])))
            return -ENOMEM;
        for (size_t i = 0; i < d->n; i++)
            dc->act[dir][i] = d->act[dir][i];
        dc->on[dir] = d->on[dir];
    }
    return 0;
}

static void lane_free(struct data_lane *l)
{
    free(l->path);
    cJSON_Delete(l->env);
    data_stream_free(l->st);
    data_restore_free(l->rs);
}

void engine_data_call_free(struct engine_call *c)
{
    struct data_call *dc = &c->dc;
    for (size_t i = 0; i < dc->n_lanes; i++)
        lane_free(&dc->lanes[i]);
    free(dc->lanes);
    for (size_t i = 0; i < dc->n_finds; i++)
        for (size_t k = 0; k < dc->finds[i].n_pos; k++)
            free(dc->finds[i].pos[k]);
    free(dc->finds);
    free(dc->act[0]);
    free(dc->act[1]);
    free(dc->resp_apply);
    data_vault_free(dc->own_vault);
    sodium_memzero(dc->key, sizeof dc->key);
    memset(dc, 0, sizeof *dc);
}

static struct data_vault *vault_of(struct engine_call *c)
{
    struct data_call *dc = &c->dc;
    if (dc->vault)
        return dc->vault;
    if (!dc->own_vault && data_vault_new(NULL, &dc->own_vault) != 0)
        return NULL;
    return dc->own_vault;
}

/* Count a match of class cls at path, acted on with a. */
static void note(struct engine_call *c, enum data_dir dir, size_t cls, enum data_action a,
                 const char *path)
{
    struct data_call *dc = &c->dc;
    struct data_find *f = NULL;
    for (size_t i = 0; i < dc->n_finds && !f; i++)
        if (dc->finds[i].cls == cls && dc->finds[i].dir == dir)
            f = &dc->finds[i];
    if (!f) {
        if (GROW(&dc->finds, &dc->cap_finds, dc->n_finds + 1))
            return; /* the record loses a detail, never the decision */
        f = &dc->finds[dc->n_finds++];
        memset(f, 0, sizeof *f);
        f->cls = cls;
        f->dir = dir;
        f->action = a;
    }
    f->count++;
    if (a > f->action)
        f->action = a;
    for (size_t i = 0; i < f->n_pos; i++)
        if (!strcmp(f->pos[i], path))
            return;
    if (f->n_pos == MAX_POSITIONS) {
        f->pos_cut = 1;
        return;
    }
    if ((f->pos[f->n_pos] = strdup(path)) != NULL)
        f->n_pos++;
}

/* The stage's verdict in the record, for the response hook (the request hook's is the hook's
 * own answer). */
static void record_resp(struct engine_call *c, enum engine_verdict v, const struct engine_reason *r)
{
    engine_record_response(c, ENGINE_STAGE_DATA, v, r);
}

static int fail(struct engine_call *c, enum data_dir dir, const char *path, int rc)
{
    char tag[160];
    engine_policy_tag(c, tag, sizeof tag);
    if (rc == -ENOMEM)
        return rc;
    struct engine_reason *r = &c->dc.cut;
    if (rc == DATA_ERR_BUDGET)
        reason_set(r, 413, "cordon.data_budget",
                   "the %s text at %s is over the data scanner's budget (%s), or the "
                   "session's tokenize vault is full, so it was not forwarded (%s); send "
                   "less text, or start a new session",
                   k_dir_name[dir], path, data_strerror(rc), tag);
    else
        reason_set(r, dir == DATA_DIR_REQUEST ? 500 : 502, "cordon.data_scan",
                   "the %s text at %s could not be scanned for the classes api.data names "
                   "(%s), so it was not forwarded (%s)",
                   k_dir_name[dir], path, err_is_errno(rc) ? strerror(-rc) : data_strerror(rc),
                   tag);
    if (dir == DATA_DIR_RESPONSE)
        record_resp(c, ENGINE_REFUSE, r);
    /* observe mode: the response goes on unchanged, the failure is in the record */
    return c->observe && dir == DATA_DIR_RESPONSE ? 0 : ENGINE_ERR_DATA;
}

static int blocked(struct engine_call *c, enum data_dir dir, size_t cls, const char *path)
{
    const struct engine_data *d = c->e->data;
    char tag[160], rule[200];
    engine_policy_tag(c, tag, sizeof tag);
    if (c->dc.act[dir][cls] != (int)d->act[dir][cls]) /* a window's override */
        snprintf(rule, sizeof rule, "a rule of api.schedule that applies now");
    else
        snprintf(rule, sizeof rule, "api.data \"%s\"", d->rule[cls]);
    reason_set(&c->dc.cut, 403, "cordon.data_blocked",
               "the %s holds a value of class %s at %s, which %s of the %s blocks in the %s; "
               "remove it%s",
               dir == DATA_DIR_REQUEST ? "request" : "response", d->names[cls], path, rule, tag,
               k_dir_name[dir], dir == DATA_DIR_REQUEST ? " and send the request again" : "");
    if (dir == DATA_DIR_RESPONSE) /* observe mode too: recorded as enforce mode decides */
        record_resp(c, ENGINE_REFUSE, &c->dc.cut);
    return c->observe ? 0 : ENGINE_ERR_DATA;
}

/* Judge matches m[0..n) of text at path: count them, and answer ENGINE_ERR_DATA for a block
 * (enforce mode). *acts gets 1 when some match is to be replaced. */
static int judge(struct engine_call *c, enum data_dir dir, const char *path,
                 const struct data_match *m, size_t n, int record, int *acts)
{
    const int *act = c->dc.act[dir];
    *acts = 0;
    for (size_t i = 0; i < n; i++) {
        enum data_action a = (enum data_action)act[m[i].cls];
        if (a == DATA_ALLOW)
            continue;
        if (record)
            note(c, dir, m[i].cls, a, path);
        if (a == DATA_BLOCK) {
            int rc = blocked(c, dir, m[i].cls, path);
            if (rc)
                return rc;
        }
        if (a >= DATA_REDACT && a <= DATA_TOKENIZE &&
            !(a == DATA_TOKENIZE && dir == DATA_DIR_RESPONSE))
            *acts = 1;
    }
    if (dir == DATA_DIR_RESPONSE && record) {
        struct engine_reason r = {0};
        if (*acts)
            reason_set(&r, 0, "cordon.data_rewritten",
                       "values api.data acts on were rewritten in the response");
        record_resp(c, *acts ? ENGINE_REWRITE : ENGINE_ALLOW, &r);
    }
    return 0;
}

static int apply(struct engine_call *c, enum data_dir dir, const char *path, const char *text,
                 size_t len, uint64_t base, const struct data_match *m, size_t n,
                 struct data_buf *out)
{
    const struct engine_data *d = c->e->data;
    struct data_act_ctx ctx = {.hash_key = c->dc.has_key ? c->dc.key : NULL};
    for (size_t i = 0; i < n && dir == DATA_DIR_REQUEST; i++)
        if (c->dc.act[dir][m[i].cls] == DATA_TOKENIZE && !(ctx.vault = vault_of(c)))
            return -ENOMEM;
    for (size_t i = 0; i < n && !ctx.hash_key; i++)
        if (c->dc.act[dir][m[i].cls] == DATA_HASH) {
            char tag[160];
            engine_policy_tag(c, tag, sizeof tag);
            reason_set(&c->dc.cut, 500, "cordon.data_key",
                       "api.data of the %s hashes %s, and this cordond has no data key; set "
                       "data_key_file in cordond.conf",
                       tag, d->names[m[i].cls]);
            if (dir == DATA_DIR_RESPONSE)
                record_resp(c, ENGINE_REFUSE, &c->dc.cut);
            return ENGINE_ERR_DATA;
        }
    /* tokenize in a response: the session's tokens are restored, a value new there passes */
    const int *act = dir == DATA_DIR_RESPONSE ? c->dc.resp_apply : c->dc.act[dir];
    long r = data_action_apply(text, len, base, m, n, (const enum data_action *)act, d->names, &ctx,
                               out);
    return r < 0 ? fail(c, dir, path, (int)r) : 0;
}

/* The response text for the record (api.audit prompts "text") as it was before the tokens
 * were restored. */
static void keep_text(struct engine_call *c, const char *s, size_t n)
{
    if (!c->dc.restore || !n)
        return;
    c->dc.keeping = 1;
    engine_keep_text(c, s, n);
    c->dc.keeping = 0;
}

/* ---- block mode ---- */

/* text at path, scanned whole: *out gets the rewritten text and 1, or 0 when it stays. */
static int scan_text(struct engine_call *c, enum data_dir dir, const char *path, const char *text,
                     size_t len, int record, struct data_buf *out)
{
    const struct engine_data *d = c->e->data;
    int changed = 0, rc = 0, acts = 0;
    struct data_match *m = NULL;
    data_acts(c);
    if (d && c->dc.on[dir]) {
        long n = data_scan(d->s, text, len, &m);
        if (n < 0)
            return fail(c, dir, path, (int)n);
        if ((rc = judge(c, dir, path, m, (size_t)n, record, &acts)) != 0)
            goto out;
        if (acts && !c->observe) {
            if ((rc = apply(c, dir, path, text, len, 0, m, (size_t)n, out)) != 0)
                goto out;
            changed = 1;
        }
    }
    if (dir == DATA_DIR_RESPONSE && c->dc.restore && !c->observe) {
        if (record)
            keep_text(c, changed ? out->p : text, changed ? out->len : len);
        struct data_buf r = {0};
        long k = changed ? data_vault_restore(c->dc.vault ? c->dc.vault : c->dc.own_vault, out->p,
                                              out->len, &r)
                         : data_vault_restore(c->dc.vault ? c->dc.vault : c->dc.own_vault, text,
                                              len, &r);
        if (k < 0) {
            data_buf_free(&r);
            rc = -ENOMEM;
            goto out;
        }
        if (k > 0) {
            data_buf_free(out);
            *out = r;
            changed = 1;
        } else {
            data_buf_free(&r);
        }
    }
    rc = changed;
out:
    free(m);
    return rc;
}

int engine_data_node(struct engine_call *c, enum data_dir dir, const char *path, cJSON *node,
                     int record)
{
    if (!cJSON_IsString(node) || !node->valuestring)
        return 0;
    struct data_buf out = {0};
    int rc = scan_text(c, dir, path, node->valuestring, strlen(node->valuestring), record, &out);
    if (rc == 1) {
        if (data_buf_put(&out, "", 1) || !cJSON_SetValuestring(node, out.p))
            rc = -ENOMEM;
    }
    data_buf_free(&out);
    return rc;
}

int engine_data_json(struct engine_call *c, enum data_dir dir, const char *path, cJSON *v,
                     int record)
{
    int changed = 0;
    if (cJSON_IsString(v))
        return engine_data_node(c, dir, path, v, record);
    for (cJSON *k = (cJSON_IsObject(v) || cJSON_IsArray(v)) ? v->child : NULL; k; k = k->next) {
        int rc = engine_data_json(c, dir, path, k, record);
        if (rc < 0)
            return rc;
        changed |= rc;
    }
    return changed;
}

int engine_data_args(struct engine_call *c, enum data_dir dir, const char *path, const char *args,
                     size_t len, int record, char **out)
{
    char err[64];
    cJSON *j = NULL;
    *out = NULL;
    if (!args || !len)
        return 0;
    int rc = format_parse(args, len, ENGINE_MAX_DEPTH, &j, err, sizeof err);
    if (rc == -ENOMEM)
        return rc;
    if (rc) { /* not JSON: the text as it is */
        struct data_buf b = {0};
        rc = scan_text(c, dir, path, args, len, record, &b);
        if (rc == 1 && (data_buf_put(&b, "", 1) || !(*out = strdup(b.p))))
            rc = -ENOMEM;
        data_buf_free(&b);
        return rc;
    }
    rc = engine_data_json(c, dir, path, j, record);
    if (rc == 1 && !(*out = cJSON_PrintUnformatted(j)))
        rc = -ENOMEM;
    cJSON_Delete(j);
    return rc;
}

/* ---- the request hook ---- */

static enum engine_verdict data_request(struct engine_call *c, struct engine_request *rq,
                                        struct engine_reason *why)
{
    const struct engine_data *d = c->e->data;
    if (!d || !c->dc.on[DATA_DIR_REQUEST])
        return ENGINE_ALLOW;
    data_acts(c);
    char tag[160];
    engine_policy_tag(c, tag, sizeof tag);
    if (rq->opaque) {
        reason_set(why, 400, "cordon.data_scan",
                   "the request holds %s (and %zu such part%s in all), content the data stage "
                   "cannot read, and the %s has api.data rules; send its text as a text part",
                   rq->opaque_at, rq->opaque, rq->opaque == 1 ? "" : "s", tag);
        return ENGINE_REFUSE;
    }
    if (rq->tokens_input) {
        reason_set(why, 400, "cordon.data_scan",
                   "the embeddings input holds %zu entries given as tokens, which the data "
                   "stage cannot read, and the %s has api.data rules; send the input as text",
                   rq->tokens_input, tag);
        return ENGINE_REFUSE;
    }
    int changed = 0;
    for (size_t i = 0; i < rq->n_texts; i++) {
        struct engine_text *t = &rq->texts[i];
        int rc;
        if (t->tool && !rq->tools[t->tool - 1].node)
            continue; /* a definition the tools stage removed: nothing of it goes upstream */
        if (t->kind == ENGINE_TEXT_TOOL_ARGS && t->node) {
            char *s = NULL;
            rc = engine_data_args(c, DATA_DIR_REQUEST, t->path, t->text, t->len, 1, &s);
            if (rc == 1) {
                if (!cJSON_SetValuestring(t->node, s))
                    rc = -ENOMEM;
                free(s);
            }
        } else if ((t->kind == ENGINE_TEXT_TOOL_ARGS || t->kind == ENGINE_TEXT_TOOL_DEF) &&
                   t->src) {
            rc = engine_data_json(c, DATA_DIR_REQUEST, t->path, t->src, 1);
            if (rc == 1) { /* the record's copy of the text follows the object */
                char *s = cJSON_PrintUnformatted(t->src);
                if (!s) {
                    rc = -ENOMEM;
                } else {
                    free(t->owned);
                    t->owned = s;
                    t->text = s;
                    t->len = strlen(s);
                }
            }
        } else if (t->node) {
            rc = engine_data_node(c, DATA_DIR_REQUEST, t->path, t->node, 1);
        } else {
            /* a built text with no node to write back: scanned, a rewrite cannot go */
            struct data_buf b = {0};
            rc = scan_text(c, DATA_DIR_REQUEST, t->path, t->text, t->len, 1, &b);
            data_buf_free(&b);
            if (rc == 1) {
                reason_set(&c->dc.cut, 403, "cordon.data_blocked",
                           "the request's text at %s holds a value api.data of the %s rewrites, "
                           "and that position cannot be rewritten; remove the value",
                           t->path, tag);
                rc = ENGINE_ERR_DATA;
            }
        }
        if (rc == -ENOMEM) {
            reason_set(why, 500, "cordon.data_scan",
                       "out of memory while scanning the request (%s)", tag);
            return ENGINE_REFUSE;
        }
        if (rc == ENGINE_ERR_DATA) {
            *why = c->dc.cut;
            return ENGINE_REFUSE;
        }
        if (rc == 1 && t->node && cJSON_IsString(t->node)) {
            t->text = t->node->valuestring; /* the old string is freed */
            t->len = strlen(t->text);
        }
        changed |= rc == 1;
    }
    if (!changed)
        return ENGINE_ALLOW;
    rq->changed = 1;
    reason_set(why, 0, "cordon.data_rewritten", "values api.data acts on were rewritten (%s)", tag);
    return ENGINE_REWRITE;
}

/* ---- streams ---- */

int engine_data_stream_on(struct engine_call *c)
{
    struct data_call *dc = &c->dc;
    if (dc->stream >= 0)
        return dc->stream;
    data_acts(c);
    struct data_vault *v = dc->vault ? dc->vault : dc->own_vault;
    dc->restore = !c->observe && v && data_vault_count(v) > 0;
    dc->stream = (c->e->data && dc->on[DATA_DIR_RESPONSE]) || dc->restore;
    return dc->stream;
}

struct data_lane *engine_data_lane_find(struct engine_call *c, const char *path)
{
    struct data_call *dc = &c->dc;
    for (size_t i = dc->n_lanes; i-- > 0;)
        if (!strcmp(dc->lanes[i].path, path))
            return &dc->lanes[i];
    return NULL;
}

struct data_lane *engine_data_lane(struct engine_call *c, const char *path, int k0, int k1)
{
    struct data_call *dc = &c->dc;
    struct data_lane *l = engine_data_lane_find(c, path);
    if (l)
        return l;
    if (dc->n_lanes >= MAX_LANES || GROW(&dc->lanes, &dc->cap_lanes, dc->n_lanes + 1))
        return NULL;
    l = &dc->lanes[dc->n_lanes];
    memset(l, 0, sizeof *l);
    l->k0 = k0;
    l->k1 = k1;
    if (!(l->path = strdup(path)))
        return NULL;
    const struct engine_data *d = c->e->data;
    struct data_vault *v = dc->vault ? dc->vault : dc->own_vault;
    if ((d && dc->on[DATA_DIR_RESPONSE] && data_stream_new(d->s, &l->st) != 0) ||
        (dc->restore && data_restore_new(v, &l->rs) != 0)) {
        lane_free(l);
        return NULL;
    }
    dc->n_lanes++;
    return l;
}

/* What the lane's stream has made final: judged, rewritten, then restored, into *out. */
static int take(struct engine_call *c, struct data_lane *l, const char *raw, size_t raw_len,
                struct data_buf *out)
{
    struct data_buf mid = {0};
    const char *txt = raw;
    size_t len = raw_len;
    int rc = 0;
    if (l->st) {
        uint64_t base;
        size_t plen, n;
        const char *p = data_stream_pending(l->st, &base, &plen);
        size_t ready = data_stream_ready(l->st);
        const struct data_match *m = data_stream_matches(l->st, &n);
        int acts = 0;
        if ((rc = judge(c, DATA_DIR_RESPONSE, l->path, m, n, 1, &acts)) != 0)
            goto out;
        if (acts && !c->observe) {
            if ((rc = apply(c, DATA_DIR_RESPONSE, l->path, p, ready, base, m, n, &mid)) != 0)
                goto out;
        } else if (ready && data_buf_put(&mid, p, ready)) {
            rc = -ENOMEM;
            goto out;
        }
        data_stream_release(l->st, ready);
        txt = mid.p;
        len = mid.len;
    }
    if (l->rs) {
        keep_text(c, txt, len);
        long k = raw ? data_restore_feed(l->rs, txt, len, out) : 0;
        if (k >= 0 && l->ended)
            k = data_restore_end(l->rs, out);
        if (k < 0)
            rc = -ENOMEM;
    } else if (len && data_buf_put(out, txt, len)) {
        rc = -ENOMEM;
    }
out:
    data_buf_free(&mid);
    return rc;
}

int engine_data_feed(struct engine_call *c, struct data_lane *l, const char *text, size_t len,
                     struct data_buf *out)
{
    if (l->ended)
        return 0;
    if (l->st) {
        int rc = data_stream_feed(l->st, text, len);
        if (rc)
            return fail(c, DATA_DIR_RESPONSE, l->path, rc);
    }
    return take(c, l, text, len, out);
}

int engine_data_end(struct engine_call *c, struct data_lane *l, struct data_buf *out)
{
    if (l->ended)
        return 0;
    l->ended = 1;
    if (l->st) {
        int rc = data_stream_end(l->st);
        if (rc)
            return fail(c, DATA_DIR_RESPONSE, l->path, rc);
    }
    return take(c, l, "", 0, out);
}

/* ---- the audit record ---- */

void engine_data_audit(const struct engine_call *c, struct jbuf *b)
{
    const struct data_call *dc = &c->dc;
    const struct engine_data *d = c->e->data;
    if (!d || !dc->n_finds)
        return;
    jbuf_key(b, "data");
    jbuf_raw(b, "{");
    for (int dir = 0; dir < DATA_N_DIRS; dir++) {
        int opened = 0;
        for (size_t i = 0; i < dc->n_finds; i++) {
            const struct data_find *f = &dc->finds[i];
            if (f->dir != (enum data_dir)dir)
                continue;
            if (!opened) {
                jbuf_key(b, k_dir_name[dir]);
                jbuf_raw(b, "[");
                opened = 1;
            } else {
                jbuf_raw(b, ",");
            }
            jbuf_raw(b, "{");
            jbuf_key(b, "class");
            jbuf_str(b, d->names[f->cls], 0);
            jbuf_key(b, "action");
            jbuf_str(b, data_action_name(f->action), 0);
            jbuf_key(b, "applied");
            jbuf_bool(b, !c->observe && f->action != DATA_LOG);
            jbuf_key(b, "count");
            jbuf_u64(b, f->count);
            jbuf_key(b, "positions");
            jbuf_raw(b, "[");
            for (size_t k = 0; k < f->n_pos; k++) {
                if (k)
                    jbuf_raw(b, ",");
                jbuf_str(b, f->pos[k], 0);
            }
            jbuf_raw(b, "]");
            if (f->pos_cut) {
                jbuf_key(b, "positions_cut");
                jbuf_bool(b, 1);
            }
            jbuf_raw(b, "}");
        }
        if (opened)
            jbuf_raw(b, "]");
    }
    jbuf_raw(b, "}");
}

/* The response's texts are judged in the lanes and the formats' calls above, where they can be
 * rewritten; the hook counts the events the stage saw (and tells the schedule stage that the
 * data stage is built, so a window's data actions are honoured, not refused). */
static enum engine_verdict data_event(struct engine_call *c, const struct engine_event *ev,
                                      struct engine_reason *why)
{
    (void)c;
    (void)ev;
    (void)why;
    return ENGINE_ALLOW;
}

const struct engine_stage engine_stage_data = {"data", data_request, data_event, NULL};
