/*
 * data_internal.h — what the files of src/data/ share and nobody else sees:
 * the cell-value parsers (numbers, booleans, dates), the input loader (plain
 * file via mmap, gzip via zlib) and frame allocation.
 *
 * Every parser takes counted bytes (never a NUL-terminated string) and either
 * accepts the whole field or rejects it; none allocates.
 */
#ifndef KEEL_DATA_INTERNAL_H
#define KEEL_DATA_INTERNAL_H

#include <keel/data.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest decompressed input accepted (gzip or plain): a bound on what one
 * read can make the process allocate. */
#define KEEL_CSV_MAX_INPUT ((size_t)1 << 40)

/* ---- cell values (data_values.c) ---- */

/* The whole of p[0..len) is a decimal integer (optional sign, digits) that
 * fits int64. Inline: it runs once per integer cell. */
static inline bool keel__parse_i64(const char *p, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (len > 0 && (p[0] == '-' || p[0] == '+')) {
        neg = p[0] == '-';
        i = 1;
    }
    if (i == len || len - i > 32)
        return false;
    uint64_t v = 0;
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    /* 18 digits cannot overflow; only longer numbers pay for the check. */
    size_t easy = len - i <= 18 ? len : i + 18;
    for (; i < easy; i++) {
        unsigned d = (unsigned char)p[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + d;
    }
    for (; i < len; i++) {
        unsigned d = (unsigned char)p[i] - '0';
        if (d > 9 || v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return true;
}

/* inf, infinity or nan in any case, after an optional sign. */
bool keel__is_special_number(const char *p, size_t len);

/* The whole of p[0..len) is a number: optional sign, digits with an optional
 * '.' (at least one digit), an optional exponent; or inf/infinity/nan in any
 * case with an optional sign. The value is bit-for-bit what strtod gives
 * (the slow path copies the field, to the heap when over 127 bytes). */
bool keel__parse_f64(const char *p, size_t len, double *out);

/* What p[0..len) is: not a number, a number (keel__parse_f64 accepts it), or
 * an integer that fits int64 (keel__parse_i64 accepts it). Checks the
 * grammar only; cheaper than converting. */
enum { KEEL__NUM_NONE, KEEL__NUM_FLOAT, KEEL__NUM_INT };
static inline int keel__number_kind(const char *p, size_t len)
{
    size_t i = 0;
    if (len > 0 && (p[0] == '-' || p[0] == '+'))
        i = 1;
    size_t int_start = i;
    while (i < len && (unsigned)((unsigned char)p[i] - '0') <= 9)
        i++;
    size_t int_digits = i - int_start;
    if (i == len) {
        if (int_digits == 0)
            return KEEL__NUM_NONE;
        int64_t v;
        /* 18 digits always fit; longer ones need the range check. */
        if (int_digits <= 18 || keel__parse_i64(p, len, &v))
            return KEEL__NUM_INT;
        return KEEL__NUM_FLOAT;
    }
    size_t frac_digits = 0;
    if (p[i] == '.') {
        i++;
        size_t s = i;
        while (i < len && (unsigned)((unsigned char)p[i] - '0') <= 9)
            i++;
        frac_digits = i - s;
    }
    if (int_digits + frac_digits == 0)
        return keel__is_special_number(p, len) ? KEEL__NUM_FLOAT : KEEL__NUM_NONE;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '-' || p[i] == '+'))
            i++;
        size_t s = i;
        while (i < len && (unsigned)((unsigned char)p[i] - '0') <= 9)
            i++;
        if (i == s)
            return KEEL__NUM_NONE;
    }
    return i == len ? KEEL__NUM_FLOAT : KEEL__NUM_NONE;
}


/* true/false in any letter case -> 1/0. */
bool keel__parse_bool(const char *p, size_t len, int64_t *out);

/* YYYY-MM-DD -> days since 1970-01-01. */
bool keel__parse_date(const char *p, size_t len, int64_t *out);

/* YYYY-MM-DD[ T]HH:MM[:SS] -> seconds since 1970-01-01T00:00:00 (no zone).
 * A bare date is accepted only when allow_date (it is then midnight). */
bool keel__parse_datetime(const char *p, size_t len, bool allow_date, int64_t *out);

/* ---- input (data_input.c) ---- */

/* Bytes of a whole input, decompressed when it was gzip. */
typedef struct keel__input {
    const char *data;
    size_t len;
    void *heap;        /* malloc'd buffer to free, or NULL */
    void *map;         /* mmap'd region to munmap, or NULL */
    size_t map_len;
    bool keep;         /* small mapped file: never released */
} keel__input;

/* Opens path: mmap for a plain file, inflate into a heap buffer for gzip. */
int keel__input_open_file(const char *path, keel__input *in, keel_err *err);

/* Wraps caller bytes: no copy for plain data, inflate for gzip. */
int keel__input_from_bytes(const char *name, const char *data, size_t len, keel__input *in,
                           keel_err *err);

/* Tells the kernel the whole pages within bytes [from, to) of a mapped
 * input are not needed now (they are re-read from the page cache if touched
 * again). No-op for heap or caller input. Safe from several threads. */
void keel__input_release(keel__input *in, size_t from, size_t to);

void keel__input_close(keel__input *in);

/* ---- frames (frame.c) ---- */

/* A new empty frame (arena initialised, no columns). NULL when out of
 * memory. */
keel_frame *keel__frame_new(void);

#endif
