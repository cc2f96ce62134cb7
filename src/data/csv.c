/*
 * csv.c — the CSV reader: RFC 4180 tokenizer, type inference over all rows,
 * conversion into a frame's typed columns.
 *
 * Two passes over one contiguous input (data_input.c):
 *   pass 1  tokenizes every row, validates it (field count, quoting, UTF-8,
 *           field size) and narrows each column's set of possible types;
 *           it also counts rows and missing values, so pass 2 can allocate
 *           every output array once, at its final size;
 *   pass 2  tokenizes again (no validation left to do) and converts each
 *           field straight into its column's array; strings are interned
 *           into a per-column hash table whose keys live in the frame arena.
 * Nothing is allocated per field. Storing field boundaries between the
 * passes would cost 16+ bytes per field, more than the typed output; a
 * second tokenization is cheaper than that memory.
 *
 * Inputs over CSV_SPLIT_MIN are read by two threads. The split point is a
 * guess (just past the first LF after the middle) that the first thread
 * confirms by arriving exactly there at a row boundary; if it steps over it
 * instead (the LF was inside quotes), or the second thread fails (its error
 * needs a line number only the first thread can give), the first thread
 * reads on alone and the second thread's work is dropped. Each thread has
 * its own scanner, inference state, dictionaries and missing bits; the
 * second thread's dictionaries are appended to the first's afterwards,
 * which keeps "order of first appearance", and its codes are remapped.
 *
 * Lines are physical lines, 1-based, the header being line 1: a newline
 * inside quotes advances the count, blank lines are skipped but counted.
 * Columns in messages are 1-based and named once the header is known.
 */
#include "data_internal.h"

#include <keel/arena.h>

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pages of a mapped input behind the scan are released every this often. */
#define CSV_RELEASE_STEP ((size_t)16 << 20)

enum { FIELD_QUOTED = 1, FIELD_ESCAPED = 2 };

typedef struct csv_field {
    const char *p;   /* content (inside the quotes when quoted) */
    size_t len;      /* raw content bytes; doubled quotes count twice */
    size_t n_esc;    /* doubled quotes inside */
    unsigned flags;
} csv_field;

typedef struct csv_scan {
    const char *name;
    const char *buf;
    size_t len;
    size_t pos;
    size_t line;        /* physical line of pos, 1-based */
    size_t line_start;  /* offset of that line's first byte */
    size_t max_field;
    bool validate;      /* pass 1: check UTF-8 (pass 2 rescans checked bytes) */
    unsigned char delim;
    uint64_t delim_x8;        /* delim in every byte */
    uint64_t high_mask;       /* 0x80 in every byte when validating, else 0 */
    size_t wpos;              /* next_special's cached word: offset, */
    uint64_t wmask;           /* ... and its special bytes (see next_special) */
    size_t stop;              /* a row may not start here: the next segment's */
    bool overshot;            /* the scan passed stop inside a row: no split */
    const keel_column *cols;  /* names for messages; NULL while reading the header */
    size_t n_cols;
    keel_err *err;
} csv_scan;

/* "name:line: column k ('col'): message". col == SIZE_MAX: no column. */
static int scan_errv(const csv_scan *s, int code, size_t line, size_t col, const char *fmt,
                     va_list ap)
{
    char msg[320];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (col == SIZE_MAX)
        return keel_errf(s->err, code, "%.160s:%zu: %s", s->name, line, msg);
    if (s->cols != NULL && col < s->n_cols)
        return keel_errf(s->err, code, "%.160s:%zu: column %zu ('%.64s'): %s", s->name, line,
                         col + 1, s->cols[col].name, msg);
    return keel_errf(s->err, code, "%.160s:%zu: column %zu: %s", s->name, line, col + 1, msg);
}

static int scan_err(const csv_scan *s, int code, size_t line, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int scan_err(const csv_scan *s, int code, size_t line, size_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = scan_errv(s, code, line, col, fmt, ap);
    va_end(ap);
    return rc;
}

/* High bit set in exactly the bytes of w equal to the byte repeated in x8
 * (swar_eq is exact only for the lowest match). */
static inline uint64_t swar_eq_all(uint64_t w, uint64_t x8)
{
    const uint64_t low7 = 0x7F7F7F7F7F7F7F7Full;
    uint64_t y = w ^ x8;
    return ~(((y & low7) + low7) | y | low7);
}

/* Length of the valid UTF-8 sequence at p (p[0] >= 0x80), or 0. Rejects
 * overlong forms, surrogates and code points past U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    if (c < 0xC2 || c > 0xF4)
        return 0;
    size_t n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0) ||
        (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

static int utf8_error(const csv_scan *s, size_t at, size_t col)
{
    return scan_err(s, KEEL_EPARSE, s->line, col, "invalid UTF-8 at byte %zu of the line",
                    at - s->line_start + 1);
}

/* Consumes the newline at s->pos (CRLF, LF or a lone CR). */
static void scan_newline(csv_scan *s)
{
    if (s->buf[s->pos] == '\r' && s->pos + 1 < s->len && s->buf[s->pos + 1] == '\n')
        s->pos++;
    s->pos++;
    s->line++;
    s->line_start = s->pos;
}

/* Offset of the first delimiter, CR, LF or (when validating) non-ASCII
 * byte at or after i, or len. The special bytes of the last word looked at
 * are cached (s->wpos, s->wmask: a function of the buffer and high_mask
 * only), so the short fields of a row cost one word mask per 8 bytes, not
 * one per field. scan_rewind invalidates the cache. */
static inline size_t next_special(csv_scan *s, size_t i)
{
    const char *buf = s->buf;
    const size_t len = s->len;
    if (i - s->wpos < 8) {
        uint64_t m = s->wmask & (~0ull << ((i - s->wpos) * 8));
        if (m != 0)
            return s->wpos + ((size_t)__builtin_ctzll(m) >> 3);
        i = s->wpos + 8;
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, buf + i, 8);
        uint64_t m = (w & s->high_mask) | swar_eq_all(w, s->delim_x8) |
                     swar_eq_all(w, 0x0A0A0A0A0A0A0A0Aull) |
                     swar_eq_all(w, 0x0D0D0D0D0D0D0D0Dull);
        if (m != 0) {
            s->wpos = i;
            s->wmask = m;
            return i + ((size_t)__builtin_ctzll(m) >> 3);
        }
    }
    for (; i < len; i++) {
        unsigned char b = (unsigned char)buf[i];
        if (b == s->delim || b == '\n' || b == '\r' || (b >= 0x80 && s->high_mask != 0))
            break;
    }
    return i;
}

/* Reads one row into f[0..cap); *out_n is the number of fields the row has
 * (which may exceed cap: those are counted, not stored). *out_line is the
 * row's first line. Returns 1 for a row, 0 at the end of input or when the
 * next row would start exactly at s->stop, or an error code (negated, as
 * -code). Blank lines are skipped. */
static int scan_row(csv_scan *s, csv_field *f, size_t cap, size_t *out_n, size_t *out_line)
{
    const char *buf = s->buf;
    const size_t len = s->len;
    if (s->pos == s->stop)
        return 0;  /* the next segment starts here, as it assumed */
    while (s->pos < len && (buf[s->pos] == '\n' || buf[s->pos] == '\r'))
        scan_newline(s);
    if (s->pos >= len)
        return 0;
    if (s->pos >= s->stop) {
        if (s->pos == s->stop)
            return 0;  /* the same, after blank lines */
        s->stop = SIZE_MAX;
        s->overshot = true;
    }
    *out_line = s->line;
    size_t n = 0;
    size_t i = s->pos;
    for (;;) {
        csv_field fld;
        if (i < len && buf[i] == '"') {
            size_t start_line = s->line;
            size_t content = ++i;
            size_t n_esc = 0;
            for (;;) {
                if (i >= len)
                    return -scan_err(s, KEEL_EPARSE, start_line, n, "unterminated quote");
                unsigned char c = (unsigned char)buf[i];
                if (c == '"') {
                    if (i + 1 < len && buf[i + 1] == '"') {
                        n_esc++;
                        i += 2;
                        continue;
                    }
                    break;
                }
                if (c == '\n' || (c == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))) {
                    s->line++;
                    s->line_start = i + 1;
                } else if (c >= 0x80 && s->validate) {
                    size_t k = utf8_seq((const unsigned char *)buf + i, len - i);
                    if (k == 0)
                        return -utf8_error(s, i, n);
                    i += k;
                    continue;
                }
                i++;
            }
            fld = (csv_field){ buf + content, i - content, n_esc,
                               FIELD_QUOTED | (n_esc ? FIELD_ESCAPED : 0u) };
            i++;
            if (i < len && buf[i] != (char)s->delim &&
                buf[i] != '\n' && buf[i] != '\r')
                return -scan_err(s, KEEL_EPARSE, s->line, n,
                                 "unexpected character after closing quote at byte %zu of the "
                                 "line",
                                 i - s->line_start + 1);
        } else {
            size_t start = i;
            for (;;) {
                i = next_special(s, i);
                if (i >= len)
                    break;
                unsigned char b = (unsigned char)buf[i];
                if (b == s->delim || b == '\n' || b == '\r')
                    break;
                /* A non-ASCII byte, only reported when validating. */
                size_t k = utf8_seq((const unsigned char *)buf + i, len - i);
                if (k == 0)
                    return -utf8_error(s, i, n);
                i += k;
            }
            fld = (csv_field){ buf + start, i - start, 0, 0 };
        }
        if (fld.len - fld.n_esc > s->max_field)
            return -scan_err(s, KEEL_ELIMIT, s->line, n, "field over %zu bytes", s->max_field);
        if (n < cap)
            f[n] = fld;
        n++;
        if (i < len && buf[i] == (char)s->delim) {
            i++;
            continue;
        }
        s->pos = i;
        if (i < len)
            scan_newline(s);
        break;
    }
    *out_n = n;
    return 1;
}

/* ---- options ---- */

typedef struct csv_na {
    const char *const *values;
    size_t *lens;
    size_t n;
    bool is_default;  /* "" and "NA" */
} csv_na;

static inline bool is_na(const csv_na *na, const char *p, size_t len)
{
    if (na->is_default)
        return len == 0 || (len == 2 && p[0] == 'N' && p[1] == 'A');
    for (size_t k = 0; k < na->n; k++)
        if (na->lens[k] == len && memcmp(na->values[k], p, len) == 0)
            return true;
    return false;
}

/* ---- string dictionaries ---- */

typedef struct dict_builder {
    uint32_t *slots;   /* code + 1; 0 = empty */
    size_t mask;
    const char **vals; /* arena copies, NUL-terminated */
    size_t *lens;
    uint64_t *hashes;
    size_t n, cap;
    size_t last;       /* code of the previous row's value, for runs */
} dict_builder;

/* memcmp(a, b, n) == 0 for the short strings of typical CSV cells,
 * without a library call. */
static inline bool bytes_equal(const char *a, const char *b, size_t n)
{
    if (n > 16)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* The n < 8 bytes at p as one word, without a variable-length memcpy
 * (a library call): two overlapping 4-byte loads, or bytes 0, n/2, n-1;
 * either covers every byte, so equal n and word mean equal bytes. */
static inline uint64_t load_tail(const char *p, size_t n)
{
    if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4);
        return (uint64_t)hi << 32 | lo;
    }
    if (n == 0)
        return 0;
    return (uint64_t)(unsigned char)p[0] << 16 | (uint64_t)(unsigned char)p[n / 2] << 8 |
           (unsigned char)p[n - 1];
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    h = (h ^ load_tail(p, n)) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h;
}

static void dict_free(dict_builder *d)
{
    free(d->slots);
    free(d->vals);
    free(d->lens);
    free(d->hashes);
    memset(d, 0, sizeof *d);
}

static bool dict_rehash(dict_builder *d, size_t n_slots)
{
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (slots == NULL)
        return false;
    size_t mask = n_slots - 1;
    for (size_t code = 0; code < d->n; code++) {
        size_t i = d->hashes[code] & mask;
        while (slots[i] != 0)
            i = (i + 1) & mask;
        slots[i] = (uint32_t)code + 1;
    }
    free(d->slots);
    d->slots = slots;
    d->mask = mask;
    return true;
}

/* The code of p[0..len) in d, adding it (copied into a) when new.
 * Returns false when out of memory. */
static bool dict_intern(dict_builder *d, keel_arena *a, const char *p, size_t len,
                        uint32_t *out_code)
{
    if (d->n > 0 && d->lens[d->last] == len && bytes_equal(d->vals[d->last], p, len)) {
        *out_code = (uint32_t)d->last;
        return true;
    }
    if (d->slots == NULL && !dict_rehash(d, 64))
        return false;
    uint64_t h = hash_bytes(p, len);
    size_t i = h & d->mask;
    for (uint32_t s; (s = d->slots[i]) != 0; i = (i + 1) & d->mask) {
        size_t code = s - 1;
        if (d->hashes[code] == h && d->lens[code] == len && bytes_equal(d->vals[code], p, len)) {
            d->last = code;
            *out_code = (uint32_t)code;
            return true;
        }
    }
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 16;
        const char **vals = realloc(d->vals, ncap * sizeof *vals);
        if (vals == NULL)
            return false;
        d->vals = vals;
        size_t *lens = realloc(d->lens, ncap * sizeof *lens);
        if (lens == NULL)
            return false;
        d->lens = lens;
        uint64_t *hashes = realloc(d->hashes, ncap * sizeof *hashes);
        if (hashes == NULL)
            return false;
        d->hashes = hashes;
        d->cap = ncap;
    }
    char *copy = keel_arena_strndup(a, p, len);
    if (copy == NULL)
        return false;
    size_t code = d->n++;
    d->vals[code] = copy;
    d->lens[code] = len;
    d->hashes[code] = h;
    d->slots[i] = (uint32_t)code + 1;
    d->last = code;
    *out_code = (uint32_t)code;
    if (d->n * 2 > d->mask + 1)
        return dict_rehash(d, (d->mask + 1) * 2);
    return true;
}

/* ---- inference ---- */

enum {
    MAY_INT = 1u,       /* every value so far is an int64 */
    MAY_NUM = 2u,       /* ... a number */
    MAY_BOOL = 4u,      /* ... true/false */
    MAY_DATE = 8u,      /* ... YYYY-MM-DD */
    MAY_DATETIME = 16u, /* ... a date or a datetime */
    MAY_ALL = 31u,
};

static unsigned narrow(unsigned may, const char *p, size_t len)
{
    if (may & (MAY_INT | MAY_NUM)) {
        int kind = keel__number_kind(p, len);
        if (kind != KEEL__NUM_INT)
            may &= ~MAY_INT;
        if (kind == KEEL__NUM_NONE)
            may &= ~MAY_NUM;
    }
    int64_t v;
    if ((may & MAY_BOOL) && !keel__parse_bool(p, len, &v))
        may &= ~MAY_BOOL;
    if (may & (MAY_DATE | MAY_DATETIME)) {
        if (!keel__parse_date(p, len, &v)) {
            may &= ~MAY_DATE;
            if ((may & MAY_DATETIME) && !keel__parse_datetime(p, len, false, &v))
                may &= ~MAY_DATETIME;
        }
    }
    return may;
}

static enum keel_col_type decide(unsigned may, size_t n_values)
{
    if (n_values == 0)
        return KEEL_COL_STRING;
    if (may & MAY_INT)
        return KEEL_COL_INT;
    if (may & MAY_NUM)
        return KEEL_COL_FLOAT;
    if (may & MAY_BOOL)
        return KEEL_COL_BOOL;
    if (may & MAY_DATE)
        return KEEL_COL_DATE;
    if (may & MAY_DATETIME)
        return KEEL_COL_DATETIME;
    return KEEL_COL_STRING;
}

/* ---- the reader ---- */

/* Inputs with at least this many bytes of rows are read by two threads. */
#define CSV_SPLIT_MIN ((size_t)256 << 10)

/* What a segment does with a column's values: while `cur` is a
 * keel_col_type they are converted into that type as they are read; these
 * two are the other states. */
enum {
    CUR_UNSET = KEEL_COL_STRING + 1, /* no value yet, only missing ones */
    CUR_DEFERRED,                    /* values are converted by a rescan */
};

typedef struct csv_col_state {
    unsigned may;          /* narrow() over every value so far (unused when forced) */
    int cur;               /* a keel_col_type, CUR_UNSET or CUR_DEFERRED */
    bool neg_zero;         /* INT: a value was "-0", which as a float is -0.0 */
    size_t n_values;       /* non-missing */
    size_t n_missing;
    dict_builder dict;
    uint8_t *missing;      /* bit per segment row (from row0); NULL until one is */
} csv_col_state;

typedef struct csv_reader csv_reader;

/* One thread's share of the rows: its own scanner, inference state,
 * dictionaries and error, so two segments never write the same memory.
 * Its rows go to frame rows row0, row0 + 1, ... */
typedef struct csv_seg {
    csv_reader *r;
    csv_scan scan;
    csv_field *fields;
    csv_col_state *st;
    char *scratch;         /* unescaped quoted fields */
    size_t scratch_cap;
    keel_arena *strings;   /* where dictionary strings are copied */
    keel_arena own_strings;
    size_t rows;           /* rows read */
    size_t row0;           /* frame row of the segment's first row */
    size_t released;       /* input bytes given back up to here */
    keel_err err;
    int rc;
    keel_err conv_err;     /* the first value that does not fit an overridden type */
    int conv_rc;
} csv_seg;

struct csv_reader {
    const char *name;
    keel__input *in;
    csv_na na;
    keel_frame *frame;
    bool *forced;          /* per column: type given by an override */
    size_t n_cols;
    size_t max_rows;
    /* Per column, cap_rows 8-byte slots (uninitialised, from the frame
     * arena): int64 or double values, or uint32 codes in the first half.
     * A row's slot is written when the row is read (missing ones too), so
     * nothing needs zeroing and untouched pages cost nothing. */
    void **vals;
    size_t cap_rows;       /* at least the rows the input can hold */
    size_t split_row;      /* row0 of the second segment: a bound on the first's rows */
    size_t miss_bytes;     /* size of a segment's missing bitmap */
    bool *deferred;        /* per column: converted by the rescan */
};

static inline int64_t *col_i64(const csv_reader *r, size_t c)
{
    return r->vals[c];
}

static inline double *col_f64(const csv_reader *r, size_t c)
{
    return r->vals[c];
}

static inline uint32_t *col_codes(const csv_reader *r, size_t c)
{
    return r->vals[c];
}

static int seg_oom(csv_seg *g)
{
    return keel_errf(&g->err, KEEL_ENOMEM, "%s: out of memory", g->r->name);
}

static int seg_init(csv_seg *g, csv_reader *r)
{
    memset(g, 0, sizeof *g);
    g->r = r;
    keel_arena_init(&g->own_strings, 0);
    g->strings = &r->frame->arena;
    g->fields = malloc((KEEL_CSV_MAX_COLUMNS + 1) * sizeof *g->fields);
    return g->fields == NULL ? seg_oom(g) : KEEL_OK;
}

/* Every column of g unset (or of its overridden type), nothing seen. */
static int seg_reset_states(csv_seg *g)
{
    csv_reader *r = g->r;
    if (g->st == NULL && (g->st = calloc(r->n_cols, sizeof *g->st)) == NULL)
        return seg_oom(g);
    for (size_t c = 0; c < r->n_cols; c++) {
        g->st[c].may = MAY_ALL;
        g->st[c].cur = r->forced[c] ? (int)r->frame->cols[c].type : CUR_UNSET;
    }
    return KEEL_OK;
}

static void seg_free(csv_seg *g, size_t n_cols)
{
    if (g->st != NULL) {
        for (size_t c = 0; c < n_cols; c++) {
            dict_free(&g->st[c].dict);
            free(g->st[c].missing);
        }
    }
    free(g->st);
    free(g->fields);
    free(g->scratch);
    keel_arena_free(&g->own_strings);
}

/* The content of f with doubled quotes undone, in g->scratch when needed. */
static int unescape_field(csv_seg *g, const csv_field *f, const char **out_p, size_t *out_len);

static inline int field_text(csv_seg *g, const csv_field *f, const char **out_p,
                             size_t *out_len)
{
    if (__builtin_expect(!(f->flags & FIELD_ESCAPED), 1)) {
        *out_p = f->p;
        *out_len = f->len;
        return KEEL_OK;
    }
    return unescape_field(g, f, out_p, out_len);
}

static int unescape_field(csv_seg *g, const csv_field *f, const char **out_p, size_t *out_len)
{
    size_t need = f->len - f->n_esc + 1;
    if (need > g->scratch_cap) {
        size_t cap = need < 256 ? 256 : need;
        char *grown = realloc(g->scratch, cap);
        if (grown == NULL)
            return seg_oom(g);
        g->scratch = grown;
        g->scratch_cap = cap;
    }
    size_t o = 0;
    for (size_t i = 0; i < f->len; i++) {
        g->scratch[o++] = f->p[i];
        if (f->p[i] == '"')
            i++;  /* the second quote of a pair */
    }
    *out_p = g->scratch;
    *out_len = o;
    return KEEL_OK;
}

static int read_header(csv_reader *r, csv_seg *g, const keel_csv_options *opts,
                       size_t *out_data_start, size_t *out_data_line)
{
    csv_scan *s = &g->scan;
    size_t n = 0, line = 1;
    size_t row_start = s->pos, row_line_start = s->line_start, row_line = s->line;
    int got = scan_row(s, g->fields, KEEL_CSV_MAX_COLUMNS + 1, &n, &line);
    if (got < 0)
        return -got;
    if (got == 0)
        return keel_errf(&g->err, KEEL_EPARSE, "%s: empty file (no header)", r->name);
    if (n > KEEL_CSV_MAX_COLUMNS)
        return scan_err(s, KEEL_ELIMIT, line, SIZE_MAX, "more than %d columns",
                        KEEL_CSV_MAX_COLUMNS);
    keel_frame *fr = r->frame;
    fr->cols = keel_arena_alloc(&fr->arena, n * sizeof *fr->cols);
    g->st = calloc(n, sizeof *g->st);
    r->forced = keel_arena_alloc(&fr->arena, n * sizeof *r->forced);
    if (fr->cols == NULL || g->st == NULL || r->forced == NULL)
        return seg_oom(g);
    fr->n_cols = r->n_cols = n;
    for (size_t c = 0; c < n; c++) {
        keel_column *col = &fr->cols[c];
        if (opts->no_header) {
            col->name = keel_arena_sprintf(&fr->arena, "c%zu", c);
        } else {
            const char *p;
            size_t len;
            int rc = field_text(g, &g->fields[c], &p, &len);
            if (rc != KEEL_OK)
                return rc;
            if (len == 0)
                return scan_err(s, KEEL_EINVAL, line, c, "empty column name");
            if (memchr(p, '\0', len) != NULL)
                return scan_err(s, KEEL_EINVAL, line, c, "NUL byte in column name");
            col->name = keel_arena_strndup(&fr->arena, p, len);
        }
        if (col->name == NULL)
            return seg_oom(g);
        col->type = KEEL_COL_STRING;
        g->st[c].may = MAY_ALL;
    }
    s->cols = fr->cols;
    s->n_cols = n;
    if (!opts->no_header) {
        /* A hash set over the names keeps the duplicate check linear. */
        dict_builder names;
        memset(&names, 0, sizeof names);
        keel_arena tmp;
        keel_arena_init(&tmp, 0);
        int rc = KEEL_OK;
        for (size_t c = 0; c < n && rc == KEEL_OK; c++) {
            uint32_t code;
            size_t len = strlen(fr->cols[c].name);
            if (!dict_intern(&names, &tmp, fr->cols[c].name, len, &code))
                rc = seg_oom(g);
            else if (code != names.n - 1)
                rc = scan_err(s, KEEL_EINVAL, line, c, "duplicate column name (also column %u)",
                              code + 1);
        }
        dict_free(&names);
        keel_arena_free(&tmp);
        if (rc != KEEL_OK)
            return rc;
        *out_data_start = s->pos;
        *out_data_line = s->line;
    } else {
        s->pos = row_start;
        s->line = row_line;
        s->line_start = row_line_start;
        *out_data_start = row_start;
        *out_data_line = row_line;
    }
    for (size_t k = 0; k < opts->n_overrides; k++) {
        const keel_csv_type_override *o = &opts->overrides[k];
        int c = o->column != NULL ? keel_frame_column_index(fr, o->column) : -1;
        if (c < 0)
            return keel_errf(&g->err, KEEL_EINVAL, "%s: type override names no column '%.64s'",
                             r->name, o->column != NULL ? o->column : "(null)");
        if ((unsigned)o->type > KEEL_COL_STRING)
            return keel_errf(&g->err, KEEL_EINVAL,
                             "%s: type override for '%.64s': bad type %d", r->name, o->column,
                             (int)o->type);
        fr->cols[c].type = o->type;
        r->forced[c] = true;
    }
    return KEEL_OK;
}

static void seg_release(csv_seg *g)
{
    if (g->scan.pos - g->released >= CSV_RELEASE_STEP) {
        keel__input_release(g->r->in, g->released, g->scan.pos);
        g->released = g->scan.pos;
    }
}

/* ---- row bound ---- */

/* Set bytes of a mask with only high bits set (no popcnt instruction is
 * assumed). */
static inline size_t mask_count(uint64_t m)
{
    return (size_t)(((m >> 7) * 0x0101010101010101ull) >> 56);
}

/* Line ends in buf[from, to): LFs plus CRs not followed by an LF. */
static size_t count_line_ends(const char *buf, size_t from, size_t to, bool cr)
{
    const uint64_t lf8 = 0x0A0A0A0A0A0A0A0Aull, cr8 = 0x0D0D0D0D0D0D0D0Dull;
    size_t n = 0, i = from;
    for (; i + 8 <= to; i += 8) {
        uint64_t w;
        memcpy(&w, buf + i, 8);
        uint64_t lf = swar_eq_all(w, lf8);
        n += mask_count(lf);
        if (cr) {
            /* A CR whose next byte (8 bits up) is an LF is half a CRLF. */
            uint64_t lone = swar_eq_all(w, cr8) & ~(lf >> 8);
            if ((lone >> 63) && i + 8 < to && buf[i + 8] == '\n')
                lone &= ~(1ull << 63);
            n += mask_count(lone);
        }
    }
    for (; i < to; i++)
        n += buf[i] == '\n' || (cr && buf[i] == '\r' && (i + 1 >= to || buf[i + 1] != '\n'));
    return n;
}

/* Rows that can start in buf[from, to): one per line end, plus one (blank
 * lines and quoted newlines only make fewer). Stops counting at limit. */
static size_t count_lines(csv_reader *r, size_t from, size_t to, size_t limit)
{
    const char *buf = r->in->data;
    bool cr = memchr(buf + from, '\r', to - from) != NULL;
    size_t n = 0, released = from;
    for (size_t i = from; i < to && n < limit;) {
        size_t end = to - i > 4096 ? i + 4096 : to;
        /* A CR at end - 1 sees buf[end]: the next block's first byte. */
        n += count_line_ends(buf, i, end, cr);
        if (cr && end < to && buf[end - 1] == '\r' && buf[end] == '\n')
            n--;
        i = end;
        if (i - released >= CSV_RELEASE_STEP) {
            keel__input_release(r->in, released, i);
            released = i;
        }
    }
    return n < limit ? n + 1 : limit;
}

/* Sizes and allocates every column's value slots for the rows from byte
 * `from` on; `at` is where the second segment starts (0: one segment). */
static int alloc_values(csv_reader *r, csv_seg *g, size_t from, size_t at)
{
    size_t limit = r->max_rows != 0 ? r->max_rows : SIZE_MAX;
    size_t first = 0;
    if (at != 0) {
        first = count_lines(r, from, at, SIZE_MAX) - 1;  /* its last line ends at `at` */
        from = at;
    }
    r->split_row = first;
    r->cap_rows = first + count_lines(r, from, r->in->len, limit);
    r->miss_bytes = r->cap_rows / 8 + 1;
    keel_frame *fr = r->frame;
    r->vals = keel_arena_alloc(&fr->arena, r->n_cols * sizeof *r->vals);
    r->deferred = keel_arena_alloc(&fr->arena, r->n_cols * sizeof *r->deferred);
    if (r->vals == NULL || r->deferred == NULL)
        return seg_oom(g);
    for (size_t c = 0; c < r->n_cols; c++)
        if ((r->vals[c] = keel_arena_alloc_uninit(&fr->arena, r->cap_rows * 8)) == NULL)
            return seg_oom(g);
    return KEEL_OK;
}

/* ---- storing values ---- */

static inline bool seg_missing(const csv_col_state *st, size_t k)
{
    return st->missing != NULL && (st->missing[k >> 3] >> (k & 7)) & 1;
}

/* What a missing cell holds in a column of type t: NAN for floats, 0
 * otherwise (a deferred column's cells are written by the rescan). */
static void put_fill(const csv_reader *r, size_t c, int t, size_t row)
{
    switch (t) {
    case KEEL_COL_FLOAT:
        col_f64(r, c)[row] = NAN;
        break;
    case KEEL_COL_STRING:
        col_codes(r, c)[row] = 0;
        break;
    case CUR_DEFERRED:
        break;
    default:
        col_i64(r, c)[row] = 0;
        break;
    }
}

static int put_missing(csv_seg *g, size_t c, size_t k)
{
    csv_col_state *st = &g->st[c];
    if (st->missing == NULL && (st->missing = calloc(g->r->miss_bytes, 1)) == NULL)
        return seg_oom(g);
    st->missing[k >> 3] |= (uint8_t)(1u << (k & 7));
    st->n_missing++;
    put_fill(g->r, c, st->cur, g->row0 + k);
    return KEEL_OK;
}

enum { PUT_OK, PUT_NOFIT, PUT_OOM };

/* Converts p[0..len) into frame row `row` of column c as type t. Always
 * inlined: it runs once per cell and the call would cost more than most
 * conversions. */
static inline __attribute__((always_inline)) int put_typed(csv_seg *g, size_t c, int t,
                                                           size_t row, const char *p, size_t len)
{
    const csv_reader *r = g->r;
    bool ok;
    switch (t) {
    case KEEL_COL_INT: {
        int64_t *v = &col_i64(r, c)[row];
        ok = keel__parse_i64(p, len, v);
        if (ok && *v == 0 && p[0] == '-')
            g->st[c].neg_zero = true;
        break;
    }
    case KEEL_COL_FLOAT:
        ok = keel__parse_f64(p, len, &col_f64(r, c)[row]);
        break;
    case KEEL_COL_BOOL:
        ok = keel__parse_bool(p, len, &col_i64(r, c)[row]);
        break;
    case KEEL_COL_DATE:
        ok = keel__parse_date(p, len, &col_i64(r, c)[row]);
        break;
    case KEEL_COL_DATETIME:
        ok = keel__parse_datetime(p, len, true, &col_i64(r, c)[row]);
        break;
    case KEEL_COL_STRING:
        return dict_intern(&g->st[c].dict, g->strings, p, len, &col_codes(r, c)[row]) ? PUT_OK
                                                                                    : PUT_OOM;
    default:  /* CUR_UNSET */
        return PUT_NOFIT;
    }
    return ok ? PUT_OK : PUT_NOFIT;
}

/* Moves rows [row0, row0 + n) of column c, written as st->cur, to type
 * `want`: missing-only rows take want's fill, ints become doubles (exact:
 * both round the same integer to nearest), dates become midnights. Any
 * other change (to string, or "-0" to float) defers the column. */
static void retype_rows(const csv_reader *r, csv_col_state *st, size_t c, size_t row0, size_t n,
                        int want)
{
    int from = st->cur;
    if (from == want || from == CUR_DEFERRED)
        return;
    if (from == CUR_UNSET) {
        for (size_t k = 0; k < n; k++)
            put_fill(r, c, want, row0 + k);
    } else if (from == KEEL_COL_INT && want == KEEL_COL_FLOAT && !st->neg_zero) {
        int64_t *iv = col_i64(r, c);
        double *fv = col_f64(r, c);
        for (size_t k = 0; k < n; k++)
            fv[row0 + k] = seg_missing(st, k) ? NAN : (double)iv[row0 + k];
    } else if (from == KEEL_COL_DATE && want == KEEL_COL_DATETIME) {
        int64_t *iv = col_i64(r, c);
        for (size_t k = 0; k < n; k++)
            if (!seg_missing(st, k))
                iv[row0 + k] *= 86400;
    } else {
        want = CUR_DEFERRED;
    }
    st->cur = want;
}

static int bad_value(csv_seg *g, size_t line, size_t c, const char *p, size_t len)
{
    return scan_err(&g->scan, KEEL_EINVAL, line, c, "value '%.*s%s' does not fit type %s",
                    (int)(len > 64 ? 64 : len), p, len > 64 ? "..." : "",
                    keel_col_type_name(g->r->frame->cols[c].type));
}

/* Keeps the first value that does not fit its overridden type: it is the
 * error unless a row after it does not parse (those were found first when
 * inference was a pass of its own, and still win). */
static void note_bad_value(csv_seg *g, size_t line, size_t c, const char *p, size_t len)
{
    if (g->conv_rc != KEEL_OK)
        return;
    keel_err *scan_err_to = g->scan.err;
    g->scan.err = &g->conv_err;
    g->conv_rc = bad_value(g, line, c, p, len);
    g->scan.err = scan_err_to;
}

/* The value does not fit the column's current type: narrows its possible
 * types, moves the segment's earlier rows to the type now decided (or
 * defers the column) and stores the value, which fits by construction. */
static int put_widen(csv_seg *g, size_t c, size_t k, const char *p, size_t len)
{
    csv_col_state *st = &g->st[c];
    st->may = narrow(st->may, p, len);
    retype_rows(g->r, st, c, g->row0, k, (int)decide(st->may, 1));
    if (st->cur == CUR_DEFERRED)
        return KEEL_OK;
    /* Only strtod's copy of a long field can fail here. */
    return put_typed(g, c, st->cur, g->row0 + k, p, len) == PUT_OK ? KEEL_OK : seg_oom(g);
}

/* A non-missing value of column c in the segment's row k. The fast path
 * converts into the current type; a value that fits it leaves `may`
 * unchanged (the types narrow() would keep are exactly those a value of
 * that type fits), so narrow() runs only on a change. */
static inline int put_value(csv_seg *g, size_t c, size_t k, size_t line, const char *p,
                            size_t len)
{
    csv_col_state *st = &g->st[c];
    st->n_values++;
    if (__builtin_expect(st->cur == CUR_DEFERRED, 0)) {
        if (st->may != 0)
            st->may = narrow(st->may, p, len);
        return KEEL_OK;
    }
    int got = put_typed(g, c, st->cur, g->row0 + k, p, len);
    if (__builtin_expect(got == PUT_OK, 1))
        return KEEL_OK;
    if (got == PUT_OOM)
        return seg_oom(g);
    if (g->r->forced[c]) {
        note_bad_value(g, line, c, p, len);
        return KEEL_OK;
    }
    return put_widen(g, c, k, p, len);
}

/* ---- passes ---- */

/* Reads the segment's rows from where its scan stands, validating,
 * inferring and converting them in one go; resumable. */
static int pass_read(csv_seg *g)
{
    csv_reader *r = g->r;
    csv_scan *s = &g->scan;
    g->released = s->pos;
    while (r->max_rows == 0 || g->rows < r->max_rows) {
        size_t n = 0, line = 0;
        int got = scan_row(s, g->fields, r->n_cols, &n, &line);
        if (got < 0)
            return -got;
        if (got == 0)
            break;
        if (n != r->n_cols)
            return scan_err(s, KEEL_EPARSE, line, SIZE_MAX, "expected %zu fields, found %zu",
                            r->n_cols, n);
        size_t k = g->rows;
        for (size_t c = 0; c < r->n_cols; c++) {
            const char *p;
            size_t len;
            int rc = field_text(g, &g->fields[c], &p, &len);
            if (rc == KEEL_OK)
                rc = is_na(&r->na, p, len) ? put_missing(g, c, k)
                                           : put_value(g, c, k, line, p, len);
            if (rc != KEEL_OK)
                return rc;
        }
        g->rows++;
        seg_release(g);
    }
    return KEEL_OK;
}

/* Converts the deferred columns of the first `rows` rows again, now that
 * their type is final (it fits every value: no errors but memory). */
static int pass_rescan(csv_seg *g, size_t rows)
{
    csv_reader *r = g->r;
    csv_scan *s = &g->scan;
    g->released = s->pos;
    for (size_t row = 0; row < rows; row++) {
        size_t n = 0, line = 0;
        int got = scan_row(s, g->fields, r->n_cols, &n, &line);
        if (got < 0)
            return -got;
        if (got == 0 || n != r->n_cols)  /* pass 1 saw these very bytes */
            return keel_errf(&g->err, KEEL_EINTERNAL, "%s:%zu: input changed while reading",
                             r->name, line);
        for (size_t c = 0; c < r->n_cols; c++) {
            if (!r->deferred[c])
                continue;
            const char *p;
            size_t len;
            int rc = field_text(g, &g->fields[c], &p, &len);
            if (rc != KEEL_OK)
                return rc;
            if (is_na(&r->na, p, len))
                put_fill(r, c, g->st[c].cur, row);
            else if (put_typed(g, c, g->st[c].cur, row, p, len) != PUT_OK)
                return seg_oom(g);
        }
        seg_release(g);
    }
    return KEEL_OK;
}

static void *read_thread(void *arg)
{
    csv_seg *g = arg;
    g->rc = pass_read(g);
    if (g->rc == KEEL_OK)
        g->rc = g->conv_rc;  /* the first segment reads on to number it */
    return NULL;
}

/* ---- finishing ---- */

/* Appends the second segment's dictionary of column c to the first's and
 * rewrites its codes: the order of first appearance holds. */
static int merge_dict(csv_reader *r, csv_seg *a, csv_seg *b, size_t c)
{
    dict_builder *bd = &b->st[c].dict;
    if (bd->n == 0)
        return KEEL_OK;
    uint32_t *map = malloc(bd->n * sizeof *map);
    if (map == NULL)
        return seg_oom(a);
    for (size_t k = 0; k < bd->n; k++) {
        if (!dict_intern(&a->st[c].dict, &r->frame->arena, bd->vals[k], bd->lens[k], &map[k])) {
            free(map);
            return seg_oom(a);
        }
    }
    /* Missing cells keep code 0, as in a one-thread read. */
    uint32_t *codes = col_codes(r, c) + b->row0;
    for (size_t i = 0; i < b->rows; i++)
        if (!seg_missing(&b->st[c], i))
            codes[i] = map[codes[i]];
    free(map);
    return KEEL_OK;
}

/* The frame's missing bitmap of column c from the segments' own. */
static int merge_missing(csv_reader *r, csv_seg *a, csv_seg *b, size_t c, size_t rows)
{
    keel_column *col = &r->frame->cols[c];
    if (col->n_missing == 0)
        return KEEL_OK;
    if ((col->missing = keel_arena_alloc(&r->frame->arena, (rows + 7) / 8)) == NULL)
        return seg_oom(a);
    if (a->st[c].missing != NULL)
        memcpy(col->missing, a->st[c].missing, (a->rows + 7) / 8);
    const uint8_t *bits = b != NULL ? b->st[c].missing : NULL;
    if (bits == NULL)
        return KEEL_OK;
    for (size_t byte = 0; byte < (b->rows + 7) / 8; byte++) {
        for (unsigned v = bits[byte]; v != 0; v &= v - 1) {
            size_t row = a->rows + byte * 8 + (size_t)__builtin_ctz(v);
            col->missing[row >> 3] |= (uint8_t)(1u << (row & 7));
        }
    }
    return KEEL_OK;
}

/* Decides each column's type from both segments (b may be NULL), brings
 * every segment's values to it, closes the gap between the segments' rows
 * and builds the missing bitmaps. Columns it cannot finish this way are
 * marked deferred, reset for the rescan, and counted in *n_deferred. */
static int finish_columns(csv_reader *r, csv_seg *a, csv_seg *b, size_t rows,
                          size_t *n_deferred)
{
    keel_frame *fr = r->frame;
    fr->n_rows = rows;
    *n_deferred = 0;
    for (size_t c = 0; c < r->n_cols; c++) {
        keel_column *col = &fr->cols[c];
        csv_col_state *sa = &a->st[c], *sb = b != NULL ? &b->st[c] : NULL;
        col->n_missing = sa->n_missing + (sb != NULL ? sb->n_missing : 0);
        if (!r->forced[c]) {
            unsigned may = sa->may & (sb != NULL ? sb->may : MAY_ALL);
            col->type = decide(may, sa->n_values + (sb != NULL ? sb->n_values : 0));
        }
        retype_rows(r, sa, c, a->row0, a->rows, (int)col->type);
        if (sb != NULL)
            retype_rows(r, sb, c, b->row0, b->rows, (int)col->type);
        r->deferred[c] = sa->cur == CUR_DEFERRED || (sb != NULL && sb->cur == CUR_DEFERRED);
        int rc = merge_missing(r, a, b, c, rows);
        if (rc == KEEL_OK && !r->deferred[c] && sb != NULL) {
            if (col->type == KEEL_COL_STRING)
                rc = merge_dict(r, a, b, c);
            size_t size = col->type == KEEL_COL_STRING ? sizeof(uint32_t) : 8;
            if (b->row0 != a->rows)  /* blank lines or quoted newlines in the first */
                memmove((char *)r->vals[c] + a->rows * size,
                        (char *)r->vals[c] + b->row0 * size, b->rows * size);
        }
        if (rc != KEEL_OK)
            return rc;
        if (r->deferred[c]) {
            dict_free(&sa->dict);
            sa->cur = (int)col->type;
            ++*n_deferred;
        }
        col->i64 = NULL;
        col->f64 = NULL;
        col->codes = NULL;
        if (col->type == KEEL_COL_FLOAT)
            col->f64 = col_f64(r, c);
        else if (col->type == KEEL_COL_STRING)
            col->codes = col_codes(r, c);
        else
            col->i64 = col_i64(r, c);
    }
    return KEEL_OK;
}

static int finish_dicts(csv_reader *r, csv_seg *a)
{
    keel_frame *fr = r->frame;
    for (size_t c = 0; c < r->n_cols; c++) {
        keel_column *col = &fr->cols[c];
        dict_builder *d = &a->st[c].dict;
        if (col->type != KEEL_COL_STRING)
            continue;
        const char **dict = keel_arena_alloc(&fr->arena, (d->n ? d->n : 1) * sizeof *dict);
        if (dict == NULL)
            return seg_oom(a);
        if (d->n > 0)
            memcpy(dict, d->vals, d->n * sizeof *dict);
        col->dict = dict;
        col->n_dict = d->n;
    }
    return KEEL_OK;
}

static int check_options(const char *name, const keel_csv_options *opts, keel_err *err)
{
    unsigned char d = (unsigned char)opts->delimiter;
    if (d == '"' || d == '\n' || d == '\r' || d >= 0x80)
        return keel_errf(err, KEEL_EINVAL, "%s: delimiter 0x%02x is not allowed", name, d);
    if (opts->n_overrides > 0 && opts->overrides == NULL)
        return keel_errf(err, KEEL_EINVAL, "%s: overrides missing", name);
    if (opts->n_na_values > 0 && opts->na_values == NULL)
        return keel_errf(err, KEEL_EINVAL, "%s: na_values missing", name);
    for (size_t k = 0; k < opts->n_na_values; k++)
        if (opts->na_values[k] == NULL)
            return keel_errf(err, KEEL_EINVAL, "%s: na_values[%zu] is NULL", name, k);
    return KEEL_OK;
}

static void scan_rewind(csv_scan *s, size_t pos, size_t line, bool validate)
{
    s->pos = pos;
    s->line = line;
    s->line_start = pos;
    s->stop = SIZE_MAX;
    s->overshot = false;
    s->validate = validate;
    s->high_mask = validate ? 0x8080808080808080ull : 0;
    s->wpos = SIZE_MAX / 2;  /* no cached word: i - wpos >= 8 for any offset */
    s->wmask = 0;
}

/* Where a second thread may start: just past the first LF at or after the
 * middle of the rows, or 0 for one thread. Only a guess: the first segment
 * confirms it by reaching exactly that offset at a row boundary. */
static size_t split_point(const keel__input *in, size_t data_start, size_t max_rows)
{
    if (max_rows != 0 || in->len - data_start < CSV_SPLIT_MIN)
        return 0;
    size_t mid = data_start + (in->len - data_start) / 2;
    const char *nl = memchr(in->data + mid, '\n', in->len - mid);
    if (nl == NULL || (size_t)(nl - in->data) + 1 >= in->len)
        return 0;
    return (size_t)(nl - in->data) + 1;
}

static int parse_input(const char *name, keel__input *in, const keel_csv_options *opts,
                       keel_frame **out, keel_err *err)
{
    static const keel_csv_options defaults;
    if (opts == NULL)
        opts = &defaults;
    int rc = check_options(name, opts, err);
    if (rc != KEEL_OK)
        return rc;

    csv_reader r;
    memset(&r, 0, sizeof r);
    r.name = name;
    r.in = in;
    r.max_rows = opts->max_rows;
    r.na.is_default = opts->na_values == NULL;
    r.na.values = opts->na_values;
    r.na.n = opts->n_na_values;
    r.frame = keel__frame_new();
    if (r.frame == NULL)
        return keel_errf(err, KEEL_ENOMEM, "%s: out of memory", name);
    csv_seg a, b;
    bool b_used = false, split = false;
    if ((rc = seg_init(&a, &r)) != KEEL_OK) {
        keel_frame_destroy(r.frame);
        free(a.fields);
        return keel_errf(err, rc, "%s", a.err.msg);
    }
    memset(&b, 0, sizeof b);
    if (r.na.n > 0) {
        r.na.lens = malloc(r.na.n * sizeof *r.na.lens);
        if (r.na.lens == NULL) {
            rc = seg_oom(&a);
            goto done;
        }
        for (size_t k = 0; k < r.na.n; k++)
            r.na.lens[k] = strlen(r.na.values[k]);
    }
    csv_scan *s = &a.scan;
    s->name = name;
    s->buf = in->data;
    s->len = in->len;
    s->max_field = opts->max_field ? opts->max_field : KEEL_CSV_DEFAULT_MAX_FIELD;
    s->delim = opts->delimiter ? (unsigned char)opts->delimiter : ',';
    s->delim_x8 = 0x0101010101010101ull * s->delim;
    s->err = &a.err;
    size_t data_start = 0, data_line = 1;
    scan_rewind(s, 0, 1, true);
    if (s->len >= 3 && memcmp(s->buf, "\xEF\xBB\xBF", 3) == 0)
        s->pos = 3;
    if ((rc = read_header(&r, &a, opts, &data_start, &data_line)) != KEEL_OK ||
        (rc = seg_reset_states(&a)) != KEEL_OK)
        goto done;

    /* One pass over the rows, in two threads when the input is big enough. */
    size_t at = split_point(in, s->pos, r.max_rows);
    if ((rc = alloc_values(&r, &a, s->pos, at)) != KEEL_OK)
        goto done;
    pthread_t tid;
    if (at != 0) {
        if ((rc = seg_init(&b, &r)) != KEEL_OK)
            goto done;
        b_used = true;
        if ((rc = seg_reset_states(&b)) != KEEL_OK) {
            rc = seg_oom(&a);
            goto done;
        }
        b.scan = a.scan;
        b.scan.err = &b.err;
        scan_rewind(&b.scan, at, 1, true);
        b.row0 = r.split_row;
        b.strings = &b.own_strings;
        a.scan.stop = at;
        split = pthread_create(&tid, NULL, read_thread, &b) == 0;
        if (!split)
            a.scan.stop = SIZE_MAX;
    }
    rc = pass_read(&a);
    if (split) {
        pthread_join(tid, NULL);
        if (rc == KEEL_OK && (a.scan.overshot || b.rc != KEEL_OK)) {
            /* The guess was inside a quoted field, or the second half has
             * an error whose line only the first segment can number:
             * the first segment reads on by itself. */
            split = false;
            a.scan.stop = SIZE_MAX;
            rc = pass_read(&a);
        }
    }
    if (rc == KEEL_OK && a.conv_rc != KEEL_OK) {
        rc = a.conv_rc;
        a.err = a.conv_err;
    }
    if (rc != KEEL_OK)
        goto done;
    size_t rows = a.rows + (split ? b.rows : 0);
    if (rows > UINT32_MAX) {
        rc = keel_errf(&a.err, KEEL_ELIMIT, "%s: more than %u rows", name, UINT32_MAX);
        goto done;
    }
    size_t n_deferred = 0;
    if ((rc = finish_columns(&r, &a, split ? &b : NULL, rows, &n_deferred)) != KEEL_OK)
        goto done;
    keel__input_release(in, 0, in->len);

    /* Columns whose earlier values could not follow a change of type are
     * converted again, over all rows, by one thread. */
    if (n_deferred > 0) {
        scan_rewind(&a.scan, data_start, data_line, false);
        if ((rc = pass_rescan(&a, rows)) != KEEL_OK)
            goto done;
    }
    rc = finish_dicts(&r, &a);

done:
    if (rc != KEEL_OK)
        keel_errf(err, rc, "%s", a.err.msg);
    if (b_used)
        seg_free(&b, r.n_cols);
    seg_free(&a, r.n_cols);
    free(r.na.lens);
    if (rc == KEEL_OK)
        *out = r.frame;
    else
        keel_frame_destroy(r.frame);
    return rc;
}

int keel_csv_parse(const char *name, const char *data, size_t len, const keel_csv_options *opts,
                   keel_frame **out, keel_err *err)
{
    if (out == NULL || (data == NULL && len > 0))
        return keel_errf(err, KEEL_EINVAL, "csv: missing argument");
    *out = NULL;
    if (name == NULL)
        name = "<csv>";
    keel__input in;
    int rc = keel__input_from_bytes(name, data != NULL ? data : "", len, &in, err);
    if (rc != KEEL_OK)
        return rc;
    rc = parse_input(name, &in, opts, out, err);
    keel__input_close(&in);
    return rc;
}

int keel_csv_read(const char *path, const keel_csv_options *opts, keel_frame **out,
                  keel_err *err)
{
    if (path == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "csv: missing argument");
    *out = NULL;
    keel__input in;
    int rc = keel__input_open_file(path, &in, err);
    if (rc != KEEL_OK)
        return rc;
    rc = parse_input(path, &in, opts, out, err);
    keel__input_close(&in);
    return rc;
}
