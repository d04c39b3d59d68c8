/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stub_upstream: the one stand-in that cordon's tests allow, a scripted OpenAI- and
 * Anthropic-compatible model API server on loopback. This file is its command line: it
 * reads the options, binds, writes the chosen port to --ready-file, runs the workers and
 * shuts down cleanly on SIGTERM or SIGINT. tests/support/README.md documents the options,
 * scenarios, markers and control API.
 */
#include "tests/support/stub.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: stub_upstream [options]\n"
    "  A scripted OpenAI / Anthropic compatible HTTP/1.1 server on loopback, for tests.\n"
    "  --listen ADDR:PORT      loopback address to listen on (default 127.0.0.1:0: any port)\n"
    "  --ready-file FILE       once listening, write \"port=N\" to FILE\n"
    "  --threads N             worker threads (default 2)\n"
    "  --log FILE              one JSON line per model API request\n"
    "  --keep N                requests kept for GET /__stub/requests (default 10000)\n"
    "  --log-body-max BYTES    bodies up to this are logged whole (default 1048576)\n"
    "  --openai-key KEY        require \"Authorization: Bearer KEY\" on OpenAI paths\n"
    "  --anthropic-key KEY     require \"x-api-key: KEY\" on Anthropic paths\n"
    "  --scenario SPEC         the default scenario, e.g. \"text\" or \"echo size=4\"\n"
    "                          (default text)\n"
    "  --models LIST           model ids for GET /v1/models, comma-separated\n"
    "  --request-timeout MS    a request must arrive whole within this (default 30000)\n"
    "  --idle-timeout MS       close idle or stalled connections after this (default 60000)\n"
    "  --max-conns N           open connections at most (default 4096)\n"
    "  --quiet                 print nothing but errors\n"
    "Scenarios (see tests/support/README.md for their parameters):\n";

static void usage(FILE *f)
{
    fputs(usage_text, f);
    for (int i = 0; scen_name(i); i++)
        fprintf(f, "  %-21s %s\n", scen_name(i), scen_summary(i));
    fprintf(f, "  every scenario also takes: %s\n", scen_common_keys);
}

static int num_arg(const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    if (stub_parse_int(v, strlen(v), lo, hi, out) != 0) {
        fprintf(stderr, "stub_upstream: %s takes a number from %lld to %lld, got \"%s\"\n", opt, lo,
                hi, v);
        return -1;
    }
    return 0;
}

static int write_ready(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    fprintf(f, "port=%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return -errno;
    return 0;
}

/* Split --models into the list the model endpoints serve (kept for the process's life). */
static int set_models(char *list)
{
    static const char *ids[256];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n >= 256)
            return -1;
        ids[n++] = t;
    }
    stub_model_ids = ids;
    stub_model_count = n;
    return 0;
}

int main(int argc, char **argv)
{
    struct stub_config cfg = {
        .host = "127.0.0.1",
        .threads = 2,
        .scenario = "text",
        .request_timeout_ms = 30000,
        .idle_timeout_ms = 60000,
        .max_conns = 4096,
    };
    const char *ready = NULL, *log = NULL, *why = NULL;
    long long keep = 10000, body_max = 1 << 20, v;
    static char listen_buf[256];
    static char models_buf[4096] =
        "gpt-4o-mini,gpt-4o,text-embedding-3-small,claude-sonnet-4-5,claude-haiku-4-5";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--quiet") == 0) {
            cfg.quiet = 1;
            continue;
        }
        if (!val || strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "stub_upstream: unknown option or missing value: %s (see --help)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--listen") == 0) {
            const char *colon = strrchr(val, ':');
            if (!colon || (size_t)(colon - val) >= sizeof listen_buf ||
                num_arg("--listen port", colon + 1, 0, 65535, &v))
                return 2;
            memcpy(listen_buf, val, (size_t)(colon - val));
            listen_buf[colon - val] = '\0';
            cfg.host = listen_buf;
            cfg.port = (int)v;
        } else if (strcmp(a, "--ready-file") == 0) {
            ready = val;
        } else if (strcmp(a, "--threads") == 0) {
            if (num_arg(a, val, 1, 64, &v))
                return 2;
            cfg.threads = (int)v;
        } else if (strcmp(a, "--log") == 0) {
            log = val;
        } else if (strcmp(a, "--keep") == 0) {
            if (num_arg(a, val, 1, 10000000, &keep))
                return 2;
        } else if (strcmp(a, "--log-body-max") == 0) {
            if (num_arg(a, val, 0, STUB_MAX_BODY, &body_max))
                return 2;
        } else if (strcmp(a, "--openai-key") == 0) {
            cfg.openai_key = val;
        } else if (strcmp(a, "--anthropic-key") == 0) {
            cfg.anthropic_key = val;
        } else if (strcmp(a, "--scenario") == 0) {
            cfg.scenario = val;
        } else if (strcmp(a, "--models") == 0) {
            if (strlen(val) >= sizeof models_buf) {
                fprintf(stderr, "stub_upstream: --models is longer than 4095 bytes\n");
                return 2;
            }
            memcpy(models_buf, val, strlen(val) + 1);
        } else if (strcmp(a, "--request-timeout") == 0) {
            if (num_arg(a, val, 1, 3600000, &v))
                return 2;
            cfg.request_timeout_ms = (int)v;
        } else if (strcmp(a, "--idle-timeout") == 0) {
            if (num_arg(a, val, 1, 3600000, &v))
                return 2;
            cfg.idle_timeout_ms = (int)v;
        } else if (strcmp(a, "--max-conns") == 0) {
            if (num_arg(a, val, 1, 1000000, &v))
                return 2;
            cfg.max_conns = (int)v;
        } else {
            fprintf(stderr, "stub_upstream: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "stub_upstream: libsodium failed to initialise\n");
        return 1;
    }
    if (set_models(models_buf) != 0) {
        fprintf(stderr, "stub_upstream: --models lists more than 256 ids\n");
        return 2;
    }
    char whybuf[600];
    if (ctl_check_spec(cfg.scenario, strlen(cfg.scenario), whybuf, sizeof whybuf, &why) != 0) {
        fprintf(stderr, "stub_upstream: --scenario: %s\n", why);
        return 2;
    }
    int rc = ctl_init(log, (size_t)keep, (size_t)body_max, &why);
    if (rc != 0) {
        fprintf(stderr, "stub_upstream: %s: %s\n", why, strerror(-rc));
        return 1;
    }
    /* the workers inherit this mask; SIGTERM and SIGINT are taken by sigwait() below */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int port;
    rc = srv_start(&cfg, &port, &why);
    if (rc != 0) {
        fprintf(stderr, "stub_upstream: %s: %s\n", why, strerror(-rc));
        return 1;
    }
    rc = srv_run();
    if (rc != 0) {
        fprintf(stderr, "stub_upstream: cannot start the worker threads: %s\n", strerror(-rc));
        return 1;
    }
    if (ready && (rc = write_ready(ready, port)) != 0) {
        fprintf(stderr, "stub_upstream: cannot write --ready-file %s: %s\n", ready, strerror(-rc));
        srv_stop();
        return 1;
    }
    if (!cfg.quiet)
        fprintf(stderr, "stub_upstream: listening on %s:%d with %d threads, scenario %s\n",
                cfg.host, port, cfg.threads, cfg.scenario);
    int sig = 0;
    sigwait(&set, &sig);
    srv_stop();
    ctl_fini();
    if (!cfg.quiet)
        fprintf(stderr, "stub_upstream: stopped by signal %d\n", sig);
    return 0;
}
