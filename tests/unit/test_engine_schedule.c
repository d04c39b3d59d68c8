/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schedule stage (policy/engine/stage_schedule.c) at pinned instants: inside and outside
 * windows, windows across midnight, the days clocks change in Brussels and New York, each
 * change a rule makes while it applies (block, models, tools.deny on the request and the
 * response, data actions for the data stage), zones that cannot be loaded, observe mode.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test_engine_support.h"
#include "base/tz.h"
#include "policy/engine/internal.h"

static void need_tzdata(void)
{
    if (access("/usr/share/zoneinfo/Europe/Brussels", R_OK) == 0)
        return;
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0)
        cr_assert_fail("no tz database at /usr/share/zoneinfo: install the tzdata package");
    cr_skip_test("no tz database at /usr/share/zoneinfo (install tzdata)");
}

/* ms since the epoch of a UTC date and time */
static int64_t at(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (int64_t)timegm(&tm) * 1000;
}

#define CHAT_M(model)                                                                              \
    "{\"model\":\"" model "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

/* A call at now_ms; returns the verdict (t->c is the call). */
static int call_at(struct te *t, int64_t now_ms, const char *body)
{
    struct engine_call_info info = {
        .format = ENGINE_CHAT, .agent = "a", .session = "s1", .now_ms = now_ms};
    if (t->c)
        engine_call_free(t->c);
    t->c = NULL;
    cr_assert_eq(engine_call_new(t->e, &info, &t->c), 0);
    t->out = NULL;
    t->out_len = 0;
    t->verdict = engine_call_request(t->c, body, strlen(body), &t->out, &t->out_len);
    cr_assert_geq(t->verdict, 0, "engine_call_request: %s", engine_strerror(t->verdict));
    return t->verdict;
}

static const char *refusal(struct te *t, int *status)
{
    return te_error(t, status);
}

#define BLOCK_OUTSIDE_HOURS                                                                        \
    ",\"api\":{\"models\":[\"*\"],\"schedule\":[{\"outside\":\"Mon-Fri 08:00-18:00\","             \
    "\"tz\":\"Europe/Brussels\",\"block\":true}]}"

Test(engine_schedule, inside_and_outside_business_hours)
{
    need_tzdata();
    struct te t;
    int status;
    te_open(&t, BLOCK_OUTSIDE_HOURS, NULL);
    /* Wednesday 2 December 2026; Brussels is UTC+1 in winter */
    cr_expect_eq(call_at(&t, at(2026, 12, 2, 9, 0), CHAT_M("m")), ENGINE_ALLOW, "10:00 local");
    cr_expect_eq(call_at(&t, at(2026, 12, 2, 7, 0), CHAT_M("m")), ENGINE_ALLOW, "08:00 local");
    cr_expect_eq(call_at(&t, at(2026, 12, 2, 16, 59), CHAT_M("m")), ENGINE_ALLOW, "17:59");
    cr_expect_eq(call_at(&t, at(2026, 12, 2, 6, 59), CHAT_M("m")), ENGINE_REFUSE, "07:59");
    cr_assert_eq(call_at(&t, at(2026, 12, 2, 17, 0), CHAT_M("m")), ENGINE_REFUSE, "18:00");
    const char *err = refusal(&t, &status);
    cr_expect_eq(status, 403);
    cr_expect(strstr(err, "cordon.schedule_block"), "%s", err);
    cr_expect(strstr(err, "api.schedule[0]"), "%s", err);
    cr_expect(strstr(err, "Europe/Brussels, where it is Wed 18:00"), "%s", err);
    cr_expect(strstr(err, "it ends Thu 2026-12-03 08:00 there, 07:00 UTC"), "%s", err);
    const struct engine_decision *d =
        engine_call_decision(t.c, ENGINE_STAGE_SCHEDULE, ENGINE_HOOK_REQUEST);
    cr_expect_eq(d->verdict, ENGINE_REFUSE);
    /* Saturday: blocked until Monday morning */
    cr_assert_eq(call_at(&t, at(2026, 12, 5, 11, 0), CHAT_M("m")), ENGINE_REFUSE);
    err = refusal(&t, &status);
    cr_expect(strstr(err, "it ends Mon 2026-12-07 08:00 there, 07:00 UTC"), "%s", err);
    te_close(&t);
}

Test(engine_schedule, window_across_midnight)
{
    struct te t;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"schedule\":[{\"inside\":\"Fri 22:00-06:00\","
            "\"block\":true}]}",
            NULL);
    /* 4 December 2026 is a Friday; the zone is UTC by default */
    cr_expect_eq(call_at(&t, at(2026, 12, 4, 21, 59), CHAT_M("m")), ENGINE_ALLOW);
    cr_expect_eq(call_at(&t, at(2026, 12, 4, 22, 0), CHAT_M("m")), ENGINE_REFUSE);
    cr_expect_eq(call_at(&t, at(2026, 12, 4, 23, 59), CHAT_M("m")), ENGINE_REFUSE);
    cr_expect_eq(call_at(&t, at(2026, 12, 5, 0, 0), CHAT_M("m")), ENGINE_REFUSE, "Sat 00:00");
    cr_assert_eq(call_at(&t, at(2026, 12, 5, 5, 59), CHAT_M("m")), ENGINE_REFUSE, "Sat 05:59");
    int status;
    const char *err = refusal(&t, &status);
    cr_expect(strstr(err, "it ends Sat 2026-12-05 06:00 there, 06:00 UTC"), "%s", err);
    cr_expect_eq(call_at(&t, at(2026, 12, 5, 6, 0), CHAT_M("m")), ENGINE_ALLOW, "Sat 06:00");
    /* the morning of a Friday belongs to Thursday's night, which the window does not name */
    cr_expect_eq(call_at(&t, at(2026, 12, 4, 5, 0), CHAT_M("m")), ENGINE_ALLOW, "Fri 05:00");
    cr_expect_eq(call_at(&t, at(2026, 12, 3, 23, 0), CHAT_M("m")), ENGINE_ALLOW, "Thu 23:00");
    /* a whole day */
    te_close(&t);
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"schedule\":[{\"inside\":\"Sat,Sun 00:00-24:00\","
            "\"block\":true}]}",
            NULL);
    cr_expect_eq(call_at(&t, at(2026, 12, 4, 23, 59), CHAT_M("m")), ENGINE_ALLOW, "Fri 23:59");
    cr_expect_eq(call_at(&t, at(2026, 12, 5, 0, 0), CHAT_M("m")), ENGINE_REFUSE, "Sat 00:00");
    cr_assert_eq(call_at(&t, at(2026, 12, 6, 23, 59), CHAT_M("m")), ENGINE_REFUSE, "Sun 23:59");
    err = refusal(&t, &status);
    cr_expect(strstr(err, "it ends Mon 2026-12-07 00:00 there"), "%s", err);
    cr_expect_eq(call_at(&t, at(2026, 12, 7, 0, 0), CHAT_M("m")), ENGINE_ALLOW, "Mon 00:00");
    te_close(&t);
}

/* Minutes of the UTC day y-mo-d (and the next few hours) during which the rule blocks. */
static int blocked_minutes(struct te *t, int y, int mo, int d)
{
    int n = 0;
    int64_t t0 = at(y, mo, d, 0, 0) - 6 * 3600 * 1000LL;
    for (int m = 0; m < 36 * 60; m++)
        n += call_at(t, t0 + m * 60000LL, CHAT_M("m")) == ENGINE_REFUSE;
    return n;
}

Test(engine_schedule, dst_days_in_brussels)
{
    need_tzdata();
    struct te t;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"schedule\":[{\"inside\":\"Sun 02:00-03:00\","
            "\"tz\":\"Europe/Brussels\",\"block\":true}]}",
            NULL);
    /* 29 March 2026: 02:00-03:00 does not exist; 25 October 2026: it happens twice */
    cr_expect_eq(blocked_minutes(&t, 2026, 3, 29), 0);
    cr_expect_eq(blocked_minutes(&t, 2026, 10, 25), 120);
    cr_expect_eq(blocked_minutes(&t, 2026, 11, 1), 60);
    cr_expect_eq(call_at(&t, at(2026, 10, 25, 0, 30), CHAT_M("m")), ENGINE_REFUSE, "02:30 CEST");
    cr_expect_eq(call_at(&t, at(2026, 10, 25, 1, 30), CHAT_M("m")), ENGINE_REFUSE, "02:30 CET");
    cr_expect_eq(call_at(&t, at(2026, 10, 25, 2, 0), CHAT_M("m")), ENGINE_ALLOW, "03:00 CET");
    te_close(&t);

    /* business hours move by an hour in UTC, and the end named crosses the change */
    te_open(&t, BLOCK_OUTSIDE_HOURS, NULL);
    cr_expect_eq(call_at(&t, at(2026, 3, 27, 6, 30), CHAT_M("m")), ENGINE_REFUSE, "Fri 07:30 CET");
    cr_expect_eq(call_at(&t, at(2026, 3, 27, 7, 0), CHAT_M("m")), ENGINE_ALLOW, "Fri 08:00 CET");
    cr_expect_eq(call_at(&t, at(2026, 3, 30, 6, 0), CHAT_M("m")), ENGINE_ALLOW, "Mon 08:00 CEST");
    cr_expect_eq(call_at(&t, at(2026, 3, 30, 16, 0), CHAT_M("m")), ENGINE_REFUSE, "18:00 CEST");
    cr_assert_eq(call_at(&t, at(2026, 3, 28, 12, 0), CHAT_M("m")), ENGINE_REFUSE);
    int status;
    const char *err = refusal(&t, &status);
    cr_expect(strstr(err, "it ends Mon 2026-03-30 08:00 there, 06:00 UTC"), "%s", err);
    te_close(&t);
}

Test(engine_schedule, dst_days_in_new_york)
{
    need_tzdata();
    struct te t;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"schedule\":[{\"inside\":\"Sun 02:00-03:00\","
            "\"tz\":\"America/New_York\",\"block\":true},{\"inside\":\"Sun 01:00-02:00\","
            "\"tz\":\"America/New_York\",\"block\":true}]}",
            NULL);
    /* 8 March 2026: 02:00-03:00 is skipped, 01:00-02:00 is there once: 60 minutes;
     * 1 November 2026: 01:00-02:00 twice, 02:00-03:00 once: 180 minutes */
    cr_expect_eq(blocked_minutes(&t, 2026, 3, 8), 60);
    cr_expect_eq(blocked_minutes(&t, 2026, 11, 1), 180);
    cr_expect_eq(blocked_minutes(&t, 2026, 11, 8), 120);
    cr_expect_eq(call_at(&t, at(2026, 11, 1, 5, 30), CHAT_M("m")), ENGINE_REFUSE, "01:30 EDT");
    cr_expect_eq(call_at(&t, at(2026, 11, 1, 6, 30), CHAT_M("m")), ENGINE_REFUSE, "01:30 EST");
    te_close(&t);
}

Test(engine_schedule, models_narrowed_while_a_rule_applies)
{
    struct te t;
    int status;
    te_open(&t,
            ",\"api\":{\"models\":[\"gpt-4o-mini\",\"gpt-4.1\"],\"schedule\":[{\"inside\":"
            "\"Mon-Sun 22:00-06:00\",\"models\":[\"gpt-4o-mini\"]},{\"inside\":\"Sun 12:00-13:00\","
            "\"models\":[]}]}",
            NULL);
    cr_expect_eq(call_at(&t, at(2026, 12, 2, 12, 0), CHAT_M("gpt-4.1")), ENGINE_ALLOW);
    cr_expect_eq(call_at(&t, at(2026, 12, 2, 23, 0), CHAT_M("gpt-4o-mini")), ENGINE_ALLOW);
    cr_assert_eq(call_at(&t, at(2026, 12, 2, 23, 0), CHAT_M("gpt-4.1")), ENGINE_REFUSE);
    const char *err = refusal(&t, &status);
    cr_expect_eq(status, 403);
    cr_expect(strstr(err, "cordon.schedule_model"), "%s", err);
    cr_expect(strstr(err, "model \\\"gpt-4.1\\\" is not allowed while api.schedule[0]"), "%s", err);
    /* the rule narrows api.models, it never widens it */
    cr_assert_eq(call_at(&t, at(2026, 12, 2, 23, 0), CHAT_M("claude-x")), ENGINE_REFUSE);
    err = refusal(&t, &status);
    cr_expect(strstr(err, "cordon.model_denied"), "%s", err);
    /* [] allows no model while the rule applies */
    cr_assert_eq(call_at(&t, at(2026, 12, 6, 12, 30), CHAT_M("gpt-4o-mini")), ENGINE_REFUSE);
    err = refusal(&t, &status);
    cr_expect(strstr(err, "allow none"), "%s", err);
    te_close(&t);
}

#define TOOLS_POLICY(extra)                                                                        \
    ",\"api\":{\"models\":[\"*\"],\"tools\":{\"allow\":[\"*\"]" extra "},\"schedule\":[{"          \
    "\"outside\":\"Mon-Fri 08:00-18:00\",\"tz\":\"Europe/Brussels\",\"tools\":{\"deny\":["         \
    "\"payments_*\"]}}]}"

#define WITH_TOOLS(extra)                                                                          \
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"pay\"}],\"tools\":[{"         \
    "\"type\":\"function\",\"function\":{\"name\":\"payments_send\",\"parameters\":{}}},{"         \
    "\"type\":\"function\",\"function\":{\"name\":\"crm_get\",\"parameters\":{}}}]" extra "}"

Test(engine_schedule, tools_denied_in_request_definitions)
{
    need_tzdata();
    struct te t;
    int status;
    te_open(&t, TOOLS_POLICY(""), NULL);
    int64_t day = at(2026, 12, 2, 10, 0), night = at(2026, 12, 2, 20, 0);
    cr_expect_eq(call_at(&t, day, WITH_TOOLS("")), ENGINE_ALLOW);
    cr_assert_eq(call_at(&t, night, WITH_TOOLS("")), ENGINE_REWRITE);
    char *out = strndup(t.out, t.out_len);
    cr_expect(!strstr(out, "payments_send"), "%s", out);
    cr_expect(strstr(out, "crm_get"), "%s", out);
    free(out);
    const struct engine_decision *d =
        engine_call_decision(t.c, ENGINE_STAGE_TOOLS, ENGINE_HOOK_REQUEST);
    cr_expect(strstr(d->why.message, "tools.deny of api.schedule[0]"), "%s", d->why.message);
    /* a forced tool_choice of a denied tool is refused */
    cr_assert_eq(call_at(&t, night,
                         WITH_TOOLS(",\"tool_choice\":{\"type\":\"function\",\"function\":{"
                                    "\"name\":\"payments_send\"}}")),
                 ENGINE_REFUSE);
    cr_expect(strstr(refusal(&t, &status), "cordon.tool_choice_denied"));
    /* a payments call in the history was made earlier: api.tools judges it, not the rule */
    cr_expect_eq(call_at(&t, night,
                         "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{"
                         "\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
                         "\"payments_send\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\","
                         "\"tool_call_id\":\"c1\",\"content\":\"ok\"}]}"),
                 ENGINE_ALLOW);
    te_close(&t);
    te_open(&t, TOOLS_POLICY(",\"on_denied_definition\":\"refuse\""), NULL);
    cr_assert_eq(call_at(&t, night, WITH_TOOLS("")), ENGINE_REFUSE);
    const char *err = refusal(&t, &status);
    cr_expect_eq(status, 403);
    cr_expect(strstr(err, "payments_send"), "%s", err);
    cr_expect(strstr(err, "api.schedule[0]"), "%s", err);
    cr_expect_eq(call_at(&t, day, WITH_TOOLS("")), ENGINE_ALLOW);
    te_close(&t);
}

Test(engine_schedule, tools_denied_in_response_calls)
{
    need_tzdata();
    static const char resp[] =
        "{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\","
        "\"function\":{\"name\":\"payments_send\",\"arguments\":\"{}\"}},{\"id\":\"b\",\"type\":"
        "\"function\",\"function\":{\"name\":\"crm_get\",\"arguments\":\"{}\"}}]},"
        "\"finish_reason\":\"tool_calls\"}]}";
    static const char stream[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\","
        "\"type\":\"function\",\"function\":{\"name\":\"payments_send\",\"arguments\":\"{}\"}}]}}"
        "]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}"
        "\n\ndata: [DONE]\n\n";
    struct te t;
    te_open(&t, TOOLS_POLICY(""), NULL);
    for (int night = 0; night < 2; night++) {
        int64_t now = night ? at(2026, 12, 2, 20, 0) : at(2026, 12, 2, 10, 0);
        call_at(&t, now, CHAT_M("m"));
        const char *out;
        size_t n;
        int v = engine_call_response(t.c, resp, sizeof resp - 1, &out, &n);
        cr_expect_eq(v, night ? ENGINE_REWRITE : ENGINE_ALLOW, "night %d", night);
        cr_expect_eq(engine_call_tools_removed(t.c), (size_t)night);
        cr_expect_eq(engine_call_tools_allowed(t.c), (size_t)(2 - night));
        if (night) {
            cr_expect_str_eq(engine_call_tool_removed(t.c, 0), "payments_send");
            char *s = strndup(out, n);
            cr_expect(!strstr(s, "payments_send"), "%s", s);
            free(s);
        }
        /* the same call in a stream */
        call_at(&t, now, "{\"model\":\"m\",\"stream\":true,\"messages\":[]}");
        int rc = 0;
        char *got = te_stream(t.c, stream, 0, &rc);
        cr_expect_eq(rc, 0);
        cr_expect_eq(strstr(got, "payments_send") != NULL, !night, "night %d: %s", night, got);
        free(got);
    }
    te_close(&t);
}

#define DATA_POLICY                                                                                \
    ",\"api\":{\"models\":[\"*\"],\"data\":{\"pii.email\":\"allow\"},\"schedule\":[{"              \
    "\"outside\":\"Mon-Fri 08:00-18:00\",\"data\":{\"financial\":{\"request\":\"block\","          \
    "\"response\":\"redact\"},\"pii.*\":\"redact\",\"pii.email\":\"log\"}},{\"inside\":\"Mon-Sun " \
    "20:00-21:00\",\"data\":{\"pii.email\":"                                                       \
    "\"block\",\"secret.*\":\"log\",\"secret.*key\":\"block\"}}]}"

static enum policy_action data_at(struct te *t, int64_t now, const char *cls, int response,
                                  int *found)
{
    struct engine_call_info info = {.format = ENGINE_CHAT, .agent = "a", .now_ms = now};
    if (t->c)
        engine_call_free(t->c);
    t->c = NULL;
    cr_assert_eq(engine_call_new(t->e, &info, &t->c), 0);
    return engine_schedule_data_action(t->c, cls, response, found);
}

Test(engine_schedule, data_actions_for_the_data_stage)
{
    struct te t;
    int found = -1;
    te_open(&t, DATA_POLICY, NULL);
    int64_t day = at(2026, 12, 2, 10, 0), evening = at(2026, 12, 2, 19, 0),
            late = at(2026, 12, 2, 20, 30);
    /* business hours: no rule names anything */
    cr_expect_eq(data_at(&t, day, "financial", 0, &found), POLICY_ACTION_ALLOW);
    cr_expect_eq(found, 0);
    /* evening: rule 0 */
    cr_expect_eq(data_at(&t, evening, "financial", 0, &found), POLICY_ACTION_BLOCK);
    cr_expect_eq(found, 1);
    cr_expect_eq(data_at(&t, evening, "financial", 1, &found), POLICY_ACTION_REDACT,
                 "the response side's own action");
    cr_expect_eq(found, 1, "the response side too");
    cr_expect_eq(data_at(&t, evening, "pii.phone", 1, &found), POLICY_ACTION_REDACT);
    cr_expect_eq(data_at(&t, evening, "pii.phone", 0, &found), POLICY_ACTION_REDACT, "glob");
    cr_expect_eq(found, 1);
    cr_expect_eq(data_at(&t, evening, "pii.email", 0, &found), POLICY_ACTION_LOG,
                 "the exact name beats the glob");
    cr_expect_eq(data_at(&t, evening, "health", 0, &found), POLICY_ACTION_ALLOW);
    cr_expect_eq(found, 0, "no rule names health: api.data decides");
    /* 20:30: both rules apply; the strictest wins */
    cr_expect_eq(data_at(&t, late, "pii.email", 0, &found), POLICY_ACTION_BLOCK);
    cr_expect_eq(found, 1);
    cr_expect_eq(data_at(&t, late, "secret.jwt", 0, &found), POLICY_ACTION_LOG);
    cr_expect_eq(data_at(&t, late, "secret.openai_key", 0, &found), POLICY_ACTION_BLOCK,
                 "two globs of one rule: the longer");
    cr_expect_eq(data_at(&t, day + 10 * 3600 * 1000LL, "secret.jwt", 0, &found), POLICY_ACTION_LOG,
                 "20:00 UTC on a Wednesday");
    te_close(&t);
    /* the longer glob decides in its rule even when it is the weaker */
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"data\":{\"pii.email\":\"allow\"},\"schedule\":[{"
            "\"inside\":\"Mon-Sun 00:00-24:00\",\"data\":{\"secret.*\":\"block\",\"secret.*_key\":"
            "\"log\"}}]}",
            NULL);
    cr_expect_eq(data_at(&t, day, "secret.openai_key", 0, &found), POLICY_ACTION_LOG);
    cr_expect_eq(data_at(&t, day, "secret.jwt", 0, &found), POLICY_ACTION_BLOCK);
    te_close(&t);
}

Test(engine_schedule, data_rules_without_the_data_stage_fail_closed)
{
    /* goes with the guard in stage_schedule.c when the data stage replaces its placeholder */
    struct te t;
    int status;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"schedule\":[{\"outside\":\"Mon-Fri 08:00-18:00\","
            "\"data\":{\"financial\":\"block\"}}]}",
            NULL);
    cr_assert_eq(call_at(&t, at(2026, 12, 2, 10, 0), CHAT_M("m")), ENGINE_REFUSE);
    const char *err = refusal(&t, &status);
    cr_expect(strstr(err, "cordon.stage_missing"), "%s", err);
    cr_expect(strstr(err, "data stage"), "%s", err);
    te_close(&t);
}

Test(engine_schedule, zones_that_cannot_be_loaded_refuse_the_policy)
{
    need_tzdata();
    struct policy *p = te_policy(",\"api\":{\"models\":[\"*\"],\"schedule\":[{\"inside\":"
                                 "\"Mon-Fri 08:00-18:00\",\"block\":true},{\"inside\":"
                                 "\"Mon-Fri 08:00-18:00\",\"tz\":\"Europe/Brusels\",\"block\":"
                                 "true}]}");
    struct engine *e = NULL;
    char err[512] = "";
    cr_expect_eq(engine_new(p, NULL, &e, err, sizeof err), -ENOENT);
    cr_expect_null(e);
    cr_expect(strstr(err, "api.schedule[1].tz"), "%s", err);
    cr_expect(strstr(err, "unknown time zone \"Europe/Brusels\""), "%s", err);
    policy_free(p);

    /* a zone file that is not one, in a tz database of the test's own */
    char dir[] = "/tmp/cordon-tz-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/Bad", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/Bad/Zone", dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs("TZif2 and then nothing a parser could use", f);
    fclose(f);
    p = te_policy(",\"api\":{\"models\":[\"*\"],\"schedule\":[{\"inside\":\"Mon 08:00-09:00\","
                  "\"tz\":\"Bad/Zone\",\"block\":true}]}");
    struct engine_options o;
    char oerr[256];
    cr_assert_eq(engine_options_from_policy(p, &o, oerr, sizeof oerr), 0);
    o.zoneinfo = dir;
    int rc = engine_new(p, &o, &e, err, sizeof err);
    cr_expect_eq(rc, TZ_ERR_TRUNCATED, "%d: %s", rc, err);
    cr_expect(strstr(err, "api.schedule[0].tz") && strstr(err, path), "%s", err);
    policy_free(p);
    /* UTC needs no tz database */
    p = te_policy(",\"api\":{\"models\":[\"*\"],\"schedule\":[{\"inside\":\"Mon 08:00-09:00\","
                  "\"block\":true}]}");
    cr_assert_eq(engine_options_from_policy(p, &o, oerr, sizeof oerr), 0);
    o.zoneinfo = "/nonexistent/zoneinfo";
    cr_expect_eq(engine_new(p, &o, &e, err, sizeof err), 0, "%s", err);
    engine_free(e);
    policy_free(p);
    unlink(path);
    snprintf(path, sizeof path, "%s/Bad", dir);
    rmdir(path);
    rmdir(dir);
}

Test(engine_schedule, observe_mode_records_the_block)
{
    struct te t;
    te_open(&t,
            ",\"mode\":\"observe\",\"api\":{\"models\":[\"*\"],\"schedule\":[{\"inside\":"
            "\"Mon-Sun 00:00-24:00\",\"block\":true}]}",
            NULL);
    cr_expect_eq(call_at(&t, at(2026, 12, 2, 10, 0), CHAT_M("m")), ENGINE_ALLOW);
    const struct engine_decision *d =
        engine_call_decision(t.c, ENGINE_STAGE_SCHEDULE, ENGINE_HOOK_REQUEST);
    cr_expect_eq(d->verdict, ENGINE_REFUSE);
    cr_expect_str_eq(d->why.code, "cordon.schedule_block");
    cr_expect(strstr(d->why.message, "applies at every time of the coming week"), "%s",
              d->why.message);
    te_close(&t);
}

Test(engine_schedule, the_real_clock_and_the_record)
{
    struct te t;
    te_open(&t,
            ",\"api\":{\"models\":[\"*\"],\"schedule\":[{\"inside\":\"Mon-Sun 00:00-24:00\","
            "\"models\":[\"m\"]},{\"outside\":\"Mon-Sun 00:00-24:00\",\"block\":true}]}",
            NULL);
    /* now_ms 0: the real clock; rule 0 applies at every time, rule 1 at none */
    cr_expect_eq(call_at(&t, 0, CHAT_M("m")), ENGINE_ALLOW);
    cr_expect_eq(call_at(&t, 0, CHAT_M("x")), ENGINE_REFUSE);
    call_at(&t, 0, CHAT_M("m"));
    engine_call_finish(t.c, 1);
    char *rec = engine_call_audit_json(t.c);
    cr_expect(strstr(rec, "cordon.schedule_active"), "%s", rec);
    cr_expect(strstr(rec, "rules that apply to this call: api.schedule[0]\""), "%s", rec);
    free(rec);
    te_close(&t);
}
