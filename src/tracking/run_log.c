/*
 * run_log.c — what a run logs: params (immutable), metrics (series plus a
 * latest value per key), tags, batches of all three in one transaction,
 * dataset inputs, and metric history.
 *
 * Non-finite metric values are stored as MLflow stores them: NaN as value 0
 * with is_nan = 1, ±Inf as ±DBL_MAX.
 */
#include "search_filter.h"
#include "tracking_internal.h"

#include <keel/util.h>

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tracking_tag_put(keel_store *s, const char *run_id, const char *key, const char *value,
                     keel_err *err)
{
    if (value == NULL)
        value = "";
    int rc = tracking_check_kv("tag", key, value, KEEL_MAX_TAG_VALUE_LEN, err);
    if (rc == KEEL_OK)
        rc = keel_store_execv(s,
            "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
            NULL, err, "ttt", run_id, key, value);
    if (rc != KEEL_OK || strcmp(key, "mlflow.runName") != 0)
        return rc;
    return keel_store_execv(s, "UPDATE runs SET name = ? WHERE run_uuid = ?", NULL, err, "tt",
                            value, run_id);
}

static int param_put(keel_store *s, const char *run_id, const char *key, const char *value,
                     keel_err *err)
{
    if (value == NULL)
        return keel_errf(err, KEEL_EINVAL, "param '%s' has no value", key);
    int64_t inserted = 0;
    int rc = tracking_check_kv("param", key, value, KEEL_MAX_PARAM_VALUE_LEN, err);
    if (rc == KEEL_OK)
        rc = keel_store_execv(s,
            "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (run_uuid, key) DO NOTHING",
            &inserted, err, "ttt", run_id, key, value);
    if (rc != KEEL_OK || inserted == 1)
        return rc;

    keel_stmt *st;
    rc = keel_store_prepare(s, "SELECT value FROM params WHERE run_uuid = ? AND key = ?", true,
                            &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, run_id, -1);
    keel_stmt_bind_text(st, 2, key, -1);
    enum keel_step r = keel_stmt_step(st, err);
    if (r == KEEL_STEP_ROW) {
        const char *old = keel_stmt_text(st, 0);
        if (old != NULL && strcmp(old, value) != 0)
            rc = keel_errf(err, KEEL_ECONFLICT,
                           "param '%s' of run '%s' was already logged with value '%.200s'; "
                           "the new value '%.200s' is rejected (params cannot change)",
                           key, run_id, old, value);
    }
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    return rc;
}

/* MLflow's order for "latest": larger step, then larger timestamp, then
 * larger value. */
static bool metric_is_newer(const keel_metric *a, const keel_metric *b)
{
    if (a->step != b->step)
        return a->step > b->step;
    if (a->timestamp != b->timestamp)
        return a->timestamp > b->timestamp;
    return a->value > b->value;
}

static int metric_check(const keel_metric *m, keel_err *err)
{
    int rc = keel_validate_key("metric", m->key, err);
    if (rc != KEEL_OK)
        return rc;
    if (m->timestamp < 0)
        return keel_errf(err, KEEL_EINVAL, "metric '%s': timestamp must not be negative",
                         m->key);
    return KEEL_OK;
}

static double stored_value(double v, int *is_nan)
{
    *is_nan = isnan(v) ? 1 : 0;
    if (isnan(v))
        return 0.0;
    if (isinf(v))
        return v > 0 ? DBL_MAX : -DBL_MAX;
    return v;
}

static int metric_insert(keel_stmt *st, const char *run_id, const keel_metric *m, keel_err *err)
{
    int is_nan;
    double v = stored_value(m->value, &is_nan);
    keel_stmt_bind_text(st, 1, run_id, -1);
    keel_stmt_bind_text(st, 2, m->key, -1);
    keel_stmt_bind_double(st, 3, v);
    keel_stmt_bind_int64(st, 4, m->timestamp);
    keel_stmt_bind_int64(st, 5, m->step);
    keel_stmt_bind_int64(st, 6, is_nan);
    enum keel_step r = keel_stmt_step(st, err);
    keel_stmt_release(st);
    return r == KEEL_STEP_ERROR ? err->code : KEEL_OK;
}

/* Logging the very same point twice stores it once, as MLflow does. */
static const char sql_metric_insert[] =
    "INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";

/* Keeps the stored latest value unless m is newer (see metric_is_newer). */
static const char sql_latest_upsert[] =
    "INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, "
    "timestamp = excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan "
    "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step AND "
    "(excluded.timestamp > latest_metrics.timestamp OR (excluded.timestamp = "
    "latest_metrics.timestamp AND excluded.value > latest_metrics.value)))";

/* Many points per INSERT statement: SQLite's per-statement overhead is paid
 * once per chunk instead of once per point. The SQL is built once. */
#define METRIC_CHUNK 64

static char sql_metric_insert_chunk[METRIC_CHUNK * 16 + 256];
static pthread_once_t sql_metric_chunk_once = PTHREAD_ONCE_INIT;

static void build_metric_chunk_sql(void)
{
    char *w = sql_metric_insert_chunk;
    w += sprintf(w, "INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES ");
    for (int i = 0; i < METRIC_CHUNK; i++)
        w += sprintf(w, "%s(?,?,?,?,?,?)", i > 0 ? "," : "");
    sprintf(w, " ON CONFLICT DO NOTHING");
}

static void bind_metric(keel_stmt *st, int first, const char *run_id, const keel_metric *m)
{
    int is_nan;
    double v = stored_value(m->value, &is_nan);
    keel_stmt_bind_text(st, first, run_id, -1);
    keel_stmt_bind_text(st, first + 1, m->key, -1);
    keel_stmt_bind_double(st, first + 2, v);
    keel_stmt_bind_int64(st, first + 3, m->timestamp);
    keel_stmt_bind_int64(st, first + 4, m->step);
    keel_stmt_bind_int64(st, first + 5, is_nan);
}

static int insert_history(keel_store *s, const char *run_id,
                          const keel_metric *const *metrics, size_t n, keel_err *err)
{
    pthread_once(&sql_metric_chunk_once, build_metric_chunk_sql);
    size_t i = 0;
    int rc = KEEL_OK;
    while (rc == KEEL_OK && n - i >= METRIC_CHUNK) {
        keel_stmt *st;
        rc = keel_store_prepare(s, sql_metric_insert_chunk, true, &st, err);
        if (rc != KEEL_OK)
            break;
        for (int k = 0; k < METRIC_CHUNK; k++)
            bind_metric(st, 1 + 6 * k, run_id, metrics[i + (size_t)k]);
        rc = keel_stmt_run(st, err);
        i += METRIC_CHUNK;
    }
    for (; rc == KEEL_OK && i < n; i++) {
        keel_stmt *st;
        rc = keel_store_prepare(s, sql_metric_insert, true, &st, err);
        if (rc == KEEL_OK)
            rc = metric_insert(st, run_id, metrics[i], err);
    }
    return rc;
}

/* The metrics table's key order (key, step, timestamp, value): points
 * inserted in it land next to each other in the B-tree. */
static int by_history_key(const void *pa, const void *pb)
{
    const keel_metric *a = *(const keel_metric *const *)pa, *b = *(const keel_metric *const *)pb;
    int c = strcmp(a->key, b->key);
    if (c != 0)
        return c;
    if (a->step != b->step)
        return a->step < b->step ? -1 : 1;
    if (a->timestamp != b->timestamp)
        return a->timestamp < b->timestamp ? -1 : 1;
    int nan_a, nan_b;
    double va = stored_value(a->value, &nan_a), vb = stored_value(b->value, &nan_b);
    if (va != vb)
        return va < vb ? -1 : 1;
    return nan_a - nan_b;
}

/* Inserts metrics[0..n) (timestamps already resolved) and updates the latest
 * table once per distinct key. No transaction of its own. */
static int metrics_put(keel_store *s, const char *run_id, const keel_metric *metrics, size_t n,
                       keel_err *err)
{
    if (n == 0)
        return KEEL_OK;
    /* In the table's order, then the newest point per key in one pass. */
    const keel_metric **order = malloc(n * sizeof *order);
    if (order == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory logging metrics");
    for (size_t i = 0; i < n; i++)
        order[i] = &metrics[i];
    qsort(order, n, sizeof *order, by_history_key);
    int rc = insert_history(s, run_id, order, n, err);
    for (size_t i = 0; rc == KEEL_OK && i < n;) {
        const keel_metric *best = order[i];
        size_t j = i + 1;
        for (; j < n && strcmp(order[j]->key, order[i]->key) == 0; j++) {
            if (metric_is_newer(order[j], best))
                best = order[j];
        }
        keel_stmt *st;
        rc = keel_store_prepare(s, sql_latest_upsert, true, &st, err);
        if (rc == KEEL_OK)
            rc = metric_insert(st, run_id, best, err);
        i = j;
    }
    free(order);
    return rc;
}

int keel_run_log_param(keel_store *s, const char *run_id, const char *key, const char *value,
                       keel_err *err)
{
    return keel_run_log_batch(s, run_id, NULL, 0, &(keel_kv){ key, value }, 1, NULL, 0, err);
}

int keel_run_log_metric(keel_store *s, const char *run_id, const char *key, double value,
                        int64_t timestamp, int64_t step, keel_err *err)
{
    keel_metric m = { key, value, timestamp, step };
    return keel_run_log_batch(s, run_id, &m, 1, NULL, 0, NULL, 0, err);
}

int keel_run_set_tag(keel_store *s, const char *run_id, const char *key, const char *value,
                     keel_err *err)
{
    return keel_run_log_batch(s, run_id, NULL, 0, NULL, 0, &(keel_kv){ key, value }, 1, err);
}

int keel_run_delete_tag(keel_store *s, const char *run_id, const char *key, keel_err *err)
{
    int rc = tracking_run_require_active(s, run_id, NULL, err);
    if (rc != KEEL_OK)
        return rc;
    int64_t changed = 0;
    rc = keel_store_execv(s, "DELETE FROM tags WHERE run_uuid = ? AND key = ?", &changed, err,
                          "tt", run_id, key);
    if (rc != KEEL_OK)
        return rc;
    if (changed == 0)
        return keel_errf(err, KEEL_ENOTFOUND, "no tag '%s' on run '%s'", key, run_id);
    return KEEL_OK;
}

static int check_batch(const keel_metric *metrics, size_t n_metrics, const keel_kv *params,
                       size_t n_params, const keel_kv *tags, size_t n_tags, keel_err *err)
{
    if (n_metrics > KEEL_BATCH_MAX_METRICS || n_params > KEEL_BATCH_MAX_PARAMS ||
        n_tags > KEEL_BATCH_MAX_TAGS || n_metrics + n_params + n_tags > KEEL_BATCH_MAX_TOTAL)
        return keel_errf(err, KEEL_EINVAL,
                         "batch has %zu metrics, %zu params and %zu tags; the limits are "
                         "%d metrics, %d params, %d tags and %d in all",
                         n_metrics, n_params, n_tags, KEEL_BATCH_MAX_METRICS,
                         KEEL_BATCH_MAX_PARAMS, KEEL_BATCH_MAX_TAGS, KEEL_BATCH_MAX_TOTAL);
    for (size_t i = 0; i < n_metrics; i++) {
        int rc = metric_check(&metrics[i], err);
        if (rc != KEEL_OK)
            return rc;
    }
    for (size_t i = 0; i < n_params; i++) {
        for (size_t j = i + 1; j < n_params; j++) {
            if (strcmp(params[i].key, params[j].key) == 0 && params[i].value != NULL &&
                params[j].value != NULL && strcmp(params[i].value, params[j].value) != 0)
                return keel_errf(err, KEEL_EINVAL,
                                 "param '%s' appears twice in the batch with different values",
                                 params[i].key);
        }
    }
    (void)tags;
    return KEEL_OK;
}

int keel_run_log_batch(keel_store *s, const char *run_id, const keel_metric *metrics,
                       size_t n_metrics, const keel_kv *params, size_t n_params,
                       const keel_kv *tags, size_t n_tags, keel_err *err)
{
    int rc = check_batch(metrics, n_metrics, params, n_params, tags, n_tags, err);
    if (rc != KEEL_OK)
        return rc;
    keel_metric *resolved = NULL;
    if (n_metrics > 0) {
        resolved = malloc(n_metrics * sizeof *resolved);
        if (resolved == NULL)
            return keel_errf(err, KEEL_ENOMEM, "out of memory logging metrics");
        int64_t now = keel_now_ms();
        for (size_t i = 0; i < n_metrics; i++) {
            resolved[i] = metrics[i];
            if (resolved[i].timestamp == 0)
                resolved[i].timestamp = now;
        }
    }
    rc = keel_store_begin(s, err);
    if (rc != KEEL_OK) {
        free(resolved);
        return rc;
    }
    rc = tracking_run_require_active(s, run_id, NULL, err);
    for (size_t i = 0; rc == KEEL_OK && i < n_params; i++)
        rc = param_put(s, run_id, params[i].key, params[i].value, err);
    for (size_t i = 0; rc == KEEL_OK && i < n_tags; i++)
        rc = tracking_tag_put(s, run_id, tags[i].key, tags[i].value, err);
    if (rc == KEEL_OK && n_metrics > 0)
        rc = metrics_put(s, run_id, resolved, n_metrics, err);
    free(resolved);
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        return rc;
    }
    return keel_store_commit(s, err);
}

/* Finds or creates the dataset row; its id goes to out_uuid. */
static int dataset_upsert(keel_store *s, int64_t experiment_id, const keel_dataset *d,
                          char out_uuid[33], keel_err *err)
{
    if (d->name == NULL || d->name[0] == '\0' || d->digest == NULL || d->digest[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "a dataset input needs a name and a digest");
    int rc = tracking_check_len("dataset name", d->name, KEEL_MAX_NAME_LEN, err);
    if (rc == KEEL_OK)
        rc = tracking_check_len("dataset digest", d->digest, 64 * 2, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt *st;
    rc = keel_store_prepare(s, "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND "
                               "name = ? AND digest = ?", true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_int64(st, 1, experiment_id);
    keel_stmt_bind_text(st, 2, d->name, -1);
    keel_stmt_bind_text(st, 3, d->digest, -1);
    enum keel_step r = keel_stmt_step(st, err);
    if (r == KEEL_STEP_ROW)
        snprintf(out_uuid, 33, "%s", keel_stmt_text(st, 0));
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    if (r == KEEL_STEP_ROW)
        return KEEL_OK;
    rc = keel_random_hex32(out_uuid, err);
    if (rc != KEEL_OK)
        return rc;
    return keel_store_execv(s,
        "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, "
        "schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        NULL, err, "titttttt", out_uuid, experiment_id, d->name, d->digest, d->source_type,
        d->source, d->schema, d->profile);
}

static int input_link(keel_store *s, const char *run_id, const char *dataset_uuid,
                      const keel_dataset_input *in, keel_err *err)
{
    char input_uuid[33];
    int rc = keel_random_hex32(input_uuid, err);
    if (rc != KEEL_OK)
        return rc;
    rc = keel_store_execv(s,
        "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, "
        "destination_id) VALUES (?, 'DATASET', ?, 'RUN', ?) ON CONFLICT DO NOTHING",
        NULL, err, "ttt", input_uuid, dataset_uuid, run_id);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt *st;
    rc = keel_store_prepare(s, "SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' AND "
                               "source_id = ? AND destination_type = 'RUN' AND destination_id = ?",
                            true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, dataset_uuid, -1);
    keel_stmt_bind_text(st, 2, run_id, -1);
    if (keel_stmt_step(st, err) == KEEL_STEP_ROW)
        snprintf(input_uuid, sizeof input_uuid, "%s", keel_stmt_text(st, 0));
    keel_stmt_release(st);
    for (size_t i = 0; rc == KEEL_OK && i < in->n_tags; i++) {
        rc = tracking_check_kv("input tag", in->tags[i].key, in->tags[i].value,
                               KEEL_MAX_TAG_VALUE_LEN, err);
        if (rc == KEEL_OK)
            rc = keel_store_execv(s,
                "INSERT INTO input_tags (input_uuid, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (input_uuid, name) DO UPDATE SET value = excluded.value",
                NULL, err, "ttt", input_uuid, in->tags[i].key,
                in->tags[i].value != NULL ? in->tags[i].value : "");
    }
    return rc;
}

int keel_run_log_inputs(keel_store *s, const char *run_id, const keel_dataset_input *inputs,
                        size_t n_inputs, keel_err *err)
{
    int rc = keel_store_begin(s, err);
    if (rc != KEEL_OK)
        return rc;
    int64_t experiment_id = 0;
    rc = tracking_run_require_active(s, run_id, &experiment_id, err);
    for (size_t i = 0; rc == KEEL_OK && i < n_inputs; i++) {
        char dataset_uuid[33];
        rc = dataset_upsert(s, experiment_id, &inputs[i].dataset, dataset_uuid, err);
        if (rc == KEEL_OK)
            rc = input_link(s, run_id, dataset_uuid, &inputs[i], err);
    }
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        return rc;
    }
    return keel_store_commit(s, err);
}

static double loaded_value(keel_stmt *st, int value_col, int nan_col)
{
    return keel_stmt_int64(st, nan_col) != 0 ? NAN : keel_stmt_double(st, value_col);
}

int keel_run_metric_history(keel_store *s, const char *run_id, const char *key,
                            int64_t max_results, const char *page_token, keel_arena *a,
                            keel_metric **out, size_t *out_n,
                            const char **out_next_page_token, keel_err *err)
{
    int rc = tracking_run_ref_check(run_id, err);
    if (rc == KEEL_OK)
        rc = keel_validate_key("metric", key, err);
    if (rc != KEEL_OK)
        return rc;
    if (max_results < 0 || max_results > 25000000)
        return keel_errf(err, KEEL_EINVAL, "max_results must be between 1 and 25000000");
    int64_t offset = 0;
    if (page_token != NULL && page_token[0] != '\0') {
        rc = keel_page_token_decode(page_token, &offset, err);
        if (rc != KEEL_OK)
            return rc;
    }
    keel_stmt *st;
    rc = keel_store_prepare(s, "SELECT 1 FROM runs WHERE run_uuid = ?", true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, run_id, -1);
    enum keel_step r = keel_stmt_step(st, err);
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    if (r == KEEL_STEP_DONE)
        return keel_errf(err, KEEL_ENOTFOUND, "run '%s' not found", run_id);

    rc = keel_store_prepare(s,
        "SELECT value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? AND key = ? "
        "ORDER BY step, timestamp, value LIMIT ? OFFSET ?",
        true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    int64_t limit = max_results == 0 ? -1 : max_results + 1;
    keel_stmt_bind_text(st, 1, run_id, -1);
    keel_stmt_bind_text(st, 2, key, -1);
    keel_stmt_bind_int64(st, 3, limit);
    keel_stmt_bind_int64(st, 4, offset);
    size_t n = 0, cap = 0;
    keel_metric *list = NULL;
    const char *key_copy = keel_arena_strdup(a, key);
    while ((r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        if (n == cap) {
            size_t ncap = cap == 0 ? 64 : cap * 2;
            keel_metric *grown = keel_arena_alloc(a, ncap * sizeof *grown);
            if (grown == NULL || key_copy == NULL) {
                keel_stmt_release(st);
                return keel_errf(err, KEEL_ENOMEM, "out of memory reading metric history");
            }
            if (n > 0)
                memcpy(grown, list, n * sizeof *grown);
            list = grown;
            cap = ncap;
        }
        list[n].key = key_copy;
        list[n].value = loaded_value(st, 0, 3);
        list[n].timestamp = keel_stmt_int64(st, 1);
        list[n].step = keel_stmt_int64(st, 2);
        n++;
    }
    keel_stmt_release(st);
    if (r == KEEL_STEP_ERROR)
        return err->code;
    *out_next_page_token = NULL;
    if (max_results > 0 && n > (size_t)max_results) {
        n = (size_t)max_results;
        *out_next_page_token = keel_page_token_encode(a, offset + max_results);
    }
    *out = list;
    *out_n = n;
    return KEEL_OK;
}
