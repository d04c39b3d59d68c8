/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cordond's log lines (policy/server/log.h): the key=value form quotes and escapes what would
 * break a line or a token, the JSON form is one valid object per line, hostile and oversized
 * values stay inside one line, and a log file is reopened by name.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/server/log.h"
#include "tests/unit/support.h"

static char out[LOG_LINE_MAX];

static const char *text(const char *msg, const char *const *kv, size_t nkv)
{
    log_format(LOG_FORM_TEXT, NULL, LOG_LEVEL_INFO, msg, kv, nkv, out, sizeof out);
    return out;
}

static cJSON *json(const char *msg, const char *const *kv, size_t nkv)
{
    size_t n = log_format(LOG_FORM_JSON, NULL, LOG_LEVEL_WARN, msg, kv, nkv, out, sizeof out);
    cr_assert_eq(out[n - 1], '\n');
    cJSON *o = cJSON_ParseWithLength(out, n);
    cr_assert_not_null(o, "not JSON: %s", out);
    return o;
}

Test(log, text_bare_and_quoted_values)
{
    const char *kv[] = {"trigger", "sighup", "agents", "3", "path", "/srv/a b", "empty", ""};
    cr_assert_str_eq(text("policy set reloaded", kv, 4),
                     "level=info msg=\"policy set reloaded\" trigger=sighup agents=3 "
                     "path=\"/srv/a b\" empty=\"\"\n");
    cr_assert_str_eq(text("serving", NULL, 0), "level=info msg=serving\n");
}

Test(log, text_escapes_quotes_controls_and_bytes_that_are_not_utf8)
{
    const char *kv[] = {"v", "a\"b\\c=d\ne\rf\tg\x01h\x7f", "u", "caf\xc3\xa9 \xff\xc0\x80"};
    cr_assert_str_eq(text("m", kv, 2),
                     "level=info msg=m v=\"a\\\"b\\\\c=d\\ne\\rf\\tg\\x01h\\x7f\" "
                     "u=\"caf\xc3\xa9 \\xff\\xc0\\x80\"\n");
    /* an '=' alone is enough to quote: a reader must not see a second key */
    const char *eq[] = {"v", "a=b"};
    cr_assert_str_eq(text("m", eq, 1), "level=info msg=m v=\"a=b\"\n");
}

Test(log, keys_are_cleaned_and_never_repeat_the_fixed_ones)
{
    const char *kv[] = {"Bad Key=", "1", "msg", "2", "level", "3", "", "4"};
    cr_assert_str_eq(text("m", kv, 4), "level=info msg=m _ad__ey_=1 msg_=2 level_=3 _=4\n");
}

Test(log, json_is_one_object_with_level_and_msg_first)
{
    const char *kv[] = {"trigger", "sighup", "error", "x\"a b=\\.json\n\x01", "bytes", "\xff"};
    cJSON *o = json("policy reload refused", kv, 3);
    cr_assert_str_eq(o->child->string, "level");
    cr_assert_str_eq(o->child->valuestring, "warn");
    cr_assert_str_eq(o->child->next->string, "msg");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "trigger")->valuestring, "sighup");
    cr_assert_str_eq(cJSON_GetObjectItem(o, "error")->valuestring, "x\"a b=\\.json\n\x01");
    /* a byte that is not UTF-8 becomes U+FFFD: the line stays valid UTF-8 */
    cr_assert_str_eq(cJSON_GetObjectItem(o, "bytes")->valuestring, "\xef\xbf\xbd");
    cJSON_Delete(o);
    cr_assert_null(strchr(out, '\n') + 1 < out + strlen(out) ? strchr(strchr(out, '\n') + 1, '\n')
                                                             : NULL);
}

Test(log, time_comes_first_when_given)
{
    log_format(LOG_FORM_TEXT, "2026-12-03T05:00:00.000Z", LOG_LEVEL_ERROR, "x", NULL, 0, out,
               sizeof out);
    cr_assert_str_eq(out, "time=2026-12-03T05:00:00.000Z level=error msg=x\n");
    log_format(LOG_FORM_JSON, "2026-12-03T05:00:00.000Z", LOG_LEVEL_DEBUG, "x", NULL, 0, out,
               sizeof out);
    cr_assert_str_eq(out,
                     "{\"time\":\"2026-12-03T05:00:00.000Z\",\"level\":\"debug\",\"msg\":\"x\"}\n");
}

Test(log, oversized_values_are_cut_and_the_line_stays_whole)
{
    static char big[LOG_LINE_MAX * 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *kv[] = {"a", big, "b", big, "c", big, "d", "last"};
    for (int f = 0; f < 2; f++) {
        size_t n = log_format((enum log_form)f, NULL, LOG_LEVEL_INFO, big, kv, 4, out, sizeof out);
        cr_assert_lt(n, sizeof out);
        cr_assert_eq(out[n - 1], '\n');
        cr_assert_eq(strchr(out, '\n'), out + n - 1);
        cr_assert(strstr(out, "...") != NULL, "a cut value is marked");
        cr_assert(strstr(out, "last"), "a short pair after long ones still fits: %s", out + n - 40);
        if (f == LOG_FORM_JSON) {
            cJSON *o = cJSON_ParseWithLength(out, n);
            cr_assert_not_null(o);
            cr_assert_leq(strlen(cJSON_GetObjectItem(o, "msg")->valuestring), LOG_VALUE_MAX + 3);
            cJSON_Delete(o);
        }
    }
    /* a cut inside a UTF-8 sequence does not leave half a character behind */
    static char euros[LOG_VALUE_MAX + 8];
    for (size_t i = 0; i + 3 < sizeof euros; i += 3)
        memcpy(euros + i, "\xe2\x82\xac", 3);
    euros[sizeof euros - 1] = '\0';
    const char *e[] = {"e", euros};
    size_t n = log_format(LOG_FORM_JSON, NULL, LOG_LEVEL_INFO, "m", e, 1, out, sizeof out);
    cJSON *o = cJSON_ParseWithLength(out, n);
    cr_assert_not_null(o);
    cJSON_Delete(o);
}

Test(log, a_tiny_buffer_still_gets_a_whole_line)
{
    char small[64];
    const char *kv[] = {"k", "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"};
    for (int f = 0; f < 2; f++) {
        size_t n =
            log_format((enum log_form)f, "2026-12-03T05:00:00.000Z", LOG_LEVEL_ERROR,
                       "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b", kv, 1, small, sizeof small);
        cr_assert_gt(n, 0);
        cr_assert_lt(n, sizeof small);
        cr_assert_eq(small[n - 1], '\n');
        cr_assert_eq(strchr(small, '\n'), small + n - 1);
    }
    cr_assert_eq(log_format(LOG_FORM_TEXT, NULL, LOG_LEVEL_INFO, "m", NULL, 0, small, 10), 0);
}

Test(log, form_names)
{
    enum log_form f;
    cr_assert_eq(log_form_parse("json", &f), 0);
    cr_assert_eq(f, LOG_FORM_JSON);
    cr_assert_eq(log_form_parse("text", &f), 0);
    cr_assert_eq(f, LOG_FORM_TEXT);
    cr_assert_eq(log_form_parse("JSON", &f), -EINVAL);
    cr_assert_eq(log_form_parse("", &f), -EINVAL);
    cr_assert_eq(log_form_parse(NULL, &f), -EINVAL);
}

Test(log, file_is_reopened_by_name)
{
    char dir[] = "/tmp/cordon-log.XXXXXX", path[64], moved[80], err[512];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/cordond.log", dir);
    snprintf(moved, sizeof moved, "%s.1", path);
    cr_assert_eq(log_setup(LOG_FORM_TEXT, path, err, sizeof err), 0, "%s", err);
    log_kv(LOG_LEVEL_INFO, "before", "n", "1", NULL);
    cr_assert_eq(rename(path, moved), 0);
    cr_assert_eq(log_reopen(err, sizeof err), 0, "%s", err);
    log_msg(LOG_LEVEL_WARN, "after %d", 2);
    size_t n;
    char *a = read_file(moved, &n), *b = read_file(path, &n);
    cr_assert(strstr(a, " level=info msg=before n=1\n"), "%s", a);
    cr_assert(strncmp(a, "time=", 5) == 0, "a file's lines carry the time: %s", a);
    cr_assert_null(strstr(a, "after"));
    cr_assert(strstr(b, " level=warn msg=\"after 2\"\n"), "%s", b);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    free(a);
    free(b);
    /* a reopen that fails keeps the old file and says why */
    char away[64];
    snprintf(away, sizeof away, "%s-away", dir);
    cr_assert_eq(rename(dir, away), 0);
    cr_assert_lt(log_reopen(err, sizeof err), 0);
    cr_assert(strstr(err, "cannot reopen the log file"), "%s", err);
    cr_assert_eq(rename(away, dir), 0);
    remove_tree(dir);
    cr_assert_lt(log_setup(LOG_FORM_TEXT, "/nonexistent/dir/log", err, sizeof err), 0);
    cr_assert(strstr(err, "create its directory"), "%s", err);
}
