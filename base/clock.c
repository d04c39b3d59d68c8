/* SPDX-License-Identifier: Apache-2.0 */
/* The monotonic and real clocks in the units cordon uses (see clock.h). */
#include "base/clock.h"

#include <time.h>

static int64_t read_clock(clockid_t id, int64_t div)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * (1000000000 / div) + ts.tv_nsec / div;
}

int64_t clock_mono_ms(void)
{
    return read_clock(CLOCK_MONOTONIC, 1000000);
}

int64_t clock_mono_us(void)
{
    return read_clock(CLOCK_MONOTONIC, 1000);
}

int64_t clock_real_ms(void)
{
    return read_clock(CLOCK_REALTIME, 1000000);
}
