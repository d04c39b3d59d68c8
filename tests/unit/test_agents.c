/* SPDX-License-Identifier: Apache-2.0 */
/* Agent keys: creation, lookup, revocation, the keys file and the server secret. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/server/agents.h"

static char dir[64], keys[128], secret[128], err[1024];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/cordon-agents-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(keys, sizeof keys, "%s/agents", dir);
    snprintf(secret, sizeof secret, "%s/server.secret", dir);
}

static void teardown(void)
{
    unlink(keys);
    unlink(secret);
    rmdir(dir);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

TestSuite(agents, .init = setup, .fini = teardown);

Test(agents, add_check_revoke_persist)
{
    struct agents *a;
    char key[AGENTS_KEY_LEN + 1], id[AGENTS_ID_LEN + 1], name[AGENTS_NAME_MAX + 1];
    cr_assert_eq(agents_open(keys, secret, &a, err, sizeof err), 0, "%s", err);
    struct stat st;
    cr_assert_eq(stat(secret, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(agents_add(a, "claims-agent", key, id, err, sizeof err), 0, "%s", err);
    cr_assert_eq(strlen(key), 46);
    cr_assert_eq(strncmp(key, "ck_", 3), 0);
    cr_assert_eq(strncmp(id, "ak_", 3), 0);
    cr_assert_eq(agents_check(a, key, name, NULL), AGENTS_OK);
    cr_assert_str_eq(name, "claims-agent");

    /* the file holds the HMAC, never the key */
    char *text = slurp(keys);
    cr_assert_null(strstr(text, key + 3));
    cr_assert_not_null(strstr(text, id));
    free(text);

    /* a neighbour key differing in one character is unknown */
    char other[AGENTS_KEY_LEN + 1];
    memcpy(other, key, sizeof other);
    other[10] = other[10] == 'A' ? 'B' : 'A';
    cr_assert_eq(agents_check(a, other, NULL, NULL), AGENTS_ERR_UNKNOWN);
    cr_assert_eq(agents_check(a, "ck_short", NULL, NULL), AGENTS_ERR_MALFORMED);
    cr_assert_eq(agents_check(a, "", NULL, NULL), AGENTS_ERR_MALFORMED);
    cr_assert_eq(agents_check(a, "ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", NULL, NULL),
                 AGENTS_ERR_MALFORMED);

    size_t n;
    cr_assert_eq(agents_revoke(a, id, &n, err, sizeof err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(agents_check(a, key, NULL, NULL), AGENTS_ERR_REVOKED);
    cr_assert_eq(agents_revoke(a, id, &n, err, sizeof err), 0);
    cr_assert_eq(n, 0, "revoking twice revokes nothing");
    agents_free(a);

    /* a restart reads the same state back with the same secret */
    cr_assert_eq(agents_open(keys, secret, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(agents_check(a, key, NULL, NULL), AGENTS_ERR_REVOKED);
    char key2[AGENTS_KEY_LEN + 1];
    cr_assert_eq(agents_add(a, "b", key2, NULL, err, sizeof err), 0);
    cr_assert_eq(agents_add(a, "b", key, NULL, err, sizeof err), 0);
    cr_assert_eq(agents_revoke(a, "b", &n, err, sizeof err), 0);
    cr_assert_eq(n, 2, "revoke by name takes every live key");
    char *list = agents_list_json(a);
    cr_assert_not_null(strstr(list, "\"agent\":\"claims-agent\""));
    free(list);
    agents_free(a);
}

Test(agents, revocations_tell_holders_to_look_again)
{
    struct agents *a;
    char k1[AGENTS_KEY_LEN + 1], k2[AGENTS_KEY_LEN + 1], id1[AGENTS_ID_LEN + 1],
        id2[AGENTS_ID_LEN + 1];
    cr_assert_eq(agents_open(keys, secret, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(agents_add(a, "web", k1, id1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(agents_add(a, "web", k2, id2, err, sizeof err), 0, "%s", err);
    uint64_t g0 = agents_revocations(a);
    cr_assert(agents_id_live(a, id1));
    cr_assert(agents_id_live(a, id2));
    cr_assert_not(agents_id_live(a, "ak_0000000000000000"), "an unknown id is not live");
    size_t n;
    cr_assert_eq(agents_revoke(a, "nobody", &n, err, sizeof err), 0);
    cr_assert_eq(agents_revocations(a), g0, "a revoke that revoked nothing changes nothing");
    cr_assert_eq(agents_revoke(a, id2, &n, err, sizeof err), 0);
    cr_assert_eq(agents_revocations(a), g0 + 1);
    cr_assert(agents_id_live(a, id1), "the agent's other key stays live");
    cr_assert_not(agents_id_live(a, id2));
    cr_assert_eq(agents_revoke(a, "web", &n, err, sizeof err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(agents_revocations(a), g0 + 2);
    cr_assert_not(agents_id_live(a, id1));
    agents_free(a);
}

Test(agents, ephemeral_key_is_not_written)
{
    struct agents *a;
    cr_assert_eq(agents_open(keys, secret, &a, err, sizeof err), 0, "%s", err);
    const char *k = "ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    cr_assert_eq(agents_add_ephemeral(a, "solo", k, err, sizeof err), 0, "%s", err);
    cr_assert_eq(agents_check(a, k, NULL, NULL), AGENTS_OK);
    cr_assert_neq(agents_add_ephemeral(a, "solo", "ck_nope", err, sizeof err), 0);
    char key[AGENTS_KEY_LEN + 1];
    cr_assert_eq(agents_add(a, "other", key, NULL, err, sizeof err), 0);
    char *text = slurp(keys);
    cr_assert_null(strstr(text, "solo"));
    free(text);
    cr_assert_neq(agents_add(a, "../x", key, NULL, err, sizeof err), 0);
    cr_assert_neq(agents_add(a, "", key, NULL, err, sizeof err), 0);
    agents_free(a);
}

Test(agents, secret_with_loose_mode_refused)
{
    int fd = open(secret, O_WRONLY | O_CREAT, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "0123456789abcdef0123456789abcdef", 32), 32);
    fchmod(fd, 0644);
    close(fd);
    struct agents *a = NULL;
    cr_assert_eq(agents_open(keys, secret, &a, err, sizeof err), -EPERM);
    cr_assert(strstr(err, "chmod 600"), "%s", err);
    chmod(secret, 0600);
    truncate(secret, 31);
    cr_assert_neq(agents_open(keys, secret, &a, err, sizeof err), 0);
    cr_assert(strstr(err, "32-byte"), "%s", err);
}

Test(agents, a_secret_ending_in_a_newline_keeps_its_32_bytes)
{
    /* random bytes end in '\n' or '\r' now and then: none of them may be dropped */
    int fd = open(secret, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "0123456789abcdef0123456789abc\r\n\n", 32), 32);
    close(fd);
    struct agents *a = NULL;
    char key[AGENTS_KEY_LEN + 1];
    cr_assert_eq(agents_open(keys, secret, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(agents_add(a, "web", key, NULL, err, sizeof err), 0, "%s", err);
    agents_free(a);
    cr_assert_eq(agents_open(keys, secret, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(agents_check(a, key, NULL, NULL), AGENTS_OK);
    agents_free(a);
}

Test(agents, a_symlinked_secret_is_refused)
{
    char target[160];
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    int fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "0123456789abcdef0123456789abcdef", 32), 32);
    close(fd);
    cr_assert_eq(symlink(target, secret), 0);
    struct agents *a = NULL;
    cr_assert_eq(agents_open(keys, secret, &a, err, sizeof err), -ELOOP);
    cr_assert(strstr(err, "symbolic link"), "%s", err);
    cr_assert_null(a);
    unlink(target);
}

Test(agents, status_codes_are_not_errno_values)
{
    const int codes[] = {AGENTS_ERR_MALFORMED, AGENTS_ERR_UNKNOWN, AGENTS_ERR_REVOKED};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        cr_assert(codes[i] < 0 && !err_is_errno(codes[i]), "%d overlaps errno", codes[i]);
        cr_assert(codes[i] < ERR_BLOCK_AGENTS && codes[i] > ERR_BLOCK_AGENTS - 100);
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(codes[i], codes[j]);
    }
    cr_assert(strstr(agents_strerror(AGENTS_ERR_MALFORMED), "ck_"));
    cr_assert(strstr(agents_strerror(AGENTS_ERR_UNKNOWN), "no agent"));
    cr_assert(strstr(agents_strerror(AGENTS_ERR_REVOKED), "revoked"));
    cr_assert_str_eq(agents_strerror(-ENOENT), strerror(ENOENT));
    cr_assert_str_eq(agents_strerror(ERR_BLOCK_AGENTS - 99), "unknown agents status");
}

static int open_with(const char *text)
{
    FILE *f = fopen(keys, "w");
    fputs(text, f);
    fclose(f);
    struct agents *a = NULL;
    err[0] = '\0';
    int rc = agents_open(keys, secret, &a, err, sizeof err);
    agents_free(a);
    return rc;
}

#define HMAC "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

Test(agents, hostile_keys_files)
{
    cr_assert_eq(open_with("# header\n\nak_0123456789abcdef a " HMAC " 1795872711 -\n"), 0, "%s",
                 err);
    cr_assert_neq(open_with("ak_0123456789abcdef a " HMAC " 1795872711\n"), 0);
    cr_assert(strstr(err, ":1: expected 5 fields"), "%s", err);
    cr_assert_neq(open_with("#\nak_0123456789ABCDEF a " HMAC " 1 -\n"), 0);
    cr_assert(strstr(err, ":2: KEY_ID"), "%s", err);
    cr_assert_neq(open_with("ak_0123456789abcdef ../a " HMAC " 1 -\n"), 0);
    cr_assert_neq(open_with("ak_0123456789abcdef a 0011 1 -\n"), 0);
    cr_assert_neq(open_with("ak_0123456789abcdef a " HMAC " -5 -\n"), 0);
    cr_assert_neq(open_with("ak_0123456789abcdef a " HMAC " 1 x\n"), 0);
    cr_assert_neq(open_with("ak_0123456789abcdef a " HMAC " 1 - extra\n"), 0);
    cr_assert_neq(open_with("ak_0123456789abcdef a " HMAC " 1 -\n"
                            "ak_0123456789abcdef b " HMAC " 1 -\n"),
                  0);
    cr_assert(strstr(err, "appears twice"), "%s", err);
    char *long_line = malloc(4096);
    memset(long_line, 'a', 4095);
    long_line[4095] = '\0';
    cr_assert_neq(open_with(long_line), 0);
    cr_assert(strstr(err, "longer than"), "%s", err);
    free(long_line);

    struct agents *a;
    cr_assert_eq(agents_open(NULL, NULL, &a, err, sizeof err), 0);
    cr_assert_neq(agents_parse(a, "x\0y", 3, err, sizeof err), 0);
    cr_assert(strstr(err, "NUL"), "%s", err);
    agents_free(a);
}
