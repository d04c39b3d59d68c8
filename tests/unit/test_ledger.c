/* SPDX-License-Identifier: Apache-2.0 */
/* The ledger (policy/server/ledger.h): limits held atomically under threads, settlement and
 * release, the journal's line format, and recovery: restart, a reservation open at a kill -9,
 * a torn last line, damaged lines, and a second recovery that must give the same totals. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/server/ledger.h"

#define NOW 1764633600000LL /* 2025-12-02T00:00:00Z */

static void ask_init(struct engine_budget_ask *a, const char *agent, const char *session,
                     int64_t usd, int64_t tok)
{
    memset(a, 0, sizeof *a);
    a->agent = agent;
    a->session = session;
    snprintf(a->day, sizeof a->day, "2025-12-02");
    snprintf(a->month, sizeof a->month, "2025-12");
    a->day_reset_ms = NOW + 86400000;
    a->month_reset_ms = NOW + 30LL * 86400000;
    a->now_ms = NOW + 1000;
    a->usd_p = usd;
    a->tokens = tok;
    for (int k = 0; k < ENGINE_BUDGET_N_SCOPES; k++)
        a->limit[k] = -1;
}

static struct ledger *mem_ledger(void)
{
    struct ledger *l = NULL;
    char err[256];
    cr_assert_eq(ledger_open(NULL, NOW, &l, err, sizeof err), 0, "%s", err);
    return l;
}

static void tmp_path(char *buf, size_t cap, const char *name)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, cap, "%s/cordon-ledger-%d-%s", t && t[0] ? t : "/tmp", (int)getpid(), name);
    unlink(buf);
}

static struct ledger *journal_ledger(const char *path)
{
    struct ledger_store *st = NULL;
    struct ledger *l = NULL;
    char err[512];
    cr_assert_eq(ledger_journal_open(path, 10, &st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ledger_open(st, NOW, &l, err, sizeof err), 0, "%s", err);
    return l;
}

static int64_t day_spent(struct ledger *l, const char *agent)
{
    struct ledger_view v;
    ledger_view_get(l, agent, "s1", "2025-12-02", "2025-12", NOW, &v);
    return v.spent[ENGINE_BUDGET_DAY_USD];
}

Test(ledger, limit_refuses_the_call_that_would_pass_it)
{
    struct ledger *l = mem_ledger();
    struct engine_budget_ask a;
    ask_init(&a, "a", "s1", 300, 10);
    a.limit[ENGINE_BUDGET_DAY_USD] = 1000;
    uint64_t h[4] = {0};
    struct engine_budget_refusal why;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ledger_reserve(l, &a, &h[i], &why), 0, "call %d", i);
    cr_assert_eq(ledger_reserve(l, &a, &h[3], &why), 1, "the fourth would pass 1000");
    cr_assert_eq(why.scope, ENGINE_BUDGET_DAY_USD);
    cr_assert_eq(why.limit, 1000);
    cr_assert_eq(why.used, 900);
    cr_assert_eq(why.remaining, 100);
    cr_assert_eq(why.reset_ms, NOW + 86400000);
    /* settling below the worst case frees room; a release frees it all */
    ledger_settle(l, h[0], 100, 5, 0);
    ledger_release(l, h[1]);
    cr_assert_eq(ledger_reserve(l, &a, &h[3], &why), 0);
    ledger_settle(l, h[2], 300, 10, 0);
    ledger_settle(l, h[3], 50, 1, 1);
    cr_assert_eq(day_spent(l, "a"), 450);
    struct ledger_stats st;
    ledger_stats_get(l, &st);
    cr_assert_eq(st.open, 0);
    cr_assert_eq(st.settled, 3);
    cr_assert_eq(st.released, 1);
    cr_assert_eq(st.estimated, 1);
    cr_assert_eq(st.refused[ENGINE_BUDGET_DAY_USD], 1);
    cr_assert_eq(st.spent_usd_p, 450);
    ledger_close(l);
}

Test(ledger, rates_and_concurrency)
{
    struct ledger *l = mem_ledger();
    struct engine_budget_ask a;
    ask_init(&a, "a", "s1", 0, 100);
    a.limit[ENGINE_RATE_CONC_SESSION] = 2;
    a.limit[ENGINE_RATE_REQUESTS] = 3;
    uint64_t h[4];
    struct engine_budget_refusal why;
    cr_assert_eq(ledger_reserve(l, &a, &h[0], &why), 0);
    cr_assert_eq(ledger_reserve(l, &a, &h[1], &why), 0);
    cr_assert_eq(ledger_reserve(l, &a, &h[2], &why), 1);
    cr_assert_eq(why.scope, ENGINE_RATE_CONC_SESSION);
    cr_assert_eq(why.reset_ms, 0);
    a.session = "s2"; /* another session has its own slots, not more requests this minute */
    cr_assert_eq(ledger_reserve(l, &a, &h[2], &why), 0);
    cr_assert_eq(ledger_reserve(l, &a, &h[3], &why), 1);
    cr_assert_eq(why.scope, ENGINE_RATE_REQUESTS);
    cr_assert_eq(why.reset_ms, (a.now_ms / 60000 + 1) * 60000);
    a.now_ms += 60000; /* the next minute */
    cr_assert_eq(ledger_reserve(l, &a, &h[3], &why), 0);
    for (int i = 0; i < 4; i++)
        ledger_release(l, h[i]);
    ledger_close(l);
}

Test(ledger, refuses_names_out_of_bounds)
{
    struct ledger *l = mem_ledger();
    struct engine_budget_ask a;
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ask_init(&a, big, "s1", 1, 1);
    uint64_t h;
    struct engine_budget_refusal why;
    cr_assert_eq(ledger_reserve(l, &a, &h, &why), -EINVAL);
    ask_init(&a, "a", "s1", -1, 1);
    cr_assert_eq(ledger_reserve(l, &a, &h, &why), -EINVAL);
    ledger_close(l);
}

/* ---- threads: never overspend */

struct hammer {
    struct ledger *l;
    int id;
    int admitted, bad;
    int64_t charged;
};

static void *hammer(void *arg)
{
    struct hammer *hm = arg;
    struct engine_budget_ask a;
    char sess[16];
    snprintf(sess, sizeof sess, "s%d", hm->id % 4);
    ask_init(&a, "a", sess, 1000, 10);
    a.limit[ENGINE_BUDGET_DAY_USD] = 1000000;
    a.limit[ENGINE_BUDGET_SESSION_TOKENS] = 1000000;
    unsigned seed = (unsigned)hm->id * 7919u;
    for (int i = 0; i < 2000; i++) {
        uint64_t h;
        struct engine_budget_refusal why;
        int rc = ledger_reserve(hm->l, &a, &h, &why);
        if (rc != 0 && rc != 1)
            hm->bad++;
        if (rc)
            continue;
        hm->admitted++;
        int r = (int)(rand_r(&seed) % 3);
        if (r == 0) {
            ledger_release(hm->l, h);
        } else {
            int64_t c = 1 + rand_r(&seed) % 1000; /* at most the worst case */
            ledger_settle(hm->l, h, c, 5, 0);
            hm->charged += c;
        }
        /* the invariant, read under the ledger's own lock */
        struct ledger_view v;
        ledger_view_get(hm->l, "a", sess, "2025-12-02", "2025-12", NOW, &v);
        if (v.spent[ENGINE_BUDGET_DAY_USD] + v.reserved[ENGINE_BUDGET_DAY_USD] > 1000000)
            hm->bad++; /* Criterion's asserts belong to the test's own thread */
    }
    return NULL;
}

Test(ledger, threads_never_overspend)
{
    char path[512];
    tmp_path(path, sizeof path, "hammer");
    struct ledger *l = journal_ledger(path);
    enum { N = 16 };
    pthread_t t[N];
    struct hammer hm[N];
    for (int i = 0; i < N; i++) {
        hm[i] = (struct hammer){l, i, 0, 0, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, &hm[i]), 0);
    }
    int64_t sum = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        sum += hm[i].charged;
        cr_assert_eq(hm[i].bad, 0, "thread %d saw the limit passed or an error", i);
    }
    cr_assert_leq(day_spent(l, "a"), 1000000);
    cr_assert_eq(day_spent(l, "a"), sum, "the ledger holds exactly what was charged");
    struct ledger_stats st;
    ledger_stats_get(l, &st);
    cr_assert_eq(st.open, 0);
    cr_assert_eq(st.reserved_usd_p, 0);
    ledger_close(l);
    /* and the journal replays to the same total */
    l = journal_ledger(path);
    cr_assert_eq(day_spent(l, "a"), sum);
    ledger_close(l);
    unlink(path);
}

/* ---- the journal */

struct got {
    int n;
    struct ledger_rec r;
};

static int on_got(void *ud, const struct ledger_rec *r)
{
    struct got *g = ud;
    g->n++;
    g->r = *r;
    return 0;
}

Test(ledger, line_format_round_trips)
{
    struct ledger_rec r = {.kind = 'R', .id = 42, .t_ms = NOW, .usd_p = 123, .tokens = 9};
    snprintf(r.agent, sizeof r.agent, "claims agent%%\n");
    snprintf(r.session, sizeof r.session, "-");
    snprintf(r.day, sizeof r.day, "2025-12-02");
    snprintf(r.month, sizeof r.month, "2025-12");
    char line[512];
    int n = ledger_rec_format(&r, line, sizeof line);
    cr_assert_gt(n, 0);
    cr_assert_eq(line[n - 1], '\n');
    cr_assert_null(memchr(line, '\n', (size_t)n - 1), "one line: %s", line);
    struct got g = {0};
    uint64_t damaged = 0;
    size_t torn = 0;
    cr_assert_eq(ledger_journal_parse(line, (size_t)n, on_got, &g, &damaged, &torn), 0);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(damaged, 0);
    cr_assert_str_eq(g.r.agent, r.agent);
    cr_assert_str_eq(g.r.session, "-");
    cr_assert_eq(g.r.usd_p, 123);
    cr_assert_eq(g.r.id, 42);
    /* one flipped byte: the checksum refuses the line */
    line[10] ^= 1;
    g.n = 0;
    cr_assert_eq(ledger_journal_parse(line, (size_t)n, on_got, &g, &damaged, &torn), 0);
    cr_assert_eq(g.n, 0);
    cr_assert_eq(damaged, 1);
}

Test(ledger, restart_keeps_the_totals)
{
    char path[512];
    tmp_path(path, sizeof path, "restart");
    struct ledger *l = journal_ledger(path);
    struct engine_budget_ask a;
    ask_init(&a, "a", "s1", 500, 50);
    uint64_t h;
    struct engine_budget_refusal why;
    cr_assert_eq(ledger_reserve(l, &a, &h, &why), 0);
    ledger_settle(l, h, 120, 12, 0);
    cr_assert_eq(ledger_reserve(l, &a, &h, &why), 0);
    ledger_release(l, h);
    ledger_close(l);
    for (int round = 0; round < 3; round++) { /* each start compacts; totals stay */
        l = journal_ledger(path);
        cr_assert_eq(day_spent(l, "a"), 120, "round %d", round);
        struct ledger_view v;
        ledger_view_get(l, "a", "s1", "2025-12-02", "2025-12", NOW, &v);
        cr_assert_eq(v.spent[ENGINE_BUDGET_SESSION_TOKENS], 12);
        cr_assert_eq(v.spent[ENGINE_BUDGET_MONTH_USD], 120);
        ledger_close(l);
    }
    unlink(path);
}

/* A child holds reservations and is killed with SIGKILL in the middle: the next start charges
 * each open one at its worst case, once, and keeps what was settled. */
Test(ledger, kill_9_recovery_charges_open_reservations_once)
{
    char path[512];
    tmp_path(path, sizeof path, "kill9");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct ledger_store *st = NULL;
        struct ledger *l = NULL;
        char err[256];
        if (ledger_journal_open(path, 10, &st, err, sizeof err) ||
            ledger_open(st, NOW, &l, err, sizeof err))
            _exit(3);
        struct engine_budget_ask a;
        ask_init(&a, "a", "s1", 500, 50);
        uint64_t h[3];
        struct engine_budget_refusal why;
        for (int i = 0; i < 3; i++)
            if (ledger_reserve(l, &a, &h[i], &why))
                _exit(4);
        ledger_settle(l, h[0], 100, 10, 0);
        raise(SIGKILL); /* no close, no sync: what write(2) gave the kernel is all there is */
        _exit(5);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %d", status);
    struct ledger *l = journal_ledger(path);
    cr_assert_eq(day_spent(l, "a"), 100 + 2 * 500);
    struct ledger_stats st;
    ledger_stats_get(l, &st);
    cr_assert_eq(st.recovered_open, 2);
    ledger_close(l);
    l = journal_ledger(path); /* a second start: the same totals, nothing recovered again */
    cr_assert_eq(day_spent(l, "a"), 1100);
    ledger_stats_get(l, &st);
    cr_assert_eq(st.recovered_open, 0);
    ledger_close(l);
    unlink(path);
}

Test(ledger, torn_tail_and_damaged_lines_are_skipped)
{
    char path[512];
    tmp_path(path, sizeof path, "torn");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    char line[512];
    struct ledger_rec r = {.kind = 'R', .id = 1, .t_ms = NOW, .usd_p = 700, .tokens = 70};
    snprintf(r.agent, sizeof r.agent, "a");
    snprintf(r.session, sizeof r.session, "s1");
    snprintf(r.day, sizeof r.day, "2025-12-02");
    snprintf(r.month, sizeof r.month, "2025-12");
    fputs(ledger_rec_format(&r, line, sizeof line) > 0 ? line : "", f);
    struct ledger_rec c = {.kind = 'C', .id = 1, .t_ms = NOW, .usd_p = 200, .tokens = 20};
    fputs(ledger_rec_format(&c, line, sizeof line) > 0 ? line : "", f);
    r.id = 2; /* reserved, then its settlement torn in half by the crash */
    fputs(ledger_rec_format(&r, line, sizeof line) > 0 ? line : "", f);
    fputs("garbage that is not a record\n", f);
    c.id = 2;
    c.usd_p = 1;
    int n = ledger_rec_format(&c, line, sizeof line);
    cr_assert_gt(n, 10);
    fwrite(line, 1, (size_t)n / 2, f);
    fclose(f);
    struct ledger *l = journal_ledger(path);
    cr_assert_eq(day_spent(l, "a"), 200 + 700, "settled 200, the torn one at its worst case");
    struct ledger_stats st;
    ledger_stats_get(l, &st);
    cr_assert_eq(st.damaged, 2, "the garbage line and the torn tail");
    cr_assert_eq(st.recovered_open, 1);
    ledger_close(l);
    l = journal_ledger(path);
    cr_assert_eq(day_spent(l, "a"), 900);
    ledger_close(l);
    unlink(path);
}
