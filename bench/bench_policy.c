/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every governed process pays before main(): parse + validate + compile of its policy,
 * and verification of the signed envelope. Each figure is printed beside a baseline measured
 * in the same run on the same bytes: bare cJSON parsing for the policy, and one bare Ed25519
 * verification for the envelope. Medians of ROUNDS rounds; the machine is shared and noisy.
 *
 * usage: bench_policy [POLICY.json]   (default: examples/policies/claims-agent.json)
 */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/sign/dsse.h"
#include "policy/sign/envelope.h"
#include "policy/sign/key.h"
#include "policy/policy.h"

#define ROUNDS 21

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char *doc;
static size_t doclen;
static const char *env_json;
static size_t env_len;
static struct key_trust trust;
static struct policy_env penv;
static unsigned char *pae, sig[64], pk[32];
static size_t pae_len;

static void op_cjson(void)
{
    cJSON_Delete(cJSON_ParseWithLength(doc, doclen));
}

static void op_policy(void)
{
    struct policy *p = NULL;
    struct diag d;
    diag_init(&d);
    if (policy_load(doc, doclen, &penv, &p, &d) != 0)
        abort();
    policy_free(p);
}

static void op_policy_nofs(void)
{
    struct policy_env e = penv;
    struct policy *p = NULL;
    struct diag d;
    e.resolve_symlinks = 0;
    diag_init(&d);
    if (policy_load(doc, doclen, &e, &p, &d) != 0)
        abort();
    policy_free(p);
}

static void op_ed25519(void)
{
    if (crypto_sign_verify_detached(sig, pae, pae_len, pk) != 0)
        abort();
}

static void op_envelope(void)
{
    char *payload = NULL, err[256];
    size_t plen;
    struct envelope_stamp st;
    if (envelope_verify(env_json, env_len, &trust, time(NULL), &payload, &plen, &st, NULL, err,
                        sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    free(payload);
}

static double median_us(void (*op)(void), int iters)
{
    double r[ROUNDS];
    for (int i = 0; i < iters / 10; i++) /* warm caches */
        op();
    for (int k = 0; k < ROUNDS; k++) {
        double t0 = now_us();
        for (int i = 0; i < iters; i++)
            op();
        r[k] = (now_us() - t0) / iters;
    }
    qsort(r, ROUNDS, sizeof r[0], cmp);
    return r[ROUNDS / 2];
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(b);
        return NULL;
    }
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "examples/policies/claims-agent.json";
    static struct policy_env_storage st;
    char dir[] = "/tmp/cordon-bench-XXXXXX", prefix[64], file[80], err[512];
    struct key_secret *k = NULL;
    char *env = NULL;

    if (sodium_init() < 0 || !(doc = slurp(path, &doclen))) {
        fprintf(stderr,
                "bench_policy: cannot read %s (run from the source tree or name a "
                "policy)\n",
                path);
        return 2;
    }
    if (policy_env_from_process(&penv, &st, NULL) != 0 || !mkdtemp(dir))
        return 2;
    snprintf(prefix, sizeof prefix, "%s/k", dir);
    snprintf(file, sizeof file, "%s.key", prefix);
    struct envelope_stamp stamp = {1, time(NULL), time(NULL) + 3600};
    if (key_generate(prefix, NULL, err, sizeof err) != 0 ||
        key_secret_load(file, &k, err, sizeof err) != 0 ||
        envelope_sign(doc, doclen, &stamp, k, &env, err, sizeof err) != 0) {
        fprintf(stderr, "bench_policy: %s\n", err);
        return 2;
    }
    snprintf(file, sizeof file, "%s.pub", prefix);
    if (key_trust_load(file, &trust, err, sizeof err) != 0)
        return 2;
    env_json = env;
    env_len = strlen(env);
    /* the bare baseline: one Ed25519 verification of the same PAE bytes */
    pae = dsse_pae(ENVELOPE_PAYLOAD_TYPE, (const unsigned char *)doc, doclen, &pae_len);
    memcpy(pk, trust.keys[0].pk, 32);
    key_secret_sign(k, pae, pae_len, sig);

    double cj = median_us(op_cjson, 2000);
    double pl = median_us(op_policy, 2000);
    double pn = median_us(op_policy_nofs, 2000);
    double ed = median_us(op_ed25519, 2000);
    double ev = median_us(op_envelope, 2000);

    printf("policy: %s (%zu bytes), %d rounds, median\n", path, doclen, ROUNDS);
    printf("%-44s %9s %9s %7s\n", "operation", "us/op", "baseline", "ratio");
    printf("%-44s %9.2f %9.2f %6.2fx   (baseline: cJSON parse only)\n",
           "parse + validate + compile (policy_load)", pl, cj, pl / cj);
    printf("%-44s %9.2f %9.2f %6.2fx   (the rest is realpath() of each rule's path)\n",
           "  of which without symlink resolution", pn, cj, pn / cj);
    printf("%-44s %9.2f %9.2f %6.2fx   (baseline: one Ed25519 verify)\n",
           "envelope verify (JSON, base64, PAE, Ed25519)", ev, ed, ev / ed);
    printf("%-44s %9.2f %9s %7s   (target: far below 1000 us)\n", "total per governed process",
           pl + ev, "-", "-");

    key_secret_free(k);
    free(env);
    free(pae);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 2;
}
