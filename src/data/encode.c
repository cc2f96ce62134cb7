/*
 * encode.c — fitting and applying feature encoders (see keel/encode.h).
 */
#include <keel/encode.h>

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = { "numeric", "onehot", "ordinal" };

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* XGBoost rejects '[', ']' and '<' in feature names; commas and spaces
 * would also break its feature maps. */
static char *sanitize(keel_arena *a, const char *name)
{
    size_t n = strlen(name);
    char *out = keel_arena_alloc(a, n * 2 + 1);
    if (out == NULL)
        return NULL;
    char *w = out;
    for (const char *r = name; *r != '\0'; r++) {
        switch (*r) {
        case '[': *w++ = '('; break;
        case ']': *w++ = ')'; break;
        case '<': *w++ = 'l'; *w++ = 't'; break;
        case ',': case ' ': case '\t': *w++ = '_'; break;
        default: *w++ = *r; break;
        }
    }
    *w = '\0';
    return out;
}

static bool is_excluded(const char *name, const char *const *exclude, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, exclude[i]) == 0)
            return true;
    return false;
}

/* Names features and makes them unique ("x", "x_2", …). */
static int name_features(keel_encoder *e, keel_err *err)
{
    e->feature_names = keel_arena_alloc(&e->arena, (e->n_features + 1) * sizeof(char *));
    if (e->feature_names == NULL)
        return keel_errf(err, KEEL_ENOMEM, "encoder: out of memory");
    for (size_t c = 0; c < e->n_cols; c++) {
        const keel_column_encoder *ce = &e->cols[c];
        size_t width = ce->kind == KEEL_ENC_ONEHOT ? ce->n_vocab : 1;
        for (size_t k = 0; k < width; k++) {
            const char *raw = ce->kind == KEEL_ENC_ONEHOT
                                  ? keel_arena_sprintf(&e->arena, "%s=%s", ce->column, ce->vocab[k])
                                  : ce->column;
            char *name = raw != NULL ? sanitize(&e->arena, raw) : NULL;
            if (name == NULL)
                return keel_errf(err, KEEL_ENOMEM, "encoder: out of memory");
            size_t at = ce->first_feature + k;
            for (int suffix = 2;; suffix++) {
                bool taken = false;
                for (size_t j = 0; j < at && !taken; j++)
                    taken = strcmp(e->feature_names[j], name) == 0;
                if (!taken)
                    break;
                name = keel_arena_sprintf(&e->arena, "%s_%d", sanitize(&e->arena, raw), suffix);
            }
            e->feature_names[at] = name;
        }
    }
    return KEEL_OK;
}

int keel_encoder_fit(const keel_frame *f, const size_t *rows, size_t n,
                     const char *const *exclude, size_t n_exclude, size_t max_onehot,
                     keel_encoder **out, keel_err *err)
{
    if (rows == NULL)
        n = f->n_rows;
    keel_encoder *e = calloc(1, sizeof *e);
    if (e == NULL)
        return keel_errf(err, KEEL_ENOMEM, "encoder: out of memory");
    keel_arena_init(&e->arena, 0);
    e->cols = keel_arena_alloc(&e->arena, (f->n_cols + 1) * sizeof *e->cols);
    if (e->cols == NULL) {
        keel_encoder_destroy(e);
        return keel_errf(err, KEEL_ENOMEM, "encoder: out of memory");
    }
    for (size_t i = 0; i < f->n_cols; i++) {
        const keel_column *col = &f->cols[i];
        if (is_excluded(col->name, exclude, n_exclude))
            continue;
        keel_column_encoder *ce = &e->cols[e->n_cols++];
        ce->column = keel_arena_strdup(&e->arena, col->name);
        ce->type = col->type;
        ce->first_feature = e->n_features;
        if (col->type != KEEL_COL_STRING) {
            ce->kind = KEEL_ENC_NUMERIC;
            e->n_features++;
            continue;
        }
        ce->vocab = keel_arena_alloc(&e->arena, (col->n_dict + 1) * sizeof(char *));
        uint8_t *present = calloc(col->n_dict + 1, 1);
        if (ce->vocab == NULL || present == NULL) {
            free(present);
            keel_encoder_destroy(e);
            return keel_errf(err, KEEL_ENOMEM, "encoder: out of memory");
        }
        for (size_t r = 0; r < n; r++) {
            size_t row = rows != NULL ? rows[r] : r;
            if (!keel_column_is_missing(col, row))
                present[col->codes[row]] = 1;
        }
        for (size_t k = 0; k < col->n_dict; k++) {
            if (present[k])
                ce->vocab[ce->n_vocab++] = keel_arena_strdup(&e->arena, col->dict[k]);
        }
        free(present);
        qsort(ce->vocab, ce->n_vocab, sizeof(char *), cmp_str);
        ce->kind = ce->n_vocab <= max_onehot ? KEEL_ENC_ONEHOT : KEEL_ENC_ORDINAL;
        e->n_features += ce->kind == KEEL_ENC_ONEHOT ? ce->n_vocab : 1;
    }
    if (e->n_features == 0) {
        keel_encoder_destroy(e);
        return keel_errf(err, KEEL_EINVAL, "encoder: no feature columns left to train on");
    }
    int rc = name_features(e, err);
    if (rc != KEEL_OK) {
        keel_encoder_destroy(e);
        return rc;
    }
    *out = e;
    return KEEL_OK;
}

void keel_encoder_destroy(keel_encoder *e)
{
    if (e == NULL)
        return;
    keel_arena_free(&e->arena);
    free(e);
}

static long vocab_index(const keel_column_encoder *ce, const char *value)
{
    const char **hit = bsearch(&value, ce->vocab, ce->n_vocab, sizeof(char *), cmp_str);
    return hit != NULL ? (long)(hit - ce->vocab) : -1;
}

/* Maps a string column's dictionary codes to vocabulary indexes once, so the
 * row loop is a table lookup. */
static long *code_map(const keel_column_encoder *ce, const keel_column *col)
{
    long *map = malloc((col->n_dict + 1) * sizeof *map);
    if (map == NULL)
        return NULL;
    for (size_t k = 0; k < col->n_dict; k++)
        map[k] = vocab_index(ce, col->dict[k]);
    return map;
}

int keel_encoder_transform(const keel_encoder *e, const keel_frame *f, const size_t *rows,
                           size_t n, float *out, size_t *out_unseen, keel_err *err)
{
    if (rows == NULL)
        n = f->n_rows;  /* as the header promises */
    size_t unseen = 0;
    size_t width = e->n_features;
    for (size_t c = 0; c < e->n_cols; c++) {
        const keel_column_encoder *ce = &e->cols[c];
        const keel_column *col = keel_frame_column(f, ce->column);
        if (col == NULL)
            return keel_errf(err, KEEL_EINVAL, "input has no column '%s' (the model needs it)",
                             ce->column);
        if ((ce->kind == KEEL_ENC_NUMERIC) != (col->type != KEEL_COL_STRING))
            return keel_errf(err, KEEL_EINVAL, "column '%s' is %s; the model was trained on %s",
                             ce->column, keel_col_type_name(col->type),
                             keel_col_type_name(ce->type));
        long *map = ce->kind == KEEL_ENC_NUMERIC ? NULL : code_map(ce, col);
        if (ce->kind != KEEL_ENC_NUMERIC && map == NULL)
            return keel_errf(err, KEEL_ENOMEM, "encoder: out of memory");
        for (size_t i = 0; i < n; i++) {
            size_t row = rows != NULL ? rows[i] : i;
            float *dst = out + i * width + ce->first_feature;
            bool missing = keel_column_is_missing(col, row);
            if (ce->kind == KEEL_ENC_NUMERIC) {
                *dst = missing ? NAN : (float)keel_column_number(col, row);
                continue;
            }
            long idx = missing ? -1 : map[col->codes[row]];
            unseen += !missing && idx < 0;
            if (ce->kind == KEEL_ENC_ORDINAL) {
                *dst = idx < 0 ? NAN : (float)idx;
            } else {
                for (size_t k = 0; k < ce->n_vocab; k++)
                    dst[k] = (long)k == idx ? 1.0f : 0.0f;
            }
        }
        free(map);
    }
    if (out_unseen != NULL)
        *out_unseen = unseen;
    return KEEL_OK;
}

void keel_encoder_encode_row(const keel_encoder *e, const keel_enc_value *values, float *out,
                             size_t *out_unseen, size_t *out_bad)
{
    for (size_t c = 0; c < e->n_cols; c++) {
        const keel_column_encoder *ce = &e->cols[c];
        const keel_enc_value *v = &values[c];
        float *dst = out + ce->first_feature;
        if (ce->kind == KEEL_ENC_NUMERIC) {
            bool usable = !v->missing && !v->is_text;
            if (!v->missing && v->is_text && out_bad != NULL)
                (*out_bad)++;
            *dst = usable ? (float)v->number : NAN;
            continue;
        }
        long idx = -1;
        if (!v->missing && v->is_text) {
            idx = vocab_index(ce, v->text);
            if (idx < 0 && out_unseen != NULL)
                (*out_unseen)++;
        } else if (!v->missing && out_bad != NULL) {
            (*out_bad)++;
        }
        if (ce->kind == KEEL_ENC_ORDINAL) {
            *dst = idx < 0 ? NAN : (float)idx;
        } else {
            for (size_t k = 0; k < ce->n_vocab; k++)
                dst[k] = (long)k == idx ? 1.0f : 0.0f;
        }
    }
}

json_t *keel_encoder_to_json(const keel_encoder *e)
{
    json_t *cols = json_array();
    for (size_t c = 0; c < e->n_cols; c++) {
        const keel_column_encoder *ce = &e->cols[c];
        json_t *o = json_pack("{s:s, s:s, s:s}", "column", ce->column, "type",
                              keel_col_type_name(ce->type), "encoding", kind_names[ce->kind]);
        if (ce->kind != KEEL_ENC_NUMERIC) {
            json_t *vocab = json_array();
            for (size_t k = 0; k < ce->n_vocab; k++)
                json_array_append_new(vocab, json_string(ce->vocab[k]));
            json_object_set_new(o, "vocabulary", vocab);
            json_object_set_new(o, "unseen", json_string(ce->kind == KEEL_ENC_ONEHOT
                                                             ? "all-zero" : "missing"));
        }
        json_array_append_new(cols, o);
    }
    json_t *names = json_array();
    for (size_t i = 0; i < e->n_features; i++)
        json_array_append_new(names, json_string(e->feature_names[i]));
    return json_pack("{s:o, s:o}", "columns", cols, "feature_names", names);
}

int keel_encoder_from_json(const json_t *j, keel_encoder **out, keel_err *err)
{
    const json_t *cols = json_object_get(j, "columns");
    if (!json_is_array(cols))
        return keel_errf(err, KEEL_EINVAL, "encoder: 'columns' must be an array");
    keel_encoder *e = calloc(1, sizeof *e);
    if (e == NULL)
        return keel_errf(err, KEEL_ENOMEM, "encoder: out of memory");
    keel_arena_init(&e->arena, 0);
    size_t n = json_array_size(cols);
    e->cols = keel_arena_alloc(&e->arena, (n + 1) * sizeof *e->cols);
    int rc = e->cols != NULL ? KEEL_OK : keel_errf(err, KEEL_ENOMEM, "encoder: out of memory");
    for (size_t c = 0; rc == KEEL_OK && c < n; c++) {
        const json_t *o = json_array_get(cols, c);
        const char *column = json_string_value(json_object_get(o, "column"));
        const char *type = json_string_value(json_object_get(o, "type"));
        const char *kind = json_string_value(json_object_get(o, "encoding"));
        keel_column_encoder *ce = &e->cols[c];
        if (column == NULL || type == NULL || kind == NULL) {
            rc = keel_errf(err, KEEL_EINVAL, "encoder: columns[%zu] needs column, type, encoding", c);
            break;
        }
        rc = keel_col_type_parse(type, &ce->type, err);
        ce->kind = (enum keel_enc_kind)3;
        for (int k = 0; k < 3; k++)
            if (strcmp(kind, kind_names[k]) == 0)
                ce->kind = (enum keel_enc_kind)k;
        if (rc == KEEL_OK && (int)ce->kind == 3)
            rc = keel_errf(err, KEEL_EINVAL, "encoder: columns[%zu]: unknown encoding '%s'", c,
                           kind);
        ce->column = keel_arena_strdup(&e->arena, column);
        ce->first_feature = e->n_features;
        const json_t *vocab = json_object_get(o, "vocabulary");
        if (rc == KEEL_OK && ce->kind != KEEL_ENC_NUMERIC) {
            ce->n_vocab = json_array_size(vocab);
            ce->vocab = keel_arena_alloc(&e->arena, (ce->n_vocab + 1) * sizeof(char *));
            for (size_t k = 0; ce->vocab != NULL && k < ce->n_vocab; k++) {
                const char *v = json_string_value(json_array_get(vocab, k));
                ce->vocab[k] = keel_arena_strdup(&e->arena, v != NULL ? v : "");
            }
            /* bsearch needs the order fit time produced; re-sort defensively. */
            if (ce->vocab != NULL)
                qsort(ce->vocab, ce->n_vocab, sizeof(char *), cmp_str);
        }
        e->n_features += ce->kind == KEEL_ENC_ONEHOT ? ce->n_vocab : 1;
        e->n_cols++;
    }
    if (rc == KEEL_OK)
        rc = name_features(e, err);
    if (rc != KEEL_OK) {
        keel_encoder_destroy(e);
        return rc;
    }
    *out = e;
    return KEEL_OK;
}
