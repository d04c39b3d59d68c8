/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The deployment CA and the leaves minted from it (see mint.h): host names normalized and
 * checked before anything is signed, the CA made, written, opened or held in memory, one leaf
 * key per CA, and a bounded LRU cache of leaves and their server SSL_CTXs under one mutex.
 * Minting happens outside the mutex, so a handshake that needs a new leaf never holds up one
 * that finds its leaf cached; two threads minting the same host at once keep the first.
 */
#include "policy/server/mint.h"
#include "base/diag.h"
#include "base/io.h"
#include "base/secret.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define SHOW_MAX 48                /* bytes of a hostile name quoted back in an error */
#define KEY_FILE_MAX (16u << 10)   /* a PEM private key is far smaller */
#define EPHEMERAL_DAYS 30          /* an in-memory CA outlives any one run */
#define MINT_SESSIONS_PER_HOST 256 /* TLS sessions each host's server context caches */
#define SKEW_SECONDS 3600          /* notBefore an hour back, for clients with a slow clock */

struct leaf {
    char host[MINT_HOST_MAX + 1];
    X509 *cert;
    SSL_CTX *ctx;
    time_t refresh_at;        /* minted again from here on: half its life is gone */
    struct leaf *prev, *next; /* LRU list, most recent at head */
    struct leaf *hnext;       /* hash chain */
};

struct mint_ca {
    X509 *cert;
    EVP_PKEY *key;
    EVP_PKEY *leaf_key;
    NAME_CONSTRAINTS *nc; /* NULL: the CA names no constraint */
    time_t not_before, not_after;

    pthread_mutex_t mu; /* everything below */
    struct leaf **buckets;
    size_t n_buckets; /* a power of two */
    struct leaf *head, *tail;
    size_t cached, cache_max;
    unsigned long hits, mints, evictions;
};

const char *mint_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case MINT_ERR_HOST:
        return "not a host name a certificate can name";
    case MINT_ERR_CA:
        return "not a usable CA";
    case MINT_ERR_EXPIRED:
        return "the CA is not valid now";
    case MINT_ERR_NAME:
        return "outside the CA's name constraints";
    case MINT_ERR_TLS:
        return "OpenSSL failed";
    default:
        return err_is_errno(rc) ? strerror(-rc) : "unknown mint error";
    }
}

/* ------------------------------------------------------------ host names */

/* Up to SHOW_MAX bytes of untrusted text for a message, anything unprintable as '?'. */
static void show(char *dst, size_t dstlen, const char *src, size_t len)
{
    size_t i, o = 0;
    for (i = 0; i < len && i < SHOW_MAX && o + 1 < dstlen; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
    }
    if (i < len && o + 4 < dstlen) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

static int host_refuse(char *err, size_t errlen, const char *host, size_t len, const char *why)
{
    char s[SHOW_MAX + 8];
    show(s, sizeof s, host, len);
    diag_set(err, errlen,
             "mint: host \"%s\" (%zu bytes) %s; a certificate names a DNS name (labels of 1 to "
             "63 letters, digits and '-', separated by dots, at most 253 bytes) or an IP "
             "address",
             s, len, why);
    return MINT_ERR_HOST;
}

int mint_host_normalize(const char *host, size_t len, char out[MINT_HOST_MAX + 1],
                        enum mint_host_kind *kind, char *err, size_t errlen)
{
    char buf[MINT_HOST_MAX + 2];
    unsigned char addr[16];
    int bracketed = 0;

    out[0] = '\0';
    if (len == 0)
        return host_refuse(err, errlen, host, len, "is empty");
    if (memchr(host, '\0', len))
        return host_refuse(err, errlen, host, len, "holds a NUL byte");
    /* An IPv6 literal, bracketed as in a URL or a CONNECT line, or bare. */
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
        bracketed = 1;
        if (len == 0 || len >= INET6_ADDRSTRLEN || !memchr(host, ':', len))
            return host_refuse(err, errlen, host - 1, len + 2,
                               "is bracketed but not an IPv6 address");
    }
    if (len < INET6_ADDRSTRLEN && memchr(host, ':', len)) {
        memcpy(buf, host, len);
        buf[len] = '\0';
        if (memchr(host, '%', len))
            return host_refuse(err, errlen, host, len,
                               "carries an IPv6 zone, which no certificate can name");
        if (inet_pton(AF_INET6, buf, addr) != 1 || !inet_ntop(AF_INET6, addr, out, 64))
            return host_refuse(err, errlen, host - bracketed, len + 2 * (size_t)bracketed,
                               "is not an IPv6 address");
        if (kind)
            *kind = MINT_HOST_IPV6;
        return 0;
    }
    if (len > MINT_HOST_MAX + 1) /* one trailing dot may still come off */
        return host_refuse(err, errlen, host, len, "is longer than 253 bytes");
    memcpy(buf, host, len);
    buf[len] = '\0';
    if (len > 1 && buf[len - 1] == '.')
        buf[--len] = '\0';
    if (len > MINT_HOST_MAX)
        return host_refuse(err, errlen, host, len, "is longer than 253 bytes");
    if (inet_pton(AF_INET, buf, addr) == 1) {
        if (!inet_ntop(AF_INET, addr, out, 16))
            return host_refuse(err, errlen, host, len, "is not an IPv4 address");
        if (kind)
            *kind = MINT_HOST_IPV4;
        return 0;
    }
    size_t label = 0; /* length of the label being read */
    int all_digits = 1;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (i == len || c == '.') {
            if (label == 0)
                return host_refuse(err, errlen, host, len, "has an empty label");
            if (buf[i - 1] == '-')
                return host_refuse(err, errlen, host, len, "has a label that ends with '-'");
            if (i < len) {
                label = 0;
                all_digits = 1;
            }
            continue;
        }
        if (c == '*')
            return host_refuse(err, errlen, host, len,
                               "is a wildcard; cordon mints a certificate for one host at a "
                               "time");
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return host_refuse(err, errlen, host, len,
                               "holds a byte other than a letter, a digit, '-' or '.'");
        if (c == '-' && label == 0)
            return host_refuse(err, errlen, host, len, "has a label that starts with '-'");
        if (++label > 63)
            return host_refuse(err, errlen, host, len, "has a label longer than 63 bytes");
        if (!(c >= '0' && c <= '9'))
            all_digits = 0;
        buf[i] = (char)c;
    }
    if (all_digits)
        return host_refuse(err, errlen, host, len,
                           "ends in a label of digits only, which resolvers may read as an "
                           "address; write the address in dotted-quad form");
    memcpy(out, buf, len + 1);
    if (kind)
        *kind = MINT_HOST_DNS;
    return 0;
}

/* ------------------------------------------------------------ OpenSSL helpers */

/* err gets "mint: WHAT: OPENSSL'S REASON"; OpenSSL's error queue is emptied. */
static int tls_fail(char *err, size_t errlen, const char *what)
{
    char reason[256] = "no reason given";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    diag_set(err, errlen, "mint: %s: %s", what, reason);
    return MINT_ERR_TLS;
}

static EVP_PKEY *p256_key(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* A digest for X509_sign: none for the EdDSA keys that a supplied CA may hold. */
static const EVP_MD *sign_md(EVP_PKEY *key)
{
    int id = EVP_PKEY_get_id(key);
    return (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) ? NULL : EVP_sha256();
}

/* A positive random 128-bit serial (RFC 5280 allows 20 octets; CAs use at least 64 bits). */
static int random_serial(X509 *x)
{
    unsigned char b[16];
    BIGNUM *bn = NULL;
    int ok = 0;
    if (RAND_bytes(b, sizeof b) != 1)
        return 0;
    b[0] = (unsigned char)((b[0] & 0x7f) | 0x40); /* positive, and never a short encoding */
    if ((bn = BN_bin2bn(b, sizeof b, NULL)) && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
        ok = 1;
    BN_free(bn);
    return ok;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static time_t asn1_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

/* Read the validity and the name constraints of ca->cert into ca. */
static void ca_learn(struct mint_ca *ca)
{
    ca->not_before = asn1_time(X509_get0_notBefore(ca->cert));
    ca->not_after = asn1_time(X509_get0_notAfter(ca->cert));
    ca->nc = X509_get_ext_d2i(ca->cert, NID_name_constraints, NULL, NULL);
}

/* ------------------------------------------------------------ name constraints */

static int subtree_add(STACK_OF(GENERAL_SUBTREE) * sk, GENERAL_NAME *gn)
{
    if (!gn)
        return 0;
    GENERAL_SUBTREE *st = GENERAL_SUBTREE_new();
    if (!st) {
        GENERAL_NAME_free(gn);
        return 0;
    }
    GENERAL_NAME_free(st->base);
    st->base = gn;
    if (!sk_GENERAL_SUBTREE_push(sk, st)) {
        GENERAL_SUBTREE_free(st);
        return 0;
    }
    return 1;
}

/* An iPAddress subtree: the address and its mask, 8 or 32 octets. */
static GENERAL_NAME *ip_subtree(const unsigned char *addr, size_t alen, unsigned prefix)
{
    unsigned char b[32] = {0};
    memcpy(b, addr, alen);
    for (unsigned i = 0; i < alen * 8; i++)
        if (i < prefix)
            b[alen + i / 8] |= (unsigned char)(0x80 >> (i % 8));
    for (size_t i = 0; i < alen; i++)
        b[i] &= b[alen + i];
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    if (!gn || !os || !ASN1_OCTET_STRING_set(os, b, (int)(2 * alen))) {
        GENERAL_NAME_free(gn);
        ASN1_OCTET_STRING_free(os);
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, GEN_IPADD, os);
    return gn;
}

/* A dNSName subtree. The empty name is every name (RFC 5280, 4.2.1.10). */
static GENERAL_NAME *dns_subtree(const char *name)
{
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    if (!gn || !s || !ASN1_STRING_set(s, name, (int)strlen(name))) {
        GENERAL_NAME_free(gn);
        ASN1_IA5STRING_free(s);
        return NULL;
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, s);
    return gn;
}

/*
 * The name constraints of opts' permit list, added to x. A constraint of one type leaves the
 * others free (RFC 5280, 4.2.1.10), so a list of DNS names only excludes every address, and a
 * list of addresses only excludes every DNS name.
 */
static int add_name_constraints(X509 *x, const struct mint_ca_opts *opts, char *err, size_t errlen)
{
    NAME_CONSTRAINTS *nc = NULL;
    int rc = MINT_ERR_TLS, any_ip = 0, any_dns = 0;
    char norm[MINT_HOST_MAX + 1];

    if (opts->n_permit > MINT_PERMIT_MAX) {
        diag_set(err, errlen, "mint: %zu permitted names given, more than the %d a CA carries",
                 opts->n_permit, MINT_PERMIT_MAX);
        return -EINVAL;
    }
    if (!(nc = NAME_CONSTRAINTS_new()) || !(nc->permittedSubtrees = sk_GENERAL_SUBTREE_new_null()))
        goto oom;
    for (size_t i = 0; i < opts->n_permit; i++) {
        const char *p = opts->permit[i], *slash = strchr(p, '/');
        size_t plen = slash ? (size_t)(slash - p) : strlen(p);
        enum mint_host_kind kind;
        char e2[512];
        if (plen > 2 && p[0] == '*' && p[1] == '.') {
            diag_set(err, errlen,
                     "mint: permitted name %zu (%s) is a wildcard; write %.*s, which permits "
                     "every name under it too",
                     i + 1, p, (int)(plen - 2 > 200 ? 200 : plen - 2), p + 2);
            rc = -EINVAL;
            goto out;
        }
        if ((rc = mint_host_normalize(p, plen, norm, &kind, e2, sizeof e2)) != 0) {
            diag_set(err, errlen, "mint: permitted name %zu: %s", i + 1, e2 + 6);
            rc = -EINVAL;
            goto out;
        }
        GENERAL_NAME *gn = NULL;
        if (kind == MINT_HOST_DNS) {
            if (slash) {
                diag_set(err, errlen,
                         "mint: permitted name %zu (%s) has a /prefix, which only an "
                         "address range can have",
                         i + 1, norm);
                rc = -EINVAL;
                goto out;
            }
            if (!(gn = dns_subtree(norm)))
                goto oom;
            any_dns = 1;
        } else {
            unsigned char a[16];
            size_t alen = kind == MINT_HOST_IPV4 ? 4 : 16;
            unsigned long prefix = alen * 8;
            if (slash) {
                char *end;
                errno = 0;
                prefix = strtoul(slash + 1, &end, 10);
                if (errno || end == slash + 1 || *end || prefix > alen * 8) {
                    diag_set(err, errlen,
                             "mint: permitted range %zu (%s): the prefix length must be 0 to "
                             "%zu",
                             i + 1, norm, alen * 8);
                    rc = -EINVAL;
                    goto out;
                }
            }
            if (inet_pton(kind == MINT_HOST_IPV4 ? AF_INET : AF_INET6, norm, a) != 1 ||
                !(gn = ip_subtree(a, alen, (unsigned)prefix)))
                goto oom;
            any_ip = 1;
        }
        if (!subtree_add(nc->permittedSubtrees, gn))
            goto oom;
    }
    static const unsigned char zero[16];
    if (!(nc->excludedSubtrees = sk_GENERAL_SUBTREE_new_null()) ||
        (!any_ip && (!subtree_add(nc->excludedSubtrees, ip_subtree(zero, 4, 0)) ||
                     !subtree_add(nc->excludedSubtrees, ip_subtree(zero, 16, 0)))) ||
        (!any_dns && !subtree_add(nc->excludedSubtrees, dns_subtree(""))))
        goto oom;
    if (X509_add1_ext_i2d(x, NID_name_constraints, nc, 1, X509V3_ADD_DEFAULT) != 1)
        goto oom;
    rc = 0;
    goto out;
oom:
    rc = tls_fail(err, errlen, "cannot build the CA's name constraints");
out:
    NAME_CONSTRAINTS_free(nc);
    return rc;
}

/* ------------------------------------------------------------ the CA */

static int ca_alloc(size_t cache_max, struct mint_ca **out, char *err, size_t errlen)
{
    struct mint_ca *ca = calloc(1, sizeof *ca);
    if (!ca)
        goto oom;
    ca->cache_max = cache_max ? cache_max : MINT_CACHE_DEFAULT;
    ca->n_buckets = 16;
    while (ca->n_buckets < ca->cache_max * 2 && ca->n_buckets < (1u << 20))
        ca->n_buckets *= 2;
    if (!(ca->buckets = calloc(ca->n_buckets, sizeof *ca->buckets))) {
        free(ca);
        goto oom;
    }
    if (pthread_mutex_init(&ca->mu, NULL) != 0) {
        free(ca->buckets);
        free(ca);
        goto oom;
    }
    *out = ca;
    return 0;
oom:
    diag_set(err, errlen, "mint: out of memory for a CA");
    return -ENOMEM;
}

/* A self-signed CA certificate and its key into ca. */
static int ca_build(struct mint_ca *ca, const struct mint_ca_opts *opts, const char *label,
                    char *err, size_t errlen)
{
    unsigned days = opts->days;
    unsigned char rnd[4];
    char cn[64];
    X509 *x = NULL;
    int rc = MINT_ERR_TLS;

    if (days > 3650) {
        diag_set(err, errlen, "mint: a CA valid %u days is refused; give 1 to 3650 days", days);
        return -EINVAL;
    }
    if (!(ca->key = p256_key()))
        return tls_fail(err, errlen, "cannot make the CA's P-256 key");
    /* A random part in the name, so that two cordon CAs in one bundle are two issuers. */
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return tls_fail(err, errlen, "no random bytes for the CA");
    snprintf(cn, sizeof cn, "cordon %s CA %02x%02x%02x%02x", label, rnd[0], rnd[1], rnd[2], rnd[3]);
    X509_NAME *name;
    if (!(x = X509_new()) || !X509_set_version(x, X509_VERSION_3) || !random_serial(x) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -SKEW_SECONDS) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ||
        !X509_set_pubkey(x, ca->key) || !(name = X509_get_subject_name(x)) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"cordon", -1,
                                    -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) ||
        !X509_set_issuer_name(x, name) ||
        !add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        !add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_ext(x, x, NID_subject_key_identifier, "hash")) {
        rc = tls_fail(err, errlen, "cannot build the CA certificate");
        goto out;
    }
    if (opts->n_permit && (rc = add_name_constraints(x, opts, err, errlen)) != 0)
        goto out;
    if (!X509_sign(x, ca->key, sign_md(ca->key))) {
        rc = tls_fail(err, errlen, "cannot sign the CA certificate");
        goto out;
    }
    ca->cert = x;
    x = NULL; /* transferred */
    ca_learn(ca);
    rc = 0;
out:
    X509_free(x);
    return rc;
}

/* The leaf key, made once per CA. */
static int ca_ready(struct mint_ca *ca, char *err, size_t errlen)
{
    if (!(ca->leaf_key = p256_key()))
        return tls_fail(err, errlen, "cannot make the leaf key");
    return 0;
}

int mint_ca_ephemeral(const struct mint_ca_opts *opts, struct mint_ca **out, char *err,
                      size_t errlen)
{
    struct mint_ca_opts o = opts ? *opts : (struct mint_ca_opts){0};
    struct mint_ca *ca = NULL;
    int rc;
    *out = NULL;
    if (!o.days)
        o.days = EPHEMERAL_DAYS;
    if ((rc = ca_alloc(o.cache_max, &ca, err, errlen)) != 0)
        return rc;
    if ((rc = ca_build(ca, &o, "ephemeral", err, errlen)) != 0 ||
        (rc = ca_ready(ca, err, errlen)) != 0) {
        mint_ca_free(ca);
        return rc;
    }
    *out = ca;
    return 0;
}

static int paths(const char *prefix, char key[PATH_MAX], char pem[PATH_MAX], char *err,
                 size_t errlen)
{
    if (!prefix || !*prefix) {
        diag_set(err, errlen, "mint: no path prefix given; pass one such as /etc/cordon/tls");
        return -EINVAL;
    }
    if (snprintf(key, PATH_MAX, "%s.ca.key", prefix) >= PATH_MAX ||
        snprintf(pem, PATH_MAX, "%s.ca.pem", prefix) >= PATH_MAX) {
        diag_set(err, errlen, "mint: the path prefix is too long (over %d bytes)", PATH_MAX - 8);
        return -ENAMETOOLONG;
    }
    return 0;
}

/*
 * Create path exclusively with mode and write len bytes of buf, synced. The mode given to
 * open applies from the first instant (O_CREAT makes the file with it, under the umask, which
 * can only take bits away); fchmod then sets it exactly.
 */
static int write_new(const char *path, mode_t mode, const void *buf, size_t len, int *made)
{
    int rc, fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
    *made = 0;
    if (fd < 0)
        return -errno;
    *made = 1;
    rc = fchmod(fd, mode) != 0 ? -errno : 0;
    if (rc == 0)
        rc = io_write_all(fd, buf, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

static int write_fail(char *err, size_t errlen, const char *path, int rc)
{
    if (rc == -EEXIST)
        diag_set(err, errlen,
                 "mint: %s already exists; refusing to overwrite a CA: choose another prefix, "
                 "or move the old CA away first",
                 path);
    else
        diag_set(err, errlen, "mint: cannot write %s: %s", path, strerror(-rc));
    return rc;
}

int mint_ca_create(const char *prefix, const struct mint_ca_opts *opts, struct mint_ca **out,
                   char *err, size_t errlen)
{
    struct mint_ca_opts o = opts ? *opts : (struct mint_ca_opts){0};
    char keypath[PATH_MAX], pempath[PATH_MAX];
    struct mint_ca *ca = NULL;
    BIO *kb = NULL;
    BUF_MEM *km = NULL;
    char *pem = NULL;
    size_t pemlen = 0;
    int rc, key_made = 0, pem_made = 0;

    if (out)
        *out = NULL;
    if ((rc = paths(prefix, keypath, pempath, err, errlen)) != 0)
        return rc;
    if (!o.days)
        o.days = MINT_CA_DAYS;
    if ((rc = ca_alloc(o.cache_max, &ca, err, errlen)) != 0)
        return rc;
    if ((rc = ca_build(ca, &o, "deployment", err, errlen)) != 0)
        goto out;
    /* The key's PEM lives only in secure-heap memory that is cleansed when freed. */
    if (!(kb = BIO_new(BIO_s_secmem())) ||
        !PEM_write_bio_PKCS8PrivateKey(kb, ca->key, NULL, NULL, 0, NULL, NULL) ||
        BIO_get_mem_ptr(kb, &km) != 1 || !km) {
        rc = tls_fail(err, errlen, "cannot encode the CA key");
        goto out;
    }
    if ((rc = write_new(keypath, 0600, km->data, km->length, &key_made)) != 0) {
        write_fail(err, errlen, keypath, rc);
        goto out;
    }
    if ((rc = mint_ca_pem(ca, &pem, &pemlen)) != 0) {
        diag_set(err, errlen, "mint: out of memory encoding the CA certificate");
        goto out;
    }
    if ((rc = write_new(pempath, 0644, pem, pemlen, &pem_made)) != 0) {
        write_fail(err, errlen, pempath, rc);
        goto out;
    }
    if (out) {
        if ((rc = ca_ready(ca, err, errlen)) != 0)
            goto out;
        *out = ca;
        ca = NULL; /* transferred */
    }
    rc = 0;
out:
    if (rc != 0 && key_made)
        unlink(keypath);
    if (rc != 0 && pem_made)
        unlink(pempath);
    if (kb) {
        BUF_MEM *m = NULL;
        if (BIO_get_mem_ptr(kb, &m) == 1 && m && m->data)
            OPENSSL_cleanse(m->data, m->max);
        BIO_free(kb);
    }
    free(pem);
    mint_ca_free(ca);
    return rc;
}

int mint_ca_open(const char *prefix, const struct mint_ca_opts *opts, struct mint_ca **out,
                 char *err, size_t errlen)
{
    char keypath[PATH_MAX], pempath[PATH_MAX];
    struct mint_ca *ca = NULL;
    char *kbuf = NULL;
    size_t klen = 0;
    BIO *b = NULL;
    int rc;

    *out = NULL;
    if ((rc = paths(prefix, keypath, pempath, err, errlen)) != 0)
        return rc;
    if ((rc = ca_alloc(opts ? opts->cache_max : 0, &ca, err, errlen)) != 0)
        return rc;
    if (!(b = BIO_new_file(pempath, "r"))) {
        rc = errno ? -errno : -ENOENT;
        ERR_clear_error();
        diag_set(err, errlen,
                 "mint: cannot open the CA certificate %s: %s; create a CA with cordon keygen "
                 "--ca %s",
                 pempath, strerror(-rc), prefix);
        goto out;
    }
    if (!(ca->cert = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        ERR_clear_error();
        rc = MINT_ERR_CA;
        diag_set(err, errlen, "mint: %s holds no PEM certificate", pempath);
        goto out;
    }
    BIO_free(b);
    b = NULL;
    if ((rc = secret_read_file_owned("the CA key", keypath, KEY_FILE_MAX, &kbuf, &klen, err,
                                     errlen)) != 0)
        goto out;
    if (!(b = BIO_new_mem_buf(kbuf, (int)klen)) ||
        !(ca->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL))) {
        ERR_clear_error();
        rc = MINT_ERR_CA;
        diag_set(err, errlen,
                 "mint: the CA key %s holds no unencrypted PEM private key; give the key "
                 "written with %s",
                 keypath, pempath);
        goto out;
    }
    if (X509_check_private_key(ca->cert, ca->key) != 1) {
        ERR_clear_error();
        rc = MINT_ERR_CA;
        diag_set(err, errlen,
                 "mint: the CA key %s is not the key of the certificate %s; give the two "
                 "files of one CA",
                 keypath, pempath);
        goto out;
    }
    if (X509_check_ca(ca->cert) != 1) {
        rc = MINT_ERR_CA;
        diag_set(err, errlen,
                 "mint: %s is not a CA certificate (basicConstraints CA:TRUE and keyUsage "
                 "keyCertSign are needed); create a CA with cordon keygen --ca",
                 pempath);
        goto out;
    }
    ca_learn(ca);
    time_t now = time(NULL);
    if (now < ca->not_before || now >= ca->not_after) {
        char when[32] = "?";
        struct tm tm;
        time_t t = now < ca->not_before ? ca->not_before : ca->not_after;
        if (gmtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        rc = MINT_ERR_EXPIRED;
        diag_set(err, errlen, "mint: the CA %s is %s %s; %s", pempath,
                 now < ca->not_before ? "not valid before" : "expired at", when,
                 now < ca->not_before ? "check the clock"
                                      : "create a new CA with cordon keygen --ca and "
                                        "distribute its certificate");
        goto out;
    }
    if ((rc = ca_ready(ca, err, errlen)) != 0)
        goto out;
    *out = ca;
    ca = NULL; /* transferred */
    rc = 0;
out:
    BIO_free(b); /* before kbuf: a mem BIO over kbuf reads it in place */
    secret_free(kbuf, klen);
    mint_ca_free(ca);
    return rc;
}

static void leaf_free(struct leaf *l)
{
    if (!l)
        return;
    X509_free(l->cert);
    SSL_CTX_free(l->ctx);
    free(l);
}

void mint_ca_free(struct mint_ca *ca)
{
    if (!ca)
        return;
    for (struct leaf *l = ca->head, *n; l; l = n) {
        n = l->next;
        leaf_free(l);
    }
    free(ca->buckets);
    pthread_mutex_destroy(&ca->mu);
    NAME_CONSTRAINTS_free(ca->nc);
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    EVP_PKEY_free(ca->leaf_key);
    free(ca);
}

X509 *mint_ca_cert(const struct mint_ca *ca)
{
    return ca->cert;
}

int mint_ca_pem(const struct mint_ca *ca, char **pem, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long n;
    int rc = -ENOMEM;
    *pem = NULL;
    *len = 0;
    if (!b || !PEM_write_bio_X509(b, ca->cert) || (n = BIO_get_mem_data(b, &data)) <= 0)
        goto out;
    if (!(*pem = malloc((size_t)n + 1)))
        goto out;
    memcpy(*pem, data, (size_t)n);
    (*pem)[n] = '\0';
    *len = (size_t)n;
    rc = 0;
out:
    ERR_clear_error();
    BIO_free(b);
    return rc;
}

void mint_ca_describe(const struct mint_ca *ca, char fp[96], time_t *not_after)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    fp[0] = '\0';
    if (X509_digest(ca->cert, EVP_sha256(), md, &n) == 1 && n == 32) {
        for (unsigned i = 0; i < 32; i++) {
            fp[3 * i] = hex[md[i] >> 4];
            fp[3 * i + 1] = hex[md[i] & 15];
            fp[3 * i + 2] = ':';
        }
        fp[95] = '\0';
    }
    if (not_after)
        *not_after = ca->not_after;
}

int mint_ca_write_bundle(const struct mint_ca *ca, const char *system_bundle, const char *path,
                         char *err, size_t errlen)
{
    char tmp[PATH_MAX], *pem = NULL, chunk[16384];
    size_t pemlen = 0;
    int rc, made = 0, fd = -1, sys = -1;

    if (!system_bundle)
        system_bundle = MINT_SYSTEM_BUNDLE;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        diag_set(err, errlen, "mint: the bundle path %s is too long", path);
        return -ENAMETOOLONG;
    }
    if ((rc = mint_ca_pem(ca, &pem, &pemlen)) != 0) {
        diag_set(err, errlen, "mint: out of memory encoding the CA certificate");
        return rc;
    }
    /* O_NONBLOCK: a FIFO in the store's place must not hang cordond; a regular file ignores
     * it. */
    sys = open(system_bundle, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (sys < 0 && errno != ENOENT) {
        rc = -errno;
        diag_set(err, errlen, "mint: cannot read the system CAs %s: %s", system_bundle,
                 strerror(errno));
        goto out;
    }
    struct stat st;
    if (sys >= 0 && (fstat(sys, &st) != 0 || !S_ISREG(st.st_mode))) {
        rc = -EINVAL;
        diag_set(err, errlen,
                 "mint: the system CAs %s are not a regular file; give the bundle file "
                 "itself (on Debian /etc/ssl/certs/ca-certificates.crt)",
                 system_bundle);
        goto out;
    }
    unlink(tmp); /* a leftover of a crash; O_EXCL below refuses anything put back */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
    if (fd < 0) {
        rc = -errno;
        diag_set(err, errlen, "mint: cannot write the CA bundle %s: %s", tmp, strerror(errno));
        goto out;
    }
    made = 1;
    int last_nl = 1;
    while (sys >= 0) {
        ssize_t n = read(sys, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            diag_set(err, errlen, "mint: cannot read the system CAs %s: %s", system_bundle,
                     strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        last_nl = chunk[n - 1] == '\n';
        if ((rc = io_write_all(fd, chunk, (size_t)n)) != 0)
            goto wfail;
    }
    if ((!last_nl && (rc = io_write_all(fd, "\n", 1)) != 0) ||
        (rc = io_write_all(fd, pem, pemlen)) != 0)
        goto wfail;
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        rc = -errno;
        goto wfail;
    }
    rc = close(fd) != 0 ? -errno : 0;
    fd = -1;
    if (rc != 0)
        goto wfail;
    if (rename(tmp, path) != 0) {
        rc = -errno;
        goto wfail;
    }
    made = 0;
    rc = 0;
    goto out;
wfail:
    diag_set(err, errlen, "mint: cannot write the CA bundle %s: %s", path, strerror(-rc));
out:
    if (fd >= 0)
        close(fd);
    if (sys >= 0)
        close(sys);
    if (made)
        unlink(tmp);
    free(pem);
    return rc;
}

/* ------------------------------------------------------------ leaves */

static X509 *leaf_make(struct mint_ca *ca, const char *host, enum mint_host_kind kind, time_t now,
                       time_t *not_after, char *err, size_t errlen)
{
    char san[MINT_HOST_MAX + 8];
    X509 *x = NULL;
    X509_NAME *name;
    time_t nb = now - SKEW_SECONDS, na = now + (time_t)MINT_LEAF_DAYS * 86400;

    if (nb < ca->not_before)
        nb = ca->not_before;
    if (na > ca->not_after)
        na = ca->not_after;
    snprintf(san, sizeof san, "%s:%s", kind == MINT_HOST_DNS ? "DNS" : "IP", host);
    /* The subject's CN is at most 64 bytes (RFC 5280 ub-common-name); a longer name is in
     * the SAN alone, which then must be critical. */
    size_t hl = strlen(host);
    if (!(x = X509_new()) || !X509_set_version(x, X509_VERSION_3) || !random_serial(x) ||
        !X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &nb) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &na) || !X509_set_pubkey(x, ca->leaf_key) ||
        !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
        !(name = X509_get_subject_name(x)) ||
        (hl <= 64 && !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                 (const unsigned char *)host, -1, -1, 0))) {
        tls_fail(err, errlen, "cannot build a leaf certificate");
        goto fail;
    }
    char sanv[MINT_HOST_MAX + 20];
    snprintf(sanv, sizeof sanv, "%s%s", hl <= 64 ? "" : "critical,", san);
    if (!add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth") ||
        !add_ext(x, ca->cert, NID_subject_alt_name, sanv) ||
        !add_ext(x, ca->cert, NID_subject_key_identifier, "hash") ||
        /* "keyid,issuer": a supplied CA without a subject key identifier is named by issuer and
         * serial instead. */
        !add_ext(x, ca->cert, NID_authority_key_identifier, "keyid,issuer")) {
        tls_fail(err, errlen, "cannot build a leaf certificate's extensions");
        goto fail;
    }
    if (!X509_sign(x, ca->key, sign_md(ca->key))) {
        tls_fail(err, errlen, "cannot sign a leaf certificate");
        goto fail;
    }
    *not_after = na;
    return x;
fail:
    X509_free(x);
    return NULL;
}

static SSL_CTX *ctx_make(struct mint_ca *ca, X509 *cert, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, ca->leaf_key) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        tls_fail(err, errlen, "cannot make a server TLS context");
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* A renegotiation would let a client start a second handshake the tunnel never sees. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    /* OpenSSL keeps up to 20,480 sessions per context by default; with a context per host
     * that bound times the cache's would be no bound. Tickets resume past it. */
    SSL_CTX_sess_set_cache_size(ctx, MINT_SESSIONS_PER_HOST);
    return ctx;
}

static size_t bucket_of(const struct mint_ca *ca, const char *host)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *host; host++) {
        h ^= (unsigned char)*host;
        h *= 0x100000001b3ull;
    }
    return (size_t)(h & (ca->n_buckets - 1));
}

/* Under ca->mu. */
static void lru_unlink(struct mint_ca *ca, struct leaf *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        ca->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        ca->tail = l->prev;
    l->prev = l->next = NULL;
}

static void lru_push(struct mint_ca *ca, struct leaf *l)
{
    l->prev = NULL;
    l->next = ca->head;
    if (ca->head)
        ca->head->prev = l;
    ca->head = l;
    if (!ca->tail)
        ca->tail = l;
}

static struct leaf *find(struct mint_ca *ca, const char *host, size_t b)
{
    for (struct leaf *l = ca->buckets[b]; l; l = l->hnext)
        if (strcmp(l->host, host) == 0)
            return l;
    return NULL;
}

static void drop(struct mint_ca *ca, struct leaf *l)
{
    struct leaf **pp = &ca->buckets[bucket_of(ca, l->host)];
    while (*pp != l)
        pp = &(*pp)->hnext;
    *pp = l->hnext;
    lru_unlink(ca, l);
    ca->cached--;
    leaf_free(l);
}

/* The leaf for host, cached or minted: new references to its certificate and context. */
static int get(struct mint_ca *ca, const char *host_in, X509 **cert, SSL_CTX **ctx, char *err,
               size_t errlen)
{
    char host[MINT_HOST_MAX + 1];
    enum mint_host_kind kind;
    struct leaf *l, *fresh = NULL;
    time_t now = time(NULL);
    int rc;

    if ((rc = mint_host_normalize(host_in, strlen(host_in), host, &kind, err, errlen)) != 0)
        return rc;
    if (now >= ca->not_after || now < ca->not_before) {
        diag_set(err, errlen,
                 "mint: the CA is not valid now, so no certificate is minted for %s; create "
                 "a new CA with cordon keygen --ca",
                 host);
        return MINT_ERR_EXPIRED;
    }
    size_t b = bucket_of(ca, host);
    pthread_mutex_lock(&ca->mu);
    l = find(ca, host, b);
    if (l && now < l->refresh_at) {
        lru_unlink(ca, l);
        lru_push(ca, l);
        ca->hits++;
        goto hand_out;
    }
    pthread_mutex_unlock(&ca->mu);

    /* Mint outside the lock: a signature, and for a context an SSL_CTX. */
    if (!(fresh = calloc(1, sizeof *fresh))) {
        diag_set(err, errlen, "mint: out of memory minting for %s", host);
        return -ENOMEM;
    }
    memcpy(fresh->host, host, sizeof host);
    time_t na;
    if (!(fresh->cert = leaf_make(ca, host, kind, now, &na, err, errlen))) {
        leaf_free(fresh);
        return MINT_ERR_TLS;
    }
    /* X509_check_purpose fills the certificate's cached SANs, which the check reads. */
    if (ca->nc && (X509_check_purpose(fresh->cert, -1, 0) != 1 ||
                   NAME_CONSTRAINTS_check(fresh->cert, ca->nc) != X509_V_OK)) {
        diag_set(err, errlen,
                 "mint: the CA's name constraints do not permit %s, so clients would refuse "
                 "its certificate; name it when creating the CA (cordon keygen --ca --permit)",
                 host);
        leaf_free(fresh);
        return MINT_ERR_NAME;
    }
    if (!(fresh->ctx = ctx_make(ca, fresh->cert, err, errlen))) {
        leaf_free(fresh);
        return MINT_ERR_TLS;
    }
    fresh->refresh_at = now + (na - now) / 2;

    pthread_mutex_lock(&ca->mu);
    ca->mints++;
    l = find(ca, host, b);
    if (l && now < l->refresh_at) { /* another thread was quicker: keep one leaf per host */
        leaf_free(fresh);
        lru_unlink(ca, l);
        lru_push(ca, l);
        goto hand_out;
    }
    if (l)
        drop(ca, l);
    while (ca->cached >= ca->cache_max && ca->tail) {
        drop(ca, ca->tail);
        ca->evictions++;
    }
    l = fresh;
    l->hnext = ca->buckets[b];
    ca->buckets[b] = l;
    lru_push(ca, l);
    ca->cached++;
hand_out:
    if (cert) {
        X509_up_ref(l->cert);
        *cert = l->cert;
    }
    if (ctx) {
        SSL_CTX_up_ref(l->ctx);
        *ctx = l->ctx;
    }
    pthread_mutex_unlock(&ca->mu);
    return 0;
}

int mint_leaf(struct mint_ca *ca, const char *host, X509 **cert, EVP_PKEY **key, char *err,
              size_t errlen)
{
    if (cert)
        *cert = NULL;
    if (key)
        *key = NULL;
    int rc = get(ca, host, cert, NULL, err, errlen);
    if (rc == 0 && key) {
        EVP_PKEY_up_ref(ca->leaf_key);
        *key = ca->leaf_key;
    }
    return rc;
}

int mint_server_ctx(struct mint_ca *ca, const char *host, SSL_CTX **ctx, char *err, size_t errlen)
{
    *ctx = NULL;
    return get(ca, host, NULL, ctx, err, errlen);
}

void mint_stats(struct mint_ca *ca, struct mint_stats *out)
{
    pthread_mutex_lock(&ca->mu);
    out->cached = ca->cached;
    out->cache_max = ca->cache_max;
    out->hits = ca->hits;
    out->mints = ca->mints;
    out->evictions = ca->evictions;
    pthread_mutex_unlock(&ca->mu);
}
