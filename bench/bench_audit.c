/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the audit log costs cordond: append throughput with fdatasync batched and with
 * fdatasync after every record, and the speed of `cordon audit verify`. Each figure is printed
 * beside a baseline measured in the same run on the same bytes: write() of the same lines with
 * fdatasync at the same points, and `sha256sum` of the same file (with, for scale, the
 * in-process SHA-256 the log uses). Medians of ROUNDS rounds;
 * the machine is shared and noisy, so ratios say more than the absolute numbers.
 *
 * usage: bench_audit [DIR]   (default: a new directory under /var/tmp, removed afterwards)
 */
#include <fcntl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy/audit/audit.h"
#include "policy/audit/audit_read.h"
#include "policy/sign/key.h"

#define ROUNDS 5
#define BATCH_RECORDS 200000
#define ALWAYS_RECORDS 400
#define MODEL_CALL_RECORDS 50000

extern char **environ;

static char base[256], keyprefix[300], keypath[320], pubpath[320], logdir[300], logpath[320];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

static void fields_for(int i, char *out, size_t len)
{
    unsigned char h[32];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)&i, sizeof i);
    sodium_bin2hex(hex, sizeof hex, h, 32);
    snprintf(out, len,
             "{\"decision\":\"allow\",\"model\":\"gpt-4o-mini\",\"request\":%d,"
             "\"prompt_sha256\":\"%s\"}",
             i, hex);
}

/* A record the size and shape of cordond's model.call (engine_call_audit_json): every stage
 * with its three hooks, two digests, a tool call, tokens and latency; about 1.4 KB. */
static void fields_model_call(int i, char *out, size_t len)
{
    static const char *const stages[] = {"quarantine", "models",   "schedule", "tools", "data",
                                         "budget",     "upstream", "usage",    "audit"};
    unsigned char h[32];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)&i, sizeof i);
    sodium_bin2hex(hex, sizeof hex, h, 32);
    size_t n = (size_t)snprintf(out, len,
                                "{\"type\":\"model_call\",\"session\":\"s-4f1c\",\"model\":"
                                "\"gpt-4o-mini\",\"endpoint\":\"/v1/chat/completions\",\"mode\":"
                                "\"enforce\",\"policy_version\":3,\"stream\":false,\"stages\":[");
    for (size_t k = 0; k < sizeof stages / sizeof stages[0]; k++)
        n += (size_t)snprintf(out + n, len - n,
                              "%s{\"stage\":\"%s\",\"request\":{\"decision\":\"allow\"},"
                              "\"response\":{\"decision\":\"allow\",\"events\":1},\"final\":"
                              "{\"decision\":\"allow\"}}",
                              k ? "," : "", stages[k]);
    snprintf(out + n, len - n,
             "],\"tools\":{\"allowed\":1,\"allowed_calls\":[{\"name\":\"crm_get\","
             "\"arguments_sha256\":\"%s\"}],\"removed\":[]},\"prompt_sha256\":\"%s\","
             "\"response_sha256\":\"%s\",\"tokens\":{\"input\":812,\"output\":%d},"
             "\"latency_ms\":%d}",
             hex, hex, hex, i % 1000, i % 431);
}

static void clear_log(void)
{
    char p[400];
    unlink(logpath);
    snprintf(p, sizeof p, "%s/checkpoint", logdir);
    unlink(p);
}

/* records/s through audit_append (no waiting) until audit_close returns (all synced), with
 * the given fields and append flags. */
static double run_log_with(enum audit_fsync mode, int n, void (*fill)(int, char *, size_t),
                           unsigned flags)
{
    clear_log();
    struct audit_config c = {
        .dir = logdir, .key_path = keypath, .origin = "bench.cordon/audit", .fsync = mode};
    struct audit_log *l = NULL;
    char err[512], f[4096];
    if (audit_open(&c, &l, err, sizeof err) != AUDIT_OK) {
        fprintf(stderr, "bench_audit: %s\n", err);
        exit(2);
    }
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        fill(i, f, sizeof f);
        if (audit_append(l, "api.request", "bench-agent", f, flags, NULL) != AUDIT_OK) {
            fprintf(stderr, "bench_audit: append failed\n");
            exit(2);
        }
    }
    if (audit_close(l) != AUDIT_OK)
        exit(2);
    return n / (now_s() - t0);
}

static double run_log(enum audit_fsync mode, int n)
{
    return run_log_with(mode, n, fields_for, 0);
}

/* records/s writing the log's own lines with write() and fdatasync every sync_every lines. */
static double run_raw(int n, int sync_every)
{
    size_t len;
    struct stat st;
    int in = open(logpath, O_RDONLY);
    if (in < 0 || fstat(in, &st) != 0)
        exit(2);
    len = (size_t)st.st_size;
    char *src = mmap(NULL, len, PROT_READ, MAP_PRIVATE, in, 0);
    close(in);
    char raw[400];
    snprintf(raw, sizeof raw, "%s/raw.jsonl", base);
    unlink(raw);
    int fd = open(raw, O_WRONLY | O_CREAT | O_APPEND, 0600);
    double t0 = now_s();
    const char *p = src;
    for (int i = 0; i < n && p < src + len; i++) {
        const char *nl = memchr(p, '\n', (size_t)(src + len - p));
        if (write(fd, p, (size_t)(nl + 1 - p)) < 0)
            exit(2);
        if ((i + 1) % sync_every == 0)
            fdatasync(fd);
        p = nl + 1;
    }
    fdatasync(fd);
    double r = n / (now_s() - t0);
    close(fd);
    munmap(src, len);
    unlink(raw);
    return r;
}

static double file_mb(void)
{
    struct stat st;
    return stat(logpath, &st) == 0 ? (double)st.st_size / 1e6 : 0;
}

static double run_verify(const struct key_trust *t)
{
    struct audit_read_opts o = {.check_signatures = 1, .trust = t->keys, .ntrust = t->n};
    static struct audit_read_report r;
    double t0 = now_s();
    if (audit_read_file(logpath, &o, &r) != 0 || r.status != AUDIT_READ_VALID) {
        fprintf(stderr, "bench_audit: the log does not verify: %s\n", r.problem);
        exit(2);
    }
    return file_mb() / (now_s() - t0);
}

/* MB/s of `sha256sum FILE`, the baseline the figure is named against (wall time of the
 * whole command, as `cordon audit verify` is timed in-process without its start). */
static double run_sha256sum(void)
{
    pid_t pid;
    char *argv[] = {"sha256sum", logpath, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    double t0 = now_s();
    int st;
    if (posix_spawnp(&pid, "sha256sum", &fa, NULL, argv, environ) != 0 ||
        waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_audit: sha256sum %s failed\n", logpath);
        exit(2);
    }
    double r = file_mb() / (now_s() - t0);
    posix_spawn_file_actions_destroy(&fa);
    return r;
}

/* MB/s of OpenSSL's SHA-256, the one the log uses (policy/audit/sha256.h), in process. */
static double run_sha_inproc(void)
{
    int fd = open(logpath, O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    double t0 = now_s();
    unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    unsigned char h[32];
    EVP_Digest(m, (size_t)st.st_size, h, NULL, EVP_sha256(), NULL);
    munmap(m, (size_t)st.st_size);
    close(fd);
    return file_mb() / (now_s() - t0);
}

static void row(const char *what, double v[ROUNDS], const char *base_what, double b[ROUNDS],
                const char *unit)
{
    double mv = median(v, ROUNDS), mb = median(b, ROUNDS);
    printf("%-34s %12.0f %-6s | baseline %-38s %12.0f %-6s | ratio %.2f\n", what, mv, unit,
           base_what, mb, unit, mv / mb);
}

int main(int argc, char **argv)
{
    double a[ROUNDS], b[ROUNDS];
    char err[512];
    if (sodium_init() < 0)
        return 2;
    if (argc > 1)
        snprintf(base, sizeof base, "%s", argv[1]);
    else
        snprintf(base, sizeof base, "/var/tmp/cordon-bench-audit-XXXXXX");
    if (argc <= 1 && !mkdtemp(base))
        return 2;
    snprintf(keyprefix, sizeof keyprefix, "%s/bench", base);
    snprintf(keypath, sizeof keypath, "%s.key", keyprefix);
    snprintf(pubpath, sizeof pubpath, "%s.pub", keyprefix);
    snprintf(logdir, sizeof logdir, "%s/log", base);
    snprintf(logpath, sizeof logpath, "%s/audit.jsonl", logdir);
    unlink(keypath);
    unlink(pubpath);
    if (key_generate(keyprefix, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "bench_audit: %s\n", err);
        return 2;
    }
    struct key_trust t;
    if (key_trust_load(pubpath, &t, err, sizeof err) != 0)
        return 2;
    printf("bench_audit: medians of %d rounds, files in %s\n", ROUNDS, base);

    for (int r = 0; r < ROUNDS; r++) {
        a[r] = run_log(AUDIT_FSYNC_BATCH, BATCH_RECORDS);
        b[r] = run_raw(BATCH_RECORDS, 256);
    }
    row("append, fsync=batch (records/s)", a, "write()/line, fdatasync/256 lines", b, "rec/s");

    /* model.call-sized records, parsed by the caller (as before AUDIT_TRUSTED) and not */
    double c[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        c[r] = run_log_with(AUDIT_FSYNC_BATCH, MODEL_CALL_RECORDS, fields_model_call, 0);
        a[r] =
            run_log_with(AUDIT_FSYNC_BATCH, MODEL_CALL_RECORDS, fields_model_call, AUDIT_TRUSTED);
        b[r] = run_raw(MODEL_CALL_RECORDS, 256);
    }
    row("append model.call, fsync=batch", c, "write()/line, fdatasync/256 lines", b, "rec/s");
    row("append model.call, AUDIT_TRUSTED", a, "write()/line, fdatasync/256 lines", b, "rec/s");

    for (int r = 0; r < ROUNDS; r++) {
        a[r] = run_verify(&t);
        b[r] = run_sha256sum();
        c[r] = run_sha_inproc();
    }
    char what[64];
    snprintf(what, sizeof what, "verify %.0f MB (MB/s)", file_mb());
    row(what, a, "sha256sum of the same file", b, "MB/s");
    row(what, a, "OpenSSL SHA-256 of it, in process", c, "MB/s");

    for (int r = 0; r < ROUNDS; r++) {
        a[r] = run_log(AUDIT_FSYNC_ALWAYS, ALWAYS_RECORDS);
        b[r] = run_raw(ALWAYS_RECORDS, 1);
    }
    row("append, fsync=always (records/s)", a, "write()+fdatasync per line", b, "rec/s");

    clear_log();
    unlink(keypath);
    unlink(pubpath);
    rmdir(logdir);
    if (argc <= 1)
        rmdir(base);
    return 0;
}
