/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers every sandbox back end uses to fill the enforcement report. */
#ifndef CORDON_SANDBOX_REPORT_H
#define CORDON_SANDBOX_REPORT_H

#include <stddef.h>
#include "sandbox/sandbox.h"

/* Append a note (a degradation or a limit) to v, which holds *n of SANDBOX_MAX_NOTES. */
__attribute__((format(printf, 3, 4))) void sandbox_report_note(char (*v)[SANDBOX_NOTE_MAX],
                                                               size_t *n, const char *fmt, ...);
/* A monotonic clock in microseconds, for the report's timings. */
double sandbox_report_clock_us(void);

#endif
