/*
 * test_trainer.c — the built-in XGBoost trainer end to end in a fresh
 * workspace: the run it records (status, params, metrics, inputs, the model
 * bundle), reproducibility, the task chosen from the target, bad input
 * (each with its message, and no run left RUNNING), and `keel evaluate` on a
 * run and on a bundle directory agreeing with training.
 */
#include "testutil.h"

#include <keel/dataset.h>
#include <keel/json.h>
#include <keel/train.h>
#include <keel/util.h>
#include <keel/workspace.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 60

/* ---- helpers ---- */

typedef struct rng {
    uint64_t state;
} rng;

static double rng_uniform(rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

typedef keel_test_ws fixture;

static const char *path_in(fixture *f, const char *name)
{
    return keel_arena_sprintf(&f->arena, "%s/%s", f->dir, name);
}

enum target_kind { TARGET_BINARY, TARGET_REGRESSION, TARGET_MULTICLASS };

/* Writes n synthetic rows: x1 (float, ~5% missing), x2 (float), cat (a/b/c),
 * noise (irrelevant) and the target, which depends on x1, x2 and cat. */
static void write_data(const char *path, size_t n, uint64_t seed, enum target_kind kind)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "x1,x2,cat,noise,label\n");
    rng r = { seed };
    for (size_t i = 0; i < n; i++) {
        double x1 = rng_uniform(&r) * 4 - 2;
        double x2 = rng_uniform(&r) * 4 - 2;
        double u = rng_uniform(&r);
        const char *cat = u < 0.4 ? "a" : u < 0.7 ? "b" : "c";
        double noise = rng_uniform(&r);
        double eps = rng_uniform(&r) - 0.5;
        bool x1_missing = rng_uniform(&r) < 0.05;
        double score = (x1_missing ? 0 : x1) + x2 + (cat[0] == 'a' ? 1.0 : cat[0] == 'b' ? -0.5 : 0);
        char x1_text[32] = "";
        if (!x1_missing)
            snprintf(x1_text, sizeof x1_text, "%.6f", x1);
        fprintf(fp, "%s,%.6f,%s,%.6f,", x1_text, x2, cat, noise);
        if (kind == TARGET_BINARY)
            fprintf(fp, "%d\n", score + eps > 0 ? 1 : 0);
        else if (kind == TARGET_REGRESSION)
            fprintf(fp, "%.6f\n", 3 * score + eps + 0.25);
        else
            fprintf(fp, "%s\n", score + eps < -1 ? "lo" : score + eps < 1 ? "mid" : "hi");
    }
    assert_int_equal(fclose(fp), 0);
}

static keel_train_opts base_opts(fixture *f, const char *data)
{
    return (keel_train_opts){ .data = data, .target = "label", .rounds = ROUNDS, .threads = 1,
                              .quiet = true, .source_dir = f->dir };
}

static void train_ok(fixture *f, const keel_train_opts *o, keel_train_result *out)
{
    int rc = keel_train_xgboost(f->ws, o, &f->arena, out, &f->err);
    if (rc != KEEL_OK)
        fail_msg("training failed (%d): %s", rc, f->err.msg);
}

static const char *kv_get(const keel_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

static double metric_get(const keel_run *r, const char *key)
{
    for (size_t i = 0; i < r->n_metrics; i++)
        if (strcmp(r->metrics[i].key, key) == 0)
            return r->metrics[i].value;
    fail_msg("run has no metric '%s'", key);
    return NAN;
}

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (tolerance %g)", got, want, tol);
}

/* Every run in the Default experiment; fails if one is still RUNNING. */
static size_t runs_none_running(fixture *f, keel_run **out)
{
    int64_t exp = 0;
    keel_run_search q = { .experiment_ids = &exp, .n_experiment_ids = 1 };
    keel_run *runs;
    size_t n;
    const char *next;
    assert_int_equal(keel_run_search_run(f->ws->store, &q, &f->arena, &runs, &n, &next, &f->err),
                     KEEL_OK);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(runs[i].info.status, "RUNNING");
    if (out != NULL)
        *out = runs;
    return n;
}

/* ---- a binary model, fully recorded ---- */

static void binary_run_is_recorded(void **state)
{
    fixture *f = *state;
    const char *data = path_in(f, "train.csv");
    write_data(data, 2000, 1, TARGET_BINARY);
    keel_train_opts o = base_opts(f, data);
    o.run_name = "first";
    keel_train_result res;
    train_ok(f, &o, &res);
    assert_int_equal(res.task, KEEL_TASK_BINARY);
    assert_int_equal(res.n_train + res.n_test, 2000);
    assert_true(res.n_test > 300 && res.n_test < 500);   /* random:0.2 */
    assert_int_equal(res.n_features, 6);                 /* x1 x2 cat=a cat=b cat=c noise */
    assert_true(res.best_round >= 1 && res.best_round <= ROUNDS);
    assert_true(res.eval.auc > 0.8);
    assert_int_equal(strlen(res.model_sha256), 64);

    keel_run run;
    assert_int_equal(keel_run_get(f->ws->store, res.run_id, &f->arena, &run, &f->err), KEEL_OK);
    assert_string_equal(run.info.status, "FINISHED");
    assert_true(run.info.end_time > 0);
    assert_string_equal(run.info.run_name, "first");
    assert_string_equal(kv_get(run.params, run.n_params, "target"), "label");
    assert_string_equal(kv_get(run.params, run.n_params, "task"), "binary");
    assert_string_equal(kv_get(run.params, run.n_params, "objective"), "binary:logistic");
    assert_string_equal(kv_get(run.params, run.n_params, "seed"), "42");
    assert_string_equal(kv_get(run.params, run.n_params, "split"), "random:0.2");
    assert_string_equal(kv_get(run.params, run.n_params, "rounds"), "60");
    assert_string_equal(kv_get(run.tags, run.n_tags, "keel.model_sha256"), res.model_sha256);
    assert_string_equal(kv_get(run.tags, run.n_tags, "keel.trainer"), "xgboost");
    double auc = metric_get(&run, "test_auc");
    assert_true(auc > 0.8);
    assert_close(auc, res.eval.auc, 1e-12);
    assert_close(metric_get(&run, "test_logloss"), res.eval.logloss, 1e-12);
    assert_close(metric_get(&run, "n_test"), (double)res.n_test, 0);
    assert_close(metric_get(&run, "best_round"), (double)res.best_round, 0);

    /* Every boosting round was logged as a step. */
    keel_metric *hist;
    size_t n_hist;
    const char *next;
    assert_int_equal(keel_run_metric_history(f->ws->store, res.run_id, "valid_logloss", 0, NULL,
                                             &f->arena, &hist, &n_hist, &next, &f->err),
                     KEEL_OK);
    assert_true(n_hist >= (size_t)res.best_round && n_hist <= ROUNDS);
    assert_int_equal(hist[0].step, 0);
    assert_int_equal(hist[n_hist - 1].step, (int64_t)n_hist - 1);

    /* The training data is an input, by its digest. */
    char sha[KEEL_SHA256_HEX_LEN + 1];
    int64_t size;
    assert_int_equal(keel_sha256_file(data, sha, &size, &f->err), KEEL_OK);
    assert_int_equal(run.n_inputs, 1);
    assert_string_equal(run.inputs[0].dataset.digest, sha);
    assert_string_equal(kv_get(run.inputs[0].tags, run.inputs[0].n_tags, "mlflow.data.context"),
                        "training");

    /* The bundle. */
    keel_artifact_entry *entries;
    size_t n_entries;
    assert_int_equal(keel_artifacts_list(f->ws->store, res.run_id, "model", &f->arena, &entries,
                                         &n_entries, &f->err), KEEL_OK);
    assert_int_equal(n_entries, 3);
    assert_string_equal(entries[0].path, "model/feature_importance.json");
    assert_string_equal(entries[1].path, "model/keel.json");
    assert_string_equal(entries[2].path, "model/model.json");
    assert_string_equal(entries[2].hash, res.model_sha256);

    const char *bundle = path_in(f, "bundle");
    assert_int_equal(keel_artifacts_get(f->ws->store, f->ws->cas, res.run_id, "model", bundle,
                                        &f->err), KEEL_OK);
    json_error_t jerr;
    json_t *m = json_load_file(keel_arena_sprintf(&f->arena, "%s/keel.json", bundle), 0, &jerr);
    if (m == NULL)
        fail_msg("keel.json: %s", jerr.text);
    assert_string_equal(json_string_value(json_object_get(m, "task")), "binary");
    assert_string_equal(json_string_value(json_object_get(m, "model_sha256")), res.model_sha256);
    const json_t *target = json_object_get(m, "target");
    assert_string_equal(json_string_value(json_object_get(target, "column")), "label");
    assert_string_equal(json_string_value(json_object_get(target, "positive")), "1");
    assert_int_equal(json_array_size(json_object_get(target, "classes")), 2);
    const json_t *enc = json_object_get(m, "encoder");
    assert_int_equal(json_array_size(json_object_get(enc, "columns")), 4);
    assert_int_equal(json_array_size(json_object_get(enc, "feature_names")), 6);
    const json_t *inputs = json_object_get(json_object_get(m, "signature"), "inputs");
    assert_int_equal(json_array_size(inputs), 4);
    for (size_t i = 0; i < json_array_size(inputs); i++)
        assert_string_not_equal(
            json_string_value(json_object_get(json_array_get(inputs, i), "name")), "label");
    const json_t *profile = json_object_get(m, "reference_profile");
    assert_int_equal(json_integer_value(json_object_get(profile, "rows")), res.n_train);
    assert_non_null(json_object_get(json_object_get(profile, "columns"), "cat"));
    assert_close(json_number_value(json_object_get(json_object_get(m, "metrics"), "auc")),
                 res.eval.auc, 1e-12);
    assert_int_equal(keel_sha256_file(keel_arena_sprintf(&f->arena, "%s/model.json", bundle), sha,
                                      &size, &f->err), KEEL_OK);
    assert_string_equal(sha, res.model_sha256);
    /* The model names its features as the encoder does. */
    json_t *model = json_load_file(keel_arena_sprintf(&f->arena, "%s/model.json", bundle), 0,
                                   &jerr);
    assert_non_null(model);
    const json_t *names = json_object_get(json_object_get(model, "learner"), "feature_names");
    const json_t *enc_names = json_object_get(json_object_get(m, "encoder"), "feature_names");
    assert_int_equal(json_array_size(names), 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(json_string_value(json_array_get(names, i)),
                            json_string_value(json_array_get(enc_names, i)));
    json_decref(model);
    json_t *imp = json_load_file(keel_arena_sprintf(&f->arena, "%s/feature_importance.json",
                                                    bundle), 0, &jerr);
    assert_non_null(imp);
    /* The features the label depends on carry gain. */
    assert_true(json_number_value(json_object_get(imp, "x2")) > 0);
    assert_true(json_number_value(json_object_get(imp, "x1")) > 0);
    json_decref(imp);
    json_decref(m);
    assert_int_equal(runs_none_running(f, NULL), 1);
}

static void training_is_reproducible(void **state)
{
    fixture *f = *state;
    const char *data = path_in(f, "train.csv");
    write_data(data, 1000, 2, TARGET_BINARY);
    keel_train_opts o = base_opts(f, data);
    o.rounds = 20;
    o.seed = 7;
    keel_train_result a, b, c;
    train_ok(f, &o, &a);
    train_ok(f, &o, &b);
    assert_string_not_equal(a.run_id, b.run_id);
    assert_string_equal(a.model_sha256, b.model_sha256);
    assert_int_equal(a.n_test, b.n_test);
    assert_close(a.eval.auc, b.eval.auc, 0);
    /* Another seed splits differently (the model may or may not differ). */
    o.seed = 8;
    train_ok(f, &o, &c);
    keel_run run;
    assert_int_equal(keel_run_get(f->ws->store, c.run_id, &f->arena, &run, &f->err), KEEL_OK);
    assert_string_equal(kv_get(run.params, run.n_params, "seed"), "8");
}

/* ---- the task from the target ---- */

static void regression_and_multiclass_are_detected(void **state)
{
    fixture *f = *state;
    const char *reg = path_in(f, "reg.csv");
    write_data(reg, 1500, 3, TARGET_REGRESSION);
    keel_train_opts o = base_opts(f, reg);
    keel_train_result res;
    train_ok(f, &o, &res);
    assert_int_equal(res.task, KEEL_TASK_REGRESSION);
    assert_true(res.eval.r2 > 0.7);
    assert_true(isnan(res.eval.auc) || res.eval.auc == 0);
    keel_run run;
    assert_int_equal(keel_run_get(f->ws->store, res.run_id, &f->arena, &run, &f->err), KEEL_OK);
    assert_string_equal(kv_get(run.params, run.n_params, "objective"), "reg:squarederror");
    assert_string_equal(kv_get(run.tags, run.n_tags, "keel.task"), "regression");
    assert_close(metric_get(&run, "test_rmse"), res.eval.rmse, 1e-12);
    assert_close(metric_get(&run, "test_r2"), res.eval.r2, 1e-12);

    const char *multi = path_in(f, "multi.csv");
    write_data(multi, 1500, 4, TARGET_MULTICLASS);
    o = base_opts(f, multi);
    train_ok(f, &o, &res);
    assert_int_equal(res.task, KEEL_TASK_MULTICLASS);
    assert_true(res.eval.accuracy > 0.6);
    assert_int_equal(keel_run_get(f->ws->store, res.run_id, &f->arena, &run, &f->err), KEEL_OK);
    assert_string_equal(kv_get(run.params, run.n_params, "objective"), "multi:softprob");
    assert_string_equal(kv_get(run.params, run.n_params, "num_class"), "3");
    assert_close(metric_get(&run, "test_f1_macro"), res.eval.f1, 1e-12);
    assert_close(metric_get(&run, "test_accuracy"), res.eval.accuracy, 1e-12);

    /* A text label with two values is binary; the positive class is the
     * later one unless named. */
    const char *yn = path_in(f, "yn.csv");
    FILE *fp = fopen(yn, "w");
    assert_non_null(fp);
    fprintf(fp, "x,label\n");
    for (int i = 0; i < 400; i++)
        fprintf(fp, "%d,%s\n", i, (i * 7919) % 400 < 200 + (i % 2 ? 60 : -60) ? "yes" : "no");
    fclose(fp);
    o = base_opts(f, yn);
    o.positive = "no";
    o.rounds = 10;
    train_ok(f, &o, &res);
    assert_int_equal(res.task, KEEL_TASK_BINARY);
    const char *bundle = path_in(f, "yn-bundle");
    assert_int_equal(keel_artifacts_get(f->ws->store, f->ws->cas, res.run_id, "model", bundle,
                                        &f->err), KEEL_OK);
    json_t *m = json_load_file(keel_arena_sprintf(&f->arena, "%s/keel.json", bundle), 0, NULL);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "target"),
                                                          "positive")), "no");
    json_decref(m);
    runs_none_running(f, NULL);
}

/* ---- bad input ---- */

static void train_fails(fixture *f, const keel_train_opts *o, int code, const char *want)
{
    keel_train_result res;
    keel_err_clear(&f->err);
    int rc = keel_train_xgboost(f->ws, o, &f->arena, &res, &f->err);
    if (rc != code)
        fail_msg("rc %d (%s), want %d", rc, f->err.msg, code);
    if (strstr(f->err.msg, want) == NULL)
        fail_msg("message '%s' lacks '%s'", f->err.msg, want);
}

static void bad_input_is_refused(void **state)
{
    fixture *f = *state;
    const char *data = path_in(f, "train.csv");
    write_data(data, 300, 5, TARGET_BINARY);
    keel_train_opts o = base_opts(f, data);

    o.target = "nope";
    train_fails(f, &o, KEEL_EINVAL, "target column 'nope' is not in the data");
    o.target = NULL;
    train_fails(f, &o, KEEL_EINVAL, "--target");

    const char *constant = path_in(f, "constant.csv");
    keel_test_write(constant, "x,label\n1,1\n2,1\n3,1\n4,1\n5,1\n6,1\n7,1\n8,1\n9,1\n10,1\n");
    o = base_opts(f, constant);
    train_fails(f, &o, KEEL_EINVAL, "'label' is constant");

    const char *empty_col = path_in(f, "empty_col.csv");
    keel_test_write(empty_col, "x,empty,label\n1,,0\n2,,1\n3,,0\n4,,1\n5,,0\n6,,1\n7,,0\n8,,1\n"
                               "9,,0\n10,,1\n11,,0\n12,,1\n");
    o = base_opts(f, empty_col);
    train_fails(f, &o, KEEL_EINVAL, "column 'empty' is missing in every row");
    /* ... and dropping it is the way out. */
    const char *drop[] = { "empty" };
    o.drop = drop;
    o.n_drop = 1;
    o.split = "random:0.5:3";
    o.rounds = 3;
    keel_train_result res;
    train_ok(f, &o, &res);
    const char *bad_drop[] = { "nothing" };
    o.drop = bad_drop;
    train_fails(f, &o, KEEL_EINVAL, "--drop: the data has no column 'nothing'");

    const char *no_rows = path_in(f, "no_rows.csv");
    keel_test_write(no_rows, "x,label\n");
    o = base_opts(f, no_rows);
    train_fails(f, &o, KEEL_EINVAL, "has no rows");

    o = base_opts(f, data);
    o.valid = data;
    o.split = "random:0.3";
    train_fails(f, &o, KEEL_EINVAL, "either --valid or --split");
    o.valid = NULL;
    o.split = "random:7";
    train_fails(f, &o, KEEL_EINVAL, "between 0 and 1");
    o.split = "column:label";
    train_fails(f, &o, KEEL_EINVAL, "'label'");
    o.split = NULL;
    o.data = path_in(f, "absent.csv");
    train_fails(f, &o, KEEL_ENOTFOUND, "absent.csv");

    /* None of these got as far as a run. */
    size_t before = runs_none_running(f, NULL);
    assert_int_equal(before, 1);   /* the --drop success */

    /* An unknown XGBoost parameter fails once training starts: the run that
     * exists by then ends FAILED with the reason. */
    o = base_opts(f, data);
    keel_kv params[] = { { "colsample_bytreee", "0.5" } };
    o.params = params;
    o.n_params = 1;
    train_fails(f, &o, KEEL_EINVAL, "colsample_bytreee");
    keel_run *runs;
    size_t n = runs_none_running(f, &runs);
    assert_int_equal(n, before + 1);
    const keel_run *failed = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(runs[i].info.status, "FAILED") == 0)
            failed = &runs[i];
    assert_non_null(failed);
    assert_true(failed->info.end_time > 0);
    const char *why = kv_get(failed->tags, failed->n_tags, "keel.error");
    assert_non_null(why);
    assert_non_null(strstr(why, "colsample_bytreee"));
    /* A known parameter with a bad value is refused too. */
    keel_kv bad_value[] = { { "max_depth", "deep" } };
    o.params = bad_value;
    train_fails(f, &o, KEEL_EINVAL, "max_depth");
    n = runs_none_running(f, &runs);
    size_t n_failed = 0;
    for (size_t i = 0; i < n; i++)
        n_failed += strcmp(runs[i].info.status, "FAILED") == 0;
    assert_int_equal(n_failed, 2);
}

/* ---- evaluate ---- */

static void evaluate_matches_training(void **state)
{
    fixture *f = *state;
    const char *train = path_in(f, "train.csv");
    const char *valid = path_in(f, "valid.csv");
    write_data(train, 1500, 11, TARGET_BINARY);
    write_data(valid, 500, 12, TARGET_BINARY);
    /* Register the training data as a dataset version: by name works too. */
    keel_dataset_version v;
    bool existed;
    assert_int_equal(keel_dataset_add(f->ws, train, "synth", &f->arena, &v, &existed, &f->err),
                     KEEL_OK);
    keel_train_opts o = base_opts(f, "synth");
    o.valid = valid;
    keel_train_result res;
    train_ok(f, &o, &res);
    assert_int_equal(res.n_train, 1500);
    assert_int_equal(res.n_test, 500);
    assert_true(res.eval.auc > 0.8);

    keel_run run;
    assert_int_equal(keel_run_get(f->ws->store, res.run_id, &f->arena, &run, &f->err), KEEL_OK);
    assert_int_equal(run.n_inputs, 2);
    assert_string_equal(kv_get(run.params, run.n_params, "split"), "separate validation data");

    keel_eval by_run, by_dir;
    int rc = keel_evaluate(f->ws, res.run_id, valid, NULL, &f->arena, &by_run, &f->err);
    if (rc != KEEL_OK)
        fail_msg("evaluate: %s", f->err.msg);
    assert_int_equal(by_run.task, KEEL_TASK_BINARY);
    assert_int_equal(by_run.n, 500);
    assert_close(by_run.auc, res.eval.auc, 1e-9);
    assert_close(by_run.logloss, res.eval.logloss, 1e-9);
    assert_close(by_run.accuracy, res.eval.accuracy, 1e-9);
    assert_close(by_run.f1, res.eval.f1, 1e-9);

    const char *bundle = path_in(f, "bundle");
    assert_int_equal(keel_artifacts_get(f->ws->store, f->ws->cas, res.run_id, "model", bundle,
                                        &f->err), KEEL_OK);
    rc = keel_evaluate(f->ws, bundle, valid, "label", &f->arena, &by_dir, &f->err);
    if (rc != KEEL_OK)
        fail_msg("evaluate: %s", f->err.msg);
    assert_close(by_dir.auc, res.eval.auc, 1e-9);
    assert_close(by_dir.logloss, res.eval.logloss, 1e-9);

    /* On other data the numbers differ but stay sensible. */
    keel_eval on_train;
    assert_int_equal(keel_evaluate(f->ws, res.run_id, "synth@1", NULL, &f->arena, &on_train,
                                   &f->err), KEEL_OK);
    assert_int_equal(on_train.n, 1500);
    assert_true(on_train.auc > 0.8);

    /* Errors. */
    assert_int_equal(keel_evaluate(f->ws, "not-a-model", valid, NULL, &f->arena, &by_run,
                                   &f->err), KEEL_EINVAL);
    assert_non_null(strstr(f->err.msg, "not-a-model"));
    assert_int_not_equal(keel_evaluate(f->ws, "0123456789abcdef0123456789abcdef", valid, NULL,
                                       &f->arena, &by_run, &f->err), KEEL_OK);
    const char *unlabelled = path_in(f, "unlabelled.csv");
    keel_test_write(unlabelled, "x1,x2,cat,noise\n1.5,0.5,a,0.1\n");
    assert_int_equal(keel_evaluate(f->ws, res.run_id, unlabelled, NULL, &f->arena, &by_run,
                                   &f->err), KEEL_EINVAL);
    assert_non_null(strstr(f->err.msg, "'label'"));
    const char *missing_feature = path_in(f, "missing_feature.csv");
    keel_test_write(missing_feature, "x1,cat,noise,label\n1.5,a,0.1,1\n");
    assert_int_equal(keel_evaluate(f->ws, res.run_id, missing_feature, NULL, &f->arena, &by_run,
                                   &f->err), KEEL_EINVAL);
    assert_non_null(strstr(f->err.msg, "'x2'"));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(binary_run_is_recorded, keel_test_ws_setup, keel_test_ws_teardown),
        cmocka_unit_test_setup_teardown(training_is_reproducible, keel_test_ws_setup, keel_test_ws_teardown),
        cmocka_unit_test_setup_teardown(regression_and_multiclass_are_detected, keel_test_ws_setup, keel_test_ws_teardown),
        cmocka_unit_test_setup_teardown(bad_input_is_refused, keel_test_ws_setup, keel_test_ws_teardown),
        cmocka_unit_test_setup_teardown(evaluate_matches_training, keel_test_ws_setup, keel_test_ws_teardown),
    };
    return keel_test_main(argc, argv, "trainer", tests);
}
