/*
 * test_encode_split.c — feature encoders (fit, transform, unseen and
 * missing values, feature names, JSON round trip) and train/test splits
 * (spec parsing, random, by column, by time).
 */
#include "testutil.h"

#include <keel/dataset.h>
#include <keel/encode.h>
#include <keel/json.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static keel_frame *frame_of(const char *csv)
{
    keel_frame *f = NULL;
    keel_err err;
    keel_err_clear(&err);
    if (keel_csv_parse("t.csv", csv, strlen(csv), NULL, &f, &err) != KEEL_OK)
        fail_msg("parse failed: %s", err.msg);
    return f;
}

static keel_encoder *fit_ok(const keel_frame *f, const size_t *rows, size_t n,
                            const char *const *exclude, size_t n_exclude, size_t max_onehot)
{
    keel_encoder *e = NULL;
    keel_err err;
    if (keel_encoder_fit(f, rows, n, exclude, n_exclude, max_onehot, &e, &err) != KEEL_OK)
        fail_msg("fit failed: %s", err.msg);
    return e;
}

static const keel_column_encoder *enc_col(const keel_encoder *e, const char *name)
{
    for (size_t i = 0; i < e->n_cols; i++)
        if (strcmp(e->cols[i].column, name) == 0)
            return &e->cols[i];
    fail_msg("encoder has no column '%s'", name);
    return NULL;
}

static int feature_index(const keel_encoder *e, const char *name)
{
    for (size_t i = 0; i < e->n_features; i++)
        if (strcmp(e->feature_names[i], name) == 0)
            return (int)i;
    fail_msg("encoder has no feature '%s'", name);
    return -1;
}

/* Transforms all rows of f; the caller frees the matrix. */
static float *transform_ok(const keel_encoder *e, const keel_frame *f, size_t *out_unseen)
{
    float *x = malloc((f->n_rows * e->n_features + 1) * sizeof *x);
    assert_non_null(x);
    keel_err err;
    if (keel_encoder_transform(e, f, NULL, f->n_rows, x, out_unseen, &err) != KEEL_OK)
        fail_msg("transform failed: %s", err.msg);
    return x;
}

static bool same_float(float a, float b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static const char people_csv[] =
    "num,color,city,flag,day\n"
    "1,red,a,true,2020-01-01\n"
    "2.5,blue,b,false,2020-01-02\n"
    ",green,c,true,\n"
    "4,red,d,false,2020-01-04\n";

/* ---- encoder fit ---- */

static void fit_chooses_encodings(void **state)
{
    (void)state;
    keel_frame *f = frame_of(people_csv);
    keel_encoder *e = fit_ok(f, NULL, 0, NULL, 0, 3);
    assert_int_equal(e->n_cols, 5);
    /* num, color=blue, color=green, color=red, city (ordinal), flag, day */
    assert_int_equal(e->n_features, 7);
    const keel_column_encoder *num = enc_col(e, "num");
    assert_int_equal(num->kind, KEEL_ENC_NUMERIC);
    assert_int_equal(num->type, KEEL_COL_FLOAT);
    assert_int_equal(num->first_feature, 0);
    const keel_column_encoder *color = enc_col(e, "color");
    assert_int_equal(color->kind, KEEL_ENC_ONEHOT);   /* 3 values, max_onehot 3 */
    assert_int_equal(color->n_vocab, 3);
    assert_string_equal(color->vocab[0], "blue");     /* sorted, not first-seen order */
    assert_string_equal(color->vocab[1], "green");
    assert_string_equal(color->vocab[2], "red");
    assert_int_equal(color->first_feature, 1);
    const keel_column_encoder *city = enc_col(e, "city");
    assert_int_equal(city->kind, KEEL_ENC_ORDINAL);   /* 4 values > 3 */
    assert_int_equal(city->n_vocab, 4);
    assert_int_equal(city->first_feature, 4);
    assert_int_equal(enc_col(e, "flag")->kind, KEEL_ENC_NUMERIC);
    assert_int_equal(enc_col(e, "flag")->type, KEEL_COL_BOOL);
    assert_int_equal(enc_col(e, "day")->type, KEEL_COL_DATE);
    assert_int_equal(enc_col(e, "day")->first_feature, 6);
    assert_string_equal(e->feature_names[0], "num");
    assert_string_equal(e->feature_names[1], "color=blue");
    assert_string_equal(e->feature_names[3], "color=red");
    assert_string_equal(e->feature_names[4], "city");
    keel_encoder_destroy(e);

    /* One fewer allowed one-hot value: color turns ordinal. */
    e = fit_ok(f, NULL, 0, NULL, 0, 2);
    assert_int_equal(enc_col(e, "color")->kind, KEEL_ENC_ORDINAL);
    assert_int_equal(e->n_features, 5);
    keel_encoder_destroy(e);
    keel_frame_destroy(f);
}

static void fit_uses_given_rows_and_exclusions(void **state)
{
    (void)state;
    keel_frame *f = frame_of(people_csv);
    size_t rows[] = { 3, 1 };
    const char *exclude[] = { "flag", "day" };
    keel_encoder *e = fit_ok(f, rows, 2, exclude, 2, 16);
    assert_int_equal(e->n_cols, 3);
    const keel_column_encoder *color = enc_col(e, "color");
    assert_int_equal(color->n_vocab, 2);   /* green is only in row 2 */
    assert_string_equal(color->vocab[0], "blue");
    assert_string_equal(color->vocab[1], "red");
    const keel_column_encoder *city = enc_col(e, "city");
    assert_int_equal(city->kind, KEEL_ENC_ONEHOT);
    assert_int_equal(city->n_vocab, 2);
    assert_string_equal(city->vocab[0], "b");
    assert_string_equal(city->vocab[1], "d");
    for (size_t i = 0; i < e->n_cols; i++) {
        assert_string_not_equal(e->cols[i].column, "flag");
        assert_string_not_equal(e->cols[i].column, "day");
    }
    assert_int_equal(e->n_features, 5);
    keel_encoder_destroy(e);

    /* Excluding everything leaves nothing to train on. */
    const char *all[] = { "num", "color", "city", "flag", "day" };
    keel_err err;
    assert_int_equal(keel_encoder_fit(f, NULL, 0, all, 5, 16, &e, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "no feature columns"));
    keel_frame_destroy(f);
}

/* ---- transform ---- */

static void transform_encodes_values(void **state)
{
    (void)state;
    keel_frame *f = frame_of(people_csv);
    keel_encoder *e = fit_ok(f, NULL, 0, NULL, 0, 3);
    size_t unseen = 99;
    float *x = transform_ok(e, f, &unseen);
    assert_int_equal(unseen, 0);
    size_t w = e->n_features;
    /* row 0: 1, red, a, true, 2020-01-01 (day 18262) */
    float row0[] = { 1, 0, 0, 1, 0, 1, 18262 };
    for (size_t k = 0; k < w; k++)
        assert_true(same_float(x[k], row0[k]));
    /* row 2: missing num and day are NaN; city c is ordinal 2 */
    assert_true(isnan(x[2 * w + 0]));
    assert_true(same_float(x[2 * w + 2], 1));
    assert_true(same_float(x[2 * w + 4], 2));
    assert_true(isnan(x[2 * w + 6]));
    /* row 3: city d is ordinal 3 */
    assert_true(same_float(x[3 * w + 4], 3));
    assert_true(same_float(x[3 * w + 5], 0));
    free(x);

    /* Selected rows, in the given order. */
    size_t rows[] = { 3, 0 };
    float sel[2 * 7];
    keel_err err;
    assert_int_equal(keel_encoder_transform(e, f, rows, 2, sel, NULL, &err), KEEL_OK);
    assert_true(same_float(sel[0], 4));
    assert_true(same_float(sel[w + 0], 1));
    keel_encoder_destroy(e);
    keel_frame_destroy(f);
}

static void transform_unseen_and_missing(void **state)
{
    (void)state;
    keel_frame *train = frame_of(people_csv);
    keel_encoder *e = fit_ok(train, NULL, 0, NULL, 0, 3);
    /* Columns in another order, an extra column, unseen and missing values. */
    keel_frame *f = frame_of("extra,day,flag,city,color,num\n"
                             "x,2020-01-01,true,zzz,purple,7\n"
                             "y,2020-01-01,false,b,,8.5\n"
                             "z,2020-01-01,false,,blue,\n");
    size_t unseen = 0;
    float *x = transform_ok(e, f, &unseen);
    size_t w = e->n_features;
    assert_int_equal(unseen, 2);   /* purple, zzz; missing values are not unseen */
    /* Unseen one-hot: all zero; unseen ordinal: NaN. */
    assert_true(same_float(x[0], 7));
    assert_true(same_float(x[1], 0) && same_float(x[2], 0) && same_float(x[3], 0));
    assert_true(isnan(x[4]));
    /* Missing one-hot: all zero; ordinal b = 1. */
    assert_true(same_float(x[w + 0], 8.5f));
    assert_true(same_float(x[w + 1], 0) && same_float(x[w + 2], 0) && same_float(x[w + 3], 0));
    assert_true(same_float(x[w + 4], 1));
    /* Missing number and missing ordinal: NaN. */
    assert_true(isnan(x[2 * w + 0]));
    assert_true(same_float(x[2 * w + 1], 1));
    assert_true(isnan(x[2 * w + 4]));
    free(x);
    keel_frame_destroy(f);

    /* Counting is optional. */
    float buf[7];
    keel_err err;
    const size_t first_row[] = { 0 };
    assert_int_equal(keel_encoder_transform(e, train, first_row, 1, buf, NULL, &err), KEEL_OK);
    keel_encoder_destroy(e);
    keel_frame_destroy(train);
}

static void transform_rejects_missing_columns_and_types(void **state)
{
    (void)state;
    keel_frame *train = frame_of(people_csv);
    keel_encoder *e = fit_ok(train, NULL, 0, NULL, 0, 3);
    float buf[64];
    keel_err err;

    keel_frame *f = frame_of("num,color,flag,day\n1,red,true,2020-01-01\n");
    assert_int_equal(keel_encoder_transform(e, f, NULL, 1, buf, NULL, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'city'"));
    keel_frame_destroy(f);

    /* A category column that now holds numbers. */
    f = frame_of("num,color,city,flag,day\n1,red,5,true,2020-01-01\n");
    assert_int_equal(keel_encoder_transform(e, f, NULL, 1, buf, NULL, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'city'"));
    assert_non_null(strstr(err.msg, "int"));
    assert_non_null(strstr(err.msg, "string"));
    keel_frame_destroy(f);

    /* A number column that now holds text. */
    f = frame_of("num,color,city,flag,day\nmany,red,a,true,2020-01-01\n");
    assert_int_equal(keel_encoder_transform(e, f, NULL, 1, buf, NULL, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'num'"));
    keel_frame_destroy(f);

    /* int where float was seen is still a number. */
    f = frame_of("num,color,city,flag,day\n3,red,a,true,2020-01-01\n");
    assert_int_equal(keel_encoder_transform(e, f, NULL, 1, buf, NULL, &err), KEEL_OK);
    assert_true(same_float(buf[0], 3));
    keel_frame_destroy(f);
    keel_encoder_destroy(e);
    keel_frame_destroy(train);
}

/* ---- feature names ---- */

static void feature_names_are_sanitized_and_unique(void **state)
{
    (void)state;
    keel_frame *f = frame_of("income,\"a[1]\",\"x,y z\",a b,a_b,c,c=x\n"
                             "<=50K,1,2,3,4,x,5\n"
                             ">50K,1,2,3,4,x,6\n");
    keel_encoder *e = fit_ok(f, NULL, 0, NULL, 0, 16);
    assert_int_equal(e->n_features, 8);
    assert_string_equal(e->feature_names[0], "income=lt=50K");
    assert_string_equal(e->feature_names[1], "income=>50K");
    assert_string_equal(e->feature_names[2], "a(1)");
    assert_string_equal(e->feature_names[3], "x_y_z");
    assert_string_equal(e->feature_names[4], "a_b");
    assert_string_equal(e->feature_names[5], "a_b_2");
    assert_string_equal(e->feature_names[6], "c=x");
    assert_string_equal(e->feature_names[7], "c=x_2");
    for (size_t i = 0; i < e->n_features; i++) {
        const char *n = e->feature_names[i];
        assert_null(strpbrk(n, "[]<, \t"));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(n, e->feature_names[j]);
    }
    /* The column names themselves stay raw: transform finds them by name. */
    assert_string_equal(e->cols[1].column, "a[1]");
    float *x = transform_ok(e, f, NULL);
    /* Features land under their sanitized names. */
    assert_true(same_float(x[feature_index(e, "c=x_2")], 5));
    assert_true(same_float(x[e->n_features + feature_index(e, "income=>50K")], 1));
    assert_true(same_float(x[e->n_features + feature_index(e, "a_b_2")], 4));
    free(x);
    keel_encoder_destroy(e);
    keel_frame_destroy(f);
}

/* ---- JSON ---- */

static void json_round_trip_transforms_identically(void **state)
{
    (void)state;
    keel_frame *train = frame_of(people_csv);
    keel_encoder *e = fit_ok(train, NULL, 0, NULL, 0, 3);
    json_t *j = keel_encoder_to_json(e);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    assert_non_null(text);
    json_error_t jerr;
    json_t *back = json_loads(text, 0, &jerr);
    free(text);
    assert_non_null(back);
    /* The policy for unseen values is recorded for other readers. */
    const json_t *cols = json_object_get(back, "columns");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "unseen")),
                        "all-zero");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 2), "encoding")),
                        "ordinal");

    keel_encoder *e2 = NULL;
    keel_err err;
    assert_int_equal(keel_encoder_from_json(back, &e2, &err), KEEL_OK);
    json_decref(back);
    assert_int_equal(e2->n_cols, e->n_cols);
    assert_int_equal(e2->n_features, e->n_features);
    for (size_t i = 0; i < e->n_features; i++)
        assert_string_equal(e2->feature_names[i], e->feature_names[i]);
    for (size_t c = 0; c < e->n_cols; c++) {
        assert_int_equal(e2->cols[c].kind, e->cols[c].kind);
        assert_int_equal(e2->cols[c].type, e->cols[c].type);
        assert_int_equal(e2->cols[c].first_feature, e->cols[c].first_feature);
    }

    keel_frame *f = frame_of("num,color,city,flag,day\n"
                             "1,red,a,true,2020-01-01\n"
                             "9,purple,zzz,false,\n"
                             ",,d,,1999-12-31\n"
                             "2.5,green,b,true,2020-01-02\n");
    size_t u1 = 0, u2 = 0;
    float *x1 = transform_ok(e, f, &u1);
    float *x2 = transform_ok(e2, f, &u2);
    assert_int_equal(u1, u2);
    assert_int_equal(u1, 2);
    for (size_t i = 0; i < f->n_rows * e->n_features; i++) {
        if (!same_float(x1[i], x2[i]))
            fail_msg("cell %zu differs: %g vs %g", i, (double)x1[i], (double)x2[i]);
    }
    free(x1);
    free(x2);
    keel_frame_destroy(f);
    keel_encoder_destroy(e2);
    keel_encoder_destroy(e);
    keel_frame_destroy(train);
}

static void json_rejects_bad_encoders(void **state)
{
    (void)state;
    keel_encoder *e = NULL;
    keel_err err;
    json_t *j = json_pack("{s:i}", "columns", 3);
    assert_int_equal(keel_encoder_from_json(j, &e, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "columns"));
    json_decref(j);
    j = json_pack("{s:[{s:s, s:s, s:s}]}", "columns", "column", "x", "type", "int", "encoding",
                  "hash");
    assert_int_equal(keel_encoder_from_json(j, &e, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "hash"));
    json_decref(j);
    j = json_pack("{s:[{s:s, s:s}]}", "columns", "column", "x", "type", "int");
    assert_int_equal(keel_encoder_from_json(j, &e, &err), KEEL_EINVAL);
    json_decref(j);
    j = json_pack("{s:[{s:s, s:s, s:s}]}", "columns", "column", "x", "type", "complex",
                  "encoding", "numeric");
    assert_int_equal(keel_encoder_from_json(j, &e, &err), KEEL_EINVAL);
    json_decref(j);
}

/* ---- split specs ---- */

static void split_parse_fails(const char *text, const char *want)
{
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_split_spec s;
    keel_err err;
    keel_err_clear(&err);
    int rc = keel_split_parse(text, &a, &s, &err);
    if (rc != KEEL_EINVAL)
        fail_msg("'%s': rc %d, want KEEL_EINVAL", text, rc);
    if (strstr(err.msg, want) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", text, err.msg, want);
    keel_arena_free(&a);
}

static void split_parse_accepts_and_rejects(void **state)
{
    (void)state;
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_split_spec s;
    keel_err err;
    assert_int_equal(keel_split_parse("random:0.3:7", &a, &s, &err), KEEL_OK);
    assert_int_equal(s.kind, KEEL_SPLIT_RANDOM);
    assert_true(s.test_fraction == 0.3);
    assert_int_equal(s.seed, 7);
    assert_int_equal(keel_split_parse("random:0.25", &a, &s, &err), KEEL_OK);
    assert_int_equal(s.seed, 42);
    assert_int_equal(keel_split_parse("column:fold", &a, &s, &err), KEEL_OK);
    assert_int_equal(s.kind, KEEL_SPLIT_COLUMN);
    assert_string_equal(s.column, "fold");
    assert_string_equal(s.train_value, "train");
    assert_string_equal(s.test_value, "test");
    assert_int_equal(keel_split_parse("column:fold:fit/eval", &a, &s, &err), KEEL_OK);
    assert_string_equal(s.column, "fold");
    assert_string_equal(s.train_value, "fit");
    assert_string_equal(s.test_value, "eval");
    assert_int_equal(keel_split_parse("time:day:0.2", &a, &s, &err), KEEL_OK);
    assert_int_equal(s.kind, KEEL_SPLIT_TIME);
    assert_string_equal(s.column, "day");
    assert_false(s.has_cutoff);
    assert_true(s.test_fraction == 0.2);
    assert_int_equal(keel_split_parse("time:day@2012-10-01", &a, &s, &err), KEEL_OK);
    assert_true(s.has_cutoff);
    assert_string_equal(s.column, "day");
    assert_string_equal(s.cutoff_text, "2012-10-01");
    keel_arena_free(&a);

    split_parse_fails("", "empty");
    split_parse_fails("random:0", "between 0 and 1");
    split_parse_fails("random:1", "between 0 and 1");
    split_parse_fails("random:1.5", "between 0 and 1");
    split_parse_fails("random:-0.2", "between 0 and 1");
    split_parse_fails("random:abc", "between 0 and 1");
    split_parse_fails("random:0.2x", "between 0 and 1");
    split_parse_fails("random:", "between 0 and 1");
    split_parse_fails("random:0.2:", "seed must be an integer");
    split_parse_fails("random:0.2:xyz", "seed must be an integer");
    split_parse_fails("random:0.2:7:9", "seed must be an integer");
    split_parse_fails("column:", "no column named");
    split_parse_fails("column:g:train", "TRAIN_VALUE/TEST_VALUE");
    split_parse_fails("column:g:/test", "TRAIN_VALUE/TEST_VALUE");
    split_parse_fails("column:g:train/", "TRAIN_VALUE/TEST_VALUE");
    split_parse_fails("time:", "time:COLUMN:FRACTION");
    split_parse_fails("time:day", "time:COLUMN:FRACTION");
    split_parse_fails("time::0.2", "time:COLUMN:FRACTION");
    split_parse_fails("time:day:2", "between 0 and 1");
    split_parse_fails("shuffle:0.2", "unknown split 'shuffle:0.2'");
}

/* ---- random split ---- */

/* splitmix64 as published (Vigna), written out independently of keel's. */
static uint64_t reference_splitmix64(uint64_t state)
{
    uint64_t z = state + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static keel_frame *numbered_frame(size_t n)
{
    size_t cap = 16 + n * 24;
    char *csv = malloc(cap);
    assert_non_null(csv);
    size_t len = (size_t)snprintf(csv, cap, "i\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(csv + len, cap - len, "%zu\n", i);
    keel_frame *f = frame_of(csv);
    free(csv);
    return f;
}

static void random_split_is_a_function_of_seed_and_row(void **state)
{
    (void)state;
    /* The published first outputs of splitmix64 seeded with 0. */
    assert_true(keel_splitmix64(0) == 0xe220a8397b1dcdafull);
    assert_true(keel_splitmix64(0x9e3779b97f4a7c15ull) == 0x6e789e6aa1b965f4ull);
    for (uint64_t x = 1; x < 1000; x += 37)
        assert_true(keel_splitmix64(x * 0x12345) == reference_splitmix64(x * 0x12345));

    enum { N = 5000 };
    keel_frame *f = numbered_frame(N);
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_split_spec s;
    keel_err err;
    assert_int_equal(keel_split_parse("random:0.2:1234", &a, &s, &err), KEEL_OK);
    size_t *train, *test, n_train, n_test;
    assert_int_equal(keel_split_apply(f, &s, &a, &train, &n_train, &test, &n_test, &err),
                     KEEL_OK);
    assert_int_equal(n_train + n_test, N);
    /* Each side in row order, and each row where the formula puts it. */
    size_t ti = 0, ri = 0;
    for (size_t r = 0; r < N; r++) {
        double u = (double)(reference_splitmix64(1234 ^ (uint64_t)r) >> 11) / 9007199254740992.0;
        if (u < 0.2) {
            assert_true(ti < n_test);
            assert_int_equal(test[ti++], r);
        } else {
            assert_true(ri < n_train);
            assert_int_equal(train[ri++], r);
        }
    }
    assert_int_equal(ti, n_test);
    double share = (double)n_test / N;
    assert_true(share > 0.18 && share < 0.22);

    /* Again: identical. Another seed: a different split. */
    size_t *train2, *test2, n_train2, n_test2;
    assert_int_equal(keel_split_apply(f, &s, &a, &train2, &n_train2, &test2, &n_test2, &err),
                     KEEL_OK);
    assert_int_equal(n_test2, n_test);
    assert_memory_equal(test2, test, n_test * sizeof *test);
    s.seed = 1235;
    assert_int_equal(keel_split_apply(f, &s, &a, &train2, &n_train2, &test2, &n_test2, &err),
                     KEEL_OK);
    assert_true(n_test2 != n_test || memcmp(test2, test, n_test * sizeof *test) != 0);
    /* A larger fraction. */
    s.test_fraction = 0.7;
    assert_int_equal(keel_split_apply(f, &s, &a, &train2, &n_train2, &test2, &n_test2, &err),
                     KEEL_OK);
    share = (double)n_test2 / N;
    assert_true(share > 0.67 && share < 0.73);
    keel_arena_free(&a);
    keel_frame_destroy(f);

    /* One row cannot be split both ways. */
    f = numbered_frame(1);
    keel_arena_init(&a, 0);
    assert_int_equal(keel_split_parse("random:0.5", &a, &s, &err), KEEL_OK);
    assert_int_equal(keel_split_apply(f, &s, &a, &train, &n_train, &test, &n_test, &err),
                     KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "both sides need rows"));
    keel_arena_free(&a);
    keel_frame_destroy(f);
}

/* ---- column and time splits ---- */

typedef struct split_result {
    size_t *train, *test;
    size_t n_train, n_test;
} split_result;

static int split(const keel_frame *f, const char *spec, keel_arena *a, split_result *out,
                 keel_err *err)
{
    keel_split_spec s;
    int rc = keel_split_parse(spec, a, &s, err);
    if (rc != KEEL_OK)
        fail_msg("'%s': %s", spec, err->msg);
    return keel_split_apply(f, &s, a, &out->train, &out->n_train, &out->test, &out->n_test, err);
}

static void assert_rows(const size_t *got, size_t n, const size_t *want, size_t n_want)
{
    if (n != n_want)
        fail_msg("got %zu rows, want %zu", n, n_want);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("row %zu: got %zu, want %zu", i, got[i], want[i]);
}

static void column_split_by_values(void **state)
{
    (void)state;
    keel_frame *f = frame_of("x,fold,n\n"
                             "0,train,1\n"
                             "1,test,2\n"
                             "2,,3\n"
                             "3,holdout,4\n"
                             "4,train,5\n"
                             "5,fit,6\n"
                             "6,eval,7\n"
                             "7,test,8\n");
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_err err;
    split_result r;
    assert_int_equal(split(f, "column:fold", &a, &r, &err), KEEL_OK);
    assert_rows(r.train, r.n_train, (size_t[]){ 0, 4 }, 2);
    assert_rows(r.test, r.n_test, (size_t[]){ 1, 7 }, 2);
    assert_int_equal(split(f, "column:fold:fit/eval", &a, &r, &err), KEEL_OK);
    assert_rows(r.train, r.n_train, (size_t[]){ 5 }, 1);
    assert_rows(r.test, r.n_test, (size_t[]){ 6 }, 1);
    /* One side empty. */
    assert_int_equal(split(f, "column:fold:train/nothing", &a, &r, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "2 training and 0 test rows"));
    /* No such column; a column that is not text. */
    assert_int_equal(split(f, "column:folds", &a, &r, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'folds'"));
    assert_int_equal(split(f, "column:n", &a, &r, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'n'"));
    keel_arena_free(&a);
    keel_frame_destroy(f);
}

static const char dated_csv[] =
    "d,t,x\n"
    "2020-01-05,2020-01-05 08:00:00,0\n"
    "2020-01-01,2020-01-01 08:00:00,1\n"
    "2020-01-03,2020-01-03 11:59:59,2\n"
    "2020-01-03,2020-01-03 12:00:00,3\n"
    ",,4\n"
    "2020-01-02,2020-01-02 08:00:00,5\n"
    "2020-01-04,2020-01-04 08:00:00,6\n"
    "2020-01-03,2020-01-03 12:00:01,7\n"
    "2020-01-06,2020-01-06 08:00:00,8\n"
    "2020-01-03,2020-01-03 23:00:00,9\n"
    "2020-01-07,2020-01-07 08:00:00,10\n";

static void time_split_by_fraction(void **state)
{
    (void)state;
    keel_frame *f = frame_of(dated_csv);
    assert_int_equal(keel_frame_column(f, "d")->type, KEEL_COL_DATE);
    assert_int_equal(keel_frame_column(f, "t")->type, KEEL_COL_DATETIME);
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_err err;
    split_result r;
    /* 10 dated rows (row 4 has none), last 30% test. */
    assert_int_equal(split(f, "time:d:0.3", &a, &r, &err), KEEL_OK);
    assert_rows(r.train, r.n_train, (size_t[]){ 1, 5, 2, 3, 7, 9, 6 }, 7);
    assert_rows(r.test, r.n_test, (size_t[]){ 0, 8, 10 }, 3);
    /* The cut falls inside the 2020-01-03 tie: file order decides. */
    assert_int_equal(split(f, "time:d:0.6", &a, &r, &err), KEEL_OK);
    assert_rows(r.train, r.n_train, (size_t[]){ 1, 5, 2, 3 }, 4);
    assert_rows(r.test, r.n_test, (size_t[]){ 7, 9, 6, 0, 8, 10 }, 6);
    /* On a number column as well. */
    assert_int_equal(split(f, "time:x:0.5", &a, &r, &err), KEEL_OK);
    assert_rows(r.train, r.n_train, (size_t[]){ 0, 1, 2, 3, 4 }, 5);
    assert_rows(r.test, r.n_test, (size_t[]){ 5, 6, 7, 8, 9, 10 }, 6);
    keel_arena_free(&a);
    keel_frame_destroy(f);
}

static void time_split_by_cutoff(void **state)
{
    (void)state;
    keel_frame *f = frame_of(dated_csv);
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_err err;
    split_result r;
    /* Before the date trains, the date itself and later test. */
    assert_int_equal(split(f, "time:d@2020-01-03", &a, &r, &err), KEEL_OK);
    assert_rows(r.train, r.n_train, (size_t[]){ 1, 5 }, 2);
    assert_rows(r.test, r.n_test, (size_t[]){ 0, 2, 3, 6, 7, 8, 9, 10 }, 8);
    /* On a datetime column the time of day counts. */
    assert_int_equal(split(f, "time:t@2020-01-03 12:00:00", &a, &r, &err), KEEL_OK);
    assert_rows(r.train, r.n_train, (size_t[]){ 1, 2, 5 }, 3);
    assert_rows(r.test, r.n_test, (size_t[]){ 0, 3, 6, 7, 8, 9, 10 }, 7);
    assert_int_equal(split(f, "time:t@2020-01-03T12:00", &a, &r, &err), KEEL_OK);
    assert_int_equal(r.n_train, 3);
    /* A date alone on a datetime column means midnight. */
    assert_int_equal(split(f, "time:t@2020-01-04", &a, &r, &err), KEEL_OK);
    assert_rows(r.train, r.n_train, (size_t[]){ 1, 2, 3, 5, 7, 9 }, 6);
    /* Everything on one side. */
    assert_int_equal(split(f, "time:d@2030-01-01", &a, &r, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "0 test rows"));
    /* Bad cutoffs and columns. */
    assert_int_equal(split(f, "time:d@yesterday", &a, &r, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'yesterday'"));
    assert_int_equal(split(f, "time:d@2020-13-01", &a, &r, &err), KEEL_EINVAL);
    assert_int_equal(split(f, "time:when@2020-01-01", &a, &r, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'when'"));
    keel_frame_destroy(f);
    f = frame_of("name,x\na,1\nb,2\n");
    assert_int_equal(split(f, "time:name:0.5", &a, &r, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "string"));
    keel_arena_free(&a);
    keel_frame_destroy(f);
}

static void time_split_numeric_cutoff(void **state)
{
    (void)state;
    keel_frame *f = frame_of("year,x\n2013,0\n2011,1\n2015,2\n2014,3\n2012,4\n");
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_err err;
    split_result r;
    /* A number column is cut at a number. */
    int rc = split(f, "time:year@2014", &a, &r, &err);
    if (rc != KEEL_OK)
        fail_msg("time:year@2014: %s", err.msg);
    assert_rows(r.train, r.n_train, (size_t[]){ 0, 1, 4 }, 3);
    assert_rows(r.test, r.n_test, (size_t[]){ 2, 3 }, 2);
    assert_int_equal(split(f, "time:year@soon", &a, &r, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'soon'"));
    keel_arena_free(&a);
    keel_frame_destroy(f);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fit_chooses_encodings),
        cmocka_unit_test(fit_uses_given_rows_and_exclusions),
        cmocka_unit_test(transform_encodes_values),
        cmocka_unit_test(transform_unseen_and_missing),
        cmocka_unit_test(transform_rejects_missing_columns_and_types),
        cmocka_unit_test(feature_names_are_sanitized_and_unique),
        cmocka_unit_test(json_round_trip_transforms_identically),
        cmocka_unit_test(json_rejects_bad_encoders),
        cmocka_unit_test(split_parse_accepts_and_rejects),
        cmocka_unit_test(random_split_is_a_function_of_seed_and_row),
        cmocka_unit_test(column_split_by_values),
        cmocka_unit_test(time_split_by_fraction),
        cmocka_unit_test(time_split_by_cutoff),
        cmocka_unit_test(time_split_numeric_cutoff),
    };
    return keel_test_main(argc, argv, "encode_split", tests);
}
