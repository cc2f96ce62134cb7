/*
 * xgb.c — libxgboost calls with keel errors. XGBoost reports problems with a
 * -1 return and XGBGetLastError(); some (parameters it will not use) only as
 * log warnings, which are captured per thread through its log callback.
 *
 * The log callback is a plain function pointer, so the captured text lives
 * in thread-local storage: the one place keel keeps such state.
 */
#include "xgb.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char captured_log[1024];
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

/* Keeps "Parameters: { "max_dept" } are not used." on one line, without
 * XGBoost's timestamp and source location. */
static void capture_log(const char *msg)
{
    if (strstr(msg, "not used") == NULL)
        return;
    const char *from = strstr(msg, "Parameters:");
    snprintf(captured_log, sizeof captured_log, "%s", from != NULL ? from : msg);
    for (char *p = captured_log; *p != '\0'; p++)
        if (*p == '\n')
            *p = ' ';
    for (size_t n = strlen(captured_log); n > 0 && captured_log[n - 1] == ' '; n--)
        captured_log[n - 1] = '\0';
}

static void install_log_callback(void)
{
    XGBRegisterLogCallback(capture_log);
}

static int xgb_fail(keel_err *err, const char *what)
{
    return keel_errf(err, KEEL_EINVAL, "xgboost: %s: %s", what, XGBGetLastError());
}

int xgb_matrix(const float *data, size_t rows, size_t cols, const float *labels,
               const char *const *feature_names, DMatrixHandle *out, keel_err *err)
{
    pthread_once(&log_once, install_log_callback);
    if (XGDMatrixCreateFromMat(data, rows, cols, NAN, out) != 0)
        return xgb_fail(err, "cannot build the data matrix");
    if (labels != NULL && XGDMatrixSetFloatInfo(*out, "label", labels, rows) != 0) {
        XGDMatrixFree(*out);
        return xgb_fail(err, "cannot set labels");
    }
    if (feature_names != NULL &&
        XGDMatrixSetStrFeatureInfo(*out, "feature_name", (const char **)feature_names, cols) != 0) {
        XGDMatrixFree(*out);
        return xgb_fail(err, "cannot set feature names");
    }
    return KEEL_OK;
}

int xgb_booster(DMatrixHandle *cache, size_t n_cache, BoosterHandle *out, keel_err *err)
{
    pthread_once(&log_once, install_log_callback);
    if (XGBoosterCreate(cache, n_cache, out) != 0)
        return xgb_fail(err, "cannot create a booster");
    return KEEL_OK;
}

int xgb_set(BoosterHandle b, const char *name, const char *value, keel_err *err)
{
    if (XGBoosterSetParam(b, name, value) != 0)
        return keel_errf(err, KEEL_EINVAL, "xgboost: parameter %s=%s: %s", name, value,
                         XGBGetLastError());
    return KEEL_OK;
}

int xgb_update(BoosterHandle b, int iteration, DMatrixHandle train, keel_err *err)
{
    captured_log[0] = '\0';
    if (XGBoosterUpdateOneIter(b, iteration, train) != 0)
        return xgb_fail(err, "training failed");
    if (captured_log[0] != '\0')
        return keel_errf(err, KEEL_EINVAL, "xgboost: unknown parameter: %s", captured_log);
    return KEEL_OK;
}

int xgb_eval(BoosterHandle b, int iteration, DMatrixHandle *mats, const char **names,
             size_t n, const char **out_text, keel_err *err)
{
    if (XGBoosterEvalOneIter(b, iteration, mats, names, n, out_text) != 0)
        return xgb_fail(err, "evaluation failed");
    return KEEL_OK;
}

int xgb_predict(BoosterHandle b, DMatrixHandle m, const float **out, size_t *out_len,
                keel_err *err)
{
    static const char config[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                 "\"iteration_end\": 0, \"strict_shape\": false}";
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    if (XGBoosterPredictFromDMatrix(b, m, config, &shape, &dim, out) != 0)
        return xgb_fail(err, "prediction failed");
    size_t len = 1;
    for (bst_ulong i = 0; i < dim; i++)
        len *= (size_t)shape[i];
    *out_len = len;
    return KEEL_OK;
}

int xgb_save_json(BoosterHandle b, const char **out, size_t *out_len, keel_err *err)
{
    bst_ulong len = 0;
    if (XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &len, out) != 0)
        return xgb_fail(err, "cannot serialise the model");
    *out_len = (size_t)len;
    return KEEL_OK;
}

int xgb_load_json(BoosterHandle b, const char *json, size_t len, keel_err *err)
{
    if (XGBoosterLoadModelFromBuffer(b, json, len) != 0)
        return xgb_fail(err, "cannot load the model");
    return KEEL_OK;
}

int xgb_slice(BoosterHandle b, int rounds, BoosterHandle *out, keel_err *err)
{
    if (XGBoosterSlice(b, 0, rounds, 1, out) != 0)
        return xgb_fail(err, "cannot cut the model at its best round");
    return KEEL_OK;
}
