/*
 * fuzz_model.c — XGBoost JSON model bytes through keel_model_load; whatever
 * loads is then predicted on a few rows (ordinary values, NaN, ±infinity,
 * in both the row-at-a-time and the batch walk), which must stay inside the
 * model's arrays and always end: the loader promised a tree with no cycle.
 */
#include <keel/model.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 9

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    keel_model *m = NULL;
    keel_err err;
    if (keel_model_load((const char *)data, size, &m, &err) != KEEL_OK) {
        if (m != NULL || err.msg[0] == '\0')
            abort();
        return 0;
    }
    size_t nf = keel_model_num_features(m), no = keel_model_num_outputs(m);
    if (nf > 4096 || no == 0) {
        keel_model_free(m);
        return 0;
    }
    static const float values[] = {0.0f, -1.0f, 0.5f, 1e30f, -INFINITY, INFINITY, 3.0f};
    float *x = malloc(ROWS * (nf ? nf : 1) * sizeof *x);
    float *out = malloc(ROWS * no * sizeof *out);
    for (size_t i = 0; i < ROWS * nf; i++)
        x[i] = i % 5 == 0 ? NAN : values[(i * 7 + size) % (sizeof values / sizeof values[0])];
    keel_model_predict(m, x, ROWS, false, out);
    keel_model_predict(m, x, 1, true, out);
    keel_model_predict(m, x, ROWS, true, out);
    (void)keel_model_objective(m);
    (void)keel_model_num_trees(m);
    free(x);
    free(out);
    keel_model_free(m);
    return 0;
}
