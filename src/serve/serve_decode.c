/*
 * serve_decode.c — request bodies into the model's feature matrix.
 *
 * Raw records (column name → value) go through the bundle's encoder, one row
 * at a time, without building a frame; bare XGBoost models take rows of
 * feature values. Errors name the row and the column and say what was
 * expected: they become 400 responses.
 */
#include "serve.h"

#include <keel/json.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct decoder {
    const served_model *m;
    keel_arena *a;
    feature_rows *out;
    keel_enc_value *values;       /* one row, encoder column order */
    bool *seen;
    keel_err *err;
} decoder;

static size_t width_of(const served_model *m)
{
    return m->enc != NULL ? m->enc->n_features : keel_model_num_features(m->runtime);
}

static int alloc_rows(decoder *d, size_t n)
{
    if (n == 0)
        return keel_errf(d->err, KEEL_EINVAL, "the request has no rows");
    if (n > SERVE_MAX_ROWS)
        return keel_errf(d->err, KEEL_ELIMIT, "the request has %zu rows; the limit is %d", n,
                         SERVE_MAX_ROWS);
    d->out->n = n;
    d->out->width = width_of(d->m);
    d->out->x = keel_arena_alloc(d->a, n * d->out->width * sizeof(float) + 1);
    if (d->m->enc != NULL) {
        d->values = keel_arena_alloc(d->a, (d->m->enc->n_cols + 1) * sizeof *d->values);
        d->seen = keel_arena_alloc(d->a, d->m->enc->n_cols + 1);
    }
    if (d->out->x == NULL || (d->m->enc != NULL && (d->values == NULL || d->seen == NULL)))
        return keel_errf(d->err, KEEL_ENOMEM, "out of memory for %zu rows", n);
    return KEEL_OK;
}

static int column_index(const served_model *m, const char *name)
{
    for (size_t i = 0; i < m->enc->n_cols; i++)
        if (strcmp(m->enc->cols[i].column, name) == 0)
            return (int)i;
    return -1;
}

/* One JSON value as the encoder wants it for column col. */
static int value_for(decoder *d, size_t row, size_t col, const json_t *v)
{
    keel_enc_value *out = &d->values[col];
    const char *name = d->m->enc->cols[col].column;
    enum keel_col_type type = d->m->input_types[col];
    memset(out, 0, sizeof *out);
    d->seen[col] = true;
    if (v == NULL || json_is_null(v)) {
        out->missing = true;
        return KEEL_OK;
    }
    if (type == KEEL_COL_STRING) {
        if (!json_is_string(v))
            return keel_errf(d->err, KEEL_EINVAL, "row %zu, column '%s': expected a string", row,
                             name);
        out->is_text = true;
        out->text = json_string_value(v);
        return KEEL_OK;
    }
    if (json_is_number(v)) {
        out->number = json_number_value(v);
        return KEEL_OK;
    }
    if (json_is_boolean(v)) {
        out->number = json_is_true(v) ? 1 : 0;
        return KEEL_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "NaN") == 0 || strcmp(s, "nan") == 0) {
            out->missing = true;  /* as XGBoost: NaN is missing */
            return KEEL_OK;
        }
        /* Dates and datetimes travel as text; numbers must be numbers. */
        if ((type == KEEL_COL_DATE || type == KEEL_COL_DATETIME) &&
            keel_value_parse(type, s, strlen(s), &out->number))
            return KEEL_OK;
    }
    return keel_errf(d->err, KEEL_EINVAL, "row %zu, column '%s': expected a %s", row, name,
                     keel_col_type_name(type));
}

static int encode_current(decoder *d, size_t row)
{
    for (size_t c = 0; c < d->m->enc->n_cols; c++) {
        if (!d->seen[c])
            return keel_errf(d->err, KEEL_EINVAL, "row %zu: missing column '%s'", row,
                             d->m->enc->cols[c].column);
    }
    keel_encoder_encode_row(d->m->enc, d->values, d->out->x + row * d->out->width,
                            &d->out->unseen, &d->out->bad);
    return KEEL_OK;
}

/* A row of plain feature values for a bare model (or positional columns). */
static int numbers_row(decoder *d, size_t row, const json_t *arr)
{
    size_t w = d->out->width;
    if (!json_is_array(arr) || json_array_size(arr) != w)
        return keel_errf(d->err, KEEL_EINVAL, "row %zu: expected a list of %zu feature values",
                         row, w);
    float *dst = d->out->x + row * w;
    for (size_t i = 0; i < w; i++) {
        const json_t *v = json_array_get(arr, i);
        double x = NAN;
        if (!json_is_null(v) && keel_json_to_double(v, "value", &x, NULL) != KEEL_OK)
            return keel_errf(d->err, KEEL_EINVAL, "row %zu, feature %zu: expected a number", row, i);
        dst[i] = (float)x;
    }
    return KEEL_OK;
}

/* {col: value, …} */
static int record_row(decoder *d, size_t row, const json_t *rec)
{
    if (!json_is_object(rec))
        return keel_errf(d->err, KEEL_EINVAL, "row %zu: expected an object of column values", row);
    memset(d->seen, 0, d->m->enc->n_cols);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)rec, key, v) {
        int c = column_index(d->m, key);
        if (c < 0)
            return keel_errf(d->err, KEEL_EINVAL, "row %zu: unknown column '%s'", row, key);
        int rc = value_for(d, row, (size_t)c, v);
        if (rc != KEEL_OK)
            return rc;
    }
    return encode_current(d, row);
}

/* [v1, v2, …] in the signature's column order. */
static int positional_row(decoder *d, size_t row, const json_t *arr, const int *map, size_t n_map)
{
    if (d->m->enc == NULL)
        return numbers_row(d, row, arr);
    if (!json_is_array(arr) || json_array_size(arr) != n_map)
        return keel_errf(d->err, KEEL_EINVAL, "row %zu: expected %zu values", row, n_map);
    memset(d->seen, 0, d->m->enc->n_cols);
    for (size_t i = 0; i < n_map; i++) {
        int rc = value_for(d, row, (size_t)map[i], json_array_get(arr, i));
        if (rc != KEEL_OK)
            return rc;
    }
    return encode_current(d, row);
}

static int *identity_map(decoder *d, size_t *out_n)
{
    size_t n = d->m->enc != NULL ? d->m->enc->n_cols : 0;
    int *map = keel_arena_alloc(d->a, (n + 1) * sizeof *map);
    for (size_t i = 0; map != NULL && i < n; i++)
        map[i] = (int)i;
    *out_n = n;
    return map;
}

static int decode_rows(decoder *d, const json_t *rows, const int *map, size_t n_map)
{
    if (!json_is_array(rows))
        return keel_errf(d->err, KEEL_EINVAL, "expected a list of rows");
    int rc = alloc_rows(d, json_array_size(rows));
    for (size_t r = 0; rc == KEEL_OK && r < d->out->n; r++) {
        const json_t *row = json_array_get(rows, r);
        rc = json_is_object(row) && d->m->enc != NULL ? record_row(d, r, row)
                                                      : positional_row(d, r, row, map, n_map);
    }
    return rc;
}

/* {"columns": [...], "data": [[...]]} */
static int decode_split(decoder *d, const json_t *split)
{
    const json_t *columns = json_object_get(split, "columns");
    const json_t *data = json_object_get(split, "data");
    if (!json_is_array(data))
        return keel_errf(d->err, KEEL_EINVAL, "dataframe_split needs a 'data' list of rows");
    if (d->m->enc == NULL)
        return decode_rows(d, data, NULL, 0);
    if (!json_is_array(columns))
        return keel_errf(d->err, KEEL_EINVAL, "dataframe_split needs a 'columns' list");
    size_t n = json_array_size(columns);
    int *map = keel_arena_alloc(d->a, (n + 1) * sizeof *map);
    for (size_t i = 0; map != NULL && i < n; i++) {
        const char *name = json_string_value(json_array_get(columns, i));
        map[i] = name != NULL ? column_index(d->m, name) : -1;
        if (map[i] < 0)
            return keel_errf(d->err, KEEL_EINVAL, "dataframe_split: unknown column '%s'",
                             name != NULL ? name : "(not a string)");
    }
    return decode_rows(d, data, map, n);
}

/* {"col": [v, …], …}: one list per column. */
static int decode_columns(decoder *d, const json_t *cols)
{
    if (d->m->enc == NULL)
        return keel_errf(d->err, KEEL_EINVAL, "this model takes rows of feature values");
    size_t n = SIZE_MAX;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)cols, key, v) {
        if (!json_is_array(v))
            return keel_errf(d->err, KEEL_EINVAL, "column '%s': expected a list of values", key);
        if (n != SIZE_MAX && json_array_size(v) != n)
            return keel_errf(d->err, KEEL_EINVAL, "column '%s' has %zu values, others %zu", key,
                             json_array_size(v), n);
        n = json_array_size(v);
        if (column_index(d->m, key) < 0)
            return keel_errf(d->err, KEEL_EINVAL, "unknown column '%s'", key);
    }
    int rc = alloc_rows(d, n == SIZE_MAX ? 0 : n);
    for (size_t r = 0; rc == KEEL_OK && r < d->out->n; r++) {
        memset(d->seen, 0, d->m->enc->n_cols);
        json_object_foreach((json_t *)cols, key, v) {
            rc = value_for(d, r, (size_t)column_index(d->m, key), json_array_get(v, r));
            if (rc != KEEL_OK)
                break;
        }
        if (rc == KEEL_OK)
            rc = encode_current(d, r);
    }
    return rc;
}

static int decode_csv(decoder *d, const char *body, size_t len)
{
    keel_frame *f = NULL;
    int rc = keel_csv_parse("request body", body, len, NULL, &f, d->err);
    if (rc == KEEL_OK && d->m->enc == NULL)
        rc = keel_errf(d->err, KEEL_EINVAL, "CSV needs a keel bundle (column names)");
    if (rc == KEEL_OK)
        rc = alloc_rows(d, f->n_rows);
    if (rc == KEEL_OK)
        rc = keel_encoder_transform(d->m->enc, f, NULL, f->n_rows, d->out->x, &d->out->unseen,
                                    d->err);
    keel_frame_destroy(f);
    return rc;
}

int decode_invocations(const served_model *m, const char *body, size_t len, bool csv,
                       keel_arena *a, feature_rows *out, json_t **out_doc, keel_err *err)
{
    decoder d = { .m = m, .a = a, .out = out, .err = err };
    memset(out, 0, sizeof *out);
    *out_doc = NULL;
    if (csv)
        return decode_csv(&d, body, len);
    json_t *doc = NULL;
    int rc = keel_json_parse(body, len, KEEL_JSON_MAX_DEPTH, &doc, err);
    if (rc != KEEL_OK)
        return rc;
    *out_doc = doc;
    if (!json_is_object(doc))
        return keel_errf(err, KEEL_EINVAL, "the body must be a JSON object with dataframe_split, "
                         "dataframe_records, instances or inputs");
    const json_t *v;
    size_t n_map = 0;
    const int *map = identity_map(&d, &n_map);
    if ((v = json_object_get(doc, "dataframe_split")) != NULL) {
        out->records = (json_t *)v;
        return decode_split(&d, v);
    }
    if ((v = json_object_get(doc, "dataframe_records")) != NULL) {
        out->records = (json_t *)v;
        return decode_rows(&d, v, map, n_map);
    }
    if ((v = json_object_get(doc, "instances")) != NULL ||
        (v = json_object_get(doc, "inputs")) != NULL) {
        out->records = (json_t *)v;
        return json_is_object(v) ? decode_columns(&d, v) : decode_rows(&d, v, map, n_map);
    }
    return keel_errf(err, KEEL_EINVAL, "the body needs one of dataframe_split, dataframe_records, "
                     "instances or inputs");
}

/* ---- Open Inference Protocol v2 ---- */

static const struct {
    const char *name;
    bool text;
} oip_types[] = {
    { "BOOL", false }, { "UINT8", false }, { "UINT16", false }, { "UINT32", false },
    { "UINT64", false }, { "INT8", false }, { "INT16", false }, { "INT32", false },
    { "INT64", false }, { "FP16", false }, { "FP32", false }, { "FP64", false },
    { "BYTES", true },
};

static int oip_type(const char *name, bool *text)
{
    for (size_t i = 0; name != NULL && i < sizeof oip_types / sizeof oip_types[0]; i++) {
        if (strcmp(name, oip_types[i].name) == 0) {
            *text = oip_types[i].text;
            return KEEL_OK;
        }
    }
    return KEEL_EINVAL;
}

/* Flattens nested data lists into out (row-major), up to max values. */
static size_t flatten(const json_t *v, const json_t **out, size_t max, size_t at)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && at <= max; i++)
            at = flatten(json_array_get(v, i), out, max, at);
        return at;
    }
    if (at < max)
        out[at] = v;
    return at + 1;
}

/* Shape, datatype and data of one tensor, checked against each other. */
static int oip_tensor(decoder *d, const json_t *t, const char **name, size_t *rows, size_t *cols,
                      bool *text, const json_t ***values)
{
    *name = json_string_value(json_object_get(t, "name"));
    const json_t *shape = json_object_get(t, "shape");
    const char *datatype = json_string_value(json_object_get(t, "datatype"));
    const json_t *data = json_object_get(t, "data");
    const char *what = *name != NULL ? *name : "(unnamed)";
    if (*name == NULL || !json_is_array(shape) || json_array_size(shape) < 1 ||
        json_array_size(shape) > 2 || data == NULL)
        return keel_errf(d->err, KEEL_EINVAL, "input '%s' needs name, shape ([n] or [n, k]), "
                         "datatype and data", what);
    if (oip_type(datatype, text) != KEEL_OK)
        return keel_errf(d->err, KEEL_EINVAL, "input '%s': unknown datatype '%s'", what,
                         datatype != NULL ? datatype : "(none)");
    json_int_t n = json_integer_value(json_array_get(shape, 0));
    json_int_t k = json_array_size(shape) == 2 ? json_integer_value(json_array_get(shape, 1)) : 1;
    if (n <= 0 || k <= 0 || n > SERVE_MAX_ROWS || k > 1 << 20)
        return keel_errf(d->err, KEEL_EINVAL, "input '%s': invalid shape", what);
    size_t total = (size_t)n * (size_t)k;
    *values = keel_arena_alloc(d->a, (total + 1) * sizeof **values);
    if (*values == NULL)
        return keel_errf(d->err, KEEL_ENOMEM, "out of memory");
    size_t got = flatten(data, *values, total, 0);
    if (got != total)
        return keel_errf(d->err, KEEL_EINVAL, "input '%s': shape says %zu values, data has %zu",
                         what, total, got);
    /* null is accepted as a missing value (OIP has no other way to say it). */
    for (size_t i = 0; i < total; i++) {
        bool ok = json_is_null((*values)[i]) ||
                  (*text ? json_is_string((*values)[i])
                         : json_is_number((*values)[i]) || json_is_boolean((*values)[i]));
        if (!ok)
            return keel_errf(d->err, KEEL_EINVAL, "input '%s': value %zu is not %s", what, i,
                             *text ? "a string (BYTES)" : "a number");
    }
    *rows = (size_t)n;
    *cols = (size_t)k;
    return KEEL_OK;
}

int decode_oip(const served_model *m, const char *body, size_t len, keel_arena *a,
               feature_rows *out, json_t **out_doc, keel_err *err)
{
    decoder d = { .m = m, .a = a, .out = out, .err = err };
    memset(out, 0, sizeof *out);
    json_t *doc = NULL;
    int rc = keel_json_parse(body, len, KEEL_JSON_MAX_DEPTH, &doc, err);
    if (rc != KEEL_OK)
        return rc;
    *out_doc = doc;
    const json_t *inputs = json_object_get(doc, "inputs");
    if (!json_is_array(inputs) || json_array_size(inputs) == 0)
        return keel_errf(err, KEEL_EINVAL, "the body needs an 'inputs' list of tensors");
    out->records = (json_t *)inputs;
    size_t n_inputs = json_array_size(inputs);
    const char *name;
    size_t rows = 0, cols = 0;
    bool text = false;
    const json_t **values = NULL;
    /* One tensor of feature rows: [n, width] (a bare model, or pre-encoded). */
    if (n_inputs == 1) {
        rc = oip_tensor(&d, json_array_get(inputs, 0), &name, &rows, &cols, &text, &values);
        if (rc != KEEL_OK)
            return rc;
        bool is_column = m->enc != NULL && column_index(m, name) >= 0;
        if (!is_column) {
            if (text || cols != width_of(m))
                return keel_errf(err, KEEL_EINVAL, "input '%s' has %zu values per row; the model "
                                 "reads %zu features (or send one tensor per column)", name, cols,
                                 width_of(m));
            rc = alloc_rows(&d, rows);
            for (size_t i = 0; rc == KEEL_OK && i < rows * cols; i++) {
                double x = json_is_null(values[i]) ? NAN
                           : json_is_true(values[i]) ? 1 : json_number_value(values[i]);
                out->x[i] = (float)x;
            }
            return rc;
        }
    }
    if (m->enc == NULL)
        return keel_errf(err, KEEL_EINVAL, "this model takes one tensor of feature rows");
    /* One tensor per column. */
    const json_t ***columns = keel_arena_alloc(a, (m->enc->n_cols + 1) * sizeof *columns);
    size_t n_rows = SIZE_MAX;
    for (size_t i = 0; columns != NULL && i < n_inputs; i++) {
        rc = oip_tensor(&d, json_array_get(inputs, i), &name, &rows, &cols, &text, &values);
        if (rc != KEEL_OK)
            return rc;
        int c = column_index(m, name);
        if (c < 0)
            return keel_errf(err, KEEL_EINVAL, "unknown input '%s'", name);
        if (cols != 1)
            return keel_errf(err, KEEL_EINVAL, "input '%s': a column tensor has shape [n] or "
                             "[n, 1]", name);
        bool wants_text = m->input_types[c] == KEEL_COL_STRING;
        if (text != wants_text && !(wants_text == false && m->input_types[c] >= KEEL_COL_DATE))
            return keel_errf(err, KEEL_EINVAL, "input '%s': datatype must be %s", name,
                             wants_text ? "BYTES" : "numeric (FP32, FP64, INT32, INT64, BOOL)");
        if (n_rows != SIZE_MAX && rows != n_rows)
            return keel_errf(err, KEEL_EINVAL, "input '%s' has %zu rows, others %zu", name, rows,
                             n_rows);
        n_rows = rows;
        columns[c] = values;
    }
    rc = alloc_rows(&d, n_rows == SIZE_MAX ? 0 : n_rows);
    for (size_t r = 0; rc == KEEL_OK && r < out->n; r++) {
        memset(d.seen, 0, m->enc->n_cols);
        for (size_t c = 0; rc == KEEL_OK && c < m->enc->n_cols; c++) {
            if (columns[c] != NULL)
                rc = value_for(&d, r, c, columns[c][r]);
        }
        if (rc == KEEL_OK)
            rc = encode_current(&d, r);
    }
    return rc;
}
