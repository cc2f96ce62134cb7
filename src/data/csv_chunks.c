/*
 * csv_chunks.c — a CSV (or .csv.gz) file of any size as a sequence of
 * frames of whole records, for operations that go row by row (batch
 * scoring): memory stays at one chunk, whatever the file's size.
 *
 * The file is read through zlib's gzread, which inflates gzip members and
 * passes plain files through. The header record is kept and put in front of
 * every chunk, which ends at the last newline outside quotes in the bytes
 * read so far; the rest is carried into the next chunk. Each chunk is parsed
 * by keel_csv_parse, and an error's line number (counted in the chunk) is
 * turned back into the file's.
 */
#include <keel/data.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct keel_csv_chunks {
    char *path;
    gzFile gz;
    size_t chunk_bytes;
    char delimiter;
    char *buf;           /* header, then the carried and newly read bytes */
    size_t cap;
    size_t header_len;   /* buf[0..header_len): the header record and its newline */
    size_t len;          /* bytes in buf */
    size_t header_lines; /* physical lines the header takes */
    size_t lines_before; /* physical lines of the file before buf's body */
    bool eof;
};

static int grow(keel_csv_chunks *c, size_t need, keel_err *err)
{
    if (need <= c->cap)
        return KEEL_OK;
    size_t cap = c->cap ? c->cap : 1 << 16;
    while (cap < need)
        cap *= 2;
    char *p = realloc(c->buf, cap);
    if (p == NULL)
        return keel_errf(err, KEEL_ENOMEM, "%s: out of memory for a chunk of %zu bytes", c->path,
                         need);
    c->buf = p;
    c->cap = cap;
    return KEEL_OK;
}

/* Reads up to want more bytes into buf; sets eof. */
static int fill(keel_csv_chunks *c, size_t want, keel_err *err)
{
    int rc = grow(c, c->len + want, err);
    while (rc == KEEL_OK && want > 0 && !c->eof) {
        unsigned ask = want > (1u << 30) ? 1u << 30 : (unsigned)want;
        int got = gzread(c->gz, c->buf + c->len, ask);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(c->gz, &zerr);
            return keel_errf(err, KEEL_EIO, "%s: cannot read: %s", c->path,
                             zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        if (got == 0)
            c->eof = true;
        c->len += (size_t)got;
        want -= (size_t)got;
    }
    return rc;
}

/* Offset just past the first (first = true) or last record end in
 * buf[from..len), from a record's start, or 0 when there is none. Quoting
 * follows the parser: a quote opens a quoted field only at the field's
 * start (elsewhere it is a plain character); inside, a doubled quote is a
 * quote and a single one closes the field. A byte whose meaning depends on
 * the next one not read yet (a quote inside quotes, a CR) stops the scan. */
static size_t record_end(const keel_csv_chunks *c, size_t from, bool first)
{
    if (from == 0 && c->len >= 3 && memcmp(c->buf, "\xEF\xBB\xBF", 3) == 0)
        from = 3;  /* the parser skips a BOM */
    bool quoted = false, field_start = true;
    size_t end = 0;
    for (size_t i = from; i < c->len; i++) {
        char ch = c->buf[i];
        bool last = i + 1 == c->len;
        if (quoted) {
            if (ch != '"')
                continue;
            if (last && !c->eof)
                break;
            if (!last && c->buf[i + 1] == '"')
                i++;
            else
                quoted = false;
        } else if (ch == '"' && field_start) {
            quoted = true;
            field_start = false;
        } else if (ch == c->delimiter) {
            field_start = true;
        } else if (ch == '\n' || ch == '\r') {
            if (ch == '\r' && last && !c->eof)
                break;
            if (ch == '\r' && !last && c->buf[i + 1] == '\n')
                continue;  /* CRLF ends at its LF */
            end = i + 1;
            field_start = true;
            if (first)
                break;
        } else {
            field_start = false;
        }
    }
    return end;
}

/* Physical lines ended in p[0..n), counted as the parser counts them. */
static size_t count_line_ends(const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == '\n' || (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n'));
    return k;
}

/* Whether buf[from..end) holds nothing but a BOM (at the file's start)
 * and line ends. */
static bool record_is_blank(const keel_csv_chunks *c, size_t from, size_t end)
{
    size_t p = from == 0 && end >= 3 && memcmp(c->buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : from;
    while (p < end && (c->buf[p] == '\r' || c->buf[p] == '\n'))
        p++;
    return p == end;
}

int keel_csv_chunks_open(const char *path, char delimiter, size_t chunk_bytes,
                         keel_csv_chunks **out, keel_err *err)
{
    if (path == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "csv: missing argument");
    keel_csv_chunks *c = calloc(1, sizeof *c);
    if (c == NULL || (c->path = strdup(path)) == NULL) {
        free(c);
        return keel_errf(err, KEEL_ENOMEM, "%s: out of memory", path);
    }
    c->chunk_bytes = chunk_bytes ? chunk_bytes : (size_t)16 << 20;
    c->delimiter = delimiter ? delimiter : ',';
    c->gz = gzopen(path, "rb");
    int rc = KEEL_OK;
    if (c->gz == NULL)
        rc = keel_errf(err, KEEL_EIO, "%s: cannot open: %s", path,
                       errno ? strerror(errno) : "out of memory");
    /* The header: the first record that is not a blank line (the parser
     * skips those, and a BOM), however long; the bytes before it go with
     * it. */
    size_t start = 0, end = 0;
    while (rc == KEEL_OK) {
        while (rc == KEEL_OK && (end = record_end(c, start, true)) == 0 && !c->eof)
            rc = fill(c, 1 << 16, err);
        if (rc != KEEL_OK)
            break;
        if (end == 0)
            end = c->len;  /* the last record may lack its line end */
        if (!record_is_blank(c, start, end) || end == c->len)
            break;  /* a header, or nothing more */
        start = end;
    }
    if (rc == KEEL_OK && record_is_blank(c, start, end))
        rc = keel_errf(err, KEEL_EPARSE, "%s:1: empty file: no header", path);
    if (rc != KEEL_OK) {
        keel_csv_chunks_close(c);
        return rc;
    }
    c->header_len = end;
    c->header_lines = count_line_ends(c->buf, c->header_len);
    c->lines_before = c->header_lines;
    *out = c;
    return KEEL_OK;
}

/* "PATH:LINE: …" from a chunk → the same message with the file's line. */
static void renumber(const keel_csv_chunks *c, keel_err *err)
{
    size_t n = strlen(c->path);
    if (strncmp(err->msg, c->path, n) != 0 || err->msg[n] != ':')
        return;
    char *rest;
    errno = 0;
    unsigned long long line = strtoull(err->msg + n + 1, &rest, 10);
    if (errno != 0 || rest == err->msg + n + 1 || *rest != ':' || line <= c->header_lines)
        return;
    char tail[sizeof err->msg];
    memcpy(tail, rest, strlen(rest) + 1);
    /* The chunk's line header_lines + 1 is the file's lines_before + 1. */
    unsigned long long real = line - c->header_lines + c->lines_before;
    int head = snprintf(err->msg, sizeof err->msg, "%.160s:%llu", c->path, real);
    if (head > 0 && (size_t)head < sizeof err->msg) {
        size_t k = strnlen(tail, sizeof err->msg - (size_t)head - 1);
        memcpy(err->msg + head, tail, k);
        err->msg[(size_t)head + k] = '\0';
    }
}

int keel_csv_chunks_next(keel_csv_chunks *c, const keel_csv_options *opts, keel_frame **out,
                         keel_err *err)
{
    *out = NULL;
    size_t body = c->header_len, end = 0;
    int rc = KEEL_OK;
    /* Read until the chunk holds chunk_bytes and at least one whole record. */
    while (rc == KEEL_OK && !c->eof && c->len - body < c->chunk_bytes)
        rc = fill(c, c->chunk_bytes - (c->len - body), err);
    while (rc == KEEL_OK && (end = record_end(c, body, false)) == 0 && !c->eof)
        rc = fill(c, c->chunk_bytes, err);
    if (rc != KEEL_OK)
        return rc;
    if (c->eof)
        end = c->len;  /* the last record may lack its newline */
    if (end <= body)
        return KEEL_OK;  /* nothing left */
    keel_csv_options o = opts != NULL ? *opts : (keel_csv_options){ 0 };
    o.no_header = false;
    o.delimiter = c->delimiter;
    rc = keel_csv_parse(c->path, c->buf, end, &o, out, err);
    if (rc != KEEL_OK) {
        renumber(c, err);
        return rc;
    }
    c->lines_before += count_line_ends(c->buf + body, end - body);
    memmove(c->buf + body, c->buf + end, c->len - end);
    c->len -= end - body;
    return KEEL_OK;
}

int keel_csv_chunks_header(const keel_csv_chunks *c, keel_frame **out, keel_err *err)
{
    keel_csv_options o = { .delimiter = c->delimiter };
    return keel_csv_parse(c->path, c->buf, c->header_len, &o, out, err);
}

void keel_csv_chunks_close(keel_csv_chunks *c)
{
    if (c == NULL)
        return;
    if (c->gz != NULL)
        gzclose(c->gz);
    free(c->buf);
    free(c->path);
    free(c);
}
