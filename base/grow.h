/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Growing an array: the one place that doubles a capacity, checks the multiplication for
 * overflow and reallocates, so that no module writes that loop (and its overflow check, or
 * the lack of one) again.
 */
#ifndef CORDON_BASE_GROW_H
#define CORDON_BASE_GROW_H

#include <stddef.h>

/*
 * Make *v (an array of elem-byte items, *cap of them allocated) hold at least need items:
 * the capacity doubles from a first 8 until it does. On success *v and *cap are updated and
 * the items already there kept. Returns 0, -EOVERFLOW when need * elem cannot be counted,
 * -ENOMEM; on failure *v and *cap are unchanged (and still owned by the caller).
 */
__attribute__((warn_unused_result)) int grow(void **v, size_t *cap, size_t need, size_t elem);

/* grow() for a typed pointer: GROW(&arr, &cap, n + 1). */
#define GROW(pv, pcap, need) grow((void **)(pv), (pcap), (need), sizeof **(pv))

#endif
