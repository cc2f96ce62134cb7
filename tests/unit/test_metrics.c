/*
 * test_metrics.c — keel's own evaluation metrics: binary, multiclass and
 * regression against hand-computed values on small inputs (ties in AUC,
 * log-loss clipping, the 0.5 threshold, NaN labels, degenerate inputs), and
 * against scikit-learn on random data.
 */
#include "testutil.h"

#include <keel/train.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PYTHON "/usr/bin/python3"

/* ---- helpers ---- */

/* A small deterministic generator (splitmix64 over a counter). */
typedef struct rng {
    uint64_t state;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (tolerance %g)", got, want, tol);
}

/* True when Debian's python has scikit-learn; tests that need it skip otherwise. */
static bool have_sklearn(void)
{
    return keel_test_sh(PYTHON " -c 'import sklearn.metrics' >/dev/null 2>&1") == 0;
}

/* Runs a python script (no single quotes in it) with argv[1] = in, argv[2] =
 * out, and reads the whitespace-separated numbers it wrote to out. */
static void run_python(const char *script, const char *in, const char *out, double *values,
                       size_t n)
{
    int rc = keel_test_sh(PYTHON " -c '%s' '%s' '%s'", script, in, out);
    if (rc != 0)
        fail_msg("python exited with %d", rc);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        char word[128];
        if (fscanf(f, "%127s", word) != 1)
            fail_msg("python wrote fewer than %zu values", n);
        values[i] = strtod(word, NULL);
    }
    fclose(f);
}

/* ---- binary ---- */

static void binary_hand_computed(void **state)
{
    (void)state;
    /* Classic example: one inverted pair of four -> AUC 0.75. */
    double y[] = { 0, 0, 1, 1 };
    double p[] = { 0.1, 0.4, 0.35, 0.8 };
    keel_eval e;
    keel_err err;
    assert_int_equal(keel_eval_binary(y, p, 4, &e, &err), KEEL_OK);
    assert_int_equal(e.task, KEEL_TASK_BINARY);
    assert_int_equal(e.n, 4);
    assert_close(e.auc, 0.75, 1e-12);
    double ll = -(log(0.9) + log(0.6) + log(0.35) + log(0.8)) / 4;
    assert_close(e.logloss, ll, 1e-12);
    /* At 0.5 only 0.8 is positive: tp 1, fp 0, fn 1. */
    assert_close(e.accuracy, 0.75, 1e-12);
    assert_close(e.precision, 1.0, 1e-12);
    assert_close(e.recall, 0.5, 1e-12);
    assert_close(e.f1, 2.0 / 3.0, 1e-12);
}

static void binary_ties_count_half(void **state)
{
    (void)state;
    /* Positives score 0.5 and 0.9, negatives 0.5 and 0.2: pairs 0.5 (tie),
     * 1, 1, 1 of 4 -> 0.875. */
    double y[] = { 0, 1, 0, 1 };
    double p[] = { 0.5, 0.5, 0.2, 0.9 };
    keel_eval e;
    keel_err err;
    assert_int_equal(keel_eval_binary(y, p, 4, &e, &err), KEEL_OK);
    assert_close(e.auc, 0.875, 1e-12);
    /* 0.5 itself counts as a positive prediction: tp 2, fp 1, fn 0. */
    assert_close(e.precision, 2.0 / 3.0, 1e-12);
    assert_close(e.recall, 1.0, 1e-12);
    assert_close(e.f1, 0.8, 1e-12);
    assert_close(e.accuracy, 0.75, 1e-12);

    /* Every score equal: AUC is exactly one half. */
    double same[] = { 0.3, 0.3, 0.3, 0.3 };
    assert_int_equal(keel_eval_binary(y, same, 4, &e, &err), KEEL_OK);
    assert_close(e.auc, 0.5, 1e-12);
    /* Perfectly inverted ranking. */
    double inv[] = { 0.9, 0.1, 0.8, 0.2 };
    assert_int_equal(keel_eval_binary(y, inv, 4, &e, &err), KEEL_OK);
    assert_close(e.auc, 0.0, 1e-12);
    /* Nothing predicted positive: precision and F1 are 0, not NaN. */
    assert_close(e.recall, 0.0, 1e-12);
    double low[] = { 0.1, 0.2, 0.3, 0.4 };
    assert_int_equal(keel_eval_binary(y, low, 4, &e, &err), KEEL_OK);
    assert_close(e.precision, 0.0, 0);
    assert_close(e.recall, 0.0, 0);
    assert_close(e.f1, 0.0, 0);
    assert_close(e.accuracy, 0.5, 1e-12);
}

static void binary_logloss_clips(void **state)
{
    (void)state;
    /* Certain and right, certain and wrong: finite, as scikit-learn's
     * clipping to [1e-15, 1 - 1e-15] gives. */
    double y[] = { 1, 0, 0, 1 };
    double p[] = { 1.0, 1.0, 0.0, 0.0 };
    keel_eval e;
    keel_err err;
    assert_int_equal(keel_eval_binary(y, p, 4, &e, &err), KEEL_OK);
    assert_true(isfinite(e.logloss));
    double hi = 1 - 1e-15;
    double want = -(log(hi) + log(1 - hi) + log(1 - 1e-15) + log(1e-15)) / 4;
    assert_close(e.logloss, want, 1e-12);
    /* Two wrong of four, each about -log(1e-15) = 34.54. */
    assert_close(e.logloss, 2 * 34.538776394910684 / 4, 1e-3);
}

static void binary_skips_nan_and_rejects_empty(void **state)
{
    (void)state;
    keel_eval e;
    keel_err err;
    /* The NaN-labelled row would make the ranking imperfect if counted. */
    double y[] = { 0, NAN, 1, 0 };
    double p[] = { 0.2, 0.99, 0.7, 0.1 };
    assert_int_equal(keel_eval_binary(y, p, 4, &e, &err), KEEL_OK);
    assert_int_equal(e.n, 3);
    assert_close(e.auc, 1.0, 1e-12);
    assert_close(e.accuracy, 1.0, 1e-12);
    /* A NaN prediction is skipped too. */
    double y2[] = { 0, 1, 1 };
    double p2[] = { 0.9, NAN, 0.95 };
    assert_int_equal(keel_eval_binary(y2, p2, 3, &e, &err), KEEL_OK);
    assert_int_equal(e.n, 2);
    assert_close(e.auc, 1.0, 1e-12);

    /* One class only: AUC is undefined, the rest is computed. */
    double ones[] = { 1, 1, 1 };
    double q[] = { 0.2, 0.6, 0.9 };
    assert_int_equal(keel_eval_binary(ones, q, 3, &e, &err), KEEL_OK);
    assert_true(isnan(e.auc));
    assert_close(e.recall, 2.0 / 3.0, 1e-12);
    assert_close(e.precision, 1.0, 1e-12);
    double zeros[] = { 0, 0, 0 };
    assert_int_equal(keel_eval_binary(zeros, q, 3, &e, &err), KEEL_OK);
    assert_true(isnan(e.auc));

    assert_int_equal(keel_eval_binary(NULL, NULL, 0, &e, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "no rows"));
    double all_nan[] = { NAN, NAN };
    assert_int_equal(keel_eval_binary(all_nan, q, 2, &e, &err), KEEL_EINVAL);
}

/* ---- multiclass ---- */

static void multiclass_hand_computed(void **state)
{
    (void)state;
    double y[] = { 0, 1, 2, 1 };
    double p[] = {
        0.7, 0.2, 0.1,   /* -> 0, right */
        0.1, 0.6, 0.3,   /* -> 1, right */
        0.2, 0.5, 0.3,   /* -> 1, wrong (is 2) */
        0.3, 0.3, 0.4,   /* -> 2, wrong (is 1) */
    };
    keel_eval e;
    keel_err err;
    assert_int_equal(keel_eval_multiclass(y, p, 4, 3, &e, &err), KEEL_OK);
    assert_int_equal(e.task, KEEL_TASK_MULTICLASS);
    assert_int_equal(e.n, 4);
    assert_close(e.accuracy, 0.5, 1e-12);
    assert_close(e.logloss, -(log(0.7) + log(0.6) + log(0.3) + log(0.3)) / 4, 1e-12);
    /* F1 per class: 1, 0.5, 0 -> macro 0.5. */
    assert_close(e.f1, 0.5, 1e-12);
    assert_true(isnan(e.auc));

    /* Labels that are NaN or outside 0..k-1 are skipped. */
    double y2[] = { 0, NAN, 3, -1, 1 };
    double p2[] = {
        0.8, 0.1, 0.1,
        0.1, 0.1, 0.8,
        0.1, 0.1, 0.8,
        0.1, 0.1, 0.8,
        0.0, 1.0, 0.0,
    };
    assert_int_equal(keel_eval_multiclass(y2, p2, 5, 3, &e, &err), KEEL_OK);
    assert_int_equal(e.n, 2);
    assert_close(e.accuracy, 1.0, 1e-12);
    /* Class 2 never occurs nor is predicted: its F1 counts as 0 in the macro. */
    assert_close(e.f1, 2.0 / 3.0, 1e-12);
    /* A zero probability on the true class is clipped, not infinite. */
    double y3[] = { 0 };
    double p3[] = { 0.0, 1.0 };
    assert_int_equal(keel_eval_multiclass(y3, p3, 1, 2, &e, &err), KEEL_OK);
    assert_close(e.logloss, -log(1e-15), 1e-9);

    assert_int_equal(keel_eval_multiclass(y, p, 4, 1, &e, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "2 classes"));
    assert_int_equal(keel_eval_multiclass(NULL, NULL, 0, 3, &e, &err), KEEL_EINVAL);
    double bad[] = { 7, NAN };
    assert_int_equal(keel_eval_multiclass(bad, p, 2, 3, &e, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "valid class"));
}

/* ---- regression ---- */

static void regression_hand_computed(void **state)
{
    (void)state;
    double y[] = { 1, 2, 3, 4, NAN };
    double p[] = { 1.5, 2, 2.5, 5, 100 };
    keel_eval e;
    keel_err err;
    assert_int_equal(keel_eval_regression(y, p, 5, &e, &err), KEEL_OK);
    assert_int_equal(e.task, KEEL_TASK_REGRESSION);
    assert_int_equal(e.n, 4);
    /* errors -0.5, 0, 0.5, -1: SSE 1.5; mean 2.5, SST 5. */
    assert_close(e.rmse, sqrt(1.5 / 4), 1e-12);
    assert_close(e.mae, 0.5, 1e-12);
    assert_close(e.r2, 0.7, 1e-12);

    /* Predicting the mean gives R² 0; a worse guess is negative. */
    double mean[] = { 2.5, 2.5, 2.5, 2.5 };
    assert_int_equal(keel_eval_regression(y, mean, 4, &e, &err), KEEL_OK);
    assert_close(e.r2, 0.0, 1e-12);
    double off[] = { 4, 3, 2, 1 };
    assert_int_equal(keel_eval_regression(y, off, 4, &e, &err), KEEL_OK);
    assert_close(e.r2, 1 - 20.0 / 5.0, 1e-12);

    /* A constant target leaves R² undefined. */
    double c[] = { 3, 3, 3 };
    assert_int_equal(keel_eval_regression(c, p, 3, &e, &err), KEEL_OK);
    assert_true(isnan(e.r2));
    assert_close(e.mae, (1.5 + 1 + 0.5) / 3, 1e-12);

    assert_int_equal(keel_eval_regression(NULL, NULL, 0, &e, &err), KEEL_EINVAL);
    double nan_y[] = { NAN };
    assert_int_equal(keel_eval_regression(nan_y, p, 1, &e, &err), KEEL_EINVAL);
}

static void metric_lists_follow_the_task(void **state)
{
    (void)state;
    const char *keys[8];
    double values[8];
    keel_eval e = { .task = KEEL_TASK_BINARY, .auc = 0.9, .logloss = 0.3, .accuracy = 0.8,
                    .precision = 0.7, .recall = 0.6, .f1 = 0.65 };
    assert_int_equal(keel_eval_metrics(&e, keys, values), 6);
    assert_string_equal(keys[0], "auc");
    assert_close(values[0], 0.9, 0);
    assert_string_equal(keys[5], "f1");
    assert_close(values[5], 0.65, 0);
    e.task = KEEL_TASK_MULTICLASS;
    assert_int_equal(keel_eval_metrics(&e, keys, values), 3);
    assert_string_equal(keys[2], "f1_macro");
    assert_close(values[2], 0.65, 0);
    keel_eval r = { .task = KEEL_TASK_REGRESSION, .rmse = 1, .mae = 2, .r2 = 3 };
    assert_int_equal(keel_eval_metrics(&r, keys, values), 3);
    assert_string_equal(keys[0], "rmse");
    assert_string_equal(keys[1], "mae");
    assert_string_equal(keys[2], "r2");
    assert_close(values[1], 2, 0);
    assert_string_equal(keel_task_name(KEEL_TASK_MULTICLASS), "multiclass");
    assert_string_equal(keel_task_name((enum keel_task)9), "unknown");
}

/* ---- against scikit-learn ---- */

typedef struct pyfiles {
    char dir[PATH_MAX];
    char in[PATH_MAX + 16];
    char out[PATH_MAX + 16];
} pyfiles;

static void pyfiles_init(pyfiles *pf)
{
    keel_test_tmpdir(pf->dir);
    snprintf(pf->in, sizeof pf->in, "%s/in.csv", pf->dir);
    snprintf(pf->out, sizeof pf->out, "%s/out.txt", pf->dir);
}

static const char binary_script[] =
    "import sys, numpy as np\n"
    "from sklearn import metrics as m\n"
    "d = np.loadtxt(sys.argv[1], delimiter=\",\")\n"
    "y, p = d[:, 0], d[:, 1]\n"
    "yp = (p >= 0.5).astype(float)\n"
    "v = [m.roc_auc_score(y, p), m.log_loss(y, p), m.accuracy_score(y, yp),\n"
    "     m.precision_score(y, yp), m.recall_score(y, yp), m.f1_score(y, yp)]\n"
    "open(sys.argv[2], \"w\").write(\" \".join(repr(float(x)) for x in v))\n";

static void binary_matches_sklearn(void **state)
{
    (void)state;
    if (!have_sklearn())
        skip();
    pyfiles pf;
    pyfiles_init(&pf);
    enum { N = 997 };
    static double y[N], p[N];
    rng r = { 20240501 };
    FILE *f = fopen(pf.in, "w");
    assert_non_null(f);
    for (size_t i = 0; i < N; i++) {
        y[i] = rng_uniform(&r) < 0.35 ? 1 : 0;
        /* Informative but noisy scores, rounded to create many ties. */
        double s = 0.3 * y[i] + 0.7 * rng_uniform(&r);
        p[i] = round(s * 50) / 50;
        if (p[i] <= 0)
            p[i] = 0.001;
        if (p[i] >= 1)
            p[i] = 0.999;
        fprintf(f, "%.17g,%.17g\n", y[i], p[i]);
    }
    fclose(f);
    double want[6];
    run_python(binary_script, pf.in, pf.out, want, 6);
    keel_eval e;
    keel_err err;
    assert_int_equal(keel_eval_binary(y, p, N, &e, &err), KEEL_OK);
    assert_close(e.auc, want[0], 1e-9);
    assert_close(e.logloss, want[1], 1e-9);
    assert_close(e.accuracy, want[2], 1e-9);
    assert_close(e.precision, want[3], 1e-9);
    assert_close(e.recall, want[4], 1e-9);
    assert_close(e.f1, want[5], 1e-9);
    /* The data is informative, so this is not a degenerate comparison. */
    assert_true(e.auc > 0.6 && e.auc < 1);
    keel_test_rmrf(pf.dir);
}

static const char multiclass_script[] =
    "import sys, numpy as np\n"
    "from sklearn import metrics as m\n"
    "d = np.loadtxt(sys.argv[1], delimiter=\",\")\n"
    "y, p = d[:, 0].astype(int), d[:, 1:]\n"
    "k = p.shape[1]\n"
    "yp = p.argmax(axis=1)\n"
    "v = [m.accuracy_score(y, yp), m.log_loss(y, p, labels=list(range(k))),\n"
    "     m.f1_score(y, yp, average=\"macro\", labels=list(range(k)))]\n"
    "open(sys.argv[2], \"w\").write(\" \".join(repr(float(x)) for x in v))\n";

static void multiclass_matches_sklearn(void **state)
{
    (void)state;
    if (!have_sklearn())
        skip();
    pyfiles pf;
    pyfiles_init(&pf);
    enum { N = 800, K = 4 };
    static double y[N], p[N * K];
    rng r = { 77 };
    FILE *f = fopen(pf.in, "w");
    assert_non_null(f);
    for (size_t i = 0; i < N; i++) {
        y[i] = (double)(rng_next(&r) % K);
        double sum = 0;
        for (size_t c = 0; c < K; c++) {
            double w = 0.05 + rng_uniform(&r) + (c == (size_t)y[i] ? 0.6 : 0);
            p[i * K + c] = w;
            sum += w;
        }
        fprintf(f, "%.17g", y[i]);
        for (size_t c = 0; c < K; c++) {
            p[i * K + c] /= sum;
            fprintf(f, ",%.17g", p[i * K + c]);
        }
        fputc('\n', f);
    }
    fclose(f);
    double want[3];
    run_python(multiclass_script, pf.in, pf.out, want, 3);
    keel_eval e;
    keel_err err;
    assert_int_equal(keel_eval_multiclass(y, p, N, K, &e, &err), KEEL_OK);
    assert_close(e.accuracy, want[0], 1e-9);
    assert_close(e.logloss, want[1], 1e-9);
    assert_close(e.f1, want[2], 1e-9);
    assert_true(e.accuracy > 0.3 && e.accuracy < 1);
    keel_test_rmrf(pf.dir);
}

static const char regression_script[] =
    "import sys, numpy as np\n"
    "from sklearn import metrics as m\n"
    "d = np.loadtxt(sys.argv[1], delimiter=\",\")\n"
    "y, p = d[:, 0], d[:, 1]\n"
    "v = [np.sqrt(m.mean_squared_error(y, p)), m.mean_absolute_error(y, p), m.r2_score(y, p)]\n"
    "open(sys.argv[2], \"w\").write(\" \".join(repr(float(x)) for x in v))\n";

static void regression_matches_sklearn(void **state)
{
    (void)state;
    if (!have_sklearn())
        skip();
    pyfiles pf;
    pyfiles_init(&pf);
    enum { N = 1000 };
    static double y[N + 1], p[N + 1];
    rng r = { 5 };
    FILE *f = fopen(pf.in, "w");
    assert_non_null(f);
    for (size_t i = 0; i < N; i++) {
        double x = rng_uniform(&r) * 10 - 5;
        y[i] = 3 * x + 100 + (rng_uniform(&r) - 0.5) * 8;
        p[i] = 3 * x + 100 + (rng_uniform(&r) - 0.5) * 6;
        fprintf(f, "%.17g,%.17g\n", y[i], p[i]);
    }
    fclose(f);
    /* A row with a NaN label is skipped (it is not in the file). */
    y[N] = NAN;
    p[N] = 1e6;
    double want[3];
    run_python(regression_script, pf.in, pf.out, want, 3);
    keel_eval e;
    keel_err err;
    assert_int_equal(keel_eval_regression(y, p, N + 1, &e, &err), KEEL_OK);
    assert_int_equal(e.n, N);
    assert_close(e.rmse, want[0], 1e-9);
    assert_close(e.mae, want[1], 1e-9);
    assert_close(e.r2, want[2], 1e-9);
    assert_true(e.r2 > 0.5 && e.r2 < 1);
    keel_test_rmrf(pf.dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(binary_hand_computed),
        cmocka_unit_test(binary_ties_count_half),
        cmocka_unit_test(binary_logloss_clips),
        cmocka_unit_test(binary_skips_nan_and_rejects_empty),
        cmocka_unit_test(multiclass_hand_computed),
        cmocka_unit_test(regression_hand_computed),
        cmocka_unit_test(metric_lists_follow_the_task),
        cmocka_unit_test(binary_matches_sklearn),
        cmocka_unit_test(multiclass_matches_sklearn),
        cmocka_unit_test(regression_matches_sklearn),
    };
    return keel_test_main(argc, argv, "metrics", tests);
}
