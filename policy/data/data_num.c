/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The C pass of the scanner: every class whose shape is digits (card, SSN, phone, IPv4 and
 * IPv6, IBAN, ICD-10 codes, account and routing numbers) and the e-mail address, found
 * without vectorscan. A vectorscan pattern for a digit-shaped class wakes on every digit of
 * the text (timestamps, ids, counters) and costs more than the rest of the database together;
 * here a 16-byte SSE2 step finds the next digit or '@', and a small parser reads the token
 * there once, for all these classes at the same time, then skips past it.
 *
 * A token whose parse reads past the bytes that have arrived is held (D_MORE): the caller's
 * stream asks again with more text. See internal.h.
 */
#include <arpa/inet.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "policy/data/internal.h"

static inline int is_digit(int c)
{
    return (unsigned)(c - '0') < 10;
}
static inline int is_alpha(int c)
{
    return (unsigned)((c | 32) - 'a') < 26;
}
static inline int is_upper(int c)
{
    return (unsigned)(c - 'A') < 26;
}
static inline int is_alnum(int c)
{
    return is_digit(c) || is_alpha(c);
}
static inline int is_word(int c)
{
    return is_alnum(c) || c == '_';
}
static inline int is_hex(int c)
{
    return is_digit(c) || (unsigned)((c | 32) - 'a') < 6;
}
/* The bytes of an e-mail local part cordon accepts (the common dot-atom subset). */
static inline int is_local(int c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
static inline int is_ldh(int c)
{
    return is_alnum(c) || c == '-';
}

/* The next index >= i holding a digit (when dig) or '@' (when at_), or n. */
static size_t next_trigger(const unsigned char *p, size_t i, size_t n, int dig, int at_)
{
#ifdef __SSE2__
    const __m128i k0 = _mm_set1_epi8('0' - 128), k9 = _mm_set1_epi8('9' - 128 + 1);
    const __m128i kat = _mm_set1_epi8(at_ ? '@' : 0), bias = _mm_set1_epi8((char)0x80);
    const __m128i dm = _mm_set1_epi8(dig ? -1 : 0);
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + i));
        __m128i xs = _mm_xor_si128(x, bias); /* signed compare of unsigned bytes */
        __m128i d = _mm_and_si128(_mm_cmpgt_epi8(xs, _mm_sub_epi8(k0, _mm_set1_epi8(1))),
                                  _mm_cmplt_epi8(xs, k9));
        d = _mm_and_si128(d, dm);
        if (at_)
            d = _mm_or_si128(d, _mm_cmpeq_epi8(x, kat));
        unsigned m = (unsigned)_mm_movemask_epi8(d);
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
#endif
    for (; i < n; i++) {
        if ((dig && is_digit(p[i])) || (at_ && p[i] == '@'))
            return i;
    }
    return i > n ? i : n; /* never back: a token read may have gone past n */
}

/* ---- e-mail ---------------------------------------------------------------------------- */

/* File extensions that follow '@' in asset names (icon@2x.png) and are no mail domain. */
static const char *const not_tld[] = {
    "png",  "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "css", "html", "htm",
    "json", "xml", "yaml", "yml", "txt", "js",   "ts",  "py",  "rb",  "java", "cpp",
    "hpp",  "exe", "dll",  "zip", "tar", "gz",   "pdf", "csv", "log", "lock", "mp4",
    "mp3",  "wav", "md",   "sh",  "tsx", "jsx",  "map", NULL};

static long email_at(struct dview *v, size_t a, size_t *ms)
{
    size_t s = a, cnt = 0;
    while (s > v->lo && cnt <= DATA_TAIL_CAP && is_local(v->p[s - 1]))
        s--, cnt++;
    *ms = s;
    if (cnt == 0 || cnt > DATA_TAIL_CAP || (s > v->lo && v->p[s - 1] == '/'))
        return 0; /* scheme://user@host is a URL's user, not an address */
    while (s < a && v->p[s] == '.')
        s++;
    if (s == a || v->p[a - 1] == '.')
        return 0;
    *ms = s;
    size_t j = a + 1, ls = 0, le = 0;
    int labels = 0;
    for (;;) {
        ls = j;
        while (is_ldh(at(v, j)) && j - ls < 64)
            j++;
        if (j == ls)
            break;
        if (v->p[ls] == '-' || v->p[j - 1] == '-')
            return v->more ? D_MORE : 0;
        labels++;
        le = j;
        if (at(v, j) == '.' && is_alnum(at(v, j + 1)))
            j++;
        else
            break;
    }
    int after = at(v, le);
    if (v->more)
        return D_MORE;
    if (labels < 2 || after == '@' || after == '_' || le - s > 254)
        return 0;
    size_t tl = le - ls;
    if (tl < 2 || tl > 24)
        return 0;
    char tld[25];
    for (size_t i = 0; i < tl; i++) {
        if (!is_alpha(v->p[ls + i]))
            return 0;
        tld[i] = (char)(v->p[ls + i] | 32);
    }
    tld[tl] = 0;
    for (size_t i = 0; not_tld[i]; i++)
        if (strcmp(tld, not_tld[i]) == 0)
            return 0;
    return (long)le;
}

/* ---- phone numbers: E.164 country plans ------------------------------------------------ */

/* Country calling codes with the lengths of their national significant numbers (ITU-T E.164
 * assignments and the national plans; a compact table rather than libphonenumber, see
 * docs/POLICY.md: the scanner must stay C without libstdc++, and length plus country plan is
 * what the class needs). */
static const struct {
    unsigned short cc;
    unsigned char min, max;
} plans[] = {
    {1, 10, 10},  {7, 10, 10}, {20, 9, 10},  {27, 9, 9},   {30, 10, 10}, {31, 9, 9},   {32, 8, 9},
    {33, 9, 9},   {34, 9, 9},  {36, 8, 9},   {39, 6, 11},  {40, 9, 9},   {41, 9, 9},   {43, 7, 13},
    {44, 9, 10},  {45, 8, 8},  {46, 7, 10},  {47, 8, 8},   {48, 9, 9},   {49, 6, 13},  {51, 8, 9},
    {52, 10, 10}, {53, 8, 8},  {54, 10, 11}, {55, 10, 11}, {56, 9, 9},   {57, 10, 10}, {58, 10, 10},
    {60, 8, 10},  {61, 9, 9},  {62, 8, 12},  {63, 9, 10},  {64, 8, 10},  {65, 8, 8},   {66, 8, 9},
    {81, 9, 10},  {82, 8, 10}, {84, 9, 10},  {86, 10, 11}, {90, 10, 10}, {91, 10, 10}, {92, 9, 10},
    {93, 9, 9},   {94, 9, 9},  {95, 7, 10},  {98, 10, 10}, {212, 9, 9},  {213, 9, 9},  {216, 8, 8},
    {234, 8, 10}, {254, 9, 9}, {351, 9, 9},  {352, 8, 11}, {353, 7, 9},  {354, 7, 9},  {358, 6, 11},
    {359, 8, 9},  {370, 8, 8}, {371, 8, 8},  {372, 7, 8},  {380, 9, 9},  {385, 8, 9},  {386, 8, 8},
    {420, 9, 9},  {421, 9, 9}, {852, 8, 8},  {886, 8, 9},  {966, 9, 9},  {971, 8, 9},  {972, 8, 9},
};

int data_phone_e164(const char *d, size_t n)
{
    if (n < 8 || n > 15 || d[0] == '0')
        return 0;
    for (size_t l = 1; l <= 3 && l < n; l++) {
        unsigned cc = 0;
        for (size_t i = 0; i < l; i++)
            cc = cc * 10 + (unsigned)(d[i] - '0');
        for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
            if (plans[i].cc != cc)
                continue;
            size_t nsn = n - l;
            if (nsn < plans[i].min || nsn > plans[i].max)
                return 0;
            if (cc == 1 && (d[1] < '2' || d[4] < '2'))
                return 0; /* NANP: area code and exchange start with 2-9 */
            return 1;
        }
    }
    return 0;
}

static int nanp_valid(const char *d)
{
    return d[0] >= '2' && d[3] >= '2' && !(d[1] == '1' && d[2] == '1');
}

/* ---- the numeric token ----------------------------------------------------------------- */

#define NT_GROUPS 8
#define SEP_OPEN 0x100  /* "(" before the next group */
#define SEP_CLOSE 0x200 /* ")" after this group */
struct ntok {
    size_t gs[NT_GROUPS], gl[NT_GROUPS];
    unsigned sep[NT_GROUPS]; /* between group g and g+1 */
    int ng;
    int plus, paren; /* '+' or '(' right before the first digit */
    int overflow;    /* more groups than NT_GROUPS: a table of numbers, no candidate */
    unsigned char doff[NT_GROUPS + 1]; /* where each group's digits start in d */
    char d[NT_GROUPS * 40];
};

/* The digits of groups [a, b) (t->d holds them all, in order); their count. */
static size_t digits_of(const struct dview *v, const struct ntok *t, int a, int b, char *out,
                        size_t cap)
{
    (void)v;
    size_t n = (size_t)(t->doff[b] - t->doff[a]);
    if (n > cap)
        n = cap;
    memcpy(out, t->d + t->doff[a], n);
    return n;
}

/* The separators between groups [a, b) are all the plain char c (no parentheses). */
static int seps_are(const struct ntok *t, int a, int b, unsigned c)
{
    for (int g = a; g + 1 < b; g++)
        if (t->sep[g] != c)
            return 0;
    return 1;
}

static size_t gend(const struct ntok *t, int g)
{
    return t->gs[g] + t->gl[g];
}

struct numctx {
    const struct data_scanner *s;
    struct dview *v;
    struct dsink *k;
    int cls[B_COUNT];
    int any_digit;
    int found; /* a candidate was added: its end */
    size_t found_end;
};

static int add(struct numctx *c, int b, size_t st, size_t en)
{
    if (c->cls[b] < 0)
        return 0;
    /* A number is not a piece of a longer one: a candidate with a digit right before or right
     * after it, or joined to one by '-' or '.', is part of a run the token reader did not take
     * whole (a long dashed run, a table), and is not reported. */
    if (b != B_EMAIL && b != B_HEALTH && b != B_IBAN) { /* their readers end them */
        struct dview *v = c->v;
        if (st > v->lo && (is_digit(v->p[st - 1]) ||
                           (st - 1 > v->lo && (v->p[st - 1] == '-' || v->p[st - 1] == '.') &&
                            is_digit(v->p[st - 2]))))
            return 0;
        /* at(): a byte not yet arrived makes the stream wait for it, as the block has it;
         * the caller sees v->more and holds the candidate back instead of reporting it */
        int a0 = at(v, en);
        int a1 = a0 == '-' || a0 == '.' ? at(v, en + 1) : 0;
        if (v->more || is_digit(a0) || is_digit(a1))
            return 0;
    }
    if (!c->found || en > c->found_end)
        c->found_end = en;
    c->found = 1;
    return dsink_add(c->k, (uint32_t)c->cls[b], (uint32_t)b, st, en);
}

/* The classes of a token's groups starting at group a (a > 0: the groups before were no
 * candidate). Adds candidates; returns the error of the sink. */
static int classify(struct numctx *c, const struct ntok *t, int a)
{
    struct dview *v = c->v;
    char d[48];
    int ng = t->ng;
    size_t st = t->gs[a];
    int plus = a == 0 && t->plus, paren = a == 0 && t->paren;
    size_t pst = (plus || paren) ? st - 1 : st;
    size_t total = (size_t)(t->doff[ng] - t->doff[a]);
    if (total < 6 && ng - a < 4)
        return 0; /* too short for every class: counts, prices, times of day */

    /* card: 13-19 digits in one group, or groups joined by one space or dash */
    if (c->cls[B_CARD] >= 0 && !plus && !paren) {
        for (int b = ng; b > a; b--) {
            if (b - a > 1 && !seps_are(t, a, b, ' ') && !seps_are(t, a, b, '-'))
                continue;
            size_t n = digits_of(v, t, a, b, d, sizeof(d));
            if (n < 13 || n > 19)
                continue;
            if (b - a > 1 && (t->gl[a] != 4 || t->gl[b - 1] < 2))
                continue; /* grouped cards start with a group of four */
            if (data_luhn(d, n) && data_card_iin(d, n) && !data_ctx_before(v, st, CTX_NOTCARD)) {
                int rc = add(c, B_CARD, st, gend(t, b - 1));
                if (rc)
                    return rc;
                break;
            }
        }
    }
    /* SSN: 3-2-4 with dashes or spaces; nine bare digits only with context */
    if (c->cls[B_SSN] >= 0 && !plus && !paren) {
        if (ng - a >= 3 && t->gl[a] == 3 && t->gl[a + 1] == 2 && t->gl[a + 2] == 4 &&
            (seps_are(t, a, a + 3, '-') || seps_are(t, a, a + 3, ' '))) {
            digits_of(v, t, a, a + 3, d, sizeof(d));
            if (data_ssn_valid(d) && (ng - a == 3 || t->sep[a + 2] != t->sep[a])) {
                int rc = add(c, B_SSN, st, gend(t, a + 2));
                if (rc)
                    return rc;
            }
        } else if (t->gl[a] == 9 && (ng - a == 1 || t->sep[a] == ' ')) {
            digits_of(v, t, a, a + 1, d, sizeof(d));
            if (data_ssn_valid(d) &&
                (data_ctx_before(v, st, CTX_SSN) || data_ctx_after(v, gend(t, a), CTX_SSN))) {
                int rc = add(c, B_SSN, st, gend(t, a));
                if (rc)
                    return rc;
            }
        }
    }
    /* IPv4: four dotted groups of 0-255 without leading zeros, not a version number */
    if (c->cls[B_IP] >= 0 && !plus && !paren && ng - a >= 4 && seps_are(t, a, a + 4, '.') &&
        (ng - a == 4 || t->sep[a + 3] != '.') && (a == 0 || t->sep[a - 1] != '.') && !t->overflow) {
        int ok = 1;
        for (int g = a; g < a + 4 && ok; g++) {
            size_t l = t->gl[g];
            const unsigned char *q = v->p + t->gs[g];
            unsigned val = 0;
            for (size_t i = 0; i < l; i++)
                val = val * 10 + (unsigned)(q[i] - '0');
            ok = l <= 3 && val <= 255 && !(l > 1 && q[0] == '0');
        }
        if (ok && !data_ctx_before(v, st, CTX_VERSION)) {
            int rc = add(c, B_IP, st, gend(t, a + 3));
            if (rc)
                return rc;
        }
    }
    /* phone */
    if (c->cls[B_PHONE] >= 0 && a == 0) { /* a phone number is a token of its own */
        int done = 0;
        if (plus) {
            /* +CC groups: E.164, 8-15 digits, space/dash/dot groups, one (0) or (area) */
            for (int b = ng; b > a && !done; b--) {
                size_t n = 0;
                for (int g = a; g < b; g++) {
                    if (g > a && t->gl[g] == 1 && t->d[t->doff[g]] == '0' &&
                        (t->sep[g - 1] & SEP_OPEN))
                        continue; /* +44 (0)20 ...: the trunk 0 is not dialled from abroad */
                    n += digits_of(v, t, g, g + 1, d + n, sizeof(d) - n);
                }
                if (n < 8 || n > 15)
                    continue;
                if (data_phone_e164(d, n)) {
                    int rc = add(c, B_PHONE, pst, gend(t, b - 1));
                    if (rc)
                        return rc;
                    done = 1;
                }
            }
        }
        if (!done && !plus) {
            /* NANP: (415) 555-2671, 415-555-2671, 415.555.2671, 415 555 2671, 1-415-555-2671 */
            int b0 = a;
            if (!paren && ng - a >= 4 && t->gl[a] == 1 && v->p[t->gs[a]] == '1')
                b0 = a + 1;
            if (ng - b0 >= 3 && t->gl[b0] == 3 && t->gl[b0 + 1] == 3 && t->gl[b0 + 2] == 4) {
                unsigned s1 = t->sep[b0], s2 = t->sep[b0 + 1];
                int shape = 0;
                if (paren && b0 == a)
                    shape = (s1 & SEP_CLOSE) && (s2 == '-' || s2 == '.' || s2 == ' ');
                else
                    shape = s1 == s2 && (s1 == '-' || s1 == '.' || s1 == ' ') &&
                            (b0 == a || t->sep[a] == s1);
                digits_of(v, t, b0, b0 + 3, d, sizeof(d));
                if (shape && nanp_valid(d) && (ng - b0 == 3 || t->sep[b0 + 2] != s2)) {
                    int rc = add(c, B_PHONE, paren ? pst : st, gend(t, b0 + 2));
                    if (rc)
                        return rc;
                    done = 1;
                }
            }
        }
        if (!done && !plus && !paren && ng - a >= 2 && v->p[st] == '0' && v->p[st + 1] != '0') {
            /* national with a trunk 0: 020 7946 0958, 01 23 45 67 89, 030-1234567 */
            for (int b = ng; b >= a + 2 && !done; b--) {
                if (!seps_are(t, a, b, ' ') && !seps_are(t, a, b, '-') && !seps_are(t, a, b, '.'))
                    continue;
                size_t n = digits_of(v, t, a, b, d, sizeof(d));
                int ok = n >= 9 && n <= 12 && t->gl[a] >= 2 && t->gl[a] <= 5 &&
                         !(b - a == 3 && t->gl[a] == 3 && t->gl[a + 1] == 2 && t->gl[a + 2] == 4);
                for (int g = a; g < b && ok; g++)
                    ok = t->gl[g] >= 2;
                if (ok && t->sep[a] == '.' && !data_ctx_before(v, st, CTX_PHONE))
                    ok = 0; /* dotted: too close to versions and dates without context */
                if (ok && t->sep[a] == '.') {
                    /* and shaped as the vectorized pre-filter tells a number from a decimal:
                     * a group of six digits or more, or a middle group of three or fewer
                     * (0123.56789 is a decimal in a block scan, so it is one here too) */
                    int shaped = 0;
                    for (int g = a; g < b && !shaped; g++)
                        shaped = t->gl[g] >= 6 || (g > a && g < b - 1 && t->gl[g] <= 3);
                    ok = shaped;
                }
                if (ok) {
                    int rc = add(c, B_PHONE, st, gend(t, b - 1));
                    if (rc)
                        return rc;
                    done = 1;
                }
            }
        }
        if (!done && !plus && !paren && (ng - a == 1 || t->sep[a] == ' ')) {
            /* bare runs: 4155552671, 14155552671, 07700900123 with a phone word before */
            size_t l = t->gl[a];
            const char *q = (const char *)v->p + st;
            int shape = (l == 10 && nanp_valid(q)) ||
                        (l == 11 && q[0] == '1' && nanp_valid(q + 1)) ||
                        (l >= 10 && l <= 11 && q[0] == '0' && q[1] != '0');
            if (shape && data_ctx_before(v, st, CTX_PHONE) &&
                !data_ctx_before(v, st, CTX_ACCOUNT | CTX_ROUTING)) {
                int rc = add(c, B_PHONE, st, gend(t, a));
                if (rc)
                    return rc;
            }
        }
    }
    /* financial: routing numbers (ABA checksum), account numbers, sort codes, with context */
    if (c->cls[B_FINANCIAL] >= 0 && !plus && !paren) {
        size_t l = t->gl[a];
        if (l == 9 && (ng - a == 1 || t->sep[a] == ' ')) {
            digits_of(v, t, a, a + 1, d, sizeof(d));
            if (data_aba_valid(d) && data_ctx_before(v, st, CTX_ROUTING)) {
                int rc = add(c, B_FINANCIAL, st, gend(t, a));
                if (rc)
                    return rc;
            }
        }
        if (ng - a >= 3 && l == 2 && t->gl[a + 1] == 2 && t->gl[a + 2] == 2 &&
            seps_are(t, a, a + 3, '-') && data_ctx_before(v, st, CTX_SORT)) {
            int rc = add(c, B_FINANCIAL, st, gend(t, a + 2));
            if (rc)
                return rc;
        }
        /* account: 6-17 digits, in one group or dash/space groups */
        for (int b = ng; b > a; b--) {
            if (b - a > 1 && !seps_are(t, a, b, '-') && !seps_are(t, a, b, ' '))
                continue;
            size_t n = digits_of(v, t, a, b, d, sizeof(d));
            if (n < 6 || n > 17)
                continue;
            if (data_ctx_before(v, st, CTX_ACCOUNT)) {
                int rc = add(c, B_FINANCIAL, st, gend(t, b - 1));
                if (rc)
                    return rc;
            }
            break;
        }
    }
    return 0;
}

/* Read the numeric token whose first digit is at i. */
static void read_token(struct dview *v, size_t i, struct ntok *t)
{
    int prev = at(v, i - 1);
    t->ng = 0;
    t->overflow = 0;
    t->doff[0] = 0;
    t->plus = i > v->lo && prev == '+';
    t->paren = i > v->lo && prev == '(';
    size_t j = i;
    for (;;) {
        size_t gs = j;
        while (is_digit(at(v, j)) && j - gs < 40)
            j++;
        t->gs[t->ng] = gs;
        t->gl[t->ng] = j - gs;
        t->doff[t->ng + 1] = (unsigned char)(t->doff[t->ng] + (j - gs));
        memcpy(t->d + t->doff[t->ng], v->p + gs, j - gs);
        t->ng++;
        if (j - gs >= 40)
            break;
        if (t->ng == NT_GROUPS) {
            /* skip the rest of a long run of groups (1.2.1.2..., a table) in one go */
            int ch;
            while ((ch = at(v, j)) && (is_digit(ch) || ch == ' ' || ch == '-' || ch == '.') &&
                   j - i < 128)
                j++;
            t->overflow = 1;
            t->gl[t->ng - 1] = 0;
            t->gs[t->ng - 1] = j;
            break;
        }
        int ch = at(v, j);
        unsigned sep = 0;
        size_t k = j;
        if (ch == ')') {
            sep |= SEP_CLOSE;
            ch = at(v, ++k);
        }
        if (ch == ' ' || ch == '-' || ch == '.') {
            sep |= (unsigned)ch;
            ch = at(v, ++k);
        }
        if (ch == '(' && (sep & 0xff) == ' ') {
            sep |= SEP_OPEN;
            ch = at(v, ++k);
        }
        if (!is_digit(ch) || ((sep & 0xff) == 0 && !(sep & SEP_CLOSE))) {
            break;
        }
        if ((sep & SEP_CLOSE) && !(t->paren && t->ng == 1) &&
            (t->ng < 2 || !(t->sep[t->ng - 2] & SEP_OPEN)))
            break;
        t->sep[t->ng - 1] = sep;
        j = k;
    }
}

/* Is the run of hex digits around i next to a ':'? (IPv6 is worth a look) */
static int hexrun_colon(const struct dview *v, size_t i)
{
    size_t s = i, e = i;
    while (s > v->lo && i - s < 5 && is_hex(v->p[s - 1]))
        s--;
    while (e < v->n && e - i < 5 && is_hex(v->p[e]))
        e++;
    return (s > v->lo && v->p[s - 1] == ':') || e >= v->n || v->p[e] == ':';
}

/* IPv6 in the hex-and-colon token around index i (a digit). */
static long ipv6_at(struct dview *v, size_t i, size_t *ms, size_t *te)
{
    size_t s = i, e = i;
    while (s > v->lo && i - s < 45 && (is_hex(v->p[s - 1]) || v->p[s - 1] == ':'))
        s--;
    *ms = s;
    int c;
    while ((c = at(v, e)) && e - s < 46 && (is_hex(c) || c == ':' || c == '.'))
        e++;
    *te = e;
    int after = at(v, e);
    if (v->more)
        return D_MORE;
    while (e > s && v->p[e - 1] == '.')
        e--;
    int before = at(v, s - 1);
    if (is_word(before) || before == ':' || is_word(after) || e - s < 3 || e - s > 45)
        return 0;
    char buf[48];
    int colons = 0;
    for (size_t k = s; k < e; k++)
        colons += v->p[k] == ':';
    if (colons < 2 || (colons < 7 && !memmem(v->p + s, e - s, "::", 2) &&
                       !(colons == 6 && memchr(v->p + s, '.', e - s))))
        return 0; /* no "::" and not eight groups: a time of day, a MAC address */
    memcpy(buf, v->p + s, e - s);
    buf[e - s] = 0;
    unsigned char addr[16];
    if (inet_pton(AF_INET6, buf, addr) != 1)
        return 0;
    return (long)e;
}

/* IBAN: two capitals of a known country, check digits, the BBAN in groups. */
static int iban_len(int a, int b);
static long iban_at(struct dview *v, size_t s)
{
    int len = iban_len(v->p[s], v->p[s + 1]);
    if (!len)
        return 0;
    char buf[40];
    size_t j = s, n = 0, end = s;
    while (n < (size_t)len) {
        int ch = at(v, j);
        if (is_digit(ch) || is_upper(ch)) {
            buf[n++] = (char)ch;
            end = ++j;
        } else if (ch == ' ' && n >= 4 && (is_digit(at(v, j + 1)) || is_upper(at(v, j + 1)))) {
            j++;
        } else {
            break;
        }
    }
    int after = at(v, end);
    if (v->more)
        return D_MORE;
    if (n != (size_t)len || is_alnum(after))
        return 0;
    return data_iban_valid(buf, n) ? (long)end : 0;
}

/* ICD-10-CM: a letter (not U), two digits, then optionally '.' and 1-4 characters. */
static long icd_at(struct dview *v, size_t s)
{
    int l = v->p[s];
    if (l == 'U' || !is_digit(at(v, s + 1)) || !is_digit(at(v, s + 2)))
        return v->more ? D_MORE : 0;
    size_t e = s + 3;
    if (at(v, e) == '.' && is_alnum(at(v, e + 1))) {
        e++;
        size_t k = 0;
        while (k < 5 && is_alnum(at(v, e)))
            e++, k++;
        if (k > 4)
            return v->more ? D_MORE : 0;
    }
    int after = at(v, e);
    if (v->more)
        return D_MORE;
    if (is_word(after))
        return 0;
    if (data_ctx_before(v, s, CTX_ICD))
        return (long)e;
    int after_ = data_ctx_after(v, e, CTX_ICD);
    if (v->more)
        return D_MORE;
    return after_ ? (long)e : 0;
}

static const struct {
    char cc[3];
    unsigned char len;
} iban_lens[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27},
    {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
    {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20},
    {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27},
    {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15},
    {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24},
    {"SC", 31}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28}, {"TL", 23},
    {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
};

static int iban_len(int a, int b)
{
    for (size_t i = 0; i < sizeof(iban_lens) / sizeof(iban_lens[0]); i++)
        if (iban_lens[i].cc[0] == a && iban_lens[i].cc[1] == b)
            return iban_lens[i].len;
    return 0;
}

/* The start a held token may have: back over the bytes a candidate can begin with. */
static size_t token_start(const struct dview *v, size_t i)
{
    size_t s = i;
    while (
        s > v->lo && i - s < 45 &&
        (is_alnum(v->p[s - 1]) || v->p[s - 1] == ':' || v->p[s - 1] == '+' || v->p[s - 1] == '('))
        s--;
    return s;
}

/* The first index before i where a candidate that a trigger at i or after it makes may
 * begin: back over the bytes any of them can start with (an IPv6 address's hex and colons, an
 * IBAN's or ICD-10 code's capitals, a phone's '+' or '(', an e-mail's local part). */
static size_t cand_start(const struct dview *v, size_t i)
{
    size_t s = i;
    while (s > v->lo && i - s < DATA_TAIL_CAP &&
           (is_local(v->p[s - 1]) || v->p[s - 1] == '(' || v->p[s - 1] == ':'))
        s--;
    return s;
}

/* The bytes at the end that a later '@' or digit could make part of a candidate. */
static size_t tail_start(const struct dview *v)
{
    return cand_start(v, v->n);
}

/*
 * The per-trigger scan of [i, lim): triggers (digits, '@') at i' < lim are read; a token read
 * there may go past lim. *cur: where the scan stopped. 0; 1 with *hold (more text needed); 2
 * with *in_word set (it stopped at the end of the text, inside a word it was skipping, which
 * the next pass goes on skipping); or the sink's error.
 *
 * A trigger whose reading goes past the bytes that have arrived (a confirmer's D_MORE)
 * pauses the scan at that trigger: the candidates it added are taken back, *cur is the
 * trigger and *hold the first byte any candidate of it or of a later trigger may start at. A stream
 * resumes at *cur with the same *v6_skip_, so it reads the same triggers in the same order, from
 * the same state, as a block scan does; resuming anywhere else (where a candidate is held, say)
 * would start inside a token the block scan read from its first byte, and see other tokens.
 */
static int scan_range(struct numctx *cx, size_t i, size_t lim, size_t *cur, size_t *hold,
                      size_t *v6_skip_, int *in_word)
{
    struct numctx *cp = cx;
#define c (*cp)
    struct dview *v = c.v;
    const unsigned char *p = v->p;
    size_t n = v->n;
    int any_digit = c.any_digit, want_at = c.cls[B_EMAIL] >= 0;
    size_t v6_skip = *v6_skip_, trig = i, k0 = 0, ph = 0;
    int rc = 0;
    if (lim > n)
        lim = n;
#define PAUSE(h)                                                                                   \
    do {                                                                                           \
        ph = (h);                                                                                  \
        goto pause;                                                                                \
    } while (0)
/* a skip over a word that reaches the end: the next pass goes on skipping it */
#define SKIP_END(x)                                                                                \
    do {                                                                                           \
        if ((x) >= n && !v->eof)                                                                   \
            goto in_word_end;                                                                      \
    } while (0)
    for (;;) {
        i = next_trigger(p, i, lim, any_digit, want_at);
        if (i >= lim)
            break;
        v->more = 0;
        trig = i;
        k0 = c.k->n;
        size_t ms = i;
        if (p[i] == '@') {
            long r = email_at(v, i, &ms);
            if (r == D_MORE)
                PAUSE(ms);
            if (r > 0) {
                if ((rc = add(&c, B_EMAIL, ms, (size_t)r)) != 0)
                    return rc;
                if (v->more)
                    PAUSE(ms);
                i = (size_t)r;
            } else {
                i++;
            }
            continue;
        }
        int prev = at(v, i - 1);
        size_t next = i + 1;
        c.found = 0;
        if (is_word(prev)) {
            /* inside a word: an IBAN or ICD-10 code starts with capitals, IPv6 with hex */
            if (!is_upper(prev) && !(c.cls[B_IP] >= 0 && is_hex(prev))) {
                while (i < n && is_word(p[i]))
                    i++;
                SKIP_END(i);
                continue;
            }
            size_t ws = i;
            while (ws > v->lo && i - ws < 3 && is_alpha(p[ws - 1]))
                ws--;
            int wb = !is_word(at(v, ws - 1));
            long r = 0;
            if (wb && i - ws == 2 && c.cls[B_IBAN] >= 0 && is_upper(p[ws]) && is_upper(p[ws + 1])) {
                if ((r = iban_at(v, ws)) == D_MORE)
                    PAUSE(ws);
                if (r > 0 && (rc = add(&c, B_IBAN, ws, (size_t)r)) != 0)
                    return rc;
            }
            if (wb && i - ws == 1 && c.cls[B_HEALTH] >= 0 && is_upper(p[ws])) {
                if ((r = icd_at(v, ws)) == D_MORE)
                    PAUSE(ws);
                if (r > 0 && (rc = add(&c, B_HEALTH, ws, (size_t)r)) != 0)
                    return rc;
            }
            if (c.cls[B_IP] >= 0 && is_hex(prev) && hexrun_colon(v, i)) {
                size_t te;
                if ((r = ipv6_at(v, i, &ms, &te)) == D_MORE)
                    PAUSE(ms);
                if (r > 0 && (rc = add(&c, B_IP, ms, (size_t)r)) != 0)
                    return rc;
            }
            if (v->more)
                PAUSE(ms);
            next = i;
            while (next < n && is_word(p[next]))
                next++;
            SKIP_END(next);
            if (c.found && c.found_end > next)
                next = c.found_end;
            i = next;
            continue;
        }
        size_t e = i;
        while (e < n && is_digit(p[e]))
            e++;
        if (c.cls[B_IP] >= 0 && i >= v6_skip &&
            (prev == ':' || e == n || p[e] == ':' || (is_hex(p[e]) && !is_digit(p[e])))) {
            size_t te;
            long r = ipv6_at(v, i, &ms, &te);
            if (r == D_MORE)
                PAUSE(ms);
            if (r > 0) {
                if ((rc = add(&c, B_IP, ms, (size_t)r)) != 0)
                    return rc;
                if (v->more)
                    PAUSE(ms);
                i = (size_t)r;
                continue;
            }
            v6_skip = te; /* the rest of this hex-and-colon run is no address either */
        }
        /* the common case, a short number alone (a count, a price, a time of day): nothing
         * can start here, skip it without reading a token */
        if (e - i < 6 && e + 1 < n && prev != '+' && prev != '(') {
            int c1 = p[e], c2 = p[e + 1];
            int cont =
                c1 == ')' || ((c1 == ' ' || c1 == '-' || c1 == '.') && (is_digit(c2) || c2 == '('));
            if (!cont) {
                i = e;
                while (i < n && is_word(p[i]))
                    i++;
                SKIP_END(i);
                continue;
            }
        }
        struct ntok t;
        read_token(v, i, &t);
        if (v->more)
            PAUSE(token_start(v, i));
        int after = at(v, gend(&t, t.ng - 1));
        if (v->more)
            PAUSE(token_start(v, i));
        int glued = is_alpha(after) || after == '_' || after == '@';
        if (glued && t.ng > 1 && !t.overflow && t.sep[t.ng - 2] == ' ') {
            /* "4111 1111 1111 1111 2b", "... 2@host": the last group is the start of a word
             * of its own, after a space; the groups before it are still a number */
            t.ng--;
            glued = 0;
        }
        if (!glued) {
            for (int a = 0; a < t.ng && !t.overflow; a++) {
                if (a + 2 < t.ng && t.gl[a] == 4 && t.gl[a + 1] == 2 && t.gl[a + 2] == 2 &&
                    t.sep[a] == '-' && t.sep[a + 1] == '-') {
                    a += 2; /* an ISO date: no class of ours */
                    continue;
                }
                c.found = 0;
                v->more = 0;
                if ((rc = classify(&c, &t, a)) != 0)
                    return rc;
                if (v->more)
                    PAUSE(token_start(v, i));
                if (c.found) {
                    while (a + 1 < t.ng && t.gs[a + 1] < c.found_end)
                        a++;
                }
            }
        }
        next = gend(&t, t.ng - 1);
        while (next < n && is_word(p[next]))
            next++;
        SKIP_END(next);
        i = next > i ? next : i + 1;
    }
    *cur = i > lim ? i : lim;
    *v6_skip_ = v6_skip;
    return 0;
in_word_end:
    *cur = n;
    *v6_skip_ = v6_skip;
    *in_word = 1;
    return 2;
pause:
    c.k->n = k0; /* the trigger is read again, whole, when more text has come */
    {
        size_t cs = cand_start(v, trig);
        *hold = ph < cs ? ph : cs;
    }
    *v6_skip_ = v6_skip;
    *cur = trig;
    return 1;
#undef SKIP_END
#undef PAUSE
#undef c
}

#ifdef __x86_64__
/* Set bits, without a libgcc call on builds for the baseline x86-64 (no POPCNT). */
static inline int popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (int)((x * 0x0101010101010101ull) >> 56);
}

/* The byte classes of one 64-byte block, as bit masks. */
struct bmask {
    uint64_t d, s, p, l, c, u, a, o; /* o: dots (s: spaces and dashes) */
};

__attribute__((target("avx2"))) static void classes64(const unsigned char *p, int at_,
                                                      struct bmask *o)
{
    uint64_t r[8] = {0};
    for (int q = 0; q < 2; q++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(p + q * 32));
        __m256i t = _mm256_sub_epi8(x, _mm256_set1_epi8('0'));
        __m256i v[7];
        v[0] = _mm256_cmpeq_epi8(_mm256_min_epu8(t, _mm256_set1_epi8(9)), t);
        v[1] = _mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(' ')),
                               _mm256_cmpeq_epi8(x, _mm256_set1_epi8('-')));
        v[2] = _mm256_cmpeq_epi8(x, _mm256_set1_epi8(')'));
        v[3] = _mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8('+')),
                               _mm256_cmpeq_epi8(x, _mm256_set1_epi8('(')));
        v[4] = _mm256_cmpeq_epi8(x, _mm256_set1_epi8(':'));
        t = _mm256_sub_epi8(x, _mm256_set1_epi8('A'));
        v[5] = _mm256_cmpeq_epi8(_mm256_min_epu8(t, _mm256_set1_epi8(25)), t);
        v[6] = at_ ? _mm256_cmpeq_epi8(x, _mm256_set1_epi8('@')) : _mm256_setzero_si256();
        for (int k = 0; k < 7; k++)
            r[k] |= (uint64_t)(uint32_t)_mm256_movemask_epi8(v[k]) << (q * 32);
        r[7] |=
            (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_set1_epi8('.')))
            << (q * 32);
    }
    *o = (struct bmask){r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]};
}

__attribute__((target("avx512bw"))) static void classes64_512(const unsigned char *p, int at_,
                                                              struct bmask *o)
{
    __m512i x = _mm512_loadu_si512((const void *)p);
    __m512i t = _mm512_sub_epi8(x, _mm512_set1_epi8('0'));
    o->d = _mm512_cmple_epu8_mask(t, _mm512_set1_epi8(9));
    o->s = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(' ')) |
           _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('-'));
    o->o = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('.'));
    o->p = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(')'));
    o->l = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('+')) |
           _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('('));
    o->c = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(':'));
    t = _mm512_sub_epi8(x, _mm512_set1_epi8('A'));
    o->u = _mm512_cmple_epu8_mask(t, _mm512_set1_epi8(25));
    o->a = at_ ? _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('@')) : 0;
}

/*
 * Where in block b0 (with b1, the block after it, for look-ahead) a candidate of the C pass
 * may begin: a run of six digits, digit-separator-digit, a digit and ')', '+' or '(' and a
 * digit, a capital and a digit, '@' (*near: the candidate starts at most 8 bytes before);
 * "::" or a colon-rich stretch (*far: an IPv6 address, up to 45 bytes before). Every
 * candidate shows one of these, so a block without them is skipped whole.
 */
static void interesting(const struct bmask *bp, const struct bmask *b0, const struct bmask *b1,
                        int digits, uint64_t *near, uint64_t *far)
{
#define SH(f, k) ((b0->f >> (k)) | (b1->f << (64 - (k))))
    uint64_t d = b0->d;
    *near = b0->a;
    *far = 0;
    if (!digits)
        return;
    uint64_t run6 = d & SH(d, 1) & SH(d, 2) & SH(d, 3) & SH(d, 4) & SH(d, 5);
    uint64_t dsd = d & SH(s, 1) & SH(d, 2);
    /* dotted: only with a second dot close after (1.2.3.4, 415.555.2671, 01.23.45), not a
     * decimal (489.70, 10:23:45.266) */
    dsd |= d & SH(o, 1) & SH(d, 2) & (SH(o, 3) | SH(o, 4) | SH(o, 5));
    /* an ISO date (2024-03-24) and the time after it are no candidate of ours */
    uint64_t prevd = (b0->d << 1) | (bp->d >> 63);
    uint64_t date = d & SH(d, 1) & SH(d, 2) & SH(d, 3) & SH(s, 4) & SH(d, 5) & SH(d, 6) & SH(s, 7) &
                    SH(d, 8) & SH(d, 9) & ~SH(d, 10) & ~prevd;
    dsd &= ~((date << 3) | (date << 6) | (date << 9));
    uint64_t m = run6 | dsd;
    m |= d & SH(p, 1);
    m |= b0->l & SH(d, 1);
    m |= b0->u & SH(d, 1) & ~prevd; /* not "T21" in 2024-03-01T21:53 */
    *near |= m;
    uint64_t f = b0->c & SH(c, 1);
    if (b0->c && popcount64(b0->c) + popcount64(b1->c) >= 7)
        f |= b0->c;
#undef SH
    *far = f;
}
#endif

size_t data_num_run_start(const unsigned char *p, size_t i, size_t lo)
{
    size_t s = i;
    while (s > lo && i - s < 128 &&
           (is_digit(p[s - 1]) || (s - 1 > lo && is_digit(p[s - 2]) &&
                                   (p[s - 1] == ' ' || p[s - 1] == '-' || p[s - 1] == '.' ||
                                    p[s - 1] == ')' || p[s - 1] == '('))))
        s--;
    return s;
}

int data_num_scan(const struct data_scanner *s, struct dview *v, struct dnum_state *ns,
                  struct dsink *k, size_t *hold)
{
    struct numctx c = {.s = s, .v = v, .k = k};
    for (int b = 0; b < B_COUNT; b++) {
        c.cls[b] = data_builtin_cls(s, b);
        if (c.cls[b] >= 0 && b != B_EMAIL && (b <= B_IP || b == B_HEALTH || b == B_FINANCIAL))
            c.any_digit = 1;
    }
    size_t n = v->n, cur = ns->next, v6 = ns->v6_skip;
    int r = 0, in_word = 0;
    *hold = n;
    ns->next = n;
    if (!c.any_digit && c.cls[B_EMAIL] < 0)
        return 0;
#ifdef __x86_64__
    static int avx2 = -1;
    if (avx2 < 0)
        avx2 = __builtin_cpu_supports("avx512bw") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
    if (avx2 && !v->eof && v->base + n < 128 &&
        next_trigger(v->p, cur, n, c.any_digit, c.cls[B_EMAIL] >= 0) < n) {
        /* a block scan of 128 bytes or more reads its triggers with the vectorized pass, of
         * fewer with the scalar one: a stream with triggers waits to know which */
        ns->next = cur;
        *hold = cand_start(v, cur);
        return 0;
    }
#endif
    if (ns->in_word) {
        /* the last pass ended inside a word it was skipping: a block scan skips it whole */
        while (cur < n && is_word(v->p[cur]))
            cur++;
        if (cur >= n && !v->eof) {
            in_word = 1;
            goto done;
        }
    }
    size_t from = cur;
#ifdef __x86_64__
    /* Blocks sit at multiples of 64 of the text's offsets, whatever the view, and the last
     * 64..127 bytes of the text are its tail: a stream's pass sees the blocks, and so the
     * windows, of a block scan. It starts a block early enough to see again the windows of
     * the triggers before `from` that reach past it (48 bytes at most); those that ended
     * before it are skipped by the floor `cur`. A text shorter than 128 bytes is read by the
     * scalar pass alone, in a block scan and in a stream alike. */
    uint64_t end = v->base + n;
    if (avx2 && end >= 128) {
        uint64_t a = v->base + from > 48 ? v->base + from - 48 : 0, last = (end - 64) & ~63ull;
        a &= ~(uint64_t)63;
        if (a > last)
            a = last;
        size_t blk = a > v->base + v->lo ? (size_t)(a - v->base) : v->lo;
        int at_ = c.cls[B_EMAIL] >= 0;
        struct bmask mp = {0}, m0, m1;
        if (blk > v->lo && is_digit(v->p[blk - 1]))
            mp.d = 1ull << 63; /* all interesting() reads of the block before */
        if (avx2 > 1)
            classes64_512(v->p + blk, at_, &m0);
        else
            classes64(v->p + blk, at_, &m0);
        for (; blk + 128 <= n; blk += 64) {
            if (avx2 > 1)
                classes64_512(v->p + blk + 64, at_, &m1);
            else
                classes64(v->p + blk + 64, at_, &m1);
            uint64_t near, far;
            interesting(&mp, &m0, &m1, c.any_digit, &near, &far);
            mp = m0;
            m0 = m1;
            uint64_t m = near | far;
            while (m) {
                size_t j = blk + (size_t)__builtin_ctzll(m);
                int isfar = (far >> (j - blk)) & 1;
                size_t back = isfar ? 48 : 8, ahead = isfar ? 48 : 3;
                m &= m - 1;
                /* skipped only when the window it needs was read already: a pass that ended
                 * inside it (a "::" just before "E0") goes on to its end. An IPv6 candidate's
                 * first digit may come a whole address after its colons ("::abc:Ec0"). */
                if (j + ahead <= cur)
                    continue;
                size_t start = data_num_run_start(v->p, j > cur + back ? j - back : cur, cur);
                if ((r = scan_range(&c, start, j + ahead, &cur, hold, &v6, &in_word)) != 0)
                    goto done;
            }
        }
        if (!v->eof) {
            /* The last 64..127 bytes: which of their triggers are worth a window depends on
             * bytes still to come. They are left to the next pass, which sees them whole and
             * in a block scan's order; so is any window that may reach back into them (48
             * bytes, and a run of digits before that: DATA_NUM_LAG). */
            size_t back = data_num_run_start(v->p, blk > cur + 48 ? blk - 48 : cur, cur);
            ns->v6_skip = v6;
            ns->next = back;
            ns->in_word = 0;
            size_t cs = cand_start(v, back);
            if (cs < *hold)
                *hold = cs;
            r = 0;
            goto tail;
        }
        /* the last 64..127 bytes of the text: the same masks over a zero-padded copy (zero is
         * what at() reads past the end of a text) */
        unsigned char pad[192];
        size_t rest = n - blk;
        memset(pad, 0, sizeof(pad));
        memcpy(pad, v->p + blk, rest);
        struct bmask t0, t1, t2 = {0};
        if (avx2 > 1) {
            classes64_512(pad, at_, &t0);
            classes64_512(pad + 64, at_, &t1);
        } else {
            classes64(pad, at_, &t0);
            classes64(pad + 64, at_, &t1);
        }
        for (int h = 0; h < 2 && blk + (size_t)h * 64 < n; h++) {
            uint64_t near, far;
            if (h == 0)
                interesting(&mp, &t0, &t1, c.any_digit, &near, &far);
            else
                interesting(&t0, &t1, &t2, c.any_digit, &near, &far);
            size_t hb = blk + (size_t)h * 64;
            uint64_t m = near | far;
            while (m) {
                size_t j = hb + (size_t)__builtin_ctzll(m);
                int isfar = (far >> (j - hb)) & 1;
                size_t back = isfar ? 48 : 8, ahead = isfar ? 48 : 3;
                m &= m - 1;
                if (j + ahead <= cur || j >= n)
                    continue;
                size_t start = data_num_run_start(v->p, j > cur + back ? j - back : cur, cur);
                if ((r = scan_range(&c, start, j + ahead, &cur, hold, &v6, &in_word)) != 0)
                    goto done;
            }
        }
        goto done;
    }
#endif
    r = scan_range(&c, cur, n, &cur, hold, &v6, &in_word);
done:
    if (r < 0)
        return r;
    ns->v6_skip = v6;
    ns->next = r == 1 ? cur : n;
    ns->in_word = in_word;
tail:
    if (!v->eof) {
        size_t ts = tail_start(v);
        if (ts < *hold)
            *hold = ts;
    }
    return 0;
}
