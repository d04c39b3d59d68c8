/* SPDX-License-Identifier: Apache-2.0 */
/* Session tokens (policy/server/sessions.h): mint, check, and every way a token is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "policy/data/data_vault.h"
#include "policy/server/sessions.h"

static struct agents *a;
static struct sessions *ss;
static char err[1024], kid[AGENTS_ID_LEN + 1];
static const char *sid = "0123456789abcdef0123456789abcdef";

static void open_with_ttl(int64_t ttl)
{
    cr_assert_eq(agents_open(NULL, NULL, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(agents_add_ephemeral(a, "bob", "ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                      err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(agents_check(a, "ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, kid),
                 AGENTS_OK);
    cr_assert_eq(sessions_new(a, ttl, &ss), 0);
}

static void setup(void)
{
    open_with_ttl(0);
}

static void teardown(void)
{
    sessions_free(ss);
    agents_free(a);
    ss = NULL;
    a = NULL;
}

TestSuite(sessions, .init = setup, .fini = teardown);

Test(sessions, mint_and_check)
{
    char tok[SESSIONS_TOKEN_LEN + 1], id[SESSIONS_ID_LEN + 1], id2[SESSIONS_ID_LEN + 1];
    cr_assert_eq(sessions_mint(ss, "bob", kid, sid, NULL, tok, id), 0);
    cr_assert_eq(strlen(tok), SESSIONS_TOKEN_LEN);
    cr_assert_eq(strncmp(tok, "cs_", 3), 0);
    for (const char *c = tok + 3; *c; c++)
        cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *c));
    cr_assert_eq(strncmp(id, "st_", 3), 0);
    cr_assert_eq(strlen(id), SESSIONS_ID_LEN);
    cr_assert_null(strstr(id, tok + 3), "the id reveals nothing of the token");
    sessions_token_id(tok, id2);
    cr_assert_str_eq(id, id2);
    struct session_bind b;
    cr_assert_eq(sessions_check(ss, tok, &b), AGENTS_OK);
    cr_assert_str_eq(b.agent, "bob");
    cr_assert_str_eq(b.key_id, kid);
    cr_assert_str_eq(b.session, sid);
    /* Two mints never give the same token. */
    char tok2[SESSIONS_TOKEN_LEN + 1];
    cr_assert_eq(sessions_mint(ss, "bob", kid, sid, NULL, tok2, NULL), 0);
    cr_assert_str_neq(tok, tok2);
    cr_assert_eq(sessions_check(ss, tok2, &b), AGENTS_OK);
}

Test(sessions, forged)
{
    char tok[SESSIONS_TOKEN_LEN + 1];
    cr_assert_eq(sessions_mint(ss, "bob", kid, sid, NULL, tok, NULL), 0);
    struct session_bind b;
    /* A well-formed token never minted. */
    cr_assert_eq(sessions_check(ss, "cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &b),
                 AGENTS_ERR_UNKNOWN);
    cr_assert_str_eq(b.agent, "");
    /* The id of a real token with its MAC changed (last characters flipped). */
    char f[SESSIONS_TOKEN_LEN + 1];
    memcpy(f, tok, sizeof f);
    f[SESSIONS_TOKEN_LEN - 2] = f[SESSIONS_TOKEN_LEN - 2] == 'A' ? 'B' : 'A';
    cr_assert_eq(sessions_check(ss, f, &b), AGENTS_ERR_UNKNOWN);
    cr_assert_str_eq(b.agent, "");
    /* A token minted by another cordond (another secret) is not known here, even with the
     * same id: recompute from another table sharing nothing. */
    struct agents *a2;
    struct sessions *s2;
    cr_assert_eq(agents_open(NULL, NULL, &a2, err, sizeof err), 0);
    cr_assert_eq(sessions_new(a2, 0, &s2), 0);
    char other[SESSIONS_TOKEN_LEN + 1];
    cr_assert_eq(sessions_mint(s2, "bob", kid, sid, NULL, other, NULL), 0);
    cr_assert_eq(sessions_check(ss, other, &b), AGENTS_ERR_UNKNOWN);
    sessions_free(s2);
    agents_free(a2);
    /* An agent key is not a session token. */
    cr_assert_eq(sessions_check(ss, "ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &b),
                 AGENTS_ERR_MALFORMED);
}

Test(sessions, expired)
{
    teardown(); /* again with a TTL of 30 ms */
    open_with_ttl(30);
    char tok[SESSIONS_TOKEN_LEN + 1];
    cr_assert_eq(sessions_mint(ss, "bob", kid, sid, NULL, tok, NULL), 0);
    struct session_bind b;
    cr_assert_eq(sessions_check(ss, tok, &b), AGENTS_OK);
    struct timespec t = {0, 60 * 1000 * 1000};
    nanosleep(&t, NULL);
    cr_assert_eq(sessions_check(ss, tok, &b), AGENTS_ERR_REVOKED);
    cr_assert_str_eq(b.agent, "bob", "a refusal is recorded against its agent");
    /* Long past its TTL the table forgets it: unknown. */
    nanosleep(&t, NULL);
    char tok2[SESSIONS_TOKEN_LEN + 1];
    cr_assert_eq(sessions_mint(ss, "bob", kid, sid, NULL, tok2, NULL), 0); /* purges */
    cr_assert_eq(sessions_check(ss, tok, &b), AGENTS_ERR_UNKNOWN);
    cr_assert_eq(sessions_check(ss, tok2, &b), AGENTS_OK);
}

Test(sessions, revoked_by_session_end)
{
    char tok[SESSIONS_TOKEN_LEN + 1], other[SESSIONS_TOKEN_LEN + 1];
    cr_assert_eq(sessions_mint(ss, "bob", kid, sid, NULL, tok, NULL), 0);
    cr_assert_eq(
        sessions_mint(ss, "bob", kid, "ffffffffffffffffffffffffffffffff", NULL, other, NULL), 0);
    cr_assert_eq(sessions_end(ss, sid), 1);
    struct session_bind b;
    cr_assert_eq(sessions_check(ss, tok, &b), AGENTS_ERR_REVOKED);
    cr_assert_str_eq(b.session, sid);
    cr_assert_eq(sessions_check(ss, other, &b), AGENTS_OK, "another session lives on");
    cr_assert_eq(sessions_end(ss, sid), 0);
}

Test(sessions, a_nested_root_ends_with_its_tree)
{
    /* A process of the tree that became a root again gets a token of its own session,
     * minted under the tree's: the tree's end ends both. */
    const char *inner = "abababababababababababababababab";
    char outer_tok[SESSIONS_TOKEN_LEN + 1], inner_tok[SESSIONS_TOKEN_LEN + 1];
    cr_assert_eq(sessions_mint(ss, "bob", kid, sid, NULL, outer_tok, NULL), 0);
    cr_assert_eq(sessions_mint(ss, "bob", kid, inner, sid, inner_tok, NULL), 0);
    struct session_bind b;
    cr_assert_eq(sessions_check(ss, inner_tok, &b), AGENTS_OK);
    cr_assert_str_eq(b.session, inner);
    cr_assert_eq(sessions_end(ss, sid), 2);
    cr_assert_eq(sessions_check(ss, inner_tok, &b), AGENTS_ERR_REVOKED);
    cr_assert_eq(sessions_check(ss, outer_tok, &b), AGENTS_ERR_REVOKED);
}

Test(sessions, revoked_with_its_key)
{
    char tok[SESSIONS_TOKEN_LEN + 1];
    cr_assert_eq(sessions_mint(ss, "bob", kid, sid, NULL, tok, NULL), 0);
    size_t n = 0;
    cr_assert_eq(agents_revoke(a, "bob", &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 1);
    struct session_bind b;
    cr_assert_eq(sessions_check(ss, tok, &b), AGENTS_ERR_REVOKED);
    cr_assert_str_eq(b.key_id, kid);
}

Test(sessions, malformed)
{
    const char *bad[] = {"",
                         "cs_",
                         "cs_short",
                         "CS_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", /* not url-safe */
                         "cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                         "cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ",
                         NULL};
    struct session_bind b;
    for (size_t i = 0; bad[i]; i++)
        cr_assert_eq(sessions_check(ss, bad[i], &b), AGENTS_ERR_MALFORMED, "%s", bad[i]);
    cr_assert_eq(sessions_check(ss, NULL, &b), AGENTS_ERR_MALFORMED);
    /* Bindings out of bounds are refused at mint. */
    char tok[SESSIONS_TOKEN_LEN + 1];
    cr_assert_eq(sessions_mint(ss, "", kid, sid, NULL, tok, NULL), -EINVAL);
    cr_assert_eq(sessions_mint(ss, "bob", kid, "", NULL, tok, NULL), -EINVAL);
    cr_assert_str_eq(tok, "");
}

Test(sessions, oversized)
{
    char big[4096];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "cs_", 3);
    struct session_bind b;
    cr_assert_eq(sessions_check(ss, big, &b), AGENTS_ERR_MALFORMED);
    /* A real token with something after it. */
    char tok[SESSIONS_TOKEN_LEN + 1], longer[SESSIONS_TOKEN_LEN + 3];
    cr_assert_eq(sessions_mint(ss, "bob", kid, sid, NULL, tok, NULL), 0);
    snprintf(longer, sizeof longer, "%sAA", tok);
    cr_assert_eq(sessions_check(ss, longer, &b), AGENTS_ERR_MALFORMED);
    /* An oversized binding is refused at mint. */
    char longsid[SESSIONS_SESSION_MAX + 2];
    memset(longsid, 'a', sizeof longsid - 1);
    longsid[sizeof longsid - 1] = '\0';
    cr_assert_eq(sessions_mint(ss, "bob", kid, longsid, NULL, tok, NULL), -EINVAL);
}

/* The tokenize vault of a session: one per (agent, session), shared by its calls, freed at the
 * session's end once the last call lets go, so a new call of an ended session gets none of
 * its values back. */
Test(sessions, vault_per_session_freed_at_its_end)
{
    char tok[SESSIONS_TOKEN_LEN + 1];
    cr_assert_eq(sessions_mint(ss, "bob", kid, sid, NULL, tok, NULL), 0);
    cr_assert_null(sessions_vault_acquire(ss, "bob", NULL));
    cr_assert_null(sessions_vault_acquire(ss, "bob", ""));
    struct data_vault *v1 = sessions_vault_acquire(ss, "bob", sid);
    struct data_vault *v2 = sessions_vault_acquire(ss, "bob", sid);
    struct data_vault *other = sessions_vault_acquire(ss, "eve", sid);
    cr_assert_not_null(v1);
    cr_assert_eq(v1, v2, "one vault for the session's parallel calls");
    cr_assert_neq(v1, other, "another agent's vault is its own");
    struct data_buf b = {0};
    cr_assert_eq(data_vault_tokenize(v1, "pii.email", "a@b.example", 11, &b), 0);
    cr_assert_eq(data_vault_count(v2), 1);
    sessions_vault_release(ss, v2);
    sessions_vault_release(ss, other);
    cr_assert_eq(sessions_vault_count(ss), 2, "a vault outlives its calls until the end");
    cr_assert_eq(sessions_end(ss, sid), 1);
    cr_assert_eq(sessions_vault_count(ss), 1, "eve's is freed, bob's is held by a call");
    cr_assert_eq(data_vault_count(v1), 1, "still usable by the call that holds it");
    sessions_vault_release(ss, v1);
    cr_assert_eq(sessions_vault_count(ss), 0, "freed once the last call let go");
    struct data_vault *v3 = sessions_vault_acquire(ss, "bob", sid);
    cr_assert_not_null(v3);
    cr_assert_eq(data_vault_count(v3), 0, "a new vault holds none of the ended session's values");
    sessions_vault_release(ss, v3);
    data_buf_free(&b);
}
