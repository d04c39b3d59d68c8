/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What cordond's parts share (server.h): the audit append every handler records through, the
 * health flag it sets, and the policy-set reload that SIGHUP, the admin API and the re-sign
 * timer all run. It lives apart from main() so that the HTTP front, the tunnel and the event
 * intake depend on it and never on the file that starts them.
 *
 * srv_audit tells two failures apart. A log that cannot record (a write or sync error, its
 * writer gone) is the operator's business: every action that requires audit is refused and
 * /healthz says so until restart. A record the log refuses as malformed is cordond's own bug:
 * one record is lost, which stderr says loudly and cordon_audit_invalid_total counts, but the
 * log is sound, so the server keeps serving and stays healthy.
 */
#include "policy/server/server.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "policy/audit/audit.h"
#include "policy/server/log.h"

static void say_failed(const char *kind, int rc)
{
    static int warned;
    if (__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
        return;
    log_msg(LOG_LEVEL_ERROR,
            "audit: cannot append the %s record (status %d: %s); actions "
            "that require audit are refused until the audit directory is fixed and cordond "
            "is restarted",
            kind, rc, audit_strerror(rc));
}

/* Every invalid record is said, not only the first: each one is a record lost to a bug. */
static int invalid(struct srv *s, const char *kind, const char *why)
{
    uint64_t n = __atomic_add_fetch(&s->m.audit_invalid, 1, __ATOMIC_RELAXED);
    log_msg(LOG_LEVEL_ERROR,
            "BUG: audit: the %s record was refused as invalid (%s) and is "
            "lost; the log itself is sound and cordond keeps serving. This is a defect of "
            "cordond: report it with this line (%" PRIu64 " invalid record%s so far, "
            "cordon_audit_invalid_total)\n",
            kind ? kind : "(no kind)", why, n, n == 1 ? "" : "s");
    return SRV_AUDIT_INVALID;
}

static int audit_flags(struct srv *s, const char *kind, const char *agent, const char *fields,
                       unsigned flags)
{
    if (!kind || !fields)
        return invalid(s, kind, "no kind or no fields");
    pthread_rwlock_rdlock(&s->audit_lock);
    int rc = s->audit ? audit_append(s->audit, kind, agent, fields, flags, NULL) : AUDIT_ERR_CLOSED;
    pthread_rwlock_unlock(&s->audit_lock);
    if (rc == AUDIT_OK)
        return 0;
    if (rc == AUDIT_ERR_INVALID)
        return invalid(s, kind, "fields not a JSON object, over 64 KiB, or a reserved kind");
    __atomic_store_n(&s->audit_failed, 1, __ATOMIC_RELAXED);
    say_failed(kind, rc);
    return SRV_AUDIT_FAILED;
}

int srv_audit(struct srv *s, const char *kind, const char *agent, const char *fields, int sync)
{
    return audit_flags(s, kind, agent, fields, sync ? AUDIT_SYNC : 0);
}

int srv_audit_trusted(struct srv *s, const char *kind, const char *agent, const char *fields)
{
    return audit_flags(s, kind, agent, fields, AUDIT_TRUSTED);
}

int srv_audit_jbuf(struct srv *s, const char *kind, const char *agent, const struct jbuf *b,
                   int sync)
{
    if (b->overflow)
        return invalid(s, kind, "the record did not fit its buffer");
    return srv_audit(s, kind, agent, b->p, sync);
}

int srv_healthy(struct srv *s)
{
    return !__atomic_load_n(&s->audit_failed, __ATOMIC_RELAXED);
}

static void print_diag(const struct diag *d)
{
    for (size_t i = 0; i < d->count; i++) {
        char line[DIAG_PATH_MAX + DIAG_MSG_MAX + 4];
        diag_format(d, i, line, sizeof line);
        log_kv(LOG_LEVEL_ERROR, "policy error", "error", line, NULL);
    }
}

int srv_reload(struct srv *s, const struct pset_source *push, size_t npush, const char *why,
               struct diag *d)
{
    int resign = strcmp(why, "resign") == 0;
    int rc = pset_manager_reload(s->psets, push, npush, resign, d);
    char mem[2048];
    struct jbuf f;
    jbuf_init(&f, mem, sizeof mem);
    jbuf_raw(&f, "{");
    jbuf_key(&f, "trigger");
    jbuf_str(&f, why, 0);
    jbuf_key(&f, "ok");
    jbuf_bool(&f, rc == 0);
    if (rc == 0) {
        struct pset *set = pset_acquire(s->psets);
        jbuf_key(&f, "generation");
        jbuf_u64(&f, set->generation);
        jbuf_key(&f, "agents");
        jbuf_u64(&f, set->n);
        pset_release(set);
        jbuf_key(&f, "pushed");
        jbuf_u64(&f, npush);
        log_kv(LOG_LEVEL_INFO, "policy set reloaded", "trigger", why, NULL);
    } else {
        char first[DIAG_PATH_MAX + DIAG_MSG_MAX + 4] = "";
        if (d->count)
            diag_format(d, 0, first, sizeof first);
        jbuf_key(&f, "errors");
        jbuf_u64(&f, diag_total(d));
        jbuf_key(&f, "first");
        jbuf_str(&f, first, 400);
        char n[24];
        snprintf(n, sizeof n, "%zu", diag_total(d));
        log_kv(LOG_LEVEL_ERROR, "policy reload refused; the previous set stays", "trigger", why,
               "errors", n, NULL);
        print_diag(d);
    }
    jbuf_raw(&f, "}");
    (void)srv_audit_jbuf(s, "policy.reload", NULL, &f, 0);
    return rc;
}

enum decision_outcome srv_decide(struct srv *s, struct decision *d)
{
    if (d->kind >= DECISION_KIND_N)
        d->kind = DECISION_REQUEST;
    if (d->audit_kind) {
        decision_close_record(d);
        d->audit_rc = srv_audit_jbuf(s, d->audit_kind, d->agent, &d->fields,
                                     (d->audit_flags & DECISION_AUDIT_SYNC) != 0);
        if (d->audit_rc != 0 && d->outcome == DECISION_ALLOW &&
            (d->audit_flags & DECISION_AUDIT_REQUIRED))
            decision_unrecorded(d, d->audit_rc == SRV_AUDIT_INVALID);
    }
    srv_count(&s->m.decisions[d->kind][d->outcome], 1);
    if (d->also && d->outcome != DECISION_ALLOW)
        srv_count(d->also, 1);
    if (d->outcome != DECISION_ALLOW)
        decision_render(d);
    return d->outcome;
}

void srv_anomaly_record(void *ud, const char *kind, const char *agent, const char *fields, int sync)
{
    (void)srv_audit(ud, kind, agent, fields, sync);
}
