/*
 * fuzz_serve_rules.c — the alert rules reader of `keel serve --rules FILE`:
 * bytes as a rules file through serve_rules_parse (libyaml's document API,
 * then keel's checks against the served slots), an accepted rule set
 * evaluated over a few closed windows, and the rules freed.
 *
 * The server has one slot, "elec", whose model monitors nswprice, nswdemand,
 * day and the prediction, with a closed window (so drift measures have
 * values) and 300 labels (so performance rules with min_labels up to 300
 * have values too). Both are built once, on the first input, so the corpus
 * replay (which has no LLVMFuzzerInitialize) gets them as well.
 *
 * The rules file is named as if it lay in examples/monitoring/ of the
 * source tree, so `pipelines: keel.yaml` finds the example's retraining
 * pipeline and `pipeline: retrain` actions with params are loaded for real.
 * Other names the fuzzer makes up stay cheap: realpath fails on most, a
 * directory reads as empty, and keel_read_file reads no more than a file's
 * size (nothing from a device, whose size is 0). Actions run with no keel
 * home and no store: pipelines are not started and nothing is recorded.
 *
 * Invariants checked (abort on violation): a failure carries its code and a
 * message naming the file, and leaves *out alone; an accepted rule set is
 * not NULL and its metrics (every rule's name and model) read to their ends.
 */
#include "serve/serve.h"

#include <keel/json.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char encoder_json[] =
    "{\"columns\": ["
    " {\"column\": \"nswprice\", \"type\": \"float\", \"encoding\": \"numeric\"},"
    " {\"column\": \"nswdemand\", \"type\": \"float\", \"encoding\": \"numeric\"},"
    " {\"column\": \"day\", \"type\": \"string\", \"encoding\": \"onehot\","
    "  \"vocabulary\": [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\"]}]}";

static const char manifest_json[] =
    "{\"classes\": [\"DOWN\", \"UP\"],"
    " \"reference_profile\": {\"rows\": 100, \"columns\": {"
    "  \"nswprice\": {\"type\": \"float\", \"missing_rate\": 0,"
    "   \"bins\": [0, 0.05, 0.1, 0.2, 1], \"bin_counts\": [40, 30, 20, 10]},"
    "  \"nswdemand\": {\"type\": \"float\", \"missing_rate\": 0.1,"
    "   \"bins\": [0, 0.25, 0.5, 0.75, 1], \"bin_counts\": [20, 30, 30, 10]},"
    "  \"day\": {\"type\": \"string\", \"missing_rate\": 0,"
    "   \"top\": {\"1\": 14, \"2\": 14, \"3\": 14, \"4\": 14, \"5\": 14, \"6\": 15, \"7\": 15},"
    "   \"other\": 0}}},"
    " \"prediction_profile\": {\"missing_rate\": 0, \"bins\": [0, 0.5, 1],"
    "  \"bin_counts\": [50, 50]}}";

enum { WIDTH = 9, WINDOW_ROWS = 200, LABELS = 300, WINDOWS = 3 };

static char rules_path[4096] = "fuzz.yaml";

/* The rules path beside examples/monitoring/keel.yaml, from this file's
 * own path (absolute in a CMake build; otherwise the plain name). */
static void set_rules_path(void)
{
    const char *self = __FILE__;
    const char *tail = strstr(self, "tests/fuzz/");
    if (self[0] == '/' && tail != NULL)
        snprintf(rules_path, sizeof rules_path, "%.*sexamples/monitoring/fuzz.yaml",
                 (int)(tail - self), self);
}

/* A window of prices drifted upward and a rolling window of labels. */
static void fill_monitor(model_monitor *mon)
{
    for (int r = 0; r < WINDOW_ROWS; r++) {
        float row[WIDTH] = { 0 };
        row[0] = 0.02f + 0.004f * (float)(r % 100);
        row[1] = r % 10 == 0 ? NAN : (float)(r % 97) / 97.0f;
        row[2 + r % 7] = 1;
        float pred = (float)(r % 13) / 13.0f;
        monitor_observe(mon, row, 1, WIDTH, &pred, 1);
    }
    if (!monitor_maybe_close(mon, 1, 1, WINDOW_ROWS, 1))
        abort();
    float score[LABELS], label[LABELS];
    for (int i = 0; i < LABELS; i++) {
        score[i] = (float)(i % 10) / 10.0f;
        label[i] = i % 3 == 0 ? 1.0f : 0.0f;
    }
    monitor_perf_add(mon, score, label, LABELS);
}

static serve_app *app(void)
{
    static serve_app a;
    static model_slot slot;
    static bool ready;
    if (ready)
        return &a;
    /* Evaluated rules log their pipeline actions, which fail without a home. */
    setenv("KEEL_LOG", "off", 0);
    set_rules_path();
    served_model *m = calloc(1, sizeof *m);
    json_t *enc = NULL;
    keel_err err;
    if (m == NULL ||
        keel_json_parse(encoder_json, strlen(encoder_json), 16, &enc, &err) != KEEL_OK ||
        keel_encoder_from_json(enc, &m->enc, &err) != KEEL_OK ||
        keel_json_parse(manifest_json, strlen(manifest_json), 16, &m->manifest, &err) != KEEL_OK)
        abort();
    json_decref(enc);
    atomic_init(&m->refs, 1);
    m->name = strdup("elec");
    m->version = 3;
    snprintf(m->version_text, sizeof m->version_text, "3");
    m->task = "binary";
    m->classes = json_object_get(m->manifest, "classes");
    m->mon = monitor_new(m->manifest, m->enc, m->task);
    if (m->mon == NULL || m->enc->n_features != WIDTH)
        abort();
    fill_monitor(m->mon);
    slot.name = "elec";
    slot.ref = "elec@production";
    slot.follows_alias = true;
    pthread_mutex_init(&slot.lock, NULL);
    slot.current = m;
    a.slots = &slot;
    a.n_slots = 1;
    a.monitor = true;
    ready = true;
    return &a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    serve_app *a = app();
    serve_rules *rules = NULL;
    keel_err err;
    memset(&err, 0, sizeof err);
    int rc = serve_rules_parse(rules_path, (const char *)data, size, a, &rules, &err);
    if (rc != KEEL_OK) {
        if (rules != NULL || err.code != rc || err.msg[0] == '\0' ||
            strncmp(err.msg, rules_path, strlen(rules_path)) != 0)
            abort();
        return 0;
    }
    if (rules == NULL)
        abort();
    a->rules = rules;
    for (int w = 0; w < WINDOWS; w++)
        serve_rules_evaluate(a, NULL, 0, a->slots[0].current);
    keel_buf metrics;
    keel_buf_init(&metrics, 1 << 20);
    serve_rules_metrics(rules, &metrics);
    if (metrics.len > 0 && strlen(metrics.data) != metrics.len)
        abort();
    keel_buf_free(&metrics);
    a->rules = NULL;
    serve_rules_free(rules);
    return 0;
}
