/*
 * batch_parse.c — a direct decoder for MLflow's log-batch body, the hottest
 * request a tracking server sees (1000 metric points per call).
 *
 * jansson builds a hash table per object: for a 1000-point batch that is
 * 1000 small allocations and most of a request's CPU (bench/bench_server.sh
 * measured it at a third). This decoder reads the common shape straight into
 * keel_batch with arena memory. Anything it is not sure of — unknown fields,
 * non-ASCII text, unusual numbers, malformed input — makes it give up, and
 * the caller decodes with jansson, which also produces the error messages.
 * So it can only be faster, never different: tests/fuzz/fuzz_mlflow_request.c
 * compares both decoders on every input.
 */
#include <keel/json.h>
#include <keel/tracking.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FAST_MAX_ITEMS 4096

typedef struct cursor {
    const char *p;
    const char *end;
    keel_arena *a;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

static bool eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A string of printable ASCII, with the simple escapes; anything else
 * (\u, control or non-ASCII bytes) gives up. */
static const char *read_string(cursor *c)
{
    if (!eat(c, '"'))
        return NULL;
    const char *start = c->p;
    bool escaped = false;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x20 || ch >= 0x80)
            return NULL;
        if (ch == '\\') {
            escaped = true;
            if (c->p + 1 >= c->end || strchr("\"\\/bfnrt", c->p[1]) == NULL)
                return NULL;
            c->p++;
        }
        c->p++;
    }
    if (c->p >= c->end)
        return NULL;
    size_t n = (size_t)(c->p - start);
    c->p++;
    char *out = keel_arena_alloc(c->a, n + 1);
    if (out == NULL)
        return NULL;
    if (!escaped) {
        memcpy(out, start, n);
        out[n] = '\0';
        return out;
    }
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char *w = out;
    for (const char *r = start; r < start + n; r++) {
        if (*r == '\\') {
            r++;
            *w++ = to[strchr(from, *r) - from];
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return out;
}

/* A JSON number in the plain form jansson accepts; gives up on anything
 * else. Integers must fit int64 when want_int. */
static bool read_number(cursor *c, bool want_int, double *out_d, int64_t *out_i)
{
    skip_ws(c);
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
    if (want_int) {
        if (!integral)
            return false;
        long long v = strtoll(text, &end, 10);
        if (*end != '\0' || errno != 0)
            return false;
        *out_i = v;
    } else {
        /* jansson reads an integral literal as an int64 and refuses larger ones. */
        if (integral) {
            strtoll(text, &end, 10);
            if (errno != 0)
                return false;
        }
        double d = strtod(text, &end);
        if (*end != '\0' || errno != 0 || !isfinite(d))
            return false;
        *out_d = d;
    }
    c->p = q;
    return true;
}

/* value: a number, or "NaN" / "Infinity" / "-Infinity" as MLflow writes them. */
static bool read_metric_value(cursor *c, double *out)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == '"') {
        const char *s = read_string(c);
        if (s == NULL)
            return false;
        if (strcmp(s, "NaN") == 0)
            *out = NAN;
        else if (strcmp(s, "Infinity") == 0)
            *out = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            *out = -INFINITY;
        else
            return false;
        return true;
    }
    return read_number(c, false, out, NULL);
}

/* Each field at most once, in any order; anything unknown gives up. */
static bool read_metric(cursor *c, keel_metric *m)
{
    if (!eat(c, '{'))
        return false;
    unsigned seen = 0;
    memset(m, 0, sizeof *m);
    if (eat(c, '}'))
        return false;
    do {
        const char *field = read_string(c);
        if (field == NULL || !eat(c, ':'))
            return false;
        unsigned bit;
        bool ok;
        if (strcmp(field, "key") == 0) {
            bit = 1;
            ok = (m->key = read_string(c)) != NULL;
        } else if (strcmp(field, "value") == 0) {
            bit = 2;
            ok = read_metric_value(c, &m->value);
        } else if (strcmp(field, "timestamp") == 0) {
            bit = 4;
            ok = read_number(c, true, NULL, &m->timestamp);
        } else if (strcmp(field, "step") == 0) {
            bit = 8;
            ok = read_number(c, true, NULL, &m->step);
        } else {
            return false;
        }
        if (!ok || (seen & bit) != 0)
            return false;
        seen |= bit;
    } while (eat(c, ','));
    return eat(c, '}') && (seen & 3) == 3;
}

static bool read_kv(cursor *c, keel_kv *kv)
{
    if (!eat(c, '{'))
        return false;
    unsigned seen = 0;
    kv->key = kv->value = NULL;
    do {
        const char *field = read_string(c);
        if (field == NULL || !eat(c, ':'))
            return false;
        const char **slot = strcmp(field, "key") == 0 ? &kv->key
                            : strcmp(field, "value") == 0 ? &kv->value : NULL;
        unsigned bit = slot == &kv->key ? 1 : 2;
        if (slot == NULL || (seen & bit) != 0 || (*slot = read_string(c)) == NULL)
            return false;
        seen |= bit;
    } while (eat(c, ','));
    return eat(c, '}') && seen == 3;
}

/* [item, item, …] into an arena array grown by doubling. */
static bool read_list(cursor *c, size_t elem, bool (*read_item)(cursor *, void *), void **out,
                      size_t *out_n)
{
    if (!eat(c, '['))
        return false;
    size_t n = 0, cap = 0;
    char *items = NULL;
    if (!eat(c, ']')) {
        do {
            if (n == cap) {
                size_t ncap = cap == 0 ? 64 : cap * 2;
                if (ncap > FAST_MAX_ITEMS)
                    return false;
                char *grown = keel_arena_alloc(c->a, ncap * elem);
                if (grown == NULL)
                    return false;
                if (n > 0)
                    memcpy(grown, items, n * elem);
                items = grown;
                cap = ncap;
            }
            if (!read_item(c, items + n * elem))
                return false;
            n++;
        } while (eat(c, ','));
        if (!eat(c, ']'))
            return false;
    }
    *out = items;
    *out_n = n;
    return true;
}

static bool metric_item(cursor *c, void *slot)
{
    return read_metric(c, slot);
}

static bool kv_item(cursor *c, void *slot)
{
    return read_kv(c, slot);
}

int keel_batch_parse_fast(const char *body, size_t len, keel_arena *a, const char **out_run_id,
                          keel_batch *out)
{
    cursor c = { body, body + len, a };
    memset(out, 0, sizeof *out);
    *out_run_id = NULL;
    const char *run_uuid = NULL;
    unsigned seen = 0;
    if (!eat(&c, '{'))
        return KEEL_EINVAL;
    if (!eat(&c, '}')) {
        do {
            const char *field = read_string(&c);
            if (field == NULL || !eat(&c, ':'))
                return KEEL_EINVAL;
            bool ok;
            unsigned bit;
            if (strcmp(field, "run_id") == 0) {
                bit = 1;
                ok = (*out_run_id = read_string(&c)) != NULL;
            } else if (strcmp(field, "run_uuid") == 0) {
                bit = 2;
                ok = (run_uuid = read_string(&c)) != NULL;
            } else if (strcmp(field, "metrics") == 0) {
                bit = 4;
                ok = read_list(&c, sizeof(keel_metric), metric_item, (void **)&out->metrics,
                               &out->n_metrics);
            } else if (strcmp(field, "params") == 0) {
                bit = 8;
                ok = read_list(&c, sizeof(keel_kv), kv_item, (void **)&out->params,
                               &out->n_params);
            } else if (strcmp(field, "tags") == 0) {
                bit = 16;
                ok = read_list(&c, sizeof(keel_kv), kv_item, (void **)&out->tags, &out->n_tags);
            } else {
                return KEEL_EINVAL;
            }
            if (!ok || (seen & bit) != 0)
                return KEEL_EINVAL;
            seen |= bit;
        } while (eat(&c, ','));
        if (!eat(&c, '}'))
            return KEEL_EINVAL;
    }
    skip_ws(&c);
    if (c.p != c.end)
        return KEEL_EINVAL;
    if (*out_run_id == NULL || (*out_run_id)[0] == '\0')
        *out_run_id = run_uuid;
    return KEEL_OK;
}
