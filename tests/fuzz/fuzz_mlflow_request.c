/*
 * fuzz_mlflow_request.c — the REST request decoders: bytes as a request
 * body through the bounded JSON parser, then every MLflow message decoder
 * (log-batch, log-inputs, tag lists) and back out through keel's JSON writer.
 */
#include <keel/arena.h>
#include <keel/json.h>
#include <keel/tracking.h>

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
