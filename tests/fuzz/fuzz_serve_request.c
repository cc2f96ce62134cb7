/*
 * fuzz_serve_request.c — the model server's request decoders: MLflow's
 * /invocations bodies (JSON in every form, and CSV) and OIP v2 infer bodies,
 * against a model with numeric, date and categorical inputs (one-hot and
 * ordinal). The first byte picks the decoder. The direct records decoder
 * must agree with the general one whenever it answers.
 */
#include "serve/serve.h"

#include <keel/json.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char encoder_json[] =
    "{\"columns\": ["
    "{\"column\": \"age\", \"type\": \"int\", \"encoding\": \"numeric\"},"
    "{\"column\": \"score\", \"type\": \"float\", \"encoding\": \"numeric\"},"
    "{\"column\": \"day\", \"type\": \"date\", \"encoding\": \"numeric\"},"
    "{\"column\": \"color\", \"type\": \"string\", \"encoding\": \"onehot\","
    " \"vocabulary\": [\"blue\", \"green\", \"red\"]},"
    "{\"column\": \"city\", \"type\": \"string\", \"encoding\": \"ordinal\","
    " \"vocabulary\": [\"a\", \"b\", \"c\", \"d\"]}]}";

static served_model *model(void)
{
    static served_model m;
    static bool ready;
    if (ready)
        return &m;
    json_t *j = NULL;
    keel_err err;
    if (keel_json_parse(encoder_json, strlen(encoder_json), 16, &j, &err) != KEEL_OK ||
        keel_encoder_from_json(j, &m.enc, &err) != KEEL_OK)
        abort();
    json_decref(j);
    m.input_types = calloc(m.enc->n_cols, sizeof *m.input_types);
    for (size_t i = 0; i < m.enc->n_cols; i++)
        m.input_types[i] = m.enc->cols[i].type;
    m.task = "binary";
    ready = true;
    return &m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    keel_arena a;
    keel_arena_init(&a, 0);
    feature_rows rows;
    json_t *doc = NULL;
    keel_err err;
    const char *body = (const char *)data + 1;
    switch (data[0] % 3) {
    case 0: {
        feature_rows fast;
        bool ok_fast = decode_records_fast(model(), body, size - 1, &a, &fast);
        int rc = decode_invocations(model(), body, size - 1, false, &a, &rows, &doc, &err);
        if (ok_fast && (rc != KEEL_OK || rows.n != fast.n || rows.width != fast.width))
            abort();
        for (size_t i = 0; ok_fast && i < rows.n * rows.width; i++) {
            bool both_nan = isnan(rows.x[i]) && isnan(fast.x[i]);
            if (!both_nan && rows.x[i] != fast.x[i])
                abort();
        }
        break;
    }
    case 1:
        decode_invocations(model(), body, size - 1, true, &a, &rows, &doc, &err);
        break;
    default:
        decode_oip(model(), body, size - 1, &a, &rows, &doc, &err);
        break;
    }
    json_decref(doc);
    keel_arena_free(&a);
    return 0;
}
