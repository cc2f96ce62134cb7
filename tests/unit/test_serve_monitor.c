/*
 * test_serve_monitor.c — online monitoring in `keel serve`: bucket placement
 * against a bundle's reference profile, the drift measures of a closed
 * window (PSI, JS distance, KS, W1, chi-square p-value, missing-rate delta,
 * out-of-range counts), window mechanics (min rows, closing by rows and by
 * time, counters cleared, no rows lost to concurrent observers), rolling
 * performance from delayed labels, and the feedback table (ring eviction,
 * id reuse, backward-shift deletion under collisions, refcounts) through
 * the POST /feedback handler.
 *
 * Expected measures were computed independently with /usr/bin/python3
 * (scipy 1.10, sklearn 1.2); each literal carries the call that produced it.
 * With p and q the reference and window bucket shares:
 *   psi = sum((max(q,1e-4) - max(p,1e-4)) * log(max(q,1e-4) / max(p,1e-4)))
 *   js  = scipy.spatial.distance.jensenshannon(p, q, base=2)
 *   ks  = max(abs(cumsum(p) - cumsum(q)))
 *   w1  = the integral of |F - G| with both CDFs linear within each bin (mass
 *         spread evenly in a bin): per bin, with d0, d1 the CDF gaps at its
 *         edges, width * (|d0| + |d1|) / 2, or width * (d0² + d1²) /
 *         (2 (|d0| + |d1|)) when the gap changes sign; it agrees with
 *         scipy.stats.wasserstein_distance on 400,000 samples drawn uniformly
 *         within the bins (0.72596 for x below)
 *   chi2_p = scipy.stats.chisquare(f_obs, p * sum(f_obs)).pvalue  (p > 0 buckets)
 */
#include "testutil.h"

#include "serve/serve.h"
#include "serve/serve_monitor.h"

#include <keel/dataset.h>
#include <keel/encode.h>
#include <keel/util.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL_STAT 1e-9
#define TOL_P 1e-7

static void near(double actual, double expected, double tol, const char *what)
{
    if (!(fabs(actual - expected) <= tol))
        fail_msg("%s: got %.17g, expected %.17g (tolerance %g)", what, actual, expected, tol);
}

/* Relative, for p-values far below the absolute tolerance. */
static void near_rel(double actual, double expected, double tol, const char *what)
{
    if (!(fabs(actual - expected) <= tol * fabs(expected)))
        fail_msg("%s: got %.17g, expected %.17g (relative tolerance %g)", what, actual, expected,
                 tol);
}

static void is_nan(double v, const char *what)
{
    if (!isnan(v))
        fail_msg("%s: got %.17g, expected NaN", what, v);
}

/* ---- a hand-made bundle ---- */

/* x: numeric, features [0]; color: one-hot over blue/green/red, features
 * [1..3]; city: ordinal over c00..c19, feature [4]. */
static const char ENCODER_JSON[] =
    "{\"columns\": ["
    " {\"column\": \"x\", \"type\": \"float\", \"encoding\": \"numeric\"},"
    " {\"column\": \"color\", \"type\": \"string\", \"encoding\": \"onehot\","
    "  \"vocabulary\": [\"blue\", \"green\", \"red\"], \"unseen\": \"all-zero\"},"
    " {\"column\": \"city\", \"type\": \"string\", \"encoding\": \"ordinal\","
    "  \"vocabulary\": [\"c00\",\"c01\",\"c02\",\"c03\",\"c04\",\"c05\",\"c06\",\"c07\",\"c08\","
    "   \"c09\",\"c10\",\"c11\",\"c12\",\"c13\",\"c14\",\"c15\",\"c16\",\"c17\",\"c18\",\"c19\"],"
    "  \"unseen\": \"missing\"}],"
    " \"feature_names\": [\"x\", \"color=blue\", \"color=green\", \"color=red\", \"city\"]}";

/* Reference shares: x bins 10/20/30/40 over edges 0,1,2,4,8; color
 * blue/green/red/other 10/30/50/5 of the 95% present (5% missing, which
 * one-hot cannot tell from unseen); city cNN = NN + 1, other 21; the
 * prediction uniform over quarters of [0, 1]. */
static const char PROFILE_JSON[] =
    "{\"rows\": 100, \"columns\": {"
    " \"x\": {\"type\": \"float\", \"missing\": 10, \"missing_rate\": 0.1,"
    "  \"bins\": [0, 1, 2, 4, 8], \"bin_counts\": [10, 20, 30, 40]},"
    " \"color\": {\"type\": \"string\", \"missing\": 5, \"missing_rate\": 0.05,"
    "  \"top\": {\"red\": 50, \"green\": 30, \"blue\": 10}, \"other\": 5},"
    " \"city\": {\"type\": \"string\", \"missing\": 25, \"missing_rate\": 0.1,"
    "  \"top\": {\"c00\": 1, \"c01\": 2, \"c02\": 3, \"c03\": 4, \"c04\": 5, \"c05\": 6,"
    "   \"c06\": 7, \"c07\": 8, \"c08\": 9, \"c09\": 10, \"c10\": 11, \"c11\": 12, \"c12\": 13,"
    "   \"c13\": 14, \"c14\": 15, \"c15\": 16, \"c16\": 17, \"c17\": 18, \"c18\": 19,"
    "   \"c19\": 20}, \"other\": 21}}}";

static const char PREDICTION_JSON[] =
    "{\"missing_rate\": 0, \"bins\": [0, 0.25, 0.5, 0.75, 1], \"bin_counts\": [25, 25, 25, 25]}";

enum { F_X, F_COLOR, F_CITY, F_PRED };
#define WIDTH 5

typedef struct bundle {
    json_t *manifest;
    keel_encoder *enc;
    model_monitor *mon;
} bundle;

static json_t *json_of(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (j == NULL)
        fail_msg("test JSON: %s (line %d)", je.text, je.line);
    return j;
}

static keel_encoder *encoder_of(const char *text)
{
    json_t *j = json_of(text);
    keel_encoder *enc = NULL;
    keel_err err;
    keel_err_clear(&err);
    if (keel_encoder_from_json(j, &enc, &err) != KEEL_OK)
        fail_msg("encoder: %s", err.msg);
    json_decref(j);
    return enc;
}

/* profile and prediction (may be NULL) become the manifest's
 * reference_profile and prediction_profile. */
static void bundle_open(bundle *b, const char *profile, const char *prediction, const char *task)
{
    b->manifest = json_object();
    json_object_set_new(b->manifest, "reference_profile", json_of(profile));
    if (prediction != NULL)
        json_object_set_new(b->manifest, "prediction_profile", json_of(prediction));
    b->enc = encoder_of(ENCODER_JSON);
    assert_int_equal(b->enc->n_features, WIDTH);
    b->mon = monitor_new(b->manifest, b->enc, task);
    assert_non_null(b->mon);
}

static void bundle_close(bundle *b)
{
    monitor_free(b->mon);
    keel_encoder_destroy(b->enc);
    json_decref(b->manifest);
}

/* One feature row: color NULL = all zeros (unseen or missing). */
static void row_of(float *row, float x, const char *color, float city)
{
    row[0] = x;
    row[1] = color != NULL && strcmp(color, "blue") == 0 ? 1.0f : 0.0f;
    row[2] = color != NULL && strcmp(color, "green") == 0 ? 1.0f : 0.0f;
    row[3] = color != NULL && strcmp(color, "red") == 0 ? 1.0f : 0.0f;
    row[4] = city;
}

/* Observes n rows of x (city missing, color red) with no prediction. */
static void observe_x(model_monitor *mon, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float row[WIDTH];
        row_of(row, x[i], "red", NAN);
        monitor_observe(mon, row, 1, WIDTH, NULL, 0);
    }
}

/* ---- monitor_new ---- */

static void monitor_new_reads_the_reference(void **state)
{
    (void)state;
    bundle b;
    bundle_open(&b, PROFILE_JSON, PREDICTION_JSON, "binary");
    model_monitor *mon = b.mon;
    assert_int_equal(mon->n_features, 4);
    assert_string_equal(mon->features[F_X].name, "x");
    assert_int_equal(mon->features[F_X].kind, MON_NUMERIC);
    assert_int_equal(mon->features[F_X].n_buckets, 4);
    near(mon->features[F_X].ref_p[2], 0.3, 1e-15, "x ref share of bin 2");
    near(mon->features[F_X].ref_missing, 0.1, 0, "x ref missing");
    assert_string_equal(mon->features[F_COLOR].name, "color");
    assert_int_equal(mon->features[F_COLOR].kind, MON_CATEGORY);
    assert_int_equal(mon->features[F_COLOR].n_buckets, 4);
    assert_int_equal(mon->features[F_COLOR].first_feature, 1);
    assert_string_equal(mon->features[F_CITY].name, "city");
    assert_int_equal(mon->features[F_CITY].n_buckets, 21);
    assert_int_equal(mon->features[F_CITY].first_feature, 4);
    assert_string_equal(mon->features[F_PRED].name, "prediction");
    assert_int_equal(mon->features[F_PRED].kind, MON_PREDICTION);
    assert_false(mon->scores.valid);
    bundle_close(&b);

    /* A column the profile does not have is not monitored. */
    keel_encoder *enc = encoder_of(ENCODER_JSON);
    json_t *manifest = json_of("{\"reference_profile\": {\"columns\": {"
                               "\"x\": {\"missing_rate\": 0, \"bins\": [0, 1],"
                               " \"bin_counts\": [3]}}}}");
    mon = monitor_new(manifest, enc, "regression");
    assert_non_null(mon);
    assert_int_equal(mon->n_features, 1);
    assert_string_equal(mon->features[0].name, "x");
    monitor_free(mon);
    json_decref(manifest);

    /* No reference profile, no usable column, or no encoder: no monitor. */
    manifest = json_of("{\"encoder\": {}}");
    assert_null(monitor_new(manifest, enc, "binary"));
    json_decref(manifest);
    manifest = json_of("{\"reference_profile\": {\"columns\": {"
                       "\"x\": {\"bins\": [0, 1, 2], \"bin_counts\": [1]}}}}");
    assert_null(monitor_new(manifest, enc, "binary"));
    json_decref(manifest);
    manifest = json_of(PROFILE_JSON);
    json_t *wrapped = json_pack("{s:O}", "reference_profile", manifest);
    assert_null(monitor_new(wrapped, NULL, "binary"));
    json_decref(wrapped);
    json_decref(manifest);
    keel_encoder_destroy(enc);
}

/* ---- the measures of one window ---- */

static void window_measures_match_scipy(void **state)
{
    (void)state;
    bundle b;
    bundle_open(&b, PROFILE_JSON, PREDICTION_JSON, "binary");
    /* x: bins (edges[b], edges[b+1]], bin 0 also takes edges[0]; values
     * outside [0, 8] go to the end bins and count as out of range.
     *   bin 0: 0, 1, 0.5, -1(oor)   bin 1: 1.5, 2   bin 2: 2.5, 3, 4
     *   bin 3: 5, 8, 9(oor), 100(oor)   missing: NaN x 2
     * color: blue 2, green 4, red 7, all-zero 2 (unseen/missing -> other)
     * city: indices; NaN is missing; an index outside the vocabulary is
     *   "other" (99 here)
     * prediction: quarters (a, b], 0 in the first; 1.5 and -0.5 out of range
     *   q0: 0, .25, .125, .0625, -.5  q1: .5, .375, .3125  q2: .625, .75
     *   q3: .875, 1, 1, .9375, 1.5 */
    static const float xs[15] = { 0, 1, 0.5f, -1, 1.5f, 2, 2.5f, 3, 4, 5, 8, 9, 100, NAN, NAN };
    static const char *const colors[15] = { "blue", "blue", "green", "green", "green", "green",
                                            "red", "red", "red", "red", "red", "red", "red",
                                            NULL, NULL };
    static const float cities[15] = { 0, 0, 1, 5, 5, 5, 10, 19, 19, 99, NAN, NAN, NAN, 3, 12 };
    static const float preds[15] = { 0, 0.25f, 0.125f, 0.0625f, -0.5f, 0.5f, 0.375f, 0.3125f,
                                     0.625f, 0.75f, 0.875f, 1, 1, 0.9375f, 1.5f };
    float rows[15 * WIDTH];
    for (size_t i = 0; i < 15; i++)
        row_of(&rows[i * WIDTH], xs[i], colors[i], cities[i]);
    /* In two batches, so the batch stride is exercised. */
    monitor_observe(b.mon, rows, 6, WIDTH, preds, 1);
    monitor_observe(b.mon, rows + 6 * WIDTH, 9, WIDTH, preds + 6, 1);
    assert_true(monitor_maybe_close(b.mon, 1000, 60000, 15, 1));
    const monitor_scores *sc = &b.mon->scores;
    assert_true(sc->valid);
    assert_int_equal(sc->rows, 15);
    assert_int_equal(sc->window_end_ms, 1000);

    /* x: p = [10,20,30,40]/100, q = [4,2,3,4]/13 */
    near(sc->psi[F_X], 0.28792267500182339, TOL_STAT, "x psi");
    near(sc->js[F_X], 0.22318245983299667, TOL_STAT, "x js");  /* jensenshannon(p, q, base=2) */
    near(sc->ks[F_X], 0.2076923076923077, TOL_STAT, "x ks");
    near(sc->w1[F_X], 0.7269230769230766, TOL_STAT, "x w1");
    is_nan(sc->chi2_p[F_X], "x chi2_p");
    near(sc->missing_delta[F_X], 0.033333333333333326, TOL_STAT, "x missing delta"); /* 2/15-.1 */
    assert_int_equal(sc->out_of_range[F_X], 3);

    /* color: missing folds into "other" on the reference side too, so
     * p = [10,30,50,5+5]/100, q = [2,4,7,2]/15 */
    near(sc->psi[F_COLOR], 0.025404668401563212, TOL_STAT, "color psi");
    near(sc->js[F_COLOR], 0.067594599325706398, TOL_STAT, "color js");
    is_nan(sc->ks[F_COLOR], "color ks");
    is_nan(sc->w1[F_COLOR], "color w1");
    /* chisquare([2,4,7,2], [1.5,4.5,7.5,1.5]) -> statistic 0.4222…, df 3 */
    near(sc->chi2_p[F_COLOR], 0.9356145980968239, TOL_P, "color chi2_p");
    near(sc->missing_delta[F_COLOR], 0, TOL_STAT, "color missing delta");
    assert_int_equal(sc->out_of_range[F_COLOR], 0);

    /* city: p = [1..20, 21]/231, q = [2,1,0,1,0,3,0,0,0,0,1,0,1,0,0,0,0,0,0,2,1]/12;
     * the empty window buckets take the 1e-4 floor in PSI */
    near(sc->psi[F_CITY], 5.6423414667791665, TOL_STAT, "city psi");
    near(sc->js[F_CITY], 0.73153745910161461, TOL_STAT, "city js");
    /* chisquare(q*12, p*12) -> statistic 116.3099…, df 20, p 1.37e-15 */
    near_rel(sc->chi2_p[F_CITY], 1.3696620492056262e-15, TOL_P, "city chi2_p");
    near(sc->missing_delta[F_CITY], 0.10000000000000001, TOL_STAT, "city missing delta");
    assert_int_equal(sc->out_of_range[F_CITY], 0);

    /* prediction: p = [1,1,1,1]/4, q = [5,3,2,5]/15 */
    near(sc->psi[F_PRED], 0.13244186657361759, TOL_STAT, "prediction psi");
    near(sc->js[F_PRED], 0.15374250135607961, TOL_STAT, "prediction js");
    near(sc->ks[F_PRED], 0.08333333333333337, TOL_STAT, "prediction ks");
    near(sc->w1[F_PRED], 0.04404761904761905, TOL_STAT, "prediction w1");
    is_nan(sc->chi2_p[F_PRED], "prediction chi2_p");
    near(sc->missing_delta[F_PRED], 0, TOL_STAT, "prediction missing delta");
    assert_int_equal(sc->out_of_range[F_PRED], 2);

    /* The next window measures only its own rows: x all missing, no
     * prediction given (k = 0 counts it missing). */
    static const float xs2[4] = { NAN, NAN, NAN, NAN };
    observe_x(b.mon, xs2, 4);
    assert_true(monitor_maybe_close(b.mon, 2000, 60000, 4, 1));
    assert_int_equal(sc->rows, 4);
    is_nan(sc->psi[F_X], "x psi, nothing present");
    is_nan(sc->js[F_X], "x js, nothing present");
    is_nan(sc->ks[F_X], "x ks, nothing present");
    near(sc->missing_delta[F_X], 0.9, TOL_STAT, "x missing delta, all missing");
    assert_int_equal(sc->out_of_range[F_X], 0);
    near(sc->psi[F_COLOR], (1 - 0.5) * log(1 / 0.5) + (1e-4 - 0.1) * log(1e-4 / 0.1) +
                               (1e-4 - 0.3) * log(1e-4 / 0.3) + (1e-4 - 0.1) * log(1e-4 / 0.1),
         TOL_STAT, "color psi, all red");
    near(sc->missing_delta[F_PRED], 1, TOL_STAT, "prediction missing delta, none given");
    assert_int_equal(sc->out_of_range[F_PRED], 0);
    assert_int_equal(b.mon->windows_closed, 2);
    bundle_close(&b);
}

/* Both branches of the regularized incomplete gamma behind the p-value. */
static void chi_square_p_values_match_scipy(void **state)
{
    (void)state;
    static const char profile[] =
        "{\"columns\": {\"color\": {\"missing_rate\": 0, \"top\": {\"blue\": 50, \"green\": 50},"
        " \"other\": 0}}}";
    bundle b;
    bundle_open(&b, profile, NULL, "binary");
    assert_int_equal(b.mon->n_features, 1);
    float row[WIDTH];
    struct {
        int blue, green;
        double p;
    } cases[] = {
        { 60, 40, 0.04550026389635857 },   /* chisquare([60,40],[50,50]): x=2 >= a+1 */
        { 52, 48, 0.68915651677935164 },   /* chisquare([52,48],[50,50]): x=.08 < a+1 */
        { 50, 50, 1.0 },                   /* identical: statistic 0 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int i = 0; i < cases[c].blue + cases[c].green; i++) {
            row_of(row, 0, i < cases[c].blue ? "blue" : "green", 0);
            monitor_observe(b.mon, row, 1, WIDTH, NULL, 0);
        }
        assert_true(monitor_maybe_close(b.mon, 1000 + (int64_t)c, 60000, 100, 1));
        near(b.mon->scores.chi2_p[0], cases[c].p, TOL_P, "chi2_p");
    }
    near(b.mon->scores.psi[0], 0, 0, "identical psi");
    near(b.mon->scores.js[0], 0, 0, "identical js");
    bundle_close(&b);
}

/* A bundle profiled and encoded by keel itself, shown its own training
 * rows, measures no drift: bucket rules agree with the profiler, one-hot
 * missing values and categories pooled into "other" (past the profile's
 * top 50) land where the reference counted them. */
static void training_rows_show_no_drift(void **state)
{
    (void)state;
    keel_buf csv;
    keel_buf_init(&csv, 1 << 20);
    keel_buf_puts(&csv, "x,color,city\n");
    static const char *const colors[] = { "red", "green", "blue", "red" };
    for (int i = 0; i < 600; i++) {
        char x[16] = "", city[16] = "";
        if (i % 13 != 0)
            snprintf(x, sizeof x, "%d", (i * 37) % 101);
        if (i % 11 != 0)
            snprintf(city, sizeof city, "c%02d", (i * 7 + i / 60) % 60);
        keel_buf_printf(&csv, "%s,%s,%s\n", x, i % 17 == 0 ? "" : colors[i % 4], city);
    }
    keel_frame *f = NULL;
    keel_err err;
    keel_err_clear(&err);
    if (keel_csv_parse("train.csv", csv.data, csv.len, NULL, &f, &err) != KEEL_OK)
        fail_msg("csv: %s", err.msg);
    keel_buf_free(&csv);
    keel_encoder *enc = NULL;
    if (keel_encoder_fit(f, NULL, f->n_rows, NULL, 0, KEEL_DEFAULT_MAX_ONEHOT, &enc, &err) !=
        KEEL_OK)
        fail_msg("fit: %s", err.msg);
    assert_int_equal(enc->cols[1].kind, KEEL_ENC_ONEHOT);
    assert_int_equal(enc->cols[2].kind, KEEL_ENC_ORDINAL);
    assert_int_equal(enc->cols[2].n_vocab, 60);
    float *x = calloc(f->n_rows * enc->n_features, sizeof *x);
    float *pred = calloc(f->n_rows, sizeof *pred);
    double *pred_d = calloc(f->n_rows, sizeof *pred_d);
    assert_non_null(x);
    assert_non_null(pred);
    assert_non_null(pred_d);
    assert_int_equal(keel_encoder_transform(enc, f, NULL, f->n_rows, x, NULL, &err), KEEL_OK);
    for (size_t i = 0; i < f->n_rows; i++)
        pred_d[i] = pred[i] = (float)((i * 13) % 64) / 64.0f;
    json_t *manifest = json_pack("{s:o, s:o}", "reference_profile",
                                 keel_frame_profile(f, NULL, f->n_rows), "prediction_profile",
                                 keel_profile_values(pred_d, f->n_rows));
    /* The city profile pools categories past the top 50 into "other". */
    const json_t *city = json_object_get(
        json_object_get(json_object_get(manifest, "reference_profile"), "columns"), "city");
    assert_int_equal(json_object_size(json_object_get(city, "top")), 50);
    assert_true(json_integer_value(json_object_get(city, "other")) > 0);

    model_monitor *mon = monitor_new(manifest, enc, "binary");
    assert_non_null(mon);
    assert_int_equal(mon->n_features, 4);
    monitor_observe(mon, x, f->n_rows, enc->n_features, pred, 1);
    assert_true(monitor_maybe_close(mon, 1, 60000, f->n_rows, 1));
    for (size_t i = 0; i < mon->n_features; i++) {
        const char *name = mon->features[i].name;
        char what[64];
        snprintf(what, sizeof what, "%s psi", name);
        near(mon->scores.psi[i], 0, 1e-12, what);
        snprintf(what, sizeof what, "%s js", name);
        near(mon->scores.js[i], 0, 1e-6, what);   /* sqrt of a rounding residue */
        snprintf(what, sizeof what, "%s missing delta", name);
        near(mon->scores.missing_delta[i], 0, 1e-12, what);
        assert_int_equal(mon->scores.out_of_range[i], 0);
        if (mon->features[i].kind == MON_CATEGORY) {
            snprintf(what, sizeof what, "%s chi2_p", name);
            near(mon->scores.chi2_p[i], 1, 1e-12, what);
        } else {
            snprintf(what, sizeof what, "%s ks", name);
            near(mon->scores.ks[i], 0, 1e-12, what);
            snprintf(what, sizeof what, "%s w1", name);
            near(mon->scores.w1[i], 0, 1e-9, what);
        }
    }
    monitor_free(mon);
    json_decref(manifest);
    free(x);
    free(pred);
    free(pred_d);
    keel_encoder_destroy(enc);
    keel_frame_destroy(f);
}

/* ---- window mechanics ---- */

static void windows_close_by_rows_and_time_after_min_rows(void **state)
{
    (void)state;
    bundle b;
    bundle_open(&b, PROFILE_JSON, NULL, "binary");
    model_monitor *mon = b.mon;
    static const float three[3] = { 0.5f, 0.5f, 0.5f };
    static const float two[2] = { 1.5f, 1.5f };
    observe_x(mon, three, 3);
    /* window_ms 60 s, window_rows 10, min_rows 5; the first call starts the clock */
    assert_false(monitor_maybe_close(mon, 1000, 60000, 10, 5));
    assert_false(monitor_maybe_close(mon, 61000, 60000, 10, 5));    /* due, too few rows */
    assert_false(mon->scores.valid);
    observe_x(mon, two, 2);
    assert_true(monitor_maybe_close(mon, 61000, 60000, 10, 5));     /* by time */
    assert_int_equal(mon->scores.rows, 5);
    assert_int_equal(mon->scores.window_end_ms, 61000);
    /* q = [3, 2, 0, 0]/5: KS at bin 0 = |.1 - .6|, then |.3 - 1| */
    near(mon->scores.ks[F_X], 0.7, TOL_STAT, "first window ks");

    static const float ten[10] = { 3, 3, 3, 3, 3, 3, 3, 3, 3, 3 };
    observe_x(mon, ten, 9);
    assert_false(monitor_maybe_close(mon, 61001, 60000, 10, 5));    /* 9 rows, 1 ms */
    observe_x(mon, ten, 1);
    assert_true(monitor_maybe_close(mon, 61002, 60000, 10, 5));     /* by rows */
    assert_int_equal(mon->scores.rows, 10);
    /* only the new rows: all in bin 2 */
    near(mon->scores.ks[F_X], 0.4, TOL_STAT, "second window ks");   /* |.6 - 1| at bin 2 */
    assert_int_equal(mon->scores.window_end_ms, 61002);

    observe_x(mon, ten, 6);
    assert_false(monitor_maybe_close(mon, 121001, 60000, 10, 5));   /* 59 999 ms */
    assert_true(monitor_maybe_close(mon, 121002, 60000, 10, 5));    /* 60 000 ms */
    assert_int_equal(mon->scores.rows, 6);
    assert_int_equal(mon->windows_closed, 3);
    bundle_close(&b);
}

#define OBSERVERS 3
#define CLOSES_WHILE_OBSERVED 20

typedef struct observer {
    model_monitor *mon;
    unsigned seed;
    atomic_bool *stop;
    uint64_t observed;
} observer;

static void *observe_loop(void *arg)
{
    observer *o = arg;
    float rows[8 * WIDTH], preds[8];
    for (size_t i = 0; i < 8; i++) {
        row_of(&rows[i * WIDTH], (float)i, "green", (float)i);
        preds[i] = 0.5f;
    }
    while (!atomic_load(o->stop)) {
        o->seed = o->seed * 1103515245u + 12345u;
        size_t n = 1 + (o->seed >> 16) % 8;
        monitor_observe(o->mon, rows, n, WIDTH, preds, 1);
        o->observed += n;
    }
    return NULL;
}

/* Observers count while the main thread closes windows under them; the
 * windows together hold every row. */
static void concurrent_observers_lose_no_rows(void **state)
{
    (void)state;
    bundle b;
    bundle_open(&b, PROFILE_JSON, PREDICTION_JSON, "binary");
    atomic_bool stop = false;
    observer obs[OBSERVERS];
    pthread_t threads[OBSERVERS];
    for (int i = 0; i < OBSERVERS; i++) {
        obs[i] = (observer){ b.mon, 17u * (unsigned)i + 1, &stop, 0 };
        assert_int_equal(pthread_create(&threads[i], NULL, observe_loop, &obs[i]), 0);
    }
    uint64_t seen = 0, closes = 0;
    int64_t now = 1;
    while (closes < CLOSES_WHILE_OBSERVED) {
        if (monitor_maybe_close(b.mon, now++, INT64_MAX / 2, 200, 1)) {
            seen += b.mon->scores.rows;
            closes++;
        }
    }
    atomic_store(&stop, true);
    uint64_t observed = 0;
    for (int i = 0; i < OBSERVERS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        observed += obs[i].observed;
    }
    /* Drain both windows: late adds may sit in either. */
    for (int i = 0; i < 2; i++) {
        assert_true(monitor_maybe_close(b.mon, now++, INT64_MAX / 2, 0, 0));
        seen += b.mon->scores.rows;
        closes++;
    }
    assert_true(observed > 200 * CLOSES_WHILE_OBSERVED);
    assert_int_equal(seen, observed);
    assert_int_equal(b.mon->windows_closed, closes);
    bundle_close(&b);
}

/* ---- rolling performance ---- */

static model_monitor *perf_monitor(bundle *b, const char *task)
{
    bundle_open(b, PROFILE_JSON, NULL, task);
    return b->mon;
}

static void binary_performance_matches_sklearn(void **state)
{
    (void)state;
    bundle b;
    model_monitor *mon = perf_monitor(&b, "binary");
    monitor_perf_values v;
    monitor_perf_compute(mon, &v);
    assert_int_equal(v.n, 0);
    is_nan(v.accuracy, "accuracy, no labels");
    is_nan(v.auc, "auc, no labels");
    is_nan(v.log_loss, "log loss, no labels");
    is_nan(v.rmse, "rmse, no labels");

    /* Ties at 0.2, 0.5 (three, mixed labels) and 0.7. */
    static const float score[20] = { 0.1f, 0.2f, 0.2f, 0.3f, 0.35f, 0.4f, 0.5f, 0.5f, 0.5f, 0.6f,
                                     0.65f, 0.7f, 0.7f, 0.8f, 0.9f, 0.95f, 0.05f, 0.45f, 0.55f,
                                     0.99f };
    static const float label[20] = { 0, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1 };
    monitor_perf_add(mon, score, label, 7);
    monitor_perf_add(mon, score + 7, label + 7, 13);
    monitor_perf_compute(mon, &v);
    assert_int_equal(v.n, 20);
    /* s = np.array(score, dtype=np.float32).astype(np.float64)
     * accuracy_score(y, s >= 0.5), roc_auc_score(y, s), log_loss(y, s) */
    near(v.accuracy, 0.65000000000000002, TOL_STAT, "accuracy");
    near(v.auc, 0.72222222222222221, TOL_STAT, "auc");
    near(v.log_loss, 0.62220422874215719, TOL_STAT, "log loss");
    is_nan(v.rmse, "rmse of a classifier");
    is_nan(v.mae, "mae of a classifier");
    bundle_close(&b);

    /* One class only: accuracy, but no AUC. */
    mon = perf_monitor(&b, "binary");
    static const float ones[3] = { 1, 1, 1 };
    monitor_perf_add(mon, score + 13, ones, 3);   /* 0.8, 0.9, 0.95 */
    monitor_perf_compute(mon, &v);
    near(v.accuracy, 1, 0, "accuracy, one class");
    is_nan(v.auc, "auc, one class");
    near(v.log_loss, -(log((double)0.8f) + log((double)0.9f) + log((double)0.95f)) / 3,
         TOL_STAT, "log loss, one class");
    bundle_close(&b);
}

static void regression_and_multiclass_performance(void **state)
{
    (void)state;
    bundle b;
    model_monitor *mon = perf_monitor(&b, "regression");
    static const float pred[4] = { 1, 2, 3, 4 }, truth[4] = { 1.5f, 2, 2, 6 };
    monitor_perf_add(mon, pred, truth, 4);
    monitor_perf_values v;
    monitor_perf_compute(mon, &v);
    assert_int_equal(v.n, 4);
    near(v.rmse, sqrt((0.25 + 0 + 1 + 4) / 4), TOL_STAT, "rmse");  /* errors .5, 0, 1, 2 */
    near(v.mae, 3.5 / 4, TOL_STAT, "mae");
    is_nan(v.accuracy, "accuracy of a regression");
    is_nan(v.auc, "auc of a regression");
    bundle_close(&b);

    mon = perf_monitor(&b, "multiclass");
    static const float cls[5] = { 0, 1, 2, 2, 1 }, want[5] = { 0, 1, 1, 2, 0 };
    monitor_perf_add(mon, cls, want, 5);
    monitor_perf_compute(mon, &v);
    near(v.accuracy, 0.6, TOL_STAT, "multiclass accuracy");
    is_nan(v.auc, "multiclass auc");
    is_nan(v.log_loss, "multiclass log loss");
    bundle_close(&b);
}

static void performance_ring_keeps_the_last_labels(void **state)
{
    (void)state;
    bundle b;
    model_monitor *mon = perf_monitor(&b, "binary");
    static const float hi = 0.75f, one = 1, zero = 0;
    /* 500 wrong, then a full window of right: the wrong ones are gone. */
    for (int i = 0; i < 500; i++)
        monitor_perf_add(mon, &hi, &zero, 1);
    for (int i = 0; i < MONITOR_PERF_WINDOW; i++)
        monitor_perf_add(mon, &hi, &one, 1);
    monitor_perf_values v;
    monitor_perf_compute(mon, &v);
    assert_int_equal(v.n, MONITOR_PERF_WINDOW);
    near(v.accuracy, 1, 0, "accuracy after the ring wrapped");
    /* A quarter of the window wrong again. */
    for (int i = 0; i < MONITOR_PERF_WINDOW / 4; i++)
        monitor_perf_add(mon, &hi, &zero, 1);
    monitor_perf_compute(mon, &v);
    assert_int_equal(v.n, MONITOR_PERF_WINDOW);
    near(v.accuracy, 0.75, TOL_STAT, "accuracy, a quarter wrong");
    near(v.auc, 0.5, TOL_STAT, "auc, all scores tied");
    assert_int_equal(mon->perf.total, 500 + MONITOR_PERF_WINDOW + MONITOR_PERF_WINDOW / 4);
    bundle_close(&b);
}

/* ---- the feedback table, through POST /feedback ---- */

static served_model *model_new(const char *name, const char *task, bool monitored)
{
    served_model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    atomic_init(&m->refs, 1);
    m->name = strdup(name);
    snprintf(m->version_text, sizeof m->version_text, "1");
    m->version = 1;
    m->task = task;
    if (monitored) {
        bundle b;
        bundle_open(&b, PROFILE_JSON, NULL, task);
        m->mon = b.mon;     /* the monitor keeps no pointer to either */
        keel_encoder_destroy(b.enc);
        json_decref(b.manifest);
    }
    return m;
}

typedef struct feedback_counts {
    int status;
    json_int_t accepted, unknown, expired, invalid;
    char first_error[200];
} feedback_counts;

static feedback_counts post(serve_app *app, const char *body)
{
    keel_http_req req = { .method = "POST", .url = "/feedback", .request_id = "test",
                          .body = body, .body_len = body != NULL ? strlen(body) : 0,
                          .app = app };
    keel_http_resp resp = { .file_fd = -1 };
    keel_buf_init(&resp.body, 1 << 20);
    serve_feedback(&req, &resp);
    feedback_counts c = { .status = resp.status };
    json_error_t je;
    json_t *doc = json_loadb(resp.body.data, resp.body.len, 0, &je);
    if (doc == NULL)
        fail_msg("response is not JSON: %.*s", (int)resp.body.len, resp.body.data);
    json_unpack(doc, "{s?I, s?I, s?I, s?I}", "accepted", &c.accepted, "unknown", &c.unknown,
                "expired", &c.expired, "invalid", &c.invalid);
    const char *e = json_string_value(
        json_object_get(json_array_get(json_object_get(doc, "errors"), 0), "error"));
    if (e == NULL)
        e = json_string_value(json_object_get(doc, "error"));
    snprintf(c.first_error, sizeof c.first_error, "%s", e != NULL ? e : "");
    json_decref(doc);
    keel_buf_free(&resp.body);
    return c;
}

/* Whether the table still knows id (a label for it is accepted). */
static bool known(serve_app *app, const char *id)
{
    char body[128];
    snprintf(body, sizeof body, "{\"request_id\": \"%s\", \"label\": 1}", id);
    feedback_counts c = post(app, body);
    if (c.accepted + c.unknown != 1)
        fail_msg("%s: accepted %lld unknown %lld invalid %lld: %s", id, (long long)c.accepted,
                 (long long)c.unknown, (long long)c.invalid, c.first_error);
    return c.accepted == 1;
}

static void remember1(feedback_table *t, const char *id, served_model *m, float p)
{
    feedback_remember(t, id, 0, m, &p, 1, 1);
}

static void feedback_ring_forgets_the_oldest(void **state)
{
    (void)state;
    serve_app app = { 0 };
    keel_err err;
    assert_int_equal(feedback_table_new(8, 3600 * 1000, &app.feedback, &err), KEEL_OK);
    served_model *m = model_new("m", "binary", true);
    char id[32];
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "req-%d", i);
        remember1(app.feedback, id, m, 0.75f);
    }
    assert_int_equal(atomic_load(&m->refs), 1 + 8);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "req-%d", i);
        if (known(&app, id) != (i >= 12))
            fail_msg("%s: %s", id, i >= 12 ? "forgotten" : "still known");
    }
    assert_int_equal(atomic_load(&app.feedback_joined), 8);
    assert_int_equal(atomic_load(&app.feedback_unknown), 12);
    /* The 8 labels landed on the version's rolling performance. */
    monitor_perf_values v;
    monitor_perf_compute(m->mon, &v);
    assert_int_equal(v.n, 8);
    near(v.accuracy, 1, 0, "joined accuracy");
    /* An id longer than a request id is never remembered (nor does it
     * leave a stale index slot behind). */
    for (int i = 0; i < 64; i++) {
        snprintf(id, sizeof id, "%030d", i);
        char long_id[80];
        snprintf(long_id, sizeof long_id, "%s-and-then-some-more", id);
        remember1(app.feedback, long_id, m, 0.75f);
        assert_false(known(&app, long_id));
    }
    assert_true(known(&app, "req-19"));
    feedback_table_free(app.feedback);
    assert_int_equal(atomic_load(&m->refs), 1);
    served_model_release(m);
}

static void feedback_reused_id_takes_the_newest(void **state)
{
    (void)state;
    serve_app app = { 0 };
    keel_err err;
    assert_int_equal(feedback_table_new(4, 3600 * 1000, &app.feedback, &err), KEEL_OK);
    served_model *m = model_new("m", "binary", true);
    remember1(app.feedback, "dup", m, 0.25f);      /* ring 0 */
    remember1(app.feedback, "a", m, 0.25f);        /* ring 1 */
    remember1(app.feedback, "dup", m, 0.75f);      /* ring 2; ring 0 is stale */
    assert_true(known(&app, "dup"));
    monitor_perf_values v;
    monitor_perf_compute(m->mon, &v);
    near(v.accuracy, 1, 0, "the label joined the newest prediction (0.75)");
    remember1(app.feedback, "b", m, 0.25f);        /* ring 3 */
    remember1(app.feedback, "c", m, 0.25f);        /* ring 0: evicts the stale "dup" */
    assert_true(known(&app, "dup"));
    assert_true(known(&app, "a"));
    remember1(app.feedback, "d", m, 0.25f);        /* ring 1: evicts "a" */
    assert_false(known(&app, "a"));
    assert_true(known(&app, "dup"));
    remember1(app.feedback, "e", m, 0.25f);        /* ring 2: evicts "dup" */
    assert_false(known(&app, "dup"));
    /* Reused while its own entry is the one being evicted. */
    remember1(app.feedback, "f", m, 0.25f);        /* ring 3 */
    remember1(app.feedback, "c", m, 0.75f);        /* ring 0 held "c" */
    assert_true(known(&app, "c"));
    assert_true(known(&app, "d"));
    assert_true(known(&app, "e"));
    assert_true(known(&app, "f"));
    assert_int_equal(atomic_load(&m->refs), 1 + 4);
    feedback_table_free(app.feedback);
    served_model_release(m);
}

/* The table's hash (FNV-1a), to build ids that collide in its index. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Whether id is among the ring's CAP latest remembered ids. */
static bool in_ring(char (*ring)[16], size_t cap, const char *id)
{
    for (size_t r = 0; r < cap; r++)
        if (strcmp(ring[r], id) == 0)
            return true;
    return false;
}

static void feedback_colliding_ids_survive_evictions(void **state)
{
    (void)state;
    /* Capacity 8: 16 index slots. Homes 13, 14, 15, 0, 1 in turn make one
     * probe run that wraps around the end of the index; every third step
     * re-remembers a recent id, deleting from the middle of the run. */
    enum { CAP = 8, SLOTS = 16, N = 60 };
    static const unsigned homes[] = { 15, 14, 0, 15, 13, 1, 15, 0 };
    char ids[N][16];
    unsigned next_name = 0;
    for (int i = 0; i < N; i++) {
        unsigned want = homes[i % (sizeof homes / sizeof homes[0])];
        do
            snprintf(ids[i], sizeof ids[i], "k%u", next_name++);
        while ((fnv1a(ids[i]) & (SLOTS - 1)) != want);
    }
    serve_app app = { 0 };
    keel_err err;
    assert_int_equal(feedback_table_new(CAP, 3600 * 1000, &app.feedback, &err), KEEL_OK);
    served_model *m = model_new("m", "binary", false);
    char ring[CAP][16] = { { 0 } };
    size_t next = 0;
    for (int i = 0; i < N; i++) {
        const char *id = i % 3 == 2 ? ids[i - 2] : ids[i];
        remember1(app.feedback, id, m, 0.5f);
        snprintf(ring[next], sizeof ring[next], "%s", id);
        next = (next + 1) % CAP;
        for (int j = 0; j <= i; j++)
            if (known(&app, ids[j]) != in_ring(ring, CAP, ids[j]))
                fail_msg("after step %d: %s (#%d) %s", i, ids[j], j,
                         in_ring(ring, CAP, ids[j]) ? "lost" : "still known");
    }
    assert_int_equal(atomic_load(&m->refs), 1 + CAP);
    feedback_table_free(app.feedback);
    served_model_release(m);
}

/* Random ids, some reused, against a model of the ring. */
static void feedback_random_ids_match_a_model(void **state)
{
    (void)state;
    enum { CAP = 37, STEPS = 4000 };
    serve_app app = { 0 };
    keel_err err;
    assert_int_equal(feedback_table_new(CAP, 3600 * 1000, &app.feedback, &err), KEEL_OK);
    served_model *m = model_new("m", "regression", false);
    char ring[CAP][16] = { { 0 } };
    size_t next = 0;
    uint32_t seed = 99;
    for (int step = 0; step < STEPS; step++) {
        seed = seed * 1664525u + 1013904223u;
        char id[16];
        snprintf(id, sizeof id, "r%u", (seed >> 8) % 300);   /* many reuses */
        remember1(app.feedback, id, m, 1);
        snprintf(ring[next], sizeof ring[next], "%s", id);
        next = (next + 1) % CAP;
        if (step % 50 != 49)
            continue;
        for (unsigned k = 0; k < 300; k++) {
            snprintf(id, sizeof id, "r%u", k);
            bool expect = in_ring(ring, CAP, id);
            if (known(&app, id) != expect)
                fail_msg("step %d: %s %s", step, id, expect ? "lost" : "still known");
        }
    }
    feedback_table_free(app.feedback);
    assert_int_equal(atomic_load(&m->refs), 1);
    served_model_release(m);
}

static void feedback_refs_follow_each_version(void **state)
{
    (void)state;
    serve_app app = { 0 };
    keel_err err;
    assert_int_equal(feedback_table_new(8, 3600 * 1000, &app.feedback, &err), KEEL_OK);
    served_model *v1 = model_new("m", "binary", false), *v2 = model_new("m", "binary", false);
    char id[16];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "a%d", i);
        remember1(app.feedback, id, i % 2 ? v2 : v1, 0.5f);
    }
    assert_int_equal(atomic_load(&v1->refs), 1 + 4);   /* a2 a4 a6 a8 */
    assert_int_equal(atomic_load(&v2->refs), 1 + 4);   /* a3 a5 a7 a9 */
    /* A swapped-out version lives on while the table remembers it. */
    served_model_release(v1);
    for (int i = 10; i < 14; i++) {
        snprintf(id, sizeof id, "a%d", i);
        remember1(app.feedback, id, v2, 0.5f);
    }
    assert_true(known(&app, "a8"));
    assert_int_equal(atomic_load(&v2->refs), 1 + 6);
    feedback_table_free(app.feedback);
    assert_int_equal(atomic_load(&v2->refs), 1);
    served_model_release(v2);   /* ASan reports a leak if either is not freed */
}

static void feedback_handler_validates_labels(void **state)
{
    (void)state;
    serve_app app = { 0 };
    feedback_counts c = post(&app, "{\"request_id\": \"x\", \"label\": 1}");
    assert_int_equal(c.status, 404);                /* --feedback-capacity 0 */

    keel_err err;
    assert_int_equal(feedback_table_new(16, 3600 * 1000, &app.feedback, &err), KEEL_OK);
    served_model *m = model_new("m", "multiclass", true);
    m->manifest = json_of("{\"classes\": [\"cat\", \"dog\", 7]}");
    m->classes = json_object_get(m->manifest, "classes");
    /* 2 rows x 3 classes: predicted classes 2 and 0 */
    static const float probs[6] = { 0.1f, 0.2f, 0.7f, 0.5f, 0.3f, 0.2f };
    feedback_remember(app.feedback, "two", 0, m, probs, 2, 3);
    static const float many[9] = { 0 };
    feedback_remember(app.feedback, "nine", 0, m, many, 9, 1);   /* over FEEDBACK_ROWS */

    c = post(&app, "not json");
    assert_int_equal(c.status, 400);
    c = post(&app, "[1]");
    assert_int_equal(c.status, 400);
    c = post(&app, "{\"feedback\": 3}");
    assert_int_equal(c.status, 400);
    c = post(&app, "{\"request_id\": \"two\", \"label\": 1, \"labels\": [1, 2]}");
    assert_int_equal(c.status, 400);
    assert_int_equal(c.invalid, 1);
    c = post(&app, "{\"request_id\": \"two\", \"labels\": [1]}");
    assert_int_equal(c.invalid, 1);
    assert_non_null(strstr(c.first_error, "predicted 2 row(s)"));
    c = post(&app, "{\"request_id\": \"two\", \"labels\": [\"7\", \"bird\"]}");
    assert_int_equal(c.invalid, 1);
    assert_non_null(strstr(c.first_error, "'bird' is not a class"));
    c = post(&app, "{\"request_id\": \"nine\", \"labels\": [0,0,0,0,0,0,0,0,0]}");
    assert_int_equal(c.invalid, 1);
    c = post(&app, "{\"request_id\": \"two\", \"labels\": [null, 0]}");
    assert_int_equal(c.invalid, 1);
    monitor_perf_values v;
    monitor_perf_compute(m->mon, &v);
    assert_int_equal(v.n, 0);

    /* A batch: class names (7 is a number class), indices, unknown ids. */
    c = post(&app, "{\"feedback\": [{\"request_id\": \"two\", \"labels\": [\"7\", \"cat\"]},"
                   " {\"request_id\": \"two\", \"labels\": [1, true]},"
                   " {\"request_id\": \"nope\", \"label\": 1},"
                   " {\"label\": 1}]}");
    assert_int_equal(c.status, 200);
    assert_int_equal(c.accepted, 2);
    assert_int_equal(c.unknown, 1);
    assert_int_equal(c.invalid, 1);
    monitor_perf_compute(m->mon, &v);
    assert_int_equal(v.n, 4);
    near(v.accuracy, 0.5, TOL_STAT, "classes 2,0 against 2,0 then 1,1");
    assert_int_equal(atomic_load(&app.feedback_joined), 2);
    feedback_table_free(app.feedback);

    /* A TTL in the past: every remembered prediction has expired. */
    assert_int_equal(feedback_table_new(4, -1, &app.feedback, &err), KEEL_OK);
    feedback_remember(app.feedback, "old", 0, m, probs, 1, 3);
    c = post(&app, "{\"request_id\": \"old\", \"label\": \"dog\"}");
    assert_int_equal(c.expired, 1);
    assert_int_equal(c.status, 200);
    assert_int_equal(atomic_load(&m->refs), 2);
    feedback_table_free(app.feedback);
    assert_int_equal(atomic_load(&m->refs), 1);
    served_model_release(m);
}

/* A numeric column of few distinct values (a 0/1 flag) is bucketed by its
 * values, so a shift between them shows; its deciles alone are one bin. */
static void discrete_column_drift_shows(void **state)
{
    (void)state;
    keel_encoder *enc = encoder_of(ENCODER_JSON);
    json_t *manifest = json_of("{\"reference_profile\": {\"columns\": {"
                               "\"x\": {\"missing_rate\": 0, \"bins\": [0, 1], \"bin_counts\": [100],"
                               " \"values\": [0, 1], \"value_counts\": [30, 70]}}}}");
    model_monitor *mon = monitor_new(manifest, enc, "regression");
    assert_non_null(mon);
    assert_int_equal(mon->features[0].n_buckets, 3);   /* 0, 1, other */
    /* 7 zeros, 3 ones, one 2 (unseen and out of range) */
    float rows[11 * WIDTH];
    static const float xs[11] = { 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2 };
    for (size_t i = 0; i < 11; i++)
        row_of(&rows[i * WIDTH], xs[i], "blue", 0);
    monitor_observe(mon, rows, 11, WIDTH, NULL, 0);
    assert_true(monitor_maybe_close(mon, 1000, 60000, 11, 1));
    /* p = [.3, .7, 0], q = [7, 3, 1]/11; shares floored at 1e-4:
     * sum((q - p) * log(q / p)) */
    double p[3] = { 0.3, 0.7, 1e-4 }, q[3] = { 7.0 / 11, 3.0 / 11, 1.0 / 11 }, psi = 0;
    for (int i = 0; i < 3; i++)
        psi += (q[i] - p[i]) * log(q[i] / p[i]);
    near(mon->scores.psi[0], psi, TOL_STAT, "flag psi");
    near(mon->scores.ks[0], fabs(0.3 - 7.0 / 11), TOL_STAT, "flag ks");
    near(mon->scores.w1[0], fabs(0.3 - 7.0 / 11) * 1, TOL_STAT, "flag w1 (between 0 and 1)");
    assert_int_equal(mon->scores.out_of_range[0], 1);
    monitor_free(mon);
    json_decref(manifest);
    keel_encoder_destroy(enc);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(monitor_new_reads_the_reference),
        cmocka_unit_test(window_measures_match_scipy),
        cmocka_unit_test(discrete_column_drift_shows),
        cmocka_unit_test(chi_square_p_values_match_scipy),
        cmocka_unit_test(training_rows_show_no_drift),
        cmocka_unit_test(windows_close_by_rows_and_time_after_min_rows),
        cmocka_unit_test(concurrent_observers_lose_no_rows),
        cmocka_unit_test(binary_performance_matches_sklearn),
        cmocka_unit_test(regression_and_multiclass_performance),
        cmocka_unit_test(performance_ring_keeps_the_last_labels),
        cmocka_unit_test(feedback_ring_forgets_the_oldest),
        cmocka_unit_test(feedback_reused_id_takes_the_newest),
        cmocka_unit_test(feedback_colliding_ids_survive_evictions),
        cmocka_unit_test(feedback_random_ids_match_a_model),
        cmocka_unit_test(feedback_refs_follow_each_version),
        cmocka_unit_test(feedback_handler_validates_labels),
    };
    return keel_test_main(argc, argv, "serve_monitor", tests);
}
