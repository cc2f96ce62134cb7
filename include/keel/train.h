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

#endif
