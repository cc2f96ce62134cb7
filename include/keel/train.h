/*
 * keel/train.h — evaluation metrics, feature encoding, dataset splits and
 * the built-in XGBoost trainer.
 *
 * A model bundle is a directory logged as the run's artifact "model/":
 *   model.json   the XGBoost model (XGBoost's own JSON format)
 *   keel.json    keel's manifest: task, target, input signature (columns,
 *                types, categories), encoders, feature names, training
 *                reference profile, metrics, dataset digests, keel version
 * Everything needed to turn a raw record into the model's feature vector
 * lives in the manifest, so serving and monitoring need nothing else.
 */
#ifndef KEEL_TRAIN_H
#define KEEL_TRAIN_H

#include <keel/arena.h>
#include <keel/data.h>
#include <keel/error.h>
#include <keel/tracking.h>
#include <keel/workspace.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- metrics ---- */

enum keel_task { KEEL_TASK_BINARY, KEEL_TASK_MULTICLASS, KEEL_TASK_REGRESSION };

const char *keel_task_name(enum keel_task t);   /* "binary", "multiclass", "regression" */

/* Evaluation of predictions against labels. Binary: y in {0,1}, p the
 * probability of 1. Multiclass: y in 0..k-1, p row-major n x k
 * probabilities. Regression: y and p are values. NaN labels are skipped. */
typedef struct keel_eval {
    enum keel_task task;
    size_t n;
    double auc, logloss, accuracy, precision, recall, f1;  /* binary (f1: macro for multiclass) */
    double rmse, mae, r2;                                   /* regression */
} keel_eval;

int keel_eval_binary(const double *y, const double *p, size_t n, keel_eval *out, keel_err *err);
int keel_eval_multiclass(const double *y, const double *p, size_t n, size_t k, keel_eval *out,
                         keel_err *err);
int keel_eval_regression(const double *y, const double *p, size_t n, keel_eval *out,
                         keel_err *err);

/* The metrics of e that apply to its task, as (key, value) pairs in out
 * (at most 8), e.g. {"auc", 0.92}. Returns how many. */
size_t keel_eval_metrics(const keel_eval *e, const char **out_keys, double *out_values);

/* ---- the XGBoost trainer ---- */

typedef struct keel_train_opts {
    const char *data;             /* dataset "NAME[@V]" or a CSV path */
    const char *target;
    const char *valid;            /* optional separate validation data (else the split's test side) */
    const char *split;            /* keel_split_parse syntax; NULL: random:0.2 with the seed */
    const keel_kv *params;        /* XGBoost parameters, overriding keel's defaults */
    size_t n_params;
    const char *const *drop;      /* columns not to use as features */
    size_t n_drop;
    int64_t rounds;               /* boosting rounds; 0 = 500 */
    int64_t early_stopping;       /* rounds without improvement; 0 = 30, < 0 = off */
    uint64_t seed;                /* 0 = 42 */
    const char *objective;        /* NULL: chosen from the target */
    const char *positive;         /* binary: the positive label (NULL: the larger/later one) */
    size_t max_onehot;            /* 0 = KEEL_DEFAULT_MAX_ONEHOT */
    int threads;                  /* 0 = number of cores */
    const char *experiment;       /* NULL: Default */
    const char *run_name;
    const char *source_dir;       /* for the git commit; NULL: working directory */
    bool quiet;                   /* no progress on stderr */
    const char *parent_run_id;    /* recorded as mlflow.parentRunId (a pipeline step's run) */
} keel_train_opts;

typedef struct keel_train_result {
    const char *run_id;
    enum keel_task task;
    keel_eval eval;               /* on the test (or validation) rows */
    int64_t best_round;           /* rounds kept in the model */
    size_t n_train, n_test, n_features;
    const char *model_sha256;     /* of model.json */
    /* Where the time went (monotonic clock, seconds): reading, splitting and
     * encoding the data into XGBoost's matrices; boosting; scoring the test
     * rows with keel's metrics; recording the run, its inputs, bundle and
     * results. */
    double seconds_data, seconds_train, seconds_evaluate, seconds_record;
} keel_train_result;

/* Trains, evaluates, writes the bundle and logs all of it to a new run (the
 * run ends FINISHED, or FAILED with the error as a tag). Strings in *out come
 * from a. */
int keel_train_xgboost(keel_workspace *ws, const keel_train_opts *opts, keel_arena *a,
                       keel_train_result *out, keel_err *err);

/* Evaluates a bundle — a run id (its "model/" artifacts) or a bundle
 * directory — on data with its target column. */
int keel_evaluate(keel_workspace *ws, const char *model, const char *data, const char *target,
                  keel_arena *a, keel_eval *out, keel_err *err);

/* ---- bundles ---- */

typedef struct keel_bundle keel_bundle;

/* Opens a model bundle: the files under path (NULL = "model") in a run's
 * artifacts (every object verified), or a bundle directory when run_or_dir
 * is one. Close with keel_bundle_close. */
int keel_bundle_open(keel_workspace *ws, const char *run_or_dir, const char *path,
                     keel_bundle **out, keel_err *err);
void keel_bundle_close(keel_bundle *b);

/* The parsed keel.json (borrowed). */
const struct json_t *keel_bundle_manifest(const keel_bundle *b);

/* Size of the model file in bytes. */
int64_t keel_bundle_model_size(const keel_bundle *b);

/* Predicts rows[0..n) of f (all when rows is NULL): probabilities (binary:
 * of the positive class; multiclass: n x classes) or values. *out is
 * malloc'd (free() it); *out_width is 1 or the number of classes. */
int keel_bundle_predict(keel_bundle *b, const keel_frame *f, const size_t *rows, size_t n,
                        float **out, size_t *out_width, keel_err *err);

/* Scores f against its target column (NULL: the bundle's target). */
int keel_bundle_evaluate(keel_bundle *b, const keel_frame *f, const char *target,
                         keel_eval *out, keel_err *err);

#endif
