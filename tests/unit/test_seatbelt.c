/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The macOS Seatbelt profile, checked on any OS: the profiles of known policies match golden
 * files line for line, and targeted properties hold whatever the policy: deny by default,
 * every deny after the allows it narrows, metadata still readable on the credential
 * directories, hostile paths that cannot break out of their string, network rules that allow
 * only the proxy ports, and no rule that lost its filters (an unfiltered allow allows all).
 *
 * Golden files live in tests/data/seatbelt/<name>.sb. After an intended change to the
 * profile, regenerate them and review the diff like code:
 *
 *     CORDON_UPDATE_GOLDEN=1 ./build/tests/test_seatbelt
 *
 * With CORDON_UPDATE_GOLDEN=1 the golden tests write the files instead of comparing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "tests/unit/support.h"

/* The fixed machine the golden files were made for: a Mac user working in ~/proj. */
static const struct policy_env mac_env = {
    .vars = {.home = "/Users/agent",
             .cwd = "/Users/agent/proj",
             .workspace = "/Users/agent/proj",
             .tmp = "/private/tmp"},
    .resolve_symlinks = 0,
};

#define P(body) "{\"cordon_policy\": 1, \"agent\": \"a\", " body "}"

static struct policy *load_env(const char *json, size_t len, const struct policy_env *env)
{
    struct diag d;
    struct policy *p = NULL;
    diag_init(&d);
    int rc = policy_load(json, len, env, &p, &d);
    if (rc != 0) {
        char line[512] = "";
        if (d.count)
            diag_format(&d, 0, line, sizeof line);
        cr_assert_fail("policy refused (%d): %s", rc, line);
    }
    return p;
}

/* ------------------------------------------------------------------ structure checks */

/*
 * Read the profile as the SBPL reader would (strings with backslash escapes, #"raw" strings,
 * ; comments, nested lists) and check that it is well formed: every string and list closed,
 * each top-level form a (version ...), (allow ...) or (deny ...), and no rule without a filter
 * except the few that are meant to apply everywhere.
 */
static const char *const bare_ok[] = {
    "(version 1)",          "(deny default)",
    "(allow process-fork)", "(allow file-read-metadata)",
    "(allow pseudo-tty)",   "(allow signal)",
    "(allow sysctl-read)",  "(allow ipc-posix-sem)",
    "(allow network*)",     NULL,
};

static void check_wellformed(const char *t)
{
    int depth = 0, nested = 0;
    size_t start = 0;
    for (size_t i = 0; t[i]; i++) {
        char c = t[i];
        if (c == ';') {
            cr_assert_eq(depth, 0, "comment inside a form at byte %zu", i);
            while (t[i + 1] && t[i + 1] != '\n')
                i++;
        } else if (c == '#' && t[i + 1] == '"') {
            for (i += 2; t[i] && t[i] != '"'; i++)
                ;
            cr_assert(t[i], "unterminated #\" string");
        } else if (c == '"') {
            for (i++; t[i] && t[i] != '"'; i++)
                if (t[i] == '\\') {
                    i++;
                    cr_assert(t[i] == '\\' || t[i] == '"', "unexpected escape \\%c", t[i]);
                }
            cr_assert(t[i], "unterminated string");
        } else if (c == '(') {
            if (depth == 0) {
                start = i;
                nested = 0;
                cr_assert(strncmp(t + i, "(version ", 9) == 0 ||
                              strncmp(t + i, "(allow ", 7) == 0 || strncmp(t + i, "(deny ", 6) == 0,
                          "unexpected top-level form at byte %zu: %.40s", i, t + i);
                cr_assert(strncmp(t + i, "(allow default", 14) != 0, "the profile allows default");
            } else {
                nested = 1;
            }
            depth++;
        } else if (c == ')') {
            cr_assert_gt(depth, 0, "unbalanced ')' at byte %zu", i);
            if (--depth == 0 && !nested) {
                int ok = 0;
                for (size_t k = 0; bare_ok[k]; k++)
                    ok |= strlen(bare_ok[k]) == i + 1 - start &&
                          strncmp(t + start, bare_ok[k], i + 1 - start) == 0;
                cr_assert(ok, "rule without a filter: %.*s", (int)(i + 1 - start), t + start);
            }
        }
    }
    cr_assert_eq(depth, 0, "unbalanced '(' at the end of the profile");
}

static char *profile_of(const struct policy *p, const struct sandbox_opts *o)
{
    char *out = NULL;
    cr_assert_eq(sandbox_seatbelt_profile(p, o, &out), 0);
    cr_assert_not_null(out);
    check_wellformed(out);
    return out;
}

/* The rules alone: comment lines (the generator writes comments on lines of their own) and
 * blank lines dropped in place, so that a property cannot be met or broken by a comment. */
static char *rules_only(char *t)
{
    char *w = t;
    for (const char *r = t; *r;) {
        size_t n = strcspn(r, "\n");
        int keep = n > 0 && r[0] != ';';
        if (keep) {
            memmove(w, r, n);
            w += n;
            *w++ = '\n';
        }
        r += n + (r[n] == '\n');
    }
    *w = '\0';
    return t;
}

/* The rules of a policy document's profile on the Mac machine, with the given proxy ports. */
static char *profile_json(const char *json, const uint16_t *ports, size_t nports)
{
    struct sandbox_opts o = {0};
    for (size_t i = 0; i < nports; i++)
        o.proxy_ports[o.n_proxy_ports++] = ports[i];
    struct policy *p = load_env(json, strlen(json), &mac_env);
    char *out = rules_only(profile_of(p, &o));
    policy_free(p);
    return out;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *s = hay; (s = strstr(s, needle)); s += strlen(needle))
        n++;
    return n;
}

/* Offset of the last "\n(allow" and of the first "\n(deny" after "(deny default)". */
static void rule_bounds(const char *t, size_t *last_allow, size_t *first_deny)
{
    const char *body = strstr(t, "(deny default)");
    cr_assert_not_null(body);
    body += strlen("(deny default)");
    *last_allow = 0;
    for (const char *s = t; (s = strstr(s, "\n(allow")); s++)
        *last_allow = (size_t)(s - t);
    const char *d = strstr(body, "\n(deny");
    *first_deny = d ? (size_t)(d - t) : strlen(t);
}

/* The head of the rule holding the filter at needle: the text from the "(" that opens the
 * top-level form to the end of its first line. */
static void rule_head(const char *t, const char *needle, char *head, size_t len)
{
    const char *at = strstr(t, needle);
    cr_assert_not_null(at, "no %s in the profile", needle);
    while (at > t && !(at[-1] == '\n' && at[0] == '('))
        at--;
    size_t n = strcspn(at, "\n");
    if (n >= len)
        n = len - 1;
    memcpy(head, at, n);
    head[n] = '\0';
}

/* ------------------------------------------------------------------ golden files */

static void first_difference(const char *want, const char *got, const char *name)
{
    size_t line = 1;
    const char *w = want, *g = got;
    while (*w && *g && *w == *g) {
        if (*w == '\n')
            line++;
        w++;
        g++;
    }
    if (!*w && !*g)
        return;
    while (w > want && w[-1] != '\n' && g > got && g[-1] != '\n') {
        w--;
        g--;
    }
    cr_assert_fail("%s differs from the golden file at line %zu:\n  want: %.*s\n  got:  %.*s\n"
                   "(after an intended change: CORDON_UPDATE_GOLDEN=1, then review the diff)",
                   name, line, (int)strcspn(w, "\n"), w, (int)strcspn(g, "\n"), g);
}

static void golden(const char *name, const char *got)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/seatbelt/%s", CORDON_TEST_DATA, name);
    const char *update = getenv("CORDON_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0) {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f, "cannot write %s: %s", path, strerror(errno));
        cr_assert_eq(fwrite(got, 1, strlen(got), f), strlen(got));
        cr_assert_eq(fclose(f), 0);
        return;
    }
    char *want = read_file(path, NULL);
    first_difference(want, got, name);
    free(want);
}

static char *profile_file(const char *path, const uint16_t *ports, size_t nports)
{
    size_t len;
    char *json = read_file(path, &len);
    struct sandbox_opts o = {0};
    for (size_t i = 0; i < nports; i++)
        o.proxy_ports[o.n_proxy_ports++] = ports[i];
    struct policy *p = load_env(json, len, &mac_env);
    char *out = profile_of(p, &o);
    policy_free(p);
    free(json);
    return out;
}

static const uint16_t proxy_port[] = {8787};

Test(golden, default_policy)
{
    char *t = profile_file(CORDON_SOURCE_DIR "/examples/policies/default.json", proxy_port, 1);
    golden("default.sb", t);
    free(t);
}

Test(golden, network_none)
{
    char *t = profile_file(CORDON_SOURCE_DIR "/examples/policies/offline.json", proxy_port, 1);
    golden("none.sb", t);
    free(t);
}

Test(golden, exec_allowlist)
{
    char *t = profile_file(CORDON_TEST_DATA "/seatbelt/allowlist.json", NULL, 0);
    golden("allowlist.sb", t);
    free(t);
}

/* ------------------------------------------------------------------ properties */

Test(profile, starts_with_version_and_deny_default)
{
    char *t = profile_json(P("\"sandbox\": {}"), proxy_port, 1);
    cr_assert(strncmp(t, "(version 1)\n(deny default)\n", 27) == 0, "profile starts: %.40s", t);
    cr_assert_eq(count(t, "(deny default)"), 1);
    free(t);
}

Test(profile, every_deny_comes_after_every_allow)
{
    const char *docs[] = {
        P("\"sandbox\": {\"filesystem\": {\"deny\": [\"${workspace}/.env\"]}, "
          "\"exec\": {\"deny\": [\"sudo\", \"/usr/bin/dd\"]}}"),
        P("\"sandbox\": {\"exec\": {\"allow\": [\"python3*\", \"/opt/x/bin\"], "
          "\"deny\": [\"python3*-config\", \"/opt/x/bin/bad\"]}, \"network\": {\"mode\": "
          "\"host\"}}"),
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char *t = profile_json(docs[i], proxy_port, 1);
        size_t last_allow, first_deny;
        rule_bounds(t, &last_allow, &first_deny);
        cr_assert_lt(last_allow, first_deny, "an allow follows a deny in profile %zu:\n%s", i, t);
        cr_assert(strstr(t + first_deny, "(subpath \"/Users/agent/.ssh\")"),
                  "the credential deny is not in the deny block");
        free(t);
    }
}

Test(profile, credential_directories_keep_metadata_but_not_data)
{
    char *t = profile_json(P("\"sandbox\": {}"), proxy_port, 1);
    cr_assert(strstr(t, "\n(allow file-read-metadata)\n"), "metadata is not readable");
    /* every path of the credential set is denied, data, xattrs, writes and exec, not metadata */
    for (size_t i = 0; policy_credential_paths[i]; i++) {
        char filter[256], head[256];
        snprintf(filter, sizeof filter, "(subpath \"/Users/agent%s\")",
                 policy_credential_paths[i] + 1);
        rule_head(t, filter, head, sizeof head);
        cr_assert_str_eq(head, "(deny file-read-data file-read-xattr file-write* process-exec*",
                         "%s", filter);
    }
    /* and nothing denies metadata anywhere */
    cr_assert_null(strstr(t, "(deny file-read*"));
    cr_assert_null(strstr(t, "(deny file-read-metadata"));
    for (const char *s = t; (s = strstr(s, "\n(deny ")); s++) {
        size_t n = strcspn(s + 1, "\n");
        cr_assert(!memmem(s + 1, n, "metadata", 8), "a deny names metadata: %.*s", (int)n, s + 1);
    }
    free(t);
}

Test(profile, credential_set_off_denies_only_the_host_secrets)
{
    char *t = profile_json(P("\"sandbox\": {\"filesystem\": {\"deny_credentials\": false}}"),
                           proxy_port, 1);
    cr_assert_null(strstr(t, "/Users/agent/.ssh"));
    /* cordond's secrets stay denied: the credential switch does not reach them */
    const char *deny = strstr(t, "(deny file-read-data");
    cr_assert_not_null(deny);
    cr_assert_not_null(strstr(deny, "\"/etc/cordon\""), "%s", deny);
    cr_assert_not_null(strstr(deny, "\"/Users/agent/.local/state/cordon\""), "%s", deny);
    free(t);
}

/* Whether some string literal of t, its backslash escapes undone, reads exactly want: what the
 * SBPL reader will see is what the policy said. */
static int decoded_string_equals(const char *t, const char *want)
{
    for (const char *s = t; (s = strchr(s, '"'));) {
        char buf[512];
        size_t n = 0;
        for (s++; *s && *s != '"' && n < sizeof buf - 1; s++) {
            if (*s == '\\')
                s++;
            buf[n++] = *s;
        }
        buf[n] = '\0';
        if (strcmp(buf, want) == 0)
            return 1;
        if (*s)
            s++;
    }
    return 0;
}

Test(profile, hostile_paths_cannot_leave_their_string)
{
    /* JSON for: /Users/agent/we"ird\dir  and  /Users/agent/x") (allow default) (" */
    char *t = profile_json(
        P("\"sandbox\": {\"filesystem\": {\"read_write\": [\"/Users/agent/we\\\"ird\\\\dir\", "
          "\"/Users/agent/x\\\") (allow default) (\\\"\"]}}"),
        proxy_port, 1);
    cr_assert(strstr(t, "(subpath \"/Users/agent/we\\\"ird\\\\dir\")"), "%s", t);
    cr_assert(strstr(t, "(subpath \"/Users/agent/x\\\") (allow default) (\\\"\")"), "%s", t);
    cr_assert(decoded_string_equals(t, "/Users/agent/we\"ird\\dir"));
    cr_assert(decoded_string_equals(t, "/Users/agent/x\") (allow default) (\""));
    /* check_wellformed() has already refused a top-level (allow default) */
    free(t);
}

Test(profile, regex_metacharacters_are_escaped)
{
    /* search dirs with regex metacharacters, a quote and a backslash; names with '+' */
    char *t = profile_json(
        P("\"sandbox\": {\"exec\": {\"allow\": [\"py*\", \"g++\"], \"deny\": [\"g++*\", \"a?c\"], "
          "\"search\": [\"/opt/t.o+ls(1)\", \"/opt/q\\\"x\", \"/opt/b\\\\s[2]\"]}}"),
        NULL, 0);
    /* regex \. \+ \( written as a string: each backslash doubled */
    cr_assert(strstr(t, "(regex \"^/opt/t\\\\.o\\\\+ls\\\\(1\\\\)/py[^/]*$\")"), "%s", t);
    cr_assert(strstr(t, "(literal \"/opt/t.o+ls(1)/g++\")"), "%s", t);
    cr_assert(strstr(t, "(regex \"^/opt/q\\\"x/py[^/]*$\")"), "%s", t);
    /* a backslash in a path: regex \\ , then each doubled again for the string */
    cr_assert(strstr(t, "(regex \"^/opt/b\\\\\\\\s\\\\[2\\\\]/py[^/]*$\")"), "%s", t);
    cr_assert(strstr(t, "(regex \"/g\\\\+\\\\+[^/]*$\")"), "%s", t);
    cr_assert(strstr(t, "(regex \"/a[^/]c$\")"), "%s", t);
    free(t);
}

static const char *const net_allows[] = {"(allow network", "network-outbound", "network-bind",
                                         "network-inbound", NULL};

Test(profile, proxy_mode_allows_only_the_proxy_ports)
{
    const uint16_t ports[] = {8787, 9000, 8787, 0};
    char *t = profile_json(P("\"sandbox\": {\"network\": {\"mode\": \"proxy\", "
                             "\"allow\": [\"crm.internal:443\"]}}"),
                           ports, 4);
    cr_assert(strstr(t, "\n(allow network-outbound (remote tcp \"localhost:8787\"))\n"));
    cr_assert(strstr(t, "\n(allow network-outbound (remote tcp \"localhost:9000\"))\n"));
    cr_assert_eq(count(t, "(allow network"), 2, "%s", t);
    cr_assert_eq(count(t, "network-outbound"), 2);
    cr_assert_null(strstr(t, "network*"));
    cr_assert_null(strstr(t, "localhost:*"));
    cr_assert_null(strstr(t, "localhost:0"));
    cr_assert_null(strstr(t, "crm.internal"),
                   "the allow list is the proxy's job, not the kernel's");
    free(t);
}

Test(profile, proxy_mode_without_a_port_allows_no_connection)
{
    char *t = profile_json(P("\"sandbox\": {\"network\": {\"mode\": \"proxy\"}}"), NULL, 0);
    for (size_t i = 0; net_allows[i]; i++)
        cr_assert_null(strstr(t, net_allows[i]), "%s in:\n%s", net_allows[i], t);
    free(t);

    /* no options at all is the same */
    struct policy *p = load_env(P("\"sandbox\": {}"), strlen(P("\"sandbox\": {}")), &mac_env);
    t = rules_only(profile_of(p, NULL));
    cr_assert_null(strstr(t, "(allow network"));
    free(t);
    policy_free(p);
}

Test(profile, mode_none_allows_no_network)
{
    char *t = profile_json(P("\"sandbox\": {\"network\": {\"mode\": \"none\"}}"), proxy_port, 1);
    for (size_t i = 0; net_allows[i]; i++)
        cr_assert_null(strstr(t, net_allows[i]), "%s in:\n%s", net_allows[i], t);
    cr_assert_null(strstr(t, "com.apple.trustd"), "no network, no certificate checks");
    free(t);
}

Test(profile, mode_host_allows_the_network)
{
    char *t = profile_json(P("\"sandbox\": {\"network\": {\"mode\": \"host\"}}"), proxy_port, 1);
    cr_assert(strstr(t, "\n(allow network*)\n"));
    cr_assert_null(strstr(t, "localhost:8787"), "host mode needs no port rule");
    free(t);
}

Test(profile, signals_scoped_or_open)
{
    char *t = profile_json(P("\"sandbox\": {}"), proxy_port, 1);
    cr_assert(strstr(t, "\n(allow signal (target self))\n"));
    cr_assert(strstr(t, "\n(allow signal (target same-sandbox))\n"));
    cr_assert_null(strstr(t, "\n(allow signal)\n"));
    free(t);
    t = profile_json(P("\"sandbox\": {\"ipc\": {\"signals\": \"open\"}}"), proxy_port, 1);
    cr_assert(strstr(t, "\n(allow signal)\n"));
    free(t);
}

Test(profile, denylist_runs_the_search_directories)
{
    char *t = profile_json(P("\"sandbox\": {\"exec\": {\"deny\": [\"rm\", \"python3*\"], "
                             "\"search\": [\"/usr/bin\", \"/bin\"]}}"),
                           proxy_port, 1);
    cr_assert(
        strstr(t, "(allow process-exec*\n    (subpath \"/usr/bin\")\n    (subpath \"/bin\"))"),
        "%s", t);
    cr_assert(strstr(t, "(subpath \"/Library/Developer/CommandLineTools\")"));
    char head[256];
    rule_head(t, "(regex \"/rm$\")", head, sizeof head);
    cr_assert_str_eq(head, "(deny process-exec*");
    rule_head(t, "(regex \"/python3[^/]*$\")", head, sizeof head);
    cr_assert_str_eq(head, "(deny process-exec*");
    free(t);
}

Test(profile, allowlist_runs_only_the_named_programs)
{
    char *t = profile_json(P("\"sandbox\": {\"exec\": {\"allow\": [\"sh\", \"python3*\"], "
                             "\"search\": [\"/usr/bin\", \"/bin\"]}}"),
                           proxy_port, 1);
    cr_assert(strstr(t, "(allow process-exec*\n    (literal \"/usr/bin/sh\")\n"
                        "    (regex \"^/usr/bin/python3[^/]*$\")\n    (literal \"/bin/sh\")\n"
                        "    (regex \"^/bin/python3[^/]*$\"))\n"),
              "%s", t);
    cr_assert_eq(count(t, "(allow process-exec*"), 1, "%s", t);
    cr_assert_null(strstr(t, "CommandLineTools\")\n    (subpath \"/Applications"),
                   "developer tools run only in denylist mode");
    cr_assert_null(strstr(t, "(subpath \"/usr/libexec\")"));
    free(t);
}

Test(profile, programs_in_the_root_directory)
{
    char *t = profile_json(
        P("\"sandbox\": {\"exec\": {\"allow\": [\"sh\", \"py*\"], \"search\": [\"/\"]}}"), NULL, 0);
    cr_assert(strstr(t, "(allow process-exec*\n    (literal \"/sh\")\n    (regex \"^/py[^/]*$\"))"),
              "%s", t);
    free(t);
}

Test(profile, empty_allowlist_runs_nothing)
{
    char *t = profile_json(P("\"sandbox\": {\"exec\": {\"allow\": []}}"), proxy_port, 1);
    cr_assert_null(strstr(t, "(allow process-exec"), "%s", t);
    free(t);
    t = profile_json(P("\"sandbox\": {\"exec\": {\"allow\": [\"sh\"], \"search\": []}}"),
                     proxy_port, 1);
    cr_assert_null(strstr(t, "(allow process-exec"), "%s", t);
    free(t);
}

Test(profile, exec_paths_are_allowed_and_denied_by_subpath)
{
    char *t = profile_json(P("\"sandbox\": {\"exec\": {\"allow\": [\"*\", \"${workspace}/bin\"], "
                             "\"deny\": [\"/usr/bin/dd\"]}}"),
                           proxy_port, 1);
    cr_assert(strstr(t, "(allow process-exec*\n    (subpath \"/Users/agent/proj/bin\"))\n"), "%s",
              t);
    cr_assert(strstr(t, "(deny process-exec*\n    (subpath \"/usr/bin/dd\"))\n"), "%s", t);
    free(t);
}

Test(profile, private_spellings_of_tmp_var_and_etc)
{
    char *t = profile_json(P("\"sandbox\": {\"filesystem\": {\"read_write\": [\"/tmp/w\"], "
                             "\"read_only\": [\"/var/folders/x/T\", \"/etcetera\"], "
                             "\"deny\": [\"/etc/secret\"]}}"),
                           proxy_port, 1);
    cr_assert(strstr(t, "    (subpath \"/tmp/w\")\n    (subpath \"/private/tmp/w\"))"), "%s", t);
    cr_assert(strstr(t, "    (subpath \"/var/folders/x/T\")\n"
                        "    (subpath \"/private/var/folders/x/T\")"),
              "%s", t);
    cr_assert(strstr(t, "(subpath \"/etcetera\")"));
    cr_assert_null(strstr(t, "/private/etcetera"), "/etcetera is not beneath /etc");
    cr_assert(strstr(t, "    (subpath \"/etc/secret\")\n    (subpath \"/private/etc/secret\"))"),
              "%s", t);
    free(t);
}

Test(profile, symlinks_are_granted_under_both_names)
{
    char dir[] = "/tmp/cordon-seatbelt-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char target[256], link[256], json[1024];
    snprintf(target, sizeof target, "%s/target", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    cr_assert_eq(mkdir(target, 0700), 0);
    cr_assert_eq(symlink(target, link), 0);

    struct policy_env env = mac_env;
    env.resolve_symlinks = 1;
    snprintf(json, sizeof json, P("\"sandbox\": {\"filesystem\": {\"read_only\": [\"%s\"]}}"),
             link);
    struct policy *p = load_env(json, strlen(json), &env);
    char *t = profile_of(p, NULL);

    /* as written, as resolved, and behind /private (a Mac knows this directory as /tmp) */
    const char *real = p->sandbox.fs.read_only.v[0].real;
    cr_assert_not_null(real);
    cr_assert_str_neq(real, link);
    char want[4][600], head[256];
    snprintf(want[0], sizeof want[0], "(subpath \"%s\")", link);
    snprintf(want[1], sizeof want[1], "(subpath \"%s\")", real);
    snprintf(want[2], sizeof want[2], "(subpath \"/private%s\")", link);
    snprintf(want[3], sizeof want[3], "(subpath \"/private%s\")", real);
    /* on a host where /tmp already resolves into /private, the resolved form has its prefix */
    size_t nwant = strncmp(real, "/private/", 9) == 0 ? 3 : 4;
    for (size_t i = 0; i < nwant; i++) {
        rule_head(t, want[i], head, sizeof head);
        cr_assert_str_eq(head, "(allow file-read* file-map-executable", "%s", want[i]);
    }
    free(t);
    policy_free(p);
    unlink(link);
    rmdir(target);
    rmdir(dir);
}

Test(profile, read_only_equal_to_read_write_is_not_repeated)
{
    /* the Mac machine runs in its workspace: ${cwd} == ${workspace} */
    char *t = profile_json(P("\"sandbox\": {}"), proxy_port, 1);
    cr_assert_eq(count(t, "(subpath \"/Users/agent/proj\")"), 1, "%s", t);
    free(t);
}
