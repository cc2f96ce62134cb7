/*
 * xgb.h — the small part of libxgboost's C API keel uses, wrapped so every
 * failure becomes a keel_err carrying XGBoost's own message.
 */
#ifndef KEEL_XGB_H
#define KEEL_XGB_H

#include <keel/error.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xgboost/c_api.h>

/* A dense row-major float matrix (NaN = missing) with optional labels and
 * feature names. */
int xgb_matrix(const float *data, size_t rows, size_t cols, const float *labels,
               const char *const *feature_names, DMatrixHandle *out, keel_err *err);

int xgb_booster(DMatrixHandle *cache, size_t n_cache, BoosterHandle *out, keel_err *err);

/* Sets one parameter; XGBoost's refusal becomes KEEL_EINVAL naming it. */
int xgb_set(BoosterHandle b, const char *name, const char *value, keel_err *err);

/* One boosting round. Parameters XGBoost reports as unused (it only warns)
 * fail here with KEEL_EINVAL and its message, so a typo is not ignored. */
int xgb_update(BoosterHandle b, int iteration, DMatrixHandle train, keel_err *err);

/* "[3]\ttrain-logloss:0.41\tvalid-logloss:0.44" for the given matrices. */
int xgb_eval(BoosterHandle b, int iteration, DMatrixHandle *mats, const char **names,
             size_t n, const char **out_text, keel_err *err);

/* Predictions (probabilities or values), rows x (1 or classes). The result
 * is owned by XGBoost until the next call on b. */
int xgb_predict(BoosterHandle b, DMatrixHandle m, const float **out, size_t *out_len,
                keel_err *err);

/* The model as XGBoost JSON, owned by XGBoost until the next call on b. */
int xgb_save_json(BoosterHandle b, const char **out, size_t *out_len, keel_err *err);
int xgb_load_json(BoosterHandle b, const char *json, size_t len, keel_err *err);

/* The first `rounds` boosting rounds as a new booster. */
int xgb_slice(BoosterHandle b, int rounds, BoosterHandle *out, keel_err *err);

#endif
