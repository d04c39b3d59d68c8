/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the audit log back. The file is mapped read-only and walked once: each line is
 * hashed as it stands (the bytes without the LF), parsed as JSON, checked against the
 * sequence and the chain, and fed to the Merkle frontier, so that every checkpoint record and
 * every anchor can be compared with the root of exactly the prefix it claims to cover. The
 * walk stops at the first problem: after a broken line nothing later can be trusted to mean
 * what it says, and the person reading the verdict needs the first place to look.
 */
#include "policy/audit/audit_read.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy/sign/key.h"
#include "policy/audit/note.h"
#include "policy/audit/sha256.h"

int audit_kind_valid(const char *kind)
{
    size_t n = kind ? strlen(kind) : 0;
    if (n == 0 || n > AUDIT_KIND_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = kind[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int audit_agent_valid(const char *agent)
{
    size_t n = agent ? strlen(agent) : 0;
    if (n == 0 || n > AUDIT_AGENT_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)agent[i] < 0x20 || (unsigned char)agent[i] > 0x7e)
            return 0;
    return 1;
}

int audit_member_reserved(const char *name)
{
    static const char *const reserved[] = {"seq", "ts", "prev", "kind", "agent"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(name, reserved[i]) == 0)
            return 1;
    return 0;
}

int audit_fields_parse(const char *text, size_t len, struct cJSON **out)
{
    *out = NULL;
    if (len == 0)
        return 0;
    if (len > AUDIT_FIELDS_MAX || memchr(text, '\0', len))
        return -EINVAL;
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    /* Exactly one object: "{...} {...}" or trailing bytes would let a caller smuggle a
     * second record past the check. */
    while (o && end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (!cJSON_IsObject(o) || end != text + len) {
        cJSON_Delete(o);
        return -EINVAL;
    }
    for (const cJSON *m = o->child; m; m = m->next)
        if (!m->string || audit_member_reserved(m->string)) {
            cJSON_Delete(o);
            return -EINVAL;
        }
    *out = o;
    return 0;
}

/* A string at *pp in the form cJSON prints it: raw bytes from 0x20 up but '"' and '\\', the
 * short escapes, and \u00xx (lowercase) for the other control characters but NUL. On success
 * *pp is past the closing quote. */
static int canon_string(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp + 1;
    static const char hex[] = "0123456789abcdef";
    while (p < end) {
        /* Eight plain bytes at a time (none below 0x20, none '"' or '\\'): most of a record
         * is plain text, and this check runs on every line the writer takes and verify
         * reads. A word with any other byte is left to the byte loop below. */
        while (end - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
            uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
            if ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high)
                break;
            p += 8;
        }
        if (p >= end)
            return 0;
        unsigned char c = *p;
        if (c == '"') {
            *pp = p + 1;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c != '\\') {
            p++;
            continue;
        }
        if (end - p < 2)
            return 0;
        c = p[1];
        if (c == '"' || c == '\\' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
            p += 2;
            continue;
        }
        if (c != 'u' || end - p < 6 || p[2] != '0' || p[3] != '0' || (p[4] != '0' && p[4] != '1'))
            return 0;
        const char *d = memchr(hex, p[5], 16);
        if (!d || p[5] == '\0')
            return 0;
        unsigned v = (unsigned)(p[4] - '0') * 16 + (unsigned)(d - hex);
        if (v == 0 || v == '\b' || v == '\t' || v == '\n' || v == '\f' || v == '\r')
            return 0;
        p += 6;
    }
    return 0;
}

/* The canonical checker's walk from p. With in_object, p is inside an object whose earlier
 * members were already checked, at the ',' or '}' after them (the tail of a line past its
 * header, see fast_line). */
static int canon_walk(const unsigned char *p, const unsigned char *end, int in_object)
{
    char stack[AUDIT_CANON_DEPTH]; /* '{' or '[' per open level */
    int depth = 0;
    if (in_object) {
        stack[depth++] = '{';
        goto after_value;
    }
    for (;;) {
        /* a value at p */
        if (p >= end)
            return 0;
        unsigned char c = *p;
        if (c == '{' || c == '[') {
            if (depth == AUDIT_CANON_DEPTH)
                return 0;
            stack[depth++] = (char)c;
            p++;
            if (p < end && *p == (c == '{' ? '}' : ']')) {
                depth--;
                p++;
                goto after_value;
            }
            if (c == '[')
                continue;
            goto member;
        } else if (c == '"') {
            if (!canon_string(&p, end))
                return 0;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            /* integers of at most 15 digits, which cJSON prints back digit for digit */
            const unsigned char *s = p;
            if (c == '-' && ++p < end && *p == '0')
                return 0; /* -0 prints as 0 */
            if (p >= end || *p < '0' || *p > '9')
                return 0;
            if (*p == '0') {
                p++;
            } else {
                while (p < end && *p >= '0' && *p <= '9')
                    p++;
            }
            if (p - s - (*s == '-') > 15 ||
                (p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9'))))
                return 0;
        } else if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            p += 4;
        } else if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            p += 5;
        } else if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            p += 4;
        } else {
            return 0;
        }
    after_value:
        if (depth == 0)
            return p == end;
        if (p >= end)
            return 0;
        if (*p == ',') {
            p++;
            if (stack[depth - 1] == '[')
                continue;
            goto member;
        }
        if (*p != (stack[depth - 1] == '{' ? '}' : ']'))
            return 0;
        depth--;
        p++;
        goto after_value;
    member:
        /* a member name at p, then ':' */
        if (p >= end || *p != '"')
            return 0;
        {
            const unsigned char *k = p + 1;
            if (!canon_string(&p, end))
                return 0;
            if (depth == 1) {
                char name[8];
                size_t kl = (size_t)(p - 1 - k);
                if (kl < sizeof name) {
                    memcpy(name, k, kl);
                    name[kl] = '\0';
                    if (audit_member_reserved(name))
                        return 0;
                }
            }
        }
        if (p >= end || *p != ':')
            return 0;
        p++;
    }
}

int audit_fields_canonical(const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    return len >= 2 && *p == '{' && canon_walk(p, p + len, 0);
}

/* n digits at s as a number; -1 when any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int parse_date(const char *s, struct tm *tm)
{
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || s[4] != '-' || s[7] != '-')
        return -EINVAL;
    memset(tm, 0, sizeof *tm);
    tm->tm_year = y - 1900;
    tm->tm_mon = mo - 1;
    tm->tm_mday = d;
    return 0;
}

int audit_time_parse(const char *s, int64_t now_ms, int64_t *ms)
{
    size_t n = s ? strlen(s) : 0;
    struct tm tm;
    if (n == 0 || n > 40)
        return -EINVAL;
    /* A duration ago: digits and one unit. */
    char unit = s[n - 1];
    if (n >= 2 && strchr("smhd", unit) && strspn(s, "0123456789") == n - 1 && n - 1 <= 9) {
        int64_t v = 0;
        for (size_t i = 0; i + 1 < n; i++)
            v = v * 10 + (s[i] - '0');
        int64_t mult = unit == 's' ? 1000 : unit == 'm' ? 60000 : unit == 'h' ? 3600000 : 86400000;
        *ms = now_ms - v * mult;
        return 0;
    }
    if (n == 10) {
        if (parse_date(s, &tm) != 0)
            return -EINVAL;
        *ms = (int64_t)timegm(&tm) * 1000;
        return 0;
    }
    if (n < 20 || parse_date(s, &tm) != 0 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return -EINVAL;
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
        return -EINVAL;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    size_t i = 19;
    int64_t frac = 0;
    if (s[i] == '.') {
        int nd = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++)
            if (nd < 3)
                frac = frac * 10 + (s[i] - '0');
        if (nd == 0)
            return -EINVAL;
        for (; nd < 3; nd++)
            frac *= 10;
    }
    int64_t off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
        off = 0;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -EINVAL;
        off = (int64_t)(oh * 60 + om) * 60000 * (s[i] == '-' ? -1 : 1);
    } else {
        return -EINVAL;
    }
    *ms = (int64_t)timegm(&tm) * 1000 + frac - off;
    return 0;
}

void audit_time_format(int64_t ms, char *out, size_t outlen)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* The walker's state beyond the report. */
struct walk {
    const struct audit_read_opts *o;
    struct audit_read_report *r;
    unsigned char self_pk[32]; /* the key the latest start record names */
    int have_self_pk;
    struct note_checkpoint *anchors;
    int *anchor_done;
    /* Where each writer's records end (see track_writers). */
    char prev_kind[AUDIT_KIND_MAX + 1];
    int closed_now; /* the records so far end with stop, or stop and its checkpoint */
    int seg_any;    /* a writer's records (not only gap/recovery) have been seen */
    int seg_closed; /* closed_now after the last of them */
    uint64_t seg_last_line;
    int64_t seg_last_ts;
    int init_open; /* gap or recovery records seen since, and no start yet */
    int init_has_gap;
    uint64_t init_first; /* the first of them */
};

__attribute__((format(printf, 4, 5))) static void fail(struct walk *w, enum audit_read_status st,
                                                       uint64_t line, const char *fmt, ...)
{
    va_list ap;
    w->r->status = st;
    w->r->bad_line = line;
    va_start(ap, fmt);
    vsnprintf(w->r->problem, sizeof w->r->problem, fmt, ap);
    va_end(ap);
}

static void hex32(const unsigned char h[32], char out[65])
{
    sodium_bin2hex(out, 65, h, 32);
}

/* Verify a signed checkpoint text with the trusted keys, or the self-asserted one. */
static int verify_note(struct walk *w, const char *text, size_t len, struct note_checkpoint *cp,
                       char *err, size_t errlen)
{
    if (w->o->trust) {
        int rc = -EPERM;
        for (size_t i = 0; i < w->o->ntrust; i++) {
            rc = note_checkpoint_verify(text, len, w->o->trust[i].pk, cp, err, errlen);
            if (rc != -EPERM)
                return rc;
        }
        return rc;
    }
    if (!w->have_self_pk) {
        snprintf(err, errlen,
                 "no start record before it names a public key, and no --trust "
                 "key was given");
        return -EPERM;
    }
    return note_checkpoint_verify(text, len, w->self_pk, cp, err, errlen);
}

/* Check the anchors whose tree size equals the number of lines walked so far. */
static int check_anchors(struct walk *w)
{
    unsigned char root[32];
    int have_root = 0;
    for (size_t i = 0; i < w->o->nanchors; i++) {
        if (w->anchor_done[i] || w->anchors[i].size != w->r->tree.size)
            continue;
        if (!have_root) {
            merkle_root(&w->r->tree, root);
            have_root = 1;
        }
        w->anchor_done[i] = 1;
        if (memcmp(root, w->anchors[i].root, 32) != 0) {
            fail(w, AUDIT_READ_TRUNCATED, w->r->tree.size,
                 "anchor %zu (tree size %llu) does not match the first %llu lines: the log was "
                 "rewritten or truncated and regrown since that checkpoint was handed out; "
                 "keep this copy as evidence and compare it with backups",
                 i + 1, (unsigned long long)w->anchors[i].size,
                 (unsigned long long)w->anchors[i].size);
            return -1;
        }
        w->r->anchors_ok++;
        if (w->anchors[i].size > w->r->anchored)
            w->r->anchored = w->anchors[i].size;
    }
    return 0;
}

static const char *str_member(const cJSON *o, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* A checkpoint record: its root must be the root of the lines before it, and with
 * check_signatures its note must verify and say the same. */
static int check_checkpoint_record(struct walk *w, uint64_t seq, const cJSON *o)
{
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(o, "size");
    const char *root64 = str_member(o, "root"), *note = str_member(o, "note");
    unsigned char root[32], want[32];
    size_t bin = 0;
    const char *end = NULL;
    if (!cJSON_IsNumber(size) || size->valuedouble != (double)seq || !root64 || !note ||
        strlen(root64) != 44 ||
        sodium_base642bin(root, 32, root64, 44, NULL, &bin, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        bin != 32) {
        fail(w, AUDIT_READ_TAMPERED, seq,
             "line %llu: checkpoint record lacks a size equal to "
             "its seq, a base64 root or a note; the record was altered",
             (unsigned long long)seq);
        return -1;
    }
    merkle_root(&w->r->tree, want);
    if (memcmp(root, want, 32) != 0) {
        fail(w, AUDIT_READ_TAMPERED, seq,
             "line %llu: the checkpoint's root does not match "
             "the %llu lines before it: an earlier line was changed, removed or reordered",
             (unsigned long long)seq, (unsigned long long)seq);
        return -1;
    }
    if (w->o->check_signatures) {
        struct note_checkpoint cp;
        char err[384];
        if (verify_note(w, note, strlen(note), &cp, err, sizeof err) != 0) {
            fail(w, AUDIT_READ_TAMPERED, seq, "line %llu: checkpoint signature: %s",
                 (unsigned long long)seq, err);
            return -1;
        }
        if (cp.size != seq || memcmp(cp.root, want, 32) != 0) {
            fail(w, AUDIT_READ_TAMPERED, seq,
                 "line %llu: the signed note covers size %llu "
                 "with another root than the record states",
                 (unsigned long long)seq, (unsigned long long)cp.size);
            return -1;
        }
    }
    w->r->checkpoints++;
    w->r->checkpoint_size = seq;
    if (seq > w->r->anchored)
        w->r->anchored = seq;
    return 0;
}

static void note_start_key(struct walk *w, const cJSON *o)
{
    const char *pk64 = str_member(o, "public_key");
    unsigned char pk[32];
    size_t bin = 0;
    if (!pk64 ||
        sodium_base642bin(pk, 32, pk64, strlen(pk64), NULL, &bin, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin != 32)
        return;
    if (w->have_self_pk && memcmp(pk, w->self_pk, 32) != 0)
        w->r->key_changes++;
    memcpy(w->self_pk, pk, 32);
    w->have_self_pk = 1;
}

/*
 * Follow the writers through the log. Each writer's records begin with its start record,
 * preceded by the gap and recovery records it wrote while opening the log, and end with its
 * stop record and a final checkpoint when it closed in order. A start that follows records
 * ending otherwise marks a gap: a writer stopped (killed, crashed, failed) without saying so.
 * A gap record is the next writer's own account of it: it must sit right after the records
 * it describes and never after a closed log. Returns 0, or -1 with the problem recorded.
 */
static int track_writers(struct walk *w, uint64_t seq, const char *kind, int64_t ts_ms,
                         const cJSON *o)
{
    struct audit_read_report *r = w->r;
    int is_gap = strcmp(kind, "gap") == 0, is_recovery = strcmp(kind, "recovery") == 0;
    int closes = strcmp(kind, "stop") == 0 ||
                 (strcmp(kind, "checkpoint") == 0 && strcmp(w->prev_kind, "stop") == 0);
    if (is_gap) {
        const cJSON *last = cJSON_GetObjectItemCaseSensitive(o, "last_seq");
        if (seq == 0 || w->closed_now || !cJSON_IsNumber(last) ||
            last->valuedouble != (double)(seq - 1)) {
            fail(w, AUDIT_READ_TAMPERED, seq,
                 "line %llu: a gap record that does not follow the records it describes (its "
                 "last_seq must be %llu, and the log before it must not be closed): the "
                 "record was altered or moved; keep a copy as evidence",
                 (unsigned long long)seq, (unsigned long long)(seq ? seq - 1 : 0));
            return -1;
        }
    }
    if (is_gap || is_recovery) {
        if (!w->init_open) {
            w->init_open = 1;
            w->init_first = seq;
        }
        w->init_has_gap |= is_gap;
    } else {
        if (strcmp(kind, "start") == 0) {
            if (w->init_has_gap && w->seg_closed) {
                fail(w, AUDIT_READ_TAMPERED, seq,
                     "line %llu: a gap record announces a writer that stopped without its "
                     "stop record, but the records before it end with one; the log was "
                     "altered; keep a copy as evidence",
                     (unsigned long long)w->init_first);
                return -1;
            }
            if (w->seg_any && !w->seg_closed) {
                if (r->gaps < AUDIT_READ_MAX_GAPS) {
                    struct audit_gap *g = &r->gap[r->gaps];
                    g->line = w->init_open ? w->init_first : seq;
                    g->last_line = w->seg_last_line;
                    g->last_ts_ms = w->seg_last_ts;
                    g->recorded = w->init_has_gap;
                }
                r->gaps++;
            }
        }
        w->init_open = w->init_has_gap = 0;
        w->seg_any = 1;
        w->seg_closed = closes;
        w->seg_last_line = seq;
        w->seg_last_ts = ts_ms;
    }
    w->closed_now = closes;
    snprintf(w->prev_kind, sizeof w->prev_kind, "%s", kind);
    return 0;
}

/*
 * The header of a line as the writer lays it out: {"seq":N,"ts":"..","prev":"..","kind":".."
 * and an optional ,"agent":"..", then the other members in canonical form (canon_walk, which
 * also refuses a second seq, ts, prev, kind or agent). Such a line means to cJSON exactly what
 * the header says, so walk_line takes it without building a tree: parsing every line into
 * cJSON objects was most of what verify cost. Returns 1 with the header copied out, or 0 for
 * any other line (and for the kinds whose other members the walk reads), which then takes
 * the general path: only the speed differs, never the verdict.
 */
static int head_str(const char **pp, const char *end, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = *pp;
    if ((size_t)(end - p) < nl + 4 || p[0] != ',' || p[1] != '"' || memcmp(p + 2, name, nl) != 0 ||
        p[2 + nl] != '"' || p[3 + nl] != ':' || p[4 + nl] != '"')
        return 0;
    p += nl + 5;
    size_t n = 0;
    while (p < end && *p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == '\\' || n + 1 >= cap)
            return 0;
        out[n++] = *p++;
    }
    if (p >= end)
        return 0;
    out[n] = '\0';
    *pp = p + 1;
    return 1;
}

static int fast_line(const char *line, size_t len, uint64_t *seq, char ts[40], char prev[65],
                     char kind[AUDIT_KIND_MAX + 1])
{
    const char *p = line, *end = line + len;
    if (len > AUDIT_LINE_MAX || len < 8 || memcmp(p, "{\"seq\":", 7) != 0)
        return 0;
    p += 7;
    const char *d = p;
    uint64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9' && p - d < 15)
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == d || (*d == '0' && p - d > 1) || p >= end || *p != ',')
        return 0;
    if (!head_str(&p, end, "ts", ts, 40) || !head_str(&p, end, "prev", prev, 65) ||
        !head_str(&p, end, "kind", kind, AUDIT_KIND_MAX + 1))
        return 0;
    if (strcmp(kind, "checkpoint") == 0 || strcmp(kind, "start") == 0 || strcmp(kind, "gap") == 0)
        return 0;
    if (end - p > 9 && memcmp(p, ",\"agent\":\"", 10) == 0) {
        const unsigned char *q = (const unsigned char *)p + 9;
        if (!canon_string(&q, (const unsigned char *)end))
            return 0;
        p = (const char *)q;
    }
    if (!canon_walk((const unsigned char *)p, (const unsigned char *)end, 1))
        return 0;
    *seq = v;
    return 1;
}

/* One complete line (without LF); is_last when nothing follows its LF. Returns 1 to go on,
 * 0 to stop (problem recorded, torn tail noted, or the visitor asked). */
static int walk_line(struct walk *w, const char *line, size_t len, int is_last)
{
    struct audit_read_report *r = w->r;
    uint64_t seq = r->lines, fseq = 0;
    char fts[40], fprev[65], fkind[AUDIT_KIND_MAX + 1];
    cJSON *o = NULL;
    const cJSON *jagent = NULL;
    const char *ts, *prev, *kind;
    double seqv = -1;
    int shaped;
    if (!w->o->visit && fast_line(line, len, &fseq, fts, fprev, fkind)) {
        ts = fts;
        prev = fprev;
        kind = fkind;
        seqv = (double)fseq;
        shaped = 1;
    } else {
        const char *pend = NULL;
        o = len <= AUDIT_LINE_MAX ? cJSON_ParseWithLengthOpts(line, len, &pend, 0) : NULL;
        if (o && pend != line + len) { /* a line is exactly one object, nothing after it */
            cJSON_Delete(o);
            o = NULL;
        }
        const cJSON *jseq = cJSON_GetObjectItemCaseSensitive(o, "seq");
        ts = str_member(o, "ts");
        prev = str_member(o, "prev");
        kind = str_member(o, "kind");
        jagent = cJSON_GetObjectItemCaseSensitive(o, "agent");
        shaped = cJSON_IsObject(o) && cJSON_IsNumber(jseq) && (!jagent || cJSON_IsString(jagent)) &&
                 !memchr(line, '\0', len);
        if (shaped)
            seqv = jseq->valuedouble;
    }
    int64_t ts_ms = 0;
    int go = 0;
    if (!shaped || !ts || !prev || !kind || strlen(ts) < 20 ||
        audit_time_parse(ts, 0, &ts_ms) != 0 || !audit_kind_valid(kind)) {
        if (is_last) {
            /* A last line that does not parse is what a crash mid-write leaves behind. */
            r->torn_bytes = len + 1;
            crypto_hash_sha256(r->torn_sha256, (const unsigned char *)line, len + 1);
            goto out;
        }
        fail(w, AUDIT_READ_TAMPERED, seq,
             "line %llu is not a valid audit record (JSON object "
             "with seq, ts, prev, kind): the file was edited or damaged in the middle; keep "
             "a copy as evidence, then move the file aside to start a new log",
             (unsigned long long)seq);
        goto out;
    }
    if (seqv != (double)seq) {
        fail(w, AUDIT_READ_TAMPERED, seq,
             "line %llu has seq %.0f: lines were removed, "
             "inserted or reordered before it; keep a copy as evidence, then move the file "
             "aside to start a new log",
             (unsigned long long)seq, seqv);
        goto out;
    }
    char want[65];
    hex32(r->last_hash, want);
    if (strcmp(prev, want) != 0) {
        fail(w, AUDIT_READ_TAMPERED, seq,
             "line %llu: prev does not match the SHA-256 of line "
             "%llu: one of the two lines was altered; keep a copy as evidence, then move the "
             "file aside to start a new log",
             (unsigned long long)seq, (unsigned long long)(seq ? seq - 1 : 0));
        goto out;
    }
    if (strcmp(kind, "checkpoint") == 0 && check_checkpoint_record(w, seq, o) != 0)
        goto out;
    if (track_writers(w, seq, kind, ts_ms, o) != 0)
        goto out;
    if (strcmp(kind, "start") == 0)
        note_start_key(w, o);
    if (w->o->visit) {
        struct audit_rec rec = {.seq = seq,
                                .line = line,
                                .len = len,
                                .kind = kind,
                                .agent = jagent ? jagent->valuestring : NULL,
                                .ts_ms = ts_ms,
                                .json = o};
        if (w->o->visit(&rec, w->o->ctx) != 0) {
            go = 0;
            goto out;
        }
    }
    audit_sha256(line, len, r->last_hash);
    merkle_append(&r->tree, line, len);
    r->lines++;
    r->bytes += len + 1;
    r->closed = w->closed_now;
    snprintf(r->last_kind, sizeof r->last_kind, "%s", kind);
    r->last_ts_ms = ts_ms;
    go = check_anchors(w) == 0;
out:
    cJSON_Delete(o);
    return go;
}

/* Walk the bytes of a log; the verdict goes to report. Returns 0, or -ENOMEM. */
static int read_mem(const char *buf, size_t size, const struct audit_read_opts *opts,
                    struct audit_read_report *report)
{
    int rc = 0;
    struct walk w = {.o = opts, .r = report};
    if (opts->nanchors) {
        w.anchors = calloc(opts->nanchors, sizeof *w.anchors);
        w.anchor_done = calloc(opts->nanchors, sizeof *w.anchor_done);
        if (!w.anchors || !w.anchor_done) {
            snprintf(report->problem, sizeof report->problem, "out of memory");
            rc = -ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < opts->nanchors; i++) {
        char err[384];
        int vrc = opts->check_signatures
                      ? verify_note(&w, opts->anchors[i], opts->anchor_lens[i], &w.anchors[i], err,
                                    sizeof err)
                      : note_checkpoint_parse(opts->anchors[i], opts->anchor_lens[i], &w.anchors[i],
                                              err, sizeof err);
        if (vrc == -EPERM && !opts->trust) {
            /* The self-asserted key is only known once the start record is read: check
             * the anchor's body now and its signature after the walk. */
            vrc = note_checkpoint_parse(opts->anchors[i], opts->anchor_lens[i], &w.anchors[i], err,
                                        sizeof err);
        }
        if (vrc != 0) {
            fail(&w, AUDIT_READ_TAMPERED, 0, "anchor %zu: %s", i + 1, err);
            goto out;
        }
    }
    const char *p = buf, *end = buf + size;
    if (check_anchors(&w) != 0)
        goto out;
    while (size && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            report->torn_bytes = (uint64_t)(end - p);
            report->torn_no_lf = 1;
            crypto_hash_sha256(report->torn_sha256, (const unsigned char *)p, (size_t)(end - p));
            break;
        }
        if (!walk_line(&w, p, (size_t)(nl - p), nl + 1 == end))
            break;
        p = nl + 1;
    }
    if (report->status == AUDIT_READ_VALID) {
        for (size_t i = 0; i < opts->nanchors; i++) {
            if (w.anchor_done[i])
                continue;
            if (w.anchors[i].size > report->lines) {
                fail(&w, AUDIT_READ_TRUNCATED, report->lines,
                     "anchor %zu covers %llu lines "
                     "but the log has only %llu valid lines: the log was truncated after that "
                     "checkpoint was handed out; recover the missing lines from a backup",
                     i + 1, (unsigned long long)w.anchors[i].size,
                     (unsigned long long)report->lines);
                break;
            }
        }
    }
    if (report->status == AUDIT_READ_VALID && opts->check_signatures && !opts->trust) {
        for (size_t i = 0; i < opts->nanchors; i++) {
            char err[384];
            struct note_checkpoint cp;
            if (!w.have_self_pk || note_checkpoint_verify(opts->anchors[i], opts->anchor_lens[i],
                                                          w.self_pk, &cp, err, sizeof err) != 0) {
                fail(&w, AUDIT_READ_TAMPERED, 0,
                     "anchor %zu is not signed by the key the "
                     "log's start record names; pass the log's real public key with --trust",
                     i + 1);
                break;
            }
        }
    }
out:
    free(w.anchors);
    free(w.anchor_done);
    return rc;
}

static int read_init(const struct audit_read_opts *opts, struct audit_read_report *report)
{
    memset(report, 0, sizeof *report);
    merkle_init(&report->tree);
    report->self_asserted = opts->check_signatures && !opts->trust;
    if (sodium_init() < 0) {
        snprintf(report->problem, sizeof report->problem, "libsodium failed to initialise");
        return -ENOSYS;
    }
    return 0;
}

int audit_read_buf(const char *buf, size_t len, const struct audit_read_opts *opts,
                   struct audit_read_report *report)
{
    int rc = read_init(opts, report);
    return rc ? rc : read_mem(buf, len, opts, report);
}

int audit_read_file(const char *path, const struct audit_read_opts *opts,
                    struct audit_read_report *report)
{
    int rc = read_init(opts, report), fd = -1;
    void *map = MAP_FAILED;
    size_t size = 0;
    struct stat st;
    if (rc != 0)
        return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return read_mem("", 0, opts, report); /* no log yet: an empty one */
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = -errno;
        snprintf(report->problem, sizeof report->problem, "cannot read %s: %s", path,
                 strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        snprintf(report->problem, sizeof report->problem, "%s is not a regular file", path);
        goto out;
    }
    size = (size_t)st.st_size;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            rc = -errno;
            snprintf(report->problem, sizeof report->problem, "cannot map %s: %s", path,
                     strerror(errno));
            goto out;
        }
        madvise(map, size, MADV_SEQUENTIAL);
    }
    rc = read_mem(size ? map : "", size, opts, report);
out:
    if (map != MAP_FAILED)
        munmap(map, size);
    if (fd >= 0)
        close(fd);
    return rc;
}
