/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data room's private header: what data.c (the scanner, its streams and the resolution
 * of overlaps), data_classes.c (the built-in classes: anchors, confirmers, validators) and
 * data_num.c (the C pass over digits and '@') share.
 *
 * Every confirmer reads the text through a dview and its at(): a read past the bytes that
 * have arrived sets dview.more (unless the text has ended, where it reads 0), and a confirmer
 * whose answer read past the end answers D_MORE instead, so a stream holds the candidate and
 * asks again when more text has come. That one rule is what makes a stream's answers the
 * same as a block scan's, at every split.
 */
#ifndef CORDON_POLICY_DATA_INTERNAL_H
#define CORDON_POLICY_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "policy/data/data.h"

/* The built-in classes, in data_builtin_classes order. */
enum {
    B_EMAIL,
    B_PHONE,
    B_CARD,
    B_SSN,
    B_IBAN,
    B_IP,
    B_AWS_ID,
    B_AWS_SECRET,
    B_GITHUB,
    B_OPENAI,
    B_ANTHROPIC,
    B_SLACK,
    B_GOOGLE,
    B_STRIPE,
    B_JWT,
    B_PRIVKEY,
    B_SSHKEY,
    B_DBURL,
    B_GENERIC,
    B_HEALTH,
    B_FINANCIAL,
    B_COUNT
};

/* Caps (bytes) of the bounded classes: a stream holds at most this much for one candidate. */
#define DATA_PEM_CAP 16384 /* a PEM or OpenSSH private key block, header to footer */
#define DATA_JWT_CAP 8192
#define DATA_URL_CAP 512
#define DATA_VALUE_CAP 256  /* the value of a generic assignment */
#define DATA_CTX_BACK 64    /* how far before a candidate context words are looked for */
#define DATA_TAIL_CAP 64    /* an e-mail local part: the most a candidate starts before '@' */
#define DATA_KEEP 128       /* released bytes a stream keeps for look-back (>= the two above) */
#define DATA_REGEX_MAX 1024 /* the widest custom pattern accepted */
/* How far behind the end of a stream's text the C pass (data_num.c) may be: it leaves the
 * last 64..127 bytes, and the windows that may reach back into them (48 bytes, then a run of
 * digits, 128), to its next pass, and a candidate there may start DATA_TAIL_CAP before. */
#define DATA_NUM_LAG (127 + 48 + 128 + DATA_TAIL_CAP)

/* A window on the text: p[lo..n) may be read, index 0 is offset `base` of the text. */
/* A context word vectorscan saw at [start, end) (offsets), with its CTX_* kinds. */
struct dctx {
    uint64_t start, end;
    unsigned kinds;
};
enum {
    CTX_PHONE = 1,
    CTX_SSN = 2,
    CTX_ROUTING = 4,
    CTX_ACCOUNT = 8,
    CTX_SORT = 16,
    CTX_VERSION = 32,
    CTX_ICD = 64,
    CTX_NOTCARD = 128,
};
struct dctx_word {
    const char *w;
    unsigned kinds;
};
extern const struct dctx_word data_ctx_words[];

struct dview {
    const unsigned char *p;
    size_t lo, n;
    int eof;
    int more;               /* set by at() when a read went past n before the end */
    uint64_t base;          /* offset of p[0] */
    const struct dctx *ctx; /* the context words seen, in order of start */
    size_t n_ctx;
};

static inline int at(struct dview *v, size_t i)
{
    if (i < v->n)
        return i >= v->lo ? v->p[i] : 0;
    if (i > SIZE_MAX / 2)
        return 0; /* before the text (an index below 0): nothing will arrive there */
    if (!v->eof)
        v->more = 1;
    return 0;
}

#define D_MORE ((long)-1)

/* One candidate before the overlap resolution. */
struct dcand {
    uint32_t cls;  /* index in the configuration */
    uint32_t prio; /* ties on equal spans: lower wins */
    uint64_t start, end;
};
struct dsink {
    struct dcand *v;
    size_t n, cap;
    uint64_t base; /* offset of the view's index 0 */
    size_t limit;  /* candidates allowed before DATA_ERR_BUDGET */
    int err;
};
int dsink_add(struct dsink *k, uint32_t cls, uint32_t prio, size_t start, size_t end);

/* An anchor of the vectorscan database: what a literal (or custom pattern) hit means. */
enum {
    A_TOKEN,  /* a secret token prefix (GitHub, OpenAI, ...): body checked in C */
    A_PEM,    /* -----BEGIN */
    A_KEYVAL, /* password=, api_key:, aws_secret_access_key= ...: the value is the match */
    A_DBURL,  /* postgres:// ... */
    A_JWT,    /* eyJ */
    A_WORD,   /* a whole word or phrase: health terms, custom words, deny values */
    A_BIC,    /* "SWIFT"/"BIC": the code after it */
    A_REGEX,  /* a custom pattern: the start is found again with its own SOM database */
    A_CTX,    /* a context word (sub: its CTX_* kinds), no class of its own */
};
struct danchor {
    uint8_t kind;
    uint8_t builtin; /* B_*, or B_COUNT for custom classes */
    uint16_t sub;    /* kind-specific: token variant, key strength */
    uint32_t cls;    /* index in the configuration */
    uint32_t len;    /* literal length (A_REGEX: 0) */
};

/* The built-in anchors: literal, flags (HS_FLAG_CASELESS or 0), kind, class, sub. */
struct dlit {
    const char *lit;
    unsigned caseless;
    uint8_t kind, builtin;
    uint16_t sub;
};
extern const struct dlit data_builtin_lits[];
extern const size_t data_n_builtin_lits;
/* The curated health terms (diagnoses, medications), lower case. */
extern const char *const data_health_terms[];

struct data_scanner;
/* The built-in class's cfg index, or -1 when it is not enabled. */
int data_builtin_cls(const struct data_scanner *s, int b);

/* Confirm an anchor whose literal is at [as, ae) of v (not A_REGEX): the match end (> 0)
 * with *ms its start and *b its built-in class (a->builtin but for key blocks, which the
 * header names), 0 when it is not a match, D_MORE when more text is needed. */
long data_confirm(const struct danchor *a, struct dview *v, size_t as, size_t ae, size_t *ms,
                  int *b);

/* The C pass (digits and '@'): candidates of the numeric classes, e-mail and IP from index
 * ns->next of v into k. *hold: the first index a candidate may still start at (v->n when none;
 * in a block scan always v->n); *ns: where and how the next pass over more text resumes, so
 * that it reads what a block scan reads (data_num.c's scan_range). 0, or k's error. */
/* Where the run of digit groups around i begins ("4111 1111 1111", "2025-03-14"), not before
 * lo and at most 128 bytes back: a window of the vectorized pass that would start inside a
 * run starts at its beginning instead, to read the run's tokens whole (data_num.c). */
size_t data_num_run_start(const unsigned char *p, size_t i, size_t lo);

/* Where a C pass starts, and the state it starts in: {0} for a block scan; a stream keeps
 * what the last pass left (indexes of that pass's view, rebased by the caller). */
struct dnum_state {
    size_t next;    /* the trigger it paused at, or where it stopped */
    size_t v6_skip; /* the end of the last hex-and-colon run that was no address */
    int in_word;    /* it stopped at the end of the text inside a word it was skipping */
};
int data_num_scan(const struct data_scanner *s, struct dview *v, struct dnum_state *ns,
                  struct dsink *k, size_t *hold);

/* An exact-data-match class (cfg index cls) over v from index `from` into k. In a block scan
 * (v->eof) every span; in a stream only the spans that more text cannot change (data_edm's
 * matcher is greedy from left to right: a span counts once max_words - 1 complete words
 * follow its first word); *next: where the next pass starts, which the stream holds. */
struct data_edm;
#define DATA_EDM_WINDOW (2 * 1024 + 64) /* twice data_edm.h's longest normalized value */
int data_edm_scan(const struct data_edm *e, uint32_t cls, const struct dview *v, size_t from,
                  struct dsink *k, size_t *next);

/* Validators, exposed for the tests of data_classes.c through the scanner. */
int data_luhn(const char *digits, size_t n);
int data_card_iin(const char *digits, size_t n);
int data_ssn_valid(const char *digits9);
int data_iban_valid(const char *alnum, size_t n);
int data_aba_valid(const char *digits9);
int data_phone_e164(const char *digits, size_t n);
double data_entropy(const unsigned char *p, size_t n);
/* Is a context word of one of the kinds within DATA_CTX_FWD bytes after index e? (Reads
 * ahead: in a stream the candidate waits for those bytes.) */
#define DATA_CTX_FWD 32
int data_ctx_after(struct dview *v, size_t e, unsigned kinds);
/* Is a context word of one of the kinds within the DATA_CTX_BACK bytes before index i? */
int data_ctx_before(const struct dview *v, size_t i, unsigned kinds);

#endif
