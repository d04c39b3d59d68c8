/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ledger: cordond's one authoritative count of what each agent has spent and holds, per
 * session, per day and per month (the buckets the budget stage names in api.budget.tz), and
 * its per-minute and concurrent rates. The budget stage (policy/engine/stage_budget.c) reserves
 * a call's worst case before it goes upstream, atomically against every limit at once, and
 * settles it from the usage or releases it when the call ends; ledger_engine_ops is that
 * interface (struct engine_budget_ops) over a ledger.
 *
 * Storage sits behind a narrow interface (struct ledger_store_ops: append a record, make the
 * appended durable, replay, replace with a snapshot), so that a later store can keep the
 * ledger in a database shared by several hosts. The store here is a journal file in
 * cordond's state dir (ledger_journal_open): every reservation, settlement and release is one
 * checksummed line written to the kernel before the call goes on (so a kill -9 loses nothing),
 * and fsync'd in batches by a flusher thread (so a power loss loses at most one batch
 * window). docs/SERVER.md "Ledger" has the recovery rules: a reservation the journal shows
 * open at a crash is charged at its worst case, once.
 *
 * Rates (requests and tokens per minute, concurrency) are held in memory only: a restart
 * starts them again, which can only let fewer calls through than the minute would have.
 *
 * Thread-safety: every function may be called from any thread. One mutex per agent orders
 * its calls; the journal has its own.
 */
#ifndef CORDON_SERVER_LEDGER_H
#define CORDON_SERVER_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "policy/engine/api.h"

#define LEDGER_ERR_STORE (ERR_BLOCK_LEDGER - 1)   /* the store failed: calls are refused */
#define LEDGER_ERR_CORRUPT (ERR_BLOCK_LEDGER - 2) /* a record that is not one */

/* The name of a ledger code or a negative errno. */
const char *ledger_strerror(int rc);

#define LEDGER_NAME_MAX 64 /* agent and session names; longer ones are refused */

/* One record of the store. Kinds: 'R' a reservation (id, scopes, worst case), 'C' its
 * settlement (id, the charge, estimated), 'X' its release (id); a snapshot holds 'S' session,
 * 'D' day and 'M' month totals of an agent (agent and the one key set, the amounts spent,
 * t_ms the last activity) and one 'N' (id: the next reservation id). */
struct ledger_rec {
    char kind;
    uint64_t id;
    int64_t t_ms;
    char agent[LEDGER_NAME_MAX + 1];
    char session[LEDGER_NAME_MAX + 1];
    char day[16];
    char month[8];
    int64_t usd_p, tokens;
    int estimated;
};

struct ledger_store;
typedef int (*ledger_rec_fn)(void *ud, const struct ledger_rec *r);

struct ledger_store_ops {
    /* Append r. On return it survives the death of cordond (not yet a power loss). */
    int (*append)(struct ledger_store *s, const struct ledger_rec *r);
    /* Make every record appended so far durable. */
    int (*sync)(struct ledger_store *s);
    /* Call cb for every record, in order; a record that cannot be read is skipped and
     * counted in *damaged. Returns 0, cb's non-zero value, or a negative errno. */
    int (*load)(struct ledger_store *s, ledger_rec_fn cb, void *ud, uint64_t *damaged);
    /* Replace the whole content with recs (a snapshot), atomically and durably. */
    int (*replace)(struct ledger_store *s, const struct ledger_rec *recs, size_t n);
    void (*close)(struct ledger_store *s);
};

/* A store: backends put this first in their own struct. */
struct ledger_store {
    const struct ledger_store_ops *ops;
};

/*
 * The journal store at path (created 0600 if absent), fsync'd every sync_ms (0: 200) by its
 * own thread. Returns 0 and *out, or a negative errno with err saying which file and why.
 */
__attribute__((warn_unused_result)) int ledger_journal_open(const char *path, unsigned sync_ms,
                                                            struct ledger_store **out, char *err,
                                                            size_t errlen);

/* The journal's line format (docs/SERVER.md): one record into buf (NUL-terminated, with its
 * newline); returns its length, or -ENOSPC. */
int ledger_rec_format(const struct ledger_rec *r, char *buf, size_t cap);

/*
 * Read journal text: cb for every whole, well-formed line, in order. A line whose checksum or
 * fields are wrong is skipped and counted in *damaged; a last line without its newline (a
 * torn write) is left out and its length put in *torn. Returns 0 or cb's non-zero value.
 */
int ledger_journal_parse(const char *buf, size_t len, ledger_rec_fn cb, void *ud, uint64_t *damaged,
                         size_t *torn);

struct ledger;

/*
 * Open the ledger over st (NULL: in memory only; taken over, closed by ledger_close). The
 * store is replayed: totals rebuilt, every reservation it shows open charged at its worst
 * case, and then replaced by a snapshot of the totals that remain current at now_ms (days
 * and months of the last 62 days, sessions active in the last 48 hours), so that a second
 * crash replays the same totals. Returns 0 and *out; a negative errno or LEDGER_ERR_STORE
 * with err set.
 */
__attribute__((warn_unused_result)) int ledger_open(struct ledger_store *st, int64_t now_ms,
                                                    struct ledger **out, char *err, size_t errlen);
/* Sync the store and free everything. Reservations still open stay open in the journal (the
 * next start charges them). */
void ledger_close(struct ledger *l);

/* struct engine_budget_ops over a ledger (ud: the struct ledger *). */
int ledger_reserve(struct ledger *l, const struct engine_budget_ask *a, uint64_t *handle,
                   struct engine_budget_refusal *why);
void ledger_settle(struct ledger *l, uint64_t handle, int64_t usd_p, int64_t tokens, int estimated);
void ledger_release(struct ledger *l, uint64_t handle);
extern const struct engine_budget_ops ledger_engine_ops;

/* Make the journal durable now (the flusher does it in batches). */
int ledger_sync(struct ledger *l);

/* Counters for /metrics. */
struct ledger_stats {
    uint64_t reservations, settled, estimated, released, open;
    uint64_t refused[ENGINE_BUDGET_N_SCOPES];
    int64_t spent_usd_p, spent_tokens, reserved_usd_p, reserved_tokens;
    uint64_t store_errors, damaged, recovered_open;
};
void ledger_stats_get(struct ledger *l, struct ledger_stats *s);

/* Where one agent stands, for GET /v1/budget: spent and reserved per scope (the rates: used
 * this minute, or open now), for the session and the buckets given. */
struct ledger_view {
    int64_t spent[ENGINE_BUDGET_N_SCOPES], reserved[ENGINE_BUDGET_N_SCOPES];
    int64_t minute_reset_ms;
};
void ledger_view_get(struct ledger *l, const char *agent, const char *session, const char *day,
                     const char *month, int64_t now_ms, struct ledger_view *v);

#endif
