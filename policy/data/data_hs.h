/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one vectorscan loader of the tree. vectorscan is dlopen'ed on first use, not linked:
 * it brings libstdc++ along, and `cordon exec`, which never checks a pattern nor scans a
 * text, must not pay for that at start. The data scanner (data.c) and the deep policy checks
 * (policy/deep.c) both call through this table.
 */
#ifndef CORDON_POLICY_DATA_DATA_HS_H
#define CORDON_POLICY_DATA_DATA_HS_H

#include <hs/hs.h>

struct data_hs {
    hs_error_t (*compile)(const char *, unsigned, unsigned, const hs_platform_info_t *,
                          hs_database_t **, hs_compile_error_t **);
    hs_error_t (*compile_multi)(const char *const *, const unsigned *, const unsigned *, unsigned,
                                unsigned, const hs_platform_info_t *, hs_database_t **,
                                hs_compile_error_t **);
    hs_error_t (*compile_lit_multi)(const char *const *, const unsigned *, const unsigned *,
                                    const size_t *, unsigned, unsigned, const hs_platform_info_t *,
                                    hs_database_t **, hs_compile_error_t **);
    hs_error_t (*expression_info)(const char *, unsigned, hs_expr_info_t **, hs_compile_error_t **);
    hs_error_t (*free_compile_error)(hs_compile_error_t *);
    hs_error_t (*free_database)(hs_database_t *);
    hs_error_t (*database_size)(const hs_database_t *, size_t *);
    hs_error_t (*alloc_scratch)(const hs_database_t *, hs_scratch_t **);
    hs_error_t (*free_scratch)(hs_scratch_t *);
    hs_error_t (*scan)(const hs_database_t *, const char *, unsigned, unsigned, hs_scratch_t *,
                       match_event_handler, void *);
    hs_error_t (*open_stream)(const hs_database_t *, unsigned, hs_stream_t **);
    hs_error_t (*scan_stream)(hs_stream_t *, const char *, unsigned, unsigned, hs_scratch_t *,
                              match_event_handler, void *);
    hs_error_t (*close_stream)(hs_stream_t *, hs_scratch_t *, match_event_handler, void *);
};

/* The table (loaded once per process, whichever thread asks first), or NULL with *why set to
 * a sentence saying what to install. */
const struct data_hs *data_hs_load(const char **why);

#endif
