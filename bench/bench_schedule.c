/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the schedule stage costs per model call. Two figures, each beside its baseline from
 * the same run:
 *
 *  - one conversion of an instant to local time in Europe/Brussels (base/tz.h), inside the
 *    zone's transition table and past it (the footer's POSIX rule), beside glibc's gmtime_r,
 *    which does the same calendar arithmetic with no zone at all;
 *  - a call started and ended (engine_call_new, engine_call_free), where the stage reads
 *    the call's instant in each rule's zone and checks each window, with and without
 *    api.schedule;
 *  - one call through the engine's request stages (engine_call_new, engine_call_request,
 *    engine_call_free) with a policy of three schedule rules in two zones, at an instant
 *    when none applies, beside the same call with the same policy without api.schedule.
 *    The difference is the stage's cost: the conversions, the window checks, and the tools
 *    stage's look at the rules.
 *
 * Medians of ROUNDS rounds; the machine is shared and noisy.
 *
 * usage: bench_schedule [ZONEINFO]   (default /usr/share/zoneinfo)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/diag.h"
#include "base/tz.h"
#include "policy/engine/engine.h"
#include "policy/policy.h"

#define ROUNDS 15

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static struct tz *zone;
static int64_t instant;
static volatile int sink;
static struct engine *eng_plain, *eng_sched, *eng;

static void op_gmtime(void)
{
    time_t t = (time_t)instant++;
    struct tm tm;
    gmtime_r(&t, &tm);
    sink += tm.tm_min;
}

static void op_tz(void)
{
    struct tz_local l;
    if (tz_convert(zone, instant++, &l) != 0)
        abort();
    sink += l.min_of_day;
}

static const char body[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"crm_get\",\"parameters\":{}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"payments_send\",\"parameters\":{}}}]}";

static void op_call(void)
{
    struct engine_call_info info = {
        .format = ENGINE_CHAT, .agent = "a", .session = "s", .now_ms = instant * 1000};
    struct engine_call *c = NULL;
    const char *out;
    size_t n;
    if (engine_call_new(eng, &info, &c) != 0)
        abort();
    if (engine_call_request(c, body, sizeof body - 1, &out, &n) < 0)
        abort();
    sink += engine_call_stream(c);
    engine_call_free(c);
}

static double median_ns(void (*op)(void), int iters)
{
    double r[ROUNDS];
    for (int i = 0; i < iters / 10; i++)
        op();
    for (int k = 0; k < ROUNDS; k++) {
        double t0 = now_ns();
        for (int i = 0; i < iters; i++)
            op();
        r[k] = (now_ns() - t0) / iters;
    }
    qsort(r, ROUNDS, sizeof r[0], cmp);
    return r[ROUNDS / 2];
}

/* a call started and ended: where the schedule reads the instant's local time in each zone */
static void op_new(void)
{
    struct engine_call_info info = {
        .format = ENGINE_CHAT, .agent = "a", .session = "s", .now_ms = instant * 1000};
    struct engine_call *c = NULL;
    if (engine_call_new(eng, &info, &c) != 0)
        abort();
    engine_call_free(c);
}

static void op_new_plain(void)
{
    eng = eng_plain;
    op_new();
}

static void op_new_sched(void)
{
    eng = eng_sched;
    op_new();
}

static void op_plain(void)
{
    eng = eng_plain;
    op_call();
}

static void op_sched(void)
{
    eng = eng_sched;
    op_call();
}

/* a and b in alternation, round by round, so that the machine's drift touches both alike */
static void median_pair(void (*a)(void), void (*b)(void), int iters, double *ma, double *mb)
{
    double ra[ROUNDS], rb[ROUNDS];
    for (int i = 0; i < iters / 10; i++) {
        a();
        b();
    }
    for (int k = 0; k < ROUNDS; k++) {
        double t0 = now_ns();
        for (int i = 0; i < iters; i++)
            a();
        double t1 = now_ns();
        for (int i = 0; i < iters; i++)
            b();
        ra[k] = (t1 - t0) / iters;
        rb[k] = (now_ns() - t1) / iters;
    }
    qsort(ra, ROUNDS, sizeof ra[0], cmp);
    qsort(rb, ROUNDS, sizeof rb[0], cmp);
    *ma = ra[ROUNDS / 2];
    *mb = rb[ROUNDS / 2];
}

static struct policy *load(const char *doc)
{
    static const struct policy_env env = {
        .vars = {.home = "/home/b", .cwd = "/work", .workspace = "/work", .tmp = "/tmp"}};
    struct diag d;
    struct policy *p = NULL;
    diag_init(&d);
    if (policy_load(doc, strlen(doc), &env, &p, &d) != 0) {
        char line[512] = "";
        diag_format(&d, 0, line, sizeof line);
        fprintf(stderr, "bench_schedule: policy does not load: %s\n", line);
        exit(1);
    }
    return p;
}

#define API_BASE                                                                                   \
    "{\"cordon_policy\":1,\"agent\":\"a\",\"api\":{\"models\":[\"gpt-4o*\"],\"tools\":{"           \
    "\"allow\":[\"*\"]}"

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : TZ_DEFAULT_DIR;
    char err[512];
    if (tz_load(dir, "Europe/Brussels", &zone, err, sizeof err) != 0) {
        fprintf(stderr, "bench_schedule: %s\n", err);
        return 1;
    }
    struct policy *plain = load(API_BASE "}}");
    struct policy *sched = load(
        API_BASE ",\"schedule\":["
                 "{\"outside\":\"Mon-Fri 08:00-18:00\",\"tz\":\"Europe/Brussels\",\"tools\":{"
                 "\"deny\":[\"payments_*\"]}},"
                 "{\"inside\":\"Sat,Sun 00:00-24:00\",\"tz\":\"America/New_York\","
                 "\"models\":[\"gpt-4o-mini\"]},"
                 "{\"inside\":\"Mon-Sun 02:00-03:00\",\"tz\":\"Europe/Brussels\",\"block\":true}"
                 "]}}");
    struct engine_options o = {0};
    if (engine_options_from_policy(sched, &o, err, sizeof err) != 0)
        return 1;
    o.zoneinfo = dir;
    if (engine_new(plain, NULL, &eng_plain, err, sizeof err) != 0 ||
        engine_new(sched, &o, &eng_sched, err, sizeof err) != 0) {
        fprintf(stderr, "bench_schedule: %s\n", err);
        return 1;
    }

    printf("bench_schedule: median of %d rounds, ns per operation\n", ROUNDS);
    instant = 1764700000; /* December 2025: inside the zone's table */
    double g = median_ns(op_gmtime, 200000);
    instant = 1764700000;
    double t_in = median_ns(op_tz, 200000);
    instant = 4102444800; /* 2100: past the table, from the footer rule */
    double t_out = median_ns(op_tz, 200000);
    printf("  gmtime_r (baseline)                %8.1f ns\n", g);
    printf("  tz_convert, in the table           %8.1f ns  (%.2fx)\n", t_in, t_in / g);
    printf("  tz_convert, footer rule (2100)     %8.1f ns  (%.2fx)\n", t_out, t_out / g);

    /* Wednesday 3 December 2025, 10:00 in Brussels: every rule is judged and none applies,
     * so both runs forward the same body unchanged and the difference is the stage's work */
    instant = 1764752400;
    double c0, c1;
    median_pair(op_plain, op_sched, 5000, &c0, &c1);
    double n0, n1;
    median_pair(op_new_plain, op_new_sched, 50000, &n0, &n1);
    printf("  call start+end, no api.schedule    %8.1f ns  (baseline)\n", n0);
    printf("  call start+end, 3 schedule rules   %8.1f ns  (+%.1f ns: the rules read at the "
           "call's instant)\n",
           n1, n1 - n0);
    printf("  request stages, no api.schedule    %8.1f ns  (baseline)\n", c0);
    printf("  request stages, 3 schedule rules   %8.1f ns  (+%.1f ns = %.2f us per call)\n", c1,
           c1 - c0, (c1 - c0) / 1000);
    engine_free(eng_plain);
    engine_free(eng_sched);
    policy_free(plain);
    policy_free(sched);
    tz_free(zone);
    return sink == 42 ? 2 : 0;
}
