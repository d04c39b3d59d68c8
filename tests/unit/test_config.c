/* SPDX-License-Identifier: Apache-2.0 */
/* cordond's config parser: every key, flags over the file, and hostile files. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "policy/server/config.h"

static struct config c;
static char err[1024];

static int parse(const char *text)
{
    config_defaults(&c);
    err[0] = '\0';
    return config_parse(&c, text, strlen(text), "test.conf", err, sizeof err);
}

Test(config, defaults_and_every_key)
{
    cr_assert_eq(parse("# comment\n\n"
                       "listen 127.0.0.1:8080\n"
                       "listen unix:/run/cordond.sock\n"
                       "  tunnel_listen [::1]:8081  \n"
                       "policies_dir /etc/cordon/policies\r\n"
                       "signing_key /etc/cordon/sign.key\n"
                       "state_dir /var/lib/x\n"
                       "admin_token_file /etc/cordon/admin\n"
                       "policy_expiry 12h\n"
                       "threads 8\n"
                       "event_rate 5\n"
                       "audit_fsync always\n"
                       "audit_on_failure exit\n"
                       "upstream openai http://127.0.0.1:8401/v1\n"
                       "upstream local http://127.0.0.1:11434 kind=anthropic models=claude-*,x\n"),
                 0, "%s", err);
    cr_assert_eq(c.n_listen, 2);
    cr_assert_str_eq(c.listen[0], "127.0.0.1:8080");
    cr_assert_str_eq(c.listen[1], "unix:/run/cordond.sock");
    cr_assert_str_eq(c.tunnel_listen, "[::1]:8081");
    cr_assert_str_eq(c.policies_dir, "/etc/cordon/policies");
    cr_assert_eq(c.policy_expiry, 12 * 3600);
    cr_assert_eq(c.threads, 8);
    cr_assert_eq(c.event_rate, 5);
    cr_assert_eq(c.event_burst, 200); /* default kept */
    cr_assert_str_eq(c.audit_fsync, "always");
    cr_assert_str_eq(c.audit_on_failure, "exit");
    cr_assert_eq(c.n_upstreams, 2);
    cr_assert_str_eq(c.upstreams[1].name, "local");
    cr_assert_str_eq(c.upstreams[1].url, "http://127.0.0.1:11434");
    cr_assert_eq(c.upstreams[0].kind, CONFIG_UPSTREAM_KIND_OPENAI);
    cr_assert_eq(c.upstreams[1].kind, CONFIG_UPSTREAM_KIND_ANTHROPIC);
    cr_assert_str_eq(c.upstreams[1].models, "claude-*,x");
    cr_assert_eq(c.upstream_connect_timeout_ms, 5000);
    cr_assert_eq(c.proxy_max_body, 8u << 20);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(c.agent_keys, "/var/lib/x/agents");
    cr_assert_str_eq(c.audit_dir, "/var/lib/x/audit");
    cr_assert_str_eq(c.events_socket, "/var/lib/x/events.sock");
}

Test(config, errors_name_file_line_key_and_expectation)
{
    cr_assert_neq(parse("threads 4\nbogus 1\n"), 0);
    cr_assert(strstr(err, "test.conf:2: unknown key \"bogus\""), "%s", err);
    cr_assert_neq(parse("\n\nthreads 0\n"), 0);
    cr_assert(strstr(err, "test.conf:3: threads: expected a whole number from 1 to 256"), "%s",
              err);
    cr_assert_neq(parse("threads 4x\n"), 0);
    cr_assert_neq(parse("threads -1\n"), 0);
    cr_assert_neq(parse("threads 99999999999999999999\n"), 0);
    cr_assert_neq(parse("listen localhost:80\n"), 0);
    cr_assert(strstr(err, "listen: expected IPv4:PORT"), "%s", err);
    cr_assert_neq(parse("listen 127.0.0.1:65536\n"), 0);
    cr_assert_neq(parse("listen 127.0.0.1:\n"), 0);
    cr_assert_neq(parse("listen unix:relative.sock\n"), 0);
    cr_assert_neq(parse("tunnel_listen unix:/x.sock\n"), 0, "the tunnel is TCP only");
    cr_assert_neq(parse("policies_dir relative/dir\n"), 0);
    cr_assert(strstr(err, "expected an absolute path"), "%s", err);
    cr_assert_neq(parse("policy_expiry 1h30m\n"), 0);
    cr_assert_neq(parse("policy_expiry 30s\n"), 0);
    cr_assert(strstr(err, "at least 60s"), "%s", err);
    cr_assert_neq(parse("audit_fsync sometimes\n"), 0);
    cr_assert(strstr(err, "audit_fsync: expected one of always|batch|none, got \"sometimes\""),
              "%s", err);
    cr_assert_neq(parse("kernel_audit yes\n"), 0);
    cr_assert(strstr(err, "kernel_audit: expected one of off|on|if-enabled, got \"yes\""), "%s",
              err);
    cr_assert_neq(parse("kernel_audit if-enabled-and-more\n"), 0);
    cr_assert_eq(parse("kernel_audit on\n"), 0, "%s", err);
    cr_assert_str_eq(c.kernel_audit, "on");
    cr_assert_eq(parse("\n"), 0);
    cr_assert_str_eq(c.kernel_audit, "if-enabled", "the default");
    cr_assert_neq(parse("audit_on_failure ignore\n"), 0);
    cr_assert(strstr(err, "audit_on_failure: expected one of refuse|exit"), "%s", err);
    cr_assert_neq(parse("audit_on_failure exi\n"), 0);
    cr_assert_neq(parse("audit_on_failure exit2\n"), 0);
    cr_assert_neq(parse("audit_on_failure refuse|exit\n"), 0);
    cr_assert_neq(parse("threads\n"), 0);
    cr_assert(strstr(err, "missing value"), "%s", err);
    cr_assert_neq(parse("threads 2\nthreads 3\n"), 0);
    cr_assert(strstr(err, "set twice"), "%s", err);
    cr_assert_neq(parse("upstream openai\n"), 0);
    cr_assert_neq(parse("upstream OpenAI https://x\n"), 0);
    cr_assert_neq(parse("upstream a ftp://x\n"), 0);
    cr_assert_neq(parse("upstream a https://\n"), 0);
    cr_assert_neq(parse("upstream a https://x kind=openai\nupstream a https://y kind=openai\n"), 0);
    cr_assert(strstr(err, "defined twice"), "%s", err);
    cr_assert_neq(parse("upstream mine http://127.0.0.1:1\n"), 0);
    cr_assert(strstr(err, "test.conf:1: upstream mine: kind=openai or kind=anthropic is "
                          "required"),
              "%s", err);
    cr_assert_neq(parse("upstream openai http://127.0.0.1:1 kind=gemini\n"), 0);
    cr_assert(strstr(err, "kind: expected openai or anthropic"), "%s", err);
    cr_assert_neq(parse("upstream openai http://127.0.0.1:1 key_file=rel\n"), 0);
    cr_assert(strstr(err, "key_file: expected an absolute path"), "%s", err);
    cr_assert_neq(parse("upstream openai https://127.0.0.1:1 ca_file=ca.pem\n"), 0);
    cr_assert(strstr(err, "ca_file: expected an absolute path"), "%s", err);
    cr_assert_neq(parse("upstream openai https://127.0.0.1:1 ca_file=/nonexistent/ca.pem\n"), 0);
    cr_assert(strstr(err, "ca_file /nonexistent/ca.pem cannot be read"), "%s", err);
    cr_assert_eq(parse("upstream openai https://127.0.0.1:1 ca_file=/dev/null\n"), 0, "%s", err);
    cr_assert_neq(parse("upstream openai http://127.0.0.1:1 key_env=A-B\n"), 0);
    cr_assert(strstr(err, "key_env: expected the name"), "%s", err);
    cr_assert_neq(parse("upstream openai http://127.0.0.1:1 key_env=A key_file=/k\n"), 0);
    cr_assert(strstr(err, "not both"), "%s", err);
    cr_assert_neq(parse("upstream openai http://127.0.0.1:1 models=a,,b\n"), 0);
    cr_assert(strstr(err, "models: expected GLOB,GLOB"), "%s", err);
    cr_assert_neq(parse("upstream openai http://127.0.0.1:1 key=sk-x\n"), 0);
    cr_assert(strstr(err, "unknown option key=sk-x"), "%s", err);
    cr_assert_neq(parse("upstream_connect_timeout_ms 0\n"), 0);
    cr_assert(strstr(err, "test.conf:1: upstream_connect_timeout_ms: expected a whole number"),
              "%s", err);
    cr_assert_neq(parse("proxy_max_body 10\n"), 0);
    cr_assert_neq(parse("signing_key /a\x01b\n"), 0);
    cr_assert(strstr(err, "control character"), "%s", err);
}

Test(config, hostile_files)
{
    config_defaults(&c);
    cr_assert_neq(config_parse(&c, "threads 4\0x\n", 12, "nul.conf", err, sizeof err), 0);
    cr_assert(strstr(err, "NUL"), "%s", err);

    size_t n = CONFIG_MAX_BYTES + 1;
    char *big = malloc(n + 1);
    memset(big, '#', n);
    big[n] = '\0';
    cr_assert_neq(parse(big), 0);
    cr_assert(strstr(err, "the limit is"), "%s", err);

    /* one line over the limit, inside a small file */
    memset(big, 'a', 2000);
    big[2000] = '\0';
    cr_assert_neq(parse(big), 0);
    cr_assert(strstr(err, "test.conf:1: line is longer"), "%s", err);
    free(big);

    char path[1100];
    memset(path, 'a', sizeof path);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    char line[1200];
    snprintf(line, sizeof line, "signing_key %.900s\n", path);
    cr_assert_eq(parse(line), 0, "%s", err);

    /* a missing file, a directory */
    config_defaults(&c);
    cr_assert_eq(config_load_file(&c, "/nonexistent/cordond.conf", err, sizeof err), -ENOENT);
    cr_assert(strstr(err, "/nonexistent/cordond.conf"), "%s", err);
    cr_assert_neq(config_load_file(&c, "/", err, sizeof err), 0);
    cr_assert(strstr(err, "not a regular file"), "%s", err);
}

Test(config, flags_override_the_file)
{
    cr_assert_eq(parse("listen 127.0.0.1:1\nlisten 127.0.0.1:2\nthreads 2\n"
                       "policies_dir /p\nsigning_key /k\n"),
                 0, "%s", err);
    cr_assert_eq(config_set_flag(&c, "threads", "9", err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.threads, 9);
    cr_assert_eq(config_set_flag(&c, "listen", "127.0.0.1:0", err, sizeof err), 0);
    cr_assert_eq(c.n_listen, 1, "flags replace the file's list");
    cr_assert_eq(config_set_flag(&c, "listen", "unix:/tmp/x.sock", err, sizeof err), 0);
    cr_assert_eq(c.n_listen, 2, "several flags add up");
    cr_assert_neq(config_set_flag(&c, "threads", "x", err, sizeof err), 0);
    cr_assert(strstr(err, "flag --threads: threads: expected"), "%s", err);
    cr_assert_neq(config_set_flag(&c, "nope", "x", err, sizeof err), 0);
}

Test(config, finish_checks_the_combination)
{
    cr_assert_eq(parse("signing_key /k\n"), 0);
    cr_assert_neq(config_finish(&c, err, sizeof err), 0);
    cr_assert(strstr(err, "no policies"), "%s", err);
    cr_assert_eq(parse("policies_dir /p\npolicy_file /f.json\nsigning_key /k\n"), 0);
    cr_assert_neq(config_finish(&c, err, sizeof err), 0);
    cr_assert_eq(parse("policies_dir /p\n"), 0);
    cr_assert_neq(config_finish(&c, err, sizeof err), 0);
    cr_assert(strstr(err, "cordon keygen"), "%s", err);
    cr_assert_eq(parse("policies_dir /p\nsigning_key /k\nagent_key_file /a\n"), 0);
    cr_assert_neq(config_finish(&c, err, sizeof err), 0, "a key file needs single-policy mode");
    char line[400];
    snprintf(line, sizeof line, "policy_file /f\nsigning_key /k\nstate_dir /%0150d\n", 0);
    cr_assert_eq(parse(line), 0);
    cr_assert_neq(config_finish(&c, err, sizeof err), 0, "events socket path too long");
    cr_assert(strstr(err, "unix socket"), "%s", err);
    /* tunnels per agent: unless set, half of max_tunnels with a policies directory and all
     * of it with one policy file (one agent); never above it */
    cr_assert_eq(parse("policies_dir /p\nsigning_key /k\nmax_tunnels 10\n"), 0);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.max_tunnels_per_agent, 5);
    cr_assert_eq(parse("policies_dir /p\nsigning_key /k\nmax_tunnels 1\n"), 0);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.max_tunnels_per_agent, 1);
    cr_assert_eq(parse("policy_file /f\nsigning_key /k\nmax_tunnels 10\n"), 0);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.max_tunnels_per_agent, 10);
    cr_assert_eq(
        parse("policy_file /f\nsigning_key /k\nmax_tunnels 10\nmax_tunnels_per_agent 10\n"), 0);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(
        parse("policy_file /f\nsigning_key /k\nmax_tunnels 10\nmax_tunnels_per_agent 11\n"), 0);
    cr_assert_neq(config_finish(&c, err, sizeof err), 0);
    cr_assert(strstr(err, "max_tunnels_per_agent (11) is above max_tunnels (10)"), "%s", err);
    cr_assert_neq(parse("max_tunnels_per_agent 0\n"), 0, "0 is not a limit");
}

Test(config, admin_listen)
{
    cr_assert_eq(parse("policies_dir /p\nsigning_key /k\n"), 0);
    cr_assert_str_eq(c.admin_listen, "unix:/run/cordond/admin.sock", "the default is a socket");
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(parse("admin_listen 127.0.0.1:7073\n"), 0, "%s", err);
    cr_assert_str_eq(c.admin_listen, "127.0.0.1:7073");
    cr_assert_eq(parse("admin_listen [::1]:0\n"), 0, "%s", err);
    const char *bad[] = {"admin_listen unix:relative\n",
                         "admin_listen unix:\n",
                         "admin_listen localhost:7073\n",
                         "admin_listen 127.0.0.1\n",
                         "admin_listen 127.0.0.1:99999\n",
                         "admin_listen /run/cordond/admin.sock\n",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        cr_assert_neq(parse(bad[i]), 0, "%s", bad[i]);
        cr_assert(strstr(err, "test.conf:1: admin_listen: expected unix:/ABSOLUTE/PATH"), "%s",
                  err);
    }
    char longpath[300];
    snprintf(longpath, sizeof longpath, "admin_listen unix:/%0200d\n", 0);
    cr_assert_neq(parse(longpath), 0, "longer than a unix socket path");
    cr_assert_neq(parse("admin_listen unix:/a\nadmin_listen unix:/b\n"), 0);
    cr_assert(strstr(err, "set twice"), "%s", err);
    /* it cannot share a listener with the agents */
    cr_assert_eq(parse("policies_dir /p\nsigning_key /k\nlisten 127.0.0.1:7071\n"
                       "admin_listen 127.0.0.1:7071\n"),
                 0);
    cr_assert_neq(config_finish(&c, err, sizeof err), 0);
    cr_assert(strstr(err, "also a listen address"), "%s", err);
    cr_assert_eq(parse("policies_dir /p\nsigning_key /k\nlisten unix:/run/c.sock\n"
                       "admin_listen unix:/run/c.sock\n"),
                 0);
    cr_assert_neq(config_finish(&c, err, sizeof err), 0);
    cr_assert_eq(parse("policies_dir /p\nsigning_key /k\ntunnel_listen 127.0.0.1:7072\n"
                       "admin_listen 127.0.0.1:7072\n"),
                 0);
    cr_assert_neq(config_finish(&c, err, sizeof err), 0);
    cr_assert(strstr(err, "tunnel_listen"), "%s", err);
    /* port 0 twice is two ports */
    cr_assert_eq(parse("policies_dir /p\nsigning_key /k\nlisten 127.0.0.1:0\n"
                       "admin_listen 127.0.0.1:0\n"),
                 0);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_set_flag(&c, "admin_listen", "unix:/tmp/a.sock", err, sizeof err), 0);
    cr_assert_neq(config_set_flag(&c, "admin_listen", "nope", err, sizeof err), 0);
    cr_assert(strstr(err, "flag --admin-listen"), "%s", err);
}

static int has_path(char (*v)[PATH_MAX], int n, const char *p)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v[i], p) == 0)
            return 1;
    return 0;
}

Test(config, secret_paths_are_every_configured_secret)
{
    static char out[CONFIG_MAX_SECRETS][PATH_MAX];
    cr_assert_eq(parse("policies_dir /etc/cd/policies\nsigning_key /etc/cd/policy.key\n"
                       "audit_key /etc/cd/audit.key\nadmin_token_file /etc/cd/admin.token\n"
                       "state_dir /srv/cd-state//\naudit_dir /srv/audit\n"
                       "admin_listen unix:/run/cd/admin.sock\n"),
                 0, "%s", err);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    int n = config_secret_paths(&c, out, CONFIG_MAX_SECRETS, err, sizeof err);
    cr_assert_geq(n, 8, "%s", err);
    const char *want[] = {
        "/etc/cd/policies", "/etc/cd/policy.key", "/etc/cd/audit.key",    "/etc/cd/admin.token",
        "/srv/cd-state",    "/srv/audit",         "/srv/cd-state/agents", "/run/cd"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(has_path(out, n, want[i]), "%s is not among the secrets", want[i]);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(out[i], out[j], "listed twice");
    /* no admin token: the admin socket is not made, its directory is not a secret */
    cr_assert_eq(parse("policy_file /srv/p.json\nsigning_key /srv/k.key\n"
                       "agent_key_file /srv/agent.key\nadmin_listen unix:/run/cd/admin.sock\n"),
                 0);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    n = config_secret_paths(&c, out, CONFIG_MAX_SECRETS, err, sizeof err);
    cr_assert(has_path(out, n, "/srv/p.json") && has_path(out, n, "/srv/agent.key"));
    cr_assert(has_path(out, n, "/var/lib/cordond"), "the default state dir");
    cr_assert(!has_path(out, n, "/run/cd"));
    /* a secret at / would deny everything: refused */
    cr_assert_eq(parse("policies_dir /p\nsigning_key /k\nstate_dir /\n"), 0);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_secret_paths(&c, out, CONFIG_MAX_SECRETS, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "state_dir: / cannot hold cordond's secrets"), "%s", err);
    /* too little room is an error, not a silent drop */
    cr_assert_eq(parse("policies_dir /p\nsigning_key /k\n"), 0);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_secret_paths(&c, out, 2, err, sizeof err), -EINVAL);
}

Test(config, secret_paths_resolve_symlinks_and_keep_the_name)
{
    static char out[CONFIG_MAX_SECRETS][PATH_MAX];
    char dir[] = "/tmp/cordon-cfg-XXXXXX", real[PATH_MAX], link[PATH_MAX + 8], text[3 * PATH_MAX];
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_not_null(realpath(dir, real));
    snprintf(link, sizeof link, "%s/l", real);
    cr_assert_eq(symlink(real, link), 0);
    snprintf(text, sizeof text, "policies_dir /p\nsigning_key %s/k.key\n", link);
    cr_assert_eq(parse(text), 0, "%s", err);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    int n = config_secret_paths(&c, out, CONFIG_MAX_SECRETS, err, sizeof err);
    char want[PATH_MAX + 16];
    snprintf(want, sizeof want, "%s/k.key", real);
    cr_assert(has_path(out, n, want), "the resolved key path");
    snprintf(want, sizeof want, "%s/k.key", link);
    cr_assert(has_path(out, n, want), "the key path as configured");
    unlink(link);
    rmdir(real);
}

Test(config, parse_addr)
{
    struct sockaddr_storage sa;
    socklen_t sl;
    cr_assert_eq(config_parse_addr("127.0.0.1:0", &sa, &sl), 0);
    cr_assert_eq(sa.ss_family, AF_INET);
    cr_assert_eq(config_parse_addr("[::1]:443", &sa, &sl), 0);
    cr_assert_eq(ntohs(((struct sockaddr_in6 *)&sa)->sin6_port), 443);
    cr_assert_eq(config_parse_addr("unix:/run/x", &sa, &sl), 0);
    cr_assert_str_eq(((struct sockaddr_un *)&sa)->sun_path, "/run/x");
    const char *bad[] = {"",      ":80",    "1.2.3.4", "1.2.3.4:+80",  "1.2.3.4:080000", "[::1:80",
                         "[]:80", "::1:80", "host:80", "256.1.1.1:80", "unix:",          NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_neq(config_parse_addr(bad[i], &sa, &sl), 0, "%s", bad[i]);
}

Test(config, audit_on_failure_defaults_to_refuse)
{
    config_defaults(&c);
    cr_assert_str_eq(c.audit_on_failure, "refuse");
    cr_assert_eq(config_set_flag(&c, "audit_on_failure", "exit", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(c.audit_on_failure, "exit");
}

Test(config, upstream_options_and_timeouts)
{
    config_defaults(&c);
    cr_assert_eq(parse("upstream anthropic http://127.0.0.1:8402 key_file=/etc/cordon/ak\n"
                       "upstream oa https://127.0.0.1:8403/v1 kind=openai key_env=OA_KEY "
                       "models=gpt-*\n"
                       "upstream_connect_timeout_ms 250\n"
                       "upstream_first_byte_timeout_ms 1000\n"
                       "upstream_idle_timeout_ms 2000\n"
                       "proxy_max_body 65536\n"),
                 0, "%s", err);
    cr_assert_eq(c.n_upstreams, 2);
    cr_assert_eq(c.upstreams[0].kind, CONFIG_UPSTREAM_KIND_ANTHROPIC);
    cr_assert_str_eq(c.upstreams[0].key_file, "/etc/cordon/ak");
    cr_assert_str_eq(c.upstreams[1].url, "https://127.0.0.1:8403/v1");
    cr_assert_str_eq(c.upstreams[1].key_env, "OA_KEY");
    cr_assert_str_eq(c.upstreams[1].models, "gpt-*");
    cr_assert_eq(c.upstream_connect_timeout_ms, 250);
    cr_assert_eq(c.upstream_first_byte_timeout_ms, 1000);
    cr_assert_eq(c.upstream_idle_timeout_ms, 2000);
    cr_assert_eq(c.proxy_max_body, 65536);
    cr_assert_eq(
        config_set_flag(&c, "upstream", "openai http://127.0.0.1:9/v1 key_env=K", err, sizeof err),
        0, "%s", err);
    cr_assert_eq(c.n_upstreams, 1);
    cr_assert_str_eq(c.upstreams[0].key_env, "K");
}

Test(config, data_key_file_defaults_in_the_state_dir_and_is_made_once)
{
    char dir[] = "/tmp/cordon-datakey-XXXXXX", text[512], path[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(text, sizeof text, "policies_dir /p\nsigning_key /k\nstate_dir %s\n", dir);
    cr_assert_eq(parse(text), 0, "%s", err);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/data.key", dir);
    cr_assert_str_eq(c.data_key_file, path);
    /* the data key is one of the secrets no policy may read */
    static char out[CONFIG_MAX_SECRETS][PATH_MAX];
    int n = config_secret_paths(&c, out, CONFIG_MAX_SECRETS, err, sizeof err);
    cr_assert_gt(n, 0, "%s", err);
    /* created on first load, 0600, 32 bytes; the same key on the next load */
    unsigned char k1[32], k2[32];
    cr_assert_eq(config_data_key_load(&c, k1, err, sizeof err), 0, "%s", err);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(st.st_size, 32);
    cr_assert_eq(config_data_key_load(&c, k2, err, sizeof err), 0, "%s", err);
    cr_assert(memcmp(k1, k2, 32) == 0);
    /* a loose mode is refused with the fix */
    cr_assert_eq(chmod(path, 0640), 0);
    cr_assert_lt(config_data_key_load(&c, k2, err, sizeof err), 0);
    cr_assert(strstr(err, "chmod 600"), "%s", err);
    unlink(path);
    /* a configured path that is missing is an error, not a new key */
    snprintf(text, sizeof text,
             "policies_dir /p\nsigning_key /k\nstate_dir %s\ndata_key_file %s/elsewhere.key\n", dir,
             dir);
    cr_assert_eq(parse(text), 0, "%s", err);
    cr_assert_eq(config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(config_data_key_load(&c, k2, err, sizeof err), -ENOENT);
    cr_assert(strstr(err, "elsewhere.key"), "%s", err);
    rmdir(dir);
}
