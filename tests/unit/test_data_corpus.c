/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Detection quality of the built-in data classes on the labelled corpus
 * (tests/data/classify/corpus.jsonl): precision and recall per class and for the secret
 * family, printed as a table with every miss and false positive, and held to the floors that
 * docs/POLICY.md ("Detection quality") states. Run it with
 *   ctest --test-dir build -R unit.data_corpus -V
 */
#include <math.h>

#include "data_corpus.h"

/* The floors, as in docs/POLICY.md's table. */
static const struct floor {
    const char *cls;
    double precision, recall;
} floors[] = {
    {"pii.email", 0.95, 0.95}, {"pii.phone", 0.90, 0.90}, {"pii.credit_card", 0.95, 0.95},
    {"pii.ssn", 0.95, 0.95},   {"pii.iban", 0.95, 0.95},  {"pii.ip", 0.95, 0.95},
    {"secret.*", 0.90, 0.95},  {"health", 0.80, 0.80},    {"financial", 0.85, 0.85},
};

struct tally {
    size_t expected, found; /* values of the class, and those some match of it overlaps */
    size_t reported, right; /* matches of the class, and those over an expected value */
    size_t ignored;         /* matches over an ignore value */
};

#define MAX_CLASSES 64
static struct tally tallies[MAX_CLASSES + 1]; /* the last: the secret family */
static size_t n_classes;

static int is_secret(const char *cls)
{
    return !strncmp(cls, "secret.", 7);
}

static struct tally *family(void)
{
    return &tallies[MAX_CLASSES];
}

static long class_of(const char *name, const char *id)
{
    long c = corpus_builtin(name);
    cr_assert_geq(c, 0, "%s: class %s is not a built-in class of data.h", id, name);
    return c;
}

static void report(const char *what, const struct corpus_rec *r, const char *cls, uint64_t s,
                   uint64_t e)
{
    fprintf(stderr, "  %-9s %-22s %-20s '", what, cls, r->id);
    corpus_print_value(stderr, r->text + s, (size_t)(e - s));
    fputs("'\n", stderr);
}

static void score(const struct corpus_rec *r, const struct data_match *m, size_t n)
{
    for (size_t i = 0; i < r->n_expect; i++) {
        const struct corpus_value *v = &r->expect[i];
        long c = class_of(v->cls, r->id);
        int hit = 0, fam = 0;
        for (size_t j = 0; j < n; j++) {
            if (!corpus_overlap(m[j].start, m[j].end, v->start, v->end))
                continue;
            const char *mc = data_builtin_classes[m[j].cls];
            hit |= (long)m[j].cls == c;
            fam |= is_secret(v->cls) && is_secret(mc);
        }
        tallies[c].expected++;
        tallies[c].found += hit;
        if (is_secret(v->cls)) {
            family()->expected++;
            family()->found += fam;
        }
        if (!hit)
            report(fam ? "MISS(fam)" : "MISS", r, v->cls, v->start, v->end);
    }
    for (size_t j = 0; j < n; j++) {
        cr_assert_lt(m[j].cls, n_classes, "%s: match of class %zu of %zu", r->id, m[j].cls,
                     n_classes);
        const char *mc = data_builtin_classes[m[j].cls];
        int right = 0, fam = 0, ign = 0;
        for (size_t i = 0; i < r->n_expect; i++) {
            const struct corpus_value *v = &r->expect[i];
            if (!corpus_overlap(m[j].start, m[j].end, v->start, v->end))
                continue;
            right |= !strcmp(v->cls, mc);
            fam |= is_secret(v->cls) && is_secret(mc);
        }
        for (size_t i = 0; i < r->n_ignore && !right; i++)
            ign |= !strcmp(r->ignore[i].cls, mc) &&
                   corpus_overlap(m[j].start, m[j].end, r->ignore[i].start, r->ignore[i].end);
        struct tally *t = &tallies[m[j].cls];
        t->reported++;
        t->right += right;
        t->ignored += ign && !right;
        if (is_secret(mc)) {
            family()->reported++;
            family()->right += fam;
            family()->ignored += ign && !fam;
        }
        if (ign && !right)
            report("IGNORED", r, mc, m[j].start, m[j].end);
        else if (!right)
            report(fam ? "FP(fam)" : "FP", r, mc, m[j].start, m[j].end);
    }
}

static double precision(const struct tally *t)
{
    size_t scored = t->reported - t->ignored;
    return scored ? (double)t->right / (double)scored : 1.0;
}

static double recall(const struct tally *t)
{
    return t->expected ? (double)t->found / (double)t->expected : NAN;
}

static const struct floor *floor_of(const char *cls)
{
    for (size_t i = 0; i < sizeof floors / sizeof *floors; i++)
        if (!strcmp(floors[i].cls, cls))
            return &floors[i];
    return NULL;
}

static void row(const char *cls, const struct tally *t, char *fail, size_t fail_len)
{
    const struct floor *f = floor_of(cls);
    double p = precision(t), r = recall(t);
    fprintf(stderr, "%-24s %8zu %6zu %8zu %5zu %9.3f %7.3f", cls, t->expected, t->found,
            t->reported, t->reported - t->ignored - t->right, p, r);
    if (f) {
        int bad = p < f->precision || !(r >= f->recall);
        fprintf(stderr, "   %.2f / %.2f %s\n", f->precision, f->recall, bad ? "BELOW" : "ok");
        if (bad) {
            size_t used = strlen(fail);
            snprintf(fail + used, fail_len - used, " %s (precision %.3f, recall %.3f)", cls, p, r);
        }
    } else {
        fputc('\n', stderr);
    }
}

Test(data_corpus, precision_and_recall_meet_the_floors, .timeout = 300)
{
    struct corpus c = corpus_load();
    n_classes = corpus_n_builtin();
    cr_assert_leq(n_classes, MAX_CLASSES);
    for (size_t i = 0; i < sizeof floors / sizeof *floors; i++)
        cr_assert(!strcmp(floors[i].cls, "secret.*") || corpus_builtin(floors[i].cls) >= 0,
                  "floor for %s, which is not a built-in class", floors[i].cls);
    struct data_scanner *plain = corpus_scanner(NULL, NULL);
    fprintf(stderr, "misses and false positives (values are synthetic):\n");
    for (size_t i = 0; i < c.n; i++) {
        const struct corpus_rec *r = &c.r[i];
        struct data_scanner *s = plain;
        if (r->allow || r->deny)
            s = corpus_scanner(r->allow, r->deny);
        struct data_match *m = NULL;
        long n = data_scan(s, r->text, r->len, &m);
        cr_assert_geq(n, 0, "%s: data_scan: %s", r->id, data_strerror((int)n));
        for (long j = 1; j < n; j++)
            cr_assert(m[j - 1].end <= m[j].start,
                      "%s: matches %ld and %ld overlap or are out "
                      "of order",
                      r->id, j - 1, j);
        score(r, m, (size_t)n);
        free(m);
        if (s != plain)
            data_scanner_free(s);
    }
    data_scanner_free(plain);

    char fail[2048] = "";
    fprintf(stderr, "\n%-24s %8s %6s %8s %5s %9s %7s   %s\n", "class", "expected", "found",
            "reported", "FP", "precision", "recall", "floor P / R");
    for (size_t i = 0; i < n_classes; i++)
        if (!is_secret(data_builtin_classes[i]))
            row(data_builtin_classes[i], &tallies[i], fail, sizeof fail);
    row("secret.*", family(), fail, sizeof fail);
    for (size_t i = 0; i < n_classes; i++)
        if (is_secret(data_builtin_classes[i]))
            row(data_builtin_classes[i], &tallies[i], fail, sizeof fail);
    fprintf(stderr,
            "(%zu records; a found value is overlapped by a match of its class; "
            "secret.* counts any secret class)\n",
            c.n);
    for (size_t i = 0; i < sizeof floors / sizeof *floors; i++) {
        long k = corpus_builtin(floors[i].cls);
        const struct tally *t = k >= 0 ? &tallies[k] : family();
        cr_expect_geq(t->expected, 40, "%s: only %zu labelled values", floors[i].cls, t->expected);
    }
    corpus_free(&c);
    cr_assert_eq(fail[0], '\0', "below the floors of docs/POLICY.md:%s", fail);
}

/* The committed corpus is what gen.py writes (a fixed seed), so nobody edits it by hand. */
Test(data_corpus, the_committed_corpus_is_the_generators_output)
{
    int rc = system("python3 " CORDON_TEST_DATA "/classify/gen.py --check >&2");
    cr_assert_eq(rc, 0,
                 "tests/data/classify/corpus.jsonl is not gen.py's output: run "
                 "python3 tests/data/classify/gen.py and commit both");
}
