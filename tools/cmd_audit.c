/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cordon audit verify` and `cordon audit query`: what an auditor runs against a copy of the
 * audit directory. Both walk the log with policy/audit/audit_read.c, so the query never shows a
 * record without having checked the chain up to it.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/clock.h"
#include "policy/audit/audit_read.h"
#include "policy/sign/key.h"
#include "policy/audit/note.h"
#include "tools/cli.h"

#define MAX_ANCHORS 64

static int log_path(const char *dir, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/audit.jsonl", dir);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* A missing log is a usage error for the commands that read one (audit_read_file() takes it
 * for an empty log, which is right only for audit_open()). */
static int log_exists(const char *cmd, const char *dir, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return 0;
    int e = errno;
    cli_error(cmd, "no audit log in %s: %s: %s (a cordond audit directory holds audit.jsonl)", dir,
              path, strerror(e));
    return -e;
}

/* ---------------------------------------------------------------- verify */

static const char *status_name(enum audit_read_status s)
{
    return s == AUDIT_READ_VALID ? "valid" : s == AUDIT_READ_TAMPERED ? "tampered" : "truncated";
}

static void print_json(const struct audit_read_report *r, size_t nanchors)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", status_name(r->status));
    if (r->status == AUDIT_READ_VALID) {
        cJSON_AddBoolToObject(o, "closed", r->closed);
        cJSON_AddBoolToObject(o, "complete", r->closed && r->gaps == 0);
        cJSON_AddNumberToObject(o, "last_line", (double)(r->lines - 1));
        cJSON_AddNumberToObject(o, "gap_count", (double)r->gaps);
        cJSON *gaps = cJSON_AddArrayToObject(o, "gaps");
        for (uint64_t i = 0; gaps && i < r->gaps && i < AUDIT_READ_MAX_GAPS; i++) {
            const struct audit_gap *g = &r->gap[i];
            char ts[40];
            audit_time_format(g->last_ts_ms, ts, sizeof ts);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "line", (double)g->line);
            cJSON_AddNumberToObject(e, "last_line", (double)g->last_line);
            cJSON_AddStringToObject(e, "last_ts", ts);
            cJSON_AddBoolToObject(e, "recorded", g->recorded);
            cJSON_AddItemToArray(gaps, e);
        }
    }
    cJSON_AddNumberToObject(o, "lines", (double)r->lines);
    cJSON_AddNumberToObject(o, "checkpoints", (double)r->checkpoints);
    cJSON_AddNumberToObject(o, "anchors", (double)nanchors);
    cJSON_AddNumberToObject(o, "anchors_ok", (double)r->anchors_ok);
    cJSON_AddNumberToObject(o, "anchored", (double)r->anchored);
    cJSON_AddNumberToObject(o, "unanchored", (double)(r->lines - r->anchored));
    cJSON_AddBoolToObject(o, "self_asserted_key", r->self_asserted);
    cJSON_AddNumberToObject(o, "key_changes", r->key_changes);
    cJSON_AddNumberToObject(o, "torn_bytes", (double)r->torn_bytes);
    if (r->status != AUDIT_READ_VALID) {
        cJSON_AddNumberToObject(o, "bad_line", (double)r->bad_line);
        cJSON_AddStringToObject(o, "problem", r->problem);
    }
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        puts(s);
    free(s);
    cJSON_Delete(o);
}

static void print_text(const char *path, const struct audit_read_report *r, size_t nanchors)
{
    printf("%s: %" PRIu64 " lines read\n", path, r->lines);
    printf("checkpoints: %" PRIu64 " verified%s\n", r->checkpoints,
           r->checkpoints
               ? (r->self_asserted ? " with the key the log's start record names (self-asserted: "
                                     "anyone who rewrote the log could have replaced it; pass "
                                     "--trust KEY.pub to check against a key you hold)"
                                   : " with the trusted key")
               : "");
    if (r->key_changes)
        printf("note: %d start record(s) name a different key than the one before\n",
               r->key_changes);
    if (nanchors)
        printf("anchors: %" PRIu64 " of %zu matched\n", r->anchors_ok, nanchors);
    if (r->torn_bytes)
        printf("torn tail: %" PRIu64 " bytes after the last complete record (a crash "
               "mid-write; cordond cuts and records them when it next opens the log)\n",
               r->torn_bytes);
    if (r->status != AUDIT_READ_VALID) {
        printf("%s: %s\n", r->status == AUDIT_READ_TAMPERED ? "TAMPERED" : "TRUNCATED", r->problem);
        return;
    }
    if (r->lines > r->anchored)
        printf("unanchored tail: %" PRIu64 " line(s) from line %" PRIu64 " on are chained but "
               "not covered by a verified checkpoint or anchor; a truncation there would not "
               "be detectable\n",
               r->lines - r->anchored, r->anchored);
    for (uint64_t i = 0; i < r->gaps && i < AUDIT_READ_MAX_GAPS; i++) {
        const struct audit_gap *g = &r->gap[i];
        char ts[40];
        audit_time_format(g->last_ts_ms, ts, sizeof ts);
        printf("gap: line %" PRIu64 ": the writer before stopped without its stop record after "
               "line %" PRIu64 " (%s); %s\n",
               g->line, g->last_line, ts,
               g->recorded ? "the next writer recorded it (a gap record)"
                           : "no gap record (written by an older writer)");
    }
    if (r->gaps > AUDIT_READ_MAX_GAPS)
        printf("gap: %" PRIu64 " more not shown (--json lists the first %d as well)\n",
               r->gaps - AUDIT_READ_MAX_GAPS, AUDIT_READ_MAX_GAPS);
    if (!r->closed) {
        printf("VALID up to line %" PRIu64 ", not closed: the writer stopped without its stop "
               "record\n",
               r->lines - 1);
        printf("  (its last record is %s at line %" PRIu64 ": the writer was killed, crashed or "
               "lost its disk, and decisions after that may be missing; a log whose cordond "
               "is still running reads the same way)\n",
               r->last_kind, r->lines - 1);
    } else if (r->gaps) {
        printf("VALID (closed), with %" PRIu64 " gap%s: the chain, the sequence and every "
               "checkpoint hold, but a writer stopped without its stop record (see above), and "
               "decisions made while none was running are missing\n",
               r->gaps, r->gaps == 1 ? "" : "s");
    } else {
        printf("VALID (closed): the chain, the sequence and every checkpoint hold, and the "
               "writer closed the log with its stop record\n");
    }
}

static int run_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"trust", required_argument, NULL, 't'},
                                         {"anchor", required_argument, NULL, 'a'},
                                         {"json", no_argument, NULL, 'j'},
                                         {0, 0, 0, 0}};
    const char *trust_path = NULL, *anchor_paths[MAX_ANCHORS];
    char *anchors[MAX_ANCHORS] = {0}, path[4096], err[512];
    size_t lens[MAX_ANCHORS], nanchors = 0;
    int c, json = 0, rc = CLI_USAGE;
    struct key_trust trust;
    struct audit_read_report *r = NULL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            trust_path = optarg;
            break;
        case 'a':
            if (nanchors == MAX_ANCHORS)
                return cli_usage_error(&cmd_audit_verify, "at most %d anchors", MAX_ANCHORS);
            anchor_paths[nanchors++] = optarg;
            break;
        case 'j':
            json = 1;
            break;
        default:
            return cli_usage_error(&cmd_audit_verify, "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(&cmd_audit_verify, "name exactly one audit directory");
    if (log_path(argv[optind], path, sizeof path) != 0)
        return cli_usage_error(&cmd_audit_verify, "the directory name is too long");
    if (log_exists("audit verify", argv[optind], path) != 0)
        return CLI_USAGE;
    if (trust_path && key_trust_load(trust_path, &trust, err, sizeof err) != 0) {
        cli_error("audit verify", "%s", err);
        return CLI_USAGE;
    }
    size_t loaded = 0;
    for (; loaded < nanchors; loaded++)
        if (cli_read_file(anchor_paths[loaded], NOTE_MAX, &anchors[loaded], &lens[loaded]) != 0)
            goto out;
    struct audit_read_opts o = {.check_signatures = 1,
                                .trust = trust_path ? trust.keys : NULL,
                                .ntrust = trust_path ? trust.n : 0,
                                .anchors = (const char *const *)anchors,
                                .anchor_lens = lens,
                                .nanchors = nanchors};
    r = malloc(sizeof *r);
    if (!r) {
        cli_error("audit verify", "out of memory");
        goto out;
    }
    int rrc = audit_read_file(path, &o, r);
    if (rrc != 0) {
        cli_error("audit verify", "%s", r->problem);
        goto out;
    }
    if (r->status == AUDIT_READ_VALID && r->lines == 0) {
        /* audit_open() writes a start record first: an empty log was truncated to nothing */
        r->status = AUDIT_READ_TRUNCATED;
        snprintf(r->problem, sizeof r->problem,
                 "%.600s holds no record; every log begins with a "
                 "start record, so this one was truncated to nothing",
                 path);
    }
    if (json)
        print_json(r, nanchors);
    else
        print_text(path, r, nanchors);
    rc = r->status != AUDIT_READ_VALID ? CLI_FAIL : !r->closed || r->gaps ? CLI_INCOMPLETE : CLI_OK;
out:
    for (size_t i = 0; i < loaded; i++)
        free(anchors[i]);
    free(r);
    return rc;
}

const struct cli_command cmd_audit_verify = {
    "audit verify",
    "check an audit log's chain, checkpoints and anchors",
    "usage: cordon audit verify DIR [--trust KEY.pub] [--anchor CHECKPOINT]... [--json]\n"
    "\n"
    "Walk DIR/audit.jsonl and check every line: its seq is its line number, its prev is the\n"
    "SHA-256 of the line before, and every checkpoint record carries the RFC 6962 Merkle root\n"
    "of the lines before it, signed by the log's key. Each --anchor (a checkpoint you kept,\n"
    "e.g. a copy of DIR/checkpoint) must match the log: a tree size larger than the log, or a\n"
    "root that differs from the log's prefix, means the log was truncated or rewritten.\n"
    "\n"
    "  --trust KEY.pub   verify signatures with this public key (a trust file may list\n"
    "                    several). Without it, the key named by the log's own start record\n"
    "                    is used, and the result says that this key is self-asserted.\n"
    "  --anchor FILE     a signed checkpoint to check the log against (repeatable, 64 max)\n"
    "  --json            one JSON object instead of text\n"
    "\n"
    "Lines after the last verified checkpoint or anchor are reported as the unanchored\n"
    "tail: they are chained, but their removal could not be detected. A trailing partial\n"
    "line (a crash mid-write) is reported as a torn tail and is not an error.\n"
    "\n"
    "How the log ends: `VALID (closed)` when its last record is the writer's stop record\n"
    "(and the final checkpoint after it), which only an orderly stop writes; otherwise\n"
    "`VALID up to line N, not closed: the writer stopped without its stop record` (the\n"
    "writer was killed, crashed or lost its disk; a log whose cordond still runs reads the\n"
    "same way, so verify a copy taken after it stopped). Every such stop inside the log is\n"
    "listed as a gap, with the line where the next writer took over.\n"
    "The format is specified in docs/AUDIT-FORMAT.md.\n"
    "\n"
    "Exit status: 0 valid and closed, without a gap; 3 valid, but not closed or with a gap;\n"
    "1 tampered or truncated; 2 usage error or unreadable input.\n",
    run_verify,
};

/* ---------------------------------------------------------------- query */

struct query {
    const char *agent, *kind;
    int64_t since, until;
    int json;
    uint64_t shown;
};

/*
 * Print text from the log with control characters (C0, DEL and UTF-8 encoded C1) shown as
 * \xNN: a record may carry text an agent chose, and it must not be able to move the cursor
 * or rewrite what the auditor's terminal shows.
 */
static void put_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            printf("\\x%02x", *p);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            printf("\\xc2\\x%02x", *++p);
        else
            putchar(*p);
    }
}

static int show_record(const struct audit_rec *rec, void *ctx)
{
    struct query *q = ctx;
    if (q->agent && (!rec->agent || strcmp(rec->agent, q->agent) != 0))
        return 0;
    if (q->kind && strcmp(rec->kind, q->kind) != 0)
        return 0;
    if (rec->ts_ms < q->since || rec->ts_ms >= q->until)
        return 0;
    q->shown++;
    if (q->json) {
        fwrite(rec->line, 1, rec->len, stdout);
        putchar('\n');
        return 0;
    }
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(rec->json, "ts");
    printf("%s  #%" PRIu64 "  %-14s ", ts->valuestring, rec->seq, rec->kind);
    put_safe(rec->agent ? rec->agent : "-");
    for (size_t n = rec->agent ? strlen(rec->agent) : 1; n < 16; n++)
        putchar(' ');
    for (const cJSON *m = rec->json->child; m; m = m->next) {
        if (audit_member_reserved(m->string) || strcmp(m->string, "note") == 0 ||
            strcmp(m->string, "public_key") == 0)
            continue;
        putchar(' ');
        put_safe(m->string);
        putchar('=');
        if (cJSON_IsString(m)) {
            put_safe(m->valuestring);
            continue;
        }
        char *v = cJSON_PrintUnformatted(m);
        put_safe(v ? v : "?");
        free(v);
    }
    putchar('\n');
    return 0;
}

static int run_query(int argc, char **argv)
{
    static const struct option opts[] = {
        {"agent", required_argument, NULL, 'a'}, {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'}, {"kind", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},        {0, 0, 0, 0}};
    struct query q = {.since = INT64_MIN, .until = INT64_MAX};
    char path[4096];
    int c;
    int64_t now_ms = clock_real_ms();

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            q.agent = optarg;
            break;
        case 'k':
            if (!audit_kind_valid(optarg))
                return cli_usage_error(&cmd_audit_query,
                                       "--kind \"%s\" is not a record kind "
                                       "(1-64 characters of a-z 0-9 . _ -)",
                                       optarg);
            q.kind = optarg;
            break;
        case 's':
        case 'u':
            if (audit_time_parse(optarg, now_ms, c == 's' ? &q.since : &q.until) != 0)
                return cli_usage_error(&cmd_audit_query,
                                       "--%s \"%s\": expected RFC 3339 "
                                       "(2026-11-24T09:00:00Z), a date (2026-11-24) or a "
                                       "duration ago (90m, 24h, 7d)",
                                       c == 's' ? "since" : "until", optarg);
            break;
        case 'j':
            q.json = 1;
            break;
        default:
            return cli_usage_error(&cmd_audit_query, "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(&cmd_audit_query, "name exactly one audit directory");
    if (log_path(argv[optind], path, sizeof path) != 0)
        return cli_usage_error(&cmd_audit_query, "the directory name is too long");
    if (log_exists("audit query", argv[optind], path) != 0)
        return CLI_USAGE;
    struct audit_read_opts o = {.check_signatures = 1, .visit = show_record, .ctx = &q};
    struct audit_read_report *r = malloc(sizeof *r);
    if (!r) {
        cli_error("audit query", "out of memory");
        return CLI_USAGE;
    }
    int rc = CLI_OK;
    if (audit_read_file(path, &o, r) != 0) {
        cli_error("audit query", "%s", r->problem);
        rc = CLI_USAGE;
    } else if (r->status != AUDIT_READ_VALID) {
        cli_error("audit query",
                  "warning: the log does not verify, records from line %" PRIu64
                  " on are not shown: %s",
                  r->bad_line, r->problem);
        rc = CLI_FAIL;
    }
    if (!q.json && rc != CLI_USAGE)
        fprintf(stderr, "%" PRIu64 " of %" PRIu64 " records matched\n", q.shown, r->lines);
    free(r);
    return rc;
}

const struct cli_command cmd_audit_query = {
    "audit query",
    "show what agents did, from an audit log",
    "usage: cordon audit query DIR [--agent A] [--since T] [--until T] [--kind K] [--json]\n"
    "\n"
    "Print the records of DIR/audit.jsonl that match every filter given, one a line:\n"
    "time, #seq, kind, agent, then the record's own members (digests, decisions, ...).\n"
    "With --json the matching lines are printed exactly as stored, for jq or a SIEM.\n"
    "The hash chain and checkpoints are verified while reading; if they do not hold, a\n"
    "warning goes to stderr and records from the first bad line on are not shown.\n"
    "\n"
    "  --agent A   records naming agent A\n"
    "  --kind K    records of kind K (start, stop, checkpoint, recovery, fs.open, ...)\n"
    "  --since T   records at or after T;  --until T   records before T\n"
    "              T is RFC 3339 (2026-11-24T09:00:00Z), a date (2026-11-24, midnight UTC)\n"
    "              or a duration ago (90s, 15m, 24h, 7d)\n"
    "\n"
    "Example: what did claims-agent do last Tuesday (2026-11-24)?\n"
    "  cordon audit query /var/lib/cordon/audit --agent claims-agent \\\n"
    "      --since 2026-11-24 --until 2026-11-25\n"
    "\n"
    "Exit status: 0 shown, 1 the log does not verify (what could be read was shown),\n"
    "2 usage error or unreadable log.\n",
    run_query,
};
