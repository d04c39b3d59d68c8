/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The administration commands that talk to a running cordond: `cordon agent
 * add|revoke|list|release`, `cordon status`, `cordon policy push` and `cordon policy reload`. Each
 * authenticates with the admin bearer token read from a 0600 file (--admin-token FILE or
 * CORDON_ADMIN_TOKEN_FILE), never from the command line, where other users could read it in the
 * process list. They talk to cordond's admin listener (admin_listen), by default the unix socket
 * /run/cordond/admin.sock; the agent-facing listener does not serve these endpoints. The
 * endpoints are specified in docs/PROTOCOL.md "Admin endpoints".
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/grow.h"
#include "base/secret.h"
#include "policy/policy.h"
#include "tools/cli.h"

#define MAX_RESPONSE (16u << 20)
#define DEFAULT_ADMIN "unix:/run/cordond/admin.sock" /* cordond's default admin_listen */

struct resp {
    char *p;
    size_t len, cap;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct resp *r = ud;
    size_t n = size * nmemb;
    if (r->len + n > MAX_RESPONSE)
        return 0;
    if (GROW(&r->p, &r->cap, r->len + n + 1) != 0)
        return 0;
    memcpy(r->p + r->len, ptr, n);
    r->len += n;
    r->p[r->len] = '\0';
    return n;
}

/* Read the admin token: the first line of a private file (base/secret.h: no symlink, no
 * group or other permission bits, wiped after use). 0, or a negative errno with the reason
 * printed. */
static int read_token(const char *cmd, const char *path, char *tok, size_t len)
{
    if (!path)
        path = getenv("CORDON_ADMIN_TOKEN_FILE");
    if (!path || !path[0]) {
        cli_error(cmd, "no admin token: pass --admin-token FILE or set "
                       "CORDON_ADMIN_TOKEN_FILE (the server's admin_token_file)");
        return -ENOENT;
    }
    char *buf = NULL, why[1024];
    size_t n = 0;
    int rc = secret_read_file("the admin token file", path, 0, &buf, &n, why, sizeof why);
    if (rc != 0) {
        cli_error(cmd, "%s", why);
        return rc;
    }
    size_t line = strcspn(buf, "\r\n");
    if (line < len) {
        memcpy(tok, buf, line);
        tok[line] = '\0';
    } else {
        cli_error(cmd, "%s: the admin token is longer than %zu bytes", path, len - 1);
        rc = -EFBIG;
    }
    secret_free(buf, n);
    return rc;
}

/*
 * libcurl, loaded only by the commands that talk to cordond. Linking it into cordon made
 * every invocation pay for loading it and its ~30 dependencies (TLS, Kerberos, LDAP...),
 * about 13 ms on a small VM, including `cordon run`, whose start is the agent's start.
 */
static struct {
    void *h;
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    void (*easy_cleanup)(CURL *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} lc;

static int load_curl(const char *cmd)
{
    if (lc.h)
        return 0;
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        cli_error(cmd,
                  "cannot load libcurl (%s); the admin commands need it: install "
                  "libcurl4 (Debian) or your system's libcurl package",
                  dlerror());
        return -ENOENT;
    }
    /* dlsym answers void *; POSIX guarantees it converts to a function pointer. */
#define SYM(field, name)                                                                           \
    do {                                                                                           \
        void *f = dlsym(h, name);                                                                  \
        if (!f) {                                                                                  \
            cli_error(cmd, "libcurl has no %s; it is too old for cordon", name);                   \
            dlclose(h);                                                                            \
            return -ENOSYS;                                                                        \
        }                                                                                          \
        memcpy(&lc.field, &f, sizeof f);                                                           \
    } while (0)
    SYM(easy_init, "curl_easy_init");
    SYM(easy_setopt, "curl_easy_setopt");
    SYM(easy_perform, "curl_easy_perform");
    SYM(easy_getinfo, "curl_easy_getinfo");
    SYM(easy_strerror, "curl_easy_strerror");
    SYM(easy_cleanup, "curl_easy_cleanup");
    SYM(slist_append, "curl_slist_append");
    SYM(slist_free_all, "curl_slist_free_all");
#undef SYM
    lc.h = h;
    return 0;
}

/*
 * One admin request. server is http://HOST:PORT or unix:/PATH. Returns the HTTP status and the
 * body in *r; 0 when the server could not be reached, or a negative errno when the request
 * could not be made (no token, no libcurl, a malformed --server), the reason printed.
 */
static long admin_call(const char *cmd, const char *server, const char *token_file,
                       const char *method, const char *path, const char *body, struct resp *r)
{
    char tok[512], auth[600], url[1024];
    long status = 0;
    CURL *c = NULL;
    struct curl_slist *h = NULL;
    int rc;
    if ((rc = read_token(cmd, token_file, tok, sizeof tok)) != 0)
        return rc;
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    sodium_memzero(tok, sizeof tok);
    if ((rc = load_curl(cmd)) != 0) {
        sodium_memzero(auth, sizeof auth);
        return rc;
    }
    c = lc.easy_init();
    if (!c)
        goto out;
    if (strncmp(server, "unix:/", 6) == 0) {
        lc.easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, server + 5);
        snprintf(url, sizeof url, "http://localhost%s", path);
    } else if (strncmp(server, "http://", 7) == 0 || strncmp(server, "https://", 8) == 0) {
        size_t sl = strlen(server);
        while (sl && server[sl - 1] == '/')
            sl--;
        snprintf(url, sizeof url, "%.*s%s", (int)sl, server, path);
    } else {
        cli_error(cmd,
                  "--server %s: expected unix:/PATH (cordond's admin_listen) or "
                  "http://HOST:PORT",
                  server);
        status = -EINVAL;
        goto out;
    }
    h = lc.slist_append(h, auth);
    h = lc.slist_append(h, "Content-Type: application/json");
    lc.easy_setopt(c, CURLOPT_URL, url);
    lc.easy_setopt(c, CURLOPT_HTTPHEADER, h);
    lc.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        lc.easy_setopt(c, CURLOPT_POSTFIELDS, body);
        lc.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    lc.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    lc.easy_setopt(c, CURLOPT_WRITEDATA, r);
    lc.easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    lc.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = lc.easy_perform(c);
    if (cc != CURLE_OK) {
        cli_error(cmd,
                  "cannot reach cordond at %s: %s; is it running with an "
                  "admin_token_file, and is --server its admin_listen (default %s)?",
                  server, lc.easy_strerror(cc), DEFAULT_ADMIN);
        goto out;
    }
    lc.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
out:
    sodium_memzero(auth, sizeof auth);
    lc.slist_free_all(h);
    if (c)
        lc.easy_cleanup(c);
    return status;
}

/* Print the server's error JSON (message and diagnostics) as lines. */
static void print_error(const char *cmd, long status, const struct resp *r)
{
    cJSON *o = r->p ? cJSON_Parse(r->p) : NULL;
    cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
    if (cJSON_IsString(m))
        cli_error(cmd, "server refused (HTTP %ld): %s", status, m->valuestring);
    else
        cli_error(cmd, "server answered HTTP %ld", status);
    cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "diagnostics");
    cJSON *it;
    cJSON_ArrayForEach(it, d) if (cJSON_IsString(it)) fprintf(stderr, "  %s\n", it->valuestring);
    cJSON_Delete(o);
}

/* The options every admin command takes, for its --help. */
#define ADMIN_OPTIONS                                                                              \
    "  --server ADMIN       cordond's admin_listen: unix:/PATH (default\n"                         \
    "                       " DEFAULT_ADMIN ") or http://HOST:PORT when admin_listen\n"            \
    "                       is a TCP address; the agent-facing listen address has no admin\n"      \
    "                       endpoints\n"                                                           \
    "  --admin-token FILE   the admin token, a file of mode 0600 (default\n"                       \
    "                       $CORDON_ADMIN_TOKEN_FILE)\n"                                           \
    "\n"                                                                                           \
    "cordond refuses these requests from a sandboxed process (no_new_privs and a seccomp\n"        \
    "filter, which a systemd unit with NoNewPrivileges= and SystemCallFilter= also has),\n"        \
    "whatever token it holds: run them from an administrator's shell.\n"

struct admin_args {
    const char *server, *token, *agent, *id;
    int json; /* --json (cordon status) */
};

/* Parse the shared options; returns the index of the first operand, or -EINVAL after saying
 * what is wrong. */
static int parse_args(const struct cli_command *cmd, int argc, char **argv, struct admin_args *a,
                      int want_agent)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'}, {"admin-token", required_argument, NULL, 't'},
        {"agent", required_argument, NULL, 'a'},  {"id", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},         {0, 0, 0, 0}};
    int c;
    memset(a, 0, sizeof *a);
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            a->server = optarg;
            break;
        case 't':
            a->token = optarg;
            break;
        case 'a':
            a->agent = optarg;
            break;
        case 'i':
            a->id = optarg;
            break;
        case 'j':
            if (cmd != &cmd_status) {
                cli_usage_error(cmd, "--json applies to `cordon status` only");
                return -EINVAL;
            }
            a->json = 1;
            break;
        default:
            cli_usage_error(cmd, "unknown option");
            return -EINVAL;
        }
    }
    /* Not CORDON_SERVER: that names the agent-facing listener, which has no admin API. */
    if (!a->server)
        a->server = DEFAULT_ADMIN;
    if (!want_agent && (a->agent || a->id)) {
        cli_usage_error(cmd, "--agent and --id do not apply here");
        return -EINVAL;
    }
    return optind;
}

/* ---------------------------------------------------------------- agent add */

static int run_agent_add(int argc, char **argv)
{
    struct admin_args a;
    struct resp r = {0};
    int rc = CLI_FAIL;
    if (cli_wants_help(&cmd_agent_add, argc, argv))
        return CLI_OK;
    int i = parse_args(&cmd_agent_add, argc, argv, &a, 1);
    if (i < 0)
        return CLI_USAGE;
    if (!a.agent || a.id || i != argc)
        return cli_usage_error(&cmd_agent_add, "name the agent with --agent NAME");
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "agent", a.agent);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    long st = admin_call("agent add", a.server, a.token, "POST", "/v1/admin/agents", body, &r);
    free(body);
    if (st <= 0) {
        rc = CLI_USAGE;
        goto out;
    }
    if (st != 201) {
        print_error("agent add", st, &r);
        goto out;
    }
    cJSON *o = cJSON_Parse(r.p);
    cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "key");
    cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (cJSON_IsString(key) && cJSON_IsString(id)) {
        printf("%s\n", key->valuestring);
        fprintf(stderr,
                "cordon agent add: key %s for agent %s; it is shown only once, store it "
                "now (CORDON_KEY, mode 0600)\n",
                id->valuestring, a.agent);
        rc = CLI_OK;
        sodium_memzero(key->valuestring, strlen(key->valuestring));
    } else {
        cli_error("agent add", "the server's answer has no key");
    }
    cJSON_Delete(o);
out:
    if (r.p)
        sodium_memzero(r.p, r.len);
    free(r.p);
    return rc;
}

const struct cli_command cmd_agent_add = {
    "agent add",
    "create an agent key on a cordond (shown once)",
    "usage: cordon agent add [--server ADMIN] --agent NAME [--admin-token FILE]\n"
    "\n"
    "Ask cordond to create a new key for agent NAME and print it on standard output. The key\n"
    "is shown only this once: the server keeps only an HMAC of it. Give it to the agent as\n"
    "CORDON_KEY (the value, or a file of mode 0600).\n"
    "\n" ADMIN_OPTIONS "\n"
    "Exit status: 0 created, 1 the server refused, 2 usage error or server unreachable.\n",
    run_agent_add,
};

/* ---------------------------------------------------------------- agent revoke */

static int run_agent_revoke(int argc, char **argv)
{
    struct admin_args a;
    struct resp r = {0};
    int rc = CLI_FAIL;
    if (cli_wants_help(&cmd_agent_revoke, argc, argv))
        return CLI_OK;
    int i = parse_args(&cmd_agent_revoke, argc, argv, &a, 1);
    if (i < 0)
        return CLI_USAGE;
    if ((!a.agent) == (!a.id) || i != argc)
        return cli_usage_error(&cmd_agent_revoke, "give exactly one of --agent NAME or --id ID");
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, a.agent ? "agent" : "id", a.agent ? a.agent : a.id);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    long st =
        admin_call("agent revoke", a.server, a.token, "POST", "/v1/admin/agents/revoke", body, &r);
    free(body);
    if (st <= 0) {
        rc = CLI_USAGE;
    } else if (st != 200) {
        print_error("agent revoke", st, &r);
    } else {
        cJSON *o = cJSON_Parse(r.p);
        cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "revoked");
        printf("revoked %d key(s)\n", cJSON_IsNumber(n) ? n->valueint : 0);
        cJSON_Delete(o);
        rc = CLI_OK;
    }
    free(r.p);
    return rc;
}

const struct cli_command cmd_agent_revoke = {
    "agent revoke",
    "revoke an agent's keys on a cordond",
    "usage: cordon agent revoke [--server ADMIN] (--agent NAME | --id ak_...)\n"
    "                           [--admin-token FILE]\n"
    "\n"
    "Revoke one key (--id, as `cordon agent list` shows it) or every live key of an agent\n"
    "(--agent). A revoked key is refused at once with 401 (\"revoked\"), and within half a\n"
    "second cordond closes the tunnels and event connections it opened (a tunnel still\n"
    "connecting, as soon as it relays). The agent's processes keep their verified policy\n"
    "and kernel sandbox until the policy expires.\n"
    "\n" ADMIN_OPTIONS "\n"
    "Exit status: 0 revoked, 1 the server refused (no such key), 2 usage error or server\n"
    "unreachable.\n",
    run_agent_revoke,
};

/* ---------------------------------------------------------------- agent list */

static int run_agent_list(int argc, char **argv)
{
    struct admin_args a;
    struct resp r = {0};
    int rc = CLI_FAIL;
    if (cli_wants_help(&cmd_agent_list, argc, argv))
        return CLI_OK;
    int i = parse_args(&cmd_agent_list, argc, argv, &a, 0);
    if (i < 0)
        return CLI_USAGE;
    if (i != argc)
        return cli_usage_error(&cmd_agent_list, "no operands expected");
    long st = admin_call("agent list", a.server, a.token, "GET", "/v1/admin/agents", NULL, &r);
    if (st <= 0) {
        rc = CLI_USAGE;
    } else if (st != 200) {
        print_error("agent list", st, &r);
    } else {
        cJSON *o = cJSON_Parse(r.p), *it;
        printf("%-20s %-24s %-12s %s\n", "ID", "AGENT", "CREATED", "STATE");
        cJSON_ArrayForEach(it, o)
        {
            cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
            cJSON *ag = cJSON_GetObjectItemCaseSensitive(it, "agent");
            cJSON *cr = cJSON_GetObjectItemCaseSensitive(it, "created");
            cJSON *rv = cJSON_GetObjectItemCaseSensitive(it, "revoked");
            if (!cJSON_IsString(id) || !cJSON_IsString(ag) || !cJSON_IsNumber(cr))
                continue;
            printf("%-20s %-24s %-12.0f %s\n", id->valuestring, ag->valuestring, cr->valuedouble,
                   cJSON_IsNumber(rv) ? "revoked" : "live");
        }
        cJSON_Delete(o);
        rc = CLI_OK;
    }
    free(r.p);
    return rc;
}

const struct cli_command cmd_agent_list = {
    "agent list",
    "list the agent keys a cordond knows",
    "usage: cordon agent list [--server ADMIN] [--admin-token FILE]\n"
    "\n"
    "Print every key id, its agent, when it was created and whether it is revoked. Keys\n"
    "themselves are never shown: the server does not have them.\n"
    "\n" ADMIN_OPTIONS "\n"
    "Exit status: 0 listed, 1 the server refused, 2 usage error or server unreachable.\n",
    run_agent_list,
};

/* ---------------------------------------------------------------- policy push */

static int run_policy_push(int argc, char **argv)
{
    struct admin_args a;
    struct resp r = {0};
    int rc = CLI_FAIL;
    cJSON *b = NULL;
    char *body = NULL;
    if (cli_wants_help(&cmd_policy_push, argc, argv))
        return CLI_OK;
    int i = parse_args(&cmd_policy_push, argc, argv, &a, 0);
    if (i < 0)
        return CLI_USAGE;
    if (i == argc)
        return cli_usage_error(&cmd_policy_push, "name at least one AGENT.json file");
    b = cJSON_CreateObject();
    cJSON *files = cJSON_AddArrayToObject(b, "files");
    for (; i < argc; i++) {
        char *buf = NULL, *copy = strdup(argv[i]);
        size_t len;
        if (!copy || cli_read_file(argv[i], POLICY_MAX_BYTES, &buf, &len) != 0) {
            free(copy);
            rc = CLI_USAGE;
            goto out;
        }
        if (memchr(buf, '\0', len)) {
            cli_error("policy push", "%s: holds a NUL byte; a policy is JSON text", argv[i]);
            free(buf);
            free(copy);
            rc = CLI_FAIL;
            goto out;
        }
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", basename(copy));
        cJSON_AddStringToObject(f, "content", buf);
        cJSON_AddItemToArray(files, f);
        free(buf);
        free(copy);
    }
    body = cJSON_PrintUnformatted(b);
    long st = admin_call("policy push", a.server, a.token, "POST", "/v1/admin/policies", body, &r);
    if (st <= 0) {
        rc = CLI_USAGE;
    } else if (st != 200) {
        print_error("policy push", st, &r);
    } else {
        cJSON *o = cJSON_Parse(r.p), *it;
        cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "generation");
        printf("policy set %d is served:\n", cJSON_IsNumber(g) ? g->valueint : 0);
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "agents"))
        {
            cJSON *ag = cJSON_GetObjectItemCaseSensitive(it, "agent");
            cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "version");
            if (cJSON_IsString(ag) && cJSON_IsNumber(v))
                printf("  %s version %.0f\n", ag->valuestring, v->valuedouble);
        }
        cJSON_Delete(o);
        rc = CLI_OK;
    }
out:
    free(body);
    cJSON_Delete(b);
    free(r.p);
    return rc;
}

const struct cli_command cmd_policy_push = {
    "policy push",
    "upload policies to a cordond, validated as a whole",
    "usage: cordon policy push [--server ADMIN] [--admin-token FILE] AGENT.json...\n"
    "\n"
    "Upload policy files to cordond. Each file's name must be AGENT.json and its \"agent\"\n"
    "member must be AGENT. The server validates the uploaded files together with the ones it\n"
    "already serves (policy check and the deep checks); only if the whole set is valid are the\n"
    "files written into its policies directory and the new set served, atomically. Otherwise\n"
    "every problem is printed and the server keeps serving the previous set.\n"
    "\n" ADMIN_OPTIONS "\n"
    "Exit status: 0 served, 1 refused (the diagnostics say why), 2 usage error or server\n"
    "unreachable.\n",
    run_policy_push,
};

/* ---------------------------------------------------------------- policy reload */

static int run_policy_reload(int argc, char **argv)
{
    struct admin_args a;
    struct resp r = {0};
    int rc = CLI_FAIL;
    if (cli_wants_help(&cmd_policy_reload, argc, argv))
        return CLI_OK;
    int i = parse_args(&cmd_policy_reload, argc, argv, &a, 0);
    if (i < 0)
        return CLI_USAGE;
    if (i != argc)
        return cli_usage_error(&cmd_policy_reload, "no operands expected");
    long st = admin_call("policy reload", a.server, a.token, "POST", "/v1/admin/reload", NULL, &r);
    if (st <= 0) {
        rc = CLI_USAGE;
    } else if (st != 200) {
        print_error("policy reload", st, &r);
    } else {
        printf("reloaded\n");
        rc = CLI_OK;
    }
    free(r.p);
    return rc;
}

const struct cli_command cmd_policy_reload = {
    "policy reload",
    "make a cordond re-read its policies directory",
    "usage: cordon policy reload [--server ADMIN] [--admin-token FILE]\n"
    "\n"
    "Ask cordond to re-read its policies directory, as SIGHUP does. A set with any invalid\n"
    "policy is refused as a whole (the diagnostics are printed) and the previous set stays.\n"
    "\n" ADMIN_OPTIONS "\n"
    "Exit status: 0 reloaded, 1 refused, 2 usage error or server unreachable.\n",
    run_policy_reload,
};

/* ---------------------------------------------------------------- agent release */

static int run_agent_release(int argc, char **argv)
{
    struct admin_args a;
    struct resp r = {0};
    int rc = CLI_FAIL;
    if (cli_wants_help(&cmd_agent_release, argc, argv))
        return CLI_OK;
    int i = parse_args(&cmd_agent_release, argc, argv, &a, 1);
    if (i < 0)
        return CLI_USAGE;
    const char *agent = a.agent;
    if (!agent && i == argc - 1)
        agent = argv[i++];
    if (!agent || a.id || i != argc)
        return cli_usage_error(&cmd_agent_release, "name one agent: cordon agent release AGENT");
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "agent", agent);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    long st = admin_call("agent release", a.server, a.token, "POST", "/v1/admin/agents/release",
                         body, &r);
    free(body);
    if (st <= 0) {
        rc = CLI_USAGE;
    } else if (st != 200) {
        print_error("agent release", st, &r);
    } else {
        printf("released %s: its model calls and tunnels are served again\n", agent);
        rc = CLI_OK;
    }
    free(r.p);
    return rc;
}

const struct cli_command cmd_agent_release = {
    "agent release",
    "lift the quarantine of an agent on a cordond",
    "usage: cordon agent release [--server ADMIN] [--admin-token FILE] AGENT\n"
    "\n"
    "Lift the quarantine cordond's anomaly response put on AGENT (api.anomaly on_trigger\n"
    "\"quarantine\"): its model calls and tunnels are served again, and its anomaly windows\n"
    "start over. The release is an anomaly.release audit record; `cordon status` shows who is\n"
    "quarantined and why.\n"
    "\n" ADMIN_OPTIONS "\n"
    "Exit status: 0 released, 1 the server refused (the agent is not quarantined), 2 usage\n"
    "error or server unreachable.\n",
    run_agent_release,
};

/* ---------------------------------------------------------------- status */

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* "2026-12-02T18:31:30Z" for a wall-clock time in ms. */
static void iso_ms(double ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, cap, "?");
}

/* One budget or rate of the status answer: "day_tokens 120/0/1880" (spent or used, reserved,
 * remaining), dollars with a "$". */
static size_t scope_text(const cJSON *e, char *buf, size_t cap)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(e, "unit");
    const char *name = cJSON_IsString(n) ? n->valuestring : "?";
    const char *dot = strrchr(name, '.');
    int usd = cJSON_IsString(u) && strcmp(u->valuestring, "usd") == 0;
    int rate = cJSON_GetObjectItemCaseSensitive(e, "used") != NULL;
    double spent = num(e, rate ? "used" : "spent"), res = num(e, "reserved"),
           rem = num(e, "remaining");
    int k = usd ? snprintf(buf, cap, "%s $%.6g/$%.6g/$%.6g", dot ? dot + 1 : name, spent, res, rem)
                : snprintf(buf, cap, "%s %.0f/%.0f/%.0f", dot ? dot + 1 : name, spent, res, rem);
    return k > 0 && (size_t)k < cap ? (size_t)k : 0;
}

/* "-" when the policy sets none; else each scope as spent/reserved/remaining. */
static void budget_text(const cJSON *bud, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    const char *arrays[2] = {"budgets", "rates"};
    for (int a = 0; a < 2 && cJSON_IsObject(bud); a++) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(bud, arrays[a]))
        {
            if (len && len + 2 < cap) {
                memcpy(buf + len, ", ", 3);
                len += 2;
            }
            len += scope_text(e, buf + len, cap - len);
        }
    }
    if (!len)
        snprintf(buf, cap, "-");
    else if (len + 40 < cap)
        snprintf(buf + len, cap - len, " (spent/reserved/remaining)");
}

/* The api.schedule rules: "-" when none; else the active ones, and how many are not. */
static void sched_text(const cJSON *sch, char *buf, size_t cap)
{
    size_t len = 0;
    int idle = 0;
    buf[0] = '\0';
    const cJSON *w;
    cJSON_ArrayForEach(w, sch)
    {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(w, "rule");
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "active"))) {
            idle++;
            continue;
        }
        int out = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "outside"));
        int k = snprintf(buf + len, cap - len, "%sACTIVE %s \"%.120s\"", len ? ", " : "",
                         out ? "outside" : "inside", cJSON_IsString(r) ? r->valuestring : "?");
        if (k > 0 && (size_t)k < cap - len)
            len += (size_t)k;
    }
    if (!len && !idle)
        snprintf(buf, cap, "-");
    else if (idle)
        snprintf(buf + len, cap - len, "%s%d inactive", len ? "; " : "", idle);
}

/* One line per agent: what the table shows of it. */
static void status_line(const cJSON *ag, double now)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(ag, "agent");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(ag, "windows");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(ag, "quarantined");
    const cJSON *bud = cJSON_GetObjectItemCaseSensitive(ag, "budget");
    const cJSON *sch = cJSON_GetObjectItemCaseSensitive(ag, "schedule");
    const cJSON *ld = cJSON_GetObjectItemCaseSensitive(ag, "last_denials");
    char state[96], win[96], den[160], budget[512], sched[512];
    if (cJSON_IsTrue(q)) {
        char t[32];
        iso_ms(num(ag, "quarantined_since_ms"), t, sizeof t);
        snprintf(state, sizeof state, "quarantined since %s", t);
    } else if (num(ag, "throttled_until_ms") > now) {
        snprintf(state, sizeof state, "throttled %.0f s",
                 (num(ag, "throttled_until_ms") - now) / 1000);
    } else {
        snprintf(state, sizeof state, "ok");
    }
    if (w)
        snprintf(win, sizeof win, "%.0f req/min %.0f tok/min $%.4g/h %.0f denials",
                 num(w, "requests_per_minute"), num(w, "tokens_per_minute"), num(w, "usd_per_hour"),
                 num(w, "denials_per_10_minutes"));
    else
        snprintf(win, sizeof win, "-");
    const cJSON *last = cJSON_GetArrayItem(ld, 0);
    const cJSON *what = cJSON_GetObjectItemCaseSensitive(last, "what");
    if (cJSON_IsString(what)) {
        char t[32];
        iso_ms(num(last, "ts_ms"), t, sizeof t);
        snprintf(den, sizeof den, "%s %.100s", t, what->valuestring);
    } else {
        snprintf(den, sizeof den, "-");
    }
    budget_text(bud, budget, sizeof budget);
    sched_text(sch, sched, sizeof sched);
    printf("%-20s %-8.0f %-42s %-36s %s\n", cJSON_IsString(name) ? name->valuestring : "?",
           num(ag, "sessions"), win, state, den);
    printf("    budget: %s\n    windows: %s\n", budget, sched);
}

static int run_status(int argc, char **argv)
{
    struct admin_args a;
    struct resp r = {0};
    int rc = CLI_FAIL;
    if (cli_wants_help(&cmd_status, argc, argv))
        return CLI_OK;
    int i = parse_args(&cmd_status, argc, argv, &a, 0);
    if (i < 0)
        return CLI_USAGE;
    if (i != argc)
        return cli_usage_error(&cmd_status, "no operands expected");
    long st = admin_call("status", a.server, a.token, "GET", "/v1/admin/status", NULL, &r);
    if (st <= 0) {
        rc = CLI_USAGE;
    } else if (st != 200) {
        print_error("status", st, &r);
    } else if (a.json) {
        printf("%s\n", r.p ? r.p : "{}");
        rc = CLI_OK;
    } else {
        cJSON *o = cJSON_Parse(r.p), *it;
        double now = num(o, "now_ms");
        printf("%-20s %-8s %-42s %-36s %s\n", "AGENT", "SESSIONS", "ANOMALY WINDOWS", "STATE",
               "LAST DENIAL");
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "agents")) status_line(it, now);
        cJSON_Delete(o);
        rc = CLI_OK;
    }
    free(r.p);
    return rc;
}

const struct cli_command cmd_status = {
    "status",
    "show every agent of a cordond: sessions, budgets, quarantine, denials",
    "usage: cordon status [--server ADMIN] [--admin-token FILE] [--json]\n"
    "\n"
    "One line per agent cordond knows: its live sessions, what its anomaly windows hold now\n"
    "(requests and tokens in the last minute, spend in the last hour, denials in the last 10\n"
    "minutes), whether it is quarantined or throttled, and its last denial. Under it:\n"
    "  budget: each api.budget and api.rate scope its policy sets, as spent/reserved/remaining\n"
    "          (a rate: used this minute or open now), e.g. day_tokens 555/0/999445; \"-\"\n"
    "          when it sets none\n"
    "  windows: the api.schedule rules that apply now (ACTIVE inside \"Mon-Fri 08:00-18:00\")\n"
    "          and how many do not; \"-\" when it has none\n"
    "--json prints the server's answer (GET /v1/admin/status) as it is.\n"
    "\n" ADMIN_OPTIONS "\n"
    "Exit status: 0 shown, 1 the server refused, 2 usage error or server unreachable.\n",
    run_status,
};
