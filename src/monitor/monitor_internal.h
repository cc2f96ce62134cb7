/*
 * monitor_internal.h — the part of the drift code that tests reach into but
 * the public API does not promise: the radix sort, which the frame
 * comparison feeds directly (counting the digits while a column is gathered
 * saves a pass over it).
 */
#ifndef KEEL_MONITOR_INTERNAL_H
#define KEEL_MONITOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL__RADIX_BITS 11
#define KEEL__RADIX_BUCKETS (1u << KEEL__RADIX_BITS)
#define KEEL__RADIX_PASSES 3   /* 3 x 11 >= 32: the key of the value as a float */

/* Counts of each digit value, per digit. counted: the caller filled count
 * while gathering the values (else the sort counts them first). */
typedef struct keel__radix_hist {
    size_t count[KEEL__RADIX_PASSES][KEEL__RADIX_BUCKETS];
    bool counted;
} keel__radix_hist;

/* Sorts v[0..n) (no NaN) by the float key, tmp[0..n) as scratch, then
 * sorts the runs of equal float keys left out of order (exact in the end;
 * -0.0 and 0.0 in either order). With out set (not v or tmp), the result
 * is written there; otherwise returns whichever of v and tmp holds it.
 * Never fails. */
double *keel__drift_radix_sort(double *v, double *tmp, size_t n, keel__radix_hist *h,
                               double *out);

#endif
