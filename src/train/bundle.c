/*
 * bundle.c — opening a model bundle (keel.json + model.json) and running it:
 * predictions through the bundle's own encoders, evaluation through its
 * target map. Used by `keel evaluate`, the registry's gates and, for
 * reference, by serving.
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

struct keel_bundle {
    json_t *manifest;
    keel_encoder *enc;
    target_map target;
    keel_arena arena;
    BoosterHandle booster;
    int64_t model_size;
};

static int read_file_in(const char *dir, const char *name, size_t max, char **out, size_t *len,
                        keel_err *err)
{
    char path[4096 + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = keel_read_file(path, max, out, len, err);
    if (rc != KEEL_OK)
        keel_err_prefix(err, "bundle");
    return rc;
}

static int load_from_dir(keel_bundle *b, const char *dir, keel_err *err)
{
    char *text = NULL, *model = NULL;
    size_t len = 0, model_len = 0;
    int rc = read_file_in(dir, "keel.json", MANIFEST_MAX, &text, &len, err);
    if (rc == KEEL_OK && keel_json_parse(text, len, KEEL_JSON_MAX_DEPTH, &b->manifest, err) != KEEL_OK)
        rc = keel_err_prefix(err, "bundle keel.json");
    free(text);
    if (rc == KEEL_OK && !json_is_object(b->manifest))
        rc = keel_errf(err, KEEL_ECORRUPT, "bundle keel.json is not a JSON object");
    if (rc == KEEL_OK)
        rc = keel_encoder_from_json(json_object_get(b->manifest, "encoder"), &b->enc, err);
    if (rc == KEEL_OK)
        rc = target_map_from_json(json_object_get(b->manifest, "target"), &b->arena, &b->target,
                                  err);
    if (rc == KEEL_OK)
        rc = read_file_in(dir, "model.json", MODEL_MAX, &model, &model_len, err);
    if (rc == KEEL_OK)
        rc = xgb_booster(NULL, 0, &b->booster, err);
    if (rc == KEEL_OK)
        rc = xgb_load_json(b->booster, model, model_len, err);
    b->model_size = (int64_t)model_len;
    free(model);
    return rc;
}

int keel_bundle_open(keel_workspace *ws, const char *run_or_dir, const char *path,
                     keel_bundle **out, keel_err *err)
{
    keel_bundle *b = calloc(1, sizeof *b);
    if (b == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    keel_arena_init(&b->arena, 0);
    int rc;
    if (keel_path_is_dir(run_or_dir)) {
        rc = load_from_dir(b, run_or_dir, err);
    } else {
        keel_err ignored;
        if (keel_validate_run_id(run_or_dir, &ignored) != KEEL_OK) {
            keel_bundle_close(b);
            return keel_errf(err, KEEL_EINVAL,
                             "model '%s' is neither a run id nor a bundle directory", run_or_dir);
        }
        char dir[4096];
        rc = keel_make_temp_dir("keel-bundle", dir, sizeof dir, err);
        if (rc == KEEL_OK) {
            const char *p = path != NULL ? path : "model";
            rc = keel_artifacts_get(ws->store, ws->cas, run_or_dir, p, dir, err);
            if (rc != KEEL_OK)
                keel_err_prefix(err, "run %s has no model bundle at '%s'", run_or_dir, p);
            if (rc == KEEL_OK)
                rc = load_from_dir(b, dir, err);
            keel_err cleanup;
            keel_remove_tree(dir, &cleanup);
        }
    }
    if (rc != KEEL_OK) {
        keel_bundle_close(b);
        return rc;
    }
    *out = b;
    return KEEL_OK;
}

void keel_bundle_close(keel_bundle *b)
{
    if (b == NULL)
        return;
    if (b->booster != NULL)
        XGBoosterFree(b->booster);
    keel_encoder_destroy(b->enc);
    json_decref(b->manifest);
    keel_arena_free(&b->arena);
    free(b);
}

const json_t *keel_bundle_manifest(const keel_bundle *b)
{
    return b->manifest;
}

int64_t keel_bundle_model_size(const keel_bundle *b)
{
    return b->model_size;
}

int keel_bundle_predict(keel_bundle *b, const keel_frame *f, const size_t *rows, size_t n,
                        float **out, size_t *out_width, keel_err *err)
{
    if (rows == NULL)
        n = f->n_rows;
    size_t width = b->enc->n_features;
    float *x = malloc((n * width + 1) * sizeof *x);
    if (x == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory for %zu rows", n);
    DMatrixHandle dm = NULL;
    int rc = keel_encoder_transform(b->enc, f, rows, n, x, NULL, err);
    if (rc == KEEL_OK)
        rc = xgb_matrix(x, n, width, NULL, b->enc->feature_names, &dm, err);
    free(x);
    const float *pred = NULL;
    size_t len = 0;
    if (rc == KEEL_OK)
        rc = xgb_predict(b->booster, dm, &pred, &len, err);
    if (rc == KEEL_OK) {
        *out = malloc((len + 1) * sizeof **out);
        if (*out == NULL)
            rc = keel_errf(err, KEEL_ENOMEM, "out of memory");
        else
            memcpy(*out, pred, len * sizeof **out);
        *out_width = n > 0 ? len / n : 1;
    }
    if (dm != NULL)
        XGDMatrixFree(dm);
    return rc;
}

int keel_bundle_evaluate(keel_bundle *b, const keel_frame *f, const char *target,
                         keel_eval *out, keel_err *err)
{
    target_map tm = b->target;
    if (target != NULL)
        tm.column = target;
    if (keel_frame_column(f, tm.column) == NULL)
        return keel_errf(err, KEEL_EINVAL, "the data has no target column '%s'", tm.column);
    float *labels = malloc((f->n_rows + 1) * sizeof *labels);
    float *pred = NULL;
    size_t width = 0;
    if (labels == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    target_map_labels(&tm, f, NULL, f->n_rows, labels);
    int rc = keel_bundle_predict(b, f, NULL, 0, &pred, &width, err);
    if (rc == KEEL_OK)
        rc = evaluate_predictions(tm.task, labels, pred, f->n_rows, tm.n_classes, out, err);
    free(labels);
    free(pred);
    return rc;
}
