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
    char *buf;           /* header, then the carried and newly read bytes */
    size_t cap;
    size_t header_len;   /* buf[0..header_len): the header record and its newline */
    size_t len;          /* bytes in buf */
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

/* Offset just past the last newline outside quotes in buf[from..len), or 0
 * when there is none. Quotes toggle the state, doubled quotes included. */
static size_t last_record_end(const keel_csv_chunks *c, size_t from)
{
    bool quoted = false;
    size_t end = 0;
    for (size_t i = from; i < c->len; i++) {
        char ch = c->buf[i];
        if (ch == '"')
            quoted = !quoted;
        else if (ch == '\n' && !quoted)
            end = i + 1;
    }
    return end;
}

static size_t count_newlines(const char *p, size_t n)
{
    size_t k = 0;
    for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
        k++;
    return k;
}

int keel_csv_chunks_open(const char *path, size_t chunk_bytes, keel_csv_chunks **out,
                         keel_err *err)
{
    if (path == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "csv: missing argument");
    keel_csv_chunks *c = calloc(1, sizeof *c);
    if (c == NULL || (c->path = strdup(path)) == NULL) {
        free(c);
        return keel_errf(err, KEEL_ENOMEM, "%s: out of memory", path);
    }
    c->chunk_bytes = chunk_bytes ? chunk_bytes : (size_t)16 << 20;
    c->gz = gzopen(path, "rb");
    int rc = KEEL_OK;
    if (c->gz == NULL)
        rc = keel_errf(err, KEEL_EIO, "%s: cannot open: %s", path,
                       errno ? strerror(errno) : "out of memory");
    /* The header: the first record, however long. */
    size_t end = 0;
    while (rc == KEEL_OK && (end = last_record_end(c, 0)) == 0 && !c->eof)
        rc = fill(c, 1 << 16, err);
    if (rc == KEEL_OK && c->len == 0)
        rc = keel_errf(err, KEEL_EPARSE, "%s:1: empty file: no header", path);
    if (rc != KEEL_OK) {
        keel_csv_chunks_close(c);
        return rc;
    }
    /* Only the first record: find the first newline outside quotes. */
    bool quoted = false;
    size_t i = 0;
    for (; i < c->len; i++) {
        if (c->buf[i] == '"')
            quoted = !quoted;
        else if (c->buf[i] == '\n' && !quoted)
            break;
    }
    c->header_len = i < c->len ? i + 1 : c->len;
    c->lines_before = count_newlines(c->buf, c->header_len);
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
    if (errno != 0 || rest == err->msg + n + 1 || *rest != ':' || line < 2)
        return;
    char tail[sizeof err->msg];
    memcpy(tail, rest, strlen(rest) + 1);
    /* Chunk line 2 is the body's first line, the file's lines_before + 1. */
    unsigned long long real = line - 1 + c->lines_before;
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
    while (rc == KEEL_OK && (end = last_record_end(c, body)) == 0 && !c->eof)
        rc = fill(c, c->chunk_bytes, err);
    if (rc != KEEL_OK)
        return rc;
    if (c->eof)
        end = c->len;  /* the last record may lack its newline */
    if (end <= body)
        return KEEL_OK;  /* nothing left */
    keel_csv_options o = opts != NULL ? *opts : (keel_csv_options){ 0 };
    o.no_header = false;
    rc = keel_csv_parse(c->path, c->buf, end, &o, out, err);
    if (rc != KEEL_OK) {
        renumber(c, err);
        return rc;
    }
    c->lines_before += count_newlines(c->buf + body, end - body);
    memmove(c->buf + body, c->buf + end, c->len - end);
    c->len -= end - body;
    return KEEL_OK;
}

int keel_csv_chunks_header(const keel_csv_chunks *c, keel_frame **out, keel_err *err)
{
    return keel_csv_parse(c->path, c->buf, c->header_len, NULL, out, err);
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
