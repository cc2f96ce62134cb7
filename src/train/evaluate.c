/*
 * evaluate.c — `keel evaluate`: a model bundle scored on data with keel's
 * metrics, through the bundle's own encoders and target map.
 */
#include <keel/dataset.h>
#include <keel/train.h>

int keel_evaluate(keel_workspace *ws, const char *model, const char *data, const char *target,
                  keel_arena *a, keel_eval *out, keel_err *err)
{
    keel_bundle *b = NULL;
    keel_frame *f = NULL;
    keel_dataset_version meta;
    int rc = keel_bundle_open(ws, model, NULL, &b, err);
    if (rc == KEEL_OK)
        rc = keel_dataset_load(ws, data, a, &f, &meta, err);
    if (rc == KEEL_OK)
        rc = keel_bundle_evaluate(b, f, target, out, err);
    keel_frame_destroy(f);
    keel_bundle_close(b);
    return rc;
}
