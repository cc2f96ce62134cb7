/*
 * evaluate.c — `keel evaluate`: a model bundle (a run's "model/" artifacts,
 * or a bundle directory) scored on data with keel's metrics, through the
 * bundle's own encoders and target map.
 */
#include "train_internal.h"
#include "xgb.h"

#include <keel/dataset.h>
#include <keel/json.h>
#include <keel/util.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST_MAX (64u << 20)
#define MODEL_MAX ((size_t)1 << 31)

/* Puts the bundle's files in dir: from a run's artifacts, or dir is the
 * bundle itself. */
static int locate_bundle(keel_workspace *ws, const char *model, char *dir, size_t dir_size,
                         bool *out_temp, keel_err *err)
{
    *out_temp = false;
    if (keel_path_is_dir(model)) {
        snprintf(dir, dir_size, "%s", model);
        return KEEL_OK;
    }
    keel_err ignored;
    if (keel_validate_run_id(model, &ignored) != KEEL_OK)
        return keel_errf(err, KEEL_EINVAL, "model '%s' is neither a run id nor a bundle directory",
                         model);
    int rc = keel_make_temp_dir("keel-eval", dir, dir_size, err);
    if (rc != KEEL_OK)
        return rc;
    *out_temp = true;
    rc = keel_artifacts_get(ws->store, ws->cas, model, "model", dir, err);
    if (rc != KEEL_OK)
        keel_err_prefix(err, "run %s has no model bundle", model);
    return rc;
}

static int read_json_file(const char *dir, const char *name, size_t max, json_t **out, char **raw,
                          size_t *raw_len, keel_err *err)
{
    char path[4096 + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *data = NULL;
    size_t len = 0;
    int rc = keel_read_file(path, max, &data, &len, err);
    if (rc == KEEL_OK && out != NULL)
        rc = keel_json_parse(data, len, KEEL_JSON_MAX_DEPTH, out, err);
    if (rc != KEEL_OK) {
        free(data);
        return keel_err_prefix(err, "bundle %s", name);
    }
    if (raw != NULL) {
        *raw = data;
        *raw_len = len;
    } else {
        free(data);
    }
    return KEEL_OK;
}

int keel_evaluate(keel_workspace *ws, const char *model, const char *data, const char *target,
                  keel_arena *a, keel_eval *out, keel_err *err)
{
    char dir[4096];
    bool temp = false;
    json_t *manifest = NULL;
    char *model_json = NULL;
    size_t model_len = 0;
    keel_encoder *enc = NULL;
    keel_frame *frame = NULL;
    BoosterHandle booster = NULL;
    DMatrixHandle dm = NULL;
    float *x = NULL, *labels = NULL;
    target_map tm;
    keel_dataset_version meta;
    int rc = locate_bundle(ws, model, dir, sizeof dir, &temp, err);
    if (rc == KEEL_OK)
        rc = read_json_file(dir, "keel.json", MANIFEST_MAX, &manifest, NULL, NULL, err);
    if (rc == KEEL_OK)
        rc = read_json_file(dir, "model.json", MODEL_MAX, NULL, &model_json, &model_len, err);
    if (rc == KEEL_OK)
        rc = keel_encoder_from_json(json_object_get(manifest, "encoder"), &enc, err);
    if (rc == KEEL_OK)
        rc = target_map_from_json(json_object_get(manifest, "target"), a, &tm, err);
    if (rc == KEEL_OK && target != NULL)
        tm.column = target;
    if (rc == KEEL_OK)
        rc = keel_dataset_load(ws, data, a, &frame, &meta, err);
    if (rc == KEEL_OK && keel_frame_column(frame, tm.column) == NULL)
        rc = keel_errf(err, KEEL_EINVAL, "%s has no target column '%s'", data, tm.column);
    size_t n = rc == KEEL_OK ? frame->n_rows : 0;
    if (rc == KEEL_OK) {
        x = malloc((n * enc->n_features + 1) * sizeof *x);
        labels = malloc((n + 1) * sizeof *labels);
        if (x == NULL || labels == NULL)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory for %zu rows", n);
    }
    if (rc == KEEL_OK)
        rc = keel_encoder_transform(enc, frame, NULL, n, x, NULL, err);
    if (rc == KEEL_OK) {
        target_map_labels(&tm, frame, NULL, n, labels);
        rc = xgb_matrix(x, n, enc->n_features, NULL, enc->feature_names, &dm, err);
    }
    if (rc == KEEL_OK)
        rc = xgb_booster(NULL, 0, &booster, err);
    if (rc == KEEL_OK)
        rc = xgb_load_json(booster, model_json, model_len, err);
    if (rc == KEEL_OK) {
        const float *pred = NULL;
        size_t len = 0;
        rc = xgb_predict(booster, dm, &pred, &len, err);
        if (rc == KEEL_OK)
            rc = evaluate_predictions(tm.task, labels, pred, n, tm.n_classes, out, err);
    }
    if (booster != NULL)
        XGBoosterFree(booster);
    if (dm != NULL)
        XGDMatrixFree(dm);
    free(x);
    free(labels);
    free(model_json);
    json_decref(manifest);
    keel_encoder_destroy(enc);
    keel_frame_destroy(frame);
    keel_err cleanup;
    if (temp)
        keel_remove_tree(dir, &cleanup);
    return rc;
}
