/*
 * serve_fast.c — a direct decoder for the commonest scoring body,
 * {"dataframe_records": [{"col": value, …}, …]}, without a JSON tree.
 *
 * jansson costs about a fifth of a single-record request's CPU (a hash table
 * per object, an allocation per value; bench/bench_serve.sh profile). This
 * decoder reads the plain shape straight into the encoder's values. Anything
 * it is not sure of — other fields, escapes, non-ASCII text, nested values,
 * unusual numbers, malformed input — makes it give up, and the request is
 * decoded by the general path, which also produces every error message. So
 * it can only be faster, never different: tests/fuzz/fuzz_serve_request.c
 * compares the two on every input.
 */
#include "serve.h"

#include <keel/json.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cur {
    const char *p, *end;
} cur;

static void ws(cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

static bool eat(cur *c, char ch)
{
    ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A plain string (printable ASCII, no escapes), copied into the arena. */
static const char *plain_string(cur *c, keel_arena *a)
{
    if (!eat(c, '"'))
        return NULL;
    const char *start = c->p;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x20 || ch >= 0x80 || ch == '\\')
            return NULL;
        c->p++;
    }
    if (c->p >= c->end)
        return NULL;
    size_t n = (size_t)(c->p - start);
    c->p++;
    return keel_arena_strndup(a, start, n);
}

/* JSON's number grammar exactly; integers must fit int64 as jansson wants. */
static bool plain_number(cur *c, double *out)
{
    ws(c);
    const char *s = c->p;
    bool integral = true;
    size_t n = keel_json_number_span(s, c->end, &integral);
    const char *q = s + n;
    char text[64];
    if (n == 0 || n >= sizeof text)
        return false;
    memcpy(text, s, n);
    text[n] = '\0';
    char *end = NULL;
    errno = 0;
    if (integral) {
        long long v = strtoll(text, &end, 10);
        if (errno != 0)
            return false;
        *out = (double)v;
    } else {
        *out = strtod(text, &end);
        if (errno != 0 || !isfinite(*out))
            return false;
    }
    c->p = q;
    return true;
}

static bool literal(cur *c, const char *word)
{
    ws(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* One record into the encoder's values; false = not the plain shape, or
 * anything the general path must judge (a type mismatch, an unknown or
 * repeated column). */
static bool record(const served_model *m, cur *c, keel_arena *a, keel_enc_value *values,
                   bool *seen)
{
    if (!eat(c, '{'))
        return false;
    memset(seen, 0, m->enc->n_cols);
    if (eat(c, '}'))
        return false;
    do {
        const char *key = plain_string(c, a);
        if (key == NULL || !eat(c, ':'))
            return false;
        size_t col = 0;
        while (col < m->enc->n_cols && strcmp(m->enc->cols[col].column, key) != 0)
            col++;
        if (col == m->enc->n_cols || seen[col])
            return false;
        seen[col] = true;
        keel_enc_value *v = &values[col];
        memset(v, 0, sizeof *v);
        bool text_column = m->input_types[col] == KEEL_COL_STRING;
        ws(c);
        if (c->p < c->end && *c->p == '"') {
            if (!text_column || (v->text = plain_string(c, a)) == NULL)
                return false;
            v->is_text = true;
        } else if (literal(c, "null")) {
            v->missing = true;
        } else if (text_column) {
            return false;
        } else if (literal(c, "true")) {
            v->number = 1;
        } else if (literal(c, "false")) {
            v->number = 0;
        } else if (!plain_number(c, &v->number)) {
            return false;
        }
    } while (eat(c, ','));
    if (!eat(c, '}'))
        return false;
    for (size_t i = 0; i < m->enc->n_cols; i++)
        if (!seen[i])
            return false;
    return true;
}

bool decode_records_fast(const served_model *m, const char *body, size_t len, keel_arena *a,
                         feature_rows *out)
{
    if (m->enc == NULL)
        return false;
    cur c = { body, body + len };
    if (!eat(&c, '{') || !literal(&c, "\"dataframe_records\"") || !eat(&c, ':') || !eat(&c, '['))
        return false;
    /* Count rows first: records hold no brackets in the plain shape. */
    size_t rows = 0;
    for (const char *p = c.p; p < c.end; p++)
        rows += *p == '{';
    if (rows == 0 || rows > SERVE_MAX_ROWS)
        return false;
    size_t w = m->enc->n_features;
    float *x = keel_arena_alloc(a, rows * w * sizeof *x + 1);
    keel_enc_value *values = keel_arena_alloc(a, (m->enc->n_cols + 1) * sizeof *values);
    bool *seen = keel_arena_alloc(a, m->enc->n_cols + 1);
    if (x == NULL || values == NULL || seen == NULL)
        return false;
    size_t n = 0, unseen = 0, bad = 0;
    do {
        if (n == rows || !record(m, &c, a, values, seen))
            return false;
        keel_encoder_encode_row(m->enc, values, x + n * w, &unseen, &bad);
        n++;
    } while (eat(&c, ','));
    if (!eat(&c, ']') || !eat(&c, '}'))
        return false;
    ws(&c);
    if (c.p != c.end || n != rows)
        return false;
    memset(out, 0, sizeof *out);
    out->x = x;
    out->n = n;
    out->width = w;
    out->unseen = unseen;
    out->bad = bad;
    out->body_is_records = true;
    return true;
}
