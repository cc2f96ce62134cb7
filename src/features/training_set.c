/*
 * training_set.c — point-in-time-correct training sets: every label row gets,
 * for each requested feature, the value of the latest row of its view's
 * source whose event time is at or before the label row's timestamp and
 * within the view's TTL; all views are joined in one streaming pass.
 *
 *   1. Each source a requested view reads is loaded once, keeping only the
 *      columns some view needs — event time, created time, join keys,
 *      requested features — parsed as the repo declares them (other fields
 *      are split off, never converted); strings are interned into one
 *      table per source. A gzip source is inflated by a second thread.
 *   2. One index per (source, join-key tuple), shared by the views that have
 *      both in common: rows grouped by key tuple (a hash of the tuple gives a
 *      dense group id), each group sorted by (event time, created time, file
 *      order), so that the last row at or before t is the one to join and,
 *      among rows with the same key and event time, the latest correction.
 *      A per-group time directory narrows the search to a bucket or two.
 *      Each view's values are then copied out row-major in index order.
 *   3. The label file is read record by record by the same tokenizer: each
 *      output row is the label record's bytes, verbatim, then one field per
 *      feature, and errors carry the physical line. Records are joined in
 *      batches so that the memory reads of different rows overlap; each
 *      view applies its TTL. Rows are written as they are joined.
 *
 * Memory: the needed source columns and the indexes (about 80 bytes a source
 * row with seven features while loading, less after), one read buffer and
 * one write buffer; nothing per label row, so labels of any length stream
 * through. The output is a temp file renamed over the target at the end.
 *
 * Invariant (no leakage): a joined value comes from a source row with
 * event time <= the label row's timestamp, and when ttl_ms > 0 also
 * (label ts - event ts) * 1000 <= ttl_ms. Source rows with a missing event
 * time or join key never join. Timestamps are keel datetimes (seconds).
 */
#include <keel/features.h>

#include <keel/dataset.h>

#include "features_internal.h"
#include <keel/util.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define TS_MAX_RECORD ((size_t)64 << 20)        /* one label record, bytes */
#define TS_WRITE_BUF ((size_t)1 << 20)
#define TS_MAX_SOURCE_ROWS ((size_t)UINT32_MAX - 1)
#define TS_NONE UINT32_MAX
#define TS_BATCH 64                             /* label records joined together */
#define TS_SKIPPED (-1)                         /* a bad label row, skipped */

static int oom(keel_err *err)
{
    return keel_errf(err, KEEL_ENOMEM, "out of memory");
}

/* ---- strings interned per source: bytes -> dense id ---- */

typedef struct ts_strings {
    keel_arena arena;          /* the bytes */
    const char **text;         /* by id */
    uint32_t *len;
    size_t n, cap;
    uint32_t *slots;           /* id + 1; 0 = empty */
    size_t n_slots;            /* power of two */
} ts_strings;

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static uint32_t strings_find(const ts_strings *s, const char *p, size_t n)
{
    if (s->n_slots == 0)
        return TS_NONE;
    size_t mask = s->n_slots - 1;
    for (size_t i = hash_bytes(p, n) & mask;; i = (i + 1) & mask) {
        uint32_t id = s->slots[i];
        if (id == 0)
            return TS_NONE;
        if (s->len[id - 1] == n && memcmp(s->text[id - 1], p, n) == 0)
            return id - 1;
    }
}

static int strings_grow_slots(ts_strings *s)
{
    size_t n_slots = s->n_slots ? s->n_slots * 2 : 1024;
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (slots == NULL)
        return KEEL_ENOMEM;
    for (size_t id = 0; id < s->n; id++) {
        size_t i = hash_bytes(s->text[id], s->len[id]) & (n_slots - 1);
        while (slots[i] != 0)
            i = (i + 1) & (n_slots - 1);
        slots[i] = (uint32_t)id + 1;
    }
    free(s->slots);
    s->slots = slots;
    s->n_slots = n_slots;
    return KEEL_OK;
}

/* Id of p[0..n), added when new. KEEL_ENOMEM or KEEL_ELIMIT. */
static int strings_intern(ts_strings *s, const char *p, size_t n, uint32_t *out)
{
    uint32_t id = strings_find(s, p, n);
    if (id != TS_NONE) {
        *out = id;
        return KEEL_OK;
    }
    if (s->n >= UINT32_MAX - 1 || n > UINT32_MAX)
        return KEEL_ELIMIT;
    if ((s->n + 1) * 2 > s->n_slots && strings_grow_slots(s) != KEEL_OK)
        return KEEL_ENOMEM;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        const char **text = realloc(s->text, cap * sizeof *text);
        if (text == NULL)
            return KEEL_ENOMEM;
        s->text = text;
        uint32_t *len = realloc(s->len, cap * sizeof *len);
        if (len == NULL)
            return KEEL_ENOMEM;
        s->len = len;
        s->cap = cap;
    }
    char *copy = keel_arena_strndup(&s->arena, p, n);
    if (copy == NULL)
        return KEEL_ENOMEM;
    s->text[s->n] = copy;
    s->len[s->n] = (uint32_t)n;
    size_t mask = s->n_slots - 1;
    size_t i = hash_bytes(p, n) & mask;
    while (s->slots[i] != 0)
        i = (i + 1) & mask;
    s->slots[i] = (uint32_t)s->n + 1;
    *out = (uint32_t)s->n++;
    return KEEL_OK;
}

static void strings_free(ts_strings *s)
{
    keel_arena_free(&s->arena);
    free(s->text);
    free(s->len);
    free(s->slots);
}

/* ---- CSV records, one at a time (label files and sources) ---- */

typedef struct ts_field {
    size_t off, len;           /* in the record; inside the quotes when quoted */
    bool escaped;              /* holds doubled quotes */
} ts_field;

typedef struct ts_reader {
    const char *path;
    gzFile gz;
    char *buf;
    size_t cap, len, pos;      /* buf[pos..len) not consumed */
    bool eof;
    size_t line;               /* physical line at pos, 1-based */
    bool bom_checked;          /* a UTF-8 BOM at the start is skipped */
    /* the current record */
    const char *rec;
    size_t rec_len;            /* without its line end */
    size_t rec_line;
    ts_field *fields;
    size_t n_fields, cap_fields;
    char *scratch;             /* unescaped field */
    size_t cap_scratch;
} ts_reader;

/* Opens path (plain or gzip; gzread passes plain bytes through), or reads
 * fd instead when fd >= 0 (taken over: closed by reader_close, or here on
 * failure); path then only names it in messages. */
static int reader_open(ts_reader *r, const char *path, int fd, keel_err *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->line = 1;
    errno = 0;
    r->gz = fd >= 0 ? gzdopen(fd, "rb") : gzopen(path, "rb");
    if (r->gz == NULL) {
        if (fd >= 0)
            close(fd);
        return keel_errf(err, KEEL_EIO, "%s: cannot open: %s", path,
                         errno ? strerror(errno) : "out of memory");
    }
    gzbuffer(r->gz, 1 << 17);
    r->cap = 1 << 20;
    r->buf = malloc(r->cap);
    r->cap_fields = 64;
    r->fields = malloc(r->cap_fields * sizeof *r->fields);
    if (r->buf == NULL || r->fields == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    return KEEL_OK;
}

static void reader_close(ts_reader *r)
{
    if (r->gz != NULL)
        gzclose(r->gz);
    free(r->buf);
    free(r->fields);
    free(r->scratch);
}

/* Keeps buf[pos..len) (moved to the front) and reads more after it. */
static int reader_fill(ts_reader *r, keel_err *err)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len == r->cap) {
        if (r->cap >= TS_MAX_RECORD)
            return keel_errf(err, KEEL_ELIMIT, "%s:%zu: a record longer than %zu MiB",
                             r->path, r->line, TS_MAX_RECORD >> 20);
        char *p = realloc(r->buf, r->cap * 2);
        if (p == NULL)
            return keel_errf(err, KEEL_ENOMEM, "out of memory");
        r->buf = p;
        r->cap *= 2;
    }
    size_t want = r->cap - r->len;
    int got = gzread(r->gz, r->buf + r->len, want > (1u << 30) ? 1u << 30 : (unsigned)want);
    if (got < 0) {
        int zerr;
        const char *msg = gzerror(r->gz, &zerr);
        return keel_errf(err, KEEL_EIO, "%s: cannot read: %s", r->path,
                         zerr == Z_ERRNO ? strerror(errno) : msg);
    }
    if (got == 0)
        r->eof = true;
    r->len += (size_t)got;
    return KEEL_OK;
}

static int push_field(ts_reader *r, ts_field f, keel_err *err)
{
    if (r->n_fields == r->cap_fields) {
        if (r->cap_fields >= KEEL_CSV_MAX_COLUMNS)
            return keel_errf(err, KEEL_ELIMIT, "%s:%zu: more than %d columns", r->path, r->line,
                             KEEL_CSV_MAX_COLUMNS);
        ts_field *p = realloc(r->fields, r->cap_fields * 2 * sizeof *p);
        if (p == NULL)
            return keel_errf(err, KEEL_ENOMEM, "out of memory");
        r->fields = p;
        r->cap_fields *= 2;
    }
    r->fields[r->n_fields++] = f;
    return KEEL_OK;
}

enum { SCAN_RECORD, SCAN_MORE, SCAN_ERROR };

/* Tokenizes the record at pos as keel's CSV reader does (a quote opens a
 * quoted field only at the field's start; "" inside is a quote; CRLF, LF or
 * a lone CR ends a record). SCAN_MORE when it runs past the bytes read. */
static int scan_record(ts_reader *r, size_t *out_next, size_t *out_lines, keel_err *err)
{
    const char *b = r->buf;
    size_t n = r->len, i = r->pos, lines = 0;
    r->n_fields = 0;
    for (;;) {
        ts_field f = { .off = i - r->pos };
        if (i < n && b[i] == '"') {
            f.off++;
            i++;
            for (;;) {
                const char *q = memchr(b + i, '"', n - i);
                size_t k = q != NULL ? (size_t)(q - b) : n;
                for (size_t j = i; j < k; j++)
                    lines += b[j] == '\n' || (b[j] == '\r' && (j + 1 == n || b[j + 1] != '\n'));
                if (q == NULL || (k + 1 == n && !r->eof)) {
                    if (!r->eof)
                        return SCAN_MORE;
                    keel_errf(err, KEEL_EPARSE, "%s:%zu: column %zu: unterminated quote",
                              r->path, r->line, r->n_fields + 1);
                    return SCAN_ERROR;
                }
                if (k + 1 < n && b[k + 1] == '"') {
                    f.escaped = true;
                    i = k + 2;
                    continue;
                }
                f.len = k - r->pos - f.off;
                i = k + 1;
                break;
            }
            if (i < n && b[i] != ',' && b[i] != '\n' && b[i] != '\r') {
                keel_errf(err, KEEL_EPARSE, "%s:%zu: column %zu: a character after the "
                          "closing quote", r->path, r->line + lines, r->n_fields + 1);
                return SCAN_ERROR;
            }
        } else {
            while (i < n && b[i] != ',' && b[i] != '\n' && b[i] != '\r')
                i++;
            f.len = i - r->pos - f.off;
        }
        if (push_field(r, f, err) != KEEL_OK)
            return SCAN_ERROR;
        if (i == n) {
            if (!r->eof)
                return SCAN_MORE;
            r->rec_len = n - r->pos;
            *out_next = n;
            break;
        }
        if (b[i] == ',') {
            i++;
            continue;
        }
        r->rec_len = i - r->pos;
        if (b[i] == '\r') {
            if (i + 1 == n && !r->eof)
                return SCAN_MORE;
            if (i + 1 < n && b[i + 1] == '\n')
                i++;
        }
        *out_next = i + 1;
        lines++;
        break;
    }
    *out_lines = lines;
    return SCAN_RECORD;
}

enum { TAKE_RECORD, TAKE_MORE, TAKE_END };

/* The next non-blank record among the bytes already read, into r->rec and
 * r->fields, without reading more (TAKE_MORE: it needs more). Records taken
 * stay where they are until reader_fill. */
static int reader_take(ts_reader *r, int *out, keel_err *err)
{
    for (;;) {
        if (!r->bom_checked) {
            if (r->len < 3 && !r->eof) {
                *out = TAKE_MORE;
                return KEEL_OK;
            }
            r->bom_checked = true;
            if (r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0)
                r->pos = 3;
        }
        if (r->pos == r->len) {
            *out = r->eof ? TAKE_END : TAKE_MORE;
            return KEEL_OK;
        }
        size_t next = 0, lines = 0;
        int s = scan_record(r, &next, &lines, err);
        if (s == SCAN_ERROR)
            return err->code;
        if (s == SCAN_MORE) {
            *out = TAKE_MORE;
            return KEEL_OK;
        }
        r->rec = r->buf + r->pos;
        r->rec_line = r->line;
        r->pos = next;
        r->line += lines;
        if (r->rec_len == 0)
            continue;  /* a blank line, skipped as the CSV reader skips it */
        *out = TAKE_RECORD;
        return KEEL_OK;
    }
}

/* The next non-blank record, reading as needed; *out_got false at the end. */
static int reader_next(ts_reader *r, bool *out_got, keel_err *err)
{
    for (;;) {
        int what;
        int rc = reader_take(r, &what, err);
        if (rc == KEEL_OK && what == TAKE_MORE)
            rc = reader_fill(r, err);
        else if (rc == KEEL_OK) {
            *out_got = what == TAKE_RECORD;
            return KEEL_OK;
        }
        if (rc != KEEL_OK)
            return rc;
    }
}

/* Field i's value (unescaped when it holds doubled quotes). */
static int reader_field(ts_reader *r, size_t i, const char **out, size_t *out_len,
                        keel_err *err)
{
    const ts_field *f = &r->fields[i];
    const char *p = r->rec + f->off;
    if (!f->escaped) {
        *out = p;
        *out_len = f->len;
        return KEEL_OK;
    }
    if (f->len > r->cap_scratch) {
        free(r->scratch);
        r->cap_scratch = f->len;
        if ((r->scratch = malloc(r->cap_scratch)) == NULL) {
            r->cap_scratch = 0;
            return keel_errf(err, KEEL_ENOMEM, "out of memory");
        }
    }
    size_t k = 0;
    for (size_t j = 0; j < f->len; j++) {
        r->scratch[k++] = p[j];
        if (p[j] == '"')
            j++;
    }
    *out = r->scratch;
    *out_len = k;
    return KEEL_OK;
}

static bool is_na(const char *p, size_t n)
{
    return n == 0 || (n == 2 && p[0] == 'N' && p[1] == 'A');
}

static bool parse_i64(const char *p, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n > 0 && (p[0] == '-' || p[0] == '+'))
        neg = p[i++] == '-';
    if (i == n || n - i > 19)
        return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned char)p[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX + neg)
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* ---- sources: the needed columns, typed as declared ---- */

typedef struct ts_col {
    const char *name;
    enum keel_col_type type;   /* INT, FLOAT, BOOL, STRING or DATETIME */
    const char *why;           /* "feature weather:temp", for messages */
    int64_t *i64;              /* INT, BOOL, DATETIME */
    double *f64;               /* FLOAT */
    uint32_t *ids;             /* STRING: ids in the source's strings */
    uint8_t *missing;          /* bit per row, NULL while none is missing */
} ts_col;

typedef struct ts_source {
    const keel_feature_source *def;
    const char *file;          /* the CSV read: the path, or the dataset's object */
    const char *shown;         /* its name in messages: the path, or "NAME@V" */
    const char *what;          /* "source 'beijing' (path)" */
    ts_col *cols;
    size_t n_cols, cap_cols;
    size_t ts_col;
    size_t created_col;        /* SIZE_MAX: none */
    size_t n_rows, cap_rows;
    ts_strings strings;
} ts_source;

static inline bool col_missing(const ts_col *c, size_t row)
{
    return c->missing != NULL && (c->missing[row >> 3] >> (row & 7)) & 1;
}

/* Index of the column name in src, added when new; the same column needed
 * twice must be needed as the same type. */
static int source_col(ts_source *src, keel_arena *a, const char *name, enum keel_col_type type,
                      const char *why, size_t *out, keel_err *err)
{
    for (size_t i = 0; i < src->n_cols; i++) {
        if (strcmp(src->cols[i].name, name) != 0)
            continue;
        if (src->cols[i].type != type)
            return keel_errf(err, KEEL_EINVAL, "%s: column '%s' is needed as %s (%s) and as %s "
                             "(%s)", src->what, name, keel_col_type_name(src->cols[i].type),
                             src->cols[i].why, keel_col_type_name(type), why);
        *out = i;
        return KEEL_OK;
    }
    if (src->n_cols == src->cap_cols) {
        size_t cap = src->cap_cols ? src->cap_cols * 2 : 8;
        ts_col *cols = keel_arena_alloc(a, cap * sizeof *cols);
        if (cols == NULL)
            return keel_errf(err, KEEL_ENOMEM, "out of memory");
        if (src->n_cols > 0)
            memcpy(cols, src->cols, src->n_cols * sizeof *cols);
        src->cols = cols;
        src->cap_cols = cap;
    }
    src->cols[src->n_cols] = (ts_col){ .name = name, .type = type, .why = why };
    *out = src->n_cols++;
    return KEEL_OK;
}

static int source_reserve(ts_source *src, size_t need, keel_err *err)
{
    if (need <= src->cap_rows)
        return KEEL_OK;
    if (need > TS_MAX_SOURCE_ROWS)
        return keel_errf(err, KEEL_ELIMIT, "%s: more than %zu rows", src->what,
                         TS_MAX_SOURCE_ROWS);
    size_t cap = src->cap_rows ? src->cap_rows * 2 : 4096;
    if (cap < need)
        cap = need;
    if (cap > TS_MAX_SOURCE_ROWS)
        cap = TS_MAX_SOURCE_ROWS;
    for (size_t i = 0; i < src->n_cols; i++) {
        ts_col *c = &src->cols[i];
        bool grown;
        if (c->type == KEEL_COL_FLOAT) {
            double *p = realloc(c->f64, cap * sizeof *p);
            if ((grown = p != NULL))
                c->f64 = p;
        } else if (c->type == KEEL_COL_STRING) {
            uint32_t *p = realloc(c->ids, cap * sizeof *p);
            if ((grown = p != NULL))
                c->ids = p;
        } else {
            int64_t *p = realloc(c->i64, cap * sizeof *p);
            if ((grown = p != NULL))
                c->i64 = p;
        }
        if (!grown)
            return keel_errf(err, KEEL_ENOMEM, "%s: out of memory for %zu rows", src->what, cap);
        if (c->missing != NULL) {
            uint8_t *m = realloc(c->missing, cap / 8 + 1);
            if (m == NULL)
                return keel_errf(err, KEEL_ENOMEM, "%s: out of memory for %zu rows", src->what,
                                 cap);
            memset(m + src->cap_rows / 8 + 1, 0, cap / 8 - src->cap_rows / 8);
            c->missing = m;
        }
    }
    src->cap_rows = cap;
    return KEEL_OK;
}

/* A gzip source is inflated by a thread of its own that feeds the reader
 * through a pipe, so that zlib (about half of loading a gzipped CSV) runs
 * while the records are parsed instead of in turn with them. */
typedef struct ts_inflater {
    pthread_t thread;
    gzFile gz;
    int fd;                    /* the pipe's write end, closed by the thread */
    int rc;                    /* after the join: KEEL_OK or KEEL_EIO */
    char msg[200];
} ts_inflater;

static void *inflater_main(void *arg)
{
    ts_inflater *z = arg;
    /* A reader that stopped early closes the pipe: EPIPE, not SIGPIPE. */
    sigset_t pipe_sig;
    sigemptyset(&pipe_sig);
    sigaddset(&pipe_sig, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_sig, NULL);
    size_t cap = (size_t)1 << 20;
    char *buf = malloc(cap);
    if (buf == NULL) {
        z->rc = KEEL_EIO;
        snprintf(z->msg, sizeof z->msg, "out of memory");
    }
    while (z->rc == KEEL_OK) {
        int got = gzread(z->gz, buf, (unsigned)cap);
        if (got < 0) {
            int zerr;
            const char *m = gzerror(z->gz, &zerr);
            z->rc = KEEL_EIO;
            snprintf(z->msg, sizeof z->msg, "%s", zerr == Z_ERRNO ? strerror(errno) : m);
        }
        if (got <= 0)
            break;
        for (size_t done = 0; done < (size_t)got;) {
            ssize_t k = write(z->fd, buf + done, (size_t)got - done);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0 && errno == EPIPE)
                goto out;  /* the reader stopped: its error is the one to report */
            if (k < 0) {
                z->rc = KEEL_EIO;
                snprintf(z->msg, sizeof z->msg, "pipe: %s", strerror(errno));
                goto out;
            }
            done += (size_t)k;
        }
    }
out:
    free(buf);
    close(z->fd);
    gzclose(z->gz);
    return NULL;
}

/* When path is gzip, starts an inflater and sets *out_fd to the read end
 * of its pipe (for reader_open); else sets it to -1. */
static int inflater_start(ts_inflater *z, const char *path, int *out_fd, keel_err *err)
{
    *out_fd = -1;
    unsigned char magic[2] = { 0, 0 };
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return keel_errf(err, KEEL_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t got = fread(magic, 1, 2, f);
    fclose(f);
    if (got < 2 || magic[0] != 0x1f || magic[1] != 0x8b)
        return KEEL_OK;
    int fds[2];
    if (pipe(fds) != 0)
        return keel_errf(err, KEEL_EIO, "pipe: %s", strerror(errno));
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);  /* fewer switches; the default also works */
    memset(z, 0, sizeof *z);
    z->fd = fds[1];
    z->gz = gzopen(path, "rb");
    if (z->gz == NULL || pthread_create(&z->thread, NULL, inflater_main, z) != 0) {
        if (z->gz != NULL)
            gzclose(z->gz);
        close(fds[0]);
        close(fds[1]);
        return keel_errf(err, KEEL_EIO, "%s: cannot start reading", path);
    }
    *out_fd = fds[0];
    return KEEL_OK;
}

static const char *type_with_article(enum keel_col_type t)
{
    switch (t) {
    case KEEL_COL_INT: return "an int";
    case KEEL_COL_FLOAT: return "a float";
    case KEEL_COL_BOOL: return "a bool";
    case KEEL_COL_DATETIME: return "a date-time";
    default: return "a string";
    }
}

/* Converts field `field` of the current record into row src->n_rows of c. */
static int put_cell(ts_source *src, ts_col *c, ts_reader *r, size_t field, keel_err *err)
{
    const char *p;
    size_t len;
    int rc = reader_field(r, field, &p, &len, err);
    if (rc != KEEL_OK)
        return rc;
    size_t row = src->n_rows;
    if (is_na(p, len)) {
        if (c->missing == NULL && (c->missing = calloc(src->cap_rows / 8 + 1, 1)) == NULL)
            return oom(err);
        c->missing[row >> 3] |= (uint8_t)(1u << (row & 7));
        if (c->type == KEEL_COL_STRING)
            c->ids[row] = 0;
        else if (c->type == KEEL_COL_FLOAT)
            c->f64[row] = 0;
        else
            c->i64[row] = 0;
        return KEEL_OK;
    }
    bool ok = true;
    double d;
    switch (c->type) {
    case KEEL_COL_FLOAT:
        ok = keel_value_parse(KEEL_COL_FLOAT, p, len, &c->f64[row]);
        break;
    case KEEL_COL_INT:
        ok = parse_i64(p, len, &c->i64[row]);
        break;
    case KEEL_COL_STRING:
        rc = strings_intern(&src->strings, p, len, &c->ids[row]);
        if (rc != KEEL_OK)
            return keel_errf(err, rc, "%s: too many distinct strings", src->what);
        break;
    default:  /* BOOL, DATETIME: exact in a double */
        ok = keel_value_parse(c->type, p, len, &d);
        c->i64[row] = ok ? (int64_t)d : 0;
        break;
    }
    if (!ok)
        return keel_errf(err, KEEL_EINVAL, "%s:%zu: column '%s': '%.*s' is not %s (%s)",
                         src->shown, r->rec_line, c->name, (int)(len > 64 ? 64 : len), p,
                         type_with_article(c->type), c->why);
    return KEEL_OK;
}

/* Reads the columns src->cols of its CSV (the path, or the dataset
 * version's object) into memory, typed as declared, with the tokenizer of
 * the label file: only the fields of needed columns are converted. */

static int source_load(keel_workspace *ws, ts_source *src, keel_arena *a, keel_err *err)
{
    const keel_feature_source *def = src->def;
    int rc = feature_source_file(ws, def, a, &src->file, &src->shown, err);
    if (rc != KEEL_OK)
        return rc;
    src->what = def->path != NULL
                    ? keel_arena_sprintf(a, "source '%s' (%s)", def->name, def->path)
                    : keel_arena_sprintf(a, "source '%s' (dataset %s)", def->name, src->shown);
    if (src->file == NULL || src->shown == NULL || src->what == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");

    size_t *field_of = keel_arena_alloc(a, (src->n_cols + 1) * sizeof *field_of);
    if (field_of == NULL)
        return oom(err);
    ts_inflater z;
    int read_fd;
    rc = inflater_start(&z, src->file, &read_fd, err);
    if (rc != KEEL_OK)
        return rc;
    bool inflating = read_fd >= 0;
    ts_reader r;
    bool got = false;
    /* Opened here so that messages name src->shown (a dataset, not its
     * object's path). */
    int fd = read_fd >= 0 ? read_fd : open(src->file, O_RDONLY | O_CLOEXEC);
    memset(&r, 0, sizeof r);
    rc = fd >= 0 ? reader_open(&r, src->shown, fd, err)
                 : keel_errf(err, KEEL_EIO, "%s: cannot open: %s", src->shown, strerror(errno));
    if (rc == KEEL_OK)
        rc = reader_next(&r, &got, err);
    if (rc == KEEL_OK && !got)
        rc = keel_errf(err, KEEL_EPARSE, "%s:1: empty file: no header", src->shown);
    size_t n_header = r.n_fields;
    for (size_t i = 0; rc == KEEL_OK && i < src->n_cols; i++) {
        field_of[i] = SIZE_MAX;
        for (size_t k = 0; rc == KEEL_OK && k < n_header && field_of[i] == SIZE_MAX; k++) {
            const char *p;
            size_t len;
            rc = reader_field(&r, k, &p, &len, err);
            if (rc == KEEL_OK && len == strlen(src->cols[i].name) &&
                memcmp(p, src->cols[i].name, len) == 0)
                field_of[i] = k;
        }
        if (rc == KEEL_OK && field_of[i] == SIZE_MAX)
            rc = keel_errf(err, KEEL_EINVAL, "%s has no column '%s' (%s)", src->what,
                           src->cols[i].name, src->cols[i].why);
    }
    while (rc == KEEL_OK) {
        rc = reader_next(&r, &got, err);
        if (rc != KEEL_OK || !got)
            break;
        if (r.n_fields != n_header) {
            rc = keel_errf(err, KEEL_EPARSE, "%s:%zu: %zu fields, the header has %zu",
                           src->shown, r.rec_line, r.n_fields, n_header);
            break;
        }
        if (src->n_rows == src->cap_rows)
            rc = source_reserve(src, src->n_rows + 1, err);
        for (size_t i = 0; rc == KEEL_OK && i < src->n_cols; i++)
            rc = put_cell(src, &src->cols[i], &r, field_of[i], err);
        src->n_rows++;
    }
    reader_close(&r);  /* closes the pipe too: an inflater still writing stops */
    if (inflating) {
        pthread_join(z.thread, NULL);
        if (z.rc != KEEL_OK)  /* a truncated stream: the cause, not its symptom */
            return keel_errf(err, z.rc, "%s: cannot read: %s", src->shown, z.msg);
    }
    return rc;
}

static void source_free(ts_source *src)
{
    for (size_t i = 0; i < src->n_cols; i++) {
        free(src->cols[i].i64);
        free(src->cols[i].f64);
        free(src->cols[i].ids);
        free(src->cols[i].missing);
    }
    strings_free(&src->strings);
}

/* ---- indexes: key tuple -> group; groups sorted by time ---- */

typedef struct ts_index {
    size_t source;
    size_t n_keys;
    const char **key_names;
    enum keel_col_type *key_types;
    const char **key_entities;   /* entity declaring each key, for messages */
    size_t *key_cols;            /* in the source */
    size_t *label_cols;          /* in the label file */
    uint64_t *group_keys;        /* n_groups x n_keys: INT values or string ids */
    size_t n_groups, cap_groups;
    uint32_t *slots;             /* group id + 1; 0 = empty */
    size_t n_slots;
    uint32_t *start;             /* group g is [start[g], start[g + 1]) */
    int64_t *ts;                 /* event times, grouped, each group sorted */
    uint32_t *rows;              /* the source row at each position */
    struct ts_dir *dirs;         /* per group */
    uint32_t *buckets;           /* the groups' bucket bounds */
} ts_index;

/* A group's time directory: its span [t0, t1] cut into nb buckets of equal
 * width; buckets[off + b] is the first position with ts >= t0 + b * width
 * (nb + 1 bounds). The latest entry at or before t in [t0, t1) is then in
 * bucket (t - t0) / width or just before it: a search over about two
 * entries instead of log2(n). nb == 0: plain binary search. */
typedef struct ts_dir {
    int64_t t0, t1, width;
    uint32_t off, nb;
} ts_dir;

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t hash_tuple(const uint64_t *k, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++)
        h = mix64(h ^ k[i]) + i;
    return h;
}

static uint32_t group_find(const ts_index *ix, const uint64_t *k)
{
    size_t mask = ix->n_slots - 1;
    for (size_t i = hash_tuple(k, ix->n_keys) & mask;; i = (i + 1) & mask) {
        uint32_t g = ix->slots[i];
        if (g == 0)
            return TS_NONE;
        if (memcmp(&ix->group_keys[(size_t)(g - 1) * ix->n_keys], k,
                   ix->n_keys * sizeof *k) == 0)
            return g - 1;
    }
}

static int group_slots(ts_index *ix, size_t n_slots)
{
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (slots == NULL)
        return KEEL_ENOMEM;
    for (size_t g = 0; g < ix->n_groups; g++) {
        size_t i = hash_tuple(&ix->group_keys[g * ix->n_keys], ix->n_keys) & (n_slots - 1);
        while (slots[i] != 0)
            i = (i + 1) & (n_slots - 1);
        slots[i] = (uint32_t)g + 1;
    }
    free(ix->slots);
    ix->slots = slots;
    ix->n_slots = n_slots;
    return KEEL_OK;
}

static int group_add(ts_index *ix, const uint64_t *k, uint32_t *out)
{
    uint32_t g = group_find(ix, k);
    if (g != TS_NONE) {
        *out = g;
        return KEEL_OK;
    }
    if ((ix->n_groups + 1) * 2 > ix->n_slots && group_slots(ix, ix->n_slots * 2) != KEEL_OK)
        return KEEL_ENOMEM;
    if (ix->n_groups == ix->cap_groups) {
        size_t cap = ix->cap_groups * 2;
        uint64_t *keys = realloc(ix->group_keys, cap * (ix->n_keys ? ix->n_keys : 1) *
                                                     sizeof *keys);
        if (keys == NULL)
            return KEEL_ENOMEM;
        ix->group_keys = keys;
        ix->cap_groups = cap;
    }
    memcpy(&ix->group_keys[ix->n_groups * ix->n_keys], k, ix->n_keys * sizeof *k);
    size_t mask = ix->n_slots - 1;
    size_t i = hash_tuple(k, ix->n_keys) & mask;
    while (ix->slots[i] != 0)
        i = (i + 1) & mask;
    ix->slots[i] = (uint32_t)ix->n_groups + 1;
    *out = (uint32_t)ix->n_groups++;
    return KEEL_OK;
}

typedef struct ts_entry {
    int64_t ts, created;
    uint32_t row;
} ts_entry;

static int entry_cmp(const void *pa, const void *pb)
{
    const ts_entry *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

/* Event time, then created time (missing = earliest), then file order. */
static inline int64_t created_at(const ts_source *src, size_t row)
{
    if (src->created_col == SIZE_MAX)
        return 0;
    const ts_col *c = &src->cols[src->created_col];
    return col_missing(c, row) ? INT64_MIN : c->i64[row];
}

/* Builds every group's time directory (about 2 bytes a position). */
static int index_directory(ts_index *ix, keel_err *err)
{
    ix->dirs = calloc(ix->n_groups ? ix->n_groups : 1, sizeof *ix->dirs);
    size_t total = 0;
    for (size_t g = 0; g < ix->n_groups; g++) {
        size_t n = ix->start[g + 1] - ix->start[g];
        if (n >= 8)
            total += n / 2 + 1;
    }
    ix->buckets = calloc(total ? total : 1, sizeof *ix->buckets);
    if (ix->dirs == NULL || ix->buckets == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory for a time directory");
    size_t off = 0;
    for (size_t g = 0; g < ix->n_groups; g++) {
        uint32_t s = ix->start[g], e = ix->start[g + 1];
        ts_dir *d = &ix->dirs[g];
        if (s == e)
            continue;
        d->t0 = ix->ts[s];
        d->t1 = ix->ts[e - 1];
        if (e - s < 8 || d->t1 == d->t0)
            continue;
        d->nb = (e - s) / 2;
        d->width = (d->t1 - d->t0) / d->nb + 1;
        d->off = (uint32_t)off;
        uint32_t p = s;
        for (uint32_t b = 0; b <= d->nb; b++) {
            int64_t bound = d->t0 + (int64_t)b * d->width;
            while (p < e && ix->ts[p] < bound)
                p++;
            ix->buckets[off + b] = p;
        }
        off += d->nb + 1;
    }
    return KEEL_OK;
}

/* Groups the source's rows by key tuple and sorts each group. */
static int index_build(ts_index *ix, const ts_source *src, keel_err *err)
{
    size_t n = src->n_rows;
    const ts_col *tsc = &src->cols[src->ts_col];
    uint32_t *gid = malloc((n ? n : 1) * sizeof *gid);
    uint64_t *k = malloc((ix->n_keys ? ix->n_keys : 1) * sizeof *k);
    ix->cap_groups = 64;
    ix->group_keys = malloc(ix->cap_groups * (ix->n_keys ? ix->n_keys : 1) * sizeof(uint64_t));
    int rc = gid == NULL || k == NULL || ix->group_keys == NULL ? KEEL_ENOMEM
             : group_slots(ix, 128);
    size_t n_indexed = 0;
    for (size_t r = 0; rc == KEEL_OK && r < n; r++) {
        gid[r] = TS_NONE;
        if (col_missing(tsc, r))
            continue;
        size_t j = 0;
        for (; j < ix->n_keys; j++) {
            const ts_col *c = &src->cols[ix->key_cols[j]];
            if (col_missing(c, r))
                break;
            k[j] = c->type == KEEL_COL_STRING ? c->ids[r] : (uint64_t)c->i64[r];
        }
        if (j < ix->n_keys)
            continue;
        rc = group_add(ix, k, &gid[r]);
        n_indexed++;
    }
    free(k);
    if (rc == KEEL_OK) {
        ix->start = calloc(ix->n_groups + 2, sizeof *ix->start);
        ix->ts = malloc((n_indexed ? n_indexed : 1) * sizeof *ix->ts);
        ix->rows = malloc((n_indexed ? n_indexed : 1) * sizeof *ix->rows);
        if (ix->start == NULL || ix->ts == NULL || ix->rows == NULL)
            rc = KEEL_ENOMEM;
    }
    if (rc != KEEL_OK) {
        free(gid);
        return keel_errf(err, rc, "out of memory indexing %s", src->what);
    }
    /* Counting sort by group, stable: file order within a group. */
    for (size_t r = 0; r < n; r++)
        if (gid[r] != TS_NONE)
            ix->start[gid[r] + 2]++;
    for (size_t g = 0; g < ix->n_groups; g++)
        ix->start[g + 2] += ix->start[g + 1];
    for (size_t r = 0; r < n; r++)
        if (gid[r] != TS_NONE)
            ix->rows[ix->start[gid[r] + 1]++] = (uint32_t)r;
    free(gid);
    ts_entry *tmp = NULL;
    size_t cap_tmp = 0;
    for (size_t g = 0; g < ix->n_groups; g++) {
        uint32_t s = ix->start[g], e = ix->start[g + 1];
        bool sorted = true;
        for (uint32_t p = s; p < e; p++) {
            uint32_t r = ix->rows[p];
            ix->ts[p] = tsc->i64[r];
            if (p > s && (ix->ts[p] < ix->ts[p - 1] ||
                          (ix->ts[p] == ix->ts[p - 1] &&
                           created_at(src, r) < created_at(src, ix->rows[p - 1]))))
                sorted = false;
        }
        if (sorted)
            continue;
        if (e - s > cap_tmp) {
            free(tmp);
            cap_tmp = e - s;
            if ((tmp = malloc(cap_tmp * sizeof *tmp)) == NULL)
                return keel_errf(err, KEEL_ENOMEM, "out of memory sorting %s", src->what);
        }
        for (uint32_t p = s; p < e; p++)
            tmp[p - s] = (ts_entry){ ix->ts[p], created_at(src, ix->rows[p]), ix->rows[p] };
        qsort(tmp, e - s, sizeof *tmp, entry_cmp);
        for (uint32_t p = s; p < e; p++) {
            ix->ts[p] = tmp[p - s].ts;
            ix->rows[p] = tmp[p - s].row;
        }
    }
    free(tmp);
    return index_directory(ix, err);
}

static void index_free(ts_index *ix)
{
    free(ix->dirs);
    free(ix->buckets);
    free(ix->group_keys);
    free(ix->slots);
    free(ix->start);
    free(ix->ts);
    free(ix->rows);
}

/* ---- the output: a temp file renamed over the target at the end ---- */

typedef struct ts_writer {
    int fd;
    char *tmp_path;
    char *buf;
    size_t len;
} ts_writer;

static int writer_flush(ts_writer *w, keel_err *err)
{
    size_t done = 0;
    while (done < w->len) {
        ssize_t k = write(w->fd, w->buf + done, w->len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return keel_errf(err, KEEL_EIO, "%s: cannot write: %s", w->tmp_path,
                             strerror(errno));
        done += (size_t)k;
    }
    w->len = 0;
    return KEEL_OK;
}

/* Room for n more bytes in the buffer (n <= TS_WRITE_BUF). */
static inline int writer_room(ts_writer *w, size_t n, keel_err *err)
{
    return w->len + n <= TS_WRITE_BUF ? KEEL_OK : writer_flush(w, err);
}

static int writer_put(ts_writer *w, const char *p, size_t n, keel_err *err)
{
    if (n > TS_WRITE_BUF / 2) {
        int rc = writer_flush(w, err);
        if (rc != KEEL_OK)
            return rc;
        size_t done = 0;
        while (done < n) {
            ssize_t k = write(w->fd, p + done, n - done);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                return keel_errf(err, KEEL_EIO, "%s: cannot write: %s", w->tmp_path,
                                 strerror(errno));
            done += (size_t)k;
        }
        return KEEL_OK;
    }
    int rc = writer_room(w, n, err);
    if (rc == KEEL_OK) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
    }
    return rc;
}

/* A CSV field: quoted when it holds a comma, quote or line end. */
static int writer_field(ts_writer *w, const char *p, size_t n, keel_err *err)
{
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
    if (!quote)
        return writer_put(w, p, n, err);
    int rc = writer_put(w, "\"", 1, err);
    size_t run = 0;
    for (size_t i = 0; rc == KEEL_OK && i < n; i++) {
        if (p[i] != '"')
            continue;
        rc = writer_put(w, p + run, i + 1 - run, err);
        run = i;  /* the quote again: doubled */
    }
    if (rc == KEEL_OK)
        rc = writer_put(w, p + run, n - run, err);
    return rc == KEEL_OK ? writer_put(w, "\"", 1, err) : rc;
}

static int writer_open(ts_writer *w, const char *out_path, keel_err *err)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    size_t n = strlen(out_path);
    w->tmp_path = malloc(n + sizeof ".tmp-XXXXXX");
    w->buf = malloc(TS_WRITE_BUF);
    if (w->tmp_path == NULL || w->buf == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    memcpy(w->tmp_path, out_path, n);
    memcpy(w->tmp_path + n, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
    w->fd = mkstemp(w->tmp_path);
    if (w->fd < 0)
        return keel_errf(err, KEEL_EIO, "%s: cannot create: %s", out_path, strerror(errno));
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(w->fd, 0666 & ~mask) != 0)
        return keel_errf(err, KEEL_EIO, "%s: cannot chmod: %s", w->tmp_path, strerror(errno));
    return KEEL_OK;
}

/* Flushes, syncs and renames over out_path (commit) or removes the temp
 * file; frees w either way. */
static int writer_close(ts_writer *w, const char *out_path, bool commit, keel_err *err)
{
    int rc = KEEL_OK;
    if (commit) {
        rc = writer_flush(w, err);
        if (rc == KEEL_OK && fsync(w->fd) != 0)
            rc = keel_errf(err, KEEL_EIO, "%s: cannot sync: %s", w->tmp_path, strerror(errno));
    }
    if (w->fd >= 0 && close(w->fd) != 0 && rc == KEEL_OK && commit)
        rc = keel_errf(err, KEEL_EIO, "%s: cannot close: %s", w->tmp_path, strerror(errno));
    if (commit && rc == KEEL_OK && rename(w->tmp_path, out_path) != 0)
        rc = keel_errf(err, KEEL_EIO, "cannot rename %s to %s: %s", w->tmp_path, out_path,
                       strerror(errno));
    if (commit && rc == KEEL_OK) {
        char *dir = strdup(out_path);
        char *slash = dir != NULL ? strrchr(dir, '/') : NULL;
        if (dir != NULL) {
            if (slash == dir)
                slash[1] = '\0';
            else if (slash != NULL)
                *slash = '\0';
            rc = keel_fsync_dir(slash != NULL ? dir : ".", err);
        }
        free(dir);
    }
    if ((!commit || rc != KEEL_OK) && w->fd >= 0)
        unlink(w->tmp_path);
    free(w->tmp_path);
    free(w->buf);
    return rc;
}

/* Writes u's decimal digits backwards ending at end; returns the start. */
static inline char *digits_back(char *end, uint64_t u)
{
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    return end;
}

static size_t fmt_i64(char *out, int64_t v)
{
    char tmp[24];
    char *e = tmp + sizeof tmp;
    char *s = digits_back(e, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    if (v < 0)
        *--s = '-';
    memcpy(out, s, (size_t)(e - s));
    return (size_t)(e - s);
}

/* The shortest text that reads back as v, Python's repr for the usual
 * cases ("4.0", "-0.7", "1013.25"): fixed notation with the fewest fraction
 * digits (up to 9) whose value rounds to v — r / 10^k == v with r and 10^k
 * exact means v is the double nearest r x 10^-k, so it round-trips. Other
 * values take %.15g..%.17g, the first that round-trips. out: 40 bytes. */
static size_t fmt_f64(char *out, double v)
{
    static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 };
    double a = fabs(v);
    if (a < 1e15) {
        for (int k = 0; k < 10; k++) {
            double m = a * p10[k];
            if (m >= 9007199254740992.0)
                break;
            double r = (double)(int64_t)(m + 0.5);  /* a candidate: checked next */
            if (r / p10[k] != a)
                continue;
            char tmp[40];
            char *e = tmp + sizeof tmp;
            int fraction = k == 0 ? 1 : k;
            if (k == 0)
                *--e = '0';  /* "4.0", as Python writes a whole float */
            char *s = digits_back(e, (uint64_t)r);
            e = tmp + sizeof tmp;
            while (e - s <= fraction)
                *--s = '0';
            size_t n_int = (size_t)(e - s) - (size_t)fraction;
            size_t o = 0;
            if (signbit(v))
                out[o++] = '-';
            memcpy(out + o, s, n_int);
            o += n_int;
            out[o++] = '.';
            memcpy(out + o, s + n_int, (size_t)fraction);
            return o + (size_t)fraction;
        }
    }
    if (isnan(v))
        return 0;
    int n = 0;
    for (int precision = 15; precision <= 17; precision++) {
        n = snprintf(out, 40, "%.*g", precision, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return n > 0 ? (size_t)n : 0;
}

/* Feature values repeat (a temperature in tenths of a degree takes a few
 * hundred values), so the text of recent doubles is kept in a small
 * direct-mapped table: a copy instead of a conversion for most cells. */
#define TS_FMT_SLOTS 4096
typedef struct ts_fmt_slot {
    uint64_t bits;
    uint8_t len;               /* 0 = empty */
    char text[23];
} ts_fmt_slot;

/* Writes v's text (fmt_f64) at out, which has room for 40 bytes. */
static inline size_t fmt_f64_cached(ts_fmt_slot *slots, char *out, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    ts_fmt_slot *s = &slots[(bits * 0x9e3779b97f4a7c15ull) >> 52];
    if (s->len != 0 && s->bits == bits) {
        memcpy(out, s->text, sizeof s->text);
        return s->len;
    }
    size_t n = fmt_f64(out, v);
    if (n > 0 && n <= sizeof s->text) {
        s->bits = bits;
        s->len = (uint8_t)n;
        memcpy(s->text, out, n);
    }
    return n;
}

/* ---- the join ---- */

/* A view's requested values are copied out of the source's columns into
 * one row-major block per index position — missing bits, then one 8-byte
 * cell per feature — so that joining a label row touches one or two cache
 * lines per view instead of one per feature. */
typedef struct ts_view {
    const keel_feature_view *def;
    size_t index;
    size_t n_feats;            /* requested features of this view */
    size_t *cols;              /* their source columns */
    size_t mask_words;         /* missing bits: ceil(n_feats / 64) words */
    size_t stride;             /* mask_words + n_feats */
    uint64_t *cells;           /* stride words per index position */
    const uint64_t *cur;       /* per label row: the joined position's, or NULL */
} ts_view;

typedef struct ts_out {
    size_t view;               /* into the job's views */
    size_t slot;               /* among the view's requested features */
    enum keel_col_type type;
    const char *name;          /* view__feature */
} ts_out;

/* Where a label row's match lies in one index: nowhere, in positions
 * [lo, hi) (the last one at or before t is the match), in bucket lo of the
 * directory (not yet read), or found: at position lo. */
enum { PROBE_NONE, PROBE_RANGE, PROBE_BUCKET, PROBE_FOUND };
typedef struct ts_probe {
    uint32_t kind, lo, hi;
} ts_probe;

typedef struct ts_job {
    keel_workspace *ws;
    const keel_feature_repo *repo;
    const keel_training_set_opts *o;
    keel_arena scratch;
    ts_source *sources;        /* one per repo source (loaded when used) */
    bool *source_used;
    ts_index *indexes;
    size_t n_indexes;
    ts_view *views;
    size_t n_views;
    ts_out *outs;
    size_t n_outs;
    uint64_t *key;             /* one key tuple */
    size_t max_keys;
    ts_fmt_slot *fmt;          /* TS_FMT_SLOTS */
    /* the batch of label records being joined */
    size_t b_n;
    const char **b_rec;        /* TS_BATCH records (in the reader's buffer) */
    size_t *b_len;
    int64_t *b_t;
    ts_probe *b_probe;         /* TS_BATCH x n_indexes */
    const uint64_t **b_cur;    /* TS_BATCH x n_views: the joined cells, or NULL */
} ts_job;

/* The view's slot in the job, with its index; sources and columns noted. */
static int job_view(ts_job *j, size_t view, size_t *out, keel_err *err)
{
    for (size_t i = 0; i < j->n_views; i++) {
        if (j->views[i].def == &j->repo->views[view]) {
            *out = i;
            return KEEL_OK;
        }
    }
    const keel_feature_repo *repo = j->repo;
    const keel_feature_view *v = &repo->views[view];
    if (v->source >= repo->n_sources)
        return keel_errf(err, KEEL_EINVAL, "view '%s' refers to source %zu of %zu", v->name,
                         v->source, repo->n_sources);
    if (v->ttl_ms < 0)
        return keel_errf(err, KEEL_EINVAL, "view '%s' has a negative ttl", v->name);
    keel_arena *a = &j->scratch;
    ts_source *src = &j->sources[v->source];
    int rc = KEEL_OK;
    if (!j->source_used[v->source]) {
        j->source_used[v->source] = true;
        src->def = &repo->sources[v->source];
        src->what = keel_arena_sprintf(a, "source '%s'", src->def->name);
        src->created_col = SIZE_MAX;
        if (src->def->timestamp == NULL)
            return keel_errf(err, KEEL_EINVAL, "source '%s' has no timestamp column",
                             src->def->name);
        rc = source_col(src, a, src->def->timestamp, KEEL_COL_DATETIME, "event timestamp",
                        &src->ts_col, err);
        if (rc == KEEL_OK && src->def->created_timestamp != NULL)
            rc = source_col(src, a, src->def->created_timestamp, KEEL_COL_DATETIME,
                            "created timestamp", &src->created_col, err);
        if (rc != KEEL_OK)
            return rc;
    }
    /* Its join keys, in entity order. */
    size_t n_keys = 0;
    for (size_t e = 0; e < v->n_entities; e++) {
        if (v->entities[e] >= repo->n_entities)
            return keel_errf(err, KEEL_EINVAL, "view '%s' refers to entity %zu of %zu", v->name,
                             v->entities[e], repo->n_entities);
        n_keys += repo->entities[v->entities[e]].n_join_keys;
    }
    ts_index want = { .source = v->source, .n_keys = n_keys };
    want.key_names = keel_arena_alloc(a, (n_keys + 1) * sizeof *want.key_names);
    want.key_types = keel_arena_alloc(a, (n_keys + 1) * sizeof *want.key_types);
    want.key_entities = keel_arena_alloc(a, (n_keys + 1) * sizeof *want.key_entities);
    want.key_cols = keel_arena_alloc(a, (n_keys + 1) * sizeof *want.key_cols);
    want.label_cols = keel_arena_alloc(a, (n_keys + 1) * sizeof *want.label_cols);
    if (want.key_names == NULL || want.key_types == NULL || want.key_entities == NULL ||
        want.key_cols == NULL || want.label_cols == NULL)
        return oom(err);
    size_t k = 0;
    for (size_t e = 0; e < v->n_entities; e++) {
        const keel_entity *ent = &repo->entities[v->entities[e]];
        for (size_t i = 0; i < ent->n_join_keys; i++, k++) {
            enum keel_col_type t = ent->key_types[i];
            if (t != KEEL_COL_INT && t != KEEL_COL_STRING)
                return keel_errf(err, KEEL_EINVAL, "entity '%s': join key '%s' is %s (int or "
                                 "string expected)", ent->name, ent->join_keys[i],
                                 keel_col_type_name(t));
            want.key_names[k] = ent->join_keys[i];
            want.key_types[k] = t;
            want.key_entities[k] = ent->name;
            const char *why = keel_arena_sprintf(a, "join key of entity '%s'", ent->name);
            if (why == NULL)
                return oom(err);
            rc = source_col(src, a, ent->join_keys[i], t, why, &want.key_cols[k], err);
            if (rc != KEEL_OK)
                return rc;
        }
    }
    size_t ix = 0;
    for (; ix < j->n_indexes; ix++) {
        const ts_index *have = &j->indexes[ix];
        if (have->source != want.source || have->n_keys != n_keys)
            continue;
        size_t same = 0;
        while (same < n_keys && strcmp(have->key_names[same], want.key_names[same]) == 0)
            same++;
        if (same == n_keys)
            break;
    }
    if (ix == j->n_indexes) {
        j->indexes[j->n_indexes++] = want;
        if (n_keys > j->max_keys)
            j->max_keys = n_keys;
    }
    size_t *cols = keel_arena_alloc(a, j->o->n_features * sizeof *cols);
    if (cols == NULL)
        return oom(err);
    j->views[j->n_views] = (ts_view){ .def = v, .index = ix, .cols = cols };
    *out = j->n_views++;
    return KEEL_OK;
}

/* Resolves the requested features into views, indexes, sources and output
 * columns. */
static int job_plan(ts_job *j, keel_err *err)
{
    const keel_feature_repo *repo = j->repo;
    const keel_training_set_opts *o = j->o;
    keel_arena *a = &j->scratch;
    size_t nf = o->n_features;
    j->sources = keel_arena_alloc(a, (repo->n_sources + 1) * sizeof *j->sources);
    j->source_used = keel_arena_alloc(a, (repo->n_sources + 1) * sizeof *j->source_used);
    j->indexes = keel_arena_alloc(a, nf * sizeof *j->indexes);
    j->views = keel_arena_alloc(a, nf * sizeof *j->views);
    j->outs = keel_arena_alloc(a, nf * sizeof *j->outs);
    if (j->sources == NULL || j->source_used == NULL || j->indexes == NULL || j->views == NULL ||
        j->outs == NULL)
        return oom(err);
    for (size_t i = 0; i < nf; i++) {
        const keel_feature_ref *ref = &o->features[i];
        if (ref->view >= repo->n_views || ref->feature >= repo->views[ref->view].n_features)
            return keel_errf(err, KEEL_EINVAL, "feature reference %zu (view %zu, feature %zu) "
                             "is not in the repo", i + 1, ref->view, ref->feature);
        const keel_feature_view *v = &repo->views[ref->view];
        const keel_feature *feat = &v->features[ref->feature];
        for (size_t p = 0; p < i; p++)
            if (o->features[p].view == ref->view && o->features[p].feature == ref->feature)
                return keel_errf(err, KEEL_EINVAL, "feature %s:%s is requested twice", v->name,
                                 feat->name);
        if (feat->type != KEEL_COL_INT && feat->type != KEEL_COL_FLOAT &&
            feat->type != KEEL_COL_BOOL && feat->type != KEEL_COL_STRING)
            return keel_errf(err, KEEL_EINVAL, "feature %s:%s is %s (int, float, bool or "
                             "string expected)", v->name, feat->name,
                             keel_col_type_name(feat->type));
        size_t slot = 0;
        int rc = job_view(j, ref->view, &slot, err);
        if (rc != KEEL_OK)
            return rc;
        ts_out *out = &j->outs[j->n_outs++];
        out->view = slot;
        out->name = keel_arena_sprintf(a, "%s__%s", v->name, feat->name);
        const char *why = keel_arena_sprintf(a, "feature %s:%s", v->name, feat->name);
        if (out->name == NULL || why == NULL)
            return oom(err);
        ts_view *tv = &j->views[slot];
        out->slot = tv->n_feats;
        out->type = feat->type;
        rc = source_col(&j->sources[v->source], a, feat->name, feat->type, why,
                        &tv->cols[tv->n_feats++], err);
        if (rc != KEEL_OK)
            return rc;
    }
    j->key = keel_arena_alloc(a, (j->max_keys + 1) * sizeof *j->key);
    j->fmt = keel_arena_alloc(a, TS_FMT_SLOTS * sizeof *j->fmt);
    j->b_rec = keel_arena_alloc(a, TS_BATCH * sizeof *j->b_rec);
    j->b_len = keel_arena_alloc(a, TS_BATCH * sizeof *j->b_len);
    j->b_t = keel_arena_alloc(a, TS_BATCH * sizeof *j->b_t);
    j->b_probe = keel_arena_alloc(a, TS_BATCH * j->n_indexes * sizeof *j->b_probe);
    j->b_cur = keel_arena_alloc(a, TS_BATCH * j->n_views * sizeof *j->b_cur);
    if (j->key == NULL || j->fmt == NULL || j->b_rec == NULL || j->b_len == NULL ||
        j->b_t == NULL || j->b_probe == NULL || j->b_cur == NULL)
        return oom(err);
    return KEEL_OK;
}

/* Copies the view's requested values into its cells, in index order. */
static int view_cells(ts_job *j, ts_view *v, keel_err *err)
{
    const ts_index *ix = &j->indexes[v->index];
    const ts_source *src = &j->sources[v->def->source];
    size_t n_pos = ix->start[ix->n_groups];
    v->mask_words = (v->n_feats + 63) / 64;
    v->stride = v->mask_words + v->n_feats;
    v->cells = calloc(n_pos ? n_pos * v->stride : 1, sizeof *v->cells);
    if (v->cells == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory for the values of view '%s'",
                         v->def->name);
    for (size_t p = 0; p < n_pos; p++) {
        uint32_t r = ix->rows[p];
        uint64_t *cell = v->cells + p * v->stride;
        for (size_t s = 0; s < v->n_feats; s++) {
            const ts_col *c = &src->cols[v->cols[s]];
            uint64_t bits;
            if (col_missing(c, r) || (c->type == KEEL_COL_FLOAT && isnan(c->f64[r]))) {
                cell[s >> 6] |= (uint64_t)1 << (s & 63);
                continue;
            }
            if (c->type == KEEL_COL_FLOAT)
                memcpy(&bits, &c->f64[r], sizeof bits);
            else if (c->type == KEEL_COL_STRING)
                bits = c->ids[r];
            else
                bits = (uint64_t)c->i64[r];
            cell[v->mask_words + s] = bits;
        }
    }
    return KEEL_OK;
}

/* Appends output column out's value for the current row. */
static int put_value(const ts_job *j, ts_writer *w, const ts_out *out, size_t *found,
                     keel_err *err)
{
    const ts_view *v = &j->views[out->view];
    int rc = writer_room(w, 48, err);
    if (rc != KEEL_OK)
        return rc;
    w->buf[w->len++] = ',';
    const uint64_t *cell = v->cur;
    if (cell == NULL || (cell[out->slot >> 6] >> (out->slot & 63)) & 1)
        return KEEL_OK;
    uint64_t bits = cell[v->mask_words + out->slot];
    switch (out->type) {
    case KEEL_COL_FLOAT: {
        double d;
        memcpy(&d, &bits, sizeof d);
        w->len += fmt_f64_cached(j->fmt, w->buf + w->len, d);
        break;
    }
    case KEEL_COL_BOOL:
        rc = writer_put(w, bits ? "true" : "false", bits ? 4 : 5, err);
        break;
    case KEEL_COL_STRING: {
        const ts_strings *st = &j->sources[v->def->source].strings;
        rc = writer_field(w, st->text[bits], st->len[bits], err);
        break;
    }
    default:
        w->len += fmt_i64(w->buf + w->len, (int64_t)bits);
        break;
    }
    (*found)++;
    return rc;
}

/* A label row that cannot be joined: an error, or TS_SKIPPED (counted). */
static int bad_row(const ts_job *j, size_t *skipped, keel_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad_row(const ts_job *j, size_t *skipped, keel_err *err, const char *fmt, ...)
{
    if (j->o->bad_rows == KEEL_BAD_ROW_SKIP) {
        (*skipped)++;
        return TS_SKIPPED;
    }
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return keel_errf(err, KEEL_EINVAL, "%s", msg);
}

/* Finds the columns the job needs in the label file's header and writes
 * the output header. */
static int label_header(ts_job *j, ts_reader *r, ts_writer *w, size_t *out_ts_col,
                        keel_err *err)
{
    const char *path = j->o->entities_path;
    const char *ts_name = j->o->timestamp_column;
    bool got;
    int rc = reader_next(r, &got, err);
    if (rc != KEEL_OK)
        return rc;
    if (!got)
        return keel_errf(err, KEEL_EPARSE, "%s:1: empty file: no header", path);
    size_t n = r->n_fields;
    const char **names = keel_arena_alloc(&j->scratch, n * sizeof *names);
    if (names == NULL)
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t len;
        if ((rc = reader_field(r, i, &p, &len, err)) != KEEL_OK)
            return rc;
        if ((names[i] = keel_arena_strndup(&j->scratch, p, len)) == NULL)
            return oom(err);
    }
    *out_ts_col = SIZE_MAX;
    for (size_t i = 0; i < n && *out_ts_col == SIZE_MAX; i++)
        if (strcmp(names[i], ts_name) == 0)
            *out_ts_col = i;
    if (*out_ts_col == SIZE_MAX)
        return keel_errf(err, KEEL_EINVAL, "%s has no timestamp column '%s'", path, ts_name);
    for (size_t x = 0; x < j->n_indexes; x++) {
        ts_index *ix = &j->indexes[x];
        for (size_t k = 0; k < ix->n_keys; k++) {
            ix->label_cols[k] = SIZE_MAX;
            for (size_t i = 0; i < n && ix->label_cols[k] == SIZE_MAX; i++)
                if (strcmp(names[i], ix->key_names[k]) == 0)
                    ix->label_cols[k] = i;
            if (ix->label_cols[k] == SIZE_MAX)
                return keel_errf(err, KEEL_EINVAL, "%s has no column '%s' (join key of entity "
                                 "'%s')", path, ix->key_names[k], ix->key_entities[k]);
        }
    }
    for (size_t f = 0; f < j->n_outs; f++)
        for (size_t i = 0; i < n; i++)
            if (strcmp(names[i], j->outs[f].name) == 0)
                return keel_errf(err, KEEL_EINVAL, "%s already has a column '%s', the name of "
                                 "a feature column", path, names[i]);
    rc = writer_put(w, r->rec, r->rec_len, err);
    for (size_t f = 0; rc == KEEL_OK && f < j->n_outs; f++) {
        rc = writer_put(w, ",", 1, err);
        if (rc == KEEL_OK)
            rc = writer_field(w, j->outs[f].name, strlen(j->outs[f].name), err);
    }
    return rc == KEEL_OK ? writer_put(w, "\n", 1, err) : rc;
}

/* Parses the current label record into batch row j->b_n: its timestamp,
 * and per index the range to search (a bucket is prefetched). Returns
 * KEEL_OK, TS_SKIPPED for a skipped bad row, or an error. */
static int parse_record(ts_job *j, ts_reader *r, size_t label_ts, size_t n_header,
                        size_t *skipped, keel_err *err)
{
    const char *path = j->o->entities_path;
    if (r->n_fields != n_header)
        return keel_errf(err, KEEL_EPARSE, "%s:%zu: %zu fields, the header has %zu", path,
                         r->rec_line, r->n_fields, n_header);
    const char *p;
    size_t len;
    int rc = reader_field(r, label_ts, &p, &len, err);
    if (rc != KEEL_OK)
        return rc;
    if (is_na(p, len))
        return bad_row(j, skipped, err, "%s:%zu: missing timestamp in column '%s'", path,
                       r->rec_line, j->o->timestamp_column);
    double secs;
    if (!keel_value_parse(KEEL_COL_DATETIME, p, len, &secs))
        return bad_row(j, skipped, err, "%s:%zu: column '%s': '%.*s' is not a date-time "
                       "(YYYY-MM-DD[ HH:MM[:SS]])", path, r->rec_line, j->o->timestamp_column,
                       (int)(len > 64 ? 64 : len), p);
    int64_t t = (int64_t)secs;
    ts_probe *probe = &j->b_probe[j->b_n * j->n_indexes];
    for (size_t x = 0; x < j->n_indexes; x++) {
        const ts_index *ix = &j->indexes[x];
        const ts_source *src = &j->sources[ix->source];
        bool known = true;
        for (size_t k = 0; k < ix->n_keys; k++) {
            if ((rc = reader_field(r, ix->label_cols[k], &p, &len, err)) != KEEL_OK)
                return rc;
            if (is_na(p, len))
                return bad_row(j, skipped, err, "%s:%zu: missing join key '%s' (entity '%s')",
                               path, r->rec_line, ix->key_names[k], ix->key_entities[k]);
            if (ix->key_types[k] == KEEL_COL_STRING) {
                uint32_t id = strings_find(&src->strings, p, len);
                known = known && id != TS_NONE;
                j->key[k] = id;
                continue;
            }
            int64_t v;
            if (!parse_i64(p, len, &v))
                return keel_errf(err, KEEL_EINVAL, "%s:%zu: column '%s': '%.*s' is not an int, "
                                 "but entity '%s' declares join key '%s' as int", path,
                                 r->rec_line, ix->key_names[k], (int)(len > 64 ? 64 : len), p,
                                 ix->key_entities[k], ix->key_names[k]);
            j->key[k] = (uint64_t)v;
        }
        probe[x].kind = PROBE_NONE;
        uint32_t g = known && ix->n_slots > 0 ? group_find(ix, j->key) : TS_NONE;
        if (g == TS_NONE)
            continue;
        const ts_dir *d = &ix->dirs[g];
        uint32_t s = ix->start[g], e = ix->start[g + 1];
        if (t < d->t0)
            continue;  /* before the group's first row: nothing to join */
        if (t >= d->t1) {
            probe[x] = (ts_probe){ PROBE_RANGE, e - 1, e };
        } else if (d->nb == 0) {
            probe[x] = (ts_probe){ PROBE_RANGE, s, e };
        } else {
            uint32_t bucket = d->off + (uint32_t)((t - d->t0) / d->width);
            probe[x] = (ts_probe){ PROBE_BUCKET, bucket, 0 };
            __builtin_prefetch(&ix->buckets[bucket]);
        }
    }
    j->b_rec[j->b_n] = r->rec;
    j->b_len[j->b_n] = r->rec_len;
    j->b_t[j->b_n] = t;
    j->b_n++;
    return KEEL_OK;
}

/* Joins and writes the batch's rows. Each step runs over the whole batch,
 * so that its memory reads (bucket bounds, event times, view cells) are
 * independent of one another and overlap instead of waiting in turn. */
static int write_batch(ts_job *j, ts_writer *w, keel_training_set_result *out, keel_err *err)
{
    size_t nx = j->n_indexes, nv = j->n_views;
    for (size_t i = 0; i < j->b_n * nx; i++) {
        ts_probe *pr = &j->b_probe[i];
        if (pr->kind != PROBE_BUCKET)
            continue;
        const ts_index *ix = &j->indexes[i % nx];
        uint32_t bucket = pr->lo;
        *pr = (ts_probe){ PROBE_RANGE, ix->buckets[bucket], ix->buckets[bucket + 1] };
        __builtin_prefetch(&ix->ts[pr->lo]);
    }
    for (size_t i = 0; i < j->b_n * nx; i++) {
        ts_probe *pr = &j->b_probe[i];
        if (pr->kind != PROBE_RANGE)
            continue;
        /* The first position in [lo, hi) after t; the entry before it is the
         * latest at or before t (there is one: t >= the group's first time,
         * and everything before lo is at or before t). */
        const int64_t *ts = j->indexes[i % nx].ts;
        int64_t t = j->b_t[i / nx];
        uint32_t lo = pr->lo, hi = pr->hi;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (ts[mid] <= t)
                lo = mid + 1;
            else
                hi = mid;
        }
        *pr = (ts_probe){ PROBE_FOUND, lo - 1, 0 };
    }
    for (size_t row = 0; row < j->b_n; row++) {
        int64_t t = j->b_t[row];
        const ts_probe *pr = &j->b_probe[row * nx];
        for (size_t i = 0; i < nv; i++) {
            const ts_view *v = &j->views[i];
            const uint64_t **cur = &j->b_cur[row * nv + i];
            *cur = NULL;
            if (pr[v->index].kind != PROBE_FOUND)
                continue;
            uint32_t pos = pr[v->index].lo;
            /* age >= 0; the first test keeps age * 1000 from overflowing. */
            int64_t age = t - j->indexes[v->index].ts[pos], ttl = v->def->ttl_ms;
            if (ttl > 0 && (age > ttl / 1000 + 1 || age * 1000 > ttl))
                continue;
            *cur = v->cells + (size_t)pos * v->stride;
            __builtin_prefetch(*cur);
            __builtin_prefetch(*cur + v->stride - 1);
        }
    }
    int rc = KEEL_OK;
    for (size_t row = 0; rc == KEEL_OK && row < j->b_n; row++) {
        for (size_t i = 0; i < nv; i++)
            j->views[i].cur = j->b_cur[row * nv + i];
        rc = writer_put(w, j->b_rec[row], j->b_len[row], err);
        for (size_t f = 0; rc == KEEL_OK && f < j->n_outs; f++)
            rc = put_value(j, w, &j->outs[f], &out->found[f], err);
        if (rc == KEEL_OK)
            rc = writer_put(w, "\n", 1, err);
        out->rows++;
    }
    j->b_n = 0;
    return rc;
}

/* The label records, joined in batches of those already in the read
 * buffer (a batch's records stay put until it is written). */
static int join_labels(ts_job *j, ts_reader *r, ts_writer *w, size_t label_ts, size_t n_header,
                       keel_training_set_result *out, keel_err *err)
{
    int rc = KEEL_OK;
    for (;;) {
        int what = TAKE_RECORD;
        while (rc == KEEL_OK && j->b_n < TS_BATCH) {
            rc = reader_take(r, &what, err);
            if (rc != KEEL_OK || what != TAKE_RECORD)
                break;
            rc = parse_record(j, r, label_ts, n_header, &out->skipped, err);
            if (rc == TS_SKIPPED)
                rc = KEEL_OK;
        }
        if (rc == KEEL_OK && j->b_n > 0)
            rc = write_batch(j, w, out, err);
        if (rc != KEEL_OK || what == TAKE_END)
            return rc;
        if (what == TAKE_MORE)
            rc = reader_fill(r, err);
    }
}

/* The source columns and row numbers are not needed once the views have
 * their cells (the strings are: string values point into them). */
static void job_release_columns(ts_job *j)
{
    for (size_t i = 0; i < j->repo->n_sources; i++) {
        if (!j->source_used[i])
            continue;
        ts_source *src = &j->sources[i];
        for (size_t c = 0; c < src->n_cols; c++) {
            free(src->cols[c].i64);
            free(src->cols[c].f64);
            free(src->cols[c].ids);
            free(src->cols[c].missing);
            src->cols[c].i64 = NULL;
            src->cols[c].f64 = NULL;
            src->cols[c].ids = NULL;
            src->cols[c].missing = NULL;
        }
    }
    for (size_t x = 0; x < j->n_indexes; x++) {
        free(j->indexes[x].rows);
        j->indexes[x].rows = NULL;
    }
}

static void job_free(ts_job *j)
{
    if (j->sources != NULL && j->source_used != NULL)
        for (size_t i = 0; i < j->repo->n_sources; i++)
            if (j->source_used[i])
                source_free(&j->sources[i]);
    for (size_t i = 0; i < j->n_indexes; i++)
        index_free(&j->indexes[i]);
    for (size_t i = 0; i < j->n_views; i++)
        free(j->views[i].cells);
    keel_arena_free(&j->scratch);
}

int keel_training_set_build(keel_workspace *ws, const keel_feature_repo *repo,
                            const keel_training_set_opts *o, keel_arena *a,
                            keel_training_set_result *out, keel_err *err)
{
    if (repo == NULL || o == NULL || a == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "training set: missing argument");
    if (o->entities_path == NULL || o->out_path == NULL)
        return keel_errf(err, KEEL_EINVAL, "training set: the label file and the output path "
                         "are required");
    if (o->n_features == 0 || o->features == NULL)
        return keel_errf(err, KEEL_EINVAL, "training set: no features requested");
    memset(out, 0, sizeof *out);
    out->found = keel_arena_alloc(a, o->n_features * sizeof *out->found);
    if (out->found == NULL)
        return oom(err);
    keel_training_set_opts opts = *o;
    if (opts.timestamp_column == NULL)
        opts.timestamp_column = "event_timestamp";

    ts_job j = { .ws = ws, .repo = repo, .o = &opts };
    keel_arena_init(&j.scratch, 0);
    ts_reader r;
    ts_writer w;
    bool reader_opened = false, writer_opened = false, committed = false;
    int64_t t0 = keel_monotonic_ns();
    int rc = job_plan(&j, err);
    for (size_t i = 0; rc == KEEL_OK && i < repo->n_sources; i++) {
        if (!j.source_used[i])
            continue;
        rc = source_load(ws, &j.sources[i], &j.scratch, err);
        keel_log(KEEL_LOG_DEBUG, "training set: %s: %zu rows, %zu columns in %.3f s",
                 j.sources[i].what, j.sources[i].n_rows, j.sources[i].n_cols,
                 (double)(keel_monotonic_ns() - t0) / 1e9);
    }
    for (size_t x = 0; rc == KEEL_OK && x < j.n_indexes; x++)
        rc = index_build(&j.indexes[x], &j.sources[j.indexes[x].source], err);
    for (size_t i = 0; rc == KEEL_OK && i < j.n_views; i++)
        rc = view_cells(&j, &j.views[i], err);
    if (rc == KEEL_OK)
        job_release_columns(&j);
    int64_t t1 = keel_monotonic_ns();
    keel_log(KEEL_LOG_DEBUG, "training set: %zu indexes, %zu views ready at %.3f s", j.n_indexes,
             j.n_views, (double)(t1 - t0) / 1e9);
    if (rc == KEEL_OK) {
        reader_opened = true;
        rc = reader_open(&r, opts.entities_path, -1, err);
    }
    if (rc == KEEL_OK) {
        writer_opened = true;
        rc = writer_open(&w, opts.out_path, err);
    }
    size_t label_ts = 0, n_header = 0;
    if (rc == KEEL_OK) {
        rc = label_header(&j, &r, &w, &label_ts, err);
        n_header = r.n_fields;
    }
    if (rc == KEEL_OK)
        rc = join_labels(&j, &r, &w, label_ts, n_header, out, err);
    int64_t t2 = keel_monotonic_ns();
    keel_log(KEEL_LOG_DEBUG, "training set: %zu label rows joined in %.3f s", out->rows,
             (double)(t2 - t1) / 1e9);
    if (writer_opened) {
        committed = rc == KEEL_OK;
        int wrc = writer_close(&w, opts.out_path, committed, err);
        if (rc == KEEL_OK)
            rc = wrc;
    }
    if (reader_opened)
        reader_close(&r);
    job_free(&j);
    keel_log(KEEL_LOG_DEBUG, "training set: written and synced in %.3f s",
             (double)(keel_monotonic_ns() - t2) / 1e9);
    if (rc != KEEL_OK) {
        out->rows = 0;
        return rc;
    }
    return KEEL_OK;
}
