/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to policy/: the readers of the walk that turns a policy document into its compiled
 * form (policy_walk.c). policy_load.c walks the document's top level with them,
 * policy_sandbox.c its "sandbox" and "host_deny", policy_api.c its "api". Every reader records
 * its errors in the walk's struct diag with the JSON path it was given, and returns a default
 * (0, NULL, an empty list) so that the walk goes on and reports every mistake of the document
 * at once.
 */
#ifndef CORDON_POLICY_WALK_H
#define CORDON_POLICY_WALK_H

#include "policy/policy.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct ctx {
    struct diag *d;
    struct policy *p;
    struct policy_arena *a;
    const struct policy_env *env;
    int oom;
    size_t n_host; /* the document's host_deny, checked */
    const char **host;
};

/* A new, empty arena for a policy (freed by policy_free); NULL when memory ran out. */
struct policy_arena *pw_arena_new(void);

/* Memory from the policy's arena, freed with it; NULL (and oom set) when it runs out. */
void *pw_cx_alloc(struct ctx *c, size_t n);
/* A copy of s in the arena; "" (and oom set) when it runs out. */
const char *pw_cx_strdup(struct ctx *c, const char *s);

/* An object of at most POLICY_MAX_ITEMS members, no duplicate key, only keys from allowed
 * (NULL-terminated; NULL allows any). Returns 1 when the object may be walked. */
int pw_check_object(struct ctx *c, const cJSON *o, const char *path, const char *const *allowed);

/* Scalars: absent (v NULL) gives def (0 for limits and sizes) without an error. */
int pw_get_enum(struct ctx *c, const cJSON *v, const char *path, const char *const *names, int def);
int pw_get_bool(struct ctx *c, const cJSON *v, const char *path, int def);
long long pw_get_int(struct ctx *c, const cJSON *v, const char *path, long long lo, long long hi,
                     long long def);
double pw_get_num(struct ctx *c, const cJSON *v, const char *path, double lo, double hi,
                  double def);
uint64_t pw_get_limit(struct ctx *c, const cJSON *v, const char *path, const char *unit,
                      uint64_t lo, uint64_t hi);
uint64_t pw_get_size(struct ctx *c, const cJSON *v, const char *path, uint64_t lo, uint64_t hi);
/* A string within POLICY_MAX_STRING, non-empty, no control character; NULL (with an error)
 * otherwise. The result points into the cJSON tree: copy it with pw_cx_strdup to keep it. */
const char *pw_get_str(struct ctx *c, const cJSON *v, const char *path);

/* An array of at most POLICY_MAX_ITEMS: its size, or -EINVAL (not an array) or -E2BIG (too
 * long) with the error added. */
int pw_check_array(struct ctx *c, const cJSON *v, const char *path, const char *of);
/* Room for the entries of array v, or NULL when it is empty, not an array, too long or memory
 * ran out (the error, if any, already added). */
void *pw_array_room(struct ctx *c, const cJSON *v, const char *path, const char *of, size_t elem);

/* Characters of model, tool and class names and their globs: 1 when s is one. */
int pw_valid_name(const char *s, int allow_glob, int allow_slash);
/* A list of names (models, tools): strings, valid characters, no duplicates. */
struct policy_list pw_get_names(struct ctx *c, const cJSON *v, const char *path, const char *what,
                                int allow_slash);

/* The names of each enum, in its order, NULL-terminated. */
extern const char *const pw_n_mode[];
extern const char *const pw_n_enf[];
extern const char *const pw_n_net[];
extern const char *const pw_n_scope[];
extern const char *const pw_n_unix[];
extern const char *const pw_n_sysv[];
extern const char *const pw_n_action[];
extern const char *const pw_n_trigger[];
extern const char *const pw_n_record[];
extern const char *const pw_n_origin[];
extern const char *const pw_n_definition[];
extern const char *const pw_n_denied_call[];
extern const char *const pw_n_stored[];
extern const char *const pw_n_http_tls[];
extern const char *const pw_n_http_action[];

#endif
