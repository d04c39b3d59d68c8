/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cordon keygen`, `cordon sign` and `cordon verify`: Ed25519 keys and the DSSE envelopes
 * that carry signed policies; `cordon keygen --ca`, the deployment CA cordond mints TLS
 * certificates from (policy/server/mint.h).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/sign/envelope.h"
#include "policy/sign/key.h"
#include "policy/policy.h"
#include "policy/server/mint.h"
#include "tools/cli.h"

/* ---------------------------------------------------------------- keygen */

/* `cordon keygen --ca PREFIX [--permit NAME]... [--days N]` */
static int keygen_ca(const char *prefix, const char *const *permit, size_t n_permit,
                     const char *days_s)
{
    struct mint_ca_opts o = {.permit = permit, .n_permit = n_permit};
    struct mint_ca *ca = NULL;
    char err[1024], fp[96], until[32] = "?";
    time_t end = 0;
    struct tm tm;

    if (days_s) {
        char *e;
        errno = 0;
        unsigned long d = strtoul(days_s, &e, 10);
        if (errno || e == days_s || *e || days_s[0] == '-' || d < 1 || d > 3650)
            return cli_usage_error(&cmd_keygen, "--days %s: expected a whole number from 1 to 3650",
                                   days_s);
        o.days = (unsigned)d;
    }
    int rc = mint_ca_create(prefix, &o, &ca, err, sizeof err);
    if (rc != 0) {
        cli_error("keygen", "%s", err);
        return CLI_USAGE;
    }
    mint_ca_describe(ca, fp, &end);
    if (gmtime_r(&end, &tm))
        strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("wrote %s.ca.key (private, mode 0600) and %s.ca.pem (CA certificate, valid until "
           "%s)\nSHA-256 fingerprint %s\n",
           prefix, prefix, until, fp);
    mint_ca_free(ca);
    return CLI_OK;
}

static int run_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"ca", no_argument, NULL, 'c'},
                                         {"permit", required_argument, NULL, 'p'},
                                         {"days", required_argument, NULL, 'd'},
                                         {0, 0, 0, 0}};
    const char *permit[MINT_PERMIT_MAX], *days_s = NULL;
    size_t n_permit = 0;
    char id[KEY_ID_HEX + 1], err[512];
    int c, ca = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            ca = 1;
            break;
        case 'p':
            if (n_permit == MINT_PERMIT_MAX)
                return cli_usage_error(&cmd_keygen, "--permit: at most %d names", MINT_PERMIT_MAX);
            permit[n_permit++] = optarg;
            break;
        case 'd':
            days_s = optarg;
            break;
        default:
            return cli_usage_error(&cmd_keygen, "unknown option");
        }
    }
    if (optind != argc - 1 || argv[optind][0] == '-')
        return cli_usage_error(&cmd_keygen, "name exactly one PREFIX");
    if (!ca && (n_permit || days_s))
        return cli_usage_error(&cmd_keygen, "--permit and --days are for a CA: add --ca");
    if (ca)
        return keygen_ca(argv[optind], permit, n_permit, days_s);
    int rc = key_generate(argv[optind], id, err, sizeof err);
    if (rc != 0) {
        cli_error("keygen", "%s", err);
        return CLI_USAGE;
    }
    printf("wrote %s.key (private, mode 0600) and %s.pub (key id %s)\n", argv[optind], argv[optind],
           id);
    return CLI_OK;
}

const struct cli_command cmd_keygen = {
    "keygen",
    "create an Ed25519 signing key pair, or a deployment CA",
    "usage: cordon keygen PREFIX\n"
    "       cordon keygen --ca [--permit NAME]... [--days N] PREFIX\n"
    "\n"
    "Write a new Ed25519 key pair: PREFIX.key (the private key, mode 0600) and PREFIX.pub\n"
    "(the public key to pin in CORDON_TRUST or pass to --trust). Existing files are never\n"
    "overwritten. The formats are specified in docs/PROTOCOL.md.\n"
    "\n"
    "With --ca, write a deployment CA instead: PREFIX.ca.key (its EC P-256 private key, mode\n"
    "0600, for cordond alone) and PREFIX.ca.pem (the self-signed CA certificate that governed\n"
    "clients trust), from which cordond mints a certificate for each host whose TLS it\n"
    "terminates. Keep the key in cordond's state directory: whoever holds it can impersonate\n"
    "any host to a client that trusts the certificate (docs/SECURITY.md).\n"
    "\n"
    "  --ca           write a deployment CA, not a signing key\n"
    "  --permit NAME  the CA may only vouch for NAME and the names under it (a DNS name), or\n"
    "                 for an address or range (10.0.0.0/8, fd00::/8): X.509 name constraints;\n"
    "                 repeat for several (at most 32). With names only, no address is\n"
    "                 permitted; with addresses only, no name. Default: no constraint.\n"
    "  --days N       how long the CA is valid, 1 to 3650 days (default 365)\n"
    "\n"
    "Exit status: 0 written, 2 usage error or the files could not be written.\n",
    run_keygen,
};

/* ---------------------------------------------------------------- sign */

static int run_sign(int argc, char **argv)
{
    static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                         {"version", required_argument, NULL, 'v'},
                                         {"expires", required_argument, NULL, 'e'},
                                         {0, 0, 0, 0}};
    const char *key_path = NULL, *version_s = NULL, *expires_s = "7d";
    char *buf = NULL, *env = NULL, err[512];
    size_t len = 0;
    struct key_secret *k = NULL;
    struct policy *p = NULL;
    struct diag *d = NULL;
    int c, rc = CLI_USAGE;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key_path = optarg;
            break;
        case 'v':
            version_s = optarg;
            break;
        case 'e':
            expires_s = optarg;
            break;
        default:
            return cli_usage_error(&cmd_sign, "unknown option");
        }
    }
    if (!key_path)
        return cli_usage_error(&cmd_sign, "--key is required");
    if (optind != argc - 1)
        return cli_usage_error(&cmd_sign, "name exactly one policy file");

    time_t now = time(NULL), ttl;
    struct envelope_stamp st = {.version = (uint64_t)now, .issued_at = now};
    if (envelope_parse_duration(expires_s, &ttl) != 0)
        return cli_usage_error(&cmd_sign,
                               "--expires %s: expected a duration such as 90s, 30m, "
                               "24h or 7d",
                               expires_s);
    st.expires_at = now + ttl;
    if (version_s) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(version_s, &end, 10);
        if (errno || *end || end == version_s || v < 1 || v > 9007199254740991ULL ||
            version_s[0] == '-')
            return cli_usage_error(&cmd_sign,
                                   "--version %s: expected a whole number from 1 to "
                                   "2^53-1",
                                   version_s);
        st.version = v;
    }

    if (!(d = malloc(sizeof *d)))
        goto out;
    diag_init(d);
    int e = cli_read_file(argv[optind], POLICY_MAX_BYTES, &buf, &len);
    if (e != 0) {
        rc = e == -EFBIG ? CLI_FAIL : CLI_USAGE; /* too large is an invalid policy */
        goto out;
    }
    /* Never sign what would not load: the shim would refuse it anyway, far from here. */
    rc = cli_compile_policy(buf, len, NULL, 1, &p, d);
    if (rc != CLI_OK) {
        cli_print_diag(stderr, argv[optind], d);
        cli_error("sign", "%s is not a valid policy; nothing was signed", argv[optind]);
        goto out;
    }
    rc = CLI_USAGE;
    if (key_secret_load(key_path, &k, err, sizeof err) != 0) {
        cli_error("sign", "%s", err);
        goto out;
    }
    if (envelope_sign(buf, len, &st, k, &env, err, sizeof err) != 0) {
        cli_error("sign", "%s", err);
        rc = CLI_FAIL;
        goto out;
    }
    if (printf("%s\n", env) < 0 || fflush(stdout) != 0) {
        cli_error("sign", "cannot write the envelope: %s", strerror(errno));
        goto out;
    }
    char exp[32];
    envelope_format_time(st.expires_at, exp, sizeof exp);
    fprintf(stderr, "signed policy for agent \"%s\": version %" PRIu64 ", expires %s, key %s\n",
            p->agent, st.version, exp, key_secret_id(k));
    rc = CLI_OK;
out:
    key_secret_free(k);
    policy_free(p);
    free(env);
    free(buf);
    free(d);
    return rc;
}

const struct cli_command cmd_sign = {
    "sign",
    "validate a policy and wrap it in a signed DSSE envelope",
    "usage: cordon sign --key PREFIX.key [--version N] [--expires DURATION] POLICY.json\n"
    "\n"
    "Validate the policy (as `cordon policy check` does), stamp it with version, issued_at\n"
    "and expires_at, and write a DSSE envelope (payloadType\n"
    "application/vnd.cordon.policy+json, Ed25519) to standard output.\n"
    "\n"
    "  --key FILE          the private key written by `cordon keygen` (must be mode 0600)\n"
    "  --version N         the policy version, 1 to 2^53-1 (default: the current Unix time,\n"
    "                      so that a later signature always carries a higher version; shims\n"
    "                      refuse a version lower than one they have seen)\n"
    "  --expires DURATION  how long the envelope is valid: 90s, 30m, 24h, 7d (default 7d)\n"
    "\n"
    "Exit status: 0 signed, 1 the policy is invalid, 2 usage error or unreadable key.\n",
    run_sign,
};

/* ---------------------------------------------------------------- verify */

static int run_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"trust", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'}, {0, 0, 0, 0}};
    const char *trust_path = NULL;
    char *buf = NULL, *payload = NULL, err[768] = "", keyid[KEY_ID_HEX + 1] = "";
    size_t len = 0, plen = 0;
    struct envelope_stamp st = {0};
    struct key_trust trust;
    struct policy *p = NULL;
    struct diag *d = NULL;
    int c, json = 0, rc = CLI_USAGE;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            trust_path = optarg;
            break;
        case 'j':
            json = 1;
            break;
        default:
            return cli_usage_error(&cmd_verify, "unknown option");
        }
    }
    if (!trust_path)
        return cli_usage_error(&cmd_verify, "--trust is required: name the public key the "
                                            "envelope must be signed with");
    if (optind != argc - 1)
        return cli_usage_error(&cmd_verify, "name exactly one envelope file");
    if (!(d = malloc(sizeof *d)))
        goto out;
    diag_init(d);
    if (key_trust_load(trust_path, &trust, err, sizeof err) != 0) {
        cli_error("verify", "%s", err);
        goto out;
    }
    int e = cli_read_file(argv[optind], DSSE_MAX_ENVELOPE, &buf, &len);
    if (e != 0) {
        rc = e == -EFBIG ? CLI_FAIL : CLI_USAGE; /* too large is an invalid envelope */
        goto out;
    }
    rc = CLI_FAIL;
    if (envelope_verify(buf, len, &trust, time(NULL), &payload, &plen, &st, keyid, err,
                        sizeof err) != 0)
        goto report;
    /* A valid signature over an invalid policy is still not a policy anyone can run. */
    if (cli_compile_policy(payload, plen, NULL, 0, &p, d) != CLI_OK) {
        char line[DIAG_PATH_MAX + DIAG_MSG_MAX + 4] = "";
        diag_format(d, 0, line, sizeof line);
        snprintf(err, sizeof err,
                 "the signature is valid but the payload is not a valid "
                 "policy (%zu errors, first: %s)",
                 diag_total(d), line);
        goto report;
    }
    rc = CLI_OK;
report:
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", argv[optind]);
        cJSON_AddBoolToObject(o, "valid", rc == CLI_OK);
        if (rc == CLI_OK) {
            cJSON_AddStringToObject(o, "keyid", keyid);
            cJSON_AddStringToObject(o, "agent", p->agent);
            cJSON_AddNumberToObject(o, "version", (double)st.version);
            char t[32];
            envelope_format_time(st.issued_at, t, sizeof t);
            cJSON_AddStringToObject(o, "issued_at", t);
            envelope_format_time(st.expires_at, t, sizeof t);
            cJSON_AddStringToObject(o, "expires_at", t);
            cJSON_AddItemToObject(o, "payload", cJSON_ParseWithLength(payload, plen));
        } else {
            cJSON_AddStringToObject(o, "error", err);
        }
        char *s = cJSON_Print(o);
        if (s)
            puts(s);
        free(s);
        cJSON_Delete(o);
    } else if (rc == CLI_OK) {
        cJSON *o = cJSON_ParseWithLength(payload, plen);
        char *s = o ? cJSON_Print(o) : NULL;
        if (s)
            puts(s);
        free(s);
        cJSON_Delete(o);
        fprintf(stderr, "valid: agent \"%s\", version %" PRIu64 ", signed by key %s\n", p->agent,
                st.version, keyid);
    } else {
        cli_error("verify", "%s: %s", argv[optind], err);
    }
out:
    policy_free(p);
    free(payload);
    free(buf);
    free(d);
    return rc;
}

const struct cli_command cmd_verify = {
    "verify",
    "verify a signed policy envelope and print its payload",
    "usage: cordon verify --trust PREFIX.pub [--json] ENVELOPE.json\n"
    "\n"
    "Verify the DSSE envelope strictly: the payload type, a signature by a key in the trust\n"
    "file, every trusted signature valid, the stamp (version, issued_at, expires_at) present\n"
    "and current, and the payload a valid policy. Print the payload on success.\n"
    "\n"
    "  --trust FILE   public key(s) written by `cordon keygen`; one key a line\n"
    "  --json         print {\"valid\", \"keyid\", \"agent\", \"version\", \"issued_at\",\n"
    "                 \"expires_at\", \"payload\"} or {\"valid\": false, \"error\"}\n"
    "\n"
    "Exit status: 0 valid, 1 invalid (the reason is printed), 2 usage error.\n",
    run_verify,
};
