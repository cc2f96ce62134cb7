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

/* High bit set in each byte of w equal to the byte repeated in x8 (exact
 * for the lowest such byte, which is all the caller uses). */
static inline uint64_t swar_eq(uint64_t w, uint64_t x8)
{
    uint64_t y = w ^ x8;
    return (y - 0x0101010101010101ull) & ~y & 0x8080808080808080ull;
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
            while (i < len) {
                /* Eight bytes at a time to the first delimiter, CR, LF or
                 * (when validating) non-ASCII byte; the byte loop below
                 * then classifies that byte. */
                while (i + 8 <= len) {
                    uint64_t w;
                    memcpy(&w, buf + i, 8);
                    uint64_t m = (w & s->high_mask) | swar_eq(w, s->delim_x8) |
                                 swar_eq(w, 0x0A0A0A0A0A0A0A0Aull) |
                                 swar_eq(w, 0x0D0D0D0D0D0D0D0Dull);
                    if (m != 0) {
                        i += (size_t)__builtin_ctzll(m) >> 3;
                        break;
                    }
                    i += 8;
                }
                if (i >= len)
                    break;
                unsigned char b = (unsigned char)buf[i];
                if (b == s->delim || b == '\n' || b == '\r')
                    break;
                if (b < 0x80 || !s->validate) {
                    i++;
                } else {
                    size_t k = utf8_seq((const unsigned char *)buf + i, len - i);
                    if (k == 0)
                        return -utf8_error(s, i, n);
                    i += k;
                }
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
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
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

typedef struct csv_col_state {
    unsigned may;
    size_t n_values;       /* non-missing */
    size_t n_missing;
    dict_builder dict;
    uint8_t *missing;      /* pass 2, second segment: its own bits, from its row0 */
} csv_col_state;

typedef struct csv_reader csv_reader;

/* One thread's share of the rows: its own scanner, inference state,
 * dictionaries and error, so two segments never write the same memory. */
typedef struct csv_seg {
    csv_reader *r;
    csv_scan scan;
    csv_field *fields;
    csv_col_state *st;
    char *scratch;         /* unescaped quoted fields */
    size_t scratch_cap;
    keel_arena *strings;   /* where dictionary strings are copied */
    keel_arena own_strings;
    bool local_missing;    /* pass 2: missing bits into st[c].missing */
    size_t rows;           /* pass 1: rows read; pass 2: rows to convert */
    size_t done;           /* pass 2: rows converted */
    size_t row0;           /* pass 2: frame row of the segment's first row */
    size_t released;       /* input bytes given back up to here */
    keel_err err;
    int rc;
} csv_seg;

struct csv_reader {
    const char *name;
    keel__input *in;
    csv_na na;
    keel_frame *frame;
    bool *forced;          /* per column: type given by an override */
    size_t n_cols;
    size_t max_rows;
};

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

/* Pass 1 over the segment's rows, from where its scan stands; resumable. */
static int pass_infer(csv_seg *g)
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
        for (size_t c = 0; c < r->n_cols; c++) {
            csv_col_state *st = &g->st[c];
            const char *p;
            size_t len;
            int rc = field_text(g, &g->fields[c], &p, &len);
            if (rc != KEEL_OK)
                return rc;
            if (is_na(&r->na, p, len)) {
                st->n_missing++;
                continue;
            }
            st->n_values++;
            if (st->may != 0 && !r->forced[c])
                st->may = narrow(st->may, p, len);
        }
        g->rows++;
        seg_release(g);
    }
    return KEEL_OK;
}

static int alloc_columns(csv_reader *r, csv_seg *g, size_t rows)
{
    keel_frame *fr = r->frame;
    fr->n_rows = rows;
    for (size_t c = 0; c < r->n_cols; c++) {
        keel_column *col = &fr->cols[c];
        csv_col_state *st = &g->st[c];
        if (!r->forced[c])
            col->type = decide(st->may, st->n_values);
        void *arr;
        switch (col->type) {
        case KEEL_COL_FLOAT:
            arr = col->f64 = keel_arena_alloc(&fr->arena, rows * sizeof(double));
            break;
        case KEEL_COL_STRING:
            arr = col->codes = keel_arena_alloc(&fr->arena, rows * sizeof(uint32_t));
            break;
        default:
            arr = col->i64 = keel_arena_alloc(&fr->arena, rows * sizeof(int64_t));
            break;
        }
        if (arr == NULL)
            return seg_oom(g);
        col->n_missing = st->n_missing;
        if (st->n_missing > 0) {
            col->missing = keel_arena_alloc(&fr->arena, (rows + 7) / 8);
            if (col->missing == NULL)
                return seg_oom(g);
        }
    }
    return KEEL_OK;
}

static int bad_value(csv_seg *g, size_t line, size_t c, const char *p, size_t len)
{
    return scan_err(&g->scan, KEEL_EINVAL, line, c, "value '%.*s%s' does not fit type %s",
                    (int)(len > 64 ? 64 : len), p, len > 64 ? "..." : "",
                    keel_col_type_name(g->r->frame->cols[c].type));
}

/* Pass 2: converts rows done..rows of the segment; resumable. */
static int pass_convert(csv_seg *g)
{
    csv_reader *r = g->r;
    csv_scan *s = &g->scan;
    keel_frame *fr = r->frame;
    g->released = s->pos;
    for (; g->done < g->rows; g->done++) {
        size_t n = 0, line = 0;
        int got = scan_row(s, g->fields, r->n_cols, &n, &line);
        if (got < 0)
            return -got;
        if (got == 0 || n != r->n_cols)  /* pass 1 saw these very bytes */
            return keel_errf(&g->err, KEEL_EINTERNAL, "%s:%zu: input changed while reading",
                             r->name, line);
        size_t row = g->row0 + g->done;
        for (size_t c = 0; c < r->n_cols; c++) {
            keel_column *col = &fr->cols[c];
            const char *p;
            size_t len;
            int rc = field_text(g, &g->fields[c], &p, &len);
            if (rc != KEEL_OK)
                return rc;
            if (col->missing != NULL && is_na(&r->na, p, len)) {
                if (g->local_missing)
                    g->st[c].missing[g->done >> 3] |= (uint8_t)(1u << (g->done & 7));
                else
                    col->missing[row >> 3] |= (uint8_t)(1u << (row & 7));
                if (col->type == KEEL_COL_FLOAT)
                    col->f64[row] = NAN;
                continue;
            }
            bool ok = true;
            switch (col->type) {
            case KEEL_COL_INT:
                ok = keel__parse_i64(p, len, &col->i64[row]);
                break;
            case KEEL_COL_FLOAT:
                ok = keel__parse_f64(p, len, &col->f64[row]);
                break;
            case KEEL_COL_BOOL:
                ok = keel__parse_bool(p, len, &col->i64[row]);
                break;
            case KEEL_COL_DATE:
                ok = keel__parse_date(p, len, &col->i64[row]);
                break;
            case KEEL_COL_DATETIME:
                ok = keel__parse_datetime(p, len, true, &col->i64[row]);
                break;
            case KEEL_COL_STRING:
                if (!dict_intern(&g->st[c].dict, g->strings, p, len, &col->codes[row]))
                    return seg_oom(g);
                break;
            }
            if (!ok)
                return bad_value(g, line, c, p, len);
        }
        seg_release(g);
    }
    return KEEL_OK;
}

static void *infer_thread(void *arg)
{
    csv_seg *g = arg;
    g->rc = pass_infer(g);
    return NULL;
}

static void *convert_thread(void *arg)
{
    csv_seg *g = arg;
    g->rc = pass_convert(g);
    return NULL;
}

/* Folds the second segment's dictionaries and missing bits into the first's
 * and the frame: its strings are interned after the first segment's, which
 * keeps the order of first appearance, and its codes are rewritten. */
static int merge_converted(csv_reader *r, csv_seg *a, csv_seg *b)
{
    keel_frame *fr = r->frame;
    for (size_t c = 0; c < r->n_cols; c++) {
        keel_column *col = &fr->cols[c];
        dict_builder *bd = &b->st[c].dict;
        if (col->type == KEEL_COL_STRING && bd->n > 0) {
            uint32_t *map = malloc(bd->n * sizeof *map);
            if (map == NULL)
                return seg_oom(a);
            for (size_t k = 0; k < bd->n; k++) {
                if (!dict_intern(&a->st[c].dict, &fr->arena, bd->vals[k], bd->lens[k], &map[k])) {
                    free(map);
                    return seg_oom(a);
                }
            }
            uint32_t *codes = col->codes + b->row0;
            for (size_t i = 0; i < b->rows; i++)
                codes[i] = map[codes[i]];
            free(map);
        }
        const uint8_t *bits = b->st[c].missing;
        if (bits == NULL)
            continue;
        for (size_t byte = 0; byte < (b->rows + 7) / 8; byte++) {
            for (unsigned v = bits[byte]; v != 0; v &= v - 1) {
                size_t row = b->row0 + byte * 8 + (size_t)__builtin_ctz(v);
                col->missing[row >> 3] |= (uint8_t)(1u << (row & 7));
            }
        }
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
    if ((rc = read_header(&r, &a, opts, &data_start, &data_line)) != KEEL_OK)
        goto done;

    /* Pass 1, in two threads when the input is big enough. */
    size_t at = split_point(in, s->pos, r.max_rows);
    pthread_t tid;
    if (at != 0) {
        if ((rc = seg_init(&b, &r)) != KEEL_OK)
            goto done;
        b_used = true;
        b.st = calloc(r.n_cols, sizeof *b.st);
        if (b.st == NULL) {
            rc = seg_oom(&a);
            goto done;
        }
        for (size_t c = 0; c < r.n_cols; c++)
            b.st[c].may = MAY_ALL;
        b.scan = a.scan;
        b.scan.err = &b.err;
        scan_rewind(&b.scan, at, 1, true);
        a.scan.stop = at;
        split = pthread_create(&tid, NULL, infer_thread, &b) == 0;
        if (!split)
            a.scan.stop = SIZE_MAX;
    }
    rc = pass_infer(&a);
    if (split) {
        pthread_join(tid, NULL);
        if (rc == KEEL_OK && (a.scan.overshot || b.rc != KEEL_OK)) {
            /* The guess was inside a quoted field, or the second half has
             * an error whose line only the first segment can number:
             * the first segment reads on by itself. */
            split = false;
            a.scan.stop = SIZE_MAX;
            rc = pass_infer(&a);
        }
    }
    if (rc != KEEL_OK)
        goto done;
    size_t rows = a.rows;
    if (split) {
        rows += b.rows;
        for (size_t c = 0; c < r.n_cols; c++) {
            a.st[c].may &= b.st[c].may;
            a.st[c].n_values += b.st[c].n_values;
            a.st[c].n_missing += b.st[c].n_missing;
        }
    }
    if (rows > UINT32_MAX) {
        rc = keel_errf(&a.err, KEEL_ELIMIT, "%s: more than %u rows", name, UINT32_MAX);
        goto done;
    }
    if ((rc = alloc_columns(&r, &a, rows)) != KEEL_OK)
        goto done;
    keel__input_release(in, 0, in->len);

    /* Pass 2: the same rows, the same split. */
    scan_rewind(&a.scan, data_start, data_line, false);
    a.done = 0;
    a.row0 = 0;
    if (split) {
        scan_rewind(&b.scan, at, 1, false);
        b.done = 0;
        b.row0 = a.rows;
        b.strings = &b.own_strings;
        b.local_missing = true;
        for (size_t c = 0; c < r.n_cols; c++) {
            if (r.frame->cols[c].missing != NULL &&
                (b.st[c].missing = calloc((b.rows + 7) / 8 + 1, 1)) == NULL) {
                rc = seg_oom(&a);
                goto done;
            }
        }
        split = pthread_create(&tid, NULL, convert_thread, &b) == 0;
    }
    if (!split)
        a.rows = rows;
    rc = pass_convert(&a);
    if (split) {
        pthread_join(tid, NULL);
        if (rc == KEEL_OK && b.rc != KEEL_OK) {
            a.rows = rows;  /* read on over the second segment's rows */
            rc = pass_convert(&a);
        } else if (rc == KEEL_OK) {
            rc = merge_converted(&r, &a, &b);
        }
    }
    if (rc == KEEL_OK)
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
