/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cordon policy check` and `cordon explain`: what is wrong with a policy, and what a correct
 * one will enforce on this machine.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/deep.h"
#include "policy/sign/envelope.h"
#include "policy/explain.h"
#include "policy/sign/key.h"
#include "policy/policy.h"
#include "tools/cli.h"

int cli_compile_policy(const char *buf, size_t len, const char *workspace, int deep,
                       struct policy **out, struct diag *d)
{
    struct policy_env env;
    struct policy_env_storage *st = malloc(sizeof *st);
    int rc = CLI_USAGE;
    *out = NULL;
    if (!st)
        goto out;
    int e = policy_env_from_process(&env, st, workspace);
    if (e != 0) {
        fprintf(stderr, "cordon: workspace %s: %s; give an existing directory\n",
                workspace ? workspace : "(current directory)", strerror(-e));
        goto out;
    }
    e = policy_load(buf, len, &env, out, d);
    if (e == -ENOMEM) {
        fprintf(stderr, "cordon: out of memory\n");
        goto out;
    }
    rc = CLI_FAIL;
    if (e != 0)
        goto out;
    if (deep && policy_check_deep(*out, DEEP_ZONEINFO_DIR, d) != 0) {
        policy_free(*out);
        *out = NULL;
        goto out;
    }
    rc = CLI_OK;
out:
    free(st);
    return rc;
}

int cli_read_policy(const char *cmd, const char *path, const char *trust_path, char **owned,
                    size_t *len)
{
    char *buf = NULL, *payload = NULL, err[768];
    size_t n = 0;
    *owned = NULL;
    *len = 0;
    int e = cli_read_file(path, trust_path ? DSSE_MAX_ENVELOPE : POLICY_MAX_BYTES, &buf, &n);
    if (e != 0)
        return e == -EFBIG ? CLI_FAIL : CLI_USAGE; /* too large is an invalid document */
    if (!trust_path) {
        if (strstr(buf, "\"payloadType\"")) {
            cli_error(cmd, "%s is a signed envelope; pass --trust KEY.pub to verify it", path);
            free(buf);
            return CLI_FAIL;
        }
        *owned = buf;
        *len = n;
        return CLI_OK;
    }
    struct key_trust trust;
    struct envelope_stamp stamp;
    int rc = CLI_USAGE;
    if (key_trust_load(trust_path, &trust, err, sizeof err) != 0) {
        cli_error(cmd, "%s", err);
        goto out;
    }
    size_t plen = 0;
    rc = CLI_FAIL;
    if (envelope_verify(buf, n, &trust, time(NULL), &payload, &plen, &stamp, NULL, err,
                        sizeof err) != 0) {
        cli_error(cmd, "%s: %s", path, err);
        goto out;
    }
    *owned = payload;
    *len = plen;
    payload = NULL; /* transferred */
    rc = CLI_OK;
out:
    free(payload);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- policy check */

static int run_check(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0, 0, 0, 0}};
    int json = 0, c, worst = CLI_OK;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else
            return cli_usage_error(&cmd_policy_check, "unknown option");
    }
    if (optind >= argc)
        return cli_usage_error(&cmd_policy_check, "name at least one policy file");

    cJSON *report = json ? cJSON_CreateArray() : NULL;
    for (int i = optind; i < argc; i++) {
        char *buf = NULL;
        size_t len = 0;
        struct policy *p = NULL;
        struct diag *d = malloc(sizeof *d);
        int rc;
        if (!d) {
            rc = CLI_USAGE;
            goto next;
        }
        diag_init(d);
        int e = cli_read_file(argv[i], POLICY_MAX_BYTES, &buf, &len);
        if (e != 0) {
            rc = e == -EFBIG ? CLI_FAIL : CLI_USAGE; /* too large is an invalid policy */
            goto next;
        }
        rc = cli_compile_policy(buf, len, NULL, 1, &p, d);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "file", argv[i]);
            cJSON_AddBoolToObject(o, "valid", rc == CLI_OK);
            if (p)
                cJSON_AddStringToObject(o, "agent", p->agent);
            cJSON *errs = cJSON_AddArrayToObject(o, "errors");
            for (size_t k = 0; k < d->count; k++) {
                cJSON *err = cJSON_CreateObject();
                cJSON_AddStringToObject(err, "path", d->e[k].path);
                cJSON_AddStringToObject(err, "message", d->e[k].msg);
                cJSON_AddItemToArray(errs, err);
            }
            cJSON_AddNumberToObject(o, "errors_not_shown", (double)d->dropped);
            cJSON_AddItemToArray(report, o);
        } else if (rc == CLI_OK) {
            printf("%s: ok (agent \"%s\", mode %s)\n", argv[i], p->agent,
                   policy_mode_name(p->mode));
        } else {
            cli_print_diag(stdout, argv[i], d);
            if (diag_total(d))
                printf("%s: %zu error%s\n", argv[i], diag_total(d), diag_total(d) == 1 ? "" : "s");
        }
    next:
        if (rc > worst)
            worst = rc;
        policy_free(p);
        free(buf);
        free(d);
    }
    if (json) {
        char *s = cJSON_Print(report);
        if (s)
            puts(s);
        free(s);
        cJSON_Delete(report);
    }
    return worst;
}

const struct cli_command cmd_policy_check = {
    "policy check",
    "validate policy files and print every error",
    "usage: cordon policy check [--json] POLICY.json...\n"
    "\n"
    "Validate each policy against the schema in docs/POLICY.md and print every error with\n"
    "its JSON path, what was expected and what was found. Regular expressions are compiled\n"
    "and time zones looked up, as cordond will. \"-\" reads standard input.\n"
    "\n"
    "  --json   print a JSON array: [{\"file\", \"valid\", \"agent\", \"errors\": [{\"path\",\n"
    "           \"message\"}]}]\n"
    "\n"
    "Exit status: 0 every policy is valid, 1 one has errors, 2 usage error or unreadable file.\n",
    run_check,
};

/* ---------------------------------------------------------------- explain */

static int run_explain(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"workspace", required_argument, NULL, 'w'},
                                         {"trust", required_argument, NULL, 't'},
                                         {0, 0, 0, 0}};
    int json = 0, c, rc = CLI_USAGE;
    const char *workspace = NULL, *trust_path = NULL;
    char *buf = NULL;
    size_t len = 0;
    struct policy *p = NULL;
    struct diag *d = NULL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'w':
            workspace = optarg;
            break;
        case 't':
            trust_path = optarg;
            break;
        default:
            return cli_usage_error(&cmd_explain, "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(&cmd_explain, "name exactly one policy file");
    if (!(d = malloc(sizeof *d)))
        goto out;
    diag_init(d);
    if ((rc = cli_read_policy("explain", argv[optind], trust_path, &buf, &len)) != CLI_OK)
        goto out;
    const char *doc = buf;
    size_t doclen = len;
    rc = cli_compile_policy(doc, doclen, workspace, 0, &p, d);
    if (rc != CLI_OK) {
        cli_print_diag(stderr, argv[optind], d);
        goto out;
    }
    if (json) {
        cJSON *o = policy_explain_json(p);
        char *s = o ? cJSON_Print(o) : NULL;
        if (s)
            puts(s);
        free(s);
        cJSON_Delete(o);
        rc = s ? CLI_OK : CLI_USAGE;
    } else if (policy_explain_text(p, stdout) != 0) {
        rc = CLI_USAGE;
    }
out:
    policy_free(p);
    free(buf);
    free(d);
    return rc;
}

const struct cli_command cmd_explain = {
    "explain",
    "print what a policy compiles to: paths resolved, rules expanded, defaults shown",
    "usage: cordon explain [--json] [--workspace DIR] [--trust KEY.pub] POLICY.json\n"
    "\n"
    "Compile the policy for this machine and print what will be enforced: every path as\n"
    "written and as resolved (symlinks are followed when the policy is compiled, and the\n"
    "rule names the target), the default credential deny set, the programs each exec rule\n"
    "matches, what each wildcard covers, and every default that applies. It also lists the\n"
    "variables of this environment that sandbox.env would hide from the agent (names and\n"
    "the rule that hides each, never a value).\n"
    "\n"
    "  --workspace DIR   the value of ${workspace} (default: the current directory)\n"
    "  --trust KEY.pub   the file is a signed envelope; verify it with this key first\n"
    "  --json            print the compiled form as JSON\n"
    "\n"
    "Exit status: 0 explained, 1 the policy or envelope is invalid, 2 usage error.\n",
    run_explain,
};
