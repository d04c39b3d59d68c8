/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy set and its reloads (see pset.h). A reload is serialised by the manager's reload
 * mutex, which readers never take; readers take only the short pointer lock in pset_acquire().
 */
#include "policy/server/pset.h"
#include "base/grow.h"
#include "base/io.h"
#include "base/path.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/deep.h"
#include "policy/engine/engine.h"
#include "policy/server/httprule.h"
#include "policy/sign/envelope.h"
#include "policy/sign/key.h"
#include "policy/policy.h"

struct version_rec {
    char agent[AGENTS_NAME_MAX + 1];
    uint64_t version;
    unsigned char digest[32];
};

struct pset_manager {
    struct pset_options o;
    char dir[4096], file[4096], versions_path[4096];
    pthread_mutex_t reload_mu; /* one reload at a time */
    pthread_mutex_t ptr_mu;    /* guards cur and its count only */
    struct pset *cur;
    uint64_t generation;
    struct version_rec *vers;
    size_t n_vers;
    struct policy_env env;
    struct policy_env_storage env_st;
    uint64_t reloads, failures;
};

static void set_free(struct pset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].source);
        free(s->v[i].envelope);
        engine_free(s->v[i].engine);
        httprule_free(s->v[i].http_rules);
        policy_free(s->v[i].policy);
    }
    free(s->v);
    free(s);
}

struct pset *pset_acquire(struct pset_manager *m)
{
    pthread_mutex_lock(&m->ptr_mu);
    struct pset *s = m->cur;
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(&m->ptr_mu);
    return s;
}

void pset_release(struct pset *s)
{
    if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
        set_free(s);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct pset_entry *)a)->agent, ((const struct pset_entry *)b)->agent);
}

const struct pset_entry *pset_find(const struct pset *s, const char *agent)
{
    struct pset_entry key;
    if (strlen(agent) >= sizeof key.agent)
        return NULL;
    memcpy(key.agent, agent, strlen(agent) + 1);
    return bsearch(&key, s->v, s->n, sizeof *s->v, cmp_entry);
}

void pset_manager_stats(struct pset_manager *m, uint64_t *reloads, uint64_t *failures)
{
    *reloads = __atomic_load_n(&m->reloads, __ATOMIC_RELAXED);
    *failures = __atomic_load_n(&m->failures, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ versions file */

static int versions_load(struct pset_manager *m, struct diag *d)
{
    FILE *f = fopen(m->versions_path, "re");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        diag_add(d, "", "%s: cannot read the policy versions: %s", m->versions_path,
                 strerror(errno));
        return -EIO;
    }
    char line[256];
    size_t lineno = 0, cap = 0; /* versions are loaded once, before any reload, into NULL */
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char name[128], hex[128], extra[2];
        uint64_t v;
        size_t bl;
        struct version_rec r = {0};
        if (sscanf(line, "%127s %" SCNu64 " %127s %1s", name, &v, hex, extra) != 3 ||
            !agents_valid_name(name) || v == 0 || v > (1ull << 53) || strlen(hex) != 64 ||
            sodium_hex2bin(r.digest, 32, hex, 64, NULL, &bl, NULL) != 0 || bl != 32 ||
            m->n_vers >= PSET_MAX_AGENTS * 4) {
            diag_add(d, "",
                     "%s:%zu: malformed; expected AGENT VERSION SHA256 (the file is "
                     "written by cordond: restore it from a backup, or raise every version by "
                     "hand so that none goes back)",
                     m->versions_path, lineno);
            rc = -EINVAL;
            break;
        }
        if ((rc = GROW(&m->vers, &cap, m->n_vers + 1)) != 0) {
            diag_add(d, "", "%s: out of memory reading the policy versions", m->versions_path);
            break;
        }
        memcpy(r.agent, name, strlen(name) + 1);
        r.version = v;
        m->vers[m->n_vers++] = r;
    }
    fclose(f);
    return rc;
}

static int versions_save(const char *path, const struct version_rec *v, size_t n, struct diag *d)
{
    if (!path[0])
        return 0;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        diag_add(d, "", "%s: cannot write the policy versions: %s", tmp, strerror(errno));
        return -EIO;
    }
    fprintf(f, "# cordond policy versions: AGENT VERSION SHA256(policy text)\n");
    for (size_t i = 0; i < n; i++) {
        char hex[65];
        sodium_bin2hex(hex, sizeof hex, v[i].digest, 32);
        fprintf(f, "%s %" PRIu64 " %s\n", v[i].agent, v[i].version, hex);
    }
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        diag_add(d, "", "%s: cannot write the policy versions: %s", path, strerror(errno));
        unlink(tmp);
        return -EIO;
    }
    return 0;
}

/* ------------------------------------------------------------ sources */

struct src {
    char agent[AGENTS_NAME_MAX + 1];
    char *text;
    size_t len;
    int pushed;
};

struct srcs {
    size_t n;
    struct src v[PSET_MAX_AGENTS];
};

static int read_all(const char *path, char **out, size_t *len, struct diag *d, const char *label)
{
    int rc = path_read_file(path, POLICY_MAX_BYTES, out, len, NULL);
    if (rc == -EINVAL)
        diag_add(d, label, "not a regular file");
    else if (rc == -EFBIG)
        diag_add(d, label, "%zu bytes, the limit for a policy is %u", *len, POLICY_MAX_BYTES);
    else if (rc != 0)
        diag_add(d, label, "cannot read: %s", strerror(-rc));
    return rc == 0 ? 0 : -EINVAL;
}

/* NAME.json -> NAME when NAME is a valid agent name; else -EINVAL. */
static int file_agent(const char *file, char agent[AGENTS_NAME_MAX + 1])
{
    size_t n = strlen(file);
    if (n <= 5 || strcmp(file + n - 5, ".json") != 0 || n - 5 > AGENTS_NAME_MAX)
        return -EINVAL;
    memcpy(agent, file, n - 5);
    agent[n - 5] = '\0';
    return agents_valid_name(agent) ? 0 : -EINVAL;
}

static struct src *src_find(struct srcs *s, const char *agent)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].agent, agent) == 0)
            return &s->v[i];
    return NULL;
}

static int srcs_from_dir(struct pset_manager *m, struct srcs *s, struct diag *d)
{
    DIR *dir = opendir(m->dir);
    if (!dir) {
        diag_add(d, "", "%s: cannot open the policies directory: %s", m->dir, strerror(errno));
        return -EIO;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(dir))) {
        size_t nl = strlen(de->d_name);
        if (de->d_name[0] == '.' || nl < 5 || strcmp(de->d_name + nl - 5, ".json") != 0)
            continue; /* editors' backups and temporary files are not policies */
        char agent[AGENTS_NAME_MAX + 1], path[8192];
        if (file_agent(de->d_name, agent) != 0) {
            diag_add(d, "",
                     "%s: the file name must be AGENT.json with AGENT 1 to 64 letters, "
                     "digits, '.', '_' or '-'",
                     de->d_name);
            rc = -EINVAL;
            continue;
        }
        if (s->n == PSET_MAX_AGENTS) {
            diag_add(d, "", "%s: more than %d policies", m->dir, PSET_MAX_AGENTS);
            rc = -EINVAL;
            break;
        }
        snprintf(path, sizeof path, "%s/%s", m->dir, de->d_name);
        struct src *x = &s->v[s->n];
        memset(x, 0, sizeof *x);
        memcpy(x->agent, agent, sizeof agent);
        if (read_all(path, &x->text, &x->len, d, de->d_name) != 0) {
            rc = -EINVAL;
            continue;
        }
        s->n++;
    }
    closedir(dir);
    return rc;
}

static void srcs_free(struct srcs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].text);
    s->n = 0;
}

/* Copy every entry of one file's diagnostics into d, prefixed with the file name. */
static void diag_merge(struct diag *d, const char *file, const struct diag *one)
{
    for (size_t i = 0; i < one->count; i++) {
        char msg[DIAG_MSG_MAX + DIAG_PATH_MAX];
        diag_format(one, i, msg, sizeof msg);
        diag_add(d, file, "%s", msg);
    }
    if (one->dropped)
        diag_add(d, file, "... and %zu more errors", one->dropped);
}

/* ------------------------------------------------------------ build */

static int build(struct pset_manager *m, struct srcs *s, struct pset **out, struct version_rec **nv,
                 size_t *n_nv, struct diag *d)
{
    int rc = -EINVAL;
    struct diag *one = malloc(sizeof *one);
    struct pset *set = calloc(1, sizeof *set);
    struct version_rec *vers = NULL;
    size_t n_vers = m->n_vers;
    if (!one || !set || !(set->v = calloc(s->n ? s->n : 1, sizeof *set->v)))
        goto nomem;
    vers = malloc((m->n_vers + s->n + 1) * sizeof *vers);
    if (!vers)
        goto nomem;
    if (m->n_vers)
        memcpy(vers, m->vers, m->n_vers * sizeof *vers);
    time_t now = time(NULL);
    set->resign_at = now + m->o.expiry / 2;

    for (size_t i = 0; i < s->n; i++) {
        struct src *x = &s->v[i];
        struct pset_entry *e = &set->v[set->n];
        char file[AGENTS_NAME_MAX + 8];
        snprintf(file, sizeof file, "%s.json", x->agent);
        diag_init(one);
        struct policy *p = NULL;
        if (policy_load(x->text, x->len, &m->env, &p, one) != 0) {
            diag_merge(d, file, one);
            continue;
        }
        if (policy_check_deep(p, DEEP_ZONEINFO_DIR, one) != 0 || diag_total(one)) {
            diag_merge(d, file, one);
            policy_free(p);
            continue;
        }
        if (strcmp(p->agent, x->agent) != 0) {
            char q[96];
            diag_quote(p->agent, q, sizeof q);
            diag_add(d, file,
                     "agent: is %s but the file is named for %s; the agent member must "
                     "equal the file name without .json",
                     q, x->agent);
            policy_free(p);
            continue;
        }
        struct engine *eng = NULL;
        char eerr[256] = "";
        struct engine_options eo;
        if (engine_options_from_policy(p, &eo, eerr, sizeof eerr) == 0)
            eo.data_key = m->o.data_key; /* the exact-data-match files' key */
        if (engine_new(p, eerr[0] ? NULL : &eo, &eng, eerr, sizeof eerr) != 0) {
            diag_add(d, file, "the model proxy's engine cannot be built: %s", eerr);
            policy_free(p);
            continue;
        }
        struct httprule_set *hr = NULL;
        if (p->sandbox.net.n_http && httprule_compile(p, &hr, eerr, sizeof eerr) != 0) {
            diag_add(d, file, "the sandbox.network.http rules cannot be compiled: %s", eerr);
            engine_free(eng);
            policy_free(p);
            continue;
        }
        set->n++;
        memcpy(e->agent, x->agent, sizeof e->agent);
        e->policy = p;
        e->engine = eng;
        e->http_rules = hr;
        e->source = x->text;
        e->source_len = x->len;
        x->text = NULL; /* transferred */
        crypto_hash_sha256(e->digest, (const unsigned char *)e->source, e->source_len);
        struct version_rec *r = NULL;
        for (size_t k = 0; k < n_vers; k++)
            if (strcmp(vers[k].agent, e->agent) == 0)
                r = &vers[k];
        if (!r) {
            r = &vers[n_vers++];
            memset(r, 0, sizeof *r);
            memcpy(r->agent, e->agent, sizeof r->agent);
        }
        if (r->version == 0 || memcmp(r->digest, e->digest, 32) != 0) {
            if (r->version >= (1ull << 53)) {
                diag_add(d, file, "the version would pass 2^53; the agent needs a new name");
                continue;
            }
            r->version++;
            memcpy(r->digest, e->digest, 32);
        }
        e->version = r->version;
        /* the version cordond signs is the policy's own: the engine names it in refusals */
        e->policy->version = e->version;
    }
    if (diag_total(d))
        goto out;
    qsort(set->v, set->n, sizeof *set->v, cmp_entry);
    for (size_t i = 0; i < set->n; i++) {
        struct pset_entry *e = &set->v[i];
        char err[512];
        struct envelope_stamp st = {
            .version = e->version, .issued_at = now, .expires_at = now + m->o.expiry};
        if (envelope_sign_host(e->source, e->source_len, &st, m->o.host_deny, m->o.n_host_deny,
                               m->o.key, &e->envelope, err, sizeof err) != 0) {
            diag_add(d, e->agent, "cannot sign: %s", err);
            goto out;
        }
        e->envelope_len = strlen(e->envelope);
        e->issued_at = st.issued_at;
        e->expires_at = st.expires_at;
        unsigned char h[32];
        char hex[65];
        crypto_hash_sha256(h, (const unsigned char *)e->envelope, e->envelope_len);
        sodium_bin2hex(hex, sizeof hex, h, 32);
        snprintf(e->etag, sizeof e->etag, "\"v%" PRIu64 "-%.16s\"", e->version, hex);
    }
    set->refs = 1;
    *out = set;
    set = NULL; /* transferred */
    *nv = vers;
    *n_nv = n_vers;
    vers = NULL; /* transferred */
    rc = 0;
    goto out;
nomem:
    diag_add(d, "", "out of memory building the policy set");
    rc = -ENOMEM;
out:
    free(vers);
    set_free(set);
    free(one);
    return rc;
}

static int write_pushed(struct pset_manager *m, const struct srcs *s, const struct pset *set,
                        struct diag *d)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!s->v[i].pushed)
            continue;
        const struct pset_entry *e = pset_find(set, s->v[i].agent);
        char path[8192], tmp[8200];
        snprintf(path, sizeof path, "%s/%s.json", m->dir, s->v[i].agent);
        snprintf(tmp, sizeof tmp, "%s/.%s.json.tmp", m->dir, s->v[i].agent);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        int rc = fd < 0 ? -errno : io_write_all(fd, e->source, e->source_len);
        if (rc == 0 && fsync(fd) != 0)
            rc = -errno;
        if (fd >= 0)
            close(fd);
        if (rc == 0 && rename(tmp, path) != 0)
            rc = -errno;
        if (rc != 0) {
            diag_add(d, "", "%s: cannot write the pushed policy: %s", path, strerror(-rc));
            unlink(tmp);
            return -EIO;
        }
    }
    return 0;
}

int pset_manager_reload(struct pset_manager *m, const struct pset_source *push, size_t npush,
                        int resign, struct diag *d)
{
    int rc = -EINVAL;
    struct srcs *s = calloc(1, sizeof *s);
    struct pset *set = NULL;
    struct version_rec *nv = NULL;
    size_t n_nv = 0;
    if (!s) {
        diag_add(d, "", "out of memory reloading the policy set");
        return -ENOMEM;
    }
    pthread_mutex_lock(&m->reload_mu);
    if (npush && !m->dir[0]) {
        diag_add(d, "",
                 "this server serves one policy file (--policy); push needs a server "
                 "with policies_dir");
        goto out;
    }
    if (resign) {
        struct pset *cur = m->cur; /* stable: only reloads replace it, and we hold reload_mu */
        for (size_t i = 0; i < cur->n; i++) {
            struct src *x = &s->v[s->n];
            memcpy(x->agent, cur->v[i].agent, sizeof x->agent);
            x->text = malloc(cur->v[i].source_len + 1);
            if (!x->text) {
                rc = -ENOMEM;
                goto out;
            }
            memcpy(x->text, cur->v[i].source, cur->v[i].source_len + 1);
            x->len = cur->v[i].source_len;
            s->n++;
        }
    } else if (m->dir[0]) {
        if ((rc = srcs_from_dir(m, s, d)) != 0)
            goto out;
    } else {
        struct src *x = &s->v[0];
        if ((rc = read_all(m->file, &x->text, &x->len, d, m->file)) != 0)
            goto out;
        s->n = 1;
        /* The agent is whatever the one file names; build() checks it is a valid name. */
        struct diag *one = malloc(sizeof *one);
        struct policy *p = NULL;
        if (!one) {
            rc = -ENOMEM; /* rc was 0 here: a reload that built nothing must not succeed */
            goto out;
        }
        diag_init(one);
        if (policy_load(x->text, x->len, &m->env, &p, one) != 0) {
            diag_merge(d, m->file, one);
            free(one);
            rc = -EINVAL;
            goto out;
        }
        snprintf(x->agent, sizeof x->agent, "%s", p->agent);
        policy_free(p);
        free(one);
    }
    for (size_t i = 0; i < npush; i++) {
        char agent[AGENTS_NAME_MAX + 1];
        if (file_agent(push[i].file, agent) != 0) {
            char q[96];
            diag_quote(push[i].file, q, sizeof q);
            diag_add(d, "",
                     "%s: a pushed file must be named AGENT.json with AGENT 1 to 64 "
                     "letters, digits, '.', '_' or '-'",
                     q);
            rc = -EINVAL;
            goto out;
        }
        if (push[i].len > POLICY_MAX_BYTES) {
            diag_add(d, push[i].file, "%zu bytes, the limit for a policy is %u", push[i].len,
                     POLICY_MAX_BYTES);
            rc = -EINVAL;
            goto out;
        }
        struct src *x = src_find(s, agent);
        if (x && x->pushed) {
            diag_add(d, push[i].file, "pushed twice in one request");
            rc = -EINVAL;
            goto out;
        }
        if (!x) {
            if (s->n == PSET_MAX_AGENTS) {
                diag_add(d, "", "more than %d policies", PSET_MAX_AGENTS);
                rc = -EINVAL;
                goto out;
            }
            x = &s->v[s->n++];
            memcpy(x->agent, agent, sizeof agent);
        }
        free(x->text);
        x->text = malloc(push[i].len + 1);
        if (!x->text) {
            rc = -ENOMEM;
            goto out;
        }
        memcpy(x->text, push[i].text, push[i].len);
        x->text[push[i].len] = '\0';
        x->len = push[i].len;
        x->pushed = 1;
    }
    if ((rc = build(m, s, &set, &nv, &n_nv, d)) != 0)
        goto out;
    /* Persist versions first: a version once served must never be served again for other
     * content, even if the process dies right after the swap. */
    if ((rc = versions_save(m->versions_path, nv, n_nv, d)) != 0)
        goto out;
    free(m->vers);
    m->vers = nv;
    m->n_vers = n_nv;
    nv = NULL; /* transferred */
    if ((rc = write_pushed(m, s, set, d)) != 0)
        goto out;
    set->generation = ++m->generation;
    pthread_mutex_lock(&m->ptr_mu);
    struct pset *old = m->cur;
    m->cur = set;
    pthread_mutex_unlock(&m->ptr_mu);
    set = NULL; /* transferred */
    pset_release(old);
    rc = 0;
out:
    if (rc == 0)
        __atomic_add_fetch(&m->reloads, 1, __ATOMIC_RELAXED);
    else
        __atomic_add_fetch(&m->failures, 1, __ATOMIC_RELAXED);
    if (rc != 0 && !diag_total(d))
        diag_add(d, "", "reload failed: %s", strerror(-rc));
    pthread_mutex_unlock(&m->reload_mu);
    free(nv);
    if (set) {
        set->refs = 0;
        set_free(set);
    }
    srcs_free(s);
    free(s);
    return rc;
}

int pset_manager_open(const struct pset_options *o, struct pset_manager **out, struct diag *d)
{
    int rc = -ENOMEM;
    struct pset_manager *m = calloc(1, sizeof *m);
    if (!m) {
        diag_add(d, "", "out of memory opening the policy set");
        goto fail;
    }
    m->o = *o;
    snprintf(m->dir, sizeof m->dir, "%s", o->policies_dir ? o->policies_dir : "");
    snprintf(m->file, sizeof m->file, "%s", o->policy_file ? o->policy_file : "");
    snprintf(m->versions_path, sizeof m->versions_path, "%s",
             o->versions_path ? o->versions_path : "");
    pthread_mutex_init(&m->reload_mu, NULL);
    pthread_mutex_init(&m->ptr_mu, NULL);
    if ((rc = policy_env_from_process(&m->env, &m->env_st, NULL)) != 0) {
        diag_add(d, "", "cannot read the server's environment to compile policies: %s",
                 strerror(-rc));
        goto fail;
    }
    /* what is signed is what was checked: each policy compiles with the host_deny it gets */
    m->env.host_deny = o->host_deny;
    m->env.n_host_deny = o->n_host_deny;
    if (m->versions_path[0] && (rc = versions_load(m, d)) != 0)
        goto fail;
    if ((rc = pset_manager_reload(m, NULL, 0, 0, d)) != 0)
        goto fail;
    m->reloads = 0;
    *out = m;
    return 0;
fail:
    pset_manager_free(m);
    return rc;
}

void pset_manager_free(struct pset_manager *m)
{
    if (!m)
        return;
    pset_release(m->cur);
    free(m->vers);
    pthread_mutex_destroy(&m->reload_mu);
    pthread_mutex_destroy(&m->ptr_mu);
    free(m);
}
