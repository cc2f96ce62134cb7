/*
 * frame.c — typed columnar frames: column types by name, lookup, numeric
 * views, row selection.
 *
 * Invariant: every pointer in a frame (names, arrays, dictionaries, bitmaps)
 * lives in the frame's own arena, so keel_frame_destroy is one arena free.
 * A column's missing bitmap is NULL exactly when n_missing is 0.
 */
#include "data_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [KEEL_COL_INT] = "int",       [KEEL_COL_FLOAT] = "float",
    [KEEL_COL_BOOL] = "bool",     [KEEL_COL_DATE] = "date",
    [KEEL_COL_DATETIME] = "datetime", [KEEL_COL_STRING] = "string",
};
#define N_TYPES (sizeof type_names / sizeof type_names[0])

const char *keel_col_type_name(enum keel_col_type t)
{
    if ((unsigned)t >= N_TYPES)
        return "unknown";
    return type_names[t];
}

int keel_col_type_parse(const char *name, enum keel_col_type *out, keel_err *err)
{
    if (name == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "column type: missing argument");
    for (size_t i = 0; i < N_TYPES; i++) {
        if (strcmp(name, type_names[i]) == 0) {
            *out = (enum keel_col_type)i;
            return KEEL_OK;
        }
    }
    if (strcmp(name, "str") == 0) {  /* the datasets README spells it so */
        *out = KEEL_COL_STRING;
        return KEEL_OK;
    }
    return keel_errf(err, KEEL_EINVAL,
                     "unknown column type '%s' (expected int, float, bool, date, datetime or "
                     "string)",
                     name);
}

keel_frame *keel__frame_new(void)
{
    keel_frame *f = calloc(1, sizeof *f);
    if (f != NULL)
        keel_arena_init(&f->arena, 0);
    return f;
}

void keel_frame_destroy(keel_frame *f)
{
    if (f == NULL)
        return;
    keel_arena_free(&f->arena);
    free(f);
}

int keel_frame_column_index(const keel_frame *f, const char *name)
{
    if (f == NULL || name == NULL)
        return -1;
    for (size_t i = 0; i < f->n_cols; i++)
        if (strcmp(f->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

const keel_column *keel_frame_column(const keel_frame *f, const char *name)
{
    int i = keel_frame_column_index(f, name);
    return i < 0 ? NULL : &f->cols[i];
}

double keel_column_number(const keel_column *c, size_t row)
{
    if (c == NULL || keel_column_is_missing(c, row))
        return NAN;
    switch (c->type) {
    case KEEL_COL_FLOAT:
        return c->f64[row];
    case KEEL_COL_INT:
    case KEEL_COL_BOOL:
    case KEEL_COL_DATE:
    case KEEL_COL_DATETIME:
        return (double)c->i64[row];
    case KEEL_COL_STRING:
        break;
    }
    return NAN;
}

static int take_column(keel_arena *a, const keel_column *src, const size_t *rows, size_t n,
                       keel_column *dst)
{
    dst->name = keel_arena_strdup(a, src->name);
    dst->type = src->type;
    if (dst->name == NULL)
        return KEEL_ENOMEM;
    switch (src->type) {
    case KEEL_COL_FLOAT:
        if ((dst->f64 = keel_arena_alloc(a, n * sizeof *dst->f64)) == NULL)
            return KEEL_ENOMEM;
        for (size_t i = 0; i < n; i++)
            dst->f64[i] = src->f64[rows[i]];
        break;
    case KEEL_COL_STRING: {
        if ((dst->codes = keel_arena_alloc(a, n * sizeof *dst->codes)) == NULL)
            return KEEL_ENOMEM;
        for (size_t i = 0; i < n; i++)
            dst->codes[i] = src->codes[rows[i]];
        /* The whole dictionary is kept so codes mean the same in both frames. */
        const char **dict = keel_arena_alloc(a, (src->n_dict ? src->n_dict : 1) * sizeof *dict);
        if (dict == NULL)
            return KEEL_ENOMEM;
        for (size_t k = 0; k < src->n_dict; k++)
            if ((dict[k] = keel_arena_strdup(a, src->dict[k])) == NULL)
                return KEEL_ENOMEM;
        dst->dict = dict;
        dst->n_dict = src->n_dict;
        break;
    }
    default:
        if ((dst->i64 = keel_arena_alloc(a, n * sizeof *dst->i64)) == NULL)
            return KEEL_ENOMEM;
        for (size_t i = 0; i < n; i++)
            dst->i64[i] = src->i64[rows[i]];
        break;
    }
    if (src->missing != NULL) {
        size_t n_missing = 0;
        uint8_t *bits = keel_arena_alloc(a, (n + 7) / 8);
        if (bits == NULL)
            return KEEL_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            if (keel_column_is_missing(src, rows[i])) {
                bits[i >> 3] |= (uint8_t)(1u << (i & 7));
                n_missing++;
            }
        }
        dst->missing = n_missing > 0 ? bits : NULL;
        dst->n_missing = n_missing;
    }
    return KEEL_OK;
}

int keel_frame_take(const keel_frame *f, const size_t *rows, size_t n, keel_frame **out,
                    keel_err *err)
{
    if (f == NULL || out == NULL || (rows == NULL && n > 0))
        return keel_errf(err, KEEL_EINVAL, "frame take: missing argument");
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= f->n_rows)
            return keel_errf(err, KEEL_EINVAL, "frame take: row %zu out of range (%zu rows)",
                             rows[i], f->n_rows);
    keel_frame *t = keel__frame_new();
    if (t == NULL)
        return keel_errf(err, KEEL_ENOMEM, "frame take: out of memory");
    t->cols = keel_arena_alloc(&t->arena, (f->n_cols ? f->n_cols : 1) * sizeof *t->cols);
    if (t->cols == NULL)
        goto oom;
    t->n_cols = f->n_cols;
    t->n_rows = n;
    for (size_t c = 0; c < f->n_cols; c++)
        if (take_column(&t->arena, &f->cols[c], rows, n, &t->cols[c]) != KEEL_OK)
            goto oom;
    *out = t;
    return KEEL_OK;
oom:
    keel_frame_destroy(t);
    return keel_errf(err, KEEL_ENOMEM, "frame take: out of memory");
}
