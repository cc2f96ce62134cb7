/*
 * keel/model.h — the inference runtime: XGBoost tree ensembles compiled into
 * a flat, cache-friendly layout and evaluated without libxgboost.
 *
 * keel_model_load reads XGBoost's JSON model format (what keel's trainer
 * writes as model.json and what Python users save with
 * booster.save_model("model.json")) and compiles every tree into arrays of
 * nodes (split feature, threshold, default direction for missing values,
 * children, leaf value). Prediction follows XGBoost exactly: sum of the
 * leaves of the trees of each output group (num_parallel_tree and
 * multi-class groups included), plus base_score in margin space, then the
 * objective's transform (binary:logistic sigmoid, multi:softprob softmax,
 * reg:squarederror identity, …). Missing values are NaN and follow each
 * node's default direction; split conditions are `x < threshold` on floats,
 * as XGBoost compares them.
 *
 * A loaded model is immutable: many threads may predict with it at once.
 */
#ifndef KEEL_MODEL_H
#define KEEL_MODEL_H

#include <keel/error.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_MODEL_MAX_BYTES ((size_t)1 << 31)

typedef struct keel_model keel_model;

/* Compiles a model from XGBoost JSON (len counted bytes). Errors name what
 * is wrong ("trees[3].split_indices: …", "unsupported objective 'rank:…'",
 * "learner.gradient_booster.name 'gblinear' is not supported"). */
int keel_model_load(const char *json, size_t len, keel_model **out, keel_err *err);
int keel_model_load_file(const char *path, keel_model **out, keel_err *err);
void keel_model_free(keel_model *m);

/* Features the model reads (max split index + 1, or num_feature if larger). */
size_t keel_model_num_features(const keel_model *m);
/* Outputs per row: 1, or the number of classes for multi:softprob. */
size_t keel_model_num_outputs(const keel_model *m);
size_t keel_model_num_trees(const keel_model *m);
const char *keel_model_objective(const keel_model *m);

/* Predicts n rows of a row-major n x num_features float matrix (NaN =
 * missing) into out (n x num_outputs), transformed by the objective.
 * margin = true skips the transform. */
void keel_model_predict(const keel_model *m, const float *x, size_t n, bool margin, float *out);

#endif
