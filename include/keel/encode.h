/*
 * keel/encode.h — turning frame columns into a model's feature matrix, the
 * same way at training and at serving time.
 *
 * Numbers (int, float, bool, date, datetime) pass through as one feature.
 * A string column becomes one-hot features when it has at most max_onehot
 * distinct values, else one ordinal feature (the value's index in the sorted
 * vocabulary). The vocabulary is recorded, sorted by byte order. Policy for
 * values not seen at fit time: one-hot gives all zeros, ordinal gives a
 * missing value; a missing input is a missing feature (NaN; all zeros for
 * one-hot). Feature names are sanitized for XGBoost, which refuses '[', ']'
 * and '<' in names ("income=<=50K" becomes "income=lt=50K").
 */
#ifndef KEEL_ENCODE_H
#define KEEL_ENCODE_H

#include <keel/arena.h>
#include <keel/data.h>
#include <keel/error.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define KEEL_DEFAULT_MAX_ONEHOT 16

enum keel_enc_kind { KEEL_ENC_NUMERIC, KEEL_ENC_ONEHOT, KEEL_ENC_ORDINAL };

typedef struct keel_column_encoder {
    const char *column;
    enum keel_col_type type;      /* the input column's type at fit time */
    enum keel_enc_kind kind;
    const char **vocab;           /* ONEHOT / ORDINAL: sorted distinct values */
    size_t n_vocab;
    size_t first_feature;         /* index of this column's first feature */
} keel_column_encoder;

typedef struct keel_encoder {
    keel_column_encoder *cols;
    size_t n_cols;
    const char **feature_names;   /* n_features, sanitized and unique */
    size_t n_features;
    keel_arena arena;             /* owns everything above */
} keel_encoder;

/* Fits an encoder on f's rows[0..n) (all rows when rows is NULL), every
 * column except those named in exclude: vocabularies hold the categories
 * those rows contain. */
int keel_encoder_fit(const keel_frame *f, const size_t *rows, size_t n,
                     const char *const *exclude, size_t n_exclude, size_t max_onehot,
                     keel_encoder **out, keel_err *err);

void keel_encoder_destroy(keel_encoder *e);

/* Writes f's rows[0..n) (all rows when rows is NULL; n is then f->n_rows) as
 * a row-major n x n_features float matrix into out. Columns are found by
 * name; a missing column is KEEL_EINVAL naming it. *out_unseen (may be NULL)
 * counts category values not in the vocabulary. */
int keel_encoder_transform(const keel_encoder *e, const keel_frame *f, const size_t *rows,
                           size_t n, float *out, size_t *out_unseen, keel_err *err);

/* One input value for keel_encoder_encode_row. */
typedef struct keel_enc_value {
    bool missing;
    bool is_text;          /* text: a category (string columns) */
    double number;         /* numeric columns, already in the column's unit */
    const char *text;      /* NUL-terminated */
} keel_enc_value;

/* Encodes one record whose values are given in the encoder's column order
 * (values[i] for cols[i]) into out (n_features floats), without building a
 * frame: the serving path. Text for a numeric column or a number for a
 * string column is encoded as missing and counted in *out_bad (may be
 * NULL); unseen categories are counted in *out_unseen (may be NULL). */
void keel_encoder_encode_row(const keel_encoder *e, const keel_enc_value *values, float *out,
                             size_t *out_unseen, size_t *out_bad);

/* The encoder as JSON (for the bundle manifest) and back. */
json_t *keel_encoder_to_json(const keel_encoder *e);
int keel_encoder_from_json(const json_t *j, keel_encoder **out, keel_err *err);

#endif
