/*
 * fuzz_mlflow_request.c — the REST request decoders: bytes as a request
 * body through the bounded JSON parser, then every MLflow message decoder
 * (log-batch, log-inputs, tag lists) and back out through keel's JSON writer.
 * The direct log-batch decoder is checked against the jansson path: when it
 * accepts an input, jansson must accept it too and decode the same batch.
 */
#include <keel/arena.h>
#include <keel/json.h>
#include <keel/tracking.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool same_kv(const keel_kv *a, const keel_kv *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!same_text(a[i].key, b[i].key) || !same_text(a[i].value, b[i].value))
            return false;
    return true;
}

/* The fast decoder may give up, but when it answers it must agree. */
static void check_fast_decoder(const uint8_t *data, size_t size)
{
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_batch fast;
    const char *run_id = NULL;
    if (keel_batch_parse_fast((const char *)data, size, &a, &run_id, &fast) == KEEL_OK) {
        json_t *msg = NULL;
        keel_err err;
        keel_batch slow;
        if (keel_json_parse((const char *)data, size, KEEL_JSON_MAX_DEPTH, &msg, &err) != KEEL_OK ||
            !json_is_object(msg) || keel_batch_from_json(msg, &a, &slow, &err) != KEEL_OK)
            abort();
        if (fast.n_metrics != slow.n_metrics || fast.n_params != slow.n_params ||
            fast.n_tags != slow.n_tags || !same_kv(fast.params, slow.params, fast.n_params) ||
            !same_kv(fast.tags, slow.tags, fast.n_tags))
            abort();
        for (size_t i = 0; i < fast.n_metrics; i++) {
            const keel_metric *x = &fast.metrics[i], *y = &slow.metrics[i];
            bool values = (isnan(x->value) && isnan(y->value)) || x->value == y->value;
            if (!same_text(x->key, y->key) || !values || x->timestamp != y->timestamp ||
                x->step != y->step)
                abort();
        }
        json_decref(msg);
    }
    keel_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_fast_decoder(data, size);
    json_t *msg = NULL;
    keel_err err;
    if (keel_json_parse((const char *)data, size, KEEL_JSON_MAX_DEPTH, &msg, &err) != KEEL_OK)
        return 0;
    keel_arena a;
    keel_arena_init(&a, 0);
    if (json_is_object(msg)) {
        keel_batch batch;
        keel_batch_from_json(msg, &a, &batch, &err);
        keel_dataset_input *inputs;
        size_t n;
        keel_dataset_inputs_from_json(msg, "datasets", &a, &inputs, &n, &err);
        keel_kv *tags;
        keel_kv_list_from_json(msg, "tags", &a, &tags, &n, &err);
        const char *s = NULL;
        int64_t i = 0;
        keel_json_get_string(msg, "run_id", false, &s, &err);
        keel_json_get_int64(msg, "max_results", false, &i, &err);
    }
    char *text = keel_json_dumps(msg, false);
    free(text);
    json_decref(msg);
    keel_arena_free(&a);
    return 0;
}
