/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The deployment CA and the certificates cordond mints from it, so that it can terminate TLS
 * for a host the policy names (issue 17, `tls: terminate`). A CA is an EC P-256 key and a
 * self-signed certificate (CA:TRUE, pathlen:0, keyCertSign and cRLSign, valid MINT_CA_DAYS),
 * either written to PREFIX.ca.pem and PREFIX.ca.key by `cordon keygen --ca` and opened by
 * cordond, or made in memory for one run (the embedded default). The CA may carry name
 * constraints: then it can only vouch for the names it was created for, whoever holds its key.
 *
 * A leaf is minted per host on demand: SAN dNSName or iPAddress, EKU serverAuth, CA:FALSE, a
 * random 128-bit serial, valid MINT_LEAF_DAYS (never past the CA). Every leaf of one CA shares
 * one EC P-256 key, made when the CA is opened and never written anywhere: minting is then a
 * single signature, and the key adds nothing a thief of cordond's memory would not already
 * have with the CA key next to it. Leaves are cached in memory per host, at most `cache_max`
 * of them, least recently used first out; every function here may be called from any thread.
 *
 * Key material is wiped: the CA key file is read into a buffer that is wiped (base/secret.h),
 * the PEM written out passes through a secure-heap BIO that is cleansed, and mint_ca_free
 * frees the keys with EVP_PKEY_free (OpenSSL clears a freed EC private key).
 *
 * Errors: 0, a negative errno (-EEXIST a file to write exists, -EPERM a key file that group
 * or others can read or that another user owns, -ENOENT), or a MINT_ERR_* code named by
 * mint_strerror(); err always gets the sentence for a person.
 */
#ifndef CORDON_SERVER_MINT_H
#define CORDON_SERVER_MINT_H

#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/err.h"

#define MINT_ERR_HOST (ERR_BLOCK_MINT - 1)    /* not a host name a certificate can name */
#define MINT_ERR_CA (ERR_BLOCK_MINT - 2)      /* the CA files are not a usable CA */
#define MINT_ERR_EXPIRED (ERR_BLOCK_MINT - 3) /* the CA is not valid now */
#define MINT_ERR_NAME (ERR_BLOCK_MINT - 4)    /* outside the CA's name constraints */
#define MINT_ERR_TLS (ERR_BLOCK_MINT - 5)     /* OpenSSL failed (its reason is in err) */

#define MINT_HOST_MAX 253       /* bytes of a normalized name (RFC 1035), NUL excluded */
#define MINT_CA_DAYS 365        /* a created CA's validity */
#define MINT_LEAF_DAYS 7        /* a leaf's validity, cut at the CA's end */
#define MINT_CACHE_DEFAULT 1024 /* leaves kept when cache_max is 0 */
#define MINT_PERMIT_MAX 32      /* name constraints one CA may carry */

/* What a normalized host is: the SAN type its leaf carries. */
enum mint_host_kind { MINT_HOST_DNS = 1, MINT_HOST_IPV4, MINT_HOST_IPV6 };

struct mint_ca; /* opaque: CA certificate and key, the leaf key, the leaf cache */

struct mint_ca_opts {
    /* Names the CA may vouch for (X.509 name constraints, permitted subtrees): "corp.example"
     * permits it and every name under it, "10.0.0.0/8" or "fd00::/8" an address range, a bare
     * address that address. NULL or n_permit 0: no constraint. With DNS names only, every IP
     * address is excluded, so that the CA cannot be used for an address either. */
    const char *const *permit;
    size_t n_permit;
    unsigned days;    /* validity, 1 to 3650; 0: MINT_CA_DAYS */
    size_t cache_max; /* leaves cached; 0: MINT_CACHE_DEFAULT */
};

/* The meaning of a MINT_ERR_* code or a negative errno. */
const char *mint_strerror(int rc);

/*
 * Normalize host (len bytes, not NUL-terminated) into out (MINT_HOST_MAX + 1 bytes): a DNS
 * name lowercased with one trailing dot dropped, an IPv4 address in dotted-quad form, an IPv6
 * address (brackets accepted) in its RFC 5952 form. Refused with MINT_ERR_HOST and err set:
 * empty, a NUL or any byte outside letters, digits, '-' and '.', a wildcard, an empty label
 * ("a..b"), a label over 63 bytes or starting or ending with '-', a name over 253 bytes, a
 * last label of digits only (what some resolvers read as an address: "10.1"), an IPv6 zone.
 * *kind (may be NULL) gets what it is. Pure: no allocation, safe on hostile input.
 */
__attribute__((warn_unused_result)) int mint_host_normalize(const char *host, size_t len,
                                                            char out[MINT_HOST_MAX + 1],
                                                            enum mint_host_kind *kind, char *err,
                                                            size_t errlen);

/*
 * Create a CA and write it: PREFIX.ca.key first (PKCS#8 PEM, created O_EXCL with mode 0600,
 * so it is never readable by others even for a moment), then PREFIX.ca.pem (0644). Refuses
 * to overwrite either file (-EEXIST); on any failure neither file is left behind. opts may be
 * NULL. When out is not NULL it receives the CA, opened (mint_ca_free).
 */
__attribute__((warn_unused_result)) int mint_ca_create(const char *prefix,
                                                       const struct mint_ca_opts *opts,
                                                       struct mint_ca **out, char *err,
                                                       size_t errlen);

/*
 * Open the CA at PREFIX.ca.pem and PREFIX.ca.key. The key file must be a regular file owned
 * by the caller's effective user and mode 0600 or stricter (-EPERM otherwise, with the fix);
 * the certificate must be a CA certificate (MINT_ERR_CA), match the key (MINT_ERR_CA) and be
 * valid now (MINT_ERR_EXPIRED). opts: only cache_max is read (may be NULL).
 */
__attribute__((warn_unused_result)) int mint_ca_open(const char *prefix,
                                                     const struct mint_ca_opts *opts,
                                                     struct mint_ca **out, char *err,
                                                     size_t errlen);

/* A CA in memory only, for one run: nothing is written. opts as for mint_ca_create. */
__attribute__((warn_unused_result)) int
mint_ca_ephemeral(const struct mint_ca_opts *opts, struct mint_ca **out, char *err, size_t errlen);

/* Free ca, its keys and every cached leaf. Leaves and SSL_CTXs handed out stay valid (each
 * holds its own references). NULL is accepted. */
void mint_ca_free(struct mint_ca *ca);

/* The CA certificate (borrowed: valid while ca is). */
X509 *mint_ca_cert(const struct mint_ca *ca);

/* The CA certificate in PEM, NUL-terminated, into a malloc'd *pem (free it), *len its
 * length. Returns 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int mint_ca_pem(const struct mint_ca *ca, char **pem,
                                                    size_t *len);

/* The SHA-256 fingerprint of the CA certificate as colon-separated uppercase hex (95
 * characters and the NUL), and the end of its validity. */
void mint_ca_describe(const struct mint_ca *ca, char fp[96], time_t *not_after);

/*
 * Write the CA bundle a governed process trusts (SSL_CERT_FILE and its kin): the system's
 * CAs (the file system_bundle, or MINT_SYSTEM_BUNDLE when NULL; skipped when it does not
 * exist) followed by this CA's certificate, to path atomically (PATH.tmp, mode 0644, renamed
 * over path). Returns 0 or a negative errno with err set.
 */
#define MINT_SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
__attribute__((warn_unused_result)) int mint_ca_write_bundle(const struct mint_ca *ca,
                                                             const char *system_bundle,
                                                             const char *path, char *err,
                                                             size_t errlen);

/*
 * The leaf for host (NUL-terminated, normalized here first), from the cache or minted now.
 * On success *cert and *key are new references the caller frees (X509_free, EVP_PKEY_free),
 * ready for SSL_CTX_use_certificate / SSL_CTX_use_PrivateKey or their SSL_ forms; either may
 * be NULL when not wanted. Errors: MINT_ERR_HOST, MINT_ERR_NAME (the CA's name constraints
 * do not permit host), MINT_ERR_EXPIRED, MINT_ERR_TLS, -ENOMEM.
 */
__attribute__((warn_unused_result)) int mint_leaf(struct mint_ca *ca, const char *host, X509 **cert,
                                                  EVP_PKEY **key, char *err, size_t errlen);

/*
 * A server SSL_CTX for host (TLS 1.2 and later, the leaf and its key loaded and checked),
 * cached with the leaf, so that a tunnel makes SSL_new(ctx) per connection and nothing more.
 * *ctx is a new reference: SSL_CTX_free it when done (an SSL made from it holds its own).
 * Renegotiation is refused; at most 256 sessions per host are cached (tickets resume past
 * that). The context does not look at the ClientHello: a caller that took host from a
 * CONNECT line decides what an SNI naming another host means. Errors as mint_leaf.
 *
 * Cost, for the tunnel's planning (one core of the 2-core development machine): a new host
 * is a signature and an SSL_CTX_new, about 0.5 ms; a cached one is a lookup under the mutex,
 * well under a microsecond.
 */
__attribute__((warn_unused_result)) int mint_server_ctx(struct mint_ca *ca, const char *host,
                                                        SSL_CTX **ctx, char *err, size_t errlen);

/* Counters of ca's cache, for /metrics and the tests. */
struct mint_stats {
    size_t cached;           /* leaves in the cache now */
    size_t cache_max;        /* its bound */
    unsigned long hits;      /* mint_leaf / mint_server_ctx answered from the cache */
    unsigned long mints;     /* leaves minted */
    unsigned long evictions; /* leaves dropped to stay within the bound */
};
void mint_stats(struct mint_ca *ca, struct mint_stats *out);

#endif
