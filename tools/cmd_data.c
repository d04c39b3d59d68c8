/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cordon data fingerprint`: an exact-data-match file (policy/data/data_edm.h) from one column
 * of a CSV file, so a policy can find known values (customer names, claim ids, account
 * numbers) in prompts without the file holding any of them. The CSV is read strictly (RFC
 * 4180: commas, double quotes, "" inside quotes, LF or CRLF): a malformed row stops the
 * command with its line number rather than silently fingerprinting half a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "policy/data/data_action.h"
#include "policy/data/data_edm.h"
#include "tools/cli.h"

#define CSV_MAX (1024u * 1024 * 1024) /* bytes of CSV read */
#define CSV_FIELDS_MAX 4096           /* fields in one row */

static const char k_cmd[] = "data fingerprint";

/* One row's fields as [start, end) spans of the CSV text; quoted fields are unescaped into
 * scratch. */
struct row {
    size_t line; /* where the row starts */
    size_t n;
    const char *p[CSV_FIELDS_MAX];
    size_t len[CSV_FIELDS_MAX];
    char *scratch; /* unescaped quoted fields, as long as the input at most */
    size_t used;
};

/*
 * Parse one row from text[*at..len). 1 and the row, 0 at the end of the text, -1 with msg set
 * when the row is malformed. *line is the row's first line and is advanced past it.
 */
static int next_row(const char *text, size_t len, size_t *at, size_t *line, struct row *r,
                    char *msg, size_t msglen)
{
    size_t i = *at;
    r->n = 0;
    r->used = 0;
    /* blank lines between rows are skipped */
    while (i < len &&
           (text[i] == '\n' || (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n'))) {
        if (text[i] == '\r')
            i++;
        i++;
        (*line)++;
    }
    if (i >= len) {
        *at = i;
        return 0;
    }
    r->line = *line;
    for (;;) {
        if (r->n == CSV_FIELDS_MAX) {
            snprintf(msg, msglen, "more than %d fields", CSV_FIELDS_MAX);
            return -1;
        }
        if (i < len && text[i] == '"') {
            char *o = r->scratch + r->used;
            size_t k = 0;
            i++;
            for (;;) {
                if (i >= len) {
                    snprintf(msg, msglen,
                             "a quoted field is not closed before the end of the file");
                    return -1;
                }
                if (text[i] == '"') {
                    if (i + 1 < len && text[i + 1] == '"') {
                        o[k++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (text[i] == '\n')
                    (*line)++;
                o[k++] = text[i++];
            }
            if (i < len && text[i] != ',' && text[i] != '\n' &&
                !(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')) {
                snprintf(msg, msglen,
                         "text after the closing quote of field %zu (a quote inside a quoted "
                         "field is written \"\")",
                         r->n + 1);
                return -1;
            }
            r->p[r->n] = o;
            r->len[r->n] = k;
            r->used += k;
        } else {
            size_t s = i;
            while (i < len && text[i] != ',' && text[i] != '\n' &&
                   !(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')) {
                if (text[i] == '"') {
                    snprintf(msg, msglen,
                             "a quote inside unquoted field %zu; quote the whole field and "
                             "write the quote as \"\"",
                             r->n + 1);
                    return -1;
                }
                if (text[i] == '\r') {
                    snprintf(msg, msglen, "a lone carriage return in field %zu", r->n + 1);
                    return -1;
                }
                i++;
            }
            r->p[r->n] = text + s;
            r->len[r->n] = i - s;
        }
        r->n++;
        if (i >= len)
            break;
        if (text[i] == ',') {
            i++;
            continue;
        }
        if (text[i] == '\r')
            i++;
        i++; /* the newline */
        break;
    }
    (*line)++;
    *at = i;
    return 1;
}

static int write_out(const char *path, const struct data_buf *b)
{
    int fd = STDOUT_FILENO;
    if (path && (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        cli_error(k_cmd, "cannot write %s: %s", path, strerror(errno));
        return CLI_USAGE;
    }
    int rc = io_write_all(fd, b->p, b->len);
    if (rc == 0 && path && fsync(fd) != 0)
        rc = -errno;
    if (path && close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc != 0) {
        cli_error(k_cmd, "cannot write %s: %s", path ? path : "standard output", strerror(-rc));
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int run_fingerprint(int argc, char **argv)
{
    static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                         {"column", required_argument, NULL, 'c'},
                                         {"header", no_argument, NULL, 'H'},
                                         {"output", required_argument, NULL, 'o'},
                                         {0, 0, 0, 0}};
    const char *key_path = NULL, *column = "1", *out_path = NULL;
    int header = 0, c, rc = CLI_USAGE;
    unsigned char key[DATA_KEY_LEN];
    char err[512];
    char *csv = NULL;
    size_t csv_len = 0;
    struct row *r = NULL;
    struct data_edm_writer *w = NULL;
    struct data_buf out = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:c:o:", opts, NULL)) != -1) {
        if (c == 'k')
            key_path = optarg;
        else if (c == 'c')
            column = optarg;
        else if (c == 'H')
            header = 1;
        else if (c == 'o')
            out_path = optarg;
        else
            return cli_usage_error(&cmd_data_fingerprint, "unknown option");
    }
    if (!key_path)
        return cli_usage_error(&cmd_data_fingerprint,
                               "--key KEYFILE is required (the 32-byte data key cordond uses: "
                               "its data_key_file)");
    if (optind + 1 != argc)
        return cli_usage_error(&cmd_data_fingerprint, "name exactly one CSV file (\"-\" reads "
                                                      "standard input)");
    const char *csv_path = argv[optind];
    size_t col = 0; /* 1-based once known */
    char *end = NULL;
    unsigned long v = strtoul(column, &end, 10);
    if (column[0] >= '0' && column[0] <= '9' && *end == '\0') {
        if (v < 1 || v > CSV_FIELDS_MAX)
            return cli_usage_error(&cmd_data_fingerprint, "--column %s: columns count from 1",
                                   column);
        col = v;
    } else if (!header) {
        return cli_usage_error(&cmd_data_fingerprint,
                               "--column %s names a column: give --header too, so the first "
                               "row names the columns",
                               column);
    }
    if (!out_path && isatty(STDOUT_FILENO))
        return cli_usage_error(&cmd_data_fingerprint,
                               "the output is a binary file: redirect standard output or give "
                               "-o FILE");
    if (sodium_init() < 0) {
        cli_error(k_cmd, "libsodium failed to initialise");
        return CLI_USAGE;
    }
    if (data_key_read(key_path, key, err, sizeof err) != 0) {
        cli_error(k_cmd, "%s", err);
        goto out;
    }
    if (cli_read_file(csv_path, CSV_MAX, &csv, &csv_len) != 0)
        goto out;
    if (!(r = calloc(1, sizeof *r)) || !(r->scratch = malloc(csv_len + 1)) ||
        data_edm_writer_new(key, &w) != 0) {
        cli_error(k_cmd, "out of memory");
        goto out;
    }
    size_t at = 0, line = 1, first = 0, fields = 0, skipped = 0, added = 0;
    int got;
    rc = CLI_FAIL;
    while ((got = next_row(csv, csv_len, &at, &line, r, err, sizeof err)) == 1) {
        size_t row_line = r->line;
        if (!first) {
            first = row_line;
            fields = r->n;
            if (header) {
                if (!col) {
                    for (size_t k = 0; k < r->n && !col; k++)
                        if (r->len[k] == strlen(column) && memcmp(r->p[k], column, r->len[k]) == 0)
                            col = k + 1;
                    if (!col) {
                        cli_error(k_cmd, "%s: line %zu: no column named \"%s\" in the header",
                                  csv_path, row_line, column);
                        goto out;
                    }
                }
                if (col > fields) {
                    cli_error(k_cmd,
                              "%s: line %zu: the header has %zu columns, column %zu was "
                              "asked for",
                              csv_path, row_line, fields, col);
                    goto out;
                }
                continue;
            }
        }
        if (r->n != fields) {
            cli_error(k_cmd,
                      "%s: line %zu: %zu fields, the first row has %zu; every row must "
                      "have the same number",
                      csv_path, row_line, r->n, fields);
            goto out;
        }
        if (col > r->n) {
            cli_error(k_cmd, "%s: line %zu: %zu fields, column %zu was asked for", csv_path,
                      row_line, r->n, col);
            goto out;
        }
        int e = data_edm_writer_add(w, r->p[col - 1], r->len[col - 1]);
        if (e == -EINVAL) {
            skipped++; /* an empty cell: nothing to find */
            continue;
        }
        if (e == -E2BIG) {
            cli_error(k_cmd,
                      "%s: line %zu: the value of column %zu is longer than %d bytes or "
                      "%d words; an exact match of such a value is not useful",
                      csv_path, row_line, col, DATA_EDM_VALUE_MAX, DATA_EDM_MAX_WORDS);
            goto out;
        }
        if (e != 0) {
            cli_error(k_cmd, "out of memory");
            goto out;
        }
        added++;
    }
    if (got < 0) {
        cli_error(k_cmd, "%s: line %zu: %s", csv_path, r->line, err);
        goto out;
    }
    if (!added) {
        cli_error(k_cmd, "%s: no value to fingerprint in column %zu", csv_path, col);
        goto out;
    }
    if (data_edm_writer_finish(w, &out) != 0) {
        cli_error(k_cmd, "out of memory");
        goto out;
    }
    if ((rc = write_out(out_path, &out)) != CLI_OK)
        goto out;
    fprintf(stderr,
            "cordon data fingerprint: %zu values (%zu distinct), %zu empty cells skipped "
            "-> %s\n",
            added, data_edm_writer_count(w), skipped, out_path ? out_path : "standard output");
    rc = CLI_OK;
out:
    sodium_memzero(key, sizeof key);
    if (csv) {
        sodium_memzero(csv, csv_len);
        free(csv);
    }
    if (r) {
        if (r->scratch) {
            sodium_memzero(r->scratch, csv_len + 1);
            free(r->scratch);
        }
        free(r);
    }
    data_edm_writer_free(w);
    data_buf_free(&out);
    return rc;
}

const struct cli_command cmd_data_fingerprint = {
    "data fingerprint",
    "make an exact-data-match file from a CSV column",
    "usage: cordon data fingerprint --key KEYFILE [--column N|NAME] [--header]\n"
    "                               [-o FILE] CSV\n"
    "\n"
    "Read one column of CSV (\"-\" reads standard input) and write an exact-data-match\n"
    "file: the keyed BLAKE2b digest of each normalized value (case-folded, spacing\n"
    "collapsed, punctuation removed), sorted, with no plaintext. A policy's custom class\n"
    "{\"class\": \"customer\", \"edm\": FILE, \"action\": \"tokenize\"} then finds those values\n"
    "in prompts and responses.\n"
    "\n"
    "  --key KEYFILE     the 32-byte data key (mode 0600), the same file cordond reads as\n"
    "                    data_key_file: a file made with another key is refused at load\n"
    "  --column N|NAME   the column, counted from 1, or named in the header (default 1)\n"
    "  --header          the first row names the columns and is not fingerprinted\n"
    "  -o, --output FILE write FILE instead of standard output\n"
    "\n"
    "The CSV must be well formed (RFC 4180): every row has as many fields as the first, a\n"
    "quote inside a quoted field is written \"\"; a malformed row stops the command with its\n"
    "line number. Empty cells are skipped. The key is wiped from memory after use.\n"
    "\n"
    "Exit status: 0 written, 1 the CSV or a value was refused, 2 usage error, unreadable\n"
    "key or file.\n",
    run_fingerprint,
};
