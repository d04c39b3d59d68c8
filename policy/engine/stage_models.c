/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The model allowlist: the request's model must match one glob of the policy's api.models.
 * An empty list allows no model (docs/POLICY.md), so a policy without api.models makes
 * every model call fail here with a message that says so.
 */
#include "policy/engine/engine.h"
#include "policy/engine/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "base/glob.h"

static enum engine_verdict models_request(struct engine_call *c, struct engine_request *rq,
                                          struct engine_reason *why)
{
    const struct policy_list *m = &c->e->p->api.models;
    const char *model = rq->model ? rq->model : "";
    for (size_t i = 0; i < m->n; i++)
        if (glob_match(m->v[i], model))
            return ENGINE_ALLOW;
    char tag[160], list[200] = "";
    engine_policy_tag(c, tag, sizeof tag);
    size_t off = 0;
    for (size_t i = 0; i < m->n && off < sizeof list - 8; i++) {
        int n = snprintf(list + off, sizeof list - off, "%s\"%s\"", i ? ", " : "", m->v[i]);
        if (n < 0 || (size_t)n >= sizeof list - off) {
            snprintf(list + off, sizeof list - off, ", ...");
            break;
        }
        off += (size_t)n;
    }
    reason_set(why, 403, "cordon.model_denied",
               "model \"%.100s\" is not allowed by api.models of the %s (allowed: %s); call an "
               "allowed model or add \"%.100s\" to api.models",
               model, tag, m->n ? list : "none", model);
    return ENGINE_REFUSE;
}

int engine_models_filter(const struct engine *e, const char *body, size_t len, char **out,
                         size_t *out_len)
{
    char err[160];
    cJSON *root = NULL;
    int rc = format_parse(body, len, ENGINE_MAX_DEPTH, &root, err, sizeof err);
    if (rc)
        return rc;
    cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsArray(data)) {
        cJSON_Delete(root);
        return ENGINE_ERR_MALFORMED;
    }
    const struct policy_list *m = &e->p->api.models;
    for (cJSON *it = data->child, *next; it; it = next) {
        next = it->next;
        const char *id = format_str(it, "id");
        int ok = 0;
        for (size_t i = 0; id && i < m->n && !ok; i++)
            ok = glob_match(m->v[i], id);
        if (!ok)
            cJSON_Delete(cJSON_DetachItemViaPointer(data, it));
    }
    /* Anthropic's page bounds name the models it holds */
    static const char *const bounds[] = {"first_id", "last_id"};
    for (int b = 0; b < 2; b++) {
        if (!cJSON_GetObjectItemCaseSensitive(root, bounds[b]))
            continue;
        cJSON *edge = b ? cJSON_GetArrayItem(data, cJSON_GetArraySize(data) - 1) : data->child;
        const char *id = edge ? format_str(edge, "id") : NULL;
        cJSON_ReplaceItemInObjectCaseSensitive(root, bounds[b],
                                               id ? cJSON_CreateString(id) : cJSON_CreateNull());
    }
    *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!*out)
        return -ENOMEM;
    *out_len = strlen(*out);
    return 0;
}

const struct engine_stage engine_stage_models = {"models", models_request, NULL, NULL};
