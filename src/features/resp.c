/*
 * resp.c — parsing one Redis reply (RESP2) from counted bytes: simple
 * strings, errors, integers, bulk strings and arrays, nil included.
 *
 * Invariants: nothing is read at or past buf + len; lines, bulk strings,
 * arrays and nesting are bounded (resp.h), so a hostile or broken server
 * costs at most one bounded allocation per element; on any result but
 * KEEL_RESP_OK nothing stays allocated.
 */
#include "resp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct cursor {
    const char *buf;
    size_t len, pos;
    size_t need;                      /* on KEEL_RESP_INCOMPLETE: bytes worth waiting for */
} cursor;

const char *keel_resp_status_text(enum keel_resp_status s)
{
    static const char *const texts[] = {
#define KEEL_RESP_TEXT(code, text) text,
        KEEL_RESP_STATUS_LIST(KEEL_RESP_TEXT)
#undef KEEL_RESP_TEXT
    };
    return (size_t)s < sizeof texts / sizeof texts[0] ? texts[s] : "unknown RESP status";
}

void keel_resp_reply_free(keel_resp_reply *r)
{
    free(r->str);
    for (long long i = 0; r->type == '*' && i < r->integer; i++)
        keel_resp_reply_free(&r->elems[i]);
    free(r->elems);
    memset(r, 0, sizeof *r);
}

/* The line at the cursor without its CRLF; the cursor moves past it. */
static enum keel_resp_status line(cursor *c, const char **out, size_t *out_len)
{
    size_t avail = c->len - c->pos;
    size_t scan = avail < KEEL_RESP_MAX_LINE + 2 ? avail : KEEL_RESP_MAX_LINE + 2;
    const char *start = c->buf + c->pos;
    const char *nl = scan > 0 ? memchr(start, '\n', scan) : NULL;
    if (nl == NULL) {
        if (avail >= KEEL_RESP_MAX_LINE + 2)
            return KEEL_RESP_LONG_LINE;
        c->need = c->len + 1;
        return KEEL_RESP_INCOMPLETE;
    }
    size_t n = (size_t)(nl - start);
    if (n == 0 || start[n - 1] != '\r')
        return KEEL_RESP_NO_CRLF;
    *out = start;
    *out_len = n - 1;
    c->pos += n + 1;
    return KEEL_RESP_OK;
}

/* A decimal integer filling p[0..n): an optional '-', then digits. */
static bool decimal(const char *p, size_t n, long long *out)
{
    char num[24];
    if (n == 0 || n >= sizeof num || !(p[0] == '-' || (p[0] >= '0' && p[0] <= '9')))
        return false;
    memcpy(num, p, n);
    num[n] = '\0';
    char *end = NULL;
    errno = 0;
    long long v = strtoll(num, &end, 10);
    if (errno != 0 || end != num + n)
        return false;
    *out = v;
    return true;
}

static enum keel_resp_status parse(cursor *c, keel_resp_reply *out, int depth)
{
    memset(out, 0, sizeof *out);
    const char *l = NULL;
    size_t n = 0;
    enum keel_resp_status s = line(c, &l, &n);
    if (s != KEEL_RESP_OK)
        return s;
    if (n < 1)
        return KEEL_RESP_EMPTY;
    char type = l[0];
    switch (type) {
    case '+':
    case '-':
        if ((out->str = malloc(n)) == NULL)
            return KEEL_RESP_NOMEM;
        memcpy(out->str, l + 1, n - 1);
        out->str[n - 1] = '\0';
        out->len = n - 1;
        break;
    case ':':
        if (!decimal(l + 1, n - 1, &out->integer))
            return KEEL_RESP_BAD_NUMBER;
        break;
    case '$':
        if (!decimal(l + 1, n - 1, &out->integer) || out->integer < -1)
            return KEEL_RESP_BAD_NUMBER;
        if (out->integer == -1)
            break;
        if ((unsigned long long)out->integer > KEEL_RESP_MAX_BULK)
            return KEEL_RESP_TOO_LARGE;
        out->len = (size_t)out->integer;
        if (c->len - c->pos < out->len + 2) {
            c->need = c->pos + out->len + 2;
            return KEEL_RESP_INCOMPLETE;
        }
        if (c->buf[c->pos + out->len] != '\r' || c->buf[c->pos + out->len + 1] != '\n')
            return KEEL_RESP_NO_CRLF;
        if ((out->str = malloc(out->len + 1)) == NULL)
            return KEEL_RESP_NOMEM;
        memcpy(out->str, c->buf + c->pos, out->len);
        out->str[out->len] = '\0';
        c->pos += out->len + 2;
        break;
    case '*':
        if (!decimal(l + 1, n - 1, &out->integer) || out->integer < -1)
            return KEEL_RESP_BAD_NUMBER;
        if (out->integer <= 0)
            break;
        if (depth > KEEL_RESP_MAX_DEPTH || out->integer > KEEL_RESP_MAX_ARRAY)
            return KEEL_RESP_TOO_DEEP;
        if ((out->elems = calloc((size_t)out->integer, sizeof *out->elems)) == NULL)
            return KEEL_RESP_NOMEM;
        for (long long i = 0; i < out->integer; i++) {
            if ((s = parse(c, &out->elems[i], depth + 1)) != KEEL_RESP_OK) {
                out->type = '*';
                out->integer = i + 1; /* elems[i] is left freeable by parse */
                return s;
            }
        }
        break;
    default:
        return KEEL_RESP_BAD_TYPE;
    }
    out->type = type;
    return KEEL_RESP_OK;
}

enum keel_resp_status keel_resp_parse(const char *buf, size_t len, keel_resp_reply *out,
                                      size_t *out_n)
{
    cursor c = { .buf = buf, .len = len };
    enum keel_resp_status s = parse(&c, out, 0);
    if (s != KEEL_RESP_OK) {
        keel_resp_reply_free(out);
        *out_n = s == KEEL_RESP_INCOMPLETE ? c.need : 0;
        return s;
    }
    *out_n = c.pos;
    return KEEL_RESP_OK;
}
