/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cordond's log: one line per event, in a form journald and log shippers keep as it is.
 *
 *     level=info msg="policy set reloaded" trigger=sighup agents=3
 *     {"level":"info","msg":"policy set reloaded","trigger":"sighup","agents":"3"}
 *
 * The text form is key=value: a value of letters, digits and punctuation other than '"', '='
 * and '\' stands bare; any other (empty, with a space, a quote, an '=', a backslash, a control
 * character or a byte that is not UTF-8) is quoted, with \" \\ \n \r \t and \xHH inside. The
 * JSON form (--log-format json) is one object per line, every value a string. level and msg
 * come first, then the event's own keys in a fixed order (docs/SERVER.md "Logs"). With
 * --log-file, each line starts with time= (UTC, RFC 3339 with milliseconds), which journald
 * adds by itself on standard error, and SIGHUP reopens the file (log_reopen) so that logrotate
 * can move it away. A line is written with one write(2), so threads never interleave lines.
 */
#ifndef CORDON_SERVER_LOG_H
#define CORDON_SERVER_LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_form { LOG_FORM_TEXT, LOG_FORM_JSON };

#define LOG_LINE_MAX 8192  /* bytes in one line, the newline included */
#define LOG_VALUE_MAX 2048 /* bytes of one value; a longer one is cut and ends with "..." */
#define LOG_KEY_MAX 32     /* bytes of one key; keys are [a-z0-9_], others become '_' */

/* "text" or "json" into *form: 0, or -EINVAL. */
__attribute__((warn_unused_result)) int log_form_parse(const char *s, enum log_form *form);

/*
 * Where and how the process logs from now on: form, and path (NULL: standard error; else a
 * file opened for appending, created mode 0600). Call before any thread starts. Returns 0, or
 * a negative errno with err saying what failed and what to do.
 */
__attribute__((warn_unused_result)) int log_setup(enum log_form form, const char *path, char *err,
                                                  size_t errlen);

/* Open the log file again by its name and put it in place of the old one in one step (a
 * rotated file stops receiving lines, the new one gets them). 0 also when logging goes to
 * standard error; a negative errno with err set when the file cannot be opened (the old one
 * is then kept). */
__attribute__((warn_unused_result)) int log_reopen(char *err, size_t errlen);

/*
 * One line into out (cap bytes, at least 64): time (NULL: none), level, msg, then nkv pairs
 * kv[0]=kv[1], kv[2]=kv[3], ... (a NULL value is written as ""). Always a complete line that
 * ends with '\n': values are cut to fit (LOG_VALUE_MAX, then the room left). Returns its
 * length.
 */
size_t log_format(enum log_form form, const char *time, enum log_level level, const char *msg,
                  const char *const *kv, size_t nkv, char *out, size_t cap);

/* Log msg with pairs of key and value strings, ended by NULL:
 * log_kv(LOG_LEVEL_INFO, "policy set reloaded", "trigger", why, NULL). At most 16 pairs. */
void log_kv(enum log_level level, const char *msg, ...) __attribute__((sentinel));

/* Log a message made with printf's format and no keys of its own. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
