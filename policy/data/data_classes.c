/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in classes: their names, the literal anchors vectorscan looks for, the C that
 * confirms what follows an anchor (token bodies, key blocks, assignments, URLs, JWTs), and
 * the validators (Luhn and IIN ranges, SSN rules, mod-97, the ABA checksum, entropy).
 *
 * Every anchored class starts its match at its anchor (or after it: the value of an
 * assignment, the code after "SWIFT"), never before, so a stream only holds the last few
 * bytes in case an anchor is arriving, and each held candidate from its anchor on.
 */
#include <math.h>
#include <string.h>

#include "policy/data/data_names.h"
#include "policy/data/internal.h"

const char *const data_builtin_classes[] = {DATA_BUILTIN_NAMES, NULL};

enum { T_AWS, T_GH, T_GHPAT, T_OPENAI, T_ANTH, T_SLACK, T_GOOGLE, T_STRIPE };
enum { KV_PASSWORD, KV_SECRET, KV_AWS };

#define TOK(l, b, s)                                                                               \
    {                                                                                              \
        l, 0, A_TOKEN, b, s                                                                        \
    }
#define KEY(l, b, s)                                                                               \
    {                                                                                              \
        l, 1, A_KEYVAL, b, s                                                                       \
    }
#define URL(l)                                                                                     \
    {                                                                                              \
        l, 1, A_DBURL, B_DBURL, 0                                                                  \
    }

const struct dlit data_builtin_lits[] = {
    TOK("AKIA", B_AWS_ID, T_AWS),
    TOK("ASIA", B_AWS_ID, T_AWS),
    TOK("ABIA", B_AWS_ID, T_AWS),
    TOK("ACCA", B_AWS_ID, T_AWS),
    TOK("ghp_", B_GITHUB, T_GH),
    TOK("gho_", B_GITHUB, T_GH),
    TOK("ghu_", B_GITHUB, T_GH),
    TOK("ghs_", B_GITHUB, T_GH),
    TOK("ghr_", B_GITHUB, T_GH),
    TOK("github_pat_", B_GITHUB, T_GHPAT),
    TOK("sk-", B_OPENAI, T_OPENAI),
    TOK("sk-ant-", B_ANTHROPIC, T_ANTH),
    TOK("xoxb-", B_SLACK, T_SLACK),
    TOK("xoxa-", B_SLACK, T_SLACK),
    TOK("xoxp-", B_SLACK, T_SLACK),
    TOK("xoxr-", B_SLACK, T_SLACK),
    TOK("xoxs-", B_SLACK, T_SLACK),
    TOK("xapp-", B_SLACK, T_SLACK),
    TOK("AIza", B_GOOGLE, T_GOOGLE),
    TOK("sk_live_", B_STRIPE, T_STRIPE),
    TOK("rk_live_", B_STRIPE, T_STRIPE),
    TOK("pk_live_", B_STRIPE, T_STRIPE),
    TOK("sk_test_", B_STRIPE, T_STRIPE),
    TOK("rk_test_", B_STRIPE, T_STRIPE),
    {"-----BEGIN ", 0, A_PEM, B_PRIVKEY, 0},
    {"eyJ", 0, A_JWT, B_JWT, 0},
    KEY("password", B_GENERIC, KV_PASSWORD),
    KEY("passwd", B_GENERIC, KV_PASSWORD),
    KEY("pwd", B_GENERIC, KV_PASSWORD),
    KEY("secret", B_GENERIC, KV_SECRET),
    KEY("token", B_GENERIC, KV_SECRET),
    KEY("api_key", B_GENERIC, KV_SECRET),
    KEY("apikey", B_GENERIC, KV_SECRET),
    KEY("api-key", B_GENERIC, KV_SECRET),
    KEY("access_key", B_GENERIC, KV_SECRET),
    KEY("private_key", B_GENERIC, KV_SECRET),
    KEY("aws_secret_access_key", B_AWS_SECRET, KV_AWS),
    KEY("secret_access_key", B_AWS_SECRET, KV_AWS),
    KEY("secretaccesskey", B_AWS_SECRET, KV_AWS),
    KEY("aws_secret_key", B_AWS_SECRET, KV_AWS),
    KEY("aws_secret", B_AWS_SECRET, KV_AWS),
    URL("postgres://"),
    URL("postgresql://"),
    URL("mysql://"),
    URL("mariadb://"),
    URL("mongodb://"),
    URL("mongodb+srv://"),
    URL("redis://"),
    URL("rediss://"),
    URL("amqp://"),
    URL("amqps://"),
    URL("mssql://"),
    URL("sqlserver://"),
    URL("oracle://"),
    URL("cockroachdb://"),
    URL("clickhouse://"),
    {"swift", 1, A_BIC, B_FINANCIAL, 0},
    {"bic", 1, A_BIC, B_FINANCIAL, 0},
};
const size_t data_n_builtin_lits = sizeof(data_builtin_lits) / sizeof(data_builtin_lits[0]);

/* Diagnoses and medications whose mention in a prompt is health information on its own. */
const char *const data_health_terms[] = {
    /* diagnoses */
    "diabetes", "type 1 diabetes", "type 2 diabetes", "diabetic", "hypertension", "asthma", "copd",
    "cancer", "leukemia", "leukaemia", "lymphoma", "melanoma", "carcinoma", "tumor", "tumour",
    "chemotherapy", "hiv", "aids", "hepatitis", "hepatitis b", "hepatitis c", "tuberculosis",
    "epilepsy", "schizophrenia", "bipolar disorder", "depression", "major depressive disorder",
    "anxiety disorder", "ptsd", "adhd", "autism", "dementia", "alzheimer's", "alzheimers",
    "parkinson's", "parkinsons", "multiple sclerosis", "cystic fibrosis", "sickle cell",
    "hemophilia", "crohn's disease", "ulcerative colitis", "celiac disease", "rheumatoid arthritis",
    "osteoarthritis", "lupus", "psoriasis", "heart failure", "myocardial infarction",
    "heart attack", "stroke", "atrial fibrillation", "coronary artery disease",
    "chronic kidney disease", "kidney failure", "dialysis", "cirrhosis", "pneumonia", "covid-19",
    "anorexia", "bulimia", "eating disorder", "obsessive-compulsive disorder",
    "substance use disorder", "alcoholism", "opioid use disorder", "hypothyroidism",
    "hyperthyroidism", "glaucoma", "migraine", "infertility", "pregnancy", "miscarriage",
    "sexually transmitted", "chlamydia", "gonorrhea", "syphilis", "herpes",

    /* medications */
    "insulin", "metformin", "ozempic", "semaglutide", "wegovy", "mounjaro", "tirzepatide",
    "lisinopril", "amlodipine", "atorvastatin", "simvastatin", "rosuvastatin", "losartan",
    "metoprolol", "warfarin", "apixaban", "eliquis", "xarelto", "clopidogrel", "levothyroxine",
    "synthroid", "sertraline", "zoloft", "fluoxetine", "prozac", "escitalopram", "lexapro",
    "citalopram", "paroxetine", "bupropion", "wellbutrin", "venlafaxine", "duloxetine",
    "lithium carbonate", "quetiapine", "seroquel", "olanzapine", "risperidone", "aripiprazole",
    "abilify", "clozapine", "lamotrigine", "levetiracetam", "valproate", "gabapentin", "pregabalin",
    "alprazolam", "xanax", "lorazepam", "diazepam", "valium", "clonazepam", "zolpidem", "adderall",
    "methylphenidate", "ritalin", "oxycodone", "hydrocodone", "morphine", "fentanyl", "methadone",
    "buprenorphine", "suboxone", "naltrexone", "tramadol", "prednisone", "methotrexate", "humira",
    "adalimumab", "infliximab", "tamoxifen", "letrozole", "truvada", "prep medication",
    "antiretroviral", "albuterol", "montelukast", "omeprazole", "pantoprazole", "sildenafil",
    "viagra", "tadalafil", "finasteride", "spironolactone", "estradiol", "testosterone therapy",
    NULL};

/* ---- validators ----------------------------------------------------------------------- */

int data_luhn(const char *d, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned x = (unsigned)(d[n - 1 - i] - '0');
        if (i & 1) {
            x *= 2;
            if (x > 9)
                x -= 9;
        }
        sum += x;
    }
    return sum % 10 == 0;
}

static unsigned prefix(const char *d, size_t k)
{
    unsigned v = 0;
    for (size_t i = 0; i < k; i++)
        v = v * 10 + (unsigned)(d[i] - '0');
    return v;
}

/* Issuer identification: the ranges and lengths the networks publish. */
int data_card_iin(const char *d, size_t n)
{
    unsigned p1 = prefix(d, 1), p2 = prefix(d, 2), p3 = prefix(d, 3), p4 = prefix(d, 4);
    unsigned p6 = prefix(d, 6);
    if (p1 == 4)
        return n == 13 || n == 16 || n == 19; /* Visa */
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
        return n == 16; /* Mastercard */
    if (p2 == 34 || p2 == 37)
        return n == 15; /* American Express */
    if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 || (p6 >= 622126 && p6 <= 622925))
        return n >= 16 && n <= 19; /* Discover */
    if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39)
        return n >= 14 && n <= 19; /* Diners Club */
    if (p4 >= 3528 && p4 <= 3589)
        return n >= 16 && n <= 19; /* JCB */
    if (p2 == 62)
        return n >= 16 && n <= 19; /* UnionPay */
    if (p4 >= 2200 && p4 <= 2204)
        return n == 16; /* Mir */
    if (p2 == 50 || (p2 >= 56 && p2 <= 69))
        return n >= 12 && n <= 19; /* Maestro */
    return 0;
}

/* Area 001-899 but 666, group 01-99, serial 0001-9999; and the numbers that were printed in
 * advertising or on sample cards, which are no one's (078-05-1120, 219-09-9999, 457-55-5462)
 * and the placeholder 123-45-6789. */
int data_ssn_valid(const char *d)
{
    unsigned area = prefix(d, 3), group = prefix(d + 3, 2), serial = prefix(d + 5, 4);
    if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
        return 0;
    static const char *const bad[] = {"078051120", "219099999", "457555462", "123456789", NULL};
    for (size_t i = 0; bad[i]; i++)
        if (memcmp(d, bad[i], 9) == 0)
            return 0;
    return 1;
}

/* ISO 13616: the first four characters moved to the end, letters as 10..35, mod 97 == 1. */
int data_iban_valid(const char *a, size_t n)
{
    if (n < 15 || n > 34 || a[2] < '0' || a[2] > '9' || a[3] < '0' || a[3] > '9')
        return 0;
    unsigned r = 0;
    for (size_t k = 0; k < n; k++) {
        char c = a[(k + 4) % n];
        if (c >= '0' && c <= '9')
            r = (r * 10 + (unsigned)(c - '0')) % 97;
        else if (c >= 'A' && c <= 'Z')
            r = (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
        else
            return 0;
    }
    return r == 1;
}

/* ABA routing transit number: weights 3 7 1, and a Federal Reserve prefix. */
int data_aba_valid(const char *d)
{
    unsigned p = prefix(d, 2);
    if (!(p <= 12 || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p == 80))
        return 0;
    unsigned s = 0;
    static const unsigned w[9] = {3, 7, 1, 3, 7, 1, 3, 7, 1};
    for (int i = 0; i < 9; i++)
        s += w[i] * (unsigned)(d[i] - '0');
    return s % 10 == 0 && prefix(d, 9) != 0;
}

/* Shannon entropy of the bytes, in bits per byte. */
double data_entropy(const unsigned char *p, size_t n)
{
    unsigned cnt[256] = {0};
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        cnt[p[i]]++;
    double h = 0;
    for (int i = 0; i < 256; i++) {
        if (cnt[i]) {
            double q = (double)cnt[i] / (double)n;
            h -= q * log2(q);
        }
    }
    return h;
}

static inline int lower(int c)
{
    return (unsigned)(c - 'A') < 26 ? c | 32 : c;
}
static inline int alpha(int c)
{
    return (unsigned)((c | 32) - 'a') < 26;
}

const struct dctx_word data_ctx_words[] = {{"phone", CTX_PHONE},
                                           {"call", CTX_PHONE},
                                           {"tel:", CTX_PHONE},
                                           {"tel.", CTX_PHONE},
                                           {"tel ", CTX_PHONE},
                                           {"mobile", CTX_PHONE},
                                           {"cell", CTX_PHONE},
                                           {"fax", CTX_PHONE},
                                           {"contact", CTX_PHONE},
                                           {"whatsapp", CTX_PHONE},
                                           {"sms", CTX_PHONE},
                                           {"text me", CTX_PHONE},
                                           {"reach me", CTX_PHONE},
                                           {"number", CTX_PHONE},
                                           {"ssn", CTX_SSN},
                                           {"social security", CTX_SSN},
                                           {"social_security", CTX_SSN},
                                           {"social-security", CTX_SSN},
                                           {"ss#", CTX_SSN},
                                           {"taxpayer", CTX_SSN},
                                           {"routing", CTX_ROUTING},
                                           {"aba ", CTX_ROUTING},
                                           {"aba:", CTX_ROUTING},
                                           {"aba#", CTX_ROUTING},
                                           {"rtn", CTX_ROUTING},
                                           {"transit", CTX_ROUTING},
                                           {"account", CTX_ACCOUNT},
                                           {"acct", CTX_ACCOUNT},
                                           {"a/c", CTX_ACCOUNT},
                                           {"sort code", CTX_SORT},
                                           {"sort-code", CTX_SORT},
                                           {"sortcode", CTX_SORT},
                                           {"version", CTX_VERSION},
                                           {"ver ", CTX_VERSION},
                                           {"ver.", CTX_VERSION},
                                           {"release", CTX_VERSION},
                                           {"firmware", CTX_VERSION},
                                           {"icd", CTX_ICD},
                                           {"coded", CTX_ICD},
                                           {"diagnos", CTX_ICD},
                                           {"dx:", CTX_ICD},
                                           {"dx ", CTX_ICD},
                                           {"order", CTX_NOTCARD},
                                           {"invoice", CTX_NOTCARD},
                                           {"tracking", CTX_NOTCARD},
                                           {"isbn", CTX_NOTCARD},
                                           {NULL, 0}};

int data_ctx_after(struct dview *v, size_t e, unsigned kinds)
{
    (void)at(v, e + DATA_CTX_FWD + 24); /* a stream waits until every such word has come */
    uint64_t from = v->base + e, to = from + DATA_CTX_FWD;
    size_t a = 0, b = v->n_ctx;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (v->ctx[m].start < from)
            a = m + 1;
        else
            b = m;
    }
    for (; a < v->n_ctx && v->ctx[a].start < to; a++)
        if (v->ctx[a].kinds & kinds)
            return 1;
    return 0;
}

int data_ctx_before(const struct dview *v, size_t i, unsigned kinds)
{
    uint64_t at_ = v->base + i, from = at_ > DATA_CTX_BACK ? at_ - DATA_CTX_BACK : 0;
    uint64_t lo = v->base + v->lo;
    if (from < lo)
        from = lo;
    size_t a = 0, b = v->n_ctx;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (v->ctx[m].start < from)
            a = m + 1;
        else
            b = m;
    }
    for (; a < v->n_ctx && v->ctx[a].start < at_; a++)
        if ((v->ctx[a].kinds & kinds) && v->ctx[a].end <= at_)
            return 1;
    return 0;
}
/* ---- confirmers ----------------------------------------------------------------------- */

static inline int digit(int c)
{
    return (unsigned)(c - '0') < 10;
}
static inline int alnum(int c)
{
    return digit(c) || alpha(c);
}
static inline int word(int c)
{
    return alnum(c) || c == '_';
}
static inline int b64url(int c)
{
    return alnum(c) || c == '_' || c == '-';
}

static int body_char(int sub, int c)
{
    switch (sub) {
    case T_AWS:
        return digit(c) || (unsigned)(c - 'A') < 26;
    case T_GH:
    case T_STRIPE:
        return alnum(c);
    case T_GHPAT:
        return word(c);
    case T_SLACK:
        return alnum(c) || c == '-';
    default:
        return b64url(c);
    }
}

static long token_at(const struct danchor *a, struct dview *v, size_t as, size_t ae)
{
    static const struct {
        unsigned min, max;
    } len[] = {
        [T_AWS] = {16, 16},   [T_GH] = {36, 251},    [T_GHPAT] = {22, 251}, [T_OPENAI] = {20, 200},
        [T_ANTH] = {20, 200}, [T_SLACK] = {10, 250}, [T_GOOGLE] = {35, 35}, [T_STRIPE] = {10, 247}};
    int sub = a->sub;
    int before = at(v, as - 1);
    if (as > v->lo && (b64url(before) || (sub == T_SLACK && before == '-')))
        return 0;
    size_t e = ae;
    int c;
    while (e - ae <= len[sub].max && body_char(sub, c = at(v, e)))
        e++;
    if (v->more)
        return D_MORE;
    size_t n = e - ae;
    if (n < len[sub].min || n > len[sub].max)
        return 0;
    const unsigned char *q = v->p + ae;
    if (sub == T_OPENAI && n >= 4 && memcmp(q, "ant-", 4) == 0)
        return 0; /* secret.anthropic_key */
    if (sub == T_OPENAI || sub == T_ANTH || sub == T_SLACK) {
        int dig = 0, let = 0;
        for (size_t i = 0; i < n; i++)
            dig |= digit(q[i]), let |= alpha(q[i]);
        if (!dig || !let || data_entropy(q, n) < 3.0)
            return 0;
    }
    if ((sub == T_AWS || sub == T_GH || sub == T_GHPAT || sub == T_STRIPE) &&
        data_entropy(q, n) < 2.5)
        return 0; /* ghp_xxxxxxxx...: a placeholder */
    return (long)e;
}

/* -----BEGIN [TYPE ]PRIVATE KEY----- ... -----END ...----- (capped at DATA_PEM_CAP). */
static long pem_at(struct dview *v, size_t as, size_t ae, int *b)
{
    size_t e = ae;
    int c;
    while (e - ae < 40 && ((c = at(v, e)) == ' ' || (unsigned)(c - 'A') < 26 || digit(c)))
        e++;
    static const char tail[] = "PRIVATE KEY";
    size_t tl = sizeof(tail) - 1;
    /* the header must end in "PRIVATE KEY-----" or "PRIVATE KEY BLOCK-----" */
    int ok = 0;
    for (size_t i = 0; i < 5; i++)
        ok += at(v, e + i) == '-';
    if (v->more)
        return D_MORE;
    if (ok != 5)
        return 0;
    size_t hs = ae, he = e;
    while (he > hs && v->p[he - 1] == ' ')
        he--;
    if (he - hs >= 17 && memcmp(v->p + he - 17, "PRIVATE KEY BLOCK", 17) == 0)
        he -= 6;
    if (he - hs < tl || memcmp(v->p + he - tl, tail, tl) != 0)
        return 0;
    *b =
        (he - hs >= 19 && memcmp(v->p + hs, "OPENSSH PRIVATE KEY", 19) == 0) ? B_SSHKEY : B_PRIVKEY;
    size_t body = e + 5;
    size_t cap = as + DATA_PEM_CAP;
    size_t lim = v->n < cap ? v->n : cap;
    static const char endm[] = "-----END ";
    /* a block ends at its footer, or where the next block begins */
    const unsigned char *nb =
        body < lim ? memmem(v->p + body, lim - body, "-----BEGIN ", 11) : NULL;
    if (nb)
        lim = (size_t)(nb - v->p);
    const unsigned char *f = body < lim ? memmem(v->p + body, lim - body, endm, 9) : NULL;
    if (f) {
        size_t k = (size_t)(f - v->p) + 9;
        while (k < lim && k - (size_t)(f - v->p) < 60 && v->p[k] != '\n' && v->p[k] != '\r')
            k++;
        if (k < lim || v->eof || lim == cap)
            return (long)k;
        return D_MORE;
    }
    if (!nb && !v->eof && v->n < cap)
        return D_MORE;
    /* no footer within the cap: the block as far as its base64 lines go */
    size_t k = body;
    while (k < lim) {
        int ch = v->p[k];
        if (!(alnum(ch) || ch == '+' || ch == '/' || ch == '=' || ch == '\n' || ch == '\r' ||
              ch == ':' || ch == ','))
            break;
        k++;
    }
    return (long)k;
}

static int placeholder(const unsigned char *q, size_t n)
{
    static const char *const words[] = {
        "null",     "none",   "true",     "false",    "undefined", "nil",           "changeme",
        "password", "secret", "token",    "example",  "redacted",  "your_password", "your-password",
        "xxx",      "string", "required", "optional", NULL};
    if (n == 0 || q[0] == '$' || q[0] == '{' || q[0] == '<' || q[0] == '%' || q[0] == '*' ||
        q[0] == '(' || q[0] == '[')
        return 1;
    size_t same = 1;
    for (size_t i = 1; i < n; i++)
        same += q[i] == q[0];
    if (same == n)
        return 1;
    for (size_t i = 0; words[i]; i++) {
        size_t wl = strlen(words[i]);
        if (n == wl) {
            size_t k = 0;
            while (k < n && lower(q[k]) == words[i][k])
                k++;
            if (k == n)
                return 1;
        }
    }
    return 0;
}

/* key[suffix]["'] ws (= | : | := | =>) ws ["'`]value["'`] */
static long keyval_at(const struct danchor *a, struct dview *v, size_t as, size_t ae, size_t *ms)
{
    size_t e = ae;
    int c = at(v, e);
    (void)as;
    if (alpha(c))
        return v->more ? D_MORE : 0; /* "tokenizer", "passwords": another word */
    while (e - ae < 24 && (word(c = at(v, e)) || c == '-' || c == '.'))
        e++;
    if (c == '"' || c == '\'')
        c = at(v, ++e);
    while ((c == ' ' || c == '\t') && e - ae < 40)
        c = at(v, ++e);
    if (c == ':') {
        c = at(v, ++e);
        if (c == '=')
            c = at(v, ++e);
    } else if (c == '=') {
        c = at(v, ++e);
        if (c == '>')
            c = at(v, ++e);
        else if (c == '=')
            return v->more ? D_MORE : 0; /* a comparison */
    } else {
        return v->more ? D_MORE : 0;
    }
    while ((c == ' ' || c == '\t') && e - ae < 60)
        c = at(v, ++e);
    int quote = 0;
    if (c == '"' || c == '\'' || c == '`') {
        quote = c;
        c = at(v, ++e);
    }
    size_t vs = e;
    while (e - vs <= DATA_VALUE_CAP) {
        c = at(v, e);
        if (c == 0 || c == '\n' || c == '\r')
            break;
        if (quote ? c == quote
                  : (c == ' ' || c == '\t' || c == ',' || c == ';' || c == '"' || c == '\'' ||
                     c == '`' || c == ')' || c == '}' || c == ']' || c == '<' || c == '>'))
            break;
        if (c == '\\' && quote)
            e++;
        e++;
    }
    if (v->more)
        return D_MORE;
    size_t n = e - vs;
    if (n > DATA_VALUE_CAP || (quote && at(v, e) != quote))
        return 0;
    const unsigned char *q = v->p + vs;
    if (a->sub == KV_AWS) {
        if (n != 40)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!(alnum(q[i]) || q[i] == '/' || q[i] == '+' || q[i] == '='))
                return 0;
        if (data_entropy(q, n) < 3.5)
            return 0;
        *ms = vs;
        return (long)e;
    }
    if (placeholder(q, n))
        return 0;
    int lo = 0, up = 0, dg = 0, sy = 0, dots = 0, paren = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = q[i];
        if ((unsigned)(ch - 'a') < 26)
            lo = 1;
        else if ((unsigned)(ch - 'A') < 26)
            up = 1;
        else if (digit(ch))
            dg = 1;
        else {
            sy = 1;
            dots += ch == '.';
            paren += ch == '(';
        }
    }
    if (!quote && (paren || (dots && !dg && !up) || (!dg && !sy && !up)))
        return 0; /* code: a call, an attribute path, a lower-case identifier */
    double h = data_entropy(q, n);
    int kinds = lo + up + dg + sy;
    if (a->sub == KV_PASSWORD) {
        if (n < 6 || h < 2.5 || kinds < 2)
            return 0;
    } else {
        if (n < 8 || h < 3.0 || kinds < 2)
            return 0;
    }
    *ms = vs;
    return (long)e;
}

/* scheme://user:password@host... : the whole URL */
static long dburl_at(struct dview *v, size_t as, size_t ae)
{
    if (as > v->lo && alnum(at(v, as - 1)))
        return 0;
    size_t e = ae;
    int c;
    while (e - ae < 128 && (c = at(v, e)) && c != ':' && c != '@' && c != '/' && c > ' ' &&
           c != '"' && c != '\'')
        e++;
    if (at(v, e) != ':')
        return v->more ? D_MORE : 0; /* (an empty user is fine: redis://:password@host) */
    size_t ps = ++e;
    while (e - ps < 256 && (c = at(v, e)) && c != '@' && c != '/' && c > ' ' && c != '"' &&
           c != '\'')
        e++;
    if (at(v, e) != '@' || e == ps)
        return v->more ? D_MORE : 0;
    if (placeholder(v->p + ps, e - ps) && v->p[ps] != '*')
        return 0;
    if (v->p[ps] == '*')
        return 0;
    e++;
    while (e - as < DATA_URL_CAP && (c = at(v, e)) && c > ' ' && c != '"' && c != '\'' &&
           c != '`' && c != '<' && c != '>' && c != ')' && c != ']' && c != '}')
        e++;
    if (v->more)
        return D_MORE;
    while (e > ae && (v->p[e - 1] == '.' || v->p[e - 1] == ','))
        e--;
    return (long)e;
}

static int b64val(int c)
{
    if ((unsigned)(c - 'A') < 26)
        return c - 'A';
    if ((unsigned)(c - 'a') < 26)
        return c - 'a' + 26;
    if (digit(c))
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

/* header.payload.signature, the header base64url JSON with "alg" */
static long jwt_at(struct dview *v, size_t as)
{
    if (as > v->lo && (b64url(at(v, as - 1)) || at(v, as - 1) == '.'))
        return 0;
    size_t part[3], e = as;
    int c;
    for (int k = 0; k < 3; k++) {
        size_t s = e;
        while (e - as < DATA_JWT_CAP && b64url(c = at(v, e)))
            e++;
        part[k] = e - s;
        if (k < 2) {
            if (at(v, e) != '.')
                return v->more ? D_MORE : 0;
            e++;
        }
    }
    c = at(v, e);
    if (v->more)
        return D_MORE;
    if (part[0] < 10 || part[1] < 4 || e - as >= DATA_JWT_CAP || c == '.' || c == '=')
        return 0;
    unsigned char hdr[96];
    size_t hn = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < part[0] && hn < sizeof(hdr); i++) {
        acc = (acc << 6) | (unsigned)b64val(v->p[as + i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            hdr[hn++] = (unsigned char)(acc >> bits);
        }
    }
    if (hn < 2 || hdr[0] != '{' || !memmem(hdr, hn, "\"alg\"", 5))
        return 0;
    if (part[2] == 0 && !memmem(hdr, hn, "none", 4))
        return 0;
    return (long)e;
}

static const char iso3166[] =
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCH"
    "CICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGN"
    "GPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLI"
    "LKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOM"
    "PAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTD"
    "TFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSXKYEYTZAZMZW";

static int country(const unsigned char *c)
{
    for (size_t i = 0; iso3166[i]; i += 2)
        if (iso3166[i] == c[0] && iso3166[i + 1] == c[1])
            return 1;
    return 0;
}

/* SWIFT/BIC: the first code-shaped word within a few words after "SWIFT" or "BIC". */
static long bic_at(struct dview *v, size_t as, size_t ae, size_t *ms)
{
    if (as > v->lo && alpha(at(v, as - 1)))
        return 0;
    if (alpha(at(v, ae)))
        return v->more ? D_MORE : 0;
    size_t e = ae;
    for (int words = 0; words < 4; words++) {
        int c;
        while (e - ae < 40 && (c = at(v, e)) && !alnum(c) && c != '\n')
            e++;
        size_t s = e;
        while (e - s < 12 && alnum(c = at(v, e)))
            e++;
        if (v->more)
            return D_MORE;
        size_t n = e - s;
        if (n == 0)
            return 0;
        const unsigned char *q = v->p + s;
        int ok = n == 8 || n == 11;
        for (size_t i = 0; i < n && ok; i++)
            ok = i < 6 ? (unsigned)(q[i] - 'A') < 26 : (unsigned)(q[i] - 'A') < 26 || digit(q[i]);
        if (ok && country(q + 4)) {
            *ms = s;
            return (long)e;
        }
    }
    return 0;
}

static long word_at(struct dview *v, size_t as, size_t ae)
{
    if (as > v->lo && word(v->p[as]) && word(at(v, as - 1)))
        return 0;
    int c = at(v, ae);
    if (v->more)
        return D_MORE;
    if (word(v->p[ae - 1]) && word(c))
        return 0;
    if (c == '-' && alpha(at(v, ae + 1)))
        return v->more ? D_MORE : 0; /* "cancer-free", "insulin-like": another word */
    if (v->more)
        return D_MORE;
    return (long)ae;
}

long data_confirm(const struct danchor *a, struct dview *v, size_t as, size_t ae, size_t *ms,
                  int *b)
{
    *ms = as;
    *b = a->builtin;
    v->more = 0;
    switch (a->kind) {
    case A_TOKEN:
        return token_at(a, v, as, ae);
    case A_PEM:
        return pem_at(v, as, ae, b);
    case A_KEYVAL:
        return keyval_at(a, v, as, ae, ms);
    case A_DBURL:
        return dburl_at(v, as, ae);
    case A_JWT:
        return jwt_at(v, as);
    case A_WORD:
        return word_at(v, as, ae);
    case A_BIC:
        return bic_at(v, as, ae, ms);
    default:
        return 0;
    }
}
