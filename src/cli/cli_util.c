/*
 * cli_util.c — value parsing, tables and JSON output for the commands.
 */
#include "cli.h"

#include <keel/json.h>
#include <keel/util.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cli_parse_int64(struct cli_ctx *ctx, const char *what, const char *text, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0)
        return keel_errf(&ctx->err, KEEL_EINVAL, "%s must be an integer, got '%s'", what, text);
    *out = v;
    return KEEL_OK;
}

int cli_parse_double(struct cli_ctx *ctx, const char *what, const char *text, double *out)
{
    /* strtod also takes "nan" and "inf"; MLflow accepts non-finite metric
     * values, so do we. */
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || (errno == ERANGE && isinf(v)))
        return keel_errf(&ctx->err, KEEL_EINVAL, "%s must be a number, got '%s'", what, text);
    *out = v;
    return KEEL_OK;
}

int cli_parse_kv(struct cli_ctx *ctx, const char *what, const char *text, const char **out_key,
                 const char **out_value)
{
    const char *eq = strchr(text, '=');
    if (eq == NULL || eq == text)
        return keel_errf(&ctx->err, KEEL_EINVAL, "%s must be KEY=VALUE, got '%s'", what, text);
    *out_key = keel_arena_strndup(&ctx->arena, text, (size_t)(eq - text));
    *out_value = keel_arena_strdup(&ctx->arena, eq + 1);
    if (*out_key == NULL || *out_value == NULL)
        return keel_errf(&ctx->err, KEEL_ENOMEM, "out of memory");
    return KEEL_OK;
}

void cli_print_json(json_t *v)
{
    char *text = keel_json_dumps(v, true);
    if (text != NULL) {
        fputs(text, stdout);
        fputc('\n', stdout);
    }
    free(text);
    json_decref(v);
}

void cli_table_init(struct cli_table *t, keel_arena *a, size_t n_cols, const char *const *header)
{
    t->n_cols = n_cols;
    t->n_rows = 0;
    t->cap_rows = 0;
    t->cells = NULL;
    t->arena = a;
    cli_table_row(t, header);
}

void cli_table_row(struct cli_table *t, const char *const *cells)
{
    if (t->n_rows == t->cap_rows) {
        size_t cap = t->cap_rows == 0 ? 16 : t->cap_rows * 2;
        const char **grown = keel_arena_alloc(t->arena, cap * t->n_cols * sizeof *grown);
        if (grown == NULL)
            return;
        if (t->n_rows > 0)
            memcpy(grown, t->cells, t->n_rows * t->n_cols * sizeof *grown);
        t->cells = grown;
        t->cap_rows = cap;
    }
    for (size_t c = 0; c < t->n_cols; c++)
        t->cells[t->n_rows * t->n_cols + c] = cells[c] != NULL ? cells[c] : "";
    t->n_rows++;
}

/* Display width: counts UTF-8 code points, not bytes. */
static size_t display_width(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void cli_table_print(const struct cli_table *t)
{
    size_t widths[32] = { 0 };
    size_t n_cols = t->n_cols < 32 ? t->n_cols : 32;
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t c = 0; c < n_cols; c++) {
            size_t w = display_width(t->cells[r * t->n_cols + c]);
            if (w > widths[c])
                widths[c] = w;
        }
    }
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t c = 0; c < n_cols; c++) {
            const char *cell = t->cells[r * t->n_cols + c];
            fputs(cell, stdout);
            if (c + 1 < n_cols) {
                size_t pad = widths[c] - display_width(cell) + 2;
                for (size_t i = 0; i < pad; i++)
                    fputc(' ', stdout);
            }
        }
        fputc('\n', stdout);
    }
    if (t->n_rows == 1)
        printf("(none)\n");
}

const char *cli_fmt_double(keel_arena *a, double d)
{
    if (isnan(d))
        return "NaN";
    if (isinf(d))
        return d > 0 ? "Infinity" : "-Infinity";
    char buf[40];
    for (int precision = 6; precision <= 17; precision++) {
        snprintf(buf, sizeof buf, "%.*g", precision, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return keel_arena_strdup(a, buf);
}

const char *cli_fmt_time(keel_arena *a, long long ms)
{
    char buf[32];
    keel_format_time(ms, buf, sizeof buf);
    return keel_arena_strdup(a, buf);
}

const char *cli_fmt_int(keel_arena *a, long long v)
{
    return keel_arena_sprintf(a, "%lld", v);
}
