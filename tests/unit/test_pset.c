/* SPDX-License-Identifier: Apache-2.0 */
/* The policy set: validation as a whole, versions across reloads and restarts, atomic swaps. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy/sign/envelope.h"
#include "policy/sign/key.h"
#include "policy/policy.h"
#include "policy/server/pset.h"
#include "support.h"

static char dir[64], pol[128], vers[128], err[512];
static struct key_secret *key;
static struct key_trust trust;
static struct diag d;

static void writef(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", pol, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *doc(const char *agent, const char *host)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"cordon_policy\":1,\"agent\":\"%s\",\"sandbox\":{\"network\":{\"mode\":\"proxy\","
             "\"allow\":[\"%s:443\"]}}}",
             agent, host);
    return buf;
}

static void setup(void)
{
    char prefix[128];
    snprintf(dir, sizeof dir, "/tmp/cordon-pset-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(pol, sizeof pol, "%s/pol", dir);
    snprintf(vers, sizeof vers, "%s/versions", dir);
    mkdir(pol, 0700);
    snprintf(prefix, sizeof prefix, "%s/k", dir);
    cr_assert_eq(key_generate(prefix, NULL, err, sizeof err), 0, "%s", err);
    char kp[160];
    snprintf(kp, sizeof kp, "%s.key", prefix);
    cr_assert_eq(key_secret_load(kp, &key, err, sizeof err), 0, "%s", err);
    snprintf(kp, sizeof kp, "%s.pub", prefix);
    cr_assert_eq(key_trust_load(kp, &trust, err, sizeof err), 0, "%s", err);
    diag_init(&d);
}

static void teardown(void)
{
    key_secret_free(key);
    remove_tree(dir);
}

TestSuite(pset, .init = setup, .fini = teardown);

static struct pset_manager *open_mgr(void)
{
    struct pset_options o = {
        .policies_dir = pol, .versions_path = vers, .key = key, .expiry = 3600};
    struct pset_manager *m = NULL;
    diag_init(&d);
    int rc = pset_manager_open(&o, &m, &d);
    if (rc != 0) {
        char line[600];
        diag_format(&d, 0, line, sizeof line);
        cr_assert_fail("open: %s", line);
    }
    return m;
}

static uint64_t version_of(struct pset_manager *m, const char *agent)
{
    struct pset *s = pset_acquire(m);
    const struct pset_entry *e = pset_find(s, agent);
    uint64_t v = 0;
    if (e) {
        char *payload = NULL;
        size_t pl;
        struct envelope_stamp st;
        cr_assert_eq(envelope_verify(e->envelope, e->envelope_len, &trust, time(NULL), &payload,
                                     &pl, &st, NULL, err, sizeof err),
                     0, "%s", err);
        cr_assert_eq(st.version, e->version);
        char want[64];
        snprintf(want, sizeof want, "\"v%llu-", (unsigned long long)e->version);
        cr_assert_eq(strncmp(e->etag, want, strlen(want)), 0, "%s", e->etag);
        free(payload);
        v = e->version;
    }
    pset_release(s);
    return v;
}

static int has_diag(const char *needle)
{
    for (size_t i = 0; i < d.count; i++) {
        char line[600];
        diag_format(&d, i, line, sizeof line);
        if (strstr(line, needle))
            return 1;
    }
    return 0;
}

Test(pset, versions_grow_only_with_content_across_restarts)
{
    writef("a.json", doc("a", "a.example.org"));
    writef("b.json", doc("b", "b.example.org"));
    writef("notes.txt", "not a policy");
    writef(".a.json.swp", "editor junk");
    struct pset_manager *m = open_mgr();
    cr_assert_eq(version_of(m, "a"), 1);
    cr_assert_eq(version_of(m, "b"), 1);
    cr_assert_eq(version_of(m, "notes"), 0);
    writef("a.json", doc("a", "a2.example.org"));
    cr_assert_eq(pset_manager_reload(m, NULL, 0, 0, &d), 0);
    cr_assert_eq(version_of(m, "a"), 2);
    cr_assert_eq(version_of(m, "b"), 1, "unchanged text keeps its version");
    cr_assert_eq(pset_manager_reload(m, NULL, 0, 1, &d), 0, "re-sign");
    cr_assert_eq(version_of(m, "a"), 2, "re-signing keeps the version");
    pset_manager_free(m);

    m = open_mgr();
    cr_assert_eq(version_of(m, "a"), 2, "the version survives a restart");
    writef("a.json", doc("a", "a.example.org")); /* back to the first text: still grows */
    cr_assert_eq(pset_manager_reload(m, NULL, 0, 0, &d), 0);
    cr_assert_eq(version_of(m, "a"), 3);
    pset_manager_free(m);
}

Test(pset, a_bad_file_never_replaces_the_good_set)
{
    writef("a.json", doc("a", "a.example.org"));
    struct pset_manager *m = open_mgr();
    struct pset *before = pset_acquire(m);
    writef("b.json", "{\"cordon_policy\":1,\"agent\":\"b\",\"mode\":\"enforcee\"}");
    cr_assert_neq(pset_manager_reload(m, NULL, 0, 0, &d), 0);
    cr_assert(has_diag("b.json: mode: expected one of"));
    struct pset *after = pset_acquire(m);
    cr_assert_eq(before, after, "the old set is still the current one");
    pset_release(after);
    pset_release(before);
    uint64_t reloads, failures;
    pset_manager_stats(m, &reloads, &failures);
    cr_assert_eq(failures, 1);
    unlink("b.json");
    pset_manager_free(m);
}

Test(pset, push_validates_with_the_existing_set_and_writes_atomically)
{
    writef("a.json", doc("a", "a.example.org"));
    struct pset_manager *m = open_mgr();
    const char *c = doc("c", "c.example.org");
    struct pset_source ok = {"c.json", c, strlen(c)};
    cr_assert_eq(pset_manager_reload(m, &ok, 1, 0, &d), 0);
    cr_assert_eq(version_of(m, "c"), 1);
    char p[256];
    snprintf(p, sizeof p, "%s/c.json", pol);
    size_t n;
    char *written = read_file(p, &n);
    cr_assert_str_eq(written, c);
    free(written);

    const char *mism = doc("zzz", "x.example.org");
    struct pset_source bad[] = {
        {"d.json", mism, strlen(mism)},          /* agent is not the file name */
        {"../evil.json", c, strlen(c)},          /* path in the name */
        {"e.txt", c, strlen(c)},                 /* not .json */
        {"f.json", "[1,2", 4},                   /* not JSON */
        {"g.json", "{\"cordon_policy\":1}", 19}, /* no agent */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        diag_init(&d);
        cr_assert_neq(pset_manager_reload(m, &bad[i], 1, 0, &d), 0, "%s", bad[i].file);
        cr_assert_gt(diag_total(&d), 0);
    }
    diag_init(&d);
    cr_assert_neq(pset_manager_reload(m, &bad[0], 1, 0, &d), 0);
    cr_assert(has_diag("must equal the file name"));
    struct pset_source twice[] = {ok, ok};
    diag_init(&d);
    cr_assert_neq(pset_manager_reload(m, twice, 2, 0, &d), 0);
    snprintf(p, sizeof p, "%s/d.json", pol);
    cr_assert_neq(access(p, F_OK), 0, "a refused push writes nothing");

    char *huge = malloc(POLICY_MAX_BYTES + 2);
    memset(huge, ' ', POLICY_MAX_BYTES + 1);
    huge[POLICY_MAX_BYTES + 1] = '\0';
    struct pset_source big = {"h.json", huge, POLICY_MAX_BYTES + 1};
    diag_init(&d);
    cr_assert_neq(pset_manager_reload(m, &big, 1, 0, &d), 0);
    cr_assert(has_diag("the limit for a policy"));
    free(huge);
    pset_manager_free(m);
}

Test(pset, hostile_directory_and_versions_file)
{
    writef("Bad Name.json", doc("a", "a.example.org"));
    struct pset_options o = {
        .policies_dir = pol, .versions_path = vers, .key = key, .expiry = 3600};
    struct pset_manager *m = NULL;
    cr_assert_neq(pset_manager_open(&o, &m, &d), 0);
    cr_assert(has_diag("file name must be AGENT.json"));
    char p[256];
    snprintf(p, sizeof p, "%s/Bad Name.json", pol);
    unlink(p);

    writef("a.json", doc("a", "a.example.org"));
    FILE *f = fopen(vers, "w");
    fputs("a 0 zz\n", f);
    fclose(f);
    diag_init(&d);
    cr_assert_neq(pset_manager_open(&o, &m, &d), 0);
    cr_assert(has_diag("versions"), "a damaged versions file is refused, never reset");
    unlink(vers);

    o.policies_dir = "/nonexistent/policies";
    diag_init(&d);
    cr_assert_neq(pset_manager_open(&o, &m, &d), 0);
    cr_assert(has_diag("cannot open the policies directory"));
}

struct reader {
    struct pset_manager *m;
    int stop, bad, reads;
};

static void *read_loop(void *arg)
{
    struct reader *r = arg;
    uint64_t last = 0;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        struct pset *s = pset_acquire(r->m);
        const struct pset_entry *a = pset_find(s, "a"), *b = pset_find(s, "b");
        /* a whole set: both agents, both with envelopes, versions in step */
        if (!a || !b || !a->envelope || !b->envelope || a->version != b->version ||
            a->version < last)
            r->bad++;
        else
            last = a->version;
        pset_release(s);
        r->reads++;
    }
    return NULL;
}

Test(pset, readers_never_see_half_a_set)
{
    writef("a.json", doc("a", "x0.example.org"));
    writef("b.json", doc("b", "x0.example.org"));
    struct pset_manager *m = open_mgr();
    struct reader r = {m, 0, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, read_loop, &r);
    for (int i = 1; i <= 20; i++) {
        char host[64];
        snprintf(host, sizeof host, "x%d.example.org", i);
        writef("a.json", doc("a", host));
        writef("b.json", doc("b", host));
        cr_assert_eq(pset_manager_reload(m, NULL, 0, 0, &d), 0);
    }
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    cr_assert_eq(r.bad, 0);
    cr_assert_gt(r.reads, 0);
    cr_assert_eq(version_of(m, "a"), 21);
    pset_manager_free(m);
}
