/*
 * test_model.c — the inference runtime against libxgboost itself: models
 * trained here (binary on adult, multi-class on iris, regression on bike,
 * every supported objective, dart, random forests) with missing values in
 * the data must predict what XGBoosterPredictFromDMatrix predicts for every
 * row; a model saved by Python's xgboost must too; and broken model JSON
 * must fail at load with an error naming the field.
 */
#include "testutil.h"

#include "model/model_internal.h"
#include "train/xgb.h"

#include <keel/data.h>
#include <keel/encode.h>
#include <keel/model.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct dataset {
    float *x, *y;
    size_t rows, cols;
} dataset;

static void dataset_free(dataset *d)
{
    free(d->x);
    free(d->y);
}

static const char *data_path(const char *name, char out[PATH_MAX])
{
    const char *dir = getenv("KEEL_TEST_DATA");
    snprintf(out, PATH_MAX, "%s/../../examples/data/%s", dir ? dir : "tests/data", name);
    return out;
}

/* Reads a CSV, encodes every column but target and drop, and labels rows by
 * label_of (the target's number, or its string's index in classes). About
 * one value in 20 is then made missing. */
static void load_dataset(const char *path, size_t max_rows, const char *target, const char *drop,
                         const char *const *classes, size_t n_classes, dataset *out)
{
    keel_err err;
    keel_frame *f = NULL;
    keel_csv_options opts = {.max_rows = max_rows};
    assert_int_equal(keel_csv_read(path, &opts, &f, &err), KEEL_OK);
    const char *exclude[2] = {target, drop};
    keel_encoder *enc = NULL;
    assert_int_equal(keel_encoder_fit(f, NULL, 0, exclude, drop ? 2 : 1, KEEL_DEFAULT_MAX_ONEHOT,
                                      &enc, &err),
                     KEEL_OK);
    out->rows = f->n_rows;
    out->cols = enc->n_features;
    out->x = malloc(out->rows * out->cols * sizeof *out->x);
    out->y = malloc(out->rows * sizeof *out->y);
    assert_non_null(out->x);
    assert_int_equal(keel_encoder_transform(enc, f, NULL, f->n_rows, out->x, NULL, &err), KEEL_OK);
    const keel_column *c = keel_frame_column(f, target);
    assert_non_null(c);
    for (size_t r = 0; r < out->rows; r++) {
        if (n_classes == 0) {
            out->y[r] = (float)keel_column_number(c, r);
            continue;
        }
        const char *s = c->dict[c->codes[r]];
        out->y[r] = -1;
        for (size_t k = 0; k < n_classes; k++)
            if (strcmp(s, classes[k]) == 0)
                out->y[r] = (float)k;
        assert_true(out->y[r] >= 0);
    }
    uint32_t state = 12345;
    for (size_t i = 0; i < out->rows * out->cols; i++) {
        state = state * 1664525u + 1013904223u;
        if ((state >> 24) % 20 == 0)
            out->x[i] = NAN;
    }
    keel_encoder_destroy(enc);
    keel_frame_destroy(f);
}

/* Trains `rounds` rounds with params ("k=v" strings), nthread 1. */
static BoosterHandle train(const dataset *d, const char *const *params, int rounds,
                           DMatrixHandle *out_matrix)
{
    keel_err err;
    DMatrixHandle dm;
    assert_int_equal(xgb_matrix(d->x, d->rows, d->cols, d->y, NULL, &dm, &err), KEEL_OK);
    BoosterHandle b;
    assert_int_equal(xgb_booster(&dm, 1, &b, &err), KEEL_OK);
    assert_int_equal(xgb_set(b, "nthread", "1", &err), KEEL_OK);
    assert_int_equal(xgb_set(b, "seed", "7", &err), KEEL_OK);
    for (size_t i = 0; params[i] != NULL; i += 2)
        if (xgb_set(b, params[i], params[i + 1], &err) != KEEL_OK)
            fail_msg("%s=%s: %s", params[i], params[i + 1], err.msg);
    for (int i = 0; i < rounds; i++)
        if (xgb_update(b, i, dm, &err) != KEEL_OK)
            fail_msg("round %d: %s", i, err.msg);
    *out_matrix = dm;
    return b;
}

static bool close_enough(float a, float b)
{
    double d = fabs((double)a - (double)b);
    return d < 1e-7 || d <= 1e-6 * fmax(fabs((double)a), fabs((double)b));
}

/* Compares keel's predictions (every strategy, margin and not) with
 * XGBoost's for every row of d. */
static void compare(BoosterHandle b, DMatrixHandle dm, const dataset *d, const char *what)
{
    keel_err err;
    const char *json;
    size_t len;
    assert_int_equal(xgb_save_json(b, &json, &len, &err), KEEL_OK);
    keel_model *m = NULL;
    if (keel_model_load(json, len, &m, &err) != KEEL_OK)
        fail_msg("%s: %s", what, err.msg);
    assert_true(keel_model_num_features(m) <= d->cols);
    size_t nf = keel_model_num_features(m);
    /* The model may read fewer columns than the data has. */
    float *x = malloc(d->rows * (nf ? nf : 1) * sizeof *x);
    for (size_t r = 0; r < d->rows; r++)
        memcpy(x + r * nf, d->x + r * d->cols, nf * sizeof *x);
    size_t no = keel_model_num_outputs(m);
    float *out = malloc(d->rows * no * sizeof *out);
    float *out2 = malloc(d->rows * no * sizeof *out2);
    for (int margin = 0; margin <= 1; margin++) {
        bool argmax_margin = margin && m->transform == KEEL_TF_ARGMAX;
        char config[160];
        snprintf(config, sizeof config,
                 "{\"type\": %d, \"training\": false, \"iteration_begin\": 0, "
                 "\"iteration_end\": 0, \"strict_shape\": false}",
                 margin && !argmax_margin);
        const bst_ulong *shape;
        bst_ulong dim;
        const float *want;
        assert_int_equal(XGBoosterPredictFromDMatrix(b, dm, config, &shape, &dim, &want), 0);
        size_t total = 1;
        for (bst_ulong i = 0; i < dim; i++)
            total *= (size_t)shape[i];
        assert_int_equal(total, d->rows * no);
        keel_model_predict(m, x, d->rows, margin, out);
        size_t bad = 0;
        double worst = 0;
        for (size_t i = 0; i < total; i++) {
            if (!close_enough(out[i], want[i])) {
                if (bad < 3)
                    print_message("%s margin=%d: [%zu] keel %.9g xgboost %.9g\n", what, margin,
                                  i, (double)out[i], (double)want[i]);
                bad++;
            }
            double diff = fabs((double)out[i] - want[i]);
            if (diff > worst)
                worst = diff;
        }
        if (bad > 0)
            fail_msg("%s margin=%d: %zu of %zu predictions differ", what, margin, bad, total);
        /* Every strategy gives the same bits, and so does row-at-a-time. */
        keel_model_predict_with(m, x, d->rows, margin, out2, KEEL_MODEL_ROWS_OUTER);
        assert_memory_equal(out, out2, total * sizeof *out);
        keel_model_predict_with(m, x, d->rows, margin, out2, KEEL_MODEL_TREES_OUTER);
        assert_memory_equal(out, out2, total * sizeof *out);
        keel_model_predict_with(m, x, d->rows, margin, out2, KEEL_MODEL_SCALAR_TREES_OUTER);
        assert_memory_equal(out, out2, total * sizeof *out);
        keel_model_predict_with(m, x, d->rows, margin, out2, KEEL_MODEL_SCALAR_ROWS_OUTER);
        assert_memory_equal(out, out2, total * sizeof *out);
        keel_model_predict_with(m, x, d->rows, margin, out2, KEEL_MODEL_NODES_ROWS_OUTER);
        assert_memory_equal(out, out2, total * sizeof *out);
        keel_model_predict_with(m, x, d->rows, margin, out2, KEEL_MODEL_NODES_TREES_OUTER);
        assert_memory_equal(out, out2, total * sizeof *out);
        for (size_t r = 0; r < d->rows; r += 97)
            keel_model_predict(m, x + r * nf, 1, margin, out2 + r * no);
        for (size_t r = 0; r < d->rows; r += 97)
            assert_memory_equal(out + r * no, out2 + r * no, no * sizeof *out);
        if (margin == 0)
            print_message("%-28s %zu rows x %zu outputs, %zu trees, %zu nodes, perfect depth "
                          "%u: max |diff| %.3g\n",
                          what, d->rows, no, keel_model_num_trees(m), m->n_nodes,
                          m->perfect_depth, worst);
        /* Real trees, not stumps: the comparison must mean something. */
        assert_true(m->n_nodes > 3 * keel_model_num_trees(m));
    }
    free(x);
    free(out);
    free(out2);
    keel_model_free(m);
}

static void run_case(const dataset *d, const char *const *params, int rounds, const char *what)
{
    DMatrixHandle dm;
    BoosterHandle b = train(d, params, rounds, &dm);
    compare(b, dm, d, what);
    XGBoosterFree(b);
    XGDMatrixFree(dm);
}

static const char *const income[] = {"<=50K", ">50K"};

static void test_binary_adult(void **state)
{
    (void)state;
    char path[PATH_MAX];
    dataset d;
    load_dataset(data_path("adult.csv.gz", path), 8000, "income", "split", income, 2, &d);
    const char *logistic[] = {"objective", "binary:logistic", "max_depth", "6", NULL};
    run_case(&d, logistic, 40, "adult binary:logistic");
    const char *logitraw[] = {"objective", "binary:logitraw", "max_depth", "4", NULL};
    run_case(&d, logitraw, 10, "adult binary:logitraw");
    const char *hinge[] = {"objective", "binary:hinge", "max_depth", "4", NULL};
    run_case(&d, hinge, 10, "adult binary:hinge");
    const char *reglog[] = {"objective", "reg:logistic", "max_depth", "3", NULL};
    run_case(&d, reglog, 10, "adult reg:logistic");
    const char *base[] = {"objective", "binary:logistic", "base_score", "0.3", "max_depth", "5",
                          NULL};
    run_case(&d, base, 10, "adult base_score=0.3");
    const char *dart[] = {"objective", "binary:logistic", "booster", "dart", "rate_drop", "0.2",
                          "max_depth", "4", NULL};
    run_case(&d, dart, 12, "adult dart");
    const char *forest[] = {"objective", "binary:logistic", "num_parallel_tree", "4",
                            "subsample", "0.6", "colsample_bynode", "0.6", "max_depth", "5",
                            NULL};
    run_case(&d, forest, 3, "adult num_parallel_tree=4");
    const char *deep[] = {"objective", "binary:logistic", "max_depth", "0", "grow_policy",
                          "lossguide", "max_leaves", "64", "tree_method", "hist", NULL};
    run_case(&d, deep, 5, "adult lossguide 64 leaves");
    dataset_free(&d);
}

static void test_multiclass_iris(void **state)
{
    (void)state;
    static const char *const species[] = {"setosa", "versicolor", "virginica"};
    dataset d;
    load_dataset("/work/shared/datasets/iris.csv", 0, "species", "target", species, 3, &d);
    const char *softprob[] = {"objective", "multi:softprob", "num_class", "3", "max_depth", "3",
                              NULL};
    run_case(&d, softprob, 20, "iris multi:softprob");
    const char *softmax[] = {"objective", "multi:softmax", "num_class", "3", "max_depth", "3",
                             NULL};
    run_case(&d, softmax, 20, "iris multi:softmax");
    const char *forest[] = {"objective", "multi:softprob", "num_class", "3",
                            "num_parallel_tree", "3", "subsample", "0.7", NULL};
    run_case(&d, forest, 4, "iris softprob forest");
    dataset_free(&d);
}

static void test_regression_bike(void **state)
{
    (void)state;
    char path[PATH_MAX];
    dataset d;
    load_dataset(data_path("bike_sharing_hourly.csv", path), 6000, "cnt", "registered", NULL, 0,
                 &d);
    static const char *const objectives[] = {
        "reg:squarederror", "count:poisson",     "reg:gamma",           "reg:tweedie",
        "reg:absoluteerror", "reg:squaredlogerror", "reg:pseudohubererror",
    };
    for (size_t i = 0; i < sizeof objectives / sizeof objectives[0]; i++) {
        const char *params[] = {"objective", objectives[i], "max_depth", "6", NULL};
        char what[64];
        snprintf(what, sizeof what, "bike %s", objectives[i]);
        run_case(&d, params, i == 0 ? 60 : 15, what);
    }
    dataset_free(&d);
}

/* A model saved by Python's xgboost, with its own predictions. */
static void test_python_model(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    keel_test_tmpdir(dir);
    int rc = keel_test_sh(
        "cd '%s' && OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 -c \""
        "import numpy as np, xgboost as xgb\n"
        "rng = np.random.default_rng(3)\n"
        "X = rng.normal(size=(500, 6)).astype(np.float32)\n"
        "X[rng.random(X.shape) < 0.1] = np.nan\n"
        "y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) * 2 > 0.3).astype(np.float32)\n"
        "b = xgb.train({'objective': 'binary:logistic', 'max_depth': 5, 'nthread': 1}, "
        "xgb.DMatrix(X, label=y), 25)\n"
        "b.save_model('m.json')\n"
        "X.tofile('x.bin')\n"
        "b.predict(xgb.DMatrix(X)).astype(np.float32).tofile('p.bin')\n"
        "\"",
        dir);
    assert_int_equal(rc, 0);
    char path[PATH_MAX + 16];
    keel_err err;
    keel_model *m = NULL;
    snprintf(path, sizeof path, "%s/m.json", dir);
    if (keel_model_load_file(path, &m, &err) != KEEL_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(keel_model_num_features(m), 6);
    assert_int_equal(keel_model_num_outputs(m), 1);
    assert_int_equal(keel_model_num_trees(m), 25);
    assert_string_equal(keel_model_objective(m), "binary:logistic");
    static float x[500 * 6], want[500], got[500];
    snprintf(path, sizeof path, "%s/x.bin", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(x, sizeof x[0], 500 * 6, f), 500 * 6);
    fclose(f);
    snprintf(path, sizeof path, "%s/p.bin", dir);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(want, sizeof want[0], 500, f), 500);
    fclose(f);
    keel_model_predict(m, x, 500, false, got);
    for (size_t i = 0; i < 500; i++)
        if (!close_enough(got[i], want[i]))
            fail_msg("row %zu: keel %.9g python %.9g", i, (double)got[i], (double)want[i]);
    keel_model_free(m);
    keel_test_rmrf(dir);
}

/* A small valid model whose pieces a case may replace. */
typedef struct model_parts {
    const char *objective, *booster, *num_nodes, *left, *right, *indices, *conditions,
        *default_left, *extra_tree, *tree_info, *base_score;
} model_parts;

static char *render(const model_parts *p)
{
    static const model_parts def = {
        "binary:logistic", "gbtree",     "\"5\"",           "[1,3,-1,-1,-1]",
        "[2,4,-1,-1,-1]",  "[0,1,0,0,0]", "[0.5,1.5,0.1,-0.2,0.3]", "[1,0,0,0,0]",
        "",                "[0]",        "\"5E-1\"",
    };
#define PICK(f) (p->f ? p->f : def.f)
    char *s = malloc(4096);
    snprintf(s, 4096,
             "{\"learner\":{\"gradient_booster\":{\"model\":{\"gbtree_model_param\":"
             "{\"num_parallel_tree\":\"1\",\"num_trees\":\"1\"},\"tree_info\":%s,\"trees\":[{"
             "\"left_children\":%s,\"right_children\":%s,\"split_indices\":%s,"
             "\"split_conditions\":%s,\"default_left\":%s,\"base_weights\":[0,0,0,0,0]%s,"
             "\"tree_param\":{\"num_nodes\":%s,\"size_leaf_vector\":\"0\"}}]},"
             "\"name\":\"%s\"},\"learner_model_param\":{\"base_score\":%s,\"num_class\":\"0\","
             "\"num_feature\":\"2\"},\"objective\":{\"name\":\"%s\"}},\"version\":[1,7,4]}",
             PICK(tree_info), PICK(left), PICK(right), PICK(indices), PICK(conditions),
             PICK(default_left), PICK(extra_tree), PICK(num_nodes), PICK(booster),
             PICK(base_score), PICK(objective));
#undef PICK
    return s;
}

static void expect_error(const model_parts *p, int code, const char *needle)
{
    char *json = render(p);
    keel_model *m = NULL;
    keel_err err;
    int rc = keel_model_load(json, strlen(json), &m, &err);
    if (rc == KEEL_OK)
        fail_msg("accepted, expected an error with '%s': %s", needle, json);
    assert_null(m);
    if (rc != code || strstr(err.msg, needle) == NULL)
        fail_msg("error %d '%s', expected %d with '%s'", rc, err.msg, code, needle);
    free(json);
}

static void test_small_model(void **state)
{
    (void)state;
    model_parts p = {0};
    char *json = render(&p);
    keel_model *m = NULL;
    keel_err err;
    if (keel_model_load(json, strlen(json), &m, &err) != KEEL_OK)
        fail_msg("%s", err.msg);
    free(json);
    assert_int_equal(keel_model_num_features(m), 2);
    /* Root: x0 < 0.5 (missing left) → node 1: x1 < 1.5 (missing right). */
    const float x[] = {0.0f, 1.0f, 0.0f, 2.0f, 0.5f, 0.0f, NAN, NAN, 1.0f, NAN, 0.0f, 1.5f};
    const float want[] = {-0.2f, 0.3f, 0.1f, 0.3f, 0.1f, 0.3f};
    float got[6];
    keel_model_predict(m, x, 6, true, got);
    for (int i = 0; i < 6; i++)
        assert_true(got[i] == want[i]);
    keel_model_predict(m, x, 1, false, got);
    assert_true(fabsf(got[0] - 1.0f / (1.0f + expf(0.2f))) < 1e-7f);
    keel_model_free(m);
}

static void test_bad_models(void **state)
{
    (void)state;
    keel_model *m = NULL;
    keel_err err;
    const char *trunc = "{\"learner\":{\"gradient_booster\":{\"model\":{\"trees\":[{";
    assert_int_equal(keel_model_load(trunc, strlen(trunc), &m, &err), KEEL_EPARSE);
    assert_int_equal(keel_model_load("[]", 2, &m, &err), KEEL_EINVAL);
    assert_int_equal(keel_model_load("{}", 2, &m, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "learner"));
    assert_int_not_equal(keel_model_load_file("/nonexistent/model.json", &m, &err), KEEL_OK);

    expect_error(&(model_parts){.right = "[2,4,-1,-1,3]"},
                 KEEL_EINVAL, "trees[0]: node 4 has");
    expect_error(&(model_parts){.left = "[1,3,-1,-1,-1]", .right = "[2,7,-1,-1,-1]"},
                 KEEL_EINVAL, "right_children[1]: child index 7 is out of range");
    expect_error(&(model_parts){.left = "[1,-5,-1,-1,-1]"}, KEEL_EINVAL,
                 "left_children[1]: child index -5");
    expect_error(&(model_parts){.left = "[1,0,-1,-1,-1]"}, KEEL_EINVAL, "cycle");
    expect_error(&(model_parts){.left = "[1,1,-1,-1,-1]"}, KEEL_EINVAL, "cycle");
    expect_error(&(model_parts){.left = "[1,2,-1,-1,-1]", .right = "[2,4,-1,-1,-1]"},
                 KEEL_EINVAL, "cycle");
    expect_error(&(model_parts){.left = "[1,3,-1,-1]"}, KEEL_EINVAL,
                 "trees[0].left_children: has 4 elements, tree_param.num_nodes is 5");
    expect_error(&(model_parts){.conditions = "[0.5,1.5,0.1]"}, KEEL_EINVAL,
                 "split_conditions: has 3 elements");
    expect_error(&(model_parts){.num_nodes = "\"x\""}, KEEL_EINVAL, "num_nodes");
    expect_error(&(model_parts){.num_nodes = "\"0\""}, KEEL_EINVAL, "num_nodes: 0 is out of range");
    expect_error(&(model_parts){.conditions = "[0.5,\"a\",0.1,-0.2,0.3]"}, KEEL_EINVAL,
                 "split_conditions[1]: expected a number");
    expect_error(&(model_parts){.conditions = "[0.5,1e300,0.1,-0.2,0.3]"}, KEEL_EINVAL,
                 "split_conditions[1]: 1e+300 does not fit a float");
    expect_error(&(model_parts){.indices = "[0,-1,0,0,0]"}, KEEL_EINVAL,
                 "split_indices[1]: -1 is out of range");
    expect_error(&(model_parts){.indices = "{}"}, KEEL_EINVAL,
                 "split_indices: expected an array");
    expect_error(&(model_parts){.default_left = "[2,0,0,0,0]"}, KEEL_EINVAL,
                 "default_left[0]: expected 0 or 1");
    expect_error(&(model_parts){.objective = "rank:xendcg"}, KEEL_EINVAL,
                 "unsupported objective 'rank:xendcg'");
    expect_error(&(model_parts){.objective = "survival:aft"}, KEEL_EINVAL,
                 "unsupported objective");
    expect_error(&(model_parts){.booster = "gblinear"}, KEEL_EINVAL,
                 "learner.gradient_booster.name 'gblinear' is not supported");
    expect_error(&(model_parts){.booster = "dart"}, KEEL_EINVAL,
                 "learner.gradient_booster.gbtree: missing");
    expect_error(&(model_parts){.extra_tree = ",\"split_type\":[1,0,0,0,0]"}, KEEL_EINVAL,
                 "split_type[0]: categorical splits are not supported");
    expect_error(&(model_parts){.extra_tree = ",\"categories\":[1,2]"}, KEEL_EINVAL,
                 "categories: categorical splits");
    expect_error(&(model_parts){.tree_info = "[1]"}, KEEL_EINVAL, "tree_info[0]");
    expect_error(&(model_parts){.tree_info = "[0,0]"}, KEEL_EINVAL,
                 "tree_info: has 2 elements for 1 trees");
    expect_error(&(model_parts){.base_score = "\"1.5\""}, KEEL_EINVAL,
                 "base_score: 1.5 must be in (0, 1)");
    expect_error(&(model_parts){.base_score = "\"zz\""}, KEEL_EINVAL,
                 "base_score: 'zz' is not a number");
    expect_error(&(model_parts){.base_score = "[]"}, KEEL_EINVAL, "base_score");
}

int main(int argc, char **argv)
{
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_model),    cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_binary_adult),   cmocka_unit_test(test_multiclass_iris),
        cmocka_unit_test(test_regression_bike), cmocka_unit_test(test_python_model),
    };
    return keel_test_main(argc, argv, "model", tests);
}
