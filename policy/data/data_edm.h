/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exact data match (EDM): a set of known sensitive values (customer names, claim ids, account
 * numbers) held as keyed digests, so the file has no plaintext. `cordon data fingerprint`
 * writes it from a CSV column; a policy's custom class {"class": ..., "edm": PATH} loads it;
 * the scanner (data.h) finds its values in text with data_edm_match_words().
 *
 * Normalization (values and text alike): ASCII letters lower-cased, ASCII punctuation deleted,
 * every run of whitespace (space, tab, CR, LF, VT, FF) one space, none at the ends. Other bytes
 * (UTF-8 letters, invalid bytes) are kept as they are. "  ACME,  Inc. " -> "acme inc",
 * "O'Brien" -> "obrien", "123-45-678" -> "12345678".
 *
 * Words: in text, a word is a run of bytes that are neither whitespace nor a separator
 * (one of `"`(),:;<>=[]{}|\/` and the backquote); a value of k words matches a span of text
 * of k consecutive words whose normalization equals the value's. max_words in the file is the
 * most words any value has (at most DATA_EDM_MAX_WORDS).
 *
 * Digest: BLAKE2b-128 (crypto_generichash) of the normalized value, keyed with a subkey derived
 * from the 32-byte data key for this use only. Key id: BLAKE2b-128 of a fixed string keyed with
 * the data key, so loading with another key fails with a clear error rather than matching
 * nothing.
 *
 * File format, version 1, integers little-endian:
 *    0   8  magic "CDNEDM\r\n"
 *    8   4  version (1)
 *   12   4  max_words (1..DATA_EDM_MAX_WORDS)
 *   16  16  key id
 *   32   4  min_len: the shortest normalized value, in bytes (>= 1)
 *   36   4  max_len: the longest (min_len <= max_len <= DATA_EDM_VALUE_MAX)
 *   40   8  count (>= 0)
 *   48      count digests of 16 bytes, strictly ascending (memcmp order): binary search
 * The file is exactly 48 + 16 * count bytes; anything else is refused.
 */
#ifndef CORDON_POLICY_DATA_DATA_EDM_H
#define CORDON_POLICY_DATA_DATA_EDM_H

#include <stddef.h>
#include <stdint.h>
#include "policy/data/data.h"
#include "policy/data/data_buf.h"

#define DATA_EDM_MAGIC "CDNEDM\r\n"
#define DATA_EDM_VERSION 1
#define DATA_EDM_HEADER 48
#define DATA_EDM_DIGEST 16
#define DATA_EDM_MAX_WORDS 16
#define DATA_EDM_VALUE_MAX 1024                /* bytes of a normalized value */
#define DATA_EDM_COUNT_MAX (64u * 1024 * 1024) /* values in one file */

struct data_edm;

/*
 * Load an EDM file made with key (DATA_KEY_LEN bytes). Every field is checked: magic, version,
 * key id (a wrong key: DATA_ERR_EDM, "made with another key"), max_words, lengths, count
 * against the file's size, digests sorted. 0 and *out; DATA_ERR_EDM with err saying what is
 * wrong and what to do; -errno (err names the path); -ENOMEM. The set is read-only afterwards:
 * every thread may share it.
 */
__attribute__((warn_unused_result)) int data_edm_load(const char *path, const unsigned char *key,
                                                      struct data_edm **out, char *err,
                                                      size_t errlen);
/* The same from memory (copied). */
__attribute__((warn_unused_result)) int data_edm_load_mem(const void *buf, size_t len,
                                                          const unsigned char *key,
                                                          struct data_edm **out, char *err,
                                                          size_t errlen);
void data_edm_free(struct data_edm *e);

size_t data_edm_count(const struct data_edm *e);
unsigned data_edm_max_words(const struct data_edm *e);

/* Normalize in[0..len) into out (at most outcap bytes, not NUL-terminated). Returns the
 * normalized length; when it exceeds outcap, only outcap bytes were written. */
size_t data_edm_normalize(const char *in, size_t len, char *out, size_t outcap);
/* The number of words of in[0..len) by the rule above. */
size_t data_edm_words(const char *in, size_t len);

/* 1 when value[0..len), normalized, is in the set; 0 when not. */
int data_edm_contains(const struct data_edm *e, const char *value, size_t len);

/*
 * Every span of 1..max_words consecutive words of text[0..len) that is in the set. At each
 * word the longest matching span is reported and the search goes on after it, so reported
 * spans never overlap. A span starts at its first word and ends after its last word; leading
 * and trailing punctuation of those words is outside the span ("(John Smith)." gives
 * "John Smith"). cb(arg, start, end) gets offsets into text; a nonzero return stops the
 * search and is returned. Returns 0, or cb's nonzero value.
 */
typedef int (*data_edm_match_fn)(void *arg, size_t start, size_t end);
int data_edm_match_words(const struct data_edm *e, const char *text, size_t len,
                         data_edm_match_fn cb, void *arg);

/*
 * The writer: add values, then write the file. Values that normalize to nothing are refused
 * (-EINVAL), as are values over DATA_EDM_VALUE_MAX normalized bytes or DATA_EDM_MAX_WORDS
 * words (-E2BIG); duplicates are kept once.
 */
struct data_edm_writer;
__attribute__((warn_unused_result)) int data_edm_writer_new(const unsigned char *key,
                                                            struct data_edm_writer **out);
__attribute__((warn_unused_result)) int data_edm_writer_add(struct data_edm_writer *w,
                                                            const char *value, size_t len);
size_t data_edm_writer_count(const struct data_edm_writer *w);
/* The whole file, appended to *out. 0 or -ENOMEM, -E2BIG (over DATA_EDM_COUNT_MAX). */
__attribute__((warn_unused_result)) int data_edm_writer_finish(struct data_edm_writer *w,
                                                               struct data_buf *out);
/* Wipes the key material. */
void data_edm_writer_free(struct data_edm_writer *w);

#endif
