/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two clocks cordon reads. Deadlines, timeouts and durations use the monotonic clock,
 * which never jumps; timestamps that a person or another host reads use the real clock.
 * Both are vDSO calls with no lock, safe inside a hook.
 */
#ifndef CORDON_BASE_CLOCK_H
#define CORDON_BASE_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC: for deadlines and durations only. */
int64_t clock_mono_ms(void);
/* Microseconds on CLOCK_MONOTONIC. */
int64_t clock_mono_us(void);
/* Milliseconds since the epoch on CLOCK_REALTIME: for timestamps. */
int64_t clock_real_ms(void);

#endif
