/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one error idiom of cordon (docs/INTERNALS.md, "Errors"). A function returns 0 on
 * success and a negative number on failure, never a mix of conventions:
 *
 *  - a negative errno (-ENOENT, -EACCES, ...) whenever one says what happened, with the
 *    sentence a person reads in the caller's err buffer or struct diag;
 *  - a module's own code only where errno cannot say it (a signature that does not verify,
 *    an expired envelope, a corrupt log). Those codes live in the module's block below,
 *    far from every errno value, so no code can be read as another (ENVELOPE_ERR_EXPIRED
 *    once equalled -EINVAL), and the module names them with its *_strerror().
 *
 * err_is_errno() tells the two apart.
 */
#ifndef CORDON_BASE_ERR_H
#define CORDON_BASE_ERR_H

/* errno values stay below this (Linux uses fewer than 150). */
#define ERR_ERRNO_MAX 4095

/* One block of 100 codes per module that needs its own: CODE = BLOCK - n, n from 1 to 99. */
#define ERR_BLOCK_DSSE (-10000)
#define ERR_BLOCK_ENVELOPE (-10100)
#define ERR_BLOCK_AUDIT (-10200)
#define ERR_BLOCK_SANDBOX (-10300)
#define ERR_BLOCK_AGENTS (-10400)
#define ERR_BLOCK_PATH (-10500)
#define ERR_BLOCK_KEY (-10600)
#define ERR_BLOCK_ENGINE (-10700)
#define ERR_BLOCK_DATA (-10800)
#define ERR_BLOCK_LEDGER (-10900)
#define ERR_BLOCK_TZ (-11000)
#define ERR_BLOCK_MINT (-11100)

/* 1 when rc is a negative errno, 0 for success and for a module's own code. */
static inline int err_is_errno(int rc)
{
    return rc < 0 && rc >= -ERR_ERRNO_MAX;
}

#endif
