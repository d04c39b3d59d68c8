/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The anomaly response (policy/server/anomaly.h): windows that slide, each threshold, each
 * action, observe mode, release, the state file across a restart, and hostile state files.
 * Time is pinned through the now_ms arguments.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "policy/server/anomaly.h"

#define T0 1800000000000LL /* a wall-clock time in ms, on a minute boundary */

/* What the anomaly response recorded, in order. */
static char recs[32][1024];
static int n_recs, n_sync;

static void rec(void *ud, const char *kind, const char *agent, const char *fields, int sync)
{
    (void)ud;
    if (n_recs < 32)
        snprintf(recs[n_recs], sizeof recs[0], "%s %s %s", kind, agent, fields);
    n_recs++;
    n_sync += sync != 0;
}

static const char *last_rec(void)
{
    return n_recs ? recs[(n_recs - 1) % 32] : "";
}

static struct policy *load(const char *anomaly, const char *mode)
{
    char doc[2048];
    snprintf(doc, sizeof doc,
             "{\"cordon_policy\":1,\"agent\":\"bob\",\"mode\":\"%s\",\"api\":{\"anomaly\":%s}}",
             mode, anomaly);
    struct policy_env env;
    struct policy_env_storage st;
    cr_assert_eq(policy_env_from_process(&env, &st, NULL), 0);
    struct diag d;
    diag_init(&d);
    struct policy *p = NULL;
    cr_assert_eq(policy_load(doc, strlen(doc), &env, &p, &d), 0, "%s", d.e[0].msg);
    return p;
}

static char dir[64], path[128];

static void setup(void)
{
    n_recs = n_sync = 0;
    snprintf(dir, sizeof dir, "/tmp/cordon-anomaly-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/quarantine", dir);
}

static void teardown(void)
{
    char tmp[160];
    unlink(path);
    snprintf(tmp, sizeof tmp, "%s.new", path);
    unlink(tmp);
    rmdir(dir);
}

TestSuite(anomaly, .init = setup, .fini = teardown);

static struct anomaly *open_table(const char *p)
{
    struct anomaly *a = NULL;
    char err[512] = "";
    cr_assert_eq(anomaly_open(p, rec, NULL, &a, err, sizeof err), 0, "%s", err);
    return a;
}

Test(anomaly, requests_window_slides)
{
    struct anomaly *a = open_table(NULL);
    struct policy *p = load("{\"requests_per_minute\":5}", "enforce");
    /* 5 in a minute is the limit, not over it */
    for (int i = 0; i < 5; i++)
        anomaly_note(a, "bob", p, ANOMALY_REQUESTS, 1, NULL, T0 + i * 1000);
    cr_assert_eq(n_recs, 0);
    /* a minute after the last of them they have slid out: five more are within the limit */
    for (int i = 0; i < 5; i++)
        anomaly_note(a, "bob", p, ANOMALY_REQUESTS, 1, NULL, T0 + 65000 + i * 100);
    cr_assert_eq(n_recs, 0, "old requests must slide out of the window: %s", last_rec());
    /* the sixth within the same minute is over */
    anomaly_note(a, "bob", p, ANOMALY_REQUESTS, 1, NULL, T0 + 66000);
    cr_assert_eq(n_recs, 1);
    cr_assert(strstr(last_rec(), "anomaly.alert bob"), "%s", last_rec());
    cr_assert(strstr(last_rec(), "\"trigger\":\"requests_per_minute\",\"value\":6,\"threshold\":5"),
              "%s", last_rec());
    /* alert: once per window, not on every request above the threshold */
    anomaly_note(a, "bob", p, ANOMALY_REQUESTS, 1, NULL, T0 + 66500);
    cr_assert_eq(n_recs, 1);
    int64_t since;
    unsigned retry;
    cr_assert_eq(anomaly_gate(a, "bob", 0, T0 + 67000, &since, &retry), 0, "alert refuses nothing");
    char *m = anomaly_metrics(a);
    cr_assert(strstr(m, "cordon_anomaly_triggers_total{trigger=\"requests_per_minute\","
                        "action=\"alert\"} 1"),
              "%s", m);
    free(m);
    policy_free(p);
    anomaly_close(a);
}

Test(anomaly, each_threshold)
{
    struct {
        const char *anomaly;
        enum anomaly_signal s;
        uint64_t amount;
        int times;
        const char *trigger;
    } cases[] = {
        {"{\"tokens_per_minute\":1000}", ANOMALY_TOKENS, 600, 2, "tokens_per_minute"},
        {"{\"usd_per_hour\":0.5}", ANOMALY_SPEND, 300000, 2, "usd_per_hour"},
        {"{\"denials_per_10_minutes\":3}", ANOMALY_DENIALS, 1, 4, "denials_per_10_minutes"},
        {"{\"distinct_tools_per_10_minutes\":2}", ANOMALY_TOOLS, 1, 3,
         "distinct_tools_per_10_minutes"},
        {"{\"new_egress_hosts_per_hour\":2}", ANOMALY_HOSTS, 1, 3, "new_egress_hosts_per_hour"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct anomaly *a = open_table(NULL);
        struct policy *p = load(cases[c].anomaly, "enforce");
        n_recs = 0;
        for (int i = 0; i < cases[c].times; i++) {
            char name[32];
            snprintf(name, sizeof name, "name-%d", i);
            cr_assert_eq(n_recs, 0, "%s triggered early at %d", cases[c].trigger, i);
            anomaly_note(a, "bob", p, cases[c].s, cases[c].amount, name, T0 + i * 1000);
        }
        cr_assert_eq(n_recs, 1, "%s did not trigger", cases[c].trigger);
        cr_assert(strstr(last_rec(), cases[c].trigger), "%s", last_rec());
        policy_free(p);
        anomaly_close(a);
    }
}

Test(anomaly, distinct_names_count_once)
{
    struct anomaly *a = open_table(NULL);
    struct policy *p = load("{\"distinct_tools_per_10_minutes\":2,"
                            "\"new_egress_hosts_per_hour\":2}",
                            "enforce");
    for (int i = 0; i < 50; i++) {
        anomaly_note(a, "bob", p, ANOMALY_TOOLS, 1, i % 2 ? "crm_get" : "crm_put", T0 + i);
        anomaly_note(a, "bob", p, ANOMALY_HOSTS, 1, i % 2 ? "a.internal" : "b.internal", T0 + i);
    }
    cr_assert_eq(n_recs, 0, "two names called often are two: %s", last_rec());
    /* a host reached before is not new a second hour later either */
    anomaly_note(a, "bob", p, ANOMALY_HOSTS, 1, "a.internal", T0 + 7200000);
    cr_assert_eq(n_recs, 0);
    policy_free(p);
    anomaly_close(a);
}

Test(anomaly, throttle_and_its_cool_down)
{
    struct anomaly *a = open_table(NULL);
    struct policy *p = load("{\"requests_per_minute\":2,\"on_trigger\":\"throttle\","
                            "\"throttle_seconds\":30}",
                            "enforce");
    for (int i = 0; i < 3; i++)
        anomaly_note(a, "bob", p, ANOMALY_REQUESTS, 1, NULL, T0 + i);
    cr_assert(strstr(last_rec(), "anomaly.throttle bob"), "%s", last_rec());
    int64_t since = 0;
    unsigned retry = 0;
    cr_assert_eq(anomaly_gate(a, "bob", 0, T0 + 10000, &since, &retry), ANOMALY_THROTTLED);
    cr_assert(retry >= 20 && retry <= 30, "retry %u", retry);
    cr_assert_eq(anomaly_gate(a, "bob", 1, T0 + 10000, &since, &retry), 0,
                 "a throttle holds model calls, not tunnels");
    cr_assert_eq(anomaly_gate(a, "alice", 0, T0 + 10000, &since, &retry), 0, "per agent");
    cr_assert_eq(anomaly_gate(a, "bob", 0, T0 + 31000, &since, &retry), 0, "the cool-down ends");
    policy_free(p);
    anomaly_close(a);
}

Test(anomaly, quarantine_persists_and_is_released)
{
    struct anomaly *a = open_table(path);
    struct policy *p =
        load("{\"denials_per_10_minutes\":2,\"on_trigger\":\"quarantine\"}", "enforce");
    uint64_t g0 = anomaly_generation(a);
    cr_assert_eq(anomaly_note(a, "bob", p, ANOMALY_DENIALS, 1, "fs.open /h/.ssh/id", T0), 0);
    cr_assert_eq(anomaly_note(a, "bob", p, ANOMALY_DENIALS, 1, "fs.open /h/.aws", T0 + 1), 0);
    cr_assert_eq(anomaly_note(a, "bob", p, ANOMALY_DENIALS, 1, "exec sudo", T0 + 2), 1);
    cr_assert_neq(anomaly_generation(a), g0);
    cr_assert(strstr(last_rec(), "anomaly.quarantine bob"), "%s", last_rec());
    cr_assert(strstr(last_rec(), "\"persisted\":true"), "%s", last_rec());
    cr_assert_eq(n_sync, 1, "the quarantine is on disk before the caller goes on");
    int64_t since = 0;
    unsigned retry = 0;
    cr_assert_eq(anomaly_gate(a, "bob", 0, T0 + 5, &since, &retry), ANOMALY_QUARANTINED);
    cr_assert_eq(since, T0 + 2);
    cr_assert_eq(anomaly_gate(a, "bob", 1, T0 + 5, &since, &retry), ANOMALY_QUARANTINED);
    char *st = anomaly_status_json(a, T0 + 5);
    cr_assert(strstr(st, "\"quarantined\":true"), "%s", st);
    cr_assert(strstr(st, "exec sudo"), "the last denials are shown: %s", st);
    free(st);
    anomaly_close(a);

    /* a restart: the quarantine comes back from the file */
    a = open_table(path);
    cr_assert_eq(anomaly_quarantined(a, "bob", &since), 1);
    cr_assert_eq(since, T0 + 2);
    cr_assert_eq(anomaly_quarantined(a, "alice", &since), 0);
    cr_assert_eq(anomaly_release(a, "alice", "admin", T0 + 9), 0, "not quarantined");
    cr_assert_eq(anomaly_release(a, "bob", "admin", T0 + 10), 1);
    cr_assert(strstr(last_rec(), "anomaly.release bob"), "%s", last_rec());
    cr_assert_eq(anomaly_gate(a, "bob", 0, T0 + 11, &since, &retry), 0);
    /* the windows start over: one more denial does not quarantine again */
    cr_assert_eq(anomaly_note(a, "bob", p, ANOMALY_DENIALS, 1, "exec sudo", T0 + 12), 0);
    anomaly_close(a);
    a = open_table(path);
    cr_assert_eq(anomaly_quarantined(a, "bob", &since), 0, "the release is on disk too");
    char *m = anomaly_metrics(a);
    cr_assert(strstr(m, "cordon_quarantined_agents 0"), "%s", m);
    free(m);
    policy_free(p);
    anomaly_close(a);
}

Test(anomaly, observe_records_without_acting)
{
    struct anomaly *a = open_table(path);
    struct policy *p =
        load("{\"denials_per_10_minutes\":1,\"on_trigger\":\"quarantine\"}", "observe");
    for (int i = 0; i < 5; i++)
        cr_assert_eq(anomaly_note(a, "bob", p, ANOMALY_DENIALS, 1, "x", T0 + i), 0);
    cr_assert_eq(n_recs, 1, "recorded once");
    cr_assert(strstr(last_rec(), "anomaly.alert bob"), "%s", last_rec());
    cr_assert(strstr(last_rec(), "\"action\":\"quarantine\",\"mode\":\"observe\""), "%s",
              last_rec());
    int64_t since;
    unsigned retry;
    cr_assert_eq(anomaly_gate(a, "bob", 0, T0 + 10, &since, &retry), 0);
    cr_assert_eq(access(path, F_OK), -1, "nothing to persist");
    policy_free(p);
    anomaly_close(a);
}

Test(anomaly, no_policy_counts_but_never_triggers)
{
    struct anomaly *a = open_table(NULL);
    for (int i = 0; i < 1000; i++)
        anomaly_note(a, "bob", NULL, ANOMALY_DENIALS, 1, "x", T0 + i);
    cr_assert_eq(n_recs, 0);
    char *st = anomaly_status_json(a, T0 + 1000);
    cr_assert(strstr(st, "\"denials_per_10_minutes\":1000"), "%s", st);
    free(st);
    anomaly_close(a);
}

static void write_file(const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
}

Test(anomaly, hostile_state_files)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "empty"},
        {"cordon-quarantine 2\n", "line 1"},
        {"cordon-quarantine 1\nbob 123", "no newline"},
        {"cordon-quarantine 1\nbob\n", "expected AGENT"},
        {"cordon-quarantine 1\n../etc 1 x\n", "not an agent name"},
        {"cordon-quarantine 1\nbob x1 r\n", "a time"},
        {"cordon-quarantine 1\nbob 99999999999999999999999 r\n", "out of range"},
        {"cordon-quarantine 1\nbob 1 r\x1b[2J\n", "control"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(bad[i].text, strlen(bad[i].text));
        struct anomaly *a = NULL;
        char err[512] = "";
        int rc = anomaly_open(path, rec, NULL, &a, err, sizeof err);
        cr_assert_eq(rc, -EINVAL, "case %zu", i);
        cr_assert_null(a);
        cr_assert(strstr(err, bad[i].why), "case %zu: %s", i, err);
        cr_assert(strstr(err, "cordon agent release"), "says what to do: %s", err);
    }
    /* a reason of 201 bytes, and a file over the bound */
    char big[400];
    int n = snprintf(big, sizeof big, "cordon-quarantine 1\nbob 1 %0201d\n", 0);
    write_file(big, (size_t)n);
    struct anomaly *a = NULL;
    char err[512];
    cr_assert_eq(anomaly_open(path, rec, NULL, &a, err, sizeof err), -EINVAL);
    char *huge = malloc(ANOMALY_STATE_MAX + 10);
    memset(huge, '\n', ANOMALY_STATE_MAX + 10);
    memcpy(huge, "cordon-quarantine 1\n", 20);
    write_file(huge, ANOMALY_STATE_MAX + 10);
    free(huge);
    cr_assert_eq(anomaly_open(path, rec, NULL, &a, err, sizeof err), -EFBIG);
    /* a symlink in its place is not followed */
    unlink(path);
    cr_assert_eq(symlink("/etc/passwd", path), 0);
    cr_assert_lt(anomaly_open(path, rec, NULL, &a, err, sizeof err), 0);
    unlink(path);
    /* a good file with blank lines and two agents */
    const char good[] = "cordon-quarantine 1\n\nbob 5 denials 6 over 5\nalice 7 \n";
    write_file(good, sizeof good - 1);
    a = open_table(path);
    int64_t since;
    cr_assert_eq(anomaly_quarantined(a, "bob", &since), 1);
    cr_assert_eq(since, 5);
    cr_assert_eq(anomaly_quarantined(a, "alice", &since), 1);
    anomaly_close(a);
}
