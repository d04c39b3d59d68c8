/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key files as a user meets them: cordon keygen writes a pair it will not overwrite, with a
 * private key nobody else can read; loading refuses a key others can read, and every damaged
 * key or trust line is refused with a message naming the line and the fault. The fixed key
 * in tests/data/dsse is RFC 8032's TEST 1 key, so its signature is checked against the RFC.
 */
#include <criterion/criterion.h>
#include "tests/unit/support.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "policy/sign/key.h"

#define GOLDEN_ID "21fe31dfa154a261"
#define GOLDEN_PK_B64 "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define GOLDEN_SEED_B64 "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="

#define assert_has(text, phrase)                                                                   \
    cr_assert(strstr((text), (phrase)) != NULL, "expected \"%s\" in the message: %s", (phrase),    \
              (text))

static char tmpdir[PATH_MAX];

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cordon-test-key-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
    remove_tree(tmpdir);
}

static void tmp_path(char *buf, size_t len, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", tmpdir, name);
    cr_assert(n > 0 && (size_t)n < len, "temporary path too long");
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    cr_assert(fd >= 0, "cannot create %s", path);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
}

static mode_t file_mode(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
    return st.st_mode & 07777;
}

static void id_of(const unsigned char pk[32], char id[KEY_ID_HEX + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, pk, 32);
    sodium_bin2hex(id, KEY_ID_HEX + 1, h, 8);
}

/* A well-formed public key line for a fresh random key. */
static void fresh_pub_line(char *buf, size_t len)
{
    unsigned char pk[32], sk[64];
    char id[KEY_ID_HEX + 1], b64[64];

    crypto_sign_keypair(pk, sk);
    id_of(pk, id);
    sodium_bin2base64(b64, sizeof b64, pk, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(buf, len, "cordon-ed25519 %s %s\n", id, b64);
}

static int load_text_as_key(const char *text, struct key_secret **k, char *err, size_t errlen)
{
    char path[PATH_MAX];

    tmp_path(path, sizeof path, "k.key");
    unlink(path);
    write_file(path, text, strlen(text), 0600);
    return key_secret_load(path, k, err, errlen);
}

TestSuite(key, .init = setup, .fini = teardown);

Test(key, generate_then_load_round_trip)
{
    char prefix[PATH_MAX], keypath[PATH_MAX], pubpath[PATH_MAX], id[KEY_ID_HEX + 1];
    char err[512] = "";
    struct key_secret *k = NULL;
    struct key_trust trust;
    unsigned char sig[64];
    const unsigned char msg[] = "policy bytes";

    tmp_path(prefix, sizeof prefix, "signer");
    cr_assert_eq(key_generate(prefix, id, err, sizeof err), 0, "%s", err);
    cr_assert_eq(strlen(id), KEY_ID_HEX);
    tmp_path(keypath, sizeof keypath, "signer.key");
    tmp_path(pubpath, sizeof pubpath, "signer.pub");

    cr_assert_eq(key_secret_load(keypath, &k, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(key_secret_id(k), id);
    cr_assert_eq(key_trust_load(pubpath, &trust, err, sizeof err), 0, "%s", err);
    cr_assert_eq(trust.n, 1);
    cr_assert_str_eq(trust.keys[0].id, id);

    /* What the private key signs, the public key verifies. */
    key_secret_sign(k, msg, sizeof msg, sig);
    cr_assert_eq(crypto_sign_verify_detached(sig, msg, sizeof msg, trust.keys[0].pk), 0);
    key_secret_free(k);
}

Test(key, generated_files_have_the_documented_form)
{
    char prefix[PATH_MAX], path[PATH_MAX], id[KEY_ID_HEX + 1], want[KEY_ID_HEX + 1];
    char err[512] = "", line[256];
    struct key_trust trust;
    char *text;
    size_t len;

    tmp_path(prefix, sizeof prefix, "form");
    cr_assert_eq(key_generate(prefix, id, err, sizeof err), 0, "%s", err);

    tmp_path(path, sizeof path, "form.key");
    text = read_file(path, &len);
    snprintf(line, sizeof line, "cordon-ed25519-private %s ", id);
    cr_assert_eq(strncmp(text, line, strlen(line)), 0, "%s", text);
    cr_assert_eq(len, strlen(line) + 44 + 1, "one line: prefix, 44 base64 chars, newline");
    cr_assert_eq(text[len - 1], '\n');
    sodium_memzero(text, len);
    free(text);

    tmp_path(path, sizeof path, "form.pub");
    text = read_file(path, &len);
    snprintf(line, sizeof line, "cordon-ed25519 %s ", id);
    cr_assert_eq(strncmp(text, line, strlen(line)), 0, "%s", text);
    cr_assert_eq(key_trust_parse(text, len, &trust, err, sizeof err), 0, "%s", err);
    /* The key id is the first 8 bytes of SHA-256 over the public key, in lowercase hex. */
    id_of(trust.keys[0].pk, want);
    cr_assert_str_eq(id, want);
    free(text);
}

Test(key, private_key_is_written_0600_whatever_the_umask)
{
    char prefix[PATH_MAX], path[PATH_MAX], err[512] = "";
    mode_t old = umask(0);

    tmp_path(prefix, sizeof prefix, "umask0");
    cr_assert_eq(key_generate(prefix, NULL, err, sizeof err), 0, "%s", err);
    umask(077);
    tmp_path(prefix, sizeof prefix, "umask077");
    cr_assert_eq(key_generate(prefix, NULL, err, sizeof err), 0, "%s", err);
    umask(old);

    tmp_path(path, sizeof path, "umask0.key");
    cr_assert_eq(file_mode(path), 0600, "mode %o", file_mode(path));
    tmp_path(path, sizeof path, "umask0.pub");
    cr_assert_eq(file_mode(path), 0644, "mode %o", file_mode(path));
    tmp_path(path, sizeof path, "umask077.key");
    cr_assert_eq(file_mode(path), 0600, "mode %o", file_mode(path));
    tmp_path(path, sizeof path, "umask077.pub");
    cr_assert_eq(file_mode(path), 0644, "mode %o", file_mode(path));
}

Test(key, generate_refuses_to_overwrite_an_existing_pair)
{
    char prefix[PATH_MAX], path[PATH_MAX], err[512] = "";
    char *before_key, *before_pub, *after;

    tmp_path(prefix, sizeof prefix, "twice");
    cr_assert_eq(key_generate(prefix, NULL, err, sizeof err), 0, "%s", err);
    tmp_path(path, sizeof path, "twice.key");
    before_key = read_file(path, NULL);
    tmp_path(path, sizeof path, "twice.pub");
    before_pub = read_file(path, NULL);

    cr_assert_eq(key_generate(prefix, NULL, err, sizeof err), -EEXIST);
    assert_has(err, "already exists");
    assert_has(err, "twice.key");

    tmp_path(path, sizeof path, "twice.key");
    after = read_file(path, NULL);
    cr_assert_str_eq(after, before_key, "the old private key must survive");
    free(after);
    tmp_path(path, sizeof path, "twice.pub");
    after = read_file(path, NULL);
    cr_assert_str_eq(after, before_pub);
    free(after);
    free(before_key);
    free(before_pub);
}

Test(key, generate_refuses_an_existing_pub_and_leaves_no_key_behind)
{
    char prefix[PATH_MAX], path[PATH_MAX], err[512] = "";
    char *after;

    tmp_path(path, sizeof path, "half.pub");
    write_file(path, "someone else's key\n", 19, 0644);
    tmp_path(prefix, sizeof prefix, "half");
    cr_assert_eq(key_generate(prefix, NULL, err, sizeof err), -EEXIST);
    assert_has(err, "half.pub");
    assert_has(err, "refusing to overwrite");

    tmp_path(path, sizeof path, "half.key");
    cr_assert_neq(access(path, F_OK), 0, "the .key written before the failure must be removed");
    tmp_path(path, sizeof path, "half.pub");
    after = read_file(path, NULL);
    cr_assert_str_eq(after, "someone else's key\n");
    free(after);
}

Test(key, load_refuses_a_key_open_to_group_or_others)
{
    static const mode_t modes[] = {0644, 0640, 0604, 0620, 0602, 0610, 0601, 0660};
    char prefix[PATH_MAX], path[PATH_MAX], err[512] = "";
    struct key_secret *k = NULL;
    size_t i;

    tmp_path(prefix, sizeof prefix, "open");
    cr_assert_eq(key_generate(prefix, NULL, err, sizeof err), 0, "%s", err);
    tmp_path(path, sizeof path, "open.key");
    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char want[PATH_MAX + 16];

        cr_assert_eq(chmod(path, modes[i]), 0);
        cr_assert_eq(key_secret_load(path, &k, err, sizeof err), -EPERM, "mode %o", modes[i]);
        cr_assert_null(k);
        snprintf(want, sizeof want, "chmod 600 %s", path);
        assert_has(err, want);
    }
    /* Owner-only read is enough. */
    cr_assert_eq(chmod(path, 0400), 0);
    cr_assert_eq(key_secret_load(path, &k, err, sizeof err), 0, "%s", err);
    key_secret_free(k);
}

Test(key, fixed_key_loads_and_signs_as_rfc8032_says)
{
    /* RFC 8032 section 7.1 TEST 1: the signature of the empty message under this seed. */
    static const char want_hex[] =
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e"
        "39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
    char *text, err[512] = "", got_hex[129];
    struct key_secret *k = NULL;
    unsigned char sig[64];

    text = read_file(CORDON_TEST_DATA "/dsse/test.key", NULL);
    /* git keeps no mode bits but x: the checked-in copy is 0644, so load a 0600 copy. */
    cr_assert_eq(load_text_as_key(text, &k, err, sizeof err), 0, "%s", err);
    free(text);
    cr_assert_str_eq(key_secret_id(k), GOLDEN_ID);
    key_secret_sign(k, (const unsigned char *)"", 0, sig);
    sodium_bin2hex(got_hex, sizeof got_hex, sig, sizeof sig);
    cr_assert_str_eq(got_hex, want_hex);
    key_secret_free(k);
}

Test(key, load_reports_a_missing_file)
{
    char path[PATH_MAX], err[512] = "";
    struct key_secret *k = NULL;

    tmp_path(path, sizeof path, "absent.key");
    cr_assert_eq(key_secret_load(path, &k, err, sizeof err), -ENOENT);
    cr_assert_null(k);
    assert_has(err, "cannot open");
    assert_has(err, "absent.key");
}

struct bad_secret {
    const char *text;
    const char *phrase;
};

Test(key, load_refuses_every_malformed_private_key)
{
    const struct bad_secret cases[] = {
        {"", "empty"},
        {"\n", "empty"},
        {"cordon-ed448-private " GOLDEN_ID " " GOLDEN_SEED_B64 "\n", "not a cordon private key"},
        {"cordon-ed25519 " GOLDEN_ID " " GOLDEN_PK_B64 "\n", "public key"},
        {"cordon-ed25519-private " GOLDEN_ID " nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\n",
         "not valid base64"},
        {"cordon-ed25519-private " GOLDEN_ID " nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyu!2A=\n",
         "not valid base64"},
        /* 31 bytes, then 16 bytes: well-formed base64 of the wrong length */
        {"cordon-ed25519-private " GOLDEN_ID " nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyufw==\n",
         "decodes to 31 bytes, expected 32"},
        {"cordon-ed25519-private " GOLDEN_ID " AAAAAAAAAAAAAAAAAAAAAA==\n", "decodes to 16 bytes"},
        {"cordon-ed25519-private 21fe31dfa154a262 " GOLDEN_SEED_B64 "\n", "does not match"},
        {"cordon-ed25519-private 21FE31DFA154A261 " GOLDEN_SEED_B64 "\n", "lowercase hex"},
        {"cordon-ed25519-private 21fe31 " GOLDEN_SEED_B64 "\n", "lowercase hex"},
        {"cordon-ed25519-private " GOLDEN_ID "\n", "missing"},
        {"cordon-ed25519-private " GOLDEN_ID " " GOLDEN_SEED_B64 " comment\n", "unexpected text"},
        {"cordon-ed25519-private " GOLDEN_ID " " GOLDEN_SEED_B64 "\n\n", "single line"},
        {"cordon-ed25519-private " GOLDEN_ID "  " GOLDEN_SEED_B64 "\n", "unexpected text"},
    };
    struct key_secret *k = NULL;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";

        cr_assert_eq(load_text_as_key(cases[i].text, &k, err, sizeof err), -EINVAL,
                     "case %zu should fail: %s", i, cases[i].text);
        cr_assert_null(k);
        assert_has(err, cases[i].phrase);
        assert_has(err, "k.key");
        /* The seed must never be echoed into a message that may reach a log. */
        cr_assert_null(strstr(err, "nWGxne"), "case %zu leaks the seed: %s", i, err);
    }
}

Test(key, load_accepts_the_exact_form_and_crlf)
{
    struct key_secret *k = NULL;
    char err[512] = "";

    cr_assert_eq(load_text_as_key("cordon-ed25519-private " GOLDEN_ID " " GOLDEN_SEED_B64, &k, err,
                                  sizeof err),
                 0, "no final newline: %s", err);
    key_secret_free(k);
    cr_assert_eq(load_text_as_key("cordon-ed25519-private " GOLDEN_ID " " GOLDEN_SEED_B64 "\r\n",
                                  &k, err, sizeof err),
                 0, "CRLF: %s", err);
    cr_assert_str_eq(key_secret_id(k), GOLDEN_ID);
    key_secret_free(k);
}

Test(key, load_refuses_an_oversized_file)
{
    char text[1024];
    struct key_secret *k = NULL;
    char err[512] = "";

    memset(text, 'A', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    cr_assert_eq(load_text_as_key(text, &k, err, sizeof err), -EINVAL);
    assert_has(err, "not a cordon private key");
}

Test(key, trust_parses_keys_comments_blank_lines_and_crlf)
{
    char a[256], b[256], text[1024], err[512] = "";
    struct key_trust t;
    const struct key_public *kp;

    fresh_pub_line(a, sizeof a);
    fresh_pub_line(b, sizeof b);
    a[strlen(a) - 1] = '\0'; /* the comment goes after the key, on the same line */
    snprintf(text, sizeof text,
             "# cordon trust file\n"
             "\n"
             "%s current signer, 2026\r\n"
             "   \t\n"
             "#%s"
             "cordon-ed25519 " GOLDEN_ID " " GOLDEN_PK_B64,
             a, b);
    cr_assert_eq(key_trust_parse(text, strlen(text), &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.n, 2, "the commented-out key must not count");
    kp = key_trust_find(&t, GOLDEN_ID);
    cr_assert_not_null(kp);
    cr_assert_str_eq(kp->id, GOLDEN_ID);
    cr_assert_null(key_trust_find(&t, "0000000000000000"));
    cr_assert_null(key_trust_find(&t, ""));
}

Test(key, trust_counts_a_repeated_key_once)
{
    const char text[] = "cordon-ed25519 " GOLDEN_ID " " GOLDEN_PK_B64 "\n"
                        "cordon-ed25519 " GOLDEN_ID " " GOLDEN_PK_B64 " again\n";
    char err[512] = "";
    struct key_trust t;

    cr_assert_eq(key_trust_parse(text, strlen(text), &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.n, 1);
}

struct bad_trust {
    const char *text;
    const char *phrase;
};

Test(key, trust_refuses_every_malformed_line)
{
    const struct bad_trust cases[] = {
        {"ssh-ed25519 " GOLDEN_ID " " GOLDEN_PK_B64 "\n", "expected a line"},
        {"cordon-ed25519\n", "missing"},
        {"cordon-ed25519 " GOLDEN_ID "\n", "missing"},
        {"cordon-ed25519 " GOLDEN_ID " 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo\n",
         "not valid base64"},
        {"cordon-ed25519 " GOLDEN_ID " 11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n",
         "not valid base64"},
        {"cordon-ed25519 " GOLDEN_ID " AAAAAAAAAAAAAAAAAAAAAA==\n", "decodes to 16 bytes"},
        {"cordon-ed25519 " GOLDEN_ID " 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoA\n",
         "decodes to 33 bytes"},
        {"cordon-ed25519 0123456789abcdef " GOLDEN_PK_B64 "\n", "does not match"},
        {"cordon-ed25519 21FE31DFA154A261 " GOLDEN_PK_B64 "\n", "lowercase hex"},
        {"cordon-ed25519  " GOLDEN_ID " " GOLDEN_PK_B64 "\n", "lowercase hex"},
        {" cordon-ed25519 " GOLDEN_ID " " GOLDEN_PK_B64 "\n", "expected a line"},
        {"", "no public key"},
        {"\n\n# only comments\n   \n", "no public key"},
    };
    struct key_trust t;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";

        cr_assert_eq(key_trust_parse(cases[i].text, strlen(cases[i].text), &t, err, sizeof err),
                     -EINVAL, "case %zu should fail: %s", i, cases[i].text);
        cr_assert_eq(t.n, 0, "no partial result on failure");
        assert_has(err, cases[i].phrase);
    }
}

Test(key, trust_error_names_the_line)
{
    const char text[] = "# rotation in progress\n"
                        "cordon-ed25519 " GOLDEN_ID " " GOLDEN_PK_B64 "\n"
                        "cordon-ed25519 0123456789abcdef " GOLDEN_PK_B64 "\n";
    char err[512] = "";
    struct key_trust t;

    cr_assert_eq(key_trust_parse(text, strlen(text), &t, err, sizeof err), -EINVAL);
    assert_has(err, "line 3");
    assert_has(err, "0123456789abcdef does not match the key, whose id is " GOLDEN_ID);
}

Test(key, trust_refuses_a_private_key_without_echoing_it)
{
    const char text[] = "cordon-ed25519-private " GOLDEN_ID " " GOLDEN_SEED_B64 "\n";
    char err[512] = "";
    struct key_trust t;

    cr_assert_eq(key_trust_parse(text, strlen(text), &t, err, sizeof err), -EINVAL);
    assert_has(err, "private key");
    assert_has(err, ".pub");
    cr_assert_null(strstr(err, "nWGxne"), "the seed leaked: %s", err);
}

Test(key, trust_holds_at_most_16_keys)
{
    char text[8192] = "", line[256], err[512] = "";
    struct key_trust t;
    int i;

    for (i = 0; i < KEY_TRUST_MAX; i++) {
        fresh_pub_line(line, sizeof line);
        strncat(text, line, sizeof text - strlen(text) - 1);
    }
    cr_assert_eq(key_trust_parse(text, strlen(text), &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(t.n, KEY_TRUST_MAX);

    fresh_pub_line(line, sizeof line);
    strncat(text, line, sizeof text - strlen(text) - 1);
    cr_assert_eq(key_trust_parse(text, strlen(text), &t, err, sizeof err), -EINVAL);
    assert_has(err, "more than 16 keys");
    assert_has(err, "line 17");
}

Test(key, trust_refuses_a_nul_byte)
{
    const char text[] = "cordon-ed25519 " GOLDEN_ID " " GOLDEN_PK_B64 "\n\0garbage";
    char err[512] = "";
    struct key_trust t;

    cr_assert_eq(key_trust_parse(text, sizeof text - 1, &t, err, sizeof err), -EINVAL);
    assert_has(err, "NUL");
}

Test(key, trust_load_reads_the_checked_in_pub_and_reports_a_missing_file)
{
    char path[PATH_MAX], err[512] = "";
    struct key_trust t;

    cr_assert_eq(key_trust_load(CORDON_TEST_DATA "/dsse/test.pub", &t, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(t.n, 1);
    cr_assert_str_eq(t.keys[0].id, GOLDEN_ID);

    tmp_path(path, sizeof path, "nothing.pub");
    cr_assert_eq(key_trust_load(path, &t, err, sizeof err), -ENOENT);
    assert_has(err, "cannot open");
    assert_has(err, "nothing.pub");

    /* A damaged file's message names the file and the line. */
    tmp_path(path, sizeof path, "bad.pub");
    write_file(path, "\n\ncordon-ed25519 zz\n", 20, 0644);
    cr_assert_eq(key_trust_load(path, &t, err, sizeof err), -EINVAL);
    assert_has(err, "bad.pub: line 3");
}

/* A symbolic link planted where the key should be is refused, not followed: the key is read
 * through the one private-file reader (base/secret.h). */
Test(key, load_refuses_a_symlink_in_place_of_the_key)
{
    char prefix[PATH_MAX], path[PATH_MAX], link[PATH_MAX], err[512] = "";
    struct key_secret *k = NULL;

    tmp_path(prefix, sizeof prefix, "real");
    cr_assert_eq(key_generate(prefix, NULL, err, sizeof err), 0, "%s", err);
    tmp_path(path, sizeof path, "real.key");
    tmp_path(link, sizeof link, "link.key");
    cr_assert_eq(symlink(path, link), 0);
    cr_assert_eq(key_secret_load(link, &k, err, sizeof err), -ELOOP, "%s", err);
    cr_assert_null(k);
    assert_has(err, "symbolic link");
    assert_has(err, "link.key");
    cr_assert_eq(key_secret_load(path, &k, err, sizeof err), 0, "%s", err);
    key_secret_free(k);
}
