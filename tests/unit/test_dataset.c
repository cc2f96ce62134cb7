/*
 * test_dataset.c — column profiles and schemas, validation of new data
 * against a reference profile, and dataset versions in a real workspace
 * (add, dedupe, versions, references, listing, loading, corruption).
 */
#include "testutil.h"

#include <keel/dataset.h>
#include <keel/json.h>
#include <keel/util.h>
#include <keel/workspace.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (tolerance %g)", got, want, tol);
}

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("'%s' is not a number", key);
    return json_number_value(v);
}

/* ---- profiles ---- */

static void profile_numeric_column(void **state)
{
    (void)state;
    /* x sorted: 10 20 30 40 100, one missing. */
    keel_frame *f = frame_of("x\n40\n10\nNA\n100\n30\n20\n");
    json_t *p = keel_frame_profile(f, NULL, 0);
    assert_int_equal(json_integer_value(json_object_get(p, "rows")), 6);
    const json_t *x = json_object_get(json_object_get(p, "columns"), "x");
    assert_string_equal(json_string_value(json_object_get(x, "type")), "int");
    assert_int_equal(json_integer_value(json_object_get(x, "missing")), 1);
    assert_close(num(x, "missing_rate"), 1.0 / 6.0, 1e-12);
    assert_close(num(x, "min"), 10, 0);
    assert_close(num(x, "max"), 100, 0);
    assert_close(num(x, "mean"), 40, 1e-12);
    assert_close(num(x, "std"), sqrt(5000.0 / 4.0), 1e-9);   /* sample std, ddof 1 */
    /* numpy.quantile(..., method="linear"): position q * (n - 1) = 4q. */
    const json_t *q = json_object_get(x, "quantiles");
    assert_int_equal(json_object_size(q), 9);
    assert_close(num(q, "0.01"), 10.4, 1e-9);
    assert_close(num(q, "0.05"), 12, 1e-9);
    assert_close(num(q, "0.1"), 14, 1e-9);
    assert_close(num(q, "0.25"), 20, 1e-9);
    assert_close(num(q, "0.5"), 30, 1e-9);
    assert_close(num(q, "0.75"), 40, 1e-9);
    assert_close(num(q, "0.9"), 76, 1e-9);
    assert_close(num(q, "0.95"), 88, 1e-9);
    assert_close(num(q, "0.99"), 97.6, 1e-9);
    /* Decile edges 10 14 18 22 26 30 34 38 52 76 100; counts by (lo, hi]. */
    const json_t *bins = json_object_get(x, "bins");
    const json_t *counts = json_object_get(x, "bin_counts");
    double want_edges[] = { 10, 14, 18, 22, 26, 30, 34, 38, 52, 76, 100 };
    json_int_t want_counts[] = { 1, 0, 1, 0, 1, 0, 0, 1, 0, 1 };
    assert_int_equal(json_array_size(bins), 11);
    assert_int_equal(json_array_size(counts), 10);
    for (size_t i = 0; i < 11; i++)
        assert_close(json_number_value(json_array_get(bins, i)), want_edges[i], 1e-9);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(json_integer_value(json_array_get(counts, i)), want_counts[i]);
    json_decref(p);

    /* Only some rows. */
    size_t rows[] = { 1, 3 };
    p = keel_frame_profile(f, rows, 2);
    assert_int_equal(json_integer_value(json_object_get(p, "rows")), 2);
    x = json_object_get(json_object_get(p, "columns"), "x");
    assert_close(num(x, "mean"), 55, 1e-12);
    assert_close(num(json_object_get(x, "quantiles"), "0.5"), 55, 1e-12);
    assert_int_equal(json_integer_value(json_object_get(x, "missing")), 0);
    json_decref(p);
    keel_frame_destroy(f);
}

static json_int_t sum_counts(const json_t *counts)
{
    json_int_t total = 0;
    for (size_t i = 0; i < json_array_size(counts); i++)
        total += json_integer_value(json_array_get(counts, i));
    return total;
}

static void profile_bins_cover_every_value(void **state)
{
    (void)state;
    /* Heavy ties collapse decile edges; every value still lands in a bin. */
    keel_frame *f = frame_of("t,c,g\n1,3,0.5\n1,3,\n1,3,2.25\n1,3,-1\n2,3,7\n,3,0.5\n"
                             "1,3,1e3\n1,3,0.5\n7,3,3\n1,3,\n");
    json_t *p = keel_frame_profile(f, NULL, 0);
    const json_t *cols = json_object_get(p, "columns");
    const char *names[] = { "t", "c", "g" };
    json_int_t present[] = { 9, 10, 8 };
    for (size_t k = 0; k < 3; k++) {
        const json_t *c = json_object_get(cols, names[k]);
        const json_t *bins = json_object_get(c, "bins");
        const json_t *counts = json_object_get(c, "bin_counts");
        assert_int_equal(sum_counts(counts), present[k]);
        size_t n_edges = json_array_size(bins);
        assert_int_equal(json_array_size(counts), n_edges > 1 ? n_edges - 1 : 1);
        for (size_t i = 1; i < n_edges; i++)
            assert_true(json_number_value(json_array_get(bins, i)) >
                        json_number_value(json_array_get(bins, i - 1)));
    }
    /* A constant column: one edge, one bin holding everything. */
    const json_t *c = json_object_get(cols, "c");
    assert_int_equal(json_array_size(json_object_get(c, "bins")), 1);
    assert_close(num(c, "std"), 0, 0);
    json_decref(p);

    /* A column with no values has no numeric summary. */
    keel_frame *e = frame_of("a,b\n1,\n2,\n");
    p = keel_frame_profile(e, NULL, 0);
    const json_t *b = json_object_get(json_object_get(p, "columns"), "b");
    assert_close(num(b, "missing_rate"), 1, 0);
    assert_null(json_object_get(b, "min"));
    json_decref(p);
    keel_frame_destroy(e);
    keel_frame_destroy(f);
}

static void profile_string_column_and_schema(void **state)
{
    (void)state;
    keel_frame *f = frame_of("s,d\na,2020-01-01\nb,2020-01-02\na,\nc,2020-01-03\na,2020-01-04\n"
                             "b,2020-01-05\n,2020-01-06\n");
    json_t *p = keel_frame_profile(f, NULL, 0);
    const json_t *s = json_object_get(json_object_get(p, "columns"), "s");
    assert_string_equal(json_string_value(json_object_get(s, "type")), "string");
    assert_int_equal(json_integer_value(json_object_get(s, "missing")), 1);
    assert_close(num(s, "missing_rate"), 1.0 / 7.0, 1e-12);
    assert_int_equal(json_integer_value(json_object_get(s, "distinct")), 3);
    const json_t *top = json_object_get(s, "top");
    assert_int_equal(json_object_size(top), 3);
    assert_int_equal(json_integer_value(json_object_get(top, "a")), 3);
    assert_int_equal(json_integer_value(json_object_get(top, "b")), 2);
    assert_int_equal(json_integer_value(json_object_get(top, "c")), 1);
    assert_int_equal(json_integer_value(json_object_get(s, "other")), 0);
    assert_null(json_object_get(s, "quantiles"));
    /* Dates are profiled as numbers (days). */
    const json_t *d = json_object_get(json_object_get(p, "columns"), "d");
    assert_string_equal(json_string_value(json_object_get(d, "type")), "date");
    assert_close(num(d, "min"), 18262, 0);
    json_decref(p);

    json_t *schema = keel_frame_schema(f);
    const json_t *cols = json_object_get(schema, "columns");
    assert_int_equal(json_array_size(cols), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "name")), "s");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "type")),
                        "string");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "type")),
                        "date");
    json_decref(schema);
    keel_frame_destroy(f);
}

static void profile_keeps_fifty_top_categories(void **state)
{
    (void)state;
    /* k0..k54 once, then k0..k4 again: 55 distinct, the 5 doubled first. */
    char csv[2048];
    size_t len = (size_t)snprintf(csv, sizeof csv, "k\n");
    for (int i = 0; i < 55; i++)
        len += (size_t)snprintf(csv + len, sizeof csv - len, "k%d\n", i);
    for (int i = 0; i < 5; i++)
        len += (size_t)snprintf(csv + len, sizeof csv - len, "k%d\n", i);
    keel_frame *f = frame_of(csv);
    json_t *p = keel_frame_profile(f, NULL, 0);
    const json_t *k = json_object_get(json_object_get(p, "columns"), "k");
    const json_t *top = json_object_get(k, "top");
    assert_int_equal(json_integer_value(json_object_get(k, "distinct")), 55);
    assert_int_equal(json_object_size(top), 50);
    assert_int_equal(json_integer_value(json_object_get(top, "k0")), 2);
    assert_int_equal(json_integer_value(json_object_get(top, "k4")), 2);
    assert_int_equal(json_integer_value(json_object_get(top, "k49")), 1);
    assert_null(json_object_get(top, "k50"));
    assert_int_equal(json_integer_value(json_object_get(k, "other")), 5);
    json_decref(p);
    keel_frame_destroy(f);
}

/* ---- validation ---- */

/* 100 rows: age 20..69 (int), income float, city a/b/c, flag. */
static char *reference_csv(void)
{
    size_t cap = 8192;
    char *csv = malloc(cap);
    assert_non_null(csv);
    size_t len = (size_t)snprintf(csv, cap, "age,income,city\n");
    for (int i = 0; i < 100; i++)
        len += (size_t)snprintf(csv + len, cap - len, "%d,%d.5,%c\n", 20 + i % 50, 1000 + i * 10,
                                "abc"[i % 3]);
    return csv;
}

typedef struct variant {
    const char *age[4];       /* overrides for rows 0..3 (NULL: the reference value) */
    const char *city[6];      /* overrides for rows 0..5 */
    int missing_age;          /* rows (from the end) with no age */
    bool drop_city, extra;
} variant;

static keel_frame *variant_frame(const variant *v)
{
    size_t cap = 8192;
    char *csv = malloc(cap);
    assert_non_null(csv);
    size_t len = (size_t)snprintf(csv, cap, "age,income%s%s\n", v->drop_city ? "" : ",city",
                                  v->extra ? ",extra" : "");
    for (int i = 0; i < 100; i++) {
        char age[32];
        snprintf(age, sizeof age, "%d", 20 + i % 50);
        const char *a = i < 4 && v->age[i] != NULL ? v->age[i] : age;
        if (i >= 100 - v->missing_age)
            a = "";
        char city[2] = { "abc"[i % 3], 0 };
        const char *c = i < 6 && v->city[i] != NULL ? v->city[i] : city;
        len += (size_t)snprintf(csv + len, cap - len, "%s,%d.5", a, 1000 + i * 10);
        if (!v->drop_city)
            len += (size_t)snprintf(csv + len, cap - len, ",%s", c);
        if (v->extra)
            len += (size_t)snprintf(csv + len, cap - len, ",x");
        len += (size_t)snprintf(csv + len, cap - len, "\n");
    }
    keel_frame *f = frame_of(csv);
    free(csv);
    return f;
}

/* The one anomaly for column and check, or NULL. */
static const json_t *anomaly(const json_t *report, const char *column, const char *check)
{
    const json_t *list = json_object_get(report, "anomalies");
    const json_t *found = NULL;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *a = json_array_get(list, i);
        if (strcmp(json_string_value(json_object_get(a, "column")), column) == 0 &&
            strcmp(json_string_value(json_object_get(a, "check")), check) == 0) {
            assert_null(found);
            found = a;
        }
    }
    return found;
}

static const char *severity(const json_t *a)
{
    assert_non_null(a);
    return json_string_value(json_object_get(a, "severity"));
}

static json_t *validate(const json_t *ref, const variant *v, const keel_validate_limits *lim)
{
    keel_frame *f = variant_frame(v);
    json_t *report = NULL;
    keel_err err;
    if (keel_data_validate(f, ref, lim, &report, &err) != KEEL_OK)
        fail_msg("validate failed: %s", err.msg);
    keel_frame_destroy(f);
    /* errors + warnings = anomalies */
    json_int_t errors = json_integer_value(json_object_get(report, "errors"));
    json_int_t warnings = json_integer_value(json_object_get(report, "warnings"));
    assert_int_equal(errors + warnings, json_array_size(json_object_get(report, "anomalies")));
    return report;
}

static json_int_t errors_of(const json_t *report)
{
    return json_integer_value(json_object_get(report, "errors"));
}

static void validate_finds_anomalies(void **state)
{
    (void)state;
    char *csv = reference_csv();
    keel_frame *ref_frame = frame_of(csv);
    free(csv);
    json_t *ref = keel_frame_profile(ref_frame, NULL, 0);
    keel_frame_destroy(ref_frame);

    /* The same data: clean. */
    json_t *r = validate(ref, &(variant){ 0 }, NULL);
    assert_int_equal(json_array_size(json_object_get(r, "anomalies")), 0);
    assert_int_equal(json_integer_value(json_object_get(r, "rows")), 100);
    json_decref(r);

    /* A missing column is an error; a new one a warning. */
    r = validate(ref, &(variant){ .drop_city = true, .extra = true }, NULL);
    assert_string_equal(severity(anomaly(r, "city", "missing_column")), "error");
    assert_string_equal(severity(anomaly(r, "extra", "new_column")), "warning");
    assert_int_equal(errors_of(r), 1);
    json_decref(r);

    /* int -> string is an error; int -> float a warning. */
    r = validate(ref, &(variant){ .age = { "old" } }, NULL);
    const json_t *a = anomaly(r, "age", "type");
    assert_string_equal(severity(a), "error");
    assert_non_null(strstr(json_string_value(json_object_get(a, "message")), "int to string"));
    json_decref(r);
    r = validate(ref, &(variant){ .age = { "30.5" } }, NULL);
    assert_string_equal(severity(anomaly(r, "age", "type")), "warning");
    assert_int_equal(errors_of(r), 0);
    json_decref(r);

    /* Out of range: 1% is within the default limit, 2% is not. */
    r = validate(ref, &(variant){ .age = { "19" } }, NULL);
    a = anomaly(r, "age", "out_of_range");
    assert_string_equal(severity(a), "warning");
    assert_close(num(a, "value"), 0.01, 1e-12);
    assert_close(num(a, "limit"), 0.01, 1e-12);
    json_decref(r);
    r = validate(ref, &(variant){ .age = { "19", "70" } }, NULL);
    a = anomaly(r, "age", "out_of_range");
    assert_string_equal(severity(a), "error");
    assert_close(num(a, "value"), 0.02, 1e-12);
    assert_non_null(strstr(json_string_value(json_object_get(a, "message")), "[20, 69]"));
    json_decref(r);
    keel_validate_limits loose = { 0.05, 0.05, 0.01 };
    r = validate(ref, &(variant){ .age = { "19", "70" } }, &loose);
    assert_string_equal(severity(anomaly(r, "age", "out_of_range")), "warning");
    json_decref(r);

    /* Unseen categories: 1 of 100 is a warning, 3 an error, unless allowed. */
    r = validate(ref, &(variant){ .city = { "z" } }, NULL);
    a = anomaly(r, "city", "unseen_category");
    assert_string_equal(severity(a), "warning");
    assert_non_null(strstr(json_string_value(json_object_get(a, "message")), "'z'"));
    json_decref(r);
    r = validate(ref, &(variant){ .city = { "z", "y", "x" } }, NULL);
    a = anomaly(r, "city", "unseen_category");
    assert_string_equal(severity(a), "error");
    assert_close(num(a, "value"), 0.03, 1e-12);
    json_decref(r);
    keel_validate_limits lenient = { 0.05, 0.01, 0.1 };
    r = validate(ref, &(variant){ .city = { "z", "y", "x" } }, &lenient);
    assert_string_equal(severity(anomaly(r, "city", "unseen_category")), "warning");
    json_decref(r);

    /* The missing rate: +3% passes, +10% is an error. */
    r = validate(ref, &(variant){ .missing_age = 3 }, NULL);
    assert_null(anomaly(r, "age", "missing_rate"));
    assert_int_equal(errors_of(r), 0);
    json_decref(r);
    r = validate(ref, &(variant){ .missing_age = 10 }, NULL);
    a = anomaly(r, "age", "missing_rate");
    assert_string_equal(severity(a), "error");
    assert_close(num(a, "value"), 0.1, 1e-12);
    json_decref(r);

    /* A reference without columns is refused. */
    json_t *bad = json_object();
    keel_frame *f = variant_frame(&(variant){ 0 });
    keel_err err;
    json_t *report = NULL;
    assert_int_equal(keel_data_validate(f, bad, NULL, &report, &err), KEEL_EINVAL);
    assert_null(report);
    json_decref(bad);
    keel_frame_destroy(f);
    json_decref(ref);
}

static void validate_skips_unseen_check_past_top_categories(void **state)
{
    (void)state;
    /* 60 distinct categories: the profile records 50 and an "other" count,
     * so a value outside the top 50 is not necessarily new. */
    char csv[2048];
    size_t len = (size_t)snprintf(csv, sizeof csv, "k\n");
    for (int i = 0; i < 60; i++)
        len += (size_t)snprintf(csv + len, sizeof csv - len, "k%d\n", i);
    keel_frame *f = frame_of(csv);
    json_t *ref = keel_frame_profile(f, NULL, 0);
    keel_frame_destroy(f);
    f = frame_of("k\nnever\nseen\n");
    json_t *report = NULL;
    keel_err err;
    assert_int_equal(keel_data_validate(f, ref, NULL, &report, &err), KEEL_OK);
    assert_null(anomaly(report, "k", "unseen_category"));
    json_decref(report);
    json_decref(ref);
    keel_frame_destroy(f);
}

/* ---- dataset versions ---- */

typedef keel_test_ws fixture;

static void path_in(const fixture *f, const char *name, char out[PATH_MAX])
{
    size_t a = strlen(f->dir), b = strlen(name);
    assert_true(a + b + 2 <= PATH_MAX);
    memcpy(out, f->dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
}

static void versions_add_dedupe_and_get(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    path_in(f, "data/iris.csv", path);
    keel_test_write(path, "a,b\n1,x\n2,y\n3,x\n");
    keel_dataset_version v1, again, v2, got;
    bool existed = true;
    assert_int_equal(keel_dataset_add(f->ws, path, NULL, &f->arena, &v1, &existed, &f->err),
                     KEEL_OK);
    assert_false(existed);
    assert_string_equal(v1.name, "iris");   /* from the file name */
    assert_int_equal(v1.version, 1);
    assert_int_equal(v1.n_rows, 3);
    assert_int_equal(v1.n_cols, 2);
    assert_int_equal(v1.size_bytes, 16);
    assert_int_equal(strlen(v1.digest), 64);
    char sha[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    assert_int_equal(keel_sha256_file(path, sha, &size, &f->err), KEEL_OK);
    assert_string_equal(v1.digest, sha);
    assert_true(keel_cas_has(f->ws->cas, v1.digest));
    assert_true(v1.created_time > 0);
    /* Schema and profile are stored as JSON. */
    json_t *profile = json_loads(v1.profile_json, 0, NULL);
    assert_non_null(profile);
    assert_int_equal(json_integer_value(json_object_get(profile, "rows")), 3);
    json_decref(profile);
    assert_non_null(strstr(v1.schema_json, "\"string\""));

    /* The same bytes again: the same version. */
    assert_int_equal(keel_dataset_add(f->ws, path, NULL, &f->arena, &again, &existed, &f->err),
                     KEEL_OK);
    assert_true(existed);
    assert_int_equal(again.version, 1);
    assert_string_equal(again.digest, v1.digest);

    /* Changed bytes: version 2. */
    keel_test_write(path, "a,b\n1,x\n2,y\n3,x\n4,z\n");
    assert_int_equal(keel_dataset_add(f->ws, path, NULL, &f->arena, &v2, &existed, &f->err),
                     KEEL_OK);
    assert_false(existed);
    assert_int_equal(v2.version, 2);
    assert_int_equal(v2.n_rows, 4);
    assert_string_not_equal(v2.digest, v1.digest);

    /* References. */
    assert_int_equal(keel_dataset_get(f->ws->store, "iris", &f->arena, &got, &f->err), KEEL_OK);
    assert_int_equal(got.version, 2);
    assert_string_equal(got.digest, v2.digest);
    assert_int_equal(keel_dataset_get(f->ws->store, "iris@1", &f->arena, &got, &f->err), KEEL_OK);
    assert_int_equal(got.version, 1);
    assert_string_equal(got.digest, v1.digest);
    assert_int_equal(keel_dataset_get(f->ws->store, "iris@9", &f->arena, &got, &f->err),
                     KEEL_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "iris@9"));
    assert_int_equal(keel_dataset_get(f->ws->store, "nope", &f->arena, &got, &f->err),
                     KEEL_ENOTFOUND);
    const char *bad[] = { "", "iris@", "iris@0", "iris@-1", "iris@x", "iris@1x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (keel_dataset_get(f->ws->store, bad[i], &f->arena, &got, &f->err) != KEEL_EINVAL)
            fail_msg("'%s' should be KEEL_EINVAL", bad[i]);
    }

    /* Bad names and unreadable data are refused. */
    assert_int_equal(keel_dataset_add(f->ws, path, "a@b", &f->arena, &got, &existed, &f->err),
                     KEEL_EINVAL);
    assert_non_null(strstr(f->err.msg, "'@'"));
    assert_int_equal(keel_dataset_add(f->ws, path, "a/b", &f->arena, &got, &existed, &f->err),
                     KEEL_EINVAL);
    assert_int_equal(keel_dataset_add(f->ws, path, "", &f->arena, &got, &existed, &f->err),
                     KEEL_EINVAL);
    char ragged[PATH_MAX];
    path_in(f, "ragged.csv", ragged);
    keel_test_write(ragged, "a,b\n1,2\n3\n");
    assert_int_equal(keel_dataset_add(f->ws, ragged, NULL, &f->arena, &got, &existed, &f->err),
                     KEEL_EPARSE);
    assert_int_equal(keel_dataset_get(f->ws->store, "ragged", &f->arena, &got, &f->err),
                     KEEL_ENOTFOUND);
}

static void versions_list_in_order(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    path_in(f, "t.csv", path);
    keel_dataset_version v;
    bool existed;
    keel_test_write(path, "a\n1\n");
    assert_int_equal(keel_dataset_add(f->ws, path, "zeta", &f->arena, &v, &existed, &f->err),
                     KEEL_OK);
    keel_test_write(path, "a\n1\n2\n");
    assert_int_equal(keel_dataset_add(f->ws, path, "zeta", &f->arena, &v, &existed, &f->err),
                     KEEL_OK);
    assert_int_equal(v.version, 2);
    /* The same bytes under another name are that name's first version. */
    assert_int_equal(keel_dataset_add(f->ws, path, "alpha", &f->arena, &v, &existed, &f->err),
                     KEEL_OK);
    assert_false(existed);
    assert_int_equal(v.version, 1);
    keel_test_write(path, "a\n1\n2\n3\n");
    assert_int_equal(keel_dataset_add(f->ws, path, "zeta", &f->arena, &v, &existed, &f->err),
                     KEEL_OK);
    assert_int_equal(v.version, 3);

    keel_dataset_version *list;
    size_t n;
    assert_int_equal(keel_dataset_list(f->ws->store, &f->arena, &list, &n, &f->err), KEEL_OK);
    assert_int_equal(n, 4);
    assert_string_equal(list[0].name, "alpha");
    assert_int_equal(list[0].version, 1);
    assert_string_equal(list[1].name, "zeta");
    assert_int_equal(list[1].version, 3);
    assert_int_equal(list[1].n_rows, 3);
    assert_int_equal(list[2].version, 2);
    assert_int_equal(list[3].version, 1);
    assert_int_equal(list[3].n_rows, 1);
}

static void load_by_name_and_path(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    path_in(f, "sales.csv", path);
    keel_test_write(path, "day,amount\n2020-01-01,1.5\n2020-01-02,2.5\n");
    keel_dataset_version v1, v2, meta;
    bool existed;
    assert_int_equal(keel_dataset_add(f->ws, path, NULL, &f->arena, &v1, &existed, &f->err),
                     KEEL_OK);
    keel_test_write(path, "day,amount\n2020-01-01,1.5\n2020-01-02,2.5\n2020-01-03,4\n");
    assert_int_equal(keel_dataset_add(f->ws, path, NULL, &f->arena, &v2, &existed, &f->err),
                     KEEL_OK);

    keel_frame *frame = NULL;
    assert_int_equal(keel_dataset_load(f->ws, "sales", &f->arena, &frame, &meta, &f->err),
                     KEEL_OK);
    assert_int_equal(frame->n_rows, 3);
    assert_int_equal(meta.version, 2);
    assert_string_equal(meta.digest, v2.digest);
    keel_frame_destroy(frame);
    /* An old version loads the old bytes, even though the file changed. */
    assert_int_equal(keel_dataset_load(f->ws, "sales@1", &f->arena, &frame, &meta, &f->err),
                     KEEL_OK);
    assert_int_equal(frame->n_rows, 2);
    assert_int_equal(meta.version, 1);
    assert_close(keel_column_number(keel_frame_column(frame, "amount"), 1), 2.5, 0);
    keel_frame_destroy(frame);

    /* A path: version 0, the path as name, the file's digest. */
    assert_int_equal(keel_dataset_load(f->ws, path, &f->arena, &frame, &meta, &f->err), KEEL_OK);
    assert_int_equal(frame->n_rows, 3);
    assert_int_equal(meta.version, 0);
    assert_string_equal(meta.name, path);
    assert_string_equal(meta.digest, v2.digest);
    assert_int_equal(meta.n_rows, 3);
    assert_int_equal(meta.n_cols, 2);
    keel_frame_destroy(frame);

    frame = NULL;
    assert_int_equal(keel_dataset_load(f->ws, "nothing", &f->arena, &frame, &meta, &f->err),
                     KEEL_ENOTFOUND);
    assert_non_null(strstr(f->err.msg, "'nothing'"));
    assert_null(frame);
    assert_int_equal(keel_dataset_load(f->ws, "sales@7", &f->arena, &frame, &meta, &f->err),
                     KEEL_ENOTFOUND);
    /* A directory is not a data file. */
    assert_int_equal(keel_dataset_load(f->ws, f->dir, &f->arena, &frame, &meta, &f->err),
                     KEEL_ENOTFOUND);
}

static void load_detects_a_corrupted_object(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    path_in(f, "c.csv", path);
    keel_test_write(path, "a,b\n1,2\n3,4\n5,6\n");
    keel_dataset_version v;
    bool existed;
    assert_int_equal(keel_dataset_add(f->ws, path, NULL, &f->arena, &v, &existed, &f->err),
                     KEEL_OK);
    char object[4096];
    assert_int_equal(keel_cas_object_path(f->ws->cas, v.digest, object, sizeof object, &f->err),
                     KEEL_OK);
    struct stat st;
    assert_int_equal(stat(object, &st), 0);
    assert_int_equal(st.st_mode & 0222, 0);   /* objects are read-only */
    assert_int_equal(chmod(object, 0644), 0);
    /* Flip one digit: still valid CSV, so only the hash can tell. */
    FILE *fp = fopen(object, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 8, SEEK_SET), 0);
    int c = fgetc(fp);
    assert_int_equal(c, '3');
    assert_int_equal(fseek(fp, 8, SEEK_SET), 0);
    fputc('7', fp);
    assert_int_equal(fclose(fp), 0);

    keel_frame *frame = NULL;
    keel_dataset_version meta;
    assert_int_equal(keel_dataset_load(f->ws, "c", &f->arena, &frame, &meta, &f->err),
                     KEEL_ECORRUPT);
    assert_null(frame);
    assert_non_null(strstr(f->err.msg, "c@1"));
    /* The original file still loads by path. */
    assert_int_equal(keel_dataset_load(f->ws, path, &f->arena, &frame, &meta, &f->err), KEEL_OK);
    keel_frame_destroy(frame);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(profile_numeric_column),
        cmocka_unit_test(profile_bins_cover_every_value),
        cmocka_unit_test(profile_string_column_and_schema),
        cmocka_unit_test(profile_keeps_fifty_top_categories),
        cmocka_unit_test(validate_finds_anomalies),
        cmocka_unit_test(validate_skips_unseen_check_past_top_categories),
        cmocka_unit_test_setup_teardown(versions_add_dedupe_and_get, keel_test_ws_setup, keel_test_ws_teardown),
        cmocka_unit_test_setup_teardown(versions_list_in_order, keel_test_ws_setup, keel_test_ws_teardown),
        cmocka_unit_test_setup_teardown(load_by_name_and_path, keel_test_ws_setup, keel_test_ws_teardown),
        cmocka_unit_test_setup_teardown(load_detects_a_corrupted_object, keel_test_ws_setup, keel_test_ws_teardown),
    };
    return keel_test_main(argc, argv, "dataset", tests);
}
