/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The deployment CA and its leaves (policy/server/mint.h): a CA written to disk opens again
 * with the same certificate, its key is mode 0600 and refused when others may read it or
 * another user owns it; a leaf verifies against the CA alone and names its host; the cache
 * answers a second ask with the same leaf, keeps its bound (least recently used out) and holds
 * under threads; hostile names are refused; a TLS handshake with the minted leaf succeeds for
 * a client that trusts the CA and fails for one that trusts only the system's CAs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "policy/server/mint.h"

static char err[1024];
static char dir[] = "/tmp/test_mint.XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(mint, .init = setup, .fini = teardown);

static void prefix_in(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static struct mint_ca *ephemeral(size_t cache_max)
{
    struct mint_ca_opts o = {.cache_max = cache_max};
    struct mint_ca *ca = NULL;
    cr_assert_eq(mint_ca_ephemeral(&o, &ca, err, sizeof err), 0, "%s", err);
    return ca;
}

/* X509_verify_cert of leaf against a store holding ca alone, as a TLS server for host. */
static int verify(X509 *ca, X509 *leaf, const char *host)
{
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *c = X509_STORE_CTX_new();
    cr_assert(st && c && X509_STORE_add_cert(st, ca) == 1);
    cr_assert_eq(X509_STORE_CTX_init(c, st, leaf, NULL), 1);
    X509_STORE_CTX_set_purpose(c, X509_PURPOSE_SSL_SERVER);
    if (host)
        X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(c), host, 0);
    int ok = X509_verify_cert(c);
    int e = X509_STORE_CTX_get_error(c);
    X509_STORE_CTX_free(c);
    X509_STORE_free(st);
    return ok == 1 ? 0 : e ? e : -1;
}

/* ------------------------------------------------------------ files */

Test(mint, a_created_ca_opens_again_with_its_key_private)
{
    char prefix[256], path[300], fp1[96], fp2[96];
    struct mint_ca *made = NULL, *opened = NULL;
    struct stat st;
    time_t end1, end2;
    prefix_in(prefix, sizeof prefix, "tls");

    mode_t old = umask(0); /* the key must be 0600 whatever the umask */
    int rc = mint_ca_create(prefix, NULL, &made, err, sizeof err);
    umask(old);
    cr_assert_eq(rc, 0, "%s", err);
    snprintf(path, sizeof path, "%s.ca.key", prefix);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600, "key mode %o", st.st_mode & 07777);
    snprintf(path, sizeof path, "%s.ca.pem", prefix);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0644);

    cr_assert_eq(mint_ca_open(prefix, NULL, &opened, err, sizeof err), 0, "%s", err);
    mint_ca_describe(made, fp1, &end1);
    mint_ca_describe(opened, fp2, &end2);
    cr_assert_eq(strlen(fp1), 95);
    cr_assert_str_eq(fp1, fp2);
    cr_assert_eq(end1, end2);
    time_t now = time(NULL);
    cr_assert(end1 > now + 364 * 86400 && end1 <= now + 366 * 86400, "a year, not %lld s",
              (long long)(end1 - now));

    /* The certificate is a CA of path length 0 that may sign certificates and CRLs only. */
    X509 *c = mint_ca_cert(opened);
    cr_assert_eq(X509_check_ca(c), 1);
    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(c, NID_basic_constraints, NULL, NULL);
    cr_assert(bc && bc->ca && bc->pathlen && ASN1_INTEGER_get(bc->pathlen) == 0);
    BASIC_CONSTRAINTS_free(bc);
    cr_assert_eq(X509_get_key_usage(c), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    EVP_PKEY *pub = X509_get0_pubkey(c);
    char group[32];
    size_t glen;
    cr_assert_eq(EVP_PKEY_get_group_name(pub, group, sizeof group, &glen), 1);
    cr_assert_str_eq(group, "prime256v1");

    /* A leaf minted by the opened CA verifies against the certificate made before. */
    X509 *leaf = NULL;
    cr_assert_eq(mint_leaf(opened, "crm.internal", &leaf, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(verify(mint_ca_cert(made), leaf, "crm.internal"), 0);
    X509_free(leaf);
    mint_ca_free(made);
    mint_ca_free(opened);
}

Test(mint, an_existing_ca_is_never_overwritten)
{
    char prefix[256], path[300], before[4096], after[4096];
    prefix_in(prefix, sizeof prefix, "tls");
    cr_assert_eq(mint_ca_create(prefix, NULL, NULL, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s.ca.key", prefix);
    FILE *f = fopen(path, "r");
    size_t n1 = fread(before, 1, sizeof before, f);
    fclose(f);

    cr_assert_eq(mint_ca_create(prefix, NULL, NULL, err, sizeof err), -EEXIST);
    cr_assert(strstr(err, "already exists") && strstr(err, "another prefix"), "%s", err);
    f = fopen(path, "r");
    size_t n2 = fread(after, 1, sizeof after, f);
    fclose(f);
    cr_assert(n1 == n2 && memcmp(before, after, n1) == 0, "the old key was changed");

    /* Only the certificate in the way: the key written first is taken away again. */
    char prefix2[256];
    prefix_in(prefix2, sizeof prefix2, "half");
    snprintf(path, sizeof path, "%s.ca.pem", prefix2);
    f = fopen(path, "w");
    fclose(f);
    cr_assert_eq(mint_ca_create(prefix2, NULL, NULL, err, sizeof err), -EEXIST);
    snprintf(path, sizeof path, "%s.ca.key", prefix2);
    cr_assert_eq(access(path, F_OK), -1, "a key was left behind without its certificate");
}

Test(mint, a_key_others_may_read_is_refused_and_the_message_says_how_to_fix_it)
{
    char prefix[256], path[300];
    struct mint_ca *ca = NULL;
    prefix_in(prefix, sizeof prefix, "tls");
    cr_assert_eq(mint_ca_create(prefix, NULL, NULL, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s.ca.key", prefix);
    cr_assert_eq(chmod(path, 0644), 0);
    cr_assert_eq(mint_ca_open(prefix, NULL, &ca, err, sizeof err), -EPERM);
    cr_assert_null(ca);
    cr_assert(strstr(err, "the CA key") && strstr(err, "0644") && strstr(err, "chmod 600"), "%s",
              err);
    cr_assert_eq(chmod(path, 0640), 0);
    cr_assert_eq(mint_ca_open(prefix, NULL, &ca, err, sizeof err), -EPERM);

    /* Owned by another user: refused even at 0600. */
    cr_assert_eq(chmod(path, 0600), 0);
    if (geteuid() == 0) {
        cr_assert_eq(chown(path, 1, 1), 0);
        cr_assert_eq(mint_ca_open(prefix, NULL, &ca, err, sizeof err), -EPERM);
        cr_assert(strstr(err, "owned by uid 1") && strstr(err, "chown"), "%s", err);
        cr_assert_eq(chown(path, 0, 0), 0);
    }
    cr_assert_eq(mint_ca_open(prefix, NULL, &ca, err, sizeof err), 0, "%s", err);
    mint_ca_free(ca);

    /* A symbolic link in the key's place is not followed. */
    char real[300];
    snprintf(real, sizeof real, "%s/real.key", dir);
    cr_assert_eq(rename(path, real), 0);
    cr_assert_eq(symlink(real, path), 0);
    cr_assert_eq(mint_ca_open(prefix, NULL, &ca, err, sizeof err), -ELOOP, "%s", err);
}

Test(mint, the_key_of_another_ca_or_a_missing_ca_is_refused)
{
    char a[256], b[256], ka[300], kb[300];
    struct mint_ca *ca = NULL;
    prefix_in(a, sizeof a, "a");
    prefix_in(b, sizeof b, "b");
    cr_assert_eq(mint_ca_create(a, NULL, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(mint_ca_create(b, NULL, NULL, err, sizeof err), 0, "%s", err);
    snprintf(ka, sizeof ka, "%s.ca.key", a);
    snprintf(kb, sizeof kb, "%s.ca.key", b);
    cr_assert_eq(rename(kb, ka), 0);
    cr_assert_eq(mint_ca_open(a, NULL, &ca, err, sizeof err), MINT_ERR_CA);
    cr_assert(strstr(err, "is not the key of the certificate"), "%s", err);
    cr_assert_eq(mint_ca_open(b, NULL, &ca, err, sizeof err), -ENOENT, "%s", err);
    cr_assert(strstr(err, "the CA key"), "%s", err);

    char c[256];
    prefix_in(c, sizeof c, "none");
    cr_assert_eq(mint_ca_open(c, NULL, &ca, err, sizeof err), -ENOENT, "%s", err);
    cr_assert(strstr(err, "cordon keygen --ca"), "%s", err);
    cr_assert_str_eq(mint_strerror(MINT_ERR_CA), "not a usable CA");
}

/* Write PREFIX.ca.pem and PREFIX.ca.key by hand: a certificate valid from now + from_s to
 * now + to_s, a CA or not. */
static void write_ca(const char *prefix, long from_s, long to_s, int is_ca)
{
    char path[300];
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509V3_CTX v3;
    cr_assert(k && x);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(x), to_s);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"hand made", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                                            is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    cr_assert(e && X509_add_ext(x, e, -1));
    X509_EXTENSION_free(e);
    cr_assert(X509_sign(x, k, EVP_sha256()));
    snprintf(path, sizeof path, "%s.ca.pem", prefix);
    FILE *f = fopen(path, "w");
    cr_assert(f && PEM_write_X509(f, x));
    fclose(f);
    snprintf(path, sizeof path, "%s.ca.key", prefix);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0 && (f = fdopen(fd, "w")));
    cr_assert(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

Test(mint, a_ca_that_is_not_valid_now_or_not_a_ca_is_refused)
{
    char prefix[256];
    struct mint_ca *ca = NULL;

    prefix_in(prefix, sizeof prefix, "expired");
    write_ca(prefix, -10 * 86400, -86400, 1);
    cr_assert_eq(mint_ca_open(prefix, NULL, &ca, err, sizeof err), MINT_ERR_EXPIRED, "%s", err);
    cr_assert(strstr(err, "expired at") && strstr(err, "cordon keygen --ca"), "%s", err);

    prefix_in(prefix, sizeof prefix, "future");
    write_ca(prefix, 86400, 10 * 86400, 1);
    cr_assert_eq(mint_ca_open(prefix, NULL, &ca, err, sizeof err), MINT_ERR_EXPIRED, "%s", err);
    cr_assert(strstr(err, "not valid before") && strstr(err, "clock"), "%s", err);

    prefix_in(prefix, sizeof prefix, "leaf");
    write_ca(prefix, -60, 86400, 0);
    cr_assert_eq(mint_ca_open(prefix, NULL, &ca, err, sizeof err), MINT_ERR_CA, "%s", err);
    cr_assert(strstr(err, "is not a CA certificate"), "%s", err);

    /* A CA made elsewhere (no pathlen, no key usage) is taken, and its leaves verify. */
    prefix_in(prefix, sizeof prefix, "supplied");
    write_ca(prefix, -60, 30 * 86400, 1);
    cr_assert_eq(mint_ca_open(prefix, NULL, &ca, err, sizeof err), 0, "%s", err);
    X509 *leaf = NULL;
    cr_assert_eq(mint_leaf(ca, "crm.internal", &leaf, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(verify(mint_ca_cert(ca), leaf, "crm.internal"), 0);
    int days = 0, secs = 0;
    cr_assert_eq(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(leaf)), 1);
    cr_assert_leq(days, MINT_LEAF_DAYS);
    X509_free(leaf);
    mint_ca_free(ca);

    /* A leaf never outlives its CA. */
    prefix_in(prefix, sizeof prefix, "short");
    write_ca(prefix, -60, 3600, 1);
    cr_assert_eq(mint_ca_open(prefix, NULL, &ca, err, sizeof err), 0, "%s", err);
    cr_assert_eq(mint_leaf(ca, "crm.internal", &leaf, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ASN1_TIME_compare(X509_get0_notAfter(leaf), X509_get0_notAfter(mint_ca_cert(ca))),
                 0);
    X509_free(leaf);
    mint_ca_free(ca);
}

Test(mint, an_ephemeral_ca_is_a_ca_of_its_own_for_one_run)
{
    struct mint_ca *a = ephemeral(0), *b = ephemeral(0);
    char fa[96], fb[96];
    time_t end;
    mint_ca_describe(a, fa, &end);
    mint_ca_describe(b, fb, NULL);
    cr_assert_str_neq(fa, fb);
    time_t now = time(NULL);
    cr_assert(end > now + 29 * 86400 && end <= now + 31 * 86400, "%lld s", (long long)(end - now));
    cr_assert_eq(X509_check_ca(mint_ca_cert(a)), 1);
    /* Two cordon CAs are two issuers: a bundle holding both finds the right one. */
    cr_assert_neq(X509_NAME_cmp(X509_get_subject_name(mint_ca_cert(a)),
                                X509_get_subject_name(mint_ca_cert(b))),
                  0);
    X509 *leaf = NULL;
    cr_assert_eq(mint_leaf(a, "crm.internal", &leaf, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_neq(verify(mint_ca_cert(b), leaf, "crm.internal"), 0);
    X509_free(leaf);
    mint_ca_free(a);
    mint_ca_free(b);
}

/* ------------------------------------------------------------ leaves */

Test(mint, a_leaf_verifies_against_the_ca_and_names_its_host)
{
    struct mint_ca *ca = ephemeral(0);
    X509 *leaf = NULL;
    EVP_PKEY *key = NULL;
    cr_assert_eq(mint_leaf(ca, "CRM.Internal.", &leaf, &key, err, sizeof err), 0, "%s", err);
    cr_assert_eq(verify(mint_ca_cert(ca), leaf, "crm.internal"), 0);
    cr_assert_eq(X509_check_host(leaf, "crm.internal", 0, 0, NULL), 1);
    cr_assert_eq(X509_check_host(leaf, "other.internal", 0, 0, NULL), 0);
    cr_assert_neq(verify(mint_ca_cert(ca), leaf, "other.internal"), 0);
    cr_assert_eq(X509_check_private_key(leaf, key), 1);

    /* One SAN, a dNSName; EKU serverAuth; not a CA; valid about a week. */
    GENERAL_NAMES *san = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    cr_assert(san && sk_GENERAL_NAME_num(san) == 1);
    GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, 0);
    cr_assert_eq(gn->type, GEN_DNS);
    cr_assert_str_eq((const char *)ASN1_STRING_get0_data(gn->d.dNSName), "crm.internal");
    GENERAL_NAMES_free(san);
    cr_assert(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
    cr_assert_eq(X509_check_ca(leaf), 0);
    int days = 0, secs = 0;
    cr_assert_eq(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(leaf)), 1);
    cr_assert(days >= MINT_LEAF_DAYS - 1 && days <= MINT_LEAF_DAYS, "%d days", days);

    /* Every leaf of one CA has one key; the serials differ. */
    X509 *other = NULL;
    EVP_PKEY *key2 = NULL;
    cr_assert_eq(mint_leaf(ca, "api.internal", &other, &key2, err, sizeof err), 0, "%s", err);
    cr_assert_eq(key, key2);
    cr_assert_neq(ASN1_INTEGER_cmp(X509_get0_serialNumber(leaf), X509_get0_serialNumber(other)), 0);
    X509_free(other);
    EVP_PKEY_free(key2);

    /* An address gets an iPAddress SAN, and the name check an address check. */
    X509 *ip = NULL;
    cr_assert_eq(mint_leaf(ca, "10.1.2.3", &ip, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(X509_check_ip_asc(ip, "10.1.2.3", 0), 1);
    cr_assert_eq(X509_check_ip_asc(ip, "10.1.2.4", 0), 0);
    cr_assert_eq(verify(mint_ca_cert(ca), ip, NULL), 0);
    X509_free(ip);
    cr_assert_eq(mint_leaf(ca, "[::1]", &ip, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(X509_check_ip_asc(ip, "::1", 0), 1);
    X509_free(ip);

    /* A name longer than a CN can hold is in the SAN alone, and still verifies. */
    char lng[200];
    snprintf(lng, sizeof lng, "%s.%s.example", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
             "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    cr_assert_eq(mint_leaf(ca, lng, &ip, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(verify(mint_ca_cert(ca), ip, lng), 0);
    X509_free(ip);

    X509_free(leaf);
    EVP_PKEY_free(key);
    mint_ca_free(ca);
}

Test(mint, the_cache_answers_with_the_same_leaf_and_keeps_its_bound)
{
    struct mint_ca *ca = ephemeral(4);
    struct mint_stats s;
    X509 *a = NULL, *a2 = NULL, *b = NULL, *b2 = NULL;
    char host[32];

    cr_assert_eq(mint_leaf(ca, "a.test", &a, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(mint_leaf(ca, "A.TEST.", &a2, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(a, a2, "the normalized name is the cache's key");
    X509_free(a2);
    mint_stats(ca, &s);
    cr_assert(s.cached == 1 && s.mints == 1 && s.hits == 1 && s.cache_max == 4);

    cr_assert_eq(mint_leaf(ca, "b.test", &b, NULL, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 2; i++) { /* c.test and d.test: the cache is full */
        X509 *x = NULL;
        snprintf(host, sizeof host, "%c.test", 'c' + i);
        cr_assert_eq(mint_leaf(ca, host, &x, NULL, err, sizeof err), 0, "%s", err);
        X509_free(x);
    }
    /* a.test is used again, so b.test is the least recently used when e.test comes. */
    cr_assert_eq(mint_leaf(ca, "a.test", &a2, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(a, a2);
    X509_free(a2);
    X509 *e = NULL;
    cr_assert_eq(mint_leaf(ca, "e.test", &e, NULL, err, sizeof err), 0, "%s", err);
    X509_free(e);
    mint_stats(ca, &s);
    cr_assert(s.cached == 4 && s.evictions == 1, "cached %zu evictions %lu", s.cached, s.evictions);
    cr_assert_eq(mint_leaf(ca, "a.test", &a2, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(a, a2, "a.test was evicted instead of b.test");
    X509_free(a2);
    cr_assert_eq(mint_leaf(ca, "b.test", &b2, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_neq(b, b2, "b.test was not evicted");

    /* Many hosts: never more than the bound; a leaf handed out outlives its eviction. */
    for (int i = 0; i < 100; i++) {
        X509 *x = NULL;
        snprintf(host, sizeof host, "h%d.test", i);
        cr_assert_eq(mint_leaf(ca, host, &x, NULL, err, sizeof err), 0, "%s", err);
        X509_free(x);
        mint_stats(ca, &s);
        cr_assert_leq(s.cached, 4);
    }
    cr_assert_eq(X509_check_host(b, "b.test", 0, 0, NULL), 1);
    X509_free(b);
    X509_free(b2);
    X509_free(a);
    mint_ca_free(ca);
}

struct worker {
    struct mint_ca *ca;
    int id, failures;
    char why[600];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    char host[32], e[512];
    for (int i = 0; i < 300; i++) {
        int n = (i * 7 + w->id * 3) % 24;
        snprintf(host, sizeof host, "h%d.test", n);
        SSL_CTX *ctx = NULL;
        X509 *x = NULL;
        if (i % 2 ? mint_server_ctx(w->ca, host, &ctx, e, sizeof e) != 0
                  : mint_leaf(w->ca, host, &x, NULL, e, sizeof e) != 0) {
            w->failures++;
            snprintf(w->why, sizeof w->why, "%s", e);
            continue;
        }
        X509 *c = ctx ? SSL_CTX_get0_certificate(ctx) : x;
        if (X509_check_host(c, host, 0, 0, NULL) != 1) {
            w->failures++;
            snprintf(w->why, sizeof w->why, "the leaf for %s names another host", host);
        }
        SSL_CTX_free(ctx);
        X509_free(x);
    }
    return NULL;
}

Test(mint, threads_mint_and_share_leaves_at_once)
{
    struct mint_ca *ca = ephemeral(8);
    pthread_t t[8];
    struct worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (struct worker){.ca = ca, .id = i};
        cr_assert_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].failures, 0, "thread %d: %s", i, w[i].why);
    }
    struct mint_stats s;
    mint_stats(ca, &s);
    cr_assert_leq(s.cached, 8);
    cr_assert_eq(s.hits + s.mints >= 8 * 300, 1, "hits %lu mints %lu", s.hits, s.mints);
    mint_ca_free(ca);
}

/* ------------------------------------------------------------ host names */

static int norm(const char *h, size_t len, char *out)
{
    return mint_host_normalize(h, len, out, NULL, err, sizeof err);
}

Test(mint, host_names_are_normalized)
{
    char out[MINT_HOST_MAX + 1];
    enum mint_host_kind k;
    static const struct {
        const char *in, *out;
        enum mint_host_kind kind;
    } ok[] = {
        {"CRM.Internal.", "crm.internal", MINT_HOST_DNS},
        {"localhost", "localhost", MINT_HOST_DNS},
        {"xn--bcher-kva.example", "xn--bcher-kva.example", MINT_HOST_DNS},
        {"a-b.c0", "a-b.c0", MINT_HOST_DNS},
        {"127.0.0.1", "127.0.0.1", MINT_HOST_IPV4},
        {"[::1]", "::1", MINT_HOST_IPV6},
        {"2001:DB8:0:0:0:0:0:1", "2001:db8::1", MINT_HOST_IPV6},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        cr_assert_eq(mint_host_normalize(ok[i].in, strlen(ok[i].in), out, &k, err, sizeof err), 0,
                     "%s: %s", ok[i].in, err);
        cr_assert_str_eq(out, ok[i].out);
        cr_assert_eq(k, ok[i].kind, "%s", ok[i].in);
    }
    /* 253 bytes is the most a name can be, a trailing dot aside. */
    char max[256];
    memset(max, 'a', 253);
    for (int i = 63; i < 253; i += 64)
        max[i] = '.';
    max[253] = '.';
    cr_assert_eq(norm(max, 254, out), 0, "%s", err);
    cr_assert_eq(strlen(out), 253);
}

Test(mint, hostile_host_names_are_refused_before_anything_is_minted)
{
    char out[MINT_HOST_MAX + 1];
    size_t big = 64 << 10;
    char *huge = malloc(big);
    memset(huge, 'a', big);
    cr_assert_eq(norm(huge, big, out), MINT_ERR_HOST);
    cr_assert(strstr(err, "longer than 253"), "%s", err);
    cr_assert_lt(strlen(err), 400, "the message quotes all of a 64 KB name");
    for (size_t i = 60; i < big; i += 61)
        huge[i] = '.';
    cr_assert_eq(norm(huge, big, out), MINT_ERR_HOST);
    free(huge);

    static const struct {
        const char *in;
        size_t len; /* 0: strlen */
        const char *why;
    } bad[] = {
        {"", 0, "empty"},
        {"a\0b.test", 8, "NUL"},
        {"*.x", 0, "wildcard"},
        {"a.*.x", 0, "wildcard"},
        {"a..b", 0, "empty label"},
        {".a", 0, "empty label"},
        {"a.b..", 0, "empty label"},
        {".", 0, "empty label"},
        {"-a.b", 0, "starts with '-'"},
        {"a-.b", 0, "ends with '-'"},
        {"a_b.test", 0, "other than"},
        {"a b.test", 0, "other than"},
        {"a.test\n", 0, "other than"},
        {"caf\xc3\xa9.test", 0, "other than"},
        {"10.1", 0, "digits only"},
        {"256.1.1.1", 0, "digits only"},
        {"01.2.3.4", 0, "digits only"},
        {"[crm.internal]", 0, "bracketed"},
        {"[]", 0, "bracketed"},
        {"fe80::1%eth0", 0, "zone"},
        {"1:2:3:4:5:6:7:8:9", 0, "IPv6"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test", 0, "63 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].in);
        err[0] = '\0';
        cr_assert_eq(norm(bad[i].in, len, out), MINT_ERR_HOST, "%zu accepted as %s", i, out);
        cr_assert(strstr(err, bad[i].why), "%zu: %s", i, err);
        cr_assert_str_eq(out, "");
        for (const char *p = err; *p; p++)
            cr_assert((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f, "%zu: %s", i, err);
    }

    /* Minting refuses what the normalizer refuses, and caches nothing. */
    struct mint_ca *ca = ephemeral(0);
    X509 *x = NULL;
    cr_assert_eq(mint_leaf(ca, "*.crm.internal", &x, NULL, err, sizeof err), MINT_ERR_HOST);
    cr_assert_null(x);
    struct mint_stats s;
    mint_stats(ca, &s);
    cr_assert(s.cached == 0 && s.mints == 0);
    mint_ca_free(ca);
}

/* ------------------------------------------------------------ name constraints */

Test(mint, a_constrained_ca_mints_only_the_names_it_permits)
{
    const char *permit[] = {"corp.example", "10.0.0.0/8"};
    struct mint_ca_opts o = {.permit = permit, .n_permit = 2};
    struct mint_ca *ca = NULL;
    X509 *x = NULL;
    cr_assert_eq(mint_ca_ephemeral(&o, &ca, err, sizeof err), 0, "%s", err);
    cr_assert_eq(mint_leaf(ca, "api.corp.example", &x, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(verify(mint_ca_cert(ca), x, "api.corp.example"), 0);
    X509_free(x);
    cr_assert_eq(mint_leaf(ca, "10.9.8.7", &x, NULL, err, sizeof err), 0, "%s", err);
    X509_free(x);
    cr_assert_eq(mint_leaf(ca, "evil.example", &x, NULL, err, sizeof err), MINT_ERR_NAME);
    cr_assert(strstr(err, "evil.example") && strstr(err, "--permit"), "%s", err);
    cr_assert_eq(mint_leaf(ca, "192.168.1.1", &x, NULL, err, sizeof err), MINT_ERR_NAME);
    mint_ca_free(ca);

    /* DNS names only: no address at all. */
    const char *dns_only[] = {"corp.example"};
    o = (struct mint_ca_opts){.permit = dns_only, .n_permit = 1};
    cr_assert_eq(mint_ca_ephemeral(&o, &ca, err, sizeof err), 0, "%s", err);
    cr_assert_eq(mint_leaf(ca, "10.0.0.1", &x, NULL, err, sizeof err), MINT_ERR_NAME);
    cr_assert_eq(mint_leaf(ca, "corp.example", &x, NULL, err, sizeof err), 0, "%s", err);
    X509_free(x);
    mint_ca_free(ca);

    const char *bad[] = {"*.corp.example"};
    o = (struct mint_ca_opts){.permit = bad, .n_permit = 1};
    cr_assert_eq(mint_ca_ephemeral(&o, &ca, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "permitted name 1"), "%s", err);
}

/* ------------------------------------------------------------ TLS */

/*
 * A handshake in memory: a client trusting the store the caller set up, asking for host by
 * SNI and checking the name, against a server using the minted context. Returns 1 when both
 * ends finish, 0 when one fails; *verify_error gets the client's verification result.
 */
static int handshake(SSL_CTX *server_ctx, SSL_CTX *client_ctx, const char *host, long *verify_error,
                     char *sni_seen, size_t sni_len)
{
    SSL *s = SSL_new(server_ctx), *c = SSL_new(client_ctx);
    BIO *sb = NULL, *cb = NULL;
    cr_assert(s && c);
    cr_assert_eq(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
    SSL_set_bio(s, sb, sb);
    SSL_set_bio(c, cb, cb);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    cr_assert_eq(SSL_set_tlsext_host_name(c, host), 1);
    cr_assert_eq(SSL_set1_host(c, host), 1);
    int c_done = 0, s_done = 0, failed = 0;
    for (int i = 0; i < 100 && !(c_done && s_done) && !failed; i++) {
        if (!c_done) {
            int r = SSL_do_handshake(c);
            if (r == 1)
                c_done = 1;
            else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
                failed = 1;
        }
        if (!s_done && !failed) {
            int r = SSL_do_handshake(s);
            if (r == 1)
                s_done = 1;
            else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ)
                failed = 1;
        }
    }
    *verify_error = SSL_get_verify_result(c);
    const char *sni = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    snprintf(sni_seen, sni_len, "%s", sni ? sni : "");
    int ok = c_done && s_done;
    if (ok) { /* and bytes pass */
        char buf[16] = "";
        cr_assert_eq(SSL_write(c, "GET / HTTP/1.1\r\n", 16), 16);
        cr_assert_eq(SSL_read(s, buf, sizeof buf), 16);
        cr_assert_eq(memcmp(buf, "GET / HTTP/1.1\r\n", 16), 0);
    }
    SSL_free(s);
    SSL_free(c);
    ERR_clear_error();
    return ok;
}

static SSL_CTX *client(X509 *trust)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    cr_assert_not_null(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (trust)
        cr_assert_eq(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), trust), 1);
    else
        cr_assert_eq(SSL_CTX_set_default_verify_paths(ctx), 1);
    return ctx;
}

Test(mint, a_client_that_trusts_the_ca_completes_a_handshake_and_one_that_does_not_fails)
{
    struct mint_ca *ca = ephemeral(0);
    SSL_CTX *server = NULL;
    char sni[300];
    long verr;
    cr_assert_eq(mint_server_ctx(ca, "crm.internal", &server, err, sizeof err), 0, "%s", err);

    SSL_CTX *trusting = client(mint_ca_cert(ca));
    cr_assert_eq(handshake(server, trusting, "crm.internal", &verr, sni, sizeof sni), 1,
                 "verify result %ld", verr);
    cr_assert_eq(verr, X509_V_OK);
    cr_assert_str_eq(sni, "crm.internal");

    /* The leaf names crm.internal only: a client asking for another name refuses it. */
    cr_assert_eq(handshake(server, trusting, "api.internal", &verr, sni, sizeof sni), 0);
    cr_assert_eq(verr, X509_V_ERR_HOSTNAME_MISMATCH);

    /* The system's CAs do not know cordon's: the handshake fails on verification. */
    SSL_CTX *system = client(NULL);
    cr_assert_eq(handshake(server, system, "crm.internal", &verr, sni, sizeof sni), 0);
    cr_assert(verr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                  verr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
              "verify result %ld", verr);

    /* Nor does another cordon CA. */
    struct mint_ca *other = ephemeral(0);
    SSL_CTX *wrong = client(mint_ca_cert(other));
    cr_assert_eq(handshake(server, wrong, "crm.internal", &verr, sni, sizeof sni), 0);

    /* Its session cache is bounded: a context per host must not multiply OpenSSL's 20,480. */
    cr_assert_leq(SSL_CTX_sess_get_cache_size(server), 256);

    /* A context from the cache is the same context. */
    SSL_CTX *again = NULL;
    cr_assert_eq(mint_server_ctx(ca, "crm.internal", &again, err, sizeof err), 0, "%s", err);
    cr_assert_eq(again, server);
    SSL_CTX_free(again);

    SSL_CTX_free(wrong);
    SSL_CTX_free(system);
    SSL_CTX_free(trusting);
    mint_ca_free(other);
    mint_ca_free(ca); /* the context handed out outlives the CA */
    cr_assert_eq(SSL_CTX_check_private_key(server), 1);
    SSL_CTX_free(server);
}

/* ------------------------------------------------------------ the bundle */

Test(mint, the_bundle_is_the_system_cas_then_cordons)
{
    struct mint_ca *ca = ephemeral(0);
    char sys[300], bundle[300], *pem = NULL;
    size_t pemlen;
    snprintf(sys, sizeof sys, "%s/system.crt", dir);
    snprintf(bundle, sizeof bundle, "%s/bundle.crt", dir);

    /* A stand-in system store: another CA's certificate, with no final newline. */
    struct mint_ca *sysca = ephemeral(0);
    cr_assert_eq(mint_ca_pem(sysca, &pem, &pemlen), 0);
    FILE *f = fopen(sys, "w");
    cr_assert_eq(fwrite(pem, 1, pemlen - 1, f), pemlen - 1);
    fclose(f);
    free(pem);

    cr_assert_eq(mint_ca_write_bundle(ca, sys, bundle, err, sizeof err), 0, "%s", err);
    struct stat st;
    cr_assert_eq(stat(bundle, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0644);
    X509_STORE *store = X509_STORE_new();
    cr_assert_eq(X509_STORE_load_file(store, bundle), 1);
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
    cr_assert_eq(sk_X509_OBJECT_num(objs), 2, "both certificates are in the bundle");
    X509_STORE_free(store);

    /* The CA's certificate is the end of the file. */
    cr_assert_eq(mint_ca_pem(ca, &pem, &pemlen), 0);
    char *all = malloc((size_t)st.st_size + 1);
    f = fopen(bundle, "r");
    cr_assert_eq(fread(all, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    cr_assert_eq(memcmp(all + st.st_size - (off_t)pemlen, pem, pemlen), 0);
    free(all);
    free(pem);

    /* Written again over the old one; a missing system store gives cordon's CA alone. */
    snprintf(sys, sizeof sys, "%s/missing.crt", dir);
    cr_assert_eq(mint_ca_write_bundle(ca, sys, bundle, err, sizeof err), 0, "%s", err);
    store = X509_STORE_new();
    cr_assert_eq(X509_STORE_load_file(store, bundle), 1);
    cr_assert_eq(sk_X509_OBJECT_num(X509_STORE_get0_objects(store)), 1);
    X509_STORE_free(store);

    /* A directory in the store's place is refused, and nothing is written. */
    cr_assert_eq(unlink(bundle), 0);
    cr_assert_eq(mint_ca_write_bundle(ca, dir, bundle, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "not a regular file"), "%s", err);
    cr_assert_eq(access(bundle, F_OK), -1);

    /* The default: the system's file, when this machine has one. */
    if (access(MINT_SYSTEM_BUNDLE, R_OK) == 0) {
        cr_assert_eq(mint_ca_write_bundle(ca, NULL, bundle, err, sizeof err), 0, "%s", err);
        store = X509_STORE_new();
        cr_assert_eq(X509_STORE_load_file(store, bundle), 1);
        cr_assert_gt(sk_X509_OBJECT_num(X509_STORE_get0_objects(store)), 1);
        X509_STORE_free(store);
    }
    mint_ca_free(sysca);
    mint_ca_free(ca);
}
